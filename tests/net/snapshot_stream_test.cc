// Snapshot streams between transports (net/transport.h, "## Snapshots"): the frames of a
// snapshot connection, whole streams between two transports over loopback, the limits, the idle
// timeout, faults, stop() in the middle of a stream, and bad input sent by a raw socket.
//
// Sources and sinks live in memory; a Gate makes a source or sink block until the test opens
// it, so "while the stream is in flight" is a state the test waits for, not a race it hopes to
// win. The test thread runs the transports' executor (the Loop); the snapshot threads block in
// the gates, never the Loop.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "net/frame.h"
#include "net/transport.h"
#include "raft/crc32c.h"
#include "raft/little_endian.h"
#include "tests/net/transport_test_util.h"

namespace net::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using raft::Message;

constexpr uint64_t kCluster = 7;
constexpr uint64_t kA = 1;  // sends snapshots
constexpr uint64_t kB = 2;  // receives them

// ---- sources, sinks and gates --------------------------------------------------------------

// Blocks whoever calls wait() (a snapshot thread) until the test calls open().
class Gate {
 public:
  ~Gate() { open(); }
  void wait() {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool entered() const {
    std::lock_guard lock(mu_);
    return entered_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// The bytes of `data`; blocks on `gate` before handing out byte `block_at` (if there is a gate).
class MemorySource final : public SnapshotSource {
 public:
  explicit MemorySource(std::string data, std::shared_ptr<Gate> gate = {}, uint64_t block_at = 0)
      : data_(std::move(data)), gate_(std::move(gate)), block_at_(block_at) {}
  uint64_t size() const override { return data_.size(); }
  size_t read(char* buf, size_t n) override {
    if (gate_ && pos_ >= block_at_) {
      gate_->wait();
      gate_.reset();
    }
    n = std::min(n, data_.size() - pos_);
    if (gate_) n = std::min<size_t>(n, block_at_ - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  std::shared_ptr<Gate> gate_;
  uint64_t block_at_;
  size_t pos_ = 0;
};

// `size` bytes of a pattern, made as they are read: a large stream without the memory.
class PatternSource final : public SnapshotSource {
 public:
  explicit PatternSource(uint64_t size) : size_(size) {}
  uint64_t size() const override { return size_; }
  size_t read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos_));
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>((pos_ + i) * 131 >> 3);
    pos_ += n;
    return n;
  }

 private:
  uint64_t size_;
  uint64_t pos_ = 0;
};

// What the sinks of one test saw; shared with the snapshot thread, so behind a mutex.
struct SinkRecord {
  mutable std::mutex mu;
  std::string bytes;
  int offers = 0;
  int commits = 0;
  int aborts = 0;
  uint64_t offered_size = 0;
  Message offer;

  int count_offers() const { std::lock_guard l(mu); return offers; }
  int count_commits() const { std::lock_guard l(mu); return commits; }
  int count_aborts() const { std::lock_guard l(mu); return aborts; }
  std::string written() const { std::lock_guard l(mu); return bytes; }
};

// Keeps what it is given in a SinkRecord; can throw on commit or on write, and can block its
// first write on a gate.
class MemorySink final : public SnapshotSink {
 public:
  struct Options {
    bool throw_on_commit = false;
    bool throw_on_write = false;
    std::shared_ptr<Gate> gate;  // the first write waits on it
  };
  MemorySink(std::shared_ptr<SinkRecord> record, Options options)
      : record_(std::move(record)), options_(std::move(options)) {}

  void write(const char* data, size_t n) override {
    if (options_.gate) std::exchange(options_.gate, {})->wait();
    if (options_.throw_on_write) throw std::runtime_error("disk full (test)");
    std::lock_guard l(record_->mu);
    record_->bytes.append(data, n);
  }
  void commit() override {
    if (options_.throw_on_commit) throw std::runtime_error("checksum mismatch (test)");
    std::lock_guard l(record_->mu);
    ++record_->commits;
  }
  void abort() override {
    std::lock_guard l(record_->mu);
    ++record_->aborts;
  }

 private:
  std::shared_ptr<SinkRecord> record_;
  Options options_;
};

// An offer handler for `node` that accepts every offer into MemorySinks recording into
// `record`; `options_for(n)` gives the n-th sink's options (0-based).
void accept_offers(TestNode& node, std::shared_ptr<SinkRecord> record,
                   std::function<MemorySink::Options(int)> options_for = {}) {
  node.offer = [record, options_for](const Message& m, uint64_t size) {
    int n;
    {
      std::lock_guard l(record->mu);
      n = record->offers++;
      record->offered_size = size;
      record->offer = m;
    }
    return std::make_unique<MemorySink>(record,
                                        options_for ? options_for(n) : MemorySink::Options{});
  };
}

Message snapshot_message(uint64_t from, uint64_t to, uint64_t index = 42, uint64_t term = 3) {
  Message m;
  m.set_msg_type(raft::MessageType::MsgSnapshot);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  raft::SnapshotMetadata* md = m.mutable_snapshot()->mutable_metadata();
  md->set_index(index);
  md->set_term(term);
  md->mutable_conf_state()->add_voters(from);
  md->mutable_conf_state()->add_voters(to);
  return m;
}

// ---- frames ---------------------------------------------------------------------------------

std::string hello_frame(uint64_t from = kA, uint64_t to = kB) {
  Hello hello;
  hello.cluster_id = kCluster;
  hello.from = from;
  hello.to = to;
  std::string out;
  append_hello_frame(out, hello);
  return out;
}

std::string offer_frame(const Message& m, uint64_t size) {
  std::string out;
  append_snapshot_offer_frame(out, m, size);
  return out;
}

std::string chunk_frame(std::string_view data) {
  std::string out;
  append_snapshot_chunk_frame(out, data);
  return out;
}

std::string message_frame(const Message& m) {
  std::string out;
  append_message_frame(out, m);
  return out;
}

// Decodes all of `stream`: the statuses in order, and the chunks' bytes.
struct Decoded {
  std::vector<FrameDecoder::Status> statuses;
  std::string chunks;
  uint64_t offer_size = 0;
  Message offer;
  std::error_code error;
};

Decoded decode(const std::string& stream, size_t max_body = kDefaultMaxFrameBody,
               size_t max_chunk = kDefaultSnapshotChunkBytes, size_t piece = SIZE_MAX) {
  FrameDecoder d(max_body, max_chunk);
  Decoded out;
  for (size_t at = 0; at < stream.size(); at += piece) {
    d.feed(std::string_view(stream).substr(at, piece));
    for (;;) {
      Hello h;
      Message m;
      const auto s = d.next(&h, &m);
      if (s == FrameDecoder::Status::kNeedMore) break;
      out.statuses.push_back(s);
      if (s == FrameDecoder::Status::kSnapshotOffer) {
        out.offer_size = d.offer_size();
        out.offer = m;
      }
      if (s == FrameDecoder::Status::kSnapshotChunk) out.chunks += d.chunk();
      if (s == FrameDecoder::Status::kError) {
        out.error = d.error();
        return out;
      }
    }
    if (piece == SIZE_MAX) break;
  }
  return out;
}

using S = FrameDecoder::Status;

TEST(SnapshotFrames, OfferAndChunksRoundTripInAnyPieces) {
  const Message m = snapshot_message(kA, kB);
  const std::string data = random_bytes(10000, 1);
  std::string stream = hello_frame() + offer_frame(m, data.size());
  for (size_t at = 0; at < data.size(); at += 3000) {
    stream += chunk_frame(std::string_view(data).substr(at, 3000));
  }
  for (size_t piece : {SIZE_MAX, size_t{1}, size_t{7}, size_t{4096}}) {
    SCOPED_TRACE(piece);
    const Decoded d = decode(stream, kDefaultMaxFrameBody, kDefaultSnapshotChunkBytes, piece);
    ASSERT_EQ(d.statuses, (std::vector<S>{S::kHello, S::kSnapshotOffer, S::kSnapshotChunk,
                                          S::kSnapshotChunk, S::kSnapshotChunk,
                                          S::kSnapshotChunk}));
    EXPECT_EQ(d.offer_size, data.size());
    EXPECT_EQ(d.offer.SerializeAsString(), m.SerializeAsString());
    EXPECT_EQ(d.chunks, data);
  }
}

TEST(SnapshotFrames, OfferSizeIsAFullU64AndTheKindsAreOnTheWire) {
  const std::string offer = offer_frame(snapshot_message(kA, kB), UINT64_MAX - 1);
  EXPECT_EQ(static_cast<uint8_t>(offer[4]), 16);
  EXPECT_EQ(raft::le::get<uint64_t>(offer.data() + kFrameHeaderSize), UINT64_MAX - 1);
  EXPECT_EQ(decode(hello_frame() + offer).offer_size, UINT64_MAX - 1);
  EXPECT_EQ(static_cast<uint8_t>(chunk_frame("x")[4]), 17);
  std::string result;
  append_snapshot_result_frame(result, true);
  ASSERT_EQ(result.size(), kSnapshotResultFrameSize);
  EXPECT_EQ(static_cast<uint8_t>(result[4]), 18);
}

TEST(SnapshotFrames, ChunkLimitAppliesOnlyAfterTheOffer) {
  // Message limit 100, chunk limit 1000: a 500-byte chunk passes, a 1001-byte one does not, and
  // before the offer the message limit is what counts.
  const std::string head = hello_frame() + offer_frame(snapshot_message(kA, kB), 2000);
  EXPECT_EQ(decode(head + chunk_frame(std::string(500, 'c')), 100, 1000).statuses.back(),
            S::kSnapshotChunk);
  EXPECT_EQ(decode(head + chunk_frame(std::string(1000, 'c')), 100, 1000).statuses.back(),
            S::kSnapshotChunk);
  EXPECT_EQ(decode(head + chunk_frame(std::string(1001, 'c')), 100, 1000).error,
            FrameError::kTooLarge);
  // The limit is judged from the header alone: nothing of the body needs to be there.
  std::string header(kFrameHeaderSize, '\0');
  raft::le::put<uint32_t>(header.data(), 1001);
  EXPECT_EQ(decode(head + header, 100, 1000).error, FrameError::kTooLarge);
  EXPECT_EQ(decode(hello_frame() + chunk_frame(std::string(500, 'c')), 100, 1000).error,
            FrameError::kTooLarge);
}

TEST(SnapshotFrames, FramesOutOfOrderAreRefused) {
  const std::string offer = offer_frame(snapshot_message(kA, kB), 10);
  const std::string chunk = chunk_frame("0123456789");
  const std::string message = message_frame(make_message(kA, kB, 1));
  std::string result;
  append_snapshot_result_frame(result, true);
  const std::vector<std::string> bad = {
      offer,                                          // an offer before the hello
      hello_frame() + chunk,                          // a chunk before the offer
      hello_frame() + offer + offer,                  // a second offer
      hello_frame() + offer + message,                // a message on a snapshot connection
      hello_frame() + message + offer,                // an offer on a message connection
      hello_frame() + message + chunk,                // a chunk on a message connection
      hello_frame() + offer + hello_frame(),          // a second hello
      hello_frame() + result,                         // a result, which only acceptors send
      hello_frame() + offer + result,
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(decode(bad[i]).error, FrameError::kUnexpected) << i;
  }
}

TEST(SnapshotFrames, BadOfferBodies) {
  auto sealed = [](uint8_t kind, const std::string& body) {
    std::string f(kFrameHeaderSize, '\0');
    raft::le::put<uint32_t>(f.data(), static_cast<uint32_t>(body.size()));
    f[4] = static_cast<char>(kind);
    f += body;
    raft::le::put<uint32_t>(f.data() + 8,
                            raft::crc32c::extend(raft::crc32c::value(f.data(), 8),
                                                 f.data() + kFrameHeaderSize, body.size()));
    return f;
  };
  EXPECT_EQ(decode(hello_frame() + sealed(16, "1234567")).error, FrameError::kBadOffer);
  EXPECT_EQ(decode(hello_frame() + sealed(16, std::string(8, '\0') + "\xff")).error,
            FrameError::kBadOffer);
  // Exactly the size field and an empty message is a valid (if useless) offer.
  EXPECT_EQ(decode(hello_frame() + sealed(16, std::string(8, '\0'))).statuses.back(),
            S::kSnapshotOffer);
  // A corrupt chunk is a checksum error like any frame.
  std::string chunk = chunk_frame("abcdef");
  chunk.back() ^= 1;
  EXPECT_EQ(decode(hello_frame() + offer_frame(snapshot_message(kA, kB), 6) + chunk).error,
            FrameError::kBadChecksum);
}

TEST(SnapshotFrames, PrepareAndCommitDecodeLikeFeed) {
  // The receiver reads straight into the decoder; the frames must be the same as by feed(),
  // whatever the sizes of the reads and however much more room was asked for than was read.
  const std::string data = random_bytes(50000, 3);
  std::string stream = hello_frame() + offer_frame(snapshot_message(kA, kB), data.size());
  for (size_t at = 0; at < data.size(); at += 4096) {
    stream += chunk_frame(std::string_view(data).substr(at, 4096));
  }
  for (size_t piece : {size_t{1}, size_t{100}, size_t{4096}, size_t{5000}, size_t{70000}}) {
    SCOPED_TRACE(piece);
    FrameDecoder d(kDefaultMaxFrameBody, 4096);
    std::string chunks;
    size_t frames = 0;
    for (size_t at = 0; at < stream.size(); at += piece) {
      const size_t n = std::min(piece, stream.size() - at);
      std::memcpy(d.prepare(piece + 1000), stream.data() + at, n);
      d.commit(n);
      for (;;) {
        Hello h;
        Message m;
        const auto status = d.next(&h, &m);
        ASSERT_NE(status, S::kError) << d.error().message();
        if (status == S::kNeedMore) break;
        ++frames;
        if (status == S::kSnapshotChunk) chunks += d.chunk();
      }
      // At most one frame and one read are held.
      EXPECT_LE(d.buffered(), kFrameHeaderSize + 4096 + piece);
    }
    EXPECT_EQ(frames, 2 + (data.size() + 4095) / 4096);
    EXPECT_EQ(chunks, data);
    EXPECT_EQ(d.buffered(), 0u);
  }
  // After an error, what is committed is dropped.
  FrameDecoder d;
  d.feed(std::string(kFrameHeaderSize, '\xff'));
  Hello h;
  Message m;
  ASSERT_EQ(d.next(&h, &m), S::kError);
  std::memcpy(d.prepare(10), "0123456789", 10);
  d.commit(10);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(SnapshotFrames, ResultFrameDecoding) {
  for (bool value : {false, true}) {
    std::string f;
    append_snapshot_result_frame(f, value);
    bool ok = !value;
    EXPECT_EQ(decode_snapshot_result_frame(f, &ok), FrameError::kOk);
    EXPECT_EQ(ok, value);
  }
  std::string good;
  append_snapshot_result_frame(good, true);
  bool ok = false;
  EXPECT_EQ(decode_snapshot_result_frame(good.substr(0, 12), &ok), FrameError::kBadResult);
  std::string flipped = good;
  flipped[kFrameHeaderSize] ^= 0x10;
  EXPECT_EQ(decode_snapshot_result_frame(flipped, &ok), FrameError::kBadChecksum);
  // A value other than 0 or 1, and another kind, each with a checksum that vouches for them.
  auto reseal = [](std::string f) {
    raft::le::put<uint32_t>(f.data() + 8, raft::crc32c::extend(raft::crc32c::value(f.data(), 8),
                                                               f.data() + kFrameHeaderSize, 1));
    return f;
  };
  std::string two = good;
  two[kFrameHeaderSize] = 2;
  EXPECT_EQ(decode_snapshot_result_frame(reseal(two), &ok), FrameError::kBadResult);
  std::string kind = good;
  kind[4] = static_cast<char>(FrameKind::kSnapshotChunk);
  EXPECT_EQ(decode_snapshot_result_frame(reseal(kind), &ok), FrameError::kBadHeader);
  // A header announcing another length is not a result, whatever follows.
  std::string longer = good;
  raft::le::put<uint32_t>(longer.data(), 2);
  EXPECT_EQ(decode_snapshot_result_frame(longer, &ok), FrameError::kBadResult);
}

// ---- streams between two transports ----------------------------------------------------------

TransportOptions options_for(uint64_t id) {
  TransportOptions o = test_options(id, kCluster);
  // Small chunks, so even the modest streams here are many frames.
  o.snapshot_chunk_bytes = 64u << 10;
  return o;
}

class SnapshotStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { make_nodes(options_for(kA), options_for(kB)); }

  void make_nodes(TransportOptions a, TransportOptions b) {
    a_.reset();
    b_.reset();
    a_.emplace(loop_, a);
    b_.emplace(loop_, b);
    link(*a_, *b_);
  }

  void TearDown() override {
    // A test that failed half-way may leave a snapshot thread blocked in a gate; stop() would
    // wait for it for ever.
    for (const auto& gate : gates_) gate->open();
    a_.reset();
    b_.reset();
    EXPECT_TRUE(loop_.runs_dry());
  }

  std::shared_ptr<Gate> make_gate() { return gates_.emplace_back(std::make_shared<Gate>()); }

  TestNode& a() { return *a_; }
  TestNode& b() { return *b_; }

  void send(std::unique_ptr<SnapshotSource> source, uint64_t index = 42) {
    a()->send_snapshot(snapshot_message(kA, kB, index), std::move(source));
  }

  // Waits for the n-th outcome of A's sends.
  bool wait_sent(size_t n) {
    return loop_.run_until([&] { return a().snapshots_sent.size() >= n; });
  }

  bool wait_log(TestNode& node, raft::LogLevel level, std::string_view needle) {
    return loop_.run_until([&] { return !node.logger().find(level, needle).empty(); });
  }

  // The peer's message connection still delivers.
  void expect_messages_flow(uint64_t index) {
    a()->send(make_message(kA, kB, index));
    EXPECT_TRUE(loop_.run_until([&] {
      return !b().received.empty() && b().received.back().index() == index;
    })) << b().logger().dump();
  }

  Loop loop_;
  std::vector<std::shared_ptr<Gate>> gates_;
  std::optional<TestNode> a_;
  std::optional<TestNode> b_;
};

TEST_F(SnapshotStreamTest, MultiMiBStreamArrivesIntact) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  const std::string data = random_bytes((5u << 20) + 12345, 7);  // many chunks and a short one
  send(std::make_unique<MemorySource>(data));

  ASSERT_TRUE(wait_sent(1)) << a().logger().dump() << b().logger().dump();
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, true));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 1; }));
  const Message& got = b().snapshots_received[0];
  EXPECT_EQ(got.msg_type(), raft::MessageType::MsgSnapshot);
  EXPECT_EQ(got.from(), kA);
  EXPECT_EQ(got.to(), kB);
  EXPECT_EQ(got.snapshot().metadata().index(), 42u);
  EXPECT_TRUE(got.snapshot().data().empty());

  EXPECT_TRUE(record->written() == data) << "the stream's bytes differ";
  EXPECT_EQ(record->count_commits(), 1);
  EXPECT_EQ(record->count_aborts(), 0);
  {
    std::lock_guard l(record->mu);
    EXPECT_EQ(record->offered_size, data.size());
    EXPECT_EQ(record->offer.snapshot().metadata().index(), 42u);
  }
  const TransportStats sa = a()->stats();
  const TransportStats sb = b()->stats();
  EXPECT_EQ(sa.snapshots_sent, 1u);
  EXPECT_EQ(sa.snapshot_bytes_sent, data.size());
  EXPECT_EQ(sa.snapshots_failed, 0u);
  EXPECT_EQ(sb.snapshots_received, 1u);
  EXPECT_EQ(sb.snapshots_failed, 0u);
  EXPECT_EQ(sb.connections_refused, 0u);
  EXPECT_TRUE(wait_log(a(), raft::LogLevel::kInfo, "sent snapshot"));
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kInfo, "received snapshot"));
  expect_messages_flow(1);
}

