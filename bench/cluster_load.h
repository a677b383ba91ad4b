// The parts of cluster_bench that run next to a Node, in whichever process holds it: the
// benchmark's state machine, the node settings every member of the benchmark cluster uses, the
// latency histogram and the closed-loop load generator.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "framework/node.h"
#include "framework/state_machine.h"

namespace bench {

// Counts commands and bytes and keeps the last command: enough that apply() touches every
// command, cheap enough that the figures measure the framework, not the application.
class CountingStateMachine final : public framework::StateMachine {
 public:
  std::vector<std::string> apply(std::span<const framework::Command> commands) override;
  std::unique_ptr<framework::StateSnapshot> snapshot() override;
  void restore(std::istream& in) override;

  // Read from other threads (progress reports); relaxed, since they only count.
  uint64_t commands() const { return commands_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> commands_{0};
  std::atomic<uint64_t> bytes_{0};
  std::string last_;
};

// The settings of member `id` of the benchmark cluster {1, 2, 3} (see cluster_load.cc for what
// was chosen and why). Peers start at port 0 unless `ports` gives theirs. `wal_segment_bytes`
// is NodeConfig's default unless an experiment changes it (cluster_bench --wal_segment_mib).
framework::NodeConfig bench_node_config(uint64_t id, const std::vector<uint64_t>& members,
                                        const std::map<uint64_t, uint16_t>& ports,
                                        const std::string& data_dir, uint64_t wal_segment_bytes);

// Latencies in nanoseconds, log-linear buckets: exact below 128 ns, then 64 buckets per power
// of two (under 1.6% error), up to 2^63. Lock-free, so proposers on several threads record
// into one histogram; 30 KiB whatever the number of samples, so memory stays bounded however
// long a point runs.
class LatencyHistogram {
 public:
  void record(uint64_t ns);
  uint64_t count() const;
  // The smallest recorded value v such that at least q of the samples are <= v (bucket
  // midpoint); 0 when empty.
  uint64_t quantile(double q) const;
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kExactBits = 7;  // values below 128 are exact
  static constexpr int kSubBits = 6;    // 64 buckets per power of two
  static constexpr size_t kBuckets = (1u << kExactBits) + (64 - kExactBits) * (1u << kSubBits);
  static size_t bucket_of(uint64_t ns);
  static uint64_t value_of(size_t bucket);

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> max_{0};
};

struct LoadSpec {
  size_t payload_bytes = 256;
  int proposers = 1;
  std::chrono::milliseconds warmup{500};
  std::chrono::milliseconds duration{3000};
};

struct LoadResult {
  uint64_t ops = 0;     // proposals that resolved OK within the measured window
  uint64_t errors = 0;  // failed proposals, warmup included (each retried after 1 ms)
  std::string first_error;
  double seconds = 0;  // the measured window
  double ops_per_s = 0;
  // Per-request latency, propose() call to resolve, of the ops counted, in microseconds.
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Closed-loop load: `spec.proposers` coroutines on `executor`, each issuing node.propose() of a
// `payload_bytes` command back to back (the next one as soon as the previous resolves) for
// warmup + duration. What counts is every proposal that resolves OK inside the window after the
// warmup, with its latency. Blocks the calling thread, which must not be a thread of
// `executor`'s io_context, until every proposer has finished.
LoadResult run_load(boost::asio::any_io_executor executor, framework::Node& node,
                    const LoadSpec& spec);

// The process's resident-set high-water mark (VmHWM) in MiB, and a reset of it (Linux >= 4.0;
// a no-op elsewhere), so that each point reports its own peak.
double rss_hwm_mib();
void reset_rss_hwm();

}  // namespace bench
