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
//               to node u64 — the first frame a dialler sends; nothing else is accepted first
//   2 message:  one raft eraftpb.Message, protobuf
//   16 snapshot offer:  stream size u64 | one raft eraftpb.Message (a MsgSnapshot with the
//               snapshot's metadata and no data), protobuf
//   17 snapshot chunk:  the next bytes of the snapshot stream, raw
//   18 snapshot result: u8, 1 if the receiver committed the whole stream, 0 if it refused or
//               failed — the only frame an acceptor ever sends
// (16-18 are the kinds of snapshot connections, kept apart from the message connection's.)
//
// A connection is of one of two sorts, told apart by its first frame after the hello:
//   message connection:   hello, message, message, ...
//   snapshot connection:  hello, offer, chunk, chunk, ... (the offer's size in bytes in all);
//                         the acceptor answers with one result frame.
// A frame of the other sort, a second offer, or a result frame: the stream is refused.
//
// A body longer than the decoder's limit is refused from the header alone, before any of it is
// buffered, so a peer cannot make the receiver allocate more than the limit. The limit depends
// on where the connection is, never on the header's unchecked kind: max_chunk_body once an offer
// was decoded, max_body before (for the hello, the offer and messages).
//
// Thread-safety: encode functions are pure; a FrameDecoder belongs to one connection (it may
// be moved to another thread with it, as a snapshot connection is).
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
// The default size of a snapshot chunk, and so the default limit on a chunk frame's body.
inline constexpr size_t kDefaultSnapshotChunkBytes = 1u << 20;
// A result frame is always this long: a header and one byte.
inline constexpr size_t kSnapshotResultFrameSize = kFrameHeaderSize + 1;

enum class FrameKind : uint8_t {
  kHello = 1,
  kMessage = 2,
  kSnapshotOffer = 16,
  kSnapshotChunk = 17,
  kSnapshotResult = 18,
};

// Why a byte stream was refused. Every one of these closes the connection.
enum class FrameError {
  kOk = 0,
  kTooLarge,      // the header announces a body over the limit
  kBadChecksum,   // the CRC does not match: corrupt or not our protocol
  kBadHeader,     // an unknown kind, or non-zero flags or reserved bytes
  kBadHello,      // a hello of the wrong size, magic or version
  kBadMessage,    // a message body protobuf cannot parse
  kUnexpected,    // a frame out of order (see "A connection is of one of two sorts" above)
  kBadOffer,      // a snapshot offer shorter than its size field, or whose message cannot parse
  kBadResult,     // a snapshot result frame of the wrong length or value
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
void append_snapshot_offer_frame(std::string& out, const raft::Message& message, uint64_t size);
// A chunk of the bytes in `data`; at most 4 GiB - 1 (the caller bounds chunks far lower).
void append_snapshot_chunk_frame(std::string& out, std::string_view data);
void append_snapshot_result_frame(std::string& out, bool ok);
// Writes a chunk frame's header in place for a body of `body_size` bytes already written at
// frame + kFrameHeaderSize, so a sender can read its source straight into the frame.
void seal_snapshot_chunk_frame(char* frame, uint32_t body_size) noexcept;

// Checks the kSnapshotResultFrameSize bytes of a result frame (a dialler reads exactly that
// many, with no hello and no decoder): kOk and *ok set, or why the frame is bad.
FrameError decode_snapshot_result_frame(std::string_view frame, bool* ok) noexcept;

// Reassembles frames from the bytes of one connection, in whatever pieces they arrive.
class FrameDecoder {
 public:
  // max_body (hello, offer, messages) is capped at INT_MAX, the most protobuf parses;
  // max_chunk_body (chunks, after an offer) at UINT32_MAX, the most a header announces.
  explicit FrameDecoder(size_t max_body = kDefaultMaxFrameBody,
                        size_t max_chunk_body = kDefaultSnapshotChunkBytes);

  // Adds bytes read from the connection; ignored after an error.
  void feed(std::string_view bytes);
  // feed() without the copy, for a caller that reads the connection straight into the decoder:
  // prepare(n) returns room for n bytes after those fed so far; the caller reads up to n bytes
  // into it, then commit()s how many it read (at most n), with no other call in between. After
  // an error, commit() drops everything.
  char* prepare(size_t n);
  void commit(size_t n);

  enum class Status { kNeedMore, kHello, kMessage, kSnapshotOffer, kSnapshotChunk, kError };
  // The next complete frame, if any: kHello fills *hello, kMessage fills *message,
  // kSnapshotOffer fills *message and offer_size(), kSnapshotChunk sets chunk(). kError is
  // final (error() says why; every later call returns kError): the connection must be closed.
  // The frames must come in the order of one sort of connection (see above). Both pointers must
  // be non-null.
  //
  // Before the hello, a peer that has not yet identified itself can make the decoder buffer up
  // to max_body before the CRC fails; the transport bounds that with its hello timeout.
  Status next(Hello* hello, raft::Message* message);

  // The stream size of the offer that next() returned.
  uint64_t offer_size() const { return offer_size_; }
  // The bytes of the chunk that next() returned last; valid until the next feed() or prepare()
  // (or a move of the decoder).
  std::string_view chunk() const { return chunk_; }

  std::error_code error() const { return error_; }
  // Bytes fed but not yet consumed: when the caller drains next() after each feed(), at most
  // one frame header plus the larger body limit plus the last feed. 0 after an error.
  size_t buffered() const { return end_ - pos_; }

 private:
  // Where the connection is: what may come next, and the body limit that applies.
  enum class Phase { kHello, kFirst, kMessages, kSnapshot };

  Status fail(FrameError e);
  size_t limit() const { return phase_ == Phase::kSnapshot ? max_chunk_body_ : max_body_; }
  // Room for n more bytes at end_ (moving what is pending to the front, or growing, if needed).
  char* make_room(size_t n);

  size_t max_body_;
  size_t max_chunk_body_;
  // Bytes [pos_, end_) of buf_ are fed and not yet consumed; buf_'s size is its usable capacity
  // (kept as size, not capacity, so that reading into it needs no resize per read).
  std::string buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  Phase phase_ = Phase::kHello;
  uint64_t offer_size_ = 0;
  std::string_view chunk_;
  std::error_code error_;
};

}  // namespace net

template <>
struct std::is_error_code_enum<net::FrameError> : std::true_type {};
