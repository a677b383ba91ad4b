// Node's insides: the state that lives on the node's strand, and the steps of its pipeline.
// Internal to framework/ (node.cc: lifetime and requests; node_pipeline.cc: ticks, messages,
// Readys, persistence and apply outcomes).
//
// Everything here runs on strand_, except the constructor and the callbacks of the disk and
// apply threads, which only post to strand_.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "framework/apply_worker.h"
#include "framework/command_codec.h"
#include "framework/disk_writer.h"
#include "framework/node.h"
#include "framework/snapshot_transfer.h"
#include "framework/snapshotter.h"
#include "framework/waiter.h"
#include "net/transport.h"
#include "raft/raw_node.h"
#include "wal/durable_storage.h"

namespace framework {

// Every member of a configuration: voters of both halves and learners.
inline std::set<uint64_t> members_of(const raft::ConfState& cs) {
  std::set<uint64_t> ids;
  for (uint64_t id : cs.voters()) ids.insert(id);
  for (uint64_t id : cs.voters_outgoing()) ids.insert(id);
  for (uint64_t id : cs.learners()) ids.insert(id);
  for (uint64_t id : cs.learners_next()) ids.insert(id);
  return ids;
}

class Node::Impl : public std::enable_shared_from_this<Impl> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using Clock = std::chrono::steady_clock;

  Impl(boost::asio::any_io_executor executor, NodeConfig config,
       std::shared_ptr<StateMachine> state_machine);
  ~Impl();

  // --- node.cc ---
  void start();
  // Runs `on_strand(*this, Waiter<T>)` on the strand and resumes the caller with the Reply.
  template <typename T, typename F>
  boost::asio::awaitable<Reply<T>> request(F on_strand);

  void propose(std::string command, Waiter<Proposed> w);
  void read_index(Waiter<uint64_t> w);
  void change_membership(std::vector<MemberChange> changes, bool promote,
                         Waiter<raft::ConfState> w);
  void transfer_leader(uint64_t to, Waiter<Empty> w);
  void request_snapshot(Waiter<uint64_t> w);
  NodeStatus status() const;
  void stop(Waiter<Empty> w);

  // --- node_metrics.cc ---
  // Any thread.
  NodeMetrics metrics() const;
  // Counters bumped where their events happen (any thread).
  struct MetricCounters {
    std::atomic<uint64_t> leader_changes{0};
    std::atomic<uint64_t> proposals{0};
    std::atomic<uint64_t> proposals_failed{0};
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> reads_failed{0};
    std::atomic<uint64_t> entries_applied{0};
    std::atomic<uint64_t> snapshots_taken{0};
  };
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
  MetricCounters counters_;
  // Synchronous teardown for the destructor (the io_context no longer runs).
  void shutdown_now();

  const NodeConfig& config() const { return config_; }
  uint16_t port() const { return port_; }
  void set_peer_address(uint64_t id, net::PeerAddress address);
  // peer 0 clears every fault.
  void set_faults(uint64_t peer, const net::FaultRules& rules);

  Strand strand_;

 private:
  enum class Phase { kNew, kRunning, kStopping, kStopped };

  // A read waiting for its read index, then for that index to be applied here.
  struct PendingRead {
    Waiter<uint64_t> waiter;
    uint64_t index = 0;  // the read index, once the core answered (0 before)
  };
  struct PendingTransfer {
    Waiter<Empty> waiter;
    uint64_t to = 0;
  };
  // A membership change whose entry was handed out for applying: resolve at `index`.
  struct ConfOutcome {
    uint64_t request = 0;
    uint64_t index = 0;
    std::error_code error;
    raft::ConfState conf;
  };

  // --- node.cc ---
  void open_storage();
  void start_transport();
  void start_workers(ApplyPosition position);
  void submit_apply(ApplyJob job);
  void bootstrap();
  uint64_t leader() const;
  bool accepting(std::error_code& ec) const;
  bool full() const;
  size_t pending_count() const;
  Clock::time_point deadline() const { return Clock::now() + config_.request_timeout; }

  // --- node_metrics.cc ---
  // Copies the strand's view (term, leader, indexes, pending requests) into gauges_.
  void publish_gauges();
  // Destroys the transport, keeping its last counters for metrics().
  void release_transport();

  // --- node_snapshots.cc ---
  void open_snapshots();
  // Storage's snapshot source: the stored snapshot for a follower, or a request for a new one.
  raft::Result<raft::Snapshot> snapshot_for(uint64_t request_index, uint64_t to);
  void maybe_take_snapshot();
  void on_snapshot_taken(TakenSnapshot taken);
  void on_snapshot_written(snapshot::SnapshotInfo info, const std::string& error);
  void on_snapshot_recorded(const raft::SnapshotMetadata& metadata);
  // Sends a message; a MsgSnapshot goes as a stream of the stored file.
  void send(raft::Message m);
  // On the transport's snapshot thread.
  std::unique_ptr<net::SnapshotSink> accept_snapshot_offer(const raft::Message& m, uint64_t size);
  // Sets the transport's address for a member (this node's config first, then learned ones).
  void connect_member(uint64_t id);

  // --- node_pipeline.cc ---
  void arm_ticker();
  void on_tick();
  void on_message(raft::Message m);
  void schedule_ready();
  void run_ready();
  void flush_proposals();
  void handle_ready(raft::Ready rd);
  void hand_out_committed(raft::EntryVec entries);
  void apply_conf_entry(const raft::Entry& e, ApplyJob& job);
  // The configuration in force changed: the transport gains the new members at once and loses
  // the departed ones after a grace period.
  void set_members(std::set<uint64_t> now);
  void on_leader_change(uint64_t leader, uint64_t term);
  void on_persisted(uint64_t ready_number);
  void on_applied(ApplyOutcome outcome);
  void resolve_applied();
  void expire_requests();
  // Stops the node after a failure (storage, state machine) or its own removal: every pending
  // request fails with `error`.
  void fail_node(NodeError error, const std::string& why);
  void maybe_finish_stop();
  void fail_all(std::error_code ec);
  void finish_stop();

