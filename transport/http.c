/*
 * http.c — the HTTP transport (see http.h).
 *
 * DESIGN
 * Threads: N I/O threads, each with its own event_base, evhttp and
 * SO_REUSEPORT listener; libevent objects are touched only by their thread.
 *
 * A request: evhttp reads it (bounded by --max-header-bytes, a body cap and
 * timeouts), on_request() routes it, decodes the body (JSON via jansson, or
 * msgpack after the heap-free check of codec.h), validates it into a
 * duro_kv_req and hands a duro_msg to this thread's courier (courier.h), which
 * batches it to the owning actor and brings the answer back to this thread:
 * call_reply() encodes the reply from the actor's tape and sends it. The call
 * (message + request) is allocated and freed here. The binary protocol
 * (rpc.c) runs on the same threads, loops and courier.
 *
 * Connections: evhttp_set_bevcb() lets us create each connection's bufferevent,
 * so we count connections (--max-connections: the listener is paused at the
 * cap) and keep a reference to the bufferevent. evhttp frees a connection by
 * bufferevent_free(), which clears its callbacks; a sweep every 200 ms notices
 * that, drops our reference and the count. The same sweep cuts off a
 * connection that has not delivered a whole request within
 * --request-timeout-ms of connecting or of its previous reply (slowloris):
 * it shuts the socket down and evhttp cleans up as for any broken connection.
 *
 * Bodies over --max-body-bytes are refused by evhttp while reading (a
 * Content-Length over the limit before any body byte is read), so memory per
 * connection stays bounded, and the connection is closed after the reply.
 * evhttp writes its own HTML
 * page for these and for malformed requests; on_output() turns it into our
 * JSON error envelope.
 */
#include "transport/http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <sodium.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "objects/kv.h"
#include "runtime/log.h"
#include "transport/access.h"
#include "runtime/workers.h"
#include "objects/auth.h"
#include "transport/codec.h"
#include "transport/courier.h"
#include "transport/kv_request.h"
#include "transport/metrics.h"
#include "transport/names.h"
#include "transport/registry_request.h"
#include "transport/rl_request.h"
#include "transport/rpc.h"
#include "transport/session_request.h"

#define CONN_BUCKETS 4096
#define SWEEP_MS 200

typedef struct conn conn;
struct conn {
    struct bufferevent *bev;
    struct evbuffer_cb_entry *out_cb; /* rewrites evhttp's own error pages */
    int rewriting;
    int64_t t_ready; /* since when we wait for its next whole request */
    int busy;        /* a request of it is being answered */
    conn *hnext;
    conn *prev, *next;
};

typedef struct io_thread io_thread;
typedef struct call call;

struct io_thread {
    duro_http *srv;
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;
    struct event *stop;  /* duro_http_stop() asked us to finish */
    struct event *sweep; /* connection bookkeeping */
    duro_courier *courier;
    duro_rpc *rpc;
    conn *buckets[CONN_BUCKETS];
    conn *conns;
    long nconns;
    long max_conns;
    int paused;
    long inflight;
    int stopping;
};

struct duro_http {
    const duro_config *cfg;
    duro_runtime *rt;
    const duro_access *access;
    duro_workers *workers;   /* Argon2id */
    char cors[512];          /* allowed origins: "" none, "*" any, or a comma list */
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown emails */
    unsigned long long pw_ops;
    size_t pw_mem;
    duro_kv_limits limits;
    duro_rl_defaults rl_defaults;
    int n;
    io_thread *threads;
};

struct call {
    duro_msg m; /* first: a duro_msg * is a call * */
    int stage;  /* of a multi-step /auth request */
    duro_auth_req *auth; /* its state across the trips (m.req is the current trip's) */
    io_thread *t;
    struct evhttp_request *req;
    conn *c;
    int route;
    int accept_mp;
    uint64_t t0_us;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t mono_ms(void) { return (int64_t)(now_us() / 1000u); }

/* ---- connections ---- */

static size_t conn_slot(const struct bufferevent *bev)
{
    return ((uintptr_t)bev >> 4) % CONN_BUCKETS;
}

static conn *conn_find(io_thread *t, const struct bufferevent *bev)
{
    for (conn *c = t->buckets[conn_slot(bev)]; c; c = c->hnext)
        if (c->bev == bev)
            return c;
    return NULL;
}

static void conn_forget(io_thread *t, conn *c)
{
    conn **pp = &t->buckets[conn_slot(c->bev)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->out_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
    bufferevent_decref(c->bev);
    free(c);
    t->nconns--;
    if (t->paused && t->nconns < t->max_conns && !t->stopping) {
        evconnlistener_enable(t->listener);
        t->paused = 0;
    }
}

static int status_of_http(int code)
{
    switch (code) {
    case 400: return DURO_BAD_REQUEST;
    case 404: return DURO_NOT_FOUND;
    case 405: return DURO_METHOD_NOT_ALLOWED;
    case 413: return DURO_PAYLOAD_TOO_LARGE;
    case 503: return DURO_UNAVAILABLE;
    default: return code < 500 ? DURO_BAD_REQUEST : DURO_INTERNAL;
    }
}

/*
 * evhttp answers some requests itself, before our callback sees them: a
 * malformed request line or headers (400), headers or a body over the limits
 * (413). It writes a fixed HTML page. When a whole such page is the only thing
 * in a connection's output buffer, replace it with our JSON error envelope, so
 * every 4xx carries the same body. Our own replies are written while the
 * connection is busy and are never touched.
 */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;
    static const char tail[] = "</BODY></HTML>\n";
    size_t len = evbuffer_get_length(buf);
    if (info->n_added == 0 || c->busy || c->rewriting || len < 16 || len > 4096)
        return;
    const char *p = (const char *)evbuffer_pullup(buf, -1);
    if (!p || strncmp(p, "HTTP/1.", 7) != 0 || (p[9] != '4' && p[9] != '5') ||
        memcmp(p + len - (sizeof tail - 1), tail, sizeof tail - 1) != 0)
        return;
    int code = atoi(p + 9);
    int st = status_of_http(code);
    const char *msg = code == 413 ? "request headers or body over the server's limit"
                                  : "malformed HTTP request";
    duro_buf body = {0};
    duro_buf_puts(&body, "{\"success\":false,\"error\":{\"code\":\"");
    duro_buf_puts(&body, duro_status_code(st));
    duro_buf_printf(&body, "\",\"message\":\"%s\"}}", msg);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, code == 413 ? "Payload Too Large" : "Bad Request", body.len);
    c->rewriting = 1;
    /* the front may be frozen (evhttp's failure path); we replace the page
     * synchronously, before anything of it was written */
    int frozen = evbuffer_drain(buf, len) != 0;
    if (frozen) {
        evbuffer_unfreeze(buf, 1);
        evbuffer_drain(buf, len);
    }
    evbuffer_add(buf, head, (size_t)n);
    evbuffer_add(buf, body.data, body.len);
    if (frozen)
        evbuffer_freeze(buf, 1);
    c->rewriting = 0;
    duro_buf_free(&body);
    duro_metrics_request(DURO_ROUTE_OTHER, code, 0);
}

static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
    io_thread *t = arg;
    /* CLOSE_ON_FREE: the socket closes only when our reference goes too.
     * evhttp frees (but cannot finalize) the bufferevent while we hold it, and
     * its events stay registered: had evhttp closed the fd itself, a new
     * connection reusing the number would have its bytes read by the dead
     * bufferevent. evhttp still shuts the socket down for writing at once. */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    conn *c = bev ? calloc(1, sizeof *c) : NULL;
    if (!c)
        return bev; /* untracked, but served */
    bufferevent_incref(bev);
    c->bev = bev;
    c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
    c->t_ready = mono_ms();
    size_t s = conn_slot(bev);
    c->hnext = t->buckets[s];
    t->buckets[s] = c;
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    if (++t->nconns >= t->max_conns && !t->paused) {
        evconnlistener_disable(t->listener);
        t->paused = 1;
        duro_log_warn("connection limit reached (%ld on this I/O thread); pausing accept",
                      t->nconns);
    }
    return bev;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    int64_t now = mono_ms();
    long limit = t->srv->cfg->request_timeout_ms;
    conn *c = t->conns;
    while (c) {
        conn *next = c->next;
        bufferevent_event_cb eventcb = NULL;
        bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
        if (eventcb == NULL) {
            conn_forget(t, c); /* evhttp freed it */
        } else if (!c->busy && now - c->t_ready > limit) {
            evutil_socket_t s = bufferevent_getfd(c->bev);
            if (s >= 0)
                shutdown(s, SHUT_RDWR);
            c->t_ready = now; /* once */
        }
        c = next;
    }
}

