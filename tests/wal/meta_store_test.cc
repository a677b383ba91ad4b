// MetaStore: identity at creation and at reopen, every field across a reopen, the sync rule,
// damage reported as errors that name what is wrong, and a write that survives a killed process.
#include "tests/wal/support/temp_dir.h"
#include "wal/meta_store.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/options.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "raft/types.h"
#include "wal/status.h"

namespace wal {
namespace {

namespace fs = std::filesystem;

using testing::read_file;
using testing::TempDir;
using testing::write_file;

constexpr NodeIdentity kId{7, 3};

// Error messages must name what failed; this checks for the part and shows the whole on failure.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

raft::HardState hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  raft::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

raft::ConfState conf_state(std::initializer_list<uint64_t> voters,
                           std::initializer_list<uint64_t> learners = {}) {
  raft::ConfState cs;
  for (uint64_t v : voters) cs.add_voters(v);
  for (uint64_t l : learners) cs.add_learners(l);
  return cs;
}

// A joint configuration: every field of ConfState set.
raft::ConfState joint_conf_state() {
  raft::ConfState cs = conf_state({1, 2, 4}, {5});
  cs.add_voters_outgoing(1);
  cs.add_voters_outgoing(2);
  cs.add_voters_outgoing(3);
  cs.add_learners_next(3);
  cs.set_auto_leave(true);
  return cs;
}

raft::SnapshotMetadata snapshot_at(uint64_t index, uint64_t term, const raft::ConfState& cs) {
  raft::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  *m.mutable_conf_state() = cs;
  return m;
}

bool same(const google::protobuf::MessageLite& a, const google::protobuf::MessageLite& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

std::unique_ptr<MetaStore> open_ok(const std::string& dir, const NodeIdentity& id = kId) {
  auto store = MetaStore::open(dir, id);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Writes `value` under `key` straight through LevelDB, as damage or an older build would.
void put_raw(const std::string& dir, const std::string& key, const std::string& value) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  const leveldb::Status opened = leveldb::DB::Open(options, dir, &raw);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions write_options;
  write_options.sync = true;
  const leveldb::Status put = db->Put(write_options, key, value);
  ASSERT_TRUE(put.ok()) << put.ToString();
}

// The files of `dir` whose names start with `prefix` and end with `suffix`.
std::vector<fs::path> files_named(const std::string& dir, const std::string& prefix,
                                  const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= prefix.size() + suffix.size() && name.starts_with(prefix) &&
        name.ends_with(suffix)) {
      out.push_back(e.path());
    }
  }
  return out;
}

// --- identity ---

TEST(MetaStoreTest, NewStoreRecordsIdentityAndReopensWithIt) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/meta";  // parents created too
  {
    auto store = open_ok(dir);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->identity(), kId);
    // A new store is empty: every field has its default.
    EXPECT_TRUE(same(store->hard_state(), raft::HardState()));
    EXPECT_TRUE(same(store->conf_state(), raft::ConfState()));
    EXPECT_TRUE(same(store->snapshot(), raft::SnapshotMetadata()));
    // Recording the identity is part of opening, not a save().
    EXPECT_EQ(store->synced_writes(), 0u);
    EXPECT_EQ(store->unsynced_writes(), 0u);
  }
  EXPECT_TRUE(fs::is_directory(dir));
  auto store = open_ok(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->identity(), kId);
}

TEST(MetaStoreTest, IdentityIsStoredLittleEndianUnderItsKey) {
  TempDir tmp;
  const NodeIdentity id{0x0102030405060708ull, 0x1112131415161718ull};
  open_ok(tmp.path(), id);
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), tmp.path(), &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::string identity, format;
  ASSERT_TRUE(db->Get(leveldb::ReadOptions(), "identity", &identity).ok());
  ASSERT_TRUE(db->Get(leveldb::ReadOptions(), "format", &format).ok());
  EXPECT_EQ(identity, std::string("\x08\x07\x06\x05\x04\x03\x02\x01"
                                  "\x18\x17\x16\x15\x14\x13\x12\x11",
                                  16));
  EXPECT_EQ(format, "1");
}

