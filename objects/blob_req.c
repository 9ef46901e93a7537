/*
 * blob_req.c — requests of the blob kind (blob.h): checks, and the decoder
 * of msgpack args for the binary protocol and libduro.
 *
 * The args are read with msgpack-c straight from the checked buffer
 * (duro_mp_check() ran on it), not through a jansson tree, so a put's bytes
 * (a msgpack bin) are copied once, into the request.
 */
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "objects/blob.h"
#include "objects/object.h"

duro_blob_req *duro_blob_req_new(void)
{
    duro_blob_req *r = calloc(1, sizeof *r);
    if (r)
        r->limit = DURO_BLOB_LIST_MAX;
    return r;
}

void duro_blob_hex(const unsigned char *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

void duro_blob_req_free(duro_blob_req *r)
{
    if (!r)
        return;
    if (r->holds_upload) /* never answered: an unfinished part ends its upload */
        duro_blob_upload_release(r, 1);
    if (r->file_state == 1 && r->dir) { /* never committed: nobody else names it */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", r->dir, r->file);
        unlink(path);
        duro_blob_inflight_del(r->file);
    }
    free(r->key);
    free(r->own);
    free(r->content_type);
    free(r->meta);
    free(r->if_match);
    free(r->if_none_match);
    free(r->prefix);
    free(r->delimiter);
    free(r->start_after);
    free(r->cursor);
    free(r->dir);
    free(r);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
    snprintf(err, errlen, fmt, what);
    return DURO_BAD_REQUEST;
}

/* A key or prefix: UTF-8, no NUL, at most DURO_BLOB_KEY_MAX bytes. */
static int check_key(const char *s, size_t n, int may_be_empty, const char *what, char *err,
                     size_t errlen)
{
    if (!s)
        return may_be_empty ? DURO_OK : fail(err, errlen, "%s: expected 1..1024 bytes of UTF-8",
                                             what);
    if (!n && !may_be_empty)
        return fail(err, errlen, "%s: expected 1..1024 bytes of UTF-8", what);
    if (n > DURO_BLOB_KEY_MAX)
        return fail(err, errlen, "%s: longer than 1024 bytes", what);
    if (memchr(s, '\0', n) || !duro_utf8_valid(s, n))
        return fail(err, errlen, "%s: must be UTF-8 without NUL bytes", what);
    return DURO_OK;
}

int duro_blob_req_check(int op, duro_blob_req *r, const duro_limits *lim, char *err,
                        size_t errlen)
{
    int st;
    if (op != DURO_BLOB_LIST && (st = check_key(r->key, r->key_len, 0, "key", err, errlen)))
        return st;
    if (op == DURO_BLOB_PUT || op == DURO_BLOB_APPEND) {
        size_t max = lim && lim->max_blob_bytes ? lim->max_blob_bytes : DURO_BLOB_MAX_DEFAULT;
        r->max_total = max;
        if (r->size > max) {
            snprintf(err, errlen, "the object is larger than %zu bytes (--max-blob-bytes)", max);
            return DURO_PAYLOAD_TOO_LARGE;
        }
        if (r->content_type) {
            size_t n = strlen(r->content_type);
            if (!n || n > DURO_BLOB_TYPE_MAX)
                return fail(err, errlen, "%s: expected 1..256 bytes", "contentType");
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)r->content_type[i] < 0x20 ||
                    (unsigned char)r->content_type[i] > 0x7e)
                    return fail(err, errlen, "%s: printable ASCII only", "contentType");
        }
        if (r->meta_len > DURO_BLOB_META_MAX)
            return fail(err, errlen, "%s: must encode to at most 8192 bytes of JSON", "metadata");
    }
    if (op == DURO_BLOB_LIST) {
        if ((st = check_key(r->prefix, r->prefix_len, 1, "prefix", err, errlen)) ||
            (st = check_key(r->delimiter, r->delimiter_len, 1, "delimiter", err, errlen)) ||
            (st = check_key(r->start_after, r->start_after_len, 1, "startAfter", err, errlen)))
            return st;
        if (r->limit < 1 || r->limit > DURO_BLOB_LIST_MAX)
            return fail(err, errlen, "%s: expected an integer in 1..1000", "limit");
    }
    return DURO_OK;
}

/* ---- msgpack args ---- */

static int str_of(const msgpack_object *o, char **out, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR || *out)
        return -1;
    if (!(*out = malloc(o->via.str.size + 1)))
        return -1;
    memcpy(*out, o->via.str.ptr, o->via.str.size);
    (*out)[o->via.str.size] = '\0';
    if (len)
        *len = o->via.str.size;
    return 0;
}

int duro_blob_unhex(const char *s, size_t len, unsigned char *out, size_t n)
{
    size_t got;
    return s && len == 2 * n && sodium_hex2bin(out, n, s, len, NULL, &got, NULL) == 0 && got == n
               ? 0
               : -1;
}

/* A digest given as hex: exactly n bytes. */
static int hex_of(const msgpack_object *o, unsigned char *out, size_t n)
{
    return o->type == MSGPACK_OBJECT_STR ? duro_blob_unhex(o->via.str.ptr, o->via.str.size, out, n)
                                         : -1;
}

