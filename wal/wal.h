// The write-ahead log: the raft log's entries, in segment files, made durable in groups.
//
// ## On disk
//
// A WAL is a directory of segment files named `SSSSSSSSSSSSSSSS-IIIIIIIIIIIIIIII.wal`: S is the
// segment's sequence number and I the index the next entry had when the segment was started,
// both 16 lower-case hex digits. Sequence numbers start at 1 and have no gaps; the segment with
// the highest one is the *last* segment, the only one written to. A new segment is created as
// `<name>.tmp`, given its full size with fallocate, written a header, synced, renamed to its name,
// and the directory synced, so a segment either exists whole or not at all; a `*.tmp` file found
// at open is the leftover of a crash and is removed.
//
// All integers are little-endian. A segment starts with a 40-byte header:
//
//     magic "RAFTWAL1" (8) | version u32 = 1 | flags u32 = 0 | sequence u64 | first index u64 |
//     chain u32 (the CRC of the previous segment's last record; 0 for the first segment) |
//     header CRC u32 (CRC32C of the 36 bytes before it)
//
// then records, back to back, then zeros to the end of the preallocated file. A record is a
// 16-byte header and a payload:
//
//     length u32 (of the payload) | type u8 | 3 zero bytes | header CRC u32 (CRC32C of the
//     8 bytes before it) | payload CRC u32 (CRC32C of the payload, *chained*: continued from the
//     previous record's payload CRC, or from the segment header's chain value for the first)
//
// Sixteen zero bytes where a record header would start mark the end of the data. The header
// CRC means a length can be trusted before it is used; the chain means a record copied from
// elsewhere, or a segment swapped for another, fails its check.
//
// Record types and payloads:
//   1 entry:    index u64 | term u64 | entry type u8 | context length u32 | context | data
//               (Entry.sync_log, unused by the core, is not stored)
//   2 truncate: from index u64 — the entries from that index on are gone
//   3 reset:    index u64 | term u64 — every entry is gone; the log continues after (index, term)
//
// The log is the result of replaying the records in order. An entry at an index at or below
// the last one replaces it and drops everything after it (a new leader overwrote a conflicting
// suffix), so truncation is a write at the tail like any other and a crash cannot leave it half
// done. An entry above last + 1 is a gap: corruption.
//
// ## Damage
//
// At open every record of every segment is read and checked. In the last segment, a record that
// fails (a header cut short by the end of the file, a bad header CRC, a payload past the end of
// the file, a bad payload CRC) is a *torn tail* when nothing but zeros follows it: the bytes
// from its start are copied to `<segment>.torn.<offset>`, cut (overwritten with zeros up to the
// old end of the data), and reported in WalOpenInfo. Anything else is corruption and open fails
// with a Status naming the file and offset: a bad record anywhere in an earlier segment, a bad
// record followed by non-zero bytes, an end marker followed by non-zero bytes, a gap in indexes
// or sequence numbers, a bad segment header. open() leaves the segments of such a log untouched
// (it only removes leftover `*.tmp` files). Such a log is never served; `repair()` may cut it at
// the first bad record, but only when a person asks for it, because the cut may drop
// acknowledged entries.
//
// Limitation, by design: a power loss that persists a later page of the last unsynced write but
// not an earlier one looks like a bad record followed by data, and is reported as corruption
// (never served, never silently cut). A kill -9 cannot cause it: the page cache keeps every
// completed write.
//
// ## Durability
//
// append(), truncate() and reset() write to the OS page cache; sync() makes everything written
// so far durable with one fdatasync of the last segment (the earlier ones were synced when the
// WAL moved past them). So the runtime appends every Ready that arrived while the last sync ran
// and syncs once: group commit. compact() removes whole segments, oldest first, syncing the
// directory after each, so a crash part way leaves a log that replays to the same entries.
//
// open() syncs the last segment before it serves anything: a process killed after writing but
// before syncing leaves records in the page cache that open() would otherwise hand out, and the
// node would acknowledge entries that are not yet durable.
//
// A failed write or sync leaves the WAL *failed*: every later write returns kFailed carrying
// the first error, because after a failed fsync what is on disk is unknown; the owner closes the
// WAL and reopens it, which re-reads what is really there. The one exception is a full disk
// while creating a segment (ENOSPC from fallocate): nothing was written, the append fails with
// ENOSPC, and the WAL stays usable, so it can be retried once space is freed.
//
// ## Memory
//
// An index of 8 bytes per live entry (offset and length) plus one element per run of equal
// terms and per segment, and a cache of the most recently written entries bounded by
// WalOptions::cache_bytes, from which a leader replicates without reading files.
//
// ## Threads
//
// One writer thread calls append, truncate, reset, sync and compact. Readers (entries, term,
// first_index, last_index, stats) may run on other threads at the same time; fdatasync runs
// without holding the lock readers take.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "raft/errors.h"
#include "raft/types.h"
#include "wal/file.h"
#include "wal/status.h"