TEST_F(SnapshotStreamTest, EmptyAndOneChunkStreams) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  send(std::make_unique<MemorySource>(std::string()), 1);
  ASSERT_TRUE(wait_sent(1));
  send(std::make_unique<MemorySource>(std::string(64u << 10, 'x')), 2);  // exactly one chunk
  ASSERT_TRUE(wait_sent(2));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, true));
  EXPECT_EQ(a().snapshots_sent[1], std::make_pair(kB, true));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 2; }));
  EXPECT_EQ(record->count_commits(), 2);
  EXPECT_EQ(record->written(), std::string(64u << 10, 'x'));
}

TEST_F(SnapshotStreamTest, RefusedOfferFailsTheSendAndHandsNothingUp) {
  auto asked = std::make_shared<std::atomic<int>>(0);
  b().offer = [asked](const Message&, uint64_t) -> std::unique_ptr<SnapshotSink> {
    ++*asked;
    return nullptr;
  };
  send(std::make_unique<MemorySource>(random_bytes(300000, 2)));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_EQ(asked->load(), 1);
  EXPECT_TRUE(b().snapshots_received.empty());
  ASSERT_TRUE(loop_.run_until([&] { return b()->stats().snapshots_failed == 1; }));
  EXPECT_EQ(b()->stats().snapshots_received, 0u);
  EXPECT_EQ(b()->stats().connections_refused, 0u);  // a refusal is not bad input
  EXPECT_EQ(a()->stats().snapshots_failed, 1u);
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kInfo, "declined"));
  // The sender heard the refusal itself, not a reset: the receiver let it read the answer.
  EXPECT_TRUE(wait_log(a(), raft::LogLevel::kWarn, "refused or could not keep"))
      << a().logger().dump();
  expect_messages_flow(1);
}

