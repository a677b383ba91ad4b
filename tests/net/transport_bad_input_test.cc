// Bad input to the transport's acceptor, sent by a raw socket: each case must close that
// connection (the raw socket reads the end), count in connections_refused, log a warning with
// the raw socket's address and this node's id — and the transport must go on delivering what a
// well-behaved peer sends.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
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
constexpr uint64_t kNode = 1;  // the transport under test
constexpr uint64_t kPeer = 2;  // its well-behaved peer
constexpr size_t kMaxBody = 64u << 10;

std::string hello_frame(uint64_t cluster, uint64_t from, uint64_t to) {
  Hello hello;
  hello.cluster_id = cluster;
  hello.from = from;
  hello.to = to;
  std::string out;
  append_hello_frame(out, hello);
  return out;
}

std::string good_hello() { return hello_frame(kCluster, kPeer, kNode); }

std::string message_frame(const Message& m) {
  std::string out;
  append_message_frame(out, m);
  return out;
}

// A frame of `kind` around `body`, with a checksum that vouches for it.
std::string sealed_frame(FrameKind kind, const std::string& body) {
  std::string out(kFrameHeaderSize, '\0');
  raft::le::put<uint32_t>(out.data(), static_cast<uint32_t>(body.size()));
  out[4] = static_cast<char>(kind);
  out += body;
  const uint32_t crc = raft::crc32c::extend(raft::crc32c::value(out.data(), 8),
                                            out.data() + kFrameHeaderSize, body.size());
  raft::le::put<uint32_t>(out.data() + 8, crc);
  return out;
}

// A client that speaks bytes, not the protocol.
class RawSocket {
 public:
  RawSocket(Loop& loop, uint16_t port) : loop_(loop), socket_(loop.io()) {
    // Blocking is fine: the kernel completes a loopback handshake without the acceptor running.
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  // "127.0.0.1:PORT" as the transport sees this socket.
  std::string address() const {
    return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port());
  }

  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void shutdown_send() { socket_.shutdown(tcp::socket::shutdown_send); }

  // Reads until the transport closes the connection: true if it did before the deadline. An
  // orderly end or a reset both count (a close with unread bytes resets).
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

 private:
  void read_until_error(bool& closed) {
    socket_.async_read_some(asio::buffer(scratch_), [this, &closed](auto error, size_t) {
      if (error) {
        end_ = error;
        closed = true;
        return;
      }
      read_until_error(closed);  // the transport never sends on an accepted connection
    });
  }

  Loop& loop_;
  tcp::socket socket_;
  std::array<char, 256> scratch_{};
  boost::system::error_code end_;
};

class TransportBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TransportOptions options = test_options(kNode, kCluster);
    options.max_frame_body = kMaxBody;
    options.hello_timeout = 100ms;
    node_.emplace(loop_, options);
    peer_.emplace(loop_, kPeer);
    link(*node_, *peer_);
    // Up before the bad input arrives: the check afterwards uses the existing connection too.
    expect_still_serving();
    ASSERT_EQ((*node_)->stats().connections_refused, 0u);
  }

  void TearDown() override {
    node_.reset();
    peer_.reset();
    EXPECT_TRUE(loop_.runs_dry());
  }

  // The well-behaved peer's next message arrives.
  void expect_still_serving() {
    const uint64_t index = ++probes_;
    (*peer_)->send(make_message(kPeer, kNode, 1000 + index));
    ASSERT_TRUE(loop_.run_until([&] {
      return !node_->received.empty() && node_->received.back().index() == 1000 + index;
    })) << node_->logger().dump();
  }

  // Sends `bytes` on a raw connection (then, if asked, ends its sending side) and checks the
  // transport refuses it, says why in a warning that names the raw socket's address, and keeps
  // serving.
  void expect_refused(const std::string& bytes, std::string_view reason,
                      bool shutdown_after = false) {
    RawSocket raw(loop_, node_->port());
    if (!bytes.empty()) raw.write(bytes);
    if (shutdown_after) raw.shutdown_send();
    EXPECT_TRUE(raw.wait_closed()) << "the transport did not close the connection";
    ASSERT_TRUE(loop_.run_until([&] { return (*node_)->stats().connections_refused == 1; }));
    const auto warnings = node_->logger().find(raft::LogLevel::kWarn, raw.address());
    ASSERT_EQ(warnings.size(), 1u) << node_->logger().dump();
    EXPECT_EQ(warnings[0].node, kNode);
    EXPECT_NE(warnings[0].text.find(reason), std::string::npos) << warnings[0].text;
    expect_still_serving();
    EXPECT_EQ((*node_)->stats().connections_refused, 1u);
    EXPECT_TRUE(node_->unreachable.empty());
  }

  Loop loop_;
  std::optional<TestNode> node_;
  std::optional<TestNode> peer_;
  uint64_t probes_ = 0;
};

