// A deterministic in-memory cluster of consensus cores for tests and the simulator.
//
// Every node is a RawNode over a MemoryStorage that holds exactly what the node persisted. The
// network is a list of messages in flight; nothing moves until the test says so, and faults
// (drop, cut, partition, isolate, reorder, crash and restart) are explicit calls. Same calls in
// the same order give the same transcript, bit for bit.
//
// Persistence is modelled as the framework does it: a node's Ready is either persisted at once
// (handle_ready with sync), or handed to a per-node "disk" queue that the test completes later
// (persist_one / persist_all), so a crash loses what was not yet durable.
//
// After every step the cluster runs raft::InvariantChecker on every live node and, on what nodes
// applied, the cross-node safety checks (see check_safety()); a violation throws
// raft::InvariantViolation with the node id and term.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raft/invariants.h"
#include "raft/logger.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace raft::testing {

// Collects log lines, for transcripts and for printing on failure.
class CaptureLogger final : public Logger {
 public:
  explicit CaptureLogger(LogLevel min = LogLevel::kInfo) : min_(min) {}
  void log(LogLevel level, uint64_t node_id, uint64_t term, std::string_view message) override;
  LogLevel level() const override { return min_; }
  // Returns and clears what was logged, one line each: "INFO 1 term=2: message".
  std::string take();
  void set_level(LogLevel l) { min_ = l; }
  // While set, lines are appended to *sink instead of the logger's own buffer (the Cluster uses
  // this to interleave log lines with its transcript). nullptr restores the buffer.
  void set_sink(std::string* sink) { sink_ = sink; }

 private:
  LogLevel min_;
  std::string buf_;
  std::string* sink_ = nullptr;
};

struct ClusterOptions {
  // Initial configuration; every node in either list is started.
  std::vector<uint64_t> voters = {1, 2, 3};
  std::vector<uint64_t> learners;
  // Applied to each node's Config before it is built (election ticks, pre_vote, ...).
  std::function<void(Config&)> configure;
  // Seeds the nodes' election timeouts (mixed with the node id) and the network's drop /
  // reorder randomness.
  uint64_t seed = 1;
  // Persist each Ready synchronously inside handle_ready (true), or queue it on the node's disk
  // until persist_one/persist_all (false).
  bool sync_persistence = true;
  // Apply committed entries in handle_ready (true) or leave them for apply_one (false).
  bool auto_apply = true;
  // Log level for the shared CaptureLogger.
  LogLevel log_level = LogLevel::kWarn;
  // Log lines go into the transcript (take_events) where they happen, instead of logger().
  bool logs_in_events = false;
  // Keep a transcript at all (the simulator turns it off: formatting every message costs).
  bool record_events = true;
};

// What one node applied, in order (normal entries with data and conf changes). A snapshot the
// node restored (from its leader, or its own at restart) is one marker entry: snapshot = true,
// index/term of the snapshot, data = the snapshot's data; what it covers is not listed.
struct AppliedEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  EntryType type = eraftpb::EntryNormal;
  std::string data;
  bool snapshot = false;
};

