/*
 * kv_req.c — validation and decoding of KV requests (see kv_req.h),
 * and the parameter helpers every request decoder shares.
 *
 * Inputs are strict: each decoder names the members it reads and refuses any
 * other (a misspelt "expirationTtl" must not silently store a value without
 * its TTL); bools must be bools and integers integers, except where the
 * input is an HTTP query string (DURO_PARAMS_QUERY), whose values are all
 * strings. docs/protocol.md ("Strict inputs") has the rules per op.
 */
#include "objects/kv_req.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro/status.h"
#include "common/codec.h"
#include "common/mp_fields.h"
#include "common/names.h"

static int fail(char *err, size_t errlen, int st, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return st;
}

/* The longest prefix of s[0..n) of at most max bytes that ends on a UTF-8
 * character boundary (names in messages stay valid UTF-8). */
static int clip(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return (int)n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return (int)max;
}

int duro_fields_check(const json_t *obj, const char *const *names, size_t n, const char *where,
                      char *err, size_t errlen)
{
    json_t *o = (json_t *)obj;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it), i = 0;
        while (i < n && !(strlen(names[i]) == kl && memcmp(names[i], k, kl) == 0))
            i++;
        if (i == n) {
            snprintf(err, errlen, "%s%sunknown field \"%.*s\"", where ? where : "",
                     where ? ": " : "", clip(k, kl, 64), k);
            return DURO_BAD_REQUEST;
        }
    }
    return DURO_OK;
}

static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "a string";
    case JSON_REAL: return "a float";
    case JSON_INTEGER: return "an integer";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    default: return "null";
    }
}

int duro_param_error(char *err, size_t errlen, const char *name, const char *what,
                     const json_t *v, json_type want, duro_params_mode mode)
{
    int right = !v || (want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want);
    if (mode == DURO_PARAMS_TYPED && !right)
        snprintf(err, errlen, "\"%s\" must be %s, not %s", name, what, kind_of(v));
    else
        snprintf(err, errlen, "\"%s\" must be %s", name, what);
    return DURO_BAD_REQUEST;
}

#define NAMES(a) a, (sizeof a / sizeof a[0])

static const char *const put_body[] = {"value", "ttlMs", "metadata"};
static const char *const entry_fields[] = {"key", "value", "ttlMs", "metadata"};
static const char *const set_op_fields[] = {"op", "key", "value", "ttlMs", "metadata"};
static const char *const del_op_fields[] = {"op", "key"};
static const char *const list_fields[] = {"prefix", "start",  "startAfter", "end",
                                          "limit",  "cursor", "reverse",    "values"};

duro_kv_req *duro_kv_req_new(int op)
{
    duro_kv_req *r = calloc(1, sizeof *r);
    if (r) {
        r->if_match = -1;
        r->list.limit = DURO_KV_LIST_DEFAULT;
        (void)op;
    }
    return r;
}

static duro_kv_item *add_item(duro_kv_req *r)
{
    assert(!r->inline_one);
    duro_kv_item *items = realloc(r->items, (r->n + 1) * sizeof *items);
    if (!items)
        return NULL;
    r->items = items;
    memset(&items[r->n], 0, sizeof items[r->n]);
    return &items[r->n++];
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int duro_kv_req_one(const char *key, size_t len, size_t val_cap, duro_kv_req **out, char *err,
                    size_t errlen)
{
    const char *why;
    *out = NULL;
    if (duro_key_valid(key, len, &why) != 0)
        return fail(err, errlen, DURO_BAD_REQUEST, "invalid key: %s", why);
    duro_kv_req *r = calloc(1, sizeof *r + len + 1 + val_cap);
    if (!r)
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    r->if_match = -1;
    r->list.limit = DURO_KV_LIST_DEFAULT;
    r->inline_one = 1;
    r->items = &r->one;
    r->n = 1;
    char *mem = (char *)(r + 1);
    memcpy(mem, key, len); /* calloc: NUL-terminated */
    r->one.key = mem;
    r->one.key_len = len;
    if (val_cap)
        r->one.val = mem + len + 1;
    *out = r;
    return DURO_OK;
}

int duro_kv_add_key(duro_kv_req *r, const char *key, size_t len, char *err, size_t errlen)
{
    const char *why;
    if (duro_key_valid(key, len, &why) != 0)
        return fail(err, errlen, DURO_BAD_REQUEST, "invalid key: %s", why);
    duro_kv_item *it = add_item(r);
    if (!it || !(it->key = dup_bytes(key, len)))
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    it->key_len = len;
    return DURO_OK;
}

/* A batch element's error names the element: "entries[3]: invalid key: ...". */
static int at(const char *where, int st, char *err, size_t errlen)
{
    size_t wl = strlen(where);
    if (st != DURO_OK && strncmp(err, where, wl) != 0) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", where, tmp);
    }
    return st;
}

