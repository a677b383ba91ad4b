// Test support for the transport tests: an io_context run in the test thread until a condition
// holds (or a generous deadline passes), transports that record what they hand up, a logger that
// keeps its lines, and message builders.
//
// No sleeps: a test waits by running the io_context until its condition holds.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/transport.h"
#include "raft/logger.h"
#include "raft/types.h"

namespace net::testing {

using namespace std::chrono_literals;

// Long enough never to fire on a loaded machine under sanitizers; a test that needs it has
// already failed.
inline constexpr std::chrono::milliseconds kDeadline = 20s;

// An io_context run by the test thread. The work guard keeps run_one_for() waiting for the next
// event instead of returning at once when nothing is pending.
class Loop {
 public:
  Loop() : work_(std::in_place, io_.get_executor()) {}

  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  // Runs handlers until pred() holds; false if the deadline passed first.
  template <typename Pred>
  bool run_until(Pred pred, std::chrono::milliseconds deadline = kDeadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      io_.run_one_for(50ms);
    }
    return true;
  }

  // Runs whatever is ready now, without waiting for anything.
  void poll() { io_.poll(); }

  // Lets the io_context run out of work: true if it did (nothing left running) within deadline.
  bool runs_dry(std::chrono::milliseconds deadline = kDeadline) {
    work_.reset();
    io_.run_for(deadline);
    return io_.stopped();
  }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
};

// Keeps every line; thread-safe (TSan tests log from the io threads).
class CapturingLogger final : public raft::Logger {
 public:
  struct Line {
    raft::LogLevel level;
    uint64_t node;
    std::string text;
  };

  void log(raft::LogLevel level, uint64_t node_id, uint64_t, std::string_view message) override {
    std::lock_guard lock(mu_);
    lines_.push_back(Line{level, node_id, std::string(message)});
  }
  raft::LogLevel level() const override { return raft::LogLevel::kDebug; }

  // The lines at `level` that contain `needle`.
  std::vector<Line> find(raft::LogLevel level, std::string_view needle) const {
    std::lock_guard lock(mu_);
    std::vector<Line> found;
    for (const Line& line : lines_) {
      if (line.level == level && line.text.find(needle) != std::string::npos) found.push_back(line);
    }
    return found;
  }

  std::string dump() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const Line& line : lines_) {
      out += std::string(raft::to_string(line.level)) + " node=" + std::to_string(line.node) + " " +
             line.text + "\n";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Line> lines_;
};

// Options for a test transport: fast backoff, loopback, port 0.
inline TransportOptions test_options(uint64_t id, uint64_t cluster = 7) {
  TransportOptions o;
  o.cluster_id = cluster;
  o.node_id = id;
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.dial_backoff_min = 5ms;
  o.dial_backoff_max = 50ms;
  o.seed = id;
  return o;
}

// One transport on the Loop, recording what it hands up. Single-threaded use only, except
// `offer`, which the snapshot thread calls: set it before any snapshot is sent to this node.
class TestNode {
 public:
  TestNode(Loop& loop, TransportOptions options) : loop_(loop), id_(options.node_id) {
    options.logger = &logger_;
    TransportHandler handler;
    handler.on_message = [this](raft::Message m) { received.push_back(std::move(m)); };
    handler.on_unreachable = [this](uint64_t peer) { unreachable.push_back(peer); };
    handler.on_snapshot_offer = [this](const raft::Message& m, uint64_t size) {
      return offer ? offer(m, size) : nullptr;
    };
    handler.on_snapshot_received = [this](raft::Message m) {
      snapshots_received.push_back(std::move(m));
    };
    handler.on_snapshot_sent = [this](uint64_t peer, bool ok) {
      snapshots_sent.emplace_back(peer, ok);
    };
    transport_ = std::make_unique<Transport>(loop.executor(), std::move(options), handler);
    transport_->start();
  }
  TestNode(Loop& loop, uint64_t id) : TestNode(loop, test_options(id)) {}

  ~TestNode() { stop(); }

  Transport& transport() { return *transport_; }
  Transport* operator->() { return transport_.get(); }
  uint64_t id() const { return id_; }
  uint16_t port() const { return transport_->port(); }
  PeerAddress address() const { return PeerAddress{"127.0.0.1", port()}; }
  CapturingLogger& logger() { return logger_; }

  // Stops the transport and waits until `done` ran; then destroys it.
  void stop() {
    if (!transport_) return;
    bool done = false;
    transport_->stop([&done] { done = true; });
    EXPECT_TRUE(loop_.run_until([&] { return done; }))
        << "stop() of node " << id_ << " never finished";
    transport_.reset();
  }

  size_t count_unreachable(uint64_t peer) const {
    size_t n = 0;
    for (uint64_t p : unreachable) n += p == peer;
    return n;
  }

  std::vector<raft::Message> received;
  std::vector<uint64_t> unreachable;
  // Snapshot streams: the offers handed up, and each send's (peer, ok).
  std::function<std::unique_ptr<SnapshotSink>(const raft::Message&, uint64_t)> offer;
  std::vector<raft::Message> snapshots_received;
  std::vector<std::pair<uint64_t, bool>> snapshots_sent;

 private:
  Loop& loop_;
  uint64_t id_;
  CapturingLogger logger_;
  std::unique_ptr<Transport> transport_;
};

// Makes a and b peers of each other.
inline void link(TestNode& a, TestNode& b) {
  a->set_peer(b.id(), b.address());
  b->set_peer(a.id(), a.address());
}

// A MsgAppend from -> to whose `index` numbers it and which carries `payload` in one entry.
inline raft::Message make_message(uint64_t from, uint64_t to, uint64_t index,
                                  std::string payload = {}) {
  raft::Message m;
  m.set_msg_type(raft::MessageType::MsgAppend);
  m.set_from(from);
  m.set_to(to);
  m.set_term(1);
  m.set_index(index);
  if (!payload.empty()) {
    raft::Entry* e = m.add_entries();
    e->set_term(1);
    e->set_index(index + 1);
    e->set_data(std::move(payload));
  }
  return m;
}

// How many messages `node` received from `from`.
inline size_t count_from(const TestNode& node, uint64_t from) {
  size_t n = 0;
  for (const raft::Message& m : node.received) n += m.from() == from;
  return n;
}

}  // namespace net::testing
