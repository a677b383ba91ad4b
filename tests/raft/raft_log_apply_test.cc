// RaftLog, part two: handing committed entries out for applying (bounded by durability and by
// size), and snapshots (restore, and the snapshot sent to a follower).
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

uint64_t must_term(const Result<uint64_t>& t) {
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? *t : 0;
}

// ---------------------------------------------------------------------------------------------
// Applying

// Storage snapshot (3, 1) and entry 4; the log has 4..6 of term 1 with 4 durable, committed 5.
struct ApplyFixture {
  MemoryStorage storage;
  RaftLog log{fill(storage)};

  static const MemoryStorage& fill(MemoryStorage& s) {
    EXPECT_FALSE(s.apply_snapshot(snap(3, 1)));
    EXPECT_FALSE(s.append(make_entries(run(4, {1}))));
    return s;
  }

  explicit ApplyFixture(uint64_t durable_to) {
    log.append(make_entries(run(4, {1, 1, 1})));
    // The driver writes 4..durable_to, then reports it.
    EXPECT_FALSE(storage.append(*log.slice(4, durable_to + 1, kNoLimit)));
    log.stable_to(durable_to, 1);
    EXPECT_TRUE(log.maybe_commit(5, 1));
  }
};

TEST(RaftLogTest, NextCommittedEntriesBoundedByCommitAndPersisted) {
  struct Case {
    uint64_t durable_to;
    uint64_t applied, applying;
    Ids want;
  };
  const Case cases[] = {
      // Only 4 is durable.
      {4, 3, 3, run(4, {1})},
      {4, 3, 4, {}},
      {4, 4, 4, {}},
      // 4 and 5 durable.
      {5, 3, 3, run(4, {1, 1})},
      {5, 3, 4, run(5, {1})},
      {5, 4, 4, run(5, {1})},
      {5, 3, 5, {}},
      {5, 4, 5, {}},
      {5, 5, 5, {}},
      // All durable: bounded by committed (5).
      {6, 3, 3, run(4, {1, 1})},
      {6, 4, 5, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    ApplyFixture f(c.durable_to);
    f.log.applied_to(c.applied);
    f.log.accept_applying(c.applying, 0);
    EXPECT_EQ(f.log.applied(), c.applied);
    EXPECT_EQ(f.log.applying(), c.applying);
    EXPECT_EQ(f.log.has_next_committed_entries(), !c.want.empty());
    EXPECT_EQ(ids(f.log.next_committed_entries()), c.want);
  }
}

TEST(RaftLogTest, NoCommittedEntriesWhileSnapshotPending) {
  ApplyFixture f(6);
  ASSERT_TRUE(f.log.has_next_committed_entries());
  f.log.restore(snap(8, 2));
  EXPECT_FALSE(f.log.has_next_committed_entries());
  EXPECT_TRUE(f.log.next_committed_entries().empty());
  f.log.accept_unstable();  // in progress, still pending
  EXPECT_FALSE(f.log.has_next_committed_entries());
}

// The encoded size of every entry of SizedFixture (indices below 128 encode in one byte).
uint64_t sized_entry_bytes() { return entry_size(ent(1, 1, std::string(100, 'x'))); }

// Entries 1..n of term 1, each of sized_entry_bytes(), durable and committed.
struct SizedFixture {
  MemoryStorage storage;
  RaftLog log;
  uint64_t size = sized_entry_bytes();

  SizedFixture(uint64_t n, uint64_t max_applying_size)
      : log(storage, null_node_logger(), max_applying_size) {
    add(n);
  }
  void add(uint64_t n) {
    EntryVec more;
    for (uint64_t i = 0; i < n; ++i) {
      more.push_back(ent(log.last_index() + 1 + i, 1, std::string(100, 'x')));
    }
    log.append(more);
    EXPECT_FALSE(storage.append(log.next_unstable_entries()));
    log.stable_to(more.back().index(), 1);
    log.commit_to(log.last_index());
  }
  // Takes the next batch as the Raft layer would: hands it out and accepts it.
  Ids take() {
    EntryVec batch = log.next_committed_entries();
    uint64_t bytes = 0;
    for (const Entry& e : batch) bytes += entry_size(e);
    if (!batch.empty()) log.accept_applying(batch.back().index(), bytes);
    return ids(batch);
  }
};

TEST(RaftLogTest, NextCommittedEntriesUnlimited) {
  SizedFixture f(5, kNoLimit);
  EXPECT_EQ(f.take(), run(1, {1, 1, 1, 1, 1}));
  EXPECT_FALSE(f.log.has_next_committed_entries());
  f.add(2);
  EXPECT_EQ(f.take(), run(6, {1, 1}));  // not paused: the previous batch was not cut short
}

TEST(RaftLogTest, NextCommittedEntriesPauseWhenBudgetUsedUp) {
  SizedFixture f(5, 2 * sized_entry_bytes());
  EXPECT_EQ(f.take(), run(1, {1, 1}));
  // The budget is used up: nothing more until something is applied.
  EXPECT_FALSE(f.log.has_next_committed_entries());
  EXPECT_TRUE(f.log.next_committed_entries().empty());
  // Part of the batch applied: its bytes are still outstanding.
  f.log.applied_to(1);
  EXPECT_FALSE(f.log.has_next_committed_entries());
  f.log.applied_to(2);
  EXPECT_EQ(f.take(), run(3, {1, 1}));
  f.log.applied_to(4);
  EXPECT_EQ(f.take(), run(5, {1}));  // not cut short, half the budget used
  EXPECT_FALSE(f.log.has_next_committed_entries());
  f.add(2);
  // Only what is left of the budget: one entry.
  EXPECT_EQ(f.take(), run(6, {1}));
  EXPECT_FALSE(f.log.has_next_committed_entries());
  // Applying the older batch frees its bytes only.
  f.log.applied_to(5);
  EXPECT_EQ(f.take(), run(7, {1}));
  f.log.applied_to(7);
  EXPECT_FALSE(f.log.has_next_committed_entries());
  EXPECT_EQ(f.log.applied(), 7u);
}

TEST(RaftLogTest, NextCommittedEntriesPauseWhenBatchCutShort) {
  SizedFixture f(5, 2 * sized_entry_bytes() + sized_entry_bytes() / 2);
  EXPECT_EQ(f.take(), run(1, {1, 1}));
  // Half an entry of budget left, and entry 3 did not fit: paused rather than overshoot.
  EXPECT_FALSE(f.log.has_next_committed_entries());
  f.log.applied_to(2);
  EXPECT_EQ(f.take(), run(3, {1, 1}));
  f.log.applied_to(4);
  EXPECT_EQ(f.take(), run(5, {1}));
}

TEST(RaftLogTest, NextCommittedEntriesOversizedEntryStillProgresses) {
  SizedFixture f(3, sized_entry_bytes() / 2);
  for (uint64_t i = 1; i <= 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(f.take(), run(i, {1}));
    EXPECT_FALSE(f.log.has_next_committed_entries());
    f.log.applied_to(i);
  }
  EXPECT_EQ(f.log.applied(), 3u);
}

TEST(RaftLogTest, AcceptApplyingAndAppliedToBounds) {
  ApplyFixture f(6);
  EXPECT_THROW(f.log.accept_applying(6, 0), InvariantViolation);  // past committed
  f.log.accept_applying(4, 0);
  EXPECT_THROW(f.log.accept_applying(3, 0), InvariantViolation);  // applying falls
  EXPECT_THROW(f.log.applied_to(6), InvariantViolation);          // past committed
  f.log.applied_to(4);
  EXPECT_THROW(f.log.applied_to(3), InvariantViolation);  // applied falls
  // Applied may pass applying (a snapshot is applied in one step).
  f.log.applied_to(5);
  EXPECT_EQ(f.log.applied(), 5u);
  EXPECT_EQ(f.log.applying(), 5u);
}

TEST(RaftLogTest, SetApplied) {
  ApplyFixture f(6);
  f.log.set_applied(4);
  EXPECT_EQ(f.log.applied(), 4u);
  EXPECT_EQ(f.log.applying(), 4u);
  EXPECT_EQ(ids(f.log.next_committed_entries()), run(5, {1}));
  EXPECT_THROW(f.log.set_applied(6), InvariantViolation);  // past committed
  EXPECT_THROW(f.log.set_applied(3), InvariantViolation);  // below applied
}

// ---------------------------------------------------------------------------------------------
// Snapshots

TEST(RaftLogTest, RestoreFromSnapshot) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1}))));
  RaftLog log(storage);
  log.append(make_entries(run(4, {1})));
  log.commit_to(2);
  log.applied_to(1);

  log.restore(snap(10, 2));
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(log.applied(), 1u);  // the Raft layer applies the snapshot
  EXPECT_EQ(log.applying(), 1u);
  EXPECT_EQ(log.first_index(), 11u);
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.last_term(), 2u);
  EXPECT_EQ(log.term(9).error(), Error::kCompacted);
  EXPECT_TRUE(log.all_entries().empty());
  EXPECT_FALSE(log.has_next_unstable_entries());
  EXPECT_TRUE(log.has_next_or_in_progress_snapshot());
  ASSERT_NE(log.next_unstable_snapshot(), nullptr);
  EXPECT_EQ(log.next_unstable_snapshot()->metadata().index(), 10u);
  EXPECT_FALSE(log.has_next_committed_entries());
  EXPECT_TRUE(log.is_up_to_date(10, 2));
  EXPECT_FALSE(log.is_up_to_date(100, 1));

  // The driver takes it, persists and applies it.
  log.accept_unstable();
  EXPECT_EQ(log.next_unstable_snapshot(), nullptr);
  EXPECT_TRUE(log.has_next_or_in_progress_snapshot());
  ASSERT_FALSE(storage.apply_snapshot(snap(10, 2)));
  log.stable_snap_to(10);
  EXPECT_FALSE(log.has_next_or_in_progress_snapshot());
  EXPECT_EQ(log.first_index(), 11u);
  EXPECT_EQ(must_term(log.term(10)), 2u);
  // Not yet reported applied: nothing after it may be applied.
  log.append(make_entries(run(11, {2})));
  ASSERT_FALSE(storage.append(log.next_unstable_entries()));
  log.stable_to(11, 2);
  log.commit_to(11);
  EXPECT_FALSE(log.has_next_committed_entries());
  log.applied_to(10);
  EXPECT_EQ(log.applied(), 10u);
  EXPECT_EQ(log.applying(), 10u);
  EXPECT_EQ(ids(log.next_committed_entries()), run(11, {2}));
}

