// SnapshotWriter: the header is written when the writer is made, the body through an ostream
// whose streambuf fills a fixed buffer and hands it to the file when full, the trailer at commit.
// The CRC32C runs over the header and each buffer as it leaves, so nothing is read back.
#include <cstring>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <utility>

#include "raft/crc32c.h"
#include "snapshot/pending_file.h"
#include "snapshot/snapshot_format.h"
#include "snapshot/writers.h"

namespace snapshot {
namespace {

// The body's streambuf: a put area over a fixed buffer. overflow() and xsputn() write full
// buffers; a failure throws SnapshotError (which the ostream rethrows, its exceptions() including
// badbit) and is remembered for commit().
class BodyBuf final : public std::streambuf {
 public:
  explicit BodyBuf(PendingFile& file, uint32_t crc)
      : file_(file), crc_(crc), buf_(std::make_unique<char[]>(format::kBufferBytes)) {
    setp(buf_.get(), buf_.get() + format::kBufferBytes);
  }

  // Writes what is buffered; throws the first failure again if there was one.
  void drain() {
    check();
    emit(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(buf_.get(), buf_.get() + format::kBufferBytes);
  }

  uint64_t body_bytes() const { return body_bytes_; }
  uint32_t crc() const { return crc_; }

 protected:
  int_type overflow(int_type c) override {
    drain();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }

  std::streamsize xsputn(const char* s, std::streamsize count) override {
    size_t n = static_cast<size_t>(count);
    const size_t room = static_cast<size_t>(epptr() - pptr());
    if (n < room) {
      std::memcpy(pptr(), s, n);
      pbump(static_cast<int>(n));
      return count;
    }
    // Large or filling: write the buffer, then the caller's bytes straight from its memory when
    // they are a buffer's worth, else keep them.
    drain();
    if (n >= format::kBufferBytes) {
      emit(s, n);
    } else {
      std::memcpy(pptr(), s, n);
      pbump(static_cast<int>(n));
    }
    return count;
  }

  // flush() does not write: the buffer goes out when full and at commit, so a state machine that
  // flushes often does not make small writes.
  int sync() override { return 0; }

 private:
  void check() const {
    if (failure_) throw SnapshotError(*failure_);
  }

  void emit(const char* p, size_t n) {
    if (n == 0) return;
    try {
      crc_ = raft::crc32c::extend(crc_, p, n);
      file_.append(p, n);
      body_bytes_ += n;
    } catch (const SnapshotError& e) {
      failure_ = e.what();
      throw;
    }
  }

  PendingFile& file_;
  uint32_t crc_;
  std::unique_ptr<char[]> buf_;
  uint64_t body_bytes_ = 0;
  std::optional<std::string> failure_;
};

class SnapshotWriterImpl final : public SnapshotWriter {
 public:
  SnapshotWriterImpl(SnapshotStore& store, const raft::SnapshotMetadata& metadata, WriteHook hook,
                     const std::string& header)
      : store_(store),
        metadata_(metadata),
        file_(store.dir(), format::file_name(metadata.index(), metadata.term()), std::move(hook)),
        buf_(file_, raft::crc32c::value(header)),
        body_(&buf_) {
    file_.append(header.data(), header.size());
    body_.exceptions(std::ios::badbit);
  }

  ~SnapshotWriterImpl() override { abort(); }

  std::ostream& body() override { return body_; }

  SnapshotInfo commit() override {
    if (done_) throw SnapshotError("snapshot " + file_.temp_path() + ": commit after the end");
    done_ = true;
    try {
      buf_.drain();  // first: it throws the write failure that set badbit, if one did
      if (body_.bad()) {
        throw SnapshotError("snapshot " + file_.temp_path() + ": the body stream failed");
      }
      const std::string trailer = format::encode_trailer({buf_.body_bytes(), buf_.crc()});
      file_.append(trailer.data(), trailer.size());
      const uint64_t file_bytes = file_.size();
      file_.publish();
      SnapshotInfo info;
      info.metadata = metadata_;
      info.path = file_.final_path();
      info.file_bytes = file_bytes;
      info.body_bytes = buf_.body_bytes();
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
  SnapshotStore& store_;
  const raft::SnapshotMetadata metadata_;
  PendingFile file_;
  BodyBuf buf_;
  std::ostream body_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<SnapshotWriter> make_snapshot_writer(SnapshotStore& store,
                                                     const raft::SnapshotMetadata& metadata,
                                                     WriteHook hook) {
  // Encoded first, so metadata that cannot be stored fails before a file exists.
  const std::string header = format::encode_header(metadata);
  return std::make_unique<SnapshotWriterImpl>(store, metadata, std::move(hook), header);
}

}  // namespace snapshot
