/*
 * http_blob.c — /api/storage/r2/{ns}/{key} and /api/storage/r2/{ns}: the
 * blob kind (objects/blob.h) over HTTP, as the storage proxy's R2 routes.
 *
 * PUT takes the raw body (its Content-Type kept; x-amz-meta-* headers become
 * the metadata) or, with Content-Type application/json, the proxy's form
 * {"content": "<base64>", "metadata": {...}, "contentType"?: "..."} (a JSON
 * body of another shape is stored raw, as a JSON file). The raw body is not
 * copied: the request borrows the connection's body buffer, which lives until
 * the answer. GET answers the bytes from the object's open file (sendfile),
 * with Range, If-Match and If-None-Match; HEAD the same headers.
 */
#include "transport/http_int.h"

#include <sys/queue.h>
#include <ctype.h>

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/names.h"
#include "common/range.h"
#include "objects/blob.h"
#include "objects/object.h"
#include "transport/metrics.h"

static const char *const q_list[] = {"prefix", "delimiter", "limit", "cursor", "startAfter", NULL};

/* Fields of a blob reply's tape the headers need. */
typedef struct obj_fields {
    int64_t size, updated;
    char etag[65];
    char type[DURO_BLOB_TYPE_MAX + 1];
} obj_fields;

static int read_fields(const duro_buf *tape, obj_fields *f)
{
    memset(f, 0, sizeof *f);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int ok = tape->len &&
             msgpack_unpack_next(&u, tape->data, tape->len, &off) == MSGPACK_UNPACK_SUCCESS &&
             u.data.type == MSGPACK_OBJECT_MAP;
    for (uint32_t i = 0; ok && i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
#define IS(name) (k->via.str.size == sizeof name - 1 && !memcmp(k->via.str.ptr, name, sizeof name - 1))
        if (IS("size") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            f->size = (int64_t)v->via.u64;
        else if (IS("updatedAt") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            f->updated = (int64_t)v->via.u64;
        else if (IS("etag") && v->type == MSGPACK_OBJECT_STR && v->via.str.size < sizeof f->etag)
            memcpy(f->etag, v->via.str.ptr, v->via.str.size);
        else if (IS("contentType") && v->type == MSGPACK_OBJECT_STR &&
                 v->via.str.size < sizeof f->type)
            memcpy(f->type, v->via.str.ptr, v->via.str.size);
#undef IS
    }
    msgpack_unpacked_destroy(&u);
    return ok ? 0 : -1;
}

static void add_object_headers(duro_hreq *req, const obj_fields *f)
{
    char v[96];
    snprintf(v, sizeof v, "\"%s\"", f->etag);
    evhttp_add_header(&req->out, "ETag", v);
    time_t t = (time_t)(f->updated / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(v, sizeof v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    evhttp_add_header(&req->out, "Last-Modified", v);
    evhttp_add_header(&req->out, "Accept-Ranges", "bytes");
}

static int route_of(int op)
{
    return op == DURO_BLOB_PUT      ? DURO_ROUTE_BLOB_PUT
         : op == DURO_BLOB_DELETE ? DURO_ROUTE_BLOB_DELETE
         : op == DURO_BLOB_LIST   ? DURO_ROUTE_BLOB_LIST
                                  : DURO_ROUTE_BLOB_GET;
}

/* Answers a get or head: the bytes (or a range of them) from the file. */
static void reply_object(call *k, duro_msg *m)
{
    duro_hreq *req = k->req;
    obj_fields f;
    if (read_fields(&m->body, &f) != 0) {
        duro_http_fail(k->srv, req, k->route, k->accept_mp, k->t0_us, DURO_INTERNAL,
                       "reply could not be read");
        return;
    }
    uint64_t off = 0, len = (uint64_t)f.size;
    int code = 200;
    int rr = m->status == DURO_OK && m->op == DURO_BLOB_GET
                 ? duro_range_parse(evhttp_find_header(&req->in, "Range"), (uint64_t)f.size,
                                    &off, &len)
                 : DURO_RANGE_NONE;
    char cr[96];
    if (rr == DURO_RANGE_UNSATISFIABLE) { /* the error envelope (with its own CORS headers) */
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)f.size);
        evhttp_add_header(&req->out, "Content-Range", cr);
        char msg[128];
        snprintf(msg, sizeof msg, "Range: the object has %lld bytes", (long long)f.size);
        duro_http_fail(k->srv, req, k->route, k->accept_mp, k->t0_us, DURO_RANGE_NOT_SATISFIABLE,
                       msg);
        return;
    }
    add_object_headers(req, &f);
    duro_http_add_cors(k->srv, req);
    if (m->status == DURO_NOT_MODIFIED) {
        duro_hreq_respond(req, 304, NULL, NULL, 0);
        duro_metrics_request(k->route, 304, duro_mono_us() - k->t0_us);
        return;
    }
    if (rr == DURO_RANGE_PARTIAL) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%lld", (unsigned long long)off,
                 (unsigned long long)(off + len - 1), (long long)f.size);
        evhttp_add_header(&req->out, "Content-Range", cr);
        code = 206;
    }
    evhttp_add_header(&req->out, "Content-Type", f.type[0] ? f.type : "application/octet-stream");
    if (m->file.open && len) {
        m->file.open = 0;
        duro_hreq_respond_file(req, code, NULL, m->file.fd, off, len);
    } else { /* HEAD, or empty */
        duro_hreq_respond(req, code, NULL, NULL, (size_t)len);
    }
    duro_metrics_request(k->route, code, duro_mono_us() - k->t0_us);
}

