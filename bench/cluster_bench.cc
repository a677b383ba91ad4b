// Throughput and latency of a 3-node cluster of framework::Nodes over real loopback TCP with the
// real WAL (fsync on), next to raw baselines measured in the same run: pwrite + fdatasync on the
// same disk and loopback TCP round trips and bandwidth, so the cluster's figures read as ratios.
//
//   cluster_bench [--mode=all|inproc|procs] [--seconds=3] [--warmup=0.5]
//                 [--payloads=256,4096] [--proposers=1,16,64,256] [--repetitions=1]
//                 [--dir=DIR] [--inproc_io=per_node|shared:N] [--baseline_seconds=1.5]
//                 [--wal_segment_mib=64]
//
// Each point is a closed loop: `proposers` coroutines issuing Node::propose() of a `payload`
// command back to back on the leader, the next as soon as the previous resolves (resolve = the
// command is applied on the leader). For warmup + seconds; what resolves OK inside the window
// after the warmup counts, with its latency from the propose() call to its resolution.
//
// Modes:
//   inproc  the three nodes in this process, each on an io_context thread of its own by default
//           (--inproc_io, see InProcCluster); the proposers run on the leader's executor.
//   procs   three processes: this binary started again with --node=ID (run_node_process), each
//           on one io_context thread. The parent talks to them over their stdin/stdout (one text
//           line per command, see NodeProcess), never over the cluster's own sockets: each
//           child binds port 0 and reports its port, the parent tells every child the others'
//           ports, waits until they agree on a leader, and asks THE LEADER'S process to run the
//           proposers against its own Node (so the load enters the cluster the way it does in
//           inproc mode, and no leader transfer is needed). Before every point the parent
//           checks again which node leads, so a point after a leader change still runs on
//           the leader. Every child is stopped at the end: a "quit"
//           line, then SIGKILL if it has not exited within 10 s; a child also stops when its
//           stdin closes, and dies with the parent (PR_SET_PDEATHSIG), so none outlives a
//           crashed or killed parent.
//
// Data lives in a fresh cluster_bench.XXXXXX directory under --dir (default $CLUSTER_BENCH_DIR,
// else ${TMPDIR:-/tmp}), which must be on the disk to measure (the file system is printed; a
// tmpfs makes fdatasync free); it is removed at the end. One cluster per mode serves every point
// of that mode (an election costs 1-2 s at a 100 ms tick).
//
// Memory: before each point every process resets its resident-set high-water mark
// (/proc/self/clear_refs) and reports it after: "RSS" is its peak during that point, per process,
// which includes what it kept from earlier points (freed heap stays with the process; the WAL
// entry cache stays full; the log is never compacted yet, so the WAL index grows 8 B per entry).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "bench/bench_messages.h"
#include "bench/bench_system.h"
#include "bench/bench_util.h"
#include "bench/cluster_load.h"
#include "framework/node.h"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("cluster_bench: " + what);
}

[[noreturn]] void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

const std::vector<uint64_t> kMembers = {1, 2, 3};

// --- Flags -----------------------------------------------------------------------------------

struct Flags {
  std::string mode = "all";
  double seconds = 3.0;
  double warmup = 0.5;
  double baseline_seconds = 1.5;
  int repetitions = 1;
  std::vector<size_t> payloads = {256, 4096};
  std::vector<int> proposers = {1, 16, 64, 256};
  std::string base_dir;
  // "per_node" or "shared:N" (see InProcCluster).
  std::string inproc_io = "per_node";
  // NodeConfig::wal_segment_bytes, for experiments; the default is NodeConfig's.
  uint64_t wal_segment_bytes = framework::NodeConfig{}.wal_segment_bytes;
  // Child role (procs mode).
  uint64_t node = 0;
  std::string peers;
  std::string data_dir;
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t end = std::min(s.find(sep, begin), s.size());
    if (end > begin) out.emplace_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

void print_help() {
  std::printf(
      "cluster_bench: a 3-node cluster (loopback TCP, WAL with fsync) against raw baselines\n"
      "  --mode=all|inproc|procs   which clusters to measure (default all)\n"
      "  --seconds=S               measured window per point (default 3)\n"
      "  --warmup=S                load before each window, not counted (default 0.5)\n"
      "  --payloads=B,...          command sizes in bytes (default 256,4096)\n"
      "  --proposers=N,...         concurrent proposers (default 1,16,64,256)\n"
      "  --dir=DIR                 where the data dirs go (default $CLUSTER_BENCH_DIR, else\n"
      "                            ${TMPDIR:-/tmp}); must be on the disk to measure\n"
      "  --inproc_io=per_node|shared:N   inproc mode: an io_context thread per node (default),\n"
      "                            or one io_context run by N threads\n"
      "  --repetitions=N           run each mode's sweep N times, report medians (default 1)\n"
      "  --baseline_seconds=S      per raw baseline (default 1.5)\n"
      "  --wal_segment_mib=N       NodeConfig::wal_segment_bytes in MiB (default 64)\n"
      "child role (started by procs mode; control lines on stdin/stdout):\n"
      "  --node=ID --peers=1,2,3 --data_dir=DIR   (a peer may be ID=PORT to fix its port)\n");
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  f.base_dir = bench::default_data_dir("CLUSTER_BENCH_DIR");
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string value = eq == std::string_view::npos ? "" : std::string(arg.substr(eq + 1));
    if (name == "--help" || name == "-h") {
      print_help();
      std::exit(0);
    } else if (name == "--mode") {
      f.mode = value;
    } else if (name == "--seconds") {
      f.seconds = std::stod(value);
    } else if (name == "--warmup") {
      f.warmup = std::stod(value);
    } else if (name == "--repetitions") {
      f.repetitions = std::max(1, std::stoi(value));
    } else if (name == "--baseline_seconds") {
      f.baseline_seconds = std::stod(value);
    } else if (name == "--payloads") {
      f.payloads.clear();
      for (const std::string& p : split(value, ',')) f.payloads.push_back(std::stoul(p));
    } else if (name == "--proposers") {
      f.proposers.clear();
      for (const std::string& p : split(value, ',')) f.proposers.push_back(std::stoi(p));
    } else if (name == "--dir") {
      f.base_dir = value;
    } else if (name == "--inproc_io") {
      f.inproc_io = value;
    } else if (name == "--wal_segment_mib") {
      f.wal_segment_bytes = std::stoull(value) << 20;
    } else if (name == "--node") {
      f.node = std::stoull(value);
    } else if (name == "--peers") {
      f.peers = value;
    } else if (name == "--data_dir") {
      f.data_dir = value;
    } else {
      std::fprintf(stderr, "cluster_bench: unknown flag %s (--help lists them)\n", argv[i]);
      std::exit(2);
    }
  }
  if (f.mode != "all" && f.mode != "inproc" && f.mode != "procs") {
    std::fprintf(stderr, "cluster_bench: --mode must be all, inproc or procs\n");
    std::exit(2);
  }
  if (f.inproc_io != "per_node" && f.inproc_io.rfind("shared:", 0) != 0) {
    std::fprintf(stderr, "cluster_bench: --inproc_io must be per_node or shared:N\n");
    std::exit(2);
  }
  return f;
}

