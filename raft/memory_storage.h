// An in-memory Storage, for tests, the simulator and applications that keep nothing on disk.
//
// The log is held as entries_[0], a dummy entry carrying the index and term of the last entry
// compacted away (the snapshot's, or a later compaction point), followed by the entries
// [first_index(), last_index()]. A fresh storage has a dummy at index 0, term 0.
//
// Thread-safe: every method takes the one mutex, so reads by the core and writes by the driver
// may come from different threads. Values are returned by copy; nothing handed out aliases the
// storage's own state.
#pragma once

#include <mutex>
#include <string>

#include "raft/storage.h"

namespace raft {

class MemoryStorage final : public Storage {
 public:
  // An empty log with a dummy entry at index 0, term 0.
  MemoryStorage();
  // A log that starts from a configuration (a new cluster's voters and learners): the same empty
  // log, with `conf_state` as the stored ConfState that initial_state() returns.
  explicit MemoryStorage(const ConfState& conf_state);

  Result<RaftState> initial_state() const override;
  // Empty when lo >= hi (and lo is above the compaction point).
  Result<EntryVec> entries(uint64_t lo, uint64_t hi, uint64_t max_size) const override;
  Result<uint64_t> term(uint64_t index) const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  // The stored snapshot (the empty one, index 0, if none was applied or created).
  // kSnapshotTemporarilyUnavailable while set_snapshot_unavailable(true) is in force, and when
  // the stored snapshot is older than a non-zero `request_index` (the driver has to
  // create_snapshot() a newer one first; the core asks again later).
  // It has only one snapshot, so `to` does not change the answer.
  Result<Snapshot> snapshot(uint64_t request_index, uint64_t to) const override;
  Result<Snapshot> snapshot(uint64_t request_index) const { return snapshot(request_index, kNone); }

  // --- Writes, by the driver after handling a Ready ---

  void set_hard_state(const HardState& hs);
  // Sets the ConfState that initial_state() returns (after applying a configuration change).
  void set_conf_state(const ConfState& cs);
  HardState hard_state() const;

  // Appends entries, replacing any existing entries from entries.front().index() on. Entries
  // must be contiguous. The first new entry must be at most last_index() + 1 (kUnavailable
  // otherwise, and nothing changes); entries at or below the compaction point (first_index() - 1)
  // are ignored. An empty vector is a no-op.
  std::error_code append(const EntryVec& entries);

  // Replaces everything with the snapshot: the log becomes empty after it, and its ConfState
  // becomes the stored one. The HardState is not touched. kSnapOutOfDate if its index is at or
  // below the current snapshot's.
  std::error_code apply_snapshot(const Snapshot& snapshot);

  // Makes the stored snapshot one at `index` with `data` and the given ConfState, which then also
  // becomes the stored ConfState; with cs == nullptr the snapshot takes the stored ConfState.
  // kSnapOutOfDate if index is at or below the current snapshot; kCompacted if the log was
  // compacted past it (its term is gone); kUnavailable if index > last_index().
  Result<Snapshot> create_snapshot(uint64_t index, const ConfState* cs, std::string data);

  // Drops the entries before `compact_index`; the entry at compact_index becomes the dummy that
  // holds the index and term before the first available entry. kCompacted if the log was already
  // compacted at or past it; kUnavailable if compact_index > last_index(). The stored snapshot is
  // not touched (create one first so lagging followers can still catch up).
  std::error_code compact(uint64_t compact_index);

  // For tests: while set, every snapshot() call returns kSnapshotTemporarilyUnavailable;
  // set_snapshot_unavailable(false) ends it.
  void set_snapshot_unavailable(bool unavailable);

 private:
  uint64_t first_index_locked() const;
  uint64_t last_index_locked() const;

  mutable std::mutex mu_;
  HardState hard_state_;
  ConfState conf_state_;
  Snapshot snapshot_;
  // entries_[0] is a dummy holding the compaction point's index and term; never empty.
  EntryVec entries_;
  bool snapshot_unavailable_ = false;
};

}  // namespace raft
