// RaftLog: the log as the core sees it (Storage + Unstable + commit/apply positions),
// table-driven in the spirit of etcd raft's log_test.go.
#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "raft/errors.h"
#include "raft/logger.h"
#include "raft/memory_storage.h"
#include "raft/types.h"
#include "tests/raft/support/log_entries.h"

namespace raft {
namespace {

using namespace logtest;  // NOLINT: test builders
using logtest::ids;  // overloaded below, in the same scope

Ids ids(const Result<EntryVec>& entries) {
  EXPECT_TRUE(entries.ok()) << entries.error().message();
  return entries.ok() ? ids(*entries) : Ids{};
}

uint64_t must_term(const Result<uint64_t>& t) {
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? *t : 0;
}

// ---------------------------------------------------------------------------------------------
// Construction

TEST(RaftLogTest, StartsFromStorage) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(1000, 1000)));
  RaftLog log(storage);
  EXPECT_TRUE(log.all_entries().empty());
  EXPECT_EQ(log.first_index(), 1001u);
  EXPECT_EQ(log.last_index(), 1000u);
  EXPECT_EQ(log.last_term(), 1000u);
  EXPECT_EQ(log.committed(), 1000u);
  EXPECT_EQ(log.applying(), 1000u);
  EXPECT_EQ(log.applied(), 1000u);
  EXPECT_EQ(log.unstable().offset(), 1001u);
  EXPECT_EQ(log.unstable().offset_in_progress(), 1001u);
  EXPECT_EQ(must_term(log.term(1000)), 1000u);
  EXPECT_EQ(log.persisted_index(), 1000u);
  EXPECT_FALSE(log.has_next_committed_entries());
  EXPECT_FALSE(log.has_next_unstable_entries());
}

TEST(RaftLogTest, StartsFromStorageWithEntries) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(3, 2)));
  ASSERT_FALSE(storage.append(make_entries(run(4, {2, 3, 3}))));
  RaftLog log(storage);
  EXPECT_EQ(log.first_index(), 4u);
  EXPECT_EQ(log.last_index(), 6u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.committed(), 3u);  // HardState commit is the Raft layer's to load
  EXPECT_EQ(log.applied(), 3u);
  EXPECT_EQ(log.unstable().offset(), 7u);
  EXPECT_EQ(ids(log.all_entries()), run(4, {2, 3, 3}));
  EXPECT_FALSE(log.has_next_unstable_entries());
}

// ---------------------------------------------------------------------------------------------
// Conflicts and appends

TEST(RaftLogTest, FindConflict) {
  struct Case {
    Ids entries;
    uint64_t want;
  };
  const Case cases[] = {
      // No conflict, empty entries.
      {{}, 0},
      // No conflict.
      {run(1, {1, 2, 3}), 0},
      {run(2, {2, 3}), 0},
      {run(3, {3}), 0},
      // No conflict, but new entries.
      {run(1, {1, 2, 3, 4, 4}), 4},
      {run(2, {2, 3, 4, 5}), 4},
      {run(3, {3, 4, 4}), 4},
      {run(4, {4, 4}), 4},
      // Conflicts with existing entries.
      {run(1, {4, 4}), 1},
      {run(2, {1, 4, 4}), 2},
      {run(3, {1, 2, 4, 4}), 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.entries));
    MemoryStorage storage;
    RaftLog log(storage);
    log.append(make_entries(run(1, {1, 2, 3})));
    EXPECT_EQ(log.find_conflict(make_entries(c.entries)), c.want);
  }
}

