/*
 * http.c — the HTTP API: routes, request decoding, reply envelopes (see http.h).
 *
 * DESIGN
 * Threads: the I/O threads of io.c; HTTP/1.1 framing is http1.c's. A request
 * reaches on_request() whole (or with r->error set when it could not be read:
 * it is answered with the JSON error envelope like every other error). It is
 * routed, its namespace found and authorized (access.c), its query and body
 * decoded and validated into the request of an object kind, and handed as a
 * duro_msg to this thread's courier (courier.h), which batches it to the owning
 * actor and brings the answer back to this thread: call_reply() encodes the
 * reply from the actor's tape and sends it. The call (message + request) is
 * allocated and freed here. The binary protocol (rpc.c) runs on the same
 * threads, loops and couriers.
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

#include <arpa/inet.h>
#include <assert.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "objects/auth.h"
#include "objects/kv.h"
#include "objects/object.h"
#include "common/log.h"
#include "common/tape.h"
#include "runtime/errinj.h"
#include "runtime/workers.h"
#include "transport/access.h"
#include "common/codec.h"
#include "common/errbody.h"
#include "transport/courier.h"
#include "transport/http1.h"
#include "transport/io.h"
#include "objects/kv_req.h"
#include "transport/metrics.h"
#include "common/names.h"
#include "objects/registry_req.h"
#include "objects/ratelimit_req.h"
#include "transport/rpc.h"
#include "objects/session_req.h"

/* Replies whose tape is larger are encoded on the encoder pool, and bodies
 * larger than this are parsed there. */
#define ENCODE_INLINE_MAX (32u << 10)
#define DECODE_INLINE_MAX (64u << 10)

typedef struct call call;

struct duro_http {
    const duro_config *cfg;
    duro_runtime *rt;
    const duro_access *access;
    duro_io *io;
    duro_rpc *rpc;
    duro_workers *encoders; /* large replies */
    duro_http1_config h1;
    char cors[512];         /* allowed origins: "" none, "*" any, or a comma list */
    duro_kv_limits limits;
    duro_rl_defaults rl_defaults;
    duro_limits lim; /* what the kinds' decoders apply (runtime/kind.h) */
};

struct call {
    duro_msg m; /* first: a duro_msg * is a call * */
    duro_http *srv;
    duro_hreq *req;
    int route;
    int accept_mp;
    uint64_t t0_us;
    int raw;          /* the reply is the document itself, without the envelope */
    int enc_status;   /* what the encoder pool produced in out */
    duro_buf out;
};

/* ---- reply bodies ---- */

/* The snapshot is the document itself, and the registry list answers as
 * API.md shows it: both without the envelope. */
static int answers_raw(const duro_msg *m)
{
    return m && ((m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET) ||
                 (m->kind == DURO_KIND_REGISTRY && m->op == DURO_REGISTRY_LIST));
}

/* Encodes a reply body into out: the success envelope around the tape (or
 * the bare document when raw), or the error envelope. Pure: runs on I/O
 * threads and on the encoder pool. Returns the status it encoded (INTERNAL if
 * the tape could not be converted). */
