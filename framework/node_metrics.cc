// Node::metrics(): counters bumped where things happen, gauges published from the strand, and
// the transport's and disk writer's own counters, read from any thread.
#include <mutex>

#include "framework/node_impl.h"

namespace framework {

namespace {
uint64_t load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }
}  // namespace

void Node::Impl::publish_gauges() {
  auto set = [](std::atomic<uint64_t>& a, uint64_t v) { a.store(v, std::memory_order_relaxed); };
  set(gauges_.applied, applied_);
  set(gauges_.pending, pending_count());
  set(gauges_.snapshot_index, last_snapshot_index_);
  if (!raw_) return;
  const raft::Raft& r = raw_->raft();
  set(gauges_.term, r.term());
  set(gauges_.leader, r.leader_id());
  set(gauges_.is_leader, r.state() == raft::StateRole::kLeader ? 1 : 0);
  set(gauges_.commit, r.log().committed());
  set(gauges_.last_index, r.log().last_index());
}

NodeMetrics Node::Impl::metrics() const {
  NodeMetrics m;
  m.id = config_.id;
  m.term = load(gauges_.term);
  m.leader = load(gauges_.leader);
  m.is_leader = load(gauges_.is_leader) != 0;
  m.commit = load(gauges_.commit);
  m.applied = load(gauges_.applied);
  m.last_index = load(gauges_.last_index);
  m.snapshot_index = load(gauges_.snapshot_index);
  m.pending_requests = load(gauges_.pending);

  m.leader_changes = load(counters_.leader_changes);
  m.proposals = load(counters_.proposals);
  m.proposals_failed = load(counters_.proposals_failed);
  m.reads = load(counters_.reads);
  m.reads_failed = load(counters_.reads_failed);
  m.entries_applied = load(counters_.entries_applied);
  m.snapshots_taken = load(counters_.snapshots_taken);

  std::lock_guard lock(parts_mutex_);
  if (disk_) {
    const DiskStats disk = disk_->stats();
    m.wal_syncs = disk.syncs;
    m.wal_bytes_written = disk.entry_bytes;
    m.wal_sync_latency = disk_->sync_latency();
  }
  const net::TransportStats ts = transport_ ? transport_->stats() : transport_stats_at_stop_;
  m.snapshots_sent = ts.snapshots_sent;
  m.snapshots_received = ts.snapshots_received;
  m.snapshots_failed = ts.snapshots_failed;
  m.messages_dropped = ts.dropped_queue_full;
  const std::map<uint64_t, net::PeerTraffic> traffic =
      transport_ ? transport_->traffic() : traffic_at_stop_;
  for (const auto& [peer, t] : traffic) {
    m.peers[peer] = PeerTraffic{t.bytes_sent, t.bytes_received, t.messages_sent,
                                t.messages_received};
  }
  return m;
}

void Node::Impl::release_transport() {
  std::lock_guard lock(parts_mutex_);
  if (!transport_) return;
  transport_stats_at_stop_ = transport_->stats();
  traffic_at_stop_ = transport_->traffic();
  transport_.reset();
}

NodeMetrics Node::metrics() const { return impl_->metrics(); }

}  // namespace framework
