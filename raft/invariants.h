// Invariants of one node's core, checked after every step of every core test and simulation
// (LogCabin's checkBasic / checkDelta). A violation is an InvariantViolation naming the node,
// its term and the broken rule.
//
// Cross-node properties (one leader per term, log matching, state machine safety) need the whole
// cluster and live with the simulator in tests/.
#pragma once

#include <cstdint>

#include "raft/raft.h"

namespace raft {

class InvariantChecker {
 public:
  // Checks the node's state on its own (checkBasic) and against what it was at the previous
  // call (checkDelta): term, commit and applied never fall; the vote does not change within a
  // term; a leader stays leader of its term only.
  void check(const Raft& r);

  // Forget the previous state (after a simulated crash the node is rebuilt from storage, and
  // commit may legitimately restart lower: it is relearned).
  void reset() { has_prev_ = false; }

 private:
  bool has_prev_ = false;
  uint64_t prev_term_ = 0;
  uint64_t prev_vote_ = 0;
  uint64_t prev_commit_ = 0;
  uint64_t prev_applied_ = 0;
};

}  // namespace raft
