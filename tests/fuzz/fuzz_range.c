/*
 * fuzz_range.c — the Range header (common/range.c). The input is the header,
 * then after a '\n' the object's size in decimal; every answer is checked:
 * a partial range lies inside the object and is not empty, and the header is
 * never read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/range.h"

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            __builtin_trap();                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - (const char *)data) : size;
    char *h = strndup((const char *)data, hl);
    uint64_t obj = 0;
    if (nl) {
        char *s = strndup(nl + 1, size - hl - 1);
        obj = strtoull(s, NULL, 10);
        free(s);
    }
    uint64_t off = 7, len = 7;
    int rc = duro_range_parse(h, obj, &off, &len);
    CHECK(rc == DURO_RANGE_NONE || rc == DURO_RANGE_PARTIAL || rc == DURO_RANGE_UNSATISFIABLE);
    if (rc == DURO_RANGE_PARTIAL) {
        CHECK(len >= 1 && off < obj && len <= obj - off);
    } else {
        CHECK(off == 7 && len == 7); /* untouched */
    }
    if (obj == 0)
        CHECK(rc != DURO_RANGE_PARTIAL);
    free(h);
    return 0;
}