/* The connection's request was answered: its next one may start. */
static void conn_idle(conn *c)
{
    if (c) {
        c->busy = 0;
        c->t_ready = mono_ms();
    }
}

/* ---- replies ---- */

static void free_chunk(const void *data, size_t len, void *arg) { free((void *)data); }

static int put_error_json(duro_buf *o, int status, const char *msg)
{
    int rc = duro_buf_puts(o, "{\"success\":false,\"error\":{\"code\":\"");
    rc |= duro_buf_puts(o, duro_status_code(status));
    rc |= duro_buf_puts(o, "\",\"message\":");
    rc |= duro_json_put_str(o, msg, strlen(msg));
    rc |= duro_buf_puts(o, "}}");
    return rc;
}

static void mp_str(duro_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (n < 32) {
        unsigned char h = (unsigned char)(0xa0 | n);
        duro_buf_append(o, &h, 1);
    } else {
        unsigned char h[3] = {0xda, (unsigned char)(n >> 8), (unsigned char)n};
        duro_buf_append(o, h, 3);
    }
    duro_buf_append(o, s, n);
}

static int put_error_mp(duro_buf *o, int status, const char *msg)
{
    o->len = 0;
    duro_buf_append(o, "\x82", 1);
    mp_str(o, "success");
    duro_buf_append(o, "\xc2", 1);
    mp_str(o, "error");
    duro_buf_append(o, "\x82", 1);
    mp_str(o, "code");
    mp_str(o, duro_status_code(status));
    mp_str(o, "message");
    size_t n = strnlen(msg, 1024);
    unsigned char h[3] = {0xda, (unsigned char)(n >> 8), (unsigned char)n};
    duro_buf_append(o, h, 3);
    return duro_buf_append(o, msg, n);
}

/* ---- CORS ---- */

static const char CORS_METHODS[] = "GET, PUT, POST, PATCH, DELETE, HEAD, OPTIONS";
static const char CORS_HEADERS[] =
    "Authorization, If-Match, If-None-Match, Content-Type, X-Namespace, X-App-Id";
static const char CORS_EXPOSE[] = "ETag, X-Storage-Backend";

static int loopback_host(const char *h)
{
    return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "[::1]") ||
           !strcmp(h, "localhost");
}

static void cors_setup(duro_http *h, const duro_config *cfg)
{
    if (cfg->cors_origin[0])
        snprintf(h->cors, sizeof h->cors, "%s", cfg->cors_origin);
    else if (loopback_host(cfg->listen_host) && !cfg->auth_token[0] && !cfg->jwt_secret[0] &&
             !(h->access && duro_access_enabled(h->access)))
        strcpy(h->cors, "*");
    else
        h->cors[0] = '\0';
}

/* The Access-Control-Allow-Origin value for this request's Origin, or NULL. */
static const char *cors_origin(const duro_http *h, struct evhttp_request *req)
{
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    if (!origin || !h->cors[0])
        return NULL;
    if (!strcmp(h->cors, "*"))
        return "*";
    size_t n = strlen(origin);
    for (const char *p = h->cors; *p;) {
        size_t len = strcspn(p, ",");
        const char *a = p;
        while (len && *a == ' ')
            a++, len--;
        while (len && a[len - 1] == ' ')
            len--;
        if (len == n && !strncmp(a, origin, n))
            return origin;
        p += strcspn(p, ",");
        if (*p)
            p++;
    }
    return NULL;
}

static void add_cors(const duro_http *h, struct evhttp_request *req)
{
    const char *o = cors_origin(h, req);
    if (!o)
        return;
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Access-Control-Allow-Origin", o);
    evhttp_add_header(hd, "Access-Control-Expose-Headers", CORS_EXPOSE);
    if (strcmp(o, "*"))
        evhttp_add_header(hd, "Vary", "Origin");
}

static const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return NULL;
    }
}

/* RateLimit-* (draft IETF fields, seconds) and, when denied, Retry-After. */
static void add_ratelimit_headers(struct evkeyvalq *h, const duro_msg *m, int status)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)m->rl.limit);
    evhttp_add_header(h, "RateLimit-Limit", v);
    snprintf(v, sizeof v, "%lld", (long long)m->rl.remaining);
    evhttp_add_header(h, "RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%lld", (long long)((m->rl.reset_ms + 999) / 1000));
    evhttp_add_header(h, "RateLimit-Reset", v);
    if (status == DURO_RATE_LIMITED) {
        snprintf(v, sizeof v, "%lld", (long long)((m->rl.retry_after_ms + 999) / 1000));
        evhttp_add_header(h, "Retry-After", v);
    }
}

