#!/usr/bin/env bash
# bench/ab.sh — A/B write throughput of two durod binaries, alternating.
#
#   bench/ab.sh ROUNDS BIN_A BIN_B
#
# Per round and binary: a fresh data dir, 6 s of wrk PUT (bench/wrk/put.lua,
# -t2 -c64; it writes every key k0..k9999), 6 s of wrk GET (get.lua) of those
# keys, and 6 s each of `duro bench --op set` and `--op get` (--clients 4
# --pipeline 64) over the binary protocol (this tree's build/duro). Prints one
# line per run and the sums. Only 127.0.0.1; only the servers started here are
# stopped, by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 3 && $1 =~ ^[0-9]+$ ]] || { echo "usage: bench/ab.sh ROUNDS BIN_A BIN_B" >&2; exit 2; }
rounds=$1; shift
[[ -x build/duro ]] || { echo "build/duro missing (cmake --build build)" >&2; exit 2; }
out=$(mktemp)
pid=""
cleanup() { [[ -z $pid ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; rm -f "$out"; }
trap cleanup EXIT
for r in $(seq "$rounds"); do
    for bin in "$@"; do
        d=$(mktemp -d)
        for _try in 1 2 3 4 5; do  # a random port may be taken: try another
            port=$((30000 + RANDOM % 20000)); rpc=$((port + 1))
            "$bin" --listen "127.0.0.1:$port" --rpc-port "$rpc" --data "$d" --log-level error &
            pid=$!
            for _ in $(seq 50); do
                curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break 2
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            wait "$pid" 2>/dev/null || true; pid=""
        done
        [[ -n $pid ]] || { echo "cannot start $bin" >&2; exit 1; }
        h=$(timeout 60 wrk -t2 -c64 -d6s -s bench/wrk/put.lua "http://127.0.0.1:$port" 10000 |
            sed -n 's/^WRKRESULT rps=\([0-9.]*\).*/\1/p')
        g=$(timeout 60 wrk -t2 -c64 -d6s -s bench/wrk/get.lua "http://127.0.0.1:$port" 10000 |
            sed -n 's/^WRKRESULT rps=\([0-9.]*\).*/\1/p')
        b=$(timeout 60 build/duro -u "duro://127.0.0.1:$rpc" bench --op set --clients 4 \
            --pipeline 64 --duration 6 --json | sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p')
        bg=$(timeout 60 build/duro -u "duro://127.0.0.1:$rpc" bench --op get --clients 4 \
            --pipeline 64 --duration 6 --json | sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p')
        kill "$pid"; wait "$pid" || true; pid=""
        rm -rf "$d"
        echo "$r $bin ${h:-0} ${g:-0} ${b:-0} ${bg:-0}" | tee -a "$out"
    done
done
echo "sums (binary, HTTP PUT req/s, HTTP GET req/s, binary set ops/s, binary get ops/s):"
awk '{h[$2] += $3; g[$2] += $4; b[$2] += $5; bg[$2] += $6}
     END {for (k in h) printf "%s %.0f %.0f %.0f %.0f\n", k, h[k], g[k], b[k], bg[k]}' "$out"
