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

// An offer's body starts with the stream's size.
constexpr size_t kOfferSizeField = 8;

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
        return "frame out of order (a message before the hello, a second hello, a second offer, "
               "or a frame that does not belong on this sort of connection)";
      case FrameError::kBadOffer:
        return "snapshot offer frame is too short or its message is not parseable";
      case FrameError::kBadResult: return "bad snapshot result frame (wrong length or value)";
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

void append_snapshot_offer_frame(std::string& out, const raft::Message& message, uint64_t size) {
  const size_t message_size = message.ByteSizeLong();
  if (message_size > kMaxEncodableBody - kOfferSizeField) {
    throw std::length_error(raft::concat("net: snapshot offer message of ", message_size,
                                         " bytes is too large for a frame"));
  }
  const size_t body_size = kOfferSizeField + message_size;
  const size_t start = out.size();
  out.resize(start + kFrameHeaderSize + body_size);
  char* frame = out.data() + start;
  raft::le::put<uint64_t>(frame + kFrameHeaderSize, size);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(frame + kFrameHeaderSize + kOfferSizeField));
  seal_frame(frame, FrameKind::kSnapshotOffer, static_cast<uint32_t>(body_size));
}

void append_snapshot_chunk_frame(std::string& out, std::string_view data) {
  if (data.size() > UINT32_MAX) throw std::length_error("net: snapshot chunk over 4 GiB");
  const size_t start = out.size();
  out.resize(start + kFrameHeaderSize);
  out.append(data);
  seal_snapshot_chunk_frame(out.data() + start, static_cast<uint32_t>(data.size()));
}

void seal_snapshot_chunk_frame(char* frame, uint32_t body_size) noexcept {
  seal_frame(frame, FrameKind::kSnapshotChunk, body_size);
}

void append_snapshot_result_frame(std::string& out, bool ok) {
  const size_t start = out.size();
  out.resize(start + kSnapshotResultFrameSize);
  char* frame = out.data() + start;
  frame[kFrameHeaderSize] = ok ? 1 : 0;
  seal_frame(frame, FrameKind::kSnapshotResult, 1);
}

FrameError decode_snapshot_result_frame(std::string_view frame, bool* ok) noexcept {
  if (frame.size() != kSnapshotResultFrameSize) return FrameError::kBadResult;
  const char* header = frame.data();
  // The length first: a header announcing another size is not a result frame, whatever its CRC.
  if (raft::le::get<uint32_t>(header) != 1) return FrameError::kBadResult;
  const uint32_t crc =
      raft::crc32c::extend(raft::crc32c::value(header, 8), header + kFrameHeaderSize, 1);
  if (crc != raft::le::get<uint32_t>(header + 8)) return FrameError::kBadChecksum;
  if (static_cast<uint8_t>(header[4]) != static_cast<uint8_t>(FrameKind::kSnapshotResult) ||
      header[5] != 0 || header[6] != 0 || header[7] != 0) {
    return FrameError::kBadHeader;
  }
  const auto value = static_cast<uint8_t>(header[kFrameHeaderSize]);
  if (value > 1) return FrameError::kBadResult;
  *ok = value == 1;
  return FrameError::kOk;
}

FrameDecoder::FrameDecoder(size_t max_body, size_t max_chunk_body)
    : max_body_(std::min(max_body, kMaxEncodableBody)),
      max_chunk_body_(std::min<size_t>(max_chunk_body, UINT32_MAX)) {}

char* FrameDecoder::make_room(size_t n) {
  size_t pending = end_ - pos_;
  if (pending == 0) {
    // Everything fed so far was consumed: start over without moving a byte. A message
    // connection gives back the memory of a large frame; a snapshot stream, whose every frame
    // is large, keeps it.
    pos_ = end_ = 0;
    if (buf_.size() > kRetainedCapacity && n <= kRetainedCapacity && phase_ != Phase::kSnapshot) {
      std::string().swap(buf_);
    }
  }
  // When the pending frame's header is already here, its full size is known: make room for all
  // of it at once rather than growing by doubling (and copying) as a large body arrives.
  size_t need = n;
  if (pending >= kFrameHeaderSize) {
    const size_t frame = kFrameHeaderSize + raft::le::get<uint32_t>(buf_.data() + pos_);
    if (frame - kFrameHeaderSize <= limit() && frame > pending) {
      need = std::max(need, frame - pending);
    }
  }
  if (buf_.size() - end_ < need) {
    // What is pending moves to the front, once: when the caller drains next() between feeds it
    // is less than one frame, so the buffer stays at most one frame plus one read.
    if (pending + need > buf_.size()) {
      std::string bigger(pending + need, '\0');
      std::memcpy(bigger.data(), buf_.data() + pos_, pending);
      buf_.swap(bigger);
    } else {
      std::memmove(buf_.data(), buf_.data() + pos_, pending);
    }
    pos_ = 0;
    end_ = pending;
  }
  return buf_.data() + end_;
}

