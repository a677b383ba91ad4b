// What a request gets when it cannot get what it asks for: backpressure, a command too large,
// a node stopping or stopped, no leader; and what a Node refuses at construction and at start.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

std::error_code err(NodeError e) { return make_error_code(e); }

TEST(RequestsTest, TooManyPendingFailsAtOnceAndNothingHangs) {
  ClusterOptions options;
  options.tune = [](NodeConfig& cfg) { cfg.max_pending_requests = 8; };
  TestCluster c(3, options);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);

  // 100 proposals issued without waiting for any: the node holds at most 8 at a time.
  std::vector<boost::asio::awaitable<Reply<Proposed>>> flood;
  for (int i = 0; i < 100; ++i) {
    flood.push_back(c.node(leader).propose("f" + std::to_string(i) + "=v"));
  }
  const std::vector<Reply<Proposed>> replies = c.await_all(std::move(flood));
  int ok = 0;
  int refused = 0;
  uint64_t last = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    const Reply<Proposed>& r = replies[i];
    if (r.ok()) {
      ++ok;
      last = std::max(last, r.value.index);
      EXPECT_EQ(c.sm(leader).get("f" + std::to_string(i)), "v");
    } else {
      EXPECT_EQ(r.error, err(NodeError::kTooManyPending)) << "#" << i << ": " << r.error.message();
      EXPECT_EQ(r.leader, leader);
      ++refused;
      EXPECT_EQ(c.sm(leader).get("f" + std::to_string(i)), std::nullopt);  // certainly not done
    }
  }
  // All 100 reach the node before the first can complete (that takes a sync and an apply), so
  // about 8 go through; a margin keeps a slow machine from failing the test.
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 50) << "the limit of 8 pending requests was not enforced";
  EXPECT_EQ(ok + refused, 100);
  EXPECT_EQ(c.status(leader).pending_requests, 0u);
  // A follower holds its forwarded proposals against its own limit too.
  const uint64_t follower = leader % 3 + 1;
  std::vector<boost::asio::awaitable<Reply<Proposed>>> more;
  for (int i = 0; i < 30; ++i) more.push_back(c.node(follower).propose("g=" + std::to_string(i)));
  int follower_refused = 0;
  for (const Reply<Proposed>& r : c.await_all(std::move(more))) {
    if (!r.ok()) {
      EXPECT_EQ(r.error, err(NodeError::kTooManyPending)) << r.error.message();
      ++follower_refused;
    }
  }
  EXPECT_GE(follower_refused, 10) << "the follower did not enforce its limit";
  // Once the backlog is gone the node takes requests again.
  const Reply<Proposed> after = c.put(leader, "after", "1");
  EXPECT_TRUE(after.ok()) << after.error.message();
  EXPECT_GT(after.value.index, last);
}

TEST(RequestsTest, CommandLargerThanTheLimitIsInvalid) {
  ClusterOptions options;
  options.tune = [](NodeConfig& cfg) { cfg.max_command_bytes = 1024; };
  TestCluster c(3, options);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader % 3 + 1;
  // "k=" plus 1022 bytes is exactly the limit; one more byte is too much.
  const std::string fits = "k=" + std::string(1022, 'a');
  const std::string too_big = "k=" + std::string(1023, 'b');
  for (uint64_t via : {leader, follower}) {
    const Reply<Proposed> big = c.await(c.node(via).propose(too_big));
    EXPECT_EQ(big.error, err(NodeError::kInvalidArgument))
        << "node " << via << ": " << big.error.message();
    EXPECT_FALSE(may_have_taken_effect(big.error));
  }
  const Reply<Proposed> ok = c.await(c.node(follower).propose(fits));
  ASSERT_TRUE(ok.ok()) << ok.error.message();
  ASSERT_TRUE(c.wait_applied(ok.value.index));
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(c.sm(id).get("k"), std::string(1022, 'a'));
}

