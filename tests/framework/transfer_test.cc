// Leadership transfer: to a follower, asked on the leader or on another follower; refused for a
// node that is not a voter.
#include <gtest/gtest.h>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

TEST(TransferTest, LeaderHandsOverToAFollower) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t to = leader % 3 + 1;
  const uint64_t old_term = c.status(leader).term;
  const Reply<Proposed> w = c.put(leader, "k", "1");
  ASSERT_TRUE(w.ok()) << w.error.message();

  const Reply<Empty> r = c.await(c.node(leader).transfer_leader(to));
  ASSERT_TRUE(r.ok()) << r.error.message();
  // It resolved once this node saw `to` as leader.
  const NodeStatus s = c.status(leader);
  EXPECT_EQ(s.leader, to);
  EXPECT_EQ(s.role, raft::StateRole::kFollower);
  EXPECT_GT(s.term, old_term);
  EXPECT_EQ(c.status(to).role, raft::StateRole::kLeader);
  EXPECT_EQ(c.wait_for_leader(), to);

  // The new leader serves writes and kept what was written before.
  const Reply<Proposed> after = c.put(to, "k", "2");
  ASSERT_TRUE(after.ok()) << after.error.message();
  EXPECT_EQ(after.value.result, "1");
}

TEST(TransferTest, AskedOnAFollowerResolvesThere) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t to = leader % 3 + 1;
  const uint64_t asker = to % 3 + 1;  // the third node, neither leader nor target
  ASSERT_NE(asker, leader);

  const Reply<Empty> r = c.await(c.node(asker).transfer_leader(to));
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(c.status(asker).leader, to);
  EXPECT_EQ(c.wait_for_leader(), to);

  // Transferring to the current leader resolves at once.
  const Reply<Empty> same = c.await(c.node(asker).transfer_leader(to));
  EXPECT_TRUE(same.ok()) << same.error.message();
}

TEST(TransferTest, TransferToANonMemberIsInvalid) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const Reply<Empty> r = c.await(c.node(leader).transfer_leader(9));
  EXPECT_EQ(r.error, make_error_code(NodeError::kInvalidArgument)) << r.error.message();
  EXPECT_EQ(r.leader, leader);
  const uint64_t follower = leader % 3 + 1;
  const Reply<Empty> f = c.await(c.node(follower).transfer_leader(9));
  EXPECT_EQ(f.error, make_error_code(NodeError::kInvalidArgument)) << f.error.message();
  // Nothing changed.
  EXPECT_EQ(c.status(leader).role, raft::StateRole::kLeader);
  const Reply<Proposed> w = c.put(leader, "k", "1");
  EXPECT_TRUE(w.ok()) << w.error.message();
}

}  // namespace
}  // namespace framework::testing
