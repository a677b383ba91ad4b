#include "raft/quorum/quorum.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <vector>

namespace raft::quorum {

const char* to_string(VoteResult r) noexcept {
  switch (r) {
    case VoteResult::kPending: return "VotePending";
    case VoteResult::kLost: return "VoteLost";
    case VoteResult::kWon: return "VoteWon";
  }
  return "?";
}

std::optional<uint64_t> MapAckIndexer::acked_index(uint64_t id) const {
  auto it = m_.find(id);
  if (it == m_.end()) return std::nullopt;
  return it->second;
}

uint64_t MajorityConfig::committed_index(const AckedIndexer& acked) const {
  // An empty half must not constrain the joint min(), hence "infinitely committed".
  if (ids_.empty()) return std::numeric_limits<uint64_t>::max();

  std::vector<uint64_t> indexes;
  indexes.reserve(ids_.size());
  for (uint64_t id : ids_) indexes.push_back(acked.acked_index(id).value_or(0));
  std::sort(indexes.begin(), indexes.end());

  // With the indexes sorted ascending, the entry at n - quorum is the highest one that `quorum`
  // voters (it and everyone above it) have all reached.
  const size_t quorum = ids_.size() / 2 + 1;
  return indexes[ids_.size() - quorum];
}

VoteResult MajorityConfig::vote_result(const std::map<uint64_t, bool>& votes) const {
  // Nobody to object: lets a joint config decide on its non-empty half alone.
  if (ids_.empty()) return VoteResult::kWon;

  size_t granted = 0;
  size_t outstanding = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++outstanding;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t quorum = ids_.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (granted + outstanding >= quorum) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::describe() const {
  std::ostringstream os;
  os << '(';
  bool first = true;
  for (uint64_t id : ids_) {
    os << (first ? "" : " ") << id;
    first = false;
  }
  os << ')';
  return os.str();
}

std::string MajorityConfig::describe(const AckedIndexer& acked) const {
  std::ostringstream os;
  for (uint64_t id : ids_) {
    os << "id=" << id << " acked=";
    if (auto idx = acked.acked_index(id)) {
      os << *idx;
    } else {
      os << '?';
    }
    os << '\n';
  }
  if (ids_.empty()) {
    os << "committed=inf\n";
  } else {
    os << "committed=" << committed_index(acked) << '\n';
  }
  return os.str();
}

uint64_t JointConfig::committed_index(const AckedIndexer& acked) const {
  return std::min(incoming_.committed_index(acked), outgoing_.committed_index(acked));
}

VoteResult JointConfig::vote_result(const std::map<uint64_t, bool>& votes) const {
  const VoteResult in = incoming_.vote_result(votes);
  const VoteResult out = outgoing_.vote_result(votes);
  if (in == out) return in;
  // Either half losing is final; otherwise one half still waits for votes.
  if (in == VoteResult::kLost || out == VoteResult::kLost) return VoteResult::kLost;
  return VoteResult::kPending;
}

std::set<uint64_t> JointConfig::ids() const {
  std::set<uint64_t> all = incoming_.ids();
  all.insert(outgoing_.ids().begin(), outgoing_.ids().end());
  return all;
}

std::string JointConfig::describe() const {
  if (!is_joint()) return incoming_.describe();
  return incoming_.describe() + "&&" + outgoing_.describe();
}

}  // namespace raft::quorum