/* The actor answered a blob op (on this thread). */
static void blob_reply(duro_msg *m)
{
    call *k = (call *)m;
    if ((m->op == DURO_BLOB_GET || m->op == DURO_BLOB_HEAD) &&
        (m->status == DURO_OK || m->status == DURO_NOT_MODIFIED)) {
        reply_object(k, m);
    } else {
        obj_fields f;
        if (m->status == DURO_OK && m->op == DURO_BLOB_PUT && read_fields(&m->body, &f) == 0) {
            char v[96];
            snprintf(v, sizeof v, "\"%s\"", f.etag);
            evhttp_add_header(&k->req->out, "ETag", v);
        }
        duro_http_reply(k->srv, k->req, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg,
                        &m->body, -1, m);
    }
    duro_http_call_free(k);
}

/* ---- requests ---- */

static int dup_header(duro_hreq *req, const char *name, char **out)
{
    const char *v = evhttp_find_header(&req->in, name);
    if (!v)
        return 0;
    if (strlen(v) > 4096)
        return -1;
    return (*out = strdup(v)) ? 0 : -1;
}

/* x-amz-meta-NAME: VALUE headers as the metadata object {NAME: VALUE}. */
static int meta_from_headers(duro_hreq *req, duro_blob_req *r)
{
    json_t *o = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &req->in, next)
    {
        if (strncasecmp(kv->key, "x-amz-meta-", 11) != 0 || !kv->key[11])
            continue;
        if (!o && !(o = json_object()))
            return -1;
        char name[256];
        snprintf(name, sizeof name, "%s", kv->key + 11);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!duro_utf8_valid(kv->value, strlen(kv->value)))
            continue;
        json_object_set_new(o, name, json_string(kv->value));
    }
    if (!o)
        return 0;
    duro_buf text = {0};
    int rc = duro_json_to_text(o, &text);
    json_decref(o);
    if (rc == 0)
        r->meta = duro_buf_take(&text, &r->meta_len);
    duro_buf_free(&text);
    return rc == 0 && r->meta ? 0 : -1;
}

/* Base64 (with or without padding) of exactly n bytes into out. */
static int b64_exact(const char *s, unsigned char *out, size_t n)
{
    size_t got;
    unsigned char tmp[64];
    if (!s || strlen(s) > 88 ||
        sodium_base642bin(tmp, sizeof tmp, s, strlen(s), NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n)
        return -1;
    memcpy(out, tmp, n);
    return 0;
}

/* The proxy's JSON form {"content": base64, "metadata"?: {}, "contentType"?}:
 * 1 it is one (r filled), 0 it is not (store the body raw), or a status. */
static int json_form(duro_hreq *req, duro_blob_req *r, char *err, size_t errlen)
{
    const char *why;
    json_t *body = duro_json_parse(req->body.data, req->body.len, &why);
    json_t *content = body ? json_object_get(body, "content") : NULL;
    if (!json_is_object(body) || !json_is_string(content)) {
        json_decref(body);
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "content") && strcmp(k, "metadata") && strcmp(k, "contentType")) {
            json_decref(body);
            return 0;
        }
    }
    int st = DURO_OK;
    size_t n = json_string_length(content), got = 0;
    if (st == DURO_OK && !(r->own = malloc(n / 4 * 3 + 4)))
        st = DURO_NOMEM;
    if (st == DURO_OK &&
        sodium_base642bin(r->own, n / 4 * 3 + 4, json_string_value(content), n, "\n\r ", &got,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(err, errlen, "content: not base64");
        st = DURO_BAD_REQUEST;
    }
    r->data = r->own;
    r->size = got;
    json_t *meta = json_object_get(body, "metadata"), *type = json_object_get(body, "contentType");
    if (st == DURO_OK && meta && !json_is_null(meta)) {
        duro_buf text = {0};
        if (!json_is_object(meta) || duro_json_to_text(meta, &text) != 0) {
            snprintf(err, errlen, "metadata: expected an object");
            st = DURO_BAD_REQUEST;
        } else {
            r->meta = duro_buf_take(&text, &r->meta_len);
        }
        duro_buf_free(&text);
    }
    if (st == DURO_OK && type) {
        if (!json_is_string(type) || !(r->content_type = strdup(json_string_value(type)))) {
            snprintf(err, errlen, "contentType: expected a string");
            st = DURO_BAD_REQUEST;
        }
    }
    json_decref(body);
    return st == DURO_OK ? 1 : st;
}

