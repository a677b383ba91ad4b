// Settings of one Node. Node's constructor calls validate() and throws std::invalid_argument with
// its message, so a bad config fails at construction, naming the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "net/transport.h"
#include "raft/config.h"
#include "raft/logger.h"

namespace framework {

// How read_index() confirms that this node may serve a linearizable read.
enum class ReadMode {
  // The leader confirms its leadership with a heartbeat round to a quorum (any clock behaviour).
  kSafe,
  // The leader answers from its lease (requires check_quorum; safe while clock drift stays well
  // below the election timeout).
  kLease,
};

struct NodeConfig {
  // This node (never 0) and its cluster (any value, the same on every member; a data dir or a
  // peer of another cluster is refused).
  uint64_t id = 0;
  uint64_t cluster_id = 0;

  // Where this node accepts its peers' connections; port 0 picks a free port (Node::port()).
  net::PeerAddress listen{"127.0.0.1", 0};
  // Where this node reaches each member: the members of a new cluster and their addresses. When
  // the cluster is created (an empty data dir and join == false) its keys, which must include
  // `id`, become the initial voters; afterwards membership comes from the log and this map only
  // gives addresses, which win over the address a membership change carries (so a node can reach
  // a peer through a proxy). An address with port 0 is not known yet (Node::set_peer_address).
  std::map<uint64_t, net::PeerAddress> peers;
  // A node added to a running cluster: it starts with no membership and learns it, with the log,
  // from the leader. Its data dir must be empty or its own.
  bool join = false;

  // The node's data: <data_dir>/wal and <data_dir>/meta (wal/durable_storage.h).
  std::string data_dir;

  // The core's clock: one tick per tick_interval; elections after election_ticks without a
  // leader (randomized up to twice that), heartbeats every heartbeat_ticks.
  std::chrono::milliseconds tick_interval{100};
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  ReadMode read_mode = ReadMode::kSafe;

  // Replication: appends in flight per follower, and bytes of entries per MsgAppend.
  size_t max_inflight_msgs = 256;
  uint64_t max_size_per_msg = 1ull << 20;
  // Bytes of proposed but uncommitted commands the leader accepts before it drops proposals.
  uint64_t max_uncommitted_bytes = 64ull << 20;
  // Bytes of committed entries handed to the apply thread and not yet applied; replication goes
  // on while the state machine catches up, but the apply backlog stays within this.
  uint64_t max_applying_bytes = 64ull << 20;

  // Requests (proposals, reads, membership changes, transfers) waiting for an outcome on this
  // node; one more fails at once with kTooManyPending.
  size_t max_pending_requests = 16384;
  // The largest command propose() accepts (kInvalidArgument above it).
  uint64_t max_command_bytes = 1ull << 20;
  // A request without an outcome after this long resolves with kTimeout.
  std::chrono::milliseconds request_timeout{10000};

  // Storage: WAL segment size and the WAL's entry cache (wal/wal.h).
  uint64_t wal_segment_bytes = 64ull << 20;
  uint64_t wal_cache_bytes = 32ull << 20;

  // Snapshots (snapshot/): one is taken when snapshot_entries entries, or snapshot_bytes bytes of
  // commands, were applied since the last (0 turns either off; with both off, only when a
  // follower needs one or Node::snapshot() asks); after it is stored the WAL
  // is compacted up to compaction_margin entries below it (kept for followers that lag a little,
  // so they catch up from the log, not by a snapshot); snapshot_keep snapshot files are kept; at
  // most max_snapshot_sends snapshots stream to followers at once.
  uint64_t snapshot_entries = 100000;
  uint64_t snapshot_bytes = 256ull << 20;
  uint64_t compaction_margin = 10000;
  size_t snapshot_keep = 2;
  size_t max_snapshot_sends = 2;

  // Transport queues per peer, and its dial backoff (net/transport.h).
  size_t max_queue_messages = 4096;
  uint64_t max_queue_bytes = 64ull << 20;
  std::chrono::milliseconds dial_backoff_min{20};
  std::chrono::milliseconds dial_backoff_max{1000};

  // Seeds the election timeouts (the core mixes in the id, so members differ with equal seeds)
  // and the dial jitter (0: the id).
  uint64_t seed = 0;

  // Where the node, its core and its transport log; must be safe to call from several threads
  // (the node's strand, its disk and apply threads). Discards everything when null.
  raft::Logger* logger = nullptr;

  // The reason this config cannot be used, or an empty string if it can.
  std::string validate() const;

  // The core's settings derived from these.
  raft::Config raft_config(uint64_t applied) const;
  // The transport's settings derived from these.
  net::TransportOptions transport_options() const;
};

}  // namespace framework
