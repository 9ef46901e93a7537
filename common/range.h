/*
 * range.h — the HTTP Range header of a GET (RFC 9110 §14): one byte range of
 * an object of known size. Pure (fuzzed: tests/fuzz/fuzz_range.c).
 */
#ifndef DURO_RANGE_H
#define DURO_RANGE_H

#include <stdint.h>

enum {
    DURO_RANGE_NONE = 0,      /* no usable range: send the whole object (200) */
    DURO_RANGE_PARTIAL = 1,   /* send [*off, *off + *len) (206) */
    DURO_RANGE_UNSATISFIABLE = 2 /* 416, with Content-Range: bytes * / size */
};

/* Reads h (the header's value, or NULL) against an object of size bytes:
 *   "bytes=A-B"  A..B inclusive (B past the end is clamped),
 *   "bytes=A-"   A to the end,
 *   "bytes=-N"   the last N bytes (all of them if N >= size);
 * A at or past the end, or a suffix of 0 bytes: DURO_RANGE_UNSATISFIABLE.
 * Anything else — another unit, B < A, several ranges, junk, numbers over
 * 19 digits — is ignored as the RFC allows (DURO_RANGE_NONE). */
int duro_range_parse(const char *h, uint64_t size, uint64_t *off, uint64_t *len);

#endif
