// The WAL under a failing disk (wal/wal.h, "Durability"), with failures injected by
// tests/wal/support/faulty_file_system.h:
//
//   - ENOSPC from fallocate while starting a segment: the append fails with ENOSPC, nothing is
//     written, the WAL stays usable and the same append succeeds once space is freed;
//   - ENOSPC part way through a write, and EIO from fdatasync (once, or from then on): the call
//     fails with that error and the WAL is failed: every later write returns kFailed carrying the
//     first message, and touches nothing on disk;
//   - in every case a reopen with the real file system serves every entry whose sync returned OK,
//     intact, followed by at most a contiguous, intact part of what was written after it.
#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "tests/wal/support/derived_entries.h"
#include "tests/wal/support/faulty_file_system.h"
#include "tests/wal/support/temp_dir.h"
#include "wal/wal.h"

namespace wal::testing {
namespace {

constexpr uint64_t kSegmentSize = 4096;
const std::error_code kNoSpace(ENOSPC, std::generic_category());
const std::error_code kIo(EIO, std::generic_category());

WalOptions options(FileSystem* fs) {
  WalOptions o;
  o.segment_size = kSegmentSize;
  o.cache_bytes = 1 << 16;
  o.fs = fs;
  return o;
}

// Entries appended in order at the end of the log, from index 1 — including those of an append
// that failed, which may have reached the disk in part — and how many a sync acknowledged.
struct Model {
  raft::EntryVec entries;  // entries[i] has index i + 1
  uint64_t acked = 0;

  raft::EntryVec next(uint64_t n) const {
    const uint64_t first = entries.size() + 1;
    return derived_entries(first, n, 1 + first / 20);
  }
};

// Appends `n`-entry batches with a sync after each until a call fails (returned) or `batches`
// are done (OK).
Status run_batches(Wal& wal, Model& m, std::mt19937_64& rng, int batches) {
  for (int b = 0; b < batches; ++b) {
    const raft::EntryVec batch = m.next(1 + rng() % 4);
    m.entries.insert(m.entries.end(), batch.begin(), batch.end());
    if (Status s = wal.append(batch); !s.ok()) return s;
    if (Status s = wal.sync(); !s.ok()) return s;
    m.acked = m.entries.size();
  }
  return {};
}

bool has_tmp_file(const std::string& dir) {
  for (const auto& [name, bytes] : read_dir(dir)) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) return true;
  }
  return false;
}

// Reopens `dir` with the real file system: the log is 1..k for some k in [acked, appended], each
// entry as appended; then it takes new entries and reopens with nothing to cut.
void check_reopen(const std::string& dir, const Model& m) {
  SCOPED_TRACE(::testing::Message()
               << "reopen after acked=" << m.acked << " appended=" << m.entries.size());
  WalOpenInfo info;
  auto w = Wal::open(dir, options(nullptr), &info);
  ASSERT_TRUE(w.ok()) << describe_status(w.status());
  Wal& wal = *w.value();
  EXPECT_EQ(wal.first_index(), 1u);
  ASSERT_GE(wal.last_index(), m.acked) << "an acknowledged entry is gone";
  ASSERT_LE(wal.last_index(), m.entries.size()) << "entries nobody appended";
  const raft::EntryVec got = read_all(wal);
  ASSERT_EQ(got.size(), wal.last_index());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(same_entry(got[i], m.entries[i]))
        << "got " << describe_entry(got[i]) << ", want " << describe_entry(m.entries[i]);
  }
  Model grown;
  grown.entries = got;
  const raft::EntryVec more = grown.next(3);
  ASSERT_TRUE(wal.append(more).ok());
  ASSERT_TRUE(wal.sync().ok());
  w.value().reset();
  WalOpenInfo again;
  auto w2 = Wal::open(dir, options(nullptr), &again);
  ASSERT_TRUE(w2.ok()) << describe_status(w2.status());
  EXPECT_EQ(again.torn_bytes, 0u);
  EXPECT_EQ(w2.value()->last_index(), got.size() + 3);
}

// A failed WAL refuses every write with kFailed carrying `first`, without touching the disk.
void check_failed(Wal& wal, const FaultyFileSystem& fs, const Status& first, const Model& m) {
  const FileSystemCounters before = fs.counters();
  const uint64_t first_index = wal.first_index();
  const uint64_t last_index = wal.last_index();
  const std::vector<std::pair<const char*, Status>> calls = {
      {"append", wal.append(m.next(1))},          {"sync", wal.sync()},
      {"truncate", wal.truncate(last_index + 1)}, {"reset", wal.reset(last_index + 10, 99)},
      {"compact", wal.compact(first_index - 1)},  {"sync again", wal.sync()},
  };
  for (const auto& [what, s] : calls) {
    EXPECT_EQ(s.code(), make_error_code(Error::kFailed)) << what << ": " << describe_status(s);
    EXPECT_NE(s.message().find(first.message()), std::string::npos)
        << what << " does not carry the first error \"" << first.message() << "\": " << s.message();
  }
  const FileSystemCounters after = fs.counters();
  EXPECT_EQ(after.writes, before.writes) << "a failed WAL wrote";
  EXPECT_EQ(after.syncs, before.syncs) << "a failed WAL synced";
  EXPECT_EQ(after.allocates, before.allocates);
  EXPECT_EQ(after.renames + after.removes, before.renames + before.removes);
}

