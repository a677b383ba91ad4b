// Runs every tests/raft/testdata/*.txt script (see tests/raft/support/script.h for the format and
// the commands). RAFT_REWRITE=1 rewrites the files with the actual outputs instead of failing on
// a difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/raft/support/script.h"

namespace raft::testing {
namespace {

bool rewriting() {
  const char* v = std::getenv("RAFT_REWRITE");
  return v != nullptr && std::string(v) == "1";
}

std::vector<std::string> script_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(RAFT_TESTDATA_DIR)) {
    if (e.is_regular_file() && e.path().extension() == ".txt") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ScriptFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ScriptFile, MatchesExpectedOutput) {
  const std::string& path = GetParam();
  const bool rewrite = rewriting();
  const ScriptFileResult r = run_script_file(path, rewrite);
  if (r.error) ADD_FAILURE() << *r.error;
  if (rewrite) return;  // the file now holds the actual outputs; read them
  for (const auto& m : r.mismatches) {
    ADD_FAILURE_AT(path.c_str(), m.line) << m.command << "\n--- expected:\n"
                                         << m.expected << "--- actual:\n"
                                         << m.actual;
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, ScriptFile, ::testing::ValuesIn(script_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = std::filesystem::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// --- The format itself --------------------------------------------------------------------

TEST(ScriptFormat, ParsesBlocksAndKeepsCommentsVerbatim) {
  const std::string text =
      "# a comment\n"
      "\n"
      "cluster voters=1\n"
      "----\n"
      "ok\n"
      "\n"
      "# between\n"
      "status 1\n"
      "----\n"
      "line one\n"
      "line two\n";
  const Script s = parse_script(text, "t.txt");
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_EQ(s.parts[0].verbatim, "# a comment\n\n");
  ASSERT_TRUE(s.parts[0].block);
  EXPECT_EQ(s.parts[0].block->line, 3);
  EXPECT_EQ(s.parts[0].block->command, "cluster voters=1");
  EXPECT_EQ(s.parts[0].block->expected, "ok\n");
  EXPECT_EQ(s.parts[1].verbatim, "# between\n");
  EXPECT_EQ(s.parts[1].block->line, 8);
  EXPECT_EQ(s.parts[1].block->expected, "line one\nline two\n");
  // Rendering with the same outputs gives the same text back.
  EXPECT_EQ(render_script(s, {"ok\n", "line one\nline two\n"}), text);
  // And with new outputs, only the outputs change.
  EXPECT_EQ(render_script(s, {"ok\n", "new\n"}),
            "# a comment\n\ncluster voters=1\n----\nok\n\n# between\nstatus 1\n----\nnew\n");
}

TEST(ScriptFormat, MissingSeparatorNamesTheLine) {
  try {
    parse_script("cluster\nstatus 1\n", "bad.txt");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:1"), std::string::npos) << e.what();
  }
}

TEST(ScriptRunnerTest, RejectsUnknownCommandsKeysAndMissingArguments) {
  ScriptRunner r;
  auto run = [&](const std::string& cmd) {
    ScriptBlock b;
    b.command = cmd;
    return r.run(b);
  };
  EXPECT_THROW(run("status 1"), ScriptError);  // no cluster yet
  EXPECT_EQ(run("cluster voters=1,2,3"), "ok\n");
  EXPECT_THROW(run("frobnicate 1"), ScriptError);
  EXPECT_THROW(run("cluster voterz=1"), ScriptError);
  EXPECT_THROW(run("campaign"), ScriptError);
  EXPECT_THROW(run("campaign x"), ScriptError);
  EXPECT_THROW(run("campaign 9"), ScriptError);
  EXPECT_THROW(run("propose-conf-change 1 x4"), ScriptError);
  EXPECT_THROW(run("raw-step 1 type=MsgNope"), ScriptError);
  EXPECT_EQ(run("crash 2"), "2: crashed (0 unpersisted Readies lost, 0 messages in flight dropped)\n");
  EXPECT_THROW(run("tick 2"), ScriptError);
  EXPECT_EQ(run("status 2"), "2: crashed\n");
}

TEST(ScriptRunnerTest, QuotedArgumentsKeepSpaces) {
  ScriptRunner r;
  ScriptBlock b;
  b.command = "cluster voters=1";
  r.run(b);
  b.command = "campaign 1";
  r.run(b);
  b.command = "stabilize";
  r.run(b);
  b.command = R"(propose 1 "hello \"big\" world")";
  r.run(b);
  b.command = "stabilize";
  r.run(b);
  EXPECT_EQ(r.cluster().applied_data(1), std::vector<std::string>{"hello \"big\" world"});
}

}  // namespace
}  // namespace raft::testing
