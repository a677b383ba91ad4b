#!/usr/bin/env bash
# The demo: a replicated key-value store you can watch survive a crash. Starts three raft-kv
# nodes on loopback (data in a temporary directory), writes and reads through them with curl,
# kills the leader with SIGKILL, shows a new leader elected and every acknowledged write still
# readable, restarts the killed node and shows it caught up, then stops everything it started.
#
#   bash scripts/demo.sh
#
# Installs the build dependencies first (skipped with SKIP_SETUP=1; run as root), then builds
# raft-kv in build/release (JOBS=N sets the build parallelism, default 2). RAFT_KV_FLAGS adds
# flags to every node (e.g. RAFT_KV_FLAGS="--tick-ms 50"); RAFT_KV_BIN=PATH runs that binary
# instead of building one. Exits non-zero if any check fails.
# The seeded simulation of the consensus core that this demo replaced is scripts/sim_demo.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib/raft_kv_cluster.sh
source scripts/lib/raft_kv_cluster.sh

if [ "${SKIP_SETUP:-}" != "1" ]; then
  bash scripts/setup.sh
fi
if ! command -v curl >/dev/null; then
  echo "demo: curl is missing (scripts/setup.sh installs it)" >&2
  exit 1
fi
RKV_BIN="${RAFT_KV_BIN:-build/release/examples/raft-kv/raft-kv}"
if [ -z "${RAFT_KV_BIN:-}" ] && ! bash scripts/build.sh release raft-kv; then
  echo "demo: building the raft-kv target (examples/raft-kv) in build/release failed" >&2
  exit 1
fi
if [ ! -x "$RKV_BIN" ]; then
  echo "demo: $RKV_BIN is not an executable" >&2
  exit 1
fi
RKV_DIR="$(mktemp -d "${TMPDIR:-/tmp}/raft-kv-demo.XXXXXX")"
RKV_FLAGS=()
if [ -n "${RAFT_KV_FLAGS:-}" ]; then
  read -r -a RKV_FLAGS <<<"$RAFT_KV_FLAGS"
fi
N=3

