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
 * request validation as HTTP (kv_req.c). Requests go through the thread's
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

#include "common/log.h"
#include "objects/kv.h"
#include "objects/object.h"
#include "runtime/workers.h"
#include "transport/access.h"
#include "transport/accesslog.h"
#include "transport/metrics.h"
#include "common/codec.h"
#include "common/errbody.h"
#include "common/frame.h"

#define ENCODE_INLINE_MAX (32u << 10)

struct duro_rpc {
    const duro_config *cfg;
    const duro_access *access;
    duro_workers *encoders;
    duro_limits lim; /* what the decoders apply (runtime/kind.h) */
    size_t max_inflight;
    size_t max_inflight_bytes;
    size_t max_inflight_reply; /* worst-case reply bytes in flight per connection */
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
    uint64_t read_us;     /* duro_mono_us() when on_read() began: the submit time */
    int in_frame;         /* a frame's length was read; its bytes are arriving */
    size_t frame_bytes;   /* budget reserved for its bytes received so far */
} rconn;

typedef struct rcall {
    duro_msg m; /* first: a duro_msg * is an rcall * */
    rconn *c;
    uint64_t msgid;
    size_t frame_bytes; /* its share of the budget */
    size_t weight;      /* the worst-case size of its reply */
    uint64_t t0_us;     /* when it was submitted (for /metrics) */
    duro_buf out;       /* the reply frame, when encoded on the pool */
} rcall;

/* ---- recycled calls ----
 * A call, its reply frame and its reply body keep their memory when the call
 * is done: the next request of the same I/O thread takes it back (calls are
 * made and freed on the I/O thread; the actor only appends to m.body). At
 * most SPARE_MAX per thread, with buffers up to SPARE_BUF bytes: about
 * 9 MiB per I/O thread at most; rpc_thread_end() (the proto's thread_end)
 * frees them when the thread ends. */
#define SPARE_MAX 1024
#define SPARE_BUF 4096

static _Thread_local struct {
    rcall *head;
    int n;
} spare;

static rcall *call_new(void)
{
    rcall *k = spare.head;
    if (!k)
        return calloc(1, sizeof *k);
    spare.head = (rcall *)k->m.next;
    spare.n--;
    duro_buf out = k->out, body = k->m.body;
    memset(k, 0, sizeof *k);
    k->out = (duro_buf){.data = out.data, .cap = out.cap};
    k->m.body = (duro_buf){.data = body.data, .cap = body.cap};
    return k;
}

static void call_free(rcall *k)
{
    if (spare.n >= SPARE_MAX || k->out.cap > SPARE_BUF || k->m.body.cap > SPARE_BUF) {
        duro_buf_free(&k->out);
        duro_buf_free(&k->m.body);
    }
    if (spare.n >= SPARE_MAX) {
        free(k);
        return;
    }
    k->m.next = (duro_msg *)spare.head;
    spare.head = k;
    spare.n++;
}

static void rpc_thread_end(void)
{
    while (spare.head) {
        rcall *k = spare.head;
        spare.head = (rcall *)k->m.next;
        duro_buf_free(&k->out);
        duro_buf_free(&k->m.body);
        free(k);
    }
    spare.n = 0;
}

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

/* The largest reply an op can have (its kind's reply_bound): what it
 * reserves of the connection's reply budget while in flight. Writes answer a
 * few bytes (0 here: their count is bounded by --max-pipeline); reads up to a
 * value, or a page. */
static size_t reply_weight(const duro_rpc *r, const duro_kind *k, int op)
{
    return k->reply_bound ? k->reply_bound(op, &r->lim) : 0;
}

/* A frame's envelope, read once: what back-pressure weighs and
 * handle_frame() serves. */
typedef struct rframe {
    duro_frame f;
    int parsed;         /* the envelope is [uint, str, str, map] */
    const duro_kind *k; /* the kind of f.op, or NULL (ping, auth, unknown) */
    int kind, op;
} rframe;

static void read_frame(const unsigned char *p, size_t n, rframe *rf)
{
    rf->parsed = duro_frame_parse(p, n, &rf->f) == 0;
    rf->k = rf->parsed ? duro_op_find(&duro_object_kinds, rf->f.op, rf->f.op_len, &rf->kind,
                                      &rf->op)
                       : NULL;
}