static int key_from_json(duro_kv_req *r, const json_t *k, const char *where, char *err,
                         size_t errlen)
{
    if (!json_is_string(k))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s: every key must be a string", where);
    return at(where, duro_kv_add_key(r, json_string_value(k), json_string_length(k), err, errlen),
              err, errlen);
}

/* Fills its value, ttl and metadata from an object holding "value" etc. */
static int decode_value(duro_kv_item *it, const json_t *obj, int enc, const duro_kv_limits *lim,
                        char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, "value");
    if (!v)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "missing \"value\"");
    /* A value holding bytes ({"$bytes": base64}, codec.h) is stored as msgpack
     * whatever the request's encoding: the bytes take their own size, and
     * every msgpack reader gets them back as bin without a conversion. */
    if (enc == DURO_ENC_JSON && duro_json_has_bytes(v))
        enc = DURO_ENC_MSGPACK;
    duro_buf b = {0};
    int rc = enc == DURO_ENC_MSGPACK ? duro_json_to_mp(v, &b) : duro_json_to_text(v, &b);
    if (rc != 0) {
        duro_buf_free(&b);
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "value cannot be encoded");
    }
    if (b.len > lim->max_value_bytes) {
        duro_buf_free(&b);
        snprintf(err, errlen, "value is larger than %zu bytes", lim->max_value_bytes);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    free(it->val); /* none unless the item is decoded twice */
    it->val = duro_buf_take(&b, &it->val_len);
    it->enc = enc;

    const json_t *ttl = json_object_get(obj, "ttlMs");
    long long x;
    int trc = duro_param_int(ttl, DURO_PARAMS_TYPED, 1, DURO_KV_TTL_MAX, &x);
    if (trc < 0)
        return duro_param_error(err, errlen, "ttlMs",
                                "an integer from 1 to 315360000000 (ten years)", ttl,
                                JSON_INTEGER, DURO_PARAMS_TYPED);
    if (trc == 0)
        it->ttl_ms = x;
    const json_t *meta = json_object_get(obj, "metadata");
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta))
            return fail(err, errlen, DURO_BAD_REQUEST, "\"metadata\" must be an object, not %s",
                        kind_of(meta));
        if (duro_meta_encode(meta, &it->meta, &it->meta_len) != 0)
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "\"metadata\" must encode to at most 16384 bytes of JSON");
    }
    return DURO_OK;
}

