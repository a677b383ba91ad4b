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
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "framework/job_queue.h"
#include "framework/snapshot_body.h"
#include "framework/state_machine.h"
#include "raft/types.h"
#include "snapshot/snapshot_store.h"

namespace framework {

struct ApplyJob {
  enum class Kind { kEntries, kRestore, kLeaderChange, kTakeSnapshot };
  Kind kind = Kind::kEntries;
  // kEntries: committed entries, and the configuration in force after each configuration change
  // among them (by index), which the strand applied to the core when it handed them out.
  raft::EntryVec entries;
  std::map<uint64_t, raft::ConfState> conf_states;
  // kRestore: the stored snapshot (in the snapshot store) to replace the state with.
  raft::SnapshotMetadata snapshot;
  // kLeaderChange
  uint64_t leader = 0;
  uint64_t term = 0;
  // kTakeSnapshot: the member addresses to keep in the snapshot (snapshot_body.h).
  AddressMap addresses;
};

// A view of the state machine taken at `metadata`'s position, to be written out elsewhere.
struct TakenSnapshot {
  raft::SnapshotMetadata metadata;
  std::shared_ptr<StateSnapshot> view;
  AddressMap addresses;
};

// The result of one command this node proposed.
struct CommandOutcome {
  uint64_t request = 0;
  uint64_t index = 0;
  std::string result;
};

struct ApplyOutcome {
  // The kind of job this reports on.
  ApplyJob::Kind job = ApplyJob::Kind::kEntries;
  // Everything up to here is applied; 0 when the job applied nothing (a leader change).
  uint64_t applied_index = 0;
  std::vector<CommandOutcome> commands;
  // kRestore: the member addresses the snapshot carried.
  std::optional<AddressMap> restored_addresses;
  // kTakeSnapshot: the view (none when nothing was applied yet).
  std::optional<TakenSnapshot> taken;
};

// Where the state machine stands when the worker starts: the snapshot the node starts from
// (index 0: none), whose configuration is the one in force.
struct ApplyPosition {
  uint64_t index = 0;
  uint64_t term = 0;
  raft::ConfState conf_state;
};

class ApplyWorker {
 public:
  // Called on the apply thread after each job.
  using OnApplied = std::function<void(ApplyOutcome outcome)>;
  // Called on the apply thread, once, when the state machine threw; later jobs are ignored.
  using OnFailed = std::function<void(const std::string& what)>;

  ApplyWorker(StateMachine& state_machine, snapshot::SnapshotStore& store, uint64_t self_id,
              ApplyPosition start, OnApplied on_applied, OnFailed on_failed);
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
  ApplyOutcome restore(const raft::SnapshotMetadata& metadata);
  ApplyOutcome take_snapshot(const ApplyJob& job);

  StateMachine& sm_;
  snapshot::SnapshotStore& store_;
  // The position of the last entry applied (or skipped as already durable), and the
  // configuration in force there: what a snapshot taken now records.
  ApplyPosition position_;
  const uint64_t self_id_;
  // Entries at or below it are already in the state machine (read at start; a restore resets it).
  uint64_t durable_applied_;
  OnApplied on_applied_;
  OnFailed on_failed_;
  JobQueue<ApplyJob> queue_;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace framework
