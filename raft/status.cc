#include "raft/status.h"

#include <sstream>

namespace raft {

Status Status::of(const Raft& r) {
  Status s;
  s.id = r.id();
  s.hard_state = r.hard_state();
  s.soft_state = r.soft_state();
  s.applied = r.log().applied();
  s.lead_transferee = r.lead_transferee();
  s.config = r.tracker().config;
  if (r.state() == StateRole::kLeader) s.progress = r.tracker().progress;
  return s;
}

std::string Status::describe() const {
  std::ostringstream os;
  os << "id=" << id << ' ' << raft::describe(hard_state) << " applied=" << applied
     << " role=" << to_string(soft_state.role) << " leader=" << soft_state.leader_id
     << " config=" << config.describe();
  if (lead_transferee != kNone) os << " transferee=" << lead_transferee;
  for (const auto& [pid, pr] : progress) os << " [" << pid << ": " << pr.describe() << ']';
  return os.str();
}

}  // namespace raft
