/*
 * frame.h — the envelope of a binary-protocol request, and the protocol's
 * version (docs/protocol.md). Pure code: no allocation, no I/O; fuzzed by
 * tests/fuzz/fuzz_frame.c.
 */
#ifndef DURO_FRAME_H
#define DURO_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct duro_frame {
    uint64_t msgid;
    const char *op, *ns; /* not NUL-terminated; point into the frame */
    size_t op_len, ns_len;
    const unsigned char *args; /* one msgpack map, to the end of the frame */
    size_t args_len;
} duro_frame;

/* Parses p[0..n) (the bytes after the length prefix) as
 * [msgid: uint, op: str, ns: str, args: map] after duro_mp_check() accepted
 * the whole of it as exactly one object. Returns 0, or -1 if malformed (then
 * f->msgid holds the msgid if it could be read, else 0). */
int duro_frame_parse(const void *p, size_t n, duro_frame *f);

/* The version of the binary protocol this code speaks. 2: a reply's status is
 * the stable number of the status table (include/duro/status.h); 1 sent
 * HTTP-like numbers (200, 404, ...). */
#define DURO_PROTOCOL_VERSION 2

/* The body of the reply to ping, as msgpack: {"pong": true, "protocol":
 * DURO_PROTOCOL_VERSION}. The server and the embedded client both answer it. */
#define DURO_FRAME_PONG_LEN 17
extern const unsigned char duro_frame_pong[DURO_FRAME_PONG_LEN];

#endif
