// Damage: every bit flip and every truncation of a stored file is caught by verify(), by the
// readers, and by a RawWriter that receives the damaged bytes; metadata that is not the expected,
// a name that disagrees with the metadata, a header that cannot be a snapshot's, and write
// failures. Errors name the file and what is wrong; nothing damaged is handed out.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "raft/little_endian.h"
#include "snapshot/snapshot_store.h"
#include "tests/snapshot/support/snapshot_util.h"
#include "tests/wal/support/temp_dir.h"

namespace snapshot::testing {
namespace {

using wal::testing::read_file;
using wal::testing::TempDir;
using wal::testing::write_file;

// Runs `f`, which must throw SnapshotError with every one of `parts` in its message.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no SnapshotError";
  } catch (const SnapshotError& e) {
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "'" << e.what() << "' lacks '" << p << "'";
    }
  }
}

// Makes the file at `path` hold exactly `bytes`, in place: written over, then cut to length. (Not
// truncated to zero and rewritten, which on ext4 starts a flush of the file at close and makes
// the next truncation wait for it: thousands of damaged copies would take many seconds.)
void put_file(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes.size())), 0);
  ::close(fd);
}

// Reads a reader's whole body (throwing what the stream throws).
void drain(SnapshotReader& r) {
  std::vector<char> buf(4096);
  while (r.body().read(buf.data(), static_cast<std::streamsize>(buf.size()))) {
  }
}

void drain(RawReader& r) {
  std::vector<char> buf(4096);
  while (r.read(buf.data(), buf.size()) > 0) {
  }
}

// A stored snapshot and its pristine bytes, and a second store to receive copies in.
class Damage : public ::testing::Test {
 protected:
  void SetUp() override { make(body_bytes(200, 5)); }

  void make(const std::string& body) {
    raft::SnapshotMetadata m = metadata(42, 6, {1, 2, 3});
    m.mutable_conf_state()->add_learners(9);
    meta_ = m;
    info_ = write_snapshot(store_, m, body, 64);
    pristine_ = read_file(info_.path);
  }

  // Each check of `bytes` in place of the stored file fails, and the receiving store is left
  // with nothing. The receiver takes the bytes in pieces of `piece` bytes, or (0) in pieces of
  // both 1000 and 13 bytes.
  void expect_caught(const std::string& bytes, const std::string& what, size_t piece = 0) {
    SCOPED_TRACE(what);
    put_file(info_.path, bytes);
    expect_error([&] { store_.verify(info_); }, {info_.path});
    expect_error(
        [&] {
          auto r = store_.open(info_);
          drain(*r);
        },
        {info_.path});
    expect_error(
        [&] {
          auto r = store_.open_raw(info_);
          drain(*r);
        },
        {info_.path});
    for (size_t p : {size_t{1000}, size_t{13}}) {
      if (piece != 0 && p != piece) continue;
      expect_error([&] { receive_bytes(receiver_, meta_, bytes, p); }, {"damaged"});
    }
    EXPECT_TRUE(receiver_.list().empty());
    EXPECT_TRUE(file_names(receiver_.dir()).empty());
  }

  TempDir tmp_;
  SnapshotStore store_{tmp_.sub("store"), 2};
  SnapshotStore receiver_{tmp_.sub("receiver"), 2};
  raft::SnapshotMetadata meta_;
  SnapshotInfo info_;
  std::string pristine_;
};

TEST_F(Damage, ThePristineFilePassesEveryCheck) {
  store_.verify(info_);
  auto r = store_.open(info_);
  drain(*r);
  EXPECT_EQ(read_file(receive_bytes(receiver_, meta_, pristine_, 13).path), pristine_);
}

TEST_F(Damage, EveryBitFlipIsCaught) {
  ASSERT_LT(pristine_.size(), 400u);
  for (size_t byte = 0; byte < pristine_.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = pristine_;
      bytes[byte] = static_cast<char>(bytes[byte] ^ (1 << bit));
      // Both piece sizes, alternately: exceptions are slow under sanitizers.
      expect_caught(bytes, "flip byte " + std::to_string(byte) + " bit " + std::to_string(bit),
                    bit % 2 == 0 ? 1000 : 13);
      if (HasFailure()) return;
    }
  }
}