// --- ENOSPC from fallocate: the WAL stays usable ---

TEST(WalFaults, NoSpaceForANewSegmentFailsOnlyThatAppend) {
  TempDir dir;
  FaultyFileSystem fs;
  auto w = Wal::open(dir.path(), options(&fs));
  ASSERT_TRUE(w.ok()) << describe_status(w.status());
  Wal& wal = *w.value();
  Model m;
  std::mt19937_64 rng(1);
  const uint64_t segments = wal.stats().segments;
  fs.fail_allocate(1);  // one more segment, then the disk is full

  Status failed;
  for (int i = 0; i < 500 && failed.ok(); ++i) {
    const FileSystemCounters before = fs.counters();
    const uint64_t bytes_before = wal.stats().bytes_written;
    const raft::EntryVec one = m.next(1);
    failed = wal.append(one);
    if (failed.ok()) {
      m.entries.push_back(one[0]);
      ASSERT_TRUE(wal.sync().ok());
      m.acked = m.entries.size();
      continue;
    }
    EXPECT_EQ(failed.code(), kNoSpace) << describe_status(failed);
    EXPECT_EQ(fs.counters().writes, before.writes) << "the failed append wrote";
    EXPECT_EQ(wal.stats().bytes_written, bytes_before);
    EXPECT_GE(fs.counters().allocate_failures, 1u);
  }
  ASSERT_FALSE(failed.ok()) << "the WAL never needed a third segment";
  EXPECT_EQ(wal.stats().segments, segments + 1);
  EXPECT_EQ(wal.last_index(), m.entries.size());

  // Still usable: it syncs, serves what it has, and refuses a batch with ENOSPC, not kFailed.
  EXPECT_TRUE(wal.sync().ok());
  EXPECT_EQ(read_all(wal).size(), m.entries.size());
  const uint64_t writes = fs.counters().writes;
  const Status batch = wal.append(m.next(3));
  EXPECT_EQ(batch.code(), kNoSpace) << describe_status(batch);
  EXPECT_EQ(fs.counters().writes, writes)
      << "a batch that needs a new segment wrote part of itself";
  EXPECT_EQ(wal.last_index(), m.entries.size());

  // Space is freed: the same appends succeed, in a new segment.
  fs.clear_faults();
  ASSERT_TRUE(run_batches(wal, m, rng, 12).ok());
  EXPECT_GE(wal.stats().segments, segments + 2);
  w.value().reset();
  EXPECT_FALSE(has_tmp_file(dir.path())) << "a half-made segment was left behind";
  check_reopen(dir.path(), m);
}

TEST(WalFaults, NoSpaceForTheFirstSegmentFailsOpen) {
  TempDir dir;
  FaultyFileSystem fs;
  fs.fail_allocate(0);
  auto w = Wal::open(dir.sub("wal"), options(&fs));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), kNoSpace) << describe_status(w.status());
  fs.clear_faults();
  auto again = Wal::open(dir.sub("wal"), options(&fs));
  ASSERT_TRUE(again.ok()) << describe_status(again.status());
  EXPECT_EQ(again.value()->first_index(), 1u);
  EXPECT_EQ(again.value()->last_index(), 0u);
  Model m;
  std::mt19937_64 rng(2);
  EXPECT_TRUE(run_batches(*again.value(), m, rng, 3).ok());
}

// --- ENOSPC during a write: the WAL fails ---

// Runs batches under a write budget of `budget` bytes until a call fails, then checks the
// failure, the failed state, and the reopened log.
void write_budget_case(uint64_t budget, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "write budget " << budget << " seed " << seed);
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(seed);
  Model m;
  {
    auto w = Wal::open(dir.path(), options(&fs));
    ASSERT_TRUE(w.ok()) << describe_status(w.status());
    Wal& wal = *w.value();
    ASSERT_TRUE(run_batches(wal, m, rng, 2).ok());
    fs.limit_writes(budget);
    const Status first = run_batches(wal, m, rng, 200);
    ASSERT_FALSE(first.ok()) << "the budget was never used up";
    EXPECT_EQ(first.code(), kNoSpace) << describe_status(first);
    EXPECT_GE(fs.counters().write_failures, 1u);
    check_failed(wal, fs, first, m);
  }
  check_reopen(dir.path(), m);
}

TEST(WalFaults, NoSpaceDuringAWriteFailsTheWal) {
  // Budgets at the edges of the first records and headers, and seeded ones over three segments
  // (so some land in a new segment's header).
  std::vector<uint64_t> budgets = {0, 1, 15, 16, 17, 40, 41, 100};
  const uint64_t seed = 424242;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 40; ++i) budgets.push_back(rng() % (3 * kSegmentSize));
  for (uint64_t budget : budgets) {
    write_budget_case(budget, seed + budget);
    if (HasFailure()) return;
  }
}

