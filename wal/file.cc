#include "wal/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace wal {
namespace {

// Retries a system call interrupted by a signal.
template <typename Call>
auto retry_eintr(Call call) {
  for (;;) {
    auto r = call();
    if (r >= 0 || errno != EINTR) return r;
  }
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  Status write_at(uint64_t offset, std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = retry_eintr(
          [&] { return ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset)); });
      if (n < 0) return Status::from_errno(errno, "pwrite " + path_);
      if (n == 0) return Status::from_errno(EIO, "pwrite " + path_ + " wrote nothing");
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return {};
  }

  StatusOr<size_t> read_at(uint64_t offset, size_t n, char* out) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = retry_eintr(
          [&] { return ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done)); });
      if (r < 0) return Status::from_errno(errno, "pread " + path_);
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status sync_data() override {
    if (retry_eintr([&] { return ::fdatasync(fd_); }) != 0) {
      return Status::from_errno(errno, "fdatasync " + path_);
    }
    return {};
  }

  Status truncate(uint64_t size) override {
    if (retry_eintr([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return Status::from_errno(errno, "ftruncate " + path_);
    }
    return {};
  }

  Status allocate(uint64_t size) override {
    // posix_fallocate returns the error instead of setting errno. On file systems without
    // fallocate it falls back to writing zeros, which still reserves the blocks.
    int err;
    do {
      err = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
    } while (err == EINTR);
    if (err != 0) return Status::from_errno(err, "fallocate " + path_);
    return {};
  }

  StatusOr<uint64_t> size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::from_errno(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  StatusOr<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    }
    const int fd = retry_eintr([&] { return ::open(path.c_str(), flags, 0644); });
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::from_errno(errno, "rename " + from + " to " + to);
    }
    return {};
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::from_errno(errno, "unlink " + path);
    return {};
  }

  StatusOr<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::from_errno(errno, "opendir " + dir);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return Status::from_errno(err, "readdir " + dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dirs(const std::string& dir) override {
    if (dir.empty()) return {};
    // Create each missing ancestor in turn; an existing one is fine.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
      if (pos != dir.size() && dir[pos] != '/') continue;
      const std::string prefix = dir.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::from_errno(errno, "mkdir " + prefix);
      }
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Status::from_errno(errno, "stat " + dir);
    if (!S_ISDIR(st.st_mode)) return Status::from_errno(ENOTDIR, "mkdir " + dir);
    return {};
  }

  Status sync_dir(const std::string& dir) override {
    const int fd = retry_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return Status::from_errno(errno, "open directory " + dir);
    const int rc = retry_eintr([&] { return ::fsync(fd); });
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Status::from_errno(err, "fsync directory " + dir);
    return {};
  }

  bool exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
};

}  // namespace

FileSystem& posix_file_system() {
  static PosixFileSystem fs;
  return fs;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace wal
