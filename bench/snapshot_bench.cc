// Snapshot transfer throughput, and the time a new node takes to catch up from a large snapshot,
// next to raw baselines measured in the same run, with the process's peak RSS for each.
//
//   snapshot_bench [--part=all|transfer|catchup] [--bytes=1G] [--repetitions=3]
//                  [--catchup_repetitions=3] [--dir=DIR] [--shm_dir=/dev/shm|none]
//                  [--chunk_kib=1024] [--load_seconds=1] [--margin=100] [--catchup_proposers=0]
//                  [--only_transfers]
//
// Part "transfer": two net::Transports in this process, each on an io_context thread of its own.
// A snapshot file of --bytes of state (written once into a SnapshotStore on the disk) is sent
// with Transport::send_snapshot from one to the other, whose on_snapshot_offer returns a sink
// into another SnapshotStore (SnapshotStore::receive: the RawWriter checks the checksum and
// commits with fdatasync, rename and directory sync). Time: send_snapshot() until
// on_snapshot_sent(ok), which comes after the receiver committed (whose commit() is timed too).
// Each repetition measures, in this order: raw loopback TCP streams of the same byte count
// (blocking sockets, 1 MiB and 64 KiB writes), raw write + fdatasync of the same byte count to
// the disk and to --shm_dir, the same fed by a raw TCP stream (a reader thread writing what it
// receives), a store-to-store copy without the network (RawReader -> RawWriter in one thread,
// into the disk and into --shm_dir), then the transfer with the receiver on the disk and on
// --shm_dir (a tmpfs: the network and file work without the disk). The sender's file is read
// from the page cache (it was just written, as a leader's fresh snapshot would be). For each, the
// process's CPU time over the wall time ("cores busy"). Peak RSS: the high-water mark is reset
// before each transfer and its growth over the RSS at that moment reported.
//
// Part "catchup": a 3-node cluster of framework::Nodes in this process (each on an io_context
// thread of its own, as cluster_bench's inproc mode) whose state machine holds --bytes of
// generated state that is never in memory (bench/snapshot_state.h). A closed-loop load of 1 KiB
// commands for --load_seconds, Node::snapshot() on the leader, which compacts its WAL (1 MiB
// segments, compaction_margin --margin), then a 4th node starts with join=true and the leader
// add_learner()s it. Timed from add_learner() until the new node's applied index reaches the
// leader's, split into phases from the state machines' own timestamps and the nodes' log lines.
// With --catchup_proposers=N, N proposers keep writing on the leader during the catch-up (stopped
// once the new node has restored), and their rate and latency are compared with the same load
// just before.
//
// Data lives in a fresh snapshot_bench.XXXXXX directory under --dir (default
// $SNAPSHOT_BENCH_DIR, else ${TMPDIR:-/tmp}), which must be on the disk to measure; it and the
// files in --shm_dir are removed as soon as each measurement is done and at the end. The free
// space is checked first (statvfs): the run refuses to start without room for what it writes at
// once plus 1 GiB. SIGINT, SIGTERM and SIGHUP remove the scratch directories before the process
// dies. Progress goes to stderr, the tables (Markdown) to stdout.
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "bench/bench_messages.h"
#include "bench/bench_system.h"
#include "bench/bench_util.h"
#include "bench/cluster_load.h"
#include "bench/snapshot_state.h"
#include "framework/node.h"
#include "framework/snapshot_transfer.h"
#include "net/transport.h"
#include "raft/crc32c.h"
#include "raft/logger.h"
#include "snapshot/snapshot_store.h"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("snapshot_bench: " + what);
}

double seconds_between(int64_t from_ns, int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e9;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of the whole process (every thread, user + system), in seconds: divided by the wall
// time of a measurement, how many of the machine's cores it kept busy.
double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// --- Flags -----------------------------------------------------------------------------------

struct Flags {
  std::string part = "all";
  uint64_t bytes = kGiB;
  int repetitions = 3;
  int catchup_repetitions = 3;
  std::string base_dir;
  std::string shm_dir = "/dev/shm";
  size_t chunk_bytes = net::kDefaultSnapshotChunkBytes;
  double load_seconds = 1.0;
  uint64_t margin = 100;
  int catchup_proposers = 0;
  // Only the two send_snapshot runs per repetition (for profiling them): no baselines.
  bool only_transfers = false;
};

// "1G", "512M", "64K", "1GiB" or plain bytes; binary units.
uint64_t parse_size(const std::string& text) {
  size_t end = 0;
  const double number = std::stod(text, &end);
  std::string unit = text.substr(end);
  if (unit.size() == 3 && unit.substr(1) == "iB") unit = unit.substr(0, 1);
  uint64_t scale = 1;
  if (unit == "K" || unit == "k") {
    scale = 1ull << 10;
  } else if (unit == "M" || unit == "m") {
    scale = kMiB;
  } else if (unit == "G" || unit == "g") {
    scale = kGiB;
  } else if (!unit.empty()) {
    throw std::invalid_argument("unknown unit in " + text);
  }
  return static_cast<uint64_t>(number * static_cast<double>(scale));
}

void print_help() {
  std::printf(
      "snapshot_bench: snapshot transfer throughput and a new node's catch-up time\n"
      "  --part=all|transfer|catchup  what to measure (default all)\n"
      "  --bytes=N[K|M|G]          state / snapshot size (default 1G)\n"
      "  --repetitions=N           transfer measurements, medians (default 3)\n"
      "  --catchup_repetitions=N   catch-ups, each on a fresh cluster (default 2)\n"
      "  --dir=DIR                 where the data goes (default $SNAPSHOT_BENCH_DIR, else\n"
      "                            ${TMPDIR:-/tmp}); must be on the disk to measure\n"
      "  --shm_dir=DIR|none        a tmpfs for the receiver-in-memory runs (default /dev/shm)\n"
      "  --chunk_kib=N             the transports' snapshot_chunk_bytes in KiB (default 1024)\n"
      "  --load_seconds=S          catchup: load before the snapshot (default 1)\n"
      "  --margin=N                catchup: NodeConfig::compaction_margin (default 100)\n"
      "  --catchup_proposers=N     catchup: proposers writing during the catch-up (default 0)\n"
      "  --only_transfers          transfer: only the send_snapshot runs, no baselines (for\n"
      "                            profiling them)\n");
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  f.base_dir = bench::default_data_dir("SNAPSHOT_BENCH_DIR");
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string value = eq == std::string_view::npos ? "" : std::string(arg.substr(eq + 1));
    try {
      if (name == "--help" || name == "-h") {
        print_help();
        std::exit(0);
      } else if (name == "--part") {
        f.part = value;
      } else if (name == "--bytes") {
        f.bytes = parse_size(value);
      } else if (name == "--repetitions") {
        f.repetitions = std::max(1, std::stoi(value));
      } else if (name == "--catchup_repetitions") {
        f.catchup_repetitions = std::max(1, std::stoi(value));
      } else if (name == "--dir") {
        f.base_dir = value;
      } else if (name == "--shm_dir") {
        f.shm_dir = value == "none" ? "" : value;
      } else if (name == "--chunk_kib") {
        f.chunk_bytes = std::stoull(value) << 10;
      } else if (name == "--load_seconds") {
        f.load_seconds = std::stod(value);
      } else if (name == "--margin") {
        f.margin = std::stoull(value);
      } else if (name == "--catchup_proposers") {
        f.catchup_proposers = std::max(0, std::stoi(value));
      } else if (name == "--only_transfers") {
        f.only_transfers = true;
      } else {
        std::fprintf(stderr, "snapshot_bench: unknown flag %s (--help lists them)\n", argv[i]);
        std::exit(2);
      }
    } catch (const std::logic_error&) {
      std::fprintf(stderr, "snapshot_bench: bad value in %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (f.part != "all" && f.part != "transfer" && f.part != "catchup") {
    std::fprintf(stderr, "snapshot_bench: --part must be all, transfer or catchup\n");
    std::exit(2);
  }
  if (f.bytes == 0 || f.chunk_bytes == 0) {
    std::fprintf(stderr, "snapshot_bench: --bytes and --chunk_kib must be positive\n");
    std::exit(2);
  }
  return f;
}

bool runs_transfer(const Flags& f) { return f.part == "all" || f.part == "transfer"; }
bool runs_catchup(const Flags& f) { return f.part == "all" || f.part == "catchup"; }

// --- Interruption ----------------------------------------------------------------------------

// The scratch directories, for the signal handler: an interrupted run must not leave gibibytes
// behind, least of all in /dev/shm, which is memory. Set before the handler is installed.
char g_scratch[2][4096] = {};

// SIGINT, SIGTERM, SIGHUP: removes the scratch directories (rm -rf in a child: fork, execv and
// waitpid are async-signal-safe), then dies of the signal.
extern "C" void on_fatal_signal(int sig) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    char rm[] = "/bin/rm";
    char rf[] = "-rf";
    char* argv[] = {rm, rf, g_scratch[0][0] ? g_scratch[0] : nullptr,
                    g_scratch[1][0] ? g_scratch[1] : nullptr, nullptr};
    if (argv[2] == nullptr) argv[2] = argv[3], argv[3] = nullptr;
    ::execv(rm, argv);
    ::_exit(127);
  }
  if (pid > 0) ::waitpid(pid, nullptr, 0);
  const char msg[] = "snapshot_bench: interrupted; the scratch directories were removed\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void remove_on_signal(const std::string& a, const std::string& b) {
  std::snprintf(g_scratch[0], sizeof(g_scratch[0]), "%s", a.c_str());
  std::snprintf(g_scratch[1], sizeof(g_scratch[1]), "%s", b.c_str());
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, on_fatal_signal);
}

