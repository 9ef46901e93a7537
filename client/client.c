/*
 * client.c — libduro's public API (include/duro/duro.h) over its backends.
 *
 * Every call becomes one protocol op (docs/protocol.md): the arguments are
 * packed into an msgpack args map here, the backend (remote.c over TCP,
 * embedded.c into an in-process runtime) runs it, and the reply body is handed
 * back in the encoding the call promises (JSON text or msgpack), or its few
 * fields are read out. JSON values given to duro_put are checked here
 * (duro_json_parse) before anything is sent.
 */
#include <assert.h>
#include <msgpack.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "duro/version.h"
#include "common/codec.h"
#include "common/status_int.h"

static _Thread_local char last_error[256];

DURO_API const char *duro_last_error(void)
{
    return last_error;
}

DURO_API void duro_free(void *p)
{
    free(p);
}

int duro_reply_fail(duro_reply *r, int rc, const char *fmt, ...)
{
    r->rc = rc;
    r->http = duro_status_http(rc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return rc;
}

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_cstr(msgpack_packer *pk, const char *s)
{
    pk_str(pk, s, strlen(s));
}

/* How many of vals[0..n) are set (the optional string args of a call). */
static size_t count_set(const char *const *vals, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += vals[i] != NULL;
    return k;
}

/* Packs names[i]: vals[i] for each vals[i] that is set. */
static void pk_set_strs(msgpack_packer *pk, const char *const *names, const char *const *vals,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vals[i]) {
            pk_cstr(pk, names[i]);
            pk_cstr(pk, vals[i]);
        }
}

void duro_reply_error_from_body(duro_reply *r, int status, const void *body, size_t len)
{
    int known = duro_status_known(status) && status != DURO_OK && status != DURO_CREATED;
    r->rc = known ? status : -1;
    r->msg[0] = '\0';
    json_t *e = len ? duro_mp_to_json(body, len, NULL) : NULL;
    if (json_is_object(e)) {
        const json_t *code = json_object_get(e, "code");
        const json_t *m = json_object_get(e, "message");
        if (!known && json_is_string(code))
            r->rc = duro_status_from_code(json_string_value(code), json_string_length(code));
        if (json_is_string(m))
            snprintf(r->msg, sizeof r->msg, "%s", json_string_value(m));
    }
    json_decref(e);
    if (r->rc <= 0 || r->rc == DURO_CREATED) /* unknown, or a success code on an error */
        r->rc = DURO_INTERNAL;
    r->http = duro_status_http(r->rc);
    if (!r->msg[0])
        snprintf(r->msg, sizeof r->msg, "%s", duro_errstr(r->rc));
}

int duro_url_known(const char *query, const char *const *known, char *msg, size_t msglen)
{
    for (const char *p = query; p && *p;) {
        size_t seg = strcspn(p, "&"), name = strcspn(p, "=&");
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strlen(*k) == name && strncmp(p, *k, name) == 0;
        if (!ok) {
            int n = snprintf(msg, msglen, "unknown URL option \"%.*s\" (known:",
                             (int)(name > 40 ? 40 : name), p);
            for (const char *const *k = known; *k && n > 0 && (size_t)n < msglen; k++)
                n += snprintf(msg + n, msglen - (size_t)n, " %s", *k);
            if (n > 0 && (size_t)n < msglen)
                snprintf(msg + n, msglen - (size_t)n, ")");
            return -1;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return 0;
}

int duro_url_int(const char *query, const char *name, long long min, long long max,
                 long long *out)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char tmp[32];
            size_t vl = seg - nl - 1;
            if (vl == 0 || vl >= sizeof tmp)
                return -1;
            memcpy(tmp, p + nl + 1, vl);
            tmp[vl] = '\0';
            char *end;
            long long v = strtoll(tmp, &end, 10);
            if (*end || v < min || v > max)
                return -1;
            *out = v;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* Copies this thread's last_error into db's message (duro_errmsg). */
static void note(duro *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->err_mu);
    memcpy(db->errmsg, last_error, sizeof db->errmsg);
    pthread_mutex_unlock(&db->err_mu);
}

/* Records the outcome of a call on db (NULL: none) for duro_last_error() and
 * duro_errmsg() and returns its status. */
static int finish(duro *db, duro_reply *r)
{
    if (r->rc == DURO_OK)
        last_error[0] = '\0';
    else
        snprintf(last_error, sizeof last_error, "%s", r->msg[0] ? r->msg : duro_errstr(r->rc));
    note(db);
    return r->rc;
}

/* Records a failure of a call on db (NULL: none) with a formatted message. */
static int fail(duro *db, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(duro *db, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    note(db);
    return rc;
}

/* Records a call on db that succeeded without a reply to finish(db, ). */
static int succeed(duro *db)
{
    last_error[0] = '\0';
    note(db);
    return DURO_OK;
}

DURO_API duro_status duro_open(const char *url, duro **db) { return duro_open_ex(url, NULL, db); }

DURO_API duro_status duro_open_ex(const char *url, const duro_open_options *opts, duro **db)
{
    if (!db)
        return fail(NULL, DURO_BAD_REQUEST, "db must not be NULL");
    *db = NULL;
    if (!url)
        return fail(NULL, DURO_BAD_REQUEST, "url must not be NULL");
    char msg[256] = "";
    int rc;
    if (strncmp(url, "duro://", 7) == 0)
        rc = duro_remote_open(url, opts ? opts->token : NULL, db, msg, sizeof msg);
    else if (strncmp(url, "file://", 7) == 0)
        rc = duro_embedded_open(url, db, msg, sizeof msg);
    else
        return fail(NULL, DURO_BAD_REQUEST,
                    "unsupported URL (want duro://host:port or file:///dir)");
    if (rc != DURO_OK) {
        *db = NULL;
        return fail(NULL, rc, "%s", msg[0] ? msg : duro_errstr(rc));
    }
    pthread_mutex_init(&(*db)->err_mu, NULL);
    return succeed(*db);
}

DURO_API void duro_close(duro *db)
{
    if (db) {
        pthread_mutex_destroy(&db->err_mu);
        db->be->close(db);
    }
}

DURO_API const char *duro_errmsg(duro *db)
{
    static _Thread_local char copy[sizeof db->errmsg];
    if (!db)
        return "db is NULL";
    pthread_mutex_lock(&db->err_mu);
    memcpy(copy, db->errmsg, sizeof copy);
    pthread_mutex_unlock(&db->err_mu);
    return copy;
}

DURO_API const char *duro_version(void)
{
    return DURO_VERSION_STRING;
}

/* ---- building args ---- */

typedef struct argbuf {
    duro_buf buf;
    msgpack_packer pk;
    int secret; /* holds a password or session id: wiped before it is freed */
} argbuf;

static void args_init(argbuf *a, size_t fields)
{
    memset(a, 0, sizeof *a);
    msgpack_packer_init(&a->pk, &a->buf, duro_buf_mp_write);
    msgpack_pack_map(&a->pk, fields);
}

/* Appends a JSON text as msgpack. DURO_OK or DURO_BAD_REQUEST/NOMEM. */
static int pack_json(duro *db, argbuf *a, const char *what, const char *json, size_t len)
{
    const char *why;
    json_t *v = duro_json_parse(json, len, &why);
    if (!v)
        return fail(db, DURO_BAD_REQUEST, "%s is not valid JSON: %s", what, why);
    int rc = duro_json_to_mp(v, &a->buf) == 0 ? DURO_OK : DURO_NOMEM;
    json_decref(v);
    return rc == DURO_OK ? rc : fail(db, rc, "cannot encode %s", what);
}

static int pack_keys(duro *db, argbuf *a, const char *const *keys, size_t n)
{
    pk_cstr(&a->pk, "keys");
    msgpack_pack_array(&a->pk, n);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i])
            return fail(db, DURO_BAD_REQUEST, "keys[%zu] is NULL", i);
        pk_cstr(&a->pk, keys[i]);
    }
    return DURO_OK;
}

static const char *ns_or_default(const char *ns)
{
    return ns ? ns : "default";
}

/* Runs op with a's args (freed here, wiped first if secret); the body stays in
 * r for the caller. */
