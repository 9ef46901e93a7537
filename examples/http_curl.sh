#!/usr/bin/env bash
# http_curl.sh — a walk through every route family of durod's HTTP API with
# curl: KV, the snapshot, rate limiting, sessions, users and login, the
# registry, namespaces, server info and metrics (docs/api.md).
#
#   DURO_HTTP=http://127.0.0.1:8787 examples/http_curl.sh
#   DURO_TOKEN=... DURO_HTTP=... examples/http_curl.sh   # a server with --auth-token
#
# With DURO_TOKEN (the server's admin token) every request carries
# "Authorization: Bearer $DURO_TOKEN"; the login session then travels in the
# duro_session cookie.
#
# Every step prints the request and the reply, and checks the HTTP status (and,
# where it matters, the body); the script stops with status 1 at the first
# unexpected answer. It works in its own namespace ($DURO_NS, default
# "http-curl-example"), which it clears first and last.
set -euo pipefail

BASE=${DURO_HTTP:-http://127.0.0.1:8787}
NS=${DURO_NS:-http-curl-example}
J='Content-Type: application/json'
HDRS=$(mktemp)
trap 'rm -f "$HDRS"' EXIT

STATUS= BODY=
fail() { echo "http_curl.sh: FAILED: $*" >&2; exit 1; }

# call EXPECTED_STATUS METHOD PATH [curl args...]: one request; BODY, STATUS and
# the headers file are kept for the checks that follow.
call() {
    local want=$1 method=$2 path=$3
    shift 3
    echo "> $method $path $*"
    local out
    local auth=()
    [[ -z ${DURO_TOKEN:-} ]] || auth=(-H "Authorization: Bearer $DURO_TOKEN")
    out=$(curl -sS --max-time 10 -D "$HDRS" -X "$method" -w '\n%{http_code}' "${auth[@]}" "$@" \
        "$BASE$path") ||
        fail "curl could not reach $BASE$path"
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
    echo "< $STATUS $BODY"
    [[ $STATUS == "$want" ]] || fail "$method $path: status $STATUS, expected $want"
}
has() { [[ $BODY == *"$1"* ]] || fail "reply lacks '$1': $BODY"; }
header() { grep -i "^$1:" "$HDRS" | head -n1 | cut -d: -f2- | tr -d ' \r'; }

N="X-Namespace: $NS"

echo "# health"
call 200 GET /healthz
has ok
call 200 POST /storage/clear -H "$N"

echo "# put with a TTL and metadata, then get (value, ETag, metadata)"
call 200 PUT /storage/user:1 -H "$N" -H "$J" \
    -d '{"value":{"name":"Ada"},"ttlMs":60000,"metadata":{"owner":"me"}}'
has '"success":true'
has '"version":'
call 200 GET /storage/user:1 -H "$N"
has '"name":"Ada"'
ETAG=$(header ETag)
[[ $ETAG =~ ^\"[0-9]+\"$ ]] || fail "ETag is '$ETAG', expected a quoted version"
call 200 GET '/storage/user:1?meta=1' -H "$N"
has '"metadata":{"owner":"me"}'
has '"expiresAt":'

echo "# compare-and-set with If-Match; the old ETag is stale afterwards"
call 200 PUT /storage/user:1 -H "$N" -H "$J" -H "If-Match: $ETAG" -d '{"value":{"name":"Ada L."}}'
call 412 PUT /storage/user:1 -H "$N" -H "$J" -H "If-Match: $ETAG" -d '{"value":{"name":"stale"}}'
has PRECONDITION_FAILED
call 200 GET /storage/user:1 -H "$N"
has '"Ada L."'

echo "# create-only with If-None-Match: *"
call 200 PUT /storage/counter -H "$N" -H "$J" -H 'If-None-Match: *' -d '{"value":0}'
call 412 PUT /storage/counter -H "$N" -H "$J" -H 'If-None-Match: *' -d '{"value":1}'

echo "# POST works like PUT"
call 200 POST /storage/counter -H "$N" -H "$J" -d '{"value":5}'
call 200 GET /storage/counter -H "$N"
has 5

echo "# batches"
call 200 POST /storage/batch/set -H "$N" -H "$J" \
    -d '{"entries":[{"key":"a","value":1},{"key":"b","value":2,"ttlMs":60000}]}'
has '"count":2'
call 200 POST /storage/batch/get -H "$N" -H "$J" -d '{"keys":["a","b","zz"]}'
has '"a":1'
has '"b":2'
[[ $BODY != *'"zz"'* ]] || fail "batch/get returned the missing key zz"
call 200 POST /storage/batch/delete -H "$N" -H "$J" -d '{"keys":["a","b"]}'
has '"deleted":2'

echo "# list with paging: prefix, limit, cursor"
for i in 1 2 3; do
    call 200 PUT "/storage/item:$i" -H "$N" -H "$J" -d "{\"value\":$i}"
done
call 200 GET '/storage/list?prefix=item:&limit=2' -H "$N"
has '"keys":["item:1","item:2"]'
has '"list_complete":false'
CURSOR=$(printf '%s' "$BODY" | sed -n 's/.*"cursor":"\([^"]*\)".*/\1/p')
[[ -n $CURSOR ]] || fail "no cursor in the first page"
CURSOR_Q=$(printf '%s' "$CURSOR" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
call 200 GET "/storage/list?prefix=item:&limit=2&cursor=$CURSOR_Q" -H "$N"
has '"keys":["item:3"]'
has '"list_complete":true'
call 200 GET '/storage/list?prefix=item:&reverse=1&values=1' -H "$N"
has '"key":"item:3"'

echo "# namespaces: ?ns= wins over X-Namespace"
call 200 PUT "/storage/greeting?ns=$NS-2" -H "$N" -H "$J" -d '{"value":"hi"}'
call 200 GET /storage/greeting -H "X-Namespace: $NS-2"
has '"hi"'
call 404 GET /storage/greeting -H "$N"

echo "# percent-encoded keys: this is the key \"a/b é\""
call 200 PUT '/storage/a%2Fb%20%C3%A9' -H "$N" -H "$J" -d '{"value":1}'
call 200 GET '/storage/a%2Fb%20%C3%A9' -H "$N"

echo "# the storage proxy routes reach the same data"
call 200 PUT "/api/storage/kv/$NS-2/greeting" -H "$J" -d '{"value":"hello"}'
call 200 GET "/storage/greeting?ns=$NS-2"
has '"hello"'
call 200 GET "/api/storage/kv/$NS-2?prefix=gr&limit=10"
has greeting
call 200 DELETE "/api/storage/kv/$NS-2/greeting"
call 404 GET "/api/storage/kv/$NS-2/greeting"

echo "# binary values: raw bytes in and out, {\"\$bytes\": base64} for JSON readers (docs/kv.md)"
call 200 PUT /storage/blob -H "$N" -H 'Content-Type: application/octet-stream' --data-binary 'hi there'
call 200 GET /storage/blob -H "$N" -H 'Accept: application/octet-stream'
[[ $BODY == 'hi there' ]] || fail "raw GET answered '$BODY'"
[[ $(header Content-Type) == application/octet-stream ]] || fail "raw GET: $(header Content-Type)"
call 200 GET /storage/blob -H "$N"
has '{"$bytes":"aGkgdGhlcmU="}'
call 200 DELETE /storage/blob -H "$N"

echo "# delete, then the key is gone; errors are JSON"
call 200 DELETE /storage/user:1 -H "$N"
has '"deleted":true'
call 200 DELETE /storage/user:1 -H "$N"
has '"deleted":false'
call 404 GET /storage/user:1 -H "$N"
has '"code":"NOT_FOUND"'
call 400 PUT /storage/bad -H "$N" -H "$J" -d '{"value":'
has '"success":false'

echo "# the registry lists every resource, tracked with no extra call (docs/registry.md)"
call 200 PUT /storage/doc:1 -H "$N" -H "$J" -d '{"value":{"title":"hi"},"metadata":{"owner":"ada"}}'
call 200 GET "/api/resources/list?type=kv&namespace=$NS&key_prefix=doc:"
has '"key":"doc:1"'
has '"metadata":{"owner":"ada"}'
call 201 POST /api/resources/register -H "$J" -d "{\"type\":\"do\",\"namespace\":\"$NS\",\"key\":\"Room:1\"}"
call 200 GET "/api/resources/stats?namespace=$NS"
has '"do":1'
call 200 DELETE "/api/resources/unregister?type=do&namespace=$NS&key=Room:1"
has '"deleted":true'

echo "# the whole namespace as one document: GET, then PATCH with If-Match (docs/snapshot.md)"
call 200 GET "/api/storage?ns=$NS"
SNAP=$(header ETag)
call 200 PATCH "/api/storage?ns=$NS" -H "$J" -H "If-Match: $SNAP" \
    -d '[{"op":"set","key":"snap:1","value":{"n":1}},{"op":"del","key":"counter"}]'
has '"version":'
call 412 PATCH "/api/storage?ns=$NS" -H "$J" -H "If-Match: $SNAP" -d '[]'

echo "# rate limiting: 2 per minute, the third is denied (docs/ratelimit.md)"
call 200 POST "/ratelimit/login:ada/check?ns=$NS" -H "$J" -d '{"limit":2,"windowMs":60000}'
has '"allowed":true'
call 200 POST "/ratelimit/login:ada/check?ns=$NS"
call 429 POST "/ratelimit/login:ada/check?ns=$NS&enforce=1"
has RATE_LIMITED
call 200 GET "/ratelimit/login:ada?ns=$NS"
has '"remaining":0'
call 200 DELETE "/ratelimit/login:ada?ns=$NS"

echo "# sessions: create (201), read, list a user's, revoke (docs/sessions.md)"
call 201 POST "/sessions?ns=$NS" -H "$J" -d '{"data":{"cart":[]},"ttlMs":600000,"userId":"ada"}'
SID=$(printf '%s' "$BODY" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[[ -n $SID ]] || fail "no session id"
call 200 GET "/sessions/$SID?ns=$NS"
has '"cart":[]'
call 200 PUT "/sessions/$SID?ns=$NS" -H "$J" -d '{"data":{"cart":[1]}}'
call 200 GET "/users/ada/sessions?ns=$NS"
has '"count":1'
call 200 DELETE "/users/ada/sessions?ns=$NS"
has '"deleted":1'

echo "# users and password login: register (201), log in, who am I, log out (docs/auth.md)"
call 201 POST "/auth/users?ns=$NS" -H "$J" -d '{"email":"ada@example.com","password":"correct horse"}'
call 200 POST "/auth/login?ns=$NS" -H "$J" -d '{"email":"ada@example.com","password":"correct horse"}'
LOGIN=$(printf '%s' "$BODY" | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
call 200 GET "/auth/session?ns=$NS" -H "Cookie: duro_session=$LOGIN"
call 200 POST "/auth/logout?ns=$NS" -H "Cookie: duro_session=$LOGIN"
call 401 GET "/auth/session?ns=$NS" -H "Cookie: duro_session=$LOGIN"

echo "# namespaces and the server (docs/namespaces.md), metrics (docs/metrics.md)"
call 200 GET "/api/namespaces?prefix=$NS"
has "\"namespace\":\"$NS\""
call 200 GET "/api/namespaces/$NS"
has '"keys":'
call 200 GET /api/info
has '"version":'
call 200 GET /metrics
[[ $BODY == *duro_build_info* ]] || fail "/metrics lacks duro_build_info"

echo "# clear"
call 200 POST /storage/clear -H "$N"
has '"deleted":'
call 200 GET '/storage/list' -H "$N"
has '"keys":[]'
call 200 POST "/storage/clear?ns=$NS-2"

echo "http_curl.sh: every step answered as expected"