int duro_kv_put_bytes(duro_kv_req *r, const void *p, size_t n, const duro_kv_limits *lim,
                      char *err, size_t errlen)
{
    duro_kv_item *it = &r->items[0];
    duro_buf b = {0};
    if (duro_mp_put_bin_header(&b, n) != 0 || duro_buf_append(&b, p, n) != 0) {
        duro_buf_free(&b);
        return fail(err, errlen, n > 0xffffffffu ? DURO_PAYLOAD_TOO_LARGE : DURO_NOMEM, "%s",
                    n > 0xffffffffu ? "value is too large" : "out of memory");
    }
    if (b.len > lim->max_value_bytes) {
        duro_buf_free(&b);
        snprintf(err, errlen, "value is larger than %zu bytes", lim->max_value_bytes);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    free(it->val);
    it->val = duro_buf_take(&b, &it->val_len);
    if (!it->val)
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    it->enc = DURO_ENC_MSGPACK;
    return DURO_OK;
}

int duro_kv_put_ttl(duro_kv_req *r, const json_t *ttl, duro_params_mode mode, char *err,
                    size_t errlen)
{
    long long x;
    int trc = duro_param_int(ttl, mode, 1, DURO_KV_TTL_MAX, &x);
    if (trc < 0)
        return duro_param_error(err, errlen, "ttlMs",
                                "an integer from 1 to 315360000000 (ten years)", ttl,
                                JSON_INTEGER, mode);
    if (trc == 0)
        r->items[0].ttl_ms = x;
    return DURO_OK;
}

int duro_kv_decode_put(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                       char *err, size_t errlen)
{
    if (!json_is_object(body))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                    "body must be an object like {\"value\": ...}");
    int st = duro_fields_check(body, NAMES(put_body), NULL, err, errlen);
    return st != DURO_OK ? st : decode_value(&r->items[0], body, enc, lim, err, errlen);
}

static const json_t *array_field(const json_t *body, const char *name, char *err, size_t errlen,
                                 int *st)
{
    *st = DURO_OK;
    const char *const names[] = {name};
    if (json_is_object(body) &&
        (*st = duro_fields_check(body, names, 1, NULL, err, errlen)) != DURO_OK)
        return NULL;
    const json_t *a = json_is_object(body) ? json_object_get(body, name) : NULL;
    if (!json_is_array(a)) {
        *st = DURO_BAD_REQUEST;
        snprintf(err, errlen, "body must be an object with an array \"%s\"", name);
        return NULL;
    }
    if (json_array_size(a) > DURO_KV_BATCH_MAX) {
        *st = DURO_BAD_REQUEST;
        snprintf(err, errlen, "\"%s\" has more than %d elements", name, DURO_KV_BATCH_MAX);
        return NULL;
    }
    return a;
}

int duro_kv_decode_keys(duro_kv_req *r, const json_t *body, char *err, size_t errlen)
{
    int st;
    const json_t *a = array_field(body, "keys", err, errlen, &st);
    if (!a)
        return st;
    size_t i;
    const json_t *k;
    json_array_foreach(a, i, k)
    {
        char where[32];
        snprintf(where, sizeof where, "keys[%zu]", i);
        if ((st = key_from_json(r, k, where, err, errlen)) != DURO_OK)
            return st;
    }
    return DURO_OK;
}

int duro_kv_decode_entries(duro_kv_req *r, const json_t *body, int enc,
                           const duro_kv_limits *lim, char *err, size_t errlen)
{
    int st;
    const json_t *a = array_field(body, "entries", err, errlen, &st);
    if (!a)
        return st;
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        if (!json_is_object(e))
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "entries: every entry must be an object {\"key\", \"value\"}");
        char where[32];
        snprintf(where, sizeof where, "entries[%zu]", i);
        if ((st = duro_fields_check(e, NAMES(entry_fields), where, err, errlen)) != DURO_OK)
            return st;
        if ((st = key_from_json(r, json_object_get(e, "key"), where, err, errlen)) != DURO_OK)
            return st;
        if ((st = at(where, decode_value(&r->items[r->n - 1], e, enc, lim, err, errlen), err,
                     errlen)) != DURO_OK)
            return st;
    }
    return DURO_OK;
}

