/* metrics.c — request counters, latency histogram, runtime gauges. */
#include "transport/metrics.h"

#include "duro/version.h"
#include "common/frame.h"
#include "objects/auth.h"
#include "objects/object.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"

static const char *const route_names[] = {
#define DURO__R(name, label) label,
    DURO_ROUTES(DURO__R)
#undef DURO__R
};

static const int statuses[] = {200, 201, 204, 206, 304, 400, 401, 403, 404, 405,
                               409, 412, 413, 415, 416, 429, 500, 503, 507};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

/* Histogram upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                     100000, 250000, 1000000};
#define NBOUNDS (sizeof bounds_us / sizeof bounds_us[0])

/* binary protocol: by kind, op and status; all ops share one histogram */
#define RPC_OPS 16
#define RPC_STATUSES 32

/* The counters, in SHARDS copies: each thread that counts adds to its own
 * (the I/O threads count every request; one shared copy had its cache lines
 * bouncing between them: ~4% of GET pipeline 16 with two I/O threads), and
 * the exposition sums them. */
typedef struct counters {
    uint64_t requests[DURO_ROUTE_COUNT][NSTATUS + 1]; /* last column: other statuses */
    uint64_t buckets[DURO_ROUTE_COUNT][NBOUNDS + 1];
    uint64_t sum_us[DURO_ROUTE_COUNT];
    uint64_t rpc_requests[DURO_KIND_MAX + 1][RPC_OPS][RPC_STATUSES];
    uint64_t rpc_special[DURO_RPC_SPECIAL][RPC_STATUSES];
    uint64_t rpc_buckets[NBOUNDS + 1];
    uint64_t rpc_sum_us, rpc_connections;
    uint64_t login_failures, login_throttled;
} counters;

#define SHARDS 8
static _Alignas(64) counters shards[SHARDS];
static unsigned next_shard; /* atomic */

static counters *mine(void)
{
    static _Thread_local counters *c;
    if (!c)
        c = &shards[__atomic_fetch_add(&next_shard, 1, __ATOMIC_RELAXED) % SHARDS];
    return c;
}

/* The sum over the shards of the counter at byte offset off of a shard. */
static uint64_t sum_at(size_t off)
{
    uint64_t v = 0;
    for (int i = 0; i < SHARDS; i++)
        v += __atomic_load_n((const uint64_t *)((const char *)&shards[i] + off), __ATOMIC_RELAXED);
    return v;
}

#define ADD(x, n) __atomic_fetch_add(&mine()->x, (n), __ATOMIC_RELAXED)
#define GET(x) sum_at((size_t)((const char *)&shards[0].x - (const char *)&shards[0]))

static size_t bucket_of(uint64_t micros)
{
    size_t b = 0;
    while (b < NBOUNDS && micros > bounds_us[b])
        b++;
    return b;
}

void duro_metrics_request(int route, int http_status, uint64_t micros)
{
    if (route < 0 || route >= DURO_ROUTE_COUNT)
        route = DURO_ROUTE_OTHER;
    size_t s = 0;
    while (s < NSTATUS && statuses[s] != http_status)
        s++;
    ADD(requests[route][s], 1);
    ADD(buckets[route][bucket_of(micros)], 1);
    ADD(sum_us[route], micros);
}

void duro_metrics_rpc(int kind, int op, int status, uint64_t micros)
{
    int st = status >= 0 && status < RPC_STATUSES ? status : DURO_INTERNAL;
    if (kind >= 0 && kind <= DURO_KIND_MAX && op >= 0 && op < RPC_OPS)
        ADD(rpc_requests[kind][op][st], 1);
    else
        ADD(rpc_special[op >= 0 && op < DURO_RPC_SPECIAL ? op : DURO_RPC_OTHER][st], 1);
    ADD(rpc_buckets[bucket_of(micros)], 1);
    ADD(rpc_sum_us, micros);
}

void duro_metrics_auth(int op, int status)
{
    if (op != DURO_AUTH_LOGIN && op != DURO_AUTH_PASSWORD)
        return;
    if (status == DURO_UNAUTHORIZED)
        ADD(login_failures, 1);
    else if (status == DURO_RATE_LIMITED)
        ADD(login_throttled, 1);
}

void duro_metrics_rpc_connection(int delta)
{
    ADD(rpc_connections, (uint64_t)(int64_t)delta);
}

/* An unlabeled histogram: counts[0..nb] (the last is +Inf; read with atomic
 * loads) by upper bounds in microseconds, their sum. 0 / -1. */