// --- Space -----------------------------------------------------------------------------------

uint64_t free_bytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) bench::throw_errno("statvfs " + dir);
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kGiB); }

// The most the run holds on the disk at once: transfer, the source snapshot and one copy of it
// (every other file is removed before the next is written); catchup, the leader's two snapshot
// files (the one Node::snapshot() took and the fresh one the new learner needs) and the copy the
// new node receives, plus the WALs (~50 MiB).
uint64_t disk_needed(const Flags& f) {
  const uint64_t file = f.bytes + kMiB;
  const uint64_t transfer = runs_transfer(f) ? 2 * file : 0;
  const uint64_t catchup = runs_catchup(f) ? 3 * file + 64 * kMiB : 0;
  return std::max(transfer, catchup) + kGiB;
}

// --- Transfer: raw baselines -----------------------------------------------------------------

// A buffer of generated (incompressible, non-zero) bytes for the raw baselines.
std::unique_ptr<char[]> payload_buffer(size_t n) {
  auto buf = std::make_unique<char[]>(n);
  for (size_t off = 0; off < n; off += bench::GeneratedContent::kBlockBytes) {
    bench::GeneratedContent::fill(7, off / bench::GeneratedContent::kBlockBytes, buf.get() + off,
                                  std::min(n - off, bench::GeneratedContent::kBlockBytes));
  }
  return buf;
}

// Reads `n` bytes from `fd` in reads of up to `read_bytes`; each piece goes to `out` (-1: none).
// Returns when all n arrived; throws on an early end.
void drain_socket(int fd, uint64_t n, size_t read_bytes, int out) {
  auto buf = std::make_unique<char[]>(read_bytes);
  uint64_t got = 0;
  while (got < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(read_bytes, n - got));
    const ssize_t r = ::read(fd, buf.get(), want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) bench::throw_errno("read");
    if (r == 0) fail("the raw TCP stream ended early");
    if (out >= 0) bench::write_full(out, buf.get(), static_cast<size_t>(r));
    got += static_cast<uint64_t>(r);
  }
}

// `n` bytes over loopback TCP in writes of `write_bytes` to a reader thread (1 MiB reads, into
// `path` with fdatasync at the end when given): seconds from the first write until the reader
// has everything (and synced).
double raw_tcp_seconds(uint64_t n, size_t write_bytes, const std::string& path = {}) {
  auto [cfd, sfd] = bench::tcp_pair();
  const auto buf = payload_buffer(write_bytes);
  int out = -1;
  if (!path.empty()) {
    out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) bench::throw_errno("open " + path);
  }
  // Either side that fails shuts the connection down, so the other one ends too.
  std::exception_ptr read_error;
  std::exception_ptr write_error;
  Clock::time_point done;
  const Clock::time_point start = Clock::now();
  std::thread reader([&, sfd = sfd] {
    try {
      drain_socket(sfd, n, kMiB, out);
      if (out >= 0 && ::fdatasync(out) != 0) bench::throw_errno("fdatasync " + path);
      done = Clock::now();
    } catch (...) {
      read_error = std::current_exception();
      ::shutdown(sfd, SHUT_RDWR);
    }
  });
  try {
    for (uint64_t sent = 0; sent < n;) {
      const size_t w = static_cast<size_t>(std::min<uint64_t>(write_bytes, n - sent));
      bench::write_full(cfd, buf.get(), w);
      sent += w;
    }
  } catch (...) {
    write_error = std::current_exception();
    ::shutdown(cfd, SHUT_RDWR);
  }
  reader.join();
  ::close(cfd);
  ::close(sfd);
  if (out >= 0) {
    ::close(out);
    ::unlink(path.c_str());
  }
  if (read_error) std::rethrow_exception(read_error);
  if (write_error) std::rethrow_exception(write_error);
  return std::chrono::duration<double>(done - start).count();
}

// write(2) of `n` bytes in 1 MiB writes to a new file, then fdatasync: what the receiver's disk
// can take at all. The file is removed afterwards (not timed).
double raw_write_seconds(const std::string& path, uint64_t n) {
  const auto buf = payload_buffer(kMiB);
  const Clock::time_point start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) bench::throw_errno("open " + path);
  for (uint64_t done = 0; done < n;) {
    const size_t w = static_cast<size_t>(std::min<uint64_t>(kMiB, n - done));
    bench::write_full(fd, buf.get(), w);
    done += w;
  }
  if (::fdatasync(fd) != 0) bench::throw_errno("fdatasync " + path);
  ::close(fd);
  const double s = seconds_since(start);
  ::unlink(path.c_str());
  return s;
}

