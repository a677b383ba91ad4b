// A replicated state machine on Asio coroutines: the public face of the framework.
//
//     framework::NodeConfig cfg;  cfg.id = 1; cfg.cluster_id = 7; cfg.data_dir = "/var/lib/app/1";
//     cfg.listen = {"0.0.0.0", 7001};
//     cfg.peers = {{1, {"10.0.0.1", 7001}}, {2, {"10.0.0.2", 7001}}, {3, {"10.0.0.3", 7001}}};
//     framework::Node node(io.get_executor(), cfg, std::make_shared<MyStateMachine>());
//     node.start();                                  // opens the data dir, starts the transport
//     ...  auto r = co_await node.propose("set x 1");  // r.value: MyStateMachine's result
//     ...  co_await node.stop();
//
// ## Requests
//
// Every request is an awaitable that may be awaited from any coroutine on any executor; it
// resumes there with a Reply. A request fails with a NodeError (framework/errors.h) and, for
// kNotLeader, the leader this node knows of (0 if none). A request is never left hanging: it
// resolves with its outcome, with kTimeout after NodeConfig::request_timeout (the outcome is then
// unknown), or with kStopped when the node stops.
//
// - propose(): the command is appended to the log through the leader (a follower forwards it)
//   and resolves once it is applied on THIS node, with the state machine's result for it.
// - read_index(): resolves once this node's state machine has applied everything committed when
//   the read was asked for, so a read of the local state after it is linearizable (ReadMode in
//   the config: a quorum round or the leader lease).
// - membership: add_voter, add_learner, promote, remove_member, change_membership (several
//   changes at once, through a joint configuration that the leader leaves by itself). Resolve
//   once the change is applied on this node, with the configuration then in force. One change
//   at a time: another one still pending fails with kDropped.
// - transfer_leader(): resolves once this node sees `to` as leader.
// - snapshot(): takes a snapshot now (they are also taken by NodeConfig's policy).
//
// ## Snapshots
//
// The apply thread asks the state machine for a consistent view (StateMachine::snapshot), a
// snapshot thread writes it into <data_dir>/snap (snapshot/snapshot_store.h), the disk thread
// records it in the meta store and compacts the WAL below it. A follower that needs entries the
// leader compacted gets the snapshot file streamed on a connection of its own; it stores and
// checks the whole file before the core sees it, then the state machine restores from it. A node
// restarting from a snapshot restores from the stored file, then replays the log after it.
//
// ## Pipeline
//
// All of the node's work runs on one strand of the executor given at construction: ticks,
// messages from peers, requests, and the handling of the core's Readys. Writes to the WAL and the
// meta store run on a disk thread that syncs once for everything queued meanwhile (group commit);
// the leader sends appends to its followers while its own write is in flight; a follower
// acknowledges only what is durable. Committed commands go to an apply thread that runs the
// StateMachine, so a slow state machine delays neither ticks nor replication. Proposals that
// arrive together become one log append, one sync and one message per follower.
//
// ## Restart
//
// A node started on an existing data dir rebuilds itself from it (meta store and WAL), replays
// the committed log into its state machine and rejoins its cluster; NodeConfig::peers then only
// gives addresses. A data dir of another cluster or node is refused by start().
//
// ## Lifetime
//
// Construct, start(), use, co_await stop(), destroy. The destructor of a node that was started
// but not stopped stops it synchronously, which is only safe once its io_context no longer runs.
// A node that applies its own removal from the cluster stops by itself a little later (after two
// election timeouts, so that the messages of its removal still leave); its requests then fail
// with kRemoved.
//
// ## Joining
//
// A node added to a running cluster starts with NodeConfig::join and its peers listing the
// current members' addresses: a node accepts connections only from the members it knows.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "framework/errors.h"
#include "framework/metrics.h"
#include "framework/node_config.h"
#include "framework/state_machine.h"
#include "raft/types.h"

namespace framework {

// The outcome of a request: value on success, error otherwise.
template <typename T>
struct Reply {
  std::error_code error;
  // With kNotLeader: the leader this node knows of, or 0.
  uint64_t leader = 0;
  T value{};

