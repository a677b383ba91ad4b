// The TCP transport (net/transport.h) over loopback: delivery both ways between two and three
// nodes, order, coalescing, the bounded queue of a peer that is down, connection loss and
// redialling, remove_peer, stop(), fault injection, and a multi-threaded io_context on strands.
// Bad input from raw sockets is in transport_bad_input_test.cc.
#include "net/transport.h"

#include <gtest/gtest.h>

#include <array>
#include <condition_variable>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "net/backoff.h"
#include "tests/net/transport_test_util.h"

namespace net::testing {
namespace {

using raft::Message;

// A port on which nothing accepts: bound, never listening, so a dial is refused at once, and no
// one else can take the port while the test holds it.
class DeadPort {
 public:
  explicit DeadPort(Loop& loop) : socket_(loop.io()) {
    socket_.open(boost::asio::ip::tcp::v4());
    socket_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  }
  PeerAddress address() const { return PeerAddress{"127.0.0.1", socket_.local_endpoint().port()}; }

 private:
  boost::asio::ip::tcp::socket socket_;
};

class TransportTest : public ::testing::Test {
 protected:
  // Every test ends with every transport stopped and nothing left running on the io_context.
  void TearDown() override {
    nodes_.clear();
    EXPECT_TRUE(loop_.runs_dry()) << "a coroutine or handler outlived its transport";
  }

  TestNode& add(uint64_t id) { return add(test_options(id)); }
  TestNode& add(TransportOptions options) {
    nodes_.push_back(std::make_unique<TestNode>(loop_, std::move(options)));
    return *nodes_.back();
  }

  // Sends a probe from `a` to `b` and waits for it: after this, a's connection to b is up.
  void await_connected(TestNode& a, TestNode& b) {
    const size_t before = count_from(b, a.id());
    a->send(make_message(a.id(), b.id(), 0));
    ASSERT_TRUE(loop_.run_until([&] { return count_from(b, a.id()) > before; }))
        << a.logger().dump() << b.logger().dump();
  }

  // Sends message `index` from a to b until one arrives: each that goes out while a's connection is
  // being refused is lost with it, and a's unreachable report says so before the next try.
  void deliver_eventually(TestNode& a, TestNode& b, uint64_t index) {
    auto arrived = [&] {
      for (const Message& m : b.received) {
        if (m.from() == a.id() && m.index() == index) return true;
      }
      return false;
    };
    for (int attempt = 0; !arrived(); ++attempt) {
      ASSERT_LT(attempt, 200) << a.logger().dump() << b.logger().dump();
      const size_t reports = a.count_unreachable(b.id());
      a->send(make_message(a.id(), b.id(), index));
      ASSERT_TRUE(
          loop_.run_until([&] { return arrived() || a.count_unreachable(b.id()) > reports; }));
    }
  }

