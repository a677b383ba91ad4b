// Real raft-kv processes killed and restarted: no acknowledged write is ever lost.
//
// A write counts as acknowledged only when the node answered 200; a write whose answer never came
// (the node died, the request timed out) may or may not have taken effect and is not checked.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "tests/e2e/kv_cluster.h"

namespace raftkv::e2e {
namespace {

// Writers that keep putting unique keys through every node in turn, and remember which writes
// were acknowledged.
class Writers {
 public:
  // `ports`: the HTTP port of each node, fixed for the writers' lifetime (a killed node's port
  // just refuses connections).
  Writers(std::vector<uint16_t> ports, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, ports, t] { run(ports, t); });
    }
  }
  ~Writers() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  size_t acked() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  // Waits until at least `n` writes were acknowledged; false at the deadline.
  bool wait_acked(size_t n, Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return acked_cv_.wait_until(lock, deadline, [&] { return acked_.size() >= n; });
  }
  std::map<std::string, std::string> acked_writes() {
    std::lock_guard lock(mu_);
    return acked_;
  }

 private:
  void run(const std::vector<uint16_t>& ports, int t) {
    for (size_t i = 0; !stop_; ++i) {
      const std::string key = "w" + std::to_string(t) + "-" + std::to_string(i);
      const std::string value = "value-" + std::to_string(t) + "-" + std::to_string(i);
      HttpClient h("127.0.0.1", ports[(i + static_cast<size_t>(t)) % ports.size()], 5s);
      if (h.put(kv_path(key), value).status == 200) {
        std::lock_guard lock(mu_);
        acked_[key] = value;
        acked_cv_.notify_all();
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable acked_cv_;
  std::map<std::string, std::string> acked_;
  std::vector<std::thread> threads_;
};

// Every write in `writes` reads back from node `id` with `consistency`.
void expect_all_readable(KvCluster& c, uint64_t id, const std::map<std::string, std::string>& writes,
                         const std::string& consistency) {
  HttpClient h = c.client(id);
  size_t bad = 0;
  for (const auto& [key, value] : writes) {
    auto r = h.get(kv_path(key) + "?consistency=" + consistency);
    if (r.status != 200 || r.body != value) {
      if (++bad <= 5) {
        ADD_FAILURE() << "node " << id << " (" << consistency << ") " << key << ": "
                      << r.describe() << ", want " << value;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << "of " << writes.size() << " acknowledged writes on node " << id;
}

std::vector<uint16_t> http_ports(KvCluster& c) {
  std::vector<uint16_t> ports;
  for (uint64_t id : c.ids()) ports.push_back(c.node(id).http_port);
  return ports;
}

TEST(CrashTest, KilledLeaderLosesNoAcknowledgedWrite) {
  ClusterOptions o;
  // Requests forwarded to the dead leader give up quickly; frequent snapshots with a short log
  // behind them make the restarted node likely to catch up from a streamed snapshot.
  o.extra_flags = {"--request-timeout-ms", "2000", "--snapshot-entries", "25",
                   "--compaction-margin", "5"};
  KvCluster c(o);
  ASSERT_TRUE(c.start());
  const uint64_t old_leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(old_leader, 0u);

  Writers writers(http_ports(c), 3);
  ASSERT_TRUE(writers.wait_acked(40, deadline_in()))
      << "only " << writers.acked() << " writes acknowledged";
  c.kill(old_leader);
  const size_t acked_at_kill = writers.acked();

  std::vector<uint64_t> survivors;
  for (uint64_t id : c.ids()) {
    if (id != old_leader) survivors.push_back(id);
  }
  const uint64_t new_leader = c.wait_for_leader(deadline_in(), survivors);
  ASSERT_NE(new_leader, 0u) << "no new leader among the survivors";
  EXPECT_NE(new_leader, old_leader);
  // The writers go on through the survivors under the new leader.
  ASSERT_TRUE(writers.wait_acked(acked_at_kill + 40, deadline_in()))
      << "only " << writers.acked() - acked_at_kill << " writes acknowledged after the kill";
  writers.stop();
  const auto acked = writers.acked_writes();

  for (uint64_t id : survivors) expect_all_readable(c, id, acked, "linearizable");

  // The killed node comes back on its data dir and catches up with everything committed.
  auto s = c.status(new_leader);
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(c.start_node(old_leader));
  ASSERT_TRUE(c.wait_for_applied(old_leader, s->commit, deadline_in()));
  expect_all_readable(c, old_leader, acked, "stale");
}

TEST(CrashTest, AllNodesKilledAndRestartedKeepEveryWrite) {
  ClusterOptions o;
  // Snapshots and compaction during the writes, so a restart restores a snapshot, then
  // replays the log after it.
  o.extra_flags = {"--snapshot-entries", "20", "--compaction-margin", "5"};
  KvCluster c(o);
  ASSERT_TRUE(c.start());
  ASSERT_NE(c.wait_for_leader(deadline_in()), 0u);

  std::map<std::string, std::string> writes;
  for (int i = 0; i < 60; ++i) {
    const uint64_t via = c.ids()[static_cast<size_t>(i) % c.ids().size()];
    const std::string key = "k" + std::to_string(i);
    const std::string value = "v" + std::to_string(i) + "-" + std::string(static_cast<size_t>(i), 'x');
    auto r = c.client(via).put(kv_path(key), value);
    ASSERT_EQ(r.status, 200) << "PUT " << key << " through node " << via << ": " << r.describe();
    writes[key] = value;
  }
  // An overwrite and a delete must survive as such.
  ASSERT_EQ(c.client(1).put(kv_path("k0"), "rewritten").status, 200);
  writes["k0"] = "rewritten";
  ASSERT_EQ(c.client(2).del(kv_path("k1")).status, 200);
  writes.erase("k1");

  for (uint64_t id : c.ids()) c.kill(id);
  for (uint64_t id : c.ids()) ASSERT_TRUE(c.start_node(id));
  ASSERT_NE(c.wait_for_leader(deadline_in()), 0u);

  for (uint64_t id : c.ids()) {
    expect_all_readable(c, id, writes, "linearizable");
    EXPECT_EQ(c.client(id).get(kv_path("k1")).status, 404) << "node " << id;
  }
}

TEST(CrashTest, SigtermAndSigintStopGracefullyAndKeepData) {
  KvCluster c;
  ASSERT_TRUE(c.start());
  const uint64_t leader = c.wait_for_leader(deadline_in());
  ASSERT_NE(leader, 0u);

  std::map<std::string, std::string> writes;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "t" + std::to_string(i);
    auto r = c.client(c.ids()[static_cast<size_t>(i) % 3]).put(kv_path(key), "v" + key);
    ASSERT_EQ(r.status, 200) << r.describe();
    writes[key] = "v" + key;
  }

  // A follower by SIGTERM, the leader by SIGINT, then the last one alone by SIGTERM: each
  // exits 0 (a graceful stop does not need its peers).
  std::vector<std::pair<uint64_t, int>> order;
  for (uint64_t id : c.ids()) {
    if (id != leader) order.push_back({id, SIGTERM});
  }
  order.insert(order.begin() + 1, {leader, SIGINT});
  for (auto [id, sig] : order) {
    auto status = c.stop(id, sig, deadline_in());
    ASSERT_TRUE(status.has_value()) << "node " << id << " still runs after signal " << sig;
    EXPECT_TRUE(status->ok()) << "node " << id << " after signal " << sig << ": "
                              << status->describe() << "; stderr: "
                              << c.node(id).process->stderr_text();
  }

  for (uint64_t id : c.ids()) ASSERT_TRUE(c.start_node(id));
  ASSERT_NE(c.wait_for_leader(deadline_in()), 0u);
  for (uint64_t id : c.ids()) expect_all_readable(c, id, writes, "linearizable");
}

}  // namespace
}  // namespace raftkv::e2e