// CRC32C over a 1 MiB buffer for ~0.3 s: GB/s of the checksum every byte of a transfer goes
// through four times (the sender's RawReader and frame, the receiver's frame and RawWriter).
double crc32c_gbps() {
  const auto buf = payload_buffer(kMiB);
  uint32_t crc = 0;
  uint64_t bytes = 0;
  const Clock::time_point start = Clock::now();
  while (seconds_since(start) < 0.3) {
    crc = raft::crc32c::extend(crc, buf.get(), kMiB);
    bytes += kMiB;
  }
  const double s = seconds_since(start);
  if (crc == 0x12345678) std::fprintf(stderr, " ");  // keeps the loop from being optimized out
  return static_cast<double>(bytes) / s / 1e9;
}

// --- Transfer: the store and the transports --------------------------------------------------

raft::SnapshotMetadata transfer_metadata() {
  raft::SnapshotMetadata md;
  md.set_index(1000);
  md.set_term(3);
  md.mutable_conf_state()->add_voters(1);
  md.mutable_conf_state()->add_voters(2);
  return md;
}

// Writes the sender's snapshot: `bytes` of generated state through SnapshotWriter, as a node's
// snapshot thread does. Returns the stored snapshot and the seconds it took.
std::pair<snapshot::SnapshotInfo, double> write_source(snapshot::SnapshotStore& store,
                                                       uint64_t bytes) {
  const Clock::time_point start = Clock::now();
  std::unique_ptr<snapshot::SnapshotWriter> w = store.create(transfer_metadata());
  bench::GeneratedContent::write(42, bytes, w->body());
  snapshot::SnapshotInfo info = w->commit();
  return {info, seconds_since(start)};
}

// RawReader -> RawWriter in this thread, in chunk-sized pieces, into a fresh store in `dir`:
// the transfer's file work without the network. Seconds until the RawWriter committed.
double store_copy_seconds(snapshot::SnapshotStore& from, const snapshot::SnapshotInfo& info,
                          const std::string& dir, size_t chunk) {
  snapshot::SnapshotStore to(dir, 1);
  auto buf = std::make_unique<char[]>(chunk);
  const Clock::time_point start = Clock::now();
  std::unique_ptr<snapshot::RawReader> in = from.open_raw(info);
  std::unique_ptr<snapshot::RawWriter> out = to.receive(info.metadata);
  while (const size_t n = in->read(buf.get(), chunk)) out->write(buf.get(), n);
  out->commit();
  return seconds_since(start);
}

// The receiver's sink (framework/snapshot_transfer.h) with its commit() timed: how much of a
// transfer is the final fdatasync of whatever the page cache still holds.
class TimedSink final : public net::SnapshotSink {
 public:
  TimedSink(std::unique_ptr<net::SnapshotSink> sink, std::atomic<int64_t>& commit_ns)
      : sink_(std::move(sink)), commit_ns_(commit_ns) {}
  void write(const char* data, size_t n) override { sink_->write(data, n); }
  void commit() override {
    const int64_t start = bench::now_ns();
    sink_->commit();
    commit_ns_.store(bench::now_ns() - start);
  }
  void abort() override { sink_->abort(); }

 private:
  std::unique_ptr<net::SnapshotSink> sink_;
  std::atomic<int64_t>& commit_ns_;
};

// Two transports, nodes 1 and 2 of one cluster, each on an io_context thread of its own; 1 sends
// snapshots to 2, which stores them in whatever store send() names.
class TransportPair {
 public:
  explicit TransportPair(size_t chunk_bytes) {
    for (uint64_t id : {1, 2}) {
      net::TransportOptions o;
      o.cluster_id = 0x5BE4C;
      o.node_id = id;
      o.dial_backoff_min = 5ms;
      o.snapshot_chunk_bytes = chunk_bytes;
      // Everything else as NodeConfig::transport_options() leaves it (snapshot_idle_timeout 30 s:
      // the receiver's commit, an fdatasync of what the page cache still holds, must fit in it).
      o.seed = id;
      o.logger = &logger_;
      net::TransportHandler h;
      h.on_message = [](raft::Message) {};
      h.on_unreachable = [](uint64_t) {};
      if (id == 2) {
        h.on_snapshot_offer = [this](const raft::Message& m,
                                     uint64_t) -> std::unique_ptr<net::SnapshotSink> {
          std::lock_guard lock(mu_);
          if (sink_store_ == nullptr) return nullptr;
          return std::make_unique<TimedSink>(
              framework::snapshot_sink(sink_store_->receive(m.snapshot().metadata())), commit_ns_);
        };
      } else {
        h.on_snapshot_sent = [this](uint64_t, bool ok) {
          std::lock_guard lock(mu_);
          if (sent_) std::exchange(sent_, std::nullopt)->set_value(ok);
        };
      }
      ios_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(ios_.back()->get_executor());
      transports_.push_back(
          std::make_unique<net::Transport>(ios_.back()->get_executor(), o, std::move(h)));
      transports_.back()->start();
    }
    transports_[0]->set_peer(2, {"127.0.0.1", transports_[1]->port()});
    transports_[1]->set_peer(1, {"127.0.0.1", transports_[0]->port()});
    for (auto& io : ios_) threads_.emplace_back([io = io.get()] { io->run(); });
  }

  ~TransportPair() {
    for (size_t i = 0; i < transports_.size(); ++i) {
      std::promise<void> stopped;
      transports_[i]->stop([&stopped] { stopped.set_value(); });
      if (stopped.get_future().wait_for(30s) != std::future_status::ready) {
        std::fprintf(stderr, "snapshot_bench: a transport did not stop within 30 s\n");
      }
    }
    guards_.clear();
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_) t.join();
    transports_.clear();  // after their io_contexts stopped (net/transport.h, ~Transport)
  }
  TransportPair(const TransportPair&) = delete;
  TransportPair& operator=(const TransportPair&) = delete;

  // Sends `info` from `from` into `to`: seconds from send_snapshot() to on_snapshot_sent(true).
  // Throws if the send failed (the transports' warnings, on stderr, say why). commit_seconds()
  // is then the receiver's commit() of that transfer.
  double send(snapshot::SnapshotStore& from, const snapshot::SnapshotInfo& info,
              snapshot::SnapshotStore& to) {
    std::future<bool> outcome;
    {
      std::lock_guard lock(mu_);
      sink_store_ = &to;
      sent_.emplace();
      outcome = sent_->get_future();
    }
    raft::Message m;
    m.set_msg_type(eraftpb::MsgSnapshot);
    m.set_from(1);
    m.set_to(2);
    m.set_term(info.metadata.term());
    *m.mutable_snapshot()->mutable_metadata() = info.metadata;
    std::unique_ptr<net::SnapshotSource> source = framework::snapshot_source(from.open_raw(info));
    const Clock::time_point start = Clock::now();
    transports_[0]->send_snapshot(std::move(m), std::move(source));
    if (outcome.wait_for(600s) != std::future_status::ready) fail("no outcome after 600 s");
    const bool ok = outcome.get();
    const double s = seconds_since(start);
    {
      std::lock_guard lock(mu_);
      sink_store_ = nullptr;
    }
    if (!ok) fail("the snapshot transfer failed");
    return s;
  }

  double commit_seconds() const { return static_cast<double>(commit_ns_.load()) / 1e9; }

 private:
  raft::StderrLogger logger_{raft::LogLevel::kWarn};
  std::mutex mu_;
  snapshot::SnapshotStore* sink_store_ = nullptr;
  std::optional<std::promise<bool>> sent_;
  std::atomic<int64_t> commit_ns_{0};
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::unique_ptr<net::Transport>> transports_;
  std::vector<std::thread> threads_;
};

