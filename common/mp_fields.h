/*
 * mp_fields.h — reading a small flat msgpack map without a tree: the fast
 * path of the hot ops' decoders (objects/kv_req.c, objects/ratelimit_req.c).
 *
 * Only a fixmap of up to DURO_MP_FIELDS_MAX fixstr keys whose values are
 * strings, unsigned integers or booleans is read; any other shape (and a
 * duplicate key) is refused, and the caller takes its general path, which
 * then gives the same answers and errors.
 */
#ifndef DURO_MP_FIELDS_H
#define DURO_MP_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DURO_MP_FIELDS_MAX 8

typedef struct duro_mp_field {
    const char *k;
    size_t kl;
    char type; /* 's', 'u' or 'b' */
    const char *s;
    size_t sl;
    uint64_t u;
} duro_mp_field;

/* Reads the map p[0..n) into f[0..*count). 0, or -1 if it has another shape
 * or a key twice. */
int duro_mp_fields(const unsigned char *p, size_t n, duro_mp_field f[DURO_MP_FIELDS_MAX],
                   int *count);

/* 1 if f's key is name (inline: the decoders' names are literals, so their
 * lengths fold). */
static inline int duro_mp_field_is(const duro_mp_field *f, const char *name)
{
    return f->kl == strlen(name) && memcmp(f->k, name, f->kl) == 0;
}

#endif
