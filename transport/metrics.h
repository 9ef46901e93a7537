/*
 * metrics.h — HTTP request counters and the Prometheus text of /metrics.
 * Counters are relaxed atomics, safe from any thread.
 */
#ifndef DURO_METRICS_H
#define DURO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Routes as they appear in the `route` label. */
#define DURO_ROUTES(X)                                                                      \
    X(KV_GET, "kv_get") X(KV_PUT, "kv_put") X(KV_DELETE, "kv_delete")                       \
    X(KV_BATCH_GET, "kv_batch_get") X(KV_BATCH_SET, "kv_batch_set")                         \
    X(KV_BATCH_DELETE, "kv_batch_delete") X(KV_LIST, "kv_list") X(KV_CLEAR, "kv_clear")     \
    X(RL_CHECK, "ratelimit_check") X(RL_GET, "ratelimit_get") X(RL_RESET, "ratelimit_reset")   \
    X(SESSION, "session") X(AUTH, "auth") X(SNAPSHOT, "snapshot") X(RESOURCES, "resources")    \
    X(NAMESPACES, "namespaces") X(INFO, "info") X(OPTIONS, "options")                       \
    X(BLOB_GET, "blob_get") X(BLOB_PUT, "blob_put") X(BLOB_DELETE, "blob_delete")           \
    X(BLOB_LIST, "blob_list") X(SQL, "sql")                                                 \
    X(HEALTHZ, "healthz") X(METRICS, "metrics") X(OTHER, "other")

enum duro_route {
#define DURO__R(name, label) DURO_ROUTE_##name,
    DURO_ROUTES(DURO__R)
#undef DURO__R
    DURO_ROUTE_COUNT
};

/* Counts one finished request: its route, HTTP status and latency. */
void duro_metrics_request(int route, int http_status, uint64_t micros);

/* Binary-protocol requests that are no kind's op (duro_metrics_rpc's op
 * when kind is -1). */
enum { DURO_RPC_PING = 0, DURO_RPC_AUTH, DURO_RPC_OTHER, DURO_RPC_SPECIAL };

/* Counts one finished binary-protocol request: a kind's op (kind, op as in
 * the kind table), or kind -1 and op one of DURO_RPC_*; status a duro_status
 * (the wire's number); micros its latency (0 for one answered at once). */
void duro_metrics_rpc(int kind, int op, int status, uint64_t micros);

/* Counts the answer of an auth op (objects/auth.h), over either protocol:
 * a refused password (UNAUTHORIZED of a login or a password change) or a
 * throttled attempt (RATE_LIMITED). */
void duro_metrics_auth(int op, int status);

/* A binary-protocol connection opened (+1) or went away (-1). */
void duro_metrics_rpc_connection(int delta);

struct duro_runtime;
/* Appends the whole exposition text. 0 / -1. */
int duro_metrics_render(duro_buf *out, struct duro_runtime *rt, long connections,
                        size_t pending_bytes);

#endif