TEST_F(SnapshotStreamTest, NoOfferHandlerRefusesEveryOffer) {
  send(std::make_unique<MemorySource>(random_bytes(300000, 1)));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_TRUE(b().snapshots_received.empty());
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kInfo, "declined"));
}

TEST_F(SnapshotStreamTest, SinkWhoseCommitThrowsFailsTheSend) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record, [](int) {
    MemorySink::Options o;
    o.throw_on_commit = true;
    return o;
  });
  send(std::make_unique<MemorySource>(random_bytes(200000, 3)));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_EQ(record->count_commits(), 0);
  EXPECT_EQ(record->count_aborts(), 1);
  EXPECT_TRUE(b().snapshots_received.empty());
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kWarn, "checksum mismatch (test)"));
  EXPECT_EQ(b()->stats().snapshots_failed, 1u);
}

TEST_F(SnapshotStreamTest, SinkWhoseWriteThrowsFailsTheSend) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record, [](int) {
    MemorySink::Options o;
    o.throw_on_write = true;
    return o;
  });
  send(std::make_unique<MemorySource>(random_bytes(2u << 20, 4)));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_EQ(record->count_aborts(), 1);
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kWarn, "disk full (test)"));
  EXPECT_TRUE(b().snapshots_received.empty());
}

TEST_F(SnapshotStreamTest, MessagesFlowWhileASnapshotStreams) {
  // B's sink blocks on its first write, so the stream is surely in flight while A sends
  // messages on its message connection: they must all arrive before the snapshot finishes.
  auto gate = make_gate();
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record, [gate](int) {
    MemorySink::Options o;
    o.gate = gate;
    return o;
  });
  const std::string data = random_bytes(8u << 20, 5);
  send(std::make_unique<MemorySource>(data));
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  for (uint64_t i = 1; i <= 200; ++i) a()->send(make_message(kA, kB, i, "during the snapshot"));
  ASSERT_TRUE(loop_.run_until([&] { return count_from(b(), kA) == 200; }));
  EXPECT_TRUE(a().snapshots_sent.empty());
  EXPECT_TRUE(b().snapshots_received.empty());
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, true));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 1; }));
  EXPECT_TRUE(record->written() == data);
  for (uint64_t i = 0; i < 200; ++i) EXPECT_EQ(b().received[i].index(), i + 1);
}

