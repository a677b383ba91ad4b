#include "net/inbound_connection.h"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/snapshot_streams.h"

namespace net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// One read takes what the kernel has, up to this; a larger frame is reassembled by the decoder
// from several reads (it reserves the whole frame once it has seen the header).
constexpr size_t kReadChunk = 64u << 10;

std::string describe_endpoint(const tcp::socket& socket) {
  boost::system::error_code error;
  const tcp::endpoint remote = socket.remote_endpoint(error);
  if (error) return "an unknown address";
  return raft::concat(remote.address().to_string(), ":", remote.port());
}

}  // namespace

InboundConnection::InboundConnection(std::shared_ptr<TransportShared> shared,
                                     std::shared_ptr<SnapshotStreams> snapshots, tcp::socket socket)
    : shared_(std::move(shared)),
      snapshots_(std::move(snapshots)),
      socket_(std::move(socket)),
      remote_(describe_endpoint(socket_)),
      decoder_(shared_->options().max_frame_body, shared_->options().snapshot_chunk_bytes),
      read_buffer_(kReadChunk) {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
}

void InboundConnection::start(std::function<void()> on_end) {
  if (started_) return;
  started_ = true;
  shared_->spawn(run(shared_from_this()), std::move(on_end));
}

void InboundConnection::close() {
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
}

asio::awaitable<void> InboundConnection::run(std::shared_ptr<InboundConnection> /*keep_alive*/) {
  // The hello, raced against the timeout: a peer that connects and says nothing must not hold
  // a connection (and up to max_frame_body of buffer) for ever.
  asio::steady_timer deadline(socket_.get_executor());
  deadline.expires_after(shared_->options().hello_timeout);
  auto first = co_await (read_frame() || deadline.async_wait(kUseTuple));
  if (closed_ || shared_->stopping()) co_return;
  if (first.index() == 1) {
    refuse(raft::concat("no hello within ", shared_->options().hello_timeout.count(), " ms"));
    co_return;
  }
  const Read read = std::get<0>(first);
  if (read != Read::kHello) {
    // The decoder refuses a message before the hello itself (kUnexpected).
    const std::string reason = describe_failure(read);
    if (reason.empty()) {
      close();
    } else {
      refuse(reason);
    }
    co_return;
  }
  if (std::string reason = check_hello(); !reason.empty()) {
    refuse(reason);
    co_return;
  }
  peer_ = hello_.from;
  shared_->count_received(peer_, std::exchange(unattributed_bytes_, 0), 0);

  for (;;) {
    const Read next = co_await read_frame();
    if (closed_ || shared_->stopping()) co_return;
    if (next == Read::kOffer) {
      // Only ever the first frame after the hello: the decoder refuses an offer after messages.
      co_await take_offer();
      co_return;
    }
    if (next != Read::kMessage) {
      const std::string reason = describe_failure(next);
      if (reason.empty()) {
        close();
      } else {
        refuse(reason);
      }
      co_return;
    }
    if (std::string reason = check_message(); !reason.empty()) {
      refuse(reason);
      co_return;
    }
    // The peer may have been removed while its message was in flight.
    if (!shared_->is_known_peer(peer_)) {
      close();
      co_return;
    }
    if (shared_->faults(peer_).block_inbound) {
      TransportShared::bump(shared_->counters().dropped_by_faults);
      continue;
    }
    shared_->count_received(peer_, 0, 1);
    shared_->deliver(std::move(message_));
    message_.Clear();
  }
}

asio::awaitable<InboundConnection::Read> InboundConnection::read_frame() {
  for (;;) {
    switch (decoder_.next(&hello_, &message_)) {
      case FrameDecoder::Status::kHello: co_return Read::kHello;
      case FrameDecoder::Status::kMessage: co_return Read::kMessage;
      case FrameDecoder::Status::kSnapshotOffer: co_return Read::kOffer;
      // The decoder takes chunks only after an offer, and this connection stops reading then.
      case FrameDecoder::Status::kSnapshotChunk:
      case FrameDecoder::Status::kError: co_return Read::kBadFrame;
      case FrameDecoder::Status::kNeedMore: break;
    }
    auto [error, read] = co_await socket_.async_read_some(asio::buffer(read_buffer_), kUseTuple);
    if (error) {
      read_error_ = error;
      // Bytes of an unfinished frame, and then the end: the peer sent half a frame. Our own close
      // (operation_aborted) is not the peer's doing.
      if (decoder_.buffered() > 0 && error != asio::error::operation_aborted) {
        co_return Read::kTruncated;
      }
      co_return Read::kClosed;
    }
    if (peer_ != 0) {
      shared_->count_received(peer_, read, 0);
    } else {
      unattributed_bytes_ += read;  // counted once the hello says whose they are
    }
    decoder_.feed(std::string_view(read_buffer_.data(), read));
  }
}

