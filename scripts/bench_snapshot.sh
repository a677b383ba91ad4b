#!/usr/bin/env bash
# The snapshot benchmark: builds snapshot_bench in build/release and runs it. First a 1 GiB
# snapshot file sent between two net::Transports in one process, SnapshotStore to SnapshotStore
# (fsync on), against raw loopback TCP and raw disk writes measured in the same run; then the time
# a new node takes to catch up, by snapshot, with a 3-node cluster whose state machine holds
# 1 GiB of generated state. Prints the progress on stderr and tables (Markdown) on stdout. See
# bench/README.md ("Snapshots").
#
#   bash scripts/bench_snapshot.sh [ARGS...]   ARGS go to snapshot_bench unchanged, e.g.
#                                              --bytes=256M, --repetitions=5, --part=transfer,
#                                              --shm_dir=none (--help lists them)
#
# Environment:
#   SNAPSHOT_BENCH_DIR=DIR  where the data goes (default ${TMPDIR:-/tmp}); must be on the disk to
#                           measure, not a tmpfs. A fresh snapshot_bench.XXXXXX directory is made
#                           inside it and removed at the end; the run checks first that there is
#                           room for what it holds at once (3 x --bytes + 1 GiB by default) and
#                           refuses to start otherwise. The runs with the receiver in memory write
#                           --bytes to /dev/shm (--shm_dir) at a time.
#   SNAPSHOT_BENCH_BIN=PATH run this binary instead of building build/release/bench/snapshot_bench
#   SNAPSHOT_BENCH_LOG=info the nodes of the catch-up log everything to stderr (default: warnings)
#   JOBS=N                  build parallelism (default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench="${SNAPSHOT_BENCH_BIN:-}"
if [ -z "$bench" ]; then
  bench="build/release/bench/snapshot_bench"
  if ! bash scripts/build.sh release snapshot_bench; then
    echo "bench_snapshot: building the snapshot_bench target (bench/CMakeLists.txt) in" \
         "build/release failed" >&2
    exit 1
  fi
fi
if [ ! -x "$bench" ]; then
  echo "bench_snapshot: $bench is not an executable" >&2
  exit 1
fi

# exec, so a signal meant for this script reaches the benchmark.
exec "$bench" "$@"
