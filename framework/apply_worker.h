// The node's apply thread: feeds committed entries to the StateMachine, in log order, off the
// node's strand, and reports back what it applied and the results for this node's own requests.
//
// Jobs run in the order submitted: batches of committed entries, snapshot restores and leader
// changes (the hooks of the StateMachine come in log order with apply()). Entries at or below
// the state machine's durable_applied_index() are not applied again after a restart; the
// configuration changes among them still reach on_membership_change, since the node rebuilt
// its membership from the log as well.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "framework/job_queue.h"
#include "framework/state_machine.h"
#include "raft/types.h"

namespace framework {

struct ApplyJob {
  enum class Kind { kEntries, kRestore, kLeaderChange };
  Kind kind = Kind::kEntries;
  // kEntries: committed entries, and the configuration in force after each configuration change
  // among them (by index), which the strand applied to the core when it handed them out.
  raft::EntryVec entries;
  std::map<uint64_t, raft::ConfState> conf_states;
  // kRestore
  raft::Snapshot snapshot;
  // kLeaderChange
  uint64_t leader = 0;
  uint64_t term = 0;
};

// The result of one command this node proposed.
struct CommandOutcome {
  uint64_t request = 0;
  uint64_t index = 0;
  std::string result;
};

struct ApplyOutcome {
  // Everything up to here is applied; 0 when the job applied nothing (a leader change).
  uint64_t applied_index = 0;
  std::vector<CommandOutcome> commands;
};

class ApplyWorker {
 public:
  // Called on the apply thread after each job.
  using OnApplied = std::function<void(ApplyOutcome outcome)>;
  // Called on the apply thread, once, when the state machine threw; later jobs are ignored.
  using OnFailed = std::function<void(const std::string& what)>;

  ApplyWorker(StateMachine& state_machine, uint64_t self_id, OnApplied on_applied,
              OnFailed on_failed);
  // Finishes the queued jobs, then joins the thread.
  ~ApplyWorker();
  ApplyWorker(const ApplyWorker&) = delete;
  ApplyWorker& operator=(const ApplyWorker&) = delete;

  void submit(ApplyJob job) { queue_.push(std::move(job)); }
  // Finishes the queued jobs and joins the thread. Idempotent.
  void stop();

 private:
  void run();
  ApplyOutcome apply_entries(const ApplyJob& job);
  ApplyOutcome restore(const raft::Snapshot& snapshot);

  StateMachine& sm_;
  const uint64_t self_id_;
  // Read once at start: entries at or below it are already in the state machine.
  const uint64_t durable_applied_;
  OnApplied on_applied_;
  OnFailed on_failed_;
  JobQueue<ApplyJob> queue_;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace framework
