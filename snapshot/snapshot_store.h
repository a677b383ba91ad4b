// The snapshot store: a state machine's snapshots as files, written atomically, checked on the
// way in and out, the newest few kept.
//
// ## Files
//
// One directory (the node's <data_dir>/snap). A stored snapshot is one file named
//
//     <index as 16 hex digits>-<term as 16 hex digits>.snap
//
// laid out as
//
//     header   magic "RAFTSNAP" | u32 format version (1) | u32 metadata length |
//              metadata (an eraftpb.SnapshotMetadata: index, term, ConfState)
//     body     the state machine's bytes (StateSnapshot::write), any length
//     trailer  u64 body length | u32 CRC32C of header and body | magic "SNAPEND1"
//
// (integers little-endian, raft/little_endian.h; CRC32C of raft/crc32c.h). A snapshot is
// written to "<name>.tmp", synced, renamed to its name and the directory synced, so after a
// crash a name either holds a whole snapshot or does not exist; leftover .tmp files are removed
// when the store opens (those whose name is a snapshot's name plus ".tmp"; other files in the
// directory are left alone). The name must agree with the metadata inside, and the length and
// checksum with the bytes, or the file is damaged.
//
// The listing comes from the names: a file with a snapshot's name is listed whatever it holds
// (with the metadata of its header when that reads, else the index and term of its name), and
// open(), open_raw() and verify() of a damaged one throw SnapshotError naming it. One store per
// directory: the directory is the store's alone.
//
// ## Streams
//
// The same file bytes are what a leader sends to a follower: the sender reads the file as it is
// (RawReader), the receiver writes those bytes (RawWriter) and the store checks the whole file
// before it takes it, so a snapshot larger than memory moves through fixed-size buffers on both
// sides. The writers' and readers' buffers are 256 KiB each.
//
// ## Errors
//
// I/O failures and damage throw SnapshotError, whose message names the file and what is wrong
// (errno text for system calls). Nothing damaged is ever handed out as a snapshot.
//
// ## Threads
//
// The store's methods may be called from several threads (the node's snapshot and transfer
// threads, its strand); a writer or reader is used by one thread at a time. Writers refer to
// their store: the store outlives them. Readers do not. Two writers of the same name at once:
// the second one's create() or receive() throws (its temporary file exists).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "raft/types.h"

namespace snapshot {

struct SnapshotError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A stored snapshot.
struct SnapshotInfo {
  raft::SnapshotMetadata metadata;
  std::string path;
  uint64_t file_bytes = 0;  // the whole file: header, body, trailer
  uint64_t body_bytes = 0;
};

class SnapshotStore;

// The moments of a writer's work, for tests that kill a process at each of them
// (SnapshotStore::set_write_hook).
enum class WritePoint {
  kCreated,    // the temporary file exists, empty
  kWrote,      // a write(2) of the file's bytes returned; `bytes` is the file's length so far
  kSynced,     // the temporary file is complete and synced, not yet renamed
  kRenamed,    // renamed to its name; the directory not yet synced
  kPublished,  // the directory synced: the snapshot is durable
};
// Called on the writer's thread; `bytes` is the file's length so far.
using WriteHook = std::function<void(WritePoint point, uint64_t bytes)>;

// Writes a new snapshot of this node's state machine: body() takes the state machine's bytes.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  // Where the body goes; buffered, so the caller may write in small pieces (flush() does not
  // write: the buffer goes to the file when full and at commit). A failed write(2) throws
  // SnapshotError out of the stream operation (the stream's exceptions() include badbit).
  virtual std::ostream& body() = 0;
  // Writes the trailer, syncs, renames, syncs the directory; the snapshot is then in the store
  // (and listed by latest()). Throws SnapshotError; the temporary file is then removed. (If only
  // the directory's sync fails, the file is whole and synced under its name but not listed: it
  // may or may not survive a power loss, and the store lists it when it next opens if it did.)
  virtual SnapshotInfo commit() = 0;
  // Drops the temporary file (also what the destructor does without a commit).
  virtual void abort() = 0;
};

// Reads a stored snapshot's body, for restoring a state machine.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  virtual const SnapshotInfo& info() const = 0;
  // Exactly the body's bytes; reading past them is end of stream. The checksum is checked as
  // the bytes go by: the read that reaches the body's last bytes checks it before handing them
  // out, and throws SnapshotError if the body is damaged, as a failed read(2) does (out of the
  // stream operation: the stream's exceptions() include badbit). The bytes before were handed
  // out unchecked, so a restore that gets the error throws away what it built; or verify() first.
  virtual std::istream& body() = 0;
};