TEST_F(TransportBadInputTest, OversizedFrameHeader) {
  std::string header(kFrameHeaderSize, '\0');
  raft::le::put<uint32_t>(header.data(), kMaxBody + 1);
  header[4] = static_cast<char>(FrameKind::kMessage);
  expect_refused(header, "larger than the limit");
}

TEST_F(TransportBadInputTest, OversizedFrameAfterHello) {
  std::string header(kFrameHeaderSize, '\0');
  raft::le::put<uint32_t>(header.data(), 1u << 30);
  header[4] = static_cast<char>(FrameKind::kMessage);
  expect_refused(good_hello() + header, "larger than the limit");
}

TEST_F(TransportBadInputTest, TruncatedFrameThenClose) {
  const std::string frame = message_frame(make_message(kPeer, kNode, 1, "cut short"));
  expect_refused(good_hello() + frame.substr(0, frame.size() / 2), "middle of a frame",
                 /*shutdown_after=*/true);
}

TEST_F(TransportBadInputTest, BadChecksum) {
  std::string frame = message_frame(make_message(kPeer, kNode, 1, "flipped"));
  frame.back() ^= 0x01;
  expect_refused(good_hello() + frame, "checksum");
}

TEST_F(TransportBadInputTest, UnparseableMessageWithGoodChecksum) {
  // Field number 0 is never valid protobuf; the CRC is right, so only the parse can refuse it.
  expect_refused(good_hello() + sealed_frame(FrameKind::kMessage, std::string("\x00\x01\x02", 3)),
                 "not a parseable raft message");
}

TEST_F(TransportBadInputTest, MessageBeforeHello) {
  expect_refused(message_frame(make_message(kPeer, kNode, 1)), "message before the hello");
}

TEST_F(TransportBadInputTest, SecondHello) {
  expect_refused(good_hello() + good_hello(), "second hello");
}

TEST_F(TransportBadInputTest, HelloWithBadMagic) {
  std::string body = good_hello().substr(kFrameHeaderSize);
  body[0] = 'X';
  expect_refused(sealed_frame(FrameKind::kHello, body), "bad hello");
}

TEST_F(TransportBadInputTest, NotOurProtocolAtAll) {
  expect_refused("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad frame");
}

TEST_F(TransportBadInputTest, WrongClusterId) {
  expect_refused(hello_frame(kCluster + 1, kPeer, kNode), "of cluster 8");
}

TEST_F(TransportBadInputTest, UnknownNodeId) {
  expect_refused(hello_frame(kCluster, 99, kNode), "unknown node 99");
}

TEST_F(TransportBadInputTest, HelloToTheWrongNode) {
  expect_refused(hello_frame(kCluster, kPeer, 3), "to node 3");
}

TEST_F(TransportBadInputTest, MessageAddressedToAnotherNode) {
  expect_refused(good_hello() + message_frame(make_message(kPeer, 3, 1)), "for node 3");
}

TEST_F(TransportBadInputTest, MessageFromAnotherNodeThanTheHello) {
  expect_refused(good_hello() + message_frame(make_message(3, kNode, 1)), "from node 3");
}

TEST_F(TransportBadInputTest, NoHelloWithinTimeout) {
  expect_refused("", "no hello within 100 ms");
}

TEST_F(TransportBadInputTest, PartOfAHelloThenSilence) {
  expect_refused(good_hello().substr(0, 20), "no hello within");
}

// What is allowed: the same raw socket, well-behaved, is served.
TEST_F(TransportBadInputTest, WellFormedRawPeerIsServed) {
  RawSocket raw(loop_, node_->port());
  Message transfer = make_message(3, kNode, 5);  // forwarded by kPeer for transferee 3
  transfer.set_msg_type(raft::MessageType::MsgTransferLeader);
  raw.write(good_hello() + message_frame(make_message(kPeer, kNode, 4)) + message_frame(transfer));
  ASSERT_TRUE(loop_.run_until([&] { return node_->received.size() == 3; }));
  EXPECT_EQ(node_->received[1].index(), 4u);
  EXPECT_EQ(node_->received[2].msg_type(), raft::MessageType::MsgTransferLeader);
  EXPECT_EQ(node_->received[2].from(), 3u);
  // Closing between frames is an orderly end, not bad input.
  raw.shutdown_send();
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_EQ((*node_)->stats().connections_refused, 0u);
  expect_still_serving();
}

}  // namespace
}  // namespace net::testing
