// Configuration changes: scripted simple and joint changes, every error, restoring from a
// ConfState, the ConfChangeV2 helpers, and a seeded randomized property test.
#include "raft/confchange/confchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace raft {
namespace {

constexpr size_t kMaxInflight = 4;
constexpr uint64_t kMaxInflightBytes = 1000;

// "v1 l2 r3" = add voter 1, add learner 2, remove 3.
std::vector<ConfChangeSingle> parse(std::string_view script) {
  std::vector<ConfChangeSingle> out;
  std::istringstream in{std::string(script)};
  std::string token;
  while (in >> token) {
    ConfChangeSingle cc;
    switch (token[0]) {
      case 'v': cc.set_change_type(eraftpb::AddNode); break;
      case 'l': cc.set_change_type(eraftpb::AddLearnerNode); break;
      case 'r': cc.set_change_type(eraftpb::RemoveNode); break;
      default: ADD_FAILURE() << "bad token " << token; return out;
    }
    cc.set_node_id(std::stoull(token.substr(1)));
    out.push_back(cc);
  }
  return out;
}

// Everything observable about a tracker's config and progress, to check that inputs are never
// modified.
std::string fingerprint(const ProgressTracker& t) {
  std::ostringstream os;
  os << t.config.describe() << "\n" << describe(t.progress);
  for (const auto& [id, pr] : t.progress) {
    os << id << " recent_active=" << pr.recent_active << " probe_sent=" << pr.probe_sent
       << " cap=" << pr.inflights.capacity() << " bytes=" << pr.inflights.bytes() << "\n";
  }
  return os.str();
}

// The invariants stated in tracker.h, written out independently of the implementation.
std::string broken_invariant(const TrackerConfig& cfg, const ProgressMap& progress) {
  const auto& in = cfg.voters.incoming();
  const auto& out = cfg.voters.outgoing();
  for (uint64_t id : cfg.learners) {
    if (in.contains(id) || out.contains(id)) return "learner " + std::to_string(id) + " votes";
  }
  for (uint64_t id : cfg.learners_next) {
    if (!out.contains(id)) return "learners_next " + std::to_string(id) + " not outgoing";
    if (in.contains(id)) return "learners_next " + std::to_string(id) + " incoming";
    if (cfg.learners.contains(id)) return "learners_next " + std::to_string(id) + " learner";
  }
  if (!cfg.voters.is_joint() && cfg.auto_leave) return "auto_leave outside joint";
  if (!cfg.voters.is_joint() && !cfg.learners_next.empty()) return "learners_next outside joint";
  std::set<uint64_t> members = cfg.voters.ids();
  members.insert(cfg.learners.begin(), cfg.learners.end());
  std::set<uint64_t> tracked;
  for (const auto& [id, pr] : progress) {
    tracked.insert(id);
    if (pr.is_learner != cfg.learners.contains(id)) {
      return "is_learner of " + std::to_string(id) + " is wrong";
    }
  }
  if (members != tracked) return "progress ids differ from members";
  return {};
}

ProgressTracker empty_tracker() { return ProgressTracker(kMaxInflight, kMaxInflightBytes); }

// Adopts a successful result into `t` (the way the core would switch to the new config).
void adopt(ProgressTracker& t, const ConfChangeResult& r) {
  ASSERT_TRUE(r.ok()) << r.error;
  t.config = r.config;
  t.progress = r.progress;
}

ProgressTracker tracker_with(std::string_view script, uint64_t last_index = 10) {
  // Built one change at a time, as an application would from an empty config.
  ProgressTracker t = empty_tracker();
  for (const ConfChangeSingle& cc : parse(script)) {
    ConfChangeResult r = Changer(t, last_index).simple({cc});
    EXPECT_TRUE(r.ok()) << r.error;
    t.config = r.config;
    t.progress = r.progress;
  }
  return t;
}

void expect_failure(const ProgressTracker& t, const ConfChangeResult& r, std::string_view error,
                    const std::string& before) {
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, error);
  EXPECT_EQ(r.config, TrackerConfig{}) << "a failed change returns an empty config";
  EXPECT_TRUE(r.progress.empty());
  EXPECT_EQ(fingerprint(t), before) << "the input tracker is untouched";
}

// ---------------------------------------------------------------------------------------------
// Simple changes.

