// CRC32C: the published check values, chaining, and the hardware path against the table path.
#include "raft/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

// The hardware path runs inputs of at least 3 x 64 bytes as three interleaved streams (rounds
// of 3 x 4096 bytes, then of 3 x 256, then of 3 x 64) joined by table shifts, and the rest as
// one stream: every length up to past two short rounds and a tiny one, and lengths around each
// long-round boundary with the rounds and tails after it, at every alignment and from a
// non-zero CRC.
TEST(Crc32c, HardwareAndSoftwarePathsAgreeOnLongInputs) {
  std::mt19937_64 rng(11);
  std::string buf(64 * 1024 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  std::vector<size_t> lengths;
  for (size_t len = 0; len <= 2 * 768 + 192 + 100; ++len) lengths.push_back(len);
  for (size_t rounds = 1; rounds <= 3; ++rounds) {
    const size_t base = rounds * 3 * 4096;
    for (size_t d = 0; d <= 80; ++d) lengths.push_back(base - 40 + d);
    for (size_t shorts = 0; shorts <= 2; ++shorts) {
      for (size_t tinies = 0; tinies <= 1; ++tinies) {
        if (shorts + tinies == 0) continue;
        const size_t at = base + shorts * 768 + tinies * 192;
        for (size_t d = 0; d <= 18; ++d) lengths.push_back(at - 9 + d);
      }
    }
  }
  for (size_t align = 0; align < 8; ++align) {
    for (size_t len : lengths) {
      const char* p = buf.data() + align;
      ASSERT_EQ(extend(0x9abcdef0u, p, len), extend_software(0x9abcdef0u, p, len))
          << "align " << align << " len " << len;
    }
  }
  for (int i = 0; i < 200; ++i) {
    const size_t align = rng() % 16;
    const size_t len = rng() % (buf.size() - align + 1);
    const auto crc = static_cast<uint32_t>(rng());
    ASSERT_EQ(extend(crc, buf.data() + align, len), extend_software(crc, buf.data() + align, len))
        << "align " << align << " len " << len << " crc " << crc;
  }
}

TEST(Crc32c, ExtendEqualsValueOfConcatenationForLongInputs) {
  std::mt19937_64 rng(12);
  std::string data(40000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = value(data);
  EXPECT_EQ(whole, extend_software(0, data.data(), data.size()));
  for (size_t cut : {size_t{0}, size_t{1}, size_t{191}, size_t{192}, size_t{767}, size_t{768},
                     size_t{12288}, size_t{12289}, size_t{20000}, data.size()}) {
    EXPECT_EQ(extend(value(data.data(), cut), data.data() + cut, data.size() - cut), whole)
        << "cut " << cut;
  }
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