  bool ok() const noexcept { return !error; }
};

struct Empty {};

// What propose() resolves with.
struct Proposed {
  uint64_t index = 0;   // the command's log index
  std::string result;   // what StateMachine::apply returned for it
};

// One membership change of change_membership().
struct MemberChange {
  enum class Op { kAddVoter, kAddLearner, kRemove };
  Op op = Op::kAddVoter;
  uint64_t id = 0;
  // For additions: where the members reach the new node (a member's own NodeConfig::peers entry
  // wins over this).
  net::PeerAddress address;
};

struct PeerProgress {
  uint64_t match = 0;
  uint64_t next = 0;
  std::string state;     // "Probe", "Replicate" or "Snapshot"
  bool recent_active = false;
};

struct NodeStatus {
  uint64_t id = 0;
  raft::StateRole role = raft::StateRole::kFollower;
  uint64_t term = 0;
  uint64_t leader = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  std::vector<uint64_t> voters;            // in a joint configuration, the incoming voters
  std::vector<uint64_t> outgoing_voters;   // non-empty only in a joint configuration
  std::vector<uint64_t> learners;
  std::map<uint64_t, PeerProgress> progress;  // on the leader only
  uint64_t snapshot_index = 0;  // the newest snapshot in this node's storage (own or received)
  uint64_t first_index = 0;     // the first entry still in the WAL
  size_t pending_requests = 0;
  bool stopped = false;
};

class Node {
 public:
  // Throws std::invalid_argument when config.validate() fails.
  Node(boost::asio::any_io_executor executor, NodeConfig config,
       std::shared_ptr<StateMachine> state_machine);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens (or creates) the data dir, restores the state machine's position, binds the listening
  // socket and starts the node's coroutines. Call once, before the executor runs or from the
  // thread that runs it (never concurrently with the executor's handlers). Throws std::system_error (a NodeError or an I/O error) with a message naming
  // the data dir or address on failure.
  void start();
  // The port this node listens on (after start()).
  uint16_t port() const;
  // Sets or changes where this node reaches peer `id` (tests that bind port 0 learn each other's
  // ports this way). Callable from any thread.
  void set_peer_address(uint64_t id, net::PeerAddress address);

  boost::asio::awaitable<Reply<Proposed>> propose(std::string command);
  // Resolves with the read index (the commit index the read waited for).
  boost::asio::awaitable<Reply<uint64_t>> read_index();

  boost::asio::awaitable<Reply<raft::ConfState>> add_voter(uint64_t id, net::PeerAddress address);
  boost::asio::awaitable<Reply<raft::ConfState>> add_learner(uint64_t id,
                                                             net::PeerAddress address);
  boost::asio::awaitable<Reply<raft::ConfState>> promote(uint64_t id);
  boost::asio::awaitable<Reply<raft::ConfState>> remove_member(uint64_t id);
  boost::asio::awaitable<Reply<raft::ConfState>> change_membership(
      std::vector<MemberChange> changes);
  boost::asio::awaitable<Reply<Empty>> transfer_leader(uint64_t to);

  // Takes a snapshot of the state machine now (after the one in progress, if any) and resolves
  // with its index once it is stored and the WAL compacted below it (NodeConfig's margin).
  boost::asio::awaitable<Reply<uint64_t>> snapshot();

  boost::asio::awaitable<NodeStatus> status();
  // Counters and gauges for monitoring (framework/metrics.h). Callable from any thread, also
  // before start() and after stop(); never waits for the strand.
  NodeMetrics metrics() const;

  // Stops taking requests, lets the writes and applies already under way finish, resolves every
  // pending request (kStopped for those without an outcome), closes the transport and joins the
  // node's threads. Idempotent.
  boost::asio::awaitable<void> stop();

  uint64_t id() const;

  // Test faults on this node's transport (net/transport.h): drop, block or delay its messages
  // to or from `peer`. Callable from any thread.
  void set_faults(uint64_t peer, const net::FaultRules& rules);
  void clear_faults();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace framework
