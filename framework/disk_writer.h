// The node's disk thread: writes what the core's Readys ask to persist, in Ready order, off the
// node's strand.
//
// Group commit: the thread takes every job queued since it last looked, appends all their
// entries, syncs once, then saves the newest HardState (synced by the meta store when term or
// vote changed), and reports the newest Ready number that is now durable. A snapshot in a job
// is written (wal::DurableStorage::apply_snapshot) after the entries of the jobs before it are
// durable, so the order of the Readys is kept.
//
// A snapshot record comes after the writes queued before it; its compaction drops only whole
// WAL segments below the snapshot, which are durable and applied already.
//
// A failed write is final: the writer reports it once and ignores every later job, because the
// WAL refuses writes after a failure and the node must stop (wal/wal.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "framework/job_queue.h"
#include "framework/metrics.h"
#include "raft/types.h"
#include "wal/durable_storage.h"

namespace framework {

struct DiskJob {
  // The Ready whose writes these are; 0 for a job that is not a Ready's (a snapshot record).
  uint64_t ready_number = 0;
  raft::EntryVec entries;
  std::optional<raft::HardState> hard_state;
  std::optional<raft::Snapshot> snapshot;
  // A snapshot of this node's own state machine, now in the snapshot store: recorded in the meta
  // store (wal::DurableStorage::record_snapshot), then the WAL compacted through compact_index.
  std::optional<raft::SnapshotMetadata> record_snapshot;
  uint64_t compact_index = 0;
};

struct DiskStats {
  uint64_t jobs = 0;
  uint64_t batches = 0;  // group commits: one per wake-up of the thread
  uint64_t syncs = 0;
  uint64_t entries = 0;
  uint64_t entry_bytes = 0;  // bytes of entry data appended
};

class DiskWriter {
 public:
  // Called on the disk thread: every Ready up to `ready_number` is durable.
  using OnPersisted = std::function<void(uint64_t ready_number)>;
  // Called on the disk thread, once, when a write failed.
  using OnFailed = std::function<void(const wal::Status& status)>;
  // Called on the disk thread when a snapshot record (and its compaction) is durable.
  using OnRecorded = std::function<void(const raft::SnapshotMetadata& metadata)>;

  DiskWriter(wal::DurableStorage& storage, OnPersisted on_persisted, OnFailed on_failed,
             OnRecorded on_recorded = {});
  // Finishes the queued jobs, then joins the thread.
  ~DiskWriter();
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;

  void submit(DiskJob job) { queue_.push(std::move(job)); }
  // Finishes the queued jobs and joins the thread; later submits are ignored. Idempotent.
  void stop();

  // Any thread.
  DiskStats stats() const;
  // How long each group commit that synced took, from its first append to its HardState write.
  // Any thread.
  LatencyHistogram::Snapshot sync_latency() const { return sync_latency_.snapshot(); }

 private:
  void run();
  // Writes one batch of jobs; false after a failure.
  bool write(std::deque<DiskJob>& jobs, std::vector<raft::SnapshotMetadata>& recorded);

  wal::DurableStorage& storage_;
  OnPersisted on_persisted_;
  OnFailed on_failed_;
  OnRecorded on_recorded_;
  JobQueue<DiskJob> queue_;
  struct Counters {
    std::atomic<uint64_t> jobs{0};
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> syncs{0};
    std::atomic<uint64_t> entries{0};
    std::atomic<uint64_t> entry_bytes{0};
  };
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
  Counters counters_;
  LatencyHistogram sync_latency_;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace framework
