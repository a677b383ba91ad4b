#include "raft/tracker/tracker.h"

#include <optional>
#include <sstream>

namespace raft {
namespace {

// What a voter has acknowledged is what the leader knows it matches.
class MatchAckIndexer final : public quorum::AckedIndexer {
 public:
  explicit MatchAckIndexer(const ProgressMap& progress) : progress_(progress) {}
  std::optional<uint64_t> acked_index(uint64_t id) const override {
    auto it = progress_.find(id);
    if (it == progress_.end()) return std::nullopt;
    return it->second.match;
  }

 private:
  const ProgressMap& progress_;
};

void add_ids(google::protobuf::RepeatedField<uint64_t>* out, const std::set<uint64_t>& ids) {
  out->Reserve(static_cast<int>(ids.size()));
  for (uint64_t id : ids) out->Add(id);  // std::set iterates in ascending order
}

}  // namespace

ConfState TrackerConfig::to_conf_state() const {
  ConfState cs;
  add_ids(cs.mutable_voters(), voters.incoming().ids());
  add_ids(cs.mutable_voters_outgoing(), voters.outgoing().ids());
  add_ids(cs.mutable_learners(), learners);
  add_ids(cs.mutable_learners_next(), learners_next);
  cs.set_auto_leave(auto_leave);
  return cs;
}

std::string TrackerConfig::describe() const {
  std::ostringstream os;
  os << "voters=" << voters.describe();
  if (!learners.empty()) os << " learners=" << quorum::MajorityConfig(learners).describe();
  if (!learners_next.empty()) {
    os << " learners_next=" << quorum::MajorityConfig(learners_next).describe();
  }
  if (auto_leave) os << " autoleave";
  return os.str();
}

ProgressTracker::ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
    : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

bool ProgressTracker::is_singleton() const {
  return config.voters.incoming().size() == 1 && !config.voters.is_joint();
}

uint64_t ProgressTracker::committed() const {
  return config.voters.committed_index(MatchAckIndexer(progress));
}

void ProgressTracker::visit(const std::function<void(uint64_t id, Progress& pr)>& f) {
  for (auto& [id, pr] : progress) f(id, pr);
}

void ProgressTracker::visit(const std::function<void(uint64_t id, const Progress& pr)>& f) const {
  for (const auto& [id, pr] : progress) f(id, pr);
}

bool ProgressTracker::quorum_active() const {
  // An "election" in which every voter votes its activity: won iff an active quorum exists.
  std::map<uint64_t, bool> active;
  for (const auto& [id, pr] : progress) {
    if (!pr.is_learner) active[id] = pr.recent_active;
  }
  return config.voters.vote_result(active) == quorum::VoteResult::kWon;
}

std::vector<uint64_t> ProgressTracker::voter_nodes() const {
  const std::set<uint64_t> ids = config.voters.ids();
  return {ids.begin(), ids.end()};
}

std::vector<uint64_t> ProgressTracker::learner_nodes() const {
  return {config.learners.begin(), config.learners.end()};
}

void ProgressTracker::reset_votes() { votes_.clear(); }

void ProgressTracker::record_vote(uint64_t id, bool granted) { votes_.try_emplace(id, granted); }

ProgressTracker::Tally ProgressTracker::tally_votes() const {
  // Votes from nodes no longer voters (the config changed mid-election) are kept but not counted.
  Tally tally{0, 0, config.voters.vote_result(votes_)};
  for (const auto& [id, granted] : votes_) {
    if (!config.voters.contains(id)) continue;
    if (granted) {
      ++tally.granted;
    } else {
      ++tally.rejected;
    }
  }
  return tally;
}

}  // namespace raft
