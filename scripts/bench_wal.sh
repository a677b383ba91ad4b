#!/usr/bin/env bash
# The WAL benchmark: builds wal_bench in build/release and runs it with 3 repetitions, reporting
# medians. The raw POSIX baselines run in the same process, on the same disk, first; the summary
# of targets (WAL vs raw, reopen time) and the peak RSS are printed on stderr at the end.
#
#   bash scripts/bench_wal.sh [ARGS...]    ARGS go to build/release/bench/wal_bench unchanged,
#                                          e.g. --benchmark_filter=WalAppend or --cold
#
# Environment:
#   WAL_BENCH_DIR=DIR  where to write (default ${TMPDIR:-/tmp}); must be on the disk to measure,
#                      not a tmpfs. A fresh directory is made inside it and removed at the end;
#                      a full run fills ~20 GiB there until then.
#   REPETITIONS=N      repetitions per benchmark (default 3)
#   JOBS=N             build parallelism (default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench="build/release/bench/wal_bench"
if ! bash scripts/build.sh release wal_bench; then
  echo "bench_wal: building the wal_bench target (bench/CMakeLists.txt) in build/release failed" >&2
  exit 1
fi

exec "$bench" \
  --benchmark_repetitions="${REPETITIONS:-3}" \
  --benchmark_report_aggregates_only=true \
  "$@"
