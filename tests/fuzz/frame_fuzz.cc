// libFuzzer target: the frame decoder (net/frame.h) fed bytes a peer chose, in pieces the network
// chose.
//
// The input is read as a small program that builds a byte stream and then cuts it up:
//   - the decoder's max_body and max_chunk_body (0..300 each, so "too large" is easy to reach);
//   - up to 64 pieces of stream, each one of: raw bytes; a hello from append_hello_frame with any
//     fields; a message frame from append_message_frame (of a message parsed from input bytes, or
//     built field by field); a frame with any kind, flags, reserved bytes, announced length and
//     body but a CRC computed over what was written (random bytes alone almost never pass the
//     CRC, so without this the fuzzer would never get past it); one bit flipped anywhere so far;
//     a snapshot offer, chunk or result frame from the encoders;
//   - the sizes of the pieces the stream is fed in, and whether each goes through feed() or
//     through prepare() and commit().
//
// The stream is decoded three ways: fed whole; fed in the input's pieces with next() drained
// after each; and byte by byte (short streams). A finding (printed, then abort, so libFuzzer
// keeps the input) is any sanitizer report or any of:
//   - decoding it whole disagrees, on the frames decoded or on how the stream ended, with a
//     reference decoder here that follows net/frame.h's rules in the plainest way;
//   - the three ways disagree (the decoder's output must not depend on how the bytes were split);
//   - buffered() exceeds, after a feed, one frame header plus the larger limit plus that feed, or,
//     once drained, one frame header plus the larger limit;
//   - after kError, next() returns anything else, error() changes, or bytes are kept;
//   - a hello other than first, a message or offer before a hello, an offer not right after
//     the hello, a chunk without an offer, a message and an offer on one connection;
//   - a decoded hello, message, offer or chunk that, re-encoded and decoded again, is not the
//     same.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "net/frame.h"
#include "raft/crc32c.h"

namespace {

using net::FrameDecoder;
using net::Hello;
using net::kFrameHeaderSize;
using raft::Message;
using Status = FrameDecoder::Status;

constexpr int kMaxPieces = 64;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "frame_fuzz: FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void put_u32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

// A frame whose CRC matches its header as written and the body bytes given, whatever the
// header says.
void append_sealed_frame(std::string& out, uint32_t announced, uint8_t kind, uint8_t flags,
                         uint16_t reserved, const std::string& body) {
  char header[kFrameHeaderSize];
  put_u32(header, announced);
  header[4] = static_cast<char>(kind);
  header[5] = static_cast<char>(flags);
  header[6] = static_cast<char>(reserved & 0xff);
  header[7] = static_cast<char>(reserved >> 8);
  const uint32_t crc =
      raft::crc32c::extend(raft::crc32c::value(header, 8), body.data(), body.size());
  put_u32(header + 8, crc);
  out.append(header, kFrameHeaderSize);
  out += body;
}

Message built_message(FuzzedDataProvider& in) {
  Message m;
  m.set_msg_type(static_cast<raft::MessageType>(in.ConsumeIntegralInRange<int>(-2, 20)));
  m.set_to(in.ConsumeIntegral<uint64_t>());
  m.set_from(in.ConsumeIntegral<uint64_t>());
  m.set_term(in.ConsumeIntegral<uint64_t>());
  m.set_index(in.ConsumeIntegral<uint64_t>());
  m.set_commit(in.ConsumeIntegral<uint64_t>());
  const int entries = in.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < entries; ++i) {
    raft::Entry* e = m.add_entries();
    e->set_index(in.ConsumeIntegral<uint64_t>());
    e->set_term(in.ConsumeIntegral<uint64_t>());
    e->set_data(in.ConsumeRandomLengthString(64));
  }
  if (in.ConsumeBool()) {
    m.mutable_snapshot()->set_data(in.ConsumeRandomLengthString(64));
    m.mutable_snapshot()->mutable_metadata()->set_index(in.ConsumeIntegral<uint64_t>());
    m.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(
        in.ConsumeIntegral<uint64_t>());
  }
  return m;
}

