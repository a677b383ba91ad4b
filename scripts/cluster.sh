#!/usr/bin/env bash
# Starts a local 3-node raft-kv cluster on loopback that keeps running for you to play with, prints
# curl commands to try, and stops the nodes (SIGTERM, a graceful stop) on Ctrl-C.
#
#   bash scripts/cluster.sh [DATA_DIR]     DATA_DIR defaults to ./cluster-data
#
# Node N serves HTTP on 127.0.0.1:(HTTP_BASE_PORT+N) and raft on 127.0.0.1:(RAFT_BASE_PORT+N):
# 8001-8003 and 9001-9003 by default. The data stays in DATA_DIR/node<N> (logs in
# DATA_DIR/node<N>.log), so running the script again restarts the same cluster with its data;
# remove DATA_DIR to start afresh. RAFT_KV_FLAGS adds flags to every node (e.g.
# RAFT_KV_FLAGS="--log-level debug"). Installs the build dependencies first (skipped with
# SKIP_SETUP=1; run as root) and builds raft-kv in build/release (RAFT_KV_BIN=PATH runs that
# binary instead).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_arg="${1:-cluster-data}"
mkdir -p "$data_arg"
RKV_DIR="$(cd "$data_arg" && pwd)"
cd "$root"
# shellcheck source=scripts/lib/raft_kv_cluster.sh
source scripts/lib/raft_kv_cluster.sh

http_base="${HTTP_BASE_PORT:-8000}"
raft_base="${RAFT_BASE_PORT:-9000}"
N=3

if [ "${SKIP_SETUP:-}" != "1" ]; then
  bash scripts/setup.sh
fi
RKV_BIN="${RAFT_KV_BIN:-$root/build/release/examples/raft-kv/raft-kv}"
if [ -z "${RAFT_KV_BIN:-}" ] && ! bash scripts/build.sh release raft-kv; then
  echo "cluster: building the raft-kv target (examples/raft-kv) in build/release failed" >&2
  exit 1
fi
if [ ! -x "$RKV_BIN" ]; then
  echo "cluster: $RKV_BIN is not an executable" >&2
  exit 1
fi
RKV_FLAGS=()
if [ -n "${RAFT_KV_FLAGS:-}" ]; then
  read -r -a RKV_FLAGS <<<"$RAFT_KV_FLAGS"
fi

trap 'rkv_stop_all TERM' EXIT

for ((id = 1; id <= N; id++)); do
  RKV_RAFT[id]=$((raft_base + id))
done
for ((id = 1; id <= N; id++)); do
  if ! rkv_start_node "$id" "127.0.0.1:$((http_base + id))" "$N"; then
    echo "cluster: node $id did not start; its log: $RKV_DIR/node$id.log" >&2
    if rkv_failed_on_port "$id"; then
      echo "cluster: choose other ports with HTTP_BASE_PORT=... RAFT_BASE_PORT=..." >&2
    fi
    exit 1
  fi
  echo "node $id: pid ${RKV_PID[$id]}, HTTP 127.0.0.1:${RKV_HTTP[$id]}," \
    "raft 127.0.0.1:${RKV_RAFT[$id]}, data $RKV_DIR/node$id"
done

leader="$(rkv_wait_for_leader 30 1 2 3)" || {
  echo "cluster: no leader elected within 30 s (logs: $RKV_DIR/node*.log)" >&2
  exit 1
}
h1="http://127.0.0.1:${RKV_HTTP[1]}"
h2="http://127.0.0.1:${RKV_HTTP[2]}"
h3="http://127.0.0.1:${RKV_HTTP[3]}"
cat <<EOF

node $leader leads. Things to try:

  # write through any node (a follower forwards to the leader), read from another
  curl -X PUT --data-binary hello $h1/kv/greeting
  curl $h2/kv/greeting
  # a node's own copy, without asking the leader
  curl '$h3/kv/greeting?consistency=stale'
  # compare-and-swap: replaced only if the value is still hello (412 otherwise)
  curl -X PUT --data-binary bonjour '$h1/kv/greeting?if=hello'
  curl -X DELETE $h2/kv/greeting
  curl $h1/status
  curl $h1/metrics
  curl -X POST '$h1/cluster/transfer-leader?to=2'

Kill the leader (kill -9 ${RKV_PID[$leader]}) and watch /status name another. To restart it
by hand on its data (this script will not stop a node you start yourself):
  $(rkv_command "$leader" "127.0.0.1:${RKV_HTTP[$leader]}" "$N")

Ctrl-C stops the nodes.
EOF

# Waits for Ctrl-C; reports nodes that exit meanwhile.
stopping=0
trap 'stopping=1' INT TERM
while [ "$stopping" = 0 ]; do
  alive=0
  for ((id = 1; id <= N; id++)); do
    [ -n "${RKV_PID[$id]:-}" ] || continue
    if rkv_running "$id"; then
      alive=1
    else
      rc=0
      wait "${RKV_PID[$id]}" 2>/dev/null || rc=$?
      echo "node $id exited (status $rc)"
      RKV_PID[id]=""
    fi
  done
  if [ "$alive" = 0 ]; then
    echo "every node this script started has exited"
    break
  fi
  sleep 1 &
  wait $! || true
done
echo "stopping the nodes"
rkv_stop_all TERM
