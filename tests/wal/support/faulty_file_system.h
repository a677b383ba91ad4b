// A FileSystem for tests that injects the failures a real disk produces — a full disk, a failed
// fdatasync — deterministically, by counting calls and bytes instead of by timing or root.
//
// It wraps another FileSystem (the real one by default) and passes every call through to it
// unless a fault is armed:
//
//   - allocate(): fail_allocate(after) lets `after` more calls succeed, then every later call
//     fails with ENOSPC without touching the file (its size is unchanged, as with fallocate).
//   - write_at(): limit_writes(budget) lets `budget` more bytes be written in total; the write
//     that crosses the budget writes the part that fits (a real short write) and then fails with
//     ENOSPC, and every later write fails with ENOSPC without writing anything.
//   - sync_data(): fail_sync_data(after, sticky) lets `after` more calls succeed, then the next
//     one fails with EIO without syncing; with `sticky`, every call after it fails too, otherwise
//     only that one.
//   - sync_dir(): fail_sync_dir(after) lets `after` more calls succeed, then every later call
//     fails with EIO without syncing, until cleared.
//
// Faults count from the moment they are armed, so a test can open a WAL first and arm a fault
// for what it does next. clear_faults() disarms all of them; the counters keep counting. Failed
// calls return Status::from_errno, so the code is std::generic_category() ENOSPC or EIO and the
// message names the call and the path, like the real layer.
//
// Thread-safe: the WAL syncs without its lock while readers read, so counters and faults are
// guarded by a mutex. Files opened through it must not outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wal/file.h"

namespace wal::testing {

// How often each call was made since construction (failed calls included).
struct FileSystemCounters {
  uint64_t opens = 0;
  uint64_t renames = 0;
  uint64_t removes = 0;
  uint64_t sync_dirs = 0;
  uint64_t sync_dir_failures = 0;
  uint64_t allocates = 0;
  uint64_t allocate_failures = 0;
  uint64_t writes = 0;
  uint64_t write_failures = 0;
  uint64_t bytes_written = 0;  // bytes that reached the wrapped file system
  uint64_t syncs = 0;          // sync_data calls
  uint64_t sync_failures = 0;
  uint64_t truncates = 0;
};

class FaultyFileSystem final : public FileSystem {
 public:
  explicit FaultyFileSystem(FileSystem& base = posix_file_system()) : base_(base) {}

  // allocate() succeeds `after` more times, then fails with ENOSPC until cleared.
  void fail_allocate(uint64_t after = 0);
  // write_at() may write `budget` more bytes; then short writes and ENOSPC until cleared.
  void limit_writes(uint64_t budget);
  // sync_data() succeeds `after` more times, then fails with EIO once (or for good: sticky).
  void fail_sync_data(uint64_t after, bool sticky = false);
  // sync_dir() succeeds `after` more times, then fails with EIO until cleared.
  void fail_sync_dir(uint64_t after = 0);
  // Disarms every fault.
  void clear_faults();

  FileSystemCounters counters() const;

  // FileSystem
  StatusOr<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  StatusOr<std::vector<std::string>> list(const std::string& dir) override;
  Status create_dirs(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;

 private:
  friend class FaultyFile;

  // What a file call may do, decided (and counted) under the lock.
  Status before_allocate(const std::string& path);
  // How many bytes of an n-byte write may reach the disk; *then_fail when it must end in ENOSPC.
  uint64_t before_write(uint64_t n, bool* then_fail);
  void after_write(uint64_t written, bool failed);
  Status before_sync(const std::string& path);
  void count_truncate();

  FileSystem& base_;
  mutable std::mutex mu_;
  FileSystemCounters counters_;
  std::optional<uint64_t> allocates_left_;   // armed when set
  std::optional<uint64_t> write_budget_;     // armed when set
  std::optional<uint64_t> syncs_left_;       // armed when set
  std::optional<uint64_t> dir_syncs_left_;   // armed when set
  bool sync_fault_sticky_ = false;
  bool sync_fault_fired_ = false;
};

}  // namespace wal::testing