  Loop loop_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST(DialBackoffTest, GrowsFromMinToMaxWithSeededJitter) {
  std::mt19937_64 rng(42);
  for (unsigned failures = 1; failures < 80; ++failures) {
    const int64_t ceiling = std::min<int64_t>(int64_t{20} << std::min(failures, 20u), 1000);
    for (int draw = 0; draw < 50; ++draw) {
      const auto delay = dial_backoff(failures, 20ms, 1000ms, rng).count();
      EXPECT_GE(delay, 20);
      EXPECT_LE(delay, ceiling) << "after " << failures << " failures";
    }
  }
  // Jittered: the draws after many failures spread over [min, max], not one value.
  std::set<int64_t> seen;
  for (int draw = 0; draw < 100; ++draw) seen.insert(dial_backoff(10, 20ms, 1000ms, rng).count());
  EXPECT_GT(seen.size(), 50u);
  // Seeded: the same seed gives the same delays.
  std::mt19937_64 a(7), b(7);
  for (unsigned failures = 1; failures < 20; ++failures) {
    EXPECT_EQ(dial_backoff(failures, 20ms, 1000ms, a), dial_backoff(failures, 20ms, 1000ms, b));
  }
  // A zero or inverted range does not break it.
  EXPECT_EQ(dial_backoff(3, 0ms, 0ms, rng).count(), 0);
  EXPECT_EQ(dial_backoff(3, 50ms, 10ms, rng).count(), 50);
}

TEST_F(TransportTest, TwoNodesExchangeMessagesBothWays) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  a->send(make_message(1, 2, 10, "from a"));
  b->send(make_message(2, 1, 20, "from b"));
  ASSERT_TRUE(loop_.run_until([&] { return a.received.size() == 1 && b.received.size() == 1; }));
  EXPECT_EQ(b.received[0].from(), 1u);
  EXPECT_EQ(b.received[0].to(), 2u);
  EXPECT_EQ(b.received[0].index(), 10u);
  EXPECT_EQ(b.received[0].entries(0).data(), "from a");
  EXPECT_EQ(a.received[0].from(), 2u);
  EXPECT_EQ(a.received[0].entries(0).data(), "from b");
  EXPECT_EQ(a->stats().messages_sent, 1u);
  EXPECT_EQ(b->stats().messages_received, 1u);
  EXPECT_TRUE(a.unreachable.empty());
  EXPECT_TRUE(b.unreachable.empty());
}

TEST_F(TransportTest, CountsTrafficPerPeer) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  const std::string payload(1000, 'x');
  for (uint64_t i = 1; i <= 3; ++i) a->send(make_message(1, 2, i, payload));
  b->send(make_message(2, 1, 9, "reply"));
  // Until both sides also saw their writes complete (a completion may run after the peer's read).
  auto sent = [](TestNode& n, uint64_t peer) {
    const auto traffic = n->traffic();
    auto it = traffic.find(peer);
    return it == traffic.end() ? 0 : it->second.messages_sent;
  };
  ASSERT_TRUE(loop_.run_until([&] {
    return b.received.size() == 3 && a.received.size() == 1 && sent(a, 2) == 3 && sent(b, 1) == 1;
  }));

  const std::map<uint64_t, PeerTraffic> at_a = a->traffic();
  const std::map<uint64_t, PeerTraffic> at_b = b->traffic();
  ASSERT_EQ(at_a.size(), 1u);
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_a.at(2).messages_sent, 3u);
  EXPECT_EQ(at_a.at(2).messages_received, 1u);
  EXPECT_GT(at_a.at(2).bytes_sent, 3 * payload.size());
  EXPECT_EQ(at_b.at(1).messages_received, 3u);
  EXPECT_EQ(at_b.at(1).messages_sent, 1u);
  // Every byte written was read (the hello included), and the reply came back.
  EXPECT_EQ(at_b.at(1).bytes_received, at_a.at(2).bytes_sent);
  EXPECT_EQ(at_a.at(2).bytes_received, at_b.at(1).bytes_sent);
}

TEST_F(TransportTest, ThreeNodesEachReachEveryOther) {
  TestNode& n1 = add(1);
  TestNode& n2 = add(2);
  TestNode& n3 = add(3);
  link(n1, n2);
  link(n1, n3);
  link(n2, n3);
  std::vector<TestNode*> all{&n1, &n2, &n3};
  for (TestNode* from : all) {
    for (TestNode* to : all) {
      if (from == to) continue;
      for (uint64_t i = 0; i < 5; ++i) (*from)->send(make_message(from->id(), to->id(), i));
    }
  }
  ASSERT_TRUE(loop_.run_until([&] {
    return n1.received.size() == 10 && n2.received.size() == 10 && n3.received.size() == 10;
  }));
  for (TestNode* to : all) {
    std::map<uint64_t, std::vector<uint64_t>> by_sender;
    for (const Message& m : to->received) {
      EXPECT_EQ(m.to(), to->id());
      by_sender[m.from()].push_back(m.index());
    }
    ASSERT_EQ(by_sender.size(), 2u);
    for (const auto& [from, indexes] : by_sender) {
      EXPECT_EQ(indexes, (std::vector<uint64_t>{0, 1, 2, 3, 4})) << from << " -> " << to->id();
    }
  }
}

