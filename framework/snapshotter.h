// The node's snapshot thread: serializes a state machine's view into the snapshot store while
// the apply thread goes on applying, and prunes old snapshot files when asked.
//
// The view was taken on the apply thread (StateMachine::snapshot) at the position the metadata
// names; writing it out here is the expensive part, so neither the strand nor the apply thread
// waits for it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "framework/job_queue.h"
#include "framework/snapshot_body.h"
#include "framework/state_machine.h"
#include "snapshot/snapshot_store.h"

namespace framework {

struct SnapshotTask {
  enum class Kind { kWrite, kPrune };
  Kind kind = Kind::kWrite;
  raft::SnapshotMetadata metadata;
  std::shared_ptr<StateSnapshot> view;
  AddressMap addresses;
};

class Snapshotter {
 public:
  // Called on the snapshot thread after each write: the stored snapshot, or the reason it failed
  // (error non-empty).
  using OnWritten = std::function<void(snapshot::SnapshotInfo info, std::string error)>;

  Snapshotter(snapshot::SnapshotStore& store, OnWritten on_written);
  // Finishes the queued tasks, then joins the thread.
  ~Snapshotter();
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  void submit(SnapshotTask task) { queue_.push(std::move(task)); }
  // Finishes the queued tasks and joins the thread. Idempotent.
  void stop();

 private:
  void run();

  snapshot::SnapshotStore& store_;
  OnWritten on_written_;
  JobQueue<SnapshotTask> queue_;
  std::thread thread_;
};

}  // namespace framework
