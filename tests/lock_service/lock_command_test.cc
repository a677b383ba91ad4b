// The lock service's command and result encodings.
#include "examples/lock-service/lock_command.h"

#include <gtest/gtest.h>

namespace lock_service {
namespace {

using O = LockResult::Outcome;

TEST(LockCommandTest, ValidNames) {
  EXPECT_TRUE(valid_name("printer"));
  EXPECT_TRUE(valid_name("a/b:c-1_2.x"));
  EXPECT_TRUE(valid_name(std::string(kMaxNameBytes, 'x')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name("two words"));
  EXPECT_FALSE(valid_name("tab\there"));
  EXPECT_FALSE(valid_name("new\nline"));
  EXPECT_FALSE(valid_name("caf\xc3\xa9"));  // not ASCII
  EXPECT_FALSE(valid_name(std::string(kMaxNameBytes + 1, 'x')));
}

TEST(LockCommandTest, CommandsRoundTrip) {
  for (LockCommand::Op op : {LockCommand::Op::kAcquire, LockCommand::Op::kRelease}) {
    const LockCommand c{op, "printer", "worker-1"};
    const std::string bytes = encode_command(c);
    std::optional<LockCommand> back = decode_command(bytes);
    ASSERT_TRUE(back.has_value()) << bytes;
    EXPECT_EQ(back->op, op);
    EXPECT_EQ(back->name, "printer");
    EXPECT_EQ(back->owner, "worker-1");
  }
  EXPECT_EQ(encode_command(LockCommand{LockCommand::Op::kAcquire, "db", "alice"}),
            "acquire db alice");
}

TEST(LockCommandTest, BadCommandsSayWhy) {
  std::string why;
  EXPECT_FALSE(decode_command("acquire db", &why));
  EXPECT_NE(why.find("expected"), std::string::npos) << why;
  EXPECT_FALSE(decode_command("steal db alice", &why));
  EXPECT_EQ(why, "unknown operation");
  EXPECT_FALSE(decode_command("acquire \x01 alice", &why));
  EXPECT_EQ(why, "bad lock name");
  EXPECT_FALSE(decode_command("release db \x01", &why));
  EXPECT_EQ(why, "bad owner");
  EXPECT_FALSE(decode_command("acquire db"));  // without `why`
}

TEST(LockCommandTest, ResultsRoundTrip) {
  std::vector<LockResult> all(6);
  all[0].outcome = O::kAcquired;
  all[0].token = 18446744073709551615ull;
  all[1].outcome = O::kHeld;
  all[1].holder = "alice";
  all[2].outcome = O::kReleased;
  all[3].outcome = O::kNotHolder;
  all[3].holder = "bob";
  all[4].outcome = O::kNotHeld;
  all[5].outcome = O::kInvalid;
  all[5].reason = "bad lock name";
  for (const LockResult& r : all) {
    const std::string bytes = encode_result(r);
    EXPECT_EQ(decode_result(bytes), r) << bytes;
  }
  EXPECT_EQ(encode_result(all[0]), "acquired 18446744073709551615");
  EXPECT_EQ(encode_result(all[1]), "held alice");
}

TEST(LockCommandTest, UnreadableResults) {
  for (const char* bytes : {"", "acquired", "acquired 0", "acquired 01", "acquired x",
                            "acquired 18446744073709551616", "held", "held two words",
                            "released now", "not-held x", "whatever"}) {
    EXPECT_EQ(decode_result(bytes), std::nullopt) << bytes;
  }
}

TEST(LockCommandTest, Tokens) {
  EXPECT_EQ(parse_token("1"), 1u);
  EXPECT_EQ(parse_token("123"), 123u);
  EXPECT_EQ(parse_token("0"), std::nullopt);
  EXPECT_EQ(parse_token("007"), std::nullopt);
  EXPECT_EQ(parse_token("+1"), std::nullopt);
  EXPECT_EQ(parse_token("-1"), std::nullopt);
  EXPECT_EQ(parse_token("1 "), std::nullopt);
  EXPECT_EQ(parse_token(""), std::nullopt);
}

}  // namespace
}  // namespace lock_service