TEST_F(SnapshotStreamTest, SendLimitFailsTheExtraSendAtOnce) {
  TransportOptions oa = options_for(kA);
  oa.max_snapshot_sends = 1;
  make_nodes(oa, options_for(kB));
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  const std::string first = random_bytes(500000, 6);
  send(std::make_unique<MemorySource>(first, gate, 100000), 1);
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  send(std::make_unique<MemorySource>(random_bytes(1000, 7)), 2);
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_TRUE(wait_log(a(), raft::LogLevel::kInfo, "max_snapshot_sends 1"));
  gate->open();
  ASSERT_TRUE(wait_sent(2));
  EXPECT_EQ(a().snapshots_sent[1], std::make_pair(kB, true));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 1; }));
  EXPECT_EQ(b().snapshots_received[0].snapshot().metadata().index(), 1u);
  EXPECT_TRUE(record->written() == first);
  // The slot is free again.
  send(std::make_unique<MemorySource>(random_bytes(1000, 8)), 3);
  ASSERT_TRUE(wait_sent(3));
  EXPECT_EQ(a().snapshots_sent[2], std::make_pair(kB, true));
}

TEST_F(SnapshotStreamTest, ReceiveLimitDeclinesTheExtraOffer) {
  TransportOptions ob = options_for(kB);
  ob.max_snapshot_receives = 1;
  make_nodes(options_for(kA), ob);
  auto gate = make_gate();
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record, [gate](int n) {
    MemorySink::Options o;
    if (n == 0) o.gate = gate;
    return o;
  });
  send(std::make_unique<MemorySource>(random_bytes(300000, 9)), 1);
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  send(std::make_unique<MemorySource>(random_bytes(300000, 10)), 2);
  // Declined on B's executor, while its snapshot thread is still held by the first sink.
  ASSERT_TRUE(wait_sent(1)) << b().logger().dump();
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kInfo, "max_snapshot_receives 1"));
  EXPECT_EQ(record->count_offers(), 1);
  gate->open();
  ASSERT_TRUE(wait_sent(2));
  EXPECT_EQ(a().snapshots_sent[1], std::make_pair(kB, true));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 1; }));
  EXPECT_EQ(b().snapshots_received[0].snapshot().metadata().index(), 1u);
  EXPECT_EQ(b()->stats().snapshots_failed, 1u);
}