TEST(MetaStoreTest, WrongClusterIsAClearErrorAndChangesNothing) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(4, 2, 9), conf_state({1, 2, 3}), std::nullopt}).ok());
  }
  auto wrong = MetaStore::open(tmp.path(), {8, 3});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), make_error_code(Error::kWrongCluster));
  EXPECT_TRUE(contains(wrong.status().message(), "cluster 7 node 3"));
  EXPECT_TRUE(contains(wrong.status().message(), "cluster 8 node 3"));
  EXPECT_TRUE(contains(wrong.status().message(), tmp.path()));

  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->identity(), kId);
  EXPECT_TRUE(same(store->hard_state(), hard_state(4, 2, 9)));
  EXPECT_TRUE(same(store->conf_state(), conf_state({1, 2, 3})));
}

TEST(MetaStoreTest, WrongNodeIsAClearErrorAndChangesNothing) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(4, 2, 9), std::nullopt, std::nullopt}).ok());
  }
  auto wrong = MetaStore::open(tmp.path(), {7, 4});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), make_error_code(Error::kWrongNode));
  EXPECT_TRUE(contains(wrong.status().message(), "cluster 7 node 3"));
  EXPECT_TRUE(contains(wrong.status().message(), "cluster 7 node 4"));

  // Another cluster and another node: the cluster is the bigger mistake and is the one reported.
  auto both = MetaStore::open(tmp.path(), {9, 9});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().code(), make_error_code(Error::kWrongCluster));

  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->identity(), kId);
  EXPECT_TRUE(same(store->hard_state(), hard_state(4, 2, 9)));
}

TEST(MetaStoreTest, ZeroIdsAreRejectedBeforeTouchingTheDisk) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/meta";
  for (const NodeIdentity& id : {NodeIdentity{0, 3}, NodeIdentity{7, 0}, NodeIdentity{0, 0}}) {
    auto store = MetaStore::open(dir, id);
    ASSERT_FALSE(store.ok()) << "cluster " << id.cluster_id << " node " << id.node_id;
    EXPECT_EQ(store.status().code(), make_error_code(Error::kInvalidArgument));
    EXPECT_TRUE(contains(store.status().message(), "non-zero"));
  }
  EXPECT_FALSE(fs::exists(dir));

  // Nor may a zero id open an existing store.
  open_ok(dir);
  auto store = MetaStore::open(dir, {7, 0});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kInvalidArgument));
}

// --- fields across a reopen ---

TEST(MetaStoreTest, EveryFieldRoundTripsAcrossReopen) {
  TempDir tmp;
  const raft::HardState hs = hard_state(12, 5, 340);
  const raft::ConfState cs = joint_conf_state();
  const raft::SnapshotMetadata snap = snapshot_at(300, 11, conf_state({1, 2, 3}, {9}));
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hs, cs, snap}).ok());
    EXPECT_TRUE(same(store->hard_state(), hs));
    EXPECT_TRUE(same(store->conf_state(), cs));
    EXPECT_TRUE(same(store->snapshot(), snap));
  }
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(same(store->hard_state(), hs)) << raft::describe(store->hard_state());
  const raft::ConfState got = store->conf_state();
  EXPECT_TRUE(same(got, cs)) << raft::describe(got);
  EXPECT_EQ(std::vector<uint64_t>(got.voters_outgoing().begin(), got.voters_outgoing().end()),
            (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(std::vector<uint64_t>(got.learners_next().begin(), got.learners_next().end()),
            (std::vector<uint64_t>{3}));
  EXPECT_TRUE(got.auto_leave());
  const raft::SnapshotMetadata got_snap = store->snapshot();
  EXPECT_EQ(got_snap.index(), 300u);
  EXPECT_EQ(got_snap.term(), 11u);
  EXPECT_TRUE(same(got_snap.conf_state(), conf_state({1, 2, 3}, {9})));
}

TEST(MetaStoreTest, AbsentFieldsKeepTheirValues) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    // Only the HardState: the others stay at their defaults, in memory and on disk.
    ASSERT_TRUE(store->save({hard_state(2, 1, 0), std::nullopt, std::nullopt}).ok());
    EXPECT_TRUE(same(store->conf_state(), raft::ConfState()));
    EXPECT_TRUE(same(store->snapshot(), raft::SnapshotMetadata()));
  }
  {
    auto store = open_ok(tmp.path());
    EXPECT_TRUE(same(store->hard_state(), hard_state(2, 1, 0)));
    EXPECT_TRUE(same(store->conf_state(), raft::ConfState()));
    EXPECT_TRUE(same(store->snapshot(), raft::SnapshotMetadata()));
    // Now only the ConfState, then only the snapshot: earlier fields are not overwritten.
    ASSERT_TRUE(store->save({std::nullopt, conf_state({1, 2}), std::nullopt}).ok());
    ASSERT_TRUE(store->save({std::nullopt, std::nullopt, snapshot_at(5, 2, conf_state({1}))}).ok());
    EXPECT_TRUE(same(store->hard_state(), hard_state(2, 1, 0)));
    EXPECT_TRUE(same(store->conf_state(), conf_state({1, 2})));
  }
  auto store = open_ok(tmp.path());
  EXPECT_TRUE(same(store->hard_state(), hard_state(2, 1, 0)));
  EXPECT_TRUE(same(store->conf_state(), conf_state({1, 2})));
  EXPECT_TRUE(same(store->snapshot(), snapshot_at(5, 2, conf_state({1}))));
}