/* The reply weight of a frame; 0 for one that will be answered at once. */
static size_t frame_weight(const duro_rpc *r, const rframe *rf)
{
    return rf->k ? reply_weight(r, rf->k, rf->op) : 0;
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
        pack_cstr(&pk, "version");
        msgpack_pack_int64(&pk, m->version);
        pack_cstr(&pk, "data");
    }
    if (m->tape_plain ? duro_buf_append(b, m->body.data, m->body.len) != 0
                      : duro_tape_to_mp(m->body.data, m->body.len, b) != 0) {
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

/* Counts one answered request in /metrics and the access log: a kind's op
 * (kind >= 0), or kind -1 and op a DURO_RPC_* label; name[0..name_len) the
 * op as the log shows it (NULL: the kind table's name of op, looked up only
 * when the log is on), ns its namespace. */
static void account(rconn *c, uint64_t msgid, int kind, int op, const char *name,
                    size_t name_len, const char *ns, size_t ns_len, int status, size_t bytes,
                    uint64_t us)
{
    duro_metrics_rpc(kind, op, status, us);
    if (!duro_accesslog_on())
        return;
    if (!name) {
        const duro_kind *k = duro_kind_get(&duro_object_kinds, kind);
        name = k && k->ops && op >= 0 && op < k->n_ops && k->ops[op] ? k->ops[op] : "?";
        name_len = strlen(name);
    }
    duro_accesslog_rpc(msgid, duro_conn_peer(c->conn), name, name_len, ns, ns_len, status, bytes,
                       us);
}

/* account() of a frame answered at once, under the op name it was sent with. */
static void account_frame(rconn *c, const duro_frame *f, int label, int status)
{
    account(c, f->msgid, -1, label, f->op ? f->op : "", f->op ? f->op_len : 0,
            f->ns ? f->ns : "", f->ns ? f->ns_len : 0, status, 0, 0);
}

/* Writes the call's reply (if the client is still there) and frees it. */
static void finish(rcall *k)
{
    rconn *c = k->c;
    size_t bytes = k->out.len;
    if (duro_conn_open(c->conn) && k->out.len) {
        if (k->out.len <= SPARE_BUF) { /* copied: the buffer stays with the call */
            duro_conn_write(c->conn, k->out.data, k->out.len);
        } else {
            size_t len;
            char *data = duro_buf_take(&k->out, &len);
            if (data)
                duro_conn_write_take(c->conn, data, len);
        }
    }
    uint64_t now = duro_courier_now_us(duro_conn_courier(c->conn));
    account(c, k->msgid, k->m.kind, k->m.op, NULL, 0, k->m.ns, k->m.ns_len, k->m.status, bytes,
            now > k->t0_us ? now - k->t0_us : 0);
    if (k->m.kind == DURO_KIND_AUTH)
        duro_metrics_auth(k->m.op, k->m.status);
    duro_io_release(duro_conn_io(c->conn), k->frame_bytes);
    c->inflight--;
    c->inflight_bytes -= k->frame_bytes;
    c->inflight_reply -= k->weight;
    duro_op_free(&duro_object_kinds, &k->m);
    call_free(k);
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
static int auth_op(rconn *c, uint64_t msgid, const unsigned char *args, size_t n)
{
    const char *why;
    json_t *a = duro_mp_to_json(args, n, &why);
    const json_t *tok = a ? json_object_get(a, "token") : NULL;
    if (!json_is_string(tok) || json_string_length(tok) > DURO_ACCESS_MAX_AUTH - 8) {
        json_decref(a);
        send_error(c, msgid, DURO_BAD_REQUEST, "auth needs {\"token\": str}");
        return DURO_BAD_REQUEST;
    }
    size_t tn = json_string_length(tok);
    char *bearer = malloc(tn + 8);
    if (!bearer) {
        json_decref(a);
        send_error(c, msgid, DURO_NOMEM, "out of memory");
        return DURO_NOMEM;
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
        return st;
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
    return DURO_OK;
}

/* The access check of a call (duro_op_call.allow): the connection's
 * credentials must reach the namespace. */
static int allow(void *arg, const char *ns, size_t ns_len, int write, char *err, size_t errlen)
{
    rconn *c = arg;
    return duro_access_check(c->r->access, c->auth, ns, ns_len, write, (int64_t)time(NULL), err,
                             errlen);
}

/* Builds the call's request (runtime/kind.h: duro_op_build) and sends it to
 * its actor; the reply comes to call_reply(). The call takes the frame's
 * share of the pending-request budget. */
static void submit(rconn *c, const rframe *rf)
{
    duro_rpc *r = c->r;
    rcall *k = call_new();
    if (!k) {
        send_error(c, rf->f.msgid, DURO_NOMEM, "out of memory");
        return;
    }
    duro_op_call call = {
        .op = rf->f.op,
        .op_len = rf->f.op_len,
        .ns = rf->f.ns,
        .ns_len = rf->f.ns_len,
        .args = {.mp = rf->f.args, .len = rf->f.args_len, .val_enc = DURO_ENC_MSGPACK,
                 .lim = &r->lim, .peer = duro_conn_peer(c->conn)},
        .allow = r->access && duro_access_enabled(r->access) ? allow : NULL,
        .allow_arg = c,
        .found = rf->k, /* read_frame() looked it up */
        .found_kind = rf->kind,
        .found_op = rf->op,
    };
    if (duro_op_build(&duro_object_kinds, &call, &k->m) != DURO_OK) {
        if (rf->k)
            account(c, rf->f.msgid, rf->kind, rf->op, rf->f.op, rf->f.op_len, rf->f.ns,
                    rf->f.ns_len, k->m.status, 0, 0);
        else
            account_frame(c, &rf->f, DURO_RPC_OTHER, k->m.status);
        send_error(c, rf->f.msgid, k->m.status, k->m.errmsg);
        call_free(k);
        return;
    }
    k->m.reply = call_reply;
    k->t0_us = c->read_us;
    k->c = c;
    k->msgid = rf->f.msgid;
    k->frame_bytes = c->frame_bytes;
    c->frame_bytes = 0;
    k->weight = c->next_weight;
    c->inflight++;
    c->inflight_bytes += k->frame_bytes;
    c->inflight_reply += k->weight;
    duro_conn_hold(c->conn);
    duro_courier_send(duro_conn_courier(c->conn), &k->m);
}

static void handle_frame(rconn *c, const rframe *rf)
{
    const duro_frame f = rf->f;
    if (!rf->parsed) {
        account(c, f.msgid, -1, DURO_RPC_OTHER, "-", 1, "", 0, DURO_BAD_REQUEST, 0, 0);
        fail_and_close(c, f.msgid, DURO_BAD_REQUEST,
                       "malformed frame: expected msgpack [msgid, op, ns, args]");
        return;
    }
    uint64_t msgid = f.msgid;
    if (duro_conn_stopping(c->conn)) {
        account_frame(c, &f, DURO_RPC_OTHER, DURO_UNAVAILABLE);
        send_error(c, msgid, DURO_UNAVAILABLE, "server is shutting down");
        return;
    }
    if (f.op_len == 4 && memcmp(f.op, "ping", 4) == 0) {
        duro_buf b = {0};
        msgpack_packer pk;
        begin_reply(&b, &pk, msgid, DURO_OK);
        duro_buf_append(&b, duro_frame_pong, DURO_FRAME_PONG_LEN);
        put_frame(c, &b);
        duro_buf_free(&b);
        account_frame(c, &f, DURO_RPC_PING, DURO_OK);
        return;
    }
    if (f.op_len == 4 && memcmp(f.op, "auth", 4) == 0) {
        account_frame(c, &f, DURO_RPC_AUTH, auth_op(c, msgid, f.args, f.args_len));
        return;
    }
    submit(c, rf);
}

/* 1 if the 4 bytes a frame's length would be are an HTTP method: a browser,
 * curl or an HTTP client pointed at this port instead of --listen. */
static int looks_like_http(const unsigned char *h)
{
    static const char *const methods[] = {"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (memcmp(h, methods[i], 4) == 0)
            return 1;
    return 0;
}

/* Answers an HTTP request with a short HTTP 400 that says where HTTP is,
 * then closes: the client learns what happened instead of waiting on a
 * frame of a billion bytes. */
static void refuse_http(rconn *c)
{
    static const char reply[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 138\r\n"
        "Connection: close\r\n\r\n"
        "{\"success\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"this is durod's binary-"
        "protocol port (--rpc-port); HTTP is served on --listen\"}}";
    duro_metrics_rpc(-1, DURO_RPC_OTHER, DURO_BAD_REQUEST, 0);
    duro_conn_write(c->conn, reply, sizeof reply - 1);
    c->closing = 1;
    duro_conn_close_after_write(c->conn);
}

static void on_read(duro_conn *conn)
{
    rconn *c = duro_conn_state(conn);
    duro_rpc *r = c->r;
    struct evbuffer *in = duro_conn_input(conn);
    size_t max = (size_t)r->cfg->max_body_bytes;
    c->read_us = duro_mono_us();
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
        if (n > max && !c->in_frame && looks_like_http(hdr)) {
            refuse_http(c);
            return;
        }
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
                               "the server holds too many requests (--max-inflight-bytes);"
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
    duro_metrics_rpc_connection(1);
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
    duro_metrics_rpc_connection(-1);
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
    .thread_end = rpc_thread_end,
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
    duro_config_limits(cfg, &r->lim);
    r->max_inflight = (size_t)cfg->max_pipeline;
    r->max_inflight_bytes = 2 * (size_t)cfg->max_body_bytes;
    r->max_reply = (size_t)cfg->max_reply_bytes;
    r->max_inflight_reply = 4 * r->max_reply;
    *out = r;
    return DURO_OK;
}

void duro_rpc_free(duro_rpc *r) { free(r); }
