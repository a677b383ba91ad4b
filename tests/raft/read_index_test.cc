// ReadIndex (Raft thesis §6.4) checks that need exact numbers or many steps; the narrated
// scenarios are tests/raft/testdata/read_index_*.txt.
#include <gtest/gtest.h>

#include <stdexcept>
#include <set>
#include <string>
#include <vector>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

ClusterOptions options(std::vector<uint64_t> voters, std::vector<uint64_t> learners = {}) {
  ClusterOptions o;
  o.voters = std::move(voters);
  o.learners = std::move(learners);
  return o;
}

void elect(Cluster& c, uint64_t id) {
  ASSERT_FALSE(c.campaign(id));
  c.stabilize();
  ASSERT_EQ(c.leader(), id);
}

// Handles the node's Readies and drops every message it sent: the network lost them.
void send_into_the_void(Cluster& c, uint64_t id) {
  while (c.handle_ready(id)) {
  }
  for (uint64_t to : c.ids()) c.drop_in_flight(to);
}

Message heartbeat_response(uint64_t from, uint64_t to, uint64_t term, const std::string& ctx) {
  Message m;
  m.set_msg_type(eraftpb::MsgHeartbeatResponse);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  m.set_context(ctx);
  return m;
}

TEST(ReadIndexTest, LeaseReadsWithoutCheckQuorumAreRefused) {
  ClusterOptions o = options({1, 2, 3});
  o.configure = [](Config& c) { c.read_only_option = ReadOnlyOption::kLeaseBased; };
  EXPECT_THROW(Cluster c(o), std::invalid_argument);
  o.configure = [](Config& c) {
    c.read_only_option = ReadOnlyOption::kLeaseBased;
    c.check_quorum = true;
  };
  EXPECT_NO_THROW(Cluster c(o));
}

// Five voters: the leader and one acknowledgement are 2 of 5, not a quorum; a second one makes
// 3 of 5.
TEST(ReadIndexTest, SafeReadNeedsAcknowledgementsFromAQuorumOfVoters) {
  Cluster c(options({1, 2, 3, 4, 5}));
  elect(c, 1);
  const uint64_t term = c.node(1).raft().term();
  const uint64_t commit = c.node(1).raft().log().committed();
  ASSERT_FALSE(c.read_index(1, "r"));
  send_into_the_void(c, 1);

  ASSERT_FALSE(c.step(1, heartbeat_response(2, 1, term, "r")));
  c.handle_ready(1);
  EXPECT_TRUE(c.read_states(1).empty());
  // The same follower acknowledging twice is still one voter.
  ASSERT_FALSE(c.step(1, heartbeat_response(2, 1, term, "r")));
  c.handle_ready(1);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);

  ASSERT_FALSE(c.step(1, heartbeat_response(4, 1, term, "r")));
  c.handle_ready(1);
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0], (ReadState{commit, "r"}));
  EXPECT_EQ(c.node(1).raft().pending_reads(), 0u);
}

// Learners receive heartbeats but are not part of any quorum, reads included.
TEST(ReadIndexTest, LearnerAcknowledgementsDoNotConfirmARead) {
  Cluster c(options({1, 2, 3}, {4, 5}));
  elect(c, 1);
  c.cut(1, 2);
  c.cut(1, 3);
  ASSERT_FALSE(c.read_index(1, "r"));
  c.stabilize();
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);

  // Once one voter is reachable again, the next heartbeat round (carrying the pending read's
  // context) confirms it.
  c.heal();
  c.cut(1, 3);
  for (int i = 0; i < c.node(1).raft().config().heartbeat_tick; ++i) c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].request_ctx, "r");
}

// An acknowledgement carries the context of the heartbeat round it answers; one for an earlier,
// already answered read says nothing about a read that arrived later.
TEST(ReadIndexTest, AcknowledgementOfAnEarlierReadDoesNotConfirmALaterOne) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  ASSERT_FALSE(c.read_index(1, "r1"));
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  c.clear_read_states(1);

  const uint64_t term = c.node(1).raft().term();
  ASSERT_FALSE(c.read_index(1, "r2"));
  send_into_the_void(c, 1);
  ASSERT_FALSE(c.step(1, heartbeat_response(2, 1, term, "r1")));
  ASSERT_FALSE(c.step(1, heartbeat_response(3, 1, term, "r1")));
  // A heartbeat response without a context (not from a read round) does not count either.
  ASSERT_FALSE(c.step(1, heartbeat_response(2, 1, term, "")));
  c.handle_ready(1);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);

  ASSERT_FALSE(c.step(1, heartbeat_response(3, 1, term, "r2")));
  c.handle_ready(1);
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].request_ctx, "r2");
}

// A read with the same context as a pending one is the same request (a retry): answered once.
TEST(ReadIndexTest, RetriedContextWhilePendingIsAnsweredOnce) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  ASSERT_FALSE(c.read_index(1, "r"));
  ASSERT_FALSE(c.read_index(1, "r"));
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].request_ctx, "r");
}

// A leader that loses its leadership drops its pending reads: answering them later, from a term
// it no longer leads, could be stale. The application times them out.
TEST(ReadIndexTest, PendingReadsAreDroppedWhenTheLeaderStepsDown) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  ASSERT_FALSE(c.read_index(1, "r"));
  send_into_the_void(c, 1);
  ASSERT_EQ(c.node(1).raft().pending_reads(), 1u);

  elect(c, 2);
  EXPECT_EQ(c.node(1).raft().state(), StateRole::kFollower);
  EXPECT_EQ(c.node(1).raft().pending_reads(), 0u);
  // Late acknowledgements of the old round change nothing.
  ASSERT_FALSE(c.step(1, heartbeat_response(3, 1, 1, "r")));
  c.stabilize();
  EXPECT_TRUE(c.read_states(1).empty());
}