TEST(MetaStoreTest, ABatchOfSeveralFieldsIsWrittenTogether) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(1, 1, 0), conf_state({1}), std::nullopt}).ok());
    ASSERT_TRUE(store
                    ->save({hard_state(3, 2, 8), conf_state({1, 2, 3}),
                            snapshot_at(8, 3, conf_state({1, 2, 3}))})
                    .ok());
    // One batch, one write: counted once.
    EXPECT_EQ(store->synced_writes() + store->unsynced_writes(), 2u);
  }
  auto store = open_ok(tmp.path());
  EXPECT_TRUE(same(store->hard_state(), hard_state(3, 2, 8)));
  EXPECT_TRUE(same(store->conf_state(), conf_state({1, 2, 3})));
  EXPECT_TRUE(same(store->snapshot(), snapshot_at(8, 3, conf_state({1, 2, 3}))));
}

TEST(MetaStoreTest, ManyWritesSurviveReopenAndLevelDbCompaction) {
  // Enough writes to fill the 64 KiB memtable several times over, so the values come back from
  // LevelDB tables and not only from its log.
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    for (uint64_t i = 1; i <= 3000; ++i) {
      ASSERT_TRUE(store->save({hard_state(1, 1, i), std::nullopt, std::nullopt}).ok());
    }
    ASSERT_TRUE(store->save({std::nullopt, joint_conf_state(), std::nullopt}).ok());
  }
  auto store = open_ok(tmp.path());
  EXPECT_TRUE(same(store->hard_state(), hard_state(1, 1, 3000)));
  EXPECT_TRUE(same(store->conf_state(), joint_conf_state()));
}

// --- the sync rule ---

