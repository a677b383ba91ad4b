// Snapshots in a cluster over loopback TCP: the policy takes them and compacts the WAL, a node
// restarts from one, and nodes that need entries the leader compacted catch up by a streamed
// snapshot and then by the log, also when the sender or the receiver dies in the middle.
#include <gtest/gtest.h>

#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

// Values big enough that a few hundred fill several 64 KiB WAL segments (compaction drops whole
// segments only).
std::string value(int i) { return std::string(1000, static_cast<char>('a' + i % 26)) + std::to_string(i); }

ClusterOptions small_segments(uint64_t snapshot_entries, uint64_t margin) {
  ClusterOptions o;
  o.tune = [=](NodeConfig& c) {
    c.wal_segment_bytes = 64 << 10;
    c.snapshot_entries = snapshot_entries;
    c.snapshot_bytes = 0;
    c.compaction_margin = margin;
  };
  return o;
}

void put_many(TestCluster& c, uint64_t via, int from, int to) {
  for (int i = from; i < to; ++i) {
    Reply<Proposed> r = c.put(via, "k" + std::to_string(i), value(i));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error.message();
  }
}

// Every running node holds exactly the same map as `reference`, once it has applied as far.
void expect_same_state(TestCluster& c, uint64_t reference) {
  const uint64_t applied = c.status(reference).applied;
  ASSERT_TRUE(c.wait_applied(applied));
  const auto expected = c.sm(reference).contents();
  for (uint64_t id : c.running_ids()) {
    // Compared whole, reported briefly (the values are large).
    const auto got = c.sm(id).contents();
    EXPECT_TRUE(got == expected) << "node " << id << " holds " << got.size() << " keys, node "
                                 << reference << " " << expected.size();
  }
}

// Snapshots every node until its WAL starts after entry 1.
void snapshot_and_compact(TestCluster& c, uint64_t id) {
  Reply<uint64_t> s = c.await(c.node(id).snapshot());
  ASSERT_TRUE(s.ok()) << s.error.message();
  ASSERT_GT(s.value, 0u);
  NodeStatus st = c.status(id);
  EXPECT_EQ(st.snapshot_index, s.value);
  EXPECT_GT(st.first_index, 1u) << "node " << id << " compacted nothing";
}

TEST(SnapshotTest, PolicyTakesSnapshotsCompactsAndARestartStartsFromOne) {
  TestCluster c(3, small_segments(/*snapshot_entries=*/50, /*margin=*/5));
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  put_many(c, leader, 0, 300);
  ASSERT_TRUE(c.run_until([&] {
    for (uint64_t id : {1, 2, 3}) {
      NodeStatus s = c.status(id);
      if (s.snapshot_index == 0 || s.first_index <= 1) return false;
    }
    return true;
  })) << "the policy took no snapshot or compacted nothing";
  expect_same_state(c, leader);

  // Every node restarts from its snapshot plus the log after it.
  c.restart_all();
  const uint64_t next = c.wait_for_leader();
  ASSERT_NE(next, 0u);
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_GT(c.status(id).first_index, 1u);
  }
  put_many(c, next, 300, 310);
  expect_same_state(c, next);
  EXPECT_EQ(c.sm(next).get("k0"), value(0));
  EXPECT_EQ(c.sm(next).get("k309"), value(309));
}

// The byte policy: with the entry count off, a snapshot follows once enough command bytes were
// applied (300 commands of ~1 KB against 64 KiB).
TEST(SnapshotTest, ByteThresholdTakesSnapshots) {
  ClusterOptions o = small_segments(/*snapshot_entries=*/0, /*margin=*/5);
  auto base = o.tune;
  o.tune = [base](NodeConfig& c) {
    base(c);
    c.snapshot_bytes = 64 << 10;
  };
  TestCluster c(3, o);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  EXPECT_EQ(c.status(leader).snapshot_index, 0u);
  put_many(c, leader, 0, 300);
  ASSERT_TRUE(c.run_until([&] { return c.status(leader).snapshot_index > 0; }))
      << "no snapshot after ~300 KB of commands";
}