  NodeConfig config_;
  std::shared_ptr<StateMachine> sm_;
  raft::NodeLogger log_;
  Phase phase_ = Phase::kNew;
  uint16_t port_ = 0;

  std::unique_ptr<wal::DurableStorage> storage_;
  std::unique_ptr<raft::RawNode> raw_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<DiskWriter> disk_;
  std::unique_ptr<ApplyWorker> apply_;
  std::unique_ptr<snapshot::SnapshotStore> snapshots_;
  std::unique_ptr<Snapshotter> snapshotter_;
  boost::asio::steady_timer ticker_;

  // The members of the configuration in force (voters of both halves, learners).
  std::set<uint64_t> members_;
  // Addresses learned from membership changes; config_.peers wins over these.
  std::map<uint64_t, net::PeerAddress> learned_addresses_;

  // Requests. Ids start from a random base each start, so entries replayed from an earlier run
  // never match a request of this one.
  uint64_t next_request_ = 0;
  std::unordered_map<uint64_t, Waiter<Proposed>> proposals_;
  // Commands accepted since the last flush; proposed to the core as one batch.
  std::vector<std::pair<uint64_t, std::string>> batch_;
  std::unordered_map<uint64_t, PendingRead> reads_;
  // Reads the core answered, by read index: resolved once applied_ reaches it.
  std::multimap<uint64_t, uint64_t> read_queue_;
  std::unordered_map<uint64_t, Waiter<raft::ConfState>> changes_;
  std::deque<ConfOutcome> conf_outcomes_;
  std::unordered_map<uint64_t, PendingTransfer> transfers_;
  std::vector<Waiter<Empty>> stop_waiters_;

  // Pipeline.
  bool ready_scheduled_ = false;
  uint64_t last_ready_submitted_ = 0;
  uint64_t last_ready_persisted_ = 0;
  // persisted_messages of Readys whose writes are in flight, by Ready number.
  std::deque<std::pair<uint64_t, std::vector<raft::Message>>> held_messages_;
  uint64_t apply_jobs_submitted_ = 0;
  uint64_t apply_jobs_done_ = 0;
  uint64_t applied_ = 0;
  uint64_t leader_ = 0;
  uint64_t term_ = 0;
  // Set when this node applied its own removal: it stops once applied reaches this index.
  uint64_t removed_at_ = 0;
  // Ticks since start; removed peers are disconnected, and a removed node stops, at a tick.
  uint64_t ticks_ = 0;
  std::map<uint64_t, uint64_t> peers_to_remove_;
  uint64_t stop_at_tick_ = 0;
  uint64_t removal_grace_ticks() const { return 2 * static_cast<uint64_t>(config_.election_ticks); }
  // Set once stop has joined the threads (on the strand, after the transport stopped).
  bool torn_down_ = false;
  std::optional<NodeError> failure_;

  // Snapshots. One is taken at a time: from the apply thread's view through the snapshot thread
  // to the disk thread's record.
  uint64_t last_snapshot_index_ = 0;
  // Bytes of committed entries handed out since the last snapshot was started (the policy's
  // NodeConfig::snapshot_bytes).
  uint64_t bytes_since_snapshot_ = 0;
  bool snapshot_in_progress_ = false;
  bool snapshot_wanted_ = false;
  std::vector<Waiter<uint64_t>> snapshot_waiters_next_;     // for the next snapshot taken
  std::vector<Waiter<uint64_t>> snapshot_waiters_current_;  // for the one in progress
  // The commit index, for the snapshot thread's check of an offer (not older than this).
  std::atomic<uint64_t> committed_mirror_{0};
  // Restores of received snapshots, released once the snapshot's Ready is durable.
  std::deque<std::pair<uint64_t, ApplyJob>> held_restores_;
  bool apply_failed_ = false;

  // Metrics: the strand's view as published by publish_gauges(), and what the transport counted
  // before it was destroyed. parts_mutex_ guards the transport_ and disk_ pointers against
  // metrics() on other threads (only their creation and destruction; the strand uses them
  // without it).
  struct MetricGauges {
    std::atomic<uint64_t> term{0};
    std::atomic<uint64_t> leader{0};
    std::atomic<uint64_t> is_leader{0};
    std::atomic<uint64_t> commit{0};
    std::atomic<uint64_t> applied{0};
    std::atomic<uint64_t> last_index{0};
    std::atomic<uint64_t> snapshot_index{0};
    std::atomic<uint64_t> pending{0};
  };
  MetricGauges gauges_;
  mutable std::mutex parts_mutex_;
  net::TransportStats transport_stats_at_stop_;
  std::map<uint64_t, net::PeerTraffic> traffic_at_stop_;
};

template <typename T, typename F>
boost::asio::awaitable<Reply<T>> Node::Impl::request(F on_strand) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Reply<T>)>(
      [self = shared_from_this(), f = std::move(on_strand)](auto handler) mutable {
        boost::asio::any_io_executor caller =
            boost::asio::get_associated_executor(handler, self->strand_);
        typename Waiter<T>::Handler erased(std::move(handler));
        boost::asio::post(self->strand_, [self, f = std::move(f), caller = std::move(caller),
                                          h = std::move(erased)]() mutable {
          Waiter<T> w(std::move(h), std::move(caller), self->deadline());
          f(*self, std::move(w));
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace framework
