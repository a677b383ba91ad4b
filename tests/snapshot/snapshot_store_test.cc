// Functional tests of the snapshot store: writing, listing, reading, streaming raw bytes from
// one store to another, pruning, reopening, and the writers' life cycle.
#include "snapshot/snapshot_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "raft/crc32c.h"
#include "raft/little_endian.h"
#include "tests/snapshot/support/snapshot_util.h"
#include "tests/wal/support/temp_dir.h"

namespace snapshot::testing {
namespace {

using wal::testing::read_file;
using wal::testing::TempDir;
using wal::testing::write_file;

std::string name(uint64_t index, uint64_t term) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx-%016llx.snap", static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(term));
  return buf;
}

TEST(SnapshotStore, WritesReadsAndListsASnapshot) {
  TempDir tmp;
  SnapshotStore store(tmp.sub("snap"), 2);
  EXPECT_EQ(store.dir(), tmp.sub("snap"));
  EXPECT_TRUE(store.list().empty());
  EXPECT_FALSE(store.latest().has_value());

  raft::SnapshotMetadata m = metadata(10, 3, {1, 2, 3});
  m.mutable_conf_state()->add_learners(4);
  const std::string body = body_bytes(100'000, 1);
  const SnapshotInfo info = write_snapshot(store, m, body, 777);
  EXPECT_EQ(info.path, tmp.sub("snap/" + name(10, 3)));
  EXPECT_EQ(info.body_bytes, body.size());
  EXPECT_EQ(info.file_bytes, read_file(info.path).size());
  EXPECT_EQ(info.metadata.SerializeAsString(), m.SerializeAsString());

  ASSERT_TRUE(store.latest().has_value());
  EXPECT_EQ(store.latest()->path, info.path);
  ASSERT_TRUE(store.find(10, 3).has_value());
  EXPECT_FALSE(store.find(10, 2).has_value());
  EXPECT_EQ(file_names(store.dir()), std::vector<std::string>{name(10, 3)});

  store.verify(info);
  auto r = store.open(info);
  EXPECT_EQ(r->info().metadata.conf_state().learners_size(), 1);
  EXPECT_EQ(r->info().body_bytes, body.size());
  EXPECT_EQ(read_body(store, info), body);
}

// The bytes on disk are the format of snapshot_store.h, field by field.
TEST(SnapshotStore, FileLayoutIsTheDocumentedOne) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 1);
  const raft::SnapshotMetadata m = metadata(5, 2);
  const std::string body = "state machine bytes";
  const SnapshotInfo info = write_snapshot(store, m, body);
  const std::string file = read_file(info.path);
  const std::string meta = m.SerializeAsString();

  ASSERT_EQ(file.size(), 16 + meta.size() + body.size() + 20);
  EXPECT_EQ(file.substr(0, 8), "RAFTSNAP");
  EXPECT_EQ(raft::le::get_u32(file.data() + 8), 1u);
  EXPECT_EQ(raft::le::get_u32(file.data() + 12), meta.size());
  EXPECT_EQ(file.substr(16, meta.size()), meta);
  EXPECT_EQ(file.substr(16 + meta.size(), body.size()), body);
  const char* trailer = file.data() + file.size() - 20;
  EXPECT_EQ(raft::le::get_u64(trailer), body.size());
  EXPECT_EQ(raft::le::get_u32(trailer + 8), raft::crc32c::value(file.data(), file.size() - 20));
  EXPECT_EQ(std::string(trailer + 12, 8), "SNAPEND1");
}

TEST(SnapshotStore, EmptyBodyAndSmallPiecesAndFlushes) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 3);
  const SnapshotInfo empty = write_snapshot(store, metadata(1, 1), "");
  EXPECT_EQ(empty.body_bytes, 0u);
  store.verify(empty);
  EXPECT_EQ(read_body(store, empty), "");

  // Characters one at a time, formatted output and flushes, across several buffers.
  auto w = store.create(metadata(2, 1));
  std::string expected;
  for (int i = 0; i < 300'000; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    w->body().put(c);
    expected += c;
    if (i % 1000 == 0) {
      w->body() << i << std::flush;
      expected += std::to_string(i);
    }
  }
  const SnapshotInfo info = w->commit();
  EXPECT_EQ(info.body_bytes, expected.size());
  EXPECT_EQ(read_body(store, info), expected);
}

