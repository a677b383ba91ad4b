// MemoryStorage: the Storage contract (compaction point, limits, errors) and the driver's writes,
// table-driven in the spirit of etcd raft's storage_test.go.
#include "raft/memory_storage.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "raft/errors.h"
#include "raft/types.h"
#include "tests/raft/support/log_entries.h"

namespace raft {
namespace {

using namespace logtest;  // NOLINT: test builders

// The code a write returns: success is the default (empty) error_code.
std::error_code code(Error e) {
  return e == Error::kOk ? std::error_code{} : make_error_code(e);
}

Snapshot make_snapshot(uint64_t index, uint64_t term, std::initializer_list<uint64_t> voters = {},
                       std::string data = {}) {
  Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  for (uint64_t v : voters) s.mutable_metadata()->mutable_conf_state()->add_voters(v);
  s.set_data(std::move(data));
  return s;
}

ConfState voters(std::initializer_list<uint64_t> ids) {
  ConfState cs;
  for (uint64_t v : ids) cs.add_voters(v);
  return cs;
}

// The dummy entry and the log after it, as (index, term), read through the public interface.
Ids dump(const MemoryStorage& ms) {
  Ids out;
  for (uint64_t i = ms.first_index() - 1; i <= ms.last_index(); ++i) {
    auto t = ms.term(i);
    EXPECT_TRUE(t.ok()) << "term(" << i << ")";
    out.emplace_back(i, t.ok() ? *t : 0);
  }
  return out;
}

// A storage whose dummy is (3, 3) followed by `after` (etcd's tests start from ents[0] = {3, 3}).
MemoryStorage* fill(MemoryStorage& ms, const Ids& after) {
  EXPECT_FALSE(ms.apply_snapshot(make_snapshot(3, 3)));
  EXPECT_FALSE(ms.append(make_entries(after)));
  return &ms;
}

TEST(MemoryStorageTest, FreshStorageHasDummyAtZero) {
  MemoryStorage ms;
  EXPECT_EQ(ms.first_index(), 1u);
  EXPECT_EQ(ms.last_index(), 0u);
  ASSERT_TRUE(ms.term(0).ok());
  EXPECT_EQ(*ms.term(0), 0u);
  EXPECT_EQ(ms.term(1).error(), Error::kUnavailable);
  auto state = ms.initial_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->hard_state.ByteSizeLong(), 0u);
  EXPECT_EQ(state->conf_state.voters_size(), 0);
  auto snap = ms.snapshot(0);
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(is_empty_snapshot(*snap));
  // Nothing to read: any lo at or below the dummy is compacted.
  EXPECT_EQ(ms.entries(0, 1, kNoLimit).error(), Error::kCompacted);
  EXPECT_EQ(ms.entries(1, 2, kNoLimit).error(), Error::kUnavailable);
  auto empty = ms.entries(1, 1, kNoLimit);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(MemoryStorageTest, ConfStateConstructorSetsInitialConfState) {
  ConfState cs = voters({1, 2, 3});
  cs.add_learners(4);
  MemoryStorage ms(cs);
  auto state = ms.initial_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(std::vector<uint64_t>(state->conf_state.voters().begin(),
                                  state->conf_state.voters().end()),
            (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(state->conf_state.learners_size(), 1);
  EXPECT_EQ(state->conf_state.learners(0), 4u);
  // Still an empty log.
  EXPECT_EQ(ms.first_index(), 1u);
  EXPECT_EQ(ms.last_index(), 0u);
}

TEST(MemoryStorageTest, HardStateAndConfStateRoundTrip) {
  MemoryStorage ms;
  HardState hs;
  hs.set_term(7);
  hs.set_vote(2);
  hs.set_commit(5);
  ms.set_hard_state(hs);
  ms.set_conf_state(voters({1, 2}));
  EXPECT_EQ(ms.hard_state().term(), 7u);
  EXPECT_EQ(ms.hard_state().vote(), 2u);
  EXPECT_EQ(ms.hard_state().commit(), 5u);
  auto state = ms.initial_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->hard_state.term(), 7u);
  EXPECT_EQ(state->hard_state.commit(), 5u);
  EXPECT_EQ(state->conf_state.voters_size(), 2);
}

TEST(MemoryStorageTest, Term) {
  MemoryStorage ms;
  fill(ms, {{4, 4}, {5, 5}});
  struct Case {
    uint64_t index;
    Error err;
    uint64_t term;
  };
  const Case cases[] = {
      {2, Error::kCompacted, 0}, {3, Error::kOk, 3},          {4, Error::kOk, 4},
      {5, Error::kOk, 5},        {6, Error::kUnavailable, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    auto t = ms.term(c.index);
    if (c.err == Error::kOk) {
      ASSERT_TRUE(t.ok()) << t.error().message();
      EXPECT_EQ(*t, c.term);
    } else {
      EXPECT_EQ(t.error(), c.err);
    }
  }
}

TEST(MemoryStorageTest, Entries) {
  MemoryStorage ms;
  fill(ms, {{4, 4}, {5, 5}, {6, 6}});
  const uint64_t size4 = entry_size(ent(4, 4));
  const uint64_t size5 = entry_size(ent(5, 5));
  const uint64_t size6 = entry_size(ent(6, 6));
  struct Case {
    uint64_t lo, hi, max_size;
    Error err;
    Ids want;
  };
  const Case cases[] = {
      {2, 6, kNoLimit, Error::kCompacted, {}},
      {3, 4, kNoLimit, Error::kCompacted, {}},  // the dummy is not an entry
      {4, 5, kNoLimit, Error::kOk, {{4, 4}}},
      {4, 6, kNoLimit, Error::kOk, {{4, 4}, {5, 5}}},
      {4, 7, kNoLimit, Error::kOk, {{4, 4}, {5, 5}, {6, 6}}},
      // At least one entry, even with a limit of 0.
      {4, 7, 0, Error::kOk, {{4, 4}}},
      // Exactly two fit.
      {4, 7, size4 + size5, Error::kOk, {{4, 4}, {5, 5}}},
      // Two and a half fit.
      {4, 7, size4 + size5 + size6 / 2, Error::kOk, {{4, 4}, {5, 5}}},
      // One byte short of three.
      {4, 7, size4 + size5 + size6 - 1, Error::kOk, {{4, 4}, {5, 5}}},
      // Exactly three fit.
      {4, 7, size4 + size5 + size6, Error::kOk, {{4, 4}, {5, 5}, {6, 6}}},
      // hi past last_index() + 1.
      {4, 8, kNoLimit, Error::kUnavailable, {}},
      {7, 8, kNoLimit, Error::kUnavailable, {}},
      // Empty ranges.
      {5, 5, kNoLimit, Error::kOk, {}},
      {7, 7, kNoLimit, Error::kOk, {}},
      {6, 5, kNoLimit, Error::kOk, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "[" << c.lo << "," << c.hi << ") max " << c.max_size);
    auto got = ms.entries(c.lo, c.hi, c.max_size);
    if (c.err == Error::kOk) {
      ASSERT_TRUE(got.ok()) << got.error().message();
      EXPECT_EQ(ids(*got), c.want);
    } else {
      EXPECT_EQ(got.error(), c.err);
    }
  }
}

TEST(MemoryStorageTest, EntriesLimitAgreesWithLimitSize) {
  MemoryStorage ms;
  EntryVec all;
  for (uint64_t i = 1; i <= 20; ++i) all.push_back(ent(i, 1, std::string(i * 3, 'x')));
  ASSERT_FALSE(ms.append(all));
  for (uint64_t max_size : {0ull, 5ull, 40ull, 100ull, 333ull, 1000ull, 100000ull}) {
    for (uint64_t lo = 1; lo <= 20; lo += 3) {
      SCOPED_TRACE(::testing::Message() << "lo " << lo << " max " << max_size);
      EntryVec want(all.begin() + static_cast<std::ptrdiff_t>(lo - 1), all.end());
      limit_size(want, max_size);
      auto got = ms.entries(lo, 21, max_size);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(ids(*got), ids(want));
    }
  }
}

TEST(MemoryStorageTest, EntriesCarryData) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.append({ent(1, 1, "a"), ent(2, 1, "bb")}));
  auto got = ms.entries(1, 3, kNoLimit);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].data(), "a");
  EXPECT_EQ((*got)[1].data(), "bb");
}

