/*
 * bytes.c — the JSON form of bytes, {"$bytes":"<standard base64>"} (see
 * codec.h, BYTES), and the msgpack bin header. Base64 is libsodium's
 * (sodium_bin2base64 / sodium_base642bin, variant ORIGINAL: padded, no
 * whitespace, non-canonical trailing bits refused) after our own check of the
 * alphabet, so every bytes value has exactly one JSON spelling and
 * round-trips exactly.
 */
#include "common/codec_int.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char OPEN[] = "{\"" DURO_BYTES_KEY "\":\"";

int duro_json_put_bytes(duro_buf *out, const void *p, size_t n)
{
    size_t mark = out->len;
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return -1;
    size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL); /* with NUL */
    if (duro_buf_reserve(out, sizeof OPEN - 1 + b64 + 2) != 0)
        return -1;
    memcpy(out->data + out->len, OPEN, sizeof OPEN - 1);
    out->len += sizeof OPEN - 1;
    sodium_bin2base64(out->data + out->len, b64, n ? p : (const void *)"", n,
                      sodium_base64_VARIANT_ORIGINAL);
    out->len += b64 - 1;
    if (duro_buf_append(out, "\"}", 2) != 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}

json_t *duro_json_bytes_new(const void *p, size_t n)
{
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(b64);
    if (!s)
        return NULL;
    sodium_bin2base64(s, b64, n ? p : (const void *)"", n, sodium_base64_VARIANT_ORIGINAL);
    json_t *str = json_stringn_nocheck(s, b64 - 1);
    free(s);
    json_t *o = str ? json_object() : NULL;
    if (!o || json_object_set_new_nocheck(o, DURO_BYTES_KEY, str) != 0) {
        json_decref(o);
        json_decref(str);
        return NULL;
    }
    return o;
}

/* 1 if s[0..n) is made of the standard alphabet with at most two '=' at the
 * end and n % 4 == 0. libsodium 1.0.18's decoder takes some bytes >= 0x80 for
 * alphabet characters (it reads them as signed chars), so this comes first. */
static int b64_shape(const char *s, size_t n)
{
    if (n % 4 != 0)
        return 0;
    size_t pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

int duro_json_bytes(const json_t *v, duro_buf *out)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return 0;
    const json_t *s = json_object_get(v, DURO_BYTES_KEY);
    if (!json_is_string(s))
        return 0;
    const char *b64 = json_string_value(s);
    size_t n = json_string_length(s);
    if (!b64_shape(b64, n))
        return 0;
    size_t max = n / 4 * 3, len = 0;
    const char *end = NULL;
    if (!out) {
        /* validate only: decode in chunks into a small buffer */
        unsigned char tmp[768];
        for (size_t off = 0; off < n; off += 1024) {
            size_t k = n - off < 1024 ? n - off : 1024;
            if (sodium_base642bin(tmp, sizeof tmp, b64 + off, k, NULL, &len, &end,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 ||
                end != b64 + off + k)
                return 0;
            if (off + k < n && len != sizeof tmp)
                return 0; /* padding before the end */
        }
        return 1;
    }
    size_t mark = out->len;
    if (duro_buf_reserve(out, max + 1) != 0)
        return -1;
    if (sodium_base642bin((unsigned char *)out->data + out->len, max + 1, b64, n, NULL, &len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + n) {
        out->len = mark;
        return 0;
    }
    out->len += len;
    return 1;
}

static int has_bytes(const json_t *v, int depth)
{
    if (depth > DURO_MP_MAX_DEPTH)
        return 0;
    if (json_is_object(v)) {
        if (duro_json_bytes(v, NULL) == 1)
            return 1;
        json_t *obj = (json_t *)v;
        for (void *i = json_object_iter(obj); i; i = json_object_iter_next(obj, i))
            if (has_bytes(json_object_iter_value(i), depth + 1))
                return 1;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (has_bytes(json_array_get(v, i), depth + 1))
                return 1;
    }
    return 0;
}

int duro_json_has_bytes(const json_t *v) { return v ? has_bytes(v, 0) : 0; }

int duro_mp_put_bin_header(duro_buf *out, size_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n <= 0xff) {
        h[0] = 0xc4;
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n <= 0xffff) {
        h[0] = 0xc5;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        hl = 3;
    } else if (n <= 0xffffffffu) {
        h[0] = 0xc6;
        h[1] = (uint8_t)(n >> 24);
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        hl = 5;
    } else {
        return -1;
    }
    return duro_buf_append(out, h, hl);
}

int duro_mp_is_bin(const void *buf, size_t len, const void **p, size_t *n)
{
    const uint8_t *b = buf;
    if (!b || len < 2)
        return 0;
    size_t w = b[0] == 0xc4 ? 1 : b[0] == 0xc5 ? 2 : b[0] == 0xc6 ? 4 : 0;
    if (!w || len < 1 + w)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < w; i++)
        k = k << 8 | b[1 + i];
    if (k != len - 1 - w)
        return 0;
    *p = b + 1 + w;
    *n = k;
    return 1;
}