// Formatting shared by the transcript and the script runner: raft::describe(Entry) plus the
// changes a configuration entry carries ("2/4 confchangev2 v4 r2"), and those changes alone
// ("v4 l5 r2", "leave-joint", with " transition=explicit|implicit" when not auto).
std::string describe_entry(const Entry& e);
std::string describe_changes(const ConfChangeV2& cc);

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();

  // --- Nodes ---
  std::vector<uint64_t> ids() const;       // every node ever started, sorted
  bool alive(uint64_t id) const;           // not crashed
  RawNode& node(uint64_t id);
  const RawNode& node(uint64_t id) const;
  MemoryStorage& storage(uint64_t id);
  // Adds a fresh node with an empty log (to be added to the config by a conf change). Its
  // storage holds the cluster's initial ConfState, i.e. the configuration as of index 0, which
  // is what a node needs to replay the log from index 1 (like the bootstrap entries of etcd's
  // real clusters). It learns the current configuration from that replay or from a snapshot;
  // it is not a voter of its initial configuration, so it never campaigns before that.
  void add_node(uint64_t id);
  // The configuration the node's state machine has applied (as the harness applied it).
  ConfState conf_state(uint64_t id) const;

  // --- Inputs ---
  void tick(uint64_t id);
  // Ticks every live node `n` times, handling Readies and delivering messages after each tick.
  void tick_all(int n = 1);
  std::error_code campaign(uint64_t id);
  std::error_code propose(uint64_t id, std::string data);
  std::error_code propose_conf_change(uint64_t id, const ConfChangeV2& cc);
  std::error_code propose_conf_change(uint64_t id, const ConfChange& cc);  // the V1 encoding
  std::error_code read_index(uint64_t id, std::string ctx);
  std::error_code transfer_leader(uint64_t id, uint64_t transferee);
  // Steps a message directly into a node (bypassing the network), as if it arrived.
  std::error_code step(uint64_t id, const Message& m);
  std::error_code request_snapshot(uint64_t id);
  // What a transport reports (the cluster itself reports a failed snapshot when it drops a
  // MsgSnapshot whose sender is alive).
  void report_unreachable(uint64_t id, uint64_t peer);
  void report_snapshot(uint64_t id, uint64_t peer, bool success);
  // The node's state machine snapshots at `index` (0: its applied index; at most that), with
  // the configuration as of that index, then compacts its log there. Errors as
  // MemoryStorage::create_snapshot / compact.
  std::error_code compact(uint64_t id, uint64_t index = 0);

  // --- Ready handling ---
  // Handles one Ready of node `id` if it has one: sends messages (to the network, through the
  // faults), persists (or queues on the disk), applies committed entries (including conf
  // changes, and snapshots via MemoryStorage) and records read states. Returns false if none.
  bool handle_ready(uint64_t id);
  // Completes the oldest / all queued writes of a node (async persistence only), then sends
  // the persisted messages of those Readies.
  bool persist_one(uint64_t id);
  void persist_all(uint64_t id);
  // Applies the oldest pending batch of committed entries (auto_apply = false only).
  bool apply_one(uint64_t id);
  size_t pending_writes(uint64_t id) const;   // Readies queued on the node's disk
  size_t pending_applies(uint64_t id) const;  // batches waiting for apply_one
  uint64_t applied_index(uint64_t id) const;  // what its state machine applied

  // --- Network ---
  // Messages in flight, oldest first.
  const std::deque<Message>& in_flight() const { return in_flight_; }
  // Delivers in-flight messages addressed to `to` (all, or at most `max`); returns how many.
  size_t deliver(uint64_t to, size_t max = SIZE_MAX);
  // Delivers the in-flight message at position i.
  void deliver_at(size_t i);
  // Drops in-flight messages to `to` (all, or matching a type); returns how many.
  size_t drop_in_flight(uint64_t to, std::optional<MessageType> type = std::nullopt);
  // Handles Readies and delivers messages until nothing moves (or max_rounds passes; then
  // throws: a cluster that never settles is a bug). Returns the number of rounds.
  int stabilize(int max_rounds = 10000);
  // The same, restricted to some nodes: only their Readies and disks, only messages to them
  // (the rest stay in flight).
  int stabilize_only(const std::set<uint64_t>& ids, int max_rounds = 10000);

  // --- Faults ---
  // Messages from -> to are dropped with probability p (1.0 cuts the link).
  void drop(uint64_t from, uint64_t to, double p);
  void cut(uint64_t a, uint64_t b);       // both directions
  void isolate(uint64_t id);             // cut from everyone
  // Only nodes within the same group talk to each other.
  void partition(const std::vector<std::set<uint64_t>>& groups);
  void heal();                            // remove every drop rule
  // Delivery order: false keeps FIFO; true shuffles in-flight messages (seeded) before each
  // delivery round.
  void set_reorder(bool on) { reorder_ = on; }
  // Only messages of these types are dropped by drop rules (empty: all types).
  void drop_only(std::set<MessageType> types) { drop_types_ = std::move(types); }
  // The node crashes: everything not persisted is lost, messages to it are dropped.
  void crash(uint64_t id);
  // Restarts a crashed node from its storage (what it had persisted).
  void restart(uint64_t id);

  // --- Observation ---
  // The leader of the highest term among live nodes, or kNone.
  uint64_t leader() const;
  const std::vector<AppliedEntry>& applied(uint64_t id) const;
  // Data of applied normal entries with non-empty data, in order.
  std::vector<std::string> applied_data(uint64_t id) const;
  const std::vector<ReadState>& read_states(uint64_t id) const;
  void clear_read_states(uint64_t id);
  CaptureLogger& logger() { return logger_; }

  // Cross-node safety, checked after every handled Ready and delivered message:
  //   Election Safety       at most one leader per term (ever seen; but a crash forgets what
  //                         the node did in a term it never persisted: a lone voter that
  //                         elected itself and crashed before its term was durable was a
  //                         leader nobody saw, and its entries of that term went nowhere);
  //   Log Matching          two logs with an entry of the same index and term agree on every
  //                         entry up to it;
  //   Leader Completeness   a leader's log holds every entry committed in an earlier term;
  //   State Machine Safety  no two nodes apply different entries at the same index.
  // Throws raft::InvariantViolation naming the property.
  void check_safety();

  // The transcript of what happened since the last call (for text scripts): one line per
  // message sent, delivered or dropped, per Ready handled, per crash/restart.
  std::string take_events();
  // Adds a line of the caller's own to the transcript.
  void note(const std::string& line) { event(line); }

 private:
  struct NodeState;
  // What a node appended at (index, term): Log Matching requires every log holding that pair
  // to hold the same entry after the same term.
  struct LogEntryId {
    uint64_t prev_term;
    EntryType type;
    size_t data_hash;
    uint64_t node;  // the first node seen with it, for the report
  };
  // The entry first seen applied at an index, and the highest term of a live node then (a
  // leader of a later term must hold the entry: Leader Completeness).
  struct CommittedEntry {
    AppliedEntry entry;
    uint64_t max_live_term;
    uint64_t node;
  };

  NodeState& state(uint64_t id);
  const NodeState& state(uint64_t id) const;
  NodeState& live(uint64_t id);  // throws std::logic_error if crashed
  // Calls f(RawNode&) on a live node, then runs the after-step checks; returns f's result.
  template <typename F>
  auto on_node(uint64_t id, F&& f);
  Config make_config(uint64_t id) const;
  void start(NodeState& n, uint64_t applied);
  // `sender` is the node whose Ready or write sent the message: usually m.from(), but a
  // forwarded MsgTransferLeader names the transferee there. Faults apply to the real link.
  void send(uint64_t sender, const Message& m, std::string_view label);
  bool dropped(const Message& m, uint64_t sender);
  void deliver_message(const Message& m, uint64_t sender, bool explicit_call);
  // Removes the in-flight messages that `pick` selects (at most max), oldest first.
  std::vector<std::pair<Message, uint64_t>> take_in_flight(
      const std::function<bool(const Message&, uint64_t sender)>& pick, size_t max = SIZE_MAX);
  // why == nullptr: already reported.
  void drop_message(const Message& m, const char* why);
  void apply_committed(NodeState& n, const EntryVec& entries);
  void apply_snapshot(NodeState& n, const Snapshot& snap);
  void record_appended(NodeState& n, const EntryVec& entries);
  void record_applied(NodeState& n, const Entry& e, uint64_t max_live_term);
  void check_leader_completeness(uint64_t id, const Raft& r);
  uint64_t max_live_term() const;
  void after_step(uint64_t id);
  int stabilize_impl(const std::set<uint64_t>* only, int max_rounds);
  [[noreturn]] void violation(uint64_t id, uint64_t term, const std::string& what);
  void event(const std::string& line);
  bool recording() const { return options_.record_events; }

  ClusterOptions options_;
  CaptureLogger logger_;
  std::map<uint64_t, std::unique_ptr<NodeState>> nodes_;
  std::deque<Message> in_flight_;
  std::deque<uint64_t> senders_;  // in step with in_flight_
  std::map<std::pair<uint64_t, uint64_t>, double> drop_rules_;
  std::set<MessageType> drop_types_;
  bool reorder_ = false;
  std::mt19937_64 rng_;
  std::string events_;
  // Election Safety and Leader Completeness bookkeeping.
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<uint64_t, CommittedEntry> committed_;  // index -> the entry first seen applied there
  // Log Matching bookkeeping: (index, term) -> what follows which term there.
  std::map<std::pair<uint64_t, uint64_t>, LogEntryId> appended_;
};

}  // namespace raft::testing
