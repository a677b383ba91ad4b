#!/usr/bin/env bash
# The project's test command: everything CI runs, in order, failing on the first stage that fails.
#
#   1. setup              install the build dependencies (skipped with SKIP_SETUP=1)
#   2. build release      build/release
#   3. ctest release      unit and scenario tests
#   4. build asan         build/asan (ASan + UBSan)
#   5. ctest asan         the same tests under ASan + UBSan
#   6. simulator          the randomized simulator (release build), SIM_SEEDS seeds
#   7. simulator asan     the randomized simulator under ASan + UBSan, SIM_ASAN_SEEDS seeds
#   8. build tsan         build/tsan, the tests of everything that runs threads (TSan)
#   9. ... tsan           each of them under TSan: wal_tests, net_tests, framework_tests,
#                         raft_kv_tests, lock_service_tests, raft_kv_e2e_tests
#
# Environment:
#   SKIP_SETUP=1      do not run scripts/setup.sh
#   JOBS=N            compile and ctest parallelism (default 2)
#   SIM_SEEDS=N       seeds for the release simulator run (default 2000)
#   SIM_START=S       first seed (default 1); seeds S .. S+N-1 are run
#   SIM_ASAN_SEEDS=N  seeds for the ASan simulator run, from SIM_START (default 200; 0 skips it)
#   CTEST_TIMEOUT=S   per-test timeout in seconds (default 300)
#   CI=true           warnings are errors (see scripts/build.sh)
#
# For a failing seed the simulator prints the broken property and the command that replays it
# (build/release/tests/raft_sim --seed=SEED --verbose).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export JOBS="${JOBS:-2}"
sim_seeds="${SIM_SEEDS:-2000}"
sim_start="${SIM_START:-1}"
sim_asan_seeds="${SIM_ASAN_SEEDS:-200}"
ctest_timeout="${CTEST_TIMEOUT:-300}"

# ---------------------------------------------------------------------------------------------
# Stage bookkeeping: a banner when a stage starts, its duration when it ends, and at exit a
# summary of every stage (with ctest's result lines), so a CI log can be read from its tail.

summary=()
current_stage=""
stage_started=0
run_started=$SECONDS

