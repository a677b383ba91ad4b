// raft-kv's command line (options.h): a full valid command line, --help, and one-line errors that
// name the flag for every kind of mistake.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "examples/raft-kv/options.h"

namespace raftkv {
namespace {

ParsedOptions parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"raft-kv"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

// The minimal valid command line, plus `extra`.
ParsedOptions parse_with(std::initializer_list<const char*> extra) {
  std::vector<const char*> argv = {
      "raft-kv", "--id",           "1",          "--peers", "1=127.0.0.1:7001,2=127.0.0.1:7002",
      "--http",  "127.0.0.1:8001", "--data-dir", "/tmp/kv1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

// Expects an error that is one line, starts with `flag` and contains `words`.
void expect_error(const ParsedOptions& parsed, const std::string& flag, const std::string& words) {
  ASSERT_EQ(parsed.kind, ParsedOptions::Kind::kError) << "accepted; expected error on " << flag;
  EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << parsed.error;
  EXPECT_EQ(parsed.error.rfind(flag, 0), 0u) << parsed.error;
  EXPECT_NE(parsed.error.find(words), std::string::npos) << parsed.error;
}

TEST(Options, FullCommandLine) {
  const ParsedOptions parsed = parse({
      "--id",
      "2",
      "--cluster-id=42",
      "--peers",
      "1=10.0.0.1:7001,2=10.0.0.2:7002,3=[::1]:7003",
      "--listen",
      "0.0.0.0:7002",
      "--http=0.0.0.0:8002",
      "--data-dir",
      "/var/lib/kv/2",
      "--tick-ms",
      "50",
      "--election-ticks",
      "20",
      "--heartbeat-ticks=2",
      "--pre-vote",
      "false",
      "--check-quorum",
      "true",
      "--read-mode",
      "lease",
      "--snapshot-entries",
      "1000",
      "--snapshot-bytes",
      "0",
      "--compaction-margin",
      "7",
      "--request-timeout-ms",
      "2500",
      "--max-key-bytes",
      "256",
      "--max-value-bytes",
      "65536",
      "--max-connections",
      "10",
      "--io-threads",
      "4",
      "--log-level",
      "debug",
  });
  ASSERT_EQ(parsed.kind, ParsedOptions::Kind::kRun) << parsed.error;
  const Options& o = parsed.options;
  EXPECT_EQ(o.node.id, 2u);
  EXPECT_EQ(o.node.cluster_id, 42u);
  ASSERT_EQ(o.node.peers.size(), 3u);
  EXPECT_EQ(o.node.peers.at(1).host, "10.0.0.1");
  EXPECT_EQ(o.node.peers.at(1).port, 7001);
  EXPECT_EQ(o.node.peers.at(3).host, "::1");
  EXPECT_EQ(o.node.peers.at(3).port, 7003);
  EXPECT_EQ(o.node.listen.host, "0.0.0.0");
  EXPECT_EQ(o.node.listen.port, 7002);
  EXPECT_FALSE(o.node.join);
  EXPECT_EQ(o.http_host, "0.0.0.0");
  EXPECT_EQ(o.http_port, 8002);
  EXPECT_EQ(o.node.data_dir, "/var/lib/kv/2");
  EXPECT_EQ(o.node.tick_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(o.node.election_ticks, 20);
  EXPECT_EQ(o.node.heartbeat_ticks, 2);
  EXPECT_FALSE(o.node.pre_vote);
  EXPECT_TRUE(o.node.check_quorum);
  EXPECT_EQ(o.node.read_mode, framework::ReadMode::kLease);
  EXPECT_EQ(o.node.snapshot_entries, 1000u);
  EXPECT_EQ(o.node.snapshot_bytes, 0u);
  EXPECT_EQ(o.node.compaction_margin, 7u);
  EXPECT_EQ(o.node.request_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(o.max_key_bytes, 256u);
  EXPECT_EQ(o.max_value_bytes, 65536u);
  // A compare-and-swap at the limits still fits in one command.
  EXPECT_GE(o.node.max_command_bytes, 256u + 2 * 65536u);
  EXPECT_EQ(o.max_connections, 10u);
  EXPECT_EQ(o.io_threads, 4);
  EXPECT_EQ(o.log_level, raft::LogLevel::kDebug);
  EXPECT_EQ(o.node.validate(), "");
}

TEST(Options, DefaultsAndOwnPeerEntryAsListenAddress) {
  const ParsedOptions parsed = parse_with({});
  ASSERT_EQ(parsed.kind, ParsedOptions::Kind::kRun) << parsed.error;
  const Options& o = parsed.options;
  const Options defaults;
  EXPECT_EQ(o.node.cluster_id, 1u);
  EXPECT_EQ(o.node.listen.host, "127.0.0.1");
  EXPECT_EQ(o.node.listen.port, 7001);
  EXPECT_EQ(o.node.election_ticks, defaults.node.election_ticks);
  EXPECT_EQ(o.node.read_mode, framework::ReadMode::kSafe);
  EXPECT_EQ(o.max_value_bytes, defaults.max_value_bytes);
  EXPECT_EQ(o.io_threads, defaults.io_threads);
  EXPECT_EQ(o.log_level, raft::LogLevel::kInfo);
}

TEST(Options, OwnEntryWithPortZeroListensOnAFreePort) {
  const ParsedOptions parsed =
      parse({"--id", "1", "--peers", "1=127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", "d"});
  ASSERT_EQ(parsed.kind, ParsedOptions::Kind::kRun) << parsed.error;
  EXPECT_EQ(parsed.options.node.listen.port, 0);
  EXPECT_EQ(parsed.options.http_port, 0);
}

TEST(Options, JoinWithListenNeedsNoOwnEntry) {
  const ParsedOptions parsed =
      parse({"--id", "4", "--join", "--peers", "1=127.0.0.1:7001", "--listen", "127.0.0.1:7004",
             "--http", "127.0.0.1:8004", "--data-dir", "d4"});
  ASSERT_EQ(parsed.kind, ParsedOptions::Kind::kRun) << parsed.error;
  EXPECT_TRUE(parsed.options.node.join);
  EXPECT_EQ(parsed.options.node.listen.port, 7004);

  expect_error(parse({"--id", "4", "--join", "--peers", "1=127.0.0.1:7001", "--http",
                      "127.0.0.1:8004", "--data-dir", "d4"}),
               "--listen", "required with --join");
  expect_error(parse_with({"--join=yes"}), "--join", "takes no value");
}

TEST(Options, Help) {
  EXPECT_EQ(parse({"--help"}).kind, ParsedOptions::Kind::kHelp);
  EXPECT_EQ(parse({"-h"}).kind, ParsedOptions::Kind::kHelp);
  // --help wins over anything else on the line, even mistakes.
  EXPECT_EQ(parse({"--bogus", "--id", "1", "-h"}).kind, ParsedOptions::Kind::kHelp);
  const std::string text = usage();
  for (const char* flag : {"--id",
                           "--cluster-id",
                           "--peers",
                           "--listen",
                           "--http",
                           "--data-dir",
                           "--join",
                           "--tick-ms",
                           "--election-ticks",
                           "--heartbeat-ticks",
                           "--pre-vote",
                           "--check-quorum",
                           "--read-mode",
                           "--snapshot-entries",
                           "--snapshot-bytes",
                           "--compaction-margin",
                           "--request-timeout-ms",
                           "--max-key-bytes",
                           "--max-value-bytes",
                           "--max-connections",
                           "--io-threads",
                           "--log-level",
                           "--help"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(text.find("(default 100)"), std::string::npos) << "tick default";
}

TEST(Options, MissingRequiredFlags) {
  expect_error(parse({"--peers", "1=h:1", "--http", "h:2", "--data-dir", "d"}), "--id", "required");
  expect_error(parse({"--id", "1", "--http", "h:2", "--data-dir", "d"}), "--peers", "required");
  expect_error(parse({"--id", "1", "--peers", "1=h:1", "--data-dir", "d"}), "--http", "required");
  expect_error(parse({"--id", "1", "--peers", "1=h:1", "--http", "h:2"}), "--data-dir", "required");
  expect_error(parse_with({"--data-dir="}), "--data-dir", "given more than once");
  expect_error(parse({"--id", "1", "--peers", "1=h:1", "--http", "h:2", "--data-dir="}),
               "--data-dir", "must not be empty");
}

TEST(Options, ShapeErrors) {
  expect_error(parse_with({"--bogus", "1"}), "unknown flag '--bogus'", "");
  expect_error(parse_with({"-x"}), "unknown flag '-x'", "");
  expect_error(parse_with({"stray"}), "unexpected argument 'stray'", "");
  expect_error(parse_with({"--id", "1"}), "--id", "given more than once");
  expect_error(parse_with({"--tick-ms"}), "--tick-ms", "missing value");
  expect_error(parse_with({"--tick-ms", "--io-threads", "2"}), "--tick-ms", "missing value");
}

TEST(Options, NumberErrors) {
  expect_error(parse_with({"--tick-ms", "abc"}), "--tick-ms", "'abc' is not a number");
  expect_error(parse_with({"--tick-ms", "10ms"}), "--tick-ms", "is not a number");
  expect_error(parse_with({"--tick-ms", "-5"}), "--tick-ms", "is not a number");
  expect_error(parse_with({"--tick-ms=0"}), "--tick-ms", "out of range");
  expect_error(parse_with({"--io-threads", "0"}), "--io-threads", "out of range");
  expect_error(parse_with({"--io-threads", "100000"}), "--io-threads", "out of range");
  expect_error(parse_with({"--max-key-bytes", "0"}), "--max-key-bytes", "out of range");
  expect_error(parse_with({"--max-value-bytes", "1000000000"}), "--max-value-bytes",
               "out of range");
  expect_error(parse_with({"--snapshot-entries", "99999999999999999999999"}), "--snapshot-entries",
               "out of range");
  expect_error(parse({"--id", "0", "--peers", "1=h:1", "--http", "h:2", "--data-dir", "d"}), "--id",
               "out of range");
  expect_error(parse_with({"--cluster-id", "x"}), "--cluster-id", "not a number");
  expect_error(parse_with({"--request-timeout-ms", "0"}), "--request-timeout-ms", "out of range");
  expect_error(parse_with({"--max-connections", "0"}), "--max-connections", "out of range");
}

TEST(Options, ValueErrors) {
  expect_error(parse_with({"--pre-vote", "yes"}), "--pre-vote", "not true or false");
  expect_error(parse_with({"--check-quorum", "1"}), "--check-quorum", "not true or false");
  expect_error(parse_with({"--read-mode", "fast"}), "--read-mode", "not safe or lease");
  expect_error(parse_with({"--log-level", "trace"}), "--log-level", "not debug, info");
  expect_error(parse_with({"--read-mode", "lease", "--check-quorum", "false"}), "--read-mode",
               "requires --check-quorum true");
  expect_error(parse_with({"--election-ticks", "3", "--heartbeat-ticks", "3"}), "--election-ticks",
               "greater than --heartbeat-ticks");
  expect_error(parse_with({"--listen", "nocolon"}), "--listen", "'nocolon' is not HOST:PORT");
  expect_error(parse({"--id", "1", "--peers", "1=h:1", "--http", ":80", "--data-dir", "d"}),
               "--http", "is not HOST:PORT");
  expect_error(parse({"--id", "1", "--peers", "1=h:1", "--http", "h:65536", "--data-dir", "d"}),
               "--http", "is not HOST:PORT");
}

TEST(Options, PeerErrors) {
  auto with_peers = [](const char* peers) {
    return parse({"--id", "1", "--peers", peers, "--http", "h:2", "--data-dir", "d"});
  };
  expect_error(with_peers("1=h:1,2=foo"), "--peers", "entry '2=foo' is not ID=HOST:PORT");
  expect_error(with_peers("1=h:1,"), "--peers", "entry '' is not ID=HOST:PORT");
  expect_error(with_peers("h:1"), "--peers", "entry 'h:1' is not ID=HOST:PORT");
  expect_error(with_peers("x=h:1"), "--peers", "entry 'x=h:1' is not ID=HOST:PORT");
  expect_error(with_peers("1=h:1,0=h:2"), "--peers", "node ids start at 1");
  expect_error(with_peers("1=h:1,1=h:2"), "--peers", "node 1 is listed twice");
  expect_error(with_peers("1=h:1,2=h:0"), "--peers", "node 2 has port 0");
  expect_error(with_peers("2=h:1,3=h:2"), "--id", "1 is not in --peers");
  // Even with --listen, a new cluster's members must include this node.
  expect_error(parse({"--id", "3", "--peers", "1=h:1", "--listen", "h:3", "--http", "h:2",
                      "--data-dir", "d"}),
               "--id", "3 is not in --peers");
}

TEST(Options, ParseHostPort) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(parse_host_port("localhost:80", host, port));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 80);
  EXPECT_TRUE(parse_host_port("[::1]:0", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(parse_host_port("h:65535", host, port));
  EXPECT_FALSE(parse_host_port("h:65536", host, port));
  EXPECT_FALSE(parse_host_port("h:", host, port));
  EXPECT_FALSE(parse_host_port(":1", host, port));
  EXPECT_FALSE(parse_host_port("h", host, port));
  EXPECT_FALSE(parse_host_port("h:1x", host, port));
  EXPECT_FALSE(parse_host_port("h:-1", host, port));
  EXPECT_FALSE(parse_host_port("[]:1", host, port));
}

}  // namespace
}  // namespace raftkv
