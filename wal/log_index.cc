#include "wal/log_index.h"

#include <algorithm>
#include <cassert>

namespace wal {

void LogIndex::reset(uint64_t index, uint64_t term) {
  restart(index + 1);
  prev_term_ = term;
}

void LogIndex::restart(uint64_t first) {
  first_ = first;
  prev_term_ = 0;
  locations_.clear();
  terms_.clear();
  segments_.clear();
}

void LogIndex::append(uint64_t index, uint64_t term, uint64_t sequence, uint32_t offset,
                      uint32_t length) {
  assert(index == last() + 1);
  (void)index;
  locations_.push_back(uint64_t{offset} << 32 | length);
  if (terms_.empty() || terms_.back().value != term) terms_.push_back({index, term});
  if (segments_.empty() || segments_.back().value != sequence) {
    assert(segments_.empty() || segments_.back().value < sequence);
    segments_.push_back({index, sequence});
  }
}

void LogIndex::truncate(uint64_t from) {
  assert(from >= first_ && from <= last() + 1);
  locations_.resize(from - first_);
  truncate_runs(terms_, from);
  truncate_runs(segments_, from);
}

void LogIndex::compact(uint64_t index) {
  assert(index + 1 >= first_ && index <= last());
  const uint64_t prev = term(index);
  locations_.erase(locations_.begin(),
                   locations_.begin() + static_cast<std::ptrdiff_t>(index + 1 - first_));
  first_ = index + 1;
  prev_term_ = prev;
  if (locations_.empty()) {
    terms_.clear();
    segments_.clear();
  } else {
    compact_runs(terms_, first_);
    compact_runs(segments_, first_);
  }
}

uint64_t LogIndex::term(uint64_t index) const {
  assert(index + 1 >= first_ && index <= last());
  if (index + 1 == first_) return prev_term_;
  return terms_[find_run(terms_, index)].value;
}

EntryLocation LogIndex::location(uint64_t index) const {
  assert(index >= first_ && index <= last());
  const uint64_t packed = locations_[index - first_];
  return {sequence(index), static_cast<uint32_t>(packed >> 32), static_cast<uint32_t>(packed)};
}

uint64_t LogIndex::sequence(uint64_t index) const {
  return segments_[find_run(segments_, index)].value;
}

uint64_t LogIndex::memory_bytes() const {
  return sizeof(*this) + locations_.size() * sizeof(uint64_t) +
         (terms_.size() + segments_.size()) * sizeof(Run);
}

size_t LogIndex::find_run(const std::deque<Run>& runs, uint64_t index) {
  // The last run starting at or before `index`.
  auto it = std::upper_bound(runs.begin(), runs.end(), index,
                             [](uint64_t i, const Run& r) { return i < r.first; });
  assert(it != runs.begin());
  return static_cast<size_t>(it - runs.begin()) - 1;
}

void LogIndex::truncate_runs(std::deque<Run>& runs, uint64_t from) {
  while (!runs.empty() && runs.back().first >= from) runs.pop_back();
}

void LogIndex::compact_runs(std::deque<Run>& runs, uint64_t index) {
  while (runs.size() > 1 && runs[1].first <= index) runs.pop_front();
  if (!runs.empty() && runs.front().first < index) runs.front().first = index;
}

LogIndex::TermCursor::TermCursor(const LogIndex& log, uint64_t index)
    : log_(log), index_(index), run_(find_run(log.terms_, index)) {}

uint64_t LogIndex::TermCursor::next() {
  const auto& runs = log_.terms_;
  while (run_ + 1 < runs.size() && runs[run_ + 1].first <= index_) ++run_;
  ++index_;
  return runs[run_].value;
}

}  // namespace wal