std::string InboundConnection::check_hello() const {
  const TransportOptions& options = shared_->options();
  if (hello_.cluster_id != options.cluster_id) {
    return raft::concat("hello from node ", hello_.from, " of cluster ", hello_.cluster_id,
                        ", this is cluster ", options.cluster_id);
  }
  if (hello_.to != options.node_id) {
    return raft::concat("hello from node ", hello_.from, " to node ", hello_.to, ", this is node ",
                        options.node_id);
  }
  if (hello_.from == raft::kNone || !shared_->is_known_peer(hello_.from)) {
    return raft::concat("hello from unknown node ", hello_.from);
  }
  return {};
}

std::string InboundConnection::check_message() const {
  const uint64_t self = shared_->options().node_id;
  if (message_.to() != self) {
    return raft::concat("peer ", peer_, " sent a message for node ", message_.to(),
                        ", this is node ", self, ": ", raft::describe(message_));
  }
  // A follower forwards a leadership transfer to the leader with the transferee in `from`.
  if (message_.from() != peer_ && message_.msg_type() != raft::MessageType::MsgTransferLeader) {
    return raft::concat("peer ", peer_, " sent a message from node ", message_.from(), ": ",
                        raft::describe(message_));
  }
  return {};
}

std::string InboundConnection::check_offer() const {
  if (message_.msg_type() != raft::MessageType::MsgSnapshot) {
    return raft::concat("peer ", peer_, " offered a snapshot stream with a message that is not "
                        "a MsgSnapshot: ", raft::describe(message_));
  }
  const uint64_t self = shared_->options().node_id;
  if (message_.to() != self) {
    return raft::concat("peer ", peer_, " offered a snapshot for node ", message_.to(),
                        ", this is node ", self, ": ", raft::describe(message_));
  }
  if (message_.from() != peer_) {
    return raft::concat("peer ", peer_, " offered a snapshot from node ", message_.from(), ": ",
                        raft::describe(message_));
  }
  return {};
}

asio::awaitable<void> InboundConnection::take_offer() {
  if (std::string reason = check_offer(); !reason.empty()) {
    TransportShared::bump(shared_->counters().snapshots_failed);
    refuse(reason);
    co_return;
  }
  // The peer may have been removed while its offer was in flight.
  if (!shared_->is_known_peer(peer_)) {
    close();
    co_return;
  }
  if (shared_->faults(peer_).block_inbound) {
    co_await decline_offer("inbound traffic from the peer is blocked (fault injection)");
    co_return;
  }
  if (std::string busy = snapshots_->admit_receive(); !busy.empty()) {
    co_await decline_offer(busy);
    co_return;
  }
  const uint64_t size = decoder_.offer_size();
  snapshots_->receive(peer_, remote_, socket_, std::move(decoder_), std::move(message_), size);
  closed_ = true;
}

asio::awaitable<void> InboundConnection::decline_offer(std::string_view reason) {
  TransportShared::bump(shared_->counters().snapshots_failed);
  if (shared_->logs(raft::LogLevel::kInfo)) {
    shared_->log(raft::LogLevel::kInfo,
                 raft::concat("net: declining snapshot ", raft::describe(message_), " of ",
                              decoder_.offer_size(), " bytes from ", remote_, " (peer ", peer_,
                              "): ", reason));
  }
  std::string frame;
  append_snapshot_result_frame(frame, false);
  auto [error, written] = co_await asio::async_write(socket_, asio::buffer(frame), kUseTuple);
  if (!error && !closed_) {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    asio::steady_timer deadline(socket_.get_executor());
    deadline.expires_after(shared_->options().hello_timeout);
    auto drain = [](tcp::socket& socket, std::vector<char>& buffer) -> asio::awaitable<void> {
      for (;;) {
        auto [read_error, read] = co_await socket.async_read_some(asio::buffer(buffer), kUseTuple);
        if (read_error) co_return;
      }
    };
    co_await (drain(socket_, read_buffer_) || deadline.async_wait(kUseTuple));
  }
  close();
}

std::string InboundConnection::describe_failure(Read read) const {
  switch (read) {
    case Read::kBadFrame: return raft::concat("bad frame: ", decoder_.error().message());
    case Read::kTruncated:
      return raft::concat("connection closed in the middle of a frame (", decoder_.buffered(),
                          " bytes of it received): ", read_error_.message());
    case Read::kHello: return "unexpected hello";
    case Read::kMessage: return "unexpected message";
    case Read::kOffer: return "unexpected snapshot offer";
    case Read::kClosed: return {};
  }
  return {};
}

void InboundConnection::refuse(std::string_view reason) {
  const std::string who =
      peer_ != raft::kNone ? raft::concat(remote_, " (peer ", peer_, ")") : remote_;
  shared_->refuse(who, reason);
  // The FIN goes out first, so the peer reads an orderly end even if unread bytes of ours make
  // the close below reset the connection.
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  close();
}

}  // namespace net::detail
