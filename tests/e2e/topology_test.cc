// Clusters whose shape is not a plain three-node loopback: a node that reaches a peer through a
// forwarding proxy (an address other than the one the peer listens on), and a fourth node that
// joins a running cluster over the HTTP membership API.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/e2e/kv_cluster.h"
#include "tests/e2e/tcp_proxy.h"

namespace raftkv::e2e {
namespace {

bool contains(const std::vector<uint64_t>& v, uint64_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

TEST(TopologyTest, NodeReachesAPeerThroughAProxy) {
  KvCluster c;
  // Node 1 reaches node 2 only through the proxy; everyone else dials directly.
  TcpProxy proxy(c.node(2).raft_port);
  c.node(1).peer_port_overrides[2] = proxy.port();
  ASSERT_TRUE(c.start());
  uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);

  // Make node 1 the leader, then take node 3 away: every commit now needs node 1's appends to
  // reach node 2, which only the proxy carries.
  if (leader != 1) {
    auto r = c.client(leader).request("POST", "/cluster/transfer-leader?to=1");
    ASSERT_EQ(r.status, 200) << r.describe();
    ASSERT_EQ(c.wait_for_leader(deadline_in()), 1u);
  }
  c.kill(3);

  for (int i = 0; i < 10; ++i) {
    auto r = c.client(i % 2 == 0 ? 1 : 2).put(kv_path("p" + std::to_string(i)), "v");
    ASSERT_EQ(r.status, 200) << r.describe();
  }
  for (uint64_t id : {1, 2}) {
    auto r = c.client(id).get(kv_path("p9"));
    EXPECT_EQ(r.status, 200) << "node " << id << ": " << r.describe();
  }
  EXPECT_GT(proxy.connections(), 0u);
  EXPECT_GT(proxy.bytes(), 0u);
}

TEST(TopologyTest, FourthNodeJoinsAsLearnerAndIsPromoted) {
  KvCluster c;
  ASSERT_TRUE(c.start());
  const uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(c.client(leader).put(kv_path("m" + std::to_string(i)), "v" + std::to_string(i)).status,
              200);
  }

  c.add_node(4, /*join=*/true);
  ASSERT_TRUE(c.start_node(4));

  const std::string address = "127.0.0.1:" + std::to_string(c.node(4).raft_port);
  auto r = c.client(leader).post_json(
      "/cluster/members",
      R"({"op": "add", "id": 4, "address": ")" + address + R"(", "learner": true})");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto s = c.status(leader);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(contains(s->learners, 4)) << r.body;
  EXPECT_FALSE(contains(s->voters, 4));

  // The learner catches up with everything committed, and serves it.
  ASSERT_TRUE(c.wait_for_applied(4, s->commit, deadline_in()));
  for (int i = 0; i < 20; ++i) {
    auto g = c.client(4).get(kv_path("m" + std::to_string(i)) + "?consistency=stale");
    EXPECT_EQ(g.status, 200) << g.describe();
    EXPECT_EQ(g.body, "v" + std::to_string(i));
  }

  r = c.client(leader).post_json("/cluster/members", R"({"op": "promote", "id": 4})");
  ASSERT_EQ(r.status, 200) << r.describe();
  s = c.status(leader);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(contains(s->voters, 4));
  EXPECT_FALSE(contains(s->learners, 4));
  // The new voter learns its own promotion from the log.
  auto s4 = c.wait_for_status(
      4, [](const StatusInfo& st) { return contains(st.voters, 4) && st.voters.size() == 4; },
      deadline_in());
  ASSERT_TRUE(s4.has_value()) << "node 4 never saw itself among 4 voters";

  // A write through the new voter, read linearizably there.
  r = c.client(4).put(kv_path("after"), "promotion");
  ASSERT_EQ(r.status, 200) << r.describe();
  r = c.client(4).get(kv_path("after"));
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.body, "promotion");
}

}  // namespace
}  // namespace raftkv::e2e
