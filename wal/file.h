// The file layer under the WAL: the few POSIX calls it makes, behind an interface so tests can
// inject failures (a full disk, a failed fsync) deterministically, without root or a tmpfs.
//
// Every method returns a Status whose message names the call and the path. I/O errors carry
// the errno in std::generic_category (ENOSPC, EIO, ...). A short write is retried until done or
// until the system reports an error; a write that fails may have written a prefix of its data.
//
// Thread-safety: a File may be read from several threads at once (read_at is pread) while one
// thread writes to it; the FileSystem is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/status.h"

namespace wal {

class File {
 public:
  virtual ~File() = default;

  // Writes all of `data` at `offset` (pwrite).
  virtual Status write_at(uint64_t offset, std::string_view data) = 0;
  // Reads up to n bytes at offset into out; fewer only at the end of the file. Returns how many.
  virtual StatusOr<size_t> read_at(uint64_t offset, size_t n, char* out) const = 0;
  // fdatasync: the data written so far, and the size if it changed, are durable.
  virtual Status sync_data() = 0;
  // Sets the file's size (ftruncate); a grown file reads as zeros past the old end.
  virtual Status truncate(uint64_t size) = 0;
  // Reserves disk blocks for [0, size) and makes the file at least `size` bytes long, reading as
  // zeros past the old end (fallocate mode 0). ENOSPC when the disk cannot hold it; the file
  // keeps its old size then.
  virtual Status allocate(uint64_t size) = 0;
  virtual StatusOr<uint64_t> size() const = 0;
  virtual const std::string& path() const = 0;
};

enum class OpenMode {
  kRead,       // read only; the file must exist
  kReadWrite,  // read and write; the file must exist
  kCreate,     // read and write; created empty, and the file must not exist yet (O_EXCL)
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual StatusOr<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  // rename(2): atomic replacement of `to` if it exists.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // The names (not paths) of the entries of `dir`, without "." and "..", sorted.
  virtual StatusOr<std::vector<std::string>> list(const std::string& dir) = 0;
  // Creates `dir` and any missing parents; OK if it exists.
  virtual Status create_dirs(const std::string& dir) = 0;
  // fsync of the directory itself, so entries created, renamed or removed in it are durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// The real file system (POSIX calls, retried on EINTR). One process-wide instance.
FileSystem& posix_file_system();

// Joins a directory and a name with one '/'.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace wal