TEST(ConfChangeTest, SimpleAddToAnEmptyConfigCreatesProgress) {
  ProgressTracker t = empty_tracker();
  ConfChangeResult r = Changer(t, 10).simple(parse("v1"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1)");
  ASSERT_EQ(r.progress.size(), 1u);
  const Progress& pr = r.progress.at(1);
  EXPECT_EQ(pr.match, 0u);
  EXPECT_EQ(pr.next, 10u);
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_TRUE(pr.recent_active);
  EXPECT_FALSE(pr.is_learner);
  EXPECT_EQ(pr.inflights.capacity(), kMaxInflight);
  // The window's byte limit came from the tracker too.
  Progress filled = pr;
  filled.become_replicate();
  filled.sent_entries(1, kMaxInflightBytes, 1);
  EXPECT_TRUE(filled.inflights.full());
  EXPECT_TRUE(t.progress.empty()) << "the input tracker is untouched";
}

TEST(ConfChangeTest, NewProgressStartsAtNextOneWithAnEmptyLog) {
  ProgressTracker t = empty_tracker();
  ConfChangeResult r = Changer(t, 0).simple(parse("v1"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.progress.at(1).next, 1u) << "match < next must hold even at last_index 0";
  r = Changer(t, 1).simple(parse("l2 v1"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.progress.at(1).next, 1u);
  EXPECT_EQ(r.progress.at(2).next, 1u);
  EXPECT_TRUE(r.progress.at(2).is_learner);
}

TEST(ConfChangeTest, SimpleAddsOneVoterAtATime) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  EXPECT_EQ(t.config.describe(), "voters=(1 2 3)");
  EXPECT_EQ(t.progress.size(), 3u);

  const std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).simple(parse("v4 v5")),
                 "more than one voter changed without entering joint config", before);
  // Swapping a voter is two voter changes too.
  expect_failure(t, Changer(t, 10).simple(parse("r1 v4")),
                 "more than one voter changed without entering joint config", before);
  // So is adding two to an empty config.
  ProgressTracker empty = empty_tracker();
  expect_failure(empty, Changer(empty, 10).simple(parse("v1 v2")),
                 "more than one voter changed without entering joint config", fingerprint(empty));
}

TEST(ConfChangeTest, SimpleMayChangeOneVoterAndAnyLearners) {
  ProgressTracker t = tracker_with("v1 v2");
  ConfChangeResult r = Changer(t, 10).simple(parse("v3 l4 l5"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3) learners=(4 5)");
  EXPECT_TRUE(r.progress.at(4).is_learner);
  EXPECT_TRUE(r.progress.at(5).is_learner);
  EXPECT_FALSE(r.progress.at(3).is_learner);

  // Adding and removing the same voter in one go changes nothing overall.
  r = Changer(t, 10).simple(parse("v3 r3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)");
  EXPECT_FALSE(r.progress.contains(3));
}

TEST(ConfChangeTest, SimpleRemoveDropsTheProgress) {
  ProgressTracker t = tracker_with("v1 v2 v3 l4");
  ConfChangeResult r = Changer(t, 10).simple(parse("r2"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 3) learners=(4)");
  EXPECT_FALSE(r.progress.contains(2));

  r = Changer(t, 10).simple(parse("r4"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)");
  EXPECT_FALSE(r.progress.contains(4));
}

TEST(ConfChangeTest, RemovingANonMemberDoesNothing) {
  ProgressTracker t = tracker_with("v1 v2");
  ConfChangeResult r = Changer(t, 10).simple(parse("r9"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config, t.config);
  EXPECT_EQ(r.progress.size(), 2u);
}

TEST(ConfChangeTest, AddingAnExistingMemberAgainKeepsItsProgress) {
  ProgressTracker t = tracker_with("v1 v2 l3");
  t.progress.at(2).match = 42;
  t.progress.at(2).next = 43;
  t.progress.at(3).match = 17;
  t.progress.at(3).next = 18;
  ConfChangeResult r = Changer(t, 100).simple(parse("v2 l3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config, t.config);
  EXPECT_EQ(r.progress.at(2).match, 42u);
  EXPECT_EQ(r.progress.at(2).next, 43u);
  EXPECT_EQ(r.progress.at(3).match, 17u);
}

TEST(ConfChangeTest, SimplePromotesALearnerKeepingItsProgress) {
  ProgressTracker t = tracker_with("v1 l2");
  t.progress.at(2).match = 7;
  t.progress.at(2).next = 8;
  t.progress.at(2).recent_active = false;
  ConfChangeResult r = Changer(t, 100).simple(parse("v2"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)");
  const Progress& pr = r.progress.at(2);
  EXPECT_FALSE(pr.is_learner);
  EXPECT_EQ(pr.match, 7u);
  EXPECT_EQ(pr.next, 8u);
  EXPECT_FALSE(pr.recent_active) << "an existing member's Progress is kept, not recreated";
}

TEST(ConfChangeTest, SimpleDemotesAVoterToLearnerKeepingItsProgress) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  t.progress.at(3).match = 9;
  t.progress.at(3).next = 10;
  ConfChangeResult r = Changer(t, 100).simple(parse("l3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2) learners=(3)");
  EXPECT_TRUE(r.progress.at(3).is_learner);
  EXPECT_EQ(r.progress.at(3).match, 9u);
  EXPECT_EQ(r.progress.at(3).next, 10u);
}

TEST(ConfChangeTest, SimpleCannotRemoveAllVoters) {
  ProgressTracker t = tracker_with("v1 l2");
  const std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).simple(parse("r1")), "removed all voters", before);
  // Demoting the only voter empties the voters too.
  expect_failure(t, Changer(t, 10).simple(parse("l1")), "removed all voters", before);
  // Learners alone in an empty config: no voters.
  ProgressTracker empty = empty_tracker();
  expect_failure(empty, Changer(empty, 10).simple(parse("l1")), "removed all voters",
                 fingerprint(empty));
  // An empty change list on an empty config has no voters either.
  expect_failure(empty, Changer(empty, 10).simple({}), "removed all voters", fingerprint(empty));
}

TEST(ConfChangeTest, SimpleWithNoChangesReturnsTheSameConfig) {
  ProgressTracker t = tracker_with("v1 v2 l3");
  ConfChangeResult r = Changer(t, 10).simple({});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config, t.config);
  EXPECT_EQ(describe(r.progress), describe(t.progress));
}

TEST(ConfChangeTest, NodeIdZeroIsSkipped) {
  ProgressTracker t = tracker_with("v1");
  ConfChangeResult r = Changer(t, 10).simple(parse("v0 l0 r0 v2"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)");
  EXPECT_FALSE(r.progress.contains(0));
  // A skipped change adds nothing: "r1 v0" still removes the only voter.
  const std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).simple(parse("r1 v0")), "removed all voters", before);
}

TEST(ConfChangeTest, UnknownChangeTypeIsAnError) {
  ProgressTracker t = tracker_with("v1");
  ConfChangeSingle bad;
  bad.set_change_type(static_cast<ConfChangeType>(7));
  bad.set_node_id(2);
  const std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).simple({bad}), "unexpected conf change type 7", before);
  expect_failure(t, Changer(t, 10).enter_joint(false, {bad}), "unexpected conf change type 7",
                 before);
}

TEST(ConfChangeTest, SimpleInAJointConfigIsAnError) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  adopt(t, Changer(t, 10).enter_joint(false, parse("v4")));
  const std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).simple(parse("v5")),
                 "can't apply simple config change in joint config", before);
  expect_failure(t, Changer(t, 10).simple({}), "can't apply simple config change in joint config",
                 before);
}