// Reads a stored snapshot's whole file, for sending it.
class RawReader {
 public:
  virtual ~RawReader() = default;
  virtual const SnapshotInfo& info() const = 0;
  // Up to n bytes of the file from where the last read ended; 0 at the end. Throws SnapshotError,
  // also when the read that reaches the end finds the checksum wrong (the receiver would refuse
  // the file anyway; this tells the sender that its own copy is damaged).
  virtual size_t read(char* buf, size_t n) = 0;
};

// Takes the bytes of a snapshot file received from a peer.
class RawWriter {
 public:
  virtual ~RawWriter() = default;
  // Appends bytes of the file; throws SnapshotError on a write failure, or as soon as the bytes
  // cannot be the expected snapshot file (a bad magic or version, a metadata length over 64 MiB,
  // metadata that does not parse or differs from `expected`). After a throw the writer is
  // spent: its temporary file is removed and commit() throws.
  virtual void write(const char* data, size_t n) = 0;
  // The file is complete: checks the whole of it (lengths, checksum, trailer, and that its
  // metadata is the one expected), syncs, renames and syncs the directory. Throws SnapshotError
  // (and removes the temporary file) if anything is wrong.
  virtual SnapshotInfo commit() = 0;
  virtual void abort() = 0;
};

class SnapshotStore {
 public:
  // Opens `dir` (created if missing, with its parents), removes leftover temporary files, and
  // lists the snapshots whose names parse; `keep` (>= 1) is how many prune() keeps.
  // Throws SnapshotError.
  SnapshotStore(std::string dir, size_t keep);
  SnapshotStore(const SnapshotStore&) = delete;
  SnapshotStore& operator=(const SnapshotStore&) = delete;

  const std::string& dir() const { return dir_; }

  // The stored snapshots, newest (highest index, then term) first; latest() is the first, if any.
  std::vector<SnapshotInfo> list() const;
  std::optional<SnapshotInfo> latest() const;
  // The stored snapshot with exactly this index and term, if any.
  std::optional<SnapshotInfo> find(uint64_t index, uint64_t term) const;

  // A new snapshot with `metadata` (index > 0). Throws SnapshotError.
  std::unique_ptr<SnapshotWriter> create(const raft::SnapshotMetadata& metadata);
  // A snapshot file arriving from a peer, whose metadata the sender announced as `expected`;
  // a file whose metadata differs is refused as soon as its header is in (write() throws).
  std::unique_ptr<RawWriter> receive(const raft::SnapshotMetadata& expected);

  // Readers of a stored snapshot (the file at info.path; with no path, the file of
  // info.metadata's index and term). open() and open_raw() check the header
  // against the name and the trailer against the file's length (cheap: two small reads);
  // verify() also reads the whole file and checks the checksum. Throw SnapshotError. A reader's
  // info() is what the file says (the whole metadata, with its ConfState).
  std::unique_ptr<SnapshotReader> open(const SnapshotInfo& info) const;
  std::unique_ptr<RawReader> open_raw(const SnapshotInfo& info) const;
  void verify(const SnapshotInfo& info) const;

  // Removes all but the newest `keep` snapshots, oldest first, and syncs the directory. A reader
  // that has one of them open keeps reading it (the file is unlinked). Returns how many were
  // removed.
  size_t prune();

  // Internal: a writer's commit() adds its snapshot to the listing (replacing one of the same
  // index and term).
  void add(const SnapshotInfo& info);

  // Tests only: `hook` is called at each WritePoint by the writers that create() and receive()
  // hand out from now on (an empty function: none).
  void set_write_hook(WriteHook hook);

 private:
  // The listing entry of a file whose name parsed: from its header if that reads.
  static SnapshotInfo describe_file(const std::string& path, uint64_t index, uint64_t term);
  std::string path_of(const SnapshotInfo& info) const;
  WriteHook hook() const;

  const std::string dir_;
  const size_t keep_;
  mutable std::mutex mu_;
  std::vector<SnapshotInfo> snapshots_;  // newest first
  WriteHook hook_;
};

}  // namespace snapshot
