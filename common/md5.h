/*
 * md5.h — MD5 (RFC 1321), for checking a client's Content-MD5 and for the
 * ETags S3 clients compare with the MD5 of a body. Not for security: none of
 * the libraries duro links (libsodium offers SHA-2 and BLAKE2b) has MD5.
 */
#ifndef DURO_MD5_H
#define DURO_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct duro_md5 {
    uint32_t h[4];
    uint64_t bytes;
    unsigned char buf[64];
} duro_md5;

void duro_md5_init(duro_md5 *c);
void duro_md5_update(duro_md5 *c, const void *p, size_t n);
void duro_md5_final(duro_md5 *c, unsigned char out[16]);

#endif
