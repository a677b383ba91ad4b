#include "snapshot/pending_file.h"

#include <cstring>
#include <utility>

#include "snapshot/snapshot_format.h"

namespace snapshot {

PendingFile::PendingFile(const std::string& dir, const std::string& name, WriteHook hook)
    : dir_(dir),
      final_path_(io::join(dir, name)),
      temp_path_(final_path_ + std::string(format::kTempSuffix)),
      hook_(std::move(hook)),
      fd_(io::create_exclusive(temp_path_)),
      buf_(std::make_unique<char[]>(format::kBufferBytes)) {
  notify(WritePoint::kCreated);
}

PendingFile::~PendingFile() { discard(); }

void PendingFile::notify(WritePoint point) const {
  if (hook_) hook_(point, size());
}

void PendingFile::write_through(const char* data, size_t n) {
  io::write_all(fd_.get(), data, n, temp_path_);
  written_ += n;
  notify(WritePoint::kWrote);
}

void PendingFile::flush() {
  if (used_ == 0) return;
  const size_t n = used_;
  used_ = 0;
  write_through(buf_.get(), n);
}

void PendingFile::append(const char* data, size_t n) {
  if (discarded_ || renamed_)
    throw SnapshotError("snapshot " + temp_path_ + ": append after the end");
  if (used_ + n < format::kBufferBytes) {
    std::memcpy(buf_.get() + used_, data, n);
    used_ += n;
    return;
  }
  // Fill the buffer up and write it, then write whole buffers' worth straight from the caller's
  // memory, and keep the rest.
  const size_t fill = format::kBufferBytes - used_;
  if (used_ > 0) {
    std::memcpy(buf_.get() + used_, data, fill);
    used_ = format::kBufferBytes;
    flush();
    data += fill;
    n -= fill;
  }
  if (n >= format::kBufferBytes) {
    const size_t whole = n - n % format::kBufferBytes;
    write_through(data, whole);
    data += whole;
    n -= whole;
  }
  std::memcpy(buf_.get(), data, n);
  used_ = n;
}

void PendingFile::publish() {
  if (discarded_ || renamed_) throw SnapshotError("snapshot " + temp_path_ + ": published twice");
  flush();
  io::sync_data(fd_.get(), temp_path_);
  fd_.close(temp_path_);
  notify(WritePoint::kSynced);
  io::rename(temp_path_, final_path_);
  renamed_ = true;
  notify(WritePoint::kRenamed);
  // If this fails the file is whole and synced under its name, but the name may not survive a
  // power loss: the caller reports failure, and the file is a valid snapshot if it does.
  io::sync_dir(dir_);
  notify(WritePoint::kPublished);
}

void PendingFile::discard() noexcept {
  if (discarded_) return;
  discarded_ = true;
  buf_.reset();
  fd_ = io::Fd();
  if (renamed_) return;
  try {
    io::remove(temp_path_);
  } catch (const SnapshotError&) {
    // Nothing better to do: the store removes leftover temporary files when it next opens.
  }
}

}  // namespace snapshot
