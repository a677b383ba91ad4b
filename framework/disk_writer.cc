#include "framework/disk_writer.h"

#include <utility>

namespace framework {

DiskWriter::DiskWriter(wal::DurableStorage& storage, OnPersisted on_persisted, OnFailed on_failed)
    : storage_(storage),
      on_persisted_(std::move(on_persisted)),
      on_failed_(std::move(on_failed)),
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
    const uint64_t last = jobs.back().ready_number;
    if (!write(jobs)) {
      failed_ = true;
      continue;
    }
    on_persisted_(last);
  }
}

bool DiskWriter::write(std::deque<DiskJob>& jobs) {
  ++stats_.batches;
  stats_.jobs += jobs.size();
  bool unsynced = false;
  std::optional<raft::HardState> hard_state;
  auto fail = [&](const wal::Status& s) {
    on_failed_(s);
    return false;
  };
  auto sync = [&]() -> wal::Status {
    if (!unsynced) return {};
    unsynced = false;
    ++stats_.syncs;
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
      stats_.entries += job.entries.size();
      unsynced = true;
    }
    if (job.hard_state) hard_state = std::move(job.hard_state);
  }
  if (wal::Status s = sync(); !s.ok()) return fail(s);
  // After the entries are durable, so a stored commit never points past the durable log.
  if (hard_state) {
    if (wal::Status s = storage_.set_hard_state(*hard_state); !s.ok()) return fail(s);
  }
  return true;
}

}  // namespace framework
