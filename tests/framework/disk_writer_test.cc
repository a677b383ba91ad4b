// The disk thread: group commit, Ready order, and a failed write that stops it for good.
#include "framework/disk_writer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "tests/wal/support/faulty_file_system.h"
#include "tests/wal/support/temp_dir.h"

namespace framework {
namespace {

raft::Entry entry(uint64_t index, uint64_t term = 1) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("payload " + std::to_string(index));
  return e;
}

DiskJob job(uint64_t number, uint64_t index) {
  DiskJob j;
  j.ready_number = number;
  j.entries.push_back(entry(index));
  raft::HardState hs;
  hs.set_term(1);
  hs.set_commit(index);
  j.hard_state = hs;
  return j;
}

// What the disk thread reported, with a way for the test to hold the thread inside a report.
class Reports {
 public:
  void persisted(uint64_t n) {
    std::unique_lock lock(mu_);
    persisted_.push_back(n);
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_; });
  }
  void failed(const wal::Status& s) {
    std::lock_guard lock(mu_);
    failures_.push_back(s.message());
    cv_.notify_all();
  }
  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return pred(persisted_, failures_); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<uint64_t> persisted_;
  std::vector<std::string> failures_;
};

struct Fixture {
  wal::testing::TempDir dir;
  wal::testing::FaultyFileSystem fs;
  std::unique_ptr<wal::DurableStorage> storage;

  Fixture() {
    wal::DurableStorageOptions options;
    options.wal.fs = &fs;
    options.wal.segment_size = 1 << 20;
    auto opened = wal::DurableStorage::open(dir.sub("data"), wal::NodeIdentity{1, 1}, options);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    storage = std::move(opened).value();
  }
};

// While the thread is busy with one batch, everything submitted meanwhile becomes the next batch:
// one sync for all of it.
TEST(DiskWriterTest, JobsQueuedDuringAWriteShareOneSync) {
  Fixture f;
  Reports reports;
  reports.hold();
  DiskWriter writer(
      *f.storage, [&](uint64_t n) { reports.persisted(n); },
      [&](const wal::Status& s) { reports.failed(s); });
  writer.submit(job(1, 1));
  ASSERT_TRUE(reports.wait([](auto& p, auto&) { return p.size() == 1; }));
  const uint64_t syncs_before = f.fs.counters().syncs;
  for (uint64_t i = 2; i <= 50; ++i) writer.submit(job(i, i));
  reports.release();
  ASSERT_TRUE(reports.wait([](auto& p, auto&) { return !p.empty() && p.back() == 50; }));
  writer.stop();

  const DiskStats stats = writer.stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.jobs, 50u);
  EXPECT_EQ(stats.syncs, 2u);
  EXPECT_EQ(stats.entries, 50u);
  EXPECT_EQ(f.fs.counters().syncs - syncs_before, 1u);
  EXPECT_EQ(f.storage->last_index(), 50u);
  EXPECT_EQ(f.storage->meta().hard_state().commit(), 50u);
}

// A failed sync is reported once; nothing after it is reported durable.
TEST(DiskWriterTest, FailedSyncIsFinal) {
  Fixture f;
  Reports reports;
  f.fs.fail_sync_data(0, /*sticky=*/true);
  DiskWriter writer(
      *f.storage, [&](uint64_t n) { reports.persisted(n); },
      [&](const wal::Status& s) { reports.failed(s); });
  writer.submit(job(1, 1));
  ASSERT_TRUE(reports.wait([](auto&, auto& fails) { return fails.size() == 1; }));
  f.fs.clear_faults();
  writer.submit(job(2, 2));
  writer.stop();
  reports.wait([](auto& p, auto& fails) {
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(fails.size(), 1u);
    return true;
  });
  // The HardState that would have pointed at the unsynced entry was never saved.
  EXPECT_EQ(f.storage->meta().hard_state().commit(), 0u);
}

}  // namespace
}  // namespace framework
