#!/usr/bin/env bash
# The simulation demo: a seeded simulation of a five-node cluster of the consensus core, with
# partitions and a leader crash, that prints what happened and which safety checks held.
#
#   bash scripts/sim_demo.sh [ARGS...]   ARGS go to build/release/tests/raft_demo unchanged
#
# Installs the build dependencies first (skipped with SKIP_SETUP=1; run as root), then builds the
# demo in build/release. JOBS=N sets the build parallelism (default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ "${SKIP_SETUP:-}" != "1" ]; then
  bash scripts/setup.sh
fi

demo="build/release/tests/raft_demo"
if ! bash scripts/build.sh release raft_demo; then
  echo "sim_demo: building the raft_demo target (tests/CMakeLists.txt) in build/release failed" >&2
  exit 1
fi
if [ ! -x "$demo" ]; then
  echo "sim_demo: $demo does not exist after the build" >&2
  exit 1
fi

exec "$demo" "$@"
