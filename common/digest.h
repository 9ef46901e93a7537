/*
 * digest.h — what MD5 (md5.c) and SHA-256 (sha256.c) share: feeding bytes
 * through a 64-byte block buffer, and the final padding with the bit length.
 */
#ifndef DURO_DIGEST_H
#define DURO_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Runs n whole 64-byte blocks at p into the digest's state. */
typedef void duro_blocks_fn(void *state, const unsigned char *p, size_t n);

/* Appends data[0..n) (data may be NULL when n is 0). */
static inline void duro_digest_feed(void *state, unsigned char buf[64], uint64_t *bytes,
                                    duro_blocks_fn *blocks, const void *data, size_t n)
{
    if (n == 0)
        return;
    const unsigned char *p = data;
    size_t used = (size_t)(*bytes & 63);
    *bytes += n;
    if (used) {
        size_t take = 64 - used < n ? 64 - used : n;
        memcpy(buf + used, p, take);
        p += take;
        n -= take;
        if (used + take < 64)
            return;
        blocks(state, buf, 1);
    }
    if (n >= 64) {
        blocks(state, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    memcpy(buf, p, n);
}

/* The padding: 0x80, zeros, the length in bits (big-endian for SHA-256,
 * little-endian for MD5) ending the last block. */
static inline void duro_digest_pad(void *state, unsigned char buf[64], uint64_t *bytes,
                                   duro_blocks_fn *blocks, int big_endian)
{
    static const unsigned char pad[64] = {0x80};
    uint64_t bits = *bytes * 8;
    size_t used = (size_t)(*bytes & 63);
    duro_digest_feed(state, buf, bytes, blocks, pad, used < 56 ? 56 - used : 120 - used);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (big_endian ? 56 - 8 * i : 8 * i));
    duro_digest_feed(state, buf, bytes, blocks, len, 8);
}

#endif
