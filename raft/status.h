// A snapshot of one node's state for monitoring and tests: who it is, what it believes, and (on a
// leader) how far each member's log has come.
#pragma once

#include <cstdint>
#include <string>

#include "raft/raft.h"

namespace raft {

struct Status {
  uint64_t id = 0;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t lead_transferee = kNone;
  TrackerConfig config;
  // Filled on the leader only.
  ProgressMap progress;

  static Status of(const Raft& r);
  // One line: "id=1 term=2 vote=1 commit=5 applied=5 role=Leader leader=1 config=... progress=..."
  std::string describe() const;
};

}  // namespace raft
