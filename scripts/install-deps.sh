#!/usr/bin/env bash
# install-deps.sh [bench] — installs the Debian packages duro needs to build and
# test (and, with "bench", to benchmark: Redis for bench/redis.sh), but only
# those that are missing (no network use when all are there).
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev curl
      libevent-dev libsqlite3-dev libmsgpack-dev libjansson-dev libsodium-dev libedit-dev
      python3 python3-msgpack python3-jsonschema python3-yaml wrk
      python3-pip python3-setuptools nodejs)  # the SDKs' tests: pip install, node --test
if [ "${1:-}" = bench ]; then
    pkgs+=(redis-server redis-tools)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
