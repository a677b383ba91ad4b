// raft_sim: the seeded randomized simulator of the consensus core (see simulator.h).
//
//   raft_sim [--seeds=N] [--start=S] [--nodes=3|5|mixed] [--steps=N] [--liveness-every=N]
//            [--tail=N] [--verbose]
//   raft_sim --seed=S [--verbose] ...      one seed (a replay)
//
// Runs seeds S .. S+N-1 (default 1 .. 2000). For every failing seed it prints the property that
// broke, the last events of its transcript and the command that replays it. The last line is
// the summary "P passed, F failed"; the exit code is 1 if any seed failed, 2 on bad usage.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "tests/raft/sim/simulator.h"

namespace {

struct Args {
  uint64_t seeds = 2000;
  uint64_t start = 1;
  raft::sim::SimConfig sim;
  std::string nodes = "mixed";
  bool verbose = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "raft_sim: " << why << "\n"
            << "usage: raft_sim [--seeds=N] [--start=S] [--seed=S] [--nodes=3|5|mixed]\n"
            << "                [--steps=N] [--liveness-every=N] [--tail=N] [--verbose]\n";
  std::exit(2);
}

uint64_t parse_number(std::string_view flag, std::string_view text) {
  if (text.empty()) usage(std::string(flag) + " needs a number");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') usage(std::string(flag) + ": not a number: " + std::string(text));
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (name == "--seeds") {
      a.seeds = parse_number(name, value);
    } else if (name == "--start") {
      a.start = parse_number(name, value);
    } else if (name == "--seed") {
      a.start = parse_number(name, value);
      a.seeds = 1;
    } else if (name == "--nodes") {
      if (value == "3") {
        a.sim.nodes = raft::sim::NodeCount::kThree;
      } else if (value == "5") {
        a.sim.nodes = raft::sim::NodeCount::kFive;
      } else if (value == "mixed") {
        a.sim.nodes = raft::sim::NodeCount::kMixed;
      } else {
        usage("--nodes must be 3, 5 or mixed");
      }
      a.nodes = value;
    } else if (name == "--steps") {
      a.sim.steps = static_cast<int>(parse_number(name, value));
    } else if (name == "--liveness-every") {
      a.sim.liveness_every = static_cast<int>(parse_number(name, value));
    } else if (name == "--tail") {
      a.sim.tail_lines = parse_number(name, value);
    } else if (name == "--verbose") {
      a.verbose = true;
    } else if (name == "--help" || name == "-h") {
      usage("the seeded randomized simulator of the consensus core");
    } else {
      usage("unknown argument: " + std::string(arg));
    }
  }
  if (a.seeds == 0) usage("--seeds must be at least 1");
  return a;
}

// The command that replays one seed with the same settings.
std::string replay_command(const Args& a, uint64_t seed) {
  const raft::sim::SimConfig defaults;
  std::string cmd = "build/release/tests/raft_sim --seed=" + std::to_string(seed);
  if (a.nodes != "mixed") cmd += " --nodes=" + a.nodes;
  if (a.sim.steps != defaults.steps) cmd += " --steps=" + std::to_string(a.sim.steps);
  if (a.sim.liveness_every != defaults.liveness_every) {
    cmd += " --liveness-every=" + std::to_string(a.sim.liveness_every);
  }
  return cmd + " --verbose";
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  if (args.verbose) args.sim.verbose = &std::cout;

  const auto began = std::chrono::steady_clock::now();
  raft::sim::SimStats total;
  uint64_t passed = 0;
  uint64_t failed = 0;
  for (uint64_t seed = args.start; seed < args.start + args.seeds; ++seed) {
    raft::sim::SimConfig config = args.sim;
    config.seed = seed;
    const raft::sim::SeedResult r = raft::sim::run_seed(config);
    total += r.stats;
    if (r.passed) {
      ++passed;
      if (args.verbose) std::cout << "seed " << seed << ": passed\n";
    } else {
      ++failed;
      std::cout << raft::sim::format_failure(r, replay_command(args, seed)) << std::flush;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f", secs);
  std::cout << "raft_sim: seeds " << args.start << ".." << (args.start + args.seeds - 1) << " ("
            << args.nodes << " nodes, " << args.sim.steps << " steps each) in " << elapsed
            << " s: " << total.steps << " steps, " << total.ticks << " ticks, " << total.leaders
            << " leaders elected, " << total.proposals << " proposals accepted, "
            << total.conf_changes << " membership changes proposed, " << total.reads
            << " reads checked, " << total.crashes << " crashes, " << total.liveness_phases
            << " liveness checks passed\n";
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