TEST(RequestsTest, StopResolvesPendingRequestsAndRefusesLaterOnes) {
  // Without check_quorum a leader that lost its followers stays leader, so requests made on it
  // stay pending (nothing can commit) until the stop.
  ClusterOptions options;
  options.tune = [](NodeConfig& cfg) { cfg.check_quorum = false; };
  TestCluster c(3, options);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(c.put(leader, "k", "1").ok());
  for (uint64_t id : {1, 2, 3}) {
    if (id != leader) c.stop(id);
  }

  std::vector<std::shared_ptr<std::optional<Reply<Proposed>>>> proposals;
  for (int i = 0; i < 5; ++i) {
    proposals.push_back(c.spawn(c.node(leader).propose("p" + std::to_string(i) + "=v")));
  }
  auto read = c.spawn(c.node(leader).read_index());
  auto change = c.spawn(c.node(leader).remove_member(leader % 3 + 1));
  ASSERT_TRUE(c.run_until([&] { return c.status(leader).pending_requests == 7; }));
  EXPECT_EQ(c.status(leader).role, raft::StateRole::kLeader);

  c.await(c.node(leader).stop());
  ASSERT_TRUE(c.run_until([&] {
    for (const auto& p : proposals) {
      if (!p->has_value()) return false;
    }
    return read->has_value() && change->has_value();
  })) << "a pending request was left hanging by stop()";
  for (const auto& p : proposals) {
    EXPECT_EQ((*p)->error, err(NodeError::kStopped)) << (*p)->error.message();
    EXPECT_TRUE(may_have_taken_effect((*p)->error));
  }
  EXPECT_EQ((*read)->error, err(NodeError::kStopped)) << (*read)->error.message();
  EXPECT_EQ((*change)->error, err(NodeError::kStopped)) << (*change)->error.message();

  // Stopped: every request fails at once, stop() again is a no-op, status still answers.
  const NodeStatus s = c.status(leader);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.pending_requests, 0u);
  EXPECT_EQ(c.await(c.node(leader).propose("x=1")).error, err(NodeError::kStopped));
  EXPECT_EQ(c.await(c.node(leader).read_index()).error, err(NodeError::kStopped));
  EXPECT_EQ(c.await(c.node(leader).transfer_leader(2)).error, err(NodeError::kStopped));
  EXPECT_EQ(c.await(c.node(leader).add_learner(7, {"127.0.0.1", 1})).error,
            err(NodeError::kStopped));
  c.await(c.node(leader).stop());
}

TEST(RequestsTest, NoLeaderMeansNotLeader) {
  TestCluster c(3);
  // Only node 1 runs: one vote of three never elects anyone.
  c.start(1);
  auto expect_not_leader = [&](const std::error_code& e, uint64_t leader, const char* what) {
    EXPECT_EQ(e, err(NodeError::kNotLeader)) << what << ": " << e.message();
    EXPECT_EQ(leader, 0u) << what;
    EXPECT_FALSE(may_have_taken_effect(e)) << what;
  };
  Reply<Proposed> p = c.await(c.node(1).propose("k=1"));
  expect_not_leader(p.error, p.leader, "propose before any election");
  // Still none after several election timeouts (it campaigns and gets no votes).
  EXPECT_TRUE(c.holds_for([&] { return c.status(1).leader == 0; }, 500ms));
  p = c.await(c.node(1).propose("k=1"));
  expect_not_leader(p.error, p.leader, "propose");
  const Reply<uint64_t> r = c.await(c.node(1).read_index());
  expect_not_leader(r.error, r.leader, "read_index");
  const Reply<Empty> t = c.await(c.node(1).transfer_leader(2));
  expect_not_leader(t.error, t.leader, "transfer_leader");
  const Reply<raft::ConfState> m = c.await(c.node(1).add_learner(7, {"127.0.0.1", 1}));
  expect_not_leader(m.error, m.leader, "add_learner");
  EXPECT_EQ(c.sm(1).get("k"), std::nullopt);
}

