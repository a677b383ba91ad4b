#include "net/snapshot_sender.h"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/frame.h"

namespace net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// A chunk's size: what the options say, at least one byte, and at most what a frame header can
// announce.
size_t chunk_bytes(const TransportOptions& options) {
  return std::clamp<size_t>(options.snapshot_chunk_bytes, 1, UINT32_MAX);
}

}  // namespace

SnapshotSender::SnapshotSender(std::shared_ptr<TransportShared> shared,
                               asio::any_io_executor executor, PeerAddress address,
                               raft::Message message, std::unique_ptr<SnapshotSource> source)
    : shared_(std::move(shared)),
      executor_(std::move(executor)),
      address_(std::move(address)),
      message_(std::move(message)),
      source_(std::move(source)),
      resolver_(executor_),
      socket_(executor_),
      parked_(executor_),
      stall_(executor_, shared_->options().snapshot_idle_timeout) {
  // The bytes travel in chunks, never in the message: an offer stays small.
  if (message_.has_snapshot()) message_.mutable_snapshot()->clear_data();
}

void SnapshotSender::start(Done done, std::function<void()> ended) {
  if (started_) return;
  started_ = true;
  done_ = std::move(done);
  auto self = shared_from_this();
  shared_->spawn_on(executor_, run(self), [self, ended = std::move(ended)] {
    // A coroutine that ended by an exception (a bug) still reports, so the send limit and the
    // core's wait for MsgSnapStatus are released.
    if (self->done_) std::exchange(self->done_, {})(false);
    if (ended) ended();
  });
}

void SnapshotSender::close() {
  closed_ = true;
  boost::system::error_code ignored;
  resolver_.cancel();
  socket_.close(ignored);
  parked_.cancel();
  stall_.cancel();
}

void SnapshotSender::fail(std::string reason) {
  if (failure_.empty()) failure_ = std::move(reason);
}