TEST(RaftLogTest, FindConflictByTerm) {
  struct Case {
    Ids entries;  // entries[0] is the (index, term) of the snapshot
    uint64_t index, term;
    uint64_t want;
  };
  const Case cases[] = {
      // Log starts from index 1.
      {run(0, {0, 2, 2, 5, 5, 5}), 100, 2, 100},  // unavailable: term unknown
      {run(0, {0, 2, 2, 5, 5, 5}), 5, 6, 5},
      {run(0, {0, 2, 2, 5, 5, 5}), 5, 5, 5},
      {run(0, {0, 2, 2, 5, 5, 5}), 5, 4, 2},
      {run(0, {0, 2, 2, 5, 5, 5}), 5, 2, 2},
      {run(0, {0, 2, 2, 5, 5, 5}), 5, 1, 0},
      {run(0, {0, 2, 2, 5, 5, 5}), 1, 2, 1},
      {run(0, {0, 2, 2, 5, 5, 5}), 1, 1, 0},
      {run(0, {0, 2, 2, 5, 5, 5}), 0, 0, 0},
      // Log with compacted entries.
      {run(10, {3, 3, 3, 4, 4, 4}), 30, 3, 30},  // unavailable
      {run(10, {3, 3, 3, 4, 4, 4}), 14, 9, 14},
      {run(10, {3, 3, 3, 4, 4, 4}), 14, 4, 14},
      {run(10, {3, 3, 3, 4, 4, 4}), 14, 3, 12},
      {run(10, {3, 3, 3, 4, 4, 4}), 14, 2, 9},  // stops below the snapshot, term unknown
      {run(10, {3, 3, 3, 4, 4, 4}), 11, 5, 11},
      {run(10, {3, 3, 3, 4, 4, 4}), 10, 5, 10},
      {run(10, {3, 3, 3, 4, 4, 4}), 10, 3, 10},
      {run(10, {3, 3, 3, 4, 4, 4}), 10, 2, 9},
      {run(10, {3, 3, 3, 4, 4, 4}), 9, 2, 9},  // compacted
      {run(10, {3, 3, 3, 4, 4, 4}), 4, 2, 4},  // compacted
      {run(10, {3, 3, 3, 4, 4, 4}), 0, 0, 0},
  };
  // The same answers whether the entries are still unstable or already in storage.
  for (bool in_storage : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << (in_storage ? "storage " : "unstable ") << "case "
                                      << (&c - cases));
      MemoryStorage storage;
      const auto [snap_index, snap_term] = c.entries.front();
      if (snap_index > 0) {
        ASSERT_FALSE(storage.apply_snapshot(snap(snap_index, snap_term)));
      }
      const EntryVec rest = make_entries(Ids(c.entries.begin() + 1, c.entries.end()));
      if (in_storage) {
        ASSERT_FALSE(storage.append(rest));
      }
      RaftLog log(storage);
      if (!in_storage) log.append(rest);
      const auto [index, term] = log.find_conflict_by_term(c.index, c.term);
      EXPECT_EQ(index, c.want);
      EXPECT_EQ(term, log.zero_term_on_err_compacted(index));
    }
  }
}

TEST(RaftLogTest, IsUpToDate) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append(make_entries(run(1, {1, 2, 3})));
  const uint64_t last = log.last_index();
  struct Case {
    uint64_t last_index, term;
    bool want;
  };
  const Case cases[] = {
      // Greater term: the index does not matter.
      {last - 1, 4, true},
      {last, 4, true},
      {last + 1, 4, true},
      // Smaller term: the index does not matter.
      {last - 1, 2, false},
      {last, 2, false},
      {last + 1, 2, false},
      // Equal term: an equal or longer log wins.
      {last - 1, 3, false},
      {last, 3, true},
      {last + 1, 3, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    EXPECT_EQ(log.is_up_to_date(c.last_index, c.term), c.want);
  }
}

