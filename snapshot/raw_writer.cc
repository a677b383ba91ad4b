// RawWriter: a snapshot file received from a peer, stored byte for byte as it arrives and
// checked on the way. The header is parsed as soon as its bytes are in (a bad magic, version or
// metadata length, or metadata other than the expected, fails the write that shows it); the
// trailer is only known at the end, so the CRC32C runs over everything but the newest 20 bytes,
// which are held back until more arrive or commit() reads them as the trailer.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "raft/crc32c.h"
#include "snapshot/pending_file.h"
#include "snapshot/snapshot_format.h"
#include "snapshot/writers.h"

namespace snapshot {
namespace {

class RawWriterImpl final : public RawWriter {
 public:
  RawWriterImpl(SnapshotStore& store, const raft::SnapshotMetadata& expected, WriteHook hook)
      : store_(store),
        expected_(expected),
        file_(store.dir(), format::file_name(expected.index(), expected.term()), std::move(hook)) {}

  ~RawWriterImpl() override { abort(); }

  void write(const char* data, size_t n) override {
    if (done_) throw SnapshotError("snapshot " + file_.temp_path() + ": write after the end");
    try {
      inspect_header(data, n);
      checksum(data, n);
      file_.append(data, n);
    } catch (...) {
      abort();
      throw;
    }
  }

  SnapshotInfo commit() override {
    if (done_) throw SnapshotError("snapshot " + file_.temp_path() + ": commit after the end");
    done_ = true;
    try {
      const std::string& path = file_.temp_path();
      const uint64_t total = file_.size();
      if (!metadata_) {
        io::damaged(path, "the file ends inside its header (" + std::to_string(total) + " bytes)");
      }
      if (total < header_bytes_ + format::kTrailerBytes) {
        io::damaged(path, "the file ends before its trailer (" + std::to_string(total) +
                              " bytes, header " + std::to_string(header_bytes_) + ")");
      }
      const format::Trailer trailer = format::parse_trailer(tail_, path);
      const uint64_t body = total - header_bytes_ - format::kTrailerBytes;
      if (trailer.body_bytes != body) {
        io::damaged(path, "the trailer says the body has " + std::to_string(trailer.body_bytes) +
                              " bytes, the file holds " + std::to_string(body));
      }
      if (trailer.crc != crc_) {
        io::damaged(path, "checksum mismatch (stored " + std::to_string(trailer.crc) +
                              ", computed " + std::to_string(crc_) + ")");
      }
      file_.publish();
      SnapshotInfo info;
      info.metadata = *metadata_;
      info.path = file_.final_path();
      info.file_bytes = total;
      info.body_bytes = body;
      store_.add(info);
      return info;
    } catch (...) {
      file_.discard();
      throw;
    }
  }

  void abort() override {
    done_ = true;
    file_.discard();
  }

 private:
  // Collects the header's bytes and checks each part as soon as it is complete.
  void inspect_header(const char* data, size_t n) {
    const std::string& path = file_.temp_path();
    while (!metadata_ && n > 0) {
      const size_t target = format::kFixedHeaderBytes + meta_len_.value_or(0);
      const size_t take = std::min(n, target - header_.size());
      header_.append(data, take);
      data += take;
      n -= take;
      if (!meta_len_) {
        if (header_.size() < format::kFixedHeaderBytes) {
          if (!format::magic_prefix_ok(header_.data(), header_.size())) {
            io::damaged(path, "bad magic (not a snapshot file)");
          }
          continue;
        }
        meta_len_ = format::check_fixed_header(header_.data(), path);
      }
      if (header_.size() == format::kFixedHeaderBytes + *meta_len_) {
        raft::SnapshotMetadata m =
            format::parse_metadata(header_.data() + format::kFixedHeaderBytes, *meta_len_, path);
        if (!format::same_metadata(m, expected_)) {
          io::damaged(path, "metadata " + format::describe(m) + " is not the expected " +
                                format::describe(expected_));
        }
        metadata_ = std::move(m);
        header_bytes_ = header_.size();
        std::string().swap(header_);  // up to 64 MiB: not kept for the rest of the transfer
      }
    }
  }

  // Extends the CRC over all bytes but the newest kTrailerBytes, which wait in tail_.
  void checksum(const char* data, size_t n) {
    constexpr size_t kTail = format::kTrailerBytes;
    if (n >= kTail) {
      crc_ = raft::crc32c::extend(crc_, tail_, tail_len_);
      crc_ = raft::crc32c::extend(crc_, data, n - kTail);
      std::memcpy(tail_, data + n - kTail, kTail);
      tail_len_ = kTail;
      return;
    }
    if (tail_len_ + n > kTail) {
      const size_t out = tail_len_ + n - kTail;
      crc_ = raft::crc32c::extend(crc_, tail_, out);
      std::memmove(tail_, tail_ + out, tail_len_ - out);
      tail_len_ -= out;
    }
    std::memcpy(tail_ + tail_len_, data, n);
    tail_len_ += n;
  }

  SnapshotStore& store_;
  const raft::SnapshotMetadata expected_;
  PendingFile file_;
  std::string header_;                              // the header's bytes until it is complete
  std::optional<uint32_t> meta_len_;                // once the fixed part is in
  std::optional<raft::SnapshotMetadata> metadata_;  // once the whole header is in
  uint64_t header_bytes_ = 0;
  uint32_t crc_ = 0;
  char tail_[format::kTrailerBytes] = {};
  size_t tail_len_ = 0;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<RawWriter> make_raw_writer(SnapshotStore& store,
                                           const raft::SnapshotMetadata& expected, WriteHook hook) {
  return std::make_unique<RawWriterImpl>(store, expected, std::move(hook));
}

}  // namespace snapshot
