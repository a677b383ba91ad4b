#include "raft/tracker/inflights.h"

#include <stdexcept>
#include <string>

#include "raft/logger.h"

namespace raft {

Inflights::Inflights(size_t capacity, uint64_t max_bytes)
    : capacity_(capacity), max_bytes_(max_bytes) {
  if (capacity == 0) throw std::invalid_argument("Inflights: capacity must be greater than 0");
  if (max_bytes == 0) throw std::invalid_argument("Inflights: max_bytes must be greater than 0");
}

void Inflights::add(uint64_t index, uint64_t bytes) {
  // The window is only sound if the leader checks full() before sending, and free_le relies on
  // indexes rising; either mistake would silently corrupt flow control, so fail loudly.
  if (full()) {
    throw InvariantViolation("Inflights: add(" + std::to_string(index) +
                             ") to a full window (count=" + std::to_string(items_.size()) +
                             " bytes=" + std::to_string(bytes_) + ")");
  }
  if (!items_.empty() && index <= items_.back().index) {
    throw InvariantViolation("Inflights: add(" + std::to_string(index) +
                             ") not above the last index " + std::to_string(items_.back().index));
  }
  items_.push_back(Item{index, bytes});
  bytes_ += bytes;
}

void Inflights::free_le(uint64_t to) {
  while (!items_.empty() && items_.front().index <= to) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::free_first_one() {
  if (items_.empty()) return;
  bytes_ -= items_.front().bytes;
  items_.pop_front();
}

bool Inflights::full() const { return items_.size() >= capacity_ || bytes_ >= max_bytes_; }

void Inflights::reset() {
  items_.clear();
  bytes_ = 0;
}

}  // namespace raft
