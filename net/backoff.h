// The delay before redialling a peer: exponential backoff with full jitter, drawn from a seeded
// generator so a run can be replayed.
//
// After `failures` consecutive failed dials (or connections that broke soon after they were
// made), the next dial waits a delay drawn uniformly from [min, ceiling], where the ceiling
// doubles with each failure, min·2^failures, and never exceeds max. Full jitter spreads the
// redials of many nodes that lost the same peer at the same moment; the floor of `min` keeps a
// node from redialling in a tight loop when the draw is small.
//
// Pure: no clock, no I/O. Thread-safety: the generator belongs to the caller.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace net {

inline std::chrono::milliseconds dial_backoff(unsigned failures, std::chrono::milliseconds min,
                                              std::chrono::milliseconds max, std::mt19937_64& rng) {
  const int64_t floor = std::max<int64_t>(min.count(), 0);
  const int64_t cap = std::max<int64_t>(max.count(), floor);
  int64_t ceiling = floor;
  // Doubling stops at the cap, so the shift never overflows however many failures there were.
  for (unsigned i = 0; i < failures && ceiling < cap; ++i)
    ceiling = std::max<int64_t>(ceiling * 2, 1);
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<int64_t> draw(floor, ceiling);
  return std::chrono::milliseconds(draw(rng));
}

}  // namespace net