static int run(duro *db, const char *op, const char *ns, argbuf *a, int val_enc, int out,
               duro_reply *r)
{
    memset(r, 0, sizeof *r);
    if (a->buf.len == 0 && a->buf.cap == 0) /* the packer could not allocate */
        duro_reply_fail(r, DURO_NOMEM, "out of memory");
    else
        db->be->call(db, op, ns_or_default(ns), a->buf.data, a->buf.len, val_enc, out, r);
    if (a->secret)
        sodium_memzero(a->buf.data, a->buf.cap);
    duro_buf_free(&a->buf);
    if (r->rc != DURO_OK)
        duro_buf_free(&r->body);
    return finish(db, r);
}

/* Hands a JSON body to the caller as NUL-terminated text. */
static int take_json(duro *db, duro_reply *r, char **json, size_t *len)
{
    if (duro_buf_append(&r->body, "", 1) != 0) {
        duro_buf_free(&r->body);
        return fail(db, DURO_NOMEM, "out of memory");
    }
    size_t n;
    char *p = duro_buf_take(&r->body, &n);
    *json = p;
    if (len)
        *len = n - 1;
    return DURO_OK;
}

/* Decodes an msgpack reply body into a jansson object (consumes the body). */
static json_t *body_object(duro *db, duro_reply *r)
{
    json_t *o = duro_mp_to_json(r->body.data, r->body.len, NULL);
    duro_buf_free(&r->body);
    if (!json_is_object(o)) {
        json_decref(o);
        fail(db, DURO_INTERNAL, "malformed reply body");
        return NULL;
    }
    return o;
}

