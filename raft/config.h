// Settings of one node's consensus core. Validated when the core is built: a bad Config is an
// std::invalid_argument naming the bad field, never an assert.
#pragma once

#include <cstdint>
#include <string>

#include "raft/logger.h"
#include "raft/types.h"

namespace raft {

enum class ReadOnlyOption {
  // ReadIndex confirms leadership with a heartbeat round to a quorum before answering (safe
  // under any clock behaviour; thesis §6.4).
  kSafe,
  // ReadIndex answers from the leader lease: safe only if clocks drift less than the election
  // timeout allows (thesis §6.4.1). Requires check_quorum.
  kLeaseBased,
};

struct Config {
  // This node's id; never 0.
  uint64_t id = 0;

  // Ticks without hearing from a leader before a follower campaigns. The real timeout is drawn
  // from [min_election_tick, max_election_tick) each term, so elections rarely collide.
  int election_tick = 10;
  // Ticks between a leader's heartbeats. Must be below election_tick.
  int heartbeat_tick = 1;
  // Bounds of the randomized election timeout; 0 means election_tick and 2 * election_tick.
  int min_election_tick = 0;
  int max_election_tick = 0;

  // The last index the state machine has applied, when restarting with a durable one.
  uint64_t applied = 0;

  // Bytes of entries in one MsgAppend (at least one entry is always sent). 0 means one entry
  // per message; kNoLimit means no limit.
  uint64_t max_size_per_msg = 1 << 20;
  // Bytes of committed entries handed out for applying in one Ready.
  uint64_t max_committed_size_per_ready = kNoLimit;
  // Bytes of uncommitted entry payloads the leader accepts before it drops proposals.
  uint64_t max_uncommitted_entries_size = kNoLimit;
  // Appends in flight to one follower in the Replicate state (the pipeline window); > 0.
  size_t max_inflight_msgs = 256;
  // Bytes in flight to one follower; kNoLimit means only max_inflight_msgs limits.
  uint64_t max_inflight_bytes = kNoLimit;

  // The leader steps down if it has not heard from a quorum within an election timeout, and
  // followers that heard from a leader recently ignore vote requests (leader lease).
  bool check_quorum = false;
  // A candidate first asks whether it could win (PreVote, thesis §9.6) before raising its term,
  // so a partitioned node rejoining does not disrupt the cluster.
  bool pre_vote = false;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // Seed of the election-timeout randomness; the same seed and inputs give the same outputs.
  uint64_t seed = 0;

  // Where the core's log lines go; a NullLogger if not set.
  Logger* logger = nullptr;

  // The reason this config cannot be used, or an empty string if it can.
  std::string validate() const;

  int effective_min_election_tick() const {
    return min_election_tick == 0 ? election_tick : min_election_tick;
  }
  int effective_max_election_tick() const {
    return max_election_tick == 0 ? 2 * election_tick : max_election_tick;
  }
};

}  // namespace raft
