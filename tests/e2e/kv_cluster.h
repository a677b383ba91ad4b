// A cluster of real raft-kv processes on loopback for the end-to-end tests.
//
// Each node gets a data dir and output files under one temporary directory, a raft port picked
// by the cluster (every node must know every peer's raft port before any starts) and an HTTP
// port it picks itself (--http 127.0.0.1:0), read from the line the binary prints once serving:
//
//   raft-kv: node <id> serving http on <host>:<port>, raft on <host>:<port>
//
// A picked raft port may be taken by someone else before the node binds it; start() then tries
// again with new ports and empty data dirs. Waits poll GET /status until a condition holds or a
// deadline passes.
//
// The destructor stops every node still running with SIGTERM and fails the test if one does not
// exit 0 (under the sanitizers that is also where a node's leaks show), or if a node the test did
// not stop has exited by itself (a crash); a node that does not stop in time is SIGKILLed.
//
// Not thread-safe, except client(): a test's writer threads may hold HttpClients while the test
// thread kills and restarts nodes.
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

#include "tests/e2e/http_client.h"
#include "tests/e2e/json.h"
#include "tests/e2e/process.h"
#include "tests/wal/support/temp_dir.h"

namespace raftkv::e2e {

using namespace std::chrono_literals;

// Generous for a loaded machine under sanitizers; a wait that hits it is a failure.
inline constexpr std::chrono::milliseconds kWait = 20s;
inline Clock::time_point deadline_in(std::chrono::milliseconds d = kWait) {
  return Clock::now() + d;
}

// The raft-kv binary of this build.
const char* raft_kv_path();

// Flags that make elections quick (a 20 ms tick): given to every node of a test cluster.
std::vector<std::string> fast_flags();

struct ClusterOptions {
  int size = 3;             // nodes 1..size
  uint64_t cluster_id = 7;
  // Given to every node after fast_flags() (a later flag of the same name is an error in
  // raft-kv, so these must not repeat those).
  std::vector<std::string> extra_flags;
  int start_attempts = 3;   // tries with new raft ports when a node cannot start
};

struct KvNode {
  uint64_t id = 0;
  uint16_t raft_port = 0;
  std::string data_dir;
  bool join = false;        // started with --join (added to a running cluster)
  // Where this node reaches a peer, when not at the peer's own raft port (a proxy).
  std::map<uint64_t, uint16_t> peer_port_overrides;
  std::vector<std::string> extra_flags;  // this node only
  uint16_t http_port = 0;   // of the current run; 0 until it serves
  bool started = false;     // started by the test and not stopped or killed by it since
  std::unique_ptr<Process> process;
};

class KvCluster {
 public:
  explicit KvCluster(ClusterOptions options = {});
  ~KvCluster();
  KvCluster(const KvCluster&) = delete;
  KvCluster& operator=(const KvCluster&) = delete;

  const std::string& dir() const { return dir_.path(); }
  KvNode& node(uint64_t id);
  std::vector<uint64_t> ids() const;
  std::vector<uint64_t> running_ids();

  // Picks raft ports for every node and starts `only` (every node if empty), each waiting for
  // its serving line. On failure it kills what it started and tries again with new ports and
  // empty data dirs, up to ClusterOptions::start_attempts; the result carries the last error.
  ::testing::AssertionResult start(std::vector<uint64_t> only = {});
  // Adds node `id` with a fresh data dir and a picked raft port, not started. With `join` it
  // gets --join, and its --peers list every node of the cluster (itself included).
  KvNode& add_node(uint64_t id, bool join);

  // Starts a node that is not running on its data dir, with its raft port; waits until serving.
  ::testing::AssertionResult start_node(uint64_t id);
  // SIGKILL and reap.
  void kill(uint64_t id);
  // Sends `sig` and waits for the exit; nullopt if it still runs at the deadline.
  std::optional<ExitStatus> stop(uint64_t id, int sig, Clock::time_point deadline);

  // The full command line (without the program) node `id` starts with.
  std::vector<std::string> args(uint64_t id) const;
  // "1=127.0.0.1:P1,2=..." as node `id` sees its peers.
  std::string peers_flag(uint64_t id) const;

  // A client of the node's HTTP port of its current run; by default it retries requests that
  // were certainly not executed for want of a leader (HttpClient's retry_unavailable).
  HttpClient client(uint64_t id, std::chrono::milliseconds timeout = 15s,
                    bool retry_unavailable = true) const;
  // GET /status; nullopt if the node does not answer or answers something unexpected.
  std::optional<StatusInfo> status(uint64_t id);

  // Waits until every running node (or every node in `among`) names the same leader, and that
  // leader is among them and says it leads. Returns it, or 0 at the deadline.
  uint64_t wait_for_leader(Clock::time_point deadline, std::vector<uint64_t> among = {});
  // Polls node `id`'s status (another process: there is nothing to be notified by) until `pred`
  // holds for it; the last status seen (nullopt if none), or nullopt at the deadline.
  std::optional<StatusInfo> wait_for_status(uint64_t id,
                                            const std::function<bool(const StatusInfo&)>& pred,
                                            Clock::time_point deadline,
                                            std::optional<StatusInfo>* last = nullptr);
  // Waits until node `id` has applied at least `index`.
  ::testing::AssertionResult wait_for_applied(uint64_t id, uint64_t index,
                                              Clock::time_point deadline);

 private:
  ::testing::AssertionResult start_once(const std::vector<uint64_t>& ids, bool& retry);

  ClusterOptions options_;
  wal::testing::TempDir dir_;
  std::map<uint64_t, KvNode> nodes_;
};

// Replaces the value after `flag` in `args`, or appends the flag and value if absent.
void set_flag(std::vector<std::string>& args, const std::string& flag, const std::string& value);

// "/kv/<key>" for keys that need no percent-encoding (letters, digits, '-', '_', '.').
std::string kv_path(const std::string& key);

}  // namespace raftkv::e2e
