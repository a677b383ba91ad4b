// Leadership transfer (Raft thesis §3.10) checks that need exact numbers or many steps; the
// narrated scenarios are tests/raft/testdata/transfer_*.txt.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

ClusterOptions options(std::vector<uint64_t> voters, std::vector<uint64_t> learners = {},
                       bool check_quorum = false) {
  ClusterOptions o;
  o.voters = std::move(voters);
  o.learners = std::move(learners);
  o.configure = [check_quorum](Config& c) { c.check_quorum = check_quorum; };
  return o;
}

void elect(Cluster& c, uint64_t id) {
  ASSERT_FALSE(c.campaign(id));
  c.stabilize();
  ASSERT_EQ(c.leader(), id);
}

size_t count_in(const std::string& transcript, const std::string& what) {
  size_t n = 0;
  for (size_t pos = transcript.find(what); pos != std::string::npos;
       pos = transcript.find(what, pos + 1)) {
    ++n;
  }
  return n;
}

Message timeout_now(uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_msg_type(eraftpb::MsgTimeoutNow);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

// Inside the followers' leases (check_quorum), a plain campaign gets no votes; the same node
// asked to take over by the leader wins the next term.
TEST(TransferTest, TransferWinsInsideLeasesWhereAPlainCampaignCannot) {
  {
    Cluster c(options({1, 2, 3}, {}, /*check_quorum=*/true));
    elect(c, 1);
    ASSERT_FALSE(c.campaign(2));
    c.stabilize();
    EXPECT_EQ(c.leader(), 1u);
    EXPECT_NE(c.node(2).raft().state(), StateRole::kLeader);
  }
  Cluster c(options({1, 2, 3}, {}, /*check_quorum=*/true));
  elect(c, 1);
  const uint64_t term = c.node(1).raft().term();
  ASSERT_FALSE(c.transfer_leader(1, 2));
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.node(2).raft().term(), term + 1);
  EXPECT_EQ(c.node(1).raft().state(), StateRole::kFollower);
  EXPECT_EQ(c.node(1).raft().leader_id(), 2u);
  EXPECT_EQ(c.node(1).raft().lead_transferee(), kNone);
}

// The transfer's election timeout counts from the request, not from the leader's last
// CheckQuorum round.
TEST(TransferTest, TransferTimeoutCountsFromTheRequest) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  const int election = c.node(1).raft().config().election_tick;
  for (int i = 0; i < election - 1; ++i) c.tick(1);
  c.crash(2);
  ASSERT_FALSE(c.transfer_leader(1, 2));
  for (int i = 0; i < election - 1; ++i) c.tick(1);
  EXPECT_EQ(c.node(1).raft().lead_transferee(), 2u);
  EXPECT_EQ(c.propose(1, "x"), make_error_code(Error::kProposalDropped));
  c.tick(1);
  EXPECT_EQ(c.node(1).raft().lead_transferee(), kNone);
  EXPECT_FALSE(c.propose(1, "x"));
  EXPECT_EQ(c.leader(), 1u);
}

