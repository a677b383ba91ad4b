#!/usr/bin/env bash
# Line coverage of the consensus core (raft/) and durable storage (wal/): builds build/coverage
# (gcov, -O0), runs the unit and scenario tests, a modest run of the randomized simulator and the
# storage tests, and reports with lcov, per folder:
#
#   build/coverage/lcov/raft.info   the tracefile of raft/ sources (no tests, no protobuf code)
#   build/coverage/lcov/wal.info    the tracefile of wal/ sources
#   build/coverage/html/index.html  the HTML report of both
#
# Environment:
#   COVERAGE_MIN=P           fail if either folder's line coverage is below P percent (default 90;
#                            0 = never)
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
bash scripts/build.sh coverage raft_tests raft_sim wal_tests

mkdir -p "$out"
rm -f "$out"/*.info
# Counters from an earlier run would add up with this one's.
lcov_q --quiet --zerocounters --directory "$build_dir"
# A baseline with every instrumented line at zero, so a file no test reaches shows as 0% instead
# of being left out of the total.
lcov_q --quiet --capture --initial --directory "$build_dir" --output-file "$out/baseline.info"

echo "== coverage: raft_tests"
"$build_dir/tests/raft_tests" --gtest_brief=1

echo "== coverage: wal_tests"
"$build_dir/tests/wal_tests" --gtest_brief=1

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
# Each folder's own sources: generated protobuf code lives under build/, tests under tests/.
folders=(raft wal)
failed=0
for folder in "${folders[@]}"; do
  lcov_q --quiet --extract "$out/all.info" "$root/$folder/*" --output-file "$out/extracted.info"
  lcov_q --quiet --remove "$out/extracted.info" '*.pb.h' '*.pb.cc' '*/build/*' '*/tests/*' \
    --output-file "$out/$folder.info"
  lcov_q --quiet --list "$out/$folder.info"
  summary="$(lcov_q --summary "$out/$folder.info")"
  echo "$summary"
  lines="$(awk '/lines\.+:/ { sub("%", "", $2); print $2 }' <<<"$summary")"
  if [ -z "$lines" ]; then
    echo "coverage: could not read the line rate of $folder/ from lcov's summary" >&2
    exit 1
  fi
  if awk -v got="$lines" -v want="$min" 'BEGIN { exit !(got + 0 < want + 0) }'; then
    echo "coverage: $folder/ line coverage ${lines}% is below COVERAGE_MIN=${min}%" >&2
    failed=1
  else
    echo "coverage: $folder/ line coverage ${lines}% (minimum ${min}%)"
  fi
done

rm -rf "$build_dir/html"
lcov_q --quiet --add-tracefile "$out/raft.info" --add-tracefile "$out/wal.info" \
  --output-file "$out/folders.info"
genhtml --quiet --demangle-cpp --legend --title "raft/ and wal/ line coverage" --prefix "$root" \
  --output-directory "$build_dir/html" "$out/folders.info"
echo "coverage: HTML report in $build_dir/html/index.html"
exit "$failed"