// --- EIO from fdatasync: the WAL fails, even if a retry would succeed ---

void sync_fault_case(uint64_t after, bool sticky, uint64_t seed) {
  SCOPED_TRACE(::testing::Message()
               << "fdatasync fails after " << after << " calls"
               << (sticky ? ", and from then on" : ", once") << "; seed " << seed);
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(seed);
  Model m;
  {
    auto w = Wal::open(dir.path(), options(&fs));
    ASSERT_TRUE(w.ok()) << describe_status(w.status());
    Wal& wal = *w.value();
    ASSERT_TRUE(run_batches(wal, m, rng, 1).ok());
    fs.fail_sync_data(after, sticky);
    const Status first = run_batches(wal, m, rng, 200);
    ASSERT_FALSE(first.ok()) << "no fdatasync failed";
    EXPECT_EQ(first.code(), kIo) << describe_status(first);
    EXPECT_EQ(fs.counters().sync_failures, 1u);
    check_failed(wal, fs, first, m);
  }
  check_reopen(dir.path(), m);
}

TEST(WalFaults, FailedFsyncFailsTheWal) {
  // The Nth fdatasync from the start of the workload, for every N over several segment rolls
  // (which sync the segment they leave and the header of the one they start).
  for (uint64_t after = 0; after < 24; ++after) {
    sync_fault_case(after, /*sticky=*/false, 1000 + after);
    if (HasFailure()) return;
  }
  for (uint64_t after : {0, 3, 9}) {
    sync_fault_case(after, /*sticky=*/true, 2000 + after);
    if (HasFailure()) return;
  }
}

// --- open() makes what it serves durable ---

TEST(WalFaults, OpenFailsWhenItCannotSyncTheLastSegment) {
  // Records a killed process wrote but never synced sit in the page cache; open() must sync
  // them before serving, or the node would acknowledge entries that are not durable.
  TempDir dir;
  Model m;
  std::mt19937_64 rng(11);
  {
    auto w = Wal::open(dir.path(), options(nullptr));
    ASSERT_TRUE(w.ok()) << describe_status(w.status());
    ASSERT_TRUE(run_batches(*w.value(), m, rng, 3).ok());
  }
  FaultyFileSystem fs;
  fs.fail_sync_data(0, /*sticky=*/true);
  auto w = Wal::open(dir.path(), options(&fs));
  ASSERT_FALSE(w.ok()) << "open() served the log without syncing it";
  EXPECT_EQ(w.status().code(), kIo) << describe_status(w.status());
  EXPECT_EQ(fs.counters().sync_failures, 1u);
  check_reopen(dir.path(), m);
}

// --- A failed directory sync: a segment roll or a compaction may not be durable ---

TEST(WalFaults, FailedDirectorySyncWhileRollingFailsTheWal) {
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(21);
  Model m;
  {
    auto w = Wal::open(dir.path(), options(&fs));
    ASSERT_TRUE(w.ok()) << describe_status(w.status());
    Wal& wal = *w.value();
    ASSERT_TRUE(run_batches(wal, m, rng, 1).ok());
    fs.fail_sync_dir(0);
    const Status first = run_batches(wal, m, rng, 400);  // rolls within a few dozen batches
    ASSERT_FALSE(first.ok()) << "no segment roll happened";
    EXPECT_EQ(first.code(), kIo) << describe_status(first);
    EXPECT_EQ(fs.counters().sync_dir_failures, 1u);
    check_failed(wal, fs, first, m);
  }
  check_reopen(dir.path(), m);
}

TEST(WalFaults, FailedDirectorySyncWhileCompactingFailsTheWal) {
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(31);
  Model m;
  {
    auto w = Wal::open(dir.path(), options(&fs));
    ASSERT_TRUE(w.ok()) << describe_status(w.status());
    Wal& wal = *w.value();
    ASSERT_TRUE(run_batches(wal, m, rng, 300).ok());
    ASSERT_GT(wal.stats().segments, 3u);
    fs.fail_sync_dir(0);
    const Status first = wal.compact(m.acked - 5);
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.code(), kIo) << describe_status(first);
    check_failed(wal, fs, first, m);
  }
  // The first removed segment may or may not be gone; what remains replays to a suffix of the
  // log that holds every entry after the compaction point.
  auto w = Wal::open(dir.path(), options(nullptr));
  ASSERT_TRUE(w.ok()) << describe_status(w.status());
  EXPECT_LE(w.value()->first_index(), m.acked - 4);
  EXPECT_EQ(w.value()->last_index(), m.acked);
  const raft::EntryVec got = read_all(*w.value());
  ASSERT_FALSE(got.empty());
  for (const raft::Entry& e : got) {
    ASSERT_TRUE(same_entry(e, m.entries[e.index() - 1])) << describe_entry(e);
  }
}

}  // namespace
}  // namespace wal::testing