bench::LoadSpec load_spec(const Flags& f, size_t payload, int proposers) {
  bench::LoadSpec s;
  s.payload_bytes = payload;
  s.proposers = proposers;
  s.warmup = std::chrono::milliseconds(static_cast<int64_t>(f.warmup * 1000));
  s.duration = std::chrono::milliseconds(static_cast<int64_t>(f.seconds * 1000));
  return s;
}

// --- Baselines -------------------------------------------------------------------------------

struct SyncBaseline {
  size_t bytes = 0;
  int writers = 1;
  double syncs_per_s = 0;  // all writers together
  double p50_us = 0, p99_us = 0, p999_us = 0;
};

struct TcpBaseline {
  size_t bytes = 0;
  double round_trips_per_s = 0;
  double p50_us = 0, p99_us = 0;
};

// pwrite of `bytes` at the tail of a file preallocated with fallocate (as WAL segments are),
// then fdatasync, until `end`; the same shape as wal_bench's BM_RawPrealloc. Returns the time
// spent in those calls, so that starting the next 64 MiB file is not counted.
std::chrono::nanoseconds sync_loop(const std::string& dir, const std::string& tag, size_t bytes,
                                   Clock::time_point end, bench::LatencyHistogram& latency,
                                   uint64_t& syncs) {
  constexpr off_t kFileBytes = 64 << 20;
  const std::string data(bytes, 'r');
  int fd = -1;
  int files = 0;
  off_t offset = kFileBytes;
  std::chrono::nanoseconds busy{0};
  while (Clock::now() < end) {
    if (offset + static_cast<off_t>(bytes) > kFileBytes) {
      if (fd >= 0) ::close(fd);
      const std::string path = dir + "/raw." + tag + "." + std::to_string(++files);
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) fail_errno("open " + path);
      if (int err = ::posix_fallocate(fd, 0, kFileBytes); err != 0) {
        errno = err;
        fail_errno("fallocate " + path);
      }
      if (::fsync(fd) != 0) fail_errno("fsync " + path);
      offset = 0;
    }
    const auto t0 = Clock::now();
    if (::pwrite(fd, data.data(), bytes, offset) != static_cast<ssize_t>(bytes)) {
      fail_errno("pwrite");
    }
    if (::fdatasync(fd) != 0) fail_errno("fdatasync");
    const auto dt = Clock::now() - t0;
    offset += static_cast<off_t>(bytes);
    busy += dt;
    ++syncs;
    latency.record(static_cast<uint64_t>(dt.count()));
  }
  if (fd >= 0) ::close(fd);
  return busy;
}

// `writers` threads, each running sync_loop on a file of its own at the same time. One writer
// is the disk's sync rate; three are what the three nodes of a cluster on this one disk ask of
// it at once (every node syncs every entry), which shows whether the disk serializes flushes.
SyncBaseline measure_raw_sync(const std::string& dir, size_t bytes, int writers, double seconds) {
  bench::LatencyHistogram latency;
  std::vector<uint64_t> syncs(static_cast<size_t>(writers), 0);
  std::vector<std::chrono::nanoseconds> busy(static_cast<size_t>(writers));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(writers));
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < static_cast<size_t>(writers); ++w) {
    threads.emplace_back([&, w] {
      try {
        const std::string tag =
            std::to_string(bytes) + "." + std::to_string(writers) + "." + std::to_string(w);
        busy[w] = sync_loop(dir, tag, bytes, end, latency, syncs[w]);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  SyncBaseline b;
  b.bytes = bytes;
  b.writers = writers;
  for (size_t w = 0; w < threads.size(); ++w) {
    if (errors[w]) std::rethrow_exception(errors[w]);
    b.syncs_per_s += static_cast<double>(syncs[w]) / std::chrono::duration<double>(busy[w]).count();
  }
  b.p50_us = static_cast<double>(latency.quantile(0.5)) / 1e3;
  b.p99_us = static_cast<double>(latency.quantile(0.99)) / 1e3;
  b.p999_us = static_cast<double>(latency.quantile(0.999)) / 1e3;
  return b;
}

// A hand-off from one thread to another and back through a mutex and condition variables (what
// a job queue does): the cost of waking a sleeping thread on this machine, twice.
double measure_thread_handoff_us(double seconds) {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t turn = 0;  // odd: the other thread's turn
  bool stop = false;
  std::thread other([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || turn % 2 == 1; });
      if (stop) return;
      ++turn;
      cv.notify_all();
    }
  });
  bench::LatencyHistogram latency;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    std::unique_lock lock(mu);
    ++turn;
    cv.notify_all();
    cv.wait(lock, [&] { return turn % 2 == 0; });
    lock.unlock();
    latency.record(static_cast<uint64_t>((Clock::now() - t0).count()));
  }
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  other.join();
  return static_cast<double>(latency.quantile(0.5)) / 1e3;
}

