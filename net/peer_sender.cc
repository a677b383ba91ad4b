#include "net/peer_sender.h"

#include <array>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/frame.h"

namespace net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// The write buffer's capacity kept between batches. A burst (a large MsgAppend, or a backlog
// written on reconnection) grows it; giving that back keeps an idle peer from holding it.
constexpr size_t kRetainedWriteBuffer = 1u << 20;

}  // namespace

PeerSender::PeerSender(std::shared_ptr<TransportShared> shared, uint64_t id, PeerAddress address)
    : shared_(std::move(shared)),
      id_(id),
      address_(std::move(address)),
      resolver_(shared_->executor()),
      socket_(shared_->executor()),
      backoff_timer_(shared_->executor()),
      wake_(shared_->executor()) {}

void PeerSender::start() {
  if (started_) return;
  started_ = true;
  shared_->spawn(run(shared_from_this()));
}

void PeerSender::set_address(PeerAddress address) {
  if (address.host == address_.host && address.port == address_.port) return;
  address_ = std::move(address);
  ++address_version_;
  // Whatever the coroutine is doing (waiting, dialling, writing) ends now; it sees the new
  // version and dials the new address without waiting.
  backoff_timer_.cancel();
  resolver_.cancel();
  close_socket(asio::error::operation_aborted);
}

void PeerSender::close() {
  closed_ = true;
  backoff_timer_.cancel();
  resolver_.cancel();
  close_socket(asio::error::operation_aborted);
  clear_queue();
}

void PeerSender::send(raft::Message message) {
  if (!active()) return;
  const FaultRules rules = shared_->faults(id_);
  if (rules.block_outbound || shared_->roll(rules.drop_outbound)) {
    TransportShared::bump(shared_->counters().dropped_by_faults);
    return;
  }
  const TransportOptions& options = shared_->options();
  const size_t body = message.ByteSizeLong();
  if (body > options.max_frame_body) {
    // The acceptor would refuse the frame and close the connection, losing everything behind it.
    TransportShared::bump(shared_->counters().dropped_queue_full);
    shared_->log(
        raft::LogLevel::kWarn,
        raft::concat("net: dropping a message of ", body, " bytes to peer ", id_,
                     " (max_frame_body ", options.max_frame_body, "): ", raft::describe(message)));
    shared_->report_unreachable(id_);
    return;
  }
  const uint64_t bytes = kFrameHeaderSize + body;
  if (queue_.size() >= options.max_queue_messages ||
      queued_bytes_ + bytes > options.max_queue_bytes) {
    TransportShared::bump(shared_->counters().dropped_queue_full);
    shared_->report_unreachable(id_);
    return;
  }
  Clock::time_point due{};
  if (rules.delay_outbound.count() > 0) due = Clock::now() + rules.delay_outbound;
  queue_.push_back(Queued{std::move(message), bytes, due});
  queued_bytes_ += bytes;
  wake_.cancel();
}

asio::awaitable<void> PeerSender::run(std::shared_ptr<PeerSender> /*keep_alive*/) {
  unsigned failures = 0;
  uint64_t version = address_version_;
  while (active()) {
    if (version != address_version_) {
      // The peer moved: what failed before says nothing about the new address.
      version = address_version_;
      failures = 0;
    }
    if (failures > 0) {
      backoff_timer_.expires_after(shared_->next_backoff(failures));
      co_await backoff_timer_.async_wait(kUseTuple);
      if (!active()) break;
      if (version != address_version_) continue;
    }

    const bool connected = co_await dial();
    if (!active()) break;
    if (version != address_version_) continue;
    if (!connected) {
      ++failures;
      shared_->report_unreachable(id_);
      continue;
    }

    const Clock::time_point connected_at = Clock::now();
    close_reason_ = {};
    if (shared_->logs(raft::LogLevel::kInfo)) {
      shared_->log(raft::LogLevel::kInfo,
                   raft::concat("net: connected to peer ", id_, " at ", describe_address()));
    }
    co_await (write_until_closed() && watch_until_closed());
    if (!active()) break;
    if (version != address_version_) continue;

    // Lost. The core resends what matters once it hears the peer is unreachable; keeping the
    // queue would only deliver stale messages late.
    clear_queue();
    failures =
        Clock::now() - connected_at >= shared_->options().dial_backoff_max ? 1 : failures + 1;
    if (shared_->logs(raft::LogLevel::kInfo)) {
      shared_->log(raft::LogLevel::kInfo,
                   raft::concat("net: connection to peer ", id_, " at ", describe_address(),
                                " lost: ", close_reason_.message()));
    }
    shared_->report_unreachable(id_);
  }
  close_socket();
  clear_queue();
}

