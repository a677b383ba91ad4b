// The WAL's on-disk format as wal/wal.h describes it in prose, written a second time,
// independently of wal/wal.cc: a reader that finds every record of a segment file (so damage
// tests can cut or flip bytes at exact record boundaries, and check that what the WAL writes is
// what its header promises), a writer that builds segments by hand (so tests can make logs the
// WAL itself never writes, such as an index gap with valid checksums), and a replay of records
// into the log they stand for.
//
// The reader is strict and stops at the first record that fails a check, reporting why; it
// never tries to tell a torn tail from corruption, which is the WAL's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raft/types.h"

namespace wal::testing {

inline constexpr uint64_t kSegmentHeaderSize = 40;
inline constexpr uint64_t kRecordHeaderSize = 16;
inline constexpr std::string_view kSegmentMagic = "RAFTWAL1";

enum class RecordType : uint8_t { kEntry = 1, kTruncate = 2, kReset = 3 };

struct SegmentHeader {
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t sequence = 0;
  uint64_t first_index = 0;
  uint32_t chain = 0;
};

struct Record {
  uint64_t offset = 0;  // of the record header in the file
  RecordType type = RecordType::kEntry;
  std::string payload;
  uint32_t payload_crc = 0;  // as stored (chained)
  // Decoded payload: the entry of a kEntry record; `index` is the entry's index, the `from`
  // of a kTruncate and the index of a kReset; `term` the entry's or the kReset's term.
  raft::Entry entry;
  uint64_t index = 0;
  uint64_t term = 0;

  uint64_t size() const { return kRecordHeaderSize + payload.size(); }
  uint64_t end() const { return offset + size(); }
};

struct Segment {
  std::string name;
  uint64_t file_size = 0;
  SegmentHeader header;
  std::vector<Record> records;  // the valid ones, up to the end marker or the first bad record
  uint64_t data_end = 0;        // where the end marker (or end of file, or the bad record) is
  // Why reading stopped before the end marker; empty when it reached it (or the end of the file).
  std::string error;
  uint64_t error_offset = 0;
  // The chain value the next segment's header must carry: the last record's payload CRC, or
  // this header's chain when there are no records.
  uint32_t last_crc() const { return records.empty() ? header.chain : records.back().payload_crc; }
};

// "SSSSSSSSSSSSSSSS-IIIIIIIIIIIIIIII.wal"
std::string segment_name(uint64_t sequence, uint64_t first_index);
// The sequence and first index in a segment file name; nullopt for any other name.
std::optional<std::pair<uint64_t, uint64_t>> parse_segment_name(std::string_view name);

// Reads one segment's bytes. A bad segment header leaves records empty and sets error.
Segment parse_segment(std::string_view bytes);
// Every segment file of a WAL directory, by sequence number (other files are ignored).
std::vector<Segment> parse_wal_dir(const std::string& dir);

// --- Writing, for hand-built segments ---

std::string encode_segment_header(uint64_t sequence, uint64_t first_index, uint32_t chain);
std::string entry_payload(const raft::Entry& e);
std::string truncate_payload(uint64_t from_index);
std::string reset_payload(uint64_t index, uint64_t term);
// Appends one record to `segment`; *chain is the previous payload CRC and becomes this one's.
void append_record(std::string* segment, RecordType type, std::string_view payload,
                   uint32_t* chain);

// --- Replay: the log the records stand for ---

struct ReplayedLog {
  uint64_t first_index = 1;
  raft::EntryVec entries;
  std::string error;  // a gap or an out-of-range record; replay stops at it
  uint64_t last_index() const { return first_index + entries.size() - 1; }
};

// Replays the records of `segments` in order, by the rules of wal/wal.h: the log starts empty at
// the first segment's first index; an entry at or below the last replaces it and drops what
// follows; truncate drops a suffix; reset empties the log and moves its start.
ReplayedLog replay(const std::vector<Segment>& segments);
// The same, but only the segments before segments[segment_pos] and the first `record_count`
// records of that one: the log left by a cut at that record.
ReplayedLog replay_until(const std::vector<Segment>& segments, size_t segment_pos,
                         size_t record_count);

}  // namespace wal::testing