// One message of `bytes` out and back again, one at a time, between two threads of this process:
// what one replication round trip costs at least (the leader's append out, the ack back).
TcpBaseline measure_tcp_round_trip(size_t bytes, double seconds) {
  auto [cfd, sfd] = bench::tcp_pair();
  std::thread echo([sfd = sfd, bytes] {
    std::string buf(bytes, '\0');
    while (bench::read_full(sfd, buf.data(), bytes)) bench::write_full(sfd, buf.data(), bytes);
  });
  std::string msg(bytes, 'm');
  bench::LatencyHistogram latency;
  uint64_t n = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < end) {
    bench::write_full(cfd, msg.data(), bytes);
    if (!bench::read_full(cfd, msg.data(), bytes)) fail("echo closed");
    const auto t1 = Clock::now();
    latency.record(static_cast<uint64_t>((t1 - now).count()));
    now = t1;
    ++n;
  }
  ::shutdown(cfd, SHUT_WR);
  echo.join();
  ::close(cfd);
  ::close(sfd);
  TcpBaseline b;
  b.bytes = bytes;
  b.round_trips_per_s = static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
  b.p50_us = static_cast<double>(latency.quantile(0.5)) / 1e3;
  b.p99_us = static_cast<double>(latency.quantile(0.99)) / 1e3;
  return b;
}

// One-way stream in 64 KiB writes to a reader thread: the most loopback TCP moves on this
// machine, in MB/s.
double measure_tcp_stream(double seconds) {
  constexpr size_t kChunk = 64 << 10;
  auto [cfd, sfd] = bench::tcp_pair();
  std::atomic<uint64_t> received{0};
  std::thread reader([sfd = sfd, &received] {
    std::string buf(kChunk, '\0');
    for (;;) {
      const ssize_t r = ::read(sfd, buf.data(), buf.size());
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;
      received.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
    }
  });
  const std::string chunk(kChunk, 's');
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) bench::write_full(cfd, chunk.data(), chunk.size());
  ::shutdown(cfd, SHUT_WR);
  reader.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(cfd);
  ::close(sfd);
  return static_cast<double>(received.load()) / elapsed / 1e6;
}

// --- Results ---------------------------------------------------------------------------------

struct Point {
  std::string mode;
  size_t payload = 0;
  int proposers = 0;
  uint64_t leader = 0;
  bench::LoadResult load;
  // That point's RSS peak of each process: one figure in inproc mode, the leader's first and
  // then the followers' in procs mode.
  std::vector<double> rss_mib;
};

// The median of each figure over the repetitions of one point (ops/s and each percentile taken
// separately), errors summed, the largest RSS of each process; `ops_min`/`ops_max` give the
// range of ops/s.
struct Summary {
  Point median;
  double ops_min = 0;
  double ops_max = 0;
  int runs = 0;
};

std::vector<Summary> summarize(const std::vector<Point>& points) {
  std::vector<Summary> out;
  for (const Point& first : points) {
    bool seen = false;
    for (const Summary& s : out) {
      seen = seen || (s.median.mode == first.mode && s.median.payload == first.payload &&
                      s.median.proposers == first.proposers);
    }
    if (seen) continue;
    std::vector<const Point*> reps;
    for (const Point& p : points) {
      if (p.mode == first.mode && p.payload == first.payload && p.proposers == first.proposers) {
        reps.push_back(&p);
      }
    }
    auto med = [&](auto field) {
      std::vector<double> v;
      for (const Point* p : reps) v.push_back(field(*p));
      return bench::median(std::move(v));
    };
    Summary s;
    s.runs = static_cast<int>(reps.size());
    s.median = first;
    s.median.load.ops_per_s = med([](const Point& p) { return p.load.ops_per_s; });
    s.median.load.p50_us = med([](const Point& p) { return p.load.p50_us; });
    s.median.load.p99_us = med([](const Point& p) { return p.load.p99_us; });
    s.median.load.p999_us = med([](const Point& p) { return p.load.p999_us; });
    s.median.load.errors = 0;
    for (const Point* p : reps) s.median.load.errors += p->load.errors;
    // RSS: the largest, since the question is whether memory stays bounded.
    for (const Point* p : reps) {
      for (size_t i = 0; i < std::min(p->rss_mib.size(), s.median.rss_mib.size()); ++i) {
        s.median.rss_mib[i] = std::max(s.median.rss_mib[i], p->rss_mib[i]);
      }
    }
    s.ops_min = s.ops_max = reps.front()->load.ops_per_s;
    for (const Point* p : reps) {
      s.ops_min = std::min(s.ops_min, p->load.ops_per_s);
      s.ops_max = std::max(s.ops_max, p->load.ops_per_s);
    }
    out.push_back(std::move(s));
  }
  return out;
}

