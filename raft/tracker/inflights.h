// The append messages sent to one follower and not yet acknowledged: a bounded window (by count
// and by bytes) that stops the leader from flooding a follower in the Replicate state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "raft/types.h"

namespace raft {

class Inflights {
 public:
  // capacity: messages (> 0); max_bytes: total payload bytes (> 0), kNoLimit for none.
  // Throws std::invalid_argument if either is 0.
  explicit Inflights(size_t capacity = 256, uint64_t max_bytes = kNoLimit);

  // Records a message whose last entry is `index` carrying `bytes`. Indexes must rise; adding to
  // a full window is a caller bug (check full() first). Both bugs throw InvariantViolation.
  void add(uint64_t index, uint64_t bytes);
  // Frees every message with last index <= to (an acknowledgement up to `to`).
  void free_le(uint64_t to);
  // Frees the oldest message (used when a heartbeat response shows the follower is alive but
  // the window is full, so one probe can go out).
  void free_first_one();
  // No more messages may be sent: count() == capacity() or bytes() >= the byte limit. (One
  // message may take the total past the limit; the window is then full until it is freed.)
  bool full() const;
  size_t count() const { return items_.size(); }
  uint64_t bytes() const { return bytes_; }
  size_t capacity() const { return capacity_; }
  // Forgets every message (the follower's state changed).
  void reset();

 private:
  struct Item {
    uint64_t index;
    uint64_t bytes;
  };
  size_t capacity_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Item> items_;
};

}  // namespace raft
