/*
 * rpc.c — the binary protocol server (docs/protocol.md).
 *
 * DESIGN
 * An I/O protocol (io.h) next to HTTP on every I/O thread. A frame is a 4-byte
 * big-endian length and one msgpack object [msgid, op, ns, args]. Its length
 * is checked before it is buffered (0: 400, over --max-body-bytes: 413; both
 * close the connection), its bytes are reserved in the process-wide
 * pending-request budget as they arrive (503 and close when it is spent),
 * and they pass duro_mp_check()
 * before anything decodes them, the envelope is read by hand (array of 4,
 * uint, str, str) and only args go through duro_mp_to_json() into the same
 * request validation as HTTP (kv_request.c). Requests go through the thread's
 * courier; replies [msgid, status, body] are written when the actor answers,
 * so a pipelining client gets them in completion order.
 *
 * Back-pressure: a connection stops having its frames read while it has
 * --max-pipeline requests in flight, or 2 x --max-body-bytes of frames in
 * flight, or 4 x --max-reply-bytes of possible replies in flight (each read
 * reserves the largest reply it could have, reply_weight(); writes nothing),
 * or more than DURO_OUT_HIGH bytes of replies it has not read; it reads again
 * when a reply comes back or its output drained. So one client's memory is
 * bounded by about 4 x max-reply + 2 x max-body + DURO_OUT_HIGH, however many
 * requests it pipelines. Replies larger than ENCODE_INLINE_MAX
 * are encoded on the encoder pool, not on the I/O thread.
 *
 * A request in flight holds the connection (io.h), so a reply that comes
 * back after the client left is dropped safely.
 */
#include "transport/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "objects/kv.h"
#include "objects/session.h"
#include "common/log.h"
#include "runtime/workers.h"
#include "transport/access.h"
#include "common/codec.h"
#include "common/errbody.h"
#include "common/frame.h"
#include "transport/kv_request.h"
#include "common/names.h"
#include "transport/registry_request.h"
#include "transport/rl_request.h"
#include "transport/session_request.h"

#define ENCODE_INLINE_MAX (32u << 10)

struct duro_rpc {
    const duro_config *cfg;
    const duro_access *access;
    duro_workers *encoders;
    duro_kv_limits limits;
    duro_rl_defaults rl_defaults;
    size_t max_inflight;
    size_t max_inflight_bytes;
    size_t max_inflight_reply; /* worst-case reply bytes in flight per connection */
    size_t get_reply;          /* the largest reply of a kv.get */
    size_t max_reply;          /* the largest reply of anything */
};

typedef struct rconn {
    duro_conn *conn;
    duro_rpc *r;
    char *auth;           /* "Bearer <token>" from the auth op, or NULL */
    int closing;          /* a frame could not be trusted: answer, then close */
    int paused;           /* back-pressure: frames are not read */
    size_t inflight;      /* requests with an actor */
    size_t inflight_bytes; /* their frames' bytes */
    size_t inflight_reply; /* the worst-case size of their replies */
    size_t next_weight;   /* of the frame being submitted */
    int in_frame;         /* a frame's length was read; its bytes are arriving */
    size_t frame_bytes;   /* budget reserved for its bytes received so far */
} rconn;

typedef struct rcall {
    duro_msg m; /* first: a duro_msg * is an rcall * */
    rconn *c;
    uint64_t msgid;
    size_t frame_bytes; /* its share of the budget */
    size_t weight;      /* the worst-case size of its reply */
    duro_buf out;       /* the reply frame, when encoded on the pool */
} rcall;

/* ---- writing frames ---- */

static void put_frame(rconn *c, duro_buf *b)
{
    uint32_t n = htonl((uint32_t)(b->len - 4));
    memcpy(b->data, &n, 4);
    size_t len;
    char *data = duro_buf_take(b, &len);
    if (data)
        duro_conn_write_take(c->conn, data, len);
}

/* Starts the frame of the reply [msgid, status, body] in b (its length is
 * filled in when it is complete); status is the stable number of the status
 * table (protocol 2), the body follows. */
static void begin_reply(duro_buf *b, msgpack_packer *pk, uint64_t msgid, int status)
{
    duro_buf_append(b, "\0\0\0\0", 4);
    msgpack_packer_init(pk, b, duro_buf_mp_write);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, msgid);
    msgpack_pack_uint32(pk, (uint32_t)status);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void error_frame(duro_buf *b, uint64_t msgid, int status, const char *msg)
{
    msgpack_packer pk;
    begin_reply(b, &pk, msgid, status);
    duro_errbody_mp(b, DURO_ERRBODY_BARE, status, msg);
    uint32_t n = htonl((uint32_t)(b->len - 4));
    memcpy(b->data, &n, 4);
}

