/* mp_fields.c — reading a small flat msgpack map (see mp_fields.h). */
#include "common/mp_fields.h"

#include <string.h>

static int read_fields(const unsigned char *p, size_t n, duro_mp_field *f, int *count)
{
    const unsigned char *end = p + n;
    if (n < 1 || (*p & 0xf0) != 0x80 || (*p & 0x0f) > DURO_MP_FIELDS_MAX)
        return -1;
    int c = *p++ & 0x0f;
    for (int i = 0; i < c; i++) {
        if (p >= end || (*p & 0xe0) != 0xa0)
            return -1;
        f[i].kl = *p & 0x1f;
        f[i].k = (const char *)p + 1;
        p += 1 + f[i].kl;
        if (p >= end)
            return -1;
        unsigned char h = *p;
        if ((h & 0xe0) == 0xa0 || h == 0xd9 || h == 0xda) {
            size_t hl = (h & 0xe0) == 0xa0 ? 1 : h == 0xd9 ? 2 : 3;
            if ((size_t)(end - p) < hl)
                return -1;
            size_t l = hl == 1 ? (size_t)(h & 0x1f) : hl == 2 ? p[1] : (size_t)p[1] << 8 | p[2];
            if ((size_t)(end - p) < hl + l)
                return -1;
            f[i].type = 's';
            f[i].s = (const char *)p + hl;
            f[i].sl = l;
            p += hl + l;
        } else if (h <= 0x7f || (h >= 0xcc && h <= 0xcf)) {
            int nb = h <= 0x7f ? 0 : 1 << (h - 0xcc);
            if (end - p < 1 + nb)
                return -1;
            uint64_t v = nb ? 0 : h;
            for (int j = 1; j <= nb; j++)
                v = v << 8 | p[j];
            f[i].type = 'u';
            f[i].u = v;
            p += 1 + nb;
        } else if (h == 0xc2 || h == 0xc3) {
            f[i].type = 'b';
            f[i].u = h == 0xc3;
            p++;
        } else {
            return -1;
        }
    }
    *count = c;
    return p == end ? 0 : -1;
}

/* 1 if two of the c fields have the same key (the general path then answers
 * 400, as for any duplicate key). */
static int has_duplicate(const duro_mp_field *f, int c)
{
    for (int i = 1; i < c; i++)
        for (int j = 0; j < i; j++)
            if (f[i].kl == f[j].kl && memcmp(f[i].k, f[j].k, f[i].kl) == 0)
                return 1;
    return 0;
}

int duro_mp_fields(const unsigned char *p, size_t n, duro_mp_field f[DURO_MP_FIELDS_MAX],
                   int *count)
{
    return read_fields(p, n, f, count) != 0 || has_duplicate(f, *count) ? -1 : 0;
}