asio::awaitable<void> SnapshotSender::run(std::shared_ptr<SnapshotSender> /*keep_alive*/) {
  size_ = source_->size();
  if (co_await dial()) {
    const TransportOptions& options = shared_->options();
    std::string opening;
    Hello hello;
    hello.cluster_id = options.cluster_id;
    hello.from = options.node_id;
    hello.to = peer();
    append_hello_frame(opening, hello);
    append_snapshot_offer_frame(opening, message_, size_);
    auto [error, written] = co_await asio::async_write(socket_, asio::buffer(opening), kUseTuple);
    if (error) {
      fail(raft::concat("cannot send the offer: ", error.message()));
    } else if (!closed_) {
      shared_->count_sent(peer(), written, 0);
      stall_.touch();
      auto outcome = co_await (write_chunks() || read_result() || stall_.stalled());
      if (outcome.index() == 2 && std::get<2>(outcome) && !closed_ && !succeeded_) {
        // Overrides what the branches cut short by it may have said.
        failure_.clear();
        fail(raft::concat("no progress for ", options.snapshot_idle_timeout.count(), " ms (",
                          written_, " of ", size_, " bytes written)"));
      }
    }
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  source_.reset();

  // The peer's result decides, even if a cut came after it.
  const bool ok = succeeded_;
  if (ok) {
    TransportShared::bump(shared_->counters().snapshots_sent);
    shared_->post_log(raft::LogLevel::kInfo,
                      raft::concat("net: sent snapshot ", raft::describe(message_), " (", size_,
                                   " bytes) to ", describe_peer()));
  } else {
    TransportShared::bump(shared_->counters().snapshots_failed);
    if (failure_.empty()) failure_ = "the stream ended without a result";
    if (closed_) {
      shared_->post_log(raft::LogLevel::kInfo,
                        raft::concat("net: snapshot to ", describe_peer(), " cut after ",
                                     written_, " of ", size_, " bytes"));
    } else {
      shared_->post_log(raft::LogLevel::kWarn,
                        raft::concat("net: snapshot to ", describe_peer(), " failed: ", failure_));
    }
  }
  if (done_) std::exchange(done_, {})(ok);
}

asio::awaitable<bool> SnapshotSender::dial() {
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(address_.host, error);
  if (!error) {
    endpoints.emplace_back(address, address_.port);
  } else {
    auto [resolve_error, results] =
        co_await resolver_.async_resolve(address_.host, std::to_string(address_.port), kUseTuple);
    if (closed_) co_return false;
    if (resolve_error) {
      fail(raft::concat("cannot resolve the address: ", resolve_error.message()));
      co_return false;
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  asio::steady_timer deadline(executor_);
  deadline.expires_after(shared_->options().hello_timeout);
  error = asio::error::host_not_found;
  for (const tcp::endpoint& endpoint : endpoints) {
    if (closed_) co_return false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    auto outcome =
        co_await (socket_.async_connect(endpoint, kUseTuple) || deadline.async_wait(kUseTuple));
    if (outcome.index() == 1) {
      error = asio::error::timed_out;
      break;
    }
    error = std::get<0>(std::get<0>(outcome));
    if (!error && !closed_) {
      socket_.set_option(tcp::no_delay(true), error);
      co_return true;
    }
  }
  if (!closed_) fail(raft::concat("cannot connect: ", error.message()));
  co_return false;
}

asio::awaitable<void> SnapshotSender::write_chunks() {
  const size_t chunk = static_cast<size_t>(std::min<uint64_t>(
      chunk_bytes(shared_->options()), std::max<uint64_t>(size_, 1)));
  // One frame's buffer, reused: the source reads straight into the body, behind the header.
  std::string frame(kFrameHeaderSize + chunk, '\0');
  while (written_ < size_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, size_ - written_));
    size_t got = 0;
    try {
      got = source_->read(frame.data() + kFrameHeaderSize, want);
    } catch (const std::exception& e) {
      fail(raft::concat("reading the snapshot failed after ", written_, " of ", size_,
                        " bytes: ", e.what()));
      co_return;
    }
    if (closed_) co_return;
    if (got == 0 || got > want) {
      fail(got == 0 ? raft::concat("the source ended after ", written_, " of ", size_, " bytes")
                    : raft::concat("the source returned ", got, " bytes where ", want,
                                   " were asked for"));
      co_return;
    }
    stall_.touch();
    seal_snapshot_chunk_frame(frame.data(), static_cast<uint32_t>(got));
    auto [error, n] = co_await asio::async_write(
        socket_, asio::buffer(frame.data(), kFrameHeaderSize + got), kUseTuple);
    if (error) {
      // Cancelled: another branch ended the race and says why.
      if (!closed_ && error != asio::error::operation_aborted) {
        fail(raft::concat("write failed after ", written_, " of ", size_,
                          " bytes: ", error.message()));
      }
      co_return;
    }
    written_ += got;
    stall_.touch();
    TransportShared::bump(shared_->counters().snapshot_bytes_sent, got);
    shared_->count_sent(peer(), n, 0);
  }
  // Everything is out: the result (or the stall timer, or close()) ends the race.
  parked_.expires_at(asio::steady_timer::time_point::max());
  co_await parked_.async_wait(kUseTuple);
}

asio::awaitable<void> SnapshotSender::read_result() {
  std::array<char, kSnapshotResultFrameSize> frame{};
  auto [error, n] = co_await asio::async_read(socket_, asio::buffer(frame), kUseTuple);
  if (closed_) co_return;
  if (error) {
    // Cancelled because another branch won: nothing to say.
    if (error == asio::error::operation_aborted) co_return;
    fail(raft::concat("connection closed without a result after ", written_, " of ", size_,
                      " bytes: ", error.message()));
    co_return;
  }
  bool ok = false;
  if (const FrameError bad = decode_snapshot_result_frame({frame.data(), n}, &ok);
      bad != FrameError::kOk) {
    fail(raft::concat("bad result frame: ", make_error_code(bad).message()));
  } else if (!ok) {
    fail(raft::concat("the peer refused or could not keep the snapshot (", written_, " of ",
                      size_, " bytes written)"));
  } else if (written_ != size_) {
    fail(raft::concat("the peer reported success after ", written_, " of ", size_, " bytes"));
  } else {
    succeeded_ = true;
  }
}

std::string SnapshotSender::describe_peer() const {
  return raft::concat("peer ", peer(), " at ", address_.host, ":", address_.port);
}

}  // namespace net::detail