namespace wal {

struct WalOptions {
  // Size a segment is preallocated to, from 56 bytes (a header and one small record) to 4 GiB
  // (offsets in the index are 32-bit); kInvalidArgument otherwise. A record that does not fit
  // in an empty segment of this size gets a segment of its own, just large enough.
  uint64_t segment_size = 64ull << 20;
  // Memory for recently written entries: the cache keeps each append's records as written, in
  // the buffer they were encoded into, and counts those buffers whole (wal/entry_cache.h);
  // 0 disables the cache.
  uint64_t cache_bytes = 32ull << 20;
  // The file layer; posix_file_system() when null. Tests pass one that injects failures.
  FileSystem* fs = nullptr;
};

// What open() found.
struct WalOpenInfo {
  uint64_t segments = 0;        // segment files replayed
  uint64_t records = 0;         // records replayed
  uint64_t bytes = 0;           // bytes of valid records and headers read
  uint64_t tmp_files_removed = 0;
  // A torn tail that was cut: how many bytes (from torn_offset to the last non-zero byte after
  // it), where, and the copy kept of them. torn_bytes == 0 when there was none.
  uint64_t torn_bytes = 0;
  std::string torn_path;
  uint64_t torn_offset = 0;
  std::string torn_copy;
};

// Counters for benchmarks and status pages.
struct WalStats {
  uint64_t segments = 0;
  uint64_t syncs = 0;           // fdatasync of segment files: sync(), and leaving a full segment
  uint64_t bytes_written = 0;
  uint64_t cache_hits = 0;     // entries served from the cache
  uint64_t cache_misses = 0;   // entries read from a file
  uint64_t cache_bytes = 0;    // bytes the cache holds now
  uint64_t index_bytes = 0;    // memory the index uses now
};

class Wal {
 public:
  // Opens the WAL in `dir`, creating the directory and a first segment if there is none, and
  // replays it (see "Damage" above). Errors: corruption (kCorruption, naming file and offset),
  // I/O errors, kInvalidArgument for bad options.
  static StatusOr<std::unique_ptr<Wal>> open(const std::string& dir, const WalOptions& options,
                                             WalOpenInfo* info = nullptr);

  // Cuts the log at its first bad record so that open() succeeds: the bytes from that record to
  // the end of its segment's data are copied to `<segment>.cut.<offset>` and zeroed, and later
  // segments are renamed to `<segment>.cut.0`. Entries after the cut are lost, acknowledged or not; a
  // repaired node should rejoin as if its log had been lost. `*cut_bytes` gets how much went.
  // OK and 0 when there was nothing to cut.
  static Status repair(const std::string& dir, const WalOptions& options, uint64_t* cut_bytes);

  // Closes the files. Does not sync: what was not synced may or may not survive.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // --- Writes: one thread at a time ---

  // Appends entries, contiguous by index. The first must be in [first_index(), last_index() + 1]
  // (first_index() when the log is empty); entries from its index on are replaced. Not durable
  // until sync(). kInvalidArgument for a gap or non-contiguous entries (nothing is written).
  Status append(const raft::EntryVec& entries);

  // Drops the entries from `from_index` on; from_index in [first_index(), last_index() + 1].
  Status truncate(uint64_t from_index);

  // Drops every entry; the log continues after (index, term): first_index() becomes index + 1.
  // Used when a snapshot replaces the log.
  Status reset(uint64_t index, uint64_t term);

  // Makes every write so far durable.
  Status sync();

  // Forgets the entries up to `index` (first_index() becomes index + 1) and removes the segments
  // that hold nothing else. index in [first_index() - 1, last_index()]. The last segment is never
  // removed, so after a reopen first_index() may be lower than before (whole segments only).
  Status compact(uint64_t index);

  // --- Reads: any thread ---

  // The first entry's index: the index after the last reset or compaction point, or after a
  // reopen the lowest start the replayed records imply (an entry or truncation below the first
  // surviving segment's start restarts the log there; see replay.h); 1 for a new WAL.
  uint64_t first_index() const;
  // The last entry's index; first_index() - 1 when there are no entries.
  uint64_t last_index() const;

  // Entries in [lo, hi), at most max_size bytes (counted by raft::entry_size, as
  // raft::MemoryStorage counts them) but at least one when lo < hi.
  // kCompacted when lo < first_index(), kUnavailable when hi > last_index() + 1; a record that
  // fails its checks on read is kCorruption.
  raft::Result<raft::EntryVec> entries(uint64_t lo, uint64_t hi, uint64_t max_size) const;

  // The term of entry `index` in [first_index(), last_index()]; for first_index() - 1 the term
  // given to the last reset() or compact() (0 when the log started from a replayed record and
  // the term before it is not known). kCompacted below, kUnavailable above.
  raft::Result<uint64_t> term(uint64_t index) const;

  WalStats stats() const;
  const std::string& dir() const;

 private:
  struct Impl;
  explicit Wal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wal
