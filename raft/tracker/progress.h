// What the leader knows of one follower's log, and how it sends to it (thesis §3.5 and the flow
// control of etcd raft):
//   Probe      one append per heartbeat interval until the follower's match is found;
//   Replicate  appends are pipelined up to the inflight window, next optimistically advanced;
//   Snapshot   a snapshot is on its way; nothing else is sent until it is reported.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "raft/tracker/inflights.h"

namespace raft {

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState s) noexcept;

class Progress {
 public:
  Progress() = default;
  Progress(uint64_t next, size_t max_inflight, uint64_t max_inflight_bytes)
      : next(next), inflights(max_inflight, max_inflight_bytes) {}

  // Invariant: match < next (the follower has everything up to match; next is what to send).
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  // In Snapshot state: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Set on any message from the follower; cleared by CheckQuorum each election timeout.
  bool recent_active = false;
  // In Probe state: an append was sent since the last heartbeat response, so wait. Cleared by
  // maybe_update (when match rises), an accepted maybe_decr_to, any state transition, and by
  // the caller when a heartbeat response arrives.
  bool probe_sent = false;
  // Sent-but-unacknowledged appends (Replicate state).
  Inflights inflights;
  bool is_learner = false;

  // Each transition clears probe_sent, pending_snapshot and the inflights first.
  // To Probe: next = match + 1, or, coming from Snapshot, max(match + 1, pending_snapshot + 1)
  // (a failed snapshot should clear pending_snapshot first, so probing restarts at match + 1).
  void become_probe();
  // To Replicate: next = match + 1.
  void become_replicate();
  // To Snapshot: pending_snapshot = snapshot_index; next is left alone.
  void become_snapshot(uint64_t snapshot_index);

  // An append with `entries` entries (`bytes` of payload) ending at last_index was sent.
  // Replicate: if entries > 0, records it in the inflights and sets next = last_index + 1
  // (last_index must be >= next). Probe: sets probe_sent, whether or not it carried entries,
  // so probes go out at most one per heartbeat response. Snapshot: a caller bug
  // (InvariantViolation).
  void sent_entries(size_t entries, uint64_t bytes, uint64_t last_index);

  // The follower acknowledged up to n: raises match and clears probe_sent; next becomes at
  // least n + 1. Returns false, changing nothing else, if n <= match (an outdated
  // acknowledgement).
  bool maybe_update(uint64_t n);

  // The follower rejected an append at `rejected`; match_hint is its suggestion of where the
  // logs might match. Returns false if the rejection is stale (ignored), which is:
  //   Replicate          rejected <= match;
  //   Probe, Snapshot    rejected != next - 1 (probes go one at a time).
  // Otherwise: Replicate sets next = match + 1 (the caller then moves it to Probe); Probe and
  // Snapshot set next = max(min(rejected, match_hint + 1), match + 1) and clear probe_sent.
  bool maybe_decr_to(uint64_t rejected, uint64_t match_hint);

  // Nothing may be sent now: Probe while probe_sent, Replicate while the inflights are full,
  // Snapshot always.
  bool is_paused() const;

  // "StateReplicate match=5 next=8 learner paused pending_snapshot=9 inactive inflight=2[full]"
  // (the optional parts only when they apply).
  std::string describe() const;

 private:
  void reset_state(ProgressState state);
};

using ProgressMap = std::map<uint64_t, Progress>;

// One "id: progress" line per member, in id order.
std::string describe(const ProgressMap& progress);

}  // namespace raft
