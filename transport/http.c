/*
 * http.c — the HTTP API: the route table, /healthz, /metrics, start and stop
 * (see http.h; what the route files share is in http_int.h).
 *
 * DESIGN
 * Threads: the I/O threads of io.c; HTTP/1.1 framing is http1.c's. A request
 * reaches on_request() whole (or with r->error set when it could not be read:
 * it is answered with the JSON error envelope like every other error). It is
 * routed by the table below to its kind's file (http_kv.c, ...), which finds
 * and authorizes its namespace (http_request.c, access.c), decodes and
 * validates its query and body into the request of an object kind, and hands
 * it as a duro_msg to this thread's courier (courier.h), which batches it to
 * the owning actor and brings the answer back to this thread: call_reply()
 * (http_reply.c) encodes the reply from the actor's tape and sends it. The
 * binary protocol (rpc.c) runs on the same threads, loops and couriers.
 *
 * Encoding a reply is proportional to its size and may convert every stored
 * value (JSON <-> msgpack): replies whose tape is over ENCODE_INLINE_MAX are
 * encoded on a small worker pool and come back to this thread to be sent, and
 * bodies over DECODE_INLINE_MAX are parsed there before the request is routed,
 * so no single client's large requests can hold the loop that serves others.
 *
 * Strictness: every route names its query parameters; any other, or one given
 * twice, is 400 naming it. Flags in a query are "1"/"true"/"" or "0"/"false".
 */
#include "transport/http.h"
#include "transport/http_int.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "common/log.h"
#include "common/tape.h"
#include "runtime/errinj.h"
#include "transport/metrics.h"

static void serve_metrics(duro_http *srv, duro_hreq *req, uint64_t t0)
{
    duro_buf out = {0};
    duro_metrics_render(&out, srv->rt, duro_io_connections(srv->io),
                        duro_io_pending_bytes(srv->io));
    evhttp_add_header(&req->out, "Content-Type", "text/plain; version=0.0.4");
    size_t len;
    char *data = duro_buf_take(&out, &len);
    duro_hreq_respond(req, 200, NULL, data, data ? len : 0);
    duro_metrics_request(DURO_ROUTE_METRICS, 200, duro_mono_us() - t0);
}

/* ---- fault injection: a test-only route (docs/testing.md) ---- */

#define ERRINJ_BODY_MAX 1024

/* Sets the counter a POST /_errinj body {"point": name, "count": n} names.
 * DURO_OK, or a status with a message in err. */
static int errinj_set(duro_hreq *req, char *err, size_t errlen)
{
    int enc = duro_http_body_encoding(evhttp_find_header(&req->in, "Content-Type"));
    if (enc < 0) {
        snprintf(err, errlen, "Content-Type must be application/json or application/msgpack");
        return DURO_UNSUPPORTED_MEDIA_TYPE;
    }
    json_t *body;
    int st = duro_http_body_parse(req, enc, ERRINJ_BODY_MAX, &body, err, errlen);
    if (st != DURO_OK)
        return st;
    json_t *point = json_object_get(body, "point"), *count = json_object_get(body, "count");
    int p = json_is_string(point)
                ? duro_errinj_find(json_string_value(point), json_string_length(point))
                : -1;
    st = DURO_BAD_REQUEST;
    if (!json_is_object(body) || json_object_size(body) != 2 || !point || !count)
        snprintf(err, errlen, "expected {\"point\": name, \"count\": n}");
    else if (p < 0)
        snprintf(err, errlen, "point: not a fault injection point (GET /_errinj lists them)");
    else if (!json_is_integer(count) || json_integer_value(count) < 0 ||
             json_integer_value(count) > DURO_ERRINJ_MAX)
        snprintf(err, errlen, "count: expected an integer in 0..%d", DURO_ERRINJ_MAX);
    else {
        duro_errinj_set(p, (long)json_integer_value(count));
        duro_log_warn("fault injection: %s = %d", duro_errinj_name(p), duro_errinj_get(p));
        st = DURO_OK;
    }
    json_decref(body);
    return st;
}

