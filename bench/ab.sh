#!/usr/bin/env bash
# bench/ab.sh — A/B write throughput of two durod binaries, alternating.
#
#   bench/ab.sh ROUNDS BIN_A BIN_B
#
# Per round and binary: a fresh data dir, 6 s of wrk PUT (bench/wrk/put.lua,
# -t2 -c64; it writes every key k0..k9999), 6 s of wrk GET (get.lua) of those
# keys, 6 s each of `duro bench --op set` and `--op get` (--clients 4
# --pipeline 64) over the binary protocol (this tree's build/duro), and 6 s
# each of kv.get and kv.put from bench_rpcload (4 connections, 64 in flight
# each: the minimal client, the check that duro bench is not the bottleneck).
# Each run also compares the binary ops the clients counted with the server's
# duro_kv_ops_total and prints both. Prints one line per run and the sums. Only 127.0.0.1; only the servers started here are
# stopped, by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 3 && $1 =~ ^[0-9]+$ ]] || { echo "usage: bench/ab.sh ROUNDS BIN_A BIN_B" >&2; exit 2; }
rounds=$1; shift
[[ -x build/duro && -x build/bench/bench_rpcload ]] ||
    { echo "build/duro or build/bench/bench_rpcload missing (cmake --build build)" >&2; exit 2; }
kvops() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^duro_kv_ops_total/ {print $2}'; }
mini() { timeout 60 build/bench/bench_rpcload "$rpc" 4 64 "$1" 6 | sed -n 's/.* = \([0-9]*\) ops\/s/\1/p'; }
out=$(mktemp)
pid=""
cleanup() { [[ -z $pid ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; rm -f "$out"; }
trap cleanup EXIT
for r in $(seq "$rounds"); do
    for bin in "$@"; do
        d=$(mktemp -d)
        # the duro CLI built with that durod (the protocol may differ), else this tree's
        cli=$(dirname "$bin")/duro; [[ -x $cli ]] || cli=build/duro
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
        k0=$(kvops)
        bj=$(timeout 60 "$cli" -u "duro://127.0.0.1:$rpc" bench --op set --clients 4 \
            --pipeline 64 --duration 6 --json)
        bgj=$(timeout 60 "$cli" -u "duro://127.0.0.1:$rpc" bench --op get --clients 4 \
            --pipeline 64 --duration 6 --json)
        k1=$(kvops)
        b=$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$bj")
        bg=$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$bgj")
        counted=$(( $(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$bj") + \
                    $(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$bgj") ))
        echo "  duro bench counted $counted ops; the server counted $((k1 - k0)) kv ops" >&2
        mg=$(mini get)
        mp=$(mini put)
        kill "$pid"; wait "$pid" || true; pid=""
        rm -rf "$d"
        echo "$r $bin ${h:-0} ${g:-0} ${b:-0} ${bg:-0} ${mg:-0} ${mp:-0}" | tee -a "$out"
    done
done
echo "sums (binary, HTTP PUT req/s, HTTP GET req/s, duro bench set, duro bench get,"
echo "      rpcload get, rpcload put ops/s):"
awk '{h[$2] += $3; g[$2] += $4; b[$2] += $5; bg[$2] += $6; mg[$2] += $7; mp[$2] += $8}
     END {for (k in h) printf "%s %.0f %.0f %.0f %.0f %.0f %.0f\n", k, h[k], g[k], b[k], bg[k],
                               mg[k], mp[k]}' "$out"
