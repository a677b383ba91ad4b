// What every coroutine of one Transport shares: its options and handler, its counters, the fault
// rules, the seeded generators, the stop flag, and the count of coroutines still running — the
// count is what lets stop() say when everything has ended.
//
// Internal to net/ (transport.cc, peer_sender.cc, inbound_connection.cc, the snapshot streams);
// not part of the API.
//
// Thread-safety: stats(), the counters, options(), executor() and the members marked "any
// thread" may be called from any thread (the snapshot thread uses them). Everything else runs
// on the executor (or before the executor runs); the Transport posts calls made elsewhere.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "net/transport.h"

namespace net::detail {

class TransportShared : public std::enable_shared_from_this<TransportShared> {
 public:
  TransportShared(boost::asio::any_io_executor executor, TransportOptions options,
                  TransportHandler handler);

  const boost::asio::any_io_executor& executor() const { return executor_; }
  const TransportOptions& options() const { return options_; }

  // ---- coroutines and stopping (executor only) ----

  // Starts `coroutine` on the executor and counts it until it ends; then runs `on_end` (if any).
  // A coroutine that ends by an exception is a bug of this layer: it is logged and rethrown out
  // of the executor's run().
  void spawn(boost::asio::awaitable<void> coroutine, std::function<void()> on_end = {});
  // Any thread: starts `coroutine` on `executor` (the snapshot thread's), not counted (the
  // thread is), then runs `on_end` there. An exception is a bug, as above: it is logged and
  // rethrown out of this transport's executor's run(), not out of the snapshot thread.
  void spawn_on(boost::asio::any_io_executor executor, boost::asio::awaitable<void> coroutine,
                std::function<void()> on_end);
  // From now on no callback reaches the handler; coroutines see stopping() and end.
  void begin_stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  // Runs `done` (posted to the executor) once no counted coroutine runs. Call after begin_stop().
  void when_idle(std::function<void()> done);
  // Counts something else that must end before when_idle() fires (the snapshot thread), as a
  // coroutine is counted; release() when it has ended.
  void hold() { ++running_; }
  void release() { coroutine_ended(); }

  // ---- what the transport hands up (executor only; nothing after begin_stop) ----

  void deliver(raft::Message message);
  void report_unreachable(uint64_t peer);
  void deliver_snapshot(raft::Message message);
  void report_snapshot_sent(uint64_t peer, bool ok);
  // Any thread (the snapshot thread): the handler's on_snapshot_offer, or null if it is unset.
  // May throw whatever the handler throws.
  std::unique_ptr<SnapshotSink> offer_snapshot(const raft::Message& message, uint64_t size) const;

  // ---- peers this node accepts connections from (executor only) ----

  void add_known_peer(uint64_t id) { known_peers_.insert(id); }
  void remove_known_peer(uint64_t id) { known_peers_.erase(id); }
  bool is_known_peer(uint64_t id) const { return known_peers_.contains(id); }

  // ---- logging: every line carries this node's id ----

  bool logs(raft::LogLevel level) const { return level >= logger_->level(); }
  void log(raft::LogLevel level, std::string_view message) const;
  // Counts a connection closed for bad input and logs why, with the peer's address.
  void refuse(std::string_view remote, std::string_view reason);
  // Any thread: logs on the executor (the logger need not be thread-safe). A line posted by the
  // snapshot thread before it ends is logged before stop()'s `done` runs.
  void post_log(raft::LogLevel level, std::string message);
  // Any thread: a snapshot connection closed for bad input; counts it in connections_refused
  // and snapshots_failed and logs why (posted), with the peer's address.
  void refuse_snapshot(std::string_view remote, std::string_view reason);

  // ---- randomness (executor only) ----

  std::chrono::milliseconds next_backoff(unsigned failures);
  // True with probability p (the fault injector's drops).
  bool roll(double p);

  // ---- faults (executor only: posted like send(), so calls from one thread apply in order) ----

  FaultRules faults(uint64_t peer) const;
  void set_faults(uint64_t peer, const FaultRules& rules);
  void clear_faults();

  // ---- counters: written on the executor, read from any thread ----

  struct Counters {
    std::atomic<uint64_t> messages_sent{0};
    std::atomic<uint64_t> messages_received{0};
    std::atomic<uint64_t> writes{0};
    std::atomic<uint64_t> dropped_queue_full{0};
    std::atomic<uint64_t> dropped_by_faults{0};
    std::atomic<uint64_t> connections_refused{0};
    std::atomic<uint64_t> dials{0};
    std::atomic<uint64_t> snapshots_sent{0};
    std::atomic<uint64_t> snapshots_received{0};
    std::atomic<uint64_t> snapshots_failed{0};
    std::atomic<uint64_t> snapshot_bytes_sent{0};
  };
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
  Counters& counters() { return counters_; }
  TransportStats stats() const;

  // ---- traffic per peer (any thread: the snapshot thread counts its streams) ----
  void count_sent(uint64_t peer, uint64_t bytes, uint64_t messages);
  void count_received(uint64_t peer, uint64_t bytes, uint64_t messages);
  std::map<uint64_t, PeerTraffic> traffic() const;

 private:
  void coroutine_ended();

  boost::asio::any_io_executor executor_;
  TransportOptions options_;
  TransportHandler handler_;
  raft::Logger* logger_;

  bool stopping_ = false;
  size_t running_ = 0;
  std::vector<std::function<void()>> when_idle_;

  std::unordered_set<uint64_t> known_peers_;
  std::mt19937_64 backoff_rng_;
  std::mt19937_64 fault_rng_;

  std::unordered_map<uint64_t, FaultRules> faults_;

  Counters counters_;

  mutable std::mutex traffic_mutex_;
  std::map<uint64_t, PeerTraffic> traffic_;
};

}  // namespace net::detail