TEST(RaftLogTest, Append) {
  struct Case {
    Ids entries;
    uint64_t want_last;
    Ids want;
    uint64_t want_offset;
  };
  const Case cases[] = {
      {{}, 2, run(1, {1, 2}), 3},
      {run(3, {2}), 3, run(1, {1, 2, 2}), 3},
      // Conflicts with index 1: everything is replaced, shadowing storage.
      {run(1, {2}), 1, run(1, {2}), 1},
      // Conflicts with index 2.
      {run(2, {3, 3}), 3, run(1, {1, 3, 3}), 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    MemoryStorage storage;
    ASSERT_FALSE(storage.append(make_entries(run(1, {1, 2}))));
    RaftLog log(storage);
    EXPECT_EQ(log.append(make_entries(c.entries)), c.want_last);
    EXPECT_EQ(log.last_index(), c.want_last);
    EXPECT_EQ(ids(log.entries(1, kNoLimit)), c.want);
    EXPECT_EQ(log.unstable().offset(), c.want_offset);
  }
}

TEST(RaftLogTest, AppendAtOrBelowCommittedIsFatal) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1}))));
  RaftLog log(storage);
  log.commit_to(2);
  EXPECT_THROW(log.append(make_entries(run(2, {2}))), InvariantViolation);
  EXPECT_THROW(log.append(make_entries(run(1, {2, 2}))), InvariantViolation);
  // Nothing changed.
  EXPECT_EQ(ids(log.all_entries()), run(1, {1, 1, 1}));
  // Right after committed is fine.
  EXPECT_EQ(log.append(make_entries(run(3, {2}))), 3u);
  EXPECT_EQ(must_term(log.term(3)), 2u);
}

TEST(RaftLogTest, AppendWithGapIsFatal) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append(make_entries(run(1, {1, 1})));
  EXPECT_THROW(log.append(make_entries(run(4, {1}))), InvariantViolation);
  EXPECT_EQ(log.last_index(), 2u);
}

TEST(RaftLogTest, MaybeAppend) {
  const Ids previous = run(1, {1, 2, 3});
  const uint64_t last_index = 3, last_term = 3, commit = 1;
  struct Case {
    uint64_t log_term, index, committed;
    Ids entries;
    std::optional<uint64_t> want_last;
    uint64_t want_commit;
    bool want_fatal;
  };
  const Case cases[] = {
      // No match: the term differs.
      {last_term - 1, last_index, last_index, run(last_index + 1, {4}), std::nullopt, commit,
       false},
      // No match: the index is past the end.
      {last_term, last_index + 1, last_index, run(last_index + 2, {4}), std::nullopt, commit,
       false},
      // Match with the last existing entry.
      {last_term, last_index, last_index, {}, last_index, last_index, false},
      // Commit no higher than the last new entry.
      {last_term, last_index, last_index + 1, {}, last_index, last_index, false},
      // Commit up to the commit in the message.
      {last_term, last_index, last_index - 1, {}, last_index, last_index - 1, false},
      // Commit never decreases.
      {last_term, last_index, 0, {}, last_index, commit, false},
      {0, 0, last_index, {}, 0, commit, false},
      {last_term, last_index, last_index, run(last_index + 1, {4}), last_index + 1, last_index,
       false},
      {last_term, last_index, last_index + 1, run(last_index + 1, {4}), last_index + 1,
       last_index + 1, false},
      // Commit no higher than the last new entry.
      {last_term, last_index, last_index + 2, run(last_index + 1, {4}), last_index + 1,
       last_index + 1, false},
      {last_term, last_index, last_index + 2, run(last_index + 1, {4, 4}), last_index + 2,
       last_index + 2, false},
      // Match with an entry in the middle.
      {last_term - 1, last_index - 1, last_index, run(last_index, {4}), last_index, last_index,
       false},
      {last_term - 2, last_index - 2, last_index, run(last_index - 1, {4}), last_index - 1,
       last_index - 1, false},
      // Conflict with the committed entry 1.
      {last_term - 3, last_index - 3, last_index, run(last_index - 2, {4}), std::nullopt, 0,
       true},
      {last_term - 2, last_index - 2, last_index, run(last_index - 1, {4, 4}), last_index,
       last_index, false},
      // Everything already here: nothing is rewritten.
      {0, 0, 2, previous, last_index, 2, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    MemoryStorage storage;
    RaftLog log(storage);
    log.append(make_entries(previous));
    log.commit_to(commit);
    if (c.want_fatal) {
      EXPECT_THROW(log.maybe_append(c.index, c.log_term, c.committed, make_entries(c.entries)),
                   InvariantViolation);
      continue;
    }
    const auto got = log.maybe_append(c.index, c.log_term, c.committed, make_entries(c.entries));
    EXPECT_EQ(got, c.want_last);
    EXPECT_EQ(log.committed(), c.want_commit);
    if (got && !c.entries.empty()) {
      EXPECT_EQ(ids(log.slice(log.last_index() - c.entries.size() + 1, log.last_index() + 1,
                              kNoLimit)),
                c.entries);
    }
    if (!got) {
      EXPECT_EQ(ids(log.all_entries()), previous);  // a mismatch changes nothing
    }
  }
}

TEST(RaftLogTest, MaybeAppendDoesNotRewriteMatchingStableEntries) {
  // Entries 1..3 are durable; a leader resends 2..4. Only 4 is new, so the durable prefix stays
  // durable (the unstable offset does not move down).
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1}))));
  RaftLog log(storage);
  EXPECT_EQ(log.maybe_append(1, 1, 3, make_entries(run(2, {1, 1, 2}))), 4u);
  EXPECT_EQ(log.unstable().offset(), 4u);
  EXPECT_EQ(log.persisted_index(), 3u);
  EXPECT_EQ(ids(log.next_unstable_entries()), run(4, {2}));
  EXPECT_EQ(log.committed(), 3u);
}

