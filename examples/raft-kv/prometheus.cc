#include "prometheus.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace raftkv {
namespace {

// Microseconds as decimal seconds, exactly and without exponent: 50 -> "0.00005", 2500000 ->
// "2.5", 10000000 -> "10". Prometheus parses any float; exact text keeps bucket labels stable.
std::string micros_as_seconds(uint64_t micros) {
  std::string out = std::to_string(micros / 1000000);
  uint64_t frac = micros % 1000000;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

class Writer {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  // A metric with a single unlabelled sample.
  void single(std::string_view name, std::string_view type, std::string_view help,
              uint64_t value) {
    header(name, type, help);
    sample(name, "", value);
  }
  void gauge(std::string_view name, std::string_view help, uint64_t value) {
    single(name, "gauge", help, value);
  }
  void counter(std::string_view name, std::string_view help, uint64_t value) {
    single(name, "counter", help, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string render_prometheus(const framework::NodeMetrics& m) {
  Writer w;
  w.gauge("raft_term", "Current Raft term.", m.term);
  w.gauge("raft_leader_id", "Id of the leader this node knows of (0: none).", m.leader);
  w.gauge("raft_is_leader", "1 if this node is the leader, else 0.", m.is_leader ? 1 : 0);
  w.gauge("raft_commit_index", "Highest log index known to be committed.", m.commit);
  w.gauge("raft_applied_index", "Highest log index applied by the state machine.", m.applied);
  w.gauge("raft_apply_lag", "Committed entries not yet applied (commit - applied).",
          m.commit > m.applied ? m.commit - m.applied : 0);
  w.gauge("raft_last_index", "Index of the last entry in this node's log.", m.last_index);
  w.gauge("raft_snapshot_index", "Index of the newest snapshot in this node's storage.",
          m.snapshot_index);
  w.gauge("raft_pending_requests", "Requests waiting for an outcome on this node.",
          m.pending_requests);

  w.counter("raft_leader_changes_total", "Times the leader this node knows of changed.",
            m.leader_changes);
  w.counter("raft_proposals_total", "Proposals asked for (refused ones included).", m.proposals);
  w.counter("raft_proposals_failed_total", "Proposals resolved with an error.",
            m.proposals_failed);
  w.counter("raft_reads_total", "Linearizable reads (read_index) asked for.", m.reads);
  w.counter("raft_reads_failed_total", "Linearizable reads resolved with an error.",
            m.reads_failed);
  w.counter("raft_entries_applied_total", "Committed entries handed to the state machine.",
            m.entries_applied);
  w.counter("raft_wal_syncs_total", "Group commits that synced the write-ahead log.",
            m.wal_syncs);
  w.counter("raft_wal_bytes_written_total", "Bytes of entry data appended to the write-ahead log.",
            m.wal_bytes_written);
  w.counter("raft_snapshots_taken_total", "Snapshots of this node's state machine stored.",
            m.snapshots_taken);
  w.counter("raft_snapshots_sent_total", "Snapshots streamed to a follower and stored there.",
            m.snapshots_sent);
  w.counter("raft_snapshots_received_total", "Snapshots received and stored.",
            m.snapshots_received);
  w.counter("raft_snapshots_failed_total", "Snapshot transfers that failed or were refused.",
            m.snapshots_failed);
  w.counter("raft_messages_dropped_total", "Messages the transport dropped (full queue).",
            m.messages_dropped);

  // Prometheus buckets are cumulative; the snapshot's counts are per bucket.
  constexpr std::string_view kWal = "raft_wal_sync_duration_seconds";
  w.header(kWal, "histogram",
           "Duration of each write-ahead log write and sync of a group commit.");
  const auto& h = m.wal_sync_latency;
  const auto& bounds = framework::LatencyHistogram::kBoundsMicros;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += h.counts[i];
    w.sample("raft_wal_sync_duration_seconds_bucket",
             "le=\"" + micros_as_seconds(bounds[i]) + "\"", cumulative);
  }
  cumulative += h.counts[bounds.size()];
  // +Inf must equal _count; the counters are read one by one without a lock, so a sample being
  // recorded meanwhile could make them differ by one. Take the larger so _count >= every bucket.
  const uint64_t count = std::max(cumulative, h.count);
  w.sample("raft_wal_sync_duration_seconds_bucket", "le=\"+Inf\"", count);
  w.sample("raft_wal_sync_duration_seconds_sum", "", micros_as_seconds(h.sum_micros));
  w.sample("raft_wal_sync_duration_seconds_count", "", count);

  struct PeerMetric {
    std::string_view name;
    std::string_view help;
    uint64_t framework::PeerTraffic::*field;
  };
  static constexpr PeerMetric kPeerMetrics[] = {
      {"raft_peer_sent_bytes_total", "Bytes sent to a peer (framing included).",
       &framework::PeerTraffic::bytes_sent},
      {"raft_peer_received_bytes_total", "Bytes received from a peer (framing included).",
       &framework::PeerTraffic::bytes_received},
      {"raft_peer_sent_messages_total", "Messages sent to a peer.",
       &framework::PeerTraffic::messages_sent},
      {"raft_peer_received_messages_total", "Messages received from a peer.",
       &framework::PeerTraffic::messages_received},
  };
  for (const PeerMetric& pm : kPeerMetrics) {
    w.header(pm.name, "counter", pm.help);
    for (const auto& [peer, traffic] : m.peers) {
      w.sample(pm.name, "peer=\"" + std::to_string(peer) + "\"", traffic.*pm.field);
    }
  }
  return w.take();
}

}  // namespace raftkv