// --- Transfer: the measurements --------------------------------------------------------------

// One figure over the repetitions: MB/s of each, and the peak RSS growth where measured.
struct Series {
  std::string name;
  std::vector<double> seconds;
  std::vector<double> cores;           // process CPU time / wall time
  std::vector<double> rss_growth_mib;  // empty: not measured
  std::vector<double> commit_s;        // transfers: the receiver's commit()
};

struct TransferResult {
  uint64_t file_bytes = 0;
  double source_write_s = 0;
  double source_read_s = 0;
  double crc_gbps = 0;
  const char* fs = "";
  const char* shm_fs = "";
  std::vector<Series> series;

  Series& at(const std::string& name) {
    for (Series& s : series) {
      if (s.name == name) return s;
    }
    series.push_back(Series{name, {}, {}, {}, {}});
    return series.back();
  }
  const Series* find(const std::string& name) const {
    for (const Series& s : series) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
};

// The names of the series, which the report refers to.
const char* const kTcp1M = "raw loopback TCP stream, 1 MiB writes";
const char* const kTcp64K = "raw loopback TCP stream, 64 KiB writes";
const char* const kDiskWrite = "raw write + fdatasync, disk (1 MiB writes)";
const char* const kShmWrite = "raw write + fdatasync, shm (1 MiB writes)";
const char* const kTcpDisk = "raw loopback TCP -> write -> fdatasync, disk";
const char* const kTcpShm = "raw loopback TCP -> write -> fdatasync, shm";
const char* const kCopyDisk = "store copy, no network: RawReader -> RawWriter, disk";
const char* const kCopyShm = "store copy, no network: RawReader -> RawWriter, shm";
const char* const kXferDisk = "send_snapshot, receiver on the disk";
const char* const kXferShm = "send_snapshot, receiver on shm";

double mbps(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
}

void progress(const Series& s, uint64_t bytes) {
  std::fprintf(stderr, "snapshot_bench:   %-56s %6.0f MB/s  %.2f s  %.2f cores", s.name.c_str(),
               mbps(bytes, s.seconds.back()), s.seconds.back(), s.cores.back());
  if (!s.rss_growth_mib.empty()) {
    std::fprintf(stderr, "  peak RSS +%.1f MiB  commit %.2f s", s.rss_growth_mib.back(),
                 s.commit_s.back());
  }
  std::fprintf(stderr, "\n");
}

// Runs `run` (which returns the seconds it timed) and records them with the process's CPU time
// over the same call (which may include a little untimed work, such as removing a file).
template <typename Run>
void measure(Series& series, uint64_t bytes, Run run) {
  const double cpu = process_cpu_seconds();
  const double s = run();
  series.seconds.push_back(s);
  series.cores.push_back((process_cpu_seconds() - cpu) / s);
  progress(series, bytes);
}

// A transfer into a fresh store in `dir`, with the RSS high-water mark reset first: records its
// seconds, cores and RSS growth, checks that the receiver lists the snapshot, removes `dir`.
void timed_transfer(TransportPair& pair, snapshot::SnapshotStore& from,
                    const snapshot::SnapshotInfo& info, const std::string& dir, Series& series) {
  {
    snapshot::SnapshotStore to(dir, 1);
    bench::reset_rss_hwm();
    const double before = bench::rss_hwm_mib();
    const double cpu = process_cpu_seconds();
    const double s = pair.send(from, info, to);
    series.cores.push_back((process_cpu_seconds() - cpu) / s);
    series.rss_growth_mib.push_back(bench::rss_hwm_mib() - before);
    series.seconds.push_back(s);
    series.commit_s.push_back(pair.commit_seconds());
    if (!to.find(info.metadata.index(), info.metadata.term())) {
      fail("the receiver's store does not list the snapshot after a successful send");
    }
    progress(series, info.file_bytes);
  }
  std::filesystem::remove_all(dir);
}

TransferResult run_transfer(const Flags& f, const bench::ScratchDir& scratch,
                            const std::string& shm) {
  TransferResult r;
  r.fs = bench::filesystem_name(scratch.path());
  r.shm_fs = shm.empty() ? "" : bench::filesystem_name(shm);
  r.crc_gbps = crc32c_gbps();
  std::fprintf(stderr, "snapshot_bench: CRC32C (%s): %.1f GB/s\n",
               raft::crc32c::hardware_accelerated() ? "SSE4.2" : "table", r.crc_gbps);

  snapshot::SnapshotStore source(scratch.sub("source"), 1);
  auto [info, write_s] = write_source(source, f.bytes);
  r.file_bytes = info.file_bytes;
  r.source_write_s = write_s;
  std::fprintf(stderr, "snapshot_bench:   SnapshotWriter (once): %.0f MB/s\n",
               mbps(info.file_bytes, write_s));
  {
    std::unique_ptr<snapshot::RawReader> in = source.open_raw(info);
    auto buf = std::make_unique<char[]>(f.chunk_bytes);
    const Clock::time_point start = Clock::now();
    while (in->read(buf.get(), f.chunk_bytes) > 0) {
    }
    r.source_read_s = seconds_since(start);
    std::fprintf(stderr, "snapshot_bench:   RawReader alone (once): %.0f MB/s\n",
                 mbps(info.file_bytes, r.source_read_s));
  }

  TransportPair pair(f.chunk_bytes);
  const uint64_t n = info.file_bytes;
  for (int rep = 0; rep < f.repetitions; ++rep) {
    std::fprintf(stderr, "snapshot_bench: transfer repetition %d of %d\n", rep + 1, f.repetitions);
    if (!f.only_transfers) {
      measure(r.at(kTcp1M), n, [&] { return raw_tcp_seconds(n, kMiB); });
      measure(r.at(kTcp64K), n, [&] { return raw_tcp_seconds(n, 64 << 10); });
      measure(r.at(kDiskWrite), n, [&] { return raw_write_seconds(scratch.path() + "/raw", n); });
      if (!shm.empty()) {
        measure(r.at(kShmWrite), n, [&] { return raw_write_seconds(shm + "/raw", n); });
      }
      measure(r.at(kTcpDisk), n, [&] { return raw_tcp_seconds(n, kMiB, scratch.path() + "/raw"); });
      if (!shm.empty()) {
        measure(r.at(kTcpShm), n, [&] { return raw_tcp_seconds(n, kMiB, shm + "/raw"); });
      }
      measure(r.at(kCopyDisk), n, [&] {
        return store_copy_seconds(source, info, scratch.path() + "/copy", f.chunk_bytes);
      });
      std::filesystem::remove_all(scratch.path() + "/copy");
      if (!shm.empty()) {
        measure(r.at(kCopyShm), n,
                [&] { return store_copy_seconds(source, info, shm + "/copy", f.chunk_bytes); });
        std::filesystem::remove_all(shm + "/copy");
      }
    }
    timed_transfer(pair, source, info, scratch.path() + "/received", r.at(kXferDisk));
    if (!shm.empty()) timed_transfer(pair, source, info, shm + "/received", r.at(kXferShm));
  }
  return r;
}

// --- Catch-up: the cluster -------------------------------------------------------------------

// The nodes' logger: keeps the time of every line that mentions a snapshot (the phases of a
// catch-up are read off them), prints warnings and errors to stderr, and every line with
// SNAPSHOT_BENCH_LOG=info. Called from the nodes' several threads.
class EventLog final : public raft::Logger {
 public:
  struct Event {
    int64_t ns = 0;
    uint64_t node = 0;
    std::string text;
  };

