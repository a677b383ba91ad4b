#include "net/snapshot_receiver.h"

#include <exception>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// One read takes what the kernel has, up to this. Larger than a message connection's reads: a
// snapshot is bulk, and fewer, larger reads keep the receiver ahead of a fast sender.
constexpr size_t kReadChunk = 256u << 10;
// What drain() reads at a time: the bytes are dropped, so the size only sets the syscall count.
constexpr size_t kDrainChunk = 64u << 10;

}  // namespace

SnapshotReceiver::SnapshotReceiver(std::shared_ptr<TransportShared> shared, tcp::socket socket,
                                   std::string remote, uint64_t peer, FrameDecoder decoder,
                                   raft::Message offer, uint64_t size)
    : shared_(std::move(shared)),
      socket_(std::move(socket)),
      remote_(std::move(remote)),
      peer_(peer),
      decoder_(std::move(decoder)),
      offer_(std::move(offer)),
      size_(size),
      stall_(socket_.get_executor(), shared_->options().snapshot_idle_timeout) {}

void SnapshotReceiver::start(Done done, std::function<void()> ended) {
  if (started_) return;
  started_ = true;
  done_ = std::move(done);
  auto self = shared_from_this();
  shared_->spawn_on(socket_.get_executor(), run(self), [self, ended = std::move(ended)] {
    // Only if the coroutine ended by an exception (a bug) is there still a sink or an outcome to
    // report: the sink is dropped and the receive limit released all the same.
    self->abort_sink();
    if (self->done_) std::exchange(self->done_, {})(false);
    if (ended) ended();
  });
}

void SnapshotReceiver::close() {
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  stall_.cancel();
}

asio::awaitable<void> SnapshotReceiver::run(std::shared_ptr<SnapshotReceiver> /*keep_alive*/) {
  std::string declined;
  // Not asked at all when the stream was cut before it started (stop() right after the offer).
  if (!closed_) {
    try {
      sink_ = shared_->offer_snapshot(offer_, size_);
      if (!sink_) declined = "this node declined it";
    } catch (const std::exception& e) {
      declined = raft::concat("the offer handler failed: ", e.what());
    }
  }
  auto& counters = shared_->counters();
  if (!declined.empty() && !closed_) {
    TransportShared::bump(counters.snapshots_failed);
    shared_->post_log(raft::LogLevel::kInfo,
                      raft::concat("net: refused snapshot ", raft::describe(offer_), " of ", size_,
                                   " bytes from ", who(), ": ", declined));
    if (done_) std::exchange(done_, {})(false);
    co_await answer(false);
    co_return;
  }

  End end = End::kClosed;
  if (!closed_) {
    stall_.touch();
    auto outcome = co_await (receive() || stall_.stalled());
    if (outcome.index() == 0) {
      end = std::get<0>(outcome);
    } else if (std::get<1>(outcome)) {
      reason_ = raft::concat("no progress for ", shared_->options().snapshot_idle_timeout.count(),
                             " ms (", received_, " of ", size_, " bytes received)");
      end = End::kStalled;
    }
  }
  if (closed_) end = End::kClosed;

  if (end == End::kComplete) {
    try {
      sink_->commit();
    } catch (const std::exception& e) {
      reason_ = raft::concat("the sink's commit failed: ", e.what());
      end = End::kSinkFailed;
    }
  }
  switch (end) {
    case End::kComplete:
      sink_.reset();
      TransportShared::bump(counters.snapshots_received);
      shared_->post_log(raft::LogLevel::kInfo,
                        raft::concat("net: received snapshot ", raft::describe(offer_), " (",
                                     size_, " bytes) from ", who()));
      // Handed up before the sender hears of it: once the sender reports success, the snapshot
      // is on its way to this node's core.
      if (done_) std::exchange(done_, {})(true);
      co_await answer(true);
      co_return;
    case End::kStalled:
      abort_sink();
      TransportShared::bump(counters.snapshots_failed);
      shared_->post_log(raft::LogLevel::kWarn, raft::concat("net: snapshot from ", who(),
                                                            " failed: ", reason_));
      close();
      break;
    case End::kSinkFailed:
      abort_sink();
      TransportShared::bump(counters.snapshots_failed);
      shared_->post_log(raft::LogLevel::kWarn, raft::concat("net: snapshot from ", who(),
                                                            " failed: ", reason_));
      if (done_) std::exchange(done_, {})(false);
      co_await answer(false);
      break;
    case End::kBadInput:
      abort_sink();
      shared_->refuse_snapshot(who(), reason_);
      close();
      break;
    case End::kClosed:
      abort_sink();
      TransportShared::bump(counters.snapshots_failed);
      shared_->post_log(raft::LogLevel::kInfo,
                        raft::concat("net: snapshot from ", who(), " cut after ", received_,
                                     " of ", size_, " bytes"));
      close();
      break;
  }
  if (done_) std::exchange(done_, {})(false);
}

