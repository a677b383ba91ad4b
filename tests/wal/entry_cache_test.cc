// The WAL's entry cache (wal/entry_cache.h).
#include "wal/entry_cache.h"

#include <gtest/gtest.h>

#include "wal/record.h"

namespace wal {
namespace {

// The record of entry `index` with `size` bytes of data derived from the index.
std::string rec(uint64_t index, size_t size) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_data(std::string(size, static_cast<char>('a' + index % 26)));
  std::string out;
  uint32_t chain = 0;
  record::append_entry_record(out, e, &chain);
  return out;
}

TEST(EntryCache, ZeroCapacityCachesNothing) {
  EntryCache cache(0);
  cache.add(1, rec(1, 10));
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_FALSE(cache.contains(1));
}

TEST(EntryCache, HoldsTheNewestEntriesWithinItsCapacity) {
  const uint64_t capacity = 1000;
  EntryCache cache(capacity);
  for (uint64_t i = 1; i <= 200; ++i) {
    cache.add(i, rec(i, i % 90));
    ASSERT_LE(cache.bytes(), capacity);
    ASSERT_EQ(cache.end(), i + 1);
    // Every cached record is intact, wherever the ring wrapped.
    for (uint64_t j = cache.first(); j < cache.end(); ++j)
      ASSERT_EQ(cache.record(j), rec(j, j % 90));
  }
  EXPECT_GT(cache.first(), 150u);  // the old ones were evicted
  EXPECT_GT(cache.bytes(), capacity / 2);
}

TEST(EntryCache, GrowsPastItsFirstMegabyteKeepingEveryEntryUpToItsCapacity) {
  const uint64_t capacity = 8 << 20;
  EntryCache cache(capacity);
  const size_t size = 100 << 10;
  const uint64_t record_size = rec(1, size).size();
  for (uint64_t i = 1; i <= 100; ++i) {
    cache.add(i, rec(i, size));
    ASSERT_LE(cache.bytes(), capacity);
    // Nothing is evicted until the entries outgrow the capacity itself.
    if (i * record_size <= capacity) {
      ASSERT_EQ(cache.first(), 1u);
    }
  }
  EXPECT_EQ(cache.end(), 101u);
  // As many as fit, less at most one for the space skipped where the ring wraps.
  EXPECT_LE(cache.end() - cache.first(), capacity / record_size);
  EXPECT_GE(cache.end() - cache.first(), capacity / record_size - 1);
  for (uint64_t i = cache.first(); i < cache.end(); ++i) ASSERT_EQ(cache.record(i), rec(i, size));
}

TEST(EntryCache, TruncateDropTheOldAndNonContiguousAdds) {
  EntryCache cache(4096);
  for (uint64_t i = 10; i < 20; ++i) cache.add(i, rec(i, 50));
  const uint64_t full = cache.bytes();
  cache.truncate(15);
  EXPECT_EQ(cache.end(), 15u);
  EXPECT_EQ(cache.bytes(), full / 2);
  cache.add(15, rec(15, 7));  // the space of the dropped ones is reused
  EXPECT_EQ(cache.record(15), rec(15, 7));
  EXPECT_EQ(cache.record(14), rec(14, 50));
  cache.drop_through(11);
  EXPECT_EQ(cache.first(), 12u);
  EXPECT_FALSE(cache.contains(11));
  cache.add(30, rec(30, 5));  // not after the newest: the cache starts again there
  EXPECT_EQ(cache.first(), 30u);
  EXPECT_EQ(cache.end(), 31u);
  cache.truncate(0);
  EXPECT_TRUE(cache.empty());
}

TEST(EntryCache, ARecordBiggerThanTheCacheEmptiesIt) {
  EntryCache cache(500);
  cache.add(1, rec(1, 100));
  cache.add(2, rec(2, 600));
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
  cache.add(3, rec(3, 100));  // and it starts again with the next one
  EXPECT_EQ(cache.first(), 3u);
  EXPECT_EQ(cache.record(3), rec(3, 100));
}

}  // namespace
}  // namespace wal
