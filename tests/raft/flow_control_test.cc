// Flow control of the leader's replication (Raft thesis §3.5, etcd raft's Progress and
// Inflights) on the deterministic Cluster: exact message counts per state. The narrated versions
// are tests/raft/testdata/flow_control_*.txt.
#include <gtest/gtest.h>

#include <string>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

ClusterOptions options(std::function<void(Config&)> configure = {}) {
  ClusterOptions o;
  o.record_events = false;
  o.configure = [configure](Config& c) {
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    if (configure) configure(c);
  };
  return o;
}

// A three-node cluster led by node 1, everything replicated.
void elect_1(Cluster& c) {
  ASSERT_FALSE(c.campaign(1));
  c.stabilize();
  ASSERT_EQ(c.node(1).raft().state(), StateRole::kLeader);
}

const Progress& progress(Cluster& c, uint64_t id) {
  return c.node(1).raft().tracker().progress.at(id);
}

// Handles node 1's Readies and returns the MsgAppends it sent to `to` (left in flight).
std::vector<Message> leader_appends_to(Cluster& c, uint64_t to) {
  const size_t before = c.in_flight().size();
  while (c.handle_ready(1)) {
  }
  std::vector<Message> out;
  for (size_t i = before; i < c.in_flight().size(); ++i) {
    const Message& m = c.in_flight()[i];
    if (m.msg_type() == eraftpb::MsgAppend && m.to() == to) out.push_back(m);
  }
  return out;
}

// One heartbeat round: node 1 ticks, the heartbeats are delivered and answered, and the
// answers are delivered to node 1. Returns the appends node 1 then sent to `to`.
std::vector<Message> heartbeat_round(Cluster& c, uint64_t to) {
  c.tick(1);
  while (c.handle_ready(1)) {
  }
  c.deliver(2);
  c.deliver(3);
  while (c.handle_ready(2)) {
  }
  while (c.handle_ready(3)) {
  }
  // Only the heartbeat responses: anything else to node 1 stays where it is.
  for (size_t i = 0; i < c.in_flight().size();) {
    if (c.in_flight()[i].msg_type() == eraftpb::MsgHeartbeatResponse) {
      c.deliver_at(i);
    } else {
      ++i;
    }
  }
  return leader_appends_to(c, to);
}

// StateProbe: one append, then nothing until the follower shows signs of life; each heartbeat
// response buys exactly one more append, however many proposals arrive meanwhile.
TEST(FlowControlTest, ProbeSendsOneAppendPerHeartbeatResponse) {
  Cluster c(options());
  elect_1(c);
  c.report_unreachable(1, 3);  // node 3 to StateProbe
  ASSERT_EQ(progress(c, 3).state, ProgressState::kProbe);

  ASSERT_FALSE(c.propose(1, "first"));
  auto sent = leader_appends_to(c, 3);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(progress(c, 3).is_paused());
  c.drop_in_flight(3, eraftpb::MsgAppend);  // lost

  for (int i = 0; i < 5; ++i) ASSERT_FALSE(c.propose(1, "more" + std::to_string(i)));
  EXPECT_TRUE(leader_appends_to(c, 3).empty()) << "paused probe sent an append";

  for (int round = 0; round < 3; ++round) {
    sent = heartbeat_round(c, 3);
    ASSERT_EQ(sent.size(), 1u) << "round " << round;
    // It carries everything from the probe point on (one message, not one per entry).
    EXPECT_EQ(sent[0].index(), 1u);
    EXPECT_EQ(sent[0].entries_size(), 6);
    EXPECT_EQ(progress(c, 3).state, ProgressState::kProbe);
    c.drop_in_flight(3, eraftpb::MsgAppend);
  }

  // Once an append gets through and is acknowledged, node 3 is in StateReplicate.
  sent = heartbeat_round(c, 3);
  ASSERT_EQ(sent.size(), 1u);
  c.stabilize();
  EXPECT_EQ(progress(c, 3).state, ProgressState::kReplicate);
  EXPECT_EQ(progress(c, 3).match, c.node(1).raft().log().last_index());
}

