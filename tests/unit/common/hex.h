/*
 * tests/unit/common/hex.h — unhex(), msgpack test inputs written as hex.
 */
#ifndef DURO_TEST_HEX_H
#define DURO_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Decodes hex digits (spaces ignored) into out; returns the byte count. */
static inline size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        int c = *hex, v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

#endif