TEST(RaftLogTest, MaybeAppendTruncatesStableSuffix) {
  // Durable entries 1..4 of term 1; a new leader's log diverges at 3. The stale stable entries
  // are shadowed by the unstable ones until the driver rewrites them.
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1, 1}))));
  RaftLog log(storage);
  log.commit_to(2);
  EXPECT_EQ(log.maybe_append(2, 1, 3, make_entries(run(3, {2}))), 3u);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.term(4).error(), Error::kUnavailable);
  EXPECT_EQ(ids(log.all_entries()), run(1, {1, 1, 2}));
  EXPECT_EQ(log.unstable().offset(), 3u);
  EXPECT_EQ(log.persisted_index(), 2u);
  EXPECT_EQ(log.committed(), 3u);
  // Not applicable before it is durable.
  EXPECT_EQ(ids(log.next_committed_entries()), run(1, {1, 1}));
  // The driver persists it.
  ASSERT_FALSE(storage.append(log.next_unstable_entries()));
  log.accept_unstable();
  log.stable_to(3, 2);
  EXPECT_EQ(log.persisted_index(), 3u);
  EXPECT_EQ(ids(log.all_entries()), run(1, {1, 1, 2}));
  EXPECT_EQ(storage.last_index(), 3u);
}

TEST(RaftLogTest, NextUnstableEntries) {
  const Ids previous = run(1, {1, 2});
  for (uint64_t first_unstable : {1, 2, 3}) {
    SCOPED_TRACE(first_unstable);
    MemoryStorage storage;
    ASSERT_FALSE(storage.append(make_entries(Ids(previous.begin(),
                                                 previous.begin() + (first_unstable - 1)))));
    RaftLog log(storage);
    log.append(make_entries(Ids(previous.begin() + (first_unstable - 1), previous.end())));
    const Ids want(previous.begin() + (first_unstable - 1), previous.end());
    EXPECT_EQ(log.has_next_unstable_entries(), !want.empty());
    const EntryVec next = log.next_unstable_entries();
    EXPECT_EQ(ids(next), want);
    if (!next.empty()) log.stable_to(next.back().index(), next.back().term());
    EXPECT_EQ(log.unstable().offset(), 3u);
    EXPECT_FALSE(log.has_next_unstable_entries());
  }
}

