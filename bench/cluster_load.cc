#include "bench/cluster_load.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <istream>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace bench {

// --- State machine ---------------------------------------------------------------------------

std::vector<std::string> CountingStateMachine::apply(std::span<const framework::Command> commands) {
  uint64_t bytes = 0;
  for (const framework::Command& c : commands) bytes += c.data.size();
  // One copy per batch, not per command: "keeps the last value" without making apply the
  // bottleneck at 4 KiB payloads.
  if (!commands.empty()) last_.assign(commands.back().data);
  commands_.fetch_add(commands.size(), std::memory_order_relaxed);
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  // Empty results: nothing to allocate, nothing to carry back to the proposer.
  return std::vector<std::string>(commands.size());
}

namespace {

class CountingSnapshot final : public framework::StateSnapshot {
 public:
  CountingSnapshot(uint64_t commands, uint64_t bytes, std::string last)
      : commands_(commands), bytes_(bytes), last_(std::move(last)) {}
  void write(std::ostream& out) override { out << commands_ << ' ' << bytes_ << ' ' << last_; }

 private:
  uint64_t commands_;
  uint64_t bytes_;
  std::string last_;
};

}  // namespace

std::unique_ptr<framework::StateSnapshot> CountingStateMachine::snapshot() {
  return std::make_unique<CountingSnapshot>(commands(), bytes(), last_);
}

void CountingStateMachine::restore(std::istream& in) {
  uint64_t commands = 0;
  uint64_t bytes = 0;
  if (!(in >> commands >> bytes)) throw std::runtime_error("bad CountingStateMachine snapshot");
  in.get();  // the separator
  last_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  commands_.store(commands, std::memory_order_relaxed);
  bytes_.store(bytes, std::memory_order_relaxed);
}

// --- Node settings ---------------------------------------------------------------------------

// What differs from NodeConfig's defaults, and why:
// - dial_backoff_min 5 ms (default 20): the members start within milliseconds of each other and
//   learn their peers' ports afterwards; a shorter first retry only shortens the start.
// Kept at their defaults on purpose, as a deployment would run:
// - tick 100 ms, election after 10 ticks, heartbeat every tick: ticks do not drive replication
//   (appends go out with each Ready), so a shorter tick would only add work.
// - max_inflight_msgs 256, max_size_per_msg 1 MiB: the leader sends one MsgAppend per follower
//   per Ready, i.e. per group of proposals that arrived together, so even 256 proposers keep
//   only a few appends in flight; 1 MiB per message holds 256 entries of 4 KiB.
// - max_uncommitted_bytes 64 MiB, max_pending_requests 16384: 256 proposers of 4 KiB hold at
//   most 1 MiB and 256 requests, far inside both; raising them would change nothing measured.
// - WAL segments of 64 MiB and a 32 MiB entry cache: a follower that falls behind is caught up
//   from memory, and segment turnover (a new preallocated file every 64 MiB) is part of the
//   cost measured, as in production.
// - pre_vote and check_quorum on, ReadMode::kSafe: irrelevant to proposals.
framework::NodeConfig bench_node_config(uint64_t id, const std::vector<uint64_t>& members,
                                        const std::map<uint64_t, uint16_t>& ports,
                                        const std::string& data_dir, uint64_t wal_segment_bytes) {
  framework::NodeConfig c;
  c.id = id;
  c.cluster_id = 0xBE4C;
  c.listen = {"127.0.0.1", 0};
  for (uint64_t m : members) {
    auto it = ports.find(m);
    c.peers[m] = net::PeerAddress{"127.0.0.1", it == ports.end() ? uint16_t{0} : it->second};
  }
  c.data_dir = data_dir;
  c.dial_backoff_min = 5ms;
  c.wal_segment_bytes = wal_segment_bytes;
  // CLUSTER_BENCH_LOG=debug|info|warn: the nodes log to stderr (one fprintf per line, which
  // stdio locks, so it is safe from the node's several threads). Off by default: logging is
  // not what is measured.
  if (const char* env = std::getenv("CLUSTER_BENCH_LOG"); env != nullptr && *env != '\0') {
    const std::string_view level = env;
    static raft::StderrLogger debug(raft::LogLevel::kDebug);
    static raft::StderrLogger info(raft::LogLevel::kInfo);
    static raft::StderrLogger warn(raft::LogLevel::kWarn);
    c.logger = level == "debug" ? &debug : level == "info" ? &info : &warn;
  }
  return c;
}

