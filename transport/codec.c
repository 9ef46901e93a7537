/*
 * codec.c — JSON and msgpack on the wire, stored values between encodings, and
 * the reply tape (see codec.h).
 *
 * DESIGN
 * All msgpack reading goes through one bounded reader, rd(), and one
 * non-recursive walker, walk(), with an explicit stack of at most STACK_MAX
 * frames on the C stack. The walker validates (structure always; with
 * F_JSONABLE also the JSON data model) and feeds one of four sinks: nothing
 * (duro_mp_check), JSON text (values and tapes, written straight into a
 * duro_buf, no jansson on the reply path), msgpack (tapes: verbatim spans are
 * copied, only ext-JSON items are converted) or a jansson tree (requests).
 * msgpack-c is never used for decoding here. Every appending function rolls
 * the output buffer back to its original length on failure.
 *
 * JSON text is parsed by jansson only after a pre-scan proved that nesting is
 * within DURO_JSON_MAX_DEPTH, so deep inputs never reach jansson's recursive
 * parser. Trees are written back by our own depth-capped emitter, which
 * formats numbers exactly as the msgpack→JSON path does.
 */
#include "transport/codec.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STACK_MAX 256
#define TAPE_MAX_DEPTH (2 * DURO_MP_MAX_DEPTH)
#define TEXT_MAX_DEPTH (2 * DURO_JSON_MAX_DEPTH)

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the well-formed sequence starting at p (p < e), or 0. */
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *e)
{
    uint8_t c = p[0];
    size_t left = (size_t)(e - p);
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0)
        return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        if (left < 3)
            return 0;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c < 0xf5) {
        if (left < 4)
            return 0;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

int duro_utf8_valid(const void *s, size_t n)
{
    if (n == 0)
        return 1;
    const uint8_t *p = s, *e = p + n;
    while (p < e) {
        if ((size_t)(e - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (!(w & 0x8080808080808080ull)) {
                p += 8;
                continue;
            }
        }
        size_t k = utf8_seq(p, e);
        if (!k)
            return 0;
        p += k;
    }
    return 1;
}

/* ---- JSON text output ----------------------------------------------------- */

static inline int put1(duro_buf *b, char c)
{
    if (b->len == b->cap && duro_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

int duro_json_put_str(duro_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t mark = out->len;
    if (!s)
        s = "";
    const uint8_t *p = (const uint8_t *)s, *e = p + n;
    if (duro_buf_reserve(out, n + 2) != 0)
        return -1;
    out->data[out->len++] = '"';
    while (p < e) {
        const uint8_t *run = p;
        while (p < e) {
            uint8_t c = *p;
            if (c >= 0x80) {
                size_t k = utf8_seq(p, e);
                if (!k)
                    goto fail;
                p += k;
            } else if (c >= 0x20 && c != '"' && c != '\\') {
                p++;
            } else {
                break;
            }
        }
        if (duro_buf_append(out, run, (size_t)(p - run)) != 0)
            goto fail;
        if (p == e)
            break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            elen = 6;
        }
        if (duro_buf_append(out, esc, elen) != 0)
            goto fail;
        p++;
    }
    if (put1(out, '"') != 0)
        goto fail;
    return 0;
fail:
    out->len = mark;
    return -1;
}

static int put_i64(duro_buf *b, int64_t v)
{
    char tmp[24];
    char *q = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return duro_buf_append(b, q, (size_t)(tmp + sizeof tmp - q));
}

/* "%.17g" round-trips every double; ".0" keeps integral reals reals, as jansson
 * does. Non-finite values have no JSON form. */
static int put_double(duro_buf *b, double d)
{
    char tmp[48];
    if (!isfinite(d))
        return -1;
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        /* what "%.17g" prints for these, without the cost of printf */
        if (signbit(d) && d == 0 && put1(b, '-') != 0)
            return -1;
        return put_i64(b, (int64_t)d) || duro_buf_append(b, ".0", 2) ? -1 : 0;
    }
    int n = snprintf(tmp, sizeof tmp - 2, "%.17g", d);
    if (n <= 0 || (size_t)n >= sizeof tmp - 2)
        return -1;
    int real = 0;
    for (int i = 0; i < n; i++) {
        if (tmp[i] == ',')
            tmp[i] = '.';
        if (tmp[i] == '.' || tmp[i] == 'e')
            real = 1;
    }
    if (!real) {
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    return duro_buf_append(b, tmp, (size_t)n);
}

/* ---- msgpack output ------------------------------------------------------- */

static inline void be_store(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int mp_put_tagged(duro_buf *b, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t tmp[9];
    tmp[0] = tag;
    be_store(tmp + 1, v, bytes);
    return duro_buf_append(b, tmp, (size_t)bytes + 1);
}

static int mp_put_int(duro_buf *b, int64_t v)
{
    if (v >= 0) {
        if (v <= 0x7f)
            return put1(b, (char)v);
        if (v <= 0xff)
            return mp_put_tagged(b, 0xcc, (uint64_t)v, 1);
        if (v <= 0xffff)
            return mp_put_tagged(b, 0xcd, (uint64_t)v, 2);
        if (v <= 0xffffffffll)
            return mp_put_tagged(b, 0xce, (uint64_t)v, 4);
        return mp_put_tagged(b, 0xcf, (uint64_t)v, 8);
    }
    if (v >= -32)
        return put1(b, (char)(uint8_t)(int8_t)v);
    if (v >= INT8_MIN)
        return mp_put_tagged(b, 0xd0, (uint64_t)v, 1);
    if (v >= INT16_MIN)
        return mp_put_tagged(b, 0xd1, (uint64_t)v, 2);
    if (v >= INT32_MIN)
        return mp_put_tagged(b, 0xd2, (uint64_t)v, 4);
    return mp_put_tagged(b, 0xd3, (uint64_t)v, 8);
}

static int mp_put_double(duro_buf *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return mp_put_tagged(b, 0xcb, bits, 8);
}

static int mp_put_str(duro_buf *b, const char *s, size_t n)
{
    int rc;
    if (n < 32)
        rc = put1(b, (char)(0xa0 | n));
    else if (n <= 0xff)
        rc = mp_put_tagged(b, 0xd9, n, 1);
    else if (n <= 0xffff)
        rc = mp_put_tagged(b, 0xda, n, 2);
    else if (n <= 0xffffffffu)
        rc = mp_put_tagged(b, 0xdb, n, 4);
    else
        return -1;
    return rc ? rc : duro_buf_append(b, s, n);
}

static int mp_put_container(duro_buf *b, int map, size_t n)
{
    if (n < 16)
        return put1(b, (char)((map ? 0x80 : 0x90) | n));
    if (n <= 0xffff)
        return mp_put_tagged(b, map ? 0xde : 0xdc, n, 2);
    if (n <= 0xffffffffu)
        return mp_put_tagged(b, map ? 0xdf : 0xdd, n, 4);
    return -1;
}

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

enum { S_NONE, S_JSON, S_MP, S_TREE };
#define F_JSONABLE 1 /* only the JSON data model (codec.h) */
#define F_TAPE 2     /* ext DURO_TAPE_EXT_JSON allowed: raw JSON text */

typedef struct frame {
    uint64_t left; /* items still to read; maps count keys and values */
    uint8_t map;
    uint8_t first;
} frame;

typedef struct walker {
    int flags;
    int sink;
    int max_depth;
    const char *err;
    duro_buf *out;            /* S_JSON, S_MP */
    const uint8_t *copy_from; /* S_MP: start of the bytes not yet copied */
    json_t *root;             /* S_TREE */
    json_t *tree[STACK_MAX];
    const uint8_t *key;
    size_t key_len;
} walker;

#define FAIL(msg)                                                                   \
    do {                                                                            \
        w->err = (msg);                                                             \
        return -1;                                                                  \
    } while (0)

static const char E_MALFORMED[] = "malformed msgpack";
static const char E_NOMEM[] = "out of memory";

static int ext_json_to_mp(const uint8_t *s, size_t n, duro_buf *out);

/* Hands a new value to the tree sink: becomes the root, or goes into the
 * innermost container (under the pending key for maps). Steals v. */
static int tree_add(walker *w, int depth, int in_map, json_t *v)
{
    if (!v)
        FAIL(E_NOMEM);
    if (depth == 0) {
        w->root = v;
        return 0;
    }
    json_t *parent = w->tree[depth - 1];
    if (!in_map) {
        if (json_array_append_new(parent, v) != 0)
            FAIL(E_NOMEM);
        return 0;
    }
    if (json_object_getn(parent, (const char *)w->key, w->key_len)) {
        json_decref(v);
        FAIL("duplicate key");
    }
    if (json_object_setn_new(parent, (const char *)w->key, w->key_len, v) != 0)
        FAIL(E_NOMEM);
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
                FAIL(E_NOMEM);
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
                    FAIL(E_NOMEM);
            }
            f->first = 0;
            f->left--;
        }

        const uint8_t *start = p;
        item it;
        if (rd(&p, end, &it) != 0)
            FAIL(E_MALFORMED);
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
                rc = put_i64(out, (int64_t)it.v.u);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_integer((json_int_t)it.v.u));
            break;
        case T_INT:
            if (json)
                rc = put_i64(out, it.v.i);
            else if (w->sink == S_TREE)
                rc = tree_add(w, depth, in_map, json_integer(it.v.i));
            break;
        case T_FLOAT:
            if (jsonable && !isfinite(it.v.d))
                FAIL("non-finite float");
            if (json)
                rc = put_double(out, it.v.d);
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
        case T_BIN:
            if (jsonable)
                FAIL("bin is not supported");
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
                    FAIL(E_NOMEM);
                if (ext_json_to_mp(it.data, it.n, out) != 0)
                    FAIL("bad JSON text in tape");
                w->copy_from = p;
            }
            break;
        case T_ARRAY:
        case T_MAP: {
            int map = it.type == T_MAP;
            uint64_t n = map ? 2 * (uint64_t)it.n : it.n;
            if (n > (uint64_t)(end - p))
                FAIL(E_MALFORMED);
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
                w->err = E_NOMEM;
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
        *err = E_MALFORMED;
        return NULL;
    }
    if (used != len) {
        *err = "trailing bytes after msgpack value";
        return NULL;
    }
    walker w = {.flags = F_JSONABLE, .sink = S_TREE, .max_depth = DURO_MP_MAX_DEPTH};
    if (walk(&w, buf, len, &used) != 0) {
        json_decref(w.root);
        *err = w.err ? w.err : E_MALFORMED;
        return NULL;
    }
    return w.root;
}

