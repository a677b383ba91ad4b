// CRC32C: the published check values, chaining, and the hardware path against the table path.
#include "raft/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace raft::crc32c {
namespace {

TEST(Crc32c, KnownValues) {
  // The standard check value, and the all-zero / all-ones vectors of RFC 3720 (iSCSI), B.4.
  EXPECT_EQ(value("123456789"), 0xE3069283u);
  EXPECT_EQ(value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(value(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(value(ascending), 0x46DD794Eu);
  EXPECT_EQ(value(""), 0u);
}

TEST(Crc32c, ExtendEqualsValueOfConcatenation) {
  const std::string a = "the first part, of odd length";
  const std::string b = "and the second part, a little longer than the first";
  EXPECT_EQ(extend(value(a), b.data(), b.size()), value(a + b));
  EXPECT_EQ(extend(0, a.data(), a.size()), value(a));
}

TEST(Crc32c, HardwareAndSoftwarePathsAgreeAtEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::string buf(4096 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t align = 0; align < 8; ++align) {
    for (size_t len = 0; len < 300; ++len) {
      const char* p = buf.data() + align;
      ASSERT_EQ(extend(0x1234u, p, len), extend_software(0x1234u, p, len))
          << "align " << align << " len " << len;
    }
  }
  EXPECT_EQ(extend(0, buf.data(), 4096), extend_software(0, buf.data(), 4096));
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::string data(256, 'x');
  const uint32_t good = value(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_NE(value(data), good) << "bit " << bit;
    data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
  }
}

}  // namespace
}  // namespace raft::crc32c
