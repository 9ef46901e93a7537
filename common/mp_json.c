/*
 * mp_json.c — jansson trees out as msgpack (duro_json_to_mp); an object that
 * is the JSON form of bytes becomes a bin. See codec.h.
 */
#include "common/codec_int.h"

#include <math.h>
#include <string.h>

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

/* ---- jansson trees out ---------------------------------------------------- */

static int tree_to_mp(const json_t *v, duro_buf *out, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= DURO_MP_MAX_DEPTH)
            return -1;
        if (json_object_size(v) == 1 && json_object_get(v, DURO_BYTES_KEY)) {
            /* {"$bytes": base64} is bytes (codec.h) */
            duro_buf bytes = {0};
            int rc = duro_json_bytes(v, &bytes);
            if (rc == 1)
                rc = duro_mp_put_bin_header(out, bytes.len) != 0 ||
                             duro_buf_append(out, bytes.data, bytes.len) != 0
                         ? -1
                         : 2;
            duro_buf_free(&bytes);
            if (rc != 0)
                return rc < 0 ? -1 : 0;
            /* else an ordinary object */
        }
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

