/*
 * sha256.h — SHA-256 (FIPS 180-4), for blob ETags: with the CPU's SHA
 * instructions where it has them (x86 SHA-NI, ~5x libsodium's portable code
 * on this machine, which DEPS.md measures at ~240-310 MiB/s), else portable C.
 * Results are the same bits either way (tests/unit/common/sha256.c checks
 * both against libsodium).
 */
#ifndef DURO_SHA256_H
#define DURO_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct duro_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char buf[64];
    int hw; /* the SHA instructions are used */
} duro_sha256;

void duro_sha256_init(duro_sha256 *c);
void duro_sha256_update(duro_sha256 *c, const void *p, size_t n);
void duro_sha256_final(duro_sha256 *c, unsigned char out[32]);

/* 1 if this CPU's SHA instructions are used. Tests: duro_sha256_portable(1)
 * makes later inits use the portable code. */
int duro_sha256_hw(void);
void duro_sha256_portable(int on);

#endif
