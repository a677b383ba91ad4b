#include "wal/entry_cache.h"

#include <algorithm>
#include <cstring>

#include "wal/record.h"

namespace wal {
namespace {

constexpr uint64_t kInitialSize = 1 << 20;

}  // namespace

void EntryCache::add(uint64_t index, std::string_view rec) {
  if (!empty() && index != end()) clear();
  const uint64_t n = rec.size();
  if (n > capacity_) {
    clear();
    return;
  }
  // Grow (up to the capacity) rather than evict while the entries would outgrow the buffer.
  const uint64_t wanted = (empty() ? 0 : end_pos_ - starts_.front()) + n;
  if (size_ < capacity_ && wanted > size_) {
    uint64_t size = std::max<uint64_t>(size_ * 2, kInitialSize);
    while (size < wanted) size *= 2;
    grow(std::min(size, capacity_));
  }
  uint64_t pos = end_pos_;
  // A record never wraps around the end of the buffer, so a view of it is one piece.
  if (pos % size_ + n > size_) pos += size_ - pos % size_;
  while (!starts_.empty() && pos + n - starts_.front() > size_) {
    starts_.pop_front();
    ++first_;
  }
  if (starts_.empty()) first_ = index;
  std::memcpy(at(pos), rec.data(), n);
  starts_.push_back(pos);
  end_pos_ = pos + n;
}

void EntryCache::grow(uint64_t size) {
  // new[] without () leaves the bytes uninitialized: pages are touched only as they fill.
  std::unique_ptr<char[]> grown(new char[size]);
  uint64_t pos = 0;
  for (uint64_t& start : starts_) {
    const char* rec = at(start);
    const uint64_t n = record::kHeaderSize + record::get_u32(rec);
    std::memcpy(grown.get() + pos, rec, n);
    start = pos;
    pos += n;
  }
  end_pos_ = pos;
  buf_ = std::move(grown);
  size_ = size;
}

void EntryCache::truncate(uint64_t from) {
  while (!starts_.empty() && end() > from) {
    end_pos_ = starts_.back();
    starts_.pop_back();
  }
}

void EntryCache::drop_through(uint64_t index) {
  while (!starts_.empty() && first_ <= index) {
    starts_.pop_front();
    ++first_;
  }
}

void EntryCache::clear() { starts_.clear(); }

std::string_view EntryCache::record(uint64_t index) const {
  const char* p = at(starts_[index - first_]);
  return {p, record::kHeaderSize + record::get_u32(p)};
}

}  // namespace wal
