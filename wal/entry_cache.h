// The WAL's cache of recently written entries: the records (header and payload, as written) of
// a contiguous run of the newest entries, so a leader replicates what it just wrote without
// reading files.
//
// The cache keeps the very buffers the WAL wrote to the file: each append's batch of records is
// handed over whole (add()), not copied, and the cache holds a queue of such batches with the
// position of every cached record in them. Eviction drops whole batches, oldest first.
//
// ## The bound
//
// bytes() counts, for every batch the cache holds, its buffer's heap capacity plus
// kBatchOverhead for the bookkeeping of a batch, and it never exceeds capacity(). So the bound
// is on memory, by whole buffers, and it counts bytes that are not cached entries: a batch
// partly dropped by truncate() or drop_through() still counts whole, a reused buffer may be up
// to twice as big as its records (take_buffer(); a fresh one is exactly as big), and each batch
// adds kBatchOverhead, which matters only for batches of one small entry (a third more than a
// 256-byte entry's record). The cached records are therefore at most capacity() bytes, and
// usually all but a fraction of a batch of it. Not counted: 8 bytes per cached entry, and the
// one spare buffer (below).
//
// A batch that would count more than the capacity is not kept: the cache is emptied and the
// newest of its records that fit are copied into a buffer of their own (the only copy the cache
// ever makes).
// A capacity of 0 caches nothing.
//
// ## Reusing buffers
//
// The batch let go of last (evicted, truncated, compacted away or refused) is kept as a spare,
// and take_buffer() hands it out again when it is big enough and at most twice the size asked
// for, so in steady state the WAL encodes each batch into memory that was allocated and paged
// in before. take_buffer() always consumes the spare (reused or freed), so the memory beyond the
// bound is that one buffer, whose size follows the batches being written.
//
// ## Threads
//
// Not thread-safe by itself: the WAL calls add(), truncate(), drop_through() and clear() holding
// its lock exclusively, and readers call the const methods holding it shared. take_buffer() reads
// and writes only the spare, which no const method touches, so the writer may call it without
// the lock while readers run. Views from record() are valid until the next add(), truncate(),
// drop_through() or clear().
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace wal {

class EntryCache {
 public:
  // A batch of whole entry records, back to back.
  using Buffer = std::unique_ptr<std::string>;
  // What a batch costs besides its buffer's capacity: its element here, the string object and
  // the allocator's headers of both, rounded up.
  static constexpr uint64_t kBatchOverhead = 96;

  explicit EntryCache(uint64_t capacity) : capacity_(capacity) {}

  // An empty buffer with room for at least `size` bytes: the spare if it fits (see above),
  // otherwise a new one of exactly that capacity.
  Buffer take_buffer(size_t size);

  // Adds the entries whose records fill `records`, back to back, with indexes first_index,
  // first_index + 1, ...; records must hold whole entry records only. When first_index does not
  // follow the newest cached entry, the cache is emptied first, so it always holds a contiguous
  // run. Evicts the oldest batches until the new one fits.
  void add(uint64_t first_index, Buffer records);
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

  // Memory of the batches held (see "The bound"); never more than capacity().
  uint64_t bytes() const { return bytes_; }
  uint64_t capacity() const { return capacity_; }
  // The number of batch buffers held.
  size_t batches() const { return batches_.size(); }

 private:
  struct Batch {
    Buffer records;
    // The cached entries whose records are in this buffer: [first, end).
    uint64_t first;
    uint64_t end;
  };

  // Adds a batch known to fit in the capacity, evicting whole batches until it does.
  void push(uint64_t first_index, Buffer records);
  // Let go of the oldest / newest batch, with its entries still cached.
  void release_front();
  void release_back();
  void keep_spare(Buffer b);

  uint64_t capacity_;
  uint64_t bytes_ = 0;
  // Invariants: batches_ are in index order, each holds at least one cached entry, and they
  // hold exactly the cached entries: batches_.front().first == first_, each one's end is the
  // next one's first, batches_.back().end == end(). starts_[i] is where the record of entry
  // first_ + i starts, inside its batch's buffer.
  std::deque<Batch> batches_;
  std::deque<const char*> starts_;
  uint64_t first_ = 0;
  Buffer spare_;
};

}  // namespace wal