/* GET /_errinj: {point: counter, ...} of every point (runtime/errinj.h);
 * POST: sets one counter (errinj_set), then answers the same. Routed only in
 * a durod started with --errinj; with access control on it needs the admin
 * token or a JWT for every namespace. */
static void serve_errinj(duro_http *srv, duro_hreq *req, int cmd, int accept_mp, uint64_t t0)
{
    char err[256];
    int st = duro_http_query_check(req->query, duro_http_q_none, err, sizeof err);
    if (cmd != DURO_M_GET && cmd != DURO_M_POST) {
        st = DURO_METHOD_NOT_ALLOWED;
        snprintf(err, sizeof err, "allowed: GET, HEAD, POST");
    }
    if (st == DURO_OK && srv->access && duro_access_enabled(srv->access) &&
        duro_access_check(srv->access, evhttp_find_header(&req->in, "Authorization"), "*", 1, 1,
                          (int64_t)time(NULL), err, sizeof err) != DURO_OK) {
        st = DURO_FORBIDDEN;
        snprintf(err, sizeof err, "/_errinj needs the admin token or a JWT for every namespace");
    }
    if (st == DURO_OK && cmd == DURO_M_POST)
        st = errinj_set(req, err, sizeof err);
    if (st != DURO_OK) {
        duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, st, err);
        return;
    }
    duro_buf tape = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tape);
    msgpack_pack_map(&pk, DURO_ERRINJ_COUNT);
    for (int p = 0; p < DURO_ERRINJ_COUNT; p++) {
        duro_tape_lit(&pk, duro_errinj_name(p));
        msgpack_pack_int(&pk, duro_errinj_get(p));
    }
    duro_http_reply(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_OK, NULL, &tape, -1, NULL);
    duro_buf_free(&tape);
}

static void on_request(duro_hreq *req, void *arg)
{
    duro_http *srv = arg;
    uint64_t t0 = duro_mono_us();
    int accept_mp = duro_http_wants_mp(evhttp_find_header(&req->in, "Accept"));
    if (req->error) {
        duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, req->error, req->error_msg);
        return;
    }
    const char *path = req->path ? req->path : "";
    const char *query = req->query;
    char err[256];

    if (req->method == DURO_M_OPTIONS) { /* CORS preflight, on every route */
        duro_http_preflight(srv, req, t0);
        return;
    }
    /* HEAD is GET without the body (http1.c drops it) */
    int cmd = req->method == DURO_M_HEAD ? DURO_M_GET : req->method;
    if (strcmp(path, "/healthz") == 0) {
        int st = cmd != DURO_M_GET
                     ? DURO_METHOD_NOT_ALLOWED
                     : duro_http_query_check(query, duro_http_q_none, err, sizeof err);
        if (st != DURO_OK) {
            duro_http_fail(srv, req, DURO_ROUTE_HEALTHZ, accept_mp, t0, st,
                           st == DURO_METHOD_NOT_ALLOWED ? "allowed: GET, HEAD" : err);
            return;
        }
        evhttp_add_header(&req->out, "Content-Type", "text/plain");
        char *ok = strdup("ok\n");
        duro_hreq_respond(req, 200, NULL, ok, ok ? 3 : 0);
        duro_metrics_request(DURO_ROUTE_HEALTHZ, 200, duro_mono_us() - t0);
        return;
    }
    /* Every other route needs valid credentials when access control is on;
     * which namespaces they reach is checked once the route names one. */
    if (srv->access && duro_access_enabled(srv->access)) {
        const char *auth = evhttp_find_header(&req->in, "Authorization");
        int st =
            duro_access_check(srv->access, auth, NULL, 0, 0, (int64_t)time(NULL), err, sizeof err);
        if (st == DURO_UNAUTHORIZED) {
            duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, st, err);
            return;
        }
        /* /metrics: the admin token, or a JWT for every namespace ("*") */
        if (strcmp(path, "/metrics") == 0 && st != DURO_OK &&
            duro_access_check(srv->access, auth, "*", 1, 0, (int64_t)time(NULL), err, sizeof err) !=
                DURO_OK) {
            duro_http_fail(srv, req, DURO_ROUTE_METRICS, accept_mp, t0, DURO_FORBIDDEN,
                           "/metrics needs the admin token or a JWT for every namespace");
            return;
        }
    }
    if (srv->cfg->errinj && strcmp(path, "/_errinj") == 0) { /* test only: --errinj */
        serve_errinj(srv, req, cmd, accept_mp, t0);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        int st = cmd != DURO_M_GET
                     ? DURO_METHOD_NOT_ALLOWED
                     : duro_http_query_check(query, duro_http_q_none, err, sizeof err);
        if (st != DURO_OK)
            duro_http_fail(srv, req, DURO_ROUTE_METRICS, accept_mp, t0, st,
                           st == DURO_METHOD_NOT_ALLOWED ? "allowed: GET, HEAD" : err);
        else
            serve_metrics(srv, req, t0);
        return;
    }
    /* a blob's body is its bytes, not a document to parse first */
    if (strncmp(path, "/api/storage/r2/", 16) != 0 && duro_http_body_parse_later(srv, req, t0))
        return;
    duro_http_route(srv, req, t0);
}

