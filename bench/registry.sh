#!/usr/bin/env bash
# bench/registry.sh — what the StorageRegistry costs (issue 5).
#
#   1. Write throughput with and without registry tracking: the same wrk PUT
#      load (bench/wrk/put.lua, 10000 keys, 100-byte values, ns=bench) against
#      BASE (a durod without the registry, built from git $BASE_REV) and NEW
#      (this tree's durod), alternating, ROUNDS rounds, fresh data dir each.
#      The same for the binary protocol: `duro bench --op set --clients 4
#      --pipeline 64` (this tree's client against both servers).
#      Target: NEW >= 0.90 x BASE, summed over the rounds, for each.
#   2. Filtered lists over 100k resources in 100 namespaces: NEW is loaded with
#      100 x 1000 keys (batch/set), then each list shape below is requested by
#      one connection for LIST_SECONDS (wrk -c1, bench/wrk/registry_list.lua).
#      Target: p99 < 50 ms for every shape.
#
# Usage:  bench/registry.sh            (from the repository root)
# Environment:
#   BASE_REV=9eabbab   git revision without the registry (built in a worktree)
#   DURATION=8         seconds per PUT run       ROUNDS=3     alternating rounds
#   LIST_SECONDS=5     seconds per list shape    CONNS=64     PUT connections
#   BUILD=build        this tree's CMake build dir
#
# Only 127.0.0.1 is used; only processes started here are stopped, by PID;
# every step is bounded in time; temp data is removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE_REV=${BASE_REV:-9eabbab}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
LIST_SECONDS=${LIST_SECONDS:-5}
CONNS=${CONNS:-64}
BUILD=${BUILD:-build}
NKEYS=10000