static void send_error(rconn *c, uint64_t msgid, int status, const char *msg)
{
    duro_buf b = {0};
    error_frame(&b, msgid, status, msg);
    put_frame(c, &b);
}

/* Answers a frame that cannot be trusted any further, then hangs up (after
 * the replies still in flight). */
static void fail_and_close(rconn *c, uint64_t msgid, int status, const char *msg)
{
    send_error(c, msgid, status, msg);
    c->closing = 1;
    duro_conn_close_after_write(c->conn);
}

static uint64_t be32(const unsigned char *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* ---- back-pressure ---- */

static int saturated(const rconn *c)
{
    return c->inflight >= c->r->max_inflight || c->inflight_bytes >= c->r->max_inflight_bytes ||
           c->inflight_reply >= c->r->max_inflight_reply ||
           duro_conn_output_len(c->conn) > DURO_OUT_HIGH;
}

/* The largest reply an op can have: what it reserves of the connection's
 * reply budget while in flight. Writes answer a few bytes (0 here: their
 * count is bounded by --max-pipeline); reads up to a value, or a page. */
static size_t reply_weight(const duro_rpc *r, int kind, int op)
{
    switch (kind) {
    case DURO_KIND_KV:
        if (op == DURO_KV_GET)
            return r->get_reply;
        return op == DURO_KV_BATCH_GET || op == DURO_KV_LIST || op == DURO_KV_SNAPSHOT_GET
                   ? r->max_reply
                   : 0;
    case DURO_KIND_REGISTRY:
        return r->max_reply;
    case DURO_KIND_SESSION:
        return op == DURO_SESSION_LIST_USER                      ? r->max_reply
               : op == DURO_SESSION_GET || op == DURO_SESSION_PUT ? DURO_SESSION_DATA_MAX + 1024
                                                                  : 0;
    case DURO_KIND_RESOURCE:
        return DURO_KV_META_MAX + 4096;
    default:
        return 0;
    }
}

/* A frame's envelope, read once: what back-pressure weighs and
 * handle_frame() serves. */
typedef struct rframe {
    duro_frame f;
    int parsed; /* the envelope is [uint, str, str, map] */
    int known;  /* f.op names a kind's op (kind, op) */
    int kind, op;
} rframe;

static void read_frame(const unsigned char *p, size_t n, rframe *rf)
{
    rf->parsed = duro_frame_parse(p, n, &rf->f) == 0;
    rf->known =
        rf->parsed && duro_op_from_name(rf->f.op, rf->f.op_len, &rf->kind, &rf->op) == 0;
}

/* The reply weight of a frame; 0 for one that will be answered at once. */
static size_t frame_weight(const duro_rpc *r, const rframe *rf)
{
    return rf->known ? reply_weight(r, rf->kind, rf->op) : 0;
}

/* A paused connection reads again once what it has in flight fell to half
 * of each limit (or to nothing) and its output drained: resuming at every
 * reply would cost a pause, a resume and a loop turn per request. */
static void maybe_resume(rconn *c)
{
    const duro_rpc *r = c->r;
    int low = c->inflight == 0 ||
              (c->inflight <= r->max_inflight / 2 && c->inflight_bytes <= r->max_inflight_bytes / 2 &&
               c->inflight_reply <= r->max_inflight_reply / 2);
    if (c->paused && !c->closing && low && duro_conn_output_len(c->conn) <= DURO_OUT_LOW) {
        c->paused = 0;
        duro_conn_resume(c->conn);
    }
}

/* ---- requests ---- */

/* The whole reply frame of a call: [msgid, status, body]. Pure: runs on the
 * I/O thread or on the encoder pool. */
static void encode_reply(rcall *k, duro_buf *b)
{
    duro_msg *m = &k->m;
    if (m->status != DURO_OK) {
        error_frame(b, k->msgid, m->status, m->errmsg);
        return;
    }
    msgpack_packer pk;
    begin_reply(b, &pk, k->msgid, m->created ? DURO_CREATED : DURO_OK);
    if (m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET) {
        /* no headers here: the ETag travels in the body */
        msgpack_pack_map(&pk, 2);
        pack_cstr(&pk, "etag");
        msgpack_pack_int64(&pk, m->version);
        pack_cstr(&pk, "data");
    }
    if (duro_tape_to_mp(m->body.data, m->body.len, b) != 0) {
        b->len = 0;
        error_frame(b, k->msgid, DURO_INTERNAL, "reply could not be encoded");
        return;
    }
    uint32_t n = htonl((uint32_t)(b->len - 4));
    memcpy(b->data, &n, 4);
}

static void work_encode(duro_msg *m)
{
    rcall *k = (rcall *)m;
    encode_reply(k, &k->out);
}

/* Writes the call's reply (if the client is still there) and frees it. */
static void finish(rcall *k)
{
    rconn *c = k->c;
    if (duro_conn_open(c->conn) && k->out.len) {
        size_t len;
        char *data = duro_buf_take(&k->out, &len);
        if (data)
            duro_conn_write_take(c->conn, data, len);
    }
    duro_io_release(duro_conn_io(c->conn), k->frame_bytes);
    c->inflight--;
    c->inflight_bytes -= k->frame_bytes;
    c->inflight_reply -= k->weight;
    duro_request_free(k->m.kind, k->m.req);
    duro_buf_free(&k->m.body);
    duro_buf_free(&k->out);
    free(k);
    maybe_resume(c);
    duro_conn_release(c->conn);
}

static void call_encoded(duro_msg *m) { finish((rcall *)m); }

static void call_reply(duro_msg *m)
{
    rcall *k = (rcall *)m;
    if (duro_conn_open(k->c->conn)) {
        if (m->status == DURO_OK && m->body.len > ENCODE_INLINE_MAX) {
            m->reply = call_encoded;
            if (duro_courier_offload(duro_conn_courier(k->c->conn), k->c->r->encoders, m,
                                     work_encode) == DURO_OK)
                return;
        }
        encode_reply(k, &k->out);
    }
    finish(k);
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
    begin_reply(&b, &pk, msgid, DURO_OK);
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

/* 1 if two of the c fields have the same key (the general path then answers
 * 400, as for any duplicate key). */
static int has_duplicate(const mp_field *f, int c)
{
    for (int i = 1; i < c; i++)
        for (int j = 0; j < i; j++)
            if (f[i].kl == f[j].kl && memcmp(f[i].k, f[j].k, f[i].kl) == 0)
                return 1;
    return 0;
}

/* kv.get {key, meta?} */
static int get_args(const unsigned char *p, size_t n, const char **key, size_t *key_len,
                    int *meta)
{
    mp_field f[8];
    int c;
    if (read_fields(p, n, f, &c) != 0 || has_duplicate(f, c))
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
    if (read_fields(p, n, f, &c) != 0 || has_duplicate(f, c))
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

/* Sends a decoded request to its actor; the reply comes to call_reply(). The
 * call takes the frame's share of the pending-request budget. */
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
    k->frame_bytes = c->frame_bytes;
    c->frame_bytes = 0;
    k->weight = c->next_weight;
    c->inflight++;
    c->inflight_bytes += k->frame_bytes;
    c->inflight_reply += k->weight;
    duro_conn_hold(c->conn);
    duro_courier_send(duro_conn_courier(c->conn), &k->m);
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

static void handle_frame(rconn *c, const rframe *rf)
{
    duro_rpc *r = c->r;
    const duro_frame f = rf->f;
    if (!rf->parsed) {
        fail_and_close(c, f.msgid, DURO_BAD_REQUEST,
                       "malformed frame: expected msgpack [msgid, op, ns, args]");
        return;
    }
    uint64_t msgid = f.msgid;
    const char *op = f.op, *ns = f.ns;
    size_t op_len = f.op_len, ns_len = f.ns_len;
    if (duro_conn_stopping(c->conn)) {
        send_error(c, msgid, DURO_UNAVAILABLE, "server is shutting down");
        return;
    }
    if (op_len == 4 && memcmp(op, "ping", 4) == 0) {
        duro_buf b = {0};
        msgpack_packer pk;
        begin_reply(&b, &pk, msgid, DURO_OK);
        duro_buf_append(&b, duro_frame_pong, DURO_FRAME_PONG_LEN);
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
    int kind = rf->kind, kop = rf->op;
    if (!rf->known) {
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
                 ? duro_rl_request(kop, NULL, 0, args, &r->rl_defaults, (duro_rl_req **)&req,
                                   err, sizeof err)
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

static void on_read(duro_conn *conn)
{
    rconn *c = duro_conn_state(conn);
    duro_rpc *r = c->r;
    struct evbuffer *in = duro_conn_input(conn);
    size_t max = (size_t)r->cfg->max_body_bytes;
    while (duro_conn_open(conn) && !c->closing) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return;
        if (!c->in_frame && saturated(c)) {
            /* the frame waits; its deadline starts when we read it */
            c->paused = 1;
            duro_conn_request_end(conn);
            duro_conn_pause(conn);
            return;
        }
        duro_conn_request_begin(conn);
        if (avail < 4)
            return;
        unsigned char hdr[4];
        evbuffer_copyout(in, hdr, 4);
        size_t n = (size_t)be32(hdr);
        if (n == 0 || n > max) {
            char msg[128];
            if (n == 0)
                snprintf(msg, sizeof msg, "frame of 0 bytes: a frame holds one msgpack object");
            else
                snprintf(msg, sizeof msg, "frame of %zu bytes; the limit is %zu (--max-body-bytes)",
                         n, max);
            fail_and_close(c, 0, n ? DURO_PAYLOAD_TOO_LARGE : DURO_BAD_REQUEST, msg);
            return;
        }
        /* the budget counts the bytes that arrived, not the length announced */
        c->in_frame = 1;
        size_t have = avail - 4 < n ? avail - 4 : n;
        if (have > c->frame_bytes) {
            if (duro_io_reserve(duro_conn_io(conn), have - c->frame_bytes) != 0) {
                fail_and_close(c, 0, DURO_UNAVAILABLE,
                               "the server holds too many requests (--max-pending-bytes);"
                               " retry later");
                return;
            }
            c->frame_bytes = have;
        }
        if (avail < 4 + n)
            return;
        duro_conn_request_end(conn);
        const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)(4 + n));
        rframe rf;
        read_frame(p + 4, n, &rf);
        c->next_weight = frame_weight(r, &rf);
        if (c->inflight_reply && c->inflight_reply + c->next_weight > r->max_inflight_reply) {
            /* its reply might not fit: it waits (whole, reserved) for replies */
            c->paused = 1;
            duro_conn_pause(conn);
            return;
        }
        c->in_frame = 0;
        handle_frame(c, &rf);
        if (c->frame_bytes) { /* answered at once: the frame's bytes are free again */
            duro_io_release(duro_conn_io(conn), c->frame_bytes);
            c->frame_bytes = 0;
        }
        if (duro_conn_input(conn))
            evbuffer_drain(in, 4 + n);
    }
}

static void on_open(duro_conn *conn)
{
    rconn *c = duro_conn_state(conn);
    c->conn = conn;
    c->r = duro_conn_arg(conn);
}

static void on_drained(duro_conn *conn) { maybe_resume(duro_conn_state(conn)); }

static void on_closed(duro_conn *conn)
{
    rconn *c = duro_conn_state(conn);
    duro_io_release(duro_conn_io(conn), c->frame_bytes);
    c->frame_bytes = 0;
}

static void on_free(duro_conn *conn)
{
    rconn *c = duro_conn_state(conn);
    if (c->auth) {
        sodium_memzero(c->auth, strlen(c->auth));
        free(c->auth);
    }
}

static void on_refuse(evutil_socket_t fd)
{
    duro_buf b = {0};
    error_frame(&b, 0, DURO_UNAVAILABLE, "too many connections (--max-connections); retry later");
    if (b.data) {
        ssize_t w = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    duro_buf_free(&b);
}

static const duro_proto rpc_proto = {
    .name = "binary protocol",
    .state_size = sizeof(rconn),
    .open = on_open,
    .read = on_read,
    .drained = on_drained,
    .closed = on_closed,
    .free = on_free,
    .refuse = on_refuse,
};

const duro_proto *duro_rpc_proto(void) { return &rpc_proto; }

int duro_rpc_new(const duro_config *cfg, const duro_access *access, duro_workers *encoders,
                 duro_rpc **out, char *err, size_t errlen)
{
    *out = NULL;
    duro_rpc *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    r->cfg = cfg;
    r->access = access;
    r->encoders = encoders;
    r->limits.max_value_bytes = (size_t)cfg->max_value_bytes;
    r->limits.max_snapshot_bytes = (size_t)cfg->max_snapshot_bytes;
    duro_rl_parse_default(cfg->ratelimit_default, &r->rl_defaults);
    r->max_inflight = (size_t)cfg->max_pipeline;
    r->max_inflight_bytes = 2 * (size_t)cfg->max_body_bytes;
    r->max_reply = (size_t)cfg->max_reply_bytes;
    r->max_inflight_reply = 4 * r->max_reply;
    r->get_reply = (size_t)cfg->max_value_bytes + DURO_KV_META_MAX + 1024;
    *out = r;
    return DURO_OK;
}

void duro_rpc_free(duro_rpc *r) { free(r); }
