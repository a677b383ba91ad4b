#include "tests/framework/support/test_cluster.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <boost/asio/steady_timer.hpp>

namespace framework::testing {
namespace {

class TestLogger final : public raft::Logger {
 public:
  void log(raft::LogLevel level, uint64_t node_id, uint64_t term,
           std::string_view message) override {
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "%s node=%llu term=%llu %.*s\n", std::string(raft::to_string(level)).c_str(),
                 static_cast<unsigned long long>(node_id), static_cast<unsigned long long>(term),
                 static_cast<int>(message.size()), message.data());
  }
  raft::LogLevel level() const override { return raft::LogLevel::kInfo; }

 private:
  std::mutex mu_;
};

}  // namespace

raft::Logger* test_logger() {
  static TestLogger logger;
  return std::getenv("RAFT_TEST_LOG") ? &logger : nullptr;
}

TestCluster::TestCluster(int n, ClusterOptions options)
    : work_(std::in_place, io_.get_executor()), options_(std::move(options)) {
  for (int i = 1; i <= n; ++i) initial_.push_back(static_cast<uint64_t>(i));
  for (uint64_t id : initial_) create(id, /*join=*/false);
}

TestCluster::~TestCluster() {
  // A node's stop waits for its apply thread, which a closed gate would block forever.
  for (auto& [id, m] : members_) {
    if (m.sm) m.sm->release();
  }
  for (uint64_t id : running_ids()) stop(id);
  work_.reset();
  io_.run_for(1s);
}

NodeConfig TestCluster::config_for(uint64_t id, bool join) const {
  NodeConfig c;
  c.id = id;
  c.cluster_id = 0xC1;
  c.join = join;
  c.listen = {"127.0.0.1", 0};
  for (uint64_t peer : initial_) c.peers[peer] = net::PeerAddress{"127.0.0.1", 0};
  for (const auto& [peer, m] : members_) {
    c.peers[peer] = net::PeerAddress{"127.0.0.1", m.port};
  }
  if (join) c.peers.erase(id);
  c.tick_interval = 10ms;
  c.election_ticks = 10;
  c.heartbeat_ticks = 2;
  c.request_timeout = 10s;
  c.dial_backoff_min = 5ms;
  c.dial_backoff_max = 100ms;
  c.wal_segment_bytes = 1 << 20;
  c.wal_cache_bytes = 1 << 20;
  c.logger = test_logger();
  if (options_.tune) options_.tune(c);
  return c;
}

void TestCluster::create(uint64_t id, bool join) {
  Member& m = members_[id];
  if (!m.dir) m.dir = std::make_unique<wal::testing::TempDir>();
  m.sm = std::make_shared<KvStateMachine>();
  m.join = join;
  m.node = std::make_unique<Node>(io_.get_executor(), config(id), m.sm);
}

NodeConfig TestCluster::config(uint64_t id) const {
  const Member& m = members_.at(id);
  NodeConfig c = config_for(id, m.join);
  c.data_dir = data_dir(id);
  return c;
}

std::string TestCluster::data_dir(uint64_t id) const { return members_.at(id).dir->sub("data"); }

void TestCluster::publish_port(uint64_t id) {
  Member& m = members_.at(id);
  m.port = m.node->port();
  for (auto& [other, om] : members_) {
    if (other == id || !om.node) continue;
    om.node->set_peer_address(id, address(id));
    if (om.port != 0) m.node->set_peer_address(other, address(other));
  }
}

net::PeerAddress TestCluster::address(uint64_t id) const {
  return net::PeerAddress{"127.0.0.1", members_.at(id).port};
}

void TestCluster::start_all() {
  for (auto& [id, m] : members_) {
    if (m.node && m.port == 0) m.node->start();
    m.port = m.node->port();
  }
  for (auto& [id, m] : members_) publish_port(id);
}

void TestCluster::start(uint64_t id) {
  members_.at(id).node->start();
  publish_port(id);
}

bool TestCluster::run_until(const std::function<bool()>& pred,
                            std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    io_.run_one_for(20ms);
  }
  return true;
}