TEST(SnapshotStore, LargeWritesGoStraightThroughAndReadBackInPieces) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 3);
  const std::string body = body_bytes(3 * (256 << 10) + 12345, 7);
  for (size_t piece : {size_t{1} << 20, size_t{256} << 10, size_t{100'000}, body.size()}) {
    const uint64_t index = piece;  // distinct per round
    const SnapshotInfo info = write_snapshot(store, metadata(index, 1), body, piece);
    auto r = store.open(info);
    std::string got;
    std::vector<char> buf(piece / 3 + 1);
    while (r->body().read(buf.data(), static_cast<std::streamsize>(buf.size())) ||
           r->body().gcount() > 0) {
      got.append(buf.data(), static_cast<size_t>(r->body().gcount()));
    }
    EXPECT_EQ(got, body) << "piece " << piece;
  }
}

TEST(SnapshotStore, ListsNewestFirstAndPrunesTheOldest) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  write_snapshot(store, metadata(20, 2), "b");
  write_snapshot(store, metadata(10, 1), "a");
  write_snapshot(store, metadata(30, 3), "c");
  write_snapshot(store, metadata(30, 4), "d");
  std::vector<std::pair<uint64_t, uint64_t>> ids;
  for (const SnapshotInfo& s : store.list())
    ids.emplace_back(s.metadata.index(), s.metadata.term());
  EXPECT_EQ(ids, (std::vector<std::pair<uint64_t, uint64_t>>{{30, 4}, {30, 3}, {20, 2}, {10, 1}}));

  EXPECT_EQ(store.prune(), 2u);
  EXPECT_EQ(store.list().size(), 2u);
  EXPECT_EQ(file_names(tmp.path()), (std::vector<std::string>{name(30, 3), name(30, 4)}));
  EXPECT_EQ(store.prune(), 0u);
}

TEST(SnapshotStore, PruneLeavesAnOpenReaderReading) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 1);
  const std::string body = body_bytes(1 << 20, 3);
  const SnapshotInfo old = write_snapshot(store, metadata(5, 1), body);
  auto reader = store.open(old);
  auto raw = store.open_raw(old);
  write_snapshot(store, metadata(6, 1), "new");
  EXPECT_EQ(store.prune(), 1u);
  EXPECT_FALSE(store.find(5, 1).has_value());

  std::string got(std::istreambuf_iterator<char>(reader->body()), {});
  EXPECT_EQ(got, body);
  std::vector<char> buf(4096);
  uint64_t total = 0;
  while (const size_t n = raw->read(buf.data(), buf.size())) total += n;
  EXPECT_EQ(total, old.file_bytes);
  // The file is gone for new readers, with an error that names it.
  try {
    store.open(old);
    FAIL() << "opened a pruned snapshot";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find(old.path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(SnapshotStore, ReopenListsWhatIsThereAndRemovesLeftoverTemporaryFiles) {
  TempDir tmp;
  raft::SnapshotMetadata m = metadata(7, 2, {1, 2});
  m.mutable_conf_state()->add_voters_outgoing(3);
  std::string body = body_bytes(5000, 9);
  {
    SnapshotStore store(tmp.path(), 2);
    write_snapshot(store, metadata(3, 1), "x");
    write_snapshot(store, m, body);
  }
  write_file(tmp.sub(name(9, 9) + ".tmp"), "half a snapshot");
  write_file(tmp.sub("notes.txt"), "not ours");
  write_file(tmp.sub("something.tmp"), "not ours either");
  write_file(tmp.sub("0000000000000000-0000000000000001.snap"), "index 0: not a snapshot name");
  write_file(tmp.sub("000000000000000A-0000000000000001.snap"), "upper case: not ours");

  SnapshotStore store(tmp.path(), 2);
  const auto list = store.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].metadata.SerializeAsString(), m.SerializeAsString());  // from the header
  EXPECT_EQ(list[0].body_bytes, body.size());
  EXPECT_EQ(list[1].metadata.index(), 3u);
  EXPECT_EQ(read_body(store, list[0]), body);
  EXPECT_EQ(file_names(tmp.path()),
            (std::vector<std::string>{"0000000000000000-0000000000000001.snap", name(3, 1),
                                      name(7, 2), "000000000000000A-0000000000000001.snap",
                                      "notes.txt", "something.tmp"}));
}

TEST(SnapshotStore, AbortAndDestructorRemoveTheTemporaryFile) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  {
    auto w = store.create(metadata(4, 1));
    w->body() << "partial";
    EXPECT_EQ(file_names(tmp.path()), std::vector<std::string>{name(4, 1) + ".tmp"});
    w->abort();
    EXPECT_TRUE(file_names(tmp.path()).empty());
    EXPECT_THROW(w->commit(), SnapshotError);
  }
  {
    auto w = store.create(metadata(4, 1));
    auto r = store.receive(metadata(5, 1));
    EXPECT_EQ(file_names(tmp.path()).size(), 2u);
  }
  EXPECT_TRUE(file_names(tmp.path()).empty());
  EXPECT_TRUE(store.list().empty());
}