asio::awaitable<bool> PeerSender::dial() {
  TransportShared::bump(shared_->counters().dials);
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(address_.host, error);
  if (!error) {
    endpoints.emplace_back(address, address_.port);
  } else {
    auto [resolve_error, results] =
        co_await resolver_.async_resolve(address_.host, std::to_string(address_.port), kUseTuple);
    if (!active()) co_return false;
    if (resolve_error) {
      shared_->log(raft::LogLevel::kDebug,
                   raft::concat("net: cannot resolve peer ", id_, " at ", describe_address(), ": ",
                                resolve_error.message()));
      co_return false;
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  // A connect to a host that silently drops packets would otherwise hang for minutes while the
  // queue fills; hello_timeout is how long this cluster lets a new connection take.
  asio::steady_timer deadline(socket_.get_executor());
  deadline.expires_after(shared_->options().hello_timeout);
  for (const tcp::endpoint& endpoint : endpoints) {
    if (!active()) co_return false;
    close_socket();
    auto outcome =
        co_await (socket_.async_connect(endpoint, kUseTuple) || deadline.async_wait(kUseTuple));
    if (outcome.index() == 1) {
      error = asio::error::timed_out;
      break;
    }
    error = std::get<0>(std::get<0>(outcome));
    if (!error) {
      // Coalescing already batches what is queued; Nagle would only add latency to the batch.
      socket_.set_option(tcp::no_delay(true), error);
      co_return true;
    }
  }
  close_socket();
  if (shared_->logs(raft::LogLevel::kDebug)) {
    shared_->log(raft::LogLevel::kDebug,
                 raft::concat("net: dial to peer ", id_, " at ", describe_address(),
                              " failed: ", error.message()));
  }
  co_return false;
}

asio::awaitable<void> PeerSender::write_until_closed() {
  const TransportOptions& options = shared_->options();
  std::string buffer;
  Hello hello;
  hello.cluster_id = options.cluster_id;
  hello.from = options.node_id;
  hello.to = id_;
  append_hello_frame(buffer, hello);
  size_t batched = 0;  // messages in `buffer`
  while (active() && socket_.is_open()) {
    Clock::time_point next_due;
    batched += take_due(buffer, next_due);
    if (buffer.empty()) {
      // Nothing to write: sleep until send() cancels the wait, or until a delayed message is due.
      wake_.expires_at(next_due);
      co_await wake_.async_wait(kUseTuple);
      continue;
    }
    auto [error, written] = co_await asio::async_write(socket_, asio::buffer(buffer), kUseTuple);
    if (error) {
      close_socket(error);
      break;
    }
    TransportShared::bump(shared_->counters().writes);
    TransportShared::bump(shared_->counters().messages_sent, batched);
    shared_->count_sent(id_, written, batched);
    batched = 0;
    if (buffer.capacity() > kRetainedWriteBuffer) {
      std::string().swap(buffer);
    } else {
      buffer.clear();
    }
  }
  close_socket();
}

asio::awaitable<void> PeerSender::watch_until_closed() {
  std::array<char, 256> scratch;
  auto [error, read] = co_await socket_.async_read_some(asio::buffer(scratch), kUseTuple);
  if (!error) {
    // An acceptor sends nothing on a connection it accepted: whoever answers is not a peer.
    error = asio::error::make_error_code(asio::error::connection_aborted);
    shared_->log(raft::LogLevel::kWarn,
                 raft::concat("net: closing connection to peer ", id_, " at ", describe_address(),
                              ": it sent ", read, " bytes; acceptors send nothing"));
  }
  close_socket(error);
}

size_t PeerSender::take_due(std::string& out, Clock::time_point& next_due) {
  next_due = Clock::time_point::max();
  size_t taken = 0;
  Clock::time_point now{};
  while (!queue_.empty()) {
    Queued& head = queue_.front();
    if (head.due != Clock::time_point{}) {
      if (now == Clock::time_point{}) now = Clock::now();
      if (head.due > now) {
        next_due = head.due;
        break;
      }
    }
    append_message_frame(out, head.message);
    queued_bytes_ -= head.bytes;
    queue_.pop_front();
    ++taken;
  }
  return taken;
}

void PeerSender::clear_queue() {
  queue_.clear();
  queued_bytes_ = 0;
}

void PeerSender::close_socket(boost::system::error_code why) {
  if (why && !close_reason_) close_reason_ = why;
  boost::system::error_code ignored;
  socket_.close(ignored);
  wake_.cancel();
}

std::string PeerSender::describe_address() const {
  return raft::concat(address_.host, ":", address_.port);
}

}  // namespace net::detail
