/*
 * embedded.c — libduro's file:///path backend: the duro runtime inside the
 * caller's process.
 *
 * DESIGN
 * duro_open starts a runtime (runtime/runtime.h) over the directory, which
 * takes the directory's flock: a durod or another handle on it makes the open
 * fail with DURO_LOCKED. A call is built as durod's binary protocol builds a
 * frame, by the same duro_op_build() over the same kind table
 * (objects/object.h: op name → kind and op, namespace check, the kind's
 * decode of the msgpack args into a validated request), and submitted to the
 * owning actor (resources.list/stats: to the registry actor; like the binary
 * protocol they ignore the call's namespace). The actor answers on its
 * own thread through done(), which only marks the request finished under the
 * handle's mutex and wakes the waiters; the calling thread turns the reply
 * tape into JSON or msgpack (codec.h) and frees the message
 * (duro_op_free for its kind's request). Replies have the binary
 * protocol's shapes: snapshot.get answers {version, data}.
 *
 * Values of the JSON calls are stored as JSON (DURO_ENC_JSON), those of the
 * msgpack calls and of duro_call/duro_send as msgpack, as the HTTP and RPC
 * transports store them. Durability is the runtime's: a write returns after
 * its commit (synchronous=FULL unless the URL says sync=normal).
 *
 * URL options: file:///dir?actors=N&cache_mb=N&ttl_sweep_ms=N&max_value_bytes=N
 * &sync=full|normal&ratelimit_default=LIMIT/WINDOW&pwhash=min (defaults: one
 * actor per core, 64 MiB, 1000 ms, 2 MiB, full, 30/60s as durod's
 * --ratelimit-default; pwhash=min is Argon2id at its minimum cost, for tests
 * only, as --pwhash-min).
 */
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "objects/kv.h"
#include "objects/object.h"
#include "runtime/runtime.h"
#include "common/codec.h"
#include "objects/ratelimit_req.h"

typedef struct ereq ereq;
struct ereq {
    duro_msg m;       /* m.ctx = this; reply in m.status/body/errmsg */
    uint64_t id;
    int done;
    int async;        /* from duro_send: goes to the ready list when done */
    ereq *next;       /* ready list */
    struct embedded *owner;
};

typedef struct embedded {
    struct duro base;
    duro_runtime *rt;
    duro_limits lim; /* what the decoders apply (runtime/kind.h) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ereq *ready, *ready_tail; /* finished duro_send requests, oldest first */
    size_t inflight;          /* duro_send requests not yet taken by duro_recv */
    uint64_t next_id;
} embedded;

/* Actor thread: hand the message back to its sender. */
static void on_done(duro_msg *m)
{
    ereq *e = m->ctx;
    embedded *E = e->owner;
    pthread_mutex_lock(&E->mu);
    e->done = 1;
    if (e->async) {
        if (E->ready_tail)
            E->ready_tail->next = e;
        else
            E->ready = e;
        E->ready_tail = e;
    }
    pthread_cond_broadcast(&E->cv);
    pthread_mutex_unlock(&E->mu);
}

static void ereq_free(ereq *e)
{
    if (!e)
        return;
    duro_op_free(&duro_object_kinds, &e->m);
    duro_buf_free(&e->m.body);
    free(e);
}

/* Builds the request of one op (runtime/kind.h: duro_op_build, as the
 * binary protocol does). Always returns a request (NULL only on ENOMEM); if
 * the op cannot run, it comes back finished (done = 1) with its error, or
 * with its answer for ping. */
static ereq *build(embedded *E, const char *op, const char *ns, const void *args,
                   size_t args_len, int val_enc)
{
    ereq *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    duro_msg *m = &e->m;
    e->owner = E;
    m->ctx = e;
    m->done = on_done;
    m->version = -1;
    size_t op_len = strlen(op);
    if (op_len == 4 && memcmp(op, "ping", 4) == 0) {
        e->done = 1;
        m->status = DURO_OK;
        if (duro_buf_append(&m->body, duro_frame_pong, DURO_FRAME_PONG_LEN) != 0)
            duro_msg_fail(m, DURO_NOMEM, "out of memory");
        return e;
    }
    duro_op_call call = {
        .op = op,
        .op_len = op_len,
        .ns = ns,
        .ns_len = strlen(ns),
        .args = {.mp = args, .len = args_len, .val_enc = val_enc, .lim = &E->lim},
    };
    if (duro_op_build(&duro_object_kinds, &call, m) != DURO_OK)
        e->done = 1;
    return e;
}

/* Sends e to its actor unless it is already finished. */
static void submit(embedded *E, ereq *e)
{
    if (e->done)
        return;
    if (duro_runtime_submit(E->rt, &e->m) != DURO_OK) {
        e->done = 1;
        duro_msg_fail(&e->m, DURO_UNAVAILABLE, "the runtime's mailbox is full or it is stopping");
    }
}

