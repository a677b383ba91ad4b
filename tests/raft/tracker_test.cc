// The tracker: configuration export, commit index from matches, activity, elections.
#include "raft/tracker/tracker.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <set>
#include <vector>

namespace raft {
namespace {

using quorum::JointConfig;
using quorum::MajorityConfig;
using quorum::VoteResult;

// A tracker with the given members; every member gets a Progress with the given match (0 if
// absent from `matches`). Learners are marked as such.
ProgressTracker make_tracker(std::set<uint64_t> incoming, std::set<uint64_t> outgoing = {},
                             std::set<uint64_t> learners = {},
                             std::map<uint64_t, uint64_t> matches = {}) {
  ProgressTracker t(10);
  t.config.voters = JointConfig(MajorityConfig(incoming), MajorityConfig(outgoing));
  t.config.learners = learners;
  std::set<uint64_t> all = t.config.voters.ids();
  all.insert(learners.begin(), learners.end());
  for (uint64_t id : all) {
    Progress pr(1, 10, kNoLimit);
    pr.match = matches.contains(id) ? matches.at(id) : 0;
    pr.next = pr.match + 1;
    pr.is_learner = learners.contains(id);
    t.progress.emplace(id, pr);
  }
  return t;
}

std::vector<uint64_t> ids(const google::protobuf::RepeatedField<uint64_t>& field) {
  return {field.begin(), field.end()};
}

TEST(TrackerTest, ConstructorKeepsInflightLimits) {
  ProgressTracker t(7, 1234);
  EXPECT_EQ(t.max_inflight(), 7u);
  EXPECT_EQ(t.max_inflight_bytes(), 1234u);
  EXPECT_TRUE(t.progress.empty());
  EXPECT_TRUE(t.votes().empty());
  ProgressTracker unlimited(3);
  EXPECT_EQ(unlimited.max_inflight_bytes(), kNoLimit);
}

TEST(TrackerTest, ToConfStateListsEverythingSorted) {
  TrackerConfig cfg;
  cfg.voters = JointConfig(MajorityConfig({3, 1, 2}), MajorityConfig({4, 2, 1}));
  cfg.learners = {9, 7};
  cfg.learners_next = {4};
  cfg.auto_leave = true;
  const ConfState cs = cfg.to_conf_state();
  EXPECT_EQ(ids(cs.voters()), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(ids(cs.voters_outgoing()), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(ids(cs.learners()), (std::vector<uint64_t>{7, 9}));
  EXPECT_EQ(ids(cs.learners_next()), (std::vector<uint64_t>{4}));
  EXPECT_TRUE(cs.auto_leave());

  const ConfState empty = TrackerConfig().to_conf_state();
  EXPECT_EQ(empty.voters_size(), 0);
  EXPECT_EQ(empty.voters_outgoing_size(), 0);
  EXPECT_EQ(empty.learners_size(), 0);
  EXPECT_EQ(empty.learners_next_size(), 0);
  EXPECT_FALSE(empty.auto_leave());
}

TEST(TrackerTest, ConfStateOfTheTrackerIsItsConfig) {
  ProgressTracker t = make_tracker({1, 2}, {}, {3});
  const ConfState cs = t.conf_state();
  EXPECT_EQ(ids(cs.voters()), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(ids(cs.learners()), (std::vector<uint64_t>{3}));
}

TEST(TrackerTest, DescribeConfig) {
  TrackerConfig cfg;
  EXPECT_EQ(cfg.describe(), "voters=()");
  cfg.voters = JointConfig(MajorityConfig({1, 2, 3}), MajorityConfig());
  EXPECT_EQ(cfg.describe(), "voters=(1 2 3)");
  cfg.voters = JointConfig(MajorityConfig({1, 2, 3}), MajorityConfig({1, 2, 4}));
  cfg.learners = {5};
  cfg.learners_next = {4};
  cfg.auto_leave = true;
  EXPECT_EQ(cfg.describe(), "voters=(1 2 3)&&(1 2 4) learners=(5) learners_next=(4) autoleave");
}

TEST(TrackerTest, ConfigEquality) {
  TrackerConfig a;
  a.voters = JointConfig(MajorityConfig({1}), MajorityConfig());
  TrackerConfig b = a;
  EXPECT_EQ(a, b);
  b.auto_leave = true;
  EXPECT_NE(a, b);
  b = a;
  b.learners = {2};
  EXPECT_NE(a, b);
  b = a;
  b.learners_next = {2};
  EXPECT_NE(a, b);
}

TEST(TrackerTest, IsSingleton) {
  EXPECT_FALSE(make_tracker({}).is_singleton());
  EXPECT_TRUE(make_tracker({1}).is_singleton());
  EXPECT_TRUE(make_tracker({1}, {}, {2, 3}).is_singleton()) << "learners do not count";
  EXPECT_FALSE(make_tracker({1, 2}).is_singleton());
  EXPECT_FALSE(make_tracker({1}, {1}).is_singleton()) << "a joint config is never a singleton";
  EXPECT_FALSE(make_tracker({1}, {2}).is_singleton());
}

TEST(TrackerTest, CommittedUsesVoterMatches) {
  EXPECT_EQ(make_tracker({1}, {}, {}, {{1, 7}}).committed(), 7u);
  EXPECT_EQ(make_tracker({1, 2, 3}, {}, {}, {{1, 7}, {2, 5}, {3, 3}}).committed(), 5u);
  // A learner far ahead does not help.
  EXPECT_EQ(make_tracker({1, 2, 3}, {}, {4}, {{1, 7}, {4, 100}}).committed(), 0u);
  // Joint: the smaller of the halves; here the new voters 4 and 5 lag.
  EXPECT_EQ(make_tracker({1, 4, 5}, {1, 2, 3}, {}, {{1, 9}, {2, 9}, {3, 9}, {4, 2}, {5, 6}})
                .committed(),
            6u);
  EXPECT_EQ(make_tracker({1, 4, 5}, {1, 2, 3}, {}, {{1, 9}, {2, 1}, {3, 1}, {4, 9}, {5, 9}})
                .committed(),
            1u);
  // No voters: the quorum package's "no constraint".
  EXPECT_EQ(make_tracker({}).committed(), std::numeric_limits<uint64_t>::max());
}

TEST(TrackerTest, CommittedCountsAVoterWithoutProgressAsZero) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {}, {{1, 7}, {2, 7}, {3, 7}});
  t.progress.erase(3);
  EXPECT_EQ(t.committed(), 7u);
  t.progress.erase(2);
  EXPECT_EQ(t.committed(), 0u);
}

TEST(TrackerTest, VisitGoesInIdOrderAndCanModify) {
  ProgressTracker t = make_tracker({5, 1}, {}, {3, 9});
  std::vector<uint64_t> seen;
  t.visit([&seen](uint64_t id, Progress& pr) {
    seen.push_back(id);
    pr.recent_active = true;
  });
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 3, 5, 9}));
  for (const auto& [id, pr] : t.progress) EXPECT_TRUE(pr.recent_active) << id;

