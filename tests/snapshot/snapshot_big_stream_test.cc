// Bounded memory: a large snapshot goes through the store's fixed buffers on every path — written
// through SnapshotWriter::body(), read back through SnapshotReader::body(), sent through
// RawReader into another store's RawWriter, verified — while the process's peak RSS grows by a
// few MiB at most. 256 MiB in optimized builds; 32 MiB under sanitizers, which are slower and
// whose allocator keeps freed memory a while.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "snapshot/snapshot_store.h"
#include "tests/snapshot/support/snapshot_util.h"
#include "tests/wal/support/temp_dir.h"

namespace snapshot::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr uint64_t kBodyBytes = 32ull << 20;
#else
constexpr uint64_t kBodyBytes = 256ull << 20;
#endif
constexpr size_t kPiece = 1 << 20;
constexpr double kMaxGrowthMiB = 32;

// The "VmHWM:" (peak RSS) line of /proc/self/status, in MiB.
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

double current_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

// Resets the peak to the current RSS (Linux 4.0+); false if the kernel does not allow it, and
// the peak so far then stands.
bool reset_peak_rss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

TEST(BigStream, ASnapshotLargerThanItsBuffersMovesWithBoundedMemory) {
  wal::testing::TempDir tmp;
  SnapshotStore leader(tmp.sub("leader"), 1);
  SnapshotStore follower(tmp.sub("follower"), 1);
  const raft::SnapshotMetadata m = metadata(1000, 5);
  const auto piece = std::make_unique<char[]>(kPiece);
  const auto expected = std::make_unique<char[]>(kPiece);

  const bool reset = reset_peak_rss();
  const double base = reset ? current_rss_mib() : peak_rss_mib();
  const auto start = std::chrono::steady_clock::now();

  // Write.
  auto w = leader.create(m);
  for (uint64_t at = 0; at < kBodyBytes; at += kPiece) {
    fill_body(piece.get(), kPiece, at, 77);
    w->body().write(piece.get(), kPiece);
  }
  const SnapshotInfo info = w->commit();
  w.reset();
  ASSERT_EQ(info.body_bytes, kBodyBytes);
  const double after_write = peak_rss_mib();

  // Read the body back, in pieces of another size than the buffers'.
  {
    auto r = leader.open(info);
    uint64_t at = 0;
    constexpr size_t kRead = 3 * 65536 + 8;
    while (at < kBodyBytes) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kRead, kBodyBytes - at));
      r->body().read(piece.get(), static_cast<std::streamsize>(n));
      ASSERT_EQ(static_cast<size_t>(r->body().gcount()), n) << "at " << at;
      fill_body(expected.get(), (n + 7) / 8 * 8, at, 77);
      ASSERT_EQ(std::memcmp(piece.get(), expected.get(), n), 0) << "at " << at;
      at += n;
    }
    EXPECT_EQ(r->body().get(), std::char_traits<char>::eof());
  }
  const double after_read = peak_rss_mib();

  // Send it raw to the follower, which checks it whole before it keeps it.
  const SnapshotInfo got = copy_raw(leader, info, follower, kPiece);
  EXPECT_EQ(got.file_bytes, info.file_bytes);
  follower.verify(got);
  const double after_transfer = peak_rss_mib();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double growth = after_transfer - base;
  std::cout << "big stream: " << (kBodyBytes >> 20) << " MiB body, written, read, sent and "
            << "verified in " << seconds << " s; peak RSS " << base << " MiB at the start ("
            << (reset ? "reset" : "not reset: peak so far") << "), " << after_write
            << " after writing, " << after_read << " after reading, " << after_transfer
            << " after the transfer: growth " << growth << " MiB\n";
  RecordProperty("body_mib", static_cast<int>(kBodyBytes >> 20));
  RecordProperty("peak_rss_growth_kib", static_cast<int>(growth * 1024));
  EXPECT_LT(growth, kMaxGrowthMiB);
}

}  // namespace
}  // namespace snapshot::testing