int duro_kv_decode_patch(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                         char *err, size_t errlen)
{
    if (!json_is_array(body))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                    "body must be an array like [{\"op\":\"set\",\"key\":..,\"value\":..}]");
    if (json_array_size(body) > DURO_KV_BATCH_MAX)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "more than 1000 operations");
    size_t i;
    const json_t *o;
    json_array_foreach(body, i, o)
    {
        const json_t *jop = json_object_get(o, "op");
        const char *op = json_string_value(jop);
        size_t op_len = json_string_length(jop);
        int is_set = op && op_len == 3 && !memcmp(op, "set", 3);
        int is_del = op && op_len == 3 && !memcmp(op, "del", 3);
        if (!json_is_object(o) || (!is_set && !is_del))
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "every operation must be {\"op\":\"set\"|\"del\", \"key\", ...}");
        char where[32];
        snprintf(where, sizeof where, "ops[%zu]", i);
        int st = is_set ? duro_fields_check(o, NAMES(set_op_fields), where, err, errlen)
                        : duro_fields_check(o, NAMES(del_op_fields), where, err, errlen);
        if (st != DURO_OK)
            return st;
        st = key_from_json(r, json_object_get(o, "key"), where, err, errlen);
        if (st != DURO_OK)
            return st;
        r->items[r->n - 1].del = is_del;
        if (is_set && (st = at(where, decode_value(&r->items[r->n - 1], o, enc, lim, err, errlen),
                               err, errlen)) != DURO_OK)
            return st;
    }
    return DURO_OK;
}

int duro_query_flag(const char *s, size_t n, int *out)
{
    if (n == 0 || (n == 1 && s[0] == '1') || (n == 4 && memcmp(s, "true", 4) == 0)) {
        *out = 1;
        return 0;
    }
    if ((n == 1 && s[0] == '0') || (n == 5 && memcmp(s, "false", 5) == 0)) {
        *out = 0;
        return 0;
    }
    return -1;
}

