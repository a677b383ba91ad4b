// Unstable: the not-yet-durable tail of the log, table-driven in the spirit of etcd raft's
// log_unstable_test.go. States are built through the public API only.
#include "raft/log_unstable.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "raft/logger.h"
#include "raft/types.h"
#include "tests/raft/support/log_entries.h"

namespace raft {
namespace {

using namespace logtest;  // NOLINT: test builders

// Captures log lines so tests can check that ignored calls are reported.
class CapturingLogger final : public Logger {
 public:
  void log(LogLevel level, uint64_t, uint64_t, std::string_view message) override {
    lines.emplace_back(level, std::string(message));
  }
  LogLevel level() const override { return LogLevel::kDebug; }
  std::vector<std::pair<LogLevel, std::string>> lines;
};

// The state of an Unstable, as etcd's tests describe it.
struct State {
  Ids entries;
  uint64_t offset = 0;
  uint64_t offset_in_progress = 0;
  std::optional<Snapshot> snapshot;
  bool snapshot_in_progress = false;
};

// Builds `s` through the public API: restore the snapshot, append the entries that are in
// progress, accept, append the rest.
Unstable build(const State& s, const NodeLogger* logger = null_node_logger()) {
  Unstable u(s.offset, logger);
  if (s.snapshot) {
    EXPECT_EQ(s.offset, s.snapshot->metadata().index() + 1) << "bad test state";
    u.restore(*s.snapshot);
  }
  const EntryVec all = make_entries(s.entries);
  const size_t in_progress = s.offset_in_progress - s.offset;
  EXPECT_LE(in_progress, all.size()) << "bad test state";
  if (in_progress > 0 || s.snapshot_in_progress) {
    EXPECT_TRUE(!s.snapshot || s.snapshot_in_progress)
        << "bad test state: accepting entries also accepts the snapshot";
    u.truncate_and_append(EntryVec(all.begin(), all.begin() + static_cast<long>(in_progress)));
    u.accept_in_progress();
  }
  u.truncate_and_append(EntryVec(all.begin() + static_cast<long>(in_progress), all.end()));

  EXPECT_EQ(u.offset(), s.offset);
  EXPECT_EQ(u.offset_in_progress(), s.offset_in_progress);
  EXPECT_EQ(ids(u.entries()), s.entries);
  EXPECT_EQ(u.snapshot().has_value(), s.snapshot.has_value());
  EXPECT_EQ(u.snapshot_in_progress(), s.snapshot_in_progress);
  return u;
}

void expect_state(const Unstable& u, const State& want) {
  EXPECT_EQ(ids(u.entries()), want.entries);
  EXPECT_EQ(u.offset(), want.offset);
  EXPECT_EQ(u.offset_in_progress(), want.offset_in_progress);
  ASSERT_EQ(u.snapshot().has_value(), want.snapshot.has_value());
  if (want.snapshot) {
    EXPECT_EQ(u.snapshot()->metadata().index(), want.snapshot->metadata().index());
    EXPECT_EQ(u.snapshot()->metadata().term(), want.snapshot->metadata().term());
  }
  EXPECT_EQ(u.snapshot_in_progress(), want.snapshot_in_progress);
}

TEST(UnstableTest, MaybeFirstIndex) {
  struct Case {
    State state;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      // No snapshot: the first index is storage's business.
      {{run(5, {1}), 5, 5, {}, false}, std::nullopt},
      {{{}, 0, 0, {}, false}, std::nullopt},
      // A snapshot: the index after it.
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 5},
      {{{}, 5, 5, snap(4, 1), false}, 5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    EXPECT_EQ(build(c.state).maybe_first_index(), c.want);
  }
}

TEST(UnstableTest, MaybeLastIndex) {
  struct Case {
    State state;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      // The last entry.
      {{run(5, {1}), 5, 5, {}, false}, 5},
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 5},
      // The snapshot.
      {{{}, 5, 5, snap(4, 1), false}, 4},
      // Nothing.
      {{{}, 0, 0, {}, false}, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    EXPECT_EQ(build(c.state).maybe_last_index(), c.want);
  }
}

TEST(UnstableTest, MaybeTerm) {
  struct Case {
    State state;
    uint64_t index;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      // From the entries.
      {{run(5, {1}), 5, 5, {}, false}, 5, 1},
      {{run(5, {1}), 5, 5, {}, false}, 6, std::nullopt},
      {{run(5, {1}), 5, 5, {}, false}, 4, std::nullopt},
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 5, 1},
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 6, std::nullopt},
      // From the snapshot.
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 4, 1},
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 3, std::nullopt},
      {{{}, 5, 5, snap(4, 1), false}, 5, std::nullopt},
      {{{}, 5, 5, snap(4, 1), false}, 4, 1},
      {{{}, 0, 0, {}, false}, 5, std::nullopt},
      {{run(5, {1, 2, 3}), 5, 5, {}, false}, 6, 2},
      {{run(5, {1, 2, 3}), 5, 5, {}, false}, 7, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    EXPECT_EQ(build(c.state).maybe_term(c.index), c.want);
  }
}