// A transferee that needs a snapshot gets it first; only once it has the whole log does the
// leader send MsgTimeoutNow, exactly once.
TEST(TransferTest, TransfereeBehindACompactedLogIsCaughtUpBySnapshotFirst) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  c.isolate(3);
  for (const char* d : {"a", "b", "c"}) ASSERT_FALSE(c.propose(1, d));
  c.stabilize();
  ASSERT_FALSE(c.compact(1));
  ASSERT_FALSE(c.propose(1, "d"));
  c.stabilize();
  c.heal();
  c.take_events();

  const uint64_t term = c.node(1).raft().term();
  ASSERT_FALSE(c.transfer_leader(1, 3));
  // While node 3 catches up, proposals are refused.
  EXPECT_EQ(c.propose(1, "refused"), make_error_code(Error::kProposalDropped));
  c.stabilize();
  const std::string transcript = c.take_events();
  EXPECT_EQ(count_in(transcript, "send: MsgSnapshot 1->3"), 1u) << transcript;
  EXPECT_EQ(count_in(transcript, "send: MsgTimeoutNow 1->3"), 1u) << transcript;
  // The snapshot went out before MsgTimeoutNow.
  EXPECT_LT(transcript.find("MsgSnapshot 1->3"), transcript.find("MsgTimeoutNow 1->3"));
  EXPECT_EQ(c.leader(), 3u);
  EXPECT_EQ(c.node(3).raft().term(), term + 1);
  ASSERT_FALSE(c.propose(3, "e"));
  c.stabilize();
  for (uint64_t id : {1, 2}) {
    EXPECT_EQ(c.applied_data(id), (std::vector<std::string>{"a", "b", "c", "d", "e"})) << id;
  }
  // Node 3 restored a snapshot covering a, b, c and applied the rest.
  EXPECT_EQ(c.applied_data(3), (std::vector<std::string>{"d", "e"}));
}

// A leader that steps down (a higher term) forgets its transfer.
TEST(TransferTest, SteppingDownEndsTheTransfer) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  c.isolate(3);
  ASSERT_FALSE(c.propose(1, "a"));
  c.stabilize();
  ASSERT_FALSE(c.transfer_leader(1, 3));
  c.stabilize();
  ASSERT_EQ(c.node(1).raft().lead_transferee(), 3u);
  elect(c, 2);
  EXPECT_EQ(c.node(1).raft().lead_transferee(), kNone);
  // When it leads again, it takes proposals.
  elect(c, 1);
  EXPECT_FALSE(c.propose(1, "b"));
}

// A transfer whose transferee is removed from the configuration is aborted: the leader would
// otherwise refuse proposals until the timeout.
TEST(TransferTest, RemovingTheTransfereeAbortsTheTransfer) {
  Cluster c(options({1, 2, 3, 4}));
  elect(c, 1);
  c.isolate(3);
  // The removal is in the log before the transfer starts (proposals are refused after).
  ConfChangeV2 cc;
  auto* ch = cc.add_changes();
  ch->set_change_type(eraftpb::RemoveNode);
  ch->set_node_id(3);
  ASSERT_FALSE(c.propose_conf_change(1, cc));
  ASSERT_FALSE(c.transfer_leader(1, 3));
  ASSERT_EQ(c.node(1).raft().lead_transferee(), 3u);
  c.stabilize();  // commits and applies the removal
  EXPECT_EQ(c.conf_state(1).voters_size(), 3);
  EXPECT_EQ(c.node(1).raft().lead_transferee(), kNone);
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_FALSE(c.propose(1, "x"));
}

// MsgTimeoutNow makes a follower campaign; a learner cannot, and a stale one is ignored.
TEST(TransferTest, TimeoutNowIsIgnoredByALearnerAndWhenStale) {
  Cluster c(options({1, 2, 3}, {4}));
  elect(c, 1);
  const uint64_t term = c.node(1).raft().term();
  ASSERT_FALSE(c.step(4, timeout_now(1, 4, term)));
  EXPECT_EQ(c.node(4).raft().state(), StateRole::kFollower);
  EXPECT_EQ(c.node(4).raft().term(), term);
  EXPECT_FALSE(c.node(4).has_ready());

  elect(c, 2);
  const uint64_t term2 = c.node(2).raft().term();
  // Node 1's MsgTimeoutNow from its old term reaches node 3 late.
  ASSERT_FALSE(c.step(3, timeout_now(1, 3, term)));
  EXPECT_EQ(c.node(3).raft().state(), StateRole::kFollower);
  EXPECT_EQ(c.node(3).raft().term(), term2);
  c.stabilize();
  EXPECT_EQ(c.leader(), 2u);
}

}  // namespace
}  // namespace raft::testing
