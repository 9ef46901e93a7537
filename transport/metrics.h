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
    X(HEALTHZ, "healthz") X(METRICS, "metrics") X(OTHER, "other")

enum duro_route {
#define DURO__R(name, label) DURO_ROUTE_##name,
    DURO_ROUTES(DURO__R)
#undef DURO__R
    DURO_ROUTE_COUNT
};

/* Counts one finished request: its route, HTTP status and latency. */
void duro_metrics_request(int route, int http_status, uint64_t micros);

struct duro_runtime;
/* Appends the whole exposition text. 0 / -1. */
int duro_metrics_render(duro_buf *out, struct duro_runtime *rt, long connections,
                        size_t pending_bytes);

#endif
