// A snapshot file being written: created as "<name>.tmp" (exclusively), written through one
// fixed buffer, then published — synced, renamed to its name, the directory synced — or
// discarded. Both writers (a local snapshot, a received one) store their bytes through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "snapshot/file_io.h"
#include "snapshot/snapshot_store.h"

namespace snapshot {

class PendingFile {
 public:
  // Creates <dir>/<name>.tmp; throws SnapshotError (EEXIST: another writer of the same name).
  PendingFile(const std::string& dir, const std::string& name, WriteHook hook);
  // Discards the file unless it was published.
  ~PendingFile();
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;

  // Appends bytes: copied into the buffer, or written straight through when there are at least
  // a buffer's worth. Throws SnapshotError.
  void append(const char* data, size_t n);
  // The bytes appended so far.
  uint64_t size() const { return written_ + used_; }
  // Writes what is buffered, fdatasync, close, rename, fsync of the directory. Throws
  // SnapshotError; the caller then discards.
  void publish();
  // Closes and removes the temporary file, if it is still there. Never throws.
  void discard() noexcept;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }

 private:
  void flush();
  void write_through(const char* data, size_t n);
  void notify(WritePoint point) const;

  const std::string dir_;
  const std::string final_path_;
  const std::string temp_path_;
  const WriteHook hook_;
  io::Fd fd_;
  std::unique_ptr<char[]> buf_;
  size_t used_ = 0;
  uint64_t written_ = 0;
  bool renamed_ = false;
  bool discarded_ = false;
};

}  // namespace snapshot
