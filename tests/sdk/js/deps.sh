#!/usr/bin/env bash
# deps.sh PACKAGE_JSON DIR — installs the JS SDK's dev dependencies (express and the
# two middlewares its tests drive) from the npm registry into DIR/node_modules, once:
# a DIR whose package.json matches and whose node_modules has them is left alone.
set -euo pipefail
pkg=$1 dir=$2
mkdir -p "$dir"
if cmp -s "$pkg" "$dir/package.json" && [ -d "$dir/node_modules/express-session" ] &&
   [ -d "$dir/node_modules/express-rate-limit" ] && [ -d "$dir/node_modules/express" ]; then
    exit 0
fi
cp "$pkg" "$dir/package.json"
cd "$dir"
for attempt in 1 2 3; do
    if timeout 300 npm install --no-audit --no-fund --ignore-scripts --loglevel=error; then
        exit 0
    fi
    echo "deps.sh: npm install failed (try $attempt of 3)" >&2
    sleep 5
done
exit 1