TEST(RaftLogTest, AcceptUnstableHandsEntriesOutOnce) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append(make_entries(run(1, {1, 1})));
  EXPECT_EQ(ids(log.next_unstable_entries()), run(1, {1, 1}));
  log.accept_unstable();
  EXPECT_FALSE(log.has_next_unstable_entries());
  log.append(make_entries(run(3, {1})));
  EXPECT_EQ(ids(log.next_unstable_entries()), run(3, {1}));
  // Not durable yet: nothing moved.
  EXPECT_EQ(log.persisted_index(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Commit

TEST(RaftLogTest, CommitTo) {
  struct Case {
    uint64_t commit, want;
    bool fatal;
  };
  const Case cases[] = {
      {3, 3, false},
      {1, 2, false},  // never decreases
      {4, 0, true},   // past the last index
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.commit);
    MemoryStorage storage;
    RaftLog log(storage);
    log.append(make_entries(run(1, {1, 2, 3})));
    log.commit_to(2);
    if (c.fatal) {
      EXPECT_THROW(log.commit_to(c.commit), InvariantViolation);
      EXPECT_EQ(log.committed(), 2u);
    } else {
      log.commit_to(c.commit);
      EXPECT_EQ(log.committed(), c.want);
    }
  }
}

TEST(RaftLogTest, MaybeCommit) {
  struct Case {
    uint64_t index, term;
    bool want;
    uint64_t want_commit;
  };
  const Case cases[] = {
      {3, 3, true, 3},
      {2, 2, true, 2},
      {3, 2, false, 1},  // entry 3 is of another term (§5.4.2)
      {2, 3, false, 1},
      {1, 1, false, 1},  // not above committed
      {0, 0, false, 1},
      {4, 3, false, 1},  // past the end: term unknown
      {4, 0, false, 1},  // term 0 never matches, even "unknown"
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    MemoryStorage storage;
    RaftLog log(storage);
    log.append(make_entries(run(1, {1, 2, 3})));
    log.commit_to(1);
    EXPECT_EQ(log.maybe_commit(c.index, c.term), c.want);
    EXPECT_EQ(log.committed(), c.want_commit);
  }
}

// ---------------------------------------------------------------------------------------------
// Durability

TEST(RaftLogTest, StableTo) {
  struct Case {
    uint64_t index, term, want_offset;
  };
  const Case cases[] = {
      {1, 1, 2},
      {2, 2, 3},
      {2, 1, 1},  // bad term
      {3, 1, 1},  // bad index
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    MemoryStorage storage;
    RaftLog log(storage);
    log.append(make_entries(run(1, {1, 2})));
    log.stable_to(c.index, c.term);
    EXPECT_EQ(log.unstable().offset(), c.want_offset);
    EXPECT_EQ(log.persisted_index(), c.want_offset - 1);
  }
}

TEST(RaftLogTest, StableToWithSnapshot) {
  const uint64_t si = 5, st = 2;
  struct Case {
    uint64_t index, term;
    Ids new_entries;
    uint64_t want_offset;
  };
  const Case cases[] = {
      {si + 1, st, {}, si + 1},
      {si, st, {}, si + 1},
      {si - 1, st, {}, si + 1},
      {si + 1, st + 1, {}, si + 1},
      {si, st + 1, {}, si + 1},
      {si - 1, st + 1, {}, si + 1},
      {si + 1, st, run(si + 1, {st}), si + 2},
      {si, st, run(si + 1, {st}), si + 1},
      {si - 1, st, run(si + 1, {st}), si + 1},
      {si + 1, st + 1, run(si + 1, {st}), si + 1},
      {si, st + 1, run(si + 1, {st}), si + 1},
      {si - 1, st + 1, run(si + 1, {st}), si + 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    MemoryStorage storage;
    ASSERT_FALSE(storage.apply_snapshot(snap(si, st)));
    RaftLog log(storage);
    log.append(make_entries(c.new_entries));
    log.stable_to(c.index, c.term);
    EXPECT_EQ(log.unstable().offset(), c.want_offset);
  }
}

TEST(RaftLogTest, PersistedIndex) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1}))));
  RaftLog log(storage);
  EXPECT_EQ(log.persisted_index(), 2u);
  log.append(make_entries(run(3, {1, 1})));
  EXPECT_EQ(log.persisted_index(), 2u);
  log.stable_to(3, 1);
  EXPECT_EQ(log.persisted_index(), 3u);
  // Overwriting below the durable point lowers it.
  log.append(make_entries(run(2, {2})));
  EXPECT_EQ(log.persisted_index(), 1u);
  // An incoming snapshot that is not durable: nothing counts as persisted.
  log.restore(snap(10, 3));
  EXPECT_EQ(log.persisted_index(), 0u);
  log.stable_snap_to(10);
  EXPECT_EQ(log.persisted_index(), 10u);
}

