// The WAL's entry cache (wal/entry_cache.h): batches kept whole and evicted whole, the bound on
// their buffers' capacity and bookkeeping, truncation and compaction inside and across batches,
// and the reuse of buffers.
#include "wal/entry_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "wal/record.h"

namespace wal {
namespace {

// The record of entry `index` with `size` bytes of data derived from the index.
std::string rec(uint64_t index, size_t size, uint64_t term = 1) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::string(size, static_cast<char>('a' + index % 26)));
  std::string out;
  uint32_t chain = 0;
  record::append_entry_record(out, e, &chain);
  return out;
}

// A buffer holding the given records back to back, with a capacity of exactly their size.
EntryCache::Buffer batch_of(const std::vector<std::string>& records) {
  size_t n = 0;
  for (const std::string& r : records) n += r.size();
  auto b = std::make_unique<std::string>();
  b->reserve(n);
  for (const std::string& r : records) b->append(r);
  return b;
}

// The records of entries [first, first + count), each with `size` data bytes.
std::vector<std::string> recs(uint64_t first, uint64_t count, size_t size) {
  std::vector<std::string> v;
  for (uint64_t i = first; i < first + count; ++i) v.push_back(rec(i, size));
  return v;
}

size_t total(const std::vector<std::string>& records) {
  size_t n = 0;
  for (const std::string& r : records) n += r.size();
  return n;
}

// What a batch of exactly these records counts against the capacity.
uint64_t held(const std::vector<std::string>& records) {
  return total(records) + EntryCache::kBatchOverhead;
}

TEST(EntryCache, ZeroCapacityCachesNothingAndHandsTheBufferBack) {
  EntryCache cache(0);
  EntryCache::Buffer b = batch_of(recs(1, 3, 10));
  const char* data = b->data();
  const size_t capacity = b->capacity();
  cache.add(1, std::move(b));
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.batches(), 0u);
  EXPECT_FALSE(cache.contains(1));
  // The refused batch is the spare: the next batch of that size is encoded into it.
  EntryCache::Buffer again = cache.take_buffer(capacity);
  EXPECT_EQ(again->data(), data);
  EXPECT_TRUE(again->empty());
}

TEST(EntryCache, KeepsBatchesWholeWithoutCopyingThem) {
  EntryCache cache(1 << 20);
  const auto first = recs(5, 4, 30);
  EntryCache::Buffer b = batch_of(first);
  const char* data = b->data();
  cache.add(5, std::move(b));
  cache.add(9, batch_of(recs(9, 2, 7)));
  EXPECT_EQ(cache.first(), 5u);
  EXPECT_EQ(cache.end(), 11u);
  EXPECT_EQ(cache.batches(), 2u);
  // The records are served from the buffer that was handed over.
  EXPECT_EQ(cache.record(5).data(), data);
  EXPECT_EQ(cache.record(6).data(), data + first[0].size());
  for (uint64_t i = 5; i < 9; ++i) EXPECT_EQ(cache.record(i), rec(i, 30));
  for (uint64_t i = 9; i < 11; ++i) EXPECT_EQ(cache.record(i), rec(i, 7));
  EXPECT_EQ(cache.bytes(), held(first) + held(recs(9, 2, 7)));
}