TEST_F(SnapshotStreamTest, StalledSourceTimesOutOnTheReceiverThenFailsTheSender) {
  TransportOptions ob = options_for(kB);
  ob.snapshot_idle_timeout = 200ms;
  make_nodes(options_for(kA), ob);
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  send(std::make_unique<MemorySource>(random_bytes(1u << 20, 11), gate, 200000));
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  ASSERT_TRUE(wait_log(b(), raft::LogLevel::kWarn, "no progress for 200 ms"))
      << b().logger().dump();
  EXPECT_EQ(record->count_aborts(), 1);
  EXPECT_LE(record->written().size(), 200000u);  // all of it, unless the machine stalled A
  EXPECT_EQ(b()->stats().snapshots_failed, 1u);
  EXPECT_TRUE(a().snapshots_sent.empty());
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_TRUE(b().snapshots_received.empty());
  expect_messages_flow(1);
}

TEST_F(SnapshotStreamTest, SenderTimesOutWhenThePeerStopsReading) {
  // A "peer" that accepts connections (the kernel does) and never reads: A's writes fill the
  // socket buffers and stop moving.
  tcp::acceptor silent(loop_.io(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  TransportOptions oa = options_for(kA);
  oa.snapshot_idle_timeout = 200ms;
  make_nodes(oa, options_for(kB));
  constexpr uint64_t kSilent = 9;
  a()->set_peer(kSilent, PeerAddress{"127.0.0.1", silent.local_endpoint().port()});
  a()->send_snapshot(snapshot_message(kA, kSilent), std::make_unique<PatternSource>(1ull << 30));
  ASSERT_TRUE(wait_sent(1)) << a().logger().dump();
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kSilent, false));
  EXPECT_TRUE(wait_log(a(), raft::LogLevel::kWarn, "no progress for 200 ms"))
      << a().logger().dump();
  EXPECT_LT(a()->stats().snapshot_bytes_sent, 1ull << 30);
}

