// In-process clusters of framework::Nodes over real loopback TCP, for the framework's tests.
//
// Every node runs on one io_context that the test thread runs (no threads of the test's own
// beyond each node's disk and apply threads). A test waits by running the io_context until a
// condition holds or a generous deadline passes: no sleeps. Nodes listen on 127.0.0.1 port 0
// and learn each other's ports through Node::set_peer_address.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "framework/node.h"
#include "raft/logger.h"
#include "tests/framework/support/kv_state_machine.h"
#include "tests/wal/support/temp_dir.h"

namespace framework::testing {

using namespace std::chrono_literals;

// Long enough never to fire on a loaded machine under sanitizers; a test that hits it failed.
inline constexpr std::chrono::milliseconds kDeadline = 30s;

// Logs to stderr when RAFT_TEST_LOG is set (thread-safe: one write per line).
raft::Logger* test_logger();

struct ClusterOptions {
  // Applied to every node's config after the cluster fills in id, peers, data dir and listen.
  std::function<void(NodeConfig&)> tune;
};

class TestCluster {
 public:
  // Nodes 1..n, created (not started).
  explicit TestCluster(int n, ClusterOptions options = {});
  // Opens every state machine's gate (KvStateMachine::release), then stops every running node.
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  boost::asio::io_context& io() { return io_; }

  // Starts every created node and tells every node every port.
  void start_all();
  // Starts one created node (the others may stay unstarted) and tells the running ones its port.
  void start(uint64_t id);

  // Runs the io_context until pred() holds; false if the deadline passed first.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline = kDeadline);

  // Runs the io_context until `a` completes and returns its result (fails the test and returns
  // a default value if the deadline passes first).
  template <typename T>
  T await(boost::asio::awaitable<T> a, std::chrono::milliseconds deadline = kDeadline) {
    std::optional<T> out;
    boost::asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    if (!run_until([&] { return out.has_value(); }, deadline)) {
      ADD_FAILURE() << "request did not complete within the deadline";
      return T{};
    }
    return std::move(*out);
  }
  void await(boost::asio::awaitable<void> a, std::chrono::milliseconds deadline = kDeadline);

  // Starts `a` on the io_context without waiting for it; the slot holds its result once it
  // completed (it stays valid after the cluster is gone). For requests a test leaves pending.
  template <typename T>
  std::shared_ptr<std::optional<T>> spawn(boost::asio::awaitable<T> a) {
    auto slot = std::make_shared<std::optional<T>>();
    boost::asio::co_spawn(io_, std::move(a), [slot](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      *slot = std::move(v);
    });
    return slot;
  }
  // Starts every awaitable at once (so they are in flight together), then runs the io_context
  // until all completed; results in the order given. Fails the test if the deadline passes
  // first, with default values for the ones still pending.
  template <typename T>
  std::vector<T> await_all(std::vector<boost::asio::awaitable<T>> all,
                           std::chrono::milliseconds deadline = kDeadline) {
    std::vector<std::shared_ptr<std::optional<T>>> slots;
    slots.reserve(all.size());
    for (auto& a : all) slots.push_back(spawn(std::move(a)));
    auto done = [&] {
      for (const auto& s : slots) {
        if (!s->has_value()) return false;
      }
      return true;
    };
    if (!run_until(done, deadline)) {
      ADD_FAILURE() << "requests did not complete within the deadline";
    }
    std::vector<T> out;
    out.reserve(slots.size());
    for (auto& s : slots) out.push_back(s->has_value() ? std::move(**s) : T{});
    return out;
  }

  // Runs the io_context for `window` and returns whether pred() held at every check during it
  // (false as soon as it does not). For asserting that something does NOT happen: the window
  // is the only fixed wait a test may use, and it bounds how long the test looks, not how long
  // it waits for progress.
  bool holds_for(const std::function<bool()>& pred, std::chrono::milliseconds window) {
    return !run_until([&] { return !pred(); }, window);
  }

  Node& node(uint64_t id) { return *members_.at(id).node; }
  KvStateMachine& sm(uint64_t id) { return *members_.at(id).sm; }
  bool running(uint64_t id) const;
  std::vector<uint64_t> running_ids() const;
  NodeStatus status(uint64_t id) { return await(node(id).status()); }

  // The leader every running node (or every node of `among`) agrees on, once there is one and
  // it is one of them, in the same term, and leader by its own status. 0 if none within the
  // deadline.
  uint64_t wait_for_leader(std::vector<uint64_t> among = {},
                           std::chrono::milliseconds deadline = kDeadline);
  // Waits until every running node (or `among`) has applied at least `index`.
  bool wait_applied(uint64_t index, std::vector<uint64_t> among = {},
                    std::chrono::milliseconds deadline = kDeadline);

  // propose("key=value") on node `via`, retried on kNotLeader/kDropped until the deadline;
  // returns the final reply.
  Reply<Proposed> put(uint64_t via, const std::string& key, const std::string& value,
                      std::chrono::milliseconds deadline = kDeadline);

  // Graceful stop and destruction of the node; its data dir stays.
  void stop(uint64_t id);
  // A new Node on the same data dir (and a new port), started, with every node told the port.
  // Its state machine is a new, empty KvStateMachine, which the node fills by replaying its log.
  // `before_start` (optional) runs on the new state machine before the node starts (to hold
  // its gate, say).
  void restart(uint64_t id, const std::function<void(KvStateMachine&)>& before_start = {});
  // Stops every running node, then restarts every member (every node down at once, as after a
  // power cut of the whole cluster, except that each stopped gracefully).
  void restart_all();
  // A node that joins the running cluster (NodeConfig::join), created and started; the others
  // learn its address from the membership change that adds it (address()).
  void add_joining_node(uint64_t id);
  net::PeerAddress address(uint64_t id) const;
  // The config the cluster gives node `id` (data dir included), for tests that build a Node of
  // their own on a member's data dir.
  NodeConfig config(uint64_t id) const;
  std::string data_dir(uint64_t id) const;

  // Cuts every link between a node of side_a and a node of side_b, both directions (through
  // each node's transport faults); heal() restores every link.
  void partition(const std::vector<uint64_t>& side_a, const std::vector<uint64_t>& side_b);
  void heal();

 private:
  struct Member {
    std::unique_ptr<wal::testing::TempDir> dir;
    std::shared_ptr<KvStateMachine> sm;
    std::unique_ptr<Node> node;
    uint16_t port = 0;
    bool join = false;
  };

  NodeConfig config_for(uint64_t id, bool join) const;
  void create(uint64_t id, bool join);
  void publish_port(uint64_t id);

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  ClusterOptions options_;
  std::vector<uint64_t> initial_;
  std::map<uint64_t, Member> members_;
};

}  // namespace framework::testing
