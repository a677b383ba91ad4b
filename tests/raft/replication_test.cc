// Log replication (Raft §5.3) on the deterministic Cluster: round-trip counts of the consistency
// check's backtracking, which a script shows once but cannot measure over long logs. The stories
// are tests/raft/testdata/replication_*.txt, commit_*.txt and safety_*.txt.
#include <gtest/gtest.h>

#include <functional>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

ClusterOptions options() {
  ClusterOptions o;
  o.record_events = false;
  o.configure = [](Config& c) {
    c.election_tick = 10;
    c.heartbeat_tick = 1;
  };
  return o;
}

// Handles Readies and delivers in-flight messages one at a time, oldest first, until nothing
// moves; `seen` is called on every delivered message.
void drain(Cluster& c, const std::function<void(const Message&)>& seen) {
  for (int step = 0; step < 100000; ++step) {
    for (uint64_t id : c.ids()) {
      if (!c.alive(id)) continue;
      while (c.handle_ready(id)) {
      }
    }
    if (c.in_flight().empty()) return;
    const Message m = c.in_flight().front();
    c.deliver_at(0);
    seen(m);
  }
  FAIL() << "the cluster never settled";
}

struct Traffic {
  int rejections = 0;  // MsgAppendResponse rejections from the follower
  int appends = 0;     // MsgAppend to the follower
};

Traffic drain_counting(Cluster& c, uint64_t follower) {
  Traffic t;
  drain(c, [&](const Message& m) {
    if (m.msg_type() == eraftpb::MsgAppendResponse && m.from() == follower && m.reject()) {
      ++t.rejections;
    }
    if (m.msg_type() == eraftpb::MsgAppend && m.to() == follower) ++t.appends;
  });
  return t;
}

std::vector<std::pair<uint64_t, uint64_t>> log_ids(Cluster& c, uint64_t id) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& e : c.node(id).raft().log().all_entries()) out.emplace_back(e.index(), e.term());
  return out;
}

// A follower (node 1, the old leader) holds a long uncommitted tail of term 1 that diverges
// from the new leader's log right after index 1. The leader's first probe is at its last index
// of term 2; the follower's hint (its last index with a term <= 2, which has term 1) lets the
// leader jump straight to index 1. One rejection, whatever the length of either log; walking
// back one entry per round trip would take `leader_tail` of them.
TEST(ReplicationTest, FastBacktrackingSkipsALongDivergentTailInOneRoundTrip) {
  constexpr int kFollowerTail = 50;
  constexpr int kLeaderTail = 30;
  Cluster c(options());
  ASSERT_FALSE(c.campaign(1));
  c.stabilize();

  c.isolate(1);
  for (int i = 0; i < kFollowerTail; ++i) ASSERT_FALSE(c.propose(1, "lost" + std::to_string(i)));
  c.stabilize();

  ASSERT_FALSE(c.campaign(2));
  c.stabilize();
  for (int i = 0; i < kLeaderTail; ++i) ASSERT_FALSE(c.propose(2, "kept" + std::to_string(i)));
  c.stabilize();
  // Node 3 takes over at term 3 with node 2's log, so its probes start at a term-2 entry.
  ASSERT_FALSE(c.campaign(3));
  c.stabilize();
  ASSERT_EQ(c.node(3).raft().state(), StateRole::kLeader);
  ASSERT_EQ(c.node(1).raft().log().last_index(), 1u + kFollowerTail);

  c.heal();
  c.tick(3);  // a heartbeat; node 1's answer restarts the probe
  const Traffic t = drain_counting(c, 1);
  EXPECT_EQ(t.rejections, 1);
  EXPECT_LE(t.appends, 3);
  EXPECT_EQ(log_ids(c, 1), log_ids(c, 3));
  EXPECT_EQ(c.node(1).raft().log().committed(), c.node(3).raft().log().committed());
  ASSERT_EQ(c.applied_data(1).size(), static_cast<size_t>(kLeaderTail));
  EXPECT_EQ(c.applied_data(1).front(), "kept0") << "the lost tail was never applied";
}