  EventLog() {
    const char* env = std::getenv("SNAPSHOT_BENCH_LOG");
    verbose_ = env != nullptr && std::string_view(env) == "info";
  }

  void log(raft::LogLevel level, uint64_t node_id, uint64_t term,
           std::string_view message) override {
    const int64_t ns = bench::now_ns();
    if (verbose_ || level >= raft::LogLevel::kWarn) {
      std::fprintf(stderr, "snapshot_bench: [node %llu term %llu %s] %.*s\n",
                   static_cast<unsigned long long>(node_id), static_cast<unsigned long long>(term),
                   std::string(raft::to_string(level)).c_str(), static_cast<int>(message.size()),
                   message.data());
    }
    if (message.find("snapshot") == std::string_view::npos) return;
    std::lock_guard lock(mu_);
    events_.push_back(Event{ns, node_id, std::string(message)});
  }
  raft::LogLevel level() const override { return raft::LogLevel::kInfo; }

  // The time of the first line of `node` at or after `since_ns` that contains `needle`; 0 if
  // there is none.
  int64_t first(uint64_t node, std::string_view needle, int64_t since_ns) const {
    std::lock_guard lock(mu_);
    for (const Event& e : events_) {
      if (e.node == node && e.ns >= since_ns && e.text.find(needle) != std::string::npos) {
        return e.ns;
      }
    }
    return 0;
  }

  // How many lines of `node` at or after `since_ns` contain `needle`.
  int count(uint64_t node, std::string_view needle, int64_t since_ns) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const Event& e : events_) {
      n += e.node == node && e.ns >= since_ns && e.text.find(needle) != std::string::npos;
    }
    return n;
  }

  void clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }

 private:
  bool verbose_ = false;
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

// Proposers writing on one node until stopped, for the load during a catch-up.
class BackgroundLoad {
 public:
  BackgroundLoad(asio::any_io_executor executor, framework::Node& node, int proposers)
      : payload_(1024, 'b') {
    for (int i = 0; i < proposers; ++i) {
      done_.push_back(asio::co_spawn(executor, proposer(node), asio::use_future));
    }
    start_ = Clock::now();
  }

  struct Result {
    double ops_per_s = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    uint64_t errors = 0;
  };

  Result stop() {
    stop_.store(true);
    for (auto& d : done_) d.get();
    Result r;
    r.ops_per_s = static_cast<double>(latency_.count()) / seconds_since(start_);
    r.p50_ms = static_cast<double>(latency_.quantile(0.5)) / 1e6;
    r.p99_ms = static_cast<double>(latency_.quantile(0.99)) / 1e6;
    r.max_ms = static_cast<double>(latency_.max()) / 1e6;
    r.errors = errors_.load();
    return r;
  }

 private:
  asio::awaitable<void> proposer(framework::Node& node) {
    asio::steady_timer backoff(co_await asio::this_coro::executor);
    while (!stop_.load()) {
      const Clock::time_point t0 = Clock::now();
      framework::Reply<framework::Proposed> r = co_await node.propose(payload_);
      if (r.ok()) {
        latency_.record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
      } else {
        errors_.fetch_add(1);
        backoff.expires_after(1ms);
        co_await backoff.async_wait(asio::use_awaitable);
      }
    }
  }

  std::string payload_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> errors_{0};
  bench::LatencyHistogram latency_;
  std::vector<std::future<void>> done_;
  Clock::time_point start_;
};

// Nodes of one cluster in this process, each on an io_context thread of its own.
class CatchupCluster {
 public:
  CatchupCluster(const Flags& f, std::string dir, EventLog& log)
      : flags_(f), dir_(std::move(dir)), log_(log) {
    for (uint64_t id : kMembers) add(id, /*join=*/false);
    for (auto& [id, m] : members_) {
      for (auto& [other, om] : members_) {
        if (other != id) m.node->set_peer_address(other, {"127.0.0.1", om.node->port()});
      }
    }
    for (auto& [id, m] : members_) run(m);
  }

