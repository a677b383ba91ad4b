#include "raft/confchange/confchange.h"

#include <algorithm>
#include <set>
#include <utility>

namespace raft {
namespace {

std::string id_str(uint64_t id) { return std::to_string(id); }

// The invariants documented on TrackerConfig, for a config and the progress map beside it.
// Checked on the way in (so a corrupted tracker is reported, not built upon) and on the way out.
std::string check_invariants(const TrackerConfig& cfg, const ProgressMap& progress) {
  const quorum::MajorityConfig& incoming = cfg.voters.incoming();
  const quorum::MajorityConfig& outgoing = cfg.voters.outgoing();

  for (const std::set<uint64_t>& ids : {cfg.voters.ids(), cfg.learners, cfg.learners_next}) {
    for (uint64_t id : ids) {
      if (!progress.contains(id)) return "no progress for " + id_str(id);
    }
  }
  // A staged learner exists only because it could not become a learner while still an
  // outgoing voter.
  for (uint64_t id : cfg.learners_next) {
    if (!outgoing.contains(id)) return id_str(id) + " is in learners_next but not an outgoing voter";
    if (incoming.contains(id)) return id_str(id) + " is in learners_next and an incoming voter";
    if (progress.at(id).is_learner) {
      return id_str(id) + " is in learners_next but already marked as learner";
    }
  }
  for (uint64_t id : cfg.learners) {
    if (outgoing.contains(id)) return id_str(id) + " is a learner and an outgoing voter";
    if (incoming.contains(id)) return id_str(id) + " is a learner and an incoming voter";
    if (!progress.at(id).is_learner) return id_str(id) + " is a learner but not marked as learner";
  }
  for (const auto& [id, pr] : progress) {
    const bool voter = cfg.voters.contains(id);
    if (!voter && !cfg.learners.contains(id)) {
      return "progress for " + id_str(id) + ", which is not a member";
    }
    if (voter && pr.is_learner) return id_str(id) + " is a voter but marked as learner";
  }
  if (!cfg.voters.is_joint() && cfg.auto_leave) return "auto_leave must be false when not joint";
  return {};
}

ConfChangeResult failure(std::string error) {
  ConfChangeResult result;
  result.error = std::move(error);
  return result;
}

ConfChangeResult checked(TrackerConfig cfg, ProgressMap progress) {
  if (std::string err = check_invariants(cfg, progress); !err.empty()) return failure(err);
  return ConfChangeResult{std::move(cfg), std::move(progress), {}};
}

// |a \ b| + |b \ a|
size_t symmetric_difference_size(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  size_t n = 0;
  for (uint64_t id : a) n += b.contains(id) ? 0 : 1;
  for (uint64_t id : b) n += a.contains(id) ? 0 : 1;
  return n;
}

// Applies single changes to copies of a config and progress map. All changes to voters go to
// the incoming half; the outgoing half is only ever set by enter_joint and dropped by
// leave_joint.
class ChangeApplier {
 public:
  ChangeApplier(TrackerConfig& cfg, ProgressMap& progress, const ProgressTracker& tracker,
                uint64_t last_index)
      : cfg_(cfg), progress_(progress), tracker_(tracker), last_index_(last_index) {}

  std::string apply(const std::vector<ConfChangeSingle>& changes) {
    for (const ConfChangeSingle& cc : changes) {
      // Applications blank out a change they decided not to apply by zeroing its node id.
      if (cc.node_id() == kNone) continue;
      switch (cc.change_type()) {
        case eraftpb::AddNode: make_voter(cc.node_id()); break;
        case eraftpb::AddLearnerNode: make_learner(cc.node_id()); break;
        case eraftpb::RemoveNode: remove(cc.node_id()); break;
        default:
          return "unexpected conf change type " + std::to_string(static_cast<int>(cc.change_type()));
      }
    }
    if (cfg_.voters.incoming().empty()) return "removed all voters";
    return {};
  }

 private:
  void make_voter(uint64_t id) {
    auto it = progress_.find(id);
    if (it == progress_.end()) {
      add_progress(id, /*is_learner=*/false);
      cfg_.voters.incoming().ids().insert(id);
      return;
    }
    it->second.is_learner = false;
    cfg_.learners.erase(id);
    cfg_.learners_next.erase(id);
    cfg_.voters.incoming().ids().insert(id);
  }

