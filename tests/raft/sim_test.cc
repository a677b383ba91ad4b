// The randomized simulator (tests/raft/sim/) on a few seeds, so that ctest covers it; the full
// run is `raft_sim` (2,000 seeds in scripts/test.sh).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/raft/sim/simulator.h"

namespace raft::sim {
namespace {

std::string replay(uint64_t seed) {
  return "build/release/tests/raft_sim --seed=" + std::to_string(seed) + " --verbose";
}

TEST(Simulator, FiftySeedsKeepSafetyAndLiveness) {
  SimStats total;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimConfig config;
    config.seed = seed;
    const SeedResult r = run_seed(config);
    EXPECT_TRUE(r.passed) << format_failure(r, replay(seed));
    EXPECT_EQ(r.stats.steps, static_cast<uint64_t>(config.steps)) << "seed " << seed;
    total += r.stats;
  }
  // The runs did what a simulation is for: elections, commits, crashes, reads and liveness
  // phases (one per liveness_every steps and one at the end of every seed).
  EXPECT_GT(total.leaders, 50u);
  EXPECT_GT(total.applied, 50u);
  EXPECT_GT(total.crashes, 0u);
  EXPECT_GT(total.reads, 0u);
  EXPECT_GT(total.conf_changes, 0u);
  EXPECT_EQ(total.liveness_phases, 50u * 4);
}

TEST(Simulator, SameSeedSameTranscript) {
  // The whole transcript (every action, message, Ready and core log line) is the same when a
  // seed is run twice, and differs for another seed.
  auto transcript = [](uint64_t seed) {
    std::ostringstream out;
    SimConfig config;
    config.seed = seed;
    config.steps = 600;
    config.verbose = &out;
    run_seed(config);
    return out.str();
  };
  const std::string a = transcript(7);
  EXPECT_GT(a.size(), 10000u);
  EXPECT_EQ(a, transcript(7));
  EXPECT_NE(a, transcript(8));
}

TEST(Simulator, NodeCountIsHonoured) {
  SimConfig config;
  config.steps = 200;
  config.nodes = NodeCount::kThree;
  EXPECT_EQ(run_seed(config).setup.rfind("3 voters", 0), 0u);
  config.nodes = NodeCount::kFive;
  EXPECT_EQ(run_seed(config).setup.rfind("5 voters", 0), 0u);
}

TEST(Simulator, FailureReportNamesSeedPropertyAndReplay) {
  SeedResult r;
  r.seed = 42;
  r.passed = false;
  r.property = "liveness";
  r.detail = "no leader";
  r.setup = "3 voters";
  r.failed_at_step = 17;
  r.tail = {"step 16: tick 1", "step 17: tick 2"};
  const std::string text = format_failure(r, replay(42));
  EXPECT_NE(text.find("seed 42: liveness"), std::string::npos) << text;
  EXPECT_NE(text.find("no leader"), std::string::npos) << text;
  EXPECT_NE(text.find("step 17: tick 2"), std::string::npos) << text;
  EXPECT_NE(text.find("raft_sim --seed=42 --verbose"), std::string::npos) << text;
}

}  // namespace
}  // namespace raft::sim
