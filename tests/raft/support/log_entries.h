// Small builders for log tests: entries and snapshots from (index, term) pairs, and the reverse,
// so tables read like etcd raft's `index(5).terms(1, 2)`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "raft/types.h"

namespace raft::logtest {

// A log as (index, term) pairs: what most log tests compare.
using Ids = std::vector<std::pair<uint64_t, uint64_t>>;

inline Entry ent(uint64_t index, uint64_t term, std::string data = {}) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

// Entries first, first + 1, ... with the given terms (etcd's index(first).terms(...)).
inline Ids run(uint64_t first, const std::vector<uint64_t>& terms) {
  Ids out;
  for (uint64_t t : terms) out.emplace_back(first++, t);
  return out;
}

// Entries [from, to) whose term equals their index (etcd's index(from).termRange(from, to)).
inline Ids range(uint64_t from, uint64_t to) {
  Ids out;
  for (uint64_t i = from; i < to; ++i) out.emplace_back(i, i);
  return out;
}

inline EntryVec make_entries(const Ids& ids) {
  EntryVec out;
  for (auto [index, term] : ids) out.push_back(ent(index, term));
  return out;
}

inline Ids ids(const EntryVec& entries) {
  Ids out;
  for (const Entry& e : entries) out.emplace_back(e.index(), e.term());
  return out;
}

inline Snapshot snap(uint64_t index, uint64_t term) {
  Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  return s;
}

}  // namespace raft::logtest
