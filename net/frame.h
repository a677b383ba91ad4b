// The byte format of a connection between two nodes, and an incremental decoder for it.
//
// Pure code over bytes (no Asio, no sockets), so it is unit-tested and fuzzed on its own; the
// transport feeds it what a socket read returned.
//
// ## On the wire
//
// A connection carries frames, back to back. All integers are little-endian. A frame is a
// 12-byte header and a body:
//
//     body length u32 | kind u8 | flags u8 = 0 | reserved u16 = 0 |
//     CRC32C u32 (of the 8 header bytes before it, then the body)
//
// Kinds:
//   1 hello:    magic "RAFTNET1" (8) | version u32 = 1 | cluster id u64 | from node u64 |
//               to node u64 — the first frame each side sends; nothing else is accepted first
//   2 message:  one raft eraftpb.Message, protobuf
//
// A body longer than the decoder's limit is refused from the header alone, before any of it is
// buffered, so a peer cannot make the receiver allocate more than the limit.
//
// Thread-safety: encode functions are pure; a FrameDecoder belongs to one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "raft/types.h"

namespace net {

inline constexpr size_t kFrameHeaderSize = 12;
inline constexpr std::string_view kHelloMagic = "RAFTNET1";
inline constexpr uint32_t kProtocolVersion = 1;
// The default limit on a frame body: a MsgAppend carries at most Config::max_size_per_msg of
// entries (1 MiB by default) plus overhead; snapshots do not travel in message frames.
inline constexpr size_t kDefaultMaxFrameBody = 64u << 20;

enum class FrameKind : uint8_t { kHello = 1, kMessage = 2 };

// Why a byte stream was refused. Every one of these closes the connection.
enum class FrameError {
  kOk = 0,
  kTooLarge,      // the header announces a body over the limit
  kBadChecksum,   // the CRC does not match: corrupt or not our protocol
  kBadHeader,     // an unknown kind, or non-zero flags or reserved bytes
  kBadHello,      // a hello of the wrong size, magic or version
  kBadMessage,    // a message body protobuf cannot parse
  kUnexpected,    // a message before the hello, or a second hello
};

const std::error_category& frame_category() noexcept;
inline std::error_code make_error_code(FrameError e) noexcept {
  return {static_cast<int>(e), frame_category()};
}

struct Hello {
  uint32_t version = kProtocolVersion;
  uint64_t cluster_id = 0;
  uint64_t from = 0;
  uint64_t to = 0;
};

// Appends a frame to `out` (so several can be coalesced into one write). A message whose
// encoding exceeds 2 GiB throws std::length_error (the sender's bug: the core bounds messages).
void append_hello_frame(std::string& out, const Hello& hello);
void append_message_frame(std::string& out, const raft::Message& message);

// Reassembles frames from the bytes of one connection, in whatever pieces they arrive.
class FrameDecoder {
 public:
  // max_body is capped at INT_MAX, the most protobuf parses.
  explicit FrameDecoder(size_t max_body = kDefaultMaxFrameBody);

  // Adds bytes read from the connection; ignored after an error.
  void feed(std::string_view bytes);

  enum class Status { kNeedMore, kHello, kMessage, kError };
  // The next complete frame, if any: kHello fills *hello, kMessage fills *message. kError is
  // final (error() says why; every later call returns kError): the connection must be closed.
  // The first frame must be a hello and only the first may be. Both pointers must be non-null.
  //
  // Before the hello, a peer that has not yet identified itself can make the decoder buffer up
  // to max_body before the CRC fails; the transport bounds that with its hello timeout.
  Status next(Hello* hello, raft::Message* message);

  std::error_code error() const { return error_; }
  // Bytes fed but not yet consumed: when the caller drains next() after each feed(), at most
  // one frame header plus the body limit plus the last feed. 0 after an error.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Status fail(FrameError e);

  size_t max_body_;
  std::string buf_;
  size_t pos_ = 0;
  bool hello_seen_ = false;
  std::error_code error_;
};

}  // namespace net

template <>
struct std::is_error_code_enum<net::FrameError> : std::true_type {};
