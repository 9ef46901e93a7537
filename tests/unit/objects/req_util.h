/*
 * tests/unit/objects/req_util.h — what the request-decoder tests share: the
 * decoders' error message buffer, JSON test input, and the check of an
 * "unknown field" message.
 */
#ifndef DURO_TEST_REQ_UTIL_H
#define DURO_TEST_REQ_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static inline json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
        abort();
    }
    return j;
}

/* 1 if err is exactly `[where: ]unknown field "name"`. */
static inline int names_unknown(const char *where, const char *name)
{
    char want[256];
    snprintf(want, sizeof want, "%s%sunknown field \"%s\"", where ? where : "", where ? ": " : "",
             name);
    if (strcmp(err, want) != 0) {
        fprintf(stderr, "  got \"%s\", want \"%s\"\n", err, want);
        return 0;
    }
    return 1;
}

#endif