TEST_F(TransportTest, OrderIsPreservedPerPeer) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  // Sent in pieces, with the loop running between them, so they span many writes and reads.
  std::mt19937_64 rng(3);
  uint64_t next = 1;
  while (next <= 2000) {
    const uint64_t burst = 1 + rng() % 50;
    for (uint64_t i = 0; i < burst && next <= 2000; ++i, ++next) {
      a->send(make_message(1, 2, next, std::string(rng() % 300, 'x')));
    }
    loop_.poll();
  }
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 2001; }));
  for (uint64_t i = 1; i <= 2000; ++i) ASSERT_EQ(b.received[i].index(), i);
}

TEST_F(TransportTest, EverythingQueuedIsCoalescedIntoFewWrites) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  const TransportStats before = a->stats();
  for (uint64_t i = 1; i <= 1000; ++i) a->send(make_message(1, 2, i, "payload"));
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 1001; }));
  const TransportStats after = a->stats();
  EXPECT_EQ(after.messages_sent - before.messages_sent, 1000u);
  // All 1000 were queued before the writer woke: one write carries them (a few at most, if the
  // writer woke while they were still being posted).
  EXPECT_LE(after.writes - before.writes, 5u);
}

TEST_F(TransportTest, LargeMessageCrossesInManyReads) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  std::string big(3u << 20, 'b');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  a->send(make_message(1, 2, 1, big));
  a->send(make_message(1, 2, 2, "after"));
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 2; }));
  EXPECT_EQ(b.received[0].entries(0).data(), big);
  EXPECT_EQ(b.received[1].index(), 2u);
}

TEST_F(TransportTest, MessageOverTheFrameLimitIsDroppedAndReported) {
  TransportOptions options = test_options(1);
  options.max_frame_body = 1000;
  TestNode& a = add(options);
  TestNode& b = add(2);
  link(a, b);
  a->send(make_message(1, 2, 1, std::string(2000, 'x')));
  a->send(make_message(1, 2, 2, "fits"));
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 1; }));
  EXPECT_EQ(b.received[0].index(), 2u);
  EXPECT_EQ(a.count_unreachable(2), 1u);
  EXPECT_EQ(a->stats().dropped_queue_full, 1u);
  EXPECT_EQ(b->stats().connections_refused, 0u);  // the connection was never put at risk
}

TEST_F(TransportTest, SendToUnknownPeerIsReportedUnreachable) {
  TestNode& a = add(1);
  a->send(make_message(1, 9, 1));
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(9) == 1; }));
}

TEST_F(TransportTest, QueueToADownPeerIsBoundedAndDeliveredWhenItStarts) {
  DeadPort dead(loop_);
  TransportOptions options = test_options(1);
  options.max_queue_messages = 10;
  TestNode& a = add(options);
  a->set_peer(2, dead.address());
  for (uint64_t i = 0; i < 15; ++i) a->send(make_message(1, 2, i));
  // The five that do not fit are dropped and reported; dials fail and are reported too.
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dropped_queue_full == 5; }));
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dials >= 3; }));
  EXPECT_GE(a.count_unreachable(2), 5u + 2u);

  TestNode& b = add(2);
  b->set_peer(1, a.address());
  a->set_peer(2, b.address());  // the peer came up elsewhere: redial there at once
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 10; }));
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(b.received[i].index(), i);
  a->send(make_message(1, 2, 100));
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 11; }));
}