static int encode_body(duro_buf *out, int accept_mp, int raw, int status, const char *errmsg,
                       const duro_buf *tape)
{
    if (status == DURO_OK) {
        int rc;
        if (raw) {
            rc = accept_mp ? duro_tape_to_mp(tape->data, tape->len, out)
                           : duro_tape_to_json(tape->data, tape->len, out);
        } else if (accept_mp) {
            static const char head[] = "\x82\xa7success\xc3\xa4" "data"; /* {success: true, data: */
            duro_buf_append(out, head, sizeof head - 1);
            rc = duro_tape_to_mp(tape->data, tape->len, out);
        } else {
            duro_buf_puts(out, "{\"success\":true,\"data\":");
            rc = duro_tape_to_json(tape->data, tape->len, out);
            rc |= duro_buf_puts(out, "}");
        }
        if (rc == 0)
            return DURO_OK;
        out->len = 0;
        status = DURO_INTERNAL;
        errmsg = "reply could not be encoded";
    }
    if (accept_mp)
        duro_errbody_mp(out, DURO_ERRBODY_ENVELOPE, status, errmsg);
    else
        duro_errbody_json(out, DURO_ERRBODY_ENVELOPE, status, errmsg);
    return status;
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
static const char *cors_origin(const duro_http *h, duro_hreq *req)
{
    const char *origin = evhttp_find_header(&req->in, "Origin");
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

static void add_cors(const duro_http *h, duro_hreq *req)
{
    const char *o = cors_origin(h, req);
    if (!o)
        return;
    evhttp_add_header(&req->out, "Access-Control-Allow-Origin", o);
    evhttp_add_header(&req->out, "Access-Control-Expose-Headers", CORS_EXPOSE);
    if (strcmp(o, "*"))
        evhttp_add_header(&req->out, "Vary", "Origin");
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

/* Adds the headers of a reply and sends it with body (taken). */
static void send_reply(const duro_http *srv, duro_hreq *req, int route, int accept_mp,
                       uint64_t t0, int status, const char *errmsg, duro_buf *body, int64_t etag,
                       const duro_msg *m)
{
    struct evkeyvalq *h = &req->out;
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
    if (status == DURO_OK && m && m->created)
        code = duro_status_http(DURO_CREATED);
    if (m && m->kind == DURO_KIND_KV &&
        (m->op == DURO_KV_SNAPSHOT_GET || m->op == DURO_KV_SNAPSHOT_PATCH))
        evhttp_add_header(h, "X-Storage-Backend", "sqlite");
    add_cors(srv, req);
    if (status == DURO_METHOD_NOT_ALLOWED && errmsg && strncmp(errmsg, "allowed: ", 9) == 0)
        evhttp_add_header(h, "Allow", errmsg + 9);
    if (status == DURO_UNAVAILABLE)
        evhttp_add_header(h, "Retry-After", "1");
    size_t len;
    char *data = duro_buf_take(body, &len);
    duro_hreq_respond(req, code, NULL, data, data ? len : 0);
    duro_metrics_request(route, code, duro_mono_us() - t0);
}

/* Encodes and sends one reply on this thread. tape is the success data. */
static void respond(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                    int status, const char *errmsg, const duro_buf *tape, int64_t etag,
                    const duro_msg *m)
{
    duro_buf out = {0};
    status = encode_body(&out, accept_mp, answers_raw(m), status, errmsg, tape);
    if (status != DURO_OK && m && m->status == DURO_OK)
        duro_log_error("reply encoding failed (route %d)", route);
    send_reply(srv, req, route, accept_mp, t0, status, errmsg, &out, etag, m);
}

static void respond_error(const duro_http *srv, duro_hreq *req, int route, int accept_mp,
                          uint64_t t0, int status, const char *msg)
{
    respond(srv, req, route, accept_mp, t0, status, msg, NULL, -1, NULL);
}

static void free_call(call *k)
{
    duro_op_free(&duro_object_kinds, &k->m);
    duro_buf_free(&k->m.body);
    duro_buf_free(&k->out);
    free(k);
}

/* Encoder pool: the reply body of a large tape (touches only the call). */
static void work_encode(duro_msg *m)
{
    call *k = (call *)m;
    k->enc_status = encode_body(&k->out, k->accept_mp, k->raw, m->status, m->errmsg, &m->body);
}

/* Back on the I/O thread with the encoded body. */
static void call_encoded(duro_msg *m)
{
    call *k = (call *)m;
    if (k->enc_status != DURO_OK)
        duro_log_error("reply encoding failed (route %d)", k->route);
    send_reply(k->srv, k->req, k->route, k->accept_mp, k->t0_us, k->enc_status, m->errmsg, &k->out,
               m->version, m);
    free_call(k);
}

/* The actor answered (through the courier, on this thread). */
static void call_reply(duro_msg *m)
{
    call *k = (call *)m;
    if (m->status == DURO_OK && m->body.len > ENCODE_INLINE_MAX) {
        k->raw = answers_raw(m);
        m->reply = call_encoded;
        if (duro_courier_offload(duro_conn_courier(k->req->conn), k->srv->encoders, m,
                                 work_encode) == DURO_OK)
            return;
        m->reply = call_reply; /* the pool is full: encode here */
    }
    respond(k->srv, k->req, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg, &m->body,
            m->version, m);
    free_call(k);
}

/* ---- queries and bodies ---- */

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

/* A body parsed on the encoder pool before the request was routed (bodies
 * over DECODE_INLINE_MAX): req->user. */
typedef struct parsed_body {
    duro_msg m; /* the job; first */
    duro_http *srv;
    duro_hreq *req;
    uint64_t t0;
    int enc;    /* of the Content-Type; -1 unsupported */
    int status; /* of the parse */
    json_t *json;
    char err[256];
} parsed_body;

static void route_request(duro_http *srv, duro_hreq *req, uint64_t t0);

static int parse_bytes(const duro_buf *body, int enc, json_t **out, char *err, size_t errlen)
{
    const char *why = "out of memory";
    const unsigned char *p = (const unsigned char *)body->data;
    *out = enc == DURO_ENC_MSGPACK ? duro_mp_to_json(p, body->len, &why)
                                   : duro_json_parse(p, body->len, &why);
    if (!*out) {
        snprintf(err, errlen, "malformed %s body: %s", enc == DURO_ENC_MSGPACK ? "msgpack" : "JSON",
                 why);
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

static void free_parsed(void *p)
{
    parsed_body *b = p;
    json_decref(b->json);
    free(b);
}

/* Encoder pool: parse the body (reads only the request's body). */
static void work_parse(duro_msg *m)
{
    parsed_body *b = (parsed_body *)m;
    if (b->enc >= 0)
        b->status = parse_bytes(&b->req->body, b->enc, &b->json, b->err, sizeof b->err);
}

/* Back on the I/O thread: route the request, its body parsed. */
static void parsed_reply(duro_msg *m)
{
    parsed_body *b = (parsed_body *)m;
    b->req->user = b;
    b->req->user_free = free_parsed;
    route_request(b->srv, b->req, b->t0);
}

/* Parses the body; on error returns a status with a message in err. */
static int parse_body(duro_hreq *req, int enc, size_t max, json_t **out, char *err, size_t errlen)
{
    size_t len = req->body.len;
    *out = NULL;
    parsed_body *pre = req->user_free == free_parsed ? req->user : NULL;
    if (pre && pre->enc == enc && len > 0) {
        if (pre->status != DURO_OK) {
            snprintf(err, errlen, "%s", pre->err);
            return pre->status;
        }
        *out = pre->json;
        pre->json = NULL;
        if (*out)
            return DURO_OK;
        snprintf(err, errlen, "the request body was already read");
        return DURO_INTERNAL;
    }
    if (len == 0) {
        snprintf(err, errlen, "a request body is required");
        return DURO_BAD_REQUEST;
    }
    if (len > max) {
        snprintf(err, errlen, "request body is larger than %zu bytes", max);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    return parse_bytes(&req->body, enc, out, err, errlen);
}

/* The request body, decoded by its Content-Type (415 for another type);
 * *enc (if not NULL) gets the encoding. */
static int read_body(const duro_http *srv, duro_hreq *req, json_t **out, int *enc, char *err,
                     size_t errlen)
{
    int e = body_encoding(evhttp_find_header(&req->in, "Content-Type"));
    *out = NULL;
    if (enc)
        *enc = e;
    if (e < 0) {
        snprintf(err, errlen, "Content-Type must be application/json or application/msgpack");
        return DURO_UNSUPPORTED_MEDIA_TYPE;
    }
    return parse_body(req, e, (size_t)srv->cfg->max_body_bytes, out, err, errlen);
}

/* Every parameter of the query must be one of names (NULL-terminated), at
 * most once. */
static int check_query(const char *query, const char *const *names, char *err, size_t errlen)
{
    unsigned seen = 0;
    for (const char *p = query; p && *p;) {
        size_t seg = strcspn(p, "&");
        if (seg) {
            size_t kl = strcspn(p, "=&");
            char *name = NULL;
            const char *nm = p; /* the name as sent, unless it needs decoding */
            size_t nl = kl;
            if (memchr(p, '%', kl) || memchr(p, '+', kl)) {
                if (duro_pct_decode(p, kl, &name, &nl) != 0) {
                    snprintf(err, errlen, "bad percent-encoding in a query parameter name");
                    return DURO_BAD_REQUEST;
                }
                nm = name;
            }
            int i = 0;
            while (names[i] && !(strlen(names[i]) == nl && memcmp(names[i], nm, nl) == 0))
                i++;
            int st = DURO_OK;
            if (!names[i]) {
                if (nl > 64 || !duro_utf8_valid(nm, nl) || memchr(nm, 0, nl))
                    snprintf(err, errlen, "unknown query parameter");
                else
                    snprintf(err, errlen, "unknown query parameter \"%.*s\"", (int)nl, nm);
                st = DURO_BAD_REQUEST;
            } else if (i < 32 && (seen & (1u << i))) {
                snprintf(err, errlen, "query parameter \"%s\" given twice", names[i]);
                st = DURO_BAD_REQUEST;
            }
            free(name);
            if (st != DURO_OK)
                return st;
            if (i < 32)
                seen |= 1u << i;
        }
        p += seg;
        if (*p)
            p++;
    }
    return DURO_OK;
}

/* A flag in the query: "1", "true" or "" set it, "0" or "false" clear it;
 * absent leaves *out alone. DURO_OK or DURO_BAD_REQUEST. */
static int query_flag(const char *query, const char *name, int *out, char *err, size_t errlen)
{
    char *v;
    size_t n;
    int rc = duro_query_get(query, name, &v, &n);
    if (rc == 0)
        return DURO_OK;
    int st = rc > 0 && duro_query_flag(v, n, out) == 0 ? DURO_OK : DURO_BAD_REQUEST;
    free(v);
    if (st != DURO_OK)
        snprintf(err, errlen, "query parameter \"%s\" must be 1, true, 0 or false", name);
    return st;
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

/* Allowed query parameters, by route. */
static const char *const Q_NONE[] = {NULL};
static const char *const Q_NS[] = {"ns", NULL};
static const char *const Q_NS_META[] = {"ns", "meta", NULL};
static const char *const Q_META[] = {"meta", NULL};
static const char *const Q_NS_LIST[] = {"ns",     "prefix", "start",   "startAfter", "end",
                                        "limit",  "cursor", "reverse", "values",     NULL};
static const char *const Q_LIST[] = {"prefix", "start",   "startAfter", "end", "limit",
                                     "cursor", "reverse", "values",     NULL};
static const char *const Q_NS_ENFORCE[] = {"ns", "enforce", NULL};
static const char *const Q_NS_EXCEPT[] = {"ns", "exceptId", NULL};
static const char *const Q_REGISTRY[] = {"type",  "namespace", "key_prefix",
                                         "limit", "offset",    "consistent", NULL};
static const char *const Q_RESOURCE[] = {"type", "namespace", "key", NULL};

typedef struct route_info {
    int op;       /* enum duro_kv_op, or -1 */
    int route;    /* enum duro_route */
    const char *key_raw; /* percent-encoded key in the path, or NULL */
    size_t key_raw_len;
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    int ns_in_path;
    const char *ns_raw; /* percent-encoded namespace in the path (ns_in_path) */
    size_t ns_raw_len;
} route_info;

/* Maps a method + /storage/... rest to an op; -1 unknown path, -2 wrong method. */
static int storage_op(int cmd, const char *rest, const char **allowed)
{
    if (strcmp(rest, "list") == 0 && cmd == DURO_M_GET)
        return DURO_KV_LIST;
    if (cmd == DURO_M_POST) {
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
    case DURO_M_GET:
        return DURO_KV_GET;
    case DURO_M_PUT:
    case DURO_M_POST:
        return DURO_KV_PUT;
    case DURO_M_DELETE:
        return DURO_KV_DELETE;
    default:
        *allowed = "allowed: GET, HEAD, PUT, POST, DELETE";
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

/* The query parameters a KV route takes. */
static const char *const *kv_query_params(const route_info *ri)
{
    switch (ri->op) {
    case DURO_KV_GET:
        return ri->ns_in_path ? Q_META : Q_NS_META;
    case DURO_KV_LIST:
        return ri->ns_in_path ? Q_LIST : Q_NS_LIST;
    default:
        return ri->ns_in_path ? Q_NONE : Q_NS;
    }
}

/* Fills the request of a KV op from path, query, headers and body. */
static int build_kv(duro_http *srv, duro_hreq *req, const route_info *ri, const char *query,
                    duro_kv_req *r, char *err, size_t errlen)
{
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
    const char *im = evhttp_find_header(&req->in, "If-Match");
    const char *inm = evhttp_find_header(&req->in, "If-None-Match");
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
    if (ri->op == DURO_KV_GET &&
        (st = query_flag(query, "meta", &r->with_meta, err, errlen)) != DURO_OK)
        return st;
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

static int namespace_of(duro_hreq *req, const char *query, route_info *ri, char *err,
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
        if (duro_pct_decode(ri->ns_raw, ri->ns_raw_len, &v, &n) != 0) {
            snprintf(err, errlen, "invalid namespace: bad percent-encoding");
            return DURO_BAD_REQUEST;
        }
    } else if (rc == 0) {
        const char *h = evhttp_find_header(&req->in, "X-Namespace");
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
    int enc = body_encoding(evhttp_find_header(&req->in, "Content-Type"));
    if (enc < 0) {
        snprintf(err, errlen, "Content-Type must be application/json or application/msgpack");
        return DURO_UNSUPPORTED_MEDIA_TYPE;
    }
    json_t *body;
    int st = parse_body(req, enc, ERRINJ_BODY_MAX, &body, err, errlen);
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
    int st = check_query(req->query, Q_NONE, err, sizeof err);
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
        respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, st, err);
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
    respond(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_OK, NULL, &tape, -1, NULL);
    duro_buf_free(&tape);
}

/* May this request touch namespace ns (write: it changes something)? DURO_OK,
 * or DURO_UNAUTHORIZED / DURO_FORBIDDEN with the reason in err. */
static int authorize(duro_http *srv, duro_hreq *req, const char *ns, size_t ns_len, int write,
                     char *err, size_t errlen)
{
    const duro_access *a = srv->access;
    if (!a || !duro_access_enabled(a))
        return DURO_OK;
    const char *auth = evhttp_find_header(&req->in, "Authorization");
    return duro_access_check(a, auth, ns, ns_len, write, (int64_t)time(NULL), err, errlen);
}

/* Allocates a call for this request, or answers 500 and returns NULL. */
static call *new_call(duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0)
{
    call *k = calloc(1, sizeof *k);
    if (!k) {
        respond_error(srv, req, route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return NULL;
    }
    k->srv = srv;
    k->req = req;
    k->route = route;
    k->accept_mp = accept_mp;
    k->t0_us = t0;
    k->m.reply = call_reply;
    return k;
}

static void send_call(call *k)
{
    if (duro_conn_stopping(k->req->conn)) {
        respond_error(k->srv, k->req, k->route, k->accept_mp, k->t0_us, DURO_UNAVAILABLE,
                      "server is shutting down");
        free_call(k);
        return;
    }
    duro_courier_send(duro_conn_courier(k->req->conn), &k->m);
}

/* POST /ratelimit/:key/check, GET|DELETE /ratelimit/:key */
static void serve_ratelimit(duro_http *srv, duro_hreq *req, int cmd, const char *rest,
                            const char *query, int accept_mp, uint64_t t0)
{
    size_t n = strlen(rest);
    int op = -1, route = DURO_ROUTE_OTHER;
    if (n > 6 && strcmp(rest + n - 6, "/check") == 0 && cmd == DURO_M_POST) {
        op = DURO_RL_CHECK;
        n -= 6;
        route = DURO_ROUTE_RL_CHECK;
    } else if (cmd == DURO_M_GET) {
        op = DURO_RL_GET;
        route = DURO_ROUTE_RL_GET;
    } else if (cmd == DURO_M_DELETE) {
        op = DURO_RL_RESET;
        route = DURO_ROUTE_RL_RESET;
    } else {
        respond_error(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      "allowed: POST .../check, GET, HEAD, DELETE");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = check_query(query, op == DURO_RL_CHECK ? Q_NS_ENFORCE : Q_NS, err, sizeof err);
    if (st == DURO_OK)
        st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(srv, req, ri.ns, ri.ns_len, op != DURO_RL_GET, err, sizeof err);
    char *key = NULL;
    size_t key_len = 0;
    if (st == DURO_OK && duro_pct_decode(rest, n, &key, &key_len) != 0) {
        snprintf(err, sizeof err, "invalid key: bad percent-encoding");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && op == DURO_RL_CHECK && req->body.len > 0)
        st = read_body(srv, req, &body, NULL, err, sizeof err);
    duro_rl_req *r = NULL;
    if (st == DURO_OK)
        st = duro_rl_request(op, key, key_len, body, &srv->rl_defaults, &r, err, sizeof err);
    json_decref(body);
    free(key);
    if (st == DURO_OK) {
        int enforce = r->enforce;
        st = query_flag(query, "enforce", &enforce, err, sizeof err);
        r->enforce = enforce;
    }
    if (st != DURO_OK) {
        duro_rl_req_free(r);
        respond_error(srv, req, route, accept_mp, t0, st, err);
        return;
    }
    call *k = new_call(srv, req, route, accept_mp, t0);
    if (!k) {
        duro_rl_req_free(r);
        return;
    }
    k->m.kind = DURO_KIND_RATELIMIT;
    k->m.op = op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(k);
}

/* ---- /auth: users and password login ----
 *
 * The auth ops of the runtime (objects/auth.h: a login runs owner → worker
 * pool → owner there); HTTP only turns the body, the path and the session
 * cookie into their args, and sets or clears the cookie. */

/* The session id of a request: the duro_session cookie, or (when access
 * control does not use the header) Authorization: Bearer. NULL if none. */
static char *session_id_of(duro_http *srv, duro_hreq *req)
{
    const char *cookie = evhttp_find_header(&req->in, "Cookie");
    for (const char *p = cookie; p && (p = strstr(p, "duro_session=")) != NULL; p++) {
        if (p != cookie && p[-1] != ' ' && p[-1] != ';')
            continue;
        p += 13;
        size_t n = strcspn(p, "; ");
        return n ? strndup(p, n) : NULL;
    }
    const char *auth = evhttp_find_header(&req->in, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0 &&
        !(srv->access && duro_access_enabled(srv->access)))
        return strdup(auth + 7);
    return NULL;
}

static void add_cookie(duro_hreq *req, const char *id, int64_t max_age_s)
{
    char v[160];
    snprintf(v, sizeof v, "duro_session=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld",
             id ? id : "", (long long)max_age_s);
    evhttp_add_header(&req->out, "Set-Cookie", v);
}

/* The string field name of a reply tape's map, as a copy (NULL if none). */
static char *tape_field(const duro_msg *m, const char *name)
{
    duro_buf b = {0};
    char *out = NULL;
    if (duro_tape_to_json(m->body.data, m->body.len, &b) == 0) {
        json_error_t je;
        json_t *j = json_loadb(b.data, b.len, 0, &je);
        const char *v = json_string_value(json_object_get(j, name));
        out = v ? strdup(v) : NULL;
        json_decref(j);
    }
    duro_buf_free(&b);
    return out;
}

static void auth_reply(duro_msg *m)
{
    call *k = (call *)m;
    if (m->status == DURO_OK && m->op == DURO_AUTH_LOGIN) {
        char *sid = tape_field(m, "sessionId");
        const duro_auth_req *r = m->req;
        add_cookie(k->req, sid, r->ttl_ms / 1000);
        free(sid);
    }
    respond(k->srv, k->req, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg, &m->body, -1,
            m);
    free_call(k);
}

/* POST /auth/users | /auth/login | /auth/logout | /auth/password, GET /auth/session */
static void serve_auth(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                       const char *query, int accept_mp, uint64_t t0)
{
    static const char *const credential_fields[] = {"email", "password", "ttlMs"};
    static const char *const password_fields[] = {"currentPassword", "newPassword"};
    static const struct {
        const char *path, *op;
        int get, with_session, body;
    } routes[] = {
        {"users", "auth.register", 0, 0, 1}, {"login", "auth.login", 0, 0, 1},
        {"logout", "auth.logout", 0, 1, 0},  {"session", "auth.session", 1, 1, 0},
        {"password", "auth.password", 0, 1, 1},
    };
    const int route = DURO_ROUTE_AUTH;
    size_t i = 0;
    while (i < sizeof routes / sizeof routes[0] && strcmp(path + 6, routes[i].path))
        i++;
    if (i == sizeof routes / sizeof routes[0]) {
        respond_error(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (routes[i].get ? cmd != DURO_M_GET : cmd != DURO_M_POST) {
        respond_error(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      routes[i].get ? "allowed: GET, HEAD" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.route = route};
    int st = check_query(query, Q_NS, err, sizeof err);
    if (st == DURO_OK)
        st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(srv, req, ri.ns, ri.ns_len, !routes[i].get, err, sizeof err);
    char *sid = NULL;
    if (st == DURO_OK && routes[i].with_session && !(sid = session_id_of(srv, req))) {
        snprintf(err, sizeof err, "no session (cookie duro_session or Authorization: Bearer)");
        st = DURO_UNAUTHORIZED;
    }
    json_t *args = NULL;
    int is_password = !strcmp(routes[i].path, "password");
    if (st == DURO_OK && routes[i].body) /* the password route reads JSON only */
        st = is_password ? parse_body(req, DURO_ENC_JSON, (size_t)srv->cfg->max_body_bytes,
                                      &args, err, sizeof err)
                         : read_body(srv, req, &args, NULL, err, sizeof err);
    if (st == DURO_OK && routes[i].body && !json_is_object(args)) {
        snprintf(err, sizeof err, is_password ? "body must be {\"currentPassword\", \"newPassword\"}"
                                              : "body must be {\"email\", \"password\"}");
        st = DURO_BAD_REQUEST;
    }
    if (st == DURO_OK && routes[i].body)
        st = is_password ? duro_fields_check(args, password_fields, 2, NULL, err, sizeof err)
                         : duro_fields_check(args, credential_fields, 3, NULL, err, sizeof err);
    if (st == DURO_OK && !args && !(args = json_object()))
        st = DURO_NOMEM;
    if (st == DURO_OK && sid && json_object_set_new(args, "sessionId", json_string(sid)) != 0)
        st = DURO_NOMEM;
    free(sid);
    if (st == DURO_OK && !strcmp(routes[i].path, "users"))
        json_object_del(args, "ttlMs"); /* HTTP has always taken and ignored it */
    duro_buf mp = {0};
    if (st == DURO_OK && duro_json_to_mp(args, &mp) != 0)
        st = DURO_NOMEM;
    json_decref(args);
    call *k = st == DURO_OK ? new_call(srv, req, route, accept_mp, t0) : NULL;
    if (st == DURO_OK && !k) {
        duro_buf_free(&mp);
        return;
    }
    if (st == DURO_OK) {
        duro_op_call c = {
            .op = routes[i].op,
            .op_len = strlen(routes[i].op),
            .ns = ri.ns,
            .ns_len = ri.ns_len,
            .args = {(const unsigned char *)mp.data, mp.len, DURO_ENC_JSON, &srv->lim,
                     duro_conn_peer(req->conn)},
        };
        if ((st = duro_op_build(&duro_object_kinds, &c, &k->m)) != DURO_OK)
            snprintf(err, sizeof err, "%s", k->m.errmsg);
    }
    duro_buf_free(&mp);
    if (st != DURO_OK) {
        if (k)
            free_call(k);
        respond_error(srv, req, route, accept_mp, t0, st,
                      st == DURO_NOMEM && !err[0] ? "out of memory" : err);
        return;
    }
    k->m.reply = auth_reply;
    if (!strcmp(routes[i].path, "logout"))
        add_cookie(req, NULL, 0);
    send_call(k);
}

/* POST /sessions, GET|PUT|DELETE /sessions/:id, GET|DELETE /users/:userId/sessions */
static void serve_sessions(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                           const char *query, int accept_mp, uint64_t t0)
{
    const int route = DURO_ROUTE_SESSION;
    const char *raw = NULL;
    size_t raw_len = 0;
    int op = -1;
    if (strcmp(path, "/sessions") == 0 || strcmp(path, "/sessions/") == 0) {
        op = cmd == DURO_M_POST ? DURO_SESSION_CREATE : -2;
    } else if (strncmp(path, "/sessions/", 10) == 0) {
        raw = path + 10;
        raw_len = strlen(raw);
        op = cmd == DURO_M_GET      ? DURO_SESSION_GET
             : cmd == DURO_M_PUT    ? DURO_SESSION_PUT
             : cmd == DURO_M_DELETE ? DURO_SESSION_DELETE
                                    : -2;
    } else {
        raw = path + 7; /* "/users/" */
        raw_len = strlen(raw) - 9; /* "/sessions" */
        op = cmd == DURO_M_GET      ? DURO_SESSION_LIST_USER
             : cmd == DURO_M_DELETE ? DURO_SESSION_REVOKE_USER
                                    : -2;
    }
    if (op == -2) {
        respond_error(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      raw ? "allowed: GET, HEAD, PUT, DELETE" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = check_query(query, op == DURO_SESSION_REVOKE_USER ? Q_NS_EXCEPT : Q_NS, err,
                         sizeof err);
    if (st == DURO_OK)
        st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(srv, req, ri.ns, ri.ns_len,
                       op != DURO_SESSION_GET && op != DURO_SESSION_LIST_USER, err, sizeof err);
    char *id = NULL;
    size_t id_len = 0;
    if (st == DURO_OK && raw && duro_pct_decode(raw, raw_len, &id, &id_len) != 0) {
        snprintf(err, sizeof err, "bad percent-encoding in the path");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && (op == DURO_SESSION_CREATE || op == DURO_SESSION_PUT ||
                          (op == DURO_SESSION_REVOKE_USER && req->body.len > 0)))
        st = read_body(srv, req, &body, NULL, err, sizeof err);
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
        respond_error(srv, req, route, accept_mp, t0, st, err);
        return;
    }
    call *k = new_call(srv, req, route, accept_mp, t0);
    if (!k) {
        duro_session_req_free(r);
        return;
    }
    k->m.kind = DURO_KIND_SESSION;
    k->m.op = op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(k);
}

/* GET /api/resources/list and /stats (the registry actor), POST
 * /api/resources/register and DELETE /api/resources/unregister (the owner of
 * the resource's namespace; unregister reads a body or the query). */
static void serve_resources(duro_http *srv, duro_hreq *req, int cmd, const char *rest,
                            const char *query, int accept_mp, uint64_t t0)
{
    static const struct {
        const char *path;
        int cmd;
        const char *allowed;
        int kind, op;
        const char *const *params;
    } routes[] = {
        {"list", DURO_M_GET, "allowed: GET, HEAD", DURO_KIND_REGISTRY, DURO_REGISTRY_LIST,
         Q_REGISTRY},
        {"stats", DURO_M_GET, "allowed: GET, HEAD", DURO_KIND_REGISTRY, DURO_REGISTRY_STATS,
         Q_REGISTRY},
        {"register", DURO_M_POST, "allowed: POST", DURO_KIND_RESOURCE, DURO_RESOURCE_REGISTER,
         Q_NONE},
        {"unregister", DURO_M_DELETE, "allowed: DELETE", DURO_KIND_RESOURCE,
         DURO_RESOURCE_UNREGISTER, Q_RESOURCE},
    };
    const int route = DURO_ROUTE_RESOURCES;
    size_t i = 0;
    while (i < sizeof routes / sizeof routes[0] && strcmp(rest, routes[i].path) != 0)
        i++;
    if (i == sizeof routes / sizeof routes[0]) {
        respond_error(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (cmd != routes[i].cmd) {
        respond_error(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      routes[i].allowed);
        return;
    }
    char err[256], ns[DURO_NS_MAX + 1] = "*";
    size_t ns_len = 1;
    void *rq = NULL;
    json_t *args = NULL;
    int st = check_query(query, routes[i].params, err, sizeof err);
    if (st != DURO_OK) {
        /* answered below */
    } else if (routes[i].kind == DURO_KIND_REGISTRY) {
        st = query_object(query, registry_params, sizeof registry_params / sizeof *registry_params,
                          &args, err, sizeof err);
        duro_registry_query *q = NULL;
        if (st == DURO_OK && (st = duro_registry_query_from(args, DURO_PARAMS_QUERY, &q, err,
                                                            sizeof err)) == DURO_OK) {
            const char *scope; /* the message itself goes to the registry as "*" */
            size_t scope_len;
            duro_registry_query_scope(q, &scope, &scope_len);
            st = authorize(srv, req, scope, scope_len, 0, err, sizeof err);
        }
        rq = q;
    } else {
        int body = req->body.len > 0;
        if (routes[i].op == DURO_RESOURCE_UNREGISTER && !body)
            st = query_object(query, resource_params,
                              sizeof resource_params / sizeof *resource_params, &args, err,
                              sizeof err);
        else if (routes[i].op == DURO_RESOURCE_UNREGISTER && query && *query) {
            snprintf(err, sizeof err, "give the resource in the body or in the query, not both");
            st = DURO_BAD_REQUEST;
        } else
            st = read_body(srv, req, &args, NULL, err, sizeof err);
        duro_resource_req *r = NULL;
        if (st == DURO_OK)
            st = duro_resource_request(routes[i].op, args, ns, &ns_len, &r, err, sizeof err);
        rq = r;
        if (st == DURO_OK)
            st = authorize(srv, req, ns, ns_len, 1, err, sizeof err);
    }
    json_decref(args);
    if (st != DURO_OK) {
        respond_error(srv, req, route, accept_mp, t0, st, err);
        duro_kind_get(&duro_object_kinds, routes[i].kind)->free(rq);
        return;
    }
    call *k = new_call(srv, req, route, accept_mp, t0);
    if (!k) {
        duro_kind_get(&duro_object_kinds, routes[i].kind)->free(rq);
        return;
    }
    k->m.kind = routes[i].kind;
    k->m.op = routes[i].op;
    k->m.req = rq;
    memcpy(k->m.ns, ns, ns_len + 1);
    k->m.ns_len = ns_len;
    send_call(k);
}

/* The KV routes: /storage/..., /api/storage/kv/{ns}[/{key}], /api/storage. */
static void serve_kv(duro_http *srv, duro_hreq *req, int cmd, const char *path, const char *query,
                     int accept_mp, uint64_t t0)
{
    char err[256];
    const char *allowed = NULL;
    route_info ri = {.op = -1, .route = DURO_ROUTE_OTHER};
    if (strcmp(path, "/api/storage") == 0 || strcmp(path, "/api/storage/") == 0) {
        ri.op = cmd == DURO_M_GET     ? DURO_KV_SNAPSHOT_GET
                : cmd == DURO_M_PATCH ? DURO_KV_SNAPSHOT_PATCH
                                      : -2;
        allowed = "allowed: GET, HEAD, PATCH, OPTIONS";
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
        if (nlen == 0) {
            ri.op = -1;
        } else {
            /* decoded and checked by namespace_of(); 3 encoded bytes a byte at most */
            ri.ns_raw = s;
            ri.ns_raw_len = nlen;
            ri.ns_in_path = 1;
            if (nlen > DURO_NS_MAX * 3) {
                respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_BAD_REQUEST,
                              "invalid namespace: longer than 128 bytes");
                return;
            }
            if (!slash || (slash[1] == '\0' && cmd == DURO_M_GET)) {
                if (cmd == DURO_M_GET) {
                    ri.op = DURO_KV_LIST;
                } else {
                    ri.op = -2;
                    allowed = "allowed: GET, HEAD";
                }
            } else {
                const char *rest = slash + 1;
                switch (cmd) {
                case DURO_M_GET:
                    ri.op = DURO_KV_GET;
                    break;
                case DURO_M_PUT:
                case DURO_M_POST:
                    ri.op = DURO_KV_PUT;
                    break;
                case DURO_M_DELETE:
                    ri.op = DURO_KV_DELETE;
                    break;
                default:
                    ri.op = -2;
                    allowed = "allowed: GET, HEAD, PUT, POST, DELETE";
                }
                ri.key_raw = rest;
                ri.key_raw_len = strlen(rest);
            }
        }
    }
    if (ri.op == -1) {
        respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (ri.op == -2) {
        respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                      allowed);
        return;
    }
    ri.route = op_routes[ri.op];

    duro_kv_req *r = duro_kv_req_new(ri.op);
    if (!r) {
        respond_error(srv, req, ri.route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return;
    }
    int st = check_query(query, kv_query_params(&ri), err, sizeof err);
    if (st == DURO_OK)
        st = namespace_of(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = authorize(srv, req, ri.ns, ri.ns_len, duro_kv_op_writes(ri.op), err, sizeof err);
    if (st == DURO_OK)
        st = build_kv(srv, req, &ri, query, r, err, sizeof err);
    if (st != DURO_OK) {
        respond_error(srv, req, ri.route, accept_mp, t0, st, err);
        duro_kv_req_free(r);
        return;
    }
    call *k = new_call(srv, req, ri.route, accept_mp, t0);
    if (!k) {
        duro_kv_req_free(r);
        return;
    }
    k->m.kind = DURO_KIND_KV;
    k->m.op = ri.op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    send_call(k);
}

static void on_request(duro_hreq *req, void *arg)
{
    duro_http *srv = arg;
    uint64_t t0 = duro_mono_us();
    int accept_mp = wants_msgpack(evhttp_find_header(&req->in, "Accept"));
    if (req->error) {
        respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, req->error, req->error_msg);
        return;
    }
    const char *path = req->path ? req->path : "";
    const char *query = req->query;
    char err[256];

    if (req->method == DURO_M_OPTIONS) { /* CORS preflight, on every route */
        struct evkeyvalq *hd = &req->out;
        evhttp_add_header(hd, "Access-Control-Allow-Methods", CORS_METHODS);
        evhttp_add_header(hd, "Access-Control-Allow-Headers", CORS_HEADERS);
        evhttp_add_header(hd, "Access-Control-Max-Age", "600");
        evhttp_add_header(hd, "Allow", CORS_METHODS);
        add_cors(srv, req);
        duro_hreq_respond(req, 204, NULL, NULL, 0);
        duro_metrics_request(DURO_ROUTE_OPTIONS, 204, duro_mono_us() - t0);
        return;
    }
    /* HEAD is GET without the body (http1.c drops it) */
    int cmd = req->method == DURO_M_HEAD ? DURO_M_GET : req->method;
    if (strcmp(path, "/healthz") == 0) {
        int st = cmd != DURO_M_GET ? DURO_METHOD_NOT_ALLOWED
                                   : check_query(query, Q_NONE, err, sizeof err);
        if (st != DURO_OK) {
            respond_error(srv, req, DURO_ROUTE_HEALTHZ, accept_mp, t0, st,
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
        int st = duro_access_check(srv->access, auth, NULL, 0, 0, (int64_t)time(NULL), err,
                                   sizeof err);
        if (st == DURO_UNAUTHORIZED) {
            respond_error(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, st, err);
            return;
        }
        /* /metrics: the admin token, or a JWT for every namespace ("*") */
        if (strcmp(path, "/metrics") == 0 && st != DURO_OK &&
            duro_access_check(srv->access, auth, "*", 1, 0, (int64_t)time(NULL), err,
                              sizeof err) != DURO_OK) {
            respond_error(srv, req, DURO_ROUTE_METRICS, accept_mp, t0, DURO_FORBIDDEN,
                          "/metrics needs the admin token or a JWT for every namespace");
            return;
        }
    }
    if (srv->cfg->errinj && strcmp(path, "/_errinj") == 0) { /* test only: --errinj */
        serve_errinj(srv, req, cmd, accept_mp, t0);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        int st = cmd != DURO_M_GET ? DURO_METHOD_NOT_ALLOWED
                                   : check_query(query, Q_NONE, err, sizeof err);
        if (st != DURO_OK)
            respond_error(srv, req, DURO_ROUTE_METRICS, accept_mp, t0, st,
                          st == DURO_METHOD_NOT_ALLOWED ? "allowed: GET, HEAD" : err);
        else
            serve_metrics(srv, req, t0);
        return;
    }
    /* a large body is parsed on the encoder pool, so that it does not hold
     * this loop; the request is routed when it comes back */
    if (req->body.len > DECODE_INLINE_MAX) {
        parsed_body *b = calloc(1, sizeof *b);
        if (b) {
            b->srv = srv;
            b->req = req;
            b->t0 = t0;
            b->enc = body_encoding(evhttp_find_header(&req->in, "Content-Type"));
            b->m.reply = parsed_reply;
            if (duro_courier_offload(duro_conn_courier(req->conn), srv->encoders, &b->m,
                                     work_parse) == DURO_OK)
                return;
            free(b);
        }
    }
    route_request(srv, req, t0);
}

/* Routes a request that passed the checks every route shares. */
static void route_request(duro_http *srv, duro_hreq *req, uint64_t t0)
{
    int accept_mp = wants_msgpack(evhttp_find_header(&req->in, "Accept"));
    const char *path = req->path; /* set for every request that was read */
    const char *query = req->query;
    int cmd = req->method == DURO_M_HEAD ? DURO_M_GET : req->method;
    assert(path);
    size_t plen = strlen(path);
    if (strncmp(path, "/sessions", 9) == 0 && (path[9] == '\0' || path[9] == '/')) {
        serve_sessions(srv, req, cmd, path, query, accept_mp, t0);
    } else if (strncmp(path, "/users/", 7) == 0 && plen > 16 &&
               strcmp(path + plen - 9, "/sessions") == 0) {
        serve_sessions(srv, req, cmd, path, query, accept_mp, t0);
    } else if (strncmp(path, "/auth/", 6) == 0) {
        serve_auth(srv, req, cmd, path, query, accept_mp, t0);
    } else if (strncmp(path, "/api/resources/", 15) == 0) {
        serve_resources(srv, req, cmd, path + 15, query, accept_mp, t0);
    } else if (strncmp(path, "/ratelimit/", 11) == 0 && path[11]) {
        serve_ratelimit(srv, req, cmd, path + 11, query, accept_mp, t0);
    } else {
        serve_kv(srv, req, cmd, path, query, accept_mp, t0);
    }
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
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &in4->sin_addr) == 1) {
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
                                (size_t)cfg->max_body_bytes};
    cors_setup(h, cfg);
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
            st = duro_io_listen(h->io, (struct sockaddr *)&rs, salen, duro_rpc_proto(), h->rpc,
                                err, errlen);
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