/* ---- the route table ---- */

/* /sessions and /sessions/...; /users/:userId/sessions */
static int is_sessions(const char *path)
{
    size_t n = strlen(path);
    return (strncmp(path, "/sessions", 9) == 0 && (path[9] == '\0' || path[9] == '/')) ||
           (strncmp(path, "/users/", 7) == 0 && n > 16 && strcmp(path + n - 9, "/sessions") == 0);
}

/* A route: a path prefix (with its own test instead, if match is set; with
 * rest, only if the path goes on after it); strip is how much of the path
 * its handler does not get. The first row that
 * matches serves; the KV routes take everything else (/storage,
 * /api/storage/kv/{ns}, the /api/storage snapshot, and the 404 of an unknown
 * path). */
static const struct route {
    const char *prefix;
    int (*match)(const char *path);
    int rest;
    size_t strip;
    duro_http_handler *serve;
} routes[] = {
    {NULL, is_sessions, 0, 0, duro_http_serve_sessions},
    {"/auth/", NULL, 0, 0, duro_http_serve_auth},
    {"/api/resources/", NULL, 0, 15, duro_http_serve_resources},
    {NULL, duro_http_is_namespaces, 0, 0, duro_http_serve_namespaces},
    {"/ratelimit/", NULL, 1, 11, duro_http_serve_ratelimit},
    {"/api/storage/r2/", NULL, 1, 16, duro_http_serve_blob},
    {"/api/storage/d1/", NULL, 0, 16, duro_http_serve_sql},
};

/* Routes a request that passed the checks every route shares. */
void duro_http_route(duro_http *srv, duro_hreq *req, uint64_t t0)
{
    int accept_mp = duro_http_wants_mp(evhttp_find_header(&req->in, "Accept"));
    const char *path = req->path; /* set for every request that was read */
    int cmd = req->method == DURO_M_HEAD ? DURO_M_GET : req->method;
    assert(path);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        size_t n = r->prefix ? strlen(r->prefix) : 0;
        if (r->match ? r->match(path) : strncmp(path, r->prefix, n) == 0 && (!r->rest || path[n])) {
            r->serve(srv, req, cmd, path + r->strip, req->query, accept_mp, t0);
            return;
        }
    }
    duro_http_serve_kv(srv, req, cmd, path, req->query, accept_mp, t0);
}

/* ---- start and stop ---- */

/* DURO_OK if host:port can be bound without SO_REUSEPORT right now. */
static int port_in_use(const struct sockaddr *sa, int salen, int port, char *err, size_t errlen,
                       const char *flag)
{
    if (port == 0)
        return DURO_OK;
    struct sockaddr_storage ss;
    memcpy(&ss, sa, (size_t)salen);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return DURO_OK;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&ss, (socklen_t)salen);
    int e = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "%s: port %d is not available: %s", flag, port, strerror(e));
        return DURO_IO;
    }
    return DURO_OK;
}

