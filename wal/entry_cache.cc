#include "wal/entry_cache.h"

#include <cassert>
#include <cstddef>
#include <vector>

#include "wal/record.h"

namespace wal {
namespace {

uint64_t held_bytes(const EntryCache::Buffer& b) {
  return b->capacity() + EntryCache::kBatchOverhead;
}

const char* next_record(const char* rec) {
  return rec + record::kHeaderSize + record::get_u32(rec);
}

// A buffer of exactly `size` bytes of capacity, or close: a string built empty and then
// reserved is allocated to the size asked for (above its small-string capacity).
EntryCache::Buffer exact_buffer(size_t size) {
  auto b = std::make_unique<std::string>();
  b->reserve(size);
  return b;
}

}  // namespace

EntryCache::Buffer EntryCache::take_buffer(size_t size) {
  Buffer b = std::move(spare_);
  // Twice the size at most, so a reused buffer wastes no more of the bound than the growth of a
  // string would; a spare that does not fit is freed rather than kept for later.
  if (b && b->capacity() >= size && b->capacity() / 2 <= size) {
    b->clear();
    return b;
  }
  return exact_buffer(size);
}

void EntryCache::add(uint64_t first_index, Buffer records) {
  if (!empty() && first_index != end()) clear();
  if (records->empty()) {
    keep_spare(std::move(records));
    return;
  }
  if (held_bytes(records) <= capacity_) {
    push(first_index, std::move(records));
    return;
  }
  // Too big to keep whole: keep a copy of the newest records that fit, as the cache would have
  // held them had they come one by one.
  clear();
  if (capacity_ <= kBatchOverhead) {  // nothing fits (the cache is off): no need to look
    keep_spare(std::move(records));
    return;
  }
  std::vector<size_t> offsets;
  for (const char* p = records->data(); p < records->data() + records->size(); p = next_record(p)) {
    offsets.push_back(static_cast<size_t>(p - records->data()));
  }
  size_t k = 0;
  while (k < offsets.size() && records->size() - offsets[k] + kBatchOverhead > capacity_) ++k;
  if (k < offsets.size()) {
    const size_t n = records->size() - offsets[k];
    Buffer tail = exact_buffer(n);
    tail->append(records->data() + offsets[k], n);
    if (held_bytes(tail) <= capacity_) push(first_index + k, std::move(tail));
  }
  keep_spare(std::move(records));
}

void EntryCache::push(uint64_t first_index, Buffer records) {
  const uint64_t held = held_bytes(records);
  assert(held <= capacity_ && (empty() || first_index == end()));
  while (!batches_.empty() && bytes_ + held > capacity_) release_front();
  if (empty()) first_ = first_index;
  const char* const end_of_records = records->data() + records->size();
  for (const char* p = records->data(); p < end_of_records; p = next_record(p)) {
    assert(static_cast<uint8_t>(p[4]) == static_cast<uint8_t>(record::Type::kEntry));
    starts_.push_back(p);
  }
  bytes_ += held;
  batches_.push_back({std::move(records), first_index, end()});
}

void EntryCache::release_front() {
  Batch& b = batches_.front();
  starts_.erase(starts_.begin(), starts_.begin() + static_cast<ptrdiff_t>(b.end - first_));
  first_ = b.end;
  bytes_ -= held_bytes(b.records);
  keep_spare(std::move(b.records));
  batches_.pop_front();
}

void EntryCache::release_back() {
  Batch& b = batches_.back();
  starts_.resize(starts_.size() - (b.end - b.first));
  bytes_ -= held_bytes(b.records);
  keep_spare(std::move(b.records));
  batches_.pop_back();
}

void EntryCache::keep_spare(Buffer b) {
  // The last one let go of: its size is the likeliest to match the next batch's.
  spare_ = std::move(b);
}

void EntryCache::truncate(uint64_t from) {
  if (empty() || from >= end()) return;
  if (from <= first_) {
    clear();
    return;
  }
  while (batches_.back().first >= from) release_back();
  starts_.resize(from - first_);
  batches_.back().end = from;  // its later records stay in the buffer, no longer cached
}

void EntryCache::drop_through(uint64_t index) {
  if (empty() || index < first_) return;
  if (index + 1 >= end()) {
    clear();
    return;
  }
  while (batches_.front().end <= index + 1) release_front();
  starts_.erase(starts_.begin(), starts_.begin() + static_cast<ptrdiff_t>(index + 1 - first_));
  first_ = index + 1;
  batches_.front().first = first_;  // its earlier records stay in the buffer, no longer cached
}

void EntryCache::clear() {
  // The spare left is the oldest batch, the one the next eviction would have let go of.
  while (!batches_.empty()) release_back();
}

std::string_view EntryCache::record(uint64_t index) const {
  const char* p = starts_[index - first_];
  return {p, record::kHeaderSize + record::get_u32(p)};
}

}  // namespace wal
