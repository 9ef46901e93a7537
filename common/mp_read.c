/*
 * mp_read.c — reading msgpack: the bounded reader, the walker, the heap-free
 * check (duro_mp_check) and msgpack to jansson trees (see codec.h).
 *
 * DESIGN
 * All msgpack reading goes through one bounded reader, rd(), and one
 * non-recursive walker, walk(), with an explicit stack of at most STACK_MAX
 * frames on the C stack. The walker validates (structure always; with
 * F_JSONABLE also the JSON data model) and feeds one of four sinks: nothing
 * (duro_mp_check), JSON text (values and tapes, written straight into a
 * duro_buf, no jansson on the reply path), msgpack (tapes: verbatim spans are
 * copied, only ext-JSON items are converted) or a jansson tree (requests).
 * A bin becomes the JSON form of bytes, {"$bytes": base64} (codec.h), in the
 * JSON-text and tree sinks, and stays a bin in the msgpack one.
 * msgpack-c is never used for decoding here. Every appending function rolls
 * the output buffer back to its original length on failure.
 */

#include "common/codec_int.h"

#include <math.h>
#include <string.h>

/* ---- msgpack reader ------------------------------------------------------- */

enum { T_NIL, T_BOOL, T_UINT, T_INT, T_FLOAT, T_STR, T_BIN, T_EXT, T_ARRAY, T_MAP };

typedef struct item {
    int type;
    int8_t ext;
    uint32_t n;          /* str/bin/ext length, array/map count */
    const uint8_t *data; /* str/bin/ext payload */
    union {
        uint64_t u;
        int64_t i;
        double d;
        int b;
    } v;
} item;

