/* kv_request.c — validation and decoding of KV requests (see kv_request.h). */
#include "transport/kv_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro/status.h"
#include "transport/codec.h"
#include "transport/names.h"

static int fail(char *err, size_t errlen, int st, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return st;
}

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

static int key_from_json(duro_kv_req *r, const json_t *k, const char *where, char *err,
                         size_t errlen)
{
    if (!json_is_string(k))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s: every key must be a string", where);
    return duro_kv_add_key(r, json_string_value(k), json_string_length(k), err, errlen);
}

/* Fills it's value, ttl and metadata from an object holding "value" etc. */
static int decode_value(duro_kv_item *it, const json_t *obj, int enc, const duro_kv_limits *lim,
                        char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, "value");
    if (!v)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "missing \"value\"");
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
    it->val = duro_buf_take(&b, &it->val_len);
    it->enc = enc;

    const json_t *ttl = json_object_get(obj, "ttlMs");
    if (ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
            json_integer_value(ttl) > DURO_KV_TTL_MAX)
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "\"ttlMs\" must be an integer from 1 to 315360000000 (ten years)");
        it->ttl_ms = json_integer_value(ttl);
    }
    const json_t *meta = json_object_get(obj, "metadata");
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta))
            return fail(err, errlen, DURO_BAD_REQUEST, "%s", "\"metadata\" must be an object");
        if (duro_meta_encode(meta, &it->meta, &it->meta_len) != 0)
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "\"metadata\" must encode to at most 16384 bytes of JSON");
    }
    return DURO_OK;
}

int duro_kv_decode_put(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                       char *err, size_t errlen)
{
    if (!json_is_object(body))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                    "body must be an object like {\"value\": ...}");
    return decode_value(&r->items[0], body, enc, lim, err, errlen);
}

static const json_t *array_field(const json_t *body, const char *name, char *err, size_t errlen,
                                 int *st)
{
    *st = DURO_OK;
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
        if ((st = key_from_json(r, k, "keys", err, errlen)) != DURO_OK)
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
        if ((st = key_from_json(r, json_object_get(e, "key"), "entries", err, errlen)) != DURO_OK)
            return st;
        if ((st = decode_value(&r->items[r->n - 1], e, enc, lim, err, errlen)) != DURO_OK)
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
        const char *op = json_string_value(json_object_get(o, "op"));
        int is_set = op && !strcmp(op, "set"), is_del = op && !strcmp(op, "del");
        if (!json_is_object(o) || (!is_set && !is_del))
            return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                        "every operation must be {\"op\":\"set\"|\"del\", \"key\", ...}");
        int st = key_from_json(r, json_object_get(o, "key"), "operations", err, errlen);
        if (st != DURO_OK)
            return st;
        r->items[r->n - 1].del = is_del;
        if (is_set && (st = decode_value(&r->items[r->n - 1], o, enc, lim, err, errlen)) != DURO_OK)
            return st;
    }
    return DURO_OK;
}

int duro_param_flag(const json_t *v, int *out)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, ""))) {
        *out = 1;
        return 0;
    }
    if (s && (!strcmp(s, "0") || !strcmp(s, "false"))) {
        *out = 0;
        return 0;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    return -1;
}

int duro_param_int(const json_t *v, long long min, long long max, long long *out)
{
    if (!v || json_is_null(v))
        return 1;
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || end == s || *end || *s < '0' || *s > '9')
            return -1;
    } else {
        return -1;
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

static int bound(const json_t *params, const char *name, duro_kv_bound *b, char *err,
                 size_t errlen)
{
    const json_t *v = json_object_get(params, name);
    if (!v || json_is_null(v))
        return DURO_OK;
    if (!json_is_string(v))
        return fail(err, errlen, DURO_BAD_REQUEST, "\"%s\" must be a string", name);
    size_t n = json_string_length(v);
    const char *why;
    if (n > DURO_KEY_MAX || (n && duro_key_valid(json_string_value(v), n, &why) != 0))
        return fail(err, errlen, DURO_BAD_REQUEST, "\"%s\" is not a valid key", name);
    if (!(b->key = dup_bytes(json_string_value(v), n)))
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    b->len = n;
    b->has = 1;
    return DURO_OK;
}

int duro_kv_decode_list(duro_kv_req *r, const json_t *params, char *err, size_t errlen)
{
    static const char *const names[] = {"prefix", "start", "startAfter", "end"};
    duro_kv_bound *bs[] = {&r->list.prefix, &r->list.start, &r->list.start_after, &r->list.end};
    int st;
    for (size_t i = 0; i < 4; i++)
        if ((st = bound(params, names[i], bs[i], err, errlen)) != DURO_OK)
            return st;
    if (r->list.start.has && r->list.start_after.has)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "use \"start\" or \"startAfter\", not both");

    long long x;
    int rc = duro_param_int(json_object_get(params, "limit"), 1, DURO_KV_LIST_MAX, &x);
    if (rc < 0)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s",
                    "\"limit\" must be an integer from 1 to 10000");
    if (rc == 0)
        r->list.limit = (int)x;
    if (duro_param_flag(json_object_get(params, "reverse"), &r->list.reverse) != 0)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "\"reverse\" must be true or false");
    if (duro_param_flag(json_object_get(params, "values"), &r->list.values) != 0)
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "\"values\" must be true or false");

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