TEST(RequestsTest, IsolatedFollowerHasNoLeaderToForwardTo) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t isolated = leader % 3 + 1;
  std::vector<uint64_t> others;
  for (uint64_t id : {1, 2, 3}) {
    if (id != isolated) others.push_back(id);
  }
  c.partition({isolated}, others);
  // It forgets the leader when its election timer fires and it starts (pre-)campaigning.
  ASSERT_TRUE(c.run_until([&] { return c.status(isolated).leader == 0; }));
  const Reply<Proposed> p = c.await(c.node(isolated).propose("k=1"));
  EXPECT_EQ(p.error, err(NodeError::kNotLeader)) << p.error.message();
  // Its pre-votes never disturbed the others.
  EXPECT_EQ(c.wait_for_leader(others), leader);
  c.heal();
  ASSERT_EQ(c.wait_for_leader(), leader);
  const Reply<Proposed> healed = c.put(isolated, "k", "2");
  EXPECT_TRUE(healed.ok()) << healed.error.message();
}

TEST(RequestsTest, InvalidConfigThrowsAtConstruction) {
  TestCluster c(3);  // for its executor and a valid config to break
  const NodeConfig valid = c.config(1);
  auto sm = std::make_shared<KvStateMachine>();
  auto expect_invalid = [&](NodeConfig cfg, const std::string& names, const char* what) {
    try {
      Node n(c.io().get_executor(), std::move(cfg), sm);
      ADD_FAILURE() << what << ": constructed";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << what << ": " << e.what();
    }
  };
  NodeConfig cfg = valid;
  cfg.id = 0;
  expect_invalid(cfg, "id", "id 0");
  cfg = valid;
  cfg.election_ticks = cfg.heartbeat_ticks;
  expect_invalid(cfg, "election_ticks", "election_ticks == heartbeat_ticks");
  cfg.election_ticks = cfg.heartbeat_ticks - 1;
  expect_invalid(cfg, "election_ticks", "election_ticks < heartbeat_ticks");
  cfg = valid;
  cfg.read_mode = ReadMode::kLease;
  cfg.check_quorum = false;
  expect_invalid(cfg, "check_quorum", "lease without check_quorum");
  cfg = valid;
  cfg.peers.erase(cfg.id);
  expect_invalid(cfg, "peers", "peers without this node");
  cfg = valid;
  cfg.data_dir.clear();
  expect_invalid(cfg, "data_dir", "no data dir");
  EXPECT_THROW(Node(c.io().get_executor(), valid, nullptr), std::invalid_argument);

  // The same configs are fine where the rule does not apply: a joining node need not list
  // itself, and a lease with check_quorum is valid.
  cfg = valid;
  cfg.peers.erase(cfg.id);
  cfg.join = true;
  EXPECT_NO_THROW(Node(c.io().get_executor(), cfg, sm));
  cfg = valid;
  cfg.read_mode = ReadMode::kLease;
  EXPECT_NO_THROW(Node(c.io().get_executor(), cfg, sm));
}

TEST(RequestsTest, DataDirOfAnotherClusterOrNodeIsRefusedAtStart) {
  TestCluster c(3);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(c.put(leader, "k", "1").ok());
  c.stop(1);

  auto expect_refused = [&](NodeConfig cfg, const char* what) {
    Node n(c.io().get_executor(), cfg, std::make_shared<KvStateMachine>());
    try {
      n.start();
      ADD_FAILURE() << what << ": started";
      c.await(n.stop());
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find(cfg.data_dir), std::string::npos)
          << what << ": " << e.what();
    }
  };
  NodeConfig other_cluster = c.config(1);
  other_cluster.cluster_id += 1;
  expect_refused(other_cluster, "another cluster id");
  NodeConfig other_node = c.config(1);
  other_node.id = 2;  // node 2's config, node 1's data
  expect_refused(other_node, "another node id");

  // The data dir is intact: its own node starts on it and rejoins with its data.
  c.restart(1);
  ASSERT_NE(c.wait_for_leader(), 0u);
  ASSERT_TRUE(c.run_until([&] { return c.sm(1).get("k") == std::optional<std::string>("1"); }));
}

}  // namespace
}  // namespace framework::testing