// A follower that missed many entries while the leader kept pipelining to it (StateReplicate,
// next far ahead): its rejection hints at its own last index, and the leader resends from
// there at once: one rejection however much it missed.
TEST(ReplicationTest, LaggingFollowerHintsItsLastIndex) {
  constexpr int kMissed = 100;
  Cluster c(options());
  ASSERT_FALSE(c.campaign(1));
  c.stabilize();
  ASSERT_EQ(c.node(1).raft().tracker().progress.at(3).state, ProgressState::kReplicate);

  c.isolate(3);
  for (int i = 0; i < kMissed; ++i) ASSERT_FALSE(c.propose(1, "e" + std::to_string(i)));
  c.stabilize();
  const Progress& pr = c.node(1).raft().tracker().progress.at(3);
  ASSERT_EQ(pr.match, 1u);
  ASSERT_EQ(pr.next, 2u + kMissed) << "the leader pipelined optimistically";

  c.heal();
  c.tick(1);
  const Traffic t = drain_counting(c, 3);
  EXPECT_EQ(t.rejections, 1);
  EXPECT_EQ(log_ids(c, 3), log_ids(c, 1));
  EXPECT_EQ(c.applied_data(3).size(), static_cast<size_t>(kMissed));
}

// The consistency check itself, message by message (§5.3): an append whose previous entry the
// follower lacks, or holds with another term, is rejected and changes nothing; one that
// matches replaces a conflicting suffix and keeps everything before it.
TEST(ReplicationTest, ConsistencyCheckRejectsMismatchAndTruncatesConflicts) {
  Cluster c(options());
  ASSERT_FALSE(c.campaign(1));
  c.stabilize();
  ASSERT_FALSE(c.propose(1, "a"));
  ASSERT_FALSE(c.propose(1, "b"));
  c.stabilize();
  // Node 3: 1/1 1/2 1/3 (committed through 3). A forged leader 2 of term 2 talks to it.
  const auto before = log_ids(c, 3);
  ASSERT_EQ(before.size(), 3u);

  auto append = [](uint64_t prev_index, uint64_t prev_term, std::vector<uint64_t> terms) {
    Message m;
    m.set_msg_type(eraftpb::MsgAppend);
    m.set_from(2);
    m.set_to(3);
    m.set_term(2);
    m.set_index(prev_index);
    m.set_log_term(prev_term);
    uint64_t i = prev_index;
    for (uint64_t t : terms) {
      Entry* e = m.add_entries();
      e->set_index(++i);
      e->set_term(t);
    }
    return m;
  };
  auto reply = [&]() {
    while (c.handle_ready(3)) {
    }
    std::optional<Message> out;
    for (const auto& m : c.in_flight()) {
      if (m.from() == 3 && m.msg_type() == eraftpb::MsgAppendResponse) out = m;
    }
    c.drop_in_flight(1);
    c.drop_in_flight(2);
    return out;
  };

  // Missing previous entry (index 5 > last 3): rejected, hinting the follower's last entry.
  ASSERT_FALSE(c.step(3, append(5, 2, {2})));
  auto r = reply();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->reject());
  EXPECT_EQ(r->index(), 5u);
  EXPECT_EQ(r->reject_hint(), 3u);
  EXPECT_EQ(r->log_term(), 1u);
  EXPECT_EQ(log_ids(c, 3), before);

  // Add an uncommitted tail 2/4 2/5 at node 3, then contradict it at index 4.
  ASSERT_FALSE(c.step(3, append(3, 1, {2, 2})));
  r = reply();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject());
  EXPECT_EQ(r->index(), 5u);
  // Previous entry 4 claimed with term 3 (node 3 holds 2/4): rejected, hint 4/2.
  Message m = append(4, 3, {3});
  m.set_term(3);
  ASSERT_FALSE(c.step(3, m));
  r = reply();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->reject());
  EXPECT_EQ(r->reject_hint(), 4u);
  EXPECT_EQ(r->log_term(), 2u);
  EXPECT_EQ(c.node(3).raft().log().last_index(), 5u) << "a rejected append changes nothing";

  // A matching append (previous 1/3) whose first entry conflicts with 2/4: 2/4 and 2/5 go,
  // 3/4 comes in, entries 1..3 stay.
  m = append(3, 1, {3});
  m.set_term(3);
  ASSERT_FALSE(c.step(3, m));
  r = reply();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject());
  EXPECT_EQ(r->index(), 4u);
  auto expected = before;
  expected.emplace_back(4, 3);
  EXPECT_EQ(log_ids(c, 3), expected);
}

}  // namespace
}  // namespace raft::testing
