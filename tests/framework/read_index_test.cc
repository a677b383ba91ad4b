// Linearizable reads across a partition: the side without a quorum serves none, the side with
// one elects a leader whose reads reflect the writes made there; in both read modes.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

struct ReadCase {
  int nodes;
  ReadMode mode;
};

class PartitionReadTest : public ::testing::TestWithParam<ReadCase> {};

bool is_refusal(const std::error_code& e) {
  return e == make_error_code(NodeError::kTimeout) || e == make_error_code(NodeError::kDropped) ||
         e == make_error_code(NodeError::kNotLeader);
}

TEST_P(PartitionReadTest, MinoritySideServesNoReadsMajoritySideDoes) {
  const ReadCase rc = GetParam();
  ClusterOptions options;
  options.tune = [mode = rc.mode](NodeConfig& cfg) {
    cfg.read_mode = mode;
    cfg.check_quorum = true;
    // Reads the minority cannot serve end within a second rather than the default ten.
    cfg.request_timeout = std::chrono::milliseconds(1000);
  };
  TestCluster c(rc.nodes, options);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const Reply<Proposed> w0 = c.put(leader, "k", "old");
  ASSERT_TRUE(w0.ok()) << w0.error.message();
  ASSERT_TRUE(c.wait_applied(w0.value.index));

  // The old leader, plus one more node of five, on the minority side.
  std::vector<uint64_t> minority{leader};
  std::vector<uint64_t> majority;
  for (uint64_t id : c.running_ids()) {
    if (id == leader) continue;
    if (static_cast<int>(minority.size()) < (rc.nodes - 1) / 2) {
      minority.push_back(id);
    } else {
      majority.push_back(id);
    }
  }
  c.partition(minority, majority);
  // In safe mode a read needs a heartbeat round with a quorum, so even the first read after the
  // cut, while the old leader still believes in itself, must not succeed.
  std::shared_ptr<std::optional<Reply<uint64_t>>> early;
  if (rc.mode == ReadMode::kSafe) early = c.spawn(c.node(leader).read_index());

  const uint64_t next = c.wait_for_leader(majority);
  ASSERT_NE(next, 0u);
  ASSERT_TRUE(std::find(majority.begin(), majority.end(), next) != majority.end());
  const Reply<Proposed> w1 = c.put(next, "k", "new");
  ASSERT_TRUE(w1.ok()) << w1.error.message();
  EXPECT_EQ(w1.value.result, "old");

  // Reads on the majority side: they reflect the write made there.
  for (uint64_t id : majority) {
    const Reply<uint64_t> r = c.await(c.node(id).read_index());
    ASSERT_TRUE(r.ok()) << "node " << id << ": " << r.error.message();
    EXPECT_GE(r.value, w1.value.index) << "node " << id;
    EXPECT_EQ(c.sm(id).get("k"), "new") << "node " << id;
  }
  if (early) {
    ASSERT_TRUE(c.run_until([&] { return early->has_value(); }));
    EXPECT_FALSE((*early)->ok()) << "served a read without a quorum at index " << (*early)->value;
    EXPECT_TRUE(is_refusal((*early)->error)) << (*early)->error.message();
  }
  if (rc.mode == ReadMode::kLease) {
    // A lease read is answered by the leader alone, for as long as it believes it leads; it
    // stops believing so within two election timeouts (check_quorum). The core does not bound
    // the lease by the followers' last acknowledgements, so for part of that time it can still
    // answer after the other side elected a leader and committed (the disabled test below);
    // the check here starts once it has stepped down.
    ASSERT_TRUE(c.run_until([&] { return c.status(leader).role != raft::StateRole::kLeader; }))
        << "the cut-off leader never stepped down";
  }
  // Reads on the minority side: a write it has never seen committed, so any read served there
  // now would be stale.
  for (uint64_t id : minority) {
    const Reply<uint64_t> r = c.await(c.node(id).read_index());
    EXPECT_FALSE(r.ok()) << "node " << id << " served a stale read at index " << r.value
                         << " (holds k=" << c.sm(id).get("k").value_or("") << ")";
    EXPECT_TRUE(r.ok() || is_refusal(r.error)) << r.error.message();
  }

  // Healed, the old side catches up and serves reads that see the new write.
  c.heal();
  ASSERT_NE(c.wait_for_leader(), 0u);
  for (uint64_t id : minority) {
    ASSERT_TRUE(c.run_until([&] { return c.await(c.node(id).read_index()).ok(); }))
        << "node " << id << " never served a read after the heal";
    EXPECT_EQ(c.sm(id).get("k"), "new") << "node " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, PartitionReadTest,
                         ::testing::Values(ReadCase{3, ReadMode::kSafe},
                                           ReadCase{3, ReadMode::kLease},
                                           ReadCase{5, ReadMode::kSafe},
                                           ReadCase{5, ReadMode::kLease}),
                         [](const ::testing::TestParamInfo<ReadCase>& info) {
                           return std::to_string(info.param.nodes) + "Nodes" +
                                  (info.param.mode == ReadMode::kSafe ? "Safe" : "Lease");
                         });

// The lease's own promise: once the other side has elected a leader and committed a write, the
// cut-off leader serves no lease read. A cut-off leader steps down only at its second quorum
// check after the cut, which can come after the other side elected and committed, so the core
// answers from the lease only while a quorum has been heard from since the last check
// (ReadIndexTest.LeaseReadNeedsQuorumContactSinceTheLastCheck is the exact check). Before that
// rule, about one round in forty here returned a read index without the new write; the rounds
// repeat the scenario so that a regression is likely to show.
TEST(LeaseReadTest, CutOffLeaderServesNoLeaseReadAfterTheOtherSideCommits) {
  constexpr int kRounds = 10;
  int stale = 0;
  for (int round = 0; round < kRounds; ++round) {
    ClusterOptions options;
    options.tune = [](NodeConfig& cfg) {
      cfg.read_mode = ReadMode::kLease;
      cfg.request_timeout = std::chrono::milliseconds(1000);
    };
    TestCluster c(3, options);
    c.start_all();
    const uint64_t leader = c.wait_for_leader();
    ASSERT_NE(leader, 0u);
    ASSERT_TRUE(c.put(leader, "k", "old").ok());
    std::vector<uint64_t> others;
    for (uint64_t id : {1, 2, 3}) {
      if (id != leader) others.push_back(id);
    }
    c.partition({leader}, others);
    const uint64_t next = c.wait_for_leader(others);
    ASSERT_NE(next, 0u);
    ASSERT_TRUE(c.put(next, "k", "new").ok());
    const Reply<uint64_t> r = c.await(c.node(leader).read_index());
    if (r.ok()) ++stale;
  }
  EXPECT_EQ(stale, 0) << "stale lease reads in " << kRounds << " rounds";
}

}  // namespace
}  // namespace framework::testing
