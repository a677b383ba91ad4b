#include "framework/node_config.h"

#include "raft/types.h"

namespace framework {

std::string NodeConfig::validate() const {
  using raft::concat;
  if (id == 0) return "id must not be 0";
  if (data_dir.empty()) return "data_dir must be set";
  if (listen.host.empty()) return "listen.host must be set";
  if (!join && !peers.contains(id)) {
    return concat("peers must list this node (", id, ") when creating a cluster (join is false)");
  }
  if (peers.contains(0)) return "peers must not list node 0";
  for (const auto& [peer, address] : peers) {
    if (peer != id && address.host.empty()) return concat("peer ", peer, " has no host");
  }
  if (tick_interval.count() <= 0) return "tick_interval must be positive";
  if (heartbeat_ticks <= 0) return "heartbeat_ticks must be positive";
  if (election_ticks <= heartbeat_ticks) return "election_ticks must be greater than heartbeat_ticks";
  if (read_mode == ReadMode::kLease && !check_quorum) {
    return "read_mode kLease requires check_quorum (the lease is only valid with it)";
  }
  if (max_pending_requests == 0) return "max_pending_requests must be positive";
  if (max_command_bytes == 0) return "max_command_bytes must be positive";
  if (max_applying_bytes == 0) return "max_applying_bytes must be positive";
  if (max_uncommitted_bytes == 0) return "max_uncommitted_bytes must be positive";
  if (request_timeout.count() <= 0) return "request_timeout must be positive";
  if (max_queue_messages == 0 || max_queue_bytes == 0) {
    return "max_queue_messages and max_queue_bytes must be positive";
  }
  if (dial_backoff_min.count() <= 0 || dial_backoff_max < dial_backoff_min) {
    return "dial backoff must satisfy 0 < dial_backoff_min <= dial_backoff_max";
  }
  if (wal_segment_bytes < (1u << 16)) return "wal_segment_bytes must be at least 64 KiB";
  if (snapshot_keep == 0) return "snapshot_keep must be at least 1";
  if (max_snapshot_sends == 0) return "max_snapshot_sends must be at least 1";
  if (std::string why = raft_config(0).validate(); !why.empty()) return why;
  return {};
}

raft::Config NodeConfig::raft_config(uint64_t applied) const {
  raft::Config c;
  c.id = id;
  c.election_tick = election_ticks;
  c.heartbeat_tick = heartbeat_ticks;
  c.applied = applied;
  c.max_size_per_msg = max_size_per_msg;
  c.max_committed_size_per_ready = max_applying_bytes;
  c.max_uncommitted_entries_size = max_uncommitted_bytes;
  c.max_inflight_msgs = max_inflight_msgs;
  c.check_quorum = check_quorum;
  c.pre_vote = pre_vote;
  c.read_only_option =
      read_mode == ReadMode::kLease ? raft::ReadOnlyOption::kLeaseBased : raft::ReadOnlyOption::kSafe;
  c.seed = seed;  // the core mixes the id in, so members draw different timeouts
  c.logger = logger;
  return c;
}

net::TransportOptions NodeConfig::transport_options() const {
  net::TransportOptions o;
  o.cluster_id = cluster_id;
  o.node_id = id;
  o.listen_host = listen.host;
  o.listen_port = listen.port;
  o.max_queue_messages = max_queue_messages;
  o.max_queue_bytes = max_queue_bytes;
  o.dial_backoff_min = dial_backoff_min;
  o.dial_backoff_max = dial_backoff_max;
  o.max_snapshot_sends = max_snapshot_sends;
  o.seed = seed != 0 ? seed : id;
  o.logger = logger;
  return o;
}

}  // namespace framework