TEST(MemoryStorageTest, FirstAndLastIndex) {
  MemoryStorage ms;
  fill(ms, {{4, 4}, {5, 5}});
  EXPECT_EQ(ms.first_index(), 4u);
  EXPECT_EQ(ms.last_index(), 5u);
  ASSERT_FALSE(ms.append({ent(6, 5)}));
  EXPECT_EQ(ms.last_index(), 6u);
  ASSERT_FALSE(ms.compact(4));
  EXPECT_EQ(ms.first_index(), 5u);
  EXPECT_EQ(ms.last_index(), 6u);
}

TEST(MemoryStorageTest, Compact) {
  struct Case {
    uint64_t index;
    Error err;
    Ids want;  // dummy first
  };
  const Case cases[] = {
      {2, Error::kCompacted, {{3, 3}, {4, 4}, {5, 5}}},
      {3, Error::kCompacted, {{3, 3}, {4, 4}, {5, 5}}},
      {4, Error::kOk, {{4, 4}, {5, 5}}},
      {5, Error::kOk, {{5, 5}}},
      {6, Error::kUnavailable, {{3, 3}, {4, 4}, {5, 5}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    MemoryStorage ms;
    fill(ms, {{4, 4}, {5, 5}});
    EXPECT_EQ(ms.compact(c.index), code(c.err));
    EXPECT_EQ(dump(ms), c.want);
    // Compaction does not touch the stored snapshot.
    EXPECT_EQ(ms.snapshot(0)->metadata().index(), 3u);
  }
}

TEST(MemoryStorageTest, CompactedDummyKeepsOnlyIndexAndTerm) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.append({ent(1, 1, "one"), ent(2, 2, "two"), ent(3, 2, "three")}));
  ASSERT_FALSE(ms.compact(2));
  EXPECT_EQ(ms.first_index(), 3u);
  EXPECT_EQ(*ms.term(2), 2u);
  EXPECT_EQ(ms.term(1).error(), Error::kCompacted);
  EXPECT_EQ(ms.entries(2, 3, kNoLimit).error(), Error::kCompacted);
  auto rest = ms.entries(3, 4, kNoLimit);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].data(), "three");
}