// ---------------------------------------------------------------------------------------------
// Joint changes.

TEST(ConfChangeTest, EnterAndLeaveJointReplacingVoters) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  t.progress.at(3).match = 5;
  t.progress.at(3).next = 6;
  const std::string before = fingerprint(t);

  ConfChangeResult r = Changer(t, 20).enter_joint(true, parse("r3 v4 v5"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(fingerprint(t), before) << "the input tracker is untouched";
  EXPECT_EQ(r.config.describe(), "voters=(1 2 4 5)&&(1 2 3) autoleave");
  // The removed voter still decides in the outgoing half: its Progress stays.
  ASSERT_TRUE(r.progress.contains(3));
  EXPECT_EQ(r.progress.at(3).match, 5u);
  EXPECT_EQ(r.progress.at(4).next, 20u);
  EXPECT_EQ(r.progress.at(5).next, 20u);
  adopt(t, r);

  r = Changer(t, 20).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 4 5)");
  EXPECT_FALSE(r.config.auto_leave);
  EXPECT_FALSE(r.progress.contains(3)) << "in neither half any more";
  EXPECT_EQ(r.progress.size(), 4u);
}

TEST(ConfChangeTest, EnterJointWithoutAutoLeave) {
  ProgressTracker t = tracker_with("v1 v2");
  ConfChangeResult r = Changer(t, 10).enter_joint(false, parse("v3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2)");
  EXPECT_FALSE(r.config.auto_leave);
}

TEST(ConfChangeTest, EnterJointWithNoChangesDuplicatesTheVoters) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  ConfChangeResult r = Changer(t, 10).enter_joint(true, {});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2 3) autoleave");
  adopt(t, r);
  r = Changer(t, 10).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)");
}

