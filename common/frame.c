/* frame.c — reading the request envelope of the binary protocol (frame.h). */
#include "common/frame.h"

#include "common/codec.h"

_Static_assert(DURO_PROTOCOL_VERSION < 128, "the version is a positive fixint");

const unsigned char duro_frame_pong[DURO_FRAME_PONG_LEN] = {
    0x82,                                             /* map of 2 */
    0xa4, 'p', 'o', 'n', 'g', 0xc3,                   /* "pong": true */
    0xa8, 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l',     /* "protocol": */
    DURO_PROTOCOL_VERSION,
};

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int read_array4(const unsigned char **p, const unsigned char *end)
{
    unsigned char h = **p;
    if (h == 0x94) {
        (*p)++;
        return 0;
    }
    if (h == 0xdc && end - *p >= 3 && be(*p + 1, 2) == 4) {
        *p += 3;
        return 0;
    }
    if (h == 0xdd && end - *p >= 5 && be(*p + 1, 4) == 4) {
        *p += 5;
        return 0;
    }
    return -1;
}

static int read_uint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    if (*p >= end)
        return -1;
    unsigned char h = **p;
    int n = h <= 0x7f ? 0 : h == 0xcc ? 1 : h == 0xcd ? 2 : h == 0xce ? 4 : h == 0xcf ? 8 : -1;
    if (n < 0 || end - *p < 1 + n)
        return -1;
    *v = n == 0 ? h : be(*p + 1, n);
    *p += 1 + n;
    return 0;
}

static int read_str(const unsigned char **p, const unsigned char *end, const char **s,
                    size_t *len)
{
    if (*p >= end)
        return -1;
    unsigned char h = **p;
    int n = (h & 0xe0) == 0xa0 ? 0 : h == 0xd9 ? 1 : h == 0xda ? 2 : h == 0xdb ? 4 : -1;
    if (n < 0 || end - *p < 1 + n)
        return -1;
    uint64_t l = n == 0 ? (uint64_t)(h & 0x1f) : be(*p + 1, n);
    if ((uint64_t)(end - *p - 1 - n) < l)
        return -1;
    *s = (const char *)*p + 1 + n;
    *len = (size_t)l;
    *p += 1 + n + l;
    return 0;
}

int duro_frame_parse(const void *data, size_t n, duro_frame *f)
{
    const unsigned char *p = data, *end = p + n;
    size_t used;
    f->msgid = 0;
    if (duro_mp_check(data, n, DURO_MP_MAX_DEPTH, &used) != 0 || used != n ||
        read_array4(&p, end) != 0 || read_uint(&p, end, &f->msgid) != 0 ||
        read_str(&p, end, &f->op, &f->op_len) != 0 || read_str(&p, end, &f->ns, &f->ns_len) != 0 ||
        p >= end)
        return -1;
    unsigned char h = *p;
    if (!((h & 0xf0) == 0x80 || h == 0xde || h == 0xdf))
        return -1;
    f->args = p;
    f->args_len = (size_t)(end - p);
    return 0;
}
