// Three (or n) replicas of the lock service in one process, over loopback TCP, for the lock
// service's tests.
//
// Every node runs on one io_context that the test thread runs; a test waits by running it until
// a request completes or a condition holds, with a generous deadline, never by sleeping. Nodes
// listen on 127.0.0.1 port 0 and learn each other's ports through Node::set_peer_address. Each
// node keeps its data dir across stop() and restart().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "examples/lock-service/lock_client.h"
#include "examples/lock-service/lock_state_machine.h"
#include "framework/node.h"
#include "tests/wal/support/temp_dir.h"

namespace lock_service::testing {

using namespace std::chrono_literals;

// Long enough never to fire on a loaded machine under sanitizers; a test that hits it failed.
inline constexpr std::chrono::milliseconds kDeadline = 30s;

class LockCluster {
 public:
  // Nodes 1..n, created and started, each told the others' ports.
  explicit LockCluster(int n);
  // Stops every running node.
  ~LockCluster();
  LockCluster(const LockCluster&) = delete;
  LockCluster& operator=(const LockCluster&) = delete;

  boost::asio::io_context& io() { return io_; }

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

  // Starts every awaitable at once (so they are in flight together), then runs the io_context
  // until all completed; results in the order given.
  template <typename T>
  std::vector<T> await_all(std::vector<boost::asio::awaitable<T>> all) {
    std::vector<std::shared_ptr<std::optional<T>>> slots;
    for (auto& a : all) {
      auto slot = std::make_shared<std::optional<T>>();
      boost::asio::co_spawn(io_, std::move(a), [slot](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        *slot = std::move(v);
      });
      slots.push_back(slot);
    }
    const bool done = run_until([&] {
      for (const auto& s : slots) {
        if (!s->has_value()) return false;
      }
      return true;
    });
    if (!done) ADD_FAILURE() << "requests did not complete within the deadline";
    std::vector<T> out;
    for (auto& s : slots) out.push_back(s->has_value() ? std::move(**s) : T{});
    return out;
  }

  framework::Node& node(uint64_t id) { return *members_.at(id).node; }
  LockClient& client(uint64_t id) { return *members_.at(id).client; }
  LockStateMachine& locks(uint64_t id) { return *members_.at(id).locks; }
  std::vector<uint64_t> running_ids() const;

  // The leader every running node agrees on, once it is one of them and leader by its own
  // status; 0 if none within the deadline.
  uint64_t wait_for_leader();

  // Graceful stop and destruction of the node; its data dir stays.
  void stop(uint64_t id);
  // A new Node with a new, empty LockStateMachine on the same data dir (and a new port),
  // started, with every node told the port.
  void restart(uint64_t id);

 private:
  struct Member {
    std::unique_ptr<wal::testing::TempDir> dir;
    std::shared_ptr<LockStateMachine> locks;
    std::unique_ptr<framework::Node> node;
    std::unique_ptr<LockClient> client;
    uint16_t port = 0;
  };

  framework::NodeConfig config(uint64_t id) const;
  // Creates and starts the node of `id` (its dir must exist).
  void launch(uint64_t id);
  // Tells every running node where `id` is, and `id` where they are.
  void publish_port(uint64_t id);

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::map<uint64_t, Member> members_;
};

}  // namespace lock_service::testing
