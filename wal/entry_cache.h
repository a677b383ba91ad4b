// The WAL's cache of recently written entries: the records (header and payload, as written) of
// a contiguous run of the newest entries, in a ring buffer of at most `capacity` bytes, so a
// leader replicates what it just wrote without reading files.
//
// Adding an entry evicts the oldest ones until it fits; an entry bigger than the capacity
// empties the cache instead. Nothing is allocated per entry but an 8-byte position. The buffer
// starts at 1 MiB (or the capacity, if smaller) and doubles as entries fill it, so memory follows
// use up to the capacity. A capacity of 0 caches nothing.
//
// Not thread-safe: the WAL guards it with its lock. Views it returns are valid until the next
// change.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>

namespace wal {

class EntryCache {
 public:
  explicit EntryCache(uint64_t capacity) : capacity_(capacity) {}

  // Adds the record of entry `index`. When `index` does not follow the newest cached entry,
  // the cache is emptied first, so it always holds a contiguous run.
  void add(uint64_t index, std::string_view record);
  // Drops the entries from `from` on.
  void truncate(uint64_t from);
  // Drops the entries up to and including `index`.
  void drop_through(uint64_t index);
  void clear();

  bool empty() const { return starts_.empty(); }
  // The cached entries are [first(), end()); meaningful when not empty().
  uint64_t first() const { return first_; }
  uint64_t end() const { return first_ + starts_.size(); }
  bool contains(uint64_t index) const { return index >= first_ && index < end(); }
  // The record of a cached entry.
  std::string_view record(uint64_t index) const;

  // Bytes of the buffer the cached entries span now (their records, and any space skipped to
  // keep a record from wrapping around the end); never more than the capacity.
  uint64_t bytes() const { return empty() ? 0 : end_pos_ - starts_.front(); }
  uint64_t capacity() const { return capacity_; }

 private:
  char* at(uint64_t pos) const { return buf_.get() + pos % size_; }
  // Moves the entries into a buffer of `size` bytes, laid out from its start.
  void grow(uint64_t size);

  uint64_t capacity_;
  uint64_t size_ = 0;  // of buf_; at most capacity_
  std::unique_ptr<char[]> buf_;
  uint64_t first_ = 0;
  // Positions in an unbounded byte stream; the buffer holds stream position p at p % size_.
  std::deque<uint64_t> starts_;
  uint64_t end_pos_ = 0;
};

}  // namespace wal