/* Starts the binary protocol's snapshot.get reply {version, data: ...} in
 * encoding out; the data follows. 0 / -1. */
static int snapshot_head(int64_t etag, int out, duro_buf *b)
{
    if (out == DURO_OUT_JSON) {
        char head[64];
        snprintf(head, sizeof head, "{\"version\":%lld,\"data\":", (long long)etag);
        return duro_buf_puts(b, head);
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, duro_buf_mp_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 7);
    msgpack_pack_str_body(&pk, "version", 7);
    msgpack_pack_int64(&pk, etag);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    return b->len ? 0 : -1; /* the packer ignores write errors */
}

/* The reply of a finished request, in encoding out. */
static void reply_of(ereq *e, int out, duro_reply *r)
{
    duro_msg *m = &e->m;
    if (m->status != DURO_OK) {
        duro_reply_fail(r, m->status, "%s", m->errmsg[0] ? m->errmsg : duro_errstr(m->status));
        duro_errbody_mp(&r->body, DURO_ERRBODY_BARE, m->status, r->msg);
        return;
    }
    int bad = 0;
    if (m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET)
        bad = snapshot_head(m->version, out, &r->body);
    if (!bad)
        bad = out == DURO_OUT_JSON
                  ? duro_tape_to_json(m->body.data, m->body.len, &r->body)
                  : duro_tape_to_mp(m->body.data, m->body.len, &r->body);
    if (!bad && m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET &&
        out == DURO_OUT_JSON)
        bad = duro_buf_puts(&r->body, "}");
    if (bad) {
        duro_buf_free(&r->body);
        duro_reply_fail(r, DURO_INTERNAL, "cannot encode the reply");
        return;
    }
    r->rc = DURO_OK;
    r->http = duro_status_http(m->created ? DURO_CREATED : DURO_OK);
    r->created = m->created != 0;
}

static void e_call(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                   int val_enc, int out, duro_reply *r)
{
    embedded *E = (embedded *)db;
    ereq *e = build(E, op, ns, args, args_len, val_enc);
    if (!e) {
        duro_reply_fail(r, DURO_NOMEM, "out of memory");
        return;
    }
    submit(E, e);
    pthread_mutex_lock(&E->mu);
    while (!e->done)
        pthread_cond_wait(&E->cv, &E->mu);
    pthread_mutex_unlock(&E->mu);
    reply_of(e, out, r);
    ereq_free(e);
}

static int e_send(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                  uint64_t *id, char *msg, size_t msglen)
{
    embedded *E = (embedded *)db;
    pthread_mutex_lock(&E->mu);
    if (E->inflight >= DURO_CLIENT_MAX_INFLIGHT) {
        pthread_mutex_unlock(&E->mu);
        snprintf(msg, msglen, "%d requests in flight: take replies with duro_recv first",
                 DURO_CLIENT_MAX_INFLIGHT);
        return DURO_UNAVAILABLE;
    }
    E->inflight++;
    uint64_t my = ++E->next_id;
    pthread_mutex_unlock(&E->mu);
    ereq *e = build(E, op, ns, args, args_len, DURO_ENC_MSGPACK);
    if (!e) {
        pthread_mutex_lock(&E->mu);
        E->inflight--;
        pthread_mutex_unlock(&E->mu);
        snprintf(msg, msglen, "out of memory");
        return DURO_NOMEM;
    }
    e->id = my;
    e->async = 1;
    *id = my;
    /* once the runtime took it, e belongs to on_done and duro_recv */
    if (!e->done && duro_runtime_submit(E->rt, &e->m) == DURO_OK)
        return DURO_OK;
    if (!e->done)
        duro_msg_fail(&e->m, DURO_UNAVAILABLE, "the runtime's mailbox is full or it is stopping");
    e->done = 1; /* answered without the runtime: queue it as is */
    pthread_mutex_lock(&E->mu);
    if (E->ready_tail)
        E->ready_tail->next = e;
    else
        E->ready = e;
    E->ready_tail = e;
    pthread_cond_broadcast(&E->cv);
    pthread_mutex_unlock(&E->mu);
    return DURO_OK;
}

static int e_recv(duro *db, uint64_t *id, duro_reply *r)
{
    embedded *E = (embedded *)db;
    pthread_mutex_lock(&E->mu);
    if (E->inflight == 0) {
        pthread_mutex_unlock(&E->mu);
        return duro_reply_fail(r, DURO_BAD_REQUEST, "no request in flight");
    }
    while (!E->ready)
        pthread_cond_wait(&E->cv, &E->mu);
    ereq *e = E->ready;
    E->ready = e->next;
    if (!E->ready)
        E->ready_tail = NULL;
    E->inflight--;
    pthread_mutex_unlock(&E->mu);
    *id = e->id;
    reply_of(e, DURO_OUT_MP, r);
    ereq_free(e);
    return r->rc;
}

