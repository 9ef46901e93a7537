#!/usr/bin/env bash
# bench/redis.sh — duro against Redis with the same shape (issues 3 and 13).
#
#   1. redis-server without persistence (--save '' --appendonly no), then again with
#      --appendonly yes --appendfsync always; each time
#        redis-benchmark -t set,get -d 100 -c 50 -r KEYS -P 1 / -P 16 -n N --csv
#   2. durod (--rpc-port, fresh data dir, default --sync full: every write is on disk
#      before it is acknowledged) and `duro bench` with the same shape: 50 clients,
#      100-byte values, KEYS keys, pipeline 1 and 16, GET and SET, DURATION s each;
#      each shape also with bench_rpcload (bench/rpcload.c, the minimal client), back to
#      back with duro bench; every run's count is checked against the server's
#      duro_kv_ops_total delta (duro bench does it itself with --metrics-url);
#      then `duro bench --rate` at half the measured pipeline-1 peak (GET and SET)
#   3. a markdown table and the ratios of issue 3's targets with PASS / MISS:
#        GET  -P 1   duro / Redis (no persistence)          >= 1.0
#        GET  -P 16  duro / Redis (no persistence)          >= 0.7
#        SET  -P 1   duro / Redis (appendfsync always)      >= 1.0
#      and issue 13's, durod measured with bench_rpcload:
#        durable SET -P 16 and -P 1 / Redis (appendfsync always)   >= 1.0
#        GET -P 16 / Redis >= 0.9, GET -P 1 / Redis >= 1.0 (no persistence)
#        duro bench / bench_rpcload, each shape                     >= 0.95
#
# Usage:  bench/redis.sh            (from anywhere; builds $BUILD/durod and $BUILD/duro
#                                     if they are missing)
# Environment:
#   BUILD=build          CMake build dir
#   DURATION=5           seconds per duro bench run
#   KEYS=10000           key space of both tools
#   N_P1=100000          redis-benchmark requests per test at -P 1
#   N_P16=500000         redis-benchmark requests per test at -P 16
#   N_AOF_P1=50000       ... for SET/GET at -P 1 against appendfsync always
#   DUROD_ARGS=""        extra durod flags
#   RESULTS_OUT=...      markdown also written here (default $BUILD/redis-results.md)
#
# Needs redis-server, redis-benchmark and redis-cli (Debian: redis-server redis-tools);
# without them it says so and exits 0. Only 127.0.0.1 and free ports are used, only
# the processes started here are stopped (by PID), data lives in a mktemp -d dir that
# is removed at exit, and every step is bounded in time (about 2.5 minutes in all with
# the defaults; well under 5).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
DURATION=${DURATION:-5}
KEYS=${KEYS:-10000}
N_P1=${N_P1:-100000}
N_P16=${N_P16:-500000}
N_AOF_P1=${N_AOF_P1:-50000}
DUROD_ARGS=${DUROD_ARGS:-}
RESULTS_OUT=${RESULTS_OUT:-$BUILD/redis-results.md}
CLIENTS=50
VALUE=100
REDIS_TIMEOUT=40          # seconds one redis-benchmark invocation may take

log() { printf '%s\n' "redis.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

missing=()
for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "${missing[*]} not found; install them with: apt-get install -y redis-server redis-tools"
    log "skipping the Redis comparison"
    exit 0
fi
for tool in timeout awk sed; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
for v in DURATION KEYS N_P1 N_P16 N_AOF_P1; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || die "$v must be a positive integer"
done
((DURATION <= 60)) || die "DURATION must be at most 60"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/duro-redis.XXXXXX")
PIDS=()

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- binaries
DUROD_BIN=$BUILD/durod
DURO_BIN=$BUILD/duro
RPCLOAD_BIN=$BUILD/bench/bench_rpcload
if [[ ! -x $DUROD_BIN || ! -x $DURO_BIN || ! -x $RPCLOAD_BIN ]]; then
    log "building durod, duro and bench_rpcload in $BUILD"
    timeout 600 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    timeout 600 cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" \
        --target durod duro_cli bench_rpcload >/dev/null
fi
[[ -x $DUROD_BIN && -x $DURO_BIN && -x $RPCLOAD_BIN ]] || die "$DUROD_BIN, $DURO_BIN or $RPCLOAD_BIN missing"
grep -q -- --rpc-port <<<"$("$DUROD_BIN" --help)" || die "$DUROD_BIN has no --rpc-port"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)

# ---------------------------------------------------------------- Redis
declare -A R                     # R[mode.op.P] = "rps p50 p99"

