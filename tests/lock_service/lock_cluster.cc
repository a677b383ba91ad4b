#include "tests/lock_service/lock_cluster.h"

#include <algorithm>

namespace lock_service::testing {

LockCluster::LockCluster(int n) : work_(std::in_place, io_.get_executor()) {
  for (uint64_t id = 1; id <= static_cast<uint64_t>(n); ++id) {
    members_[id].dir = std::make_unique<wal::testing::TempDir>();
  }
  for (auto& [id, m] : members_) launch(id);
  for (auto& [id, m] : members_) publish_port(id);
}

LockCluster::~LockCluster() {
  for (uint64_t id : running_ids()) stop(id);
  work_.reset();
  io_.run_for(1s);
}

framework::NodeConfig LockCluster::config(uint64_t id) const {
  framework::NodeConfig c;
  c.id = id;
  c.cluster_id = 0x10c4;
  c.data_dir = members_.at(id).dir->sub("data");
  c.listen = {"127.0.0.1", 0};
  for (const auto& [peer, m] : members_) c.peers[peer] = net::PeerAddress{"127.0.0.1", m.port};
  // Fast elections, so a leader change takes a fraction of a second.
  c.tick_interval = 10ms;
  c.election_ticks = 10;
  c.heartbeat_ticks = 2;
  c.dial_backoff_min = 5ms;
  c.dial_backoff_max = 100ms;
  c.wal_segment_bytes = 1 << 20;
  c.wal_cache_bytes = 1 << 20;
  return c;
}

void LockCluster::launch(uint64_t id) {
  Member& m = members_.at(id);
  m.locks = std::make_shared<LockStateMachine>();
  m.node = std::make_unique<framework::Node>(io_.get_executor(), config(id), m.locks);
  m.node->start();
  m.port = m.node->port();
  m.client = std::make_unique<LockClient>(*m.node, m.locks);
}

void LockCluster::publish_port(uint64_t id) {
  Member& m = members_.at(id);
  for (auto& [other, om] : members_) {
    if (other == id || !om.node) continue;
    om.node->set_peer_address(id, net::PeerAddress{"127.0.0.1", m.port});
    m.node->set_peer_address(other, net::PeerAddress{"127.0.0.1", om.port});
  }
}

bool LockCluster::run_until(const std::function<bool()>& pred,
                            std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    io_.run_one_for(20ms);
  }
  return true;
}

void LockCluster::await(boost::asio::awaitable<void> a, std::chrono::milliseconds deadline) {
  bool done = false;
  boost::asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    done = true;
  });
  if (!run_until([&] { return done; }, deadline)) {
    ADD_FAILURE() << "operation did not complete within the deadline";
  }
}

std::vector<uint64_t> LockCluster::running_ids() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, m] : members_) {
    if (m.node) ids.push_back(id);
  }
  return ids;
}

uint64_t LockCluster::wait_for_leader() {
  const std::vector<uint64_t> among = running_ids();
  uint64_t leader = 0;
  const bool ok = run_until([&] {
    uint64_t seen = 0;
    uint64_t term = 0;
    for (uint64_t id : among) {
      const framework::NodeStatus s = await(node(id).status());
      if (s.leader == 0 || (seen != 0 && (s.leader != seen || s.term != term))) return false;
      seen = s.leader;
      term = s.term;
    }
    if (std::find(among.begin(), among.end(), seen) == among.end()) return false;
    if (await(node(seen).status()).role != raft::StateRole::kLeader) return false;
    leader = seen;
    return true;
  });
  return ok ? leader : 0;
}

void LockCluster::stop(uint64_t id) {
  Member& m = members_.at(id);
  if (!m.node) return;
  m.client.reset();
  await(m.node->stop());
  m.node.reset();
  m.port = 0;
}

void LockCluster::restart(uint64_t id) {
  stop(id);
  launch(id);
  publish_port(id);
}

}  // namespace lock_service::testing