  ~CatchupCluster() {
    for (auto& [id, m] : members_) {
      try {
        asio::co_spawn(m.io->get_executor(), m.node->stop(), asio::use_future).get();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "snapshot_bench: stopping node %llu: %s\n",
                     static_cast<unsigned long long>(id), e.what());
      }
    }
    for (auto& [id, m] : members_) {
      m.guard.reset();
      m.io->stop();
      if (m.thread.joinable()) m.thread.join();
    }
  }
  CatchupCluster(const CatchupCluster&) = delete;
  CatchupCluster& operator=(const CatchupCluster&) = delete;

  // A new node that joins (NodeConfig::join) with an empty state; started, not yet a member.
  uint16_t start_joining(uint64_t id) {
    Member& m = add(id, /*join=*/true);
    run(m);
    return m.node->port();
  }

  framework::Node& node(uint64_t id) { return *members_.at(id).node; }
  bench::GeneratedStateMachine& sm(uint64_t id) { return *members_.at(id).sm; }
  asio::any_io_executor executor(uint64_t id) { return members_.at(id).io->get_executor(); }

  framework::NodeStatus status(uint64_t id) {
    return asio::co_spawn(executor(id), node(id).status(), asio::use_future).get();
  }

  template <typename T>
  T await(uint64_t id, asio::awaitable<T> request) {
    return asio::co_spawn(executor(id), std::move(request), asio::use_future).get();
  }

  // The node every initial member agrees is leader, and is itself leader; polls every 20 ms.
  uint64_t wait_for_leader(std::chrono::seconds deadline) {
    const auto end = Clock::now() + deadline;
    for (;;) {
      uint64_t leader = 0;
      uint64_t term = 0;
      bool agreed = true;
      for (uint64_t id : kMembers) {
        const framework::NodeStatus s = status(id);
        if (s.leader == 0 || (leader != 0 && (s.leader != leader || s.term != term))) {
          agreed = false;
        }
        leader = s.leader;
        term = s.term;
      }
      if (agreed && status(leader).role == raft::StateRole::kLeader) return leader;
      if (Clock::now() >= end) fail("the cluster elected no leader");
      std::this_thread::sleep_for(20ms);
    }
  }

 private:
  static constexpr uint64_t kSeed = 0x5EED;
  inline static const std::vector<uint64_t> kMembers = {1, 2, 3};

  struct Member {
    std::unique_ptr<asio::io_context> io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::shared_ptr<bench::GeneratedStateMachine> sm;
    std::unique_ptr<framework::Node> node;
    std::thread thread;
  };

  Member& add(uint64_t id, bool join) {
    std::map<uint64_t, uint16_t> ports;
    for (auto& [other, m] : members_) ports[other] = m.node->port();
    // The settings every cluster benchmark uses (cluster_load.cc says which and why), with 1 MiB
    // WAL segments so that the load's few MiB fill several (compaction drops whole segments).
    framework::NodeConfig c =
        bench::bench_node_config(id, kMembers, ports, dir_ + "/n" + std::to_string(id), kMiB);
    c.join = join;
    c.snapshot_entries = 0;  // only Node::snapshot() and a learner that needs one take one
    c.compaction_margin = flags_.margin;
    c.logger = &log_;
    Member& m = members_[id];
    m.io = std::make_unique<asio::io_context>(1);
    m.guard.emplace(m.io->get_executor());
    // Every member starts with the same state of --bytes; a joining node has none.
    m.sm =
        std::make_shared<bench::GeneratedStateMachine>(join ? 0 : flags_.bytes, join ? 0 : kSeed);
    m.node = std::make_unique<framework::Node>(m.io->get_executor(), c, m.sm);
    m.node->start();
    return m;
  }

  static void run(Member& m) {
    m.thread = std::thread([io = m.io.get()] { io->run(); });
  }

  const Flags& flags_;
  const std::string dir_;
  EventLog& log_;
  std::map<uint64_t, Member> members_;
};

// --- Catch-up: the measurement ---------------------------------------------------------------

struct CatchupResult {
  uint64_t load_ops = 0;
  uint64_t first_snapshot_index = 0;
  double first_snapshot_s = 0;  // Node::snapshot(): view, write, fdatasync, record, compact
  uint64_t compacted_to = 0;    // the leader's first WAL index after it
  uint64_t sent_snapshot_index = 0;
  uint64_t snapshot_file_bytes = 0;
  uint64_t target_applied = 0;
  double total_s = 0;  // add_learner() called -> the new node applied the leader's index
  // Phases of the first snapshot the new node gets, in seconds from add_learner() (negative:
  // not seen).
  double added_s = -1;          // add_learner() resolved
  double write_start_s = -1;    // the leader's StateSnapshot::write began (a fresh snapshot)
  double write_end_s = -1;      // ... and ended (bytes handed to the store)
  double stored_s = -1;         // the store committed it (fdatasync, rename, directory sync)
  double sending_s = -1;        // the leader handed it to the transport
  double received_s = -1;       // the new node's sink committed the file
  double restore_start_s = -1;  // the new node's StateMachine::restore began
  double restore_end_s = -1;
  double last_restore_end_s = -1;  // the last restore, when there were several
  // How many snapshots the leader wrote, streamed to the new node, and the new node restored,
  // during the catch-up (1 each when it goes as it should).
  int written = 0;
  int streamed = 0;
  int restored = 0;
  double rss_base_mib = 0;
  double rss_peak_mib = 0;
  std::optional<BackgroundLoad::Result> load_before;
  std::optional<BackgroundLoad::Result> load_during;
};

