// The fault-injecting FileSystem of the WAL tests does what its header promises: faults fire after
// exactly the armed number of calls or bytes, a write that crosses the budget writes the part that
// fits, nothing fails once faults are cleared, and the counters count.
#include "tests/wal/support/faulty_file_system.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "tests/wal/support/temp_dir.h"

namespace wal::testing {
namespace {

const std::error_code kNoSpace(ENOSPC, std::generic_category());
const std::error_code kIo(EIO, std::generic_category());

std::unique_ptr<File> create(FaultyFileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kCreate);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return f.ok() ? std::move(f.value()) : nullptr;
}

TEST(FaultyFileSystem, PassesThroughWithoutFaults) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = create(fs, dir.sub("a"));
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->allocate(4096).ok());
  EXPECT_TRUE(f->write_at(10, "hello").ok());
  EXPECT_TRUE(f->sync_data().ok());
  EXPECT_EQ(f->size().value(), 4096u);
  EXPECT_EQ(f->path(), dir.sub("a"));
  char buf[5];
  ASSERT_EQ(f->read_at(10, 5, buf).value(), 5u);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_TRUE(fs.rename(dir.sub("a"), dir.sub("b")).ok());
  EXPECT_TRUE(fs.sync_dir(dir.path()).ok());
  EXPECT_TRUE(fs.exists(dir.sub("b")));
  EXPECT_EQ(fs.list(dir.path()).value(), std::vector<std::string>{"b"});
  EXPECT_TRUE(fs.remove(dir.sub("b")).ok());

  const FileSystemCounters c = fs.counters();
  EXPECT_EQ(c.opens, 1u);
  EXPECT_EQ(c.allocates, 1u);
  EXPECT_EQ(c.writes, 1u);
  EXPECT_EQ(c.bytes_written, 5u);
  EXPECT_EQ(c.syncs, 1u);
  EXPECT_EQ(c.renames, 1u);
  EXPECT_EQ(c.sync_dirs, 1u);
  EXPECT_EQ(c.removes, 1u);
  EXPECT_EQ(c.allocate_failures + c.write_failures + c.sync_failures, 0u);
}

TEST(FaultyFileSystem, AllocateFailsAfterNCallsAndLeavesTheSize) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = create(fs, dir.sub("a"));
  ASSERT_NE(f, nullptr);
  fs.fail_allocate(2);
  EXPECT_TRUE(f->allocate(100).ok());
  EXPECT_TRUE(f->allocate(200).ok());
  for (int i = 0; i < 3; ++i) {
    const Status s = f->allocate(1 << 20);
    EXPECT_EQ(s.code(), kNoSpace);
    EXPECT_NE(s.message().find(dir.sub("a")), std::string::npos) << s.message();
  }
  EXPECT_EQ(f->size().value(), 200u);
  EXPECT_EQ(fs.counters().allocate_failures, 3u);
  fs.clear_faults();
  EXPECT_TRUE(f->allocate(300).ok());
  EXPECT_EQ(f->size().value(), 300u);
}

TEST(FaultyFileSystem, WriteBudgetWritesWhatFitsThenFailsWithEnospc) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = create(fs, dir.sub("a"));
  ASSERT_NE(f, nullptr);
  fs.limit_writes(7);
  EXPECT_TRUE(f->write_at(0, "abcd").ok());
  EXPECT_TRUE(f->write_at(4, "efg").ok());  // exactly fills the budget
  EXPECT_EQ(f->write_at(7, "hij").code(), kNoSpace);
  EXPECT_EQ(read_file(dir.sub("a")), "abcdefg");

  fs.limit_writes(3);
  EXPECT_EQ(f->write_at(7, "HIJKL").code(), kNoSpace);  // a short write: HIJ reaches the file
  EXPECT_EQ(read_file(dir.sub("a")), "abcdefgHIJ");
  EXPECT_EQ(f->write_at(10, "x").code(), kNoSpace);  // the disk stays full
  EXPECT_EQ(read_file(dir.sub("a")), "abcdefgHIJ");

  const FileSystemCounters c = fs.counters();
  EXPECT_EQ(c.writes, 5u);
  EXPECT_EQ(c.write_failures, 3u);
  EXPECT_EQ(c.bytes_written, 10u);
  fs.clear_faults();
  EXPECT_TRUE(f->write_at(10, "xyz").ok());
  EXPECT_EQ(read_file(dir.sub("a")), "abcdefgHIJxyz");
}

TEST(FaultyFileSystem, SyncFailsOnceOnTheNthCall) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = create(fs, dir.sub("a"));
  ASSERT_NE(f, nullptr);
  fs.fail_sync_data(2);
  EXPECT_TRUE(f->sync_data().ok());
  EXPECT_TRUE(f->sync_data().ok());
  const Status s = f->sync_data();
  EXPECT_EQ(s.code(), kIo);
  EXPECT_NE(s.message().find("fdatasync"), std::string::npos) << s.message();
  EXPECT_TRUE(f->sync_data().ok());
  EXPECT_EQ(fs.counters().syncs, 4u);
  EXPECT_EQ(fs.counters().sync_failures, 1u);
}

TEST(FaultyFileSystem, StickySyncFaultFailsEveryLaterCallUntilCleared) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = create(fs, dir.sub("a"));
  ASSERT_NE(f, nullptr);
  fs.fail_sync_data(0, /*sticky=*/true);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f->sync_data().code(), kIo);
  fs.clear_faults();
  EXPECT_TRUE(f->sync_data().ok());
  EXPECT_EQ(fs.counters().sync_failures, 3u);
}

TEST(FaultyFileSystem, OpenErrorsPassThrough) {
  TempDir dir;
  FaultyFileSystem fs;
  auto f = fs.open(dir.sub("missing"), OpenMode::kRead);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), std::error_code(ENOENT, std::generic_category()));
}

}  // namespace
}  // namespace wal::testing