// A body of several buffers: flips at the edges of the buffers, of the body and of the file.
TEST_F(Damage, BitFlipsInALargeBodyAreCaught) {
  make(body_bytes(3 * (256 << 10) + 100, 8));
  const size_t header = pristine_.size() - 20 - (3 * (256 << 10) + 100);
  for (size_t at : {header, header + 1, header + (256 << 10) - 1, header + (256 << 10),
                    header + 2 * (256 << 10) + 17, pristine_.size() - 21, pristine_.size() - 1}) {
    std::string bytes = pristine_;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    expect_caught(bytes, "flip at " + std::to_string(at));
  }
}

TEST_F(Damage, EveryTruncationIsCaught) {
  for (size_t len = 0; len < pristine_.size(); ++len) {
    expect_caught(pristine_.substr(0, len), "truncated to " + std::to_string(len));
    if (HasFailure()) return;
  }
}

TEST_F(Damage, BytesAfterTheTrailerAreCaught) {
  expect_caught(pristine_ + "x", "one byte more");
  expect_caught(pristine_ + pristine_, "twice");
}

TEST_F(Damage, ADamagedFileIsListedByItsNameAndRefusedWhenOpened) {
  write_file(info_.path, pristine_.substr(0, 10));
  SnapshotStore reopened(store_.dir(), 2);
  const auto list = reopened.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].metadata.index(), 42u);
  EXPECT_EQ(list[0].metadata.term(), 6u);
  EXPECT_EQ(list[0].file_bytes, 10u);
  expect_error([&] { reopened.open(list[0]); }, {info_.path, "damaged"});
  expect_error([&] { reopened.open_raw(list[0]); }, {info_.path, "damaged"});
  expect_error([&] { reopened.verify(list[0]); }, {info_.path, "damaged"});
}

TEST_F(Damage, ANameThatDisagreesWithTheMetadata) {
  const std::string other = store_.dir() + "/0000000000000043-0000000000000006.snap";
  write_file(other, pristine_);
  SnapshotStore reopened(store_.dir(), 2);
  const auto found = reopened.find(0x43, 6);
  ASSERT_TRUE(found.has_value());
  expect_error([&] { reopened.open(*found); },
               {other, "the name says index 67 term 6", "the metadata says index 42 term 6"});
  expect_error([&] { reopened.open_raw(*found); }, {other, "name says"});
  expect_error([&] { reopened.verify(*found); }, {other, "name says"});
  reopened.verify(*reopened.find(42, 6));
}

TEST_F(Damage, MetadataOtherThanTheExpectedIsRefusedAsSoonAsItIsIn) {
  std::vector<raft::SnapshotMetadata> others;
  for (int i = 0; i < 5; ++i) others.push_back(meta_);
  others[0].set_index(43);
  others[1].set_term(7);
  others[2].mutable_conf_state()->add_voters(4);
  others[3].mutable_conf_state()->clear_learners();
  others[4].mutable_conf_state()->set_auto_leave(true);
  // The header alone (fixed part and metadata) is enough to refuse.
  const size_t header = 16 + raft::le::get_u32(pristine_.data() + 12);
  for (const raft::SnapshotMetadata& expected : others) {
    auto w = receiver_.receive(expected);
    w->write(pristine_.data(), header - 1);
    expect_error([&] { w->write(pristine_.data() + header - 1, 1); },
                 {"damaged", "is not the expected", "index 42 term 6"});
    EXPECT_THROW(w->write(pristine_.data(), 1), SnapshotError);
    EXPECT_THROW(w->commit(), SnapshotError);
    EXPECT_TRUE(file_names(receiver_.dir()).empty());
  }
  EXPECT_TRUE(receiver_.list().empty());
}

