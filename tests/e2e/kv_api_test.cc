// The HTTP API of a real three-node raft-kv cluster: writes through every node (followers
// forward to the leader), reads in each consistency mode, compare-and-swap, delete, and each
// error status the API promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/e2e/kv_cluster.h"

namespace raftkv::e2e {
namespace {

// A voter set as a sorted list, for comparisons.
std::vector<uint64_t> sorted(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(KvApiTest, WritesThroughEveryNodeAreReadableEverywhere) {
  KvCluster c;
  ASSERT_TRUE(c.start());
  const uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);

  // Each node takes a write; the followers' go through the leader.
  for (uint64_t id : c.ids()) {
    auto r = c.client(id).put(kv_path("key-" + std::to_string(id)), "value-" + std::to_string(id));
    ASSERT_EQ(r.status, 200) << "PUT through node " << id << ": " << r.describe();
  }

  for (uint64_t reader : c.ids()) {
    for (uint64_t writer : c.ids()) {
      const std::string path = kv_path("key-" + std::to_string(writer));
      const std::string want = "value-" + std::to_string(writer);
      // Linearizable (the default): sees every acknowledged write.
      auto r = c.client(reader).get(path);
      EXPECT_EQ(r.status, 200) << "node " << reader << " " << path << ": " << r.describe();
      EXPECT_EQ(r.body, want);
      r = c.client(reader).get(path + "?consistency=linearizable");
      EXPECT_EQ(r.status, 200) << r.describe();
      EXPECT_EQ(r.body, want);
      r = c.client(reader).get(path + "?consistency=lease");
      EXPECT_EQ(r.status, 200) << r.describe();
      EXPECT_EQ(r.body, want);
      // Stale: the node's own state, which the linearizable read above brought up to date.
      r = c.client(reader).get(path + "?consistency=stale");
      EXPECT_EQ(r.status, 200) << r.describe();
      EXPECT_EQ(r.body, want);
    }
  }

  auto s = c.status(leader);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id, leader);
  EXPECT_EQ(s->leader, leader);
  EXPECT_EQ(sorted(s->voters), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(s->learners.empty());
  EXPECT_GE(s->commit, 3u);
  EXPECT_GE(s->term, 1u);
}

TEST(KvApiTest, CompareAndSwapAndDeleteWithLeaseReads) {
  // Linearizable reads from the leader's lease here, rather than a heartbeat round.
  ClusterOptions o;
  o.extra_flags = {"--read-mode", "lease"};
  KvCluster c(o);
  ASSERT_TRUE(c.start());
  const uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader == 1 ? 2 : 1;
  HttpClient f = c.client(follower);
  HttpClient l = c.client(leader);

  // Against an absent key: 412, and the header says it is absent.
  auto r = f.put(kv_path("cas") + "?if=old", "new");
  ASSERT_EQ(r.status, 412) << r.describe();
  EXPECT_EQ(r.header("X-Raft-Kv-Present"), "false");
  EXPECT_EQ(l.get(kv_path("cas")).status, 404);

  ASSERT_EQ(l.put(kv_path("cas"), "a").status, 200);
  // Matching: replaced (through a follower).
  r = f.put(kv_path("cas") + "?if=a", "b");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(l.get(kv_path("cas")).body, "b");
  // Not matching: 412 with the current value, nothing changed.
  r = l.put(kv_path("cas") + "?if=a", "c");
  ASSERT_EQ(r.status, 412) << r.describe();
  EXPECT_EQ(r.body, "b");
  EXPECT_NE(r.header("X-Raft-Kv-Present"), "false");
  EXPECT_EQ(f.get(kv_path("cas")).body, "b");

  for (uint64_t id : c.ids()) {
    r = c.client(id).get(kv_path("cas") + "?consistency=lease");
    EXPECT_EQ(r.status, 200) << "node " << id << ": " << r.describe();
    EXPECT_EQ(r.body, "b");
  }

  // Delete through a follower: gone on every node.
  r = f.del(kv_path("cas"));
  ASSERT_EQ(r.status, 200) << r.describe();
  for (uint64_t id : c.ids()) {
    r = c.client(id).get(kv_path("cas"));
    EXPECT_EQ(r.status, 404) << "node " << id << ": " << r.describe();
    r = c.client(id).get(kv_path("cas") + "?consistency=lease");
    EXPECT_EQ(r.status, 404) << "node " << id << ": " << r.describe();
  }
}

constexpr bool kNotExecuted = true;
constexpr bool kAny = false;

// `r` is an error response with `status` and the API's JSON error body; with kNotExecuted, the
// body says the request certainly did not take effect.
void expect_error(const HttpResponse& r, int status, bool not_executed) {
  EXPECT_EQ(r.status, status) << r.describe();
  auto e = parse_error(r.body);
  ASSERT_TRUE(e.has_value()) << "not an error body: " << r.body;
  EXPECT_FALSE(e->error.empty());
  if (not_executed) {
    EXPECT_EQ(e->executed, std::optional<bool>(false)) << r.body;
  }
}

TEST(KvApiTest, ErrorStatuses) {
  ClusterOptions o;
  o.extra_flags = {"--max-key-bytes", "64", "--max-value-bytes", "1024"};
  KvCluster c(o);
  ASSERT_TRUE(c.start());
  const uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader == 1 ? 2 : 1;

  for (uint64_t id : {leader, follower}) {
    SCOPED_TRACE("node " + std::to_string(id));
    HttpClient h = c.client(id);
    // 400: malformed requests are refused before anything is proposed.
    expect_error(h.get(kv_path("k") + "?consistency=bogus"), 400, kNotExecuted);
    expect_error(h.post_json("/cluster/members", "{not json"), 400, kNotExecuted);
    expect_error(h.post_json("/cluster/members", R"({"op": "frobnicate", "id": 9})"), 400,
                 kNotExecuted);

    // 413: a key or a value over the limits; the limits themselves are fine.
    expect_error(h.put(kv_path(std::string(65, 'k')), "v"), 413, kNotExecuted);
    expect_error(h.put(kv_path("big"), std::string(1025, 'v')), 413, kNotExecuted);
    EXPECT_EQ(h.put(kv_path(std::string(64, 'k')), std::string(1024, 'v')).status, 200);
    EXPECT_EQ(h.get(kv_path("big")).status, 404) << "a refused value was written";

    // 404: no such key, no such route.
    expect_error(h.get(kv_path("absent")), 404, kAny);
    expect_error(h.get("/no/such/route"), 404, kAny);

    // 405: a method the route does not take.
    expect_error(h.request("PATCH", kv_path("k")), 405, kAny);

    // 412: compare-and-swap conflict.
    ASSERT_EQ(h.put(kv_path("k"), "one").status, 200);
    auto r = h.put(kv_path("k") + "?if=two", "three");
    EXPECT_EQ(r.status, 412) << r.describe();
    EXPECT_EQ(r.body, "one");
  }

  // The refused requests never reached the log: the cluster still serves.
  EXPECT_EQ(c.client(leader).get(kv_path("k")).body, "one");
}

TEST(KvApiTest, NoLeaderIs503NotExecuted) {
  // Only one of three members runs: it can never elect a leader.
  ClusterOptions o;
  o.extra_flags = {"--request-timeout-ms", "300"};
  KvCluster c(o);
  ASSERT_TRUE(c.start({1}));

  HttpClient h = c.client(1, 15s, /*retry_unavailable=*/false);
  auto r = h.put(kv_path("k"), "v");
  ASSERT_EQ(r.status, 503) << r.describe();
  auto e = parse_error(r.body);
  ASSERT_TRUE(e.has_value()) << r.body;
  EXPECT_EQ(e->executed, std::optional<bool>(false));
  EXPECT_EQ(e->leader, 0u);

  // A stale read needs no leader: the node's own (empty) state.
  r = h.get(kv_path("k") + "?consistency=stale");
  EXPECT_EQ(r.status, 404) << r.describe();

  auto s = c.status(1);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->leader, 0u);
  EXPECT_EQ(s->id, 1u);
}

}  // namespace
}  // namespace raftkv::e2e