CatchupResult run_catchup(const Flags& f, const std::string& dir) {
  constexpr uint64_t kNew = 4;
  EventLog log;
  CatchupResult r;
  CatchupCluster c(f, dir, log);
  const uint64_t leader = c.wait_for_leader(30s);
  std::fprintf(stderr, "snapshot_bench:   leader %llu\n", static_cast<unsigned long long>(leader));

  bench::LoadSpec spec;
  spec.payload_bytes = 1024;
  spec.proposers = 64;
  spec.warmup = 0ms;
  spec.duration = std::chrono::milliseconds(static_cast<int64_t>(f.load_seconds * 1000));
  const bench::LoadResult load = bench::run_load(c.executor(leader), c.node(leader), spec);
  r.load_ops = load.ops;
  std::fprintf(stderr, "snapshot_bench:   load: %llu commands of 1 KiB (%.0f/s), %llu errors\n",
               static_cast<unsigned long long>(load.ops), load.ops_per_s,
               static_cast<unsigned long long>(load.errors));

  Clock::time_point t = Clock::now();
  framework::Reply<uint64_t> snap = c.await(leader, c.node(leader).snapshot());
  if (!snap.ok()) fail("Node::snapshot() on the leader: " + snap.error.message());
  r.first_snapshot_s = seconds_since(t);
  r.first_snapshot_index = snap.value;
  const framework::NodeStatus after = c.status(leader);
  r.compacted_to = after.first_index;
  std::fprintf(stderr,
               "snapshot_bench:   Node::snapshot() at index %llu took %.2f s; the leader's WAL "
               "now starts at %llu\n",
               static_cast<unsigned long long>(snap.value), r.first_snapshot_s,
               static_cast<unsigned long long>(after.first_index));
  if (after.first_index <= 1) {
    fail("the leader's WAL was not compacted (first index " + std::to_string(after.first_index) +
         "): the new node would catch up from the log; raise --load_seconds or lower --margin");
  }

  if (f.catchup_proposers > 0) {
    // The same load as during the catch-up, for 2 s before it: what the catch-up costs it.
    bench::LoadSpec same = spec;
    same.proposers = f.catchup_proposers;
    same.duration = 2s;
    const bench::LoadResult before = bench::run_load(c.executor(leader), c.node(leader), same);
    r.load_before = BackgroundLoad::Result{before.ops_per_s, before.p50_us / 1e3,
                                           before.p99_us / 1e3, before.max_us / 1e3, before.errors};
  }

  const uint16_t port = c.start_joining(kNew);
  log.clear();
  // Heap that earlier repetitions freed stays with the process otherwise (glibc keeps it in its
  // arenas), and the figure at the start would be theirs as much as this cluster's.
  ::malloc_trim(0);
  bench::reset_rss_hwm();
  r.rss_base_mib = bench::rss_hwm_mib();
  const int64_t t0 = bench::now_ns();
  std::optional<BackgroundLoad> during;
  if (f.catchup_proposers > 0)
    during.emplace(c.executor(leader), c.node(leader), f.catchup_proposers);
  framework::Reply<raft::ConfState> added =
      c.await(leader, c.node(leader).add_learner(kNew, {"127.0.0.1", port}));
  if (!added.ok()) fail("add_learner: " + added.error.message());
  r.added_s = seconds_between(t0, bench::now_ns());

  // Until the new node has restored, then (the load stopped) until it has applied as far as the
  // leader. 5 ms polls: far finer than the phases measured.
  const Clock::time_point deadline = Clock::now() + 600s;
  bool restored = false;
  for (;;) {
    const framework::NodeStatus s = c.status(kNew);
    if (!restored && s.snapshot_index > 0 && s.applied >= s.snapshot_index) {
      restored = true;
      if (during) r.load_during = during->stop();
      during.reset();
      r.target_applied = c.status(leader).applied;
    }
    if (restored && s.applied >= r.target_applied) break;
    if (Clock::now() >= deadline) {
      fail("node 4 did not catch up within 600 s (applied " + std::to_string(s.applied) +
           ", snapshot " + std::to_string(s.snapshot_index) + ")");
    }
    std::this_thread::sleep_for(5ms);
  }
  const int64_t t_done = bench::now_ns();
  r.total_s = seconds_between(t0, t_done);
  r.rss_peak_mib = bench::rss_hwm_mib();
  r.sent_snapshot_index = c.status(kNew).snapshot_index;

  auto at = [&](int64_t ns) { return ns >= t0 ? seconds_between(t0, ns) : -1.0; };
  for (const auto& w : c.sm(leader).writes()) {
    if (w.start_ns < t0) continue;
    if (r.written++ == 0) {
      r.write_start_s = at(w.start_ns);
      r.write_end_s = at(w.end_ns);
    }
  }
  for (const auto& w : c.sm(kNew).restores()) {
    if (r.restored++ == 0) {
      r.restore_start_s = at(w.start_ns);
      r.restore_end_s = at(w.end_ns);
    }
    r.last_restore_end_s = at(w.end_ns);
  }
  r.stored_s = at(log.first(leader, "stored a snapshot", t0));
  r.sending_s = at(log.first(leader, "sending the snapshot", t0));
  r.received_s = at(log.first(kNew, "net: received snapshot", t0));
  r.streamed = log.count(leader, "sending the snapshot", t0);

  // The new node holds the leader's state: the same content, key and commands.
  const framework::NodeStatus ls = c.status(leader);
  const framework::NodeStatus ns = c.status(kNew);
  if (ns.applied < ls.applied || c.sm(kNew).key() != c.sm(leader).key() ||
      c.sm(kNew).size() != f.bytes || c.sm(kNew).commands() != c.sm(leader).commands()) {
    fail("node 4's state differs from the leader's after the catch-up");
  }
  for (const auto& e : std::filesystem::directory_iterator(dir + "/n4/snap")) {
    if (e.path().extension() == ".snap") r.snapshot_file_bytes = e.file_size();
  }
  std::fprintf(stderr,
               "snapshot_bench:   caught up in %.2f s (snapshot at index %llu, applied %llu); "
               "peak RSS %.0f MiB (%.0f at the start)\n",
               r.total_s, static_cast<unsigned long long>(r.sent_snapshot_index),
               static_cast<unsigned long long>(ns.applied), r.rss_peak_mib, r.rss_base_mib);
  return r;
}

// --- Report ----------------------------------------------------------------------------------

std::string cell(const std::vector<double>& v, const char* format) {
  if (v.empty()) return "";
  char buf[96];
  std::snprintf(buf, sizeof(buf), format, bench::median(v));
  std::string out = buf;
  if (v.size() > 1) {
    char lo[32];
    char hi[32];
    std::snprintf(lo, sizeof(lo), format, *std::min_element(v.begin(), v.end()));
    std::snprintf(hi, sizeof(hi), format, *std::max_element(v.begin(), v.end()));
    out += std::string(" [") + lo + "–" + hi + "]";
  }
  return out;
}

std::vector<double> rates(const Series& s, uint64_t bytes) {
  std::vector<double> v;
  for (double sec : s.seconds) v.push_back(mbps(bytes, sec));
  return v;
}

double median_rate(const TransferResult& r, const char* name) {
  const Series* s = r.find(name);
  return s ? bench::median(rates(*s, r.file_bytes)) : 0;
}

