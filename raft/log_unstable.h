// The part of the log not yet known to be durable: an optional incoming snapshot and the entries
// after it (or after the stable log).
//
// Entries and the snapshot are handed to the driver for writing (next_entries / next_snapshot),
// marked in progress (accept_in_progress) so that a second Ready does not hand them out again,
// and dropped from here once the driver reports them durable (stable_to / stable_snap_to).
//
// Invariants:
//   snapshot present  =>  offset == snapshot.index + 1
//   offset <= offset_in_progress <= offset + entries.size()
//   snapshot_in_progress  =>  snapshot present
#pragma once

#include <cstdint>
#include <optional>

#include "raft/logger.h"
#include "raft/types.h"

namespace raft {

class Unstable {
 public:
  explicit Unstable(uint64_t offset = 0, const NodeLogger* logger = null_node_logger());

  // The index of the first entry if only a snapshot is here (snapshot.index + 1).
  std::optional<uint64_t> maybe_first_index() const;
  // The last index held here (last entry, else the snapshot's index).
  std::optional<uint64_t> maybe_last_index() const;
  // The term of entry i if this part of the log knows it.
  std::optional<uint64_t> maybe_term(uint64_t i) const;

  // Entries not yet handed to the driver (from offset_in_progress on); empty if none.
  EntryVec next_entries() const;
  // True if next_entries() is not empty.
  bool has_next_entries() const;
  // The snapshot if not yet handed to the driver.
  const Snapshot* next_snapshot() const;

  // Marks everything returned by next_entries()/next_snapshot() as in progress.
  void accept_in_progress();

  // Entries up to (index, term) are durable: drop them, and move offset to index + 1. Ignored
  // (and logged at info) if the entry at `index` no longer has `term` (it was overwritten
  // meanwhile), if it is not held here, or if index < offset (it names the snapshot or the
  // stable log).
  void stable_to(uint64_t index, uint64_t term);
  // The snapshot at `index` is durable: drop it. Ignored if the held snapshot is not at `index`.
  void stable_snap_to(uint64_t index);

  // Replaces everything with a snapshot received from the leader: no entries, offset =
  // snapshot.index + 1, nothing in progress.
  void restore(const Snapshot& snapshot);

  // Appends entries, truncating any held entries at or after from = entries.front().index():
  //   from == offset + entries.size()  appended after the last one;
  //   from <= offset                   replaces all held entries (and shadows stable ones):
  //                                    offset = offset_in_progress = from;
  //   otherwise                        keeps [offset, from), then appends;
  //                                    offset_in_progress = min(offset_in_progress, from).
  // A gap (from > offset + entries.size()) is a fatal invariant violation. The caller (RaftLog)
  // guarantees that from is above the committed index, so a held snapshot is never shadowed.
  // Empty `entries` is a no-op.
  void truncate_and_append(const EntryVec& entries);

  // Entries [lo, hi) held here. Requires offset <= lo <= hi <= offset + entries.size(); anything
  // else is a fatal invariant violation (InvariantViolation is thrown).
  EntryVec slice(uint64_t lo, uint64_t hi) const;

  uint64_t offset() const { return offset_; }
  uint64_t offset_in_progress() const { return offset_in_progress_; }
  const EntryVec& entries() const { return entries_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  bool snapshot_in_progress() const { return snapshot_in_progress_; }

 private:
  // Fatal unless offset <= lo <= hi <= offset + entries.size().
  void check_bounds(uint64_t lo, uint64_t hi) const;
  // Releases the memory of dropped entries once the vector is mostly empty capacity.
  void shrink_entries_array();

  std::optional<Snapshot> snapshot_;
  EntryVec entries_;
  uint64_t offset_ = 0;  // index of entries_[0]
  uint64_t offset_in_progress_ = 0;
  bool snapshot_in_progress_ = false;
  const NodeLogger* logger_;
};

}  // namespace raft