static int64_t int_field(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Copies o's string member name into *out (out NULL: only checked). A
 * missing or null member leaves *out alone, or is DURO_INTERNAL if required
 * (a reply libduro cannot read). DURO_OK, DURO_INTERNAL or DURO_NOMEM. */
static int str_field(duro *db, const json_t *o, const char *name, int required, char **out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return required ? fail(db, DURO_INTERNAL, "malformed reply body: no \"%s\"", name)
                        : DURO_OK;
    if (out && !(*out = strdup(json_string_value(v))))
        return fail(db, DURO_NOMEM, "out of memory");
    return DURO_OK;
}

/* Reads up to two integer fields of an msgpack reply object. */
static int reply_ints(duro *db, duro_reply *r, const char *f1, int64_t *v1, const char *f2,
                      int64_t *v2)
{
    json_t *o = body_object(db, r);
    if (!o)
        return DURO_INTERNAL;
    if (v1)
        *v1 = int_field(o, f1);
    if (v2)
        *v2 = int_field(o, f2);
    json_decref(o);
    return DURO_OK;
}

/* Reads the string member name of an msgpack reply object into *s (as
 * str_field) and, if expires_at is not NULL, its "expiresAt". */
static int reply_str(duro *db, duro_reply *r, const char *name, int required, char **s,
                     int64_t *expires_at)
{
    json_t *o = body_object(db, r);
    if (!o)
        return DURO_INTERNAL;
    int rc = str_field(db, o, name, required, s);
    if (rc == DURO_OK && expires_at)
        *expires_at = int_field(o, "expiresAt");
    json_decref(o);
    return rc;
}

#define CHECK_DB_KEY()                                                                       \
    do {                                                                                     \
        if (!db)                                                                             \
            return fail(db, DURO_BAD_REQUEST, "db must not be NULL");                            \
        if (!key)                                                                            \
            return fail(db, DURO_BAD_REQUEST, "key must not be NULL");                           \
    } while (0)

/* ---- key-value ---- */

/* The common part of duro_put_ex and duro_put_mp: value_json (JSON text) or
 * value_mp (one msgpack object) under key with opts. */
static int put(duro *db, const char *ns, const char *key, const char *value_json,
               const void *value_mp, size_t len, const duro_put_opts *opts, int64_t *version)
{
    CHECK_DB_KEY();
    static const duro_put_opts none;
    if (!opts)
        opts = &none;
    if (!value_json && !value_mp)
        return fail(db, DURO_BAD_REQUEST, "value must not be NULL");
    size_t used;
    if (value_mp && (duro_mp_check(value_mp, len, DURO_MP_MAX_DEPTH, &used) != 0 || used != len))
        return fail(db, DURO_BAD_REQUEST, "value is not exactly one well-formed msgpack object");
    size_t fields = 2 + (opts->ttl_ms != 0) + (opts->metadata != NULL) + (opts->if_match > 0) +
                    (opts->if_none_match != 0);
    argbuf a;
    args_init(&a, fields);
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    pk_cstr(&a.pk, "value");
    int rc = DURO_OK;
    if (value_json)
        rc = pack_json(db, &a, "value", value_json, len);
    else if (duro_buf_append(&a.buf, value_mp, len) != 0)
        rc = fail(db, DURO_NOMEM, "out of memory");
    if (rc == DURO_OK && opts->ttl_ms != 0) {
        pk_cstr(&a.pk, "ttlMs");
        msgpack_pack_int64(&a.pk, opts->ttl_ms);
    }
    if (rc == DURO_OK && opts->metadata) {
        pk_cstr(&a.pk, "metadata");
        rc = pack_json(db, &a, "metadata", opts->metadata, strlen(opts->metadata));
    }
    if (rc == DURO_OK && opts->if_match > 0) {
        pk_cstr(&a.pk, "ifMatch");
        msgpack_pack_int64(&a.pk, opts->if_match);
    }
    if (rc == DURO_OK && opts->if_none_match) {
        pk_cstr(&a.pk, "ifNoneMatch");
        msgpack_pack_true(&a.pk);
    }
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    duro_reply r;
    rc = run(db, "kv.put", ns, &a, value_json ? DURO_ENC_JSON : DURO_ENC_MSGPACK, DURO_OUT_MP,
             &r);
    if (rc != DURO_OK)
        return rc;
    return reply_ints(db, &r, "version", version, NULL, NULL);
}

DURO_API duro_status duro_put(duro *db, const char *ns, const char *key, const char *json,
                              size_t len, int64_t ttl_ms)
{
    duro_put_opts o = {.ttl_ms = ttl_ms};
    return put(db, ns, key, json, NULL, len, &o, NULL);
}

DURO_API duro_status duro_put_ex(duro *db, const char *ns, const char *key, const char *json,
                                 size_t len, const duro_put_opts *opts, int64_t *version)
{
    return put(db, ns, key, json, NULL, len, opts, version);
}

DURO_API duro_status duro_put_mp(duro *db, const char *ns, const char *key, const void *mp,
                                 size_t len, const duro_put_opts *opts, int64_t *version)
{
    return put(db, ns, key, NULL, mp, len, opts, version);
}

static int get(duro *db, const char *ns, const char *key, int out, duro_reply *r)
{
    argbuf a;
    args_init(&a, 1);
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    return run(db, "kv.get", ns, &a, DURO_ENC_JSON, out, r);
}

DURO_API duro_status duro_get(duro *db, const char *ns, const char *key, char **json, size_t *len)
{
    CHECK_DB_KEY();
    if (!json)
        return fail(db, DURO_BAD_REQUEST, "json must not be NULL");
    *json = NULL;
    if (len)
        *len = 0;
    duro_reply r;
    int rc = get(db, ns, key, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_get_mp(duro *db, const char *ns, const char *key, void **mp, size_t *len)
{
    CHECK_DB_KEY();
    if (!mp)
        return fail(db, DURO_BAD_REQUEST, "mp must not be NULL");
    *mp = NULL;
    if (len)
        *len = 0;
    duro_reply r;
    int rc = get(db, ns, key, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    size_t n;
    *mp = duro_buf_take(&r.body, &n);
    if (len)
        *len = n;
    return DURO_OK;
}

/* Compact JSON text of v (malloc'd, NUL-terminated), or NULL on ENOMEM. */
static char *to_text(const json_t *v, size_t *len)
{
    duro_buf b = {0};
    if (duro_json_to_text(v, &b) != 0 || duro_buf_append(&b, "", 1) != 0) {
        duro_buf_free(&b);
        return NULL;
    }
    char *p = duro_buf_take(&b, len);
    if (len)
        (*len)--;
    return p;
}

DURO_API duro_status duro_get_meta(duro *db, const char *ns, const char *key, duro_meta *out)
{
    CHECK_DB_KEY();
    if (!out)
        return fail(db, DURO_BAD_REQUEST, "out must not be NULL");
    memset(out, 0, sizeof *out);
    argbuf a;
    args_init(&a, 2);
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    pk_cstr(&a.pk, "meta");
    msgpack_pack_true(&a.pk);
    duro_reply r;
    int rc = run(db, "kv.get", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    out->value = to_text(json_object_get(o, "value") ? json_object_get(o, "value") : json_null(),
                         &out->value_len);
    const json_t *md = json_object_get(o, "metadata");
    if (md && !json_is_null(md))
        out->metadata = to_text(md, NULL);
    out->version = int_field(o, "version");
    out->created_at = int_field(o, "createdAt");
    out->updated_at = int_field(o, "updatedAt");
    out->expires_at = int_field(o, "expiresAt");
    int nomem = !out->value || (md && !json_is_null(md) && !out->metadata);
    json_decref(o);
    if (nomem) {
        duro_meta_free(out);
        return fail(db, DURO_NOMEM, "out of memory");
    }
    return DURO_OK;
}

DURO_API void duro_meta_free(duro_meta *m)
{
    if (!m)
        return;
    free(m->value);
    free(m->metadata);
    memset(m, 0, sizeof *m);
}

DURO_API duro_status duro_delete_ex(duro *db, const char *ns, const char *key, int64_t if_match,
                                    int *deleted)
{
    CHECK_DB_KEY();
    if (deleted)
        *deleted = 0;
    argbuf a;
    args_init(&a, 1 + (if_match > 0));
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    if (if_match > 0) {
        pk_cstr(&a.pk, "ifMatch");
        msgpack_pack_int64(&a.pk, if_match);
    }
    duro_reply r;
    int rc = run(db, "kv.delete", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    if (deleted)
        *deleted = json_is_true(json_object_get(o, "deleted"));
    json_decref(o);
    return DURO_OK;
}

DURO_API duro_status duro_delete(duro *db, const char *ns, const char *key)
{
    return duro_delete_ex(db, ns, key, 0, NULL);
}

DURO_API duro_status duro_batch_get(duro *db, const char *ns, const char *const *keys, size_t n,
                                    char **json, size_t *len)
{
    if (!db || !json || (n && !keys))
        return fail(db, DURO_BAD_REQUEST, "db, keys and json must not be NULL");
    *json = NULL;
    if (len)
        *len = 0;
    argbuf a;
    args_init(&a, 1);
    int rc = pack_keys(db, &a, keys, n);
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    duro_reply r;
    rc = run(db, "kv.batch_get", ns, &a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_batch_set(duro *db, const char *ns, const char *entries_json, size_t len,
                                    int64_t *version)
{
    if (!db || !entries_json)
        return fail(db, DURO_BAD_REQUEST, "db and entries_json must not be NULL");
    argbuf a;
    args_init(&a, 1);
    pk_cstr(&a.pk, "entries");
    int rc = pack_json(db, &a, "entries", entries_json, len);
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    duro_reply r;
    rc = run(db, "kv.batch_set", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_ints(db, &r, "version", version, NULL, NULL) : rc;
}

DURO_API duro_status duro_batch_delete(duro *db, const char *ns, const char *const *keys, size_t n,
                                       int64_t *deleted)
{
    if (!db || (n && !keys))
        return fail(db, DURO_BAD_REQUEST, "db and keys must not be NULL");
    argbuf a;
    args_init(&a, 1);
    int rc = pack_keys(db, &a, keys, n);
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    duro_reply r;
    rc = run(db, "kv.batch_delete", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_ints(db, &r, "deleted", deleted, NULL, NULL) : rc;
}

DURO_API duro_status duro_list(duro *db, const char *ns, const duro_list_opts *opts, char **json,
                               size_t *len)
{
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    *json = NULL;
    if (len)
        *len = 0;
    static const duro_list_opts none;
    if (!opts)
        opts = &none;
    const char *names[] = {"prefix", "start", "startAfter", "end", "cursor"};
    const char *vals[] = {opts->prefix, opts->start, opts->start_after, opts->end, opts->cursor};
    size_t fields = (opts->limit != 0) + (opts->reverse != 0) + (opts->values != 0);
    fields += count_set(vals, 5);
    argbuf a;
    args_init(&a, fields);
    pk_set_strs(&a.pk, names, vals, 5);
    if (opts->limit != 0) {
        pk_cstr(&a.pk, "limit");
        msgpack_pack_int(&a.pk, opts->limit);
    }
    if (opts->reverse) {
        pk_cstr(&a.pk, "reverse");
        msgpack_pack_true(&a.pk);
    }
    if (opts->values) {
        pk_cstr(&a.pk, "values");
        msgpack_pack_true(&a.pk);
    }
    duro_reply r;
    int rc = run(db, "kv.list", ns, &a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_clear(duro *db, const char *ns, int64_t *deleted)
{
    if (!db)
        return fail(db, DURO_BAD_REQUEST, "db must not be NULL");
    argbuf a;
    args_init(&a, 0);
    duro_reply r;
    int rc = run(db, "kv.clear", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_ints(db, &r, "deleted", deleted, NULL, NULL) : rc;
}

/* ---- rate limiting ---- */

/* ratelimit.check / ratelimit.get: limit and window_ms only when non-zero (0:
 * the defaults, or for a get the key's last parameters); cost when with_cost. */
static int rl_call(duro *db, const char *op, const char *ns, const char *key, int64_t limit,
                   int64_t window_ms, int with_cost, int64_t cost, duro_rl_result *out)
{
    CHECK_DB_KEY();
    if (out)
        memset(out, 0, sizeof *out);
    argbuf a;
    args_init(&a, 1 + (limit != 0) + (window_ms != 0) + (with_cost != 0));
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    if (limit != 0) {
        pk_cstr(&a.pk, "limit");
        msgpack_pack_int64(&a.pk, limit);
    }
    if (window_ms != 0) {
        pk_cstr(&a.pk, "windowMs");
        msgpack_pack_int64(&a.pk, window_ms);
    }
    if (with_cost) {
        pk_cstr(&a.pk, "cost");
        msgpack_pack_int64(&a.pk, cost);
    }
    duro_reply r;
    int rc = run(db, op, ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    if (out) {
        out->allowed = json_is_true(json_object_get(o, "allowed"));
        out->remaining = int_field(o, "remaining");
        out->limit = int_field(o, "limit");
        out->reset_ms = int_field(o, "resetMs");
        out->retry_after_ms = int_field(o, "retryAfterMs");
    }
    json_decref(o);
    return DURO_OK;
}

DURO_API duro_status duro_ratelimit_check(duro *db, const char *ns, const char *key, int64_t limit,
                                          int64_t window_ms, int64_t cost, duro_rl_result *out)
{
    return rl_call(db, "ratelimit.check", ns, key, limit, window_ms, 1, cost, out);
}

DURO_API duro_status duro_ratelimit_get(duro *db, const char *ns, const char *key, int64_t limit,
                                        int64_t window_ms, duro_rl_result *out)
{
    return rl_call(db, "ratelimit.get", ns, key, limit, window_ms, 0, 0, out);
}

/* Reads the boolean "deleted" of an msgpack reply object into *deleted. */
static int reply_deleted(duro *db, duro_reply *r, int *deleted)
{
    json_t *o = body_object(db, r);
    if (!o)
        return DURO_INTERNAL;
    if (deleted)
        *deleted = json_is_true(json_object_get(o, "deleted"));
    json_decref(o);
    return DURO_OK;
}

DURO_API duro_status duro_ratelimit_reset(duro *db, const char *ns, const char *key, int *deleted)
{
    CHECK_DB_KEY();
    if (deleted)
        *deleted = 0;
    argbuf a;
    args_init(&a, 1);
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    duro_reply r;
    int rc = run(db, "ratelimit.reset", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_deleted(db, &r, deleted) : rc;
}

/* ---- sessions ---- */

/* Runs a session op whose args are one string field (name: s) and, if
 * data_json is not NULL, "data" and an optional "ttlMs". */
static int session_call(duro *db, const char *op, const char *ns, const char *name,
                        const char *s, const char *data_json, size_t len, int64_t ttl_ms,
                        int out, duro_reply *r)
{
    argbuf a;
    args_init(&a, 1 + (data_json != NULL) + (ttl_ms != 0));
    pk_cstr(&a.pk, name);
    pk_cstr(&a.pk, s);
    if (data_json) {
        pk_cstr(&a.pk, "data");
        int rc = pack_json(db, &a, "data", data_json, len);
        if (rc != DURO_OK) {
            duro_buf_free(&a.buf);
            return rc;
        }
    }
    if (ttl_ms != 0) {
        pk_cstr(&a.pk, "ttlMs");
        msgpack_pack_int64(&a.pk, ttl_ms);
    }
    return run(db, op, ns, &a, DURO_ENC_JSON, out, r);
}

DURO_API duro_status duro_session_create(duro *db, const char *ns, const char *data_json,
                                         size_t len, int64_t ttl_ms, const char *user_id,
                                         int rolling, char **id, int64_t *expires_at)
{
    if (id)
        *id = NULL;
    if (expires_at)
        *expires_at = 0;
    if (!db || !data_json || !id)
        return fail(db, DURO_BAD_REQUEST, "db, data_json and id must not be NULL");
    argbuf a;
    args_init(&a, 2 + (user_id != NULL) + (rolling != 0));
    pk_cstr(&a.pk, "data");
    int rc = pack_json(db, &a, "data", data_json, len);
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    pk_cstr(&a.pk, "ttlMs");
    msgpack_pack_int64(&a.pk, ttl_ms);
    if (user_id) {
        pk_cstr(&a.pk, "userId");
        pk_cstr(&a.pk, user_id);
    }
    if (rolling) {
        pk_cstr(&a.pk, "rolling");
        msgpack_pack_true(&a.pk);
    }
    duro_reply r;
    rc = run(db, "session.create", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_str(db, &r, "id", 1, id, expires_at) : rc;
}

DURO_API duro_status duro_session_get(duro *db, const char *ns, const char *id, char **data_json,
                                      size_t *len, char **user_id, int64_t *expires_at)
{
    if (data_json)
        *data_json = NULL;
    if (len)
        *len = 0;
    if (user_id)
        *user_id = NULL;
    if (expires_at)
        *expires_at = 0;
    if (!db || !id || !data_json)
        return fail(db, DURO_BAD_REQUEST, "db, id and data_json must not be NULL");
    duro_reply r;
    int rc = session_call(db, "session.get", ns, "id", id, NULL, 0, 0, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    const json_t *data = json_object_get(o, "data");
    *data_json = to_text(data ? data : json_null(), len);
    rc = *data_json ? str_field(db, o, "userId", 0, user_id)
                    : fail(db, DURO_NOMEM, "out of memory");
    if (rc == DURO_OK && expires_at)
        *expires_at = int_field(o, "expiresAt");
    json_decref(o);
    if (rc != DURO_OK) {
        free(*data_json);
        *data_json = NULL;
        if (len)
            *len = 0;
    }
    return rc;
}

DURO_API duro_status duro_session_put(duro *db, const char *ns, const char *id,
                                      const char *data_json, size_t len, int64_t ttl_ms,
                                      int64_t *expires_at)
{
    if (expires_at)
        *expires_at = 0;
    if (!db || !id || !data_json)
        return fail(db, DURO_BAD_REQUEST, "db, id and data_json must not be NULL");
    duro_reply r;
    int rc = session_call(db, "session.put", ns, "id", id, data_json, len, ttl_ms, DURO_OUT_MP,
                          &r);
    return rc == DURO_OK ? reply_ints(db, &r, "expiresAt", expires_at, NULL, NULL) : rc;
}

DURO_API duro_status duro_session_delete(duro *db, const char *ns, const char *id, int *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!db || !id)
        return fail(db, DURO_BAD_REQUEST, "db and id must not be NULL");
    duro_reply r;
    int rc = session_call(db, "session.delete", ns, "id", id, NULL, 0, 0, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_deleted(db, &r, deleted) : rc;
}

DURO_API duro_status duro_session_list_user(duro *db, const char *ns, const char *user_id,
                                            char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !user_id || !json)
        return fail(db, DURO_BAD_REQUEST, "db, user_id and json must not be NULL");
    duro_reply r;
    int rc = session_call(db, "session.list_user", ns, "userId", user_id, NULL, 0, 0,
                          DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_session_revoke_user(duro *db, const char *ns, const char *user_id,
                                              const char *except_id, int64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!db || !user_id)
        return fail(db, DURO_BAD_REQUEST, "db and user_id must not be NULL");
    argbuf a;
    args_init(&a, 1 + (except_id != NULL));
    pk_cstr(&a.pk, "userId");
    pk_cstr(&a.pk, user_id);
    if (except_id) {
        pk_cstr(&a.pk, "exceptId");
        pk_cstr(&a.pk, except_id);
    }
    duro_reply r;
    int rc = run(db, "session.revoke_user", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_ints(db, &r, "deleted", deleted, NULL, NULL) : rc;
}

/* ---- users and password login ---- */

/* Runs auth op with the string members names[0..n) = vals[0..n) and, if
 * ttl_ms is not 0, "ttlMs". The args hold passwords or a session id: their
 * buffer is sized up front, so that no copy is left behind in a block it
 * outgrew, and wiped before it is freed (run()). */
static int auth_call(duro *db, const char *op, const char *ns, size_t n, const char *const *names,
                     const char *const *vals, int64_t ttl_ms, duro_reply *r)
{
    size_t size = 1 + (ttl_ms != 0 ? 6 + 9 : 0); /* map header; fixstr "ttlMs", int64 */
    for (size_t i = 0; i < n; i++)
        size += 5 + strlen(names[i]) + 5 + strlen(vals[i]); /* str headers are <= 5 bytes */
    argbuf a;
    memset(&a, 0, sizeof a);
    a.secret = 1;
    if (duro_buf_reserve(&a.buf, size) != 0)
        return fail(db, DURO_NOMEM, "out of memory");
    const char *start = a.buf.data;
    msgpack_packer_init(&a.pk, &a.buf, duro_buf_mp_write);
    msgpack_pack_map(&a.pk, n + (ttl_ms != 0));
    for (size_t i = 0; i < n; i++) {
        pk_cstr(&a.pk, names[i]);
        pk_cstr(&a.pk, vals[i]);
    }
    if (ttl_ms != 0) {
        pk_cstr(&a.pk, "ttlMs");
        msgpack_pack_int64(&a.pk, ttl_ms);
    }
    assert(a.buf.data == start && a.buf.len <= size); /* never moved */
    (void)start;
    return run(db, op, ns, &a, DURO_ENC_JSON, DURO_OUT_MP, r);
}

/* Runs an auth op whose args are {sessionId}. */
static int auth_session_call(duro *db, const char *op, const char *ns, const char *session_id,
                             duro_reply *r)
{
    if (!db || !session_id)
        return fail(db, DURO_BAD_REQUEST, "db and session_id must not be NULL");
    const char *names[] = {"sessionId"}, *vals[] = {session_id};
    return auth_call(db, op, ns, 1, names, vals, 0, r);
}

DURO_API duro_status duro_auth_register(duro *db, const char *ns, const char *email,
                                        const char *password, char **user_id)
{
    if (user_id)
        *user_id = NULL;
    if (!db || !email || !password)
        return fail(db, DURO_BAD_REQUEST, "db, email and password must not be NULL");
    const char *names[] = {"email", "password"}, *vals[] = {email, password};
    duro_reply r;
    int rc = auth_call(db, "auth.register", ns, 2, names, vals, 0, &r);
    return rc == DURO_OK ? reply_str(db, &r, "userId", 1, user_id, NULL) : rc;
}

DURO_API duro_status duro_auth_login(duro *db, const char *ns, const char *email,
                                     const char *password, int64_t ttl_ms, char **session_id,
                                     char **user_id, int64_t *expires_at)
{
    if (session_id)
        *session_id = NULL;
    if (user_id)
        *user_id = NULL;
    if (expires_at)
        *expires_at = 0;
    if (!db || !email || !password || !session_id)
        return fail(db, DURO_BAD_REQUEST, "db, email, password and session_id must not be NULL");
    const char *names[] = {"email", "password"}, *vals[] = {email, password};
    duro_reply r;
    int rc = auth_call(db, "auth.login", ns, 2, names, vals, ttl_ms, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    rc = str_field(db, o, "sessionId", 1, session_id);
    if (rc == DURO_OK && (rc = str_field(db, o, "userId", 1, user_id)) != DURO_OK) {
        free(*session_id);
        *session_id = NULL;
    }
    if (rc == DURO_OK && expires_at)
        *expires_at = int_field(o, "expiresAt");
    json_decref(o);
    return rc;
}

DURO_API duro_status duro_auth_session(duro *db, const char *ns, const char *session_id,
                                       char **user_id, int64_t *expires_at)
{
    if (user_id)
        *user_id = NULL;
    if (expires_at)
        *expires_at = 0;
    duro_reply r;
    int rc = auth_session_call(db, "auth.session", ns, session_id, &r);
    return rc == DURO_OK ? reply_str(db, &r, "userId", 0, user_id, expires_at) : rc;
}

DURO_API duro_status duro_auth_logout(duro *db, const char *ns, const char *session_id,
                                      int *deleted)
{
    if (deleted)
        *deleted = 0;
    duro_reply r;
    int rc = auth_session_call(db, "auth.logout", ns, session_id, &r);
    return rc == DURO_OK ? reply_deleted(db, &r, deleted) : rc;
}

DURO_API duro_status duro_auth_password(duro *db, const char *ns, const char *session_id,
                                        const char *current, const char *new_password,
                                        int64_t *revoked)
{
    if (revoked)
        *revoked = 0;
    if (!db || !session_id || !current || !new_password)
        return fail(db, DURO_BAD_REQUEST,
                    "db, session_id, current and new_password must not be NULL");
    const char *names[] = {"sessionId", "currentPassword", "newPassword"};
    const char *vals[] = {session_id, current, new_password};
    duro_reply r;
    int rc = auth_call(db, "auth.password", ns, 3, names, vals, 0, &r);
    return rc == DURO_OK ? reply_ints(db, &r, "deleted", revoked, NULL, NULL) : rc;
}

/* ---- the namespace snapshot ---- */

DURO_API duro_status duro_snapshot_get(duro *db, const char *ns, char **json, size_t *len,
                                       int64_t *etag)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (etag)
        *etag = 0;
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    argbuf a;
    args_init(&a, 0);
    duro_reply r;
    int rc = run(db, "snapshot.get", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    const json_t *data = json_object_get(o, "data");
    const json_t *tag = json_object_get(o, "version");
    if (!json_is_object(data) || !json_is_integer(tag)) {
        json_decref(o);
        return fail(db, DURO_INTERNAL, "malformed reply body: want {version, data}");
    }
    *json = to_text(data, len);
    if (etag)
        *etag = (int64_t)json_integer_value(tag);
    json_decref(o);
    if (!*json) {
        if (len)
            *len = 0;
        if (etag)
            *etag = 0;
        return fail(db, DURO_NOMEM, "out of memory");
    }
    return DURO_OK;
}

DURO_API duro_status duro_snapshot_patch(duro *db, const char *ns, const char *ops_json, size_t len,
                                         int64_t if_match, int64_t *etag, int *created)
{
    if (etag)
        *etag = 0;
    if (created)
        *created = 0;
    if (!db || !ops_json)
        return fail(db, DURO_BAD_REQUEST, "db and ops_json must not be NULL");
    if (if_match < -1)
        return fail(db, DURO_BAD_REQUEST, "if_match must be an ETag (>= 0) or -1");
    argbuf a;
    args_init(&a, 1 + (if_match >= 0));
    pk_cstr(&a.pk, "ops");
    int rc = pack_json(db, &a, "ops_json", ops_json, len);
    if (rc != DURO_OK) {
        duro_buf_free(&a.buf);
        return rc;
    }
    if (if_match >= 0) {
        pk_cstr(&a.pk, "ifMatch");
        msgpack_pack_int64(&a.pk, if_match);
    }
    duro_reply r;
    rc = run(db, "snapshot.patch", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    json_t *o = body_object(db, &r);
    if (!o)
        return DURO_INTERNAL;
    if (etag)
        *etag = int_field(o, "version");
    if (created)
        *created = json_is_true(json_object_get(o, "created"));
    json_decref(o);
    return DURO_OK;
}

/* ---- the resource registry ---- */

DURO_API duro_status duro_resources_list(duro *db, const duro_resource_list_opts *opts, char **json,
                                         size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    static const duro_resource_list_opts none = DURO_RESOURCE_LIST_OPTS_INIT;
    if (!opts)
        opts = &none;
    const char *names[] = {"type", "namespace", "key_prefix"};
    const char *vals[] = {opts->type, opts->ns, opts->key_prefix};
    size_t fields = (opts->limit != -1) + (opts->offset != -1);
    fields += count_set(vals, 3);
    argbuf a;
    args_init(&a, fields);
    pk_set_strs(&a.pk, names, vals, 3);
    if (opts->limit != -1) {
        pk_cstr(&a.pk, "limit");
        msgpack_pack_int64(&a.pk, opts->limit);
    }
    if (opts->offset != -1) {
        pk_cstr(&a.pk, "offset");
        msgpack_pack_int64(&a.pk, opts->offset);
    }
    duro_reply r;
    int rc = run(db, "resources.list", NULL, &a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

/* Runs op (of a global kind) with args {}; *json gets the reply as JSON text. */
static int global_json(duro *db, const char *op, char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    argbuf a;
    args_init(&a, 0);
    duro_reply r;
    int rc = run(db, op, NULL, &a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_resources_stats(duro *db, char **json, size_t *len)
{
    return global_json(db, "resources.stats", json, len);
}

/* Packs {type, key} of a resource op; extra fields follow (counted in
 * extra). */
static void resource_args(argbuf *a, const char *type, const char *key, size_t extra)
{
    args_init(a, 2 + extra);
    pk_cstr(&a->pk, "type");
    pk_cstr(&a->pk, type);
    pk_cstr(&a->pk, "key");
    pk_cstr(&a->pk, key);
}

DURO_API duro_status duro_resources_register(duro *db, const char *ns, const char *type,
                                             const char *key, int64_t size,
                                             const char *metadata_json, char **json, size_t *len,
                                             int *created)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (created)
        *created = 0;
    if (!db || !type || !key)
        return fail(db, DURO_BAD_REQUEST, "db, type and key must not be NULL");
    argbuf a;
    resource_args(&a, type, key, (size != -1) + (metadata_json != NULL));
    if (size != -1) {
        pk_cstr(&a.pk, "size");
        msgpack_pack_int64(&a.pk, size);
    }
    if (metadata_json) {
        pk_cstr(&a.pk, "metadata");
        int rc = pack_json(db, &a, "metadata_json", metadata_json, strlen(metadata_json));
        if (rc != DURO_OK) {
            duro_buf_free(&a.buf);
            return rc;
        }
    }
    duro_reply r;
    int rc = run(db, "resources.register", ns, &a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    if (rc != DURO_OK)
        return rc;
    int is_new = r.created;
    if (created)
        *created = is_new;
    if (!json) {
        duro_buf_free(&r.body);
        return DURO_OK;
    }
    rc = take_json(db, &r, json, len);
    if (rc != DURO_OK && created)
        *created = 0;
    return rc;
}

DURO_API duro_status duro_resources_unregister(duro *db, const char *ns, const char *type,
                                               const char *key, int *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!db || !type || !key)
        return fail(db, DURO_BAD_REQUEST, "db, type and key must not be NULL");
    argbuf a;
    resource_args(&a, type, key, 0);
    duro_reply r;
    int rc = run(db, "resources.unregister", ns, &a, DURO_ENC_JSON, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_deleted(db, &r, deleted) : rc;
}

/* ---- namespaces and the server (docs/namespaces.md) ---- */

/* Runs op with the args packed in a; *json gets the reply as JSON text. */
static int json_query(duro *db, const char *op, const char *ns, argbuf *a, char **json,
                      size_t *len)
{
    duro_reply r;
    int rc = run(db, op, ns, a, DURO_ENC_JSON, DURO_OUT_JSON, &r);
    return rc == DURO_OK ? take_json(db, &r, json, len) : rc;
}

DURO_API duro_status duro_namespaces_list(duro *db, const duro_namespace_list_opts *opts,
                                          char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    static const duro_namespace_list_opts none = DURO_NAMESPACE_LIST_OPTS_INIT;
    if (!opts)
        opts = &none;
    argbuf a;
    args_init(&a, (opts->prefix != NULL) + (opts->after != NULL) + (opts->limit != -1));
    if (opts->prefix) {
        pk_cstr(&a.pk, "prefix");
        pk_cstr(&a.pk, opts->prefix);
    }
    if (opts->after) {
        pk_cstr(&a.pk, "after");
        pk_cstr(&a.pk, opts->after);
    }
    if (opts->limit != -1) {
        pk_cstr(&a.pk, "limit");
        msgpack_pack_int64(&a.pk, opts->limit);
    }
    return json_query(db, "namespaces.list", NULL, &a, json, len);
}

DURO_API duro_status duro_namespaces_get(duro *db, const char *ns, char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !ns || !json)
        return fail(db, DURO_BAD_REQUEST, "db, ns and json must not be NULL");
    argbuf a;
    args_init(&a, 1);
    pk_cstr(&a.pk, "namespace");
    pk_cstr(&a.pk, ns);
    return json_query(db, "namespaces.get", NULL, &a, json, len);
}

DURO_API duro_status duro_namespaces_delete(duro *db, const char *ns)
{
    if (!db || !ns)
        return fail(db, DURO_BAD_REQUEST, "db and ns must not be NULL");
    argbuf a;
    args_init(&a, 0);
    char *json = NULL;
    int rc = json_query(db, "namespaces.delete", ns, &a, &json, NULL);
    duro_free(json);
    return rc;
}

DURO_API duro_status duro_server_info(duro *db, char **json, size_t *len)
{
    return global_json(db, "server.info", json, len);
}

/* ---- blobs (docs/blobs.md) ---- */

/* Bytes per request of a blob write or streamed read: a part with its args
 * stays well inside the server's frame (--max-body-bytes, 8 MiB) and reply
 * (--max-reply-bytes, 16 MiB) limits. */
#define BLOB_PART ((size_t)4 << 20)

DURO_API void duro_blob_info_free(duro_blob_info *info)
{
    if (!info)
        return;
    free(info->content_type);
    free(info->metadata_json);
    memset(info, 0, sizeof *info);
}

/* The member name of the msgpack map o, or NULL. */
static const msgpack_object *mp_member(const msgpack_object *o, const char *name)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, name, n) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

/* An integer member (0 if absent or not an integer). */
static int64_t mp_int(const msgpack_object *o, const char *name)
{
    const msgpack_object *v = mp_member(o, name);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return v->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)v->via.u64;
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return v->via.i64;
    return 0;
}

/* A string member copied into out[0..cap) (exactly want bytes if want > 0).
 * 0, or -1 if absent or not such a string. */
static int mp_hex(const msgpack_object *o, const char *name, size_t want, char *out)
{
    const msgpack_object *v = mp_member(o, name);
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size != want)
        return -1;
    memcpy(out, v->via.str.ptr, want);
    out[want] = '\0';
    return 0;
}

/* Reads an object's fields from the reply map o into *info (zeroed first).
 * DURO_OK, DURO_INTERNAL (a reply libduro cannot read) or DURO_NOMEM. */
static int blob_info_of(duro *db, const msgpack_object *o, duro_blob_info *info)
{
    memset(info, 0, sizeof *info);
    const msgpack_object *size = mp_member(o, "size"), *ct = mp_member(o, "contentType");
    const msgpack_object *md = mp_member(o, "metadata");
    if (!size || size->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        mp_hex(o, "etag", 64, info->etag) != 0 || mp_hex(o, "md5", 32, info->md5) != 0 ||
        (ct && ct->type != MSGPACK_OBJECT_STR) ||
        (md && md->type != MSGPACK_OBJECT_MAP && md->type != MSGPACK_OBJECT_NIL))
        return fail(db, DURO_INTERNAL, "malformed reply body: not a blob's fields");
    info->size = mp_int(o, "size");
    info->updated_at = mp_int(o, "updatedAt");
    info->version = mp_int(o, "version");
    int rc = DURO_OK;
    if (ct && !(info->content_type = strndup(ct->via.str.ptr, ct->via.str.size)))
        rc = DURO_NOMEM;
    if (rc == DURO_OK && md && md->type == MSGPACK_OBJECT_MAP && md->via.map.size) {
        duro_buf mp = {0};
        msgpack_packer pk;
        msgpack_packer_init(&pk, &mp, duro_buf_mp_write);
        json_t *j = msgpack_pack_object(&pk, *md) == 0 && mp.len
                        ? duro_mp_to_json(mp.data, mp.len, NULL)
                        : NULL;
        duro_buf_free(&mp);
        if (!json_is_object(j) || !(info->metadata_json = to_text(j, NULL)))
            rc = DURO_NOMEM;
        json_decref(j);
    }
    if (rc != DURO_OK) {
        duro_blob_info_free(info);
        return fail(db, rc, "out of memory");
    }
    return DURO_OK;
}

/* How many fields pack_put_opts() packs for o. */
static size_t put_opt_fields(const duro_blob_put_opts *o)
{
    return (o->content_type != NULL) + (o->metadata_json != NULL) + (o->if_match != NULL) +
           (o->if_none_match != NULL);
}

/* Packs a blob write's options (the metadata checked to be a JSON object).
 * DURO_OK, or DURO_BAD_REQUEST/NOMEM after fail(). */
static int pack_put_opts(duro *db, argbuf *a, const duro_blob_put_opts *o)
{
    const char *names[] = {"contentType", "ifMatch", "ifNoneMatch"};
    const char *vals[] = {o->content_type, o->if_match, o->if_none_match};
    for (size_t i = 0; i < 3; i++)
        if (vals[i]) {
            pk_cstr(&a->pk, names[i]);
            pk_cstr(&a->pk, vals[i]);
        }
    if (!o->metadata_json)
        return DURO_OK;
    const char *why;
    json_t *v = duro_json_parse(o->metadata_json, strlen(o->metadata_json), &why);
    if (!v)
        return fail(db, DURO_BAD_REQUEST, "metadata_json is not valid JSON: %s", why);
    int rc = DURO_OK;
    if (!json_is_object(v))
        rc = fail(db, DURO_BAD_REQUEST, "metadata_json must be a JSON object");
    else {
        pk_cstr(&a->pk, "metadata");
        if (duro_json_to_mp(v, &a->buf) != 0)
            rc = fail(db, DURO_NOMEM, "out of memory");
    }
    json_decref(v);
    return rc;
}

/* Decodes a reply body as one msgpack map into *u (destroy it). DURO_OK or
 * DURO_INTERNAL. */
static int blob_body(duro *db, duro_reply *r, msgpack_unpacked *u)
{
    msgpack_unpacked_init(u);
    size_t off = 0;
    if (msgpack_unpack_next(u, r->body.data, r->body.len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        msgpack_unpacked_init(u);
        duro_buf_free(&r->body);
        return fail(db, DURO_INTERNAL, "malformed reply body: not a map");
    }
    return DURO_OK;
}

/* Runs a blob write (blob.put or the final blob.append) that answers the
 * object's fields: into info and created (either may be NULL). */
static int blob_write_reply(duro *db, const char *op, const char *ns, argbuf *a,
                            duro_blob_info *info, int *created)
{
    duro_reply r;
    int rc = run(db, op, ns, a, DURO_ENC_MSGPACK, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    msgpack_unpacked u;
    if ((rc = blob_body(db, &r, &u)) != DURO_OK)
        return rc;
    duro_blob_info tmp;
    rc = blob_info_of(db, &u.data, &tmp);
    msgpack_unpacked_destroy(&u);
    duro_buf_free(&r.body);
    if (rc != DURO_OK)
        return rc;
    if (info)
        *info = tmp;
    else
        duro_blob_info_free(&tmp);
    if (created)
        *created = r.created;
    return DURO_OK;
}

/* Where the parts of a write come from: next() gives the next part
 * (*p[0..*n), valid until the following call) and whether it is the last;
 * 0, or -1 when the source failed. */
typedef struct part_src {
    int (*next)(struct part_src *s, const void **p, size_t *n, int *last);
    /* memory */
    const char *data;
    size_t len, off;
    /* a read callback */
    int (*read)(void *ctx, void *buf, size_t cap, size_t *got);
    void *ctx;
    char *buf;
} part_src;

static int mem_next(part_src *s, const void **p, size_t *n, int *last)
{
    size_t left = s->len - s->off;
    *p = s->data + s->off;
    *n = left < BLOB_PART ? left : BLOB_PART;
    s->off += *n;
    *last = s->off == s->len;
    return 0;
}

static int read_next(part_src *s, const void **p, size_t *n, int *last)
{
    size_t have = 0;
    *last = 0;
    while (have < BLOB_PART) {
        size_t got = 0;
        if (s->read(s->ctx, s->buf + have, BLOB_PART - have, &got) != 0 || got > BLOB_PART - have)
            return -1;
        if (got == 0) {
            *last = 1;
            break;
        }
        have += got;
    }
    *p = s->buf;
    *n = have;
    return 0;
}

/* Packs the args of a part of a write: {key, data, upload?, final?} and the
 * options: all of them with a single put or the final part (which the
 * server takes them from), the conditions alone with the first part (the
 * server checks them then too, so a write bound to fail stops before the
 * bytes are sent). */
static int part_args(duro *db, argbuf *a, const char *key, const void *p, size_t n,
                     const char *upload, int last, const duro_blob_put_opts *o)
{
    duro_blob_put_opts conds = {.if_match = o->if_match, .if_none_match = o->if_none_match};
    static const duro_blob_put_opts none;
    const duro_blob_put_opts *with = last ? o : upload ? &none : &conds;
    args_init(a, 2 + (upload != NULL) + (last && upload != NULL) + put_opt_fields(with));
    if (duro_buf_reserve(&a->buf, n + strlen(key) + 256) != 0) {
        duro_buf_free(&a->buf);
        return fail(db, DURO_NOMEM, "out of memory");
    }
    pk_cstr(&a->pk, "key");
    pk_cstr(&a->pk, key);
    pk_cstr(&a->pk, "data");
    msgpack_pack_bin(&a->pk, n);
    msgpack_pack_bin_body(&a->pk, p, n);
    if (upload) {
        pk_cstr(&a->pk, "upload");
        pk_cstr(&a->pk, upload);
        if (last) {
            pk_cstr(&a->pk, "final");
            msgpack_pack_true(&a->pk);
        }
    }
    int rc = pack_put_opts(db, a, with);
    if (rc != DURO_OK)
        duro_buf_free(&a->buf);
    return rc;
}

/* Sends one part that is not the last (blob.append): *upload gets the
 * upload's id from the first one's reply; *sent counts the bytes so far and
 * must be what the server says it received. */
static int append_part(duro *db, const char *ns, argbuf *a, char **upload, uint64_t *sent, size_t n)
{
    duro_reply r;
    int rc = run(db, "blob.append", ns, a, DURO_ENC_MSGPACK, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    msgpack_unpacked u;
    if ((rc = blob_body(db, &r, &u)) != DURO_OK)
        return rc;
    *sent += n;
    const msgpack_object *id = mp_member(&u.data, "upload");
    const msgpack_object *got = mp_member(&u.data, "received");
    if (!id || id->type != MSGPACK_OBJECT_STR || id->via.str.size == 0 || !got ||
        got->type != MSGPACK_OBJECT_POSITIVE_INTEGER || got->via.u64 != *sent)
        rc = fail(db, DURO_INTERNAL, "malformed blob.append reply: want {upload, received: %llu}",
                  (unsigned long long)*sent);
    else if (!*upload && !(*upload = strndup(id->via.str.ptr, id->via.str.size)))
        rc = fail(db, DURO_NOMEM, "out of memory");
    msgpack_unpacked_destroy(&u);
    duro_buf_free(&r.body);
    return rc;
}

/* A write from s: one blob.put when the first part is the last, else
 * blob.append part by part, the last one final. */
static int put_parts(duro *db, const char *ns, const char *key, part_src *s,
                     const duro_blob_put_opts *opts, duro_blob_info *info, int *created)
{
    static const duro_blob_put_opts none;
    if (!opts)
        opts = &none;
    argbuf check; /* the options are checked before any byte is sent */
    args_init(&check, 0);
    int rc = pack_put_opts(db, &check, opts);
    duro_buf_free(&check.buf);
    if (rc != DURO_OK)
        return rc;
    char *upload = NULL;
    uint64_t sent = 0;
    for (;;) {
        const void *p;
        size_t n;
        int last;
        if (s->next(s, &p, &n, &last) != 0) {
            rc = fail(db, DURO_IO, "the read callback failed");
            break;
        }
        argbuf a;
        if ((rc = part_args(db, &a, key, p, n, upload, last, opts)) != DURO_OK)
            break;
        if (last) {
            rc = blob_write_reply(db, upload ? "blob.append" : "blob.put", ns, &a, info, created);
            break;
        }
        if ((rc = append_part(db, ns, &a, &upload, &sent, n)) != DURO_OK)
            break;
    }
    free(upload);
    return rc;
}

#define CHECK_BLOB_OUT()                   \
    do {                                   \
        if (info)                          \
            memset(info, 0, sizeof *info); \
        if (created)                       \
            *created = 0;                  \
    } while (0)

DURO_API duro_status duro_blob_put(duro *db, const char *ns, const char *key, const void *data,
                                   size_t len, const duro_blob_put_opts *opts, duro_blob_info *info,
                                   int *created)
{
    CHECK_BLOB_OUT();
    CHECK_DB_KEY();
    if (!data && len)
        return fail(db, DURO_BAD_REQUEST, "data must not be NULL");
    part_src s = {.next = mem_next, .data = data ? data : "", .len = len};
    return put_parts(db, ns, key, &s, opts, info, created);
}

DURO_API duro_status duro_blob_put_stream(duro *db, const char *ns, const char *key,
                                          int (*read)(void *ctx, void *buf, size_t cap,
                                                      size_t *got),
                                          void *ctx, const duro_blob_put_opts *opts,
                                          duro_blob_info *info, int *created)
{
    CHECK_BLOB_OUT();
    CHECK_DB_KEY();
    if (!read)
        return fail(db, DURO_BAD_REQUEST, "read must not be NULL");
    part_src s = {.next = read_next, .read = read, .ctx = ctx, .buf = malloc(BLOB_PART)};
    if (!s.buf)
        return fail(db, DURO_NOMEM, "out of memory");
    int rc = put_parts(db, ns, key, &s, opts, info, created);
    free(s.buf);
    return rc;
}

/* One blob.get: {key, offset?, length?, ifMatch?} (ranged: offset and
 * length are sent). The reply's fields go to *info (zeroed on error), its
 * data to the front of r->body (*p, *n: the caller takes or frees r->body),
 * its offset to *at. */
static int get_piece(duro *db, const char *ns, const char *key, int ranged, uint64_t offset,
                     uint64_t length, const char *if_match, duro_reply *r, size_t *n, uint64_t *at,
                     duro_blob_info *info)
{
    memset(info, 0, sizeof *info);
    argbuf a;
    args_init(&a, 1 + 2 * (ranged != 0) + (if_match != NULL));
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    if (ranged) {
        pk_cstr(&a.pk, "offset");
        msgpack_pack_uint64(&a.pk, offset);
        pk_cstr(&a.pk, "length");
        msgpack_pack_uint64(&a.pk, length);
    }
    if (if_match) {
        pk_cstr(&a.pk, "ifMatch");
        pk_cstr(&a.pk, if_match);
    }
    int rc = run(db, "blob.get", ns, &a, DURO_ENC_MSGPACK, DURO_OUT_MP, r);
    if (rc != DURO_OK)
        return rc;
    msgpack_unpacked u;
    if ((rc = blob_body(db, r, &u)) != DURO_OK)
        return rc;
    const msgpack_object *d = mp_member(&u.data, "data");
    rc = blob_info_of(db, &u.data, info);
    if (rc == DURO_OK && (!d || d->type != MSGPACK_OBJECT_BIN))
        rc = fail(db, DURO_INTERNAL, "malformed blob.get reply: no \"data\"");
    if (rc == DURO_OK) {
        *n = d->via.bin.size;
        *at = (uint64_t)mp_int(&u.data, "offset");
        memmove(r->body.data, d->via.bin.ptr, *n); /* the body holds the bin */
        r->body.len = *n;
    }
    msgpack_unpacked_destroy(&u);
    if (rc != DURO_OK) {
        duro_blob_info_free(info);
        duro_buf_free(&r->body);
    }
    return rc;
}

/* duro_blob_get and duro_blob_get_range. */
static int get_bytes(duro *db, const char *ns, const char *key, int ranged, uint64_t offset,
                     uint64_t length, const char *if_match, void **data, size_t *len,
                     duro_blob_info *info)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (info)
        memset(info, 0, sizeof *info);
    CHECK_DB_KEY();
    if (!data)
        return fail(db, DURO_BAD_REQUEST, "data must not be NULL");
    duro_reply r;
    duro_blob_info tmp;
    size_t n = 0;
    uint64_t at = 0;
    int rc = get_piece(db, ns, key, ranged, offset, length, if_match, &r, &n, &at, &tmp);
    if (rc != DURO_OK)
        return rc;
    if (!r.body.data && duro_buf_reserve(&r.body, 1) != 0) { /* empty: still not NULL */
        duro_blob_info_free(&tmp);
        return fail(db, DURO_NOMEM, "out of memory");
    }
    *data = duro_buf_take(&r.body, &n);
    if (len)
        *len = n;
    if (info)
        *info = tmp;
    else
        duro_blob_info_free(&tmp);
    return DURO_OK;
}

DURO_API duro_status duro_blob_get(duro *db, const char *ns, const char *key, void **data,
                                   size_t *len, duro_blob_info *info)
{
    return get_bytes(db, ns, key, 0, 0, 0, NULL, data, len, info);
}

DURO_API duro_status duro_blob_get_range(duro *db, const char *ns, const char *key, uint64_t offset,
                                         uint64_t length, const char *if_match_etag, void **data,
                                         size_t *len, duro_blob_info *info)
{
    return get_bytes(db, ns, key, 1, offset, length, if_match_etag, data, len, info);
}

DURO_API duro_status duro_blob_get_stream(duro *db, const char *ns, const char *key,
                                          int (*write)(void *ctx, const void *p, size_t n),
                                          void *ctx, duro_blob_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    CHECK_DB_KEY();
    if (!write)
        return fail(db, DURO_BAD_REQUEST, "write must not be NULL");
    duro_blob_info first = {0};
    uint64_t off = 0;
    int rc = DURO_OK;
    do {
        duro_reply r;
        duro_blob_info piece;
        size_t n = 0;
        uint64_t at = 0;
        rc =
            get_piece(db, ns, key, 1, off, BLOB_PART, off ? first.etag : NULL, &r, &n, &at, &piece);
        if (rc != DURO_OK) {
            if (off && (rc == DURO_PRECONDITION_FAILED || rc == DURO_NOT_FOUND))
                rc = fail(db, DURO_PRECONDITION_FAILED,
                          "the object changed while it was read (%s after %llu bytes)",
                          rc == DURO_NOT_FOUND ? "deleted" : "replaced", (unsigned long long)off);
            break;
        }
        uint64_t left = off ? (uint64_t)first.size - off : (uint64_t)piece.size;
        if (at != off || n != (left < BLOB_PART ? left : BLOB_PART) ||
            (off && strcmp(piece.etag, first.etag) != 0)) {
            rc = fail(db, DURO_INTERNAL, "blob.get answered another piece than asked for");
        } else if (n && write(ctx, r.body.data, n) != 0) {
            rc = fail(db, DURO_IO, "the write callback failed");
        }
        duro_buf_free(&r.body);
        if (off == 0 && rc == DURO_OK)
            first = piece;
        else
            duro_blob_info_free(&piece);
        off += n;
        if (rc == DURO_OK && n == 0)
            break; /* an empty object: done after its first piece */
    } while (rc == DURO_OK && off < (uint64_t)first.size);
    if (rc != DURO_OK) {
        duro_blob_info_free(&first);
        return rc;
    }
    if (info)
        *info = first;
    else
        duro_blob_info_free(&first);
    return DURO_OK;
}

DURO_API duro_status duro_blob_head(duro *db, const char *ns, const char *key, duro_blob_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    CHECK_DB_KEY();
    if (!info)
        return fail(db, DURO_BAD_REQUEST, "info must not be NULL");
    argbuf a;
    args_init(&a, 1);
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    duro_reply r;
    int rc = run(db, "blob.head", ns, &a, DURO_ENC_MSGPACK, DURO_OUT_MP, &r);
    if (rc != DURO_OK)
        return rc;
    msgpack_unpacked u;
    if ((rc = blob_body(db, &r, &u)) != DURO_OK)
        return rc;
    rc = blob_info_of(db, &u.data, info);
    msgpack_unpacked_destroy(&u);
    duro_buf_free(&r.body);
    return rc;
}

DURO_API duro_status duro_blob_delete(duro *db, const char *ns, const char *key,
                                      const char *if_match, int *deleted)
{
    if (deleted)
        *deleted = 0;
    CHECK_DB_KEY();
    argbuf a;
    args_init(&a, 1 + (if_match != NULL));
    pk_cstr(&a.pk, "key");
    pk_cstr(&a.pk, key);
    if (if_match) {
        pk_cstr(&a.pk, "ifMatch");
        pk_cstr(&a.pk, if_match);
    }
    duro_reply r;
    int rc = run(db, "blob.delete", ns, &a, DURO_ENC_MSGPACK, DURO_OUT_MP, &r);
    return rc == DURO_OK ? reply_deleted(db, &r, deleted) : rc;
}

DURO_API duro_status duro_blob_list(duro *db, const char *ns, const duro_blob_list_opts *opts,
                                    char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!db || !json)
        return fail(db, DURO_BAD_REQUEST, "db and json must not be NULL");
    static const duro_blob_list_opts none;
    if (!opts)
        opts = &none;
    if (opts->limit < 0)
        return fail(db, DURO_BAD_REQUEST, "limit must be 1..1000 (0: 1000)");
    const char *names[] = {"prefix", "delimiter", "cursor", "startAfter"};
    const char *vals[] = {opts->prefix, opts->delimiter, opts->cursor, opts->start_after};
    size_t fields = opts->limit != 0;
    fields += count_set(vals, 4);
    argbuf a;
    args_init(&a, fields);
    pk_set_strs(&a.pk, names, vals, 4);
    if (opts->limit != 0) {
        pk_cstr(&a.pk, "limit");
        msgpack_pack_int(&a.pk, opts->limit);
    }
    return json_query(db, "blob.list", ns, &a, json, len);
}

/* ---- any op ---- */

static const unsigned char empty_map[1] = {0x80};

/* args must be one msgpack map; NULL/0 means {}. */
static int check_args(duro *db, const void **args, size_t *len)
{
    if (!*args || *len == 0) {
        *args = empty_map;
        *len = 1;
        return DURO_OK;
    }
    const unsigned char *p = *args;
    size_t used;
    if (duro_mp_check(p, *len, DURO_MP_MAX_DEPTH, &used) != 0 || used != *len ||
        !((p[0] & 0xf0) == 0x80 || p[0] == 0xde || p[0] == 0xdf))
        return fail(db, DURO_BAD_REQUEST, "args must be exactly one msgpack map");
    return DURO_OK;
}

DURO_API duro_status duro_call(duro *db, const char *op, const char *ns, const void *args,
                               size_t args_len, int *status, void **body, size_t *body_len)
{
    if (status)
        *status = 0;
    if (body)
        *body = NULL;
    if (body_len)
        *body_len = 0;
    if (!db || !op)
        return fail(db, DURO_BAD_REQUEST, "db and op must not be NULL");
    int rc = check_args(db, &args, &args_len);
    if (rc != DURO_OK) {
        if (status)
            *status = duro_status_http(rc);
        return rc;
    }
    duro_reply r;
    memset(&r, 0, sizeof r);
    db->be->call(db, op, ns_or_default(ns), args, args_len, DURO_ENC_MSGPACK, DURO_OUT_MP, &r);
    if (r.rc != DURO_OK && r.body.len == 0)
        duro_errbody_mp(&r.body, DURO_ERRBODY_BARE, r.rc, r.msg);
    if (status)
        *status = r.http;
    size_t n;
    void *p = duro_buf_take(&r.body, &n);
    if (body) {
        *body = p;
        if (body_len)
            *body_len = n;
    } else {
        free(p);
    }
    return finish(db, &r);
}

DURO_API duro_status duro_send(duro *db, const char *op, const char *ns, const void *args,
                               size_t args_len, uint64_t *id)
{
    if (!db || !op || !id)
        return fail(db, DURO_BAD_REQUEST, "db, op and id must not be NULL");
    *id = 0;
    int rc = check_args(db, &args, &args_len);
    if (rc != DURO_OK)
        return rc;
    char msg[256] = "";
    rc = db->be->send(db, op, ns_or_default(ns), args, args_len, id, msg, sizeof msg);
    if (rc != DURO_OK)
        return fail(db, rc, "%s", msg[0] ? msg : duro_errstr(rc));
    return succeed(db);
}

DURO_API duro_status duro_recv(duro *db, uint64_t *id, int *status, void **body, size_t *body_len)
{
    if (status)
        *status = 0;
    if (body)
        *body = NULL;
    if (body_len)
        *body_len = 0;
    if (!db || !id)
        return fail(db, DURO_BAD_REQUEST, "db and id must not be NULL");
    *id = 0;
    duro_reply r;
    memset(&r, 0, sizeof r);
    int rc = db->be->recv(db, id, &r);
    (void)rc;
    if (r.rc != DURO_OK && r.body.len == 0 && *id != 0)
        duro_errbody_mp(&r.body, DURO_ERRBODY_BARE, r.rc, r.msg);
    if (status)
        *status = r.http;
    size_t n;
    void *p = duro_buf_take(&r.body, &n);
    if (body) {
        *body = p;
        if (body_len)
            *body_len = n;
    } else {
        free(p);
    }
    return finish(db, &r);
}