struct Counts {
  uint64_t synced;
  uint64_t unsynced;
  bool operator==(const Counts&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{synced " << c.synced << ", unsynced " << c.unsynced << "}";
}

Counts counts(const MetaStore& store) { return {store.synced_writes(), store.unsynced_writes()}; }

TEST(MetaStoreTest, SyncRuleTermAndVoteSyncCommitDoesNot) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);

  // First term: changes term from the default 0.
  ASSERT_TRUE(store->save({hard_state(1, 0, 0), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{1, 0}));
  // Vote only.
  ASSERT_TRUE(store->save({hard_state(1, 2, 0), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 0}));
  // Commit only: relearned from the leader after a crash, so not synced.
  ASSERT_TRUE(store->save({hard_state(1, 2, 5), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 1}));
  // The same HardState again changes nothing that needs a sync.
  ASSERT_TRUE(store->save({hard_state(1, 2, 5), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 2}));
  // Term and commit together: the term decides.
  ASSERT_TRUE(store->save({hard_state(2, 0, 6), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{3, 2}));
  // Vote cleared back to none is a change too.
  ASSERT_TRUE(store->save({hard_state(2, 3, 6), std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(store->save({hard_state(3, 0, 6), std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{5, 2}));
}

TEST(MetaStoreTest, SyncRuleConfStateAndSnapshotSyncWhenTheyChange) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);

  ASSERT_TRUE(store->save({std::nullopt, conf_state({1, 2, 3}), std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{1, 0}));
  // Only auto_leave differs: still a different configuration.
  raft::ConfState cs = conf_state({1, 2, 3});
  cs.set_auto_leave(true);
  ASSERT_TRUE(store->save({std::nullopt, cs, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 0}));
  // The same ConfState again is not a change.
  ASSERT_TRUE(store->save({std::nullopt, cs, std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 1}));

  const raft::SnapshotMetadata snap = snapshot_at(10, 2, cs);
  ASSERT_TRUE(store->save({std::nullopt, std::nullopt, snap}).ok());
  EXPECT_EQ(counts(*store), (Counts{3, 1}));
  ASSERT_TRUE(store->save({std::nullopt, std::nullopt, snap}).ok());
  EXPECT_EQ(counts(*store), (Counts{3, 2}));
  // A commit-only HardState in the same batch as a new snapshot: the snapshot decides.
  ASSERT_TRUE(store->save({hard_state(0, 0, 20), std::nullopt, snapshot_at(20, 2, cs)}).ok());
  EXPECT_EQ(counts(*store), (Counts{4, 2}));
  // A commit-only change with an unchanged ConfState and snapshot is not synced.
  ASSERT_TRUE(store->save({hard_state(0, 0, 21), cs, snapshot_at(20, 2, cs)}).ok());
  EXPECT_EQ(counts(*store), (Counts{4, 3}));
}

TEST(MetaStoreTest, SyncRuleForceSync) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  MetaUpdate commit_only{hard_state(0, 0, 4), std::nullopt, std::nullopt};
  commit_only.force_sync = true;
  ASSERT_TRUE(store->save(commit_only).ok());
  EXPECT_EQ(counts(*store), (Counts{1, 0}));
  MetaUpdate empty;
  empty.force_sync = true;
  ASSERT_TRUE(store->save(empty).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 0}));
  // An empty update without force_sync writes nothing that needs a sync.
  ASSERT_TRUE(store->save(MetaUpdate{}).ok());
  EXPECT_EQ(counts(*store), (Counts{2, 1}));
  EXPECT_TRUE(same(store->hard_state(), hard_state(0, 0, 4)));
}

TEST(MetaStoreTest, SyncRuleComparesWithWhatWasLoaded) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(5, 2, 10), conf_state({1, 2}), std::nullopt}).ok());
  }
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  // After a restart, moving commit is still commit-only and the ConfState is unchanged.
  ASSERT_TRUE(store->save({hard_state(5, 2, 11), conf_state({1, 2}), std::nullopt}).ok());
  EXPECT_EQ(counts(*store), (Counts{0, 1}));
}

// --- damage and LevelDB errors ---

// A key written with a value that is not what it should be: open fails naming the key.
class MetaStoreDamagedKeyTest
    : public ::testing::TestWithParam<std::pair<const char*, std::string>> {};

TEST_P(MetaStoreDamagedKeyTest, OpenFailsNamingTheKey) {
  const auto& [key, value] = GetParam();
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(2, 1, 1), conf_state({1}), snapshot_at(1, 1, {})}).ok());
  }
  put_raw(tmp.path(), key, value);
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kCorruption));
  EXPECT_TRUE(contains(store.status().message(), std::string("\"") + key + "\""));
  EXPECT_TRUE(contains(store.status().message(), tmp.path()));
}

