// The POSIX calls the snapshot store makes, each retried on EINTR and turned into a
// SnapshotError whose message names the path, the call and the errno text on failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace snapshot::io {

// "snapshot <path>: <what>: <strerror(err)>"
[[noreturn]] void fail(const std::string& path, const std::string& what, int err);
// "snapshot <path>: damaged: <what>"
[[noreturn]] void damaged(const std::string& path, const std::string& what);

// An open file descriptor, closed at the end of its scope (a failed close is ignored there:
// callers that need the outcome call close()).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // close(2); throws on failure (after which the descriptor is gone either way).
  void close(const std::string& path);

 private:
  int fd_ = -1;
};

Fd open_read(const std::string& path);
// A new file, read-write; fails with EEXIST if the path exists.
Fd create_exclusive(const std::string& path);

// Writes all of data[0, n) at the file offset (write(2), retried until done).
void write_all(int fd, const char* data, size_t n, const std::string& path);
// Reads up to n bytes at `offset` (pread(2)); fewer only at the end of the file.
size_t read_at(int fd, char* out, size_t n, uint64_t offset, const std::string& path);
// Reads exactly n bytes at `offset`; a short read means the file is shorter than its header or
// trailer said: damaged.
void read_exact(int fd, char* out, size_t n, uint64_t offset, const std::string& path);
uint64_t file_size(int fd, const std::string& path);
// The size of the file at `path`, or 0 if stat(2) fails.
uint64_t file_size_or_zero(const std::string& path);

void sync_data(int fd, const std::string& path);
// fsync of the directory itself, so entries created, renamed or removed in it are durable.
void sync_dir(const std::string& dir);
void rename(const std::string& from, const std::string& to);
// unlink(2); false if the file did not exist.
bool remove(const std::string& path);
// Creates `dir` and any missing parents; fine if it exists.
void create_dirs(const std::string& dir);
// The names of the entries of `dir`, without "." and "..".
std::vector<std::string> list_dir(const std::string& dir);

std::string join(const std::string& dir, const std::string& name);
// The last component of a path.
std::string base_name(const std::string& path);

}  // namespace snapshot::io
