// The seeded randomized simulator: drives a raft::testing::Cluster through thousands of random
// steps per seed and checks Raft's safety properties after every step and its liveness after
// every heal.
//
// One seed is one run. The seed picks the cluster (3 or 5 voters, sometimes a learner), its
// options (PreVote, CheckQuorum, synchronous or asynchronous persistence, applying inline or
// later, FIFO or shuffled delivery, flow-control limits) and then every step, each one random
// action:
//
//   tick a node · handle a node's Ready · deliver a message (oldest or any: reordering) ·
//   deliver everything addressed to a node · drop a message · duplicate a message · complete a
//   queued disk write (async) · apply a committed batch (deferred apply) · propose · propose a
//   membership change (ConfChangeV2, simple or joint, auto or explicit leave, voters and
//   learners drawn from ids 1..7) · ReadIndex · transfer leadership · force a campaign ·
//   partition · isolate · cut a link · make a link lossy · heal · crash · restart
//
// Safety is checked after every step: the Cluster runs raft::InvariantChecker on every node and
// its cross-node checks (Election Safety, Log Matching, Leader Completeness, State Machine
// Safety); the simulator adds Read Linearizability (a ReadIndex answer is at least the commit
// index that was reached anywhere before the read was asked). Crashes are not limited: safety
// must hold with any number of nodes down.
//
// Liveness is checked every `liveness_every` steps and at the end: every fault is healed and
// every crashed node restarted, and then, within `liveness_ticks` ticks of every node (with the
// network settling between ticks), a leader must exist, the configuration must not be joint,
// and a fresh proposal must be applied on every member (voter or learner) of the leader's
// configuration.
//
// Deterministic: the same SimConfig gives the same run and the same transcript, bit for bit.
// Randomness is drawn as raw 64-bit words of one std::mt19937_64 (no std distributions, whose
// output differs between standard libraries).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace raft::sim {

enum class NodeCount { kThree, kFive, kMixed };

struct SimConfig {
  uint64_t seed = 1;
  // 3 or 5 initial voters; kMixed picks one from the seed.
  NodeCount nodes = NodeCount::kMixed;
  // Random steps per seed (liveness phases come on top of these).
  int steps = 4000;
  // A liveness phase after every this many steps (0: only at the end).
  int liveness_every = 1000;
  // Ticks of every node a liveness phase may take: 20 election timeouts.
  int liveness_ticks = 200;
  // Transcript lines kept for the failure report.
  size_t tail_lines = 100;
  // If set, every transcript line (and the core's log at info level) is written here as it
  // happens.
  std::ostream* verbose = nullptr;
};

// Counts over one run, summed for the final summary.
struct SimStats {
  uint64_t steps = 0;         // random steps taken
  uint64_t ticks = 0;         // node ticks, random steps and liveness phases together
  uint64_t proposals = 0;     // proposals the core accepted
  uint64_t applied = 0;       // entries applied on the node that applied the most
  uint64_t leaders = 0;       // terms that had a leader
  uint64_t conf_changes = 0;  // membership changes the core accepted for proposal
  uint64_t reads = 0;         // ReadIndex answers checked
  uint64_t crashes = 0;
  uint64_t liveness_phases = 0;  // liveness phases passed

  SimStats& operator+=(const SimStats& o);
};

struct SeedResult {
  uint64_t seed = 0;
  bool passed = true;
  // On failure: the property that broke ("safety", "liveness", "read linearizability", ...)
  // and the details (the invariant violation's message, or what liveness was waiting for).
  std::string property;
  std::string detail;
  // The cluster the seed chose: "5 nodes, pre_vote, check_quorum, async persistence, ...".
  std::string setup;
  // The step at which it failed (0 if it passed).
  uint64_t failed_at_step = 0;
  // The last transcript lines before the failure (empty if it passed).
  std::vector<std::string> tail;
  SimStats stats;
};

// Runs one seed. Never throws: a violation is reported in the result.
SeedResult run_seed(const SimConfig& config);

// A failure report: seed, setup, property, details, the transcript tail and `replay_command`.
std::string format_failure(const SeedResult& result, const std::string& replay_command);

}  // namespace raft::sim
