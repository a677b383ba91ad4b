// A state machine that blocks in apply() stalls neither the node's ticks, heartbeats and
// elections nor replication: only the results of this node's own requests wait for it.
#include <gtest/gtest.h>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

// The longest election timeout of the cluster's defaults: up to twice election_ticks ticks.
std::chrono::milliseconds max_election_timeout(const NodeConfig& cfg) {
  return 2 * cfg.election_ticks * cfg.tick_interval;
}

TEST(SlowApplyTest, LeaderWithABlockedApplyKeepsLeadingAndReplicating) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(c.put(leader, "k", "0").ok());
  const uint64_t term = c.status(leader).term;
  std::vector<uint64_t> followers;
  for (uint64_t id : {1, 2, 3}) {
    if (id != leader) followers.push_back(id);
  }

  // The leader's apply thread blocks inside the first command it is given from now on.
  c.sm(leader).hold();
  std::vector<std::shared_ptr<std::optional<Reply<Proposed>>>> own;
  own.push_back(c.spawn(c.node(leader).propose("slow=1")));
  ASSERT_TRUE(c.run_until([&] { return c.sm(leader).blocked(); }));

  // How the test tells that the leader's strand is not stuck behind its apply thread: for five
  // of the longest election timeouts, every node stays in the leader's term and the leader
  // stays leader. A leader whose ticks or heartbeats waited for apply() would let both
  // followers' election timers fire within one timeout, and they would elect one of them in a
  // new term. Only the term is checked on the followers: one whose timer fires once on a loaded
  // machine forgets the leader for a moment, but its pre-vote moves no term.
  //
  // The window is the test's one fixed wait: it bounds how long the test looks, not how long
  // it waits for progress, and a slower machine puts fewer ticks in it, which makes the check
  // weaker, not stricter. During the window the followers keep proposing; each of their
  // proposals resolves only once the leader replicated and committed it and the follower
  // applied it, so replication is shown to go on as well.
  std::vector<std::shared_ptr<std::optional<Reply<Proposed>>>> from_followers;
  for (int i = 0; i < 10; ++i) {
    from_followers.push_back(c.spawn(
        c.node(followers[static_cast<size_t>(i) % 2]).propose("f" + std::to_string(i) + "=v")));
    own.push_back(c.spawn(c.node(leader).propose("own" + std::to_string(i) + "=v")));
  }
  const bool steady = c.holds_for(
      [&] {
        for (uint64_t id : {1, 2, 3}) {
          const NodeStatus s = c.status(id);
          if (s.term != term) return false;
        }
        return c.status(leader).role == raft::StateRole::kLeader;
      },
      5 * max_election_timeout(c.config(leader)));
  EXPECT_TRUE(steady) << "a new election started while the leader's apply() was blocked";
  EXPECT_TRUE(c.sm(leader).blocked());

  // Replication went on: the followers' proposals all resolved, applied on the followers.
  ASSERT_TRUE(c.run_until([&] {
    for (const auto& slot : from_followers) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  uint64_t last = 0;
  for (const auto& slot : from_followers) {
    ASSERT_TRUE((*slot)->ok()) << (*slot)->error.message();
    last = std::max(last, (*slot)->value.index);
  }
  ASSERT_TRUE(c.wait_applied(last, followers));
  EXPECT_GE(c.status(leader).commit, last);
  // The leader's own proposals wait for its apply thread, and only for it.
  for (const auto& slot : own) EXPECT_FALSE(slot->has_value());
  EXPECT_LT(c.status(leader).applied, last);

  EXPECT_FALSE(c.sm(leader).gate_expired());
  c.sm(leader).release();
  ASSERT_TRUE(c.run_until([&] {
    for (const auto& slot : own) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  for (const auto& slot : own) EXPECT_TRUE((*slot)->ok()) << (*slot)->error.message();
  ASSERT_TRUE(c.wait_applied(last));
  EXPECT_EQ(c.sm(leader).applied_indexes(), c.sm(followers[0]).applied_indexes());
  EXPECT_EQ(c.sm(leader).contents(), c.sm(followers[0]).contents());
  EXPECT_EQ(c.status(leader).term, term);
}

// A follower acknowledges what is durable, not what is applied: with the third node down, every
// commit needs the follower whose apply() is blocked, and commits still happen.
TEST(SlowApplyTest, FollowerWithABlockedApplyStillAcknowledges) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t slow = leader % 3 + 1;
  const uint64_t down = slow % 3 + 1;
  ASSERT_NE(down, leader);
  c.stop(down);

  c.sm(slow).hold();
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const Reply<Proposed> r = c.put(leader, "k" + std::to_string(i), "v");
    ASSERT_TRUE(r.ok()) << r.error.message();
    last = r.value.index;
  }
  EXPECT_TRUE(c.sm(slow).blocked());
  EXPECT_LT(c.status(slow).applied, last);
  EXPECT_FALSE(c.sm(slow).gate_expired());
  EXPECT_GE(c.status(slow).commit, last - 1);  // learns the commit with the next append
  c.sm(slow).release();
  ASSERT_TRUE(c.wait_applied(last, {slow}));
  EXPECT_EQ(c.sm(slow).contents(), c.sm(leader).contents());
}

}  // namespace
}  // namespace framework::testing