  void make_learner(uint64_t id) {
    auto it = progress_.find(id);
    if (it == progress_.end()) {
      add_progress(id, /*is_learner=*/true);
      cfg_.learners.insert(id);
      return;
    }
    if (it->second.is_learner) return;
    // A demoted voter keeps its Progress: it stays in the cluster, only without a vote.
    Progress kept = it->second;
    remove(id);
    // While it still votes in the outgoing half it cannot also be a learner; it becomes one when
    // the joint config is left.
    if (cfg_.voters.outgoing().contains(id)) {
      cfg_.learners_next.insert(id);
    } else {
      kept.is_learner = true;
      cfg_.learners.insert(id);
    }
    progress_.insert_or_assign(id, std::move(kept));
  }

  void remove(uint64_t id) {
    if (!progress_.contains(id)) return;
    cfg_.voters.incoming().ids().erase(id);
    cfg_.learners.erase(id);
    cfg_.learners_next.erase(id);
    // An outgoing voter still decides until the joint config is left, so the leader must keep
    // replicating to it.
    if (!cfg_.voters.outgoing().contains(id)) progress_.erase(id);
  }

  void add_progress(uint64_t id, bool is_learner) {
    // next = last_index: probe at the leader's last entry; the follower's rejection (and hint)
    // walks it back. At least 1 to keep match < next.
    Progress pr(std::max<uint64_t>(last_index_, 1), tracker_.max_inflight(),
                tracker_.max_inflight_bytes());
    pr.match = 0;
    pr.is_learner = is_learner;
    // A member that has had no chance to answer yet must not make CheckQuorum step down.
    pr.recent_active = true;
    progress_.insert_or_assign(id, std::move(pr));
  }