TEST_F(Damage, AHeaderThatCannotBeASnapshotsIsRefusedAtOnce) {
  auto refuse_at = [&](std::string bytes, size_t at, const std::string& what) {
    SCOPED_TRACE(what);
    auto w = receiver_.receive(meta_);
    if (at > 0) w->write(bytes.data(), at);
    expect_error([&] { w->write(bytes.data() + at, 1); }, {"damaged", what});
    EXPECT_TRUE(file_names(receiver_.dir()).empty());
  };
  std::string bad_magic = pristine_;
  bad_magic[0] = 'X';
  refuse_at(bad_magic, 0, "bad magic");
  bad_magic = pristine_;
  bad_magic[7] = 'X';
  refuse_at(bad_magic, 7, "bad magic");
  std::string bad_version = pristine_;
  raft::le::put_u32(bad_version.data() + 8, 2);
  refuse_at(bad_version, 15, "unsupported format version 2");
  std::string huge = pristine_;
  raft::le::put_u32(huge.data() + 12, (64u << 20) + 1);
  refuse_at(huge, 15, "metadata length 67108865 exceeds the limit");
  std::string garbage = pristine_;
  const uint32_t meta_len = raft::le::get_u32(garbage.data() + 12);
  for (uint32_t i = 0; i < meta_len; ++i) garbage[16 + i] = static_cast<char>(0xff);
  refuse_at(garbage, 16 + meta_len - 1, "metadata does not parse");
}

TEST_F(Damage, AFileCutBeforeItsTrailerIsRefusedAtCommit) {
  for (size_t len :
       {size_t{0}, size_t{5}, size_t{16}, pristine_.size() - 20, pristine_.size() - 1}) {
    SCOPED_TRACE(len);
    auto w = receiver_.receive(meta_);
    w->write(pristine_.data(), len);
    expect_error([&] { w->commit(); }, {"damaged"});
    EXPECT_TRUE(file_names(receiver_.dir()).empty());
  }
}

// The process may write at most `bytes` bytes to a file (RLIMIT_FSIZE): a larger write fails
// with EFBIG, the way a full disk fails with ENOSPC. Restored at the end of the scope.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST(SnapshotWriteFailure, AFailedBodyWriteThrowsNamesTheFileAndLeavesNothing) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  const std::string chunk = body_bytes(100'000, 1);
  auto w = store.create(metadata(5, 1));
  const std::string tmp_path = tmp.path() + "/0000000000000005-0000000000000001.snap.tmp";
  {
    FileSizeLimit limit(1 << 20);
    expect_error(
        [&] {
          for (int i = 0; i < 20; ++i) {
            w->body().write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
          }
        },
        {tmp_path, "write", "File too large"});
  }
  EXPECT_TRUE(w->body().bad());
  expect_error([&] { w->commit(); }, {tmp_path, "File too large"});
  EXPECT_TRUE(file_names(tmp.path()).empty());
  EXPECT_TRUE(store.list().empty());
}

TEST(SnapshotWriteFailure, AFailedWriteAtCommitLeavesNothing) {
  TempDir tmp;
  SnapshotStore store(tmp.path(), 2);
  auto w = store.create(metadata(5, 1));
  const std::string body = body_bytes(200'000, 2);  // less than a buffer: written at commit
  w->body().write(body.data(), static_cast<std::streamsize>(body.size()));
  {
    FileSizeLimit limit(100'000);
    expect_error([&] { w->commit(); }, {".snap.tmp", "File too large"});
  }
  EXPECT_TRUE(file_names(tmp.path()).empty());
  EXPECT_TRUE(store.list().empty());
}

TEST(SnapshotWriteFailure, AFailedReceiveWriteThrowsAndLeavesNothing) {
  TempDir tmp;
  SnapshotStore from(tmp.sub("from"), 2);
  SnapshotStore to(tmp.sub("to"), 2);
  const SnapshotInfo info = write_snapshot(from, metadata(5, 1), body_bytes(3 << 20, 3));
  const std::string bytes = read_file(info.path);
  auto w = to.receive(info.metadata);
  {
    FileSizeLimit limit(1 << 20);
    expect_error(
        [&] {
          for (size_t at = 0; at < bytes.size(); at += 65536) {
            w->write(bytes.data() + at, std::min<size_t>(65536, bytes.size() - at));
          }
        },
        {tmp.sub("to/0000000000000005-0000000000000001.snap.tmp"), "File too large"});
  }
  EXPECT_THROW(w->commit(), SnapshotError);
  EXPECT_TRUE(file_names(to.dir()).empty());
  EXPECT_TRUE(to.list().empty());
}

}  // namespace
}  // namespace snapshot::testing
