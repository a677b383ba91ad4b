// wal_tool, run as a person would run it: check and dump a healthy log, refuse a corrupt one
// with the file and offset, repair it only when asked, and answer bad usage clearly.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/wal/support/derived_entries.h"
#include "tests/wal/support/temp_dir.h"
#include "wal/wal.h"

namespace wal::testing {
namespace {

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ToolRun run_tool(const std::string& args) {
  const std::string command = std::string(WAL_TOOL_PATH) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  ToolRun r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A log of 200 entries in 4 KiB segments; returns the path of its second segment.
std::string make_log(const std::string& dir) {
  WalOptions options;
  options.segment_size = 4096;
  auto w = Wal::open(dir, options);
  if (!w.ok()) throw std::runtime_error(w.status().message());
  if (!w.value()->append(derived_entries(1, 200, 3)).ok() || !w.value()->sync().ok()) {
    throw std::runtime_error("cannot write the test log");
  }
  for (const auto& [name, bytes] : read_dir(dir)) {
    if (name.rfind("0000000000000002-", 0) == 0) return dir + "/" + name;
  }
  throw std::runtime_error("the test log has no second segment");
}

TEST(WalTool, CheckAndDumpAHealthyLog) {
  TempDir dir;
  make_log(dir.path());
  const ToolRun check = run_tool("check " + dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("entries 1..200"), std::string::npos) << check.output;

  const ToolRun dump = run_tool("dump " + dir.path());
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  // The summary line, then one line per entry.
  EXPECT_EQ(count_lines(dump.output), 201u) << dump.output;
  EXPECT_NE(dump.output.find("\n200\t3\t"), std::string::npos) << dump.output;
}

TEST(WalTool, RefusesACorruptLogAndRepairsItOnlyWhenAsked) {
  TempDir dir;
  const std::string second = make_log(dir.path());
  std::string bytes = read_file(second);
  bytes[100] = static_cast<char>(bytes[100] ^ 0x40);  // inside the first records
  write_file(second, bytes);

  const ToolRun check = run_tool("check " + dir.path());
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_NE(check.output.find(second), std::string::npos) << "names the file: " << check.output;
  EXPECT_NE(check.output.find("offset"), std::string::npos) << check.output;
  EXPECT_EQ(read_file(second), bytes) << "check modified a corrupt log";

  const ToolRun repair = run_tool("repair " + dir.path());
  EXPECT_EQ(repair.exit_code, 0) << repair.output;
  EXPECT_NE(repair.output.find("cut"), std::string::npos) << repair.output;

  const ToolRun after = run_tool("check " + dir.path());
  EXPECT_EQ(after.exit_code, 0) << after.output;
  const ToolRun again = run_tool("repair " + dir.path());
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing to repair"), std::string::npos) << again.output;
}

TEST(WalTool, BadUsageAndMissingDirectoriesAreClearErrors) {
  TempDir dir;
  for (const std::string& args :
       std::vector<std::string>{"", "check", "frobnicate " + dir.path(), "check a b"}) {
    const ToolRun r = run_tool(args);
    EXPECT_EQ(r.exit_code, 2) << "args '" << args << "': " << r.output;
    EXPECT_NE(r.output.find("usage: wal_tool"), std::string::npos) << r.output;
  }
  const ToolRun missing = run_tool("check " + dir.path() + "/nowhere");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  EXPECT_FALSE(posix_file_system().exists(dir.path() + "/nowhere")) << "check created it";
}

}  // namespace
}  // namespace wal::testing