// ---------------------------------------------------------------------------------------------
// Terms and reads

TEST(RaftLogTest, Term) {
  const uint64_t offset = 100, num = 100;
  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(offset, 1)));
  RaftLog log(storage);
  for (uint64_t i = 1; i < num; ++i) log.append({ent(offset + i, i)});
  struct Case {
    uint64_t index;
    Error err;
    uint64_t term;
  };
  const Case cases[] = {
      {offset - 1, Error::kCompacted, 0},
      {offset, Error::kOk, 1},  // the snapshot's term is known
      {offset + num / 2, Error::kOk, num / 2},
      {offset + num - 1, Error::kOk, num - 1},
      {offset + num, Error::kUnavailable, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    const auto t = log.term(c.index);
    if (c.err == Error::kOk) {
      EXPECT_EQ(must_term(t), c.term);
    } else {
      EXPECT_EQ(t.error(), c.err);
    }
    EXPECT_EQ(log.zero_term_on_err_compacted(c.index), c.term);
    EXPECT_EQ(log.match_term(c.index, c.term), c.err == Error::kOk);
  }
}

TEST(RaftLogTest, TermWithUnstableSnapshot) {
  const uint64_t storage_snap = 100, unstable_snap = storage_snap + 5;
  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(storage_snap, 1)));
  RaftLog log(storage);
  log.restore(snap(unstable_snap, 1));
  struct Case {
    uint64_t index;
    Error err;
    uint64_t term;
  };
  const Case cases[] = {
      // Cannot read the term of the storage snapshot: the unstable one replaced it.
      {storage_snap, Error::kCompacted, 0},
      {storage_snap + 1, Error::kCompacted, 0},
      {storage_snap - 1, Error::kCompacted, 0},
      {unstable_snap, Error::kOk, 1},
      {unstable_snap + 1, Error::kUnavailable, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    const auto t = log.term(c.index);
    if (c.err == Error::kOk) {
      EXPECT_EQ(must_term(t), c.term);
    } else {
      EXPECT_EQ(t.error(), c.err);
    }
  }
}

TEST(RaftLogTest, TermAcrossStorageCompaction) {
  // 750 entries in storage, 250 unstable; storage compacts to 500 underneath the log.
  const uint64_t last = 1000, stable = 750;
  MemoryStorage storage;
  for (uint64_t i = 1; i <= stable; ++i) ASSERT_FALSE(storage.append({ent(i, i)}));
  RaftLog log(storage);
  for (uint64_t i = stable; i < last; ++i) log.append({ent(i + 1, i + 1)});
  ASSERT_TRUE(log.maybe_commit(last, last));
  log.applied_to(log.committed());

  const uint64_t compact = 500;
  ASSERT_FALSE(storage.compact(compact));
  EXPECT_EQ(log.first_index(), compact + 1);
  EXPECT_EQ(log.last_index(), last);
  EXPECT_EQ(log.term(compact - 1).error(), Error::kCompacted);
  for (uint64_t j = compact; j <= last; ++j) {
    EXPECT_EQ(must_term(log.term(j)), j);
    EXPECT_TRUE(log.match_term(j, j));
  }
  const EntryVec next = log.next_unstable_entries();
  ASSERT_EQ(next.size(), 250u);
  EXPECT_EQ(next.front().index(), 751u);

  const uint64_t prev = log.last_index();
  log.append({ent(prev + 1, prev + 1)});
  EXPECT_EQ(log.last_index(), prev + 1);
  EXPECT_EQ(ids(log.entries(log.last_index(), kNoLimit)), (Ids{{prev + 1, prev + 1}}));
  EXPECT_EQ(log.entries(compact, kNoLimit).error(), Error::kCompacted);
  EXPECT_EQ(log.slice(compact - 10, compact + 10, kNoLimit).error(), Error::kCompacted);
  EXPECT_EQ(log.all_entries().front().index(), compact + 1);
}