TEST(UnstableTest, Restore) {
  Unstable u = build({run(5, {1}), 5, 6, snap(4, 1), true});
  u.restore(snap(6, 2));
  expect_state(u, {{}, 7, 7, snap(6, 2), false});
  EXPECT_EQ(u.maybe_first_index(), 7u);
  EXPECT_EQ(u.maybe_last_index(), 6u);
  EXPECT_EQ(u.maybe_term(6), 2u);
  ASSERT_NE(u.next_snapshot(), nullptr);
  EXPECT_EQ(u.next_snapshot()->metadata().index(), 6u);
}

TEST(UnstableTest, NextEntries) {
  struct Case {
    State state;
    Ids want;
  };
  const Case cases[] = {
      // Nothing in progress.
      {{run(5, {1, 1}), 5, 5, {}, false}, run(5, {1, 1})},
      // Partially in progress.
      {{run(5, {1, 1}), 5, 6, {}, false}, run(6, {1})},
      // Everything in progress.
      {{run(5, {1, 1}), 5, 7, {}, false}, {}},
      // Nothing at all.
      {{{}, 5, 5, {}, false}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    Unstable u = build(c.state);
    EXPECT_EQ(ids(u.next_entries()), c.want);
    EXPECT_EQ(u.has_next_entries(), !c.want.empty());
  }
}

TEST(UnstableTest, NextSnapshot) {
  EXPECT_EQ(build({{}, 5, 5, {}, false}).next_snapshot(), nullptr);
  Unstable pending = build({{}, 5, 5, snap(4, 1), false});
  ASSERT_NE(pending.next_snapshot(), nullptr);
  EXPECT_EQ(pending.next_snapshot()->metadata().index(), 4u);
  EXPECT_EQ(build({{}, 5, 5, snap(4, 1), true}).next_snapshot(), nullptr);
}

TEST(UnstableTest, AcceptInProgress) {
  struct Case {
    State state;
    uint64_t want_offset_in_progress;
    bool want_snapshot_in_progress;
  };
  const Case cases[] = {
      {{{}, 5, 5, {}, false}, 5, false},  // no entries
      {{run(5, {1}), 5, 5, {}, false}, 6, false},
      {{run(5, {1, 1}), 5, 5, {}, false}, 7, false},
      {{run(5, {1, 1}), 5, 6, {}, false}, 7, false},
      {{run(5, {1, 1}), 5, 7, {}, false}, 7, false},
      // With a snapshot.
      {{{}, 5, 5, snap(4, 1), false}, 5, true},  // no entries
      {{run(5, {1}), 5, 5, snap(4, 1), false}, 6, true},
      {{run(5, {1, 1}), 5, 5, snap(4, 1), false}, 7, true},
      {{{}, 5, 5, snap(4, 1), true}, 5, true},
      {{run(5, {1}), 5, 5, snap(4, 1), true}, 6, true},
      {{run(5, {1, 1}), 5, 6, snap(4, 1), true}, 7, true},
      {{run(5, {1, 1}), 5, 7, snap(4, 1), true}, 7, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    Unstable u = build(c.state);
    u.accept_in_progress();
    EXPECT_EQ(u.offset_in_progress(), c.want_offset_in_progress);
    EXPECT_EQ(u.snapshot_in_progress(), c.want_snapshot_in_progress);
    EXPECT_TRUE(u.next_entries().empty());
    EXPECT_EQ(u.next_snapshot(), nullptr);
    // Nothing else changes.
    EXPECT_EQ(u.offset(), c.state.offset);
    EXPECT_EQ(ids(u.entries()), c.state.entries);
  }
}

TEST(UnstableTest, StableTo) {
  struct Case {
    State state;
    uint64_t index, term;
    uint64_t want_offset, want_offset_in_progress;
    size_t want_len;
    bool ignored;
  };
  const Case cases[] = {
      {{{}, 0, 0, {}, false}, 5, 1, 0, 0, 0, true},
      // Stable to the first entry.
      {{run(5, {1}), 5, 6, {}, false}, 5, 1, 6, 6, 0, false},
      {{run(5, {1, 1}), 5, 6, {}, false}, 5, 1, 6, 6, 1, false},
      // ... with more in progress ahead.
      {{run(5, {1, 1}), 5, 7, {}, false}, 5, 1, 6, 7, 1, false},
      // ... not yet accepted (written synchronously): in progress moves up with offset.
      {{run(5, {1, 1}), 5, 5, {}, false}, 5, 1, 6, 6, 1, false},
      // Stable to all.
      {{run(5, {1, 1}), 5, 7, {}, false}, 6, 1, 7, 7, 0, false},
      // Term mismatch: entry 6 was overwritten after the write began.
      {{run(6, {2}), 6, 7, {}, false}, 6, 1, 6, 7, 1, true},
      // Stable to an old entry (already stable).
      {{run(5, {1}), 5, 6, {}, false}, 4, 1, 5, 6, 1, true},
      {{run(5, {1}), 5, 6, {}, false}, 4, 2, 5, 6, 1, true},
      // Past the last entry.
      {{run(5, {1}), 5, 6, {}, false}, 6, 1, 5, 6, 1, true},
      // With a snapshot.
      {{run(5, {1}), 5, 6, snap(4, 1), true}, 5, 1, 6, 6, 0, false},
      {{run(5, {1, 1}), 5, 6, snap(4, 1), true}, 5, 1, 6, 6, 1, false},
      {{run(5, {1, 1}), 5, 7, snap(4, 1), true}, 5, 1, 6, 7, 1, false},
      {{run(6, {2}), 6, 7, snap(5, 1), true}, 6, 1, 6, 7, 1, true},
      // The snapshot's (index, term): not an entry, ignored.
      {{run(5, {1}), 5, 6, snap(4, 1), true}, 4, 1, 5, 6, 1, true},
      {{run(5, {2}), 5, 6, snap(4, 2), true}, 4, 1, 5, 6, 1, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    CapturingLogger sink;
    NodeLogger logger(&sink, 1);
    Unstable u = build(c.state, &logger);
    sink.lines.clear();
    u.stable_to(c.index, c.term);
    EXPECT_EQ(u.offset(), c.want_offset);
    EXPECT_EQ(u.offset_in_progress(), c.want_offset_in_progress);
    EXPECT_EQ(u.entries().size(), c.want_len);
    // The snapshot is stable_snap_to's business.
    EXPECT_EQ(u.snapshot().has_value(), c.state.snapshot.has_value());
    if (c.ignored) {
      ASSERT_EQ(sink.lines.size(), 1u);
      EXPECT_EQ(sink.lines[0].first, LogLevel::kInfo);
      EXPECT_NE(sink.lines[0].second.find("ignoring"), std::string::npos) << sink.lines[0].second;
    } else {
      EXPECT_TRUE(sink.lines.empty());
    }
  }
}

TEST(UnstableTest, StableSnapTo) {
  Unstable u = build({run(5, {1}), 5, 6, snap(4, 1), true});
  u.stable_snap_to(3);  // not the held snapshot
  EXPECT_TRUE(u.snapshot().has_value());
  EXPECT_TRUE(u.snapshot_in_progress());
  u.stable_snap_to(4);
  EXPECT_FALSE(u.snapshot().has_value());
  EXPECT_FALSE(u.snapshot_in_progress());
  EXPECT_EQ(u.maybe_first_index(), std::nullopt);
  // The entries are untouched.
  EXPECT_EQ(ids(u.entries()), run(5, {1}));
  EXPECT_EQ(u.offset(), 5u);
  // Again: a no-op.
  u.stable_snap_to(4);
  EXPECT_FALSE(u.snapshot().has_value());
}

TEST(UnstableTest, TruncateAndAppend) {
  struct Case {
    State state;
    Ids append;
    uint64_t want_offset, want_offset_in_progress;
    Ids want;
  };
  const Case cases[] = {
      // Append after the last entry.
      {{run(5, {1}), 5, 5, {}, false}, run(6, {1, 1}), 5, 5, run(5, {1, 1, 1})},
      {{run(5, {1}), 5, 6, {}, false}, run(6, {1, 1}), 5, 6, run(5, {1, 1, 1})},
      {{{}, 5, 5, {}, false}, run(5, {1}), 5, 5, run(5, {1})},
      // Replace all the unstable entries.
      {{run(5, {1}), 5, 5, {}, false}, run(5, {2, 2}), 5, 5, run(5, {2, 2})},
      {{run(5, {1}), 5, 5, {}, false}, run(4, {2, 2, 2}), 4, 4, run(4, {2, 2, 2})},
      {{run(5, {1}), 5, 6, {}, false}, run(5, {2, 2}), 5, 5, run(5, {2, 2})},
      {{{}, 5, 5, {}, false}, run(3, {2}), 3, 3, run(3, {2})},
      // Truncate the existing entries and append.
      {{run(5, {1, 1, 1}), 5, 5, {}, false}, run(6, {2}), 5, 5, run(5, {1, 2})},
      {{run(5, {1, 1, 1}), 5, 5, {}, false}, run(7, {2, 2}), 5, 5, run(5, {1, 1, 2, 2})},
      {{run(5, {1, 1, 1}), 5, 6, {}, false}, run(6, {2}), 5, 6, run(5, {1, 2})},
      {{run(5, {1, 1, 1}), 5, 7, {}, false}, run(6, {2}), 5, 6, run(5, {1, 2})},
      {{run(5, {1, 1, 1}), 5, 8, {}, false}, run(6, {2}), 5, 6, run(5, {1, 2})},
      {{run(5, {1, 1, 1}), 5, 8, {}, false}, run(7, {2}), 5, 7, run(5, {1, 1, 2})},
      // Nothing to append: no change.
      {{run(5, {1, 1}), 5, 6, {}, false}, {}, 5, 6, run(5, {1, 1})},
      // After a snapshot.
      {{{}, 5, 5, snap(4, 1), true}, run(5, {1, 1}), 5, 5, run(5, {1, 1})},
      {{run(5, {1, 1}), 5, 7, snap(4, 1), true}, run(5, {2}), 5, 5, run(5, {2})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(&c - cases);
    Unstable u = build(c.state);
    u.truncate_and_append(make_entries(c.append));
    EXPECT_EQ(u.offset(), c.want_offset);
    EXPECT_EQ(u.offset_in_progress(), c.want_offset_in_progress);
    EXPECT_EQ(ids(u.entries()), c.want);
    // A held snapshot stays (and stays in progress).
    EXPECT_EQ(u.snapshot().has_value(), c.state.snapshot.has_value());
    EXPECT_EQ(u.snapshot_in_progress(), c.state.snapshot_in_progress);
  }
}

TEST(UnstableTest, TruncateAndAppendWithGapIsFatal) {
  Unstable u = build({run(5, {1, 1}), 5, 5, {}, false});
  EXPECT_THROW(u.truncate_and_append({ent(8, 1)}), InvariantViolation);
  Unstable empty = build({{}, 5, 5, {}, false});
  EXPECT_THROW(empty.truncate_and_append({ent(6, 1)}), InvariantViolation);
}

TEST(UnstableTest, TruncatedEntriesAreHandedOutAgain) {
  // Entries 5..7 are being written when a new leader overwrites 6 on: the rewritten entries must
  // be handed out again, and the old write's completion must not mark them stable.
  Unstable u = build({run(5, {1, 1, 1}), 5, 8, {}, false});
  EXPECT_TRUE(u.next_entries().empty());
  u.truncate_and_append(make_entries(run(6, {2, 2})));
  EXPECT_EQ(ids(u.next_entries()), run(6, {2, 2}));
  u.stable_to(7, 1);  // the old write of (7, 1) finished
  EXPECT_EQ(u.offset(), 5u);
  u.stable_to(5, 1);  // entry 5 was not overwritten
  EXPECT_EQ(u.offset(), 6u);
  EXPECT_EQ(ids(u.next_entries()), run(6, {2, 2}));
  u.accept_in_progress();
  u.stable_to(7, 2);
  EXPECT_EQ(u.offset(), 8u);
  EXPECT_EQ(u.offset_in_progress(), 8u);
  EXPECT_TRUE(u.entries().empty());
}

TEST(UnstableTest, Slice) {
  Unstable u = build({run(5, {1, 2, 3}), 5, 5, {}, false});
  EXPECT_EQ(ids(u.slice(5, 8)), run(5, {1, 2, 3}));
  EXPECT_EQ(ids(u.slice(6, 7)), run(6, {2}));
  EXPECT_TRUE(u.slice(5, 5).empty());
  EXPECT_TRUE(u.slice(8, 8).empty());
  EXPECT_THROW(u.slice(7, 6), InvariantViolation);  // lo > hi
  EXPECT_THROW(u.slice(4, 6), InvariantViolation);  // below offset
  EXPECT_THROW(u.slice(6, 9), InvariantViolation);  // past the last entry
  Unstable empty = build({{}, 5, 5, {}, false});
  EXPECT_TRUE(empty.slice(5, 5).empty());
  EXPECT_THROW(empty.slice(5, 6), InvariantViolation);
}

TEST(UnstableTest, FatalSliceIsLoggedWithNodeId) {
  CapturingLogger sink;
  NodeLogger logger(&sink, 7);
  Unstable u(5, &logger);
  try {
    u.slice(5, 6);
    FAIL() << "expected InvariantViolation";
  } catch (const InvariantViolation& e) {
    EXPECT_NE(std::string(e.what()).find("node 7"), std::string::npos) << e.what();
  }
  ASSERT_FALSE(sink.lines.empty());
  EXPECT_EQ(sink.lines.back().first, LogLevel::kFatal);
}

TEST(UnstableTest, StableToReleasesMemory) {
  Unstable u(1);
  EntryVec many;
  for (uint64_t i = 1; i <= 1000; ++i) many.push_back(ent(i, 1));
  u.truncate_and_append(many);
  u.accept_in_progress();
  u.stable_to(990, 1);
  EXPECT_EQ(u.entries().size(), 10u);
  EXPECT_LE(u.entries().capacity(), 2 * u.entries().size());
  EXPECT_EQ(ids(u.entries()).front(), (std::pair<uint64_t, uint64_t>{991, 1}));
  u.stable_to(1000, 1);
  EXPECT_TRUE(u.entries().empty());
  EXPECT_EQ(u.entries().capacity(), 0u);
  EXPECT_EQ(u.offset(), 1001u);
}

}  // namespace
}  // namespace raft
