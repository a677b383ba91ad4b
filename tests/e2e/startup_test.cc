// How the raft-kv binary refuses to start: a bad flag exits 2, an address it cannot bind or a
// data dir that is not its own exits 1; each with one line on stderr that says why.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include "tests/e2e/kv_cluster.h"

namespace raftkv::e2e {
namespace {

// A listening socket on 127.0.0.1 that keeps a port taken for the test's duration.
class PortHolder {
 public:
  PortHolder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot hold a port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t nl = text.find('\n', begin);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(begin, nl - begin));
    begin = nl + 1;
  }
  return out;
}

// The error line of a run that refused to start: the one line of stderr that starts with
// "raft-kv: ", last, after the node's log lines (if any). Empty, with a test failure, if stderr
// is not like that or stdout is not empty.
std::string error_line(const RunResult& r) {
  EXPECT_EQ(r.out, "") << "a node that did not start printed on stdout";
  const std::vector<std::string> all = lines(r.err);
  std::vector<size_t> at;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].rfind("raft-kv: ", 0) == 0) at.push_back(i);
  }
  if (at.size() != 1) {
    ADD_FAILURE() << "want exactly one 'raft-kv: ' line on stderr: " << r.err;
    return "";
  }
  if (at[0] + 1 != all.size()) {
    ADD_FAILURE() << "stderr goes on after the error line: " << r.err;
    return "";
  }
  EXPECT_EQ(all[at[0]].find('['), std::string::npos)
      << "the error line carries internals (a source location?): " << all[at[0]];
  return all[at[0]];
}

RunResult run(KvCluster& c, const std::string& name, const std::vector<std::string>& args) {
  return run_to_exit(raft_kv_path(), args, c.dir() + "/" + name, deadline_in());
}

TEST(StartupTest, BadFlagsExit2NamingTheFlag) {
  KvCluster c;
  struct Case {
    std::string flag;
    std::string value;
  };
  for (const Case& bad : {Case{"--bogus", "1"}, Case{"--tick-ms", "abc"},
                          Case{"--read-mode", "fast"}, Case{"--election-ticks", "0"}}) {
    SCOPED_TRACE(bad.flag + " " + bad.value);
    auto args = c.args(1);
    set_flag(args, bad.flag, bad.value);
    RunResult r = run(c, "badflag", args);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status.describe(), "exit 2");
    // A command-line error is the only line: nothing has started to log yet.
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(error_line(r).find(bad.flag), std::string::npos) << r.err;
  }

  // A missing required flag is named too.
  RunResult r = run(c, "missing", {"--id", "1"});
  EXPECT_EQ(r.status.describe(), "exit 2");
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(error_line(r).find("--peers"), std::string::npos) << r.err;

  // --help is not an error: the usage goes to stdout and lists the raft settings.
  r = run(c, "help", {"--help"});
  EXPECT_EQ(r.status.describe(), "exit 0");
  EXPECT_NE(r.out.find("--tick-ms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--read-mode"), std::string::npos) << r.out;
}

TEST(StartupTest, HttpPortInUseExits1) {
  KvCluster c;
  PortHolder taken;
  auto args = c.args(1);
  set_flag(args, "--http", "127.0.0.1:" + std::to_string(taken.port()));
  RunResult r = run(c, "httpinuse", args);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.status.describe(), "exit 1");
  const std::string line = error_line(r);
  EXPECT_NE(line.find("127.0.0.1:" + std::to_string(taken.port())), std::string::npos) << r.err;
  EXPECT_NE(line.find("in use"), std::string::npos) << r.err;
}

TEST(StartupTest, RaftPortInUseExits1) {
  KvCluster c;
  PortHolder taken;
  // Node 1's own --peers entry, where it listens, is taken.
  c.node(1).raft_port = taken.port();
  RunResult r = run(c, "raftinuse", c.args(1));
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.status.describe(), "exit 1");
  const std::string line = error_line(r);
  EXPECT_NE(line.find("127.0.0.1:" + std::to_string(taken.port())), std::string::npos) << r.err;
  EXPECT_NE(line.find("in use"), std::string::npos) << r.err;
}

TEST(StartupTest, DataDirOfAnotherNodeOrClusterExits1) {
  KvCluster c;
  // Node 1 creates its data dir, then stops.
  ASSERT_TRUE(c.start({1}));
  auto status = c.stop(1, SIGTERM, deadline_in());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->ok()) << status->describe();

  // Node 1's data dir under another id.
  auto args = c.args(1);
  set_flag(args, "--id", "2");
  RunResult r = run(c, "othernode", args);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.status.describe(), "exit 1");
  EXPECT_NE(error_line(r).find(c.node(1).data_dir), std::string::npos) << r.err;

  // Node 1's data dir in another cluster.
  args = c.args(1);
  set_flag(args, "--cluster-id", "8");
  r = run(c, "othercluster", args);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.status.describe(), "exit 1");
  EXPECT_NE(error_line(r).find(c.node(1).data_dir), std::string::npos) << r.err;

  // Its own data dir still works.
  EXPECT_TRUE(c.start_node(1));
}

}  // namespace
}  // namespace raftkv::e2e
