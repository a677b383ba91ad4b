#include "framework/disk_writer.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace framework {

DiskWriter::DiskWriter(wal::DurableStorage& storage, OnPersisted on_persisted, OnFailed on_failed,
                       OnRecorded on_recorded)
    : storage_(storage),
      on_persisted_(std::move(on_persisted)),
      on_failed_(std::move(on_failed)),
      on_recorded_(std::move(on_recorded)),
      thread_([this] { run(); }) {}

DiskWriter::~DiskWriter() { stop(); }

void DiskWriter::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void DiskWriter::run() {
  for (;;) {
    std::deque<DiskJob> jobs = queue_.take_all();
    if (jobs.empty()) return;  // closed and drained
    if (failed_) continue;
    uint64_t last = 0;
    for (const DiskJob& job : jobs) last = std::max(last, job.ready_number);
    std::vector<raft::SnapshotMetadata> recorded;
    if (!write(jobs, recorded)) {
      failed_ = true;
      continue;
    }
    if (last != 0) on_persisted_(last);
    for (const raft::SnapshotMetadata& m : recorded) {
      if (on_recorded_) on_recorded_(m);
    }
  }
}

DiskStats DiskWriter::stats() const {
  DiskStats s;
  s.jobs = counters_.jobs.load(std::memory_order_relaxed);
  s.batches = counters_.batches.load(std::memory_order_relaxed);
  s.syncs = counters_.syncs.load(std::memory_order_relaxed);
  s.entries = counters_.entries.load(std::memory_order_relaxed);
  s.entry_bytes = counters_.entry_bytes.load(std::memory_order_relaxed);
  return s;
}

bool DiskWriter::write(std::deque<DiskJob>& jobs, std::vector<raft::SnapshotMetadata>& recorded) {
  const auto started = std::chrono::steady_clock::now();
  bump(counters_.batches);
  bump(counters_.jobs, jobs.size());
  bool unsynced = false;
  bool synced = false;
  std::optional<raft::HardState> hard_state;
  auto fail = [&](const wal::Status& s) {
    on_failed_(s);
    return false;
  };
  auto sync = [&]() -> wal::Status {
    if (!unsynced) return {};
    unsynced = false;
    synced = true;
    bump(counters_.syncs);
    return storage_.sync();
  };
  for (DiskJob& job : jobs) {
    if (job.snapshot) {
      // Entries of earlier Readys first: a snapshot resets the WAL.
      if (wal::Status s = sync(); !s.ok()) return fail(s);
      if (wal::Status s = storage_.apply_snapshot(*job.snapshot); !s.ok()) return fail(s);
    }
    if (!job.entries.empty()) {
      if (wal::Status s = storage_.append(job.entries); !s.ok()) return fail(s);
      bump(counters_.entries, job.entries.size());
      uint64_t bytes = 0;
      for (const raft::Entry& e : job.entries) bytes += e.data().size();
      bump(counters_.entry_bytes, bytes);
      unsynced = true;
    }
    if (job.hard_state) hard_state = std::move(job.hard_state);
    if (job.record_snapshot) {
      // A snapshot received from the leader meanwhile may have overtaken this one: then it is
      // not recorded (its file is pruned in time), but still reported as done.
      if (job.record_snapshot->index() > storage_.meta().snapshot().index()) {
        if (wal::Status s = storage_.record_snapshot(*job.record_snapshot); !s.ok()) {
          return fail(s);
        }
        if (job.compact_index > 0) {
          if (wal::Status s = storage_.compact(job.compact_index); !s.ok()) return fail(s);
        }
      }
      recorded.push_back(*job.record_snapshot);
    }
  }
  if (wal::Status s = sync(); !s.ok()) return fail(s);
  // After the entries are durable, so a stored commit never points past the durable log.
  if (hard_state) {
    if (wal::Status s = storage_.set_hard_state(*hard_state); !s.ok()) return fail(s);
  }
  if (synced) {
    const auto took = std::chrono::steady_clock::now() - started;
    sync_latency_.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  }
  return true;
}

}  // namespace framework
