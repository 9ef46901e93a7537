#!/usr/bin/env bash
# bench/blob.sh — blob PUT and GET throughput (issue 12) against the same bytes
# copied with cp + fsync on the same disk, in the same run.
#
# For each size (1 MiB and 16 MiB), COUNT objects of random bytes:
#   reference PUT  cp SRC DIR/ref-i, then fsync it (dd conv=fsync, one file each:
#                  what a durable write of those bytes costs on this disk)
#   reference GET  the same cp+fsync figure (the issue's reference for both), and,
#                  for information, cat of the COUNT copies to /dev/null (page cache)
#   durod PUT      one curl, one keep-alive connection: PUT /api/storage/r2/b/i
#                  COUNT times (each acknowledged after its file and row are on disk)
#   durod GET      the same for GET, bodies to /dev/null
# and prints MB/s and the ratios to cp+fsync (targets: PUT >= 0.5, GET >= 0.8). Checks the
# server's count of blob requests (duro_http_requests_total) against what curl sent.
#
# Usage:  bench/blob.sh       (BUILD=build COUNT1=64 COUNT16=8 ROUNDS=3)
# Only 127.0.0.1 and a free port; only the durod started here is stopped (by
# PID); data lives in a mktemp -d dir beside the build (same disk), removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
COUNT1=${COUNT1:-64}
COUNT16=${COUNT16:-8}
ROUNDS=${ROUNDS:-3}
DUROD="$BUILD/durod"
[ -x "$DUROD" ] || cmake --build "$BUILD" --target durod >/dev/null
command -v curl >/dev/null || { echo "bench/blob.sh: needs curl"; exit 0; }

TMP=$(mktemp -d "$ROOT/$BUILD/blob-bench.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DUROD" --listen "127.0.0.1:$PORT" --rpc-port 0 --data "$TMP/data" --log-level warn &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print('%.0f' % ($1 / 1048576 / ($3 - $2)))"; }
blob_requests() {
    curl -s "http://127.0.0.1:$PORT/metrics" |
        awk '/^duro_http_requests_total\{route="blob_(put|get)"/ {n += $2} END {print n + 0}'
}

run_size() { # MiB COUNT
    local mib=$1 count=$2 bytes=$(( $1 * 1048576 * $2 ))
    head -c $(( mib * 1048576 )) /dev/urandom >"$TMP/src"
    local best_rp=0 best_rg=0 best_dp=0 best_dg=0
    for round in $(seq "$ROUNDS"); do
        rm -f "$TMP"/ref-*
        sync
        local t0 t1 args=()
        t0=$(now)
        for i in $(seq "$count"); do
            dd if="$TMP/src" of="$TMP/ref-$i" bs=1M conv=fsync status=none
        done
        t1=$(now); local rp; rp=$(mbps $bytes "$t0" "$t1")
        t0=$(now); cat "$TMP"/ref-* >/dev/null; t1=$(now); local rg; rg=$(mbps $bytes "$t0" "$t1")
        args=()
        for i in $(seq "$count"); do
            args+=(-o /dev/null -T "$TMP/src" "http://127.0.0.1:$PORT/api/storage/r2/b/s$mib-$i")
        done
        t0=$(now)
        curl -sf -H "Content-Type: application/octet-stream" "${args[@]}"
        t1=$(now); local dp; dp=$(mbps $bytes "$t0" "$t1")
        args=()
        for i in $(seq "$count"); do
            args+=(-o /dev/null "http://127.0.0.1:$PORT/api/storage/r2/b/s$mib-$i")
        done
        t0=$(now); curl -sf "${args[@]}"; t1=$(now); local dg; dg=$(mbps $bytes "$t0" "$t1")
        best_rp=$(( rp > best_rp ? rp : best_rp )); best_rg=$(( rg > best_rg ? rg : best_rg ))
        best_dp=$(( dp > best_dp ? dp : best_dp )); best_dg=$(( dg > best_dg ? dg : best_dg ))
    done
    python3 - "$mib" "$count" $best_rp $best_rg $best_dp $best_dg <<'EOF'
import sys
mib, count, rp, rg, dp, dg = map(int, sys.argv[1:])
print("| %d MiB x %d | PUT | %d MB/s | %d MB/s | %.2f | >= 0.5 | %s |"
      % (mib, count, rp, dp, dp / rp, "PASS" if dp / rp >= 0.5 else "MISS"))
print("| %d MiB x %d | GET | %d MB/s | %d MB/s | %.2f | >= 0.8 | %s (cat of the copies: %d MB/s, %.2f) |"
      % (mib, count, rp, dg, dg / rp, "PASS" if dg / rp >= 0.8 else "MISS", rg, dg / rg))
EOF
}

echo "| objects | op | cp+fsync | durod | ratio | target | |"
echo "|---|---|---:|---:|---:|---|---|"
before=$(blob_requests)
run_size 1 "$COUNT1"
run_size 16 "$COUNT16"
after=$(blob_requests)
sent=$(( (COUNT1 + COUNT16) * 2 * ROUNDS ))
echo
echo "server counted $(( after - before )) blob requests; curl sent $sent"
[ $(( after - before )) -eq "$sent" ] || { echo "COUNT MISMATCH"; exit 1; }