TEST_F(TransportTest, QueueIsBoundedByBytes) {
  DeadPort dead(loop_);
  TransportOptions options = test_options(1);
  options.max_queue_bytes = 3000;
  TestNode& a = add(options);
  a->set_peer(2, dead.address());
  // About 1 KiB each: two fit, the rest do not.
  for (uint64_t i = 0; i < 5; ++i) a->send(make_message(1, 2, i, std::string(1000, 'x')));
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dropped_queue_full == 3; }));
  // Bytes, not a count, are what is full: a small one still fits beside the two.
  a->send(make_message(1, 2, 5, "small"));
  loop_.poll();
  EXPECT_EQ(a->stats().dropped_queue_full, 3u);

  TestNode& b = add(2);
  b->set_peer(1, a.address());
  a->set_peer(2, b.address());
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 3; }));
  EXPECT_EQ(b.received[0].index(), 0u);
  EXPECT_EQ(b.received[1].index(), 1u);
  EXPECT_EQ(b.received[2].index(), 5u);
}

TEST_F(TransportTest, PeerRestartIsReportedAndDeliveryResumes) {
  TestNode& a = add(1);
  auto b = std::make_unique<TestNode>(loop_, 2);
  link(a, *b);
  await_connected(a, *b);
  EXPECT_TRUE(a.unreachable.empty());

  b->stop();  // closes its end of a's connection
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) >= 1; })) << a.logger().dump();
  // While it is down, a keeps dialling (with backoff) and reporting.
  const uint64_t dials = a->stats().dials;
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dials >= dials + 2; }));

  b = std::make_unique<TestNode>(loop_, 2);  // restarted, on a new port
  (*b)->set_peer(1, a.address());
  a->set_peer(2, b->address());
  a->send(make_message(1, 2, 7));
  ASSERT_TRUE(loop_.run_until([&] { return count_from(*b, 1) >= 1; }));
  EXPECT_EQ(b->received.back().index(), 7u);
  b->stop();
}

TEST_F(TransportTest, BrokenConnectionIsRedialledWithBackoff) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  // b forgets a: it closes a's connection, and refuses a's redials as from an unknown node.
  b->remove_peer(1);
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) >= 1; }));
  ASSERT_TRUE(loop_.run_until([&] { return b->stats().connections_refused >= 2; }))
      << b.logger().dump();
  // Each refused connection is lost right after it was made, so it counts as a failure and a
  // reports a again: no tight loop (backoff), no set_peer needed on a's side to recover.
  EXPECT_GE(a.count_unreachable(2), 2u);
  b->set_peer(1, a.address());
  deliver_eventually(a, b, 99);
}

TEST_F(TransportTest, RemovePeerClosesAndForgetsIt) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  a->remove_peer(2);
  a->send(make_message(1, 2, 5));
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) == 1; }));
  // Added back, it is dialled again.
  a->set_peer(2, b.address());
  a->send(make_message(1, 2, 6));
  ASSERT_TRUE(
      loop_.run_until([&] { return !b.received.empty() && b.received.back().index() == 6; }));
  for (const Message& m : b.received) EXPECT_NE(m.index(), 5u);
}

TEST_F(TransportTest, FailedDialsAreReportedAndRetried) {
  DeadPort dead(loop_);
  TestNode& a = add(1);
  a->set_peer(2, dead.address());
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) >= 3; }));
  EXPECT_GE(a->stats().dials, 3u);
  EXPECT_EQ(a->stats().dropped_queue_full, 0u);
}

TEST_F(TransportTest, LostConnectionClearsTheQueue) {
  TransportOptions options = test_options(1);
  options.max_queue_messages = 5;
  TestNode& a = add(options);
  auto b = std::make_unique<TestNode>(loop_, 2);
  link(a, *b);
  await_connected(a, *b);
  // Five messages held in the queue (a long delay), filling it.
  FaultRules hold;
  hold.delay_outbound = 1h;
  a->set_faults(2, hold);
  for (uint64_t i = 1; i <= 5; ++i) a->send(make_message(1, 2, i));
  a->clear_faults();
  b->stop();
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) >= 1; }));

  b = std::make_unique<TestNode>(loop_, 2);
  (*b)->set_peer(1, a.address());
  a->set_peer(2, b->address());
  // Had the held five survived, this one would not fit (and would wait behind them).
  a->send(make_message(1, 2, 6));
  ASSERT_TRUE(loop_.run_until([&] { return b->received.size() == 1; }));
  EXPECT_EQ(b->received[0].index(), 6u);
  EXPECT_EQ(a->stats().dropped_queue_full, 0u);
  b->stop();
}

