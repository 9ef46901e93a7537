/*
 * fuzz_names.c — the name rules and percent-decoding. The input is split at
 * '\n' into a query string, a parameter name and further pieces; every piece
 * goes through every function, and the rules are checked against each other
 * and against jansson's UTF-8 validator.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/names.h"

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            __builtin_trap();                                                       \
    } while (0)

static void piece(const char *s, size_t n)
{
    int utf8 = duro_utf8_valid(s, n);
    json_t *js = json_stringn(s, n);
    CHECK(utf8 == (js != NULL));
    json_decref(js);

    const char *why = NULL;
    int key = duro_key_valid(s, n, &why);
    CHECK(key == 0 || why);
    CHECK((key == 0) == (n >= 1 && n <= DURO_KEY_MAX && !memchr(s, 0, n) && utf8));
    why = NULL;
    int ns = duro_ns_valid(s, n, &why);
    CHECK(ns == 0 || why);
    if (ns == 0)
        CHECK(key == 0 && n <= DURO_NS_MAX && s[0] != '_' && s[0] != '.');

    char *out = NULL;
    size_t outlen = 0;
    if (duro_pct_decode(s, n, &out, &outlen) == 0) {
        CHECK(out && outlen <= n && out[outlen] == '\0');
        if (!memchr(s, '%', n))
            CHECK(outlen == n && memcmp(out, s, n) == 0);
        duro_key_valid(out, outlen, &why);
        free(out);
    } else {
        CHECK(memchr(s, '%', n));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *parts[2] = {NULL, NULL};
    int i = 0;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        piece(p, (size_t)(e - p));
        if (i < 2)
            parts[i++] = strndup(p, (size_t)(e - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    if (parts[0] && parts[1]) {
        char *out = (char *)1;
        size_t outlen = 7;
        int rc = duro_query_get(parts[0], parts[1], &out, &outlen);
        if (rc == 1) {
            CHECK(out && out[outlen] == '\0' && outlen <= strlen(parts[0]));
            free(out);
        } else {
            CHECK(out == NULL);
        }
    }
    char *a = NULL;
    if (duro_query_get(parts[0], "a", &a, NULL) == 1)
        CHECK(a != NULL);
    free(a);
    free(parts[0]);
    free(parts[1]);
    return 0;
}