static int histogram(duro_buf *o, const char *name, const char *help, const uint64_t *counts,
                     const uint64_t *bounds, size_t nb, uint64_t total_us)
{
    int rc = duro_buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b <= nb; b++) {
        cum += __atomic_load_n(&counts[b], __ATOMIC_RELAXED);
        if (b < nb)
            rc |= duro_buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[b] / 1e6,
                                  (unsigned long long)cum);
        else
            rc |= duro_buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    rc |= duro_buf_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)total_us / 1e6, name,
                          (unsigned long long)cum);
    return rc;
}

/* The binary protocol's part of the exposition text. 0 / -1. */
static int render_rpc(duro_buf *o)
{
    static const char *const special[DURO_RPC_SPECIAL] = {"ping", "auth", "other"};
    int rc = duro_buf_puts(o, "# HELP duro_rpc_requests_total Binary-protocol requests by op and"
                              " status.\n# TYPE duro_rpc_requests_total counter\n");
    for (int id = 0; id <= DURO_KIND_MAX; id++) {
        const duro_kind *k = duro_object_kinds.kinds[id];
        for (int op = 0; k && k->ops && op < k->n_ops && op < RPC_OPS; op++)
            for (int st = 0; k->ops[op] && st < RPC_STATUSES; st++) {
                uint64_t v = GET(rpc_requests[id][op][st]);
                if (v)
                    rc |= duro_buf_printf(o, "duro_rpc_requests_total{op=\"%s\",status=\"%s\"} %llu\n",
                                          k->ops[op], duro_status_code(st), (unsigned long long)v);
            }
    }
    for (int s = 0; s < DURO_RPC_SPECIAL; s++)
        for (int st = 0; st < RPC_STATUSES; st++) {
            uint64_t v = GET(rpc_special[s][st]);
            if (v)
                rc |= duro_buf_printf(o, "duro_rpc_requests_total{op=\"%s\",status=\"%s\"} %llu\n",
                                      special[s], duro_status_code(st), (unsigned long long)v);
        }
    uint64_t rpc_buckets[NBOUNDS + 1];
    for (size_t b = 0; b <= NBOUNDS; b++)
        rpc_buckets[b] = GET(rpc_buckets[b]);
    rc |= histogram(o, "duro_rpc_request_duration_seconds",
                    "Binary-protocol request latency, every op.", rpc_buckets, bounds_us, NBOUNDS,
                    GET(rpc_sum_us));
    rc |= duro_buf_printf(o, "# HELP duro_rpc_connections Open binary-protocol connections.\n"
                             "# TYPE duro_rpc_connections gauge\nduro_rpc_connections %lld\n",
                          (long long)GET(rpc_connections));
    return rc;
}

static int counter(duro_buf *o, const char *name, const char *help, uint64_t v)
{
    return duro_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                           name, (unsigned long long)v);
}

static int gauge(duro_buf *o, const char *name, const char *help, uint64_t v)
{
    return duro_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
                           (unsigned long long)v);
}