// The dialler's side, seen from a raw acceptor: the hello comes first and names the cluster,
// the dialler and the peer it meant to reach; messages queued before the connection was up
// follow in the same write. An acceptor that talks back is not a peer: the dialler hangs up.
TEST_F(TransportTest, DiallerSendsHelloThenQueuedMessages) {
  namespace asio = boost::asio;
  asio::ip::tcp::acceptor acceptor(loop_.io(), {asio::ip::make_address("127.0.0.1"), 0});
  TestNode& a = add(1);
  a->set_peer(2, PeerAddress{"127.0.0.1", acceptor.local_endpoint().port()});
  for (uint64_t i = 1; i <= 3; ++i) a->send(make_message(1, 2, i));

  asio::ip::tcp::socket raw(loop_.io());
  bool accepted = false;
  acceptor.async_accept(raw, [&](boost::system::error_code error) { accepted = !error; });
  ASSERT_TRUE(loop_.run_until([&] { return accepted; }));

  FrameDecoder decoder;
  std::vector<Message> messages;
  std::optional<Hello> hello;
  std::array<char, 4096> buffer;
  bool reading = false;
  ASSERT_TRUE(loop_.run_until([&] {
    if (!reading) {
      reading = true;
      raw.async_read_some(asio::buffer(buffer), [&](boost::system::error_code error, size_t n) {
        reading = false;
        if (error) return;  // closed at the end of the test
        decoder.feed(std::string_view(buffer.data(), n));
        Hello h;
        Message m;
        for (;;) {
          const auto status = decoder.next(&h, &m);
          if (status == FrameDecoder::Status::kHello) hello = h;
          if (status == FrameDecoder::Status::kMessage) messages.push_back(m);
          if (status == FrameDecoder::Status::kNeedMore) break;
          ASSERT_NE(status, FrameDecoder::Status::kError) << decoder.error().message();
        }
      });
    }
    return messages.size() == 3;
  }));
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->cluster_id, 7u);
  EXPECT_EQ(hello->from, 1u);
  EXPECT_EQ(hello->to, 2u);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(messages[i].index(), i + 1);
  EXPECT_EQ(a->stats().writes, 1u) << "hello and the queued messages go in one write";
  EXPECT_TRUE(a.unreachable.empty());

  asio::write(raw, asio::buffer(std::string("unexpected")));
  ASSERT_TRUE(loop_.run_until([&] { return a.count_unreachable(2) >= 1; }));
  EXPECT_EQ(a.logger().find(raft::LogLevel::kWarn, "acceptors send nothing").size(), 1u);
  // Cancel the read still pending on the raw socket, so nothing is left running.
  raw.close();
  acceptor.close();
  loop_.poll();
}