void FrameDecoder::feed(std::string_view bytes) {
  // A closed stream reads nothing more; keeping the bytes would only hold memory.
  if (error_) return;
  if (bytes.empty()) return;
  std::memcpy(make_room(bytes.size()), bytes.data(), bytes.size());
  end_ += bytes.size();
}

char* FrameDecoder::prepare(size_t n) { return make_room(n); }

void FrameDecoder::commit(size_t n) {
  if (error_) {
    std::string().swap(buf_);
    pos_ = end_ = 0;
    return;
  }
  end_ += std::min(n, buf_.size() - end_);
}

FrameDecoder::Status FrameDecoder::next(Hello* hello, raft::Message* message) {
  if (error_) return Status::kError;
  const size_t available = end_ - pos_;
  if (available < kFrameHeaderSize) return Status::kNeedMore;
  const char* header = buf_.data() + pos_;
  const uint32_t body_size = raft::le::get<uint32_t>(header);
  // Refused from the header alone: waiting for the body would let a peer make us buffer it.
  if (body_size > limit()) return fail(FrameError::kTooLarge);
  // A corrupt length that grew (within the limit) also lands here: the decoder waits for bytes
  // that belong to later frames, then the CRC over them fails. A length that shrank fails the
  // CRC at once. Either way no bad frame is delivered.
  if (available - kFrameHeaderSize < body_size) return Status::kNeedMore;

  const char* body = header + kFrameHeaderSize;
  const uint32_t crc = raft::crc32c::extend(raft::crc32c::value(header, 8), body, body_size);
  if (crc != raft::le::get<uint32_t>(header + 8)) return fail(FrameError::kBadChecksum);
  // Kind, flags and reserved are judged only once the CRC has vouched for them, so a flipped bit
  // anywhere in a frame reads as corruption, and kBadHeader means a peer that really sent it.
  if (header[5] != 0 || header[6] != 0 || header[7] != 0) return fail(FrameError::kBadHeader);
  const auto kind = static_cast<FrameKind>(static_cast<uint8_t>(header[4]));
  switch (kind) {
    case FrameKind::kHello:
    case FrameKind::kMessage:
    case FrameKind::kSnapshotOffer:
    case FrameKind::kSnapshotChunk:
    case FrameKind::kSnapshotResult: break;
    default: return fail(FrameError::kBadHeader);
  }

  // Consumed whatever happens next; `body` stays valid because the buffer only changes in feed().
  pos_ += kFrameHeaderSize + body_size;
  if (kind == FrameKind::kHello) {
    if (phase_ != Phase::kHello) return fail(FrameError::kUnexpected);
    if (!decode_hello(body, body_size, hello)) return fail(FrameError::kBadHello);
    phase_ = Phase::kFirst;
    return Status::kHello;
  }
  if (phase_ == Phase::kHello) return fail(FrameError::kUnexpected);
  switch (kind) {
    case FrameKind::kMessage:
      if (phase_ == Phase::kSnapshot) return fail(FrameError::kUnexpected);
      phase_ = Phase::kMessages;
      // Parsed where it lies in the buffer: the only copies of the body are the ones protobuf
      // makes into the message's own fields.
      if (!message->ParseFromArray(body, static_cast<int>(body_size))) {
        return fail(FrameError::kBadMessage);
      }
      return Status::kMessage;
    case FrameKind::kSnapshotOffer:
      if (phase_ != Phase::kFirst) return fail(FrameError::kUnexpected);
      if (body_size < kOfferSizeField) return fail(FrameError::kBadOffer);
      if (!message->ParseFromArray(body + kOfferSizeField,
                                   static_cast<int>(body_size - kOfferSizeField))) {
        return fail(FrameError::kBadOffer);
      }
      offer_size_ = raft::le::get<uint64_t>(body);
      phase_ = Phase::kSnapshot;
      return Status::kSnapshotOffer;
    case FrameKind::kSnapshotChunk:
      if (phase_ != Phase::kSnapshot) return fail(FrameError::kUnexpected);
      chunk_ = std::string_view(body, body_size);
      return Status::kSnapshotChunk;
    default:
      // A result frame travels from acceptor to dialler only; a decoder reads what a dialler sent.
      return fail(FrameError::kUnexpected);
  }
}

FrameDecoder::Status FrameDecoder::fail(FrameError e) {
  error_ = make_error_code(e);
  // Nothing more will be decoded: give the memory back now rather than when the connection dies.
  std::string().swap(buf_);
  pos_ = end_ = 0;
  chunk_ = {};
  return Status::kError;
}

}  // namespace net
