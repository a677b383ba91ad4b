#include "raft/tracker/progress.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "raft/logger.h"

namespace raft {

const char* to_string(ProgressState s) noexcept {
  switch (s) {
    case ProgressState::kProbe: return "StateProbe";
    case ProgressState::kReplicate: return "StateReplicate";
    case ProgressState::kSnapshot: return "StateSnapshot";
  }
  return "?";
}

void Progress::reset_state(ProgressState new_state) {
  probe_sent = false;
  pending_snapshot = 0;
  state = new_state;
  inflights.reset();
}

void Progress::become_probe() {
  if (state == ProgressState::kSnapshot) {
    // The snapshot reached the follower (or the caller cleared pending_snapshot because it did
    // not), so probing can start right after it.
    const uint64_t snapshot_index = pending_snapshot;
    reset_state(ProgressState::kProbe);
    next = std::max(match + 1, snapshot_index + 1);
  } else {
    reset_state(ProgressState::kProbe);
    next = match + 1;
  }
}

void Progress::become_replicate() {
  reset_state(ProgressState::kReplicate);
  next = match + 1;
}

void Progress::become_snapshot(uint64_t snapshot_index) {
  reset_state(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

void Progress::sent_entries(size_t entries, uint64_t bytes, uint64_t last_index) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entries > 0) {
        // Entries are always sent from next on; a last index below it means the caller resent
        // what is already in flight, which would move next backwards behind our back.
        if (last_index < next) {
          throw InvariantViolation("Progress: sent entries up to " + std::to_string(last_index) +
                                   " below next " + std::to_string(next) + " (" + describe() +
                                   ")");
        }
        inflights.add(last_index, bytes);
        next = last_index + 1;
      }
      break;
    case ProgressState::kProbe:
      // Any append in Probe is a probe, even an empty one: wait for its answer (or a heartbeat
      // response) before the next, or a lagging follower gets one probe per proposal.
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      throw InvariantViolation("Progress: sent entries while in StateSnapshot (" + describe() +
                               ")");
  }
}

bool Progress::maybe_update(uint64_t n) {
  bool updated = false;
  if (n > match) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  // Keeps match < next; in Replicate next is usually ahead already (appends are in flight).
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::maybe_decr_to(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Everything up to match is known to be in the follower's log, so a rejection at or below it
    // answers an older append that arrived late.
    if (rejected <= match) return false;
    // Appends are pipelined, so the hint of one rejection says little about the ones behind it;
    // restart from the last known match and let the caller fall back to probing.
    next = match + 1;
    return true;
  }

  // Outside Replicate only one append is out at a time, at next - 1; any other rejection is an
  // old one.
  if (next - 1 != rejected) return false;

  // The hint lets the leader skip a whole divergent suffix at once, but never below what the
  // follower is known to hold.
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

std::string Progress::describe() const {
  std::ostringstream os;
  os << to_string(state) << " match=" << match << " next=" << next;
  if (is_learner) os << " learner";
  if (is_paused()) os << " paused";
  if (pending_snapshot > 0) os << " pending_snapshot=" << pending_snapshot;
  if (!recent_active) os << " inactive";
  if (inflights.count() > 0) {
    os << " inflight=" << inflights.count();
    if (inflights.full()) os << "[full]";
  }
  return os.str();
}

std::string describe(const ProgressMap& progress) {
  std::string out;
  for (const auto& [id, pr] : progress) {
    out += std::to_string(id) + ": " + pr.describe() + "\n";
  }
  return out;
}

}  // namespace raft
