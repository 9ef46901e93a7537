/*
 * md5.c — MD5 after RFC 1321 (md5.h).
 */
#include "common/md5.h"

#include "common/digest.h"

#include <string.h>

static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391};

#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define STEP(f, a, b, c, d, x, k, s)                                               \
    do {                                                                           \
        (a) += f((b), (c), (d)) + (x) + (k);                                       \
        (a) = ((a) << (s) | (a) >> (32 - (s))) + (b);                              \
    } while (0)

/* One 64-byte block, the 64 steps written out (the rolled loop with its
 * per-step branches ran at two thirds of this speed). */
static void block(uint32_t h[4], const unsigned char *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16 |
               (uint32_t)p[i * 4 + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 16; i += 4) {
        STEP(F, a, b, c, d, w[i], K[i], 7);
        STEP(F, d, a, b, c, w[i + 1], K[i + 1], 12);
        STEP(F, c, d, a, b, w[i + 2], K[i + 2], 17);
        STEP(F, b, c, d, a, w[i + 3], K[i + 3], 22);
    }
    for (int i = 16; i < 32; i += 4) {
        STEP(G, a, b, c, d, w[(5 * i + 1) & 15], K[i], 5);
        STEP(G, d, a, b, c, w[(5 * i + 6) & 15], K[i + 1], 9);
        STEP(G, c, d, a, b, w[(5 * i + 11) & 15], K[i + 2], 14);
        STEP(G, b, c, d, a, w[(5 * i + 16) & 15], K[i + 3], 20);
    }
    for (int i = 32; i < 48; i += 4) {
        STEP(H, a, b, c, d, w[(3 * i + 5) & 15], K[i], 4);
        STEP(H, d, a, b, c, w[(3 * i + 8) & 15], K[i + 1], 11);
        STEP(H, c, d, a, b, w[(3 * i + 11) & 15], K[i + 2], 16);
        STEP(H, b, c, d, a, w[(3 * i + 14) & 15], K[i + 3], 23);
    }
    for (int i = 48; i < 64; i += 4) {
        STEP(I, a, b, c, d, w[(7 * i) & 15], K[i], 6);
        STEP(I, d, a, b, c, w[(7 * i + 7) & 15], K[i + 1], 10);
        STEP(I, c, d, a, b, w[(7 * i + 14) & 15], K[i + 2], 15);
        STEP(I, b, c, d, a, w[(7 * i + 21) & 15], K[i + 3], 21);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void duro_md5_init(duro_md5 *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->bytes = 0;
}

/* duro_blocks_fn over the MD5 state. */
static void md5_blocks(void *state, const unsigned char *p, size_t n)
{
    for (; n--; p += 64)
        block(state, p);
}

void duro_md5_update(duro_md5 *c, const void *data, size_t n)
{
    duro_digest_feed(c->h, c->buf, &c->bytes, md5_blocks, data, n);
}

void duro_md5_final(duro_md5 *c, unsigned char out[16])
{
    duro_digest_pad(c->h, c->buf, &c->bytes, md5_blocks, 0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[i * 4 + j] = (unsigned char)(c->h[i] >> (8 * j));
}
