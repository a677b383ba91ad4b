// The core's read view of durable state.
//
// The core only reads through this interface; the runtime writes (the WAL and meta store in
// production, MemoryStorage in tests) after handling a Ready, and before telling the core what it
// persisted. The log in storage is contiguous: [first_index(), last_index()], preceded by the
// snapshot at first_index() - 1.
#pragma once

#include <cstdint>

#include "raft/errors.h"
#include "raft/types.h"

namespace raft {

// What a node restarts from.
struct RaftState {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The HardState and ConfState saved last (ConfState as of the snapshot or last applied change).
  virtual Result<RaftState> initial_state() const = 0;

  // Entries in [lo, hi), as many as fit in max_size bytes but at least one when lo < hi.
  // kCompacted if lo <= the snapshot index; kUnavailable if hi > last_index() + 1.
  virtual Result<EntryVec> entries(uint64_t lo, uint64_t hi, uint64_t max_size) const = 0;

  // The term of entry `index`, for index in [first_index() - 1, last_index()] (first_index() - 1
  // is the snapshot's index). kCompacted below that range, kUnavailable above it.
  virtual Result<uint64_t> term(uint64_t index) const = 0;

  // The index of the first entry still available (snapshot index + 1).
  virtual uint64_t first_index() const = 0;

  // The index of the last entry (the snapshot's index when the log is empty).
  virtual uint64_t last_index() const = 0;

  // A snapshot to send to node `to`, which must cover at least `request_index` when that is not
  // 0, and whose ConfState must list `to` (a node refuses a snapshot of a configuration it is not
  // in: one taken before it was added will not do; make a fresh one). kNone for `to` means no
  // particular recipient. kSnapshotTemporarilyUnavailable while one is being built; the core
  // asks again later.
  virtual Result<Snapshot> snapshot(uint64_t request_index, uint64_t to) const = 0;
};

}  // namespace raft
