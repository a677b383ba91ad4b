#include "snapshot/readers.h"

#include <algorithm>
#include <istream>
#include <streambuf>
#include <utility>

#include "raft/crc32c.h"
#include "snapshot/snapshot_format.h"

namespace snapshot {
namespace {

// The body's streambuf: a get area over a fixed buffer, refilled by pread from the body's part
// of the file. The CRC32C runs over each buffer as it is read; the one that holds the body's last
// bytes is checked before any of it is handed out, so a caller that reads the whole body either
// gets the stored bytes or a SnapshotError (which the istream rethrows: its exceptions() include
// badbit).
class BodyReadBuf final : public std::streambuf {
 public:
  explicit BodyReadBuf(const StoredFile& file)
      : file_(file),
        buf_(std::make_unique<char[]>(format::kBufferBytes)),
        offset_(file.header_bytes),
        end_(file.header_bytes + file.info.body_bytes),
        crc_(file.header_crc) {
    setg(buf_.get(), buf_.get(), buf_.get());
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (offset_ == end_) {
      finish();
      return traits_type::eof();
    }
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(format::kBufferBytes, end_ - offset_));
    io::read_exact(file_.fd.get(), buf_.get(), want, offset_, file_.info.path);
    crc_ = raft::crc32c::extend(crc_, buf_.get(), want);
    offset_ += want;
    if (offset_ == end_) finish();
    setg(buf_.get(), buf_.get(), buf_.get() + want);
    return traits_type::to_int_type(*gptr());
  }

 private:
  void finish() {
    if (checked_) return;
    check_crc(file_, crc_);
    checked_ = true;
  }

  const StoredFile& file_;
  std::unique_ptr<char[]> buf_;
  uint64_t offset_;
  const uint64_t end_;
  uint32_t crc_;
  bool checked_ = false;
};

class SnapshotReaderImpl final : public SnapshotReader {
 public:
  explicit SnapshotReaderImpl(StoredFile file) : file_(std::move(file)), buf_(file_), body_(&buf_) {
    body_.exceptions(std::ios::badbit);
  }

  const SnapshotInfo& info() const override { return file_.info; }
  std::istream& body() override { return body_; }

 private:
  StoredFile file_;
  BodyReadBuf buf_;
  std::istream body_;
};

// Reads straight into the caller's buffer; the CRC32C covers everything before the trailer and
// is checked by the read that reaches the end of the file, before it returns.
class RawReaderImpl final : public RawReader {
 public:
  explicit RawReaderImpl(StoredFile file)
      : file_(std::move(file)), crc_end_(file_.info.file_bytes - format::kTrailerBytes) {}

  const SnapshotInfo& info() const override { return file_.info; }

  size_t read(char* buf, size_t n) override {
    // A damaged file stays damaged: a read after the failing one does not look like the end.
    if (failed_) check_crc(file_, crc_);
    const uint64_t size = file_.info.file_bytes;
    if (pos_ == size || n == 0) return 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n, size - pos_));
    io::read_exact(file_.fd.get(), buf, want, pos_, file_.info.path);
    if (pos_ < crc_end_) {
      const size_t covered = static_cast<size_t>(std::min<uint64_t>(want, crc_end_ - pos_));
      crc_ = raft::crc32c::extend(crc_, buf, covered);
    }
    pos_ += want;
    if (pos_ == size) {
      failed_ = true;
      check_crc(file_, crc_);
      failed_ = false;
    }
    return want;
  }

 private:
  StoredFile file_;
  const uint64_t crc_end_;
  uint64_t pos_ = 0;
  uint32_t crc_ = 0;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<SnapshotReader> make_snapshot_reader(StoredFile file) {
  return std::make_unique<SnapshotReaderImpl>(std::move(file));
}

std::unique_ptr<RawReader> make_raw_reader(StoredFile file) {
  return std::make_unique<RawReaderImpl>(std::move(file));
}

}  // namespace snapshot
