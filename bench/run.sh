#!/usr/bin/env bash
# bench/run.sh — every benchmark of issue 2 in one go, with the ratios that count.
#
#   1. bench_hello (bare evhttp, 1 thread)      -> the HTTP ceiling       (wrk, -c16 and -c64)
#   2. bench_sqlite_commit (1 row per commit)   -> the no-group-commit durability ceiling
#   3. build/durod on a fresh data dir: preload k0..k9999 (100-byte values, ns=bench),
#      then GET, PUT and 90/10 mixed at -c16 and -c64 (wrk -t2)
#   4. a markdown table of req/s, p50, p99, and the targets with PASS / MISS
#
# Usage:  make bench        (or bench/run.sh from the repository root)
# Environment:
#   DURATION=10        seconds per wrk run
#   SQLITE_SECONDS=5   seconds of the SQLite probe
#   THREADS=2          wrk threads
#   BUILD=build        CMake build dir (configured here if missing)
#   DUROD_ARGS=""      extra durod flags, e.g. "--io-threads 2 --actors 1"
#   CEILINGS_ONLY=1    measure only hello + SQLite (no durod)
#   RESULTS_OUT=...    where the markdown is also written (default $BUILD/bench-results.md)
#   KEEP_TMP=1         keep the temp dir (wrk outputs, durod log) instead of removing it
#
# Only 127.0.0.1 is used. Only the processes started here are stopped (by PID).
# Every step is bounded in time. Data lives in a mktemp -d dir removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-10}
SQLITE_SECONDS=${SQLITE_SECONDS:-5}
THREADS=${THREADS:-2}
BUILD=${BUILD:-build}
DUROD_ARGS=${DUROD_ARGS:-}
CEILINGS_ONLY=${CEILINGS_ONLY:-0}
RESULTS_OUT=${RESULTS_OUT:-$BUILD/bench-results.md}
NKEYS=10000
WRK_SLACK=30          # seconds a wrk run may exceed DURATION before it is killed

log() { printf '%s\n' "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in wrk curl cmake timeout awk; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install wrk curl cmake)"
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $SQLITE_SECONDS =~ ^[0-9]+$ && $SQLITE_SECONDS -ge 1 ]] || die "SQLITE_SECONDS must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -ge 1 && $THREADS -le 16 ]] || die "THREADS must be 1..16"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/duro-bench.XXXXXX")
PIDS=()

