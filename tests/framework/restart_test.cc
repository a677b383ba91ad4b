// Durability across stops: a leader that goes away loses no acknowledged write, and a cluster
// whose every node stops comes back from its data dirs with its state rebuilt.
#include <gtest/gtest.h>

#include <map>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

using Acked = std::map<std::string, std::string>;

// A linearizable read on `id`, then the state machine must hold every acknowledged write.
void expect_has_all(TestCluster& c, uint64_t id, const Acked& acked) {
  const Reply<uint64_t> read = c.await(c.node(id).read_index());
  ASSERT_TRUE(read.ok()) << "node " << id << ": " << read.error.message();
  for (const auto& [key, value] : acked) {
    EXPECT_EQ(c.sm(id).get(key), value) << "node " << id << " lost " << key;
  }
}

// read_index fails with kNotLeader/kDropped while a node has no leader to ask; retried.
void wait_readable(TestCluster& c, uint64_t id) {
  const bool served = c.run_until([&] { return c.await(c.node(id).read_index()).ok(); });
  ASSERT_TRUE(served) << "node " << id << " never served a read";
}

class LeaderLossTest : public ::testing::TestWithParam<int> {};

TEST_P(LeaderLossTest, KilledLeaderLosesNoAcknowledgedWrite) {
  TestCluster c(GetParam());
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);

  Acked acked;
  for (int i = 0; i < 40; ++i) {
    const std::string key = "a" + std::to_string(i);
    const Reply<Proposed> r = c.put(leader, key, std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error.message();
    acked[key] = std::to_string(i);
  }
  // More in flight while the leader stops: the ones it acknowledged count as well; the others
  // end with an error (kStopped: unknown outcome), never hanging.
  std::vector<std::shared_ptr<std::optional<Reply<Proposed>>>> in_flight;
  for (int i = 0; i < 20; ++i) {
    in_flight.push_back(c.spawn(c.node(leader).propose("b" + std::to_string(i) + "=x")));
  }
  c.stop(leader);
  ASSERT_TRUE(c.run_until([&] {
    for (const auto& slot : in_flight) {
      if (!slot->has_value()) return false;
    }
    return true;
  }));
  for (int i = 0; i < 20; ++i) {
    const Reply<Proposed>& r = **in_flight[static_cast<size_t>(i)];
    if (r.ok()) {
      acked["b" + std::to_string(i)] = "x";
    } else {
      EXPECT_EQ(r.error, make_error_code(NodeError::kStopped)) << r.error.message();
    }
  }

  const std::vector<uint64_t> rest = c.running_ids();
  const uint64_t next = c.wait_for_leader(rest);
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  for (uint64_t id : rest) {
    wait_readable(c, id);
    expect_has_all(c, id, acked);
  }
  // The survivors keep writing; the old leader, back, has everything.
  const Reply<Proposed> later = c.put(next, "later", "1");
  ASSERT_TRUE(later.ok()) << later.error.message();
  acked["later"] = "1";

  c.restart(leader);
  ASSERT_NE(c.wait_for_leader(), 0u);
  wait_readable(c, leader);
  expect_has_all(c, leader, acked);
  ASSERT_TRUE(c.wait_applied(later.value.index));
  for (uint64_t id : c.running_ids()) EXPECT_EQ(c.sm(id).contents(), c.sm(next).contents());
}

INSTANTIATE_TEST_SUITE_P(Sizes, LeaderLossTest, ::testing::Values(3, 5),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "Nodes";
                         });

TEST(RestartTest, WholeClusterRestartsFromDisk) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  uint64_t last = 0;
  for (int i = 0; i < 30; ++i) {
    const Reply<Proposed> r =
        c.put(static_cast<uint64_t>(1 + i % 3), "k" + std::to_string(i), std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error.message();
    last = r.value.index;
  }
  ASSERT_TRUE(c.wait_applied(last));
  const auto before = c.sm(leader).contents();
  const std::vector<uint64_t> order = c.sm(leader).applied_indexes();
  ASSERT_EQ(before.size(), 30u);

  c.restart_all();

  // Fresh, empty state machines: what they hold now was replayed from each node's own log.
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_TRUE(c.run_until([&] { return c.sm(id).contents() == before; }))
        << "node " << id << " did not rebuild its state";
    const std::vector<uint64_t> replayed = c.sm(id).applied_indexes();
    ASSERT_GE(replayed.size(), order.size());
    EXPECT_TRUE(std::equal(order.begin(), order.end(), replayed.begin())) << "node " << id;
  }
  const uint64_t new_leader = c.wait_for_leader();
  ASSERT_NE(new_leader, 0u);
  const Reply<Proposed> r = c.put(new_leader, "k0", "new");
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(r.value.result, "0");  // the value written before the restart
  EXPECT_GT(r.value.index, last);
  ASSERT_TRUE(c.wait_applied(r.value.index));
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(c.sm(id).get("k0"), "new") << "node " << id;
    EXPECT_EQ(c.sm(id).get("k29"), "29") << "node " << id;
    EXPECT_EQ(c.sm(id).contents().size(), 30u) << "node " << id;
  }
}

}  // namespace
}  // namespace framework::testing
