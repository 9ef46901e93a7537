#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS — runs every libFuzzer binary BUILD_DIR/tests/fuzz/fuzz_*
# for SECONDS each, one after the other, starting from a scratch copy of its
# seed corpus tests/fuzz/corpus/<target>/ (the committed corpus never grows).
# Crash inputs land in tests/fuzz/ (git-ignored, or $FUZZ_ARTIFACTS). Exits
# non-zero if any target fails.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [SECONDS]" >&2
    exit 2
fi
build=$1
seconds=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts=${FUZZ_ARTIFACTS:-$root/tests/fuzz}

shopt -s nullglob
targets=()
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz_* binaries in $build/tests/fuzz (configure with -DDURO_FUZZ=ON)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/duro-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

failed=()
for bin in "${targets[@]}"; do
    name=$(basename "$bin")
    corpus=$work/$name
    mkdir -p "$corpus"
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -R "$root/tests/fuzz/corpus/$name/." "$corpus/"
    fi
    echo "== $name: ${seconds}s"
    if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" \
        >"$work/$name.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)|DONE' "$work/$name.log" || true
        echo "== $name: ok"
    else
        tail -n 60 "$work/$name.log"
        echo "== $name: FAILED (artifacts in $artifacts)"
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ok"