stop_pid() {                     # stop one process we started: TERM, then KILL after 10 s
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit after SIGTERM in 10 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() q                  # forget it: its PID may be reused later
    for q in "${PIDS[@]}"; do [[ $q == "$pid" ]] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
LOAD_BEFORE_BUILD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "configuring $BUILD"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
HAVE_DUROD=1
if [[ $CEILINGS_ONLY == 1 ]]; then
    HAVE_DUROD=0
    cmake --build "$BUILD" -j "$(nproc)" --target bench_hello bench_sqlite_commit >&2
elif ! cmake --build "$BUILD" -j "$(nproc)" --target durod bench_hello bench_sqlite_commit >&2; then
    log "building durod failed; measuring the ceilings only"
    HAVE_DUROD=0
    cmake --build "$BUILD" -j "$(nproc)" --target bench_hello bench_sqlite_commit >&2
fi
HELLO_BIN=$BUILD/bench/bench_hello
SQLITE_BIN=$BUILD/bench/bench_sqlite_commit
DUROD_BIN=$BUILD/durod
[[ -x $HELLO_BIN && -x $SQLITE_BIN ]] || die "bench binaries missing in $BUILD/bench"
[[ $HAVE_DUROD == 0 || -x $DUROD_BIN ]] || HAVE_DUROD=0

# ---------------------------------------------------------------- helpers
free_port() {                    # a 127.0.0.1 port with no listener (connect is refused)
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

http_code() {                    # http_code URL -> status code, or 000
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# start_server NAME READY_PATH CMD... ; "@PORT@" in CMD is replaced by a free port.
# Sets PORT and SERVER_PID. Retries with another port if the server dies at start
# (e.g. the port was taken in between).
start_server() {
    local name=$1 ready=$2 attempt i code
    shift 2
    for attempt in 1 2 3; do
        PORT=$(free_port) || die "no free port found"
        local args=("${@//@PORT@/$PORT}")
        "${args[@]}" >"$TMP/$name.log" 2>&1 &
        SERVER_PID=$!
        PIDS+=("$SERVER_PID")
        for ((i = 0; i < 150; i++)); do          # up to 15 s
            kill -0 "$SERVER_PID" 2>/dev/null || break
            code=$(http_code "http://127.0.0.1:$PORT$ready")
            if [[ $code == 200 ]]; then
                log "$name up on 127.0.0.1:$PORT (pid $SERVER_PID)"
                return 0
            fi
            sleep 0.1
        done
        log "$name did not answer 200 on $ready (attempt $attempt); log:"
        tail -n 20 "$TMP/$name.log" >&2 || true
        stop_pid "$SERVER_PID"
    done
    die "$name failed to start"
}

declare -A RPS P50 P99 ERRS
# run_wrk KEY CONNS SCRIPT URL : records RPS/P50/P99/ERRS[KEY]
run_wrk() {
    local key=$1 conns=$2 script=$3 url=$4 out line
    out="$TMP/wrk-$key.txt"
    log "wrk $key: -t$THREADS -c$conns -d${DURATION}s $script"
    if ! timeout -k 5 $((DURATION + WRK_SLACK)) \
        wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency \
            -s "bench/wrk/$script.lua" "$url" "$NKEYS" >"$out" 2>&1; then
        log "wrk $key failed or timed out:"
        tail -n 20 "$out" >&2 || true
    fi
    line=$(grep '^WRKRESULT' "$out" | tail -n 1 || true)
    if [[ -z $line ]]; then
        RPS[$key]=0; P50[$key]=nan; P99[$key]=nan; ERRS[$key]="no result"
        return 0
    fi
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    RPS[$key]=$(field rps)
    P50[$key]=$(field p50_ms)
    P99[$key]=$(field p99_ms)
    local non2xx sockerr
    non2xx=$(field non2xx)
    sockerr=$(field sockerr)
    if [[ $non2xx == 0 && $sockerr == 0 ]]; then
        ERRS[$key]=0
    else
        ERRS[$key]="non-2xx $non2xx, socket $sockerr"
    fi
    log "  -> ${RPS[$key]} req/s, p50 ${P50[$key]} ms, p99 ${P99[$key]} ms, errors ${ERRS[$key]}"
}

calc() { awk "BEGIN { printf \"%s\", $1 }"; }   # calc 'expr' (awk arithmetic)
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }

# ---------------------------------------------------------------- 1. HTTP ceiling
# The hello server answers any path, so it is driven with the same get.lua as
# durod: the client-side cost of both runs is identical.
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
start_server hello / "$HELLO_BIN" @PORT@
HELLO_URL="http://127.0.0.1:$PORT"
run_wrk hello16 16 get "$HELLO_URL"
run_wrk hello64 64 get "$HELLO_URL"
stop_pid "$SERVER_PID"

# ---------------------------------------------------------------- 2. SQLite ceiling
log "sqlite one-row-per-commit probe, ${SQLITE_SECONDS}s"
SQLITE_OUT=$(timeout -k 5 $((SQLITE_SECONDS + 60)) "$SQLITE_BIN" "$SQLITE_SECONDS" "$TMP") \
    || die "sqlite probe failed: $SQLITE_OUT"
SQLITE_RATE=$(sed -n 's/^commits\/s \([0-9.]*\).*/\1/p' <<<"$SQLITE_OUT")
SQLITE_P50=$(sed -n 's/^commit_latency_ms p50 \([0-9.]*\).*/\1/p' <<<"$SQLITE_OUT")
SQLITE_P99=$(sed -n 's/^commit_latency_ms .* p99 \([0-9.]*\).*/\1/p' <<<"$SQLITE_OUT")
[[ -n $SQLITE_RATE ]] || die "cannot parse sqlite probe output: $SQLITE_OUT"
log "  -> $SQLITE_RATE commits/s (p50 $SQLITE_P50 ms, p99 $SQLITE_P99 ms)"

# ---------------------------------------------------------------- 3. durod
PRELOAD_NOTE=""
if [[ $HAVE_DUROD == 1 ]]; then
    mkdir -p "$TMP/data"
    # shellcheck disable=SC2086  # DUROD_ARGS is a list of flags
    start_server durod /healthz "$DUROD_BIN" --listen 127.0.0.1:@PORT@ --data "$TMP/data" \
        --log-level error --rpc-port 0 $DUROD_ARGS
    DUROD_URL="http://127.0.0.1:$PORT"

    # Preload k0..k9999 with 100-byte values: one curl, 16 parallel keep-alive
    # transfers, every status counted (all must be 2xx), bounded to 120 s.
    log "preloading $NKEYS keys"
    VALUE=$(printf 'v%.0s' $(seq 100))
    t0=$(date +%s.%N)
    timeout -k 5 120 curl -s --no-progress-meter --parallel --parallel-max 16 \
        -X PUT -H 'Content-Type: application/json' -d "{\"value\":\"$VALUE\"}" \
        -o /dev/null -w '%{http_code}\n' \
        "$DUROD_URL/storage/k[0-$((NKEYS - 1))]?ns=bench" >"$TMP/preload.codes" 2>"$TMP/preload.err" || true
    t1=$(date +%s.%N)
    ok=$(grep -c '^2' "$TMP/preload.codes" || true)
    PRELOAD_NOTE="preload: $ok/$NKEYS PUTs 2xx in $(calc "$t1 - $t0" | xargs printf '%.1f') s (curl --parallel 16)"
    log "$PRELOAD_NOTE"
    if [[ $ok != "$NKEYS" ]]; then
        log "preload incomplete; status counts:"
        sort "$TMP/preload.codes" | uniq -c >&2
        head -n 5 "$TMP/preload.err" >&2 || true
        die "preload failed"
    fi
    [[ $(http_code "$DUROD_URL/storage/k$((NKEYS - 1))?ns=bench") == 200 ]] \
        || die "GET k$((NKEYS - 1)) after preload is not 200"

    # Warm-up (not recorded): every key read at least once, so GETs are cached.
    log "warm-up: 2 s of GETs"
    timeout -k 5 $((2 + WRK_SLACK)) wrk -t"$THREADS" -c16 -d2s -s bench/wrk/get.lua \
        "$DUROD_URL" "$NKEYS" >"$TMP/wrk-warmup.txt" 2>&1 || true

    for c in 16 64; do run_wrk "get$c" "$c" get "$DUROD_URL"; done
    for c in 16 64; do run_wrk "put$c" "$c" put "$DUROD_URL"; done
    for c in 16 64; do run_wrk "mixed$c" "$c" mixed "$DUROD_URL"; done
    run_wrk rl64 64 ratelimit "$DUROD_URL"
    kill -0 "$SERVER_PID" 2>/dev/null || die "durod died during the benchmark; log: $(tail -n 20 "$TMP/durod.log")"
    stop_pid "$SERVER_PID"
fi
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

# ---------------------------------------------------------------- 4. report
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [[ -n $(git status --porcelain 2>/dev/null | head -n 1) ]]; then GIT_REV="$GIT_REV (dirty tree)"; fi

row() {  # row LABEL CONNS KEY
    local k=$3
    printf '| %s | %s | %.0f | %s | %s | %s |\n' "$1" "$2" "${RPS[$k]}" "${P50[$k]}" "${P99[$k]}" "${ERRS[$k]}"
}

# target LABEL VALUE OP GOAL UNIT DISPLAY KEYS... : one line of the targets table.
# OP is ge (value >= goal) or le (value <= goal); the KEYS' runs must have no errors.
target() {
    local label=$1 value=$2 op=$3 goal=$4 unit=$5 display=$6 verdict k
    shift 6
    for k in "$@"; do
        if [[ ${ERRS[$k]:-missing} != 0 ]]; then
            printf '| %s | %s | %s %s%s | INVALID (%s run: %s) |\n' "$label" "$display" \
                "$([[ $op == ge ]] && echo '≥' || echo '≤')" "$goal" "$unit" "$k" "${ERRS[$k]:-missing}"
            return 0
        fi
    done
    if [[ $op == ge ]]; then
        verdict=$(awk -v v="$value" -v g="$goal" 'BEGIN {
            if (v >= g) print "PASS"; else printf "MISS (%.0f%% short)", (1 - v / g) * 100 }')
        printf '| %s | %s | ≥ %s%s | %s |\n' "$label" "$display" "$goal" "$unit" "$verdict"
    else
        verdict=$(awk -v v="$value" -v g="$goal" 'BEGIN {
            if (v <= g) print "PASS"; else printf "MISS (%.0f%% over)", (v / g - 1) * 100 }')
        printf '| %s | %s | ≤ %s%s | %s |\n' "$label" "$display" "$goal" "$unit" "$verdict"
    fi
}

report() {
    echo "### Run of $START_DATE"
    echo
    echo "- command: \`DURATION=$DURATION SQLITE_SECONDS=$SQLITE_SECONDS${DUROD_ARGS:+ DUROD_ARGS=\"$DUROD_ARGS\"} bench/run.sh\`" \
         "(wrk -t$THREADS -d${DURATION}s --latency, scripts in bench/wrk/, $NKEYS keys, 100-byte values, ns=bench)"
    echo "- machine: $(nproc) cores, $(uname -sr), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); git $GIT_REV"
    echo "- load average: $LOAD_BEFORE_BUILD before build, $LOAD_START at start, $END_LOAD at end" \
         "(client, servers and other work share the cores: numbers are noisy, same-run ratios are what count)"
    if [[ $HAVE_DUROD == 1 ]]; then
        echo "- durod: \`$DUROD_BIN --listen 127.0.0.1:PORT --data TMP --log-level error${DUROD_ARGS:+ $DUROD_ARGS}\`; $PRELOAD_NOTE; 2 s GET warm-up before the runs"
    else
        echo "- durod: not measured (not built, or CEILINGS_ONLY=1)"
    fi
    echo
    echo "| run | conns | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---|"
    row "hello (bare evhttp, 1 thread)" 16 hello16
    row "hello (bare evhttp, 1 thread)" 64 hello64
    printf '| SQLite WAL FULL, 1 row per commit | 1 | %.0f commits/s | %s | %s | 0 |\n' \
        "$SQLITE_RATE" "${SQLITE_P50:-?}" "${SQLITE_P99:-?}"
    if [[ $HAVE_DUROD == 1 ]]; then
        row "durod GET (cached)" 16 get16
        row "durod GET (cached)" 64 get64
        row "durod PUT" 16 put16
        row "durod PUT" 64 put64
        row "durod mixed 90/10" 16 mixed16
        row "durod mixed 90/10" 64 mixed64
        row "durod rate-limit check" 64 rl64
        echo
        echo "| target | measured | goal | result |"
        echo "|---|---|---|---|"
        local r
        r=$(div "${RPS[get64]}" "${RPS[hello64]}")
        target "cached GET -c64 / hello -c64" "$r" ge 0.80 "" \
            "$(printf '%.2f (%.0f / %.0f)' "$r" "${RPS[get64]}" "${RPS[hello64]}")" get64 hello64
        r=$(div "${RPS[put64]}" "${RPS[get64]}")
        target "PUT -c64 / cached GET -c64" "$r" ge 0.50 "" \
            "$(printf '%.2f (%.0f / %.0f)' "$r" "${RPS[put64]}" "${RPS[get64]}")" put64 get64
        r=$(div "${RPS[put64]}" "$SQLITE_RATE")
        target "PUT -c64 / SQLite 1-row commits" "$r" ge 5 "×" \
            "$(printf '%.1f× (%.0f / %.0f)' "$r" "${RPS[put64]}" "$SQLITE_RATE")" put64
        r=$(div "${RPS[rl64]}" "${RPS[get64]}")
        target "rate-limit check -c64 / cached GET -c64" "$r" ge 0.90 "" \
            "$(printf '%.2f (%.0f / %.0f)' "$r" "${RPS[rl64]}" "${RPS[get64]}")" rl64 get64
        target "p99 GET -c16" "${P99[get16]}" le 1 " ms" "${P99[get16]} ms" get16
        target "p99 PUT -c16" "${P99[put16]}" le 3 " ms" "${P99[put16]} ms" put16
    fi
}

mkdir -p "$(dirname "$RESULTS_OUT")"
report | tee "$RESULTS_OUT"
log "markdown written to $RESULTS_OUT (paste into bench/RESULTS.md)"
if [[ $HAVE_DUROD == 0 && $CEILINGS_ONLY != 1 ]]; then
    die "durod was not benchmarked (build $BUILD/durod first)"
fi