// 0xff starts a tag with an invalid wire type; "\x08" is a varint tag with no varint after it.
INSTANTIATE_TEST_SUITE_P(
    Keys, MetaStoreDamagedKeyTest,
    ::testing::Values(std::make_pair("hard_state", std::string("\xff garbage")),
                      std::make_pair("hard_state", std::string("\x08")),
                      std::make_pair("conf_state", std::string("\xff garbage")),
                      std::make_pair("snapshot", std::string("\x0a\x10short")),
                      std::make_pair("identity", std::string("12345")),
                      std::make_pair("format", std::string("2"))));

TEST(MetaStoreTest, DataWithoutIdentityIsNotClaimed) {
  TempDir tmp;
  put_raw(tmp.path(), "hard_state", hard_state(9, 9, 9).SerializeAsString());
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kCorruption));
  EXPECT_TRUE(contains(store.status().message(), "\"identity\""));
}

TEST(MetaStoreTest, MissingFormatIsCorruption) {
  TempDir tmp;
  open_ok(tmp.path());
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), tmp.path(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), "format").ok());
  }
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kCorruption));
  EXPECT_TRUE(contains(store.status().message(), "\"format\""));
}

TEST(MetaStoreTest, SecondOpenWhileOpenFailsOnTheLock) {
  TempDir tmp;
  auto first = open_ok(tmp.path());
  ASSERT_NE(first, nullptr);
  auto second = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), make_error_code(Error::kMetaStore));
  EXPECT_TRUE(contains(second.status().message(), tmp.path()));
  EXPECT_TRUE(contains(second.status().message(), "LOCK"));
  // The first store is unharmed and the directory opens again once it is closed.
  ASSERT_TRUE(first->save({hard_state(1, 1, 1), std::nullopt, std::nullopt}).ok());
  first.reset();
  auto again = open_ok(tmp.path());
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(same(again->hard_state(), hard_state(1, 1, 1)));
}

// Run in a process of its own by the test below (this binary, re-executed with the directory in
// the environment): LevelDB's lock is an fcntl lock, which only another process sees as such.
constexpr char kLockedDirVariable[] = "META_STORE_TEST_LOCKED_DIR";

TEST(MetaStoreChildProcess, OpensAStoreAnotherProcessHolds) {
  const char* dir = std::getenv(kLockedDirVariable);
  if (dir == nullptr) GTEST_SKIP() << "run by AnotherProcessCannotOpenAnOpenStore";
  auto store = MetaStore::open(dir, kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kMetaStore));
  EXPECT_TRUE(contains(store.status().message(), std::string(dir) + "/LOCK"));
}

TEST(MetaStoreTest, AnotherProcessCannotOpenAnOpenStore) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  // Everything the child needs is built before fork: between fork and exec it only calls exec.
  std::string filter = "--gtest_filter=MetaStoreChildProcess.OpensAStoreAnotherProcessHolds";
  std::string variable = std::string(kLockedDirVariable) + "=" + tmp.path();
  char self[] = "/proc/self/exe";
  std::vector<char*> argv = {self, filter.data(), nullptr};
  std::vector<char*> envp;
  // Without the GTEST_* variables: sharding or an output file meant for this run would make the
  // child skip its test or overwrite the report.
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("GTEST_", 0) != 0) envp.push_back(*e);
  }
  envp.push_back(variable.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    execve(self, argv.data(), envp.data());
    _exit(127);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid) << std::strerror(errno);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
      << "the child's open did not fail as expected (status " << wstatus << ")";
  // The holder is unaffected.
  EXPECT_TRUE(store->save({hard_state(1, 1, 0), std::nullopt, std::nullopt}).ok());
}

TEST(MetaStoreTest, AFileWhereTheDirectoryShouldBeFailsCleanly) {
  TempDir tmp;
  const std::string path = tmp.path() + "/meta";
  write_file(path, "not a directory");
  auto store = MetaStore::open(path, kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code().category(), std::generic_category());
  EXPECT_TRUE(contains(store.status().message(), path));
  // And under it: a parent that is a file.
  auto below = MetaStore::open(path + "/sub", kId);
  ASSERT_FALSE(below.ok());
  EXPECT_EQ(below.status().code(), std::errc::not_a_directory);
  EXPECT_EQ(read_file(path), "not a directory");
}

