/*
 * rpc.c — the binary protocol server (docs/protocol.md).
 *
 * DESIGN
 * Runs on an I/O thread next to its evhttp: a SO_REUSEPORT listener on
 * --rpc-port and a bufferevent per connection. A frame is a 4-byte big-endian
 * length and one msgpack object [msgid, op, ns, args]. Its length is checked
 * before it is buffered (over --max-body-bytes: 413 and close), its bytes pass
 * duro_mp_check() before anything decodes them, the envelope is read by hand
 * (array of 4, uint, str, str) and only args go through duro_mp_to_json() into
 * the same request validation as HTTP (kv_request.c). Requests go through the
 * thread's courier; replies [msgid, status, body] are written when the actor
 * answers, so a pipelining client gets them in completion order.
 *
 * A connection holds one reference while open and one per request in flight,
 * so a reply that comes back after the client left is dropped safely.
 */
#include "transport/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <msgpack.h>
#include <sodium.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objects/kv.h"
#include "runtime/log.h"
#include "transport/access.h"
#include "transport/codec.h"
#include "transport/frame.h"
#include "transport/kv_request.h"
#include "transport/names.h"
#include "transport/registry_request.h"
#include "transport/rl_request.h"
#include "transport/session_request.h"

typedef struct rconn rconn;

struct duro_rpc {
    struct event_base *base;
    const duro_config *cfg;
    duro_courier *courier;
    const duro_access *access;
    struct evconnlistener *listener;
    duro_kv_limits limits;
    duro_rl_defaults rl_defaults;
    rconn *conns;
    long nconns;
    long max_conns;
    long inflight;
    int stopping;
    void (*idle)(void *);
    void *idle_arg;
};

struct rconn {
    duro_rpc *r;
    struct bufferevent *bev; /* NULL once closed */
    int refs;                /* 1 while open, + 1 per request in flight */
    int closing;             /* close once the output is written */
    char *auth;              /* "Bearer <token>" from the auth op, or NULL */
    rconn *prev, *next;
};

typedef struct rcall {
    duro_msg m; /* first: a duro_msg * is an rcall * */
    rconn *c;
    uint64_t msgid;
} rcall;

/* ---- connections ---- */

static void conn_unref(rconn *c)
{
    if (--c->refs == 0) {
        if (c->auth)
            sodium_memzero(c->auth, strlen(c->auth));
        free(c->auth);
        free(c);
    }
}

static void conn_close(rconn *c)
{
    if (!c->bev)
        return;
    duro_rpc *r = c->r;
    bufferevent_free(c->bev);
    c->bev = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (r->nconns-- >= r->max_conns && !r->stopping)
        evconnlistener_enable(r->listener);
    conn_unref(c);
}

/* ---- writing frames ---- */

static void put_frame(rconn *c, duro_buf *b)
{
    uint32_t n = htonl((uint32_t)(b->len - 4));
    memcpy(b->data, &n, 4);
    if (c->bev)
        bufferevent_write(c->bev, b->data, b->len);
}

static void begin_reply(duro_buf *b, msgpack_packer *pk, uint64_t msgid, int http)
{
    duro_buf_append(b, "\0\0\0\0", 4);
    msgpack_packer_init(pk, b, duro_buf_mp_write);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, msgid);
    msgpack_pack_uint32(pk, (uint32_t)http);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void send_error(rconn *c, uint64_t msgid, int status, const char *msg)
{
    duro_buf b = {0};
    msgpack_packer pk;
    begin_reply(&b, &pk, msgid, duro_status_http(status));
    msgpack_pack_map(&pk, 2);
    pack_cstr(&pk, "code");
    pack_cstr(&pk, duro_status_code(status));
    pack_cstr(&pk, "message");
    pack_cstr(&pk, msg);
    put_frame(c, &b);
    duro_buf_free(&b);
}

/* Answers a frame that cannot be trusted any further, then hangs up. */
static void fail_and_close(rconn *c, uint64_t msgid, int status, const char *msg)
{
    send_error(c, msgid, status, msg);
    c->closing = 1;
    if (c->bev) {
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_close(c);
    }
}