/* Encodes and sends one reply. tape is the success data (status DURO_OK). */
static void respond(io_thread *t, struct evhttp_request *req, conn *c, int route, int accept_mp,
                    uint64_t t0, int status, const char *errmsg, const duro_buf *tape,
                    int64_t etag, const duro_msg *m)
{
    duro_buf out = {0};
    /* the snapshot is the document itself, and the registry list answers as
     * API.md shows it: both without the envelope */
    int raw = status == DURO_OK && m &&
              ((m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET) ||
               (m->kind == DURO_KIND_REGISTRY && m->op == DURO_REGISTRY_LIST));
    if (raw) {
        if ((accept_mp ? duro_tape_to_mp(tape->data, tape->len, &out)
                       : duro_tape_to_json(tape->data, tape->len, &out)) != 0) {
            out.len = 0;
            status = DURO_INTERNAL;
            errmsg = "reply could not be encoded";
        }
    } else if (status == DURO_OK) {
        int rc;
        if (accept_mp) {
            duro_buf_append(&out, "\x82", 1);
            mp_str(&out, "success");
            duro_buf_append(&out, "\xc3", 1);
            mp_str(&out, "data");
            rc = duro_tape_to_mp(tape->data, tape->len, &out);
        } else {
            duro_buf_puts(&out, "{\"success\":true,\"data\":");
            rc = duro_tape_to_json(tape->data, tape->len, &out);
            rc |= duro_buf_puts(&out, "}");
        }
        if (rc != 0) {
            out.len = 0;
            status = DURO_INTERNAL;
            errmsg = "reply could not be encoded";
            duro_log_error("reply encoding failed (route %d)", route);
        }
    }
    if (status != DURO_OK) {
        if (accept_mp)
            put_error_mp(&out, status, errmsg);
        else
            put_error_json(&out, status, errmsg);
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", accept_mp ? "application/msgpack" : "application/json");
    if (etag >= 0) {
        char tag[32];
        snprintf(tag, sizeof tag, "\"%lld\"", (long long)etag);
        evhttp_add_header(h, "ETag", tag);
    }
    if (m && m->rl.set)
        add_ratelimit_headers(h, m, status);
    if (status == DURO_UNAUTHORIZED)
        evhttp_add_header(h, "WWW-Authenticate", "Bearer");
    int code = duro_status_http(status);
    if (status == DURO_OK && m &&
        ((m->kind == DURO_KIND_AUTH && m->op == DURO_AUTH_USER_CREATE) || m->created))
        code = 201;
    if (m && m->kind == DURO_KIND_KV &&
        (m->op == DURO_KV_SNAPSHOT_GET || m->op == DURO_KV_SNAPSHOT_PATCH))
        evhttp_add_header(h, "X-Storage-Backend", "sqlite");
    add_cors(t->srv, req);
    if (status == DURO_METHOD_NOT_ALLOWED && errmsg && strncmp(errmsg, "allowed: ", 9) == 0)
        evhttp_add_header(h, "Allow", errmsg + 9);
    struct evbuffer *eb = evbuffer_new();
    size_t len;
    char *data = duro_buf_take(&out, &len);
    if (eb && data)
        evbuffer_add_reference(eb, data, len, free_chunk, NULL);
    else
        free(data);
    evhttp_send_reply(req, code, http_reason(code), eb);
    if (eb)
        evbuffer_free(eb);
    conn_idle(c);
    duro_metrics_request(route, code, now_us() - t0);
}

static void respond_error(io_thread *t, struct evhttp_request *req, conn *c, int route,
                          int accept_mp, uint64_t t0, int status, const char *msg)
{
    respond(t, req, c, route, accept_mp, t0, status, msg, NULL, -1, NULL);
}

static void maybe_exit(io_thread *t)
{
    if (t->stopping && t->inflight == 0 && duro_rpc_inflight(t->rpc) == 0)
        event_base_loopexit(t->base, NULL);
}

static void on_rpc_idle(void *arg) { maybe_exit(arg); }

static void free_call(call *k)
{
    if (k->auth && (void *)k->auth != k->m.req)
        duro_auth_req_free(k->auth);
    duro_request_free(k->m.kind, k->m.req);
    duro_buf_free(&k->m.body);
    free(k);
}

/* The actor answered (through the courier, on this thread). */
static void call_reply(duro_msg *m)
{
    call *k = (call *)m;
    io_thread *t = k->t;
    respond(t, k->req, k->c, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg, &m->body,
            m->etag, m);
    free_call(k);
    t->inflight--;
    maybe_exit(t);
}

/* ---- routing and decoding ---- */

static int wants_msgpack(const char *accept)
{
    return accept && (strstr(accept, "application/msgpack") || strstr(accept, "application/x-msgpack"));
}

/* 0 JSON, 1 msgpack, -1 unsupported. */
static int body_encoding(const char *ctype)
{
    if (!ctype)
        return DURO_ENC_JSON;
    while (*ctype == ' ')
        ctype++;
    size_t n = strcspn(ctype, ";");
    while (n && ctype[n - 1] == ' ')
        n--;
    if (n == 0 || (n == 16 && strncasecmp(ctype, "application/json", 16) == 0))
        return DURO_ENC_JSON;
    if ((n == 19 && strncasecmp(ctype, "application/msgpack", 19) == 0) ||
        (n == 21 && strncasecmp(ctype, "application/x-msgpack", 21) == 0))
        return DURO_ENC_MSGPACK;
    return -1;
}

/* Parses the body; on error returns a status with a message in err. */
static int parse_body(struct evhttp_request *req, int enc, size_t max, json_t **out, char *err,
                      size_t errlen)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "a request body is required");
        return DURO_BAD_REQUEST;
    }
    if (len > max) {
        snprintf(err, errlen, "request body is larger than %zu bytes", max);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    const unsigned char *p = evbuffer_pullup(in, -1);
    const char *why = "out of memory";
    *out = enc == DURO_ENC_MSGPACK ? duro_mp_to_json(p, len, &why) : duro_json_parse(p, len, &why);
    if (!*out) {
        snprintf(err, errlen, "malformed %s body: %s", enc == DURO_ENC_MSGPACK ? "msgpack" : "JSON",
                 why);
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

/* The request body, decoded by its Content-Type (415 for another type);
 * *enc (if not NULL) gets the encoding. */
static int read_body(const duro_http *srv, struct evhttp_request *req, json_t **out, int *enc,
                     char *err, size_t errlen)
{
    int e = body_encoding(evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"));
    *out = NULL;
    if (enc)
        *enc = e;
    if (e < 0) {
        snprintf(err, errlen, "Content-Type must be application/json or application/msgpack");
        return DURO_UNSUPPORTED_MEDIA_TYPE;
    }
    return parse_body(req, e, (size_t)srv->cfg->max_body_bytes, out, err, errlen);
}

static const char *const list_params[] = {"prefix", "start", "startAfter", "end",
                                          "limit",  "cursor", "reverse",   "values"};

static const char *const registry_params[] = {"type",  "namespace", "key_prefix",
                                              "limit", "offset",    "consistent"};
static const char *const resource_params[] = {"type", "namespace", "key"};

/* The query parameters names[0..count) as a JSON object of strings. */
static int query_object(const char *query, const char *const *names, size_t count, json_t **out,
                        char *err, size_t errlen)
{
    json_t *o = json_object();
    if (!o)
        return DURO_NOMEM;
    for (size_t i = 0; i < count; i++) {
        char *v;
        size_t n;
        int rc = duro_query_get(query, names[i], &v, &n);
        if (rc < 0) {
            json_decref(o);
            snprintf(err, errlen, "bad percent-encoding in query parameter \"%s\"", names[i]);
            return DURO_BAD_REQUEST;
        }
        if (rc == 1) {
            json_object_set_new(o, names[i], json_stringn_nocheck(v, n));
            free(v);
        }
    }
    *out = o;
    return DURO_OK;
}

typedef struct route_info {
    int op;       /* enum duro_kv_op, or -1 */
    int route;    /* enum duro_route */
    const char *key_raw; /* percent-encoded key in the path, or NULL */
    size_t key_raw_len;
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    int ns_in_path;
} route_info;

/* Maps a method + /storage/... rest to an op; -1 unknown path, -2 wrong method. */
static int storage_op(enum evhttp_cmd_type cmd, const char *rest, const char **allowed)
{
    if (strcmp(rest, "list") == 0 && cmd == EVHTTP_REQ_GET)
        return DURO_KV_LIST;
    if (cmd == EVHTTP_REQ_POST) {
        if (strcmp(rest, "batch/get") == 0)
            return DURO_KV_BATCH_GET;
        if (strcmp(rest, "batch/set") == 0)
            return DURO_KV_BATCH_SET;
        if (strcmp(rest, "batch/delete") == 0)
            return DURO_KV_BATCH_DELETE;
        if (strcmp(rest, "clear") == 0)
            return DURO_KV_CLEAR;
    }
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return DURO_KV_GET;
    case EVHTTP_REQ_PUT:
    case EVHTTP_REQ_POST:
        return DURO_KV_PUT;
    case EVHTTP_REQ_DELETE:
        return DURO_KV_DELETE;
    default:
        *allowed = "allowed: GET, PUT, POST, DELETE";
        return -2;
    }
}

static const int op_routes[DURO_KV_OP_COUNT] = {
    [DURO_KV_GET] = DURO_ROUTE_KV_GET,
    [DURO_KV_PUT] = DURO_ROUTE_KV_PUT,
    [DURO_KV_DELETE] = DURO_ROUTE_KV_DELETE,
    [DURO_KV_BATCH_GET] = DURO_ROUTE_KV_BATCH_GET,
    [DURO_KV_BATCH_SET] = DURO_ROUTE_KV_BATCH_SET,
    [DURO_KV_BATCH_DELETE] = DURO_ROUTE_KV_BATCH_DELETE,
    [DURO_KV_LIST] = DURO_ROUTE_KV_LIST,
    [DURO_KV_CLEAR] = DURO_ROUTE_KV_CLEAR,
    [DURO_KV_SNAPSHOT_GET] = DURO_ROUTE_SNAPSHOT,
    [DURO_KV_SNAPSHOT_PATCH] = DURO_ROUTE_SNAPSHOT,
};

/* Fills the request of a KV op from path, query, headers and body. */
static int build_kv(duro_http *srv, struct evhttp_request *req, const route_info *ri,
                    const char *query, duro_kv_req *r, char *err, size_t errlen)
{
    struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
    int st;
    if (ri->key_raw) {
        char *key;
        size_t n;
        if (duro_pct_decode(ri->key_raw, ri->key_raw_len, &key, &n) != 0) {
            snprintf(err, errlen, "invalid key: bad percent-encoding");
            return DURO_BAD_REQUEST;
        }
        st = duro_kv_add_key(r, key, n, err, errlen);
        free(key);
        if (st != DURO_OK)
            return st;
    }
    const char *im = evhttp_find_header(hdr, "If-Match");
    const char *inm = evhttp_find_header(hdr, "If-None-Match");
    if (im && (ri->op == DURO_KV_PUT || ri->op == DURO_KV_DELETE ||
               ri->op == DURO_KV_SNAPSHOT_PATCH)) {
        r->if_match = duro_kv_parse_etag(im);
        if (r->if_match < 0) {
            snprintf(err, errlen, "If-Match must be a version like \"12\"");
            return DURO_BAD_REQUEST;
        }
    }
    if (inm && ri->op == DURO_KV_PUT) {
        if (strcmp(inm, "*") != 0) {
            snprintf(err, errlen, "only If-None-Match: * is supported");
            return DURO_BAD_REQUEST;
        }
        r->if_none_match = 1;
    }
    if (ri->op == DURO_KV_GET) {
        char *v;
        size_t n;
        if (duro_query_get(query, "meta", &v, &n) == 1) {
            r->with_meta = strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
            free(v);
        }
    }
    if (ri->op == DURO_KV_LIST) {
        json_t *params;
        if ((st = query_object(query, list_params, sizeof list_params / sizeof list_params[0],
                               &params, err, errlen)) != DURO_OK)
            return st;
        st = duro_kv_decode_list(r, params, DURO_PARAMS_QUERY, err, errlen);
        json_decref(params);
        return st;
    }
    if (ri->op == DURO_KV_SNAPSHOT_GET)
        r->max_bytes = srv->limits.max_snapshot_bytes;
    if (ri->op != DURO_KV_PUT && ri->op != DURO_KV_BATCH_GET && ri->op != DURO_KV_BATCH_SET &&
        ri->op != DURO_KV_BATCH_DELETE && ri->op != DURO_KV_SNAPSHOT_PATCH)
        return DURO_OK;

    int enc;
    json_t *body;
    if ((st = read_body(srv, req, &body, &enc, err, errlen)) != DURO_OK)
        return st;
    switch (ri->op) {
    case DURO_KV_PUT:
        st = duro_kv_decode_put(r, body, enc, &srv->limits, err, errlen);
        break;
    case DURO_KV_BATCH_SET:
        st = duro_kv_decode_entries(r, body, enc, &srv->limits, err, errlen);
        break;
    case DURO_KV_SNAPSHOT_PATCH:
        st = duro_kv_decode_patch(r, body, enc, &srv->limits, err, errlen);
        break;
    default:
        st = duro_kv_decode_keys(r, body, err, errlen);
        break;
    }
    json_decref(body);
    return st;
}

static int namespace_of(struct evhttp_request *req, const char *query, route_info *ri, char *err,
                        size_t errlen)
{
    char *v = NULL;
    size_t n = 0;
    int rc = ri->ns_in_path ? 1 : duro_query_get(query, "ns", &v, &n);
    if (rc < 0) {
        snprintf(err, errlen, "bad percent-encoding in \"ns\"");
        return DURO_BAD_REQUEST;
    }
    if (ri->ns_in_path) {
        if (duro_pct_decode(ri->ns, ri->ns_len, &v, &n) != 0) {
            snprintf(err, errlen, "invalid namespace: bad percent-encoding");
            return DURO_BAD_REQUEST;
        }
    } else if (rc == 0) {
        const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Namespace");
        v = strdup(h ? h : "default");
        n = v ? strlen(v) : 0;
    }
    if (!v)
        return DURO_NOMEM;
    const char *why;
    if (duro_ns_valid(v, n, &why) != 0) {
        snprintf(err, errlen, "invalid namespace: %s", why);
        free(v);
        return DURO_BAD_REQUEST;
    }
    memcpy(ri->ns, v, n);
    ri->ns[n] = '\0';
    ri->ns_len = n;
    free(v);
    return DURO_OK;
}

static void serve_metrics(io_thread *t, struct evhttp_request *req, conn *c, uint64_t t0)
{
    duro_buf out = {0};
    long conns = 0;
    for (int i = 0; i < t->srv->n; i++)
        conns += __atomic_load_n(&t->srv->threads[i].nconns, __ATOMIC_RELAXED);
    duro_metrics_render(&out, t->srv->rt, conns);
    struct evbuffer *eb = evbuffer_new();
    size_t len;
    char *data = duro_buf_take(&out, &len);
    evbuffer_add_reference(eb, data, len, free_chunk, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", eb);
    evbuffer_free(eb);
    conn_idle(c);
    duro_metrics_request(DURO_ROUTE_METRICS, 200, now_us() - t0);
}

/* May this request touch namespace ns (write: it changes something)? DURO_OK,
 * or DURO_UNAUTHORIZED / DURO_FORBIDDEN with the reason in err. */
static int authorize(io_thread *t, struct evhttp_request *req, const char *ns, size_t ns_len,
                     int write, char *err, size_t errlen)
{
    const duro_access *a = t->srv->access;
    if (!a || !duro_access_enabled(a))
        return DURO_OK;
    const char *auth =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    return duro_access_check(a, auth, ns, ns_len, write, (int64_t)time(NULL), err, errlen);
}

/* Allocates a call for this request, or answers 500 and returns NULL. */
static call *new_call(io_thread *t, struct evhttp_request *req, conn *c, int route, int accept_mp,
                      uint64_t t0)
{
    call *k = calloc(1, sizeof *k);
    if (!k) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return NULL;
    }
    k->t = t;
    k->req = req;
    k->c = c;
    k->route = route;
    k->accept_mp = accept_mp;
    k->t0_us = t0;
    k->m.reply = call_reply;
    return k;
}

static void send_call(io_thread *t, call *k)
{
    if (t->stopping) {
        respond_error(t, k->req, k->c, k->route, k->accept_mp, k->t0_us, DURO_UNAVAILABLE,
                      "server is shutting down");
        free_call(k);
        return;
    }
    t->inflight++;
    duro_courier_send(t->courier, &k->m);
}

/* POST /ratelimit/:key/check, GET|DELETE /ratelimit/:key */
static void serve_ratelimit(io_thread *t, struct evhttp_request *req, conn *c,
                            enum evhttp_cmd_type cmd, const char *rest, const char *query,
                            int accept_mp, uint64_t t0)
{
    size_t n = strlen(rest);
    int op = -1, route = DURO_ROUTE_OTHER;
    if (n > 6 && strcmp(rest + n - 6, "/check") == 0 && cmd == EVHTTP_REQ_POST) {
        op = DURO_RL_CHECK;
        n -= 6;
        route = DURO_ROUTE_RL_CHECK;
    } else if (cmd == EVHTTP_REQ_GET) {
        op = DURO_RL_GET;
        route = DURO_ROUTE_RL_GET;
    } else if (cmd == EVHTTP_REQ_DELETE) {
        op = DURO_RL_RESET;
        route = DURO_ROUTE_RL_RESET;
    } else {
        respond_error(t, req, c, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      "allowed: POST .../check, GET, DELETE");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(t, req, ri.ns, ri.ns_len, op != DURO_RL_GET, err, sizeof err);
    char *key = NULL;
    size_t key_len = 0;
    if (st == DURO_OK && duro_pct_decode(rest, n, &key, &key_len) != 0) {
        snprintf(err, sizeof err, "invalid key: bad percent-encoding");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && op == DURO_RL_CHECK &&
        evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0)
        st = read_body(t->srv, req, &body, NULL, err, sizeof err);
    duro_rl_req *r = NULL;
    if (st == DURO_OK)
        st = duro_rl_request(op, key, key_len, body, &t->srv->rl_defaults, &r, err, sizeof err);
    json_decref(body);
    free(key);
    if (st == DURO_OK) {
        char *v;
        size_t vn;
        if (duro_query_get(query, "enforce", &v, &vn) == 1) {
            r->enforce = strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
            free(v);
        }
    }
    if (st != DURO_OK) {
        respond_error(t, req, c, route, accept_mp, t0, st, err);
        return;
    }
    call *k = new_call(t, req, c, route, accept_mp, t0);
    if (!k) {
        duro_rl_req_free(r);
        return;
    }
    k->m.kind = DURO_KIND_RATELIMIT;
    k->m.op = op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(t, k);
}

/* ---- /auth: users and password login ----
 *
 * A login is three trips: the actor reads the user's Argon2id string (and
 * refuses if failures were too many), a worker verifies the password (against
 * a dummy hash for an unknown email, so both cost the same), and the actor
 * then creates the session or charges the failure. Creating a user or changing
 * a password hashes on a worker first. Passwords never reach an actor, are
 * never logged, and are wiped when the request is freed. */

enum { AUTH_CREATE_HASHED = 1, AUTH_CREATE_DONE, AUTH_LOGIN_BEGUN, AUTH_LOGIN_VERIFIED,
       AUTH_LOGIN_DONE, AUTH_PW_SESSION, AUTH_PW_USER, AUTH_PW_VERIFIED, AUTH_PW_DONE,
       AUTH_PLAIN_GET, AUTH_PLAIN_DELETE };

/* Trims ASCII whitespace and lowers ASCII letters; checks the shape. 0 / -1. */
static int normalize_email(const char *in, size_t n, char **out)
{
    while (n && (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n'))
        in++, n--;
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r' || in[n - 1] == '\n'))
        n--;
    const char *at = memchr(in, '@', n);
    if (n < 3 || n > 254 || !at || at == in || at == in + n - 1 || memchr(at + 1, '@', n - (size_t)(at - in) - 1) ||
        !duro_utf8_valid(in, n))
        return -1;
    char *e = malloc(n + 1);
    if (!e)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch <= ' ' || ch == 0x7f) {
            free(e);
            return -1;
        }
        e[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    e[n] = '\0';
    *out = e;
    return 0;
}

static int password_field(const json_t *body, const char *name, char **out, char *err,
                          size_t errlen)
{
    const json_t *p = json_object_get(body, name);
    size_t n = json_string_length(p);
    if (!json_is_string(p) || n < 8 || n > 1024 || memchr(json_string_value(p), 0, n)) {
        snprintf(err, errlen, "\"%s\" must be a string of 8 to 1024 bytes", name);
        return DURO_BAD_REQUEST;
    }
    *out = malloc(n + 1);
    if (!*out)
        return DURO_NOMEM;
    memcpy(*out, json_string_value(p), n + 1);
    return DURO_OK;
}

static void work_hash(duro_msg *m)
{
    call *k = (call *)m;
    duro_auth_req *r = k->auth;
    duro_http *srv = k->t->srv;
    const char *pw = k->stage == AUTH_PW_VERIFIED ? r->password2 : r->password;
    r->pwhash = malloc(crypto_pwhash_STRBYTES);
    if (!r->pwhash || crypto_pwhash_str(r->pwhash, pw, strlen(pw), srv->pw_ops, srv->pw_mem) != 0)
        duro_msg_fail(m, DURO_NOMEM, "password hashing failed");
}

static void work_verify(duro_msg *m)
{
    call *k = (call *)m;
    duro_auth_req *r = k->auth;
    const char *h = r->pwhash ? r->pwhash : k->t->srv->dummy_hash;
    r->ok = crypto_pwhash_str_verify(h, r->password, strlen(r->password)) == 0 && r->pwhash;
    if (k->stage == AUTH_PW_VERIFIED && r->ok) { /* a password change: hash the new one */
        sodium_memzero(r->pwhash, strlen(r->pwhash));
        free(r->pwhash);
        r->pwhash = NULL;
        work_hash(m);
    }
}

/* The fields of a reply tape as JSON (tapes may hold JSON text). */
static json_t *tape_json(const duro_msg *m)
{
    duro_buf b = {0};
    json_t *j = NULL;
    if (duro_tape_to_json(m->body.data, m->body.len, &b) == 0) {
        json_error_t je;
        j = json_loadb(b.data, b.len, 0, &je);
    }
    duro_buf_free(&b);
    return j;
}

static char *json_strdup(const json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? strdup(v) : NULL;
}

/* Sends the call to its namespace's actor again, as an auth op. */
static void resend(call *k, int op, int stage)
{
    if (k->m.req != (void *)k->auth) { /* after a session trip */
        duro_request_free(k->m.kind, k->m.req);
        k->m.req = k->auth;
    }
    const int kind = DURO_KIND_AUTH;
    duro_buf_free(&k->m.body);
    k->m.status = DURO_OK;
    k->m.errmsg[0] = '\0';
    k->m.etag = -1;
    k->m.kind = kind;
    k->m.op = op;
    k->stage = stage;
    duro_courier_send(k->t->courier, &k->m);
}

static void to_worker(call *k, void (*work)(duro_msg *), int stage)
{
    duro_buf_free(&k->m.body);
    k->stage = stage;
    duro_courier_work(k->t->courier, k->t->srv->workers, &k->m, work);
}

/* The session id of a request: the duro_session cookie, or (when access
 * control does not use the header) Authorization: Bearer. NULL if none. */
static char *session_id_of(io_thread *t, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *cookie = evhttp_find_header(h, "Cookie");
    for (const char *p = cookie; p && (p = strstr(p, "duro_session=")) != NULL; p++) {
        if (p != cookie && p[-1] != ' ' && p[-1] != ';')
            continue;
        p += 13;
        size_t n = strcspn(p, "; ");
        return n ? strndup(p, n) : NULL;
    }
    const char *auth = evhttp_find_header(h, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0 &&
        !(t->srv->access && duro_access_enabled(t->srv->access)))
        return strdup(auth + 7);
    return NULL;
}

static void add_cookie(struct evhttp_request *req, const char *id, int64_t max_age_s)
{
    char v[160];
    snprintf(v, sizeof v, "duro_session=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld",
             id ? id : "", (long long)max_age_s);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", v);
}

static void auth_reply(duro_msg *m)
{
    call *k = (call *)m;
    io_thread *t = k->t;
    duro_auth_req *r = k->auth;
    if (m->status != DURO_OK) {
        if (k->stage == AUTH_LOGIN_BEGUN && m->rl.set)
            m->rl.limit = DURO_AUTH_FAIL_EMAIL_LIMIT;
        goto answer;
    }
    switch (k->stage) {
    case AUTH_CREATE_HASHED:
        resend(k, DURO_AUTH_USER_CREATE, AUTH_CREATE_DONE);
        return;
    case AUTH_LOGIN_BEGUN: {
        json_t *j = tape_json(m);
        r->pwhash = json_strdup(j, "pwhash");
        r->user_id = json_strdup(j, "userId");
        json_decref(j);
        to_worker(k, work_verify, AUTH_LOGIN_VERIFIED);
        return;
    }
    case AUTH_LOGIN_VERIFIED:
        resend(k, DURO_AUTH_LOGIN_FINISH, AUTH_LOGIN_DONE);
        return;
    case AUTH_PW_SESSION: {
        json_t *j = tape_json(m);
        r->user_id = json_strdup(j, "userId");
        json_decref(j);
        if (!r->user_id) {
            duro_msg_fail(m, DURO_FORBIDDEN, "the session belongs to no user");
            goto answer;
        }
        resend(k, DURO_AUTH_USER_GET, AUTH_PW_USER);
        return;
    }
    case AUTH_PW_USER: {
        json_t *j = tape_json(m);
        r->pwhash = json_strdup(j, "pwhash");
        json_decref(j);
        to_worker(k, work_verify, AUTH_PW_VERIFIED);
        return;
    }
    case AUTH_PW_VERIFIED:
        if (!r->ok) {
            duro_msg_fail(m, DURO_UNAUTHORIZED, "the current password is wrong");
            goto answer;
        }
        resend(k, DURO_AUTH_SET_PASSWORD, AUTH_PW_DONE);
        return;
    default:
        break;
    }
answer:;
    int status = m->status;
    if (status == DURO_NOT_FOUND && k->stage != AUTH_PLAIN_DELETE)
        duro_msg_fail(m, status = DURO_UNAUTHORIZED, "no such session");
    if (status == DURO_OK && k->stage == AUTH_LOGIN_DONE) {
        json_t *j = tape_json(m);
        const char *sid = json_string_value(json_object_get(j, "sessionId"));
        add_cookie(k->req, sid, r->ttl_ms / 1000);
        json_decref(j);
    }
    respond(t, k->req, k->c, k->route, k->accept_mp, k->t0_us, status, m->errmsg, &m->body,
            -1, m);
    free_call(k);
    t->inflight--;
    maybe_exit(t);
}

/* POST /auth/users | /auth/login | /auth/logout | /auth/password, GET /auth/session */
static void serve_auth(io_thread *t, struct evhttp_request *req, conn *c,
                       enum evhttp_cmd_type cmd, const char *path, const char *query,
                       int accept_mp, uint64_t t0)
{
    const int route = DURO_ROUTE_AUTH;
    const char *what = path + 6;
    int is_get = strcmp(what, "session") == 0;
    if (strcmp(what, "users") && strcmp(what, "login") && strcmp(what, "logout") &&
        strcmp(what, "password") && !is_get) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (is_get ? cmd != EVHTTP_REQ_GET : cmd != EVHTTP_REQ_POST) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      is_get ? "allowed: GET" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.route = route};
    int st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(t, req, ri.ns, ri.ns_len, !is_get, err, sizeof err);
    if (st != DURO_OK) {
        respond_error(t, req, c, route, accept_mp, t0, st, err);
        return;
    }
    call *k = new_call(t, req, c, route, accept_mp, t0);
    duro_auth_req *r = k ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        free(k);
        if (k)
            respond_error(t, req, c, route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return;
    }
    k->auth = r;
    k->m.req = r;
    k->m.kind = DURO_KIND_AUTH;
    k->m.reply = auth_reply;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;

    /* logout and session: plain session ops */
    if (!strcmp(what, "logout") || is_get || !strcmp(what, "password")) {
        char *sid = session_id_of(t, req);
        if (!sid) {
            free_call(k);
            respond_error(t, req, c, route, accept_mp, t0, DURO_UNAUTHORIZED,
                          "no session (cookie duro_session or Authorization: Bearer)");
            return;
        }
        if (!strcmp(what, "password")) {
            json_t *body = NULL;
            st = parse_body(req, DURO_ENC_JSON, (size_t)t->srv->cfg->max_body_bytes, &body, err,
                            sizeof err);
            if (st == DURO_OK && !json_is_object(body)) {
                snprintf(err, sizeof err, "body must be {\"currentPassword\", \"newPassword\"}");
                st = DURO_BAD_REQUEST;
            }
            if (st == DURO_OK)
                st = password_field(body, "currentPassword", &r->password, err, sizeof err);
            if (st == DURO_OK)
                st = password_field(body, "newPassword", &r->password2, err, sizeof err);
            json_decref(body);
            if (st == DURO_OK && duro_session_id_hash(sid, strlen(sid), r->keep_hash) == 0)
                r->has_keep = 1;
            if (st != DURO_OK || !r->has_keep) {
                free(sid);
                free_call(k);
                respond_error(t, req, c, route, accept_mp, t0,
                              st != DURO_OK ? st : DURO_UNAUTHORIZED,
                              st != DURO_OK ? err : "no such session");
                return;
            }
        }
        /* first trip: a session op with its own request (k->auth waits) */
        int sop = is_get || !strcmp(what, "password") ? DURO_SESSION_GET : DURO_SESSION_DELETE;
        duro_session_req *sr = NULL;
        st = duro_session_request(sop, sid, strlen(sid), NULL, &sr, err, sizeof err);
        free(sid);
        if (st != DURO_OK) {
            free_call(k);
            respond_error(t, req, c, route, accept_mp, t0, st, err);
            return;
        }
        k->m.req = sr;
        k->m.kind = DURO_KIND_SESSION;
        k->m.op = sop;
        k->stage = !strcmp(what, "password") ? AUTH_PW_SESSION
                   : is_get                   ? AUTH_PLAIN_GET
                                              : AUTH_PLAIN_DELETE;
        if (!strcmp(what, "logout"))
            add_cookie(req, NULL, 0);
        t->inflight++;
        duro_courier_send(t->courier, &k->m);
        return;
    }

    json_t *body = NULL;
    st = read_body(t->srv, req, &body, NULL, err, sizeof err);
    if (st == DURO_OK && !json_is_object(body)) {
        snprintf(err, sizeof err, "body must be {\"email\", \"password\"}");
        st = DURO_BAD_REQUEST;
    }
    const json_t *em = json_object_get(body, "email");
    if (st == DURO_OK && (!json_is_string(em) ||
                          normalize_email(json_string_value(em), json_string_length(em),
                                          &r->email) != 0)) {
        snprintf(err, sizeof err, "\"email\" must be an address like name@example.com");
        st = DURO_BAD_REQUEST;
    }
    if (st == DURO_OK)
        st = password_field(body, "password", &r->password, err, sizeof err);
    r->ttl_ms = 24LL * 3600 * 1000;
    const json_t *ttl = json_object_get(body, "ttlMs");
    if (st == DURO_OK && ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1000 ||
            json_integer_value(ttl) > DURO_KV_TTL_MAX) {
            snprintf(err, sizeof err, "\"ttlMs\" must be an integer from 1000 to 315360000000");
            st = DURO_BAD_REQUEST;
        } else {
            r->ttl_ms = json_integer_value(ttl);
        }
    }
    json_decref(body);
    if (st != DURO_OK) {
        free_call(k);
        respond_error(t, req, c, route, accept_mp, t0, st, err);
        return;
    }
    char *addr = NULL;
    ev_uint16_t port;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
    r->client = strdup(addr ? addr : "-");
    t->inflight++;
    if (!strcmp(what, "users")) {
        to_worker(k, work_hash, AUTH_CREATE_HASHED);
    } else {
        k->m.op = DURO_AUTH_LOGIN_BEGIN;
        k->stage = AUTH_LOGIN_BEGUN;
        duro_courier_send(t->courier, &k->m);
    }
}

/* POST /sessions, GET|PUT|DELETE /sessions/:id, GET|DELETE /users/:userId/sessions */
static void serve_sessions(io_thread *t, struct evhttp_request *req, conn *c,
                           enum evhttp_cmd_type cmd, const char *path, const char *query,
                           int accept_mp, uint64_t t0)
{
    const int route = DURO_ROUTE_SESSION;
    const char *raw = NULL;
    size_t raw_len = 0;
    int op = -1;
    if (strcmp(path, "/sessions") == 0 || strcmp(path, "/sessions/") == 0) {
        op = cmd == EVHTTP_REQ_POST ? DURO_SESSION_CREATE : -2;
    } else if (strncmp(path, "/sessions/", 10) == 0) {
        raw = path + 10;
        raw_len = strlen(raw);
        op = cmd == EVHTTP_REQ_GET      ? DURO_SESSION_GET
             : cmd == EVHTTP_REQ_PUT    ? DURO_SESSION_PUT
             : cmd == EVHTTP_REQ_DELETE ? DURO_SESSION_DELETE
                                        : -2;
    } else {
        raw = path + 7; /* "/users/" */
        raw_len = strlen(raw) - 9; /* "/sessions" */
        op = cmd == EVHTTP_REQ_GET      ? DURO_SESSION_LIST_USER
             : cmd == EVHTTP_REQ_DELETE ? DURO_SESSION_REVOKE_USER
                                        : -2;
    }
    if (op == -2) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      raw ? "allowed: GET, PUT, DELETE" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(t, req, ri.ns, ri.ns_len,
                       op != DURO_SESSION_GET && op != DURO_SESSION_LIST_USER, err, sizeof err);
    char *id = NULL;
    size_t id_len = 0;
    if (st == DURO_OK && raw && duro_pct_decode(raw, raw_len, &id, &id_len) != 0) {
        snprintf(err, sizeof err, "bad percent-encoding in the path");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && (op == DURO_SESSION_CREATE || op == DURO_SESSION_PUT ||
                          (op == DURO_SESSION_REVOKE_USER &&
                           evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0)))
        st = read_body(t->srv, req, &body, NULL, err, sizeof err);
    if (st == DURO_OK && op == DURO_SESSION_REVOKE_USER) {
        char *v;
        size_t vn;
        if (duro_query_get(query, "exceptId", &v, &vn) == 1) {
            if (!body)
                body = json_object();
            if (body && json_is_object(body))
                json_object_set_new(body, "exceptId", json_stringn_nocheck(v, vn));
            free(v);
        }
    }
    duro_session_req *r = NULL;
    if (st == DURO_OK)
        st = duro_session_request(op, id, id_len, body, &r, err, sizeof err);
    json_decref(body);
    free(id);
    if (st != DURO_OK) {
        respond_error(t, req, c, route, accept_mp, t0, st, err);
        return;
    }
    call *k = new_call(t, req, c, route, accept_mp, t0);
    if (!k) {
        duro_request_free(DURO_KIND_SESSION, r);
        return;
    }
    k->m.kind = DURO_KIND_SESSION;
    k->m.op = op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(t, k);
}

/* GET /api/resources/list and /stats (the registry actor), POST
 * /api/resources/register and DELETE /api/resources/unregister (the owner of
 * the resource's namespace; unregister reads a body or the query). */
static void serve_resources(io_thread *t, struct evhttp_request *req, conn *c,
                            enum evhttp_cmd_type cmd, const char *rest, const char *query,
                            int accept_mp, uint64_t t0)
{
    static const struct {
        const char *path;
        enum evhttp_cmd_type cmd;
        const char *allowed;
        int kind, op;
    } routes[] = {
        {"list", EVHTTP_REQ_GET, "allowed: GET", DURO_KIND_REGISTRY, DURO_REGISTRY_LIST},
        {"stats", EVHTTP_REQ_GET, "allowed: GET", DURO_KIND_REGISTRY, DURO_REGISTRY_STATS},
        {"register", EVHTTP_REQ_POST, "allowed: POST", DURO_KIND_RESOURCE,
         DURO_RESOURCE_REGISTER},
        {"unregister", EVHTTP_REQ_DELETE, "allowed: DELETE", DURO_KIND_RESOURCE,
         DURO_RESOURCE_UNREGISTER},
    };
    const int route = DURO_ROUTE_RESOURCES;
    size_t i = 0;
    while (i < sizeof routes / sizeof routes[0] && strcmp(rest, routes[i].path) != 0)
        i++;
    if (i == sizeof routes / sizeof routes[0]) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (cmd != routes[i].cmd) {
        respond_error(t, req, c, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      routes[i].allowed);
        return;
    }
    char err[256], ns[DURO_NS_MAX + 1] = "*";
    size_t ns_len = 1;
    void *rq = NULL;
    json_t *args = NULL;
    int st;
    if (routes[i].kind == DURO_KIND_REGISTRY) {
        st = query_object(query, registry_params, sizeof registry_params / sizeof *registry_params,
                          &args, err, sizeof err);
        duro_registry_query *q = NULL;
        if (st == DURO_OK && (st = duro_registry_query_from(args, DURO_PARAMS_QUERY, &q, err,
                                                            sizeof err)) == DURO_OK) {
            const char *scope; /* the message itself goes to the registry as "*" */
            size_t scope_len;
            duro_registry_query_scope(q, &scope, &scope_len);
            st = authorize(t, req, scope, scope_len, 0, err, sizeof err);
        }
        rq = q;
    } else {
        int body = evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0;
        if (routes[i].op == DURO_RESOURCE_UNREGISTER && !body)
            st = query_object(query, resource_params,
                              sizeof resource_params / sizeof *resource_params, &args, err,
                              sizeof err);
        else
            st = read_body(t->srv, req, &args, NULL, err, sizeof err);
        duro_resource_req *r = NULL;
        if (st == DURO_OK)
            st = duro_resource_request(routes[i].op, args, ns, &ns_len, &r, err, sizeof err);
        rq = r;
        if (st == DURO_OK)
            st = authorize(t, req, ns, ns_len, 1, err, sizeof err);
    }
    json_decref(args);
    if (st != DURO_OK) {
        respond_error(t, req, c, route, accept_mp, t0, st, err);
        duro_request_free(routes[i].kind, rq);
        return;
    }
    call *k = new_call(t, req, c, route, accept_mp, t0);
    if (!k) {
        duro_request_free(routes[i].kind, rq);
        return;
    }
    k->m.kind = routes[i].kind;
    k->m.op = routes[i].op;
    k->m.req = rq;
    memcpy(k->m.ns, ns, ns_len + 1);
    k->m.ns_len = ns_len;
    send_call(t, k);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    io_thread *t = arg;
    uint64_t t0 = now_us();
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn *c = conn_find(t, evhttp_connection_get_bufferevent(evcon));
    if (c)
        c->busy = 1;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    int accept_mp =
        wants_msgpack(evhttp_find_header(evhttp_request_get_input_headers(req), "Accept"));
    char err[256];
    const char *allowed = NULL;
    if (!path)
        path = "";

    if (cmd == EVHTTP_REQ_OPTIONS) { /* CORS preflight, on every route */
        struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
        evhttp_add_header(hd, "Access-Control-Allow-Methods", CORS_METHODS);
        evhttp_add_header(hd, "Access-Control-Allow-Headers", CORS_HEADERS);
        evhttp_add_header(hd, "Access-Control-Max-Age", "600");
        evhttp_add_header(hd, "Allow", CORS_METHODS);
        add_cors(t->srv, req);
        evhttp_send_reply(req, 204, "No Content", NULL);
        conn_idle(c);
        duro_metrics_request(DURO_ROUTE_OPTIONS, 204, now_us() - t0);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
            respond_error(t, req, c, DURO_ROUTE_HEALTHZ, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                          "allowed: GET, HEAD");
            return;
        }
        struct evbuffer *eb = evbuffer_new();
        evbuffer_add(eb, "ok\n", 3);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
        evhttp_send_reply(req, 200, "OK", eb);
        evbuffer_free(eb);
        conn_idle(c);
        duro_metrics_request(DURO_ROUTE_HEALTHZ, 200, now_us() - t0);
        return;
    }
    /* Every other route needs valid credentials when access control is on;
     * which namespaces they reach is checked once the route names one. */
    if (t->srv->access && duro_access_enabled(t->srv->access)) {
        const char *auth =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        int st = duro_access_check(t->srv->access, auth, NULL, 0, 0, (int64_t)time(NULL), err,
                                   sizeof err);
        if (st == DURO_UNAUTHORIZED) {
            respond_error(t, req, c, DURO_ROUTE_OTHER, accept_mp, t0, st, err);
            return;
        }
        /* /metrics: the admin token, or a JWT for every namespace ("*") */
        if (strcmp(path, "/metrics") == 0 && st != DURO_OK &&
            duro_access_check(t->srv->access, auth, "*", 1, 0, (int64_t)time(NULL), err,
                              sizeof err) != DURO_OK) {
            respond_error(t, req, c, DURO_ROUTE_METRICS, accept_mp, t0, DURO_FORBIDDEN,
                          "/metrics needs the admin token or a JWT for every namespace");
            return;
        }
    }
    if (strcmp(path, "/metrics") == 0) {
        if (cmd != EVHTTP_REQ_GET)
            respond_error(t, req, c, DURO_ROUTE_METRICS, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                          "allowed: GET");
        else
            serve_metrics(t, req, c, t0);
        return;
    }

    size_t plen = strlen(path);
    if (strncmp(path, "/sessions", 9) == 0 && (path[9] == '\0' || path[9] == '/')) {
        serve_sessions(t, req, c, cmd, path, query, accept_mp, t0);
        return;
    }
    if (strncmp(path, "/users/", 7) == 0 && plen > 16 &&
        strcmp(path + plen - 9, "/sessions") == 0) {
        serve_sessions(t, req, c, cmd, path, query, accept_mp, t0);
        return;
    }
    if (strncmp(path, "/auth/", 6) == 0) {
        serve_auth(t, req, c, cmd, path, query, accept_mp, t0);
        return;
    }
    if (strncmp(path, "/api/resources/", 15) == 0) {
        serve_resources(t, req, c, cmd, path + 15, query, accept_mp, t0);
        return;
    }
    if (strncmp(path, "/ratelimit/", 11) == 0 && path[11]) {
        serve_ratelimit(t, req, c, cmd, path + 11, query, accept_mp, t0);
        return;
    }
    route_info ri = {.op = -1, .route = DURO_ROUTE_OTHER};
    if (strcmp(path, "/api/storage") == 0 || strcmp(path, "/api/storage/") == 0) {
        ri.op = cmd == EVHTTP_REQ_GET     ? DURO_KV_SNAPSHOT_GET
                : cmd == EVHTTP_REQ_PATCH ? DURO_KV_SNAPSHOT_PATCH
                                          : -2;
        allowed = "allowed: GET, PATCH, OPTIONS";
    } else if (strncmp(path, "/storage/", 9) == 0) {
        const char *rest = path + 9;
        ri.op = storage_op(cmd, rest, &allowed);
        ri.key_raw = rest;
        ri.key_raw_len = strlen(rest);
        if (ri.op != DURO_KV_GET && ri.op != DURO_KV_PUT && ri.op != DURO_KV_DELETE)
            ri.key_raw = NULL;
    } else if (strncmp(path, "/api/storage/kv/", 16) == 0) {
        const char *s = path + 16;
        const char *slash = strchr(s, '/');
        size_t nlen = slash ? (size_t)(slash - s) : strlen(s);
        if (nlen == 0 || nlen > DURO_NS_MAX * 3) {
            ri.op = -1;
        } else {
            memcpy(ri.ns, s, nlen < DURO_NS_MAX ? nlen : DURO_NS_MAX);
            ri.ns_len = nlen < DURO_NS_MAX ? nlen : DURO_NS_MAX + 1; /* too long: fails below */
            ri.ns_in_path = 1;
            if (nlen > DURO_NS_MAX) {
                respond_error(t, req, c, DURO_ROUTE_OTHER, accept_mp, t0, DURO_BAD_REQUEST,
                              "invalid namespace: longer than 128 bytes");
                return;
            }
            if (!slash || (slash[1] == '\0' && cmd == EVHTTP_REQ_GET)) {
                if (cmd == EVHTTP_REQ_GET)
                    ri.op = DURO_KV_LIST;
                else {
                    ri.op = -2;
                    allowed = "allowed: GET";
                }
            } else {
                const char *rest = slash + 1;
                switch (cmd) {
                case EVHTTP_REQ_GET:
                    ri.op = DURO_KV_GET;
                    break;
                case EVHTTP_REQ_PUT:
                case EVHTTP_REQ_POST:
                    ri.op = DURO_KV_PUT;
                    break;
                case EVHTTP_REQ_DELETE:
                    ri.op = DURO_KV_DELETE;
                    break;
                default:
                    ri.op = -2;
                    allowed = "allowed: GET, PUT, POST, DELETE";
                }
                ri.key_raw = rest;
                ri.key_raw_len = strlen(rest);
            }
        }
    }
    if (ri.op == -1) {
        respond_error(t, req, c, DURO_ROUTE_OTHER, accept_mp, t0, DURO_NOT_FOUND,
                      "no such route");
        return;
    }
    if (ri.op == -2) {
        respond_error(t, req, c, DURO_ROUTE_OTHER, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      allowed);
        return;
    }
    ri.route = op_routes[ri.op];

    duro_kv_req *r = duro_kv_req_new(ri.op);
    if (!r) {
        respond_error(t, req, c, ri.route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return;
    }
    int st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(t, req, ri.ns, ri.ns_len, duro_kv_op_writes(ri.op), err, sizeof err);
    if (st == DURO_OK)
        st = build_kv(t->srv, req, &ri, query, r, err, sizeof err);
    if (st != DURO_OK) {
        respond_error(t, req, c, ri.route, accept_mp, t0, st, err);
        duro_kv_req_free(r);
        return;
    }
    call *k = new_call(t, req, c, ri.route, accept_mp, t0);
    if (!k) {
        duro_kv_req_free(r);
        return;
    }
    k->m.kind = DURO_KIND_KV;
    k->m.op = ri.op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(t, k);
}

/* ---- threads ---- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    t->stopping = 1;
    if (t->listener)
        evconnlistener_disable(t->listener);
    duro_rpc_stop(t->rpc);
    maybe_exit(t);
}

static void *io_main(void *arg)
{
    io_thread *t = arg;
    pthread_setname_np(pthread_self(), "duro-io");
    event_base_dispatch(t->base);
    /* A request read in the same loop iteration as the stop may still be out
     * with an actor: keep the loop turning until its reply is sent. */
    while (t->inflight > 0 || duro_rpc_inflight(t->rpc) > 0)
        event_base_loop(t->base, EVLOOP_ONCE);
    return NULL;
}

static int thread_init(duro_http *srv, io_thread *t, const struct sockaddr *sa, int salen,
                       char *err, size_t errlen)
{
    const duro_config *cfg = srv->cfg;
    t->srv = srv;
    t->max_conns = cfg->max_connections / srv->n;
    if (t->max_conns < 1)
        t->max_conns = 1;
    t->base = event_base_new();
    t->http = t->base ? evhttp_new(t->base) : NULL;
    if (!t->http) {
        snprintf(err, errlen, "cannot create event loop");
        return DURO_INTERNAL;
    }
    t->listener = evconnlistener_new_bind(
        t->base, NULL, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC |
            LEV_OPT_DISABLED,
        1024, sa, salen);
    if (!t->listener) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 strerror(errno));
        return DURO_IO;
    }
    /* accepted sockets inherit TCP_NODELAY (Linux): a reply larger than one
     * segment must not wait for the client's delayed ACK (Nagle) */
    int one = 1;
    setsockopt(evconnlistener_get_fd(t->listener), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!evhttp_bind_listener(t->http, t->listener)) {
        snprintf(err, errlen, "cannot bind HTTP to the listener");
        return DURO_INTERNAL;
    }
    evhttp_set_gencb(t->http, on_request, t);
    evhttp_set_bevcb(t->http, on_new_conn, t);
    evhttp_set_max_headers_size(t->http, cfg->max_header_bytes);
    evhttp_set_max_body_size(t->http, cfg->max_body_bytes);
    struct timeval tv = {cfg->idle_timeout_ms / 1000, (cfg->idle_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(t->http, &tv);
    evhttp_set_allowed_methods(t->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_default_content_type(t->http, "application/json");
    t->stop = event_new(t->base, -1, 0, on_stop, t);
    t->sweep = event_new(t->base, -1, EV_PERSIST, on_sweep, t);
    t->courier = duro_courier_new(t->base, srv->rt);
    if (!t->stop || !t->sweep || !t->courier) {
        snprintf(err, errlen, "cannot create events");
        return DURO_INTERNAL;
    }
    if (cfg->rpc_port > 0) {
        int st = duro_rpc_new(t->base, cfg, t->courier, srv->access, sa, salen, on_rpc_idle, t,
                              &t->rpc, err, errlen);
        if (st != DURO_OK)
            return st;
    }
    struct timeval sw = {0, SWEEP_MS * 1000};
    event_add(t->sweep, &sw);
    return DURO_OK;
}

static void thread_free(io_thread *t)
{
    if (t->http)
        evhttp_free(t->http); /* frees its listeners and connections */
    while (t->conns) {
        conn *c = t->conns;
        t->conns = c->next;
        bufferevent_decref(c->bev);
        free(c);
    }
    duro_rpc_free(t->rpc);
    duro_courier_free(t->courier);
    if (t->stop)
        event_free(t->stop);
    if (t->sweep)
        event_free(t->sweep);
    if (t->base)
        event_base_free(t->base);
}

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

int duro_http_start(const duro_config *cfg, duro_runtime *rt, const duro_access *access,
                    duro_http **out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int salen;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *host = cfg->listen_host;
    char h6[256];
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        memcpy(h6, host + 1, hl - 2);
        h6[hl - 2] = '\0';
        host = h6;
    }
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->listen_port);
        salen = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->listen_port);
        salen = sizeof *in6;
    } else {
        snprintf(err, errlen, "--listen: \"%s\" is not an IP address", cfg->listen_host);
        return DURO_BAD_REQUEST;
    }

    /* SO_REUSEPORT would let a second durod share our ports silently: make
     * sure nobody holds them before our own listeners bind with it. */
    int st = port_in_use((struct sockaddr *)&ss, salen, cfg->listen_port, err, errlen, "--listen");
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
    cors_setup(h, cfg);
    duro_rl_parse_default(cfg->ratelimit_default, &h->rl_defaults);
    h->pw_ops = cfg->pwhash_min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    h->pw_mem = cfg->pwhash_min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    {
        unsigned char junk[32];
        randombytes_buf(junk, sizeof junk);
        if (crypto_pwhash_str(h->dummy_hash, (const char *)junk, sizeof junk, h->pw_ops,
                              h->pw_mem) != 0 ||
            duro_workers_start(2, 4096, &h->workers) != DURO_OK) {
            snprintf(err, errlen, "cannot start the password workers");
            free(h);
            return DURO_NOMEM;
        }
    }
    h->n = (int)cfg->io_threads;
    h->threads = calloc((size_t)h->n, sizeof *h->threads);
    if (!h->threads) {
        duro_workers_stop(h->workers);
        free(h);
        return DURO_NOMEM;
    }
    int started = 0;
    for (int i = 0; i < h->n && st == DURO_OK; i++)
        st = thread_init(h, &h->threads[i], (struct sockaddr *)&ss, salen, err, errlen);
    for (int i = 0; i < h->n && st == DURO_OK; i++) {
        evconnlistener_enable(h->threads[i].listener);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20); /* jansson needs deep stacks */
        if (pthread_create(&h->threads[i].thread, &attr, io_main, &h->threads[i]) != 0) {
            snprintf(err, errlen, "cannot start I/O thread");
            st = DURO_INTERNAL;
        } else {
            started++;
        }
        pthread_attr_destroy(&attr);
    }
    if (st != DURO_OK) {
        for (int i = 0; i < started; i++) {
            event_active(h->threads[i].stop, EV_READ, 0);
            pthread_join(h->threads[i].thread, NULL);
        }
        duro_workers_stop(h->workers);
        for (int i = 0; i < h->n; i++)
            if (h->threads[i].srv)
                thread_free(&h->threads[i]);
        free(h->threads);
        free(h);
        return st;
    }
    *out = h;
    return DURO_OK;
}

void duro_http_stop(duro_http *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        event_active(h->threads[i].stop, EV_READ, 0);
    for (int i = 0; i < h->n; i++)
        pthread_join(h->threads[i].thread, NULL);
}

void duro_http_free(duro_http *h)
{
    if (!h)
        return;
    duro_workers_stop(h->workers); /* before the couriers their jobs report to */
    for (int i = 0; i < h->n; i++)
        thread_free(&h->threads[i]);
    free(h->threads);
    free(h);
}