asio::awaitable<SnapshotReceiver::End> SnapshotReceiver::receive() {
  Hello hello;
  raft::Message unexpected;
  while (received_ < size_) {
    switch (decoder_.next(&hello, &unexpected)) {
      case FrameDecoder::Status::kSnapshotChunk: {
        const std::string_view chunk = decoder_.chunk();
        if (chunk.size() > size_ - received_) {
          reason_ = raft::concat("a chunk of ", chunk.size(), " bytes runs past the offered ",
                                 size_, " bytes (", received_, " received)");
          co_return End::kBadInput;
        }
        if (chunk.empty()) continue;
        try {
          sink_->write(chunk.data(), chunk.size());
        } catch (const std::exception& e) {
          reason_ = raft::concat("the sink's write failed after ", received_, " of ", size_,
                                 " bytes: ", e.what());
          co_return End::kSinkFailed;
        }
        if (closed_) co_return End::kClosed;
        received_ += chunk.size();
        stall_.touch();
        continue;
      }
      case FrameDecoder::Status::kError:
        reason_ = raft::concat("bad frame after ", received_, " of ", size_,
                               " bytes: ", decoder_.error().message());
        co_return End::kBadInput;
      case FrameDecoder::Status::kNeedMore: break;
      case FrameDecoder::Status::kHello:
      case FrameDecoder::Status::kMessage:
      case FrameDecoder::Status::kSnapshotOffer:
        // The decoder refuses these once it has seen an offer; kept for completeness.
        reason_ = "unexpected frame on a snapshot connection";
        co_return End::kBadInput;
    }
    // Read straight into the decoder: the bytes are copied once, by the kernel.
    char* room = decoder_.prepare(kReadChunk);
    auto [error, n] = co_await socket_.async_read_some(asio::buffer(room, kReadChunk), kUseTuple);
    decoder_.commit(error ? 0 : n);
    if (!error) shared_->count_received(peer_, n, 0);
    if (closed_) co_return End::kClosed;
    if (error) {
      if (decoder_.buffered() > 0) {
        reason_ = raft::concat("connection closed in the middle of a frame (",
                               decoder_.buffered(), " bytes of it received, ", received_, " of ",
                               size_, " bytes of the snapshot): ", error.message());
      } else {
        reason_ = raft::concat("connection closed after ", received_, " of ", size_,
                               " bytes: ", error.message());
      }
      co_return End::kBadInput;
    }
    stall_.touch();
  }
  co_return End::kComplete;
}

asio::awaitable<void> SnapshotReceiver::answer(bool ok) {
  std::string frame;
  append_snapshot_result_frame(frame, ok);
  auto [error, n] = co_await asio::async_write(socket_, asio::buffer(frame), kUseTuple);
  if (!error && !closed_) {
    // Half-close and wait for the sender to close: closing now, with chunks of a refused stream
    // still unread here, would reset the connection and could discard the result on its way.
    // The sender closes as soon as it reads the result; the stall timer bounds the wait.
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    stall_.touch();
    co_await (drain() || stall_.stalled());
  }
  close();
}

asio::awaitable<void> SnapshotReceiver::drain() {
  std::vector<char> scratch(kDrainChunk);
  for (;;) {
    auto [error, n] = co_await socket_.async_read_some(asio::buffer(scratch), kUseTuple);
    if (error) co_return;
  }
}

void SnapshotReceiver::abort_sink() {
  if (!sink_) return;
  try {
    sink_->abort();
  } catch (const std::exception& e) {
    shared_->post_log(raft::LogLevel::kError,
                      raft::concat("net: aborting the snapshot sink of a stream from ", who(),
                                   " failed: ", e.what()));
  }
  sink_.reset();
}

std::string SnapshotReceiver::who() const {
  return raft::concat(remote_, " (peer ", peer_, ")");
}

}  // namespace net::detail
