#include "net/transport_shared.h"

#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "net/backoff.h"

namespace net::detail {

TransportShared::TransportShared(boost::asio::any_io_executor executor, TransportOptions options,
                                 TransportHandler handler)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      logger_(options_.logger != nullptr ? options_.logger : &raft::null_logger()),
      backoff_rng_(options_.seed),
      // A second stream, so whether a test injects drops does not change the backoff delays.
      fault_rng_(options_.seed ^ 0x9e3779b97f4a7c15ull) {}

void TransportShared::spawn(boost::asio::awaitable<void> coroutine, std::function<void()> on_end) {
  ++running_;
  boost::asio::co_spawn(
      executor_, std::move(coroutine),
      [self = shared_from_this(), on_end = std::move(on_end)](std::exception_ptr error) {
        if (on_end) on_end();
        self->coroutine_ended();
        if (error) {
          // Every expected failure (a socket error, a bad frame) is an error code handled where it
          // happens; an exception here is a bug, and hiding it would leave a peer silently dead.
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            self->log(raft::LogLevel::kError, raft::concat("net: coroutine failed: ", e.what()));
          } catch (...) {
            self->log(raft::LogLevel::kError, "net: coroutine failed with a non-std exception");
          }
          std::rethrow_exception(error);
        }
      });
}

void TransportShared::spawn_on(boost::asio::any_io_executor executor,
                               boost::asio::awaitable<void> coroutine,
                               std::function<void()> on_end) {
  boost::asio::co_spawn(
      std::move(executor), std::move(coroutine),
      [self = shared_from_this(), on_end = std::move(on_end)](std::exception_ptr error) {
        if (on_end) on_end();
        if (error) {
          boost::asio::post(self->executor_, [self, error] {
            try {
              std::rethrow_exception(error);
            } catch (const std::exception& e) {
              self->log(raft::LogLevel::kError,
                        raft::concat("net: snapshot coroutine failed: ", e.what()));
            } catch (...) {
              self->log(raft::LogLevel::kError,
                        "net: snapshot coroutine failed with a non-std exception");
            }
            std::rethrow_exception(error);
          });
        }
      });
}

void TransportShared::when_idle(std::function<void()> done) {
  if (done) when_idle_.push_back(std::move(done));
  if (running_ == 0) {
    // Posted, not called: `done` may destroy the Transport, which must not happen while one of
    // its coroutines' completion handlers is still on the stack.
    for (auto& callback : std::exchange(when_idle_, {})) {
      boost::asio::post(executor_, std::move(callback));
    }
  }
}

void TransportShared::coroutine_ended() {
  --running_;
  if (running_ == 0 && stopping_) when_idle({});
}

void TransportShared::deliver(raft::Message message) {
  if (stopping_) return;
  bump(counters_.messages_received);
  if (handler_.on_message) handler_.on_message(std::move(message));
}

void TransportShared::report_unreachable(uint64_t peer) {
  if (stopping_) return;
  if (handler_.on_unreachable) handler_.on_unreachable(peer);
}

void TransportShared::deliver_snapshot(raft::Message message) {
  if (stopping_) return;
  if (handler_.on_snapshot_received) handler_.on_snapshot_received(std::move(message));
}

void TransportShared::report_snapshot_sent(uint64_t peer, bool ok) {
  if (stopping_) return;
  if (handler_.on_snapshot_sent) handler_.on_snapshot_sent(peer, ok);
}

std::unique_ptr<SnapshotSink> TransportShared::offer_snapshot(const raft::Message& message,
                                                              uint64_t size) const {
  // handler_ is never written after construction, so reading it here races with nothing.
  if (!handler_.on_snapshot_offer) return nullptr;
  return handler_.on_snapshot_offer(message, size);
}

void TransportShared::log(raft::LogLevel level, std::string_view message) const {
  // The transport knows no term; 0 says so.
  if (logs(level)) logger_->log(level, options_.node_id, 0, message);
}

void TransportShared::refuse(std::string_view remote, std::string_view reason) {
  bump(counters_.connections_refused);
  if (logs(raft::LogLevel::kWarn)) {
    log(raft::LogLevel::kWarn, raft::concat("net: closing connection from ", remote, ": ", reason));
  }
}

void TransportShared::post_log(raft::LogLevel level, std::string message) {
  boost::asio::post(executor_, [self = shared_from_this(), level, message = std::move(message)] {
    self->log(level, message);
  });
}

void TransportShared::refuse_snapshot(std::string_view remote, std::string_view reason) {
  bump(counters_.connections_refused);
  bump(counters_.snapshots_failed);
  post_log(raft::LogLevel::kWarn,
           raft::concat("net: closing snapshot connection from ", remote, ": ", reason));
}

std::chrono::milliseconds TransportShared::next_backoff(unsigned failures) {
  return dial_backoff(failures, options_.dial_backoff_min, options_.dial_backoff_max, backoff_rng_);
}

bool TransportShared::roll(double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return std::bernoulli_distribution(p)(fault_rng_);
}

FaultRules TransportShared::faults(uint64_t peer) const {
  if (faults_.empty()) return {};
  auto it = faults_.find(peer);
  return it == faults_.end() ? FaultRules{} : it->second;
}

void TransportShared::set_faults(uint64_t peer, const FaultRules& rules) { faults_[peer] = rules; }

void TransportShared::clear_faults() { faults_.clear(); }

void TransportShared::count_sent(uint64_t peer, uint64_t bytes, uint64_t messages) {
  std::lock_guard lock(traffic_mutex_);
  PeerTraffic& t = traffic_[peer];
  t.bytes_sent += bytes;
  t.messages_sent += messages;
}

void TransportShared::count_received(uint64_t peer, uint64_t bytes, uint64_t messages) {
  std::lock_guard lock(traffic_mutex_);
  PeerTraffic& t = traffic_[peer];
  t.bytes_received += bytes;
  t.messages_received += messages;
}

std::map<uint64_t, PeerTraffic> TransportShared::traffic() const {
  std::lock_guard lock(traffic_mutex_);
  return traffic_;
}

TransportStats TransportShared::stats() const {
  TransportStats s;
  s.messages_sent = counters_.messages_sent.load(std::memory_order_relaxed);
  s.messages_received = counters_.messages_received.load(std::memory_order_relaxed);
  s.writes = counters_.writes.load(std::memory_order_relaxed);
  s.dropped_queue_full = counters_.dropped_queue_full.load(std::memory_order_relaxed);
  s.dropped_by_faults = counters_.dropped_by_faults.load(std::memory_order_relaxed);
  s.connections_refused = counters_.connections_refused.load(std::memory_order_relaxed);
  s.dials = counters_.dials.load(std::memory_order_relaxed);
  s.snapshots_sent = counters_.snapshots_sent.load(std::memory_order_relaxed);
  s.snapshots_received = counters_.snapshots_received.load(std::memory_order_relaxed);
  s.snapshots_failed = counters_.snapshots_failed.load(std::memory_order_relaxed);
  s.snapshot_bytes_sent = counters_.snapshot_bytes_sent.load(std::memory_order_relaxed);
  return s;
}

}  // namespace net::detail