// --- Histogram -------------------------------------------------------------------------------

size_t LatencyHistogram::bucket_of(uint64_t ns) {
  if (ns < (1u << kExactBits)) return static_cast<size_t>(ns);
  const int msb = 63 - std::countl_zero(ns);         // >= kExactBits
  const uint64_t mantissa = ns >> (msb - kSubBits);  // in [64, 128)
  return (1u << kExactBits) + static_cast<size_t>(msb - kExactBits) * (1u << kSubBits) +
         static_cast<size_t>(mantissa - (1u << kSubBits));
}

uint64_t LatencyHistogram::value_of(size_t bucket) {
  if (bucket < (1u << kExactBits)) return bucket;
  const size_t k = bucket - (1u << kExactBits);
  const int msb = kExactBits + static_cast<int>(k >> kSubBits);
  const uint64_t mantissa = (1u << kSubBits) + (k & ((1u << kSubBits) - 1));
  const uint64_t width = uint64_t{1} << (msb - kSubBits);
  return mantissa * width + width / 2;
}

void LatencyHistogram::record(uint64_t ns) {
  counts_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (ns > seen && !max_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::count() const {
  uint64_t n = 0;
  for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
  return n;
}

uint64_t LatencyHistogram::quantile(double q) const {
  const uint64_t total = count();
  if (total == 0) return 0;
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * total)));
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(value_of(b), max());
  }
  return max();
}

// --- Load ------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

struct LoadState {
  Clock::time_point start;  // end of the warmup
  Clock::time_point end;
  std::string payload;
  LatencyHistogram latency;
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> have_error{false};
  std::string first_error;  // written once, by whoever set have_error first
};

asio::awaitable<void> proposer(framework::Node& node, LoadState& s) {
  asio::steady_timer backoff(co_await asio::this_coro::executor);
  for (;;) {
    const Clock::time_point t0 = Clock::now();
    if (t0 >= s.end) co_return;
    // propose() takes its command by value: the copy is the application's, as in any client.
    framework::Reply<framework::Proposed> r = co_await node.propose(s.payload);
    const Clock::time_point t1 = Clock::now();
    if (!r.ok()) {
      s.errors.fetch_add(1, std::memory_order_relaxed);
      if (!s.have_error.exchange(true)) s.first_error = r.error.message();
      // Not a spin: a cluster without a leader fails every proposal at once.
      backoff.expires_after(1ms);
      co_await backoff.async_wait(asio::use_awaitable);
      continue;
    }
    // Counted by completion time, so requests cut by either edge of the window balance out.
    if (t1 >= s.start && t1 < s.end) {
      s.ops.fetch_add(1, std::memory_order_relaxed);
      s.latency.record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
  }
}

}  // namespace

LoadResult run_load(asio::any_io_executor executor, framework::Node& node, const LoadSpec& spec) {
  auto s = std::make_unique<LoadState>();
  s->payload.resize(spec.payload_bytes);
  for (size_t i = 0; i < s->payload.size(); ++i) {
    s->payload[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  }
  s->start = Clock::now() + spec.warmup;
  s->end = s->start + spec.duration;
  std::vector<std::future<void>> done;
  done.reserve(static_cast<size_t>(spec.proposers));
  for (int i = 0; i < spec.proposers; ++i) {
    done.push_back(asio::co_spawn(executor, proposer(node, *s), asio::use_future));
  }
  for (auto& f : done) f.get();

  LoadResult r;
  r.ops = s->ops.load();
  r.errors = s->errors.load();
  r.first_error = s->first_error;
  r.seconds = std::chrono::duration<double>(s->end - s->start).count();
  r.ops_per_s = static_cast<double>(r.ops) / r.seconds;
  r.p50_us = static_cast<double>(s->latency.quantile(0.50)) / 1e3;
  r.p99_us = static_cast<double>(s->latency.quantile(0.99)) / 1e3;
  r.p999_us = static_cast<double>(s->latency.quantile(0.999)) / 1e3;
  r.max_us = static_cast<double>(s->latency.max()) / 1e3;
  return r;
}

// --- Memory ----------------------------------------------------------------------------------

double rss_hwm_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

void reset_rss_hwm() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  // "5" resets the high-water mark to the current RSS. A failure only means the figure that
  // follows is the process's peak so far rather than this point's.
  [[maybe_unused]] const ssize_t n = ::write(fd, "5", 1);
  ::close(fd);
}

}  // namespace bench