void append_piece(FuzzedDataProvider& in, std::string& stream) {
  switch (in.ConsumeIntegralInRange<int>(0, 8)) {
    case 0: stream += in.ConsumeRandomLengthString(64); break;
    case 1: {
      Hello h;
      if (in.ConsumeBool()) h.version = in.ConsumeIntegral<uint32_t>();
      h.cluster_id = in.ConsumeIntegral<uint64_t>();
      h.from = in.ConsumeIntegral<uint64_t>();
      h.to = in.ConsumeIntegral<uint64_t>();
      net::append_hello_frame(stream, h);
      break;
    }
    case 2: {
      Message m;
      if (!m.ParseFromString(in.ConsumeRandomLengthString(256))) m = built_message(in);
      net::append_message_frame(stream, m);
      break;
    }
    case 3: net::append_message_frame(stream, built_message(in)); break;
    case 4: {
      uint8_t kind = in.ConsumeIntegralInRange<uint8_t>(0, 7);
      if (kind > 3) kind = static_cast<uint8_t>(kind + 12);  // 16..19: the snapshot kinds and one past
      const auto flags = in.ConsumeBool() ? in.ConsumeIntegral<uint8_t>() : uint8_t{0};
      const auto reserved = in.ConsumeBool() ? in.ConsumeIntegral<uint16_t>() : uint16_t{0};
      const std::string body = in.ConsumeRandomLengthString(320);
      uint32_t announced = static_cast<uint32_t>(body.size());
      if (in.ConsumeBool()) announced = in.ConsumeIntegral<uint32_t>();
      append_sealed_frame(stream, announced, kind, flags, reserved, body);
      break;
    }
    case 5:
      if (!stream.empty()) {
        const size_t bit = in.ConsumeIntegralInRange<size_t>(0, stream.size() * 8 - 1);
        stream[bit / 8] = static_cast<char>(stream[bit / 8] ^ (1 << (bit % 8)));
      }
      break;
    case 6: {
      const uint64_t size = in.ConsumeIntegral<uint64_t>();
      net::append_snapshot_offer_frame(stream, built_message(in), size);
      break;
    }
    case 7: net::append_snapshot_chunk_frame(stream, in.ConsumeRandomLengthString(320)); break;
    case 8: net::append_snapshot_result_frame(stream, in.ConsumeBool()); break;
  }
}

// A frame as a string that compares equal exactly when the frames are the same.
std::string describe_hello(const Hello& h) {
  return "H" + std::to_string(h.version) + "/" + std::to_string(h.cluster_id) + "/" +
         std::to_string(h.from) + "/" + std::to_string(h.to);
}

// What a decoder produced, and how it ended.
struct Outcome {
  std::vector<std::string> frames;
  Status last = Status::kNeedMore;
  std::error_code error;
};

std::string describe_offer(uint64_t size, const Message& m) {
  return "O" + std::to_string(size) + "/" + m.SerializeAsString();
}

