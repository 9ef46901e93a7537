/*
 * range.c — the Range header of a GET (range.h).
 */
#include "common/range.h"

#include <string.h>

/* Reads the decimal at *p (1..19 digits) into *v and advances *p. 0, or -1. */
static int number(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 19)
            return -1;
        n = n * 10 + (uint64_t)(*s++ - '0');
    }
    if (!digits)
        return -1;
    *v = n;
    *p = s;
    return 0;
}

static void skip_ows(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

int duro_range_parse(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (!h)
        return DURO_RANGE_NONE;
    skip_ows(&h);
    if (strncmp(h, "bytes=", 6) != 0)
        return DURO_RANGE_NONE;
    const char *p = h + 6;
    skip_ows(&p);
    uint64_t a = 0, b = 0;
    int suffix = *p == '-', open_end = 0;
    if (suffix) {
        p++;
        if (number(&p, &b) != 0)
            return DURO_RANGE_NONE;
    } else {
        if (number(&p, &a) != 0 || *p++ != '-')
            return DURO_RANGE_NONE;
        if (*p >= '0' && *p <= '9') {
            if (number(&p, &b) != 0 || b < a)
                return DURO_RANGE_NONE;
        } else {
            open_end = 1;
        }
    }
    skip_ows(&p);
    if (*p) /* several ranges (","), or junk: ignored */
        return DURO_RANGE_NONE;
    if (suffix) {
        if (b == 0 || size == 0)
            return DURO_RANGE_UNSATISFIABLE;
        *len = b < size ? b : size;
        *off = size - *len;
        return DURO_RANGE_PARTIAL;
    }
    if (a >= size)
        return DURO_RANGE_UNSATISFIABLE;
    uint64_t last = open_end || b >= size ? size - 1 : b;
    *off = a;
    *len = last - a + 1;
    return DURO_RANGE_PARTIAL;
}