/* The metadata map as JSON text (r->meta). */
static int meta_of(const msgpack_object *o, duro_blob_req *r)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP || r->meta)
        return -1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_object(&pk, *o);
    const char *why;
    json_t *j = rc == 0 ? duro_mp_to_json(sb.data, sb.size, &why) : NULL;
    msgpack_sbuffer_destroy(&sb);
    duro_buf text = {0};
    rc = j && json_is_object(j) && duro_json_to_text(j, &text) == 0 ? 0 : -1;
    json_decref(j);
    if (rc == 0)
        r->meta = duro_buf_take(&text, &r->meta_len);
    duro_buf_free(&text);
    return rc == 0 && r->meta ? 0 : -1;
}

static int u64_of(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *out = o->via.u64;
    return 0;
}

/* One field of op's args; 0, or -1 when it is not one of op's or has the
 * wrong type (*what names it). */
static int field(int op, duro_blob_req *r, const char *k, size_t kl, const msgpack_object *v)
{
#define IS(name) (kl == sizeof name - 1 && memcmp(k, name, kl) == 0)
    if (IS("key") && op != DURO_BLOB_LIST)
        return str_of(v, &r->key, &r->key_len);
    if (op == DURO_BLOB_APPEND) {
        if (IS("upload"))
            return v->type == MSGPACK_OBJECT_STR && v->via.str.size == 32 && !r->upload[0]
                       ? (memcpy(r->upload, v->via.str.ptr, 32), r->upload[32] = '\0', 0)
                       : -1;
        if (IS("final"))
            return v->type == MSGPACK_OBJECT_BOOLEAN ? (r->final = v->via.boolean, 0) : -1;
    }
    if (op == DURO_BLOB_PUT || op == DURO_BLOB_APPEND) {
        if (IS("data")) {
            if ((v->type != MSGPACK_OBJECT_BIN && v->type != MSGPACK_OBJECT_STR) || r->own)
                return -1;
            size_t n = v->type == MSGPACK_OBJECT_BIN ? v->via.bin.size : v->via.str.size;
            const char *p = v->type == MSGPACK_OBJECT_BIN ? v->via.bin.ptr : v->via.str.ptr;
            if (!(r->own = malloc(n ? n : 1)))
                return -1;
            memcpy(r->own, p, n);
            r->data = r->own;
            r->size = n;
            return 0;
        }
        if (IS("contentType"))
            return str_of(v, &r->content_type, NULL);
        if (IS("metadata"))
            return meta_of(v, r);
        if (IS("md5"))
            return (r->has_md5 = 1, hex_of(v, r->want_md5, 16));
        if (IS("sha256"))
            return (r->has_sha256 = 1, hex_of(v, r->want_sha256, 32));
    }
    if (op != DURO_BLOB_LIST) {
        if (IS("ifMatch"))
            return str_of(v, &r->if_match, NULL);
        if (IS("ifNoneMatch"))
            return str_of(v, &r->if_none_match, NULL);
    }
    if (op == DURO_BLOB_GET) {
        if (IS("offset"))
            return (r->has_range = 1, u64_of(v, &r->off));
        if (IS("length")) {
            if (!r->has_range)
                r->off = 0;
            r->has_range = 2;
            return u64_of(v, &r->len);
        }
    }
    if (op == DURO_BLOB_LIST) {
        if (IS("prefix"))
            return str_of(v, &r->prefix, &r->prefix_len);
        if (IS("delimiter"))
            return str_of(v, &r->delimiter, &r->delimiter_len);
        if (IS("startAfter"))
            return str_of(v, &r->start_after, &r->start_after_len);
        if (IS("cursor"))
            return v->type == MSGPACK_OBJECT_NIL ? 0 : str_of(v, &r->cursor, &r->cursor_len);
        if (IS("limit")) {
            uint64_t n;
            if (u64_of(v, &n) != 0 || n < 1 || n > DURO_BLOB_LIST_MAX)
                return -1;
            r->limit = (int)n;
            return 0;
        }
    }
    return -1;
#undef IS
}

int duro_blob_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    duro_blob_req *r = duro_blob_req_new();
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int st = DURO_OK;
    if (msgpack_unpack_next(&u, (const char *)a->mp, a->len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        st = fail(err, errlen, "%s", "bad args: expected a map");
    } else {
        const msgpack_object_map *m = &u.data.via.map;
        for (uint32_t i = 0; st == DURO_OK && i < m->size; i++) {
            const msgpack_object *k = &m->ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR) {
                st = fail(err, errlen, "%s", "bad args: keys must be strings");
            } else if (field(op, r, k->via.str.ptr, k->via.str.size, &m->ptr[i].val) != 0) {
                snprintf(err, errlen, "bad args: \"%.*s\" is not an argument of this op or has "
                         "the wrong type (docs/blobs.md)",
                         (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr);
                st = DURO_BAD_REQUEST;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    if (st == DURO_OK && op == DURO_BLOB_PUT && !r->data)
        st = fail(err, errlen, "%s", "bad args: \"data\" (the bytes) is required");
    if (st == DURO_OK && op == DURO_BLOB_APPEND && !r->data && !r->final)
        st = fail(err, errlen, "%s", "bad args: \"data\" (the part's bytes) is required");
    if (st == DURO_OK && r->has_range == 1)
        r->len = UINT64_MAX; /* offset without length: to the end */
    if (st == DURO_OK)
        st = duro_blob_req_check(op, r, a->lim, err, errlen);
    if (st != DURO_OK) {
        duro_blob_req_free(r);
        return st;
    }
    *req = r;
    return DURO_OK;
}