// Eviction drops whole batches, oldest first, and only as many as the new one needs: the cache
// holds the longest run of newest batches that fit in the capacity, each counting its buffer's
// capacity and the bookkeeping of a batch.
TEST(EntryCache, HoldsTheNewestWholeBatchesThatFitInItsCapacity) {
  const uint64_t seed = 20261125;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const uint64_t capacity = 4000;
  EntryCache cache(capacity);
  struct Added {
    uint64_t first;
    uint64_t end;
    uint64_t bytes;
  };
  std::vector<Added> added;
  std::map<uint64_t, size_t> data_size;
  uint64_t next = 1;
  for (int round = 0; round < 300; ++round) {
    const uint64_t n = 1 + rng() % 8;
    std::vector<std::string> records;
    for (uint64_t i = next; i < next + n; ++i) {
      data_size[i] = rng() % 120;
      records.push_back(rec(i, data_size[i]));
    }
    EntryCache::Buffer b = batch_of(records);
    added.push_back({next, next + n, b->capacity() + EntryCache::kBatchOverhead});
    cache.add(next, std::move(b));
    next += n;

    uint64_t want_first = next;
    uint64_t want_bytes = 0;
    for (size_t k = added.size(); k-- > 0 && want_bytes + added[k].bytes <= capacity;) {
      want_bytes += added[k].bytes;
      want_first = added[k].first;
    }
    ASSERT_EQ(cache.end(), next);
    ASSERT_EQ(cache.first(), want_first) << "round " << round;
    ASSERT_EQ(cache.bytes(), want_bytes);
    ASSERT_LE(cache.bytes(), capacity);
    for (uint64_t j = cache.first(); j < cache.end(); ++j) {
      ASSERT_EQ(cache.record(j), rec(j, data_size[j]));
    }
  }
}

TEST(EntryCache, ABatchBiggerThanTheCacheLeavesACopyOfItsNewestRecordsThatFit) {
  EntryCache cache(1000 + EntryCache::kBatchOverhead);
  cache.add(1, batch_of(recs(1, 2, 50)));
  // Twenty records of 16 + 21 + 63 = 100 bytes: the newest ten fit.
  const auto big = recs(3, 20, 63);
  ASSERT_EQ(big[0].size(), 100u);
  cache.add(3, batch_of(big));
  EXPECT_EQ(cache.first(), 13u);
  EXPECT_EQ(cache.end(), 23u);
  EXPECT_EQ(cache.batches(), 1u);
  EXPECT_EQ(cache.bytes(), cache.capacity());
  for (uint64_t i = 13; i < 23; ++i) EXPECT_EQ(cache.record(i), rec(i, 63));
  // And the next batch follows on, evicting the copy.
  cache.add(23, batch_of(recs(23, 1, 63)));
  EXPECT_EQ(cache.first(), 23u);
  EXPECT_EQ(cache.record(23), rec(23, 63));
}

TEST(EntryCache, ARecordBiggerThanTheCacheEmptiesIt) {
  EntryCache cache(500);
  // The data size that makes a batch of one record count exactly the capacity.
  const size_t exact =
      500 - EntryCache::kBatchOverhead - record::kHeaderSize - record::kEntryFixedSize;
  cache.add(1, batch_of(recs(1, 1, exact)));
  EXPECT_EQ(cache.bytes(), 500u);
  EXPECT_EQ(cache.record(1), rec(1, exact));
  cache.add(2, batch_of(recs(2, 1, exact + 1)));
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.batches(), 0u);
  cache.add(3, batch_of(recs(3, 1, 100)));  // and it starts again with the next one
  EXPECT_EQ(cache.first(), 3u);
  EXPECT_EQ(cache.record(3), rec(3, 100));
}

TEST(EntryCache, TruncateInsideAndAcrossBatches) {
  EntryCache cache(1 << 20);
  const auto a = recs(10, 5, 20);  // 10..14
  const auto b = recs(15, 5, 20);  // 15..19
  const auto c = recs(20, 5, 20);  // 20..24
  cache.add(10, batch_of(a));
  cache.add(15, batch_of(b));
  cache.add(20, batch_of(c));
  cache.truncate(25);  // nothing at or after 25
  EXPECT_EQ(cache.end(), 25u);
  cache.truncate(100);
  EXPECT_EQ(cache.end(), 25u);

  // Inside a batch: it stays, counted whole.
  cache.truncate(22);
  EXPECT_EQ(cache.end(), 22u);
  EXPECT_EQ(cache.batches(), 3u);
  EXPECT_EQ(cache.bytes(), held(a) + held(b) + held(c));
  // A new entry 22 follows in a batch of its own; the old records after 21 are not served.
  cache.add(22, batch_of({rec(22, 3, 2)}));
  EXPECT_EQ(cache.record(22), rec(22, 3, 2));
  EXPECT_EQ(cache.record(21), rec(21, 20));
  EXPECT_EQ(cache.end(), 23u);

  // Across batches: the ones wholly dropped are let go of.
  cache.truncate(14);
  EXPECT_EQ(cache.end(), 14u);
  EXPECT_EQ(cache.batches(), 1u);
  EXPECT_EQ(cache.bytes(), held(a));
  EXPECT_EQ(cache.record(13), rec(13, 20));
  cache.add(14, batch_of(recs(14, 2, 9)));
  EXPECT_EQ(cache.record(14), rec(14, 9));
  EXPECT_EQ(cache.record(15), rec(15, 9));

  // At or below the first entry: everything goes.
  cache.truncate(10);
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.batches(), 0u);
  cache.add(7, batch_of(recs(7, 2, 1)));
  cache.truncate(0);
  EXPECT_TRUE(cache.empty());
}

