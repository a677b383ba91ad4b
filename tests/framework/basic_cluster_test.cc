// A three-node cluster over loopback TCP: election, replication, proposals on any node, reads.
#include <gtest/gtest.h>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

TEST(BasicClusterTest, ElectsOneLeaderAndReplicates) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);

  Reply<Proposed> r = c.put(leader, "a", "1");
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(r.value.result, "");  // no previous value
  ASSERT_TRUE(c.wait_applied(r.value.index));
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(c.sm(id).get("a"), "1") << "node " << id;

  // A follower forwards to the leader and resolves when the entry is applied on itself.
  const uint64_t follower = leader == 1 ? 2 : 1;
  Reply<Proposed> f = c.put(follower, "a", "2");
  ASSERT_TRUE(f.ok()) << f.error.message();
  EXPECT_EQ(f.value.result, "1");
  EXPECT_EQ(c.sm(follower).get("a"), "2");

  Reply<uint64_t> read = c.await(c.node(follower).read_index());
  ASSERT_TRUE(read.ok()) << read.error.message();
  EXPECT_GE(read.value, f.value.index);
  EXPECT_GE(c.status(follower).applied, read.value);

  NodeStatus s = c.status(leader);
  EXPECT_EQ(s.role, raft::StateRole::kLeader);
  EXPECT_EQ(s.voters, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(s.progress.size(), 3u);
}

}  // namespace
}  // namespace framework::testing
