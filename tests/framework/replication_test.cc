// Replication: many proposals, some in flight together and from every node, end up applied on
// every node in one order with one outcome; a proposal made on a follower resolves there.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

// Every running node applied exactly the same commands in the same order and holds the same map.
void expect_identical_replicas(TestCluster& c, uint64_t up_to) {
  const std::vector<uint64_t> ids = c.running_ids();
  ASSERT_TRUE(c.wait_applied(up_to, ids));
  const std::vector<uint64_t> order = c.sm(ids.front()).applied_indexes();
  const auto contents = c.sm(ids.front()).contents();
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  for (uint64_t id : ids) {
    EXPECT_EQ(c.sm(id).applied_indexes(), order) << "node " << id;
    EXPECT_EQ(c.sm(id).contents(), contents) << "node " << id;
  }
}

TEST(ReplicationTest, ManyPutsAppliedEverywhereInOneOrder) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);

  std::set<uint64_t> indexes;
  uint64_t last = 0;
  auto record = [&](const Reply<Proposed>& r, const std::string& what) {
    ASSERT_TRUE(r.ok()) << what << ": " << r.error.message();
    EXPECT_TRUE(indexes.insert(r.value.index).second)
        << what << ": index " << r.value.index << " given twice";
    last = std::max(last, r.value.index);
  };

  // 50 one at a time through the leader.
  for (int i = 0; i < 50; ++i) {
    const Reply<Proposed> r = c.put(leader, "seq" + std::to_string(i), std::to_string(i));
    record(r, "seq" + std::to_string(i));
    EXPECT_EQ(r.value.result, "");  // a fresh key has no previous value
  }
  // 150 in waves of 30 in flight together, spread over all three nodes (followers forward).
  for (int wave = 0; wave < 5; ++wave) {
    std::vector<boost::asio::awaitable<Reply<Proposed>>> all;
    for (int i = 0; i < 30; ++i) {
      const uint64_t via = static_cast<uint64_t>(1 + i % 3);
      const std::string key = "w" + std::to_string(wave) + "-" + std::to_string(i);
      all.push_back(c.node(via).propose(key + "=" + std::to_string(i)));
    }
    const std::vector<Reply<Proposed>> replies = c.await_all(std::move(all));
    for (size_t i = 0; i < replies.size(); ++i) {
      record(replies[i], "wave " + std::to_string(wave) + " #" + std::to_string(i));
      EXPECT_EQ(replies[i].value.result, "");
    }
  }
  ASSERT_EQ(indexes.size(), 200u);

  expect_identical_replicas(c, last);
  const auto contents = c.sm(leader).contents();
  EXPECT_EQ(contents.size(), 200u);
  EXPECT_EQ(contents.at("seq49"), "49");
  EXPECT_EQ(contents.at("w4-29"), "29");
  // Every acknowledged index is a command every node applied.
  const std::vector<uint64_t> order = c.sm(leader).applied_indexes();
  const std::set<uint64_t> applied(order.begin(), order.end());
  for (uint64_t i : indexes) EXPECT_TRUE(applied.contains(i)) << "index " << i;
}

// Concurrent writes to one key: each proposer learns the value its command replaced, so in log
// order the results form one chain. A result that does not match the previous command in the
// log means an out-of-order apply or a result delivered to the wrong request.
TEST(ReplicationTest, ConcurrentWritesToOneKeyFormOneChain) {
  TestCluster c(3);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);

  std::vector<boost::asio::awaitable<Reply<Proposed>>> all;
  for (int i = 0; i < 60; ++i) {
    all.push_back(c.node(static_cast<uint64_t>(1 + i % 3)).propose("x=" + std::to_string(i)));
  }
  std::vector<Reply<Proposed>> replies = c.await_all(std::move(all));
  std::vector<std::pair<uint64_t, std::pair<std::string, std::string>>> by_index;
  for (size_t i = 0; i < replies.size(); ++i) {
    ASSERT_TRUE(replies[i].ok()) << "#" << i << ": " << replies[i].error.message();
    by_index.push_back({replies[i].value.index, {std::to_string(i), replies[i].value.result}});
  }
  std::sort(by_index.begin(), by_index.end());
  std::string previous;  // the key had no value
  for (const auto& [index, written_and_result] : by_index) {
    EXPECT_EQ(written_and_result.second, previous) << "command at index " << index;
    previous = written_and_result.first;
  }
  expect_identical_replicas(c, by_index.back().first);
  for (uint64_t id : c.running_ids()) EXPECT_EQ(c.sm(id).get("x"), previous) << "node " << id;
}

TEST(ReplicationTest, ProposalOnFollowerResolvesThereOnceAppliedThere) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader == 1 ? 2 : 1;

  Reply<Proposed> r = c.await(c.node(follower).propose("f=1"));
  ASSERT_TRUE(r.ok()) << r.error.message();
  // Checked before the io_context runs again: the reply came after the follower applied it.
  EXPECT_GE(c.sm(follower).last_applied(), r.value.index);
  EXPECT_EQ(c.sm(follower).get("f"), "1");
  EXPECT_EQ(r.value.result, "");

  // A batch in flight at once through the follower: each resolves on the follower, with its
  // own index, and the leader applies the same commands.
  std::vector<boost::asio::awaitable<Reply<Proposed>>> all;
  for (int i = 0; i < 20; ++i) {
    all.push_back(c.node(follower).propose("g" + std::to_string(i) + "=v"));
  }
  const std::vector<Reply<Proposed>> replies = c.await_all(std::move(all));
  uint64_t last = 0;
  for (const Reply<Proposed>& p : replies) {
    ASSERT_TRUE(p.ok()) << p.error.message();
    last = std::max(last, p.value.index);
  }
  EXPECT_GE(c.sm(follower).last_applied(), last);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(c.sm(follower).get("g" + std::to_string(i)), "v");
  }
  ASSERT_TRUE(c.wait_applied(last, {leader}));
  EXPECT_EQ(c.sm(leader).contents(), c.sm(follower).contents());
}

}  // namespace
}  // namespace framework::testing