/* 1 if a body too large for the JSON form looks like one: {"content" at its
 * start. */
static int looks_like_json_form(const duro_hreq *req)
{
    size_t n = req->body.len < 64 ? req->body.len : 64;
    const char *p = req->body.data;
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", p[i]))
        i++;
    return i < n && p[i] == '{' && memmem(p + i, n - i, "\"content\"", 9);
}

static int build_put(duro_http *srv, duro_hreq *req, duro_blob_req *r, char *err, size_t errlen)
{
    const char *ctype = evhttp_find_header(&req->in, "Content-Type");
    int st = 0;
    int json = ctype && strncasecmp(ctype, "application/json", 16) == 0;
    if (json && req->body.len > (size_t)srv->cfg->max_body_bytes && looks_like_json_form(req)) {
        snprintf(err, errlen, "the JSON form takes bodies up to %ld bytes (--max-body-bytes);"
                 " send larger objects as the raw body", srv->cfg->max_body_bytes);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    if (json && req->body.len <= (size_t)srv->cfg->max_body_bytes &&
        (st = json_form(req, r, err, errlen)) != 0 && st != 1)
        return st;
    if (st != 1) { /* raw: the body as it is, borrowed */
        r->data = (const unsigned char *)req->body.data;
        r->size = req->body.len;
        if (ctype && !(r->content_type = strdup(ctype)))
            return DURO_NOMEM;
        if (meta_from_headers(req, r) != 0) {
            snprintf(err, errlen, "x-amz-meta-*: the metadata cannot be encoded");
            return DURO_BAD_REQUEST;
        }
    }
    const char *md5 = evhttp_find_header(&req->in, "Content-MD5");
    if (md5) {
        if (b64_exact(md5, r->want_md5, 16) != 0) {
            snprintf(err, errlen, "Content-MD5: expected the base64 of 16 bytes");
            return DURO_BAD_REQUEST;
        }
        r->has_md5 = 1;
    }
    const char *sha = evhttp_find_header(&req->in, "x-content-sha256");
    if (sha) {
        if (duro_blob_unhex(sha, strlen(sha), r->want_sha256, 32) != 0) {
            snprintf(err, errlen, "x-content-sha256: expected 64 hex digits");
            return DURO_BAD_REQUEST;
        }
        r->has_sha256 = 1;
    }
    return DURO_OK;
}

static int build_list(const char *query, duro_blob_req *r, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off, len_off;
    } strs[] = {
        {"prefix", offsetof(duro_blob_req, prefix), offsetof(duro_blob_req, prefix_len)},
        {"delimiter", offsetof(duro_blob_req, delimiter), offsetof(duro_blob_req, delimiter_len)},
        {"cursor", offsetof(duro_blob_req, cursor), offsetof(duro_blob_req, cursor_len)},
        {"startAfter", offsetof(duro_blob_req, start_after),
         offsetof(duro_blob_req, start_after_len)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        char *v;
        size_t n;
        int rc = duro_query_get(query, strs[i].name, &v, &n);
        if (rc < 0) {
            snprintf(err, errlen, "bad percent-encoding in \"%s\"", strs[i].name);
            return DURO_BAD_REQUEST;
        }
        if (rc == 1 && n == 0) { /* "?cursor=" is no cursor */
            free(v);
            continue;
        }
        if (rc == 1) {
            *(char **)((char *)r + strs[i].off) = v;
            *(size_t *)((char *)r + strs[i].len_off) = n;
        }
    }
    char *v;
    size_t n;
    int rc = duro_query_get(query, "limit", &v, &n);
    if (rc == 1) {
        char *end;
        long l = strtol(v, &end, 10);
        int ok = n && *end == '\0' && l >= 1 && l <= DURO_BLOB_LIST_MAX;
        free(v);
        if (!ok) {
            snprintf(err, errlen, "limit: expected an integer in 1..%d", DURO_BLOB_LIST_MAX);
            return DURO_BAD_REQUEST;
        }
        r->limit = (int)l;
    } else if (rc < 0) {
        snprintf(err, errlen, "bad percent-encoding in \"limit\"");
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

void duro_http_serve_blob(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                          const char *query, int accept_mp, uint64_t t0)
{
    char err[256];
    route_info ri = {.op = -1, .ns_in_path = 1};
    const char *slash = strchr(path, '/');
    ri.ns_raw = path;
    ri.ns_raw_len = slash ? (size_t)(slash - path) : strlen(path);
    const char *key_raw = slash ? slash + 1 : "";
    int op = !*key_raw ? DURO_BLOB_LIST
           : cmd == DURO_M_PUT ? DURO_BLOB_PUT
           : cmd == DURO_M_DELETE ? DURO_BLOB_DELETE
           : req->method == DURO_M_HEAD ? DURO_BLOB_HEAD
                                        : DURO_BLOB_GET;
    int route = route_of(op);
    int st = DURO_OK;
    if (op == DURO_BLOB_LIST && cmd != DURO_M_GET) {
        st = DURO_METHOD_NOT_ALLOWED;
        snprintf(err, sizeof err, "allowed: GET, HEAD");
    } else if (op != DURO_BLOB_LIST && cmd != DURO_M_GET && cmd != DURO_M_PUT &&
               cmd != DURO_M_DELETE) {
        st = DURO_METHOD_NOT_ALLOWED;
        snprintf(err, sizeof err, "allowed: GET, HEAD, PUT, DELETE");
    }
    if (st == DURO_OK)
        st = duro_http_query_check(query, op == DURO_BLOB_LIST ? q_list : duro_http_q_none, err,
                                   sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_authorize(srv, req, ri.ns, ri.ns_len, duro_http_writes(DURO_KIND_BLOB, op),
                                 err, sizeof err);
    duro_blob_req *r = st == DURO_OK ? duro_blob_req_new() : NULL;
    if (st == DURO_OK && !r) {
        st = DURO_NOMEM;
        snprintf(err, sizeof err, "out of memory");
    }
    if (st == DURO_OK && op != DURO_BLOB_LIST &&
        duro_pct_decode(key_raw, strlen(key_raw), &r->key, &r->key_len) != 0) {
        st = DURO_BAD_REQUEST;
        snprintf(err, sizeof err, "key: bad percent-encoding");
    }
    if (st == DURO_OK && op != DURO_BLOB_LIST &&
        (dup_header(req, "If-Match", &r->if_match) != 0 ||
         dup_header(req, "If-None-Match", &r->if_none_match) != 0)) {
        st = DURO_BAD_REQUEST;
        snprintf(err, sizeof err, "If-Match / If-None-Match: too long");
    }
    if (st == DURO_OK && op == DURO_BLOB_PUT)
        st = build_put(srv, req, r, err, sizeof err);
    if (st == DURO_OK && op == DURO_BLOB_LIST)
        st = build_list(query, r, err, sizeof err);
    if (st == DURO_OK) {
        r->want_file = op == DURO_BLOB_GET;
        st = duro_blob_req_check(op, r, &srv->lim, err, sizeof err);
    }
    call *k = st == DURO_OK ? duro_http_call_new(srv, req, route, accept_mp, t0) : NULL;
    if (st != DURO_OK || !k) {
        duro_blob_req_free(r);
        if (st != DURO_OK)
            duro_http_fail(srv, req, route, accept_mp, t0, st, err);
        return;
    }
    k->m.kind = DURO_KIND_BLOB;
    k->m.op = op;
    k->m.req = r;
    memcpy(k->m.ns, ri.ns, ri.ns_len + 1);
    k->m.ns_len = ri.ns_len;
    k->m.reply = blob_reply;
    duro_http_call_send(k);
}

/* The largest body of a request: a blob's PUT takes --max-blob-bytes. */
size_t duro_http_blob_body_max(const duro_hreq *r, void *arg, const char **flag)
{
    const duro_http *srv = arg;
    if (r->method != DURO_M_PUT || !r->path || strncmp(r->path, "/api/storage/r2/", 16) != 0)
        return 0;
    *flag = "--max-blob-bytes";
    return (size_t)srv->cfg->max_blob_bytes;
}