TEST_F(SnapshotStreamTest, UnknownPeerFailsAtOnce) {
  a()->send_snapshot(snapshot_message(kA, 5), std::make_unique<MemorySource>("abc"));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(uint64_t{5}, false));
  EXPECT_TRUE(wait_log(a(), raft::LogLevel::kInfo, "unknown peer"));
}

TEST_F(SnapshotStreamTest, BlockedPeersSnapshotsFail) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  FaultRules out;
  out.block_outbound = true;
  a()->set_faults(kB, out);
  send(std::make_unique<MemorySource>("abc"));
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  a()->clear_faults();

  FaultRules in;
  in.block_inbound = true;
  b()->set_faults(kA, in);
  loop_.poll();
  send(std::make_unique<MemorySource>("abc"));
  ASSERT_TRUE(wait_sent(2));
  EXPECT_EQ(a().snapshots_sent[1], std::make_pair(kB, false));
  EXPECT_EQ(record->count_offers(), 0);
  EXPECT_TRUE(wait_log(b(), raft::LogLevel::kInfo, "blocked"));
  b()->clear_faults();
  loop_.poll();
  send(std::make_unique<MemorySource>("abc"));
  ASSERT_TRUE(wait_sent(3));
  EXPECT_EQ(a().snapshots_sent[2], std::make_pair(kB, true));
}

TEST_F(SnapshotStreamTest, BlockingAPeerCutsItsStreamInFlight) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  send(std::make_unique<MemorySource>(random_bytes(1u << 20, 12), gate, 300000));
  // The offer has reached B (not only left A): the sink holds the bytes before the gate.
  ASSERT_TRUE(loop_.run_until([&] { return record->written().size() == 300000; }));
  FaultRules in;
  in.block_inbound = true;
  b()->set_faults(kA, in);
  ASSERT_TRUE(loop_.run_until([&] { return record->count_aborts() == 1; }))
      << b().logger().dump();
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
  EXPECT_TRUE(b().snapshots_received.empty());
}

TEST_F(SnapshotStreamTest, RemovePeerCutsItsStream) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  send(std::make_unique<MemorySource>(random_bytes(1u << 20, 13), gate, 300000));
  // The offer has reached B (not only left A): the sink holds the bytes before the gate.
  ASSERT_TRUE(loop_.run_until([&] { return record->written().size() == 300000; }));
  b()->remove_peer(kA);
  ASSERT_TRUE(loop_.run_until([&] { return record->count_aborts() == 1; }));
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
}

TEST_F(SnapshotStreamTest, StopOfTheReceiverDuringAStream) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  send(std::make_unique<MemorySource>(random_bytes(1u << 20, 14), gate, 300000));
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  ASSERT_TRUE(loop_.run_until([&] { return record->written().size() == 300000; }));
  b().stop();  // returns once stop()'s `done` ran: the snapshot thread has ended
  EXPECT_EQ(record->count_aborts(), 1);
  EXPECT_EQ(record->count_commits(), 0);
  EXPECT_TRUE(b().snapshots_received.empty());
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kB, false));
}

