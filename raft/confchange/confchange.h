// Applies configuration changes to a tracker's configuration, as pure functions that return the
// new configuration and progress map (or a clear error) and never touch the input.
//
// Two kinds of change (thesis §4.1, §4.3):
//   simple      at most one voter added or removed: the old and new majorities overlap;
//   enter_joint old and new voter sets both decide until leave_joint (joint consensus).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/tracker/tracker.h"
#include "raft/types.h"

namespace raft {

struct ConfChangeResult {
  // On error both are empty.
  TrackerConfig config;
  ProgressMap progress;
  // Empty on success; otherwise why the change is invalid (the inputs are unchanged).
  std::string error;
  bool ok() const { return error.empty(); }
};

// Every operation first checks that the tracker's config and progress satisfy the invariants of
// TrackerConfig (an error names the broken one), and checks its result the same way.
//
// Changes apply in order to the incoming half:
//   AddNode         adds a voter, or promotes a learner (or a learners_next member);
//   AddLearnerNode  adds a learner, or demotes a voter: straight to learners, unless the node is
//                   an outgoing voter of a joint config, then to learners_next;
//   RemoveNode      removes the node from the incoming half and the learners; its Progress stays
//                   while it is an outgoing voter. Removing a non-member does nothing.
// A change with node_id 0 is skipped (an application may blank out a change it refuses).
class Changer {
 public:
  // tracker: the current state (must outlive the Changer); last_index: this node's last log
  // index. A new member's Progress starts with match = 0, next = max(last_index, 1),
  // recent_active = true (so CheckQuorum does not count it as dead before it could answer), and
  // inflights sized by the tracker's max_inflight() and max_inflight_bytes().
  Changer(const ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  // Enters a joint configuration: outgoing := current voters, then applies `changes` to the
  // incoming half. Errors: "config is already joint"; "can't make a zero-voter config joint";
  // "removed all voters" (the incoming half would be empty); an unknown change type.
  ConfChangeResult enter_joint(bool auto_leave, const std::vector<ConfChangeSingle>& changes) const;
  // Leaves the joint configuration: outgoing dropped, learners_next become learners, members
  // in neither half are removed, auto_leave cleared. Error "can't leave a non-joint config".
  ConfChangeResult leave_joint() const;
  // Applies changes that together alter at most one voter (an empty config may thus only gain
  // one voter per call). Errors: "can't apply simple config change in joint config";
  // "more than one voter changed without entering joint config"; "removed all voters"; an
  // unknown change type.
  ConfChangeResult simple(const std::vector<ConfChangeSingle>& changes) const;

 private:
  const ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Rebuilds a configuration from a ConfState (at restart or from a snapshot) by replaying it as
// changes from an empty one: the outgoing voters as simple additions, then (if joint) one
// enter_joint that swaps in the incoming voters, learners and learners_next. Only the tracker's
// inflight limits are used; its config and progress are ignored. Errors if a step fails or the
// result does not describe the same sets as `cs` (a contradictory ConfState, e.g. a node both
// voter and learner, a node id 0, auto_leave outside a joint config). An empty ConfState gives
// an empty config.
ConfChangeResult restore_conf_state(const ProgressTracker& tracker, uint64_t last_index,
                                    const ConfState& cs);

// ConfChange (single step) as the equivalent ConfChangeV2.
ConfChangeV2 to_conf_change_v2(const ConfChange& cc);
// Does this change enter a joint configuration, and with auto_leave? (Auto transition with more
// than one change, or Implicit/Explicit with any change; auto_leave unless Explicit.) An
// unknown transition value never enters joint. auto_leave may be null; it is always written
// when not null (false when the result is false).
bool enters_joint(const ConfChangeV2& cc, bool* auto_leave);
// A ConfChangeV2 without changes leaves a joint configuration, whatever its transition and
// context. (etcd raft differs here: there Implicit/Explicit without changes enters joint.)
bool leaves_joint(const ConfChangeV2& cc);
// Decodes a configuration-change entry (either type) into its V2 form; false if the entry is
// not one or its payload does not parse.
bool decode_conf_change(const Entry& e, ConfChangeV2* out);

}  // namespace raft