cleanup() {
  rkv_stop_all KILL
  rm -rf "$RKV_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
fail() {
  echo "demo: CHECK FAILED: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "demo: $*" >&2
  exit 1
}
step() { printf '\n== %s\n' "$*"; }
url() { printf 'http://127.0.0.1:%s%s' "${RKV_HTTP[$1]}" "$2"; }

# show_curl STATUS CURL_ARGS...: prints the curl command, runs it, prints the response body and
# status; a status other than STATUS is a failed check. Leaves LAST_BODY and LAST_STATUS.
LAST_BODY=""
LAST_STATUS=""
show_curl() {
  local want="$1"
  shift
  printf '$ curl -s'
  local arg
  for arg in "$@"; do
    # Quoted as a user would type it: single quotes only around what the shell would mangle.
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then
      printf ' %s' "$arg"
    else
      printf " '%s'" "${arg//\'/\'\\\'\'}"
    fi
  done
  printf '\n'
  LAST_STATUS="$(curl -s --max-time 15 -o "$RKV_DIR/body" -w '%{http_code}' "$@" || true)"
  LAST_BODY="$(cat "$RKV_DIR/body" 2>/dev/null || true)"
  rm -f "$RKV_DIR/body"
  [ -n "$LAST_BODY" ] && printf '%s\n' "$LAST_BODY"
  printf '  -> HTTP %s\n' "$LAST_STATUS"
  if [ "$LAST_STATUS" != "$want" ]; then
    fail "curl $* answered HTTP $LAST_STATUS, expected $want"
  fi
}

# quiet_curl CURL_ARGS...: the HTTP status only ("000" if no answer).
quiet_curl() {
  curl -s --max-time 15 -o /dev/null -w '%{http_code}' "$@" || true
}

# Every write acknowledged with 200: key -> value.
declare -A ACKED=()

# count_readable ID CONSISTENCY: how many acknowledged writes node ID returns unchanged.
count_readable() {
  local id="$1" consistency="$2" key ok=0 body
  for key in "${!ACKED[@]}"; do
    body="$(curl -s --max-time 15 "$(url "$id" "/kv/$key?consistency=$consistency")" || true)"
    [ "$body" = "${ACKED[$key]}" ] && ok=$((ok + 1))
  done
  printf '%s' "$ok"
}

step "Starting a 3-node cluster on loopback (data in $RKV_DIR)"
for attempt in 1 2 3; do
  rkv_pick_raft_ports "$N"
  started=1
  for ((id = 1; id <= N; id++)); do
    printf '$ '
    rkv_command "$id" 127.0.0.1:0 "$N"
    if ! rkv_start_node "$id" 127.0.0.1:0 "$N"; then
      started=0
      break
    fi
  done
  [ "$started" = 1 ] && break
  if [ "$attempt" -lt 3 ] && rkv_failed_on_port "$id"; then
    echo "(a picked port was taken meanwhile; trying other ports)"
    rkv_stop_all KILL
    rm -rf "$RKV_DIR"/node*
    continue
  fi
  die "node $id did not start"
done
for ((id = 1; id <= N; id++)); do
  echo "node $id: pid ${RKV_PID[$id]}, HTTP 127.0.0.1:${RKV_HTTP[$id]}, raft 127.0.0.1:${RKV_RAFT[$id]}"
done

step "Waiting for the nodes to elect a leader"
leader="$(rkv_wait_for_leader 30 1 2 3)" || die "no leader elected within 30 s"
echo "node $leader leads"
show_curl 200 "$(url "$leader" /status)"
follower=1
[ "$leader" = 1 ] && follower=2

step "Writes: every node accepts them (a follower forwards to the leader)"
show_curl 200 -X PUT --data-binary 'hello' "$(url "$follower" /kv/greeting)"
ACKED[greeting]=hello
show_curl 200 -X PUT --data-binary 'replicated' "$(url "$leader" /kv/state)"
ACKED[state]=replicated

step "Reads: linearizable by default, from any node; ?consistency=stale reads the node's own copy"
for ((id = 1; id <= N; id++)); do
  show_curl 200 "$(url "$id" /kv/greeting)"
  [ "$LAST_BODY" = hello ] || fail "node $id read '$LAST_BODY' for greeting, expected 'hello'"
done
show_curl 200 "$(url "$follower" '/kv/state?consistency=stale')"

step "Compare-and-swap: ?if=OLD replaces only the expected value"
show_curl 412 -X PUT --data-binary 'bonjour' "$(url "$follower" '/kv/greeting?if=hi')"
show_curl 200 -X PUT --data-binary 'bonjour' "$(url "$follower" '/kv/greeting?if=hello')"
ACKED[greeting]=bonjour

step "Delete"
show_curl 200 -X PUT --data-binary 'temporary' "$(url "$leader" /kv/scratch)"
show_curl 200 -X DELETE "$(url "$follower" /kv/scratch)"
show_curl 404 "$(url "$leader" /kv/scratch)"

step "Writing 30 more keys through all three nodes"
written=0
for ((i = 1; i <= 30; i++)); do
  id=$(( (i % N) + 1 ))
  if [ "$(quiet_curl -X PUT --data-binary "value-$i" "$(url "$id" "/kv/key-$i")")" = 200 ]; then
    ACKED[key-$i]="value-$i"
    written=$((written + 1))
  fi
done
echo "$written of 30 writes acknowledged"
[ "$written" = 30 ] || fail "only $written of 30 writes were acknowledged by a healthy cluster"

step "Killing the leader, node $leader, with SIGKILL"
echo "$ kill -9 ${RKV_PID[$leader]}"
rkv_stop_node "$leader" KILL || true
old_leader="$leader"
survivors=()
for ((id = 1; id <= N; id++)); do
  [ "$id" != "$old_leader" ] && survivors+=("$id")
done

step "Waiting for the survivors (nodes ${survivors[*]}) to elect a new leader"
leader="$(rkv_wait_for_leader 30 "${survivors[@]}")" || die "no new leader within 30 s"
echo "node $leader leads now"
show_curl 200 "$(url "$leader" /status)"
[ "$leader" != "$old_leader" ] || fail "the killed node is still named leader"

step "Writes go on with one node down"
show_curl 200 -X PUT --data-binary 'still here' "$(url "${survivors[0]}" /kv/after-crash)"
ACKED[after-crash]="still here"

step "Every acknowledged write (${#ACKED[@]}) is readable from both survivors"
for id in "${survivors[@]}"; do
  ok="$(count_readable "$id" linearizable)"
  echo "node $id: $ok of ${#ACKED[@]} acknowledged writes read back (linearizable)"
  [ "$ok" = "${#ACKED[@]}" ] || fail "node $id lost $(( ${#ACKED[@]} - ok )) acknowledged writes"
done
show_curl 200 "$(url "${survivors[1]}" /kv/greeting)"
[ "$LAST_BODY" = bonjour ] || fail "greeting reads '$LAST_BODY', expected 'bonjour'"

step "Restarting node $old_leader on its data dir"
printf '$ '
rkv_command "$old_leader" 127.0.0.1:0 "$N"
rkv_start_node "$old_leader" 127.0.0.1:0 "$N" || die "node $old_leader did not restart"
commit="$(rkv_json_field "$(rkv_status "$leader")" commit)"
[ -n "$commit" ] || die "cannot read the leader's commit index"
if rkv_wait_for_applied "$old_leader" "$commit" 30; then
  echo "node $old_leader applied everything up to the leader's commit index $commit"
else
  fail "node $old_leader did not catch up to index $commit within 30 s"
fi
show_curl 200 "$(url "$old_leader" '/kv/after-crash?consistency=stale')"
[ "$LAST_BODY" = "still here" ] || fail "node $old_leader reads '$LAST_BODY' for after-crash"
ok="$(count_readable "$old_leader" stale)"
echo "node $old_leader: $ok of ${#ACKED[@]} acknowledged writes in its own copy"
[ "$ok" = "${#ACKED[@]}" ] || fail "node $old_leader misses $(( ${#ACKED[@]} - ok )) writes"

step "Stopping the cluster (SIGTERM: a graceful stop)"
for ((id = 1; id <= N; id++)); do
  if rkv_stop_node "$id" TERM; then
    echo "node $id stopped (exit 0)"
  else
    fail "node $id exited with status $? on SIGTERM"
  fi
done

echo
if [ "$failures" -gt 0 ]; then
  echo "demo: $failures check(s) failed"
  exit 1
fi
echo "demo: every check held: writes through any node, a leader killed, a new one elected, no" \
  "acknowledged write lost, the killed node caught up after its restart"
