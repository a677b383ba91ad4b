// The log as the core sees it: stable entries in Storage followed by the Unstable part, with the
// commit, applying and applied positions.
//
// Invariants: applied <= applying <= committed; committed <= last_index();
// first_index() - 1 <= committed (a snapshot is always committed).
//
// Not thread-safe: one RaftLog belongs to one core. A broken invariant is reported through the
// NodeLogger's fatal(), which throws InvariantViolation.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "raft/errors.h"
#include "raft/log_unstable.h"
#include "raft/logger.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace raft {

class RaftLog {
 public:
  // Starts from what `storage` holds: committed, applying and applied at its first_index() - 1,
  // unstable part empty at storage.last_index() + 1. The HardState's commit is not read here:
  // the caller raises it with commit_to() (then set_applied() on a restart).
  // max_applying_size bounds the bytes of committed entries handed out for applying and not yet
  // applied (see next_committed_entries). `storage` must outlive the RaftLog.
  RaftLog(const Storage& storage, const NodeLogger* logger = null_node_logger(),
          uint64_t max_applying_size = kNoLimit);

  // Handles the entries of a MsgAppend from the leader of the current term: prev entry
  // (index, log_term), then `entries`, and the leader's commit. Returns the index of the last
  // new entry if the log matched at (index, log_term), std::nullopt otherwise. A conflicting
  // suffix is truncated; an attempt to truncate a committed entry is a fatal invariant
  // violation (it means a bug or a corrupt peer). On a match, committed rises to
  // min(committed, index + entries.size()) (never falls).
  std::optional<uint64_t> maybe_append(uint64_t index, uint64_t log_term, uint64_t committed,
                                       const EntryVec& entries);

  // Appends entries (leader path, and maybe_append's after a conflict). entries.front().index()
  // may be at or below last_index(), in which case the suffix from there is replaced; it must be
  // above committed and at most last_index() + 1 (fatal otherwise). Returns the new last index
  // (last_index() unchanged for an empty vector).
  uint64_t append(const EntryVec& entries);

  // The index of the first entry in `entries` that conflicts with the log (same index, other
  // term), or of the first new one; 0 if all are already here. `entries` must be contiguous.
  uint64_t find_conflict(const EntryVec& entries) const;

  // For a rejected append at (index, term): the largest index <= index whose term is <= term
  // (fast backtracking); returns (that index, its term). The search reads terms down to
  // first_index() - 1, the lowest known one. A term of 0 in the result means "unknown": for an
  // index past last_index() or below first_index() - 1 it is (index, 0), and if even
  // first_index() - 1 has a larger term it is (first_index() - 2, 0) (cannot happen when the
  // caller's (index, term) is above the committed prefix, which every leader's log shares).
  std::pair<uint64_t, uint64_t> find_conflict_by_term(uint64_t index, uint64_t term) const;

  uint64_t first_index() const;
  uint64_t last_index() const;
  uint64_t last_term() const;
  // kCompacted / kUnavailable as in Storage; term of index first_index()-1 is known.
  Result<uint64_t> term(uint64_t i) const;
  // The term, or 0 if compacted or unavailable.
  uint64_t zero_term_on_err_compacted(uint64_t i) const;
  bool match_term(uint64_t i, uint64_t term) const;

  // Entries [i, last] limited to max_size bytes (at least one). Empty if i > last_index().
  Result<EntryVec> entries(uint64_t i, uint64_t max_size) const;
  // Entries [lo, hi) limited to max_size bytes; kCompacted if lo < first_index().
  Result<EntryVec> slice(uint64_t lo, uint64_t hi, uint64_t max_size) const;
  // The whole log from first_index(), for tests.
  EntryVec all_entries() const;

  // Is a log ending at (last_index, term) at least as up-to-date as this one (§5.4.1)?
  bool is_up_to_date(uint64_t last_index, uint64_t term) const;

