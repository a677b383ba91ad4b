// Crash tests with real processes: a forked child writes a snapshot (of its own, or received as
// raw bytes) and is killed with SIGKILL at the k-th point of the write that the store's write
// hook reports — after creating the temporary file, after each write(2), after the fsync (before
// the rename), after the rename (before the directory's fsync), after the directory's fsync —
// for every k. The parent then reopens the store and checks that the snapshot is either absent
// (killed before the rename) or whole and valid (after it), that the older snapshot is untouched,
// and that no temporary file is left.
//
// SIGKILL loses no page cache, so this checks the order of the steps and the clean-up, not the
// fsyncs themselves (a power loss would be needed for those).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/snapshot_store.h"
#include "tests/snapshot/support/snapshot_util.h"
#include "tests/wal/support/temp_dir.h"

namespace snapshot::testing {
namespace {

using wal::testing::read_file;
using wal::testing::TempDir;

// What the child does to the store: write one snapshot.
using Workload = std::function<void(SnapshotStore&)>;

// The points the hook reports during `work`, in order (run in this process, in a scratch dir).
std::vector<WritePoint> points_of(const std::string& scratch, const Workload& work) {
  SnapshotStore store(scratch, 4);
  std::vector<WritePoint> points;
  store.set_write_hook([&](WritePoint p, uint64_t) { points.push_back(p); });
  work(store);
  return points;
}

// Runs `work` in a child killed at the k-th hook call (1-based). Returns the wait status.
int run_and_kill(const std::string& dir, const Workload& work, size_t k) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // The child: never returns, never touches GoogleTest.
    try {
      SnapshotStore store(dir, 4);
      size_t calls = 0;
      store.set_write_hook([&](WritePoint, uint64_t) {
        if (++calls == k) ::kill(::getpid(), SIGKILL);
      });
      work(store);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

class Crash : public ::testing::Test {
 protected:
  // A store holding the older snapshot (index 5) that every crash must leave untouched.
  std::string prepare(const std::string& dir) {
    SnapshotStore store(dir, 4);
    write_snapshot(store, metadata(5, 1), old_body_);
    return dir;
  }

  // Kills a child running `work` at every point it reports, and checks each outcome.
  void kill_everywhere(const Workload& work, const raft::SnapshotMetadata& m,
                       const std::string& body) {
    const std::vector<WritePoint> points = points_of(tmp_.sub("scratch"), work);
    ASSERT_GE(points.size(), 5u);
    ASSERT_EQ(points.front(), WritePoint::kCreated);
    ASSERT_EQ(points.back(), WritePoint::kPublished);
    size_t absent = 0;
    size_t present = 0;
    for (size_t k = 1; k <= points.size(); ++k) {
      SCOPED_TRACE("killed at point " + std::to_string(k) + " of " + std::to_string(points.size()));
      const std::string dir = prepare(tmp_.sub("run" + std::to_string(k)));
      const int status = run_and_kill(dir, work, k);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

      SnapshotStore store(dir, 4);
      for (const std::string& name : file_names(dir)) {
        EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
      }
      const auto old = store.find(5, 1);
      ASSERT_TRUE(old.has_value());
      store.verify(*old);
      EXPECT_EQ(read_body(store, *old), old_body_);

      const auto found = store.find(m.index(), m.term());
      const bool renamed =
          points[k - 1] == WritePoint::kRenamed || points[k - 1] == WritePoint::kPublished;
      ASSERT_EQ(found.has_value(), renamed);
      if (found) {
        ++present;
        store.verify(*found);
        EXPECT_EQ(read_body(store, *found), body);
        EXPECT_EQ(store.latest()->path, found->path);
      } else {
        ++absent;
        EXPECT_EQ(store.latest()->path, old->path);
      }
      wal::testing::remove_tree(dir);
    }
    EXPECT_EQ(present, 2u);
    EXPECT_EQ(absent, points.size() - 2);
  }

  TempDir tmp_;
  const std::string old_body_ = body_bytes(10'000, 1);
};

TEST_F(Crash, KilledAtEveryPointOfWritingASnapshot) {
  const raft::SnapshotMetadata m = metadata(9, 2);
  const std::string body = body_bytes((2 << 20) + 333, 2);
  kill_everywhere([&](SnapshotStore& store) { write_snapshot(store, m, body, 65536); }, m, body);
}

TEST_F(Crash, KilledAtEveryPointOfReceivingASnapshot) {
  const raft::SnapshotMetadata m = metadata(9, 2, {1, 2, 3, 4, 5});
  const std::string body = body_bytes((2 << 20) + 4444, 3);
  SnapshotStore sender(tmp_.sub("sender"), 1);
  const std::string bytes = read_file(write_snapshot(sender, m, body).path);
  kill_everywhere([&](SnapshotStore& store) { receive_bytes(store, m, bytes, 100'000); }, m, body);
}

}  // namespace
}  // namespace snapshot::testing