  TrackerConfig& cfg_;
  ProgressMap& progress_;
  const ProgressTracker& tracker_;
  uint64_t last_index_;
};

ConfChangeSingle make_change(ConfChangeType type, uint64_t id) {
  ConfChangeSingle cc;
  cc.set_change_type(type);
  cc.set_node_id(id);
  return cc;
}

template <typename Ids>
std::set<uint64_t> to_set(const Ids& ids) {
  return {ids.begin(), ids.end()};
}

bool same_sets(const ConfState& a, const ConfState& b) {
  return to_set(a.voters()) == to_set(b.voters()) &&
         to_set(a.voters_outgoing()) == to_set(b.voters_outgoing()) &&
         to_set(a.learners()) == to_set(b.learners()) &&
         to_set(a.learners_next()) == to_set(b.learners_next()) && a.auto_leave() == b.auto_leave();
}

}  // namespace

ConfChangeResult Changer::enter_joint(bool auto_leave,
                                      const std::vector<ConfChangeSingle>& changes) const {
  if (std::string err = check_invariants(tracker_.config, tracker_.progress); !err.empty()) {
    return failure("current config is invalid: " + err);
  }
  if (tracker_.config.voters.is_joint()) return failure("config is already joint");
  // An empty config may be built up (bootstrap, tests) but has no quorum to hand over from.
  if (tracker_.config.voters.incoming().empty()) {
    return failure("can't make a zero-voter config joint");
  }
  TrackerConfig cfg = tracker_.config;
  ProgressMap progress = tracker_.progress;
  cfg.voters.outgoing() = cfg.voters.incoming();
  ChangeApplier applier(cfg, progress, tracker_, last_index_);
  if (std::string err = applier.apply(changes); !err.empty()) return failure(err);
  cfg.auto_leave = auto_leave;
  return checked(std::move(cfg), std::move(progress));
}

ConfChangeResult Changer::leave_joint() const {
  if (std::string err = check_invariants(tracker_.config, tracker_.progress); !err.empty()) {
    return failure("current config is invalid: " + err);
  }
  if (!tracker_.config.voters.is_joint()) return failure("can't leave a non-joint config");
  TrackerConfig cfg = tracker_.config;
  ProgressMap progress = tracker_.progress;
  for (uint64_t id : cfg.learners_next) {
    cfg.learners.insert(id);
    progress.at(id).is_learner = true;
  }
  cfg.learners_next.clear();
  for (uint64_t id : cfg.voters.outgoing().ids()) {
    if (!cfg.voters.incoming().contains(id) && !cfg.learners.contains(id)) progress.erase(id);
  }
  cfg.voters.outgoing().ids().clear();
  cfg.auto_leave = false;
  return checked(std::move(cfg), std::move(progress));
}

ConfChangeResult Changer::simple(const std::vector<ConfChangeSingle>& changes) const {
  if (std::string err = check_invariants(tracker_.config, tracker_.progress); !err.empty()) {
    return failure("current config is invalid: " + err);
  }
  if (tracker_.config.voters.is_joint()) {
    return failure("can't apply simple config change in joint config");
  }
  TrackerConfig cfg = tracker_.config;
  ProgressMap progress = tracker_.progress;
  ChangeApplier applier(cfg, progress, tracker_, last_index_);
  if (std::string err = applier.apply(changes); !err.empty()) return failure(err);
  // One voter more or less keeps every old majority overlapping every new one; two would not.
  if (symmetric_difference_size(tracker_.config.voters.incoming().ids(),
                                cfg.voters.incoming().ids()) > 1) {
    return failure("more than one voter changed without entering joint config");
  }
  return checked(std::move(cfg), std::move(progress));
}

ConfChangeResult restore_conf_state(const ProgressTracker& tracker, uint64_t last_index,
                                    const ConfState& cs) {
  ProgressTracker scratch(tracker.max_inflight(), tracker.max_inflight_bytes());

  // Example: voters=(1 2 3) outgoing=(1 2 4 6) learners=(5) learners_next=(4). First build
  // (1 2 4 6) by simple additions; then enter_joint with: remove 1 2 4 6, add 1 2 3,
  // add-learner 5, add-learner 4 (4 is an outgoing voter, so it lands in learners_next).
  // Whether 5 was a learner before the joint config cannot be told and does not matter.
  std::vector<ConfChangeSingle> outgoing;
  std::vector<ConfChangeSingle> incoming;
  for (uint64_t id : cs.voters_outgoing()) outgoing.push_back(make_change(eraftpb::AddNode, id));
  for (uint64_t id : cs.voters_outgoing()) {
    incoming.push_back(make_change(eraftpb::RemoveNode, id));
  }
  for (uint64_t id : cs.voters()) incoming.push_back(make_change(eraftpb::AddNode, id));
  for (uint64_t id : cs.learners()) incoming.push_back(make_change(eraftpb::AddLearnerNode, id));
  for (uint64_t id : cs.learners_next()) {
    incoming.push_back(make_change(eraftpb::AddLearnerNode, id));
  }

  auto adopt = [&scratch](ConfChangeResult r) -> std::string {
    if (!r.ok()) return std::move(r.error);
    scratch.config = std::move(r.config);
    scratch.progress = std::move(r.progress);
    return {};
  };

  // Without an outgoing half the incoming changes go one at a time; with one, the outgoing
  // voters become the sole config first and enter_joint rotates them into the outgoing half.
  const std::vector<ConfChangeSingle>& one_by_one = outgoing.empty() ? incoming : outgoing;
  for (const ConfChangeSingle& cc : one_by_one) {
    if (std::string err = adopt(Changer(scratch, last_index).simple({cc})); !err.empty()) {
      return failure(err);
    }
  }
  if (!outgoing.empty()) {
    if (std::string err = adopt(Changer(scratch, last_index).enter_joint(cs.auto_leave(), incoming));
        !err.empty()) {
      return failure(err);
    }
  }

  // Replay silently resolves contradictions (a node listed as voter and learner ends up a
  // learner); such a ConfState was never written by to_conf_state, so refuse it.
  const ConfState restored = scratch.config.to_conf_state();
  if (!same_sets(restored, cs)) {
    return failure("conf state " + describe(cs) + " is inconsistent: it restores as " +
                   describe(restored));
  }
  return ConfChangeResult{std::move(scratch.config), std::move(scratch.progress), {}};
}

ConfChangeV2 to_conf_change_v2(const ConfChange& cc) {
  ConfChangeV2 v2;
  v2.set_transition(eraftpb::Auto);
  *v2.add_changes() = make_change(cc.change_type(), cc.node_id());
  v2.set_context(cc.context());
  return v2;
}

bool enters_joint(const ConfChangeV2& cc, bool* auto_leave) {
  bool joint = false;
  bool leave = false;
  if (cc.changes_size() > 0) {
    switch (cc.transition()) {
      case eraftpb::Auto:
        // A single change is simple; any more might change several voters.
        joint = cc.changes_size() > 1;
        leave = true;
        break;
      case eraftpb::Implicit:
        joint = true;
        leave = true;
        break;
      case eraftpb::Explicit:
        joint = true;
        leave = false;
        break;
      default:
        break;
    }
  }
  if (auto_leave != nullptr) *auto_leave = joint && leave;
  return joint;
}

bool leaves_joint(const ConfChangeV2& cc) { return cc.changes_size() == 0; }

bool decode_conf_change(const Entry& e, ConfChangeV2* out) {
  if (e.entry_type() == eraftpb::EntryConfChange) {
    ConfChange cc;
    if (!cc.ParseFromString(e.data())) return false;
    *out = to_conf_change_v2(cc);
    return true;
  }
  return e.entry_type() == eraftpb::EntryConfChangeV2 && out->ParseFromString(e.data());
}

}  // namespace raft
