// Node::metrics(): the histogram's buckets, and the counters and gauges of a running cluster.
#include <gtest/gtest.h>

#include <thread>

#include "framework/metrics.h"
#include "tests/framework/support/test_cluster.h"

namespace framework::testing {
namespace {

TEST(LatencyHistogramTest, PutsEachSampleInTheFirstBucketAtOrAboveIt) {
  LatencyHistogram h;
  h.record(0);         // bucket 0 (<= 50)
  h.record(50);        // bucket 0: bounds are inclusive
  h.record(51);        // bucket 1 (<= 100)
  h.record(10000000);  // the last bound
  h.record(10000001);  // above every bound: the +Inf bucket
  const LatencyHistogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBoundsMicros.size() - 1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBoundsMicros.size()], 1u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.sum_micros, 0u + 50 + 51 + 10000000 + 10000001);
}

TEST(LatencyHistogramTest, CountsEverySampleRecordedFromSeveralThreads) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 1000; ++i) h.record(static_cast<uint64_t>(t * 1000 + i));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.snapshot().count, 4000u);
}

TEST(NodeMetricsTest, CountsWhatTheClusterDid) {
  TestCluster c(3);
  // Before start(): zeros, and no crash.
  EXPECT_EQ(c.node(1).metrics().commit, 0u);
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader == 1 ? 2 : 1;

  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    Reply<Proposed> r = c.put(leader, "k" + std::to_string(i), "v");
    ASSERT_TRUE(r.ok()) << r.error.message();
    last = r.value.index;
  }
  ASSERT_TRUE(c.await(c.node(follower).read_index()).ok());
  ASSERT_TRUE(c.await(c.node(leader).snapshot()).ok());
  ASSERT_TRUE(c.wait_applied(last));
  // The gauges are published by the strand after it handled the outcomes above.
  ASSERT_TRUE(c.run_until([&] { return c.node(leader).metrics().applied >= last; }));

  const NodeMetrics m = c.node(leader).metrics();
  EXPECT_EQ(m.id, leader);
  EXPECT_TRUE(m.is_leader);
  EXPECT_EQ(m.leader, leader);
  EXPECT_GE(m.term, 1u);
  EXPECT_GE(m.commit, last);
  EXPECT_GE(m.last_index, m.commit);
  EXPECT_GE(m.leader_changes, 1u);
  EXPECT_EQ(m.proposals, 5u);
  EXPECT_EQ(m.proposals_failed, 0u);
  EXPECT_GE(m.entries_applied, 5u);
  EXPECT_GE(m.wal_syncs, 1u);
  EXPECT_GE(m.wal_bytes_written, 5u);
  EXPECT_EQ(m.wal_sync_latency.count, m.wal_syncs);
  EXPECT_EQ(m.snapshots_taken, 1u);
  EXPECT_GE(m.snapshot_index, last);
  for (uint64_t peer : {1, 2, 3}) {
    if (peer == leader) continue;
    ASSERT_TRUE(m.peers.count(peer)) << "peer " << peer;
    const PeerTraffic& t = m.peers.at(peer);
    EXPECT_GT(t.bytes_sent, 0u) << "peer " << peer;
    EXPECT_GT(t.bytes_received, 0u) << "peer " << peer;
    EXPECT_GT(t.messages_sent, 0u) << "peer " << peer;
    EXPECT_GT(t.messages_received, 0u) << "peer " << peer;
  }
  EXPECT_EQ(c.node(follower).metrics().reads, 1u);
  EXPECT_FALSE(c.node(follower).metrics().is_leader);

  // After stop(): the last values stay readable.
  c.stop(follower);
}

}  // namespace
}  // namespace framework::testing
