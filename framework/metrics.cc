#include "framework/metrics.h"

#include <algorithm>

namespace framework {

void LatencyHistogram::record(uint64_t micros) noexcept {
  // First bound at or above the sample; past the end: the +Inf bucket.
  const size_t bucket =
      std::lower_bound(kBoundsMicros.begin(), kBoundsMicros.end(), micros) - kBoundsMicros.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(micros, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
  Snapshot s;
  for (size_t i = 0; i < counts_.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  // The total is the sum of the buckets read, so a reader never sees a count that its buckets
  // do not add up to.
  for (uint64_t c : s.counts) s.count += c;
  s.sum_micros = sum_micros_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace framework
