// Counters and gauges of one Node, for monitoring (Node::metrics()): what a Prometheus exporter,
// a status page or a benchmark reads. Reading them is cheap and safe from any thread; the values
// are each current but not taken at one instant together.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace framework {

// A latency histogram with fixed bucket bounds, recorded from one or more threads without locks.
class LatencyHistogram {
 public:
  // Upper bounds of the buckets in microseconds (the last bucket, +Inf, is implicit): 50 µs to
  // 10 s in steps of about 2.5×.
  static constexpr std::array<uint64_t, 12> kBoundsMicros = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000, 10000000};

  struct Snapshot {
    // counts[i]: samples <= kBoundsMicros[i] and above the bound before it; the last element
    // counts the samples above every bound. Not cumulative.
    std::array<uint64_t, kBoundsMicros.size() + 1> counts{};
    uint64_t count = 0;
    uint64_t sum_micros = 0;
  };

  void record(uint64_t micros) noexcept;
  Snapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<uint64_t>, kBoundsMicros.size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// Traffic with one peer over the transport (raft messages and snapshot streams, framing
// included).
struct PeerTraffic {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
};

struct NodeMetrics {
  // Gauges: the node's view now.
  uint64_t id = 0;
  uint64_t term = 0;
  uint64_t leader = 0;        // 0: none known
  bool is_leader = false;
  uint64_t commit = 0;        // commit index
  uint64_t applied = 0;       // applied by the state machine; commit - applied is the apply lag
  uint64_t last_index = 0;    // last entry in this node's log
  uint64_t snapshot_index = 0;
  uint64_t pending_requests = 0;

  // Counters since start().
  uint64_t leader_changes = 0;       // times the leader this node knows of changed (to 0 too)
  uint64_t proposals = 0;            // propose() calls, refused ones included
  uint64_t proposals_failed = 0;     // of those, resolved with an error (kNotLeader included)
  uint64_t reads = 0;                // read_index() calls
  uint64_t reads_failed = 0;
  uint64_t entries_applied = 0;      // committed entries handed to the state machine
  uint64_t wal_syncs = 0;            // group commits that synced the WAL
  uint64_t wal_bytes_written = 0;    // bytes of entry data appended to the WAL
  uint64_t snapshots_taken = 0;      // of this node's own state machine, stored
  uint64_t snapshots_sent = 0;       // streamed to a follower and committed there
  uint64_t snapshots_received = 0;   // received and stored
  uint64_t snapshots_failed = 0;     // transfers that failed or were refused
  uint64_t messages_dropped = 0;     // by the transport: full queue

  // The duration of each WAL write and sync of a group commit (append + fdatasync + HardState).
  LatencyHistogram::Snapshot wal_sync_latency;
  // Traffic per peer, by id (peers this node exchanged anything with since start()).
  std::map<uint64_t, PeerTraffic> peers;
};

}  // namespace framework