std::string ratio(double x, double base) {
  if (base <= 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", x / base);
  return buf;
}

void print_transfer(const Flags& f, const TransferResult& r) {
  const double tcp = std::max(median_rate(r, kTcp1M), median_rate(r, kTcp64K));
  // What the receiver's directory takes: the better of a plain write + fdatasync and the same
  // fed from a raw TCP stream (both write the same bytes to the same place), so that a slow
  // moment of the disk in one of them does not flatter the transfer.
  const double disk = std::max(median_rate(r, kDiskWrite), median_rate(r, kTcpDisk));
  const double shm = std::max(median_rate(r, kShmWrite), median_rate(r, kTcpShm));
  const double ceiling_disk = std::min(tcp, disk);
  const double ceiling_shm = shm > 0 ? std::min(tcp, shm) : 0;
  std::printf(
      "\nSnapshot transfer of a %.2f GiB file (%llu bytes; chunks of %zu KiB), %d run(s): "
      "median [range]; data dir on %s, shm on %s\n",
      gib(r.file_bytes), static_cast<unsigned long long>(r.file_bytes), f.chunk_bytes >> 10,
      f.repetitions, r.fs, r.shm_fs[0] != '\0' ? r.shm_fs : "(none)");
  std::printf(
      "| what | MB/s | ÷ raw TCP | ÷ ceiling: min(raw TCP, raw write of the receiver's dir) | "
      "cores busy | peak RSS growth MiB | receiver's commit() s |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Series& s : r.series) {
    const std::vector<double> v = rates(s, r.file_bytes);
    const double m = bench::median(v);
    const bool on_shm = s.name.find("shm") != std::string::npos;
    const bool bold = s.name == kXferDisk || s.name == kXferShm;
    std::printf("| %s%s%s | %s | %s | %s | %s | %s | %s |\n", bold ? "**" : "", s.name.c_str(),
                bold ? "**" : "", cell(v, "%.0f").c_str(), ratio(m, tcp).c_str(),
                ratio(m, on_shm ? ceiling_shm : ceiling_disk).c_str(),
                cell(s.cores, "%.2f").c_str(), cell(s.rss_growth_mib, "%.1f").c_str(),
                cell(s.commit_s, "%.2f").c_str());
  }
  std::printf("| SnapshotWriter: generate + write + fdatasync, disk (once) | %.0f | | | | | |\n",
              mbps(r.file_bytes, r.source_write_s));
  std::printf("| RawReader alone: read + CRC32C from the page cache (once) | %.0f | | | | | |\n",
              mbps(r.file_bytes, r.source_read_s));
  std::printf("| CRC32C (%s), 1 MiB buffers | %.0f | | | | | |\n",
              raft::crc32c::hardware_accelerated() ? "SSE4.2" : "table", r.crc_gbps * 1e3);
  std::printf(
      "\nraw TCP = the better of the two raw TCP streams (%.0f MB/s); raw write of a dir = the "
      "better of its two raw writes (plain, and fed by raw TCP): disk %.0f MB/s, shm %.0f MB/s. "
      "Ratios use medians. cores busy = the process's CPU time (user + system, all threads) / "
      "wall time.\n",
      tcp, disk, shm);
}

std::string phase(double from, double to) {
  if (from < 0 || to < 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", to - from);
  return buf;
}

void print_catchup(const Flags& f, const std::vector<CatchupResult>& runs) {
  std::printf(
      "\nCatch-up of a new node (join + add_learner) in a 3-node cluster with %.2f GiB of state "
      "(seconds; phases from add_learner()):\n",
      gib(f.bytes));
  std::printf(
      "| run | commands before | Node::snapshot() s (index) | leader's WAL from | total s | "
      "add_learner | → write start | write (view → store) | commit (fdatasync, rename) | "
      "→ sending | stream (until the new node committed) | → restore start (record, verify) | "
      "restore | → applied = leader's | snapshot file | stream MB/s | written / streamed / "
      "restored | peak RSS MiB (start) |\n"
      "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
      "\n");
  int i = 0;
  for (const CatchupResult& r : runs) {
    const double stream_s = r.received_s >= 0 && r.sending_s >= 0 ? r.received_s - r.sending_s : 0;
    std::printf(
        "| %d | %llu | %.2f (%llu) | %llu | **%.2f** | %s | %s | %s | %s | %s | %s | %s | %s | %s "
        "| %.2f GiB at index %llu | %.0f | %d / %d / %d | %.0f (%.0f) |\n",
        ++i, static_cast<unsigned long long>(r.load_ops), r.first_snapshot_s,
        static_cast<unsigned long long>(r.first_snapshot_index),
        static_cast<unsigned long long>(r.compacted_to), r.total_s, phase(0, r.added_s).c_str(),
        phase(0, r.write_start_s).c_str(), phase(r.write_start_s, r.write_end_s).c_str(),
        phase(r.write_end_s, r.stored_s).c_str(), phase(r.stored_s, r.sending_s).c_str(),
        phase(r.sending_s, r.received_s).c_str(), phase(r.received_s, r.restore_start_s).c_str(),
        phase(r.restore_start_s, r.restore_end_s).c_str(),
        phase(r.last_restore_end_s, r.total_s).c_str(), gib(r.snapshot_file_bytes),
        static_cast<unsigned long long>(r.sent_snapshot_index),
        stream_s > 0 ? mbps(r.snapshot_file_bytes, stream_s) : 0, r.written, r.streamed, r.restored,
        r.rss_peak_mib, r.rss_base_mib);
  }
  for (const CatchupResult& r : runs) {
    if (!r.load_before || !r.load_during) continue;
    std::printf(
        "\nLoad on the leader, %d proposers of 1 KiB: before the catch-up %.0f ops/s (p50 %.1f "
        "ms, p99 %.1f ms, max %.1f ms); during it %.0f ops/s (p50 %.1f ms, p99 %.1f ms, max %.1f "
        "ms), %llu errors.\n",
        f.catchup_proposers, r.load_before->ops_per_s, r.load_before->p50_ms, r.load_before->p99_ms,
        r.load_before->max_ms, r.load_during->ops_per_s, r.load_during->p50_ms,
        r.load_during->p99_ms, r.load_during->max_ms,
        static_cast<unsigned long long>(r.load_during->errors));
  }
}

int run(const Flags& f) {
  const Clock::time_point started = Clock::now();
  ::signal(SIGPIPE, SIG_IGN);  // a raw baseline's peer that failed: an error, not a death
  std::filesystem::create_directories(f.base_dir);
  const uint64_t need = disk_needed(f);
  const uint64_t have = free_bytes(f.base_dir);
  if (have < need) {
    std::fprintf(stderr,
                 "snapshot_bench: %s has %.1f GiB free; this run needs %.1f GiB there (for "
                 "--bytes=%.2f GiB, plus 1 GiB to spare). Use a smaller --bytes or another --dir "
                 "(or $SNAPSHOT_BENCH_DIR).\n",
                 f.base_dir.c_str(), gib(have), gib(need), gib(f.bytes));
    return 3;
  }
  std::string shm = f.shm_dir;
  if (runs_transfer(f) && !shm.empty()) {
    const uint64_t shm_need = f.bytes + 512 * kMiB;
    std::error_code ec;
    if (!std::filesystem::is_directory(shm, ec) || free_bytes(shm) < shm_need) {
      std::fprintf(stderr,
                   "snapshot_bench: %s is missing or has less than %.1f GiB free: the runs with "
                   "the receiver in memory are skipped\n",
                   shm.c_str(), gib(shm_need));
      shm.clear();
    }
  }
  bench::ScratchDir scratch(f.base_dir, "snapshot_bench");
  std::optional<bench::ScratchDir> shm_scratch;
  if (!shm.empty()) shm_scratch.emplace(shm, "snapshot_bench");
  remove_on_signal(scratch.path(), shm_scratch ? shm_scratch->path() : std::string());
  const char* fs = bench::filesystem_name(scratch.path());
  utsname u{};
  ::uname(&u);
  std::fprintf(stderr,
               "snapshot_bench: writing in %s (%s, %.1f GiB free)%s%s; %u CPUs, kernel %s\n",
               scratch.path().c_str(), fs, gib(have), shm.empty() ? "" : " and in ",
               shm_scratch ? shm_scratch->path().c_str() : "", std::thread::hardware_concurrency(),
               u.release);
  if (std::string_view(fs) == "tmpfs") {
    std::fprintf(stderr, "snapshot_bench: warning: --dir is a tmpfs; these are not disk figures\n");
  }

  std::optional<TransferResult> transfer;
  if (runs_transfer(f)) {
    std::fprintf(stderr, "snapshot_bench: transfer of %.2f GiB\n", gib(f.bytes));
    const bench::ScratchDir part(scratch.path(), "transfer");
    transfer = run_transfer(f, part, shm_scratch ? shm_scratch->path() : std::string());
  }
  std::vector<CatchupResult> catchups;
  if (runs_catchup(f)) {
    for (int rep = 0; rep < f.catchup_repetitions; ++rep) {
      std::fprintf(stderr, "snapshot_bench: catch-up %d of %d, %.2f GiB of state\n", rep + 1,
                   f.catchup_repetitions, gib(f.bytes));
      const bench::ScratchDir part(scratch.path(), "catchup");
      catchups.push_back(run_catchup(f, part.path()));
    }
  }
  if (transfer) print_transfer(f, *transfer);
  if (!catchups.empty()) print_catchup(f, catchups);
  std::printf("\nTotal %.0f s; peak RSS of this process %.1f MiB; data removed.\n",
              seconds_since(started), bench::peak_rss_mib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = parse_flags(argc, argv);
  try {
    return run(f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
