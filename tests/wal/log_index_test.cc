// The WAL's in-memory index (wal/log_index.h).
#include "wal/log_index.h"

#include <gtest/gtest.h>

namespace wal {
namespace {

// Entries [first, first + n) of `term` in segment `seq`, records back to back from offset 40.
void add(LogIndex& log, uint64_t n, uint64_t term, uint64_t seq, uint32_t length = 50) {
  static uint32_t offset = 40;
  for (uint64_t k = 0; k < n; ++k) {
    log.append(log.last() + 1, term, seq, offset, length);
    offset += 16 + length;
  }
}

TEST(LogIndex, StartsEmptyAfterIndexZero) {
  LogIndex log;
  EXPECT_EQ(log.first(), 1u);
  EXPECT_EQ(log.last(), 0u);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.term(0), 0u);
}

TEST(LogIndex, FindsTermsAndSegmentsAcrossRuns) {
  LogIndex log;
  log.append(1, 1, 1, 40, 30);
  log.append(2, 1, 1, 86, 31);
  add(log, 3, 2, 1);  // 3..5: term 2, segment 1
  add(log, 4, 2, 2);  // 6..9: term 2, segment 2
  add(log, 2, 5, 4);  // 10..11: term 5, segment 4 (3 holds nothing live)
  EXPECT_EQ(log.last(), 11u);
  const uint64_t terms[] = {1, 1, 2, 2, 2, 2, 2, 2, 2, 5, 5};
  const uint64_t seqs[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4};
  for (uint64_t i = 1; i <= 11; ++i) {
    EXPECT_EQ(log.term(i), terms[i - 1]) << i;
    EXPECT_EQ(log.sequence(i), seqs[i - 1]) << i;
    EXPECT_EQ(log.location(i).sequence, seqs[i - 1]) << i;
  }
  EXPECT_EQ(log.location(2).offset, 86u);
  EXPECT_EQ(log.location(2).length, 31u);
  auto cursor = log.terms_from(2);
  for (uint64_t i = 2; i <= 11; ++i) EXPECT_EQ(cursor.next(), terms[i - 1]) << i;
}

TEST(LogIndex, TruncateDropsRunsAndTheLogGoesOn) {
  LogIndex log;
  add(log, 5, 1, 1);
  add(log, 5, 2, 2);
  log.truncate(4);  // back into segment 1 and term 1
  EXPECT_EQ(log.last(), 3u);
  log.append(4, 3, 3, 40, 10);  // a new term, in a later segment
  EXPECT_EQ(log.term(3), 1u);
  EXPECT_EQ(log.term(4), 3u);
  EXPECT_EQ(log.sequence(3), 1u);
  EXPECT_EQ(log.sequence(4), 3u);
  log.truncate(1);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.first(), 1u);
  log.truncate(1);  // truncating nothing is allowed
  add(log, 1, 4, 3);
  EXPECT_EQ(log.term(1), 4u);
}

TEST(LogIndex, CompactKeepsTheTermBeforeTheFirstEntry) {
  LogIndex log;
  add(log, 4, 1, 1);
  add(log, 4, 2, 2);
  add(log, 4, 3, 3);
  log.compact(6);
  EXPECT_EQ(log.first(), 7u);
  EXPECT_EQ(log.last(), 12u);
  EXPECT_EQ(log.term(6), 2u);
  EXPECT_EQ(log.term(7), 2u);
  EXPECT_EQ(log.term(9), 3u);
  EXPECT_EQ(log.sequence(7), 2u);
  EXPECT_EQ(log.sequence(12), 3u);
  log.compact(6);  // first() - 1: no change
  EXPECT_EQ(log.first(), 7u);
  log.compact(12);  // everything
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.first(), 13u);
  EXPECT_EQ(log.term(12), 3u);
  add(log, 2, 4, 5);
  EXPECT_EQ(log.term(13), 4u);
  EXPECT_EQ(log.sequence(14), 5u);
}

TEST(LogIndex, ResetAndRestartMoveTheStart) {
  LogIndex log;
  add(log, 3, 1, 1);
  log.reset(100, 9);
  EXPECT_EQ(log.first(), 101u);
  EXPECT_EQ(log.last(), 100u);
  EXPECT_EQ(log.term(100), 9u);
  add(log, 1, 9, 2);
  EXPECT_EQ(log.term(101), 9u);
  log.restart(50);
  EXPECT_EQ(log.first(), 50u);
  EXPECT_EQ(log.last(), 49u);
  EXPECT_EQ(log.term(49), 0u);  // unknown
}

TEST(LogIndex, UsesAboutEightBytesPerEntry) {
  LogIndex log;
  const uint64_t empty = log.memory_bytes();
  add(log, 100000, 1, 1);
  add(log, 100000, 2, 2);
  EXPECT_EQ(log.memory_bytes() - empty, 200000 * 8 + 4 * 16);
  log.compact(150000);
  EXPECT_EQ(log.memory_bytes() - empty, 50000 * 8 + 2 * 16);
}

}  // namespace
}  // namespace wal
