// The inflight window: bounded by count and by bytes, freed by acknowledgement.
#include "raft/tracker/inflights.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "raft/logger.h"

namespace raft {
namespace {

TEST(InflightsTest, RejectsZeroLimits) {
  EXPECT_THROW(Inflights(0, 100), std::invalid_argument);
  EXPECT_THROW(Inflights(10, 0), std::invalid_argument);
  EXPECT_NO_THROW(Inflights(1, 1));
}

TEST(InflightsTest, DefaultsToAWindowOf256WithoutByteLimit) {
  Inflights in;
  EXPECT_EQ(in.capacity(), 256u);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
  EXPECT_FALSE(in.full());
  in.add(1, kNoLimit - 1);
  EXPECT_FALSE(in.full()) << "no byte limit means only the count limits";
}

TEST(InflightsTest, AddCountsMessagesAndBytes) {
  Inflights in(10);
  in.add(1, 100);
  in.add(3, 200);
  in.add(7, 0);
  EXPECT_EQ(in.count(), 3u);
  EXPECT_EQ(in.bytes(), 300u);
  EXPECT_FALSE(in.full());
}

TEST(InflightsTest, FullByCount) {
  Inflights in(3);
  in.add(1, 1);
  in.add(2, 1);
  EXPECT_FALSE(in.full());
  in.add(3, 1);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 3u);
  in.free_first_one();
  EXPECT_FALSE(in.full());
  in.add(4, 1);
  EXPECT_TRUE(in.full());
}

TEST(InflightsTest, FullByBytesAtOrAboveTheLimit) {
  Inflights in(10, 100);
  in.add(1, 60);
  EXPECT_FALSE(in.full());
  in.add(2, 39);
  EXPECT_FALSE(in.full()) << "99 bytes < 100";
  in.add(3, 1);
  EXPECT_TRUE(in.full()) << "exactly at the limit is full";
  in.free_le(1);
  EXPECT_EQ(in.bytes(), 40u);
  EXPECT_FALSE(in.full());
  // One message may take the total past the limit.
  in.add(4, 500);
  EXPECT_EQ(in.bytes(), 540u);
  EXPECT_TRUE(in.full());
  in.free_le(3);
  EXPECT_EQ(in.bytes(), 500u);
  EXPECT_TRUE(in.full()) << "still over the limit until the big message is freed";
  in.free_le(4);
  EXPECT_EQ(in.bytes(), 0u);
  EXPECT_FALSE(in.full());
}

TEST(InflightsTest, AddToAFullWindowIsACallerBug) {
  Inflights by_count(2);
  by_count.add(1, 0);
  by_count.add(2, 0);
  EXPECT_THROW(by_count.add(3, 0), InvariantViolation);
  EXPECT_EQ(by_count.count(), 2u) << "the failed add left the window as it was";

  Inflights by_bytes(10, 10);
  by_bytes.add(1, 10);
  EXPECT_THROW(by_bytes.add(2, 1), InvariantViolation);
  EXPECT_EQ(by_bytes.count(), 1u);
  EXPECT_EQ(by_bytes.bytes(), 10u);
}

TEST(InflightsTest, IndexesMustRise) {
  Inflights in(10);
  in.add(5, 1);
  EXPECT_THROW(in.add(5, 1), InvariantViolation);
  EXPECT_THROW(in.add(4, 1), InvariantViolation);
  EXPECT_EQ(in.count(), 1u);
  EXPECT_EQ(in.bytes(), 1u);
  in.add(6, 1);
  EXPECT_EQ(in.count(), 2u);
  // After everything is freed, any index is accepted again (the window is empty).
  in.free_le(100);
  in.add(1, 1);
  EXPECT_EQ(in.count(), 1u);
}

TEST(InflightsTest, FreeLeFreesEveryMessageUpToTheIndex) {
  Inflights in(10);
  for (uint64_t i = 0; i < 10; ++i) in.add(i * 10, i + 1);  // indexes 0, 10, ..., 90
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.bytes(), 55u);

  Inflights copy = in;
  // At the first index: just that one.
  in.free_le(0);
  EXPECT_EQ(in.count(), 9u);
  EXPECT_EQ(in.bytes(), 54u);

  // Between two indexes: everything below it.
  in.free_le(25);  // frees 10 and 20
  EXPECT_EQ(in.count(), 7u);
  EXPECT_EQ(in.bytes(), 54u - 2 - 3);

  // An older acknowledgement frees nothing more.
  in.free_le(15);
  EXPECT_EQ(in.count(), 7u);

  // Exactly at an index includes it.
  in.free_le(50);  // frees 30, 40, 50
  EXPECT_EQ(in.count(), 4u);
  EXPECT_EQ(in.bytes(), 7u + 8 + 9 + 10);

  // Beyond the last: everything.
  in.free_le(1000);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
  EXPECT_FALSE(in.full());

  // The copy made earlier is independent.
  EXPECT_EQ(copy.count(), 10u);
  EXPECT_EQ(copy.bytes(), 55u);
}

TEST(InflightsTest, FreeLeBelowTheFirstIndexFreesNothing) {
  Inflights in(4);
  in.add(5, 1);
  in.add(6, 1);
  in.free_le(4);
  EXPECT_EQ(in.count(), 2u);
  EXPECT_EQ(in.bytes(), 2u);
}

TEST(InflightsTest, FreeFirstOneFreesExactlyTheOldest) {
  Inflights in(10, 1000);
  in.free_first_one();  // empty: no-op
  EXPECT_EQ(in.count(), 0u);

  in.add(3, 30);
  in.add(4, 40);
  in.add(9, 90);
  in.free_first_one();
  EXPECT_EQ(in.count(), 2u);
  EXPECT_EQ(in.bytes(), 130u);
  // The oldest remaining is now 4: free_le(4) frees one more.
  in.free_le(4);
  EXPECT_EQ(in.count(), 1u);
  EXPECT_EQ(in.bytes(), 90u);
}

TEST(InflightsTest, ResetEmptiesTheWindow) {
  Inflights in(2, 10);
  in.add(1, 5);
  in.add(2, 5);
  EXPECT_TRUE(in.full());
  in.reset();
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.capacity(), 2u) << "limits survive a reset";
  in.add(1, 9);  // indexes may start over after a reset
  EXPECT_FALSE(in.full());
  in.add(2, 1);
  EXPECT_TRUE(in.full());
}

TEST(InflightsTest, SlidingWindowKeepsCountsExact) {
  // Pipelining: add and acknowledge many times around a small window.
  Inflights in(5, 1000);
  uint64_t next = 1;
  uint64_t acked = 0;
  for (int round = 0; round < 100; ++round) {
    while (!in.full()) {
      in.add(next, 10);
      ++next;
    }
    ASSERT_EQ(in.count(), 5u);
    ASSERT_EQ(in.bytes(), 50u);
    acked += 1 + round % 5;  // acknowledge 1..5 messages
    in.free_le(acked);
    const uint64_t outstanding = next - 1 - acked;
    ASSERT_EQ(in.count(), outstanding);
    ASSERT_EQ(in.bytes(), outstanding * 10);
  }
}

}  // namespace
}  // namespace raft