// StateReplicate: appends are pipelined without waiting, up to max_inflight unacknowledged
// ones; then the follower is paused. A heartbeat response on a full window frees exactly one
// slot; acknowledgements free the rest.
TEST(FlowControlTest, ReplicatePipelinesUpToMaxInflightThenPauses) {
  constexpr size_t kWindow = 3;
  Cluster c(options([](Config& cfg) { cfg.max_inflight_msgs = kWindow; }));
  elect_1(c);
  ASSERT_EQ(progress(c, 2).state, ProgressState::kReplicate);
  c.drop(2, 1, 1.0);
  c.drop_only({eraftpb::MsgAppendResponse});  // node 2's acknowledgements are lost

  size_t appends_to_2 = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(c.propose(1, "p" + std::to_string(i)));
    appends_to_2 += leader_appends_to(c, 2).size();
    c.stabilize();  // node 3 acknowledges; node 2's answers are lost
  }
  EXPECT_EQ(appends_to_2, kWindow);
  EXPECT_EQ(progress(c, 2).inflights.count(), kWindow);
  EXPECT_TRUE(progress(c, 2).is_paused());
  EXPECT_EQ(progress(c, 2).match, 1u);
  EXPECT_EQ(c.node(1).raft().log().committed(), 11u) << "nodes 1 and 3 commit without node 2";

  // A heartbeat response on a full window: one slot, one append (with all 7 unsent entries).
  auto sent = heartbeat_round(c, 2);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].entries_size(), 7);
  EXPECT_EQ(progress(c, 2).inflights.count(), kWindow);
  EXPECT_TRUE(progress(c, 2).is_paused());
  c.stabilize();

  // Acknowledgements flow again: the next append's answer frees the window.
  c.heal();
  c.drop_only({});
  heartbeat_round(c, 2);
  c.stabilize();
  EXPECT_EQ(progress(c, 2).inflights.count(), 0u);
  EXPECT_FALSE(progress(c, 2).is_paused());
  EXPECT_EQ(progress(c, 2).match, 11u);
  EXPECT_EQ(c.applied_data(2).size(), 10u);
}

// max_inflight_bytes bounds the window by payload as well: with 25 bytes and 10-byte entries,
// the third append fills it (25 reached only with the third; one message may cross the limit).
TEST(FlowControlTest, InflightBytesLimitPausesTheFollower) {
  Cluster c(options([](Config& cfg) { cfg.max_inflight_bytes = 25; }));
  elect_1(c);
  c.drop(2, 1, 1.0);
  c.drop_only({eraftpb::MsgAppendResponse});
  size_t appends_to_2 = 0;
  for (int i = 0; i < 6; ++i) {
    ASSERT_FALSE(c.propose(1, std::string(10, static_cast<char>('a' + i))));
    appends_to_2 += leader_appends_to(c, 2).size();
    c.stabilize();
  }
  EXPECT_EQ(appends_to_2, 3u);
  EXPECT_EQ(progress(c, 2).inflights.bytes(), 30u);
  EXPECT_TRUE(progress(c, 2).is_paused());
}

// max_size_per_msg: a follower catching up gets its backlog in messages of at most that many
// bytes of entries, except that a single entry larger than the limit still goes (alone).
TEST(FlowControlTest, MaxSizePerMsgSplitsAppends) {
  constexpr uint64_t kLimit = 100;
  Cluster c(options([](Config& cfg) { cfg.max_size_per_msg = kLimit; }));
  elect_1(c);
  c.isolate(3);
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(c.propose(1, std::string(20, 'x')));
  ASSERT_FALSE(c.propose(1, std::string(300, 'B')));  // larger than the limit on its own
  ASSERT_FALSE(c.propose(1, std::string(20, 'y')));
  c.stabilize();
  c.heal();

  std::vector<Message> appends;
  c.tick(1);
  for (int step = 0; step < 10000; ++step) {
    for (uint64_t id : c.ids()) {
      while (c.handle_ready(id)) {
      }
    }
    if (c.in_flight().empty()) break;
    const Message m = c.in_flight().front();
    if (m.msg_type() == eraftpb::MsgAppend && m.to() == 3 && m.entries_size() > 0) {
      appends.push_back(m);
    }
    c.deliver_at(0);
  }
  ASSERT_EQ(c.node(3).raft().log().last_index(), c.node(1).raft().log().last_index());

  size_t entries = 0;
  bool saw_big_alone = false;
  for (const auto& m : appends) {
    uint64_t bytes = 0;
    for (const auto& e : m.entries()) bytes += entry_size(e);
    if (m.entries_size() == 1 && m.entries(0).data().size() == 300) {
      saw_big_alone = true;
    } else {
      EXPECT_LE(bytes, kLimit) << describe(m);
    }
    entries += static_cast<size_t>(m.entries_size());
  }
  EXPECT_TRUE(saw_big_alone);
  EXPECT_EQ(entries, 22u) << "every missing entry sent exactly once";
  // Each small entry takes 26 bytes, so three fit in 100: entries 2..21 go in seven messages
  // (the seventh with two, as the big one does not fit after them), then the big one alone,
  // then the last small one.
  EXPECT_EQ(appends.size(), 9u);
}

