#!/usr/bin/env bash
# The cluster benchmark: builds cluster_bench in build/release and runs it. Three framework::Nodes
# over loopback TCP with the real WAL (fsync on), first in one process, then as three processes
# (the same binary, started with --node=ID), with N concurrent proposers on the leader; raw
# fdatasync and loopback TCP baselines run in the same process, before and after the clusters.
# Prints the progress on stderr and a table (Markdown) on stdout. See bench/README.md ("Cluster").
#
#   bash scripts/bench_cluster.sh [ARGS...]   ARGS go to cluster_bench unchanged, e.g.
#                                             --repetitions=3, --seconds=5, --mode=procs,
#                                             --proposers=1,16 (--help lists them)
#
# Environment:
#   CLUSTER_BENCH_DIR=DIR  where the data dirs go (default ${TMPDIR:-/tmp}); must be on the disk
#                          to measure, not a tmpfs. A fresh cluster_bench.XXXXXX directory is
#                          made inside it and removed at the end (a full sweep writes ~6-8 GiB
#                          there first, per repetition).
#   CLUSTER_BENCH_BIN=PATH run this binary instead of building build/release/bench/cluster_bench
#   CLUSTER_BENCH_LOG=info the nodes log to stderr (debug, info or warn; default off)
#   JOBS=N                 build parallelism (default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench="${CLUSTER_BENCH_BIN:-}"
if [ -z "$bench" ]; then
  bench="build/release/bench/cluster_bench"
  if ! bash scripts/build.sh release cluster_bench; then
    echo "bench_cluster: building the cluster_bench target (bench/CMakeLists.txt) in" \
         "build/release failed" >&2
    exit 1
  fi
fi
if [ ! -x "$bench" ]; then
  echo "bench_cluster: $bench is not an executable" >&2
  exit 1
fi

# exec, so a signal meant for this script reaches the benchmark, which kills its node processes
# on SIGINT/SIGTERM/SIGHUP (and they die with it in any case: PR_SET_PDEATHSIG).
exec "$bench" "$@"