  const ProgressTracker& ct = t;
  seen.clear();
  ct.visit([&seen](uint64_t id, const Progress&) { seen.push_back(id); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 3, 5, 9}));
}

TEST(TrackerTest, QuorumActiveCountsVotersWithRecentActivity) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4, 5});
  EXPECT_FALSE(t.quorum_active());
  t.progress.at(1).recent_active = true;
  EXPECT_FALSE(t.quorum_active());
  // Active learners do not make a quorum.
  t.progress.at(4).recent_active = true;
  t.progress.at(5).recent_active = true;
  EXPECT_FALSE(t.quorum_active());
  t.progress.at(3).recent_active = true;
  EXPECT_TRUE(t.quorum_active());
}

TEST(TrackerTest, QuorumActiveInAJointConfigNeedsBothHalves) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  for (uint64_t id : {1, 2, 3}) t.progress.at(id).recent_active = true;
  EXPECT_FALSE(t.quorum_active()) << "the outgoing half has only 3";
  t.progress.at(4).recent_active = true;
  EXPECT_TRUE(t.quorum_active());
  t.progress.at(1).recent_active = false;
  t.progress.at(2).recent_active = false;
  EXPECT_FALSE(t.quorum_active()) << "the incoming half has only 3";
}

TEST(TrackerTest, VoterAndLearnerNodesAreSorted) {
  ProgressTracker t = make_tracker({5, 1, 3}, {3, 7}, {9, 2});
  EXPECT_EQ(t.voter_nodes(), (std::vector<uint64_t>{1, 3, 5, 7}));
  EXPECT_EQ(t.learner_nodes(), (std::vector<uint64_t>{2, 9}));
  ProgressTracker empty(1);
  EXPECT_TRUE(empty.voter_nodes().empty());
  EXPECT_TRUE(empty.learner_nodes().empty());
}

TEST(TrackerTest, RecordVoteKeepsTheFirstAnswer) {
  ProgressTracker t = make_tracker({1, 2, 3});
  t.record_vote(1, true);
  t.record_vote(1, false);
  t.record_vote(2, false);
  t.record_vote(2, true);
  EXPECT_EQ(t.votes(), (std::map<uint64_t, bool>{{1, true}, {2, false}}));
  t.reset_votes();
  EXPECT_TRUE(t.votes().empty());
  t.record_vote(1, false);
  EXPECT_EQ(t.votes(), (std::map<uint64_t, bool>{{1, false}})) << "a new election, a new vote";
}

TEST(TrackerTest, TallyVotes) {
  ProgressTracker t = make_tracker({1, 2, 3, 4, 5});
  auto tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 0u);
  EXPECT_EQ(tally.rejected, 0u);
  EXPECT_EQ(tally.result, VoteResult::kPending);

  t.record_vote(1, true);
  t.record_vote(2, false);
  t.record_vote(3, true);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.rejected, 1u);
  EXPECT_EQ(tally.result, VoteResult::kPending);

  t.record_vote(4, false);
  t.record_vote(5, false);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.rejected, 3u);
  EXPECT_EQ(tally.result, VoteResult::kLost);
}

TEST(TrackerTest, TallyVotesIgnoresNonVoters) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4});
  t.record_vote(4, true);   // a learner
  t.record_vote(10, true);  // no longer a member
  t.record_vote(11, false);
  t.record_vote(1, true);
  auto tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 1u);
  EXPECT_EQ(tally.rejected, 0u);
  EXPECT_EQ(tally.result, VoteResult::kPending);
  t.record_vote(2, true);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.result, VoteResult::kWon);
}

TEST(TrackerTest, TallyVotesInAJointConfig) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  t.record_vote(1, true);
  t.record_vote(2, true);
  auto tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.result, VoteResult::kPending) << "the outgoing half has no yes yet";
  t.record_vote(4, true);
  t.record_vote(5, true);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 4u);
  EXPECT_EQ(tally.result, VoteResult::kWon);
  t.reset_votes();
  t.record_vote(4, false);
  t.record_vote(5, false);
  t.record_vote(1, true);
  t.record_vote(2, true);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.rejected, 2u);
  EXPECT_EQ(tally.result, VoteResult::kLost);
}

}  // namespace
}  // namespace raft