TEST(SnapshotStore, TwoWritersOfOneNameAtOnce) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  auto first = store.create(metadata(4, 1));
  try {
    store.receive(metadata(4, 1));
    FAIL() << "a second writer of the same name";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find(name(4, 1) + ".tmp"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("File exists"), std::string::npos) << e.what();
  }
  // The failed one did not remove the first one's file.
  first->body() << "body";
  const SnapshotInfo info = first->commit();
  EXPECT_EQ(read_body(store, info), "body");
}

TEST(SnapshotStore, ASnapshotOfTheSameIndexAndTermReplacesTheOld) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  write_snapshot(store, metadata(4, 1), "old");
  const SnapshotInfo info = write_snapshot(store, metadata(4, 1), "new");
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(read_body(store, info), "new");
}

TEST(SnapshotStore, RefusesIndexZeroAndKeepZero) {
  TempDir tmp;
  EXPECT_THROW(SnapshotStore(tmp.path(), 0), SnapshotError);
  SnapshotStore store(tmp.path(), 1);
  EXPECT_THROW(store.create(metadata(0, 0)), SnapshotError);
  EXPECT_THROW(store.receive(metadata(0, 0)), SnapshotError);
}

TEST(SnapshotStore, ADirectoryThatIsAFileIsAnErrorNamingIt) {
  TempDir tmp;
  write_file(tmp.sub("file"), "x");
  try {
    SnapshotStore store(tmp.sub("file/snap"), 1);
    FAIL() << "opened a store under a file";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.sub("file")), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Not a directory"), std::string::npos) << e.what();
  }
}

TEST(SnapshotStore, RawBytesMoveFromOneStoreToAnotherInAnyPieces) {
  TempDir tmp;
  SnapshotStore leader(tmp.sub("leader"), 2);
  const std::string body = body_bytes(600'000, 4);
  const raft::SnapshotMetadata m = metadata(100, 7, {1, 2, 3, 4, 5});
  const SnapshotInfo sent = write_snapshot(leader, m, body);
  const std::string file = read_file(sent.path);
  for (size_t piece :
       {size_t{1}, size_t{7}, size_t{19}, size_t{20}, size_t{21}, size_t{4096}, size_t{1} << 20}) {
    SCOPED_TRACE(piece);
    SnapshotStore follower(tmp.sub("follower" + std::to_string(piece)), 2);
    if (piece < 4096) {
      // Small pieces byte-wise on a smaller file; the large body with larger pieces.
      const SnapshotInfo small = write_snapshot(leader, metadata(3, 1), body.substr(0, 3000));
      const SnapshotInfo got = copy_raw(leader, small, follower, piece);
      EXPECT_EQ(read_file(got.path), read_file(small.path));
      continue;
    }
    const SnapshotInfo got = copy_raw(leader, sent, follower, piece);
    EXPECT_EQ(got.metadata.SerializeAsString(), m.SerializeAsString());
    EXPECT_EQ(got.body_bytes, body.size());
    EXPECT_EQ(got.file_bytes, file.size());
    EXPECT_EQ(follower.latest()->path, got.path);
    EXPECT_EQ(read_file(got.path), file);
    follower.verify(got);
    EXPECT_EQ(read_body(follower, got), body);
  }
}

TEST(SnapshotStore, ReadersReportWhatTheFileSays) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  raft::SnapshotMetadata m = metadata(8, 2, {1, 2, 3});
  m.mutable_conf_state()->set_auto_leave(true);
  write_snapshot(store, m, "abc");
  // An info with only a path (or only index and term) is enough to open.
  SnapshotInfo by_id;
  by_id.metadata.set_index(8);
  by_id.metadata.set_term(2);
  auto r = store.open_raw(by_id);
  EXPECT_TRUE(r->info().metadata.conf_state().auto_leave());
  EXPECT_EQ(r->info().body_bytes, 3u);
}

TEST(SnapshotStore, SeveralThreadsWriteAndListAtOnce) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 4);
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (uint64_t i = 1; i <= 10; ++i) {
        write_snapshot(store, metadata(t * 100 + i, 1), body_bytes(10'000, t * 100 + i));
        (void)store.list();
        if (i % 3 == 0) store.prune();
      }
    });
  }
  for (auto& th : threads) th.join();
  store.prune();
  const auto list = store.list();
  ASSERT_EQ(list.size(), 4u);
  for (const SnapshotInfo& s : list) {
    EXPECT_EQ(read_body(store, s), body_bytes(10'000, s.metadata.index()));
  }
  EXPECT_EQ(list[0].metadata.index(), 310u);
  EXPECT_EQ(file_names(tmp.path()).size(), 4u);
}

}  // namespace
}  // namespace snapshot::testing
