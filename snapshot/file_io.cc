#include "snapshot/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "snapshot/snapshot_store.h"

namespace snapshot::io {
namespace {

// Retries a system call interrupted by a signal.
template <typename Call>
auto retry_eintr(Call call) {
  for (;;) {
    auto r = call();
    if (r >= 0 || errno != EINTR) return r;
  }
}

}  // namespace

void fail(const std::string& path, const std::string& what, int err) {
  throw SnapshotError("snapshot " + path + ": " + what + ": " + std::strerror(err));
}

void damaged(const std::string& path, const std::string& what) {
  throw SnapshotError("snapshot " + path + ": damaged: " + what);
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Fd::close(const std::string& path) {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  // Not retried on EINTR: on Linux the descriptor is released even then.
  if (::close(fd) != 0 && errno != EINTR) fail(path, "close", errno);
}

Fd open_read(const std::string& path) {
  const int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (fd < 0) fail(path, "open", errno);
  return Fd(fd);
}

Fd create_exclusive(const std::string& path) {
  const int fd = retry_eintr(
      [&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644); });
  if (fd < 0) fail(path, "create", errno);
  return Fd(fd);
}

void write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = retry_eintr([&] { return ::write(fd, data, n); });
    if (w < 0) fail(path, "write", errno);
    if (w == 0) fail(path, "write", EIO);
    data += w;
    n -= static_cast<size_t>(w);
  }
}

size_t read_at(int fd, char* out, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = retry_eintr(
        [&] { return ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done)); });
    if (r < 0) fail(path, "read", errno);
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

void read_exact(int fd, char* out, size_t n, uint64_t offset, const std::string& path) {
  if (read_at(fd, out, n, offset, path) != n) {
    damaged(path, "the file ends before offset " + std::to_string(offset + n));
  }
}

uint64_t file_size(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) fail(path, "fstat", errno);
  return static_cast<uint64_t>(st.st_size);
}

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

void sync_data(int fd, const std::string& path) {
  if (retry_eintr([&] { return ::fdatasync(fd); }) != 0) fail(path, "fdatasync", errno);
}

void sync_dir(const std::string& dir) {
  Fd fd(retry_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
  if (!fd.valid()) fail(dir, "open directory", errno);
  if (retry_eintr([&] { return ::fsync(fd.get()); }) != 0) fail(dir, "fsync directory", errno);
}

void rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) fail(from, "rename to " + to, errno);
}

bool remove(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  fail(path, "unlink", errno);
}

void create_dirs(const std::string& dir) {
  if (dir.empty()) throw SnapshotError("snapshot store: empty directory name");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) fail(prefix, "mkdir", errno);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) fail(dir, "stat", errno);
  if (!S_ISDIR(st.st_mode)) fail(dir, "mkdir", ENOTDIR);
}

std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) fail(dir, "opendir", errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) fail(dir, "readdir", err);
  return names;
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace snapshot::io
