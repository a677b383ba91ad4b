// The envelopes that carry a request's origin through the log.
#include "framework/command_codec.h"

#include <gtest/gtest.h>

namespace framework {
namespace {

TEST(CommandCodecTest, CommandRoundTrips) {
  const std::string data = encode_command(RequestTag{7, 0xDEADBEEFCAFEull}, "set x 1");
  EXPECT_EQ(data.size(), kCommandHeaderBytes + 7);
  std::optional<DecodedCommand> c = decode_command(data);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tag, (RequestTag{7, 0xDEADBEEFCAFEull}));
  EXPECT_EQ(c->command, "set x 1");
  // An empty command is still a command (distinct from the core's empty entries).
  c = decode_command(encode_command(RequestTag{1, 2}, ""));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->command, "");
}

TEST(CommandCodecTest, ForeignOrShortDataIsNotACommand) {
  EXPECT_FALSE(decode_command(""));  // the core's empty entry
  std::string data = encode_command(RequestTag{1, 2}, "x");
  for (size_t n = 0; n < kCommandHeaderBytes; ++n) {
    EXPECT_FALSE(decode_command(data.substr(0, n))) << n;
  }
  data[0] = 9;
  EXPECT_FALSE(decode_command(data));
}

TEST(CommandCodecTest, ConfContextRoundTrips) {
  ConfContext in;
  in.tag = RequestTag{3, 99};
  in.addresses[4] = net::PeerAddress{"10.0.0.4", 7004};
  in.addresses[5] = net::PeerAddress{"node-five.example", 65535};
  std::optional<ConfContext> out = decode_conf_context(encode_conf_context(in));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->tag, in.tag);
  ASSERT_EQ(out->addresses.size(), 2u);
  EXPECT_EQ(out->addresses[4].host, "10.0.0.4");
  EXPECT_EQ(out->addresses[4].port, 7004);
  EXPECT_EQ(out->addresses[5].host, "node-five.example");
  EXPECT_EQ(out->addresses[5].port, 65535);
}

TEST(CommandCodecTest, DamagedConfContextIsRefused) {
  ConfContext in;
  in.tag = RequestTag{3, 99};
  in.addresses[4] = net::PeerAddress{"10.0.0.4", 7004};
  const std::string data = encode_conf_context(in);
  for (size_t n = 0; n < data.size(); ++n) {
    EXPECT_FALSE(decode_conf_context(data.substr(0, n))) << n;
  }
  EXPECT_FALSE(decode_conf_context(data + "x"));  // trailing bytes
  EXPECT_FALSE(decode_conf_context(encode_command(RequestTag{1, 2}, "")));
}

TEST(CommandCodecTest, ReadContextRoundTrips) {
  EXPECT_EQ(decode_read_context(encode_read_context(RequestTag{3, 42})), (RequestTag{3, 42}));
  EXPECT_FALSE(decode_read_context("short"));
}

}  // namespace
}  // namespace framework
