// The leader's view of the cluster: the current configuration (voters, possibly joint, and
// learners), each member's Progress, and the votes of the current election.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft/quorum/quorum.h"
#include "raft/tracker/progress.h"
#include "raft/types.h"

namespace raft {

// A configuration as the tracker holds it. Invariants (checked by confchange):
//   learners and voters (either half) are disjoint;
//   learners_next is a subset of the outgoing voters and disjoint from learners and from the
//   incoming voters (so it is empty unless joint);
//   auto_leave only while joint.
// With a ProgressMap beside it (also checked by confchange): every member (voter of either half,
// learner) has a Progress and nothing else does; Progress::is_learner is set exactly for the
// learners (a learners_next member is still an outgoing voter, so not yet a learner).
struct TrackerConfig {
  quorum::JointConfig voters;
  // Learners: receive the log, never vote or count towards a quorum.
  std::set<uint64_t> learners;
  // Outgoing voters that become learners when the joint configuration is left (a voter demoted
  // to learner cannot be a learner while it is still an outgoing voter).
  std::set<uint64_t> learners_next;
  bool auto_leave = false;

  // Every list sorted ascending.
  ConfState to_conf_state() const;
  // "voters=(1 2 3)&&(1 2 4) learners=(5) learners_next=(4) autoleave"; the parts after voters
  // only when non-empty (or set).
  std::string describe() const;
  bool operator==(const TrackerConfig&) const = default;
};

class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes = kNoLimit);

  TrackerConfig config;
  ProgressMap progress;

  ConfState conf_state() const { return config.to_conf_state(); }
  // Exactly one voter and not joint: a single-node cluster commits on its own.
  bool is_singleton() const;
  // The largest index a quorum of voters has matched (Progress::match; a voter without a
  // Progress counts as 0). With no voters at all: UINT64_MAX, as quorum::JointConfig returns.
  uint64_t committed() const;
  // Calls f for every member (voters and learners) in id order.
  void visit(const std::function<void(uint64_t id, Progress& pr)>& f);
  void visit(const std::function<void(uint64_t id, const Progress& pr)>& f) const;
  // True if a quorum of voters has recent_active set. Only the flags count: the leader must keep
  // its own recent_active set to count itself.
  bool quorum_active() const;
  // Voter ids, sorted; learner ids, sorted.
  std::vector<uint64_t> voter_nodes() const;
  std::vector<uint64_t> learner_nodes() const;

  // Elections.
  void reset_votes();
  // Records a vote unless `id` already voted in this election (the first answer counts).
  void record_vote(uint64_t id, bool granted);
  // granted/rejected count the recorded votes of current voters (either half) only; result is
  // the joint election outcome.
  struct Tally {
    size_t granted;
    size_t rejected;
    quorum::VoteResult result;
  };
  Tally tally_votes() const;
  const std::map<uint64_t, bool>& votes() const { return votes_; }

  size_t max_inflight() const { return max_inflight_; }
  uint64_t max_inflight_bytes() const { return max_inflight_bytes_; }

 private:
  std::map<uint64_t, bool> votes_;
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
};

}  // namespace raft