TEST(MemoryStorageTest, Append) {
  struct Case {
    Ids in;
    Error err;
    Ids want;  // dummy first
  };
  const Case cases[] = {
      // Entirely at or below the compaction point: ignored.
      {{{1, 1}, {2, 2}}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}}},
      {{{1, 1}, {2, 2}, {3, 3}}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}}},
      // The same entries again.
      {{{3, 3}, {4, 4}, {5, 5}}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}}},
      // Replace a suffix.
      {{{3, 3}, {4, 6}, {5, 6}}, Error::kOk, {{3, 3}, {4, 6}, {5, 6}}},
      {{{3, 3}, {4, 4}, {5, 5}, {6, 5}}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}, {6, 5}}},
      // Skip incoming entries below the compaction point, truncate the existing entries and
      // append.
      {{{2, 3}, {3, 3}, {4, 5}}, Error::kOk, {{3, 3}, {4, 5}}},
      // Truncate the existing entries and append.
      {{{4, 5}}, Error::kOk, {{3, 3}, {4, 5}}},
      {{{5, 6}}, Error::kOk, {{3, 3}, {4, 4}, {5, 6}}},
      // Direct append.
      {{{6, 5}}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}, {6, 5}}},
      // A gap: refused, nothing changes.
      {{{7, 5}}, Error::kUnavailable, {{3, 3}, {4, 4}, {5, 5}}},
      {{{2, 3}, {3, 3}, {4, 4}, {5, 5}, {6, 5}, {7, 5}}, Error::kOk,
       {{3, 3}, {4, 4}, {5, 5}, {6, 5}, {7, 5}}},
      // Nothing at all.
      {{}, Error::kOk, {{3, 3}, {4, 4}, {5, 5}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.in));
    MemoryStorage ms;
    fill(ms, {{4, 4}, {5, 5}});
    EXPECT_EQ(ms.append(make_entries(c.in)), code(c.err));
    EXPECT_EQ(dump(ms), c.want);
  }
}