// net/frame.h's rules applied to the whole stream at once, written as plainly as possible: the
// oracle the real decoder is compared with.
Outcome reference_decode(const std::string& s, size_t max_body, size_t max_chunk) {
  Outcome out;
  auto le32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
    return v;
  };
  auto le64 = [&](size_t at) { return le32(at) | static_cast<uint64_t>(le32(at + 4)) << 32; };
  auto stop = [&](net::FrameError e) {
    out.last = Status::kError;
    out.error = e;
    return out;
  };
  bool hello_seen = false;
  bool messages = false;  // a message was decoded: this is a message connection
  bool snapshot = false;  // an offer was decoded: this is a snapshot connection
  for (size_t at = 0;;) {
    if (s.size() - at < kFrameHeaderSize) return out;  // kNeedMore
    const uint32_t size = le32(at);
    if (size > (snapshot ? max_chunk : max_body)) return stop(net::FrameError::kTooLarge);
    if (s.size() - at - kFrameHeaderSize < size) return out;
    uint32_t crc = raft::crc32c::value(s.data() + at, 8);
    crc = raft::crc32c::extend(crc, s.data() + at + kFrameHeaderSize, size);
    if (crc != le32(at + 8)) return stop(net::FrameError::kBadChecksum);
    const int kind = static_cast<uint8_t>(s[at + 4]);
    const bool known = kind == 1 || kind == 2 || kind == 16 || kind == 17 || kind == 18;
    if (s[at + 5] != 0 || s[at + 6] != 0 || s[at + 7] != 0 || !known) {
      return stop(net::FrameError::kBadHeader);
    }
    const size_t body = at + kFrameHeaderSize;
    at = body + size;
    if (kind == 1) {
      if (hello_seen) return stop(net::FrameError::kUnexpected);
      if (size != 36 || s.compare(body, 8, "RAFTNET1") != 0 || le32(body + 8) != 1) {
        return stop(net::FrameError::kBadHello);
      }
      Hello h;
      h.cluster_id = le64(body + 12);
      h.from = le64(body + 20);
      h.to = le64(body + 28);
      out.frames.push_back(describe_hello(h));
      hello_seen = true;
      continue;
    }
    if (!hello_seen) return stop(net::FrameError::kUnexpected);
    if (kind == 2) {
      if (snapshot) return stop(net::FrameError::kUnexpected);
      messages = true;
      Message m;
      if (!m.ParseFromString(s.substr(body, size))) return stop(net::FrameError::kBadMessage);
      out.frames.push_back("M" + m.SerializeAsString());
    } else if (kind == 16) {
      if (messages || snapshot) return stop(net::FrameError::kUnexpected);
      Message m;
      if (size < 8 || !m.ParseFromString(s.substr(body + 8, size - 8))) {
        return stop(net::FrameError::kBadOffer);
      }
      out.frames.push_back(describe_offer(le64(body), m));
      snapshot = true;
    } else if (kind == 17) {
      if (!snapshot) return stop(net::FrameError::kUnexpected);
      out.frames.push_back("C" + s.substr(body, size));
    } else {
      return stop(net::FrameError::kUnexpected);  // a result: never for a decoder
    }
  }
}

void check_reencodes(const Hello* hello, const Message* message) {
  std::string again;
  Hello h = hello ? *hello : Hello{};
  net::append_hello_frame(again, h);
  if (message) net::append_message_frame(again, *message);
  FrameDecoder d;
  d.feed(again);
  Hello h2;
  Message m2;
  if (d.next(&h2, &m2) != Status::kHello) finding("re-encoded hello not decoded");
  if (describe_hello(h2) != describe_hello(h)) finding("re-encoded hello differs");
  if (message) {
    if (d.next(&h2, &m2) != Status::kMessage) {
      finding("re-encoded message not decoded: " + d.error().message());
    }
    if (m2.SerializeAsString() != message->SerializeAsString()) {
      finding("re-encoded message differs: " + message->ShortDebugString() + " vs " +
              m2.ShortDebugString());
    }
  }
  if (d.buffered() != 0) finding("bytes left after a re-encoded frame");
}

void check_snapshot_reencodes(uint64_t size, const Message& offer, std::string_view chunk) {
  std::string again;
  net::append_hello_frame(again, Hello{});
  net::append_snapshot_offer_frame(again, offer, size);
  net::append_snapshot_chunk_frame(again, chunk);
  FrameDecoder d(net::kDefaultMaxFrameBody, chunk.size());
  d.feed(again);
  Hello h;
  Message m;
  if (d.next(&h, &m) != Status::kHello) finding("re-encoded hello not decoded");
  if (d.next(&h, &m) != Status::kSnapshotOffer) finding("re-encoded offer not decoded");
  if (describe_offer(d.offer_size(), m) != describe_offer(size, offer)) {
    finding("re-encoded offer differs");
  }
  if (d.next(&h, &m) != Status::kSnapshotChunk || d.chunk() != chunk) {
    finding("re-encoded chunk differs");
  }
  if (d.buffered() != 0) finding("bytes left after re-encoded snapshot frames");
}