TEST_F(TransportTest, StopWithPendingMessagesEndsEverything) {
  DeadPort dead(loop_);
  auto a = std::make_unique<TestNode>(loop_, 1);
  auto b = std::make_unique<TestNode>(loop_, 2);
  link(*a, *b);
  (*a)->set_peer(3, dead.address());
  await_connected(*a, *b);
  await_connected(*b, *a);
  // Queued to a live peer and to a dead one, then stopped before any of it is written.
  for (uint64_t i = 0; i < 100; ++i) {
    (*a)->send(make_message(1, 2, i, "pending"));
    (*a)->send(make_message(1, 3, i, "pending"));
  }
  const size_t unreachable_before_stop = a->unreachable.size();
  bool done = false;
  int done_twice = 0;
  (*a)->stop([&] { done = true; });
  (*a)->stop([&] { ++done_twice; });  // a second stop() also resolves
  ASSERT_TRUE(loop_.run_until([&] { return done && done_twice == 1; }));
  EXPECT_EQ(a->unreachable.size(), unreachable_before_stop) << "stop() reports nothing";
  EXPECT_EQ(count_from(*b, 1), 1u) << "nothing queued was written after stop()";
  a.reset();
  b.reset();
  EXPECT_TRUE(loop_.runs_dry());
}

TEST_F(TransportTest, StopOfATransportThatNeverStartedResolves) {
  TransportHandler handler;
  Transport t(loop_.executor(), test_options(1), handler);
  t.set_peer(2, PeerAddress{"127.0.0.1", 1});
  bool done = false;
  t.stop([&] { done = true; });
  ASSERT_TRUE(loop_.run_until([&] { return done; }));
}

TEST_F(TransportTest, StartFailsWhenTheAddressCannotBeBound) {
  TestNode& a = add(1);
  TransportOptions options = test_options(2);
  options.listen_port = a.port();
  TransportHandler handler;
  Transport t(loop_.executor(), options, handler);
  EXPECT_THROW(t.start(), boost::system::system_error);
}

TEST_F(TransportTest, FaultBlockOutboundDropsMessagesToThatPeer) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  FaultRules block;
  block.block_outbound = true;
  a->set_faults(2, block);
  a->send(make_message(1, 2, 1));
  a->send(make_message(1, 2, 2));
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dropped_by_faults == 2; }));
  a->clear_faults();
  a->send(make_message(1, 2, 3));
  // Order per peer means that had 1 or 2 gone out, they would arrive before 3.
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 2; }));
  EXPECT_EQ(b.received[1].index(), 3u);
  EXPECT_TRUE(a.unreachable.empty()) << "a lost message is not an unreachable peer";
}

TEST_F(TransportTest, FaultBlockInboundDropsMessagesFromThatPeer) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  TestNode& c = add(3);
  link(a, b);
  link(c, b);
  await_connected(a, b);
  await_connected(c, b);
  FaultRules block;
  block.block_inbound = true;
  b->set_faults(1, block);
  a->send(make_message(1, 2, 1));
  c->send(make_message(3, 2, 1));
  ASSERT_TRUE(loop_.run_until([&] { return b->stats().dropped_by_faults == 1; }));
  ASSERT_TRUE(loop_.run_until([&] { return count_from(b, 3) == 2; }));
  EXPECT_EQ(count_from(b, 1), 1u);  // only the probe
  b->clear_faults();
  a->send(make_message(1, 2, 2));
  ASSERT_TRUE(loop_.run_until([&] { return count_from(b, 1) == 2; }));
  EXPECT_EQ(b.received.back().index(), 2u);
}

TEST_F(TransportTest, FaultDropWithProbabilityOneDropsEverything) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  FaultRules drop;
  drop.drop_outbound = 1.0;
  a->set_faults(2, drop);
  for (uint64_t i = 1; i <= 50; ++i) a->send(make_message(1, 2, i));
  ASSERT_TRUE(loop_.run_until([&] { return a->stats().dropped_by_faults == 50; }));
  a->clear_faults();
  a->send(make_message(1, 2, 51));
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 2; }));
  EXPECT_EQ(b.received[1].index(), 51u);
}