/* The --listen address as a sockaddr. */
static int listen_addr(const duro_config *cfg, struct sockaddr_storage *ss, int *salen, char *err,
                       size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    const char *host = cfg->listen_host;
    char h6[256];
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        memcpy(h6, host + 1, hl - 2);
        h6[hl - 2] = '\0';
        host = h6;
    }
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &in4->sin_addr) ==
        1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->listen_port);
        *salen = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->listen_port);
        *salen = sizeof *in6;
    } else {
        snprintf(err, errlen, "--listen: \"%s\" is not an IP address", cfg->listen_host);
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

static void http_free(duro_http *h)
{
    duro_workers_stop(h->encoders);
    duro_io_free(h->io);
    duro_rpc_free(h->rpc);
    free(h);
}

int duro_http_start(const duro_config *cfg, duro_runtime *rt, const duro_access *access,
                    duro_http **out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    *out = NULL;
    struct sockaddr_storage ss;
    int salen;
    int st = listen_addr(cfg, &ss, &salen, err, errlen);
    if (st != DURO_OK)
        return st;
    /* SO_REUSEPORT would let a second durod share our ports silently: make
     * sure nobody holds them before our own listeners bind with it. */
    st = port_in_use((struct sockaddr *)&ss, salen, cfg->listen_port, err, errlen, "--listen");
    if (st == DURO_OK && cfg->rpc_port > 0)
        st = port_in_use((struct sockaddr *)&ss, salen, (int)cfg->rpc_port, err, errlen,
                         "--rpc-port");
    if (st != DURO_OK)
        return st;

    duro_http *h = calloc(1, sizeof *h);
    if (!h)
        return DURO_NOMEM;
    h->cfg = cfg;
    h->rt = rt;
    h->access = access;
    h->limits.max_value_bytes = (size_t)cfg->max_value_bytes;
    h->limits.max_snapshot_bytes = (size_t)cfg->max_snapshot_bytes;
    h->h1 = (duro_http1_config){on_request, h, (size_t)cfg->max_header_bytes,
                                (size_t)cfg->max_body_bytes, duro_http_blob_body_max};
    duro_http_cors_setup(h, cfg);
    duro_rl_parse_default(cfg->ratelimit_default, &h->rl_defaults);
    duro_config_limits(cfg, &h->lim);
    if (duro_workers_start(2, 4096, &h->encoders) != DURO_OK) {
        snprintf(err, errlen, "cannot start the worker threads");
        http_free(h);
        return DURO_NOMEM;
    }
    st = duro_io_new(cfg, rt, &h->io, err, errlen);
    if (st == DURO_OK)
        st = duro_io_listen(h->io, (struct sockaddr *)&ss, salen, &duro_http1_proto, &h->h1, err,
                            errlen);
    if (st == DURO_OK && cfg->rpc_port > 0) {
        st = duro_rpc_new(cfg, access, h->encoders, &h->rpc, err, errlen);
        struct sockaddr_storage rs = ss;
        if (rs.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&rs)->sin6_port = htons((uint16_t)cfg->rpc_port);
        else
            ((struct sockaddr_in *)&rs)->sin_port = htons((uint16_t)cfg->rpc_port);
        if (st == DURO_OK)
            st = duro_io_listen(h->io, (struct sockaddr *)&rs, salen, duro_rpc_proto(), h->rpc, err,
                                errlen);
    }
    if (st == DURO_OK)
        st = duro_io_start(h->io, err, errlen);
    if (st != DURO_OK) {
        duro_io_stop(h->io);
        http_free(h);
        return st;
    }
    *out = h;
    return DURO_OK;
}

void duro_http_stop(duro_http *h)
{
    if (h)
        duro_io_stop(h->io);
}

void duro_http_free(duro_http *h)
{
    if (!h)
        return;
    /* the encoder pool first: its jobs report to the couriers */
    duro_workers_stop(h->encoders);
    h->encoders = NULL;
    http_free(h);
}