// A read forwarded by a follower to a leader that has not yet committed an entry of its term
// waits like a local one, and is answered to the follower with the commit index the leader
// learns from that entry.
TEST(ReadIndexTest, ForwardedReadWaitsForTheNewLeadersFirstCommit) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  // "x" at index 2 is committed by leader 1, but the followers never learn commit=2.
  ASSERT_FALSE(c.propose(1, "x"));
  c.handle_ready(1);
  c.stabilize_only(std::set<uint64_t>{2, 3});
  c.deliver(1);
  c.handle_ready(1);
  ASSERT_EQ(c.node(1).raft().log().committed(), 2u);
  c.drop_in_flight(2);
  c.drop_in_flight(3);

  // Node 2 wins term 2; node 3 learns it is the leader from the first append.
  ASSERT_FALSE(c.campaign(2));
  c.handle_ready(2);
  c.stabilize_only(std::set<uint64_t>{1, 3});
  c.deliver(2);
  ASSERT_EQ(c.node(2).raft().state(), StateRole::kLeader);
  c.handle_ready(2);
  c.deliver(3, 1);  // the append of the empty entry 2/3; its acknowledgement is lost
  c.handle_ready(3);
  c.drop_in_flight(2, eraftpb::MsgAppendResponse);
  ASSERT_EQ(c.node(3).raft().leader_id(), 2u);
  ASSERT_EQ(c.node(2).raft().log().committed(), 1u);

  ASSERT_FALSE(c.read_index(3, "r"));
  c.handle_ready(3);
  ASSERT_EQ(c.deliver(2), 1u);  // the forwarded MsgReadIndex
  EXPECT_EQ(c.node(2).raft().pending_reads(), 1u);
  c.handle_ready(2);
  for (const Message& m : c.in_flight()) {
    EXPECT_NE(m.msg_type(), eraftpb::MsgReadIndexResp) << describe(m);
    EXPECT_TRUE(m.context().empty()) << "heartbeat round before the first commit: "
                                     << describe(m);
  }

  c.stabilize();
  ASSERT_EQ(c.read_states(3).size(), 1u);
  EXPECT_EQ(c.read_states(3)[0], (ReadState{3, "r"}));
  EXPECT_TRUE(c.read_states(2).empty());
}

// Lease reads are answered at once, but like safe ones only after the leader knows its commit
// index (an entry of its term is committed).
TEST(ReadIndexTest, LeaseReadOnANewLeaderWaitsForItsFirstCommit) {
  ClusterOptions o = options({1, 2, 3});
  o.configure = [](Config& c) {
    c.read_only_option = ReadOnlyOption::kLeaseBased;
    c.check_quorum = true;
  };
  Cluster c(o);
  ASSERT_FALSE(c.campaign(1));
  c.handle_ready(1);
  c.stabilize_only(std::set<uint64_t>{2, 3});
  c.deliver(1);
  ASSERT_EQ(c.node(1).raft().state(), StateRole::kLeader);
  ASSERT_EQ(c.node(1).raft().log().committed(), 0u);

  ASSERT_FALSE(c.read_index(1, "r"));
  c.handle_ready(1);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);

  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0], (ReadState{1, "r"}));
}

// The lease holds only while the leader has heard from a quorum since its last quorum check. A
// leader cut off from the others keeps its role until the check after that, which can come up to
// an election timeout after the others elected a new leader and committed there; answering from
// the lease meanwhile could return a read index that misses that write. So after a check without
// contact, a lease read is confirmed with a heartbeat round like a safe read.
TEST(ReadIndexTest, LeaseReadNeedsQuorumContactSinceTheLastCheck) {
  ClusterOptions o = options({1, 2, 3});
  o.configure = [](Config& c) {
    c.read_only_option = ReadOnlyOption::kLeaseBased;
    c.check_quorum = true;
  };
  Cluster c(o);
  elect(c, 1);
  c.stabilize();

  // With recent contact the lease answers at once.
  ASSERT_FALSE(c.read_index(1, "a"));
  c.handle_ready(1);
  ASSERT_EQ(c.read_states(1).size(), 1u);

  c.isolate(1);
  // One election timeout: the quorum check still sees the contact from before the cut (the
  // leader stays leader) and starts a new period with nobody heard from.
  for (int i = 0; i < c.node(1).raft().config().election_tick; ++i) {
    c.tick(1);
    send_into_the_void(c, 1);
  }
  ASSERT_EQ(c.node(1).raft().state(), StateRole::kLeader);

  ASSERT_FALSE(c.read_index(1, "b"));
  send_into_the_void(c, 1);
  EXPECT_EQ(c.read_states(1).size(), 1u) << "a cut-off leader answered from its lease";
  EXPECT_EQ(c.node(1).raft().pending_reads(), 1u);

  // Acknowledgements from a quorum confirm it, as for a safe read.
  c.heal();
  c.tick_all(c.node(1).raft().config().heartbeat_tick);
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 2u) << c.node(1).raft().pending_reads() << " "
                                         << to_string(c.node(1).raft().state());
  EXPECT_EQ(c.read_states(1)[1].request_ctx, "b");
}

}  // namespace
}  // namespace raft::testing
