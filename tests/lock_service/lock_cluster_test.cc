// The lock service on a 3-node cluster in one process: contention, leader changes, restarts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/lock_service/lock_cluster.h"

namespace lock_service::testing {
namespace {

using framework::NodeError;
using framework::Reply;

// holder(name) on every running node: each must see `expected` (a linearizable read on each).
void expect_holder_everywhere(LockCluster& c, const std::string& name,
                              const std::optional<LockHolder>& expected) {
  for (uint64_t id : c.running_ids()) {
    const Reply<std::optional<LockHolder>> h = c.await(c.client(id).holder(name));
    ASSERT_TRUE(h.ok()) << "node " << id << ": " << h.error.message();
    EXPECT_EQ(h.value, expected) << "node " << id;
  }
}

Acquisition must_acquire(LockCluster& c, uint64_t via, const std::string& name,
                         const std::string& owner) {
  const Reply<Acquisition> r = c.await(c.client(via).acquire(name, owner));
  EXPECT_TRUE(r.ok()) << r.error.message();
  EXPECT_TRUE(r.value.acquired) << owner << " did not get " << name << ", " << r.value.holder
                                << " holds it";
  return r.value;
}

void must_release(LockCluster& c, uint64_t via, const std::string& name,
                  const std::string& owner) {
  const Reply<Release> r = c.await(c.client(via).release(name, owner));
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_TRUE(r.value.released) << owner << " could not release " << name << ", held by "
                                << r.value.holder;
}

TEST(LockClusterTest, ContentionGivesExactlyOneHolder) {
  LockCluster c(3);
  ASSERT_NE(c.wait_for_leader(), 0u);
  uint64_t last_token = 0;
  for (int round = 0; round < 3; ++round) {
    // Nine owners at once, three through each node (two of them followers, which forward).
    std::vector<boost::asio::awaitable<Reply<Acquisition>>> all;
    for (int i = 0; i < 9; ++i) {
      all.push_back(c.client(static_cast<uint64_t>(1 + i % 3))
                        .acquire("printer", "w" + std::to_string(round) + "-" + std::to_string(i)));
    }
    const std::vector<Reply<Acquisition>> results = c.await_all(std::move(all));
    std::vector<Acquisition> winners;
    for (const Reply<Acquisition>& r : results) {
      ASSERT_TRUE(r.ok()) << r.error.message();
      if (r.value.acquired) winners.push_back(r.value);
    }
    ASSERT_EQ(winners.size(), 1u) << "round " << round;
    const Acquisition& won = winners[0];
    EXPECT_GT(won.token, last_token) << "round " << round;
    last_token = won.token;
    for (const Reply<Acquisition>& r : results) {
      if (!r.value.acquired) {
        EXPECT_EQ(r.value.holder, won.holder);
      }
    }
    expect_holder_everywhere(c, "printer", LockHolder{won.holder, won.token});

    // A loser cannot release it; the winner can.
    const std::string loser = won.holder == "w" + std::to_string(round) + "-0"
                                  ? "w" + std::to_string(round) + "-1"
                                  : "w" + std::to_string(round) + "-0";
    const Reply<Release> refused = c.await(c.client(2).release("printer", loser));
    ASSERT_TRUE(refused.ok());
    EXPECT_FALSE(refused.value.released);
    EXPECT_EQ(refused.value.holder, won.holder);
    must_release(c, 3, "printer", won.holder);
    expect_holder_everywhere(c, "printer", std::nullopt);
  }
}

TEST(LockClusterTest, TokensIncreaseAcrossALeaderChange) {
  LockCluster c(3);
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const Acquisition first = must_acquire(c, leader, "printer", "alice");

  c.stop(leader);
  const uint64_t next = c.wait_for_leader();
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  // The lock survived the leader that granted it.
  expect_holder_everywhere(c, "printer", LockHolder{"alice", first.token});
  const Reply<Acquisition> held = c.await(c.client(next).acquire("printer", "bob"));
  ASSERT_TRUE(held.ok()) << held.error.message();
  EXPECT_FALSE(held.value.acquired);
  EXPECT_EQ(held.value.holder, "alice");

  std::vector<uint64_t> rest = c.running_ids();
  const uint64_t follower = rest[0] == next ? rest[1] : rest[0];
  must_release(c, follower, "printer", "alice");
  const Acquisition second = must_acquire(c, follower, "printer", "bob");
  EXPECT_GT(second.token, first.token);

  // The old leader comes back, catches up, and serves the new state.
  c.restart(leader);
  ASSERT_NE(c.wait_for_leader(), 0u);
  expect_holder_everywhere(c, "printer", LockHolder{"bob", second.token});
  must_release(c, leader, "printer", "bob");
  const Acquisition third = must_acquire(c, leader, "printer", "carol");
  EXPECT_GT(third.token, second.token);
}

// Takes a few locks, releases one, and returns the table every node should hold.
LockTable take_some_locks(LockCluster& c) {
  LockTable expected;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "lock-" + std::to_string(i);
    const std::string owner = "owner-" + std::to_string(i % 2);
    const Acquisition a = must_acquire(c, static_cast<uint64_t>(1 + i % 3), name, owner);
    expected[name] = LockHolder{owner, a.token};
  }
  must_release(c, 2, "lock-3", "owner-1");
  expected.erase("lock-3");
  return expected;
}

uint64_t max_token(const LockTable& locks) {
  uint64_t m = 0;
  for (const auto& [name, h] : locks) m = std::max(m, h.token);
  return m;
}

void restart_all_and_check(LockCluster& c, const LockTable& expected) {
  for (uint64_t id : {1, 2, 3}) c.stop(id);
  for (uint64_t id : {1, 2, 3}) c.restart(id);
  ASSERT_NE(c.wait_for_leader(), 0u);
  for (uint64_t id : {1, 2, 3}) {
    // A linearizable read first: the new, empty state machine was refilled from disk.
    const Reply<std::optional<LockHolder>> h = c.await(c.client(id).holder("lock-0"));
    ASSERT_TRUE(h.ok()) << h.error.message();
    EXPECT_EQ(c.locks(id).locks(), expected) << "node " << id;
  }
  // Tokens go on growing after the restart.
  const Acquisition after = must_acquire(c, 1, "lock-3", "owner-9");
  EXPECT_GT(after.token, max_token(expected));
}

TEST(LockClusterTest, StateSurvivesARestartFromTheLog) {
  LockCluster c(3);
  ASSERT_NE(c.wait_for_leader(), 0u);
  const LockTable expected = take_some_locks(c);
  restart_all_and_check(c, expected);
}

TEST(LockClusterTest, StateSurvivesARestartFromASnapshot) {
  LockCluster c(3);
  ASSERT_NE(c.wait_for_leader(), 0u);
  LockTable expected = take_some_locks(c);
  for (uint64_t id : {1, 2, 3}) {
    const Reply<uint64_t> snap = c.await(c.node(id).snapshot());
    ASSERT_TRUE(snap.ok()) << "node " << id << ": " << snap.error.message();
    EXPECT_GT(snap.value, 0u);
  }
  // More after the snapshot: the restart restores the snapshot, then replays these.
  const Acquisition late = must_acquire(c, 3, "late", "owner-7");
  expected["late"] = LockHolder{"owner-7", late.token};
  must_release(c, 1, "lock-0", "owner-0");
  expected.erase("lock-0");
  restart_all_and_check(c, expected);
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_GT(c.await(c.node(id).status()).snapshot_index, 0u) << "node " << id;
  }
}

TEST(LockClusterTest, InvalidNamesFailWithoutAProposal) {
  LockCluster c(3);
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t last_index = c.await(c.node(leader).status()).last_index;
  const Reply<Acquisition> a = c.await(c.client(1).acquire("two words", "alice"));
  EXPECT_EQ(a.error, framework::make_error_code(NodeError::kInvalidArgument));
  EXPECT_FALSE(framework::may_have_taken_effect(a.error));
  const Reply<Release> r = c.await(c.client(1).release("db", ""));
  EXPECT_EQ(r.error, framework::make_error_code(NodeError::kInvalidArgument));
  const Reply<std::optional<LockHolder>> h = c.await(c.client(1).holder(""));
  EXPECT_EQ(h.error, framework::make_error_code(NodeError::kInvalidArgument));
  // Nothing reached the log.
  EXPECT_EQ(c.await(c.node(leader).status()).last_index, last_index);
  EXPECT_TRUE(c.locks(1).locks().empty());
}

}  // namespace
}  // namespace lock_service::testing