  // Raises committed to max_index if entry max_index has `term` (only current-term entries are
  // committed by counting replicas, §5.4.2) and max_index > committed. Term 0 never matches.
  // Returns true if committed moved.
  bool maybe_commit(uint64_t max_index, uint64_t term);
  // Raises committed to `to` (which must be <= last_index(): a fatal violation otherwise).
  void commit_to(uint64_t to);

  // Committed entries in (applying, min(committed, persisted_index())], not yet handed out for
  // applying, limited to max_applying_size minus the bytes still outstanding (at least one entry
  // if any are returned). None while a snapshot is pending (has_next_or_in_progress_snapshot()),
  // none while applying < first_index() - 1 (a restored snapshot not yet reported applied with
  // applied_to), and none while applying is paused: after accept_applying() when the
  // outstanding bytes reach max_applying_size or the batch was cut short by the limit, until the
  // next applied_to(); a pause never holds with nothing outstanding.
  bool has_next_committed_entries() const;
  EntryVec next_committed_entries() const;
  // The driver took entries up to `index` (of `size` bytes, normally the last entry and total
  // entry_size() of next_committed_entries()) for applying. Fatal if index > committed or
  // index < applying.
  void accept_applying(uint64_t index, uint64_t size);
  // The state machine applied everything up to `index`: applied = index, applying rises to index
  // if below (a snapshot applies past applying). Bytes of accepted batches wholly at or below
  // index stop counting as outstanding. Fatal if index > committed or index < applied.
  void applied_to(uint64_t index);

  // Hands unstable state to the driver.
  bool has_next_unstable_entries() const { return unstable_.has_next_entries(); }
  EntryVec next_unstable_entries() const { return unstable_.next_entries(); }
  const Snapshot* next_unstable_snapshot() const { return unstable_.next_snapshot(); }
  bool has_next_or_in_progress_snapshot() const { return unstable_.snapshot().has_value(); }
  void accept_unstable() { unstable_.accept_in_progress(); }
  void stable_to(uint64_t index, uint64_t term) { unstable_.stable_to(index, term); }
  void stable_snap_to(uint64_t index) { unstable_.stable_snap_to(index); }

  // The highest index up to which the log is in Storage (durable): unstable.offset - 1, or 0
  // while an incoming snapshot is not durable yet.
  uint64_t persisted_index() const;

  // The snapshot to send follower `to`: the unstable one if it covers request_index, else
  // Storage's (with its errors).
  Result<Snapshot> snapshot(uint64_t request_index, uint64_t to = kNone) const;

  // Replaces the log with a snapshot (the follower path of MsgSnapshot): the unstable part holds
  // only the snapshot, and committed becomes its index. applied and applying do not move here:
  // the Raft layer hands the snapshot out (next_unstable_snapshot), and once the driver reports
  // it applied, calls stable_snap_to() and applied_to(snapshot index). Fatal if the snapshot is
  // below committed (committed never falls).
  void restore(const Snapshot& snapshot);

  uint64_t committed() const { return committed_; }
  uint64_t applying() const { return applying_; }
  uint64_t applied() const { return applied_; }
  const Unstable& unstable() const { return unstable_; }
  const Storage& storage() const { return storage_; }
  // Restarting with Config::applied: set applied (and applying) to it, forgetting any outstanding
  // applying bytes. Requires applied() <= applied <= committed() (fatal otherwise), so the
  // HardState's commit must be loaded with commit_to() first.
  void set_applied(uint64_t applied);

 private:
  const Storage& storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  uint64_t applying_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_applying_size_;
  uint64_t applying_size_ = 0;  // bytes handed out for applying and not yet applied
  // The accepted batches not yet wholly applied, as (last index, bytes), oldest first; their
  // bytes sum to applying_size_. Lets applied_to() free bytes without being told sizes.
  std::deque<std::pair<uint64_t, uint64_t>> applying_batches_;
  // No more committed entries are handed out until the next applied_to() (see
  // next_committed_entries).
  bool applying_paused_ = false;
  const NodeLogger* logger_;
};

}  // namespace raft