static const char *const op_names[DURO_KV_OP_COUNT] = {
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
    for (int op = 0; op < DURO_KV_OP_COUNT; op++)
        if (strlen(op_names[op]) == len && memcmp(op_names[op], name, len) == 0)
            return op;
    return -1;
}

const char *duro_kv_op_name(int op)
{
    return op >= 0 && op < DURO_KV_OP_COUNT ? op_names[op] : NULL;
}

/* A version for ifMatch: a non-negative integer (or its decimal string). */
static int version_arg(const json_t *v, int64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        long long x = duro_kv_parse_etag(json_string_value(v));
        if (x >= 0) {
            *out = x;
            return 0;
        }
    }
    return -1;
}

int duro_kv_request_from_args(int op, const json_t *args, int enc, const duro_kv_limits *lim,
                              duro_kv_req **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json_is_object(args))
        return fail(err, errlen, DURO_BAD_REQUEST, "%s", "args must be a map");
    duro_kv_req *r = duro_kv_req_new(op);
    if (!r)
        return fail(err, errlen, DURO_NOMEM, "%s", "out of memory");
    int st = DURO_OK;
    if (op == DURO_KV_GET || op == DURO_KV_PUT || op == DURO_KV_DELETE) {
        const json_t *k = json_object_get(args, "key");
        st = json_is_string(k) ? duro_kv_add_key(r, json_string_value(k), json_string_length(k),
                                                 err, errlen)
                               : fail(err, errlen, DURO_BAD_REQUEST, "%s",
                                      "\"key\" must be a string");
    }
    const json_t *im = json_object_get(args, "ifMatch");
    if (st == DURO_OK && im && !json_is_null(im) &&
        (op == DURO_KV_PUT || op == DURO_KV_DELETE || op == DURO_KV_SNAPSHOT_PATCH) &&
        version_arg(im, &r->if_match) != 0)
        st = fail(err, errlen, DURO_BAD_REQUEST, "%s", "\"ifMatch\" must be a version number");
    const json_t *inm = json_object_get(args, "ifNoneMatch");
    if (st == DURO_OK && op == DURO_KV_PUT && inm && !json_is_null(inm)) {
        if (!json_is_boolean(inm))
            st = fail(err, errlen, DURO_BAD_REQUEST, "%s", "\"ifNoneMatch\" must be a boolean");
        else
            r->if_none_match = json_is_true(inm);
    }
    if (st == DURO_OK) {
        switch (op) {
        case DURO_KV_GET: {
            const json_t *m = json_object_get(args, "meta");
            r->with_meta = json_is_true(m);
            break;
        }
        case DURO_KV_PUT:
            st = duro_kv_decode_put(r, args, enc, lim, err, errlen);
            break;
        case DURO_KV_BATCH_GET:
        case DURO_KV_BATCH_DELETE:
            st = duro_kv_decode_keys(r, args, err, errlen);
            break;
        case DURO_KV_BATCH_SET:
            st = duro_kv_decode_entries(r, args, enc, lim, err, errlen);
            break;
        case DURO_KV_LIST:
            st = duro_kv_decode_list(r, args, err, errlen);
            break;
        case DURO_KV_SNAPSHOT_PATCH:
            st = duro_kv_decode_patch(r, json_object_get(args, "ops"), enc, lim, err, errlen);
            break;
        case DURO_KV_SNAPSHOT_GET:
            r->max_bytes = lim->max_snapshot_bytes ? lim->max_snapshot_bytes
                                                   : DURO_KV_SNAPSHOT_DEFAULT;
            break;
        case DURO_KV_CLEAR:
        case DURO_KV_DELETE:
            break;
        default:
            st = fail(err, errlen, DURO_BAD_REQUEST, "%s", "unknown operation");
        }
    }
    if (st != DURO_OK) {
        duro_kv_req_free(r);
        return st;
    }
    *out = r;
    return DURO_OK;
}
