/*
 * http_reply.c — the reply side of the HTTP API: the envelope ({"success":
 * true, "data"} or the error body of common/errbody.h, JSON or msgpack by
 * Accept), CORS, the headers a reply carries (ETag, rate-limit figures,
 * Retry-After, Allow), and a call's life: allocated for a request, sent
 * through the thread's courier, answered by call_reply() on this thread
 * (tapes over ENCODE_INLINE_MAX are encoded on the encoder pool), freed.
 */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objects/object.h"
#include "common/log.h"
#include "common/codec.h"
#include "common/errbody.h"
#include "transport/metrics.h"
#include "objects/registry_req.h"

/* The snapshot is the document itself, and the registry's list and stats
 * answer as the storage proxy documents them: all without the envelope. */
static int answers_raw(const duro_msg *m)
{
    return m && ((m->kind == DURO_KIND_KV && m->op == DURO_KV_SNAPSHOT_GET) ||
                 (m->kind == DURO_KIND_REGISTRY &&
                  (m->op == DURO_REGISTRY_LIST || m->op == DURO_REGISTRY_STATS)));
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
            static const char head[] = "\x82\xa7success\xc3\xa4"
                                       "data"; /* {success: true, data: */
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

void duro_http_cors_setup(duro_http *h, const duro_config *cfg)
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

void duro_http_add_cors(const duro_http *h, duro_hreq *req)
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
static void send_typed(const duro_http *srv, duro_hreq *req, int route, const char *ctype,
                       uint64_t t0, int status, const char *errmsg, duro_buf *body, int64_t etag,
                       const duro_msg *m)
{
    struct evkeyvalq *h = &req->out;
    evhttp_add_header(h, "Content-Type", ctype);
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
    duro_http_add_cors(srv, req);
    if (status == DURO_METHOD_NOT_ALLOWED && errmsg && strncmp(errmsg, "allowed: ", 9) == 0)
        evhttp_add_header(h, "Allow", errmsg + 9);
    if (status == DURO_UNAVAILABLE)
        evhttp_add_header(h, "Retry-After", "1");
    size_t len;
    char *data = duro_buf_take(body, &len);
    duro_hreq_respond(req, code, NULL, data, data ? len : 0);
    duro_metrics_request(route, code, duro_mono_us() - t0);
}

static void send_reply(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                       int status, const char *errmsg, duro_buf *body, int64_t etag,
                       const duro_msg *m)
{
    send_typed(srv, req, route, accept_mp ? "application/msgpack" : "application/json", t0,
               status, errmsg, body, etag, m);
}

/* A KV GET that asked for Accept: application/octet-stream and found bytes
 * answers them raw (docs/kv.md, "Binary values"); any other value, ?meta=1
 * and every error answer as usual. 1 if it was sent. */
static int reply_octets(const call *k, const duro_msg *m)
{
    const void *p;
    size_t n;
    if (m->status != DURO_OK || m->kind != DURO_KIND_KV || m->op != DURO_KV_GET || !m->req ||
        ((const duro_kv_req *)m->req)->with_meta ||
        !duro_http_wants_octet(evhttp_find_header(&k->req->in, "Accept")) ||
        !duro_mp_is_bin(m->body.data, m->body.len, &p, &n))
        return 0;
    duro_buf out = {0};
    if (duro_buf_append(&out, p, n) != 0)
        return 0;
    send_typed(k->srv, k->req, k->route, "application/octet-stream", k->t0_us, DURO_OK, NULL,
               &out, m->version, m);
    return 1;
}

/* Encodes and sends one reply on this thread. tape is the success data. */
void duro_http_reply(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                     int status, const char *errmsg, const duro_buf *tape, int64_t etag,
                     const duro_msg *m)
{
    duro_buf out = {0};
    status = encode_body(&out, accept_mp, answers_raw(m), status, errmsg, tape);
    if (status != DURO_OK && m && m->status == DURO_OK)
        duro_log_error("reply encoding failed (route %d)", route);
    send_reply(srv, req, route, accept_mp, t0, status, errmsg, &out, etag, m);
}

void duro_http_fail(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                    int status, const char *msg)
{
    duro_http_reply(srv, req, route, accept_mp, t0, status, msg, NULL, -1, NULL);
}

void duro_http_call_free(call *k)
{
    if (k->m.file.open) /* a blob's file the reply did not send */
        close(k->m.file.fd);
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
    duro_http_call_free(k);
}

/* The actor answered (through the courier, on this thread). */
static void call_reply(duro_msg *m)
{
    call *k = (call *)m;
    if (reply_octets(k, m)) {
        duro_http_call_free(k);
        return;
    }
    if (m->status == DURO_OK && m->body.len > ENCODE_INLINE_MAX) {
        k->raw = answers_raw(m);
        m->reply = call_encoded;
        if (duro_courier_offload(duro_conn_courier(k->req->conn), k->srv->encoders, m,
                                 work_encode) == DURO_OK)
            return;
        m->reply = call_reply; /* the pool is full: encode here */
    }
    duro_http_reply(k->srv, k->req, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg,
                    &m->body, m->version, m);
    duro_http_call_free(k);
}

/* ---- queries and bodies ---- */

/* Allocates a call for this request, or answers 500 and returns NULL. */
call *duro_http_call_new(duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0)
{
    call *k = calloc(1, sizeof *k);
    if (!k) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_NOMEM, "out of memory");
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

void duro_http_call_send(call *k)
{
    if (duro_conn_stopping(k->req->conn)) {
        duro_http_fail(k->srv, k->req, k->route, k->accept_mp, k->t0_us, DURO_UNAVAILABLE,
                       "server is shutting down");
        duro_http_call_free(k);
        return;
    }
    duro_courier_send(duro_conn_courier(k->req->conn), &k->m);
}

/* Answers a CORS preflight (OPTIONS, on every route). */
void duro_http_preflight(const duro_http *srv, duro_hreq *req, uint64_t t0)
{
    struct evkeyvalq *hd = &req->out;
    evhttp_add_header(hd, "Access-Control-Allow-Methods", CORS_METHODS);
    evhttp_add_header(hd, "Access-Control-Allow-Headers", CORS_HEADERS);
    evhttp_add_header(hd, "Access-Control-Max-Age", "600");
    evhttp_add_header(hd, "Allow", CORS_METHODS);
    duro_http_add_cors(srv, req);
    duro_hreq_respond(req, 204, NULL, NULL, 0);
    duro_metrics_request(DURO_ROUTE_OPTIONS, 204, duro_mono_us() - t0);
}

void duro_http_submit(duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                      int kind, int op, void *rq, const char *ns, size_t ns_len)
{
    call *k = duro_http_call_new(srv, req, route, accept_mp, t0);
    if (!k) {
        duro_kind_get(&duro_object_kinds, kind)->free(rq);
        return;
    }
    k->m.kind = kind;
    k->m.op = op;
    k->m.req = rq;
    memcpy(k->m.ns, ns, ns_len);
    k->m.ns[ns_len] = '\0';
    k->m.ns_len = ns_len;
    duro_http_call_send(k);
}