TEST(MetaStoreTest, ADamagedCurrentFileIsALevelDbError) {
  TempDir tmp;
  open_ok(tmp.path());
  write_file(fs::path(tmp.path()) / "CURRENT", "garbage");  // no newline, names no manifest
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kMetaStore));
  EXPECT_TRUE(contains(store.status().message(), tmp.path()));
  EXPECT_TRUE(contains(store.status().message(), "CURRENT"));
}

TEST(MetaStoreTest, ADamagedManifestIsALevelDbError) {
  TempDir tmp;
  open_ok(tmp.path());
  const auto manifests = files_named(tmp.path(), "MANIFEST-", "");
  ASSERT_EQ(manifests.size(), 1u) << tmp.path();
  std::string data = read_file(manifests[0]);
  ASSERT_GT(data.size(), 10u);
  data[9] = static_cast<char>(data[9] ^ 0x5a);  // inside the first record's payload
  write_file(manifests[0], data);
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kMetaStore));
  EXPECT_TRUE(contains(store.status().message(), tmp.path()));
}

TEST(MetaStoreTest, ADamagedLogRecordIsReportedNotSkipped) {
  // paranoid_checks: a bad record in LevelDB's log fails the open instead of being dropped,
  // which would silently lose a vote.
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(3, 2, 1), std::nullopt, std::nullopt}).ok());
  }
  const auto logs = files_named(tmp.path(), "", ".log");
  ASSERT_EQ(logs.size(), 1u);
  std::string data = read_file(logs[0]);
  ASSERT_GT(data.size(), 20u);
  data[12] = static_cast<char>(data[12] ^ 0x01);  // past the 7-byte record header
  write_file(logs[0], data);
  auto store = MetaStore::open(tmp.path(), kId);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), make_error_code(Error::kMetaStore));
  EXPECT_TRUE(contains(store.status().message(), tmp.path()));
}

// --- crashes and threads ---

TEST(MetaStoreTest, AnUnsyncedWriteSurvivesAKilledProcess) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store->save({hard_state(4, 1, 2), conf_state({1, 2, 3}), std::nullopt}).ok());
  }
  // Every store of this process is closed, so LevelDB's background thread is idle (waiting, its
  // mutex released) and the child can use LevelDB safely.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    // The child: exit codes say where it failed; SIGKILL means it got to the end.
    auto opened = MetaStore::open(tmp.path(), kId);
    if (!opened.ok()) _exit(2);
    std::unique_ptr<MetaStore> store = std::move(opened).value();
    if (!store->save({hard_state(4, 1, 77), std::nullopt, std::nullopt}).ok()) _exit(3);
    if (store->unsynced_writes() != 1 || store->synced_writes() != 0) _exit(4);
    // No close, no destructor, no atexit: the closest a process gets to kill -9 from outside.
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid) << std::strerror(errno);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "child exited with " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);

  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(same(store->hard_state(), hard_state(4, 1, 77)))
      << raft::describe(store->hard_state());
  EXPECT_TRUE(same(store->conf_state(), conf_state({1, 2, 3})));
}

TEST(MetaStoreTest, ReadersSeeWholeUpdatesWhileAWriterSaves) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->save({hard_state(1, 1, 0), std::nullopt, std::nullopt}).ok());
  constexpr uint64_t kWrites = 2000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t last_commit = 0;
    while (!done.load()) {
      const raft::HardState hs = store->hard_state();
      // Never a torn or stale-then-newer-then-stale view: commit only rises.
      ASSERT_TRUE(hs.term() == 1 && hs.vote() == 1) << raft::describe(hs);
      ASSERT_GE(hs.commit(), last_commit);
      last_commit = hs.commit();
    }
  });
  // Commit-only updates: unsynced, so the loop is quick and the reader overlaps many of them.
  for (uint64_t i = 1; i <= kWrites; ++i) {
    const Status s = store->save({hard_state(1, 1, i), std::nullopt, std::nullopt});
    if (!s.ok()) {
      ADD_FAILURE() << s.message();
      break;  // and still join the reader
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(store->hard_state().commit(), kWrites);
}

}  // namespace
}  // namespace wal