int duro_param_flag(const json_t *v, duro_params_mode mode, int *out)
{
    if (!v || json_is_null(v))
        return 0;
    if (mode == DURO_PARAMS_TYPED) {
        if (!json_is_boolean(v))
            return -1;
        *out = json_is_true(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    return duro_query_flag(json_string_value(v), json_string_length(v), out);
}

int duro_param_int(const json_t *v, duro_params_mode mode, long long min, long long max,
                   long long *out)
{
    if (!v || json_is_null(v))
        return 1;
    long long x = 0;
    if (mode == DURO_PARAMS_TYPED) {
        if (!json_is_integer(v))
            return -1;
        x = json_integer_value(v);
    } else {
        if (!json_is_string(v))
            return -1;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n == 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || x > (LLONG_MAX - (s[i] - '0')) / 10)
                return -1;
            x = x * 10 + (s[i] - '0');
        }
    }
    if (x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

int duro_meta_encode(const json_t *meta, char **out, size_t *len)
{
    if (!json_is_object(meta))
        return -1;
    duro_buf mb = {0};
    if (duro_json_to_text(meta, &mb) != 0 || mb.len > DURO_KV_META_MAX) {
        duro_buf_free(&mb);
        return -1;
    }
    *out = duro_buf_take(&mb, len);
    return *out ? 0 : -1;
}

/* A list bound: any valid UTF-8 byte string, NUL and any length allowed
 * (bounds are compared with keys, never stored; "key\0" is the usual
 * inclusive end). Only the request's size limits its length. */
static int bound(const json_t *params, const char *name, duro_kv_bound *b, char *err,
                 size_t errlen)
{
    const json_t *v = json_object_get(params, name);
    if (!v || json_is_null(v))
        return DURO_OK;
    if (!json_is_string(v))
        return fail(err, errlen, DURO_BAD_REQUEST, "\"%s\" must be a string", name);
    size_t n = json_string_length(v);
    if (!duro_utf8_valid(json_string_value(v), n))
        return fail(err, errlen, DURO_BAD_REQUEST, "\"%s\" is not valid UTF-8", name);
    if (!(b->key = dup_bytes(json_string_value(v), n)))
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    b->len = n;
    b->has = 1;
    return DURO_OK;
}

int duro_kv_decode_list(duro_kv_req *r, const json_t *params, duro_params_mode mode, char *err,
                        size_t errlen)
{
    static const char *const names[] = {"prefix", "start", "startAfter", "end"};
    duro_kv_bound *bs[] = {&r->list.prefix, &r->list.start, &r->list.start_after, &r->list.end};
    if (!json_is_object(params))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "list parameters must be a map");
    int st = duro_fields_check(params, NAMES(list_fields), NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    for (size_t i = 0; i < 4; i++)
        if ((st = bound(params, names[i], bs[i], err, errlen)) != DURO_OK)
            return st;
    if (r->list.start.has && r->list.start_after.has)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                    "use \"start\" or \"startAfter\", not both");

    long long x;
    const json_t *v = json_object_get(params, "limit");
    int rc = duro_param_int(v, mode, 1, DURO_KV_LIST_MAX, &x);
    if (rc < 0)
        return duro_param_error(err, errlen, "limit", "an integer from 1 to 10000", v,
                                JSON_INTEGER, mode);
    if (rc == 0)
        r->list.limit = (int)x;
    const char *bool_what = mode == DURO_PARAMS_TYPED ? "true or false"
                                                      : "1, true, 0 or false";
    v = json_object_get(params, "reverse");
    if (duro_param_flag(v, mode, &r->list.reverse) != 0)
        return duro_param_error(err, errlen, "reverse", bool_what, v, JSON_TRUE, mode);
    v = json_object_get(params, "values");
    if (duro_param_flag(v, mode, &r->list.values) != 0)
        return duro_param_error(err, errlen, "values", bool_what, v, JSON_TRUE, mode);

    const json_t *c = json_object_get(params, "cursor");
    if (c && !json_is_null(c) && !(json_is_string(c) && json_string_length(c) == 0)) {
        size_t n;
        char *key = json_is_string(c)
                        ? duro_kv_cursor_decode(json_string_value(c), json_string_length(c), &n)
                        : NULL;
        const char *why;
        if (!key || duro_key_valid(key, n, &why) != 0) {
            free(key);
            return fail(err, errlen, DURO_BAD_REQUEST, "%s", "malformed \"cursor\"");
        }
        r->list.cursor = (duro_kv_bound){key, n, 1};
    }
    return DURO_OK;
}

long long duro_kv_parse_etag(const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        s++, n -= 2;
    if (n == 0 || n > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

const char *const duro_kv_op_names[DURO_KV_OP_COUNT] = {
    [DURO_KV_GET] = "kv.get",
    [DURO_KV_PUT] = "kv.put",
    [DURO_KV_DELETE] = "kv.delete",
    [DURO_KV_BATCH_GET] = "kv.batch_get",
    [DURO_KV_BATCH_SET] = "kv.batch_set",
    [DURO_KV_BATCH_DELETE] = "kv.batch_delete",
    [DURO_KV_LIST] = "kv.list",
    [DURO_KV_CLEAR] = "kv.clear",
    [DURO_KV_SNAPSHOT_GET] = "snapshot.get",
    [DURO_KV_SNAPSHOT_PATCH] = "snapshot.patch",
};

int duro_kv_op_from_name(const char *name, size_t len)
{
    return duro_op_index(duro_kv_op_names, DURO_KV_OP_COUNT, name, len);
}

const char *duro_kv_op_name(int op)
{
    return op >= 0 && op < DURO_KV_OP_COUNT ? duro_kv_op_names[op] : NULL;
}

/* The members each op's args may have (duro_kv_request_from_args). */
static const char *const get_args[] = {"key", "meta"};
static const char *const put_args[] = {"key",     "value",      "ttlMs", "metadata",
                                       "ifMatch", "ifNoneMatch"};
static const char *const delete_args[] = {"key", "ifMatch"};
static const char *const keys_args[] = {"keys"};
static const char *const entries_args[] = {"entries"};
static const char *const patch_args[] = {"ops", "ifMatch"};

static const struct {
    const char *const *names;
    size_t n;
} op_args[DURO_KV_OP_COUNT] = {
    [DURO_KV_GET] = {NAMES(get_args)},
    [DURO_KV_PUT] = {NAMES(put_args)},
    [DURO_KV_DELETE] = {NAMES(delete_args)},
    [DURO_KV_BATCH_GET] = {NAMES(keys_args)},
    [DURO_KV_BATCH_SET] = {NAMES(entries_args)},
    [DURO_KV_BATCH_DELETE] = {NAMES(keys_args)},
    [DURO_KV_LIST] = {NAMES(list_fields)},
    [DURO_KV_CLEAR] = {NULL, 0},
    [DURO_KV_SNAPSHOT_GET] = {NULL, 0},
    [DURO_KV_SNAPSHOT_PATCH] = {NAMES(patch_args)},
};

int duro_kv_request_from_args(int op, const json_t *args, int enc, const duro_kv_limits *lim,
                              duro_kv_req **out, char *err, size_t errlen)
{
    *out = NULL;
    if (op < 0 || op >= DURO_KV_OP_COUNT)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "unknown operation");
    if (!json_is_object(args))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "args must be a map");
    int st = duro_fields_check(args, op_args[op].names, op_args[op].n, NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    duro_kv_req *r = duro_kv_req_new(op);
    if (!r)
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    if (op == DURO_KV_GET || op == DURO_KV_PUT || op == DURO_KV_DELETE) {
        const json_t *k = json_object_get(args, "key");
        st = json_is_string(k) ? duro_kv_add_key(r, json_string_value(k), json_string_length(k),
                                                 err, errlen)
                               : fail(err, errlen, DURO_BAD_REQUEST, "%s",
                                      "\"key\" must be a string");
    }
    /* only the ops that list ifMatch / ifNoneMatch / meta got past the check */
    const json_t *v = json_object_get(args, "ifMatch");
    long long x = -1;
    if (st == DURO_OK) {
        if (duro_param_int(v, DURO_PARAMS_TYPED, 0, INT64_MAX, &x) < 0)
            st = duro_param_error(err, errlen, "ifMatch", "a version number (an integer >= 0)",
                                  v, JSON_INTEGER, DURO_PARAMS_TYPED);
        r->if_match = x;
    }
    v = json_object_get(args, "ifNoneMatch");
    if (st == DURO_OK && duro_param_flag(v, DURO_PARAMS_TYPED, &r->if_none_match) != 0)
        st = duro_param_error(err, errlen, "ifNoneMatch", "true or false", v, JSON_TRUE,
                              DURO_PARAMS_TYPED);
    v = json_object_get(args, "meta");
    if (st == DURO_OK && duro_param_flag(v, DURO_PARAMS_TYPED, &r->with_meta) != 0)
        st = duro_param_error(err, errlen, "meta", "true or false", v, JSON_TRUE,
                              DURO_PARAMS_TYPED);
    if (st == DURO_OK) {
        switch (op) {
        case DURO_KV_PUT:
            st = decode_value(&r->items[0], args, enc, lim, err, errlen);
            break;
        case DURO_KV_BATCH_GET:
        case DURO_KV_BATCH_DELETE:
            st = duro_kv_decode_keys(r, args, err, errlen);
            break;
        case DURO_KV_BATCH_SET:
            st = duro_kv_decode_entries(r, args, enc, lim, err, errlen);
            break;
        case DURO_KV_LIST:
            st = duro_kv_decode_list(r, args, DURO_PARAMS_TYPED, err, errlen);
            break;
        case DURO_KV_SNAPSHOT_PATCH:
            v = json_object_get(args, "ops");
            st = json_is_array(v) ? duro_kv_decode_patch(r, v, enc, lim, err, errlen)
                                  : fail(err, errlen, DURO_BAD_REQUEST, "%s",
                                         "\"ops\" must be an array like"
                                         " [{\"op\":\"set\",\"key\":..,\"value\":..}]");
            break;
        case DURO_KV_SNAPSHOT_GET:
            r->max_bytes = lim->max_snapshot_bytes ? lim->max_snapshot_bytes
                                                   : DURO_KV_SNAPSHOT_DEFAULT;
            break;
        default: /* GET, DELETE, CLEAR: nothing more */
            break;
        }
    }
    if (st != DURO_OK) {
        duro_kv_req_free(r);
        return st;
    }
    *out = r;
    return DURO_OK;
}

/* kv.get {key, meta?} read straight from msgpack (common/mp_fields.h): 1 if
 * the args have another shape (the general path answers them), else the
 * status with *out set on DURO_OK. */
static int get_fast(const duro_args *a, duro_kv_req **out, char *err, size_t errlen)
{
    duro_mp_field f[DURO_MP_FIELDS_MAX];
    int c;
    if (duro_mp_fields(a->mp, a->len, f, &c) != 0)
        return 1;
    const char *key = NULL;
    size_t key_len = 0;
    int meta = 0;
    for (int i = 0; i < c; i++) {
        if (duro_mp_field_is(&f[i], "key") && f[i].type == 's') {
            key = f[i].s;
            key_len = f[i].sl;
        } else if (duro_mp_field_is(&f[i], "meta") && f[i].type == 'b') {
            meta = (int)f[i].u;
        } else {
            return 1;
        }
    }
    if (!key)
        return 1;
    duro_kv_req *r;
    int st = duro_kv_req_one(key, key_len, 0, &r, err, errlen);
    if (st != DURO_OK)
        return st;
    r->with_meta = meta;
    *out = r;
    return DURO_OK;
}

/* kv.put {key, value: str, ttlMs?} of msgpack read straight from the frame,
 * without a JSON tree: the value is stored as what duro_json_to_mp() makes of
 * a string (the same minimal str header, then its bytes, which
 * duro_mp_check() found to be UTF-8). 1 if the args have another shape (the
 * general path answers them, errors included), else the status. */
static int put_fast(const duro_args *a, duro_kv_req **out, char *err, size_t errlen)
{
    if (a->val_enc != DURO_ENC_MSGPACK)
        return 1;
    duro_mp_field f[DURO_MP_FIELDS_MAX];
    int c;
    if (duro_mp_fields(a->mp, a->len, f, &c) != 0)
        return 1;
    const duro_mp_field *key = NULL, *val = NULL;
    uint64_t ttl = 0;
    for (int i = 0; i < c; i++) {
        if (duro_mp_field_is(&f[i], "key") && f[i].type == 's')
            key = &f[i];
        else if (duro_mp_field_is(&f[i], "value") && f[i].type == 's')
            val = &f[i];
        else if (duro_mp_field_is(&f[i], "ttlMs") && f[i].type == 'u' && f[i].u >= 1 &&
                 f[i].u <= (uint64_t)DURO_KV_TTL_MAX)
            ttl = f[i].u;
        else
            return 1;
    }
    if (!key || !val)
        return 1;
    size_t hl = val->sl < 32 ? 1 : val->sl < 256 ? 2 : val->sl < 65536 ? 3 : 5;
    if (hl + val->sl > a->lim->max_value_bytes)
        return 1; /* the general path says how large */
    duro_kv_req *r;
    int st = duro_kv_req_one(key->s, key->sl, hl + val->sl, &r, err, errlen);
    if (st != DURO_OK)
        return st;
    char *v = r->items[0].val;
    unsigned char *h = (unsigned char *)v;
    size_t n = val->sl;
    if (hl == 1) {
        h[0] = (unsigned char)(0xa0 | n);
    } else if (hl == 2) {
        h[0] = 0xd9;
        h[1] = (unsigned char)n;
    } else if (hl == 3) {
        h[0] = 0xda;
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
    } else {
        h[0] = 0xdb;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    }
    memcpy(v + hl, val->s, n);
    r->items[0].val_len = hl + n;
    r->items[0].enc = DURO_ENC_MSGPACK;
    r->items[0].ttl_ms = (int64_t)ttl;
    *out = r;
    return DURO_OK;
}

static int from_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                     size_t errlen)
{
    duro_kv_limits lim = {a->lim->max_value_bytes, a->lim->max_snapshot_bytes};
    return duro_kv_request_from_args(op, args, a->val_enc, &lim, (duro_kv_req **)req, err, errlen);
}

int duro_kv_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    duro_kv_req **out = (duro_kv_req **)req;
    int st;
    if (op == DURO_KV_GET && (st = get_fast(a, out, err, errlen)) != 1)
        return st;
    if (op == DURO_KV_PUT && (st = put_fast(a, out, err, errlen)) != 1)
        return st;
    return duro_args_decode(a, op, from_tree, req, err, errlen);
}
