#include "net/frame.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "raft/crc32c.h"
#include "raft/little_endian.h"

namespace net {
namespace {

// magic (8) | version u32 | cluster id u64 | from u64 | to u64
constexpr size_t kHelloBodySize = 8 + 4 + 8 + 8 + 8;

// protobuf parses and serializes at most INT_MAX bytes (its sizes are ints), so no limit can
// admit a larger message body; the decoder clamps its limit to this.
constexpr size_t kMaxEncodableBody = INT_MAX;

// Capacity the decoder keeps when its buffer drains. One frame larger than this (a big MsgAppend)
// grows the buffer to that frame's size; releasing it afterwards keeps an idle connection from
// holding the largest frame it ever saw, at the price of one allocation per such frame, which is
// small next to moving its bytes.
constexpr size_t kRetainedCapacity = 1u << 20;

// Fills the header at `frame` for a body already in place after it; the CRC goes last because
// it covers both.
void seal_frame(char* frame, FrameKind kind, uint32_t body_size) noexcept {
  raft::le::put<uint32_t>(frame, body_size);
  frame[4] = static_cast<char>(kind);
  frame[5] = frame[6] = frame[7] = 0;  // flags, reserved
  const uint32_t crc =
      raft::crc32c::extend(raft::crc32c::value(frame, 8), frame + kFrameHeaderSize, body_size);
  raft::le::put<uint32_t>(frame + 8, crc);
}

bool decode_hello(const char* body, size_t size, Hello* hello) noexcept {
  if (size != kHelloBodySize) return false;
  if (std::memcmp(body, kHelloMagic.data(), kHelloMagic.size()) != 0) return false;
  const char* p = body + kHelloMagic.size();
  Hello h;
  h.version = raft::le::get<uint32_t>(p);
  h.cluster_id = raft::le::get<uint64_t>(p + 4);
  h.from = raft::le::get<uint64_t>(p + 12);
  h.to = raft::le::get<uint64_t>(p + 20);
  // One version exists. A later one will be negotiated by what this hello carries; until then
  // any other number is a peer this build cannot talk to.
  if (h.version != kProtocolVersion) return false;
  *hello = h;
  return true;
}

class FrameCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "net.frame"; }
  std::string message(int code) const override {
    switch (static_cast<FrameError>(code)) {
      case FrameError::kOk: return "ok";
      case FrameError::kTooLarge: return "frame header announces a body larger than the limit";
      case FrameError::kBadChecksum:
        return "frame checksum mismatch (corrupt bytes, or the peer does not speak this protocol)";
      case FrameError::kBadHeader:
        return "bad frame header (unknown kind, or non-zero flags or reserved bytes)";
      case FrameError::kBadHello: return "bad hello frame (wrong size, magic or protocol version)";
      case FrameError::kBadMessage: return "message frame body is not a parseable raft message";
      case FrameError::kUnexpected:
        return "frame out of order (a message before the hello, or a second hello)";
    }
    return "unknown frame error";
  }
};

}  // namespace

const std::error_category& frame_category() noexcept {
  static const FrameCategory category;
  return category;
}

void append_hello_frame(std::string& out, const Hello& hello) {
  const size_t start = out.size();
  out.resize(start + kFrameHeaderSize + kHelloBodySize);
  char* frame = out.data() + start;
  char* p = frame + kFrameHeaderSize;
  std::memcpy(p, kHelloMagic.data(), kHelloMagic.size());
  p += kHelloMagic.size();
  raft::le::put<uint32_t>(p, hello.version);
  raft::le::put<uint64_t>(p + 4, hello.cluster_id);
  raft::le::put<uint64_t>(p + 12, hello.from);
  raft::le::put<uint64_t>(p + 20, hello.to);
  seal_frame(frame, FrameKind::kHello, kHelloBodySize);
}

void append_message_frame(std::string& out, const raft::Message& message) {
  // ByteSizeLong() caches the sizes of nested messages that the serializer below reads, so the
  // body is written straight into `out` with no intermediate string.
  const size_t body_size = message.ByteSizeLong();
  if (body_size > kMaxEncodableBody) {
    throw std::length_error(
        raft::concat("net: message of ", body_size,
                     " bytes is too large for a frame: ", raft::describe(message)));
  }
  const size_t start = out.size();
  out.resize(start + kFrameHeaderSize + body_size);
  char* frame = out.data() + start;
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(frame + kFrameHeaderSize));
  seal_frame(frame, FrameKind::kMessage, static_cast<uint32_t>(body_size));
}