TEST(RaftLogTest, RestoreBelowCommittedIsFatal) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append(make_entries(run(1, {1, 1, 1})));
  log.commit_to(3);
  EXPECT_THROW(log.restore(snap(2, 1)), InvariantViolation);
  EXPECT_EQ(log.committed(), 3u);
  EXPECT_FALSE(log.has_next_or_in_progress_snapshot());
}

TEST(RaftLogTest, SnapshotForFollower) {
  MemoryStorage storage;
  ASSERT_FALSE(storage.append(make_entries(run(1, {1, 1, 1}))));
  ASSERT_TRUE(storage.create_snapshot(2, nullptr, "stored").ok());
  RaftLog log(storage);

  auto from_storage = log.snapshot(0);
  ASSERT_TRUE(from_storage.ok());
  EXPECT_EQ(from_storage->metadata().index(), 2u);
  EXPECT_EQ(from_storage->data(), "stored");
  storage.set_snapshot_unavailable(true);
  EXPECT_EQ(log.snapshot(0).error(), Error::kSnapshotTemporarilyUnavailable);
  storage.set_snapshot_unavailable(false);

  Snapshot incoming = snap(8, 2);
  incoming.set_data("incoming");
  log.restore(incoming);
  auto pending = log.snapshot(0);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->data(), "incoming");
  EXPECT_EQ(log.snapshot(8)->data(), "incoming");
  // The pending one does not cover index 9; storage's does not either.
  EXPECT_EQ(log.snapshot(9).error(), Error::kSnapshotTemporarilyUnavailable);
}

TEST(RaftLogTest, FatalCarriesNodeIdAndTerm) {
  class Sink final : public Logger {
   public:
    void log(LogLevel level, uint64_t id, uint64_t term, std::string_view) override {
      if (level == LogLevel::kFatal) fatal = {id, term};
    }
    std::pair<uint64_t, uint64_t> fatal{0, 0};
  } sink;
  NodeLogger logger(&sink, 3);
  logger.set_term(9);
  MemoryStorage storage;
  RaftLog log(storage, &logger);
  EXPECT_THROW(log.commit_to(1), InvariantViolation);
  EXPECT_EQ(sink.fatal, (std::pair<uint64_t, uint64_t>{3, 9}));
}

}  // namespace
}  // namespace raft