TEST(ConfChangeTest, EnterJointErrors) {
  ProgressTracker empty = empty_tracker();
  expect_failure(empty, Changer(empty, 10).enter_joint(false, parse("v1")),
                 "can't make a zero-voter config joint", fingerprint(empty));

  ProgressTracker t = tracker_with("v1 v2 v3");
  std::string before = fingerprint(t);
  expect_failure(t, Changer(t, 10).enter_joint(false, parse("r1 r2 r3")), "removed all voters",
                 before);
  expect_failure(t, Changer(t, 10).enter_joint(true, parse("l1 l2 l3")), "removed all voters",
                 before);

  adopt(t, Changer(t, 10).enter_joint(false, parse("v4")));
  before = fingerprint(t);
  expect_failure(t, Changer(t, 10).enter_joint(false, parse("v5")), "config is already joint",
                 before);
  expect_failure(t, Changer(t, 10).enter_joint(false, {}), "config is already joint", before);
}

TEST(ConfChangeTest, LeaveANonJointConfigIsAnError) {
  ProgressTracker t = tracker_with("v1 v2");
  expect_failure(t, Changer(t, 10).leave_joint(), "can't leave a non-joint config",
                 fingerprint(t));
  ProgressTracker empty = empty_tracker();
  expect_failure(empty, Changer(empty, 10).leave_joint(), "can't leave a non-joint config",
                 fingerprint(empty));
}

TEST(ConfChangeTest, DemotingAnOutgoingVoterStagesItInLearnersNext) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  t.progress.at(3).match = 11;
  t.progress.at(3).next = 12;
  ConfChangeResult r = Changer(t, 20).enter_joint(true, parse("l3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)&&(1 2 3) learners_next=(3) autoleave");
  EXPECT_FALSE(r.progress.at(3).is_learner) << "still an outgoing voter";
  EXPECT_EQ(r.progress.at(3).match, 11u);
  adopt(t, r);

  r = Changer(t, 20).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2) learners=(3)");
  EXPECT_TRUE(r.progress.at(3).is_learner);
  EXPECT_EQ(r.progress.at(3).match, 11u);
}

TEST(ConfChangeTest, ANewVoterDemotedInTheSameJointChangeBecomesALearnerAtOnce) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  // 4 is not in the outgoing half, so it need not wait in learners_next.
  ConfChangeResult r = Changer(t, 10).enter_joint(false, parse("v4 l4"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2 3) learners=(4)");
  EXPECT_TRUE(r.progress.at(4).is_learner);
}

TEST(ConfChangeTest, AStagedLearnerCanBePromotedBackOrRemoved) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  ConfChangeResult r = Changer(t, 10).enter_joint(false, parse("l3 v3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2 3)");
  EXPECT_FALSE(r.progress.at(3).is_learner);

  r = Changer(t, 10).enter_joint(false, parse("l3 r3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)&&(1 2 3)");
  EXPECT_TRUE(r.progress.contains(3)) << "an outgoing voter keeps its Progress";
  adopt(t, r);
  r = Changer(t, 10).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)");
  EXPECT_FALSE(r.progress.contains(3));
}