/* Runs the walker with a buffer sink over exactly one object filling
 * buf[0..len); rolls out back on failure. */
static int walk_exact(walker *w, const void *buf, size_t len)
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

/* ---- JSON text in --------------------------------------------------------- */

/* 1 if no prefix of s that a JSON lexer would accept nests deeper than max.
 * Stops at the first closing bracket without an opener: jansson rejects the
 * text there anyway. */
static int json_depth_ok(const uint8_t *s, size_t n, int max)
{
    const uint8_t *p = s, *e = s + n;
    int depth = 0;
    while (p < e) {
        uint8_t c = *p++;
        if (c == '"') {
            while (p < e) {
                c = *p++;
                if (c == '\\')
                    p += p < e;
                else if (c == '"')
                    break;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if (c == ']' || c == '}') {
            if (--depth < 0)
                return 1;
        }
    }
    return 1;
}

json_t *duro_json_parse(const void *buf, size_t len, const char **err)
{
    const char *dummy;
    json_error_t je;
    if (!err)
        err = &dummy;
    if (!buf) {
        *err = "invalid JSON";
        return NULL;
    }
    if (!json_depth_ok(buf, len, DURO_JSON_MAX_DEPTH)) {
        *err = "JSON nesting too deep";
        return NULL;
    }
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY;
    json_t *v = json_loadb(buf, len, flags, &je);
    if (v)
        return v;
    switch (json_error_code(&je)) {
    case json_error_out_of_memory: *err = E_NOMEM; break;
    case json_error_stack_overflow: *err = "JSON nesting too deep"; break;
    case json_error_invalid_utf8: *err = "invalid UTF-8 in JSON"; break;
    case json_error_duplicate_key: *err = "duplicate key in JSON object"; break;
    case json_error_numeric_overflow: *err = "JSON number out of range"; break;
    case json_error_null_byte_in_key: *err = "NUL in JSON object key"; break;
    default: *err = "invalid JSON"; break;
    }
    return NULL;
}

/* ---- jansson trees out ---------------------------------------------------- */

static int tree_to_mp(const json_t *v, duro_buf *out, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= DURO_MP_MAX_DEPTH)
            return -1;
        if (mp_put_container(out, 1, json_object_size(v)) != 0)
            return -1;
        json_t *obj = (json_t *)v;
        for (void *i = json_object_iter(obj); i; i = json_object_iter_next(obj, i)) {
            if (mp_put_str(out, json_object_iter_key(i), json_object_iter_key_len(i)) != 0 ||
                tree_to_mp(json_object_iter_value(i), out, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (depth >= DURO_MP_MAX_DEPTH)
            return -1;
        if (mp_put_container(out, 0, n) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (tree_to_mp(json_array_get(v, i), out, depth + 1) != 0)
                return -1;
        return 0;
    }
    case JSON_STRING:
        return mp_put_str(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return mp_put_int(out, json_integer_value(v));
    case JSON_REAL:
        return isfinite(json_real_value(v)) ? mp_put_double(out, json_real_value(v)) : -1;
    case JSON_TRUE:
        return put1(out, (char)0xc3);
    case JSON_FALSE:
        return put1(out, (char)0xc2);
    case JSON_NULL:
        return put1(out, (char)0xc0);
    }
    return -1;
}

int duro_json_to_mp(const json_t *v, duro_buf *out)
{
    size_t mark = out->len;
    if (!v || tree_to_mp(v, out, 0) != 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}

static int tree_to_text(const json_t *v, duro_buf *out, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= TEXT_MAX_DEPTH || put1(out, '{') != 0)
            return -1;
        int first = 1;
        json_t *obj = (json_t *)v;
        for (void *i = json_object_iter(obj); i; i = json_object_iter_next(obj, i)) {
            if (!first && put1(out, ',') != 0)
                return -1;
            first = 0;
            if (duro_json_put_str(out, json_object_iter_key(i), json_object_iter_key_len(i)) ||
                put1(out, ':') != 0 || tree_to_text(json_object_iter_value(i), out, depth + 1))
                return -1;
        }
        return put1(out, '}');
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (depth >= TEXT_MAX_DEPTH || put1(out, '[') != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if ((i && put1(out, ',') != 0) || tree_to_text(json_array_get(v, i), out, depth + 1))
                return -1;
        }
        return put1(out, ']');
    }
    case JSON_STRING:
        return duro_json_put_str(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_i64(out, json_integer_value(v));
    case JSON_REAL:
        return put_double(out, json_real_value(v));
    case JSON_TRUE:
        return duro_buf_append(out, "true", 4);
    case JSON_FALSE:
        return duro_buf_append(out, "false", 5);
    case JSON_NULL:
        return duro_buf_append(out, "null", 4);
    }
    return -1;
}

int duro_json_to_text(const json_t *v, duro_buf *out)
{
    size_t mark = out->len;
    if (!v || tree_to_text(v, out, 0) != 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}

/* ---- stored values and tapes ---------------------------------------------- */

static int ext_json_to_mp(const uint8_t *s, size_t n, duro_buf *out)
{
    json_t *v = duro_json_parse(s, n, NULL);
    if (!v)
        return -1;
    int rc = duro_json_to_mp(v, out);
    json_decref(v);
    return rc;
}

int duro_value_to_json(int enc, const void *v, size_t n, duro_buf *out)
{
    if (enc == DURO_ENC_JSON)
        return v || n == 0 ? duro_buf_append(out, v, n) : -1;
    if (enc != DURO_ENC_MSGPACK)
        return -1;
    walker w = {.flags = F_JSONABLE, .sink = S_JSON, .max_depth = DURO_MP_MAX_DEPTH, .out = out};
    return walk_exact(&w, v, n);
}

int duro_value_to_mp(int enc, const void *v, size_t n, duro_buf *out)
{
    if (enc == DURO_ENC_MSGPACK)
        return v || n == 0 ? duro_buf_append(out, v, n) : -1;
    if (enc != DURO_ENC_JSON || !v)
        return -1;
    return ext_json_to_mp(v, n, out);
}

int duro_tape_to_json(const void *tape, size_t len, duro_buf *out)
{
    walker w = {.flags = F_JSONABLE | F_TAPE, .sink = S_JSON, .max_depth = TAPE_MAX_DEPTH,
                .out = out};
    return walk_exact(&w, tape, len);
}

int duro_tape_to_mp(const void *tape, size_t len, duro_buf *out)
{
    walker w = {.flags = F_JSONABLE | F_TAPE, .sink = S_MP, .max_depth = TAPE_MAX_DEPTH,
                .out = out};
    return walk_exact(&w, tape, len);
}
