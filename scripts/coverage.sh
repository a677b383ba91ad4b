#!/usr/bin/env bash
# Line coverage of the consensus core (raft/): builds build/coverage (gcov, -O0), runs the unit and
# scenario tests and a modest run of the randomized simulator, and reports with lcov:
#
#   build/coverage/lcov/raft.info   the tracefile, raft/ sources only (no tests, no protobuf code)
#   build/coverage/html/index.html  the HTML report
#
# Environment:
#   COVERAGE_MIN=P           fail if raft/ line coverage is below P percent (default 90; 0 = never)
#   COVERAGE_SIM_SEEDS=N     simulator seeds to run (default 200; 0 skips the simulator)
#   JOBS=N                   build parallelism (default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

min="${COVERAGE_MIN:-90}"
sim_seeds="${COVERAGE_SIM_SEEDS:-200}"
build_dir="build/coverage"
out="$build_dir/lcov"

# Debian's lcov 1.16 makes perl print "Subroutine ... redefined" on every geninfo run; that noise
# says nothing about coverage, so it is filtered out of stderr (the exit status is lcov's).
lcov_q() {
  { lcov "$@" 2>&1 1>&3 3>&- | { grep -v 'Subroutine .* redefined at' || true; } >&2; } 3>&1
}

echo "== coverage: build"
bash scripts/build.sh coverage

mkdir -p "$out"
rm -f "$out"/*.info
# Counters from an earlier run would add up with this one's.
lcov_q --quiet --zerocounters --directory "$build_dir"
# A baseline with every instrumented line at zero, so a file no test reaches shows as 0% instead
# of being left out of the total.
lcov_q --quiet --capture --initial --directory "$build_dir" --output-file "$out/baseline.info"

echo "== coverage: raft_tests"
"$build_dir/tests/raft_tests" --gtest_brief=1

if [ "$sim_seeds" -gt 0 ]; then
  sim="$build_dir/tests/raft_sim"
  if [ ! -x "$sim" ]; then
    echo "coverage: $sim does not exist: the simulator target raft_sim (tests/CMakeLists.txt)" \
      "was not built (set COVERAGE_SIM_SEEDS=0 to measure without it)" >&2
    exit 1
  fi
  echo "== coverage: simulator, $sim_seeds seeds"
  "$sim" --seeds="$sim_seeds" --start=1
fi

echo "== coverage: capture"
lcov_q --quiet --capture --directory "$build_dir" --output-file "$out/run.info"
lcov_q --quiet --add-tracefile "$out/baseline.info" --add-tracefile "$out/run.info" \
  --output-file "$out/all.info"
# Only the core's own sources: generated protobuf code lives under build/, tests under tests/.
lcov_q --quiet --extract "$out/all.info" "$root/raft/*" --output-file "$out/extracted.info"
lcov_q --quiet --remove "$out/extracted.info" '*.pb.h' '*.pb.cc' '*/build/*' '*/tests/*' \
  --output-file "$out/raft.info"

lcov_q --quiet --list "$out/raft.info"
summary="$(lcov_q --summary "$out/raft.info")"
echo "$summary"

rm -rf "$build_dir/html"
genhtml --quiet --demangle-cpp --legend --title "raft/ line coverage" --prefix "$root" \
  --output-directory "$build_dir/html" "$out/raft.info"
echo "coverage: HTML report in $build_dir/html/index.html"

lines="$(awk '/lines\.+:/ { sub("%", "", $2); print $2 }' <<<"$summary")"
if [ -z "$lines" ]; then
  echo "coverage: could not read the line rate from lcov's summary" >&2
  exit 1
fi
if awk -v got="$lines" -v want="$min" 'BEGIN { exit !(got + 0 < want + 0) }'; then
  echo "coverage: raft/ line coverage ${lines}% is below COVERAGE_MIN=${min}%" >&2
  exit 1
fi
echo "coverage: raft/ line coverage ${lines}% (minimum ${min}%)"