// max_uncommitted_entries_size: the leader accepts payload up to the budget, drops what does
// not fit, always admits one proposal into an empty budget (however large), and accepts again
// once entries are committed and handed to the state machine.
TEST(FlowControlTest, UncommittedBudgetDropsProposalsUntilCommit) {
  Cluster c(options([](Config& cfg) { cfg.max_uncommitted_entries_size = 10; }));
  elect_1(c);
  c.partition({{1}, {2, 3}});

  EXPECT_FALSE(c.propose(1, std::string(6, 'a')));
  EXPECT_FALSE(c.propose(1, std::string(4, 'b')));  // exactly 10
  EXPECT_EQ(c.node(1).raft().uncommitted_size(), 10u);
  EXPECT_EQ(c.propose(1, "c"), make_error_code(Error::kProposalDropped));
  EXPECT_EQ(c.node(1).raft().uncommitted_size(), 10u);
  c.stabilize();

  c.heal();
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.node(1).raft().log().committed(), 3u);
  EXPECT_EQ(c.node(1).raft().uncommitted_size(), 0u) << "committed and applied entries free it";

  // An empty budget admits one proposal even above the limit, so progress is always possible;
  // the next one, however small, waits.
  c.partition({{1}, {2, 3}});
  EXPECT_FALSE(c.propose(1, std::string(50, 'z')));
  EXPECT_EQ(c.propose(1, "x"), make_error_code(Error::kProposalDropped));
  c.heal();
  c.tick(1);
  c.stabilize();
  EXPECT_FALSE(c.propose(1, "x"));
  c.stabilize();
  EXPECT_EQ(c.applied_data(2),
            (std::vector<std::string>{"aaaaaa", "bbbb", std::string(50, 'z'), "x"}));
}

// MsgUnreachable: a follower in StateReplicate goes back to StateProbe (next = match + 1, no
// inflights); one in StateProbe stays as it is.
TEST(FlowControlTest, UnreachableMovesReplicateToProbe) {
  Cluster c(options());
  elect_1(c);
  c.drop(1, 2, 1.0);
  ASSERT_FALSE(c.propose(1, "a"));
  ASSERT_FALSE(c.propose(1, "b"));
  c.stabilize();
  ASSERT_EQ(progress(c, 2).state, ProgressState::kReplicate);
  ASSERT_EQ(progress(c, 2).next, 4u);
  ASSERT_EQ(progress(c, 2).inflights.count(), 2u);

  c.report_unreachable(1, 2);
  EXPECT_EQ(progress(c, 2).state, ProgressState::kProbe);
  EXPECT_EQ(progress(c, 2).next, 2u);
  EXPECT_EQ(progress(c, 2).inflights.count(), 0u);
  EXPECT_FALSE(progress(c, 2).is_paused());

  // The next proposals probe node 2 once and pause it.
  ASSERT_FALSE(c.propose(1, "c"));
  ASSERT_FALSE(c.propose(1, "d"));
  auto sent = leader_appends_to(c, 2);
  ASSERT_EQ(sent.size(), 1u) << "one probe for two proposals";
  EXPECT_EQ(sent[0].index(), 1u);
  EXPECT_EQ(sent[0].entries_size(), 3) << "from match + 1 to what was last when it was sent";
  EXPECT_TRUE(progress(c, 2).is_paused());
  c.stabilize();  // the link loses it
  c.report_unreachable(1, 2);
  EXPECT_EQ(progress(c, 2).state, ProgressState::kProbe);
  EXPECT_TRUE(progress(c, 2).is_paused()) << "probe state unchanged by a second report";

  c.heal();
  heartbeat_round(c, 2);
  c.stabilize();
  EXPECT_EQ(progress(c, 2).state, ProgressState::kReplicate);
  EXPECT_EQ(progress(c, 2).match, 5u);
}

}  // namespace
}  // namespace raft::testing