static uint64_t be32(const unsigned char *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* ---- requests ---- */

static void call_reply(duro_msg *m)
{
    rcall *k = (rcall *)m;
    rconn *c = k->c;
    duro_rpc *r = c->r;
    if (c->bev) {
        if (m->status == DURO_OK) {
            duro_buf b = {0};
            msgpack_packer pk;
            begin_reply(&b, &pk, k->msgid, m->created ? 201 : 200);
            if (m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET) {
                /* no headers here: the ETag travels in the body */
                msgpack_pack_map(&pk, 2);
                pack_cstr(&pk, "etag");
                msgpack_pack_int64(&pk, m->etag);
                pack_cstr(&pk, "data");
            }
            if (duro_tape_to_mp(m->body.data, m->body.len, &b) == 0)
                put_frame(c, &b);
            else
                send_error(c, k->msgid, DURO_INTERNAL, "reply could not be encoded");
            duro_buf_free(&b);
        } else {
            send_error(c, k->msgid, m->status, m->errmsg);
        }
    }
    duro_request_free(m->kind, m->req);
    duro_buf_free(&m->body);
    free(k);
    conn_unref(c);
    if (--r->inflight == 0 && r->stopping && r->idle)
        r->idle(r->idle_arg);
}

/* auth {token}: the credentials of this connection's later requests. The
 * token is checked at once (401 if it is no valid admin token or JWT) and kept
 * as "Bearer <token>" for the per-request checks. */
static void auth_op(rconn *c, uint64_t msgid, const unsigned char *args, size_t n)
{
    const char *why;
    json_t *a = duro_mp_to_json(args, n, &why);
    const json_t *tok = a ? json_object_get(a, "token") : NULL;
    if (!json_is_string(tok) || json_string_length(tok) > DURO_ACCESS_MAX_AUTH - 8) {
        json_decref(a);
        send_error(c, msgid, DURO_BAD_REQUEST, "auth needs {\"token\": str}");
        return;
    }
    size_t tn = json_string_length(tok);
    char *bearer = malloc(tn + 8);
    if (!bearer) {
        json_decref(a);
        send_error(c, msgid, DURO_NOMEM, "out of memory");
        return;
    }
    memcpy(bearer, "Bearer ", 7);
    memcpy(bearer + 7, json_string_value(tok), tn);
    bearer[tn + 7] = '\0';
    json_decref(a);
    char err[256] = "";
    int st = c->r->access ? duro_access_check(c->r->access, bearer, NULL, 0, 0,
                                              (int64_t)time(NULL), err, sizeof err)
                          : DURO_OK;
    if (st == DURO_UNAUTHORIZED) {
        sodium_memzero(bearer, tn + 7);
        free(bearer);
        send_error(c, msgid, st, err);
        return;
    }
    if (c->auth) {
        sodium_memzero(c->auth, strlen(c->auth));
        free(c->auth);
    }
    c->auth = bearer;
    duro_buf b = {0};
    msgpack_packer pk;
    begin_reply(&b, &pk, msgid, 200);
    msgpack_pack_map(&pk, 0);
    put_frame(c, &b);
    duro_buf_free(&b);
}

/* Fast paths for the hot ops: their args read straight from the (already
 * checked) msgpack instead of through a jansson tree. Only a fixmap of up to
 * 8 fixstr keys whose values are strings, unsigned integers or booleans is
 * read; any other shape returns -1 and takes the general path, which then
 * gives the same answers and errors. */
typedef struct mp_field {
    const char *k;
    size_t kl;
    char type; /* 's', 'u' or 'b' */
    const char *s;
    size_t sl;
    uint64_t u;
} mp_field;

static int read_fields(const unsigned char *p, size_t n, mp_field *f, int *count)
{
    const unsigned char *end = p + n;
    if (n < 1 || (*p & 0xf0) != 0x80 || (*p & 0x0f) > 8)
        return -1;
    int c = *p++ & 0x0f;
    for (int i = 0; i < c; i++) {
        if (p >= end || (*p & 0xe0) != 0xa0)
            return -1;
        f[i].kl = *p & 0x1f;
        f[i].k = (const char *)p + 1;
        p += 1 + f[i].kl;
        if (p >= end)
            return -1;
        unsigned char h = *p;
        if ((h & 0xe0) == 0xa0 || h == 0xd9 || h == 0xda) {
            size_t hl = (h & 0xe0) == 0xa0 ? 1 : h == 0xd9 ? 2 : 3;
            if ((size_t)(end - p) < hl)
                return -1;
            size_t l = hl == 1 ? (size_t)(h & 0x1f) : hl == 2 ? p[1] : (size_t)p[1] << 8 | p[2];
            if ((size_t)(end - p) < hl + l)
                return -1;
            f[i].type = 's';
            f[i].s = (const char *)p + hl;
            f[i].sl = l;
            p += hl + l;
        } else if (h <= 0x7f || (h >= 0xcc && h <= 0xcf)) {
            int nb = h <= 0x7f ? 0 : 1 << (h - 0xcc);
            if (end - p < 1 + nb)
                return -1;
            uint64_t v = nb ? 0 : h;
            for (int j = 1; j <= nb; j++)
                v = v << 8 | p[j];
            f[i].type = 'u';
            f[i].u = v;
            p += 1 + nb;
        } else if (h == 0xc2 || h == 0xc3) {
            f[i].type = 'b';
            f[i].u = h == 0xc3;
            p++;
        } else {
            return -1;
        }
    }
    *count = c;
    return p == end ? 0 : -1;
}

static int is_key(const mp_field *f, const char *name)
{
    return f->kl == strlen(name) && memcmp(f->k, name, f->kl) == 0;
}

/* kv.get {key, meta?} */
static int get_args(const unsigned char *p, size_t n, const char **key, size_t *key_len,
                    int *meta)
{
    mp_field f[8];
    int c;
    if (read_fields(p, n, f, &c) != 0)
        return -1;
    *key = NULL;
    *meta = 0;
    for (int i = 0; i < c; i++) {
        if (is_key(&f[i], "key") && f[i].type == 's') {
            *key = f[i].s;
            *key_len = f[i].sl;
        } else if (is_key(&f[i], "meta") && f[i].type == 'b') {
            *meta = (int)f[i].u;
        } else {
            return -1;
        }
    }
    return *key ? 0 : -1;
}

/* ratelimit.check / ratelimit.get {key, limit?, windowMs?, cost?, enforce?} */
static int rl_args(const unsigned char *p, size_t n, const char **key, size_t *key_len,
                   duro_rl_fields *rf)
{
    mp_field f[8];
    int c;
    if (read_fields(p, n, f, &c) != 0)
        return -1;
    *key = NULL;
    memset(rf, 0, sizeof *rf);
    for (int i = 0; i < c; i++) {
        int u = f[i].type == 'u' && f[i].u <= (uint64_t)INT64_MAX;
        if (is_key(&f[i], "key") && f[i].type == 's') {
            *key = f[i].s;
            *key_len = f[i].sl;
        } else if (is_key(&f[i], "limit") && u) {
            rf->has_limit = 1;
            rf->limit = (int64_t)f[i].u;
        } else if (is_key(&f[i], "windowMs") && u) {
            rf->has_window = 1;
            rf->window_ms = (int64_t)f[i].u;
        } else if (is_key(&f[i], "cost") && u) {
            rf->has_cost = 1;
            rf->cost = (int64_t)f[i].u;
        } else if (is_key(&f[i], "enforce") && f[i].type == 'b') {
            rf->has_enforce = 1;
            rf->enforce = (int)f[i].u;
        } else {
            return -1;
        }
    }
    return *key ? 0 : -1;
}

/* Sends a decoded request to its actor; the reply comes to call_reply(). */
static void submit(rconn *c, uint64_t msgid, int kind, int op, void *req, const char *ns,
                   size_t ns_len)
{
    rcall *k = calloc(1, sizeof *k);
    if (!k) {
        duro_request_free(kind, req);
        send_error(c, msgid, DURO_NOMEM, "out of memory");
        return;
    }
    k->m.kind = kind;
    k->m.op = op;
    k->m.req = req;
    memcpy(k->m.ns, ns, ns_len);
    k->m.ns[ns_len] = '\0';
    k->m.ns_len = ns_len;
    k->m.reply = call_reply;
    k->c = c;
    k->msgid = msgid;
    c->refs++;
    c->r->inflight++;
    duro_courier_send(c->r->courier, &k->m);
}

/* resources.list / resources.stats {type?, namespace?, key_prefix?, limit?,
 * offset?}: the frame's namespace is not used; with access control on, the
 * credentials must reach the filtered namespace, or every namespace. */
static void registry_op(rconn *c, uint64_t msgid, int op, const unsigned char *args, size_t n)
{
    const char *why;
    char err[256];
    json_t *a = duro_mp_to_json(args, n, &why);
    if (!a) {
        snprintf(err, sizeof err, "bad args: %s", why);
        send_error(c, msgid, DURO_BAD_REQUEST, err);
        return;
    }
    duro_registry_query *q = NULL;
    int st = duro_registry_query_from(a, DURO_PARAMS_TYPED, &q, err, sizeof err);
    json_decref(a);
    if (st == DURO_OK && c->r->access && duro_access_enabled(c->r->access)) {
        const char *scope;
        size_t scope_len;
        duro_registry_query_scope(q, &scope, &scope_len);
        st = duro_access_check(c->r->access, c->auth, scope, scope_len, 0, (int64_t)time(NULL),
                               err, sizeof err);
    }
    if (st != DURO_OK) {
        duro_registry_query_free(q);
        send_error(c, msgid, st, err);
        return;
    }
    submit(c, msgid, DURO_KIND_REGISTRY, op, q, "*", 1);
}

static void handle_frame(rconn *c, const unsigned char *p, size_t n)
{
    duro_rpc *r = c->r;
    duro_frame f;
    if (duro_frame_parse(p, n, &f) != 0) {
        fail_and_close(c, f.msgid, DURO_BAD_REQUEST,
                       "malformed frame: expected msgpack [msgid, op, ns, args]");
        return;
    }
    uint64_t msgid = f.msgid;
    const char *op = f.op, *ns = f.ns;
    size_t op_len = f.op_len, ns_len = f.ns_len;
    if (r->stopping) {
        send_error(c, msgid, DURO_UNAVAILABLE, "server is shutting down");
        return;
    }
    if (op_len == 4 && memcmp(op, "ping", 4) == 0) {
        duro_buf b = {0};
        msgpack_packer pk;
        begin_reply(&b, &pk, msgid, 200);
        pack_cstr(&pk, "pong");
        put_frame(c, &b);
        duro_buf_free(&b);
        return;
    }
    char err[256];
    const char *why;
    int gated = r->access && duro_access_enabled(r->access);
    if (op_len == 4 && memcmp(op, "auth", 4) == 0) {
        auth_op(c, msgid, f.args, f.args_len);
        return;
    }
    int kind, kop;
    if (duro_op_from_name(op, op_len, &kind, &kop) != 0) {
        snprintf(err, sizeof err, "unknown op \"%.*s\"", (int)(op_len > 64 ? 64 : op_len), op);
        send_error(c, msgid, DURO_BAD_REQUEST, err);
        return;
    }
    if (kind == DURO_KIND_REGISTRY) {
        registry_op(c, msgid, kop, f.args, f.args_len);
        return;
    }
    if (duro_ns_valid(ns, ns_len, &why) != 0) {
        snprintf(err, sizeof err, "invalid namespace: %s", why);
        send_error(c, msgid, DURO_BAD_REQUEST, err);
        return;
    }
    if (gated) {
        int write = kind == DURO_KIND_KV          ? duro_kv_op_writes(kop)
                    : kind == DURO_KIND_RATELIMIT ? kop != DURO_RL_GET
                    : kind == DURO_KIND_RESOURCE  ? 1
                                                  : kop != DURO_SESSION_GET &&
                                                        kop != DURO_SESSION_LIST_USER;
        int ast = duro_access_check(r->access, c->auth, ns, ns_len, write, (int64_t)time(NULL),
                                    err, sizeof err);
        if (ast != DURO_OK) {
            send_error(c, msgid, ast, err);
            return;
        }
    }
    void *req = NULL;
    int st;
    const char *gk = NULL;
    size_t gk_len = 0;
    int gmeta = 0;
    if (kind == DURO_KIND_KV && kop == DURO_KV_GET &&
        get_args(f.args, f.args_len, &gk, &gk_len, &gmeta) == 0) {
        duro_kv_req *kr = duro_kv_req_new(kop);
        st = kr ? duro_kv_add_key(kr, gk, gk_len, err, sizeof err) : DURO_NOMEM;
        if (st != DURO_OK) {
            duro_kv_req_free(kr);
            send_error(c, msgid, st, st == DURO_NOMEM ? "out of memory" : err);
            return;
        }
        kr->with_meta = gmeta;
        req = kr;
        goto submit;
    }
    duro_rl_fields rlf;
    if (kind == DURO_KIND_RATELIMIT && kop != DURO_RL_RESET &&
        rl_args(f.args, f.args_len, &gk, &gk_len, &rlf) == 0) {
        st = duro_rl_request_fields(kop, gk, gk_len, &rlf, &r->rl_defaults,
                                    (duro_rl_req **)&req, err, sizeof err);
        if (st != DURO_OK) {
            send_error(c, msgid, st, err);
            return;
        }
        goto submit;
    }
    json_t *args = duro_mp_to_json(f.args, f.args_len, &why);
    if (!args) {
        snprintf(err, sizeof err, "bad args: %s", why);
        send_error(c, msgid, DURO_BAD_REQUEST, err);
        return;
    }
    if (kind == DURO_KIND_KV) {
        st = duro_kv_request_from_args(kop, args, DURO_ENC_MSGPACK, &r->limits,
                                       (duro_kv_req **)&req, err, sizeof err);
    } else if (kind == DURO_KIND_SESSION) {
        st = duro_session_request(kop, NULL, 0, args, (duro_session_req **)&req, err, sizeof err);
    } else if (kind == DURO_KIND_RESOURCE) {
        st = duro_resource_request(kop, args, NULL, NULL, (duro_resource_req **)&req, err,
                                   sizeof err);
    } else {
        const json_t *key = json_object_get(args, "key");
        st = json_is_string(key)
                 ? duro_rl_request(kop, NULL, 0, args,
                                   &r->rl_defaults, (duro_rl_req **)&req, err, sizeof err)
                 : (snprintf(err, sizeof err, "\"key\" must be a string"), DURO_BAD_REQUEST);
    }
    json_decref(args);
    if (st != DURO_OK) {
        send_error(c, msgid, st, err);
        return;
    }
submit:
    submit(c, msgid, kind, kop, req, ns, ns_len);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    rconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t max = (size_t)c->r->cfg->max_body_bytes;
    c->refs++; /* a frame may close the connection under us */
    while (c->bev && !c->closing) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 4)
            break;
        unsigned char hdr[4];
        evbuffer_copyout(in, hdr, 4);
        size_t n = (size_t)be32(hdr);
        if (n == 0 || n > max) {
            char msg[96];
            snprintf(msg, sizeof msg, "frame of %zu bytes; the limit is %zu", n, max);
            fail_and_close(c, 0, n ? DURO_PAYLOAD_TOO_LARGE : DURO_BAD_REQUEST, msg);
            break;
        }
        if (avail < 4 + n)
            break;
        const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)(4 + n));
        handle_frame(c, p + 4, n);
        if (c->bev)
            evbuffer_drain(in, 4 + n);
    }
    conn_unref(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    rconn *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_close(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_close(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    duro_rpc *r = arg;
    rconn *c = calloc(1, sizeof *c);
    struct bufferevent *bev =
        c ? bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->r = r;
    c->bev = bev;
    c->refs = 1;
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    if (++r->nconns >= r->max_conns)
        evconnlistener_disable(r->listener);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    struct timeval idle = {r->cfg->idle_timeout_ms / 1000, (r->cfg->idle_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &idle, &idle);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int duro_rpc_new(struct event_base *base, const duro_config *cfg, duro_courier *courier,
                 const duro_access *access, const struct sockaddr *sa, int salen,
                 void (*idle)(void *), void *arg, duro_rpc **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memcpy(&ss, sa, (size_t)salen);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->rpc_port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->rpc_port);
    duro_rpc *r = calloc(1, sizeof *r);
    if (!r)
        return DURO_NOMEM;
    r->base = base;
    r->cfg = cfg;
    r->courier = courier;
    r->access = access;
    r->limits.max_value_bytes = (size_t)cfg->max_value_bytes;
    r->limits.max_snapshot_bytes = (size_t)cfg->max_snapshot_bytes;
    duro_rl_parse_default(cfg->ratelimit_default, &r->rl_defaults);
    r->max_conns = cfg->max_connections / (cfg->io_threads > 0 ? cfg->io_threads : 1);
    if (r->max_conns < 1)
        r->max_conns = 1;
    r->idle = idle;
    r->idle_arg = arg;
    r->listener = evconnlistener_new_bind(
        base, on_accept, r,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&ss, salen);
    if (!r->listener) {
        snprintf(err, errlen, "cannot listen on %s:%ld (--rpc-port): %s", cfg->listen_host,
                 cfg->rpc_port, strerror(errno));
        free(r);
        return DURO_IO;
    }
    *out = r;
    return DURO_OK;
}

void duro_rpc_stop(duro_rpc *r)
{
    if (!r)
        return;
    r->stopping = 1;
    evconnlistener_disable(r->listener);
}

long duro_rpc_inflight(const duro_rpc *r) { return r ? r->inflight : 0; }

void duro_rpc_free(duro_rpc *r)
{
    if (!r)
        return;
    while (r->conns)
        conn_close(r->conns);
    evconnlistener_free(r->listener);
    free(r);
}
