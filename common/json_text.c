/*
 * json_text.c — UTF-8 checks, JSON string escaping and number text, JSON text
 * in (depth-checked before jansson parses it) and jansson trees out as text.
 * See codec.h.
 *
 * DESIGN
 * JSON text is parsed by jansson only after a pre-scan proved that nesting is
 * within DURO_JSON_MAX_DEPTH, so deep inputs never reach jansson's recursive
 * parser. Trees are written back by our own depth-capped emitter, which
 * formats numbers exactly as the msgpack→JSON path does.
 */
#include "common/codec_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

int duro__put_i64(duro_buf *b, int64_t v)
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
int duro__put_double(duro_buf *b, double d)
{
    char tmp[48];
    if (!isfinite(d))
        return -1;
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        /* what "%.17g" prints for these, without the cost of printf */
        if (signbit(d) && d == 0 && put1(b, '-') != 0)
            return -1;
        return duro__put_i64(b, (int64_t)d) || duro_buf_append(b, ".0", 2) ? -1 : 0;
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
    case json_error_out_of_memory: *err = duro__e_nomem; break;
    case json_error_stack_overflow: *err = "JSON nesting too deep"; break;
    case json_error_invalid_utf8: *err = "invalid UTF-8 in JSON"; break;
    case json_error_duplicate_key: *err = "duplicate key in JSON object"; break;
    case json_error_numeric_overflow: *err = "JSON number out of range"; break;
    case json_error_null_byte_in_key: *err = "NUL in JSON object key"; break;
    default: *err = "invalid JSON"; break;
    }
    return NULL;
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
        return duro__put_i64(out, json_integer_value(v));
    case JSON_REAL:
        return duro__put_double(out, json_real_value(v));
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

