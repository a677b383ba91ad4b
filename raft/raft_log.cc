#include "raft/raft_log.h"

#include <algorithm>
#include <iterator>
#include <sstream>
#include <string>

namespace raft {
namespace {

// Appends [begin, end) to `out` while the total size stays within max_size, but always at least
// one entry into an empty `out` (so a single oversized entry still makes progress). `size` is the
// size of `out` so far and is kept up to date. Returns false if it stopped before `end`.
template <typename It>
bool append_within(EntryVec& out, uint64_t& size, It begin, It end, uint64_t max_size) {
  for (It it = begin; it != end; ++it) {
    const uint64_t next = entry_size(*it);
    if (!out.empty() && (next > max_size || size > max_size - next)) return false;
    out.push_back(*it);
    size += next;
  }
  return true;
}

}  // namespace

RaftLog::RaftLog(const Storage& storage, const NodeLogger* logger, uint64_t max_applying_size)
    : storage_(storage),
      unstable_(storage.last_index() + 1, logger),
      max_applying_size_(max_applying_size),
      logger_(logger) {
  const uint64_t first = storage.first_index();
  committed_ = first - 1;
  applying_ = first - 1;
  applied_ = first - 1;
}

std::optional<uint64_t> RaftLog::maybe_append(uint64_t index, uint64_t log_term,
                                              uint64_t committed, const EntryVec& entries) {
  if (!match_term(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + entries.size();
  const uint64_t conflict = find_conflict(entries);
  if (conflict != 0) {
    if (conflict <= committed_) {
      logger_->fatal(concat("entry ", conflict, " conflicts with committed entry [committed(",
                         committed_, ")]"));
    }
    const uint64_t first_new = index + 1;
    if (conflict < first_new || conflict - first_new >= entries.size()) {
      logger_->fatal(concat("conflict index ", conflict, " is out of range [", first_new, ", ",
                         last_new, "]"));
    }
    // Entries before the conflict are already here with the same terms: rewriting them would
    // needlessly move the unstable offset down over stable entries.
    append(EntryVec(entries.begin() + static_cast<std::ptrdiff_t>(conflict - first_new),
                    entries.end()));
  }
  // Only what this message proved to match may be committed: entries after last_new may be
  // left over from an old term and differ from the leader's.
  commit_to(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::append(const EntryVec& entries) {
  if (entries.empty()) return last_index();
  const uint64_t after = entries.front().index() - 1;
  if (after < committed_) {
    logger_->fatal(concat("after(", after, ") is out of range [committed(", committed_, ")]"));
  }
  unstable_.truncate_and_append(entries);
  return last_index();
}

uint64_t RaftLog::find_conflict(const EntryVec& entries) const {
  for (const Entry& e : entries) {
    if (match_term(e.index(), e.term())) continue;
    if (e.index() <= last_index() && logger_->enabled(LogLevel::kInfo)) {
      logger_->info(concat("found conflict at index ", e.index(), " [existing term: ",
                        zero_term_on_err_compacted(e.index()), ", conflicting term: ", e.term(),
                        "]"));
    }
    return e.index();
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::find_conflict_by_term(uint64_t index,
                                                             uint64_t term) const {
  for (; index > 0; --index) {
    // An unknown term (compacted or past the end) might still match the leader's: report the
    // index with term 0 and let the leader probe there.
    const auto ours = this->term(index);
    if (!ours) return {index, 0};
    if (*ours <= term) return {index, *ours};
  }
  return {0, 0};
}

uint64_t RaftLog::first_index() const {
  if (const auto i = unstable_.maybe_first_index()) return *i;
  return storage_.first_index();
}

uint64_t RaftLog::last_index() const {
  if (const auto i = unstable_.maybe_last_index()) return *i;
  return storage_.last_index();
}

uint64_t RaftLog::last_term() const {
  const auto t = term(last_index());
  if (!t) {
    logger_->fatal(concat("unexpected error when getting the last term (", t.error().message(), ")"));
  }
  return *t;
}

Result<uint64_t> RaftLog::term(uint64_t i) const {
  // The unstable part first: it shadows stable entries it is about to overwrite, and a term
  // found there is in range by construction.
  if (const auto t = unstable_.maybe_term(i)) return *t;
  // first_index() - 1 is compacted, but its term is kept (the dummy entry, or the snapshot's) so
  // appends right after it can be matched.
  if (i + 1 < first_index()) return Error::kCompacted;
  if (i > last_index()) return Error::kUnavailable;
  return storage_.term(i);
}

uint64_t RaftLog::zero_term_on_err_compacted(uint64_t i) const {
  const auto t = term(i);
  if (t) return *t;
  if (t.error() == Error::kCompacted || t.error() == Error::kUnavailable) return 0;
  logger_->fatal(concat("unexpected error when getting the term of ", i, " (", t.error().message(),
                     ")"));
}

bool RaftLog::match_term(uint64_t i, uint64_t term) const {
  const auto t = this->term(i);
  return t && *t == term;
}

Result<EntryVec> RaftLog::entries(uint64_t i, uint64_t max_size) const {
  const uint64_t last = last_index();
  if (i > last) return EntryVec{};
  return slice(i, last + 1, max_size);
}

Result<EntryVec> RaftLog::slice(uint64_t lo, uint64_t hi, uint64_t max_size) const {
  if (lo > hi) logger_->fatal(concat("invalid slice ", lo, " > ", hi));
  const uint64_t first = first_index();
  if (lo < first) return Error::kCompacted;
  const uint64_t last = last_index();
  if (hi > last + 1) {
    logger_->fatal(concat("slice[", lo, ",", hi, ") out of bound [", first, ",", last, "]"));
  }
  if (lo == hi) return EntryVec{};

  EntryVec out;
  uint64_t size = 0;
  const uint64_t offset = unstable_.offset();
  if (lo < offset) {
    const uint64_t cut = std::min(hi, offset);
    auto stable = storage_.entries(lo, cut, max_size);
    if (!stable) {
      if (stable.error() == Error::kUnavailable) {
        logger_->fatal(concat("entries[", lo, ",", cut, ") is unavailable from storage"));
      }
      return stable.error();  // kCompacted (a racing compaction) or a storage failure
    }
    out = std::move(*stable);
    // Storage stopped early: the size limit is reached, and unstable entries must not follow a
    // gap.
    if (out.size() < cut - lo || hi <= offset) return out;
    for (const Entry& e : out) size += entry_size(e);
  }
  const EntryVec& held = unstable_.entries();
  const uint64_t from = std::max(lo, offset) - offset;
  const uint64_t to = hi - offset;
  if (to > held.size()) {
    logger_->fatal(concat("unstable.slice[", from + offset, ",", hi, ") out of bound [", offset, ",",
                       offset + held.size(), "]"));
  }
  append_within(out, size, held.begin() + static_cast<std::ptrdiff_t>(from),
                held.begin() + static_cast<std::ptrdiff_t>(to), max_size);
  return out;
}

EntryVec RaftLog::all_entries() const {
  // Retried on kCompacted: the driver may compact storage between first_index() and the read.
  for (;;) {
    auto all = entries(first_index(), kNoLimit);
    if (all) return std::move(*all);
    if (all.error() != Error::kCompacted) {
      logger_->fatal(concat("unexpected error reading the whole log (", all.error().message(), ")"));
    }
  }
}

bool RaftLog::is_up_to_date(uint64_t last_index, uint64_t term) const {
  const uint64_t our_term = last_term();
  return term > our_term || (term == our_term && last_index >= this->last_index());
}

bool RaftLog::maybe_commit(uint64_t max_index, uint64_t term) {
  // A term of 0 would match "compacted or unavailable" in zero_term_on_err_compacted; no leader
  // ever commits in term 0.
  if (term != 0 && max_index > committed_ && zero_term_on_err_compacted(max_index) == term) {
    commit_to(max_index);
    return true;
  }
  return false;
}

void RaftLog::commit_to(uint64_t to) {
  if (to <= committed_) return;  // never decrease commit
  if (to > last_index()) {
    logger_->fatal(concat("tocommit(", to, ") is out of range [lastIndex(", last_index(),
                       ")]. Was the raft log corrupted, truncated, or lost?"));
  }
  committed_ = to;
}

uint64_t RaftLog::persisted_index() const {
  if (unstable_.snapshot()) return 0;
  return unstable_.offset() - 1;
}

bool RaftLog::has_next_committed_entries() const {
  if (applying_paused_ || has_next_or_in_progress_snapshot()) return false;
  // A snapshot made durable (stable_snap_to) but not yet reported applied: the entries after it
  // must wait for the state machine to hold the snapshot.
  if (applying_ + 1 < first_index()) return false;
  return applying_ < std::min(committed_, persisted_index());
}

EntryVec RaftLog::next_committed_entries() const {
  if (!has_next_committed_entries()) return {};
  const uint64_t lo = applying_ + 1;
  const uint64_t hi = std::min(committed_, persisted_index()) + 1;
  const uint64_t budget =
      applying_size_ >= max_applying_size_ ? 0 : max_applying_size_ - applying_size_;
  auto ents = slice(lo, hi, budget);
  if (!ents) {
    logger_->fatal(concat("unexpected error when getting unapplied entries [", lo, ",", hi, ") (",
                       ents.error().message(), ")"));
  }
  return std::move(*ents);
}

void RaftLog::accept_applying(uint64_t index, uint64_t size) {
  if (index > committed_ || index < applying_) {
    logger_->fatal(concat("applying(", index, ") is out of range [prevApplying(", applying_,
                       "), committed(", committed_, ")]"));
  }
  applying_ = index;
  applying_size_ += size;
  if (size > 0) applying_batches_.emplace_back(index, size);
  // Pause when the budget is used up, or when the batch was cut short by the limit: the entry
  // after it did not fit, so handing it out now would overshoot. Never pause with nothing
  // outstanding, or nothing would ever resume it.
  applying_paused_ = applying_size_ > 0 &&
                     (applying_size_ >= max_applying_size_ ||
                      index < std::min(committed_, persisted_index()));
}

void RaftLog::applied_to(uint64_t index) {
  if (index > committed_ || index < applied_) {
    logger_->fatal(concat("applied(", index, ") is out of range [prevApplied(", applied_,
                       "), committed(", committed_, ")]"));
  }
  applied_ = index;
  applying_ = std::max(applying_, index);
  while (!applying_batches_.empty() && applying_batches_.front().first <= index) {
    applying_size_ -= applying_batches_.front().second;
    applying_batches_.pop_front();
  }
  applying_paused_ = applying_size_ > 0 && applying_size_ >= max_applying_size_;
}

Result<Snapshot> RaftLog::snapshot(uint64_t request_index, uint64_t to) const {
  const auto& pending = unstable_.snapshot();
  if (pending && pending->metadata().index() >= request_index) return *pending;
  return storage_.snapshot(request_index, to);
}

void RaftLog::restore(const Snapshot& snapshot) {
  const uint64_t index = snapshot.metadata().index();
  if (index < committed_) {
    logger_->fatal(concat("snapshot index ", index, " is below committed(", committed_, ")"));
  }
  if (logger_->enabled(LogLevel::kInfo)) {
    logger_->info(concat("log [committed=", committed_, ", applied=", applied_, ", unstable.offset=",
                      unstable_.offset(), ", len(unstable.entries)=", unstable_.entries().size(),
                      "] starts to restore snapshot [index: ", index,
                      ", term: ", snapshot.metadata().term(), "]"));
  }
  committed_ = index;
  unstable_.restore(snapshot);
}

void RaftLog::set_applied(uint64_t applied) {
  if (applied > committed_ || applied < applied_) {
    logger_->fatal(concat("applied(", applied, ") is out of range [prevApplied(", applied_,
                       "), committed(", committed_, ")]"));
  }
  applied_ = applied;
  applying_ = applied;
  applying_size_ = 0;
  applying_batches_.clear();
  applying_paused_ = false;
}

}  // namespace raft
