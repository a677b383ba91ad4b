#!/usr/bin/env bash
# Configures and builds one build tree with Ninja (and ccache, through the compiler launcher that
# the top-level CMakeLists.txt sets when ccache is installed).
#
#   scripts/build.sh [KIND] [TARGET...]
#
#   KIND      build dir        what it is
#   release   build/release    RelWithDebInfo (-O2 -g, NDEBUG); tests, simulator, demo, benchmarks
#   asan      build/asan       ASan + UBSan, -O1 -g with asserts on; no benchmarks
#   tsan      build/tsan       TSan, -O1 -g with asserts on; no benchmarks (for the runtime/network)
#   coverage  build/coverage   gcov instrumentation, Debug (-O0); no benchmarks
#   fuzz      build/fuzz       clang++, libFuzzer targets, ASan + UBSan; no benchmarks
#
# KIND defaults to release. TARGETs, if given, are built instead of everything (e.g. raft_tests).
#
# Environment:
#   JOBS=N       parallel compile jobs (default 2: the machines this project runs on have 2 cores)
#   CI=true      turns on RAFT_WERROR (warnings are errors); RAFT_WERROR=ON|OFF overrides either way
#   CMAKE_ARGS   extra arguments for the configure step, split on spaces
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-release}"
[ $# -gt 0 ] && shift
targets=("$@")
jobs="${JOBS:-2}"

if [ -n "${RAFT_WERROR:-}" ]; then
  werror="$RAFT_WERROR"
elif [ "${CI:-}" = "true" ]; then
  werror=ON
else
  werror=OFF
fi

# -O1 keeps sanitizer builds fast to run yet debuggable; without -DNDEBUG, asserts stay on.
sanitizer_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g")

case "$kind" in
  release)
    opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAFT_BENCH=ON)
    ;;
  asan)
    opts=("${sanitizer_flags[@]}" -DRAFT_SANITIZE=ON -DRAFT_BENCH=OFF)
    ;;
  tsan)
    opts=("${sanitizer_flags[@]}" -DRAFT_TSAN=ON -DRAFT_BENCH=OFF)
    ;;
  coverage)
    opts=(-DCMAKE_BUILD_TYPE=Debug -DRAFT_COVERAGE=ON -DRAFT_BENCH=OFF)
    ;;
  fuzz)
    if ! command -v clang++ >/dev/null; then
      echo "build: the fuzz build needs clang++ (run scripts/setup.sh)" >&2
      exit 1
    fi
    opts=("${sanitizer_flags[@]}" -DCMAKE_CXX_COMPILER=clang++ -DRAFT_FUZZ=ON -DRAFT_SANITIZE=ON
          -DRAFT_BENCH=OFF)
    ;;
  -h|--help|help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "build: unknown kind '$kind' (expected release, asan, tsan, coverage or fuzz)" >&2
    exit 2
    ;;
esac

extra=()
if [ -n "${CMAKE_ARGS:-}" ]; then
  read -r -a extra <<<"$CMAKE_ARGS"
fi

# Let clones of the repository in different folders (a CI checkout, a second work tree) share one
# ccache: paths under the repository are hashed relative to it, and the working directory is left
# out of the hash of -g builds (it only affects where a debugger looks for sources).
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1

build_dir="$root/build/$kind"
echo "build: $kind -> build/$kind (jobs=$jobs, RAFT_WERROR=$werror)"
cmake -S "$root" -B "$build_dir" -G Ninja -DRAFT_WERROR="$werror" "${opts[@]}" \
  ${extra[@]+"${extra[@]}"}
cmake --build "$build_dir" --parallel "$jobs" ${targets[@]+--target "${targets[@]}"}