static inline uint64_t be_load(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

static inline int64_t sx(uint64_t v, int bytes)
{
    if (bytes == 8)
        return (int64_t)v;
    uint64_t sign = 1ull << (bytes * 8 - 1);
    return (int64_t)(v ^ sign) - (int64_t)sign;
}

/* Reads one header (and the payload of str/bin/ext) at *pp; never reads past
 * end. Container contents are left to the caller. 0 / -1. */
static int rd(const uint8_t **pp, const uint8_t *end, item *it)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -1;
    uint8_t c = *p++;
    size_t left = (size_t)(end - p);
    int w = 0; /* bytes of length/value following the tag */

#define NEED(k)                                                                     \
    do {                                                                            \
        if (left < (size_t)(k))                                                     \
            return -1;                                                              \
    } while (0)

    if (c <= 0x7f) {
        it->type = T_UINT;
        it->v.u = c;
    } else if (c <= 0x8f) {
        it->type = T_MAP;
        it->n = c & 0x0f;
    } else if (c <= 0x9f) {
        it->type = T_ARRAY;
        it->n = c & 0x0f;
    } else if (c <= 0xbf) {
        it->type = T_STR;
        it->n = c & 0x1f;
    } else if (c >= 0xe0) {
        it->type = T_INT;
        it->v.i = (int8_t)c;
    } else {
        switch (c) {
        case 0xc0:
            it->type = T_NIL;
            break;
        case 0xc2:
        case 0xc3:
            it->type = T_BOOL;
            it->v.b = c == 0xc3;
            break;
        case 0xc4: case 0xc5: case 0xc6:
            w = 1 << (c - 0xc4);
            NEED(w);
            it->type = T_BIN;
            it->n = (uint32_t)be_load(p, w);
            p += w;
            break;
        case 0xc7: case 0xc8: case 0xc9:
            w = 1 << (c - 0xc7);
            NEED(w + 1);
            it->type = T_EXT;
            it->n = (uint32_t)be_load(p, w);
            it->ext = (int8_t)p[w];
            p += w + 1;
            break;
        case 0xca: {
            NEED(4);
            uint32_t bits = (uint32_t)be_load(p, 4);
            float f;
            memcpy(&f, &bits, 4);
            it->type = T_FLOAT;
            it->v.d = f;
            p += 4;
            break;
        }
        case 0xcb: {
            NEED(8);
            uint64_t bits = be_load(p, 8);
            it->type = T_FLOAT;
            memcpy(&it->v.d, &bits, 8);
            p += 8;
            break;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            w = 1 << (c - 0xcc);
            NEED(w);
            it->type = T_UINT;
            it->v.u = be_load(p, w);
            p += w;
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            w = 1 << (c - 0xd0);
            NEED(w);
            it->type = T_INT;
            it->v.i = sx(be_load(p, w), w);
            p += w;
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            NEED(1);
            it->type = T_EXT;
            it->n = 1u << (c - 0xd4);
            it->ext = (int8_t)p[0];
            p += 1;
            break;
        case 0xd9: case 0xda: case 0xdb:
            w = 1 << (c - 0xd9);
            NEED(w);
            it->type = T_STR;
            it->n = (uint32_t)be_load(p, w);
            p += w;
            break;
        case 0xdc: case 0xdd:
            w = 2 << (c - 0xdc);
            NEED(w);
            it->type = T_ARRAY;
            it->n = (uint32_t)be_load(p, w);
            p += w;
            break;
        case 0xde: case 0xdf:
            w = 2 << (c - 0xde);
            NEED(w);
            it->type = T_MAP;
            it->n = (uint32_t)be_load(p, w);
            p += w;
            break;
        default: /* 0xc1, never used */
            return -1;
        }
    }
#undef NEED
    if (it->type == T_STR || it->type == T_BIN || it->type == T_EXT) {
        if (it->n > (size_t)(end - p))
            return -1;
        it->data = p;
        p += it->n;
    }
    *pp = p;
    return 0;
}

/* ---- the walker ----------------------------------------------------------- */


typedef struct frame {
    uint64_t left; /* items still to read; maps count keys and values */
    uint8_t map;
    uint8_t first;
} frame;

#define FAIL(msg)                                                                   \
    do {                                                                            \
        w->err = (msg);                                                             \
        return -1;                                                                  \
    } while (0)

const char duro__e_malformed[] = "malformed msgpack";
const char duro__e_nomem[] = "out of memory";

/* Hands a new value to the tree sink: becomes the root, or goes into the
 * innermost container (under the pending key for maps). Steals v. */
static int tree_add(walker *w, int depth, int in_map, json_t *v)
{
    if (!v)
        FAIL(duro__e_nomem);
    if (depth == 0) {
        w->root = v;
        return 0;
    }
    json_t *parent = w->tree[depth - 1];
    if (!in_map) {
        if (json_array_append_new(parent, v) != 0)
            FAIL(duro__e_nomem);
        return 0;
    }
    if (json_object_getn(parent, (const char *)w->key, w->key_len)) {
        json_decref(v);
        FAIL("duplicate key");
    }
    if (json_object_setn_new(parent, (const char *)w->key, w->key_len, v) != 0)
        FAIL(duro__e_nomem);
    return 0;
}

/* Walks exactly one msgpack object at buf[0..len) and stores its size in
 * *used. Trailing bytes are the caller's business. */
static int walk(walker *w, const uint8_t *buf, size_t len, size_t *used)
{
    frame st[STACK_MAX];
    const uint8_t *p = buf, *end = buf + len;
    int depth = 0, started = 0;
    int max_depth = w->max_depth < 0 ? 0 : w->max_depth > STACK_MAX ? STACK_MAX : w->max_depth;
    const int json = w->sink == S_JSON, jsonable = w->flags & F_JSONABLE;
    duro_buf *out = w->out;

    for (;;) {
        while (depth > 0 && st[depth - 1].left == 0) {
            depth--;
            if (json && put1(out, st[depth].map ? '}' : ']') != 0)
                FAIL(duro__e_nomem);
        }
        if (depth == 0 && started)
            break;
        started = 1;

        int is_key = 0, in_map = 0;
        if (depth > 0) {
            frame *f = &st[depth - 1];
            in_map = f->map;
            is_key = in_map && (f->left & 1) == 0;
            if (json) {
                char sep = in_map && !is_key ? ':' : f->first ? 0 : ',';
                if (sep && put1(out, sep) != 0)
                    FAIL(duro__e_nomem);
            }
            f->first = 0;
            f->left--;
        }

        const uint8_t *start = p;
        item it;
        if (rd(&p, end, &it) != 0)
            FAIL(duro__e_malformed);
        if (is_key && jsonable) {
            if (it.type != T_STR)
                FAIL("map key is not a string");
            if (memchr(it.data, 0, it.n))
                FAIL("NUL in map key");
        }

        int rc = 0;
        switch (it.type) {
        case T_NIL:
            if (json)
                rc = duro_buf_append(out, "null", 4);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_null());
            break;
        case T_BOOL:
            if (json)
                rc = it.v.b ? duro_buf_append(out, "true", 4) : duro_buf_append(out, "false", 5);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_boolean(it.v.b));
            break;
        case T_UINT:
            if (jsonable && it.v.u > INT64_MAX)
                FAIL("integer out of range");
            if (json)
                rc = duro__put_i64(out, (int64_t)it.v.u);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_integer((json_int_t)it.v.u));
            break;
        case T_INT:
            if (json)
                rc = duro__put_i64(out, it.v.i);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_integer(it.v.i));
            break;
        case T_FLOAT:
            if (jsonable && !isfinite(it.v.d))
                FAIL("non-finite float");
            if (json)
                rc = duro__put_double(out, it.v.d);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_real(it.v.d));
            break;
        case T_STR:
            if (json) {
                if (duro_json_put_str(out, (const char *)it.data, it.n) != 0)
                    FAIL("invalid UTF-8 in string");
            } else if (jsonable && !duro_utf8_valid(it.data, it.n)) {
                FAIL("invalid UTF-8 in string");
            } else if (w->sink == S_TREE && is_key) {
                w->key = it.data;
                w->key_len = it.n;
            } else if (w->sink == S_TREE) {
                rc = tree_add(w, depth, in_map, json_stringn((const char *)it.data, it.n));
            }
            break;
        case T_BIN: /* bytes: {"$bytes": base64} in JSON (codec.h), as it is in msgpack */
            if (jsonable && depth >= max_depth)
                FAIL("nesting too deep"); /* its JSON form is one more level */
            if (json)
                rc = duro_json_put_bytes(out, it.data, it.n);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, duro_json_bytes_new(it.data, it.n));
            break;
        case T_EXT:
            if (!(w->flags & F_TAPE) || it.ext != DURO_TAPE_EXT_JSON || is_key) {
                if (jsonable)
                    FAIL("ext is not supported");
                break;
            }
            if (it.n == 0)
                FAIL("empty JSON text in tape");
            if (json) {
                rc = duro_buf_append(out, it.data, it.n);
            } else if (w->sink == S_MP) {
                if (duro_buf_append(out, w->copy_from, (size_t)(start - w->copy_from)) != 0)
                    FAIL(duro__e_nomem);
                if (duro__ext_json_to_mp(it.data, it.n, out) != 0)
                    FAIL("bad JSON text in tape");
                w->copy_from = p;
            }
            break;
        case T_ARRAY:
        case T_MAP: {
            int map = it.type == T_MAP;
            uint64_t n = map ? 2 * (uint64_t)it.n : it.n;
            if (n > (uint64_t)(end - p))
                FAIL(duro__e_malformed);
            if (depth >= max_depth)
                FAIL("nesting too deep");
            if (json)
                rc = put1(out, map ? '{' : '[');
            else if (w->sink == S_TREE) {
                json_t *c = map ? json_object() : json_array();
                if (tree_add(w, depth, in_map, c) != 0)
                    return -1;
                w->tree[depth] = c;
            }
            st[depth++] = (frame){n, (uint8_t)map, 1};
            break;
        }
        }
        if (rc != 0) {
            if (!w->err)
                w->err = duro__e_nomem;
            return -1;
        }
    }
    *used = (size_t)(p - buf);
    return 0;
}