TEST(ConfChangeTest, ARemovedOutgoingVoterCanComeBackAsLearnerNext) {
  ProgressTracker t = tracker_with("v1 v2 v3");
  ConfChangeResult r = Changer(t, 10).enter_joint(false, parse("r3 l3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2)&&(1 2 3) learners_next=(3)");
}

TEST(ConfChangeTest, PromotingALearnerInAJointConfig) {
  ProgressTracker t = tracker_with("v1 v2 v3 l4");
  t.progress.at(4).match = 8;
  t.progress.at(4).next = 9;
  ConfChangeResult r = Changer(t, 10).enter_joint(true, parse("v4 r1"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(2 3 4)&&(1 2 3) autoleave");
  EXPECT_FALSE(r.progress.at(4).is_learner);
  EXPECT_EQ(r.progress.at(4).match, 8u);
  adopt(t, r);
  r = Changer(t, 10).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(2 3 4)");
  EXPECT_FALSE(r.progress.contains(1));
}

TEST(ConfChangeTest, JointConfigAddsAndRemovesLearners) {
  ProgressTracker t = tracker_with("v1 v2 v3 l4");
  ConfChangeResult r = Changer(t, 10).enter_joint(false, parse("l5 r4"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2 3) learners=(5)");
  EXPECT_FALSE(r.progress.contains(4)) << "a learner is in neither half: dropped at once";
  EXPECT_TRUE(r.progress.at(5).is_learner);
}

TEST(ConfChangeTest, FullMembershipSwapThroughJointConsensus) {
  // (1 2 3) -> (4 5 6), demoting 1 to learner on the way.
  ProgressTracker t = tracker_with("v1 v2 v3");
  ConfChangeResult r = Changer(t, 30).enter_joint(true, parse("v4 v5 v6 l1 r2 r3"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(4 5 6)&&(1 2 3) learners_next=(1) autoleave");
  EXPECT_EQ(r.progress.size(), 6u);
  adopt(t, r);
  r = Changer(t, 30).leave_joint();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(4 5 6) learners=(1)");
  EXPECT_EQ(r.progress.size(), 4u);
  EXPECT_TRUE(r.progress.at(1).is_learner);
}

// ---------------------------------------------------------------------------------------------
// A tracker that breaks an invariant is refused, whatever the operation.

struct BadTrackerCase {
  const char* what;
  void (*corrupt)(ProgressTracker& t);
  const char* error;
};

TEST(ConfChangeTest, InvalidInputTrackerIsRefused) {
  const std::vector<BadTrackerCase> cases = {
      {"voter without progress", [](ProgressTracker& t) { t.progress.erase(2); },
       "no progress for 2"},
      {"learner without progress", [](ProgressTracker& t) { t.progress.erase(4); },
       "no progress for 4"},
      {"progress of a non-member",
       [](ProgressTracker& t) { t.progress.emplace(9, Progress(1, 1, kNoLimit)); },
       "progress for 9, which is not a member"},
      {"learner also a voter", [](ProgressTracker& t) { t.config.learners.insert(1); },
       "1 is a learner and an incoming voter"},
      {"learner not marked", [](ProgressTracker& t) { t.progress.at(4).is_learner = false; },
       "4 is a learner but not marked as learner"},
      {"voter marked learner", [](ProgressTracker& t) { t.progress.at(1).is_learner = true; },
       "1 is a voter but marked as learner"},
      {"learners_next outside joint", [](ProgressTracker& t) { t.config.learners_next.insert(3); },
       "3 is in learners_next but not an outgoing voter"},
      {"auto_leave outside joint", [](ProgressTracker& t) { t.config.auto_leave = true; },
       "auto_leave must be false when not joint"},
  };
  for (const auto& c : cases) {
    ProgressTracker t = tracker_with("v1 v2 v3 l4");
    c.corrupt(t);
    const std::string before = fingerprint(t);
    const std::string want = std::string("current config is invalid: ") + c.error;
    expect_failure(t, Changer(t, 10).simple(parse("v5")), want, before);
    expect_failure(t, Changer(t, 10).enter_joint(false, parse("v5")), want, before);
    expect_failure(t, Changer(t, 10).leave_joint(), want, before);
  }
}

TEST(ConfChangeTest, InvalidJointInputTrackerIsRefused) {
  const std::vector<BadTrackerCase> cases = {
      {"learner also an outgoing voter",
       [](ProgressTracker& t) {
         t.config.learners.insert(3);
         t.progress.at(3).is_learner = true;
       },
       "3 is a learner and an outgoing voter"},
      {"learners_next also an incoming voter",
       [](ProgressTracker& t) { t.config.learners_next.insert(1); },
       "1 is in learners_next and an incoming voter"},
      {"learners_next marked learner",
       [](ProgressTracker& t) {
         t.config.voters.incoming().ids().erase(3);
         t.config.learners_next.insert(3);
         t.progress.at(3).is_learner = true;
       },
       "3 is in learners_next but already marked as learner"},
  };
  for (const auto& c : cases) {
    ProgressTracker t = tracker_with("v1 v2 v3");
    adopt(t, Changer(t, 10).enter_joint(false, {}));
    c.corrupt(t);
    const std::string before = fingerprint(t);
    const std::string want = std::string("current config is invalid: ") + c.error;
    expect_failure(t, Changer(t, 10).leave_joint(), want, before);
    expect_failure(t, Changer(t, 10).enter_joint(false, {}), want, before);
  }
}

// ---------------------------------------------------------------------------------------------
// Restoring from a ConfState.

ConfState conf_state(std::vector<uint64_t> voters, std::vector<uint64_t> learners = {},
                     std::vector<uint64_t> outgoing = {}, std::vector<uint64_t> learners_next = {},
                     bool auto_leave = false) {
  ConfState cs;
  for (uint64_t id : voters) cs.add_voters(id);
  for (uint64_t id : learners) cs.add_learners(id);
  for (uint64_t id : outgoing) cs.add_voters_outgoing(id);
  for (uint64_t id : learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(auto_leave);
  return cs;
}

TEST(ConfChangeTest, RestoreAnEmptyConfState) {
  ConfChangeResult r = restore_conf_state(empty_tracker(), 10, ConfState());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config, TrackerConfig{});
  EXPECT_TRUE(r.progress.empty());
}

TEST(ConfChangeTest, RestoreASimpleConfState) {
  ConfChangeResult r = restore_conf_state(empty_tracker(), 7, conf_state({3, 1, 2}, {5, 4}));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3) learners=(4 5)");
  ASSERT_EQ(r.progress.size(), 5u);
  for (const auto& [id, pr] : r.progress) {
    EXPECT_EQ(pr.match, 0u) << id;
    EXPECT_EQ(pr.next, 7u) << id;
    EXPECT_TRUE(pr.recent_active) << id;
    EXPECT_EQ(pr.inflights.capacity(), kMaxInflight) << id;
    EXPECT_EQ(pr.is_learner, id >= 4) << id;
  }
}

TEST(ConfChangeTest, RestoreAJointConfState) {
  const ConfState cs = conf_state({1, 2, 3}, {5}, {1, 2, 4, 6}, {4}, true);
  ConfChangeResult r = restore_conf_state(empty_tracker(), 10, cs);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave");
  EXPECT_EQ(r.progress.size(), 6u);
  EXPECT_FALSE(r.progress.at(4).is_learner);
  EXPECT_TRUE(r.progress.at(5).is_learner);
  EXPECT_TRUE(r.progress.contains(6));
}

TEST(ConfChangeTest, RestoreIgnoresTheTrackersConfigButUsesItsLimits) {
  ProgressTracker t(9, 50);
  adopt(t, Changer(t, 10).simple(parse("v7")));
  ConfChangeResult r = restore_conf_state(t, 3, conf_state({1}));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1)");
  EXPECT_FALSE(r.progress.contains(7));
  EXPECT_EQ(r.progress.at(1).inflights.capacity(), 9u);
  EXPECT_EQ(r.progress.at(1).next, 3u);
  EXPECT_EQ(t.config.describe(), "voters=(7)") << "the input tracker is untouched";
}

TEST(ConfChangeTest, RestoreToleratesUnsortedAndDuplicateIds) {
  ConfChangeResult r = restore_conf_state(empty_tracker(), 1, conf_state({2, 1, 2}, {3, 3}));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.describe(), "voters=(1 2) learners=(3)");
}

TEST(ConfChangeTest, RestoreRejectsContradictoryConfStates) {
  struct Case {
    const char* what;
    ConfState cs;
    std::string error;
  };
  auto inconsistent = [](const ConfState& cs, const std::string& restored) {
    return "conf state " + describe(cs) + " is inconsistent: it restores as " + restored;
  };
  const ConfState voter_and_learner = conf_state({1, 2}, {2});
  const ConfState zero_voter = conf_state({1, 0});
  const ConfState auto_leave_simple = conf_state({1}, {}, {}, {}, true);
  const ConfState staged_not_outgoing = conf_state({1}, {}, {}, {2});
  const ConfState staged_incoming = conf_state({1, 2}, {}, {1, 2, 3}, {2});
  const ConfState outgoing_learner = conf_state({1, 2}, {3}, {1, 3});
  const std::vector<Case> cases = {
      {"learners only", conf_state({}, {1, 2}), "removed all voters"},
      {"outgoing only", conf_state({}, {}, {1, 2}), "removed all voters"},
      {"voter and learner", voter_and_learner,
       inconsistent(voter_and_learner, "voters=[1] learners=[2]")},
      {"node id 0", zero_voter, inconsistent(zero_voter, "voters=[1]")},
      {"auto_leave outside joint", auto_leave_simple,
       inconsistent(auto_leave_simple, "voters=[1]")},
      {"learners_next outside joint", staged_not_outgoing,
       inconsistent(staged_not_outgoing, "voters=[1] learners=[2]")},
      {"learners_next an incoming voter", staged_incoming,
       inconsistent(staged_incoming, "voters=[1] outgoing=[1 2 3] learners_next=[2]")},
      {"learner an outgoing voter", outgoing_learner,
       inconsistent(outgoing_learner, "voters=[1 2] outgoing=[1 3] learners_next=[3]")},
  };
  for (const auto& c : cases) {
    ConfChangeResult r = restore_conf_state(empty_tracker(), 10, c.cs);
    EXPECT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error, c.error) << c.what;
    EXPECT_EQ(r.config, TrackerConfig{}) << c.what;
    EXPECT_TRUE(r.progress.empty()) << c.what;
  }
}

// ---------------------------------------------------------------------------------------------
// ConfChangeV2 helpers.

TEST(ConfChangeTest, ToConfChangeV2) {
  ConfChange cc;
  cc.set_id(99);
  cc.set_change_type(eraftpb::AddLearnerNode);
  cc.set_node_id(4);
  cc.set_context("ctx");
  const ConfChangeV2 v2 = to_conf_change_v2(cc);
  EXPECT_EQ(v2.transition(), eraftpb::Auto);
  ASSERT_EQ(v2.changes_size(), 1);
  EXPECT_EQ(v2.changes(0).change_type(), eraftpb::AddLearnerNode);
  EXPECT_EQ(v2.changes(0).node_id(), 4u);
  EXPECT_EQ(v2.context(), "ctx");
  bool auto_leave = true;
  EXPECT_FALSE(enters_joint(v2, &auto_leave)) << "one change is a simple change";
  EXPECT_FALSE(auto_leave);
  EXPECT_FALSE(leaves_joint(v2));
}

TEST(ConfChangeTest, EntersAndLeavesJointTable) {
  struct Case {
    ConfChangeTransition transition;
    int changes;
    bool want_enter;
    bool want_auto_leave;
    bool want_leave;
  };
  const std::vector<Case> cases = {
      {eraftpb::Auto, 0, false, false, true},
      {eraftpb::Auto, 1, false, false, false},
      {eraftpb::Auto, 2, true, true, false},
      {eraftpb::Auto, 5, true, true, false},
      {eraftpb::Implicit, 0, false, false, true},
      {eraftpb::Implicit, 1, true, true, false},
      {eraftpb::Implicit, 3, true, true, false},
      {eraftpb::Explicit, 0, false, false, true},
      {eraftpb::Explicit, 1, true, false, false},
      {eraftpb::Explicit, 3, true, false, false},
      {static_cast<ConfChangeTransition>(9), 2, false, false, false},
  };
  for (const auto& c : cases) {
    ConfChangeV2 cc;
    cc.set_transition(c.transition);
    for (int i = 0; i < c.changes; ++i) {
      auto* ch = cc.add_changes();
      ch->set_change_type(eraftpb::AddNode);
      ch->set_node_id(static_cast<uint64_t>(i + 1));
    }
    bool auto_leave = !c.want_auto_leave;  // must be overwritten
    EXPECT_EQ(enters_joint(cc, &auto_leave), c.want_enter)
        << "transition=" << c.transition << " changes=" << c.changes;
    EXPECT_EQ(auto_leave, c.want_auto_leave)
        << "transition=" << c.transition << " changes=" << c.changes;
    EXPECT_EQ(enters_joint(cc, nullptr), c.want_enter) << "a null auto_leave is allowed";
    EXPECT_EQ(leaves_joint(cc), c.want_leave)
        << "transition=" << c.transition << " changes=" << c.changes;
  }
  ConfChangeV2 with_context;
  with_context.set_context("anything");
  EXPECT_TRUE(leaves_joint(with_context)) << "the context does not matter";
}

// ---------------------------------------------------------------------------------------------
// Randomized: any sequence of changes keeps the invariants, never touches its input, and
// restore_conf_state(to_conf_state()) rebuilds the same configuration.

std::set<uint64_t> symmetric_difference(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  std::set<uint64_t> out;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(),
                                std::inserter(out, out.end()));
  return out;
}

std::vector<ConfChangeSingle> random_changes(std::mt19937_64& rng, size_t n) {
  std::vector<ConfChangeSingle> out;
  for (size_t i = 0; i < n; ++i) {
    ConfChangeSingle cc;
    switch (rng() % 3) {
      case 0: cc.set_change_type(eraftpb::AddNode); break;
      case 1: cc.set_change_type(eraftpb::AddLearnerNode); break;
      default: cc.set_change_type(eraftpb::RemoveNode); break;
    }
    // Ids 1..7, and now and then the "skip me" id 0.
    cc.set_node_id(rng() % 20 == 0 ? 0 : 1 + rng() % 7);
    out.push_back(cc);
  }
  return out;
}

TEST(ConfChangeTest, RandomChangeSequencesKeepInvariantsAndRoundTrip) {
  std::mt19937_64 rng(0x5eed'c0f1'c4a9'9e00ULL);
  enum Op { kSimple, kEnterJoint, kLeaveJoint };
  std::map<Op, int> successes;
  std::map<std::string, int> errors;
  int staged_learners_seen = 0;

  for (int run = 0; run < 150; ++run) {
    ProgressTracker t(kMaxInflight, kMaxInflightBytes);
    for (int step = 0; step < 80; ++step) {
      // Replication moves on between changes, so kept Progress is distinguishable from new.
      for (auto& [id, pr] : t.progress) {
        if (rng() % 2 == 0) {
          pr.match += rng() % 5;
          pr.next = pr.match + 1;
          pr.recent_active = rng() % 2 == 0;
        }
      }
      const uint64_t last_index = rng() % 40;
      const ProgressTracker before = t;
      const std::string before_print = fingerprint(t);

      Op op;
      bool auto_leave = false;
      ConfChangeResult r;
      std::vector<ConfChangeSingle> changes;
      const uint64_t dice = rng() % 10;
      if (dice < 5) {
        op = kSimple;
        changes = random_changes(rng, dice < 3 ? 1 : 1 + rng() % 3);
        r = Changer(t, last_index).simple(changes);
      } else if (dice < 8) {
        op = kEnterJoint;
        auto_leave = rng() % 2 == 0;
        changes = random_changes(rng, rng() % 5);
        r = Changer(t, last_index).enter_joint(auto_leave, changes);
      } else {
        op = kLeaveJoint;
        r = Changer(t, last_index).leave_joint();
      }
      ASSERT_EQ(fingerprint(t), before_print) << "the input tracker was modified";

      if (!r.ok()) {
        ++errors[r.error];
        ASSERT_EQ(r.config, TrackerConfig{});
        ASSERT_TRUE(r.progress.empty());
        continue;
      }
      ++successes[op];
      const TrackerConfig& cfg = r.config;
      const std::string context = before.config.describe() + " -> " + cfg.describe();

      ASSERT_EQ(broken_invariant(cfg, r.progress), "") << context;
      ASSERT_FALSE(cfg.voters.incoming().empty()) << context;
      const auto& old_in = before.config.voters.incoming().ids();
      switch (op) {
        case kSimple:
          ASSERT_FALSE(cfg.voters.is_joint()) << context;
          ASSERT_LE(symmetric_difference(old_in, cfg.voters.incoming().ids()).size(), 1u)
              << context;
          break;
        case kEnterJoint:
          ASSERT_EQ(cfg.voters.outgoing().ids(), old_in) << context;
          ASSERT_EQ(cfg.auto_leave, auto_leave) << context;
          break;
        case kLeaveJoint: {
          ASSERT_FALSE(cfg.voters.is_joint()) << context;
          ASSERT_FALSE(cfg.auto_leave) << context;
          ASSERT_EQ(cfg.voters.incoming().ids(), old_in) << context;
          std::set<uint64_t> want_learners = before.config.learners;
          want_learners.insert(before.config.learners_next.begin(),
                               before.config.learners_next.end());
          ASSERT_EQ(cfg.learners, want_learners) << context;
          break;
        }
      }
      if (!cfg.learners_next.empty()) ++staged_learners_seen;

      // Members that stay keep their Progress; new members start fresh. (A member removed and
      // added back within one change may have either.)
      std::set<uint64_t> removed;
      for (const auto& cc : changes) {
        if (cc.change_type() == eraftpb::RemoveNode) removed.insert(cc.node_id());
      }
      for (const auto& [id, pr] : r.progress) {
        auto old = before.progress.find(id);
        if (old != before.progress.end() && removed.contains(id)) continue;
        if (old != before.progress.end()) {
          ASSERT_EQ(pr.match, old->second.match) << id << " " << context;
          ASSERT_EQ(pr.next, old->second.next) << id << " " << context;
          ASSERT_EQ(pr.recent_active, old->second.recent_active) << id << " " << context;
        } else {
          ASSERT_EQ(pr.match, 0u) << id << " " << context;
          ASSERT_EQ(pr.next, std::max<uint64_t>(last_index, 1)) << id << " " << context;
          ASSERT_TRUE(pr.recent_active) << id << " " << context;
          ASSERT_EQ(pr.inflights.capacity(), kMaxInflight) << id << " " << context;
        }
      }

      // The ConfState round trip rebuilds the same config and the same members.
      const ConfChangeResult restored = restore_conf_state(t, last_index, cfg.to_conf_state());
      ASSERT_TRUE(restored.ok()) << restored.error << " " << context;
      ASSERT_EQ(restored.config, cfg) << context;
      ASSERT_EQ(restored.progress.size(), r.progress.size()) << context;
      for (const auto& [id, pr] : r.progress) {
        ASSERT_TRUE(restored.progress.contains(id)) << id << " " << context;
        ASSERT_EQ(restored.progress.at(id).is_learner, pr.is_learner) << id << " " << context;
      }

      t.config = r.config;
      t.progress = r.progress;
    }
  }

  // The walk must have covered the interesting ground, or the properties above prove little.
  EXPECT_GT(successes[kSimple], 1000);
  EXPECT_GT(successes[kEnterJoint], 1000);
  EXPECT_GT(successes[kLeaveJoint], 1000);
  EXPECT_GT(staged_learners_seen, 100);
  const std::set<std::string> expected_errors = {
      "more than one voter changed without entering joint config", "config is already joint",
      "can't leave a non-joint config", "removed all voters",
      "can't apply simple config change in joint config", "can't make a zero-voter config joint"};
  for (const std::string& error : expected_errors) EXPECT_GT(errors[error], 50) << error;
  // Nothing else: valid changes on a valid tracker never break an invariant.
  for (const auto& [error, count] : errors) {
    EXPECT_TRUE(expected_errors.contains(error)) << error << " (" << count << " times)";
  }
}

}  // namespace
}  // namespace raft