TEST(MemoryStorageTest, AppendToFreshStorage) {
  MemoryStorage ms;
  EXPECT_EQ(ms.append({ent(2, 1)}), make_error_code(Error::kUnavailable));
  EXPECT_EQ(ms.last_index(), 0u);
  EXPECT_FALSE(ms.append({ent(1, 1), ent(2, 1)}));
  EXPECT_EQ(dump(ms), (Ids{{0, 0}, {1, 1}, {2, 1}}));
  // An entry at the dummy's index 0 is skipped.
  EXPECT_FALSE(ms.append({ent(0, 9), ent(1, 2)}));
  EXPECT_EQ(dump(ms), (Ids{{0, 0}, {1, 2}}));
}

TEST(MemoryStorageTest, CreateSnapshot) {
  const ConfState cs = voters({1, 2, 3});
  struct Case {
    uint64_t index;
    Error err;
    uint64_t term;
  };
  const Case cases[] = {
      {4, Error::kOk, 4},
      {5, Error::kOk, 5},
      {3, Error::kSnapOutOfDate, 0},  // at the stored snapshot
      {2, Error::kSnapOutOfDate, 0},
      {6, Error::kUnavailable, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    MemoryStorage ms;
    fill(ms, {{4, 4}, {5, 5}});
    auto snap = ms.create_snapshot(c.index, &cs, "data");
    if (c.err != Error::kOk) {
      EXPECT_EQ(snap.error(), c.err);
      EXPECT_EQ(ms.snapshot(0)->metadata().index(), 3u);
      continue;
    }
    ASSERT_TRUE(snap.ok()) << snap.error().message();
    EXPECT_EQ(snap->metadata().index(), c.index);
    EXPECT_EQ(snap->metadata().term(), c.term);
    EXPECT_EQ(snap->metadata().conf_state().voters_size(), 3);
    EXPECT_EQ(snap->data(), "data");
    auto stored = ms.snapshot(0);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->metadata().index(), c.index);
    EXPECT_EQ(stored->data(), "data");
    // Creating a snapshot does not compact the log.
    EXPECT_EQ(ms.first_index(), 4u);
    EXPECT_EQ(ms.last_index(), 5u);
    // The ConfState given becomes the stored one.
    EXPECT_EQ(ms.initial_state()->conf_state.voters_size(), 3);
  }
}

TEST(MemoryStorageTest, CreateSnapshotAfterCompactionPastIt) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.append(make_entries({{1, 1}, {2, 1}, {3, 2}, {4, 2}})));
  ASSERT_FALSE(ms.compact(3));
  // Entry 2's term is gone: a snapshot there cannot be described.
  EXPECT_EQ(ms.create_snapshot(2, nullptr, "").error(), Error::kCompacted);
  // The compaction point itself still has its term.
  auto snap = ms.create_snapshot(3, nullptr, "");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().term(), 2u);
}

TEST(MemoryStorageTest, CreateSnapshotWithoutConfStateUsesStoredOne) {
  MemoryStorage ms(voters({1, 2}));
  ASSERT_FALSE(ms.append(make_entries({{1, 1}, {2, 1}})));
  auto first = ms.create_snapshot(1, nullptr, "x");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->metadata().conf_state().voters_size(), 2);
  ms.set_conf_state(voters({1, 2, 3}));
  auto second = ms.create_snapshot(2, nullptr, "y");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->metadata().conf_state().voters_size(), 3);
}