void print_progress(const Point& p) {
  std::string rss;
  for (double r : p.rss_mib) rss += (rss.empty() ? "" : "/") + std::to_string(static_cast<int>(r));
  std::fprintf(stderr,
               "cluster_bench: %-6s %5zu B x %3d: %9.0f ops/s  p50 %8.0f us  p99 %8.0f us  "
               "p999 %8.0f us  errors %llu  RSS %s MiB%s%s\n",
               p.mode.c_str(), p.payload, p.proposers, p.load.ops_per_s, p.load.p50_us,
               p.load.p99_us, p.load.p999_us, static_cast<unsigned long long>(p.load.errors),
               rss.c_str(),
               p.load.first_error.empty() ? "" : "  first error: ", p.load.first_error.c_str());
}

// --- Mode inproc -----------------------------------------------------------------------------

// The three nodes in this process, each on one strand of an io_context.
//
// --inproc_io=per_node (default): one io_context per node, each run by a thread of its own;
// the proposers run on the leader's. --inproc_io=shared:N: one io_context run by N threads,
// every node and proposer on it. per_node was the fastest on the 2-vCPU machine, measured with
// this binary (bench/README.md, "Cluster", has the figures): with shared:1 all three strands
// and the proposers take turns on one thread, so the leader's work waits behind its
// followers'; with shared:2 the two threads take handlers for any strand from one queue,
// which costs a lock and a cross-thread wake-up per handler and moves a strand's work from
// core to core. A thread per node keeps each node's handlers, sockets and caches on one
// thread, and the kernel's scheduler spreads the three threads (plus each node's disk and
// apply threads) over the cores.
class InProcCluster {
 public:
  InProcCluster(const std::string& dir, const std::string& io_layout, uint64_t wal_segment_bytes) {
    int contexts = 3;
    int threads_per_context = 1;
    if (io_layout.rfind("shared:", 0) == 0) {
      contexts = 1;
      threads_per_context = std::max(1, std::stoi(io_layout.substr(7)));
    }
    for (int i = 0; i < contexts; ++i) {
      ios_.push_back(std::make_unique<asio::io_context>(threads_per_context));
      guards_.emplace_back(ios_.back()->get_executor());
    }
    for (uint64_t id : kMembers) {
      asio::io_context& io = *ios_[(id - 1) % ios_.size()];
      framework::NodeConfig c = bench::bench_node_config(
          id, kMembers, {}, dir + "/n" + std::to_string(id), wal_segment_bytes);
      nodes_.push_back(std::make_unique<framework::Node>(
          io.get_executor(), c, std::make_shared<bench::CountingStateMachine>()));
      executors_.push_back(io.get_executor());
    }
    for (auto& n : nodes_) n->start();
    for (auto& n : nodes_) {
      for (auto& other : nodes_) {
        if (other != n) n->set_peer_address(other->id(), {"127.0.0.1", other->port()});
      }
    }
    for (auto& io : ios_) {
      for (int t = 0; t < threads_per_context; ++t) {
        threads_.emplace_back([io = io.get()] { io->run(); });
      }
    }
  }

  ~InProcCluster() {
    try {
      stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cluster_bench: stopping the inproc cluster: %s\n", e.what());
    }
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  InProcCluster(const InProcCluster&) = delete;
  InProcCluster& operator=(const InProcCluster&) = delete;

  framework::NodeStatus status(size_t i) {
    return asio::co_spawn(executors_[i], nodes_[i]->status(), asio::use_future).get();
  }

  // The node every member agrees is leader, and is itself leader; polls every 20 ms.
  size_t wait_for_leader(std::chrono::seconds deadline) {
    const auto end = Clock::now() + deadline;
    for (;;) {
      uint64_t leader = 0;
      uint64_t term = 0;
      bool agreed = true;
      for (size_t i = 0; i < nodes_.size() && agreed; ++i) {
        const framework::NodeStatus s = status(i);
        if (s.leader == 0 || (leader != 0 && (s.leader != leader || s.term != term))) {
          agreed = false;
        }
        leader = s.leader;
        term = s.term;
      }
      if (agreed && status(leader - 1).role == raft::StateRole::kLeader) return leader - 1;
      if (Clock::now() >= end) fail("the inproc cluster elected no leader");
      std::this_thread::sleep_for(20ms);
    }
  }

  Point run(const bench::LoadSpec& spec) {
    const size_t leader = wait_for_leader(30s);
    Point p;
    p.mode = "inproc";
    p.payload = spec.payload_bytes;
    p.proposers = spec.proposers;
    p.leader = nodes_[leader]->id();
    bench::reset_rss_hwm();
    p.load = bench::run_load(executors_[leader], *nodes_[leader], spec);
    p.rss_mib.push_back(bench::rss_hwm_mib());
    return p;
  }

  void stop() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      asio::co_spawn(executors_[i], nodes_[i]->stop(), asio::use_future).get();
    }
    guards_.clear();
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<asio::any_io_executor> executors_;
  std::vector<std::unique_ptr<framework::Node>> nodes_;
  std::vector<std::thread> threads_;
};

// --- Mode procs: the child ---------------------------------------------------------------------