static void e_close(duro *db)
{
    embedded *E = (embedded *)db;
    duro_runtime_close(E->rt); /* answers everything queued, commits */
    for (ereq *e = E->ready, *next; e; e = next) {
        next = e->next;
        ereq_free(e);
    }
    pthread_cond_destroy(&E->cv);
    pthread_mutex_destroy(&E->mu);
    free(E);
}

static const duro_backend embedded_backend = {e_call, e_send, e_recv, e_close};

int duro_embedded_open(const char *url, duro **db, char *msg, size_t msglen)
{
    const char *path = url + strlen("file://");
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    if (plen == 0) {
        snprintf(msg, msglen, "file:// URL without a directory");
        return DURO_BAD_REQUEST;
    }
    char *dir = NULL;
    size_t dlen;
    if (duro_pct_decode(path, plen, &dir, &dlen) != 0 || strlen(dir) != dlen) {
        free(dir);
        snprintf(msg, msglen, "bad percent-escape in the file:// path");
        return DURO_BAD_REQUEST;
    }
    const char *query = q ? q + 1 : NULL;
    static const char *const known[] = {"actors",   "cache_mb",          "ttl_sweep_ms",
                                        "max_value_bytes", "sync", "ratelimit_default",
                                        "pwhash",   NULL};
    if (dir[0] != '/') {
        snprintf(msg, msglen, "file:// wants an absolute path: file:///abs/dir (file://%.40s names"
                              " no directory)", dir);
        free(dir);
        return DURO_BAD_REQUEST;
    }
    if (duro_url_known(query, known, msg, msglen) != 0) {
        free(dir);
        return DURO_BAD_REQUEST;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long long actors = ncpu > 0 ? (ncpu > 256 ? 256 : ncpu) : 1, cache_mb = 64,
              sweep = 1000, max_value = 2097152;
    int sync_full = 1;
    if (duro_url_int(query, "actors", 1, 256, &actors) < 0 ||
        duro_url_int(query, "cache_mb", 0, 1 << 20, &cache_mb) < 0 ||
        duro_url_int(query, "ttl_sweep_ms", 1, 86400000, &sweep) < 0 ||
        duro_url_int(query, "max_value_bytes", 16, 1 << 30, &max_value) < 0) {
        free(dir);
        snprintf(msg, msglen, "bad option in the file:// URL");
        return DURO_BAD_REQUEST;
    }
    if (query && strstr(query, "sync=normal"))
        sync_full = 0;
    int pwhash_min = query && strstr(query, "pwhash=min"); /* tests only */
    duro_rl_defaults rl_defaults = {30, 60000}; /* durod's --ratelimit-default 30/60s */
    const char *rd = query ? strstr(query, "ratelimit_default=") : NULL;
    if (rd) {
        char tmp[64] = "";
        rd += strlen("ratelimit_default=");
        size_t n = strcspn(rd, "&");
        if (n < sizeof tmp) {
            memcpy(tmp, rd, n);
            tmp[n] = '\0';
        }
        if (duro_rl_parse_default(tmp, &rl_defaults) != 0) {
            free(dir);
            snprintf(msg, msglen, "bad ratelimit_default in the file:// URL (want e.g. 30/60s)");
            return DURO_BAD_REQUEST;
        }
    }
    embedded *E = calloc(1, sizeof *E);
    if (!E) {
        free(dir);
        snprintf(msg, msglen, "out of memory");
        return DURO_NOMEM;
    }
    E->base.be = &embedded_backend;
    E->lim = (duro_limits){.max_value_bytes = (size_t)max_value,
                           .max_reply_bytes = DURO_MAX_REPLY_DEFAULT,
                           .rl_limit = rl_defaults.limit,
                           .rl_window_ms = rl_defaults.window_ms,
                           .pwhash_min = pwhash_min};
    pthread_mutex_init(&E->mu, NULL);
    pthread_cond_init(&E->cv, NULL);
    duro_runtime_config cfg = {
        .data_dir = dir,
        .kinds = &duro_object_kinds,
        .actors = (int)actors,
        .cache_bytes = (size_t)cache_mb << 20,
        .max_open_ns = 256,
        .sync_full = sync_full,
        .ttl_sweep_ms = (int)sweep,
        .max_mailbox = 100000,
    };
    int st = duro_runtime_open(&cfg, &E->rt, msg, msglen);
    free(dir);
    if (st != DURO_OK) {
        pthread_cond_destroy(&E->cv);
        pthread_mutex_destroy(&E->mu);
        free(E);
        return st;
    }
    *db = &E->base;
    return DURO_OK;
}
