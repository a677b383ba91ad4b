# shellcheck shell=bash
# Shell functions to run a local raft-kv cluster on loopback: pick ports, start and stop nodes,
# read GET /status, wait for a leader. Sourced by scripts/demo.sh and scripts/cluster.sh; needs
# bash and curl only (JSON is read with grep and sed).
#
# The caller sets, before starting nodes:
#   RKV_BIN        the raft-kv binary
#   RKV_DIR        where each node keeps node<ID>/ (its data dir), node<ID>.out and node<ID>.log
#   RKV_RAFT[ID]   each node's raft port (rkv_pick_raft_ports picks free ones)
#   RKV_FLAGS      (array, optional) flags given to every node, e.g. (--tick-ms 50)
# and gets, per started node:
#   RKV_PID[ID]    its process id
#   RKV_HTTP[ID]   its HTTP port (read from the line it prints once serving)

RKV_PID=()
RKV_HTTP=()
RKV_RAFT=()
: "${RKV_START_TIMEOUT:=30}"   # seconds a node may take to print its serving line

# True if something accepts connections on 127.0.0.1:PORT.
rkv_port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Picks N distinct raft ports (RKV_RAFT[1..N]) in 20000..59999 that nothing listens on. A port
# may still be taken before the node binds it: rkv_start_node then fails with "in use" and the
# caller picks again.
rkv_pick_raft_ports() {
  local n="$1" id port taken p
  RKV_RAFT=()
  for ((id = 1; id <= n; id++)); do
    while true; do
      port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
      taken=0
      for p in "${RKV_RAFT[@]}"; do [ "$p" = "$port" ] && taken=1; done
      if [ "$taken" = 0 ] && ! rkv_port_listening "$port"; then break; fi
    done
    RKV_RAFT[id]=$port
  done
}

# The --peers value of a cluster of nodes 1..N: "1=127.0.0.1:P1,2=127.0.0.1:P2,...".
rkv_peers() {
  local n="$1" id out=""
  for ((id = 1; id <= n; id++)); do
    out+="${out:+,}$id=127.0.0.1:${RKV_RAFT[$id]}"
  done
  printf '%s' "$out"
}

# The command line that rkv_start_node runs for node ID (for showing it to a user).
rkv_command() {
  local id="$1" http="$2" n="$3"
  printf '%s' "$RKV_BIN --id $id --peers $(rkv_peers "$n") --http $http --data-dir $RKV_DIR/node$id"
  [ ${#RKV_FLAGS[@]} -gt 0 ] && printf ' %s' "${RKV_FLAGS[@]}"
  printf '\n'
}

# rkv_start_node ID HTTP_ADDR N: starts node ID of an N-node cluster serving HTTP on HTTP_ADDR
# (port 0: a free port), in the background, with its data dir RKV_DIR/node<ID> (kept across
# restarts). Waits for its serving line and sets RKV_PID[ID] and RKV_HTTP[ID]. On failure prints
# what the node said on stderr and returns 1.
rkv_start_node() {
  local id="$1" http="$2" n="$3"
  local out="$RKV_DIR/node$id.out" log="$RKV_DIR/node$id.log"
  mkdir -p "$RKV_DIR"
  "$RKV_BIN" --id "$id" --peers "$(rkv_peers "$n")" --http "$http" \
    --data-dir "$RKV_DIR/node$id" ${RKV_FLAGS[@]+"${RKV_FLAGS[@]}"} >"$out" 2>"$log" &
  local pid=$!
  local deadline=$((SECONDS + RKV_START_TIMEOUT)) line=""
  while true; do
    line="$(head -n 1 "$out" 2>/dev/null || true)"
    case "$line" in
      *"serving http on"*) break ;;
    esac
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      local rc=$?
      echo "node $id exited with status $rc before serving: $(tail -n 3 "$log")" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      echo "node $id did not start within ${RKV_START_TIMEOUT}s: $(tail -n 3 "$log")" >&2
      return 1
    fi
    sleep 0.05
  done
  RKV_PID[id]=$pid
  RKV_HTTP[id]="$(printf '%s\n' "$line" | sed -n 's/.*serving http on [^ ]*:\([0-9][0-9]*\), raft on .*/\1/p')"
  if [ -z "${RKV_HTTP[$id]}" ]; then
    echo "node $id: cannot read its HTTP port from: $line" >&2
    return 1
  fi
}

# True if the last start failure of node ID was a port someone else holds.
rkv_failed_on_port() {
  grep -qi "in use" "$RKV_DIR/node$1.log" 2>/dev/null
}

# True if node ID was started and still runs.
rkv_running() {
  [ -n "${RKV_PID[$1]:-}" ] && kill -0 "${RKV_PID[$1]}" 2>/dev/null
}

# rkv_stop_node ID [SIGNAL]: signals node ID (default TERM), waits for it and prints nothing;
# returns the node's exit status.
rkv_stop_node() {
  local id="$1" sig="${2:-TERM}" rc=0
  local pid="${RKV_PID[$id]:-}"
  [ -z "$pid" ] && return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  RKV_PID[id]=""
  RKV_HTTP[id]=""
  return "$rc"
}

# Stops every started node (default TERM); never fails.
rkv_stop_all() {
  local id
  for id in "${!RKV_PID[@]}"; do
    rkv_stop_node "$id" "${1:-TERM}" || true
  done
}

# The /status JSON of node ID, or nothing if it does not answer.
rkv_status() {
  [ -n "${RKV_HTTP[$1]:-}" ] || return 0
  curl -s --max-time 2 "http://127.0.0.1:${RKV_HTTP[$1]}/status" || true
}

# rkv_json_field JSON NAME: the value of a top-level number or string field NAME (the first one),
# without quotes; empty for null or absent.
rkv_json_field() {
  printf '%s' "$1" | grep -o "\"$2\"[[:space:]]*:[[:space:]]*\(\"[^\"]*\"\|[0-9][0-9]*\|null\)" |
    head -n 1 | sed 's/^[^:]*:[[:space:]]*//; s/"//g; s/^null$//' || true
}

# rkv_wait_for_leader TIMEOUT ID...: waits until the given nodes all name the same leader, one of
# them, which says it leads; prints its id. Returns 1 after TIMEOUT seconds.
rkv_wait_for_leader() {
  local timeout="$1"
  shift
  local deadline=$((SECONDS + timeout)) id leader agreed ok
  while true; do
    agreed=""
    ok=1
    for id in "$@"; do
      leader="$(rkv_json_field "$(rkv_status "$id")" leader)"
      if [ -z "$leader" ] || [ "$leader" = 0 ] || { [ -n "$agreed" ] && [ "$leader" != "$agreed" ]; }; then
        ok=0
        break
      fi
      agreed="$leader"
    done
    if [ "$ok" = 1 ]; then
      for id in "$@"; do
        if [ "$id" = "$agreed" ] &&
           [ "$(rkv_json_field "$(rkv_status "$agreed")" leader)" = "$agreed" ]; then
          printf '%s\n' "$agreed"
          return 0
        fi
      done
    fi
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# rkv_wait_for_applied ID INDEX TIMEOUT: waits until node ID has applied INDEX.
rkv_wait_for_applied() {
  local id="$1" index="$2" deadline=$((SECONDS + $3)) applied
  while true; do
    applied="$(rkv_json_field "$(rkv_status "$id")" applied)"
    [ -n "$applied" ] && [ "$applied" -ge "$index" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}
