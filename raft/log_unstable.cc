#include "raft/log_unstable.h"

#include <algorithm>
#include <iterator>
#include <sstream>
#include <utility>

namespace raft {
Unstable::Unstable(uint64_t offset, const NodeLogger* logger)
    : offset_(offset), offset_in_progress_(offset), logger_(logger) {}

std::optional<uint64_t> Unstable::maybe_first_index() const {
  if (snapshot_) return snapshot_->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_last_index() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_term(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata().index() == i) return snapshot_->metadata().term();
    return std::nullopt;
  }
  const auto last = maybe_last_index();
  if (!last || i > *last) return std::nullopt;
  return entries_[i - offset_].term();
}

EntryVec Unstable::next_entries() const {
  const uint64_t in_progress = offset_in_progress_ - offset_;
  if (in_progress >= entries_.size()) return {};
  return EntryVec(entries_.begin() + static_cast<std::ptrdiff_t>(in_progress), entries_.end());
}

bool Unstable::has_next_entries() const { return offset_in_progress_ - offset_ < entries_.size(); }

const Snapshot* Unstable::next_snapshot() const {
  if (!snapshot_ || snapshot_in_progress_) return nullptr;
  return &*snapshot_;
}

void Unstable::accept_in_progress() {
  if (!entries_.empty()) offset_in_progress_ = entries_.back().index() + 1;
  if (snapshot_) snapshot_in_progress_ = true;
}

void Unstable::stable_to(uint64_t index, uint64_t term) {
  const auto have = maybe_term(index);
  if (!have) {
    // The driver reports an append that a later truncation or snapshot has already superseded.
    if (logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("entry at index ", index, " missing from unstable log; ignoring"));
    }
    return;
  }
  if (index < offset_) {
    // (index, term) names the unstable snapshot; that is stable_snap_to's business.
    if (logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("entry at index ", index, " matched unstable snapshot; ignoring"));
    }
    return;
  }
  if (*have != term) {
    // The entry was overwritten by a new leader after the write started: the write that
    // finished is of the old entry, which says nothing about the durability of the new one.
    if (logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("entry at (index,term)=(", index, ',', term, ") mismatched with entry at (",
                        index, ',', *have, ") in unstable log; ignoring"));
    }
    return;
  }
  const uint64_t drop = index + 1 - offset_;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(drop));
  offset_ = index + 1;
  offset_in_progress_ = std::max(offset_in_progress_, offset_);
  shrink_entries_array();
}

void Unstable::shrink_entries_array() {
  // Entries leave from the front, so a long burst leaves a large, mostly unused capacity behind.
  // Reallocate once the vector is less than half full; a fresh vector is the only way to be sure
  // the memory goes (shrink_to_fit is a request).
  constexpr size_t kLenMultiple = 2;
  if (entries_.empty()) {
    EntryVec().swap(entries_);
  } else if (entries_.size() * kLenMultiple < entries_.capacity()) {
    EntryVec(std::make_move_iterator(entries_.begin()), std::make_move_iterator(entries_.end()))
        .swap(entries_);
  }
}

void Unstable::stable_snap_to(uint64_t index) {
  if (snapshot_ && snapshot_->metadata().index() == index) {
    snapshot_.reset();
    snapshot_in_progress_ = false;
  }
}

void Unstable::restore(const Snapshot& snapshot) {
  offset_ = snapshot.metadata().index() + 1;
  offset_in_progress_ = offset_;
  EntryVec().swap(entries_);
  snapshot_ = snapshot;
  snapshot_in_progress_ = false;
}

void Unstable::truncate_and_append(const EntryVec& entries) {
  if (entries.empty()) return;
  const uint64_t from = entries.front().index();
  if (from == offset_ + entries_.size()) {
    // Directly after the last entry held here.
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  } else if (from <= offset_) {
    // The new entries replace everything held here, and also part of the stable log: offset
    // moves down so that those stable entries are shadowed by the new ones until written.
    if (logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("replace the unstable entries from index ", from));
    }
    entries_ = entries;
    offset_ = from;
    offset_in_progress_ = offset_;
  } else {
    // Keep [offset, from) and append; a gap after the held entries is a broken invariant.
    if (logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("truncate the unstable entries before index ", from));
    }
    check_bounds(offset_, from);
    entries_.resize(from - offset_);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
    // Writes in flight for entries at or after `from` are of entries that no longer exist; only
    // those before `from` still count as in progress.
    offset_in_progress_ = std::min(offset_in_progress_, from);
  }
}

EntryVec Unstable::slice(uint64_t lo, uint64_t hi) const {
  check_bounds(lo, hi);
  return EntryVec(entries_.begin() + static_cast<std::ptrdiff_t>(lo - offset_),
                  entries_.begin() + static_cast<std::ptrdiff_t>(hi - offset_));
}

void Unstable::check_bounds(uint64_t lo, uint64_t hi) const {
  if (lo > hi) logger_->fatal(concat("invalid unstable.slice ", lo, " > ", hi));
  const uint64_t upper = offset_ + entries_.size();
  if (lo < offset_ || hi > upper) {
    logger_->fatal(
        concat("unstable.slice[", lo, ',', hi, ") out of bound [", offset_, ',', upper, ']'));
  }
}

}  // namespace raft