FrameDecoder::FrameDecoder(size_t max_body) : max_body_(std::min(max_body, kMaxEncodableBody)) {}

void FrameDecoder::feed(std::string_view bytes) {
  // A closed stream reads nothing more; keeping the bytes would only hold memory.
  if (error_) return;
  if (pos_ == buf_.size()) {
    // Everything fed so far was consumed: start over without moving a byte.
    if (buf_.capacity() > kRetainedCapacity && bytes.size() <= kRetainedCapacity) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
    pos_ = 0;
  } else if (pos_ > 0) {
    // Drop the consumed frames. What remains is less than one frame (the caller drains next()
    // between feeds), so this moves each byte at most once and keeps the buffer at most one
    // frame plus one read.
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // When the pending frame's header is already here, its full size is known: make room for it
  // at once rather than growing by doubling (and copying) as a large body arrives in pieces.
  if (buf_.size() >= kFrameHeaderSize) {
    const size_t body = raft::le::get<uint32_t>(buf_.data());
    if (body <= max_body_) {
      buf_.reserve(std::max(kFrameHeaderSize + body, buf_.size() + bytes.size()));
    }
  }
  buf_.append(bytes);
}

FrameDecoder::Status FrameDecoder::next(Hello* hello, raft::Message* message) {
  if (error_) return Status::kError;
  const size_t available = buf_.size() - pos_;
  if (available < kFrameHeaderSize) return Status::kNeedMore;
  const char* header = buf_.data() + pos_;
  const uint32_t body_size = raft::le::get<uint32_t>(header);
  // Refused from the header alone: waiting for the body would let a peer make us buffer it.
  if (body_size > max_body_) return fail(FrameError::kTooLarge);
  // A corrupt length that grew (within the limit) also lands here: the decoder waits for bytes
  // that belong to later frames, then the CRC over them fails. A length that shrank fails the
  // CRC at once. Either way no bad frame is delivered.
  if (available - kFrameHeaderSize < body_size) return Status::kNeedMore;

  const char* body = header + kFrameHeaderSize;
  const uint32_t crc = raft::crc32c::extend(raft::crc32c::value(header, 8), body, body_size);
  if (crc != raft::le::get<uint32_t>(header + 8)) return fail(FrameError::kBadChecksum);
  // Kind, flags and reserved are judged only once the CRC has vouched for them, so a flipped bit
  // anywhere in a frame reads as corruption, and kBadHeader means a peer that really sent it.
  const auto kind = static_cast<uint8_t>(header[4]);
  if (header[5] != 0 || header[6] != 0 || header[7] != 0) return fail(FrameError::kBadHeader);
  if (kind != static_cast<uint8_t>(FrameKind::kHello) &&
      kind != static_cast<uint8_t>(FrameKind::kMessage)) {
    return fail(FrameError::kBadHeader);
  }

  // Consumed whatever happens next; `body` stays valid because the buffer only changes in feed().
  pos_ += kFrameHeaderSize + body_size;
  if (kind == static_cast<uint8_t>(FrameKind::kHello)) {
    if (hello_seen_) return fail(FrameError::kUnexpected);
    if (!decode_hello(body, body_size, hello)) return fail(FrameError::kBadHello);
    hello_seen_ = true;
    return Status::kHello;
  }
  if (!hello_seen_) return fail(FrameError::kUnexpected);
  // Parsed where it lies in the buffer: the only copies of the body are the ones protobuf makes
  // into the message's own fields.
  if (!message->ParseFromArray(body, static_cast<int>(body_size))) {
    return fail(FrameError::kBadMessage);
  }
  return Status::kMessage;
}

FrameDecoder::Status FrameDecoder::fail(FrameError e) {
  error_ = make_error_code(e);
  // Nothing more will be decoded: give the memory back now rather than when the connection dies.
  std::string().swap(buf_);
  pos_ = 0;
  return Status::kError;
}

}  // namespace net