TEST(MemoryStorageTest, ApplySnapshot) {
  MemoryStorage ms;
  HardState hs;
  hs.set_term(9);
  hs.set_commit(2);
  ms.set_hard_state(hs);
  ASSERT_FALSE(ms.append(make_entries({{1, 1}, {2, 1}, {3, 1}})));

  ASSERT_FALSE(ms.apply_snapshot(make_snapshot(4, 4, {1, 2, 3}, "state")));
  EXPECT_EQ(ms.first_index(), 5u);
  EXPECT_EQ(ms.last_index(), 4u);
  EXPECT_EQ(*ms.term(4), 4u);
  EXPECT_EQ(ms.term(3).error(), Error::kCompacted);
  auto stored = ms.snapshot(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->metadata().index(), 4u);
  EXPECT_EQ(stored->data(), "state");
  auto state = ms.initial_state();
  EXPECT_EQ(state->conf_state.voters_size(), 3);
  EXPECT_EQ(state->hard_state.term(), 9u);  // HardState is the driver's to set
  EXPECT_EQ(state->hard_state.commit(), 2u);

  // Older, or the same index again: out of date, nothing changes.
  EXPECT_EQ(ms.apply_snapshot(make_snapshot(3, 3)), make_error_code(Error::kSnapOutOfDate));
  EXPECT_EQ(ms.apply_snapshot(make_snapshot(4, 5)), make_error_code(Error::kSnapOutOfDate));
  EXPECT_EQ(*ms.term(4), 4u);

  // Appending after it works.
  ASSERT_FALSE(ms.append({ent(5, 4)}));
  EXPECT_EQ(ms.last_index(), 5u);
}

TEST(MemoryStorageTest, SnapshotUnavailableIsStickyUntilCleared) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.apply_snapshot(make_snapshot(5, 2)));
  ms.set_snapshot_unavailable(true);
  EXPECT_EQ(ms.snapshot(0).error(), Error::kSnapshotTemporarilyUnavailable);
  EXPECT_EQ(ms.snapshot(0).error(), Error::kSnapshotTemporarilyUnavailable);
  ms.set_snapshot_unavailable(false);
  auto snap = ms.snapshot(0);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().index(), 5u);
}

TEST(MemoryStorageTest, SnapshotMustCoverRequestIndex) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.apply_snapshot(make_snapshot(5, 2)));
  ASSERT_FALSE(ms.append(make_entries({{6, 2}, {7, 3}})));
  EXPECT_TRUE(ms.snapshot(0).ok());
  EXPECT_TRUE(ms.snapshot(4).ok());
  EXPECT_TRUE(ms.snapshot(5).ok());
  EXPECT_EQ(ms.snapshot(6).error(), Error::kSnapshotTemporarilyUnavailable);
  ASSERT_TRUE(ms.create_snapshot(7, nullptr, "").ok());
  auto snap = ms.snapshot(6);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().index(), 7u);
  EXPECT_EQ(snap->metadata().term(), 3u);
}

TEST(MemoryStorageTest, ReadsReturnCopies) {
  MemoryStorage ms;
  ASSERT_FALSE(ms.append({ent(1, 1, "a")}));
  auto got = ms.entries(1, 2, kNoLimit);
  ASSERT_TRUE(got.ok());
  (*got)[0].set_data("changed");
  ASSERT_FALSE(ms.append({ent(1, 2, "b")}));
  EXPECT_EQ((*got)[0].data(), "changed");
  EXPECT_EQ((*ms.entries(1, 2, kNoLimit))[0].data(), "b");
}

// A writer appends one entry at a time while a reader watches: every read is of a consistent
// state (last_index only grows, the last entry is always readable with its term).
TEST(MemoryStorageTest, ConcurrentReadsSeeConsistentState) {
  MemoryStorage ms;
  constexpr uint64_t kCount = 2000;
  std::thread writer([&ms] {
    for (uint64_t i = 1; i <= kCount; ++i) ASSERT_FALSE(ms.append({ent(i, i)}));
  });
  uint64_t seen = 0;
  bool consistent = true;
  while (seen < kCount) {
    const uint64_t last = ms.last_index();
    if (last < seen) consistent = false;
    seen = last;
    if (last > 0) {
      auto t = ms.term(last);
      if (!t.ok() || *t != last) consistent = false;
    }
  }
  writer.join();
  EXPECT_TRUE(consistent);
  EXPECT_EQ(ms.last_index(), kCount);
}

}  // namespace
}  // namespace raft
