#include "raft/memory_storage.h"

#include <utility>

namespace raft {
namespace {

Entry make_dummy(uint64_t index, uint64_t term) {
  Entry dummy;
  dummy.set_index(index);
  dummy.set_term(term);
  return dummy;
}

}  // namespace

MemoryStorage::MemoryStorage() { entries_.push_back(make_dummy(0, 0)); }

MemoryStorage::MemoryStorage(const ConfState& conf_state) : MemoryStorage() {
  conf_state_ = conf_state;
  // Also in the (empty) snapshot's metadata, as etcd's tests expect of a storage built from peers.
  *snapshot_.mutable_metadata()->mutable_conf_state() = conf_state;
}

Result<RaftState> MemoryStorage::initial_state() const {
  std::lock_guard lock(mu_);
  return RaftState{hard_state_, conf_state_};
}

Result<EntryVec> MemoryStorage::entries(uint64_t lo, uint64_t hi, uint64_t max_size) const {
  std::lock_guard lock(mu_);
  const uint64_t offset = entries_.front().index();
  if (lo <= offset) return Error::kCompacted;
  if (hi > last_index_locked() + 1) return Error::kUnavailable;
  if (lo >= hi) return EntryVec{};
  // Copy only what fits: the limit is applied while copying rather than after, so a huge range
  // with a small max_size does not copy the whole log.
  EntryVec out;
  uint64_t size = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    size += entry_size(e);
    if (!out.empty() && size > max_size) break;
    out.push_back(e);
  }
  return out;
}

Result<uint64_t> MemoryStorage::term(uint64_t index) const {
  std::lock_guard lock(mu_);
  const uint64_t offset = entries_.front().index();
  if (index < offset) return Error::kCompacted;
  if (index - offset >= entries_.size()) return Error::kUnavailable;
  return entries_[index - offset].term();
}

uint64_t MemoryStorage::first_index() const {
  std::lock_guard lock(mu_);
  return first_index_locked();
}

uint64_t MemoryStorage::last_index() const {
  std::lock_guard lock(mu_);
  return last_index_locked();
}

uint64_t MemoryStorage::first_index_locked() const { return entries_.front().index() + 1; }

uint64_t MemoryStorage::last_index_locked() const {
  return entries_.front().index() + entries_.size() - 1;
}

Result<Snapshot> MemoryStorage::snapshot(uint64_t request_index, uint64_t /*to*/) const {
  std::lock_guard lock(mu_);
  if (snapshot_unavailable_) return Error::kSnapshotTemporarilyUnavailable;
  // Storage's contract: the snapshot covers request_index. This storage cannot make one on its
  // own, so "not yet" is the honest answer; the core retries once the driver created one.
  if (request_index != 0 && snapshot_.metadata().index() < request_index) {
    return Error::kSnapshotTemporarilyUnavailable;
  }
  return snapshot_;
}

void MemoryStorage::set_hard_state(const HardState& hs) {
  std::lock_guard lock(mu_);
  hard_state_ = hs;
}

void MemoryStorage::set_conf_state(const ConfState& cs) {
  std::lock_guard lock(mu_);
  conf_state_ = cs;
}

HardState MemoryStorage::hard_state() const {
  std::lock_guard lock(mu_);
  return hard_state_;
}

std::error_code MemoryStorage::append(const EntryVec& entries) {
  if (entries.empty()) return {};
  std::lock_guard lock(mu_);
  const uint64_t first = first_index_locked();
  const uint64_t incoming_first = entries.front().index();
  const uint64_t incoming_last = incoming_first + entries.size() - 1;
  // Everything is already covered by the compaction point: those entries are committed and
  // applied, so they cannot differ from what was compacted.
  if (incoming_last < first) return {};

  // Skip the part at or below the compaction point.
  const size_t skip = incoming_first < first ? first - incoming_first : 0;
  const uint64_t from = incoming_first + skip;
  if (from > last_index_locked() + 1) return make_error_code(Error::kUnavailable);

  // Keep [dummy, from), then the new entries.
  entries_.resize(from - entries_.front().index());
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return {};
}

std::error_code MemoryStorage::apply_snapshot(const Snapshot& snapshot) {
  std::lock_guard lock(mu_);
  const auto& meta = snapshot.metadata();
  if (meta.index() <= snapshot_.metadata().index()) {
    return make_error_code(Error::kSnapOutOfDate);
  }
  snapshot_ = snapshot;
  conf_state_ = meta.conf_state();
  entries_.clear();
  entries_.push_back(make_dummy(meta.index(), meta.term()));
  return {};
}

Result<Snapshot> MemoryStorage::create_snapshot(uint64_t index, const ConfState* cs,
                                                std::string data) {
  std::lock_guard lock(mu_);
  if (index <= snapshot_.metadata().index()) return Error::kSnapOutOfDate;
  const uint64_t offset = entries_.front().index();
  // Compacted past index without a snapshot there: its term is no longer known.
  if (index < offset) return Error::kCompacted;
  if (index > last_index_locked()) return Error::kUnavailable;

  auto* meta = snapshot_.mutable_metadata();
  meta->set_index(index);
  meta->set_term(entries_[index - offset].term());
  if (cs != nullptr) conf_state_ = *cs;
  *meta->mutable_conf_state() = conf_state_;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

std::error_code MemoryStorage::compact(uint64_t compact_index) {
  std::lock_guard lock(mu_);
  const uint64_t offset = entries_.front().index();
  if (compact_index <= offset) return make_error_code(Error::kCompacted);
  if (compact_index > last_index_locked()) return make_error_code(Error::kUnavailable);

  const size_t keep_from = compact_index - offset;
  // A fresh vector rather than erase(): the dropped prefix may be most of the log, and erase
  // would keep the old capacity alive.
  EntryVec kept;
  kept.reserve(entries_.size() - keep_from);
  kept.push_back(make_dummy(compact_index, entries_[keep_from].term()));
  for (size_t i = keep_from + 1; i < entries_.size(); ++i) kept.push_back(std::move(entries_[i]));
  entries_ = std::move(kept);
  return {};
}

void MemoryStorage::set_snapshot_unavailable(bool unavailable) {
  std::lock_guard lock(mu_);
  snapshot_unavailable_ = unavailable;
}

}  // namespace raft