TEST_F(TransportTest, FaultDropWithProbabilityIsSeededAndAccounted) {
  auto run_once = [&](uint64_t seed) {
    TransportOptions options = test_options(1);
    options.seed = seed;
    auto a = std::make_unique<TestNode>(loop_, options);
    auto b = std::make_unique<TestNode>(loop_, 2);
    link(*a, *b);
    await_connected(*a, *b);
    FaultRules drop;
    drop.drop_outbound = 0.5;
    (*a)->set_faults(2, drop);
    for (uint64_t i = 1; i <= 200; ++i) (*a)->send(make_message(1, 2, i));
    (*a)->clear_faults();
    (*a)->send(make_message(1, 2, 1000));  // the last one; everything before is decided
    EXPECT_TRUE(loop_.run_until(
        [&] { return !b->received.empty() && b->received.back().index() == 1000; }));
    const uint64_t dropped = (*a)->stats().dropped_by_faults;
    EXPECT_EQ(b->received.size() - 2 + dropped, 200u);  // minus the probe and the last
    std::vector<uint64_t> delivered;
    for (const Message& m : b->received) delivered.push_back(m.index());
    return delivered;
  };
  const std::vector<uint64_t> first = run_once(11);
  EXPECT_GT(first.size(), 50u);
  EXPECT_LT(first.size(), 150u);
  EXPECT_EQ(run_once(11), first) << "the same seed drops the same messages";
}

TEST_F(TransportTest, FaultDelayHoldsMessagesBackInOrder) {
  TestNode& a = add(1);
  TestNode& b = add(2);
  link(a, b);
  await_connected(a, b);
  FaultRules delay;
  delay.delay_outbound = 150ms;
  a->set_faults(2, delay);
  const auto sent_at = std::chrono::steady_clock::now();
  a->send(make_message(1, 2, 1));
  a->send(make_message(1, 2, 2));
  loop_.poll();
  a->clear_faults();
  a->send(make_message(1, 2, 3));  // not delayed itself, but queued behind the delayed ones
  ASSERT_TRUE(loop_.run_until([&] { return b.received.size() == 4; }));
  EXPECT_GE(std::chrono::steady_clock::now() - sent_at, 150ms);
  EXPECT_EQ(b.received[1].index(), 1u);
  EXPECT_EQ(b.received[2].index(), 2u);
  EXPECT_EQ(b.received[3].index(), 3u);
}

// Two transports on strands of an io_context run by two threads; sends come from the test
// thread. Under TSan this checks the cross-thread entry points (send, set_peer, stop, stats,
// set_faults).
TEST(TransportThreadsTest, StrandsOnAMultiThreadedIoContext) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<uint64_t>> received;  // by receiver

  auto make = [&](uint64_t id) {
    TransportHandler handler;
    handler.on_message = [&, id](Message m) {
      std::lock_guard lock(mu);
      received[id].push_back(m.index());
      cv.notify_all();
    };
    handler.on_unreachable = [](uint64_t) {};
    return std::make_unique<Transport>(boost::asio::make_strand(io), test_options(id), handler);
  };
  auto a = make(1);
  auto b = make(2);
  a->start();
  b->start();
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });

  a->set_peer(2, PeerAddress{"127.0.0.1", b->port()});
  b->set_peer(1, PeerAddress{"127.0.0.1", a->port()});
  FaultRules none;
  a->set_faults(2, none);
  for (uint64_t i = 0; i < 500; ++i) {
    a->send(make_message(1, 2, i));
    b->send(make_message(2, 1, i));
    if (i % 100 == 0) (void)a->stats();
  }
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(
        lock, kDeadline, [&] { return received[1].size() == 500 && received[2].size() == 500; }));
    for (uint64_t i = 0; i < received[2].size(); ++i) EXPECT_EQ(received[2][i], i);
  }

  int stopped = 0;
  auto count_stop = [&] {
    std::lock_guard lock(mu);
    ++stopped;
    cv.notify_all();
  };
  a->stop(count_stop);
  b->stop(count_stop);
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, kDeadline, [&] { return stopped == 2; }));
  }
  work.reset();
  for (auto& t : threads) t.join();  // run() returns: nothing of either transport is left
  a.reset();
  b.reset();
}

}  // namespace
}  // namespace net::testing