TEST_F(SnapshotStreamTest, StopOfTheSenderDuringAStream) {
  auto record = std::make_shared<SinkRecord>();
  accept_offers(b(), record);
  auto gate = make_gate();
  send(std::make_unique<MemorySource>(random_bytes(1u << 20, 15), gate, 300000));
  ASSERT_TRUE(loop_.run_until([&] { return gate->entered(); }));
  bool stopped = false;
  a()->stop([&] { stopped = true; });
  loop_.poll();  // the stop is under way; its snapshot thread still blocks in the source
  gate->open();
  ASSERT_TRUE(loop_.run_until([&] { return stopped; }));
  EXPECT_TRUE(a().snapshots_sent.empty()) << "a stream cut by stop() is not reported";
  // Counted after the sink is aborted, so waiting for the count sees both.
  ASSERT_TRUE(loop_.run_until([&] { return b()->stats().snapshots_failed == 1; }))
      << b().logger().dump();
  EXPECT_EQ(record->count_aborts(), 1);
  EXPECT_EQ(record->count_commits(), 0);
  EXPECT_TRUE(b().snapshots_received.empty());
}

TEST_F(SnapshotStreamTest, DestroyingTheReceiverDuringAStreamJoinsItsThread) {
  // A transport of the test's own, so it can be destroyed without stop() having run: its
  // destructor stops it and joins its snapshot thread, aborting the sink on the way.
  constexpr uint64_t kC = 3;
  auto record = std::make_shared<SinkRecord>();
  TransportHandler handler;
  handler.on_snapshot_offer = [record](const Message&, uint64_t) {
    return std::make_unique<MemorySink>(record, MemorySink::Options{});
  };
  auto c = std::make_unique<Transport>(loop_.executor(), options_for(kC), handler);
  c->start();
  c->set_peer(kA, a().address());
  a()->set_peer(kC, PeerAddress{"127.0.0.1", c->port()});
  auto gate = make_gate();
  a()->send_snapshot(snapshot_message(kA, kC),
                     std::make_unique<MemorySource>(random_bytes(1u << 20, 16), gate, 300000));
  ASSERT_TRUE(loop_.run_until([&] { return record->written().size() == 300000; }));
  c.reset();  // between two handlers of the executor, as the destructor's contract asks
  EXPECT_EQ(record->count_aborts(), 1);
  gate->open();
  ASSERT_TRUE(wait_sent(1));
  EXPECT_EQ(a().snapshots_sent[0], std::make_pair(kC, false));
}

// ---- bad input from a raw socket ----------------------------------------------------------

// A client that speaks bytes; keeps what the transport sends back.
class RawSocket {
 public:
  RawSocket(Loop& loop, uint16_t port) : loop_(loop), socket_(loop.io()) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port());
  }
  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void shutdown_send() { socket_.shutdown(tcp::socket::shutdown_send); }

  // Reads until the transport closes the connection: true if it did before the deadline.
  bool wait_closed() {
    bool closed = false;
    read_until_error(closed);
    const bool ended = loop_.run_until([&] { return closed; });
    if (!ended) {
      socket_.cancel();
      loop_.run_until([&] { return closed; });
    }
    return ended && (end_ == asio::error::eof || end_ == asio::error::connection_reset);
  }
  const std::string& received() const { return received_; }

 private:
  void read_until_error(bool& closed) {
    socket_.async_read_some(asio::buffer(scratch_), [this, &closed](auto error, size_t n) {
      if (error) {
        end_ = error;
        closed = true;
        return;
      }
      received_.append(scratch_.data(), n);
      read_until_error(closed);
    });
  }

  Loop& loop_;
  tcp::socket socket_;
  std::array<char, 256> scratch_{};
  std::string received_;
  boost::system::error_code end_;
};

class SnapshotBadInputTest : public SnapshotStreamTest {
 protected:
  void SetUp() override {
    TransportOptions ob = options_for(kB);
    ob.snapshot_chunk_bytes = 1024;
    ob.max_frame_body = 64u << 10;
    // Long enough never to cut the other cases short on a loaded machine.
    ob.snapshot_idle_timeout = 1000ms;
    make_nodes(options_for(kA), ob);
    record_ = std::make_shared<SinkRecord>();
    accept_offers(b(), record_);
    expect_messages_flow(++probes_);
  }

  // Sends `bytes` on a raw connection (then, if asked, ends its sending side); the transport
  // must close it, log one warning naming the raw socket's address and `reason`, count it in
  // connections_refused (if `bad_input`) and snapshots_failed (if `snapshot`), and keep serving.
  void expect_refused(const std::string& bytes, std::string_view reason, bool snapshot,
                      bool shutdown_after = false, bool bad_input = true) {
    RawSocket raw(loop_, b().port());
    raw.write(bytes);
    if (shutdown_after) raw.shutdown_send();
    EXPECT_TRUE(raw.wait_closed()) << "the transport did not close the connection";
    EXPECT_TRUE(raw.received().empty()) << "no result frame for bad input";
    ASSERT_TRUE(loop_.run_until(
        [&] { return !b().logger().find(raft::LogLevel::kWarn, raw.address()).empty(); }))
        << b().logger().dump();
    const auto warnings = b().logger().find(raft::LogLevel::kWarn, raw.address());
    ASSERT_EQ(warnings.size(), 1u) << b().logger().dump();
    EXPECT_EQ(warnings[0].node, kB);
    EXPECT_NE(warnings[0].text.find(reason), std::string::npos) << warnings[0].text;
    const TransportStats stats = b()->stats();
    EXPECT_EQ(stats.connections_refused, bad_input ? 1u : 0u);
    EXPECT_EQ(stats.snapshots_failed, snapshot ? 1u : 0u);
    EXPECT_EQ(stats.snapshots_received, 0u);
    EXPECT_TRUE(b().snapshots_received.empty());
    expect_messages_flow(++probes_);
  }