TEST(EntryCache, DropThroughInsideAndAcrossBatches) {
  EntryCache cache(1 << 20);
  const auto a = recs(10, 5, 20);
  const auto b = recs(15, 5, 20);
  cache.add(10, batch_of(a));
  cache.add(15, batch_of(b));
  cache.drop_through(9);  // below the first: nothing
  EXPECT_EQ(cache.first(), 10u);

  cache.drop_through(11);
  EXPECT_EQ(cache.first(), 12u);
  EXPECT_FALSE(cache.contains(11));
  EXPECT_EQ(cache.record(12), rec(12, 20));
  EXPECT_EQ(cache.batches(), 2u);
  EXPECT_EQ(cache.bytes(), held(a) + held(b));  // a part-dropped batch counts whole

  cache.drop_through(16);
  EXPECT_EQ(cache.first(), 17u);
  EXPECT_EQ(cache.batches(), 1u);
  EXPECT_EQ(cache.bytes(), held(b));
  for (uint64_t i = 17; i < 20; ++i) EXPECT_EQ(cache.record(i), rec(i, 20));

  // Then a truncation back to the first entry, and an add after it.
  cache.truncate(18);
  EXPECT_EQ(cache.end(), 18u);
  cache.add(18, batch_of(recs(18, 1, 4)));
  EXPECT_EQ(cache.first(), 17u);
  EXPECT_EQ(cache.record(18), rec(18, 4));

  cache.drop_through(18);  // the newest: everything goes
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(EntryCache, AnAddThatDoesNotFollowTheNewestStartsAgain) {
  EntryCache cache(1 << 20);
  cache.add(10, batch_of(recs(10, 3, 5)));
  cache.add(30, batch_of(recs(30, 2, 5)));
  EXPECT_EQ(cache.first(), 30u);
  EXPECT_EQ(cache.end(), 32u);
  EXPECT_EQ(cache.batches(), 1u);
  EXPECT_EQ(cache.bytes(), held(recs(30, 2, 5)));
  cache.add(5, batch_of(recs(5, 1, 5)));  // below, too
  EXPECT_EQ(cache.first(), 5u);
  EXPECT_EQ(cache.end(), 6u);
}

TEST(EntryCache, TakeBufferReusesTheLastBatchLetGoOfWhenItsSizeSuits) {
  EntryCache cache(2 * (500 + EntryCache::kBatchOverhead));
  // Two batches of five records of 100 bytes fill the cache; the next one evicts the first.
  EntryCache::Buffer first = batch_of(recs(1, 5, 63));
  const char* first_data = first->data();
  cache.add(1, std::move(first));
  cache.add(6, batch_of(recs(6, 5, 63)));
  cache.add(11, batch_of(recs(11, 5, 63)));
  EXPECT_EQ(cache.first(), 6u);
  EntryCache::Buffer reused = cache.take_buffer(500);
  EXPECT_EQ(reused->data(), first_data);
  EXPECT_TRUE(reused->empty());
  EXPECT_EQ(reused->capacity(), 500u);
  // Filling it does not disturb what is cached.
  reused->assign(500, 'x');
  for (uint64_t i = 6; i < 16; ++i) EXPECT_EQ(cache.record(i), rec(i, 63));

  // No spare now: a buffer of exactly the size asked for.
  EntryCache::Buffer fresh = cache.take_buffer(300);
  EXPECT_TRUE(fresh->empty());
  EXPECT_EQ(fresh->capacity(), 300u);

  // A spare more than twice the size asked for is freed, not kept for later.
  cache.add(16, batch_of(recs(16, 5, 63)));  // evicts 6..10, the spare: 500 bytes
  EXPECT_EQ(cache.take_buffer(200)->capacity(), 200u);
  EXPECT_EQ(cache.take_buffer(400)->capacity(), 400u);  // not the 500-byte one
  // A spare smaller than asked for is not used either.
  cache.add(21, batch_of(recs(21, 5, 63)));
  EXPECT_EQ(cache.take_buffer(600)->capacity(), 600u);
  // One of exactly twice the size is.
  cache.add(26, batch_of(recs(26, 5, 63)));
  EXPECT_EQ(cache.take_buffer(250)->capacity(), 500u);
}

// Random adds, overwrites, compactions and clears against a model of the log, with every batch
// encoded into a buffer from take_buffer() as the WAL does: the cache serves exactly the model's
// records, holds the newest entry whenever its batch fits, and keeps its bound.
TEST(EntryCache, RandomOperationsAgreeWithAModel) {
  const uint64_t seed = 77;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const uint64_t capacity = 3000;
  EntryCache cache(capacity);
  std::map<uint64_t, std::string> log;  // the model: index -> record
  uint64_t first = 1;                   // the log is [first, last + 1)
  uint64_t last = 0;
  for (int step = 0; step < 3000; ++step) {
    const uint64_t op = rng() % 20;
    if (op < 14) {
      // Append a batch, sometimes overwriting a suffix.
      uint64_t at = last + 1;
      if (op == 0 && last >= first) at = first + rng() % (last - first + 1);
      const uint64_t n = 1 + rng() % 6;
      const uint64_t term = 1 + rng() % 3;
      std::vector<std::string> records;
      for (uint64_t i = at; i < at + n; ++i) records.push_back(rec(i, rng() % 200, term));
      size_t size = total(records);
      EntryCache::Buffer b = cache.take_buffer(size);
      ASSERT_GE(b->capacity(), size);
      ASSERT_LE(b->capacity(), 2 * size);
      for (const std::string& r : records) b->append(r);
      const bool fits = b->capacity() + EntryCache::kBatchOverhead <= capacity;
      cache.truncate(at);
      cache.add(at, std::move(b));
      for (auto it = log.lower_bound(at); it != log.end();) it = log.erase(it);
      for (uint64_t i = at; i < at + n; ++i) log[i] = records[i - at];
      last = at + n - 1;
      if (fits) {
        ASSERT_FALSE(cache.empty());
        ASSERT_LE(cache.first(), at);
      }
    } else if (op < 17) {
      if (last < first) continue;
      const uint64_t through = first - 1 + rng() % (last - first + 2);
      cache.drop_through(through);
      for (auto it = log.begin(); it != log.end() && it->first <= through;) it = log.erase(it);
      first = through + 1;
    } else if (op < 19) {
      if (last < first) continue;
      const uint64_t from = first + rng() % (last - first + 1);
      cache.truncate(from);
      for (auto it = log.lower_bound(from); it != log.end();) it = log.erase(it);
      last = from - 1;
    } else {
      cache.clear();
    }
    ASSERT_LE(cache.bytes(), capacity) << "step " << step;
    if (cache.empty()) {
      ASSERT_EQ(cache.bytes(), 0u);
      ASSERT_EQ(cache.batches(), 0u);
      continue;
    }
    ASSERT_GE(cache.first(), first) << "step " << step;
    ASSERT_EQ(cache.end(), last + 1) << "step " << step;
    ASSERT_LE(cache.batches(), cache.end() - cache.first());
    for (uint64_t i = cache.first(); i < cache.end(); ++i) {
      ASSERT_EQ(cache.record(i), log.at(i)) << "step " << step << " entry " << i;
    }
  }
}

}  // namespace
}  // namespace wal