TEST(SnapshotTest, NewNodeCatchesUpBySnapshotThenByLog) {
  TestCluster c(3, small_segments(/*snapshot_entries=*/0, /*margin=*/0));
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  put_many(c, leader, 0, 300);
  snapshot_and_compact(c, leader);

  c.add_joining_node(4);
  Reply<raft::ConfState> added = c.await(c.node(leader).add_learner(4, c.address(4)));
  ASSERT_TRUE(added.ok()) << added.error.message();
  // It cannot get entry 1 from the leader: only a snapshot brings it up.
  ASSERT_TRUE(c.run_until([&] { return c.status(4).applied >= c.status(leader).snapshot_index; }));
  put_many(c, leader, 300, 320);
  expect_same_state(c, leader);
  EXPECT_GT(c.status(4).first_index, 1u) << "node 4 replayed the log from entry 1";
  Reply<raft::ConfState> promoted = c.await(c.node(leader).promote(4));
  ASSERT_TRUE(promoted.ok()) << promoted.error.message();
  EXPECT_EQ(c.status(leader).voters, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(SnapshotTest, FollowerBehindTheCompactedPrefixCatchesUpBySnapshot) {
  TestCluster c(3, small_segments(/*snapshot_entries=*/0, /*margin=*/0));
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t down = leader == 3 ? 2 : 3;
  c.stop(down);
  put_many(c, leader, 0, 300);
  snapshot_and_compact(c, leader);
  c.restart(down);
  expect_same_state(c, leader);
  EXPECT_GT(c.status(down).snapshot_index, 0u);
  put_many(c, leader, 300, 310);
  expect_same_state(c, leader);
}

// The follower is stopped while it installs a snapshot: the snapshot is durable in its storage,
// its state machine not yet restored (held at the gate). It restarts from the stored file.
TEST(SnapshotTest, ReceiverStoppedDuringInstallationRecovers) {
  TestCluster c(3, small_segments(/*snapshot_entries=*/0, /*margin=*/0));
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t down = leader == 3 ? 2 : 3;
  c.stop(down);
  put_many(c, leader, 0, 300);
  snapshot_and_compact(c, leader);
  c.restart(down, [](KvStateMachine& sm) { sm.hold(); });
  ASSERT_TRUE(c.run_until([&] { return c.status(down).snapshot_index > 0 && c.sm(down).blocked(); }))
      << "the snapshot never became durable on the follower";
  // The stop waits for the apply thread, so the gate opens as the stop begins.
  bool stopped = false;
  boost::asio::co_spawn(c.io(), c.node(down).stop(), [&](std::exception_ptr) { stopped = true; });
  c.sm(down).release();
  ASSERT_TRUE(c.run_until([&] { return stopped; }));
  c.restart(down);
  expect_same_state(c, leader);
  put_many(c, leader, 300, 305);
  expect_same_state(c, leader);
}

// The leader is stopped while it sends a snapshot to a follower, or just after (a loopback
// transfer of this size takes about a millisecond, so both orders happen); the follower catches
// up from the new leader either way. Cuts in the middle of a stream are checked exactly by the
// transport's tests (net/).
TEST(SnapshotTest, SenderStoppedDuringATransferRecovers) {
  TestCluster c(3, small_segments(/*snapshot_entries=*/0, /*margin=*/0));
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t down = leader == 3 ? 2 : 3;
  c.stop(down);
  put_many(c, leader, 0, 300);
  for (uint64_t id : c.running_ids()) snapshot_and_compact(c, id);
  c.restart(down);
  ASSERT_TRUE(c.run_until([&] {
    auto p = c.status(leader).progress;
    return (p.contains(down) && p.at(down).state == "Snapshot") ||
           c.status(down).snapshot_index > 0;
  }));
  c.stop(leader);
  const uint64_t next = c.wait_for_leader();
  ASSERT_NE(next, 0u);
  put_many(c, next, 300, 305);
  expect_same_state(c, next);
  c.restart(leader);
  expect_same_state(c, next);
}

}  // namespace
}  // namespace framework::testing
