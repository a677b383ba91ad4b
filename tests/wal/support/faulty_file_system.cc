#include "tests/wal/support/faulty_file_system.h"

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <utility>

namespace wal::testing {

// Passes calls through to the wrapped file, asking the file system first which fault applies.
class FaultyFile final : public File {
 public:
  FaultyFile(FaultyFileSystem& fs, std::unique_ptr<File> base) : fs_(fs), base_(std::move(base)) {}

  Status write_at(uint64_t offset, std::string_view data) override {
    bool then_fail = false;
    const uint64_t allowed = fs_.before_write(data.size(), &then_fail);
    Status s;
    uint64_t written = 0;
    if (allowed > 0) {
      // The part that fits goes to the disk, as a real short write before ENOSPC would.
      s = base_->write_at(offset, data.substr(0, allowed));
      if (s.ok()) written = allowed;
    }
    if (s.ok() && then_fail) s = Status::from_errno(ENOSPC, "pwrite " + base_->path());
    fs_.after_write(written, !s.ok());
    return s;
  }

  StatusOr<size_t> read_at(uint64_t offset, size_t n, char* out) const override {
    return base_->read_at(offset, n, out);
  }

  Status sync_data() override {
    if (Status s = fs_.before_sync(base_->path()); !s.ok()) return s;
    return base_->sync_data();
  }

  Status truncate(uint64_t size) override {
    fs_.count_truncate();
    return base_->truncate(size);
  }

  Status allocate(uint64_t size) override {
    if (Status s = fs_.before_allocate(base_->path()); !s.ok()) return s;
    return base_->allocate(size);
  }

  StatusOr<uint64_t> size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultyFileSystem& fs_;
  std::unique_ptr<File> base_;
};

void FaultyFileSystem::fail_allocate(uint64_t after) {
  std::lock_guard lock(mu_);
  allocates_left_ = after;
}

void FaultyFileSystem::limit_writes(uint64_t budget) {
  std::lock_guard lock(mu_);
  write_budget_ = budget;
}

void FaultyFileSystem::fail_sync_data(uint64_t after, bool sticky) {
  std::lock_guard lock(mu_);
  syncs_left_ = after;
  sync_fault_sticky_ = sticky;
  sync_fault_fired_ = false;
}

void FaultyFileSystem::clear_faults() {
  std::lock_guard lock(mu_);
  allocates_left_.reset();
  write_budget_.reset();
  syncs_left_.reset();
  dir_syncs_left_.reset();
  sync_fault_sticky_ = false;
  sync_fault_fired_ = false;
}

FileSystemCounters FaultyFileSystem::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

Status FaultyFileSystem::before_allocate(const std::string& path) {
  std::lock_guard lock(mu_);
  ++counters_.allocates;
  if (!allocates_left_) return {};
  if (*allocates_left_ > 0) {
    --*allocates_left_;
    return {};
  }
  ++counters_.allocate_failures;
  return Status::from_errno(ENOSPC, "fallocate " + path);
}

uint64_t FaultyFileSystem::before_write(uint64_t n, bool* then_fail) {
  std::lock_guard lock(mu_);
  ++counters_.writes;
  *then_fail = false;
  if (!write_budget_) return n;
  // A write that exactly fills the budget succeeds; the disk is full only for the next byte.
  const uint64_t allowed = std::min(n, *write_budget_);
  *write_budget_ -= allowed;
  *then_fail = allowed < n;
  return allowed;
}

void FaultyFileSystem::after_write(uint64_t written, bool failed) {
  std::lock_guard lock(mu_);
  counters_.bytes_written += written;
  if (failed) ++counters_.write_failures;
}

Status FaultyFileSystem::before_sync(const std::string& path) {
  std::lock_guard lock(mu_);
  ++counters_.syncs;
  if (!syncs_left_) return {};
  if (*syncs_left_ > 0) {
    --*syncs_left_;
    return {};
  }
  if (sync_fault_fired_ && !sync_fault_sticky_) return {};
  sync_fault_fired_ = true;
  ++counters_.sync_failures;
  return Status::from_errno(EIO, "fdatasync " + path);
}

void FaultyFileSystem::count_truncate() {
  std::lock_guard lock(mu_);
  ++counters_.truncates;
}

StatusOr<std::unique_ptr<File>> FaultyFileSystem::open(const std::string& path, OpenMode mode) {
  {
    std::lock_guard lock(mu_);
    ++counters_.opens;
  }
  auto file = base_.open(path, mode);
  if (!file.ok()) return file.status();
  return std::unique_ptr<File>(std::make_unique<FaultyFile>(*this, std::move(file.value())));
}

Status FaultyFileSystem::rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard lock(mu_);
    ++counters_.renames;
  }
  return base_.rename(from, to);
}

Status FaultyFileSystem::remove(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    ++counters_.removes;
  }
  return base_.remove(path);
}

StatusOr<std::vector<std::string>> FaultyFileSystem::list(const std::string& dir) {
  return base_.list(dir);
}

Status FaultyFileSystem::create_dirs(const std::string& dir) { return base_.create_dirs(dir); }

void FaultyFileSystem::fail_sync_dir(uint64_t after) {
  std::lock_guard lock(mu_);
  dir_syncs_left_ = after;
}

Status FaultyFileSystem::sync_dir(const std::string& dir) {
  {
    std::lock_guard lock(mu_);
    ++counters_.sync_dirs;
    if (dir_syncs_left_) {
      if (*dir_syncs_left_ == 0) {
        ++counters_.sync_dir_failures;
        return Status::from_errno(EIO, "fsync directory " + dir);
      }
      --*dir_syncs_left_;
    }
  }
  return base_.sync_dir(dir);
}

bool FaultyFileSystem::exists(const std::string& path) { return base_.exists(path); }

}  // namespace wal::testing