start_redis() {                  # start_redis NAME ARGS... -> REDIS_PORT, REDIS_PID
    local name=$1 attempt i
    shift
    mkdir -p "$TMP/$name"
    for attempt in 1 2 3; do
        REDIS_PORT=$(free_port) || die "no free port"
        redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$TMP/$name" \
            --daemonize no --protected-mode yes --loglevel warning \
            --logfile "$TMP/$name.log" "$@" &
        REDIS_PID=$!
        PIDS+=("$REDIS_PID")
        for ((i = 0; i < 100; i++)); do
            kill -0 "$REDIS_PID" 2>/dev/null || break
            [[ $(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && return 0
            sleep 0.1
        done
        stop_pid "$REDIS_PID"
    done
    die "redis-server ($name) did not start: $(tail -n 5 "$TMP/$name.log" 2>/dev/null)"
}

# redis_run MODE P N: redis-benchmark -t set,get; fills R[MODE.set.P] and R[MODE.get.P]
redis_run() {
    local mode=$1 p=$2 n=$3 out line
    log "redis ($mode): redis-benchmark -t set,get -d $VALUE -c $CLIENTS -r $KEYS -P $p -n $n"
    out=$(timeout "$REDIS_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t set,get \
        -d "$VALUE" -c "$CLIENTS" -r "$KEYS" -P "$p" -n "$n" --csv 2>/dev/null) || {
        log "redis-benchmark ($mode, -P $p) failed or took over ${REDIS_TIMEOUT}s"
        return 0
    }
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    while IFS= read -r line; do
        line=${line//\"/}
        IFS=, read -r t rps _avg _min p50 _p95 p99 _max <<<"$line"
        case $t in
        SET) R[$mode.set.$p]="$rps $p50 $p99" ;;
        GET) R[$mode.get.$p]="$rps $p50 $p99" ;;
        esac
    done <<<"$out"
}

start_redis plain --save '' --appendonly no
redis_run plain 1 "$N_P1"
redis_run plain 16 "$N_P16"
stop_pid "$REDIS_PID"

start_redis aof --save '' --appendonly yes --appendfsync always
redis_run aof 1 "$N_AOF_P1"
redis_run aof 16 "$N_P16"
stop_pid "$REDIS_PID"

# ---------------------------------------------------------------- duro
declare -A D                     # D[op.P] = "ops p50 p99 p999 errors"

mkdir -p "$TMP/duro"
for attempt in 1 2 3; do
    HTTP_PORT=$(free_port) || die "no free port"
    RPC_PORT=$(free_port) || die "no free port"
    [[ $HTTP_PORT != "$RPC_PORT" ]] || continue
    # shellcheck disable=SC2086
    "$DUROD_BIN" --listen "127.0.0.1:$HTTP_PORT" --rpc-port "$RPC_PORT" --data "$TMP/duro" \
        --log-level error $DUROD_ARGS >"$TMP/durod.log" 2>&1 &
    DUROD_PID=$!
    PIDS+=("$DUROD_PID")
    URL="duro://127.0.0.1:$RPC_PORT"
    ok=0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$DUROD_PID" 2>/dev/null || break
        if timeout 5 "$DURO_BIN" -u "$URL" ping >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.1
    done
    ((ok)) && break
    stop_pid "$DUROD_PID"
done
((ok)) || die "durod did not start: $(tail -n 5 "$TMP/durod.log")"

jfield() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# duro_run OP P [extra bench args...]: fills D[OP.P] (or D[OP.rate] with --rate)
duro_run() {
    local op=$1 p=$2 slot=$1.$2 out
    shift 2
    [[ $* == *--rate* ]] && slot=$op.rate
    log "duro: duro bench --op $op --clients $CLIENTS --pipeline $p --value-size $VALUE --keys $KEYS --duration $DURATION $*"
    out=$(timeout $((DURATION + 60)) "$DURO_BIN" -u "$URL" bench --op "$op" --clients "$CLIENTS" \
        --pipeline "$p" --value-size "$VALUE" --keys "$KEYS" --duration "$DURATION" --json \
        --metrics-url "http://127.0.0.1:$HTTP_PORT" "$@" 2>"$TMP/bench.err") || {
        log "duro bench failed: $(tail -n 3 "$TMP/bench.err")"
        return 0
    }
    # duro bench checks itself against the server (--metrics-url): record it
    local match
    match=$(jfield server_match "$out")
    count_check "duro bench $op -P $p $*" "$(jfield client_ops "$out")" \
        "$(jfield server_ops "$out")" 0
    [[ $match == true ]] || log "duro bench says server_match=$match"
    D[$slot]="$(jfield ops_per_sec "$out") $(jfield p50_ms "$out") $(jfield p99_ms "$out") $(jfield p999_ms "$out") $(jfield errors "$out")"
}

# The server's own count of kv ops (the sum of duro_kv_ops_total's series).
kv_ops() {
    timeout 5 curl -s "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null |
        awk '/^duro_kv_ops_total/ { s += $NF } END { printf "%d", s }'
}
CHECKS=()                        # "what|client|server|verdict"

# rpc_run MODE P: bench_rpcload (the minimal client) with the same shape; fills
# L[MODE.P] = "ops/s" and checks its count against the server's
declare -A L
rpc_run() {
    local mode=$1 p=$2 out before after ops
    log "duro: bench_rpcload $RPC_PORT $CLIENTS $p $mode $DURATION --keys $KEYS --value-size $VALUE"
    before=$(kv_ops)
    out=$(timeout $((DURATION + 30)) "$RPCLOAD_BIN" "$RPC_PORT" "$CLIENTS" "$p" "$mode" "$DURATION" \
        --keys "$KEYS" --value-size "$VALUE" 2>"$TMP/rpcload.err" | grep '^RPCLOAD') || {
        log "bench_rpcload failed: $(tail -n 3 "$TMP/rpcload.err")"
        return 0
    }
    after=$(kv_ops)
    ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$out")
    L[$mode.$p]=$(sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p' <<<"$out")
    count_check "bench_rpcload $mode -P $p" "$ops" $((after - before)) 0
}

# count_check WHAT CLIENT SERVER SLACK: the client's count against the server's
count_check() {
    local d=$(($3 - $2))
    ((d < 0)) && d=$((-d))
    if ((d <= $4)); then
        CHECKS+=("$1|$2|$3|match")
    else
        CHECKS+=("$1|$2|$3|MISMATCH")
        log "count mismatch for $1: client $2, server $3"
    fi
}

# the minimal client first: the preload (fill) also serves duro bench's gets
log "duro: preload k0..k$((KEYS - 1)) with bench_rpcload fill"
timeout 120 "$RPCLOAD_BIN" "$RPC_PORT" 4 16 fill 100 --keys "$KEYS" --value-size "$VALUE" >/dev/null ||
    die "bench_rpcload fill failed"
# each shape: the minimal client and duro bench back to back, so both see the
# same minutes of this shared machine
for p in 1 16; do
    rpc_run get "$p"
    duro_run get "$p" --no-preload
    rpc_run put "$p"
    duro_run set "$p"
done
half() { local v=${1%% *}; [[ -z $v ]] || awk -v v="$v" 'BEGIN { printf "%d", v / 2 }'; }
GET_HALF=$(half "${D[get.1]:-}")
SET_HALF=$(half "${D[set.1]:-}")
[[ -n $GET_HALF && $GET_HALF -ge 1 ]] && duro_run get 1 --no-preload --rate "$GET_HALF"
[[ -n $SET_HALF && $SET_HALF -ge 1 ]] && duro_run set 1 --rate "$SET_HALF"
stop_pid "$DUROD_PID"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)

# ---------------------------------------------------------------- report
f() { awk -v s="$1" -v i="$2" 'BEGIN { split(s, a, " "); printf "%s", (i in a) ? a[i] : "-" }'; }
ratio() {                        # ratio NUM DEN -> 2 decimals, or "-"
    awk -v n="${1:-}" -v d="${2:-}" 'BEGIN { if (n == "" || d == "" || d + 0 == 0) print "-"; else printf "%.2f", n / d }'
}
verdict() {                      # verdict RATIO GOAL
    awk -v r="$1" -v g="$2" 'BEGIN {
        if (r == "-") { print "INVALID (no number)"; exit }
        if (r + 0 >= g) print "PASS"; else printf "MISS (%.0f%% short)\n", (1 - r / g) * 100 }'
}

{
    echo "### duro bench vs redis-benchmark, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "- command: \`bench/redis.sh\` (DURATION=$DURATION s per duro run, $CLIENTS clients, $VALUE-byte values, $KEYS keys; redis-benchmark -n $N_P1 at -P 1, $N_P16 at -P 16, $N_AOF_P1 at -P 1 with appendfsync always)"
    echo "- machine: $(nproc) cores, $(uname -sr), redis $(redis-server --version | awk '{print $3}'); git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
    echo "- load average: $LOAD_START at start, $LOAD_END at end; $((T_END - T_START)) s in all (client and server share the cores)"
    echo "- durod: \`--rpc-port P --data TMP --log-level error $DUROD_ARGS\` (--sync full: each write fsynced before its reply); redis: \`--save ''\` and \`--appendonly yes --appendfsync always\`"
    echo
    echo "| run | pipeline | ops/s | p50 ms | p99 ms |"
    echo "|---|---:|---:|---:|---:|"
    for op in get set; do
        OP=$(tr a-z A-Z <<<"$op")
        for p in 1 16; do
            v=${R[plain.$op.$p]:-}
            echo "| redis $OP (no persistence) | $p | $(f "$v" 1) | $(f "$v" 2) | $(f "$v" 3) |"
            v=${R[aof.$op.$p]:-}
            echo "| redis $OP (appendfsync always) | $p | $(f "$v" 1) | $(f "$v" 2) | $(f "$v" 3) |"
            v=${D[$op.$p]:-}
            echo "| **duro $OP** (--sync full) | $p | $(f "$v" 1) | $(f "$v" 2) | $(f "$v" 3) |"
        done
    done
    for op in get put; do
        OP=$(tr a-z A-Z <<<"$op")
        for p in 1 16; do
            echo "| **duro $OP, bench_rpcload** (minimal client) | $p | ${L[$op.$p]:--} | – | – |"
        done
    done
    v=${D[get.rate]:-}
    [[ -n $v ]] && echo "| duro GET --rate $GET_HALF (open loop, half the -P 1 peak) | 1 | $(f "$v" 1) | $(f "$v" 2) | $(f "$v" 3) |"
    v=${D[set.rate]:-}
    [[ -n $v ]] && echo "| duro SET --rate $SET_HALF (open loop, half the -P 1 peak) | 1 | $(f "$v" 1) | $(f "$v" 2) | $(f "$v" 3) |"
    errs=0
    for k in "${!D[@]}"; do e=$(f "${D[$k]}" 5); [[ $e == - || $e == 0 ]] || errs=$((errs + e)); done
    echo
    echo "duro bench errors in all runs: $errs (redis-benchmark reports none)."
    echo
    echo "| target (issue 3) | ratio | goal | result |"
    echo "|---|---:|---:|---|"
    r=$(ratio "$(f "${D[get.1]:-}" 1)" "$(f "${R[plain.get.1]:-}" 1)")
    echo "| GET -P 1: duro / redis (no persistence) | $r | ≥ 1.0 | $(verdict "$r" 1.0) |"
    r=$(ratio "$(f "${D[get.16]:-}" 1)" "$(f "${R[plain.get.16]:-}" 1)")
    echo "| GET -P 16: duro / redis (no persistence) | $r | ≥ 0.7 | $(verdict "$r" 0.7) |"
    r=$(ratio "$(f "${D[set.1]:-}" 1)" "$(f "${R[aof.set.1]:-}" 1)")
    echo "| durable SET -P 1: duro / redis (appendfsync always) | $r | ≥ 1.0 | $(verdict "$r" 1.0) |"
    r=$(ratio "$(f "${D[set.16]:-}" 1)" "$(f "${R[aof.set.16]:-}" 1)")
    echo "| (info) durable SET -P 16: duro / redis (appendfsync always) | $r | – | – |"
    echo
    echo "Issue 13's targets, durod measured with the minimal client (bench_rpcload):"
    echo
    echo "| target (issue 13) | ratio | goal | result |"
    echo "|---|---:|---:|---|"
    t13() {                      # t13 LABEL NUM DEN GOAL
        local r
        r=$(ratio "$2" "$3")
        echo "| $1 | $r | ≥ $4 | $(verdict "$r" "$4") |"
    }
    t13 "durable SET -P 16 vs redis appendfsync always" "${L[put.16]:-}" "$(f "${R[aof.set.16]:-}" 1)" 1.0
    t13 "durable SET -P 1 vs redis appendfsync always" "${L[put.1]:-}" "$(f "${R[aof.set.1]:-}" 1)" 1.0
    t13 "GET -P 16 vs redis (no persistence)" "${L[get.16]:-}" "$(f "${R[plain.get.16]:-}" 1)" 0.9
    t13 "GET -P 1 vs redis (no persistence)" "${L[get.1]:-}" "$(f "${R[plain.get.1]:-}" 1)" 1.0
    t13 "duro bench / bench_rpcload, GET -P 16" "$(f "${D[get.16]:-}" 1)" "${L[get.16]:-}" 0.95
    t13 "duro bench / bench_rpcload, GET -P 1" "$(f "${D[get.1]:-}" 1)" "${L[get.1]:-}" 0.95
    t13 "duro bench / bench_rpcload, SET -P 16" "$(f "${D[set.16]:-}" 1)" "${L[put.16]:-}" 0.95
    t13 "duro bench / bench_rpcload, SET -P 1" "$(f "${D[set.1]:-}" 1)" "${L[put.1]:-}" 0.95
    echo
    echo "Load generators checked against the server's \`duro_kv_ops_total\` delta over each run:"
    echo
    echo "| run | client counted | server counted | check |"
    echo "|---|---:|---:|---|"
    for c in "${CHECKS[@]}"; do
        IFS='|' read -r w a b v <<<"$c"
        echo "| $w | $a | $b | $v |"
    done
} | tee "$RESULTS_OUT"
log "also written to $RESULTS_OUT"