TEST(RaftLogTest, LastTermAndEntries) {
  MemoryStorage storage;
  RaftLog log(storage);
  EXPECT_EQ(log.last_term(), 0u);
  EXPECT_TRUE(ids(log.entries(1, kNoLimit)).empty());
  log.append(make_entries(run(1, {1, 2, 2})));
  EXPECT_EQ(log.last_term(), 2u);
  EXPECT_EQ(ids(log.entries(2, kNoLimit)), run(2, {2, 2}));
  EXPECT_EQ(ids(log.entries(2, 0)), run(2, {2}));  // at least one
  EXPECT_TRUE(ids(log.entries(4, kNoLimit)).empty());
  EXPECT_TRUE(ids(log.entries(100, kNoLimit)).empty());
  EXPECT_EQ(log.entries(0, kNoLimit).error(), Error::kCompacted);
}

TEST(RaftLogTest, Slice) {
  // Indices are all two-byte varints (and terms equal indices), so every entry has the same
  // encoded size and the limits below are exact.
  const uint64_t offset = 200, num = 100;
  const uint64_t last = offset + num, half = offset + num / 2;
  const uint64_t size = entry_size(ent(half, half));
  ASSERT_EQ(entry_size(ent(offset + 1, offset + 1)), size);
  ASSERT_EQ(entry_size(ent(last, last)), size);

  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(offset, 1)));
  ASSERT_FALSE(storage.append(make_entries(range(offset + 1, half))));
  RaftLog log(storage);
  log.append(make_entries(range(half, last)));
  ASSERT_EQ(log.unstable().offset(), half);

  struct Case {
    uint64_t lo, hi, max_size;
    Ids want;
  };
  const Case cases[] = {
      // No limit.
      {offset + 1, offset + 1, kNoLimit, {}},
      {offset + 1, half - 1, kNoLimit, range(offset + 1, half - 1)},
      {offset + 1, half, kNoLimit, range(offset + 1, half)},
      {offset + 1, half + 1, kNoLimit, range(offset + 1, half + 1)},
      {offset + 1, last, kNoLimit, range(offset + 1, last)},
      {half - 1, half, kNoLimit, range(half - 1, half)},
      {half - 1, half + 1, kNoLimit, range(half - 1, half + 1)},
      {half - 1, half + 2, kNoLimit, range(half - 1, half + 2)},
      {half, half + 1, kNoLimit, range(half, half + 1)},
      {half, half + 2, kNoLimit, range(half, half + 2)},
      {last - 1, last, kNoLimit, range(last - 1, last)},
      {last, last, kNoLimit, {}},
      // At least one entry is always returned.
      {offset + 1, last, 0, range(offset + 1, offset + 2)},
      {half - 1, half + 1, 0, range(half - 1, half)},
      {half, last, 0, range(half, half + 1)},
      {half + 1, last, 0, range(half + 1, half + 2)},
      // Low limit.
      {offset + 1, last, size - 1, range(offset + 1, offset + 2)},
      {half - 1, half + 1, size - 1, range(half - 1, half)},
      {half, last, size - 1, range(half, half + 1)},
      // Just enough for one.
      {offset + 1, last, size, range(offset + 1, offset + 2)},
      {half - 1, half + 1, size, range(half - 1, half)},
      {half, last, size, range(half, half + 1)},
      // Not enough for two.
      {offset + 1, last, size + 1, range(offset + 1, offset + 2)},
      {half - 1, half + 1, size + 1, range(half - 1, half)},
      {half, last, size + 1, range(half, half + 1)},
      // Enough for two.
      {offset + 1, last, size * 2, range(offset + 1, offset + 3)},
      {half - 2, half + 1, size * 2, range(half - 2, half)},
      {half - 1, half + 1, size * 2, range(half - 1, half + 1)},
      {half, last, size * 2, range(half, half + 2)},
      // Not enough for three: the unstable entry that would overflow is left out.
      {half - 2, half + 1, size * 3 - 1, range(half - 2, half)},
      // Enough for three, across the boundary.
      {half - 1, half + 2, size * 3, range(half - 1, half + 2)},
      {half - 2, half + 2, size * 3, range(half - 2, half + 1)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "[" << c.lo << "," << c.hi << ") max " << c.max_size);
    EXPECT_EQ(ids(log.slice(c.lo, c.hi, c.max_size)), c.want);
  }

  // Compacted.
  EXPECT_EQ(log.slice(offset - 1, offset + 1, kNoLimit).error(), Error::kCompacted);
  EXPECT_EQ(log.slice(offset, offset + 1, kNoLimit).error(), Error::kCompacted);
  // Broken invariants.
  EXPECT_THROW(log.slice(half, half - 1, kNoLimit), InvariantViolation);  // lo > hi
  EXPECT_THROW(log.slice(last, last + 1, kNoLimit), InvariantViolation);  // past the end
}

