#!/usr/bin/env bash
# bench/sql.sh — what the SQL kind costs (issue 12), over the binary protocol.
#
#   1. Point reads: sql.query "SELECT v FROM pt WHERE id = ?" (10000 rows,
#      100-byte values) vs kv.get of k0..k9999 (100-byte values), same load
#      (bench_rpcload, CONNS connections x PIPELINE in flight, SECONDS_EACH
#      each). The default 16 x 4 is what both ops may keep in flight: a
#      connection reserves each read's largest possible reply from
#      4 x --max-reply-bytes, which is the whole cap for a SQL op (so 4 in
#      flight) and ~2 MiB for a kv.get (docs/limits.md).
#      Target: query >= 0.5 x kv.get.
#      Every run's count is checked against the server's duro_<kind>_ops_total.
#   2. Group commit: single-row INSERTs through sql.exec from 64 clients
#      (64 connections, 1 in flight each) vs one client with one in flight
#      (every insert its own commit). Target: 64 clients >= 5 x one client.
#
# Usage:  bench/sql.sh            (from the repository root; build first)
# Environment:  SECONDS_EACH=6  CONNS=16  PIPELINE=4  BUILD=build  ROUNDS=2
#               DUROD_ARGS=""   extra durod flags
#
# Only 127.0.0.1 is used; only the durod started here is stopped, by PID; every
# step is bounded in time (timeout); the temp data dir is removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${SECONDS_EACH:-6}
CONNS=${CONNS:-16}
PIPELINE=${PIPELINE:-4}
ROUNDS=${ROUNDS:-2}
BUILD=${BUILD:-build}
DUROD_ARGS=${DUROD_ARGS:-}

log() { printf '%s\n' "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in curl timeout awk python3; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
[[ -x $BUILD/durod && -x $BUILD/bench/bench_rpcload ]] ||
    die "$BUILD/durod or $BUILD/bench/bench_rpcload missing (make build)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/duro-sqlbench.XXXXXX")
PID=""
stop() {
    [[ -n $PID ]] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}
trap 'stop; rm -rf -- "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port)
RPC=$(port)
# shellcheck disable=SC2086
"$BUILD/durod" --listen "127.0.0.1:$HTTP" --rpc-port "$RPC" --data "$TMP/data" \
    --log-level warn $DUROD_ARGS >"$TMP/durod.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null || die "durod did not start: $(tail -5 "$TMP/durod.log")"

post() { curl -sf --max-time 30 -X POST "http://127.0.0.1:$HTTP$1" -H 'Content-Type: application/json' --data-binary @- >/dev/null; }
log "preloading 10000 KV keys and 10000 SQL rows (ns=bench)"
V=$(printf 'v%.0s' $(seq 100))
echo '{"sql":"CREATE TABLE pt(id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE TABLE ins(id INTEGER PRIMARY KEY, v TEXT NOT NULL)"}' |
    post /api/storage/d1/bench/exec
for b in $(seq 0 9); do
    python3 - "$b" "$V" <<'PY' | post /storage/batch/set?ns=bench
import json, sys
b, v = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"entries": [{"key": "k%d" % i, "value": v} for i in range(b * 1000, b * 1000 + 1000)]}))
PY
done
for b in $(seq 0 99); do
    python3 - "$b" "$V" <<'PY' | post /api/storage/d1/bench/batch
import json, sys
b, v = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"statements": [{"sql": "INSERT INTO pt VALUES(?, ?)", "params": [i, v]}
                                 for i in range(b * 100, b * 100 + 100)]}))
PY
done

# The server's own count of ops of a kind (duro_<kind>_ops_total in /metrics).
server_ops() {
    curl -sf --max-time 10 "http://127.0.0.1:$HTTP/metrics" |
        awk -v m="duro_$1_ops_total" '$1 == m {print $2; exit}'
}
# conns pipeline mode -> ops/s. The client's count of answered ops must match
# what the server counted in the same time (it may have run up to conns x
# pipeline more, sent before the client's clock ran out): else the figure
# measures the client, not durod, and the script stops.
mini() {
    local kind=sql
    [[ $3 == get ]] && kind=kv
    local before after out done
    before=$(server_ops "$kind")
    out=$(timeout $((SECONDS_EACH + 30)) "$BUILD/bench/bench_rpcload" "$RPC" "$1" "$2" "$3" \
        "$SECONDS_EACH")
    sleep 0.2 # the last replies' ops are counted
    after=$(server_ops "$kind")
    done=${out%% ops in*}
    local diff=$((after - before - done))
    ((diff >= 0 && diff <= $1 * $2)) ||
        die "$3: the client counted $done ops, the server $((after - before))"
    log "$3: client $done ops, server $((after - before)) (duro_${kind}_ops_total)"
    sed -n 's/.* = \([0-9]*\) ops\/s/\1/p' <<<"$out"
}
kv=0; q=0; one=0; many=0
for r in $(seq "$ROUNDS"); do
    a=$(mini "$CONNS" "$PIPELINE" get); b=$(mini "$CONNS" "$PIPELINE" query)
    c=$(mini 1 1 insert); d=$(mini 64 1 insert)
    log "round $r: kv.get $a/s, sql.query $b/s, insert 1 client $c/s, insert 64 clients $d/s"
    kv=$((kv + a)); q=$((q + b)); one=$((one + c)); many=$((many + d))
done
stop
awk -v kv="$kv" -v q="$q" -v one="$one" -v many="$many" -v n="$ROUNDS" -v c="$CONNS" -v p="$PIPELINE" 'BEGIN {
    r1 = q / kv; r2 = many / one
    printf "| what | ops/s (mean of %d rounds) | ratio | target |\n|---|---|---|---|\n", n
    printf "| kv.get, %d conns x %d in flight | %.0f | | |\n", c, p, kv / n
    printf "| sql.query point SELECT, same load | %.0f | %.2f x kv.get | >= 0.5: %s |\n", q / n, r1, (r1 >= 0.5 ? "PASS" : "MISS")
    printf "| sql.exec 1-row INSERT, 1 client, 1 in flight | %.0f | | |\n", one / n
    printf "| sql.exec 1-row INSERT, 64 clients, 1 in flight each | %.0f | %.1f x 1 client | >= 5: %s |\n", many / n, r2, (r2 >= 5 ? "PASS" : "MISS")
}'
