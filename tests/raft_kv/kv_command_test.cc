// The command and result encodings of raft-kv (kv_command.h): round trips, and every damaged
// input refused without throwing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "examples/raft-kv/kv_command.h"

namespace raftkv {
namespace {

KvCommand make(Op op, std::string key, std::string value = {}, std::string expected = {}) {
  KvCommand command;
  command.op = op;
  command.key = std::move(key);
  command.value = std::move(value);
  command.expected = std::move(expected);
  return command;
}

std::vector<KvCommand> samples() {
  return {
      make(Op::kPut, "k", "v"),
      make(Op::kPut, "", ""),
      make(Op::kPut, std::string("a\0b", 3), std::string(1000, '\xff')),
      make(Op::kPutIf, "key", "new", "old"),
      make(Op::kPutIf, "key", "", ""),
      make(Op::kDelete, "gone"),
  };
}

void expect_same(const KvCommand& a, const KvCommand& b) {
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.expected, b.expected);
}

TEST(KvCommand, RoundTrips) {
  for (const auto& command : samples()) {
    const auto decoded = decode_command(encode_command(command));
    ASSERT_TRUE(decoded.has_value());
    expect_same(*decoded, command);
  }
}

TEST(KvCommand, LayoutIsTheDocumentedOne) {
  const std::string bytes = encode_command(make(Op::kPutIf, "ab", "c", "de"));
  const std::string expected(
      "\x01\x02"
      "\x02\x00\x00\x00"
      "ab"
      "\x01\x00\x00\x00"
      "c"
      "\x02\x00\x00\x00"
      "de",
      2 + 4 + 2 + 4 + 1 + 4 + 2);
  EXPECT_EQ(bytes, expected);
  // Only kPutIf carries an expected value.
  EXPECT_EQ(encode_command(make(Op::kPut, "ab", "c", "ignored")).size(), 2u + 4 + 2 + 4 + 1);
}

TEST(KvCommand, EveryTruncationFailsToDecode) {
  for (const auto& command : samples()) {
    const std::string bytes = encode_command(command);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(decode_command(bytes.substr(0, n)).has_value())
          << "prefix of " << n << " of " << bytes.size() << " bytes decoded";
    }
  }
}

TEST(KvCommand, TrailingBytesFailToDecode) {
  for (const auto& command : samples()) {
    EXPECT_FALSE(decode_command(encode_command(command) + "x").has_value());
  }
}

TEST(KvCommand, BadVersionOrOpFailsToDecode) {
  std::string bytes = encode_command(make(Op::kPut, "k", "v"));
  for (int version : {0, 2, 255}) {
    std::string bad = bytes;
    bad[0] = static_cast<char>(version);
    EXPECT_FALSE(decode_command(bad).has_value()) << "version " << version;
  }
  for (int op : {0, 4, 255}) {
    std::string bad = bytes;
    bad[1] = static_cast<char>(op);
    EXPECT_FALSE(decode_command(bad).has_value()) << "op " << op;
  }
}

TEST(KvCommand, LengthBeyondTheInputFailsToDecode) {
  std::string bytes = encode_command(make(Op::kPut, "k", "v"));
  bytes[2] = '\xff';  // key length low byte: 255 > what remains
  EXPECT_FALSE(decode_command(bytes).has_value());
  bytes[5] = '\xff';  // key length 0xff0000ff: a lie a naive reader would allocate for
  EXPECT_FALSE(decode_command(bytes).has_value());
}

TEST(KvResult, RoundTrips) {
  const std::vector<KvResult> results = {
      KvResult{Outcome::kOk, false, ""},
      KvResult{Outcome::kOk, true, ""},
      KvResult{Outcome::kConflict, true, "current"},
      KvResult{Outcome::kConflict, false, ""},
      KvResult{Outcome::kMalformed, false, ""},
  };
  for (const auto& result : results) {
    const std::string bytes = encode_result(result);
    const auto decoded = decode_result(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->outcome, result.outcome);
    EXPECT_EQ(decoded->present, result.present);
    EXPECT_EQ(decoded->current, result.current);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(decode_result(bytes.substr(0, n)).has_value()) << "prefix of " << n;
    }
    EXPECT_FALSE(decode_result(bytes + "x").has_value());
  }
}

TEST(KvResult, BadOutcomeOrPresentFailsToDecode) {
  std::string bytes = encode_result(KvResult{Outcome::kOk, false, ""});
  bytes[0] = 3;
  EXPECT_FALSE(decode_result(bytes).has_value());
  bytes[0] = 0;
  bytes[1] = 2;
  EXPECT_FALSE(decode_result(bytes).has_value());
}

}  // namespace
}  // namespace raftkv