duration() {
  local s=$1
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

begin_stage() {
  current_stage="$1"
  stage_started=$SECONDS
  echo
  echo "=================================================================================="
  echo "== test: $current_stage"
  echo "=================================================================================="
}

# end_stage [NOTE]: NOTE (e.g. ctest's result line) is repeated in the final summary.
end_stage() {
  local took
  took="$(duration $((SECONDS - stage_started)))"
  echo "== test: $current_stage: ok ($took)"
  summary+=("$(printf '  %-24s ok      %7s  %s' "$current_stage" "$took" "${1:-}")")
  current_stage=""
}

on_exit() {
  local rc=$?
  echo
  echo "=================================================================================="
  echo "== test: summary"
  if [ ${#summary[@]} -gt 0 ]; then printf '%s\n' "${summary[@]}"; fi
  if [ -n "$current_stage" ]; then
    local note=""
    case "$current_stage" in
      ctest\ *) note="$(ctest_result "${current_stage#ctest }")" ;;
      simulator) note="$(sim_result release)" ;;
      simulator\ asan) note="$(sim_result asan)" ;;
    esac
    printf '  %-24s FAILED  %7s  %s\n' "$current_stage" \
      "$(duration $((SECONDS - stage_started)))" "$note"
  fi
  if [ "$rc" -eq 0 ]; then
    echo "== test: all stages passed in $(duration $((SECONDS - run_started)))"
  else
    echo "== test: FAILED (exit $rc) in $(duration $((SECONDS - run_started)))"
  fi
  echo "=================================================================================="
  exit "$rc"
}
trap on_exit EXIT

# run_ctest KIND: runs every test of build/KIND, printing ctest's output (failures in full, then
# its "N% tests passed" and "Total Test time" lines); a copy is kept in build/KIND/ctest.log.
run_ctest() {
  local dir="build/$1"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error --parallel "$JOBS" \
    --timeout "$ctest_timeout" \
    2>&1 | tee "$dir/ctest.log"
}

# ctest_result KIND: ctest's "N% tests passed, M tests failed out of T" line, for the summary.
ctest_result() {
  grep -E 'tests passed|tests failed out of' "build/$1/ctest.log" | tail -n 1 || true
}

# run_sim KIND SEEDS: the randomized simulator of build/KIND over seeds SIM_START .. +SEEDS-1;
# its output is also kept in build/KIND/raft_sim.log.
run_sim() {
  local sim="build/$1/tests/raft_sim"
  rm -f "build/$1/raft_sim.log"
  if [ ! -x "$sim" ]; then
    echo "test: $sim does not exist: the simulator target raft_sim (tests/CMakeLists.txt) was" \
      "not built. It is part of the core's test suite; this stage cannot pass without it." >&2
    return 1
  fi
  echo "+ $sim --seeds=$2 --start=$sim_start"
  "$sim" --seeds="$2" --start="$sim_start" 2>&1 | tee "build/$1/raft_sim.log"
}

# sim_result KIND: the simulator's closing "P passed, F failed" line, for the summary.
sim_result() {
  grep -E '^[0-9]+ passed, [0-9]+ failed' "build/$1/raft_sim.log" 2>/dev/null | tail -n 1 || true
}

# ---------------------------------------------------------------------------------------------

if [ "${SKIP_SETUP:-}" = "1" ]; then
  echo "test: SKIP_SETUP=1, not running scripts/setup.sh"
else
  begin_stage "setup"
  bash scripts/setup.sh
  end_stage
fi

begin_stage "build release"
bash scripts/build.sh release
end_stage

begin_stage "ctest release"
run_ctest release
end_stage "$(ctest_result release)"

begin_stage "build asan"
bash scripts/build.sh asan
end_stage

# Leaks are errors; UBSan findings abort (the build also sets -fno-sanitize-recover=undefined).
asan_defaults="detect_leaks=1:check_initialization_order=1:strict_init_order=1"
asan_defaults+=":detect_stack_use_after_return=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-$asan_defaults}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

begin_stage "ctest asan"
run_ctest asan
end_stage "$(ctest_result asan)"

begin_stage "simulator"
run_sim release "$sim_seeds"
end_stage "seeds $sim_start..$((sim_start + sim_seeds - 1)): $(sim_result release)"

if [ "$sim_asan_seeds" -gt 0 ]; then
  begin_stage "simulator asan"
  run_sim asan "$sim_asan_seeds"
  end_stage "seeds $sim_start..$((sim_start + sim_asan_seeds - 1)): $(sim_result asan)"
fi

# TSan: the core is single-threaded by contract; what runs threads is durable storage (the WAL
# and the meta store serve readers while a writer appends and syncs), the transport (Asio
# coroutines, called from other threads), the runtime (framework/: a strand, a disk thread and an
# apply thread per node) and the examples on it (raft-kv's HTTP server and state machine, read
# while it applies; its end-to-end tests run the TSan build of the raft-kv binary), so their tests
# run under TSan.
tsan_tests=(wal_tests net_tests framework_tests raft_kv_tests lock_service_tests raft_kv_e2e_tests)
begin_stage "build tsan"
bash scripts/build.sh tsan "${tsan_tests[@]}"
end_stage

# The suppressions file names one false positive of GCC 12's TSan in Asio (see the file). The
# end-to-end tests' raft-kv processes inherit these options.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan_suppressions.txt}"
for t in "${tsan_tests[@]}"; do
  begin_stage "$t tsan"
  echo "+ build/tsan/tests/$t --gtest_brief=1"
  "build/tsan/tests/$t" --gtest_brief=1 2>&1 | tee "build/tsan/$t.log"
  end_stage "$(grep -E '^\[  PASSED  \]' "build/tsan/$t.log" | tail -n 1)"
done
