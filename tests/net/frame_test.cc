// The frame format and FrameDecoder (net/frame.h): byte layout, round trips, every split of the
// input, every FrameError, and the bound on what the decoder buffers.
#include "net/frame.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "raft/crc32c.h"

namespace net {
namespace {

using raft::Entry;
using raft::Message;
using Status = FrameDecoder::Status;

constexpr size_t kHelloBody = 36;

// ---- building frames by hand -------------------------------------------------------------------

void put_u32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

uint32_t get_u32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

// Recomputes the CRC of the frame at `at` from its header and `body_size` bytes of body, so a
// test can change a header field and still present a frame the checksum vouches for.
void reseal(std::string& s, size_t at, size_t body_size) {
  uint32_t crc = raft::crc32c::value(s.data() + at, 8);
  crc = raft::crc32c::extend(crc, s.data() + at + kFrameHeaderSize, body_size);
  put_u32(s, at + 8, crc);
}

// A frame with any header fields and a valid CRC.
std::string raw_frame(uint8_t kind, uint8_t flags, uint16_t reserved, const std::string& body) {
  std::string f(kFrameHeaderSize, '\0');
  put_u32(f, 0, static_cast<uint32_t>(body.size()));
  f[4] = static_cast<char>(kind);
  f[5] = static_cast<char>(flags);
  f[6] = static_cast<char>(reserved & 0xff);
  f[7] = static_cast<char>(reserved >> 8);
  f += body;
  reseal(f, 0, body.size());
  return f;
}

Hello test_hello() {
  Hello h;
  h.cluster_id = 0x1122334455667788ull;
  h.from = 1;
  h.to = 2;
  return h;
}

std::string hello_frame(const Hello& h = test_hello()) {
  std::string out;
  append_hello_frame(out, h);
  return out;
}

std::string message_frame(const Message& m) {
  std::string out;
  append_message_frame(out, m);
  return out;
}

Message heartbeat(uint64_t term = 5) {
  Message m;
  m.set_msg_type(raft::MessageType::MsgHeartbeat);
  m.set_from(1);
  m.set_to(2);
  m.set_term(term);
  m.set_commit(7);
  return m;
}

Message append_msg(int entries, size_t payload, uint64_t first_index = 11) {
  Message m;
  m.set_msg_type(raft::MessageType::MsgAppend);
  m.set_from(1);
  m.set_to(2);
  m.set_term(3);
  m.set_log_term(3);
  m.set_index(first_index - 1);
  m.set_commit(first_index - 1);
  for (int i = 0; i < entries; ++i) {
    Entry* e = m.add_entries();
    e->set_term(3);
    e->set_index(first_index + static_cast<uint64_t>(i));
    e->set_data(std::string(payload, static_cast<char>('a' + i % 26)));
  }
  return m;
}

::testing::AssertionResult same_message(const Message& a, const Message& b) {
  if (google::protobuf::util::MessageDifferencer::Equals(a, b)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "\n  " << a.ShortDebugString().substr(0, 500) << "\n  "
                                       << b.ShortDebugString().substr(0, 500);
}

// ---- decoding ----------------------------------------------------------------------------------

// What came out of a decoder: hellos and messages in order, and how it stopped.
struct Decoded {
  std::vector<Hello> hellos;
  std::vector<Message> messages;
  std::vector<char> order;  // 'H' or 'M' per frame
  Status last = Status::kNeedMore;
};

// Calls next() until it needs more bytes or fails.
void drain(FrameDecoder& d, Decoded& out) {
  for (;;) {
    Hello h;
    Message m;
    out.last = d.next(&h, &m);
    if (out.last == Status::kHello) {
      out.hellos.push_back(h);
      out.order.push_back('H');
    } else if (out.last == Status::kMessage) {
      out.messages.push_back(std::move(m));
      out.order.push_back('M');
    } else {
      return;
    }
  }
}

Decoded decode_all(const std::string& stream, size_t max_body = kDefaultMaxFrameBody) {
  FrameDecoder d(max_body);
  d.feed(stream);
  Decoded out;
  drain(d, out);
  return out;
}

// Decodes `stream` and returns the final status and error, for streams expected to fail.
std::error_code error_of(const std::string& stream, size_t max_body = kDefaultMaxFrameBody) {
  FrameDecoder d(max_body);
  d.feed(stream);
  Decoded out;
  drain(d, out);
  EXPECT_EQ(out.last, Status::kError);
  return d.error();
}

void expect_same_hello(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.cluster_id, b.cluster_id);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
}

// One of every message type, with the fields that type carries filled in.
std::vector<Message> every_message_type() {
  std::vector<Message> all;
  for (int t = eraftpb::MessageType_MIN; t <= eraftpb::MessageType_MAX; ++t) {
    Message m;
    m.set_msg_type(static_cast<raft::MessageType>(t));
    m.set_from(3);
    m.set_to(1);
    m.set_term(42 + static_cast<uint64_t>(t));
    m.set_log_term(41);
    m.set_index(1000 + static_cast<uint64_t>(t));
    m.set_commit(999);
    m.set_commit_term(40);
    m.set_reject(t % 2 == 0);
    m.set_reject_hint(998);
    m.set_request_snapshot(t == raft::MessageType::MsgAppendResponse ? 500 : 0);
    m.set_context(t == raft::MessageType::MsgReadIndex ? "read-7" : "");
    if (t == raft::MessageType::MsgAppend || t == raft::MessageType::MsgPropose) {
      for (int i = 0; i < 3; ++i) {
        Entry* e = m.add_entries();
        e->set_entry_type(static_cast<raft::EntryType>(i));
        e->set_term(41);
        e->set_index(1001 + static_cast<uint64_t>(i));
        e->set_data("payload " + std::to_string(i));
        e->set_context(i == 1 ? "ctx" : "");
      }
    }
    if (t == raft::MessageType::MsgSnapshot) {
      raft::Snapshot* s = m.mutable_snapshot();
      s->set_data(std::string(4096, 's'));
      s->mutable_metadata()->set_index(900);
      s->mutable_metadata()->set_term(30);
      raft::ConfState* cs = s->mutable_metadata()->mutable_conf_state();
      for (uint64_t v : {1, 2, 3}) cs->add_voters(v);
      cs->add_learners(4);
      cs->add_voters_outgoing(5);
      cs->add_learners_next(5);
      cs->set_auto_leave(true);
    }
    all.push_back(std::move(m));
  }
  return all;
}

// A MsgAppend whose encoding is exactly `body_size` bytes.
Message message_of_size(size_t body_size) {
  for (size_t pad = 0; pad < 4; ++pad) {
    Message m = append_msg(1, 0);
    m.set_context(std::string(pad, 'c'));
    const size_t base = m.ByteSizeLong();
    // Growing the data grows the encoding by one byte per byte, except where its length prefix
    // gains a byte; a few bytes of context step over such a jump.
    for (size_t data = body_size > base + 16 ? body_size - base - 16 : 0; data <= body_size;
         ++data) {
      m.mutable_entries(0)->set_data(std::string(data, 'd'));
      const size_t size = m.ByteSizeLong();
      if (size == body_size) return m;
      if (size > body_size) break;
    }
  }
  ADD_FAILURE() << "no message of " << body_size << " bytes";
  return {};
}

// ---- the wire format ---------------------------------------------------------------------------

TEST(FrameFormat, HelloLayoutIsLittleEndianWithMagicAndChecksum) {
  Hello h;
  h.version = kProtocolVersion;
  h.cluster_id = 0x0102030405060708ull;
  h.from = 0x1112131415161718ull;
  h.to = 0x2122232425262728ull;
  const std::string f = hello_frame(h);
  ASSERT_EQ(f.size(), kFrameHeaderSize + kHelloBody);
  EXPECT_EQ(get_u32(f, 0), kHelloBody);
  EXPECT_EQ(f[4], 1);
  EXPECT_EQ(f.substr(5, 3), std::string(3, '\0'));
  uint32_t crc = raft::crc32c::value(f.data(), 8);
  crc = raft::crc32c::extend(crc, f.data() + 12, kHelloBody);
  EXPECT_EQ(get_u32(f, 8), crc);
  EXPECT_EQ(f.substr(12, 8), "RAFTNET1");
  EXPECT_EQ(get_u32(f, 20), 1u);
  EXPECT_EQ(f.substr(24, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(f.substr(32, 8), std::string("\x18\x17\x16\x15\x14\x13\x12\x11", 8));
  EXPECT_EQ(f.substr(40, 8), std::string("\x28\x27\x26\x25\x24\x23\x22\x21", 8));
}

// The exact bytes of a hello and a heartbeat, checksums computed by an independent bitwise
// CRC32C: pins the wire format, so a change to it (or to the CRC) cannot pass unnoticed.
TEST(FrameFormat, GoldenBytes) {
  Hello h;
  h.cluster_id = 0x0102030405060708ull;
  h.from = 1;
  h.to = 2;
  Message m;
  m.set_msg_type(raft::MessageType::MsgHeartbeat);
  m.set_from(1);
  m.set_to(2);
  m.set_term(5);
  m.set_commit(7);
  std::string wire;
  append_hello_frame(wire, h);
  append_message_frame(wire, m);
  std::string hex;
  for (unsigned char c : wire) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  EXPECT_EQ(hex,
            "2400000001000000af77f673"  // hello header: 36 bytes, kind 1, flags, reserved, CRC
            "524146544e455431"          // "RAFTNET1"
            "01000000"                  // version 1
            "0807060504030201"          // cluster id
            "0100000000000000"          // from 1
            "0200000000000000"          // to 2
            "0a0000000200000096fc14f1"  // message header: 10 bytes, kind 2, flags, reserved, CRC
            "08081002180120054007");    // MsgHeartbeat 1->2 term 5 commit 7
  const Decoded d = decode_all(wire);
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_TRUE(same_message(d.messages[0], m));
}

TEST(FrameFormat, MessageFrameIsHeaderThenProtobuf) {
  const Message m = append_msg(2, 10);
  const std::string f = message_frame(m);
  const std::string body = m.SerializeAsString();
  ASSERT_EQ(f.size(), kFrameHeaderSize + body.size());
  EXPECT_EQ(get_u32(f, 0), body.size());
  EXPECT_EQ(f[4], 2);
  EXPECT_EQ(f.substr(5, 3), std::string(3, '\0'));
  EXPECT_EQ(get_u32(f, 8),
            raft::crc32c::extend(raft::crc32c::value(f.data(), 8), body.data(), body.size()));
  EXPECT_EQ(f.substr(kFrameHeaderSize), body);
}

TEST(FrameFormat, AppendFunctionsAppend) {
  std::string out = "prefix";
  append_hello_frame(out, test_hello());
  append_message_frame(out, heartbeat());
  EXPECT_EQ(out, "prefix" + hello_frame() + message_frame(heartbeat()));
}

TEST(FrameFormat, ErrorCategoryNamesEveryError) {
  EXPECT_STREQ(frame_category().name(), "net.frame");
  std::vector<std::string> seen;
  for (FrameError e : {FrameError::kTooLarge, FrameError::kBadChecksum, FrameError::kBadHeader,
                       FrameError::kBadHello, FrameError::kBadMessage, FrameError::kUnexpected}) {
    const std::error_code ec = e;  // is_error_code_enum
    EXPECT_TRUE(ec);
    EXPECT_EQ(&ec.category(), &frame_category());
    EXPECT_EQ(ec, e);
    const std::string text = ec.message();
    EXPECT_GT(text.size(), 10u);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), text), 0) << text;
    seen.push_back(text);
  }
  EXPECT_FALSE(make_error_code(FrameError::kOk));
  EXPECT_EQ(make_error_code(FrameError::kOk).message(), "ok");
}

// ---- round trips -------------------------------------------------------------------------------

TEST(FrameDecoder, HelloRoundTrip) {
  Hello h;
  h.cluster_id = ~0ull;
  h.from = ~0ull - 1;
  h.to = 0;
  const Decoded d = decode_all(hello_frame(h));
  ASSERT_EQ(d.hellos.size(), 1u);
  expect_same_hello(d.hellos[0], h);
  EXPECT_EQ(d.last, Status::kNeedMore);
}

TEST(FrameDecoder, EveryMessageTypeRoundTrips) {
  const std::vector<Message> all = every_message_type();
  std::string stream = hello_frame();
  for (const Message& m : all) append_message_frame(stream, m);
  const Decoded d = decode_all(stream);
  EXPECT_EQ(d.last, Status::kNeedMore);
  ASSERT_EQ(d.messages.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_TRUE(same_message(d.messages[i], all[i])) << i;
}

TEST(FrameDecoder, EmptyMessageBodyIsAValidMessage) {
  // Every field of a MsgHup at its default encodes to zero bytes.
  const Message empty;
  ASSERT_EQ(message_frame(empty).size(), kFrameHeaderSize);
  const Decoded d = decode_all(hello_frame() + message_frame(empty));
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_TRUE(same_message(d.messages[0], empty));
}

TEST(FrameDecoder, ReusedMessageIsReplacedNotMerged) {
  FrameDecoder d;
  d.feed(hello_frame() + message_frame(append_msg(5, 100)) + message_frame(heartbeat()));
  Hello h;
  Message m;
  ASSERT_EQ(d.next(&h, &m), Status::kHello);
  ASSERT_EQ(d.next(&h, &m), Status::kMessage);
  EXPECT_EQ(m.entries_size(), 5);
  ASSERT_EQ(d.next(&h, &m), Status::kMessage);
  EXPECT_TRUE(same_message(m, heartbeat()));
}

TEST(FrameDecoder, BodiesAtTheLimitPassAndOneByteMoreIsRefused) {
  for (size_t limit : {size_t{1} << 10, size_t{1} << 20}) {
    SCOPED_TRACE(limit);
    const Message at_limit = message_of_size(limit);
    const Decoded d = decode_all(hello_frame() + message_frame(at_limit), limit);
    ASSERT_EQ(d.messages.size(), 1u);
    EXPECT_TRUE(same_message(d.messages[0], at_limit));
    EXPECT_EQ(d.last, Status::kNeedMore);

    const Message over = message_of_size(limit + 1);
    EXPECT_EQ(error_of(hello_frame() + message_frame(over), limit), FrameError::kTooLarge);
  }
}

TEST(FrameDecoder, LargeMessagesUnderTheDefaultLimit) {
  // 4 MiB of entries, and one 8 MiB entry: well past any socket read, under 64 MiB.
  std::string stream = hello_frame();
  const Message many = append_msg(1024, 4096);
  Message one_big = append_msg(1, 8u << 20, 2000);
  append_message_frame(stream, many);
  append_message_frame(stream, one_big);
  append_message_frame(stream, heartbeat());
  // In 64 KiB reads, as a socket would deliver them.
  FrameDecoder d;
  Decoded out;
  for (size_t at = 0; at < stream.size(); at += 65536) {
    d.feed(std::string_view(stream).substr(at, 65536));
    drain(d, out);
    ASSERT_NE(out.last, Status::kError) << d.error().message();
  }
  ASSERT_EQ(out.messages.size(), 3u);
  EXPECT_TRUE(same_message(out.messages[0], many));
  EXPECT_TRUE(same_message(out.messages[1], one_big));
  EXPECT_TRUE(same_message(out.messages[2], heartbeat()));
  EXPECT_EQ(d.buffered(), 0u);
  // The decoder gives back the room the big frames took, and goes on decoding.
  d.feed(message_frame(heartbeat(6)));
  drain(d, out);
  ASSERT_EQ(out.messages.size(), 4u);
  EXPECT_TRUE(same_message(out.messages[3], heartbeat(6)));
  EXPECT_EQ(d.buffered(), 0u);
}

// ---- arbitrary splits --------------------------------------------------------------------------

TEST(FrameDecoder, ByteByByte) {
  std::string stream = hello_frame();
  const std::vector<Message> all = every_message_type();
  for (const Message& m : all) append_message_frame(stream, m);
  FrameDecoder d;
  Decoded out;
  for (char c : stream) {
    d.feed(std::string_view(&c, 1));
    drain(d, out);
    ASSERT_EQ(out.last, Status::kNeedMore);
    ASSERT_LT(d.buffered(), kFrameHeaderSize + 4096 + 200);
  }
  EXPECT_EQ(d.buffered(), 0u);
  ASSERT_EQ(out.hellos.size(), 1u);
  ASSERT_EQ(out.messages.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_TRUE(same_message(out.messages[i], all[i]));
}

TEST(FrameDecoder, EverySplitOfTwoFrames) {
  // Hello then a message, and (after a hello fed beforehand) two messages.
  const std::string hello = hello_frame();
  const std::string first = message_frame(append_msg(2, 7));
  const std::string second = message_frame(heartbeat());
  struct Case {
    std::string prefix, stream;
    std::vector<char> expected;
  };
  const std::vector<Case> cases = {{"", hello + first, {'H', 'M'}},
                                   {hello, first + second, {'M', 'M'}}};
  for (const Case& c : cases) {
    for (size_t split = 0; split <= c.stream.size(); ++split) {
      SCOPED_TRACE(split);
      FrameDecoder d;
      Decoded out;
      d.feed(c.prefix);
      drain(d, out);
      const size_t frames_before = out.order.size();
      d.feed(std::string_view(c.stream).substr(0, split));
      drain(d, out);
      ASSERT_EQ(out.last, Status::kNeedMore);
      d.feed(std::string_view(c.stream).substr(split));
      drain(d, out);
      ASSERT_EQ(out.last, Status::kNeedMore);
      EXPECT_EQ(std::vector<char>(out.order.begin() + frames_before, out.order.end()), c.expected);
      EXPECT_EQ(d.buffered(), 0u);
    }
    // And the two halves of every split coming in one piece each, with a drain only at the end.
    for (size_t split = 0; split <= c.stream.size(); ++split) {
      FrameDecoder d;
      Decoded out;
      d.feed(c.prefix);
      d.feed(std::string_view(c.stream).substr(0, split));
      d.feed(std::string_view(c.stream).substr(split));
      drain(d, out);
      EXPECT_EQ(out.order.size(), 2u + (c.prefix.empty() ? 0 : 1));
    }
  }
  // The decoded message matches whatever the split.
  FrameDecoder d;
  Decoded out;
  for (size_t at = 0; at < hello.size() + first.size(); at += 3) {
    d.feed(std::string_view(hello + first).substr(at, 3));
    drain(d, out);
  }
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_TRUE(same_message(out.messages[0], append_msg(2, 7)));
}

TEST(FrameDecoder, SeededRandomChunksGiveTheSameFrames) {
  std::mt19937_64 rng(20240611);
  std::string stream = hello_frame();
  std::vector<Message> sent;
  for (int i = 0; i < 300; ++i) {
    sent.push_back(append_msg(static_cast<int>(rng() % 8), rng() % 300, 10 + i * 10));
    append_message_frame(stream, sent.back());
  }
  for (int trial = 0; trial < 20; ++trial) {
    FrameDecoder d;
    Decoded out;
    const size_t max_chunk = size_t{1} << (trial % 14);
    for (size_t at = 0; at < stream.size();) {
      const size_t n = 1 + rng() % max_chunk;
      d.feed(std::string_view(stream).substr(at, n));
      at += n;
      drain(d, out);
      ASSERT_EQ(out.last, Status::kNeedMore);
    }
    ASSERT_EQ(out.messages.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) ASSERT_TRUE(same_message(out.messages[i], sent[i]));
  }
}

// ---- errors ------------------------------------------------------------------------------------

TEST(FrameErrors, TooLargeFromTheHeaderAlone) {
  for (uint32_t announced : {101u, 1000u, 0x7fffffffu, 0xffffffffu}) {
    SCOPED_TRACE(announced);
    std::string header = raw_frame(2, 0, 0, "").substr(0, kFrameHeaderSize);
    put_u32(header, 0, announced);
    FrameDecoder d(100);
    d.feed(hello_frame());
    Hello h;
    Message m;
    ASSERT_EQ(d.next(&h, &m), Status::kHello);
    // Only the header: no body byte has arrived, and none is waited for.
    d.feed(header);
    EXPECT_EQ(d.next(&h, &m), Status::kError);
    EXPECT_EQ(d.error(), FrameError::kTooLarge);
  }
  // Even before the hello, and whatever the rest of the header says.
  std::string junk = "GET / HTTP/1.1\r\n";
  EXPECT_EQ(error_of(junk.substr(0, kFrameHeaderSize)), FrameError::kTooLarge);
  // A header at the limit waits for its body.
  FrameDecoder d(100);
  std::string header(kFrameHeaderSize, '\0');
  put_u32(header, 0, 100);
  d.feed(header);
  Hello h;
  Message m;
  EXPECT_EQ(d.next(&h, &m), Status::kNeedMore);
  EXPECT_EQ(d.buffered(), kFrameHeaderSize);
}

TEST(FrameErrors, HelloOverALimitSmallerThanAHello) {
  EXPECT_EQ(error_of(hello_frame(), kHelloBody - 1), FrameError::kTooLarge);
  EXPECT_EQ(decode_all(hello_frame(), kHelloBody).hellos.size(), 1u);
}

// Flips each bit of a frame in turn. A flip in the length field that makes it longer makes the
// decoder wait (or, past the limit, refuse it); every other flip is caught by the CRC.
void flip_every_bit(const std::string& prefix, const std::string& frame, size_t max_body) {
  const uint32_t body_size = get_u32(frame, 0);
  for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
    SCOPED_TRACE(bit);
    std::string bad = frame;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    FrameDecoder d(max_body);
    Decoded out;
    d.feed(prefix);
    drain(d, out);
    d.feed(bad);
    Decoded after;
    drain(d, after);
    EXPECT_TRUE(after.order.empty());
    const uint32_t announced = get_u32(bad, 0);
    if (announced > max_body) {
      ASSERT_EQ(after.last, Status::kError);
      EXPECT_EQ(d.error(), FrameError::kTooLarge);
    } else if (announced > body_size) {
      ASSERT_EQ(after.last, Status::kNeedMore);
      // The bytes it waits for (here: the next frame's) complete it, and the CRC then fails.
      d.feed(std::string(announced - body_size, '\0'));
      drain(d, after);
      ASSERT_EQ(after.last, Status::kError);
      EXPECT_EQ(d.error(), FrameError::kBadChecksum);
    } else {
      ASSERT_EQ(after.last, Status::kError);
      EXPECT_EQ(d.error(), FrameError::kBadChecksum);
    }
  }
}

TEST(FrameErrors, EveryFlippedBitOfAMessageFrame) {
  const std::string frame = message_frame(append_msg(1, 5));
  flip_every_bit(hello_frame(), frame, kDefaultMaxFrameBody);
  flip_every_bit(hello_frame(), frame, 200);
}

TEST(FrameErrors, EveryFlippedBitOfAHelloFrame) {
  flip_every_bit("", hello_frame(), kDefaultMaxFrameBody);
  flip_every_bit("", hello_frame(), 64);
}

TEST(FrameErrors, BadKindFlagsOrReservedWithAValidChecksum) {
  const std::string body = heartbeat().SerializeAsString();
  for (uint8_t kind : {0, 3, 4, 128, 255}) {
    EXPECT_EQ(error_of(hello_frame() + raw_frame(kind, 0, 0, body)), FrameError::kBadHeader)
        << int{kind};
  }
  for (uint8_t flags : {1, 2, 128, 255}) {
    EXPECT_EQ(error_of(hello_frame() + raw_frame(2, flags, 0, body)), FrameError::kBadHeader);
    EXPECT_EQ(error_of(raw_frame(1, flags, 0, hello_frame().substr(kFrameHeaderSize))),
              FrameError::kBadHeader);
  }
  for (uint16_t reserved : {0x0001, 0x0100, 0x8000, 0xffff}) {
    EXPECT_EQ(error_of(hello_frame() + raw_frame(2, 0, reserved, body)), FrameError::kBadHeader);
  }
  // The same frames with kind, flags and reserved right are accepted.
  EXPECT_EQ(decode_all(hello_frame() + raw_frame(2, 0, 0, body)).messages.size(), 1u);
}

TEST(FrameErrors, BadHelloSizeMagicOrVersion) {
  const std::string good = hello_frame().substr(kFrameHeaderSize);
  ASSERT_EQ(good.size(), kHelloBody);
  // Sizes: empty, one short, one long, twice over.
  for (const std::string& body :
       {std::string(), good.substr(0, kHelloBody - 1), good + '\0', good + good}) {
    EXPECT_EQ(error_of(raw_frame(1, 0, 0, body)), FrameError::kBadHello) << body.size();
  }
  // Each byte of the magic.
  for (size_t i = 0; i < kHelloMagic.size(); ++i) {
    std::string body = good;
    body[i] = static_cast<char>(body[i] ^ 0x20);
    EXPECT_EQ(error_of(raw_frame(1, 0, 0, body)), FrameError::kBadHello) << i;
  }
  // Versions other than 1, built with the encoder itself.
  for (uint32_t version : {0u, 2u, 0x01000000u, 0xffffffffu}) {
    Hello h = test_hello();
    h.version = version;
    EXPECT_EQ(error_of(hello_frame(h)), FrameError::kBadHello) << version;
  }
  // A message body in a hello frame.
  EXPECT_EQ(error_of(raw_frame(1, 0, 0, append_msg(1, 20).SerializeAsString())),
            FrameError::kBadHello);
}

TEST(FrameErrors, UnparseableMessageBodyWithAValidChecksum) {
  const std::vector<std::string> bodies = {
      std::string("\xff", 1),              // a tag cut short
      std::string("\x08", 1),              // field 1 with no value
      std::string("\x08\xff\xff", 3),      // a varint cut short
      std::string("\x0f\x00", 2),          // wire type 7 does not exist
      std::string("\x3a\x05\x61\x62", 4),  // entries: 5 bytes announced, 2 there
      std::string("\x3a\x02\x22\x09", 4),  // an entry whose data runs past the entry
      std::string("\x00", 1),              // field number 0
      std::string("\x0c", 1),              // an end-group with no start
      std::string(11, '\xff'),             // a varint over ten bytes
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(testing::PrintToString(body));
    EXPECT_EQ(error_of(hello_frame() + raw_frame(2, 0, 0, body)), FrameError::kBadMessage);
  }
}

TEST(FrameErrors, MessageBeforeHello) {
  EXPECT_EQ(error_of(message_frame(heartbeat())), FrameError::kUnexpected);
  EXPECT_EQ(error_of(message_frame(Message())), FrameError::kUnexpected);
}

TEST(FrameErrors, SecondHello) {
  FrameDecoder d;
  d.feed(hello_frame() + message_frame(heartbeat()) + hello_frame());
  Hello h;
  Message m;
  EXPECT_EQ(d.next(&h, &m), Status::kHello);
  EXPECT_EQ(d.next(&h, &m), Status::kMessage);
  EXPECT_EQ(d.next(&h, &m), Status::kError);
  EXPECT_EQ(d.error(), FrameError::kUnexpected);
  EXPECT_EQ(error_of(hello_frame() + hello_frame()), FrameError::kUnexpected);
}

TEST(FrameErrors, ErrorIsSticky) {
  const std::vector<std::pair<std::string, FrameError>> failing = {
      {message_frame(heartbeat()), FrameError::kUnexpected},
      {hello_frame() + raw_frame(9, 0, 0, ""), FrameError::kBadHeader},
      {hello_frame() + raw_frame(2, 0, 0, "\xff"), FrameError::kBadMessage},
      {raw_frame(1, 0, 0, "short"), FrameError::kBadHello},
      {std::string(kFrameHeaderSize, '\xff'), FrameError::kTooLarge},
      {hello_frame() + std::string(kFrameHeaderSize, '\0'), FrameError::kBadChecksum},
  };
  for (const auto& [stream, why] : failing) {
    SCOPED_TRACE(static_cast<int>(why));
    FrameDecoder d;
    d.feed(stream + hello_frame() + message_frame(heartbeat()));
    Decoded out;
    drain(d, out);
    ASSERT_EQ(out.last, Status::kError);
    EXPECT_EQ(d.error(), why);
    // Good frames after the error, and more calls: still the same error, and nothing kept.
    for (int i = 0; i < 3; ++i) {
      d.feed(hello_frame() + message_frame(heartbeat()));
      Hello h;
      Message m;
      EXPECT_EQ(d.next(&h, &m), Status::kError);
      EXPECT_EQ(d.error(), why);
      EXPECT_EQ(d.buffered(), 0u);
    }
  }
}

TEST(FrameErrors, NoErrorBeforeAnError) {
  FrameDecoder d;
  d.feed(hello_frame() + message_frame(heartbeat()));
  Decoded out;
  drain(d, out);
  EXPECT_EQ(out.order.size(), 2u);
  EXPECT_FALSE(d.error());
}

// ---- memory bound ------------------------------------------------------------------------------

TEST(FrameDecoder, BufferedStaysBoundedOverTenThousandFrames) {
  constexpr size_t kMaxBody = 16 << 10;
  std::mt19937_64 rng(77);
  std::string stream = hello_frame();
  std::vector<Message> sent;
  for (int i = 0; i < 10'000; ++i) {
    // Mostly small frames, now and then one near the limit.
    const size_t payload = rng() % 50 == 0 ? kMaxBody - 100 : rng() % 200;
    Message m = append_msg(1, payload, 100 + static_cast<uint64_t>(i));
    ASSERT_LE(m.ByteSizeLong(), kMaxBody);
    append_message_frame(stream, m);
    sent.push_back(std::move(m));
  }
  FrameDecoder d(kMaxBody);
  Decoded out;
  size_t most_buffered = 0;
  for (size_t at = 0; at < stream.size();) {
    const size_t chunk = 1 + rng() % 9000;
    d.feed(std::string_view(stream).substr(at, chunk));
    at += chunk;
    // What was fed in this call, plus less than one frame kept from before.
    ASSERT_LT(d.buffered(), kFrameHeaderSize + kMaxBody + chunk);
    drain(d, out);
    ASSERT_EQ(out.last, Status::kNeedMore);
    // Drained: less than one frame.
    ASSERT_LT(d.buffered(), kFrameHeaderSize + kMaxBody);
    most_buffered = std::max(most_buffered, d.buffered());
  }
  EXPECT_EQ(d.buffered(), 0u);
  ASSERT_EQ(out.messages.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) ASSERT_TRUE(same_message(out.messages[i], sent[i]));
  EXPECT_GT(most_buffered, 0u);
}

}  // namespace
}  // namespace net
