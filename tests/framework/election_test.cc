// Elections over loopback TCP: one leader that every node agrees on, in clusters of three and
// five, and a new one among the survivors when the leader goes away.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

// Checks that exactly one of `ids` is leader, in one term every node of `ids` is in, and that
// every other node is its follower. Returns the leader (0 on failure).
uint64_t expect_single_leader(TestCluster& c, const std::vector<uint64_t>& ids) {
  uint64_t leader = 0;
  int leaders = 0;
  uint64_t term = 0;
  for (uint64_t id : ids) {
    const NodeStatus s = c.status(id);
    if (s.role == raft::StateRole::kLeader) {
      ++leaders;
      leader = id;
    }
    if (term == 0) term = s.term;
    EXPECT_EQ(s.term, term) << "node " << id;
  }
  EXPECT_EQ(leaders, 1);
  for (uint64_t id : ids) {
    const NodeStatus s = c.status(id);
    EXPECT_EQ(s.leader, leader) << "node " << id;
    if (id != leader) {
      EXPECT_EQ(s.role, raft::StateRole::kFollower) << "node " << id;
    }
  }
  return leaders == 1 ? leader : 0;
}

class ElectionTest : public ::testing::TestWithParam<int> {};

TEST_P(ElectionTest, ElectsOneLeaderEveryNodeAgreesOn) {
  const int n = GetParam();
  TestCluster c(n);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  EXPECT_EQ(expect_single_leader(c, c.running_ids()), leader);
  // The leader tracks every voter, and they all reach it.
  const NodeStatus s = c.status(leader);
  EXPECT_EQ(s.voters.size(), static_cast<size_t>(n));
  EXPECT_EQ(s.progress.size(), static_cast<size_t>(n));
  // A first write commits: the leader's own term is established with a quorum.
  Reply<Proposed> r = c.put(leader, "k", "v");
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_TRUE(c.wait_applied(r.value.index));
}

// Stops leaders one after another while a quorum remains: each time, the survivors elect a new
// leader among themselves, in a higher term, and it can commit.
TEST_P(ElectionTest, KilledLeaderIsReplacedAmongTheRest) {
  const int n = GetParam();
  TestCluster c(n);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  // A majority must survive: one kill for three nodes, two for five.
  const int kills = (n - 1) / 2;
  for (int k = 0; k < kills; ++k) {
    const uint64_t old_term = c.status(leader).term;
    c.stop(leader);
    const std::vector<uint64_t> rest = c.running_ids();
    const uint64_t next = c.wait_for_leader(rest);
    ASSERT_NE(next, 0u) << "no new leader after stopping " << leader;
    ASSERT_NE(next, leader);
    EXPECT_TRUE(std::find(rest.begin(), rest.end(), next) != rest.end());
    EXPECT_GT(c.status(next).term, old_term);
    EXPECT_EQ(expect_single_leader(c, rest), next);
    Reply<Proposed> r = c.put(next, "after-kill", std::to_string(k));
    ASSERT_TRUE(r.ok()) << r.error.message();
    EXPECT_TRUE(c.wait_applied(r.value.index, rest));
    leader = next;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ElectionTest, ::testing::Values(3, 5),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "Nodes";
                         });

}  // namespace
}  // namespace framework::testing