int duro_mp_check(const void *buf, size_t len, int max_depth, size_t *used)
{
    walker w = {.sink = S_NONE, .max_depth = max_depth};
    size_t n;
    if (!buf || walk(&w, buf, len, &n) != 0)
        return -1;
    if (used)
        *used = n;
    return 0;
}

json_t *duro_mp_to_json(const void *buf, size_t len, const char **err)
{
    const char *dummy;
    size_t used;
    if (!err)
        err = &dummy;
    if (!buf || duro_mp_check(buf, len, DURO_MP_MAX_DEPTH, &used) != 0) {
        *err = duro__e_malformed;
        return NULL;
    }
    if (used != len) {
        *err = "trailing bytes after msgpack value";
        return NULL;
    }
    walker w = {.flags = F_JSONABLE, .sink = S_TREE, .max_depth = DURO_MP_MAX_DEPTH};
    if (walk(&w, buf, len, &used) != 0) {
        json_decref(w.root);
        *err = w.err ? w.err : duro__e_malformed;
        return NULL;
    }
    return w.root;
}

/* Runs the walker with a buffer sink over exactly one object filling
 * buf[0..len); rolls out back on failure. */
int duro__walk_exact(walker *w, const void *buf, size_t len)
{
    size_t mark = w->out->len, used;
    w->copy_from = buf;
    if (!buf || walk(w, buf, len, &used) != 0 || used != len)
        goto fail;
    if (w->sink == S_MP &&
        duro_buf_append(w->out, w->copy_from, (size_t)((const uint8_t *)buf + len - w->copy_from)))
        goto fail;
    return 0;
fail:
    w->out->len = mark;
    return -1;
}