TEST(RaftLogTest, SliceNeverSkipsAnEntryThatDidNotFit) {
  // Stable: 1 (small), 2 (large). Unstable: 3 (small). A limit that fits 1 and 3 but not 2 must
  // return [1] only: the result is always a contiguous prefix.
  MemoryStorage storage;
  ASSERT_FALSE(storage.append({ent(1, 1, "a"), ent(2, 1, std::string(1000, 'b'))}));
  RaftLog log(storage);
  log.append({ent(3, 1, "c")});
  const uint64_t small = entry_size(ent(1, 1, "a"));
  EXPECT_EQ(ids(log.slice(1, 4, 2 * small + 10)), run(1, {1}));
  EXPECT_EQ(ids(log.slice(1, 4, kNoLimit)), run(1, {1, 1, 1}));
  // From the large entry on: it comes alone (at least one), then the limit is spent.
  EXPECT_EQ(ids(log.slice(2, 4, small)), run(2, {1}));
}

TEST(RaftLogTest, SliceDoesNotReadStaleStableEntries) {
  // Storage holds 1..5 of term 1; the log overwrote from 3 with term 2 (not yet durable).
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1, 1, 1}))));
  RaftLog log(storage);
  log.commit_to(2);
  log.append(make_entries(run(3, {2})));
  EXPECT_EQ(ids(log.slice(1, 4, kNoLimit)), run(1, {1, 1, 2}));
  EXPECT_EQ(ids(log.slice(2, 4, kNoLimit)), run(2, {1, 2}));
  EXPECT_EQ(ids(log.slice(3, 4, kNoLimit)), run(3, {2}));
  EXPECT_THROW(log.slice(1, 5, kNoLimit), InvariantViolation);
}

TEST(RaftLogTest, AllEntries) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.apply_snapshot(snap(2, 1)));
  ASSERT_FALSE(storage.append(make_entries(run(3, {1, 2}))));
  RaftLog log(storage);
  log.append(make_entries(run(5, {2, 3})));
  EXPECT_EQ(ids(log.all_entries()), run(3, {1, 2, 2, 3}));
}

}  // namespace
}  // namespace raft