// Lines from a file descriptor, with a deadline.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  // The next line without its '\n'; nullopt at end of file. Throws when `deadline` passes.
  std::optional<std::string> read_line(std::optional<Clock::time_point> deadline = {}) {
    for (;;) {
      if (const size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      int timeout_ms = -1;
      if (deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
        if (left.count() <= 0) fail("no reply within the deadline");
        timeout_ms = static_cast<int>(left.count()) + 1;
      }
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail_errno("poll");
      if (r == 0) continue;  // the deadline check above throws
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("read");
      if (n == 0) {
        eof_ = true;
        continue;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  bool eof_ = false;
};

void say(const std::string& line) {
  const std::string l = line + "\n";
  bench::write_full(STDOUT_FILENO, l.data(), l.size());
}

// The process of one node in procs mode. Commands on stdin, one reply line each on stdout:
//   peer ID PORT                   -> ok               (where to reach member ID)
//   status                         -> status ROLE LEADER TERM APPLIED
//   rss_reset                      -> ok               (new high-water mark)
//   rss                            -> rss MIB
//   run PAYLOAD PROPOSERS WARMUP_MS DURATION_MS
//                                  -> result OPS ERRORS SECONDS P50 P99 P999 MAX [FIRST ERROR]
//   quit (or end of stdin)         -> bye, after the node stopped
// The first line it prints is "port PORT" once its node listens.
int run_node_process(const Flags& f) {
  if (f.data_dir.empty() || f.peers.empty()) {
    std::fprintf(stderr, "cluster_bench: --node needs --peers and --data_dir\n");
    return 2;
  }
  std::vector<uint64_t> members;
  std::map<uint64_t, uint16_t> ports;
  for (const std::string& p : split(f.peers, ',')) {
    const size_t eq = p.find('=');
    const uint64_t id = std::stoull(p.substr(0, eq));
    members.push_back(id);
    if (eq != std::string::npos) ports[id] = static_cast<uint16_t>(std::stoul(p.substr(eq + 1)));
  }
  asio::io_context io(1);
  auto guard = asio::make_work_guard(io);
  framework::Node node(
      io.get_executor(),
      bench::bench_node_config(f.node, members, ports, f.data_dir, f.wal_segment_bytes),
      std::make_shared<bench::CountingStateMachine>());
  node.start();
  std::thread io_thread([&io] { io.run(); });
  say("port " + std::to_string(node.port()));

  LineReader in(STDIN_FILENO);
  bool quit = false;
  while (!quit) {
    std::optional<std::string> line = in.read_line();
    if (!line) break;
    std::istringstream cmd(*line);
    std::string verb;
    cmd >> verb;
    if (verb == "peer") {
      uint64_t id = 0;
      unsigned port = 0;
      cmd >> id >> port;
      node.set_peer_address(id, {"127.0.0.1", static_cast<uint16_t>(port)});
      say("ok");
    } else if (verb == "status") {
      const framework::NodeStatus s = asio::co_spawn(io, node.status(), asio::use_future).get();
      say("status " + std::string(raft::to_string(s.role)) + " " + std::to_string(s.leader) + " " +
          std::to_string(s.term) + " " + std::to_string(s.applied));
    } else if (verb == "rss_reset") {
      bench::reset_rss_hwm();
      say("ok");
    } else if (verb == "rss") {
      say("rss " + std::to_string(bench::rss_hwm_mib()));
    } else if (verb == "run") {
      bench::LoadSpec spec;
      int64_t warmup_ms = 0;
      int64_t duration_ms = 0;
      cmd >> spec.payload_bytes >> spec.proposers >> warmup_ms >> duration_ms;
      spec.warmup = std::chrono::milliseconds(warmup_ms);
      spec.duration = std::chrono::milliseconds(duration_ms);
      const bench::LoadResult r = bench::run_load(io.get_executor(), node, spec);
      std::ostringstream out;
      out << "result " << r.ops << ' ' << r.errors << ' ' << r.seconds << ' ' << r.p50_us << ' '
          << r.p99_us << ' ' << r.p999_us << ' ' << r.max_us << ' ' << r.first_error;
      say(out.str());
    } else if (verb == "quit") {
      quit = true;
    } else {
      say("error unknown command: " + verb);
    }
  }
  asio::co_spawn(io, node.stop(), asio::use_future).get();
  guard.reset();
  io_thread.join();
  if (quit) say("bye");
  return 0;
}

// --- Mode procs: the parent ----------------------------------------------------------------

// Children alive, for the signal handler: an interrupted run kills them (and leaves its scratch
// directory, which stderr named).
std::array<std::atomic<pid_t>, 3> g_children{};

extern "C" void on_fatal_signal(int sig) {
  for (auto& pid : g_children) {
    const pid_t p = pid.load();
    if (p > 0) ::kill(p, SIGKILL);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// One node process: this binary with --node=ID, its stdin and stdout piped to us.
class NodeProcess {
 public:
  NodeProcess(const std::string& exe, size_t slot, uint64_t id, const std::string& data_dir,
              uint64_t wal_segment_bytes)
      : slot_(slot), id_(id) {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      fail_errno("pipe2");
    }
    std::vector<std::string> args = {
        exe, "--node=" + std::to_string(id), "--peers=1,2,3", "--data_dir=" + data_dir,
        "--wal_segment_mib=" + std::to_string(wal_segment_bytes >> 20)};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) fail_errno("fork");
    if (pid == 0) {
      // Only async-signal-safe calls until exec. Die with the parent, whatever kills it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    g_children[slot_].store(pid);
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_ = to_child[1];
    from_ = from_child[0];
    reader_.emplace(from_);
  }

  ~NodeProcess() { stop(); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  uint64_t id() const { return id_; }
  pid_t pid() const { return pid_; }

  void send(const std::string& line) {
    const std::string l = line + "\n";
    try {
      bench::write_full(to_, l.data(), l.size());
    } catch (const std::exception& e) {
      fail("cannot reach node " + std::to_string(id_) + " (pid " + std::to_string(pid_) +
           "), which probably exited: " + e.what());
    }
  }

  std::string expect(const std::string& verb, std::chrono::milliseconds deadline) {
    std::optional<std::string> line = reader_->read_line(Clock::now() + deadline);
    if (!line) {
      fail("node " + std::to_string(id_) + " (pid " + std::to_string(pid_) +
           ") exited (its stderr says why)");
    }
    if (line->rfind(verb, 0) != 0) {
      fail("node " + std::to_string(id_) + " answered '" + *line + "', expected " + verb);
    }
    return line->substr(verb.size());
  }

  std::string call(const std::string& line, const std::string& verb,
                   std::chrono::milliseconds deadline = 10s) {
    send(line);
    return expect(verb, deadline);
  }

  // Asks the node to stop, waits for it to exit (10 s), else kills it. Idempotent.
  void stop() {
    if (pid_ <= 0) return;
    if (to_ >= 0) {
      // A write to a child that already died fails with EPIPE (SIGPIPE is ignored).
      const char quit[] = "quit\n";
      [[maybe_unused]] const ssize_t n = ::write(to_, quit, sizeof(quit) - 1);
      ::close(to_);
      to_ = -1;
    }
    const auto end = Clock::now() + 10s;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (Clock::now() >= end) {
        std::fprintf(stderr, "cluster_bench: node %llu did not exit; killing it\n",
                     static_cast<unsigned long long>(id_));
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    g_children[slot_].store(0);
    pid_ = -1;
    if (from_ >= 0) ::close(from_);
    from_ = -1;
  }

 private:
  size_t slot_;
  uint64_t id_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::optional<LineReader> reader_;
};

class ProcCluster {
 public:
  ProcCluster(const std::string& exe, const std::string& dir, uint64_t wal_segment_bytes) {
    for (uint64_t id : kMembers) {
      procs_.push_back(std::make_unique<NodeProcess>(
          exe, procs_.size(), id, dir + "/n" + std::to_string(id), wal_segment_bytes));
    }
    std::map<uint64_t, unsigned> ports;
    for (auto& p : procs_) ports[p->id()] = std::stoul(p->expect("port ", 20s));
    for (auto& p : procs_) {
      for (const auto& [id, port] : ports) {
        if (id != p->id()) p->call("peer " + std::to_string(id) + " " + std::to_string(port), "ok");
      }
    }
  }

  ~ProcCluster() {
    for (auto& p : procs_) p->stop();
  }
  ProcCluster(const ProcCluster&) = delete;
  ProcCluster& operator=(const ProcCluster&) = delete;

  // The index of the process whose node all agree is leader, and says it is.
  size_t wait_for_leader(std::chrono::seconds deadline) {
    const auto end = Clock::now() + deadline;
    for (;;) {
      std::string leader_role;
      uint64_t leader = 0;
      uint64_t term = 0;
      bool agreed = true;
      for (size_t i = 0; i < procs_.size(); ++i) {
        std::istringstream s(procs_[i]->call("status", "status "));
        std::string role;
        uint64_t l = 0, t = 0;
        s >> role >> l >> t;
        if (l == 0 || (leader != 0 && (l != leader || t != term))) agreed = false;
        if (l != 0 && l == procs_[i]->id()) leader_role = role;
        leader = l;
        term = t;
      }
      if (agreed && leader_role == "Leader") return static_cast<size_t>(leader - 1);
      if (Clock::now() >= end) fail("the procs cluster elected no leader");
      std::this_thread::sleep_for(20ms);
    }
  }

  Point run(const bench::LoadSpec& spec) {
    const size_t leader = wait_for_leader(30s);
    Point p;
    p.mode = "procs";
    p.payload = spec.payload_bytes;
    p.proposers = spec.proposers;
    p.leader = procs_[leader]->id();
    for (auto& proc : procs_) proc->call("rss_reset", "ok");
    std::ostringstream cmd;
    cmd << "run " << spec.payload_bytes << ' ' << spec.proposers << ' ' << spec.warmup.count()
        << ' ' << spec.duration.count();
    std::istringstream r(
        procs_[leader]->call(cmd.str(), "result ", spec.warmup + spec.duration + 60s));
    r >> p.load.ops >> p.load.errors >> p.load.seconds >> p.load.p50_us >> p.load.p99_us >>
        p.load.p999_us >> p.load.max_us;
    std::getline(r >> std::ws, p.load.first_error);
    p.load.ops_per_s = static_cast<double>(p.load.ops) / p.load.seconds;
    // The leader's first, then the followers'.
    p.rss_mib.push_back(std::stod(procs_[leader]->call("rss", "rss ")));
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (i != leader) p.rss_mib.push_back(std::stod(procs_[i]->call("rss", "rss ")));
    }
    return p;
  }

 private:
  std::vector<std::unique_ptr<NodeProcess>> procs_;
};

std::string self_exe() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("cannot read /proc/self/exe: " + ec.message());
  return p.string();
}

// --- Report ----------------------------------------------------------------------------------

std::string thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// One measurement of every baseline. The run measures them before and after the clusters, since
// this machine's disk is shared and can be throttled for seconds at a time; the ratios use the
// better of the two (the higher rate, the lower latency), so they never flatter the cluster.
struct Baselines {
  std::vector<SyncBaseline> syncs;  // per payload: 1 writer, then 3 writers
  SyncBaseline bandwidth;           // 1 MiB per sync, 1 writer
  std::vector<TcpBaseline> rtts;    // per payload
  double stream_mbps = 0;
  double handoff_us = 0;

  const SyncBaseline* sync(size_t bytes, int writers) const {
    for (const SyncBaseline& b : syncs) {
      if (b.bytes == bytes && b.writers == writers) return &b;
    }
    return nullptr;
  }
  const TcpBaseline* rtt(size_t bytes) const {
    for (const TcpBaseline& b : rtts) {
      if (b.bytes == bytes) return &b;
    }
    return nullptr;
  }
};

Baselines measure_baselines(const Flags& f, const std::string& dir, const char* when) {
  Baselines b;
  for (size_t bytes : f.payloads) {
    for (int writers : {1, 3}) {
      b.syncs.push_back(measure_raw_sync(dir, bytes, writers, f.baseline_seconds));
      const SyncBaseline& s = b.syncs.back();
      std::fprintf(stderr,
                   "cluster_bench: %s: raw %zu B pwrite+fdatasync x %d writer(s): %.0f syncs/s, "
                   "p50 %.0f us, p999 %.0f us\n",
                   when, bytes, writers, s.syncs_per_s, s.p50_us, s.p999_us);
    }
  }
  b.bandwidth = measure_raw_sync(dir, 1 << 20, 1, f.baseline_seconds);
  std::fprintf(stderr, "cluster_bench: %s: raw 1 MiB pwrite+fdatasync: %.0f MB/s\n", when,
               b.bandwidth.syncs_per_s * (1 << 20) / 1e6);
  for (size_t bytes : f.payloads) {
    b.rtts.push_back(measure_tcp_round_trip(bytes, f.baseline_seconds / 2));
    std::fprintf(stderr, "cluster_bench: %s: TCP %zu B round trip: %.0f /s, p50 %.1f us\n", when,
                 bytes, b.rtts.back().round_trips_per_s, b.rtts.back().p50_us);
  }
  b.stream_mbps = measure_tcp_stream(f.baseline_seconds / 2);
  std::fprintf(stderr, "cluster_bench: %s: TCP stream: %.0f MB/s\n", when, b.stream_mbps);
  b.handoff_us = measure_thread_handoff_us(f.baseline_seconds / 3);
  std::fprintf(stderr, "cluster_bench: %s: thread hand-off there and back: p50 %.1f us\n", when,
               b.handoff_us);
  return b;
}

// The better of two measurements of each baseline.
Baselines best_of(const Baselines& x, const Baselines& y) {
  Baselines b = x;
  for (SyncBaseline& s : b.syncs) {
    const SyncBaseline* o = y.sync(s.bytes, s.writers);
    if (o && o->syncs_per_s > s.syncs_per_s) s = *o;
  }
  if (y.bandwidth.syncs_per_s > b.bandwidth.syncs_per_s) b.bandwidth = y.bandwidth;
  for (TcpBaseline& t : b.rtts) {
    const TcpBaseline* o = y.rtt(t.bytes);
    if (o && o->p50_us < t.p50_us) t = *o;
  }
  b.stream_mbps = std::max(x.stream_mbps, y.stream_mbps);
  b.handoff_us = std::min(x.handoff_us, y.handoff_us);
  return b;
}

void print_baselines(const Baselines& base, const char* when) {
  for (const SyncBaseline& b : base.syncs) {
    std::printf("| %s | pwrite + fdatasync, %s | %zu | %s syncs | %.0f | %.0f | %.0f |\n", when,
                b.writers == 1 ? "1 writer" : "3 writers at once (sum)", b.bytes,
                thousands(b.syncs_per_s).c_str(), b.p50_us, b.p99_us, b.p999_us);
  }
  std::printf(
      "| %s | pwrite + fdatasync, 1 writer | 1 MiB | %s syncs = %s MB | %.0f | %.0f | "
      "%.0f |\n",
      when, thousands(base.bandwidth.syncs_per_s).c_str(),
      thousands(base.bandwidth.syncs_per_s * (1 << 20) / 1e6).c_str(), base.bandwidth.p50_us,
      base.bandwidth.p99_us, base.bandwidth.p999_us);
  for (const TcpBaseline& b : base.rtts) {
    std::printf("| %s | loopback TCP round trip | %zu | %s round trips | %.1f | %.1f | |\n", when,
                b.bytes, thousands(b.round_trips_per_s).c_str(), b.p50_us, b.p99_us);
  }
  std::printf("| %s | loopback TCP stream, 64 KiB writes | | %s MB | | | |\n", when,
              thousands(base.stream_mbps).c_str());
  std::printf("| %s | thread hand-off and back (mutex + condition variable) | | | %.1f | | |\n",
              when, base.handoff_us);
}

void print_report(const Baselines& before, const Baselines& after,
                  const std::vector<Point>& points) {
  const Baselines base = best_of(before, after);
  const double disk_mbps = base.bandwidth.syncs_per_s * (1 << 20) / 1e6;
  std::printf("\nBaselines (same disk, same run; raw files preallocated with fallocate):\n");
  std::printf(
      "| when | baseline | bytes | per second | p50 us | p99 us | p999 us |\n"
      "|---|---|---:|---:|---:|---:|---:|\n");
  print_baselines(before, "before");
  print_baselines(after, "after");

  const std::vector<Summary> summaries = summarize(points);
  const int runs = summaries.empty() ? 1 : summaries.front().runs;
  std::printf(
      "\nCluster of 3 (ops = proposals applied on the leader; latency = propose() call to "
      "resolve)%s:\n",
      runs > 1 ? (", medians of " + std::to_string(runs) + " runs, ops/s range in brackets").c_str()
               : "");
  std::printf(
      "| mode | payload | proposers | ops/s | MB/s | p50 us | p99 us | p999 us | errors | "
      "ops/s / raw syncs/s | p50 / floor | disk writes / raw MB/s | RSS MiB |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Summary& sum : summaries) {
    const Point& p = sum.median;
    const SyncBaseline* s = base.sync(p.payload, 1);
    const TcpBaseline* t = base.rtt(p.payload);
    // The floor of one proposal's latency: the follower's write + sync and one round trip to it
    // (the leader's own sync runs meanwhile).
    const double floor_us = s && t ? s->p50_us + t->p50_us : 0;
    const double mbps = p.load.ops_per_s * static_cast<double>(p.payload) / 1e6;
    std::string ops = thousands(p.load.ops_per_s);
    if (sum.runs > 1) ops += " [" + thousands(sum.ops_min) + "-" + thousands(sum.ops_max) + "]";
    std::string rss;
    for (double r : p.rss_mib) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%s%.0f", rss.empty() ? "" : " / ", r);
      rss += buf;
    }
    std::printf(
        "| %s | %zu | %d | %s | %.1f | %.0f | %.0f | %.0f | %llu | %.2f | %.1f | %.2f | %s |\n",
        p.mode.c_str(), p.payload, p.proposers, ops.c_str(), mbps, p.load.p50_us, p.load.p99_us,
        p.load.p999_us, static_cast<unsigned long long>(p.load.errors),
        s ? p.load.ops_per_s / s->syncs_per_s : 0.0, floor_us > 0 ? p.load.p50_us / floor_us : 0.0,
        disk_mbps > 0 ? 3 * mbps / disk_mbps : 0.0, rss.c_str());
  }
  std::printf(
      "\nRatios to the better of the two baseline runs. raw syncs/s: 1 writer at the payload's "
      "size. floor = that sync's p50 + the TCP round trip p50 at the payload's size. disk writes = "
      "3 x payload x ops/s (every node writes "
      "every entry to this one disk), against raw MB/s at 1 MiB per sync. RSS = the resident "
      "high-water mark during the point (largest over the runs), memory kept from earlier points "
      "included: inproc, the one process; procs, leader / follower / follower. p50 / floor is "
      "meaningful at 1 proposer; with more, the p50 is mostly queueing.\n");
}

int run_driver(const Flags& f) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, on_fatal_signal);
  ::signal(SIGTERM, on_fatal_signal);
  ::signal(SIGHUP, on_fatal_signal);
  const auto started = Clock::now();
  bench::ScratchDir scratch(f.base_dir, "cluster_bench");
  const char* fs = bench::filesystem_name(scratch.path());
  std::fprintf(stderr, "cluster_bench: writing in %s (%s)\n", scratch.path().c_str(), fs);
  if (std::string_view(fs) == "tmpfs") {
    std::fprintf(stderr, "cluster_bench: warning: tmpfs ignores fdatasync; not disk figures\n");
  }

  const Baselines before = measure_baselines(f, scratch.sub("raw_before"), "before");
  std::vector<Point> points;
  if (f.mode == "all" || f.mode == "inproc") {
    std::fprintf(stderr, "cluster_bench: inproc cluster (--inproc_io=%s)\n", f.inproc_io.c_str());
    InProcCluster cluster(scratch.sub("inproc"), f.inproc_io, f.wal_segment_bytes);
    for (int rep = 0; rep < f.repetitions; ++rep) {
      for (size_t payload : f.payloads) {
        for (int n : f.proposers) {
          points.push_back(cluster.run(load_spec(f, payload, n)));
          print_progress(points.back());
        }
      }
    }
  }
  if (f.mode == "all" || f.mode == "procs") {
    std::fprintf(stderr, "cluster_bench: procs cluster\n");
    ProcCluster cluster(self_exe(), scratch.sub("procs"), f.wal_segment_bytes);
    for (int rep = 0; rep < f.repetitions; ++rep) {
      for (size_t payload : f.payloads) {
        for (int n : f.proposers) {
          points.push_back(cluster.run(load_spec(f, payload, n)));
          print_progress(points.back());
        }
      }
    }
  }
  const Baselines after = measure_baselines(f, scratch.sub("raw_after"), "after");
  print_report(before, after, points);
  std::error_code ec;
  uint64_t scratch_bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(scratch.path(), ec)) {
    if (e.is_regular_file(ec)) scratch_bytes += e.file_size(ec);
  }
  std::printf("\nTotal %.0f s; peak RSS of this process %.1f MiB; removing %.1f GiB of data.\n",
              std::chrono::duration<double>(Clock::now() - started).count(), bench::peak_rss_mib(),
              static_cast<double>(scratch_bytes) / (1 << 30));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = parse_flags(argc, argv);
  try {
    if (f.node != 0) return run_node_process(f);
    return run_driver(f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