  std::string offer(uint64_t size) { return offer_frame(snapshot_message(kA, kB), size); }

  std::shared_ptr<SinkRecord> record_;
  uint64_t probes_ = 0;
};

TEST_F(SnapshotBadInputTest, ChunkWithABadChecksum) {
  std::string bad = chunk_frame(std::string(100, 'b'));
  bad.back() ^= 0x01;
  expect_refused(hello_frame() + offer(300) + chunk_frame(std::string(100, 'a')) + bad,
                 "checksum", /*snapshot=*/true);
  EXPECT_EQ(record_->count_aborts(), 1);
  EXPECT_EQ(record_->written(), std::string(100, 'a'));
}

TEST_F(SnapshotBadInputTest, StreamCutBetweenChunks) {
  expect_refused(hello_frame() + offer(300) + chunk_frame(std::string(100, 'a')),
                 "connection closed after 100 of 300 bytes", true, /*shutdown_after=*/true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, StreamCutInTheMiddleOfAChunk) {
  const std::string chunk = chunk_frame(std::string(200, 'a'));
  expect_refused(hello_frame() + offer(300) + chunk.substr(0, 100), "middle of a frame", true,
                 /*shutdown_after=*/true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, OversizedChunk) {
  // The receiver's chunk limit is 1024; the header alone is refused.
  std::string header(kFrameHeaderSize, '\0');
  raft::le::put<uint32_t>(header.data(), 1025);
  header[4] = static_cast<char>(FrameKind::kSnapshotChunk);
  expect_refused(hello_frame() + offer(5000) + header, "larger than the limit", true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, ChunkPastTheOfferedSize) {
  expect_refused(hello_frame() + offer(150) + chunk_frame(std::string(100, 'a')) +
                     chunk_frame(std::string(100, 'b')),
                 "runs past the offered 150 bytes", true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, ChunkBeforeAnyOffer) {
  // Not a snapshot stream yet: a bad frame on a connection, like any other.
  expect_refused(hello_frame() + chunk_frame("abc"), "out of order", /*snapshot=*/false);
  EXPECT_EQ(record_->count_offers(), 0);
}

TEST_F(SnapshotBadInputTest, SecondOffer) {
  expect_refused(hello_frame() + offer(300) + chunk_frame("abc") + offer(300), "out of order",
                 true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, MessageOnASnapshotConnection) {
  expect_refused(hello_frame() + offer(300) + message_frame(make_message(kA, kB, 1)),
                 "out of order", true);
  EXPECT_EQ(record_->count_aborts(), 1);
}

TEST_F(SnapshotBadInputTest, OfferOnAMessageConnection) {
  expect_refused(hello_frame() + message_frame(make_message(kA, kB, 7)) + offer(300),
                 "out of order", false);
  EXPECT_EQ(record_->count_offers(), 0);
}

TEST_F(SnapshotBadInputTest, OfferThatIsNotAMsgSnapshot) {
  expect_refused(hello_frame() + offer_frame(make_message(kA, kB, 1), 300), "not a MsgSnapshot",
                 true);
  EXPECT_EQ(record_->count_offers(), 0);
}

TEST_F(SnapshotBadInputTest, OfferForAnotherNode) {
  expect_refused(hello_frame() + offer_frame(snapshot_message(kA, 3), 300), "for node 3", true);
  EXPECT_EQ(record_->count_offers(), 0);
}

TEST_F(SnapshotBadInputTest, OfferFromAnotherNodeThanTheHello) {
  expect_refused(hello_frame() + offer_frame(snapshot_message(3, kB), 300), "from node 3", true);
  EXPECT_EQ(record_->count_offers(), 0);
}

TEST_F(SnapshotBadInputTest, OfferThenSilenceTimesOut) {
  // Not bad input as such, so not in connections_refused; a failed stream all the same.
  expect_refused(hello_frame() + offer(300) + chunk_frame("abc"), "no progress for 1000 ms", true,
                 false, /*bad_input=*/false);
  EXPECT_EQ(record_->count_aborts(), 1);
}

// What is allowed: the same raw socket, well-behaved, gets its snapshot kept and result 1.
TEST_F(SnapshotBadInputTest, WellFormedRawStreamIsKept) {
  RawSocket raw(loop_, b().port());
  raw.write(hello_frame() + offer(1500) + chunk_frame(std::string(1024, 'a')) +
            chunk_frame(std::string(476, 'b')));
  ASSERT_TRUE(loop_.run_until([&] { return b().snapshots_received.size() == 1; }));
  raw.shutdown_send();
  EXPECT_TRUE(raw.wait_closed());
  std::string result;
  append_snapshot_result_frame(result, true);
  EXPECT_EQ(raw.received(), result);
  EXPECT_EQ(record_->written(), std::string(1024, 'a') + std::string(476, 'b'));
  EXPECT_EQ(record_->count_commits(), 1);
  EXPECT_EQ(b()->stats().connections_refused, 0u);
  expect_messages_flow(++probes_);
}

}  // namespace
}  // namespace net::testing