// Drains `d` until it needs more or fails, checking the decoder's rules on the way.
void drain(FrameDecoder& d, size_t max_limit, Outcome& out) {
  for (;;) {
    Hello h;
    Message m;
    const Status s = d.next(&h, &m);
    const char first = out.frames.empty() ? '\0' : out.frames.front()[0];
    const char second = out.frames.size() < 2 ? '\0' : out.frames[1][0];
    if (s == Status::kHello) {
      if (!out.frames.empty()) finding("a hello after the first frame");
      out.frames.push_back(describe_hello(h));
      check_reencodes(&h, nullptr);
    } else if (s == Status::kMessage) {
      if (out.frames.empty()) finding("a message before the hello");
      if (second == 'O') finding("a message on a snapshot connection");
      out.frames.push_back("M" + m.SerializeAsString());
      check_reencodes(nullptr, &m);
    } else if (s == Status::kSnapshotOffer) {
      if (first != 'H' || out.frames.size() != 1) finding("an offer not right after the hello");
      out.frames.push_back(describe_offer(d.offer_size(), m));
      check_snapshot_reencodes(d.offer_size(), m, "");
    } else if (s == Status::kSnapshotChunk) {
      if (second != 'O') finding("a chunk without an offer");
      out.frames.push_back("C" + std::string(d.chunk()));
      check_snapshot_reencodes(0, Message(), d.chunk());
    } else if (s == Status::kNeedMore) {
      if (d.error()) finding("kNeedMore with an error set");
      if (d.buffered() >= kFrameHeaderSize + max_limit) {
        finding("drained decoder holds " + std::to_string(d.buffered()) + " bytes");
      }
      out.last = s;
      return;
    } else {
      const std::error_code ec = d.error();
      if (!ec || ec.category() != net::frame_category()) finding("kError without a frame error");
      // Sticky: more calls and more bytes change nothing.
      for (int i = 0; i < 2; ++i) {
        d.feed("more bytes after the error");
        if (d.next(&h, &m) != Status::kError || d.error() != ec) finding("error not sticky");
        if (d.buffered() != 0) finding("bytes kept after an error");
      }
      out.last = s;
      out.error = ec;
      return;
    }
  }
}

void expect_same(const Outcome& a, const char* a_how, const Outcome& b, const char* b_how) {
  if (a.frames != b.frames || a.last != b.last || a.error != b.error) {
    finding(std::string(b_how) + ": " + std::to_string(b.frames.size()) + " frames, " +
            (b.error ? b.error.message() : "no error") + "; " + a_how + ": " +
            std::to_string(a.frames.size()) + " frames, " +
            (a.error ? a.error.message() : "no error"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t max_body = in.ConsumeIntegralInRange<size_t>(0, 300);
  const size_t max_chunk = in.ConsumeIntegralInRange<size_t>(0, 300);
  // Which limit applies depends on where the stream is; the bounds below use the larger.
  const size_t max_limit = std::max(max_body, max_chunk);
  std::string stream;
  const int pieces = in.ConsumeIntegralInRange<int>(1, kMaxPieces);
  for (int i = 0; i < pieces && in.remaining_bytes() > 0; ++i) append_piece(in, stream);

  Outcome whole;
  {
    FrameDecoder d(max_body, max_chunk);
    d.feed(stream);
    if (d.buffered() > stream.size()) finding("buffered more than was fed");
    drain(d, max_limit, whole);
  }
  expect_same(reference_decode(stream, max_body, max_chunk), "reference decoder", whole,
              "fed whole");

  Outcome split;
  {
    FrameDecoder d(max_body, max_chunk);
    size_t at = 0;
    while (at < stream.size() && split.last != Status::kError) {
      size_t n = stream.size() - at;
      if (in.remaining_bytes() > 0) n = std::min(n, in.ConsumeIntegralInRange<size_t>(0, 96));
      if (in.remaining_bytes() > 0 && in.ConsumeBool()) {
        // The copy-free way in: room for more than is read, as a socket read returns less.
        const size_t room = n + in.ConsumeIntegralInRange<size_t>(0, 64);
        std::memcpy(d.prepare(room), stream.data() + at, n);
        d.commit(n);
      } else {
        d.feed(std::string_view(stream).substr(at, n));
      }
      at += n;
      if (d.buffered() > kFrameHeaderSize + max_limit + n) {
        finding("after a feed of " + std::to_string(n) + " bytes the decoder holds " +
                std::to_string(d.buffered()));
      }
      drain(d, max_limit, split);
    }
  }
  expect_same(whole, "fed whole", split, "fed in pieces");

  if (stream.size() <= 2048) {
    Outcome bytewise;
    FrameDecoder d(max_body, max_chunk);
    for (size_t at = 0; at < stream.size() && bytewise.last != Status::kError; ++at) {
      d.feed(std::string_view(stream).substr(at, 1));
      drain(d, max_limit, bytewise);
    }
    expect_same(whole, "fed whole", bytewise, "fed byte by byte");
  }
  return 0;
}
