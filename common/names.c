/*
 * names.c — namespace and key rules, strict percent-decoding of paths and
 * query strings (see names.h).
 */
#include "common/names.h"

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

int duro_ns_valid(const char *s, size_t n, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || n == 0) {
        *why = "namespace is empty";
        return -1;
    }
    if (n > DURO_NS_MAX) {
        *why = "namespace is longer than 128 bytes";
        return -1;
    }
    if (s[0] == '_' || s[0] == '.') {
        *why = "namespace starts with '_' or '.'";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            *why = "namespace has a character outside [A-Za-z0-9._-]";
            return -1;
        }
    }
    return 0;
}

int duro_key_valid(const char *s, size_t n, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || n == 0) {
        *why = "key is empty";
        return -1;
    }
    if (n > DURO_KEY_MAX) {
        *why = "key is longer than 2048 bytes";
        return -1;
    }
    if (memchr(s, 0, n)) {
        *why = "key contains NUL";
        return -1;
    }
    if (!duro_utf8_valid(s, n)) {
        *why = "key is not valid UTF-8";
        return -1;
    }
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode(const char *src, size_t n, int plus_space, char **out, size_t *outlen)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            if (n - i < 3 || hexval((unsigned char)src[i + 1]) < 0 ||
                hexval((unsigned char)src[i + 2]) < 0)
                return -1;
            i += 2;
        }
        len++;
    }
    char *d = malloc(len + 1);
    if (!d)
        return -1;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            c = (char)(hexval((unsigned char)src[i + 1]) << 4 | hexval((unsigned char)src[i + 2]));
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        d[j++] = c;
    }
    d[j] = '\0';
    *out = d;
    if (outlen)
        *outlen = j;
    return 0;
}

int duro_pct_decode(const char *src, size_t n, char **out, size_t *outlen)
{
    if (!src && n)
        return -1;
    return decode(src ? src : "", n, 0, out, outlen);
}

int duro_query_get(const char *query, const char *name, char **out, size_t *outlen)
{
    *out = NULL;
    if (outlen)
        *outlen = 0;
    if (!query || !name)
        return 0;
    size_t name_len = strlen(name);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *seg_end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        const char *name_end = eq ? eq : seg_end;
        size_t raw_len = (size_t)(name_end - p);
        if (raw_len > 0) {
            int match;
            if (memchr(p, '%', raw_len) || memchr(p, '+', raw_len)) {
                char *dn;
                size_t dn_len;
                if (decode(p, raw_len, 1, &dn, &dn_len) != 0)
                    return -1;
                match = dn_len == name_len && memcmp(dn, name, name_len) == 0;
                free(dn);
            } else {
                match = raw_len == name_len && memcmp(p, name, name_len) == 0;
            }
            if (match) {
                const char *v = eq ? eq + 1 : seg_end;
                return decode(v, (size_t)(seg_end - v), 1, out, outlen) == 0 ? 1 : -1;
            }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}