log() { printf '%s\n' "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk curl cmake git timeout awk; do
    command -v "$tool" >/dev/null || die "'$tool' not found"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/duro-regbench.XXXXXX")
PID=""
stop() {
    [[ -n $PID ]] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}
cleanup() {
    stop
    git worktree remove --force "$TMP/base" >/dev/null 2>&1 || true
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- binaries
log "building this tree's durod ($BUILD)"
[[ -f $BUILD/CMakeCache.txt ]] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target durod duro >&2
cp "$BUILD/durod" "$TMP/durod-new"
cp "$BUILD/duro" "$TMP/duro"
if [[ $ROUNDS -gt 0 ]]; then             # ROUNDS=0: only the list latencies
    log "building durod at $BASE_REV (no registry) in a worktree"
    git worktree add -f --detach "$TMP/base" "$BASE_REV" >/dev/null 2>&1 || die "no revision $BASE_REV"
    cmake -S "$TMP/base" -B "$TMP/base/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$TMP/base/build" -j "$(nproc)" --target durod >&2
    cp "$TMP/base/build/durod" "$TMP/durod-base"
fi

free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

# start BIN DATA : starts durod, sets PID and URL
start() {
    local bin=$1 data=$2 port
    for _ in 1 2 3; do
        port=$(free_port) || die "no free port"
        RPC_PORT=$(free_port) || die "no free port"
        "$bin" --listen "127.0.0.1:$port" --data "$data" --rpc-port "$RPC_PORT" --log-level error \
            >"$TMP/durod.log" 2>&1 &
        PID=$!
        URL="http://127.0.0.1:$port"
        for _ in $(seq 150); do
            kill -0 "$PID" 2>/dev/null || break
            [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz") == 200 ]] && return 0
            sleep 0.1
        done
        stop
    done
    die "durod did not start: $(tail -n 5 "$TMP/durod.log")"
}

# wrk_result FILE FIELD
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$(grep '^WRKRESULT' "$1" | tail -n 1)"; }

# ---------------------------------------------------------------- 1. PUT throughput
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A RPS P99 ERR SET
for round in $(seq "$ROUNDS"); do
    for which in base new; do
        rm -rf "$TMP/data" && mkdir -p "$TMP/data"
        start "$TMP/durod-$which" "$TMP/data"
        out="$TMP/put-$which-$round.txt"
        log "round $round, $which: wrk PUT -c$CONNS -d${DURATION}s"
        timeout -k 5 $((DURATION + 30)) wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
            -s bench/wrk/put.lua "$URL" "$NKEYS" >"$out" 2>&1 || true
        log "round $round, $which: duro bench --op set -c4 -p64 ${DURATION}s"
        SET[$which$round]=$(timeout -k 5 $((DURATION + 60)) "$TMP/duro" -u "duro://127.0.0.1:$RPC_PORT" \
            bench --op set --clients 4 --pipeline 64 --duration "$DURATION" --json 2>/dev/null |
            sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p')
        SET[$which$round]=${SET[$which$round]:-0}
        kill -0 "$PID" 2>/dev/null || die "durod ($which) died"
        stop
        RPS[$which$round]=$(field "$out" rps)
        P99[$which$round]=$(field "$out" p99_ms)
        ERR[$which$round]="$(field "$out" non2xx)/$(field "$out" sockerr)"
        log "  -> HTTP ${RPS[$which$round]} req/s, p99 ${P99[$which$round]} ms, errors ${ERR[$which$round]}; binary set ${SET[$which$round]} ops/s"
    done
done

# ---------------------------------------------------------------- 2. list latency
rm -rf "$TMP/data" && mkdir -p "$TMP/data"
start "$TMP/durod-new" "$TMP/data"
log "loading 100 namespaces x 1000 keys"
t0=$(date +%s.%N)
python3 - "$TMP/batches" <<'EOF'
import json, os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for ns in range(100):
    entries = [{"key": "user:%04d" % k if k % 2 == 0 else "item:%04d" % k,
                "value": {"n": k, "pad": "x" * 40}} for k in range(1000)]
    with open(os.path.join(d, "ns%03d.json" % ns), "w") as f:
        json.dump({"entries": entries}, f)
EOF
for ns in $(seq -f '%03g' 0 99); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
        -H 'Content-Type: application/json' --data-binary "@$TMP/batches/ns$ns.json" \
        "$URL/storage/batch/set?ns=ns$ns")
    [[ $code == 200 ]] || die "batch/set ns$ns: $code"
done
t1=$(date +%s.%N)
total=$(curl -s "$URL/api/resources/list?limit=0" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
[[ $total == 100000 ]] || die "registry total is $total, want 100000"
LOAD_NOTE="loaded 100000 keys in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s; registry total $total"
log "$LOAD_NOTE"

SHAPES=(
    "namespace+type+prefix|/api/resources/list?namespace=ns042&type=kv&key_prefix=user:&limit=100"
    "namespace|/api/resources/list?namespace=ns042"
    "type only|/api/resources/list?type=kv&limit=100"
    "type, deep offset|/api/resources/list?type=kv&limit=100&offset=99000"
    "prefix only|/api/resources/list?key_prefix=item:05&limit=100"
    "no filter, max limit|/api/resources/list?limit=1000"
    "stats|/api/resources/stats"
)
declare -A LP50 LP99 LMAX LRPS LERR
for s in "${SHAPES[@]}"; do
    name=${s%%|*}
    path=${s#*|}
    out="$TMP/list-$RANDOM.txt"
    log "list: $name ($path), wrk -c1 -d${LIST_SECONDS}s"
    timeout -k 5 $((LIST_SECONDS + 30)) wrk -t1 -c1 -d"${LIST_SECONDS}s" --latency \
        -s bench/wrk/registry_list.lua "$URL" "$path" >"$out" 2>&1 || true
    LP50[$name]=$(field "$out" p50_ms)
    LP99[$name]=$(field "$out" p99_ms)
    LMAX[$name]=$(field "$out" max_ms)
    LRPS[$name]=$(field "$out" rps)
    LERR[$name]="$(field "$out" non2xx)/$(field "$out" sockerr)"
    log "  -> p50 ${LP50[$name]} ms, p99 ${LP99[$name]} ms, max ${LMAX[$name]} ms"
done
kill -0 "$PID" 2>/dev/null || die "durod died during the list runs"
stop
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
REV=$(git rev-parse --short HEAD)
[[ -z $(git status --porcelain | head -n 1) ]] || REV="$REV (dirty tree)"
echo "### Registry cost, run of $START_DATE"
echo
echo "- command: \`DURATION=$DURATION ROUNDS=$ROUNDS LIST_SECONDS=$LIST_SECONDS CONNS=$CONNS bench/registry.sh\`"
echo "- machine: $(nproc) cores, $(uname -sr); base = git $BASE_REV (no registry), new = git $REV"
echo "- load average $LOAD_START at start, $LOAD_END at end (client and server share the cores)"
echo
echo "| round | base PUT req/s | new PUT req/s | new / base | base p99 ms | new p99 ms | errors base, new | base set ops/s | new set ops/s | new / base |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"
sb=0; sn=0; tb=0; tn=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0 ? a / b : 0)}'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }
for round in $(seq "$ROUNDS"); do
    b=${RPS[base$round]:-0}; n=${RPS[new$round]:-0}; x=${SET[base$round]}; y=${SET[new$round]}
    sb=$(add "$sb" "$b"); sn=$(add "$sn" "$n"); tb=$(add "$tb" "$x"); tn=$(add "$tn" "$y")
    printf '| %s | %.0f | %.0f | %s | %s | %s | %s, %s | %.0f | %.0f | %s |\n' "$round" "$b" "$n" \
        "$(ratio "$n" "$b")" "${P99[base$round]}" "${P99[new$round]}" "${ERR[base$round]}" \
        "${ERR[new$round]}" "$x" "$y" "$(ratio "$y" "$x")"
done
verdict() { awk -v r="$1" 'BEGIN{print (r >= 0.90) ? "PASS" : "MISS"}'; }
echo
echo "Sum over rounds, new / base: HTTP PUT **$(ratio "$sn" "$sb")** ($(verdict "$(ratio "$sn" "$sb")")," \
     "target ≥ 0.90); binary set **$(ratio "$tn" "$tb")** ($(verdict "$(ratio "$tn" "$tb")"))"
echo
echo "List latency over 100k resources in 100 namespaces ($LOAD_NOTE), one connection:"
echo
echo "| shape | path | req/s | p50 ms | p99 ms | max ms | errors | p99 < 50 ms |"
echo "|---|---|---:|---:|---:|---:|---|---|"
for s in "${SHAPES[@]}"; do
    name=${s%%|*}
    path=${s#*|}
    printf '| %s | `%s` | %.0f | %s | %s | %s | %s | %s |\n' "$name" "$path" "${LRPS[$name]:-0}" \
        "${LP50[$name]}" "${LP99[$name]}" "${LMAX[$name]}" "${LERR[$name]}" \
        "$(awk -v p="${LP99[$name]:-999}" 'BEGIN{print (p < 50) ? "PASS" : "MISS"}')"
done
