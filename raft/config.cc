#include "raft/config.h"

namespace raft {

std::string Config::validate() const {
  if (id == kNone) return "id must not be 0 (0 means \"no node\")";
  if (heartbeat_tick <= 0) return "heartbeat_tick must be greater than 0";
  if (election_tick <= heartbeat_tick) {
    return "election_tick (" + std::to_string(election_tick) +
           ") must be greater than heartbeat_tick (" + std::to_string(heartbeat_tick) + ")";
  }
  const int lo = effective_min_election_tick();
  const int hi = effective_max_election_tick();
  if (lo < election_tick) {
    return "min_election_tick (" + std::to_string(lo) +
           ") must be at least election_tick (" + std::to_string(election_tick) + ")";
  }
  if (hi <= lo) {
    return "max_election_tick (" + std::to_string(hi) + ") must be greater than min_election_tick (" +
           std::to_string(lo) + ")";
  }
  if (max_inflight_msgs == 0) return "max_inflight_msgs must be greater than 0";
  if (max_inflight_bytes == 0) return "max_inflight_bytes must be greater than 0";
  if (max_uncommitted_entries_size == 0) {
    return "max_uncommitted_entries_size must be greater than 0 (kNoLimit for no limit)";
  }
  if (max_committed_size_per_ready == 0) {
    return "max_committed_size_per_ready must be greater than 0 (kNoLimit for no limit)";
  }
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return "read_only_option kLeaseBased requires check_quorum: without it a deposed leader may "
           "still believe it holds the lease";
  }
  return {};
}

}  // namespace raft
