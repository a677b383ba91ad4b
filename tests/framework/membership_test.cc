// Membership changes on a running cluster: a learner that catches up and is promoted, a voter
// removed (it stops itself), and two changes at once through a joint configuration.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

std::vector<uint64_t> sorted(std::vector<uint64_t> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<uint64_t> ids_of(const google::protobuf::RepeatedField<uint64_t>& ids) {
  return sorted(std::vector<uint64_t>(ids.begin(), ids.end()));
}

// Waits until every node of `among` is in the plain (not joint) configuration `voters` with
// `learners`.
bool wait_configuration(TestCluster& c, const std::vector<uint64_t>& among,
                        const std::vector<uint64_t>& voters,
                        const std::vector<uint64_t>& learners) {
  return c.run_until([&] {
    for (uint64_t id : among) {
      const NodeStatus s = c.status(id);
      if (sorted(s.voters) != voters || !s.outgoing_voters.empty() ||
          sorted(s.learners) != learners) {
        return false;
      }
    }
    return true;
  });
}

TEST(MembershipTest, LearnerCatchesUpAndIsPromotedToVoter) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  uint64_t last = 0;
  for (int i = 0; i < 40; ++i) {
    const Reply<Proposed> r = c.put(leader, "k" + std::to_string(i), std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error.message();
    last = r.value.index;
  }

  c.add_joining_node(4);
  const Reply<raft::ConfState> added = c.await(c.node(leader).add_learner(4, c.address(4)));
  ASSERT_TRUE(added.ok()) << added.error.message();
  EXPECT_EQ(ids_of(added.value.learners()), (std::vector<uint64_t>{4}));
  EXPECT_EQ(ids_of(added.value.voters()), (std::vector<uint64_t>{1, 2, 3}));

  // The learner catches up: it applies every command, in the same order, from the leader's log.
  ASSERT_TRUE(c.wait_applied(last, {4}));
  EXPECT_EQ(c.sm(4).contents(), c.sm(leader).contents());
  ASSERT_TRUE(wait_configuration(c, {1, 2, 3, 4}, {1, 2, 3}, {4}));
  // A learner is not asked to vote or to acknowledge, but it gets new writes too.
  const Reply<Proposed> w = c.put(leader, "while-learner", "1");
  ASSERT_TRUE(w.ok()) << w.error.message();
  ASSERT_TRUE(c.wait_applied(w.value.index, {4}));
  EXPECT_EQ(c.sm(4).get("while-learner"), "1");

  // Adding it again as a learner is refused before anything is proposed.
  const Reply<raft::ConfState> again = c.await(c.node(leader).add_learner(4, c.address(4)));
  EXPECT_EQ(again.error, make_error_code(NodeError::kInvalidArgument));

  const Reply<raft::ConfState> promoted = c.await(c.node(leader).promote(4));
  ASSERT_TRUE(promoted.ok()) << promoted.error.message();
  EXPECT_EQ(ids_of(promoted.value.voters()), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(promoted.value.learners().empty());
  ASSERT_TRUE(wait_configuration(c, {1, 2, 3, 4}, {1, 2, 3, 4}, {}));
  EXPECT_EQ(c.status(leader).progress.size(), 4u);

  // It counts as a voter: the core hands leadership only to a voter.
  const Reply<Empty> t = c.await(c.node(leader).transfer_leader(4));
  ASSERT_TRUE(t.ok()) << t.error.message();
  EXPECT_EQ(c.wait_for_leader(), 4u);
  // And as one of the four, a commit needs three: with one original follower stopped, the new
  // voter's acknowledgement is needed for every write from now on.
  c.stop(leader == 1 ? 2 : 1);
  const Reply<Proposed> after = c.put(4, "after-promotion", "1");
  ASSERT_TRUE(after.ok()) << after.error.message();
  EXPECT_TRUE(c.wait_applied(after.value.index));
}

TEST(MembershipTest, RemovedVoterStopsItselfAndTheRestServe) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t removed = leader == 3 ? 2 : 3;
  std::vector<uint64_t> rest;
  for (uint64_t id : {1, 2, 3}) {
    if (id != removed) rest.push_back(id);
  }

  // The removed node's apply thread is held inside a command before its removal, so that it
  // learns of the removal (its core switches configuration) well before it applies it; a
  // request made on it in between stays pending.
  c.sm(removed).hold();
  const Reply<Proposed> before = c.put(leader, "before", "1");
  ASSERT_TRUE(before.ok()) << before.error.message();
  ASSERT_TRUE(c.run_until([&] { return c.sm(removed).blocked(); }));

  const Reply<raft::ConfState> r = c.await(c.node(leader).remove_member(removed));
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(ids_of(r.value.voters()), rest);
  ASSERT_TRUE(c.run_until([&] { return sorted(c.status(removed).voters) == rest; }))
      << "the removed node never learned that its removal committed";

  // Its entry lands after the removal, which the leader no longer replicates to this node: it
  // can only end with the node's stop.
  auto late = c.spawn(c.node(removed).propose("late=1"));
  ASSERT_TRUE(c.run_until([&] { return c.status(removed).pending_requests == 1; }));
  EXPECT_FALSE(late->has_value());
  EXPECT_FALSE(c.status(removed).stopped);

  EXPECT_FALSE(c.sm(removed).gate_expired());
  c.sm(removed).release();
  ASSERT_TRUE(c.run_until([&] { return c.status(removed).stopped; }))
      << "the removed node did not stop";
  ASSERT_TRUE(c.run_until([&] { return late->has_value(); }));
  const std::error_code e = (*late)->error;
  EXPECT_TRUE(e == make_error_code(NodeError::kRemoved) ||
              e == make_error_code(NodeError::kStopped))
      << e.message();
  // It applied everything up to its removal before stopping.
  EXPECT_EQ(c.sm(removed).get("before"), "1");
  const Reply<Proposed> refused = c.await(c.node(removed).propose("x=1"));
  EXPECT_EQ(refused.error, make_error_code(NodeError::kRemoved)) << refused.error.message();

  ASSERT_TRUE(wait_configuration(c, rest, rest, {}));
  const uint64_t now = c.wait_for_leader(rest);
  ASSERT_NE(now, 0u);
  const Reply<Proposed> w = c.put(now, "after", "1");
  ASSERT_TRUE(w.ok()) << w.error.message();
  EXPECT_TRUE(c.wait_applied(w.value.index, rest));
  // Two voters now: both must take part in every commit, and both still do.
  const Reply<Proposed> via_follower = c.put(now == rest[0] ? rest[1] : rest[0], "after", "2");
  ASSERT_TRUE(via_follower.ok()) << via_follower.error.message();
  EXPECT_EQ(via_follower.value.result, "1");
}

// Adds a voter and removes another in one change: the cluster goes through the joint
// configuration and leaves it by itself.
TEST(MembershipTest, JointChangeEndsInTheNewConfiguration) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t removed = leader == 3 ? 2 : 3;
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const Reply<Proposed> p = c.put(leader, "k" + std::to_string(i), std::to_string(i));
    ASSERT_TRUE(p.ok()) << p.error.message();
    last = p.value.index;
  }

  // Node 4 joins directly as a voter (no learner phase): it catches up inside the joint
  // configuration, whose incoming half needs it for a quorum.
  c.add_joining_node(4);
  const Reply<raft::ConfState> r = c.await(
      c.node(leader).change_membership({MemberChange{MemberChange::Op::kAddVoter, 4, c.address(4)},
                                        MemberChange{MemberChange::Op::kRemove, removed, {}}}));
  ASSERT_TRUE(r.ok()) << r.error.message();
  std::vector<uint64_t> incoming;
  for (uint64_t id : {1, 2, 3, 4}) {
    if (id != removed) incoming.push_back(id);
  }
  EXPECT_EQ(ids_of(r.value.voters()), incoming);

  // Every node that stays ends in the new configuration, not the joint one; the removed node
  // stops itself once the joint configuration is left.
  ASSERT_TRUE(wait_configuration(c, incoming, incoming, {}));
  ASSERT_TRUE(c.run_until([&] { return c.status(removed).stopped; }))
      << "the removed node did not stop";
  ASSERT_TRUE(c.wait_applied(last, {4}));
  EXPECT_EQ(c.sm(4).get("k19"), "19");

  const uint64_t now = c.wait_for_leader(incoming);
  ASSERT_NE(now, 0u);
  const Reply<Proposed> w = c.put(4, "after", "1");
  ASSERT_TRUE(w.ok()) << w.error.message();
  EXPECT_TRUE(c.wait_applied(w.value.index, incoming));
  for (uint64_t id : incoming) EXPECT_EQ(c.sm(id).get("after"), "1") << "node " << id;
  // A second change while none is pending goes through as well (the joint one is over).
  const Reply<raft::ConfState> shrink =
      c.await(c.node(now).remove_member(now == 4 ? incoming[0] : 4));
  ASSERT_TRUE(shrink.ok()) << shrink.error.message();
  EXPECT_EQ(shrink.value.voters_size(), 2);
}

}  // namespace
}  // namespace framework::testing