void TestCluster::await(boost::asio::awaitable<void> a, std::chrono::milliseconds deadline) {
  bool done = false;
  boost::asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    done = true;
  });
  if (!run_until([&] { return done; }, deadline)) {
    ADD_FAILURE() << "operation did not complete within the deadline";
  }
}

bool TestCluster::running(uint64_t id) const {
  auto it = members_.find(id);
  return it != members_.end() && it->second.node != nullptr;
}

std::vector<uint64_t> TestCluster::running_ids() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, m] : members_) {
    if (m.node) ids.push_back(id);
  }
  return ids;
}

uint64_t TestCluster::wait_for_leader(std::vector<uint64_t> among,
                                      std::chrono::milliseconds deadline) {
  if (among.empty()) among = running_ids();
  uint64_t leader = 0;
  const bool ok = run_until(
      [&] {
        uint64_t seen = 0;
        uint64_t term = 0;
        for (uint64_t id : among) {
          NodeStatus s = status(id);
          if (s.leader == 0 || (seen != 0 && (s.leader != seen || s.term != term))) return false;
          seen = s.leader;
          term = s.term;
        }
        // The agreed leader must be one of them (not a leader cut off on the other side of a
        // partition) and itself be leader (not a stale belief of its followers).
        if (std::find(among.begin(), among.end(), seen) == among.end()) return false;
        if (!running(seen)) return false;
        if (status(seen).role != raft::StateRole::kLeader) return false;
        leader = seen;
        return true;
      },
      deadline);
  return ok ? leader : 0;
}

bool TestCluster::wait_applied(uint64_t index, std::vector<uint64_t> among,
                               std::chrono::milliseconds deadline) {
  if (among.empty()) among = running_ids();
  return run_until(
      [&] {
        for (uint64_t id : among) {
          if (status(id).applied < index) return false;
        }
        return true;
      },
      deadline);
}

Reply<Proposed> TestCluster::put(uint64_t via, const std::string& key, const std::string& value,
                                 std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  Reply<Proposed> r;
  for (;;) {
    r = await(node(via).propose(key + "=" + value), deadline);
    const bool retry = r.error == make_error_code(NodeError::kNotLeader) ||
                       r.error == make_error_code(NodeError::kDropped);
    if (!retry || std::chrono::steady_clock::now() >= end) return r;
    // Let the cluster make progress (an election) before retrying.
    boost::asio::steady_timer t(io_, 20ms);
    bool fired = false;
    t.async_wait([&](boost::system::error_code) { fired = true; });
    run_until([&] { return fired; });
  }
}

void TestCluster::stop(uint64_t id) {
  Member& m = members_.at(id);
  if (!m.node) return;
  await(m.node->stop());
  m.node.reset();
}

void TestCluster::restart(uint64_t id, const std::function<void(KvStateMachine&)>& before_start) {
  stop(id);
  const bool join = members_.at(id).join;
  create(id, join);
  Member& m = members_.at(id);
  if (before_start) before_start(*m.sm);
  m.node->start();
  publish_port(id);
}

void TestCluster::restart_all() {
  std::vector<uint64_t> ids;
  for (const auto& [id, m] : members_) ids.push_back(id);
  for (uint64_t id : ids) stop(id);
  for (uint64_t id : ids) restart(id);
}

void TestCluster::add_joining_node(uint64_t id) {
  create(id, /*join=*/true);
  members_.at(id).node->start();
  publish_port(id);
}

void TestCluster::partition(const std::vector<uint64_t>& side_a,
                            const std::vector<uint64_t>& side_b) {
  net::FaultRules block;
  block.block_outbound = true;
  block.block_inbound = true;
  for (uint64_t a : side_a) {
    for (uint64_t b : side_b) {
      if (running(a)) node(a).set_faults(b, block);
      if (running(b)) node(b).set_faults(a, block);
    }
  }
}

void TestCluster::heal() {
  for (uint64_t id : running_ids()) node(id).clear_faults();
}

}  // namespace framework::testing