int duro_metrics_render(duro_buf *o, struct duro_runtime *rt, long connections,
                        size_t pending_bytes)
{
    int rc = 0;
    rc |= duro_buf_printf(o, "# HELP duro_build_info The version of this durod (always 1).\n"
                             "# TYPE duro_build_info gauge\n"
                             "duro_build_info{version=\"%s\",protocol=\"%d\"} 1\n",
                          DURO_VERSION_STRING, DURO_PROTOCOL_VERSION);
    rc |= duro_buf_puts(o, "# HELP duro_http_requests_total HTTP requests by route and status.\n"
                           "# TYPE duro_http_requests_total counter\n");
    for (int r = 0; r < DURO_ROUTE_COUNT; r++)
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t v = GET(requests[r][s]);
            if (!v)
                continue;
            if (s < NSTATUS)
                rc |= duro_buf_printf(o, "duro_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                      route_names[r], statuses[s], (unsigned long long)v);
            else
                rc |= duro_buf_printf(o, "duro_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                                      route_names[r], (unsigned long long)v);
        }
    rc |= duro_buf_puts(o, "# HELP duro_http_request_duration_seconds Request latency.\n"
                           "# TYPE duro_http_request_duration_seconds histogram\n");
    for (int r = 0; r < DURO_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++)
            cum += GET(buckets[r][b]);
        if (!cum)
            continue;
        cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += GET(buckets[r][b]);
            if (b < NBOUNDS)
                rc |= duro_buf_printf(o,
                                      "duro_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                                      route_names[r], (double)bounds_us[b] / 1e6,
                                      (unsigned long long)cum);
            else
                rc |= duro_buf_printf(o,
                                      "duro_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                                      route_names[r], (unsigned long long)cum);
        }
        rc |= duro_buf_printf(o, "duro_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                              route_names[r], (double)GET(sum_us[r]) / 1e6);
        rc |= duro_buf_printf(o, "duro_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                              route_names[r], (unsigned long long)cum);
    }
    rc |= render_rpc(o);
    rc |= counter(o, "duro_auth_login_failures_total",
                  "Failed password checks (login, password change), unknown emails included.",
                  GET(login_failures));
    rc |= counter(o, "duro_auth_login_throttled_total",
                  "Logins and password changes refused for too many recent failures.",
                  GET(login_throttled));
    for (int id = 0; id < DURO_KIND_MAX; id++) {
        const duro_kind *k = duro_object_kinds.kinds[id];
        if (k && k->metric)
            rc |= counter(o, k->metric, k->metric_help, DURO_STAT_GET(ops[id]));
    }
    rc |= counter(o, "duro_registry_notices_total",
                  "Change notices (one per namespace commit) applied by the registry.",
                  DURO_STAT_GET(registry_notices));
    rc |= counter(o, "duro_registry_folded_total",
                  "Change notice records not applied because a later record of the same"
                  " resource in the same batch replaced them.",
                  DURO_STAT_GET(registry_folded));
    rc |= counter(o, "duro_registry_queries_total", "Registry lists and stats answered.",
                  DURO_STAT_GET(registry_queries));
    rc |= counter(o, "duro_registry_commits_total", "Registry group transactions committed.",
                  DURO_STAT_GET(registry_commits));
    rc |= counter(o, "duro_registry_failures_total",
                  "Registry group transactions lost to a storage error (then repaired).",
                  DURO_STAT_GET(registry_failures));
    rc |= counter(o, "duro_registry_repairs_total",
                  "Registry repairs after lost change notices, completed while running.",
                  DURO_STAT_GET(registry_repairs));
    rc |= counter(o, "duro_commits_total", "Committed namespace transactions.",
                  DURO_STAT_GET(commits));
    rc |= histogram(o, "duro_commit_duration_seconds",
                    "Time of each namespace COMMIT (fsync included).", duro_stats.commit_us_buckets,
                    duro_commit_bounds_us, DURO_COMMIT_BUCKETS, DURO_STAT_GET(commit_us_sum));
    rc |= counter(o, "duro_commit_failures_total", "Rolled back namespace transactions.",
                  DURO_STAT_GET(commit_failures));
    rc |= counter(o, "duro_log_writes_total",
                  "Batches written to the actors' commit logs (one write each).",
                  DURO_STAT_GET(log_writes));
    rc |= counter(o, "duro_log_syncs_total", "fdatasyncs of the commit logs.",
                  DURO_STAT_GET(log_syncs));
    rc |= counter(o, "duro_log_bytes_total", "Bytes written to the commit logs.",
                  DURO_STAT_GET(log_bytes));
    rc |= counter(o, "duro_log_applies_total",
                  "Open transactions applied (committed) to namespace files.",
                  DURO_STAT_GET(applies));
    rc |= counter(o, "duro_log_replayed_total",
                  "Commit-log records replayed into namespace files at start.",
                  DURO_STAT_GET(log_replayed));
    rc |= counter(o, "duro_log_deferred_total",
                  "Writes acknowledged from the commit log, their rows kept in memory until a settle.",
                  DURO_STAT_GET(deferred));
    rc |= counter(o, "duro_log_settles_total",
                  "Times a namespace's deferred rows were written to its SQLite transaction.",
                  DURO_STAT_GET(settles));
    rc |= counter(o, "duro_log_drip_steps_total",
                  "Steps of up to 64 deferred rows an apply wrote between request batches.",
                  DURO_STAT_GET(drip_steps));
    rc |= counter(o, "duro_cache_hits_total", "Reads answered from the value cache.",
                  DURO_STAT_GET(cache_hits));
    rc |= counter(o, "duro_cache_misses_total", "Reads that went to SQLite.",
                  DURO_STAT_GET(cache_misses));
    rc |= counter(o, "duro_cache_evictions_total", "Cache entries evicted.",
                  DURO_STAT_GET(cache_evictions));
    rc |= gauge(o, "duro_cache_bytes", "Bytes held by the value cache.",
                DURO_STAT_GET(cache_bytes));
    rc |= counter(o, "duro_keys_expired_total", "Keys deleted by the TTL sweep.",
                  DURO_STAT_GET(keys_expired));
    rc |= gauge(o, "duro_open_namespaces", "Open namespace files.",
                DURO_STAT_GET(open_namespaces));
    rc |= gauge(o, "duro_mailbox_depth", "Messages queued for actors and the registry.",
                rt ? duro_runtime_mailbox_depth(rt) : 0);
    rc |= gauge(o, "duro_http_connections",
                "Open connections (HTTP and binary protocol).", (uint64_t)connections);
    rc |= gauge(o, "duro_pending_request_bytes",
                "Request bytes being received or in flight (--max-inflight-bytes).",
                (uint64_t)pending_bytes);
    return rc ? -1 : 0;
}
