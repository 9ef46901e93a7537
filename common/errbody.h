/*
 * errbody.h — the error body of every reply, in JSON and in msgpack, written
 * in one place from the status table (include/duro/status.h).
 *
 * The error object is {"code": "<wire code>", "message": "..."}. The HTTP API
 * sends it inside its envelope, {"success": false, "error": {...}}
 * (docs/api.md; DURO_ERRBODY_ENVELOPE); the binary protocol and libduro
 * carry the bare object (docs/protocol.md; DURO_ERRBODY_BARE). Pure code.
 */
#ifndef DURO_ERRBODY_H
#define DURO_ERRBODY_H

#include "common/buf.h"

enum { DURO_ERRBODY_BARE = 0, DURO_ERRBODY_ENVELOPE = 1 };

/* Appends the error body of status (its wire code, duro_status_code()) with
 * message msg (NULL: duro_errstr(status)) to out as compact JSON text; shape
 * is DURO_ERRBODY_BARE or DURO_ERRBODY_ENVELOPE. Returns 0, or -1 on ENOMEM
 * (out may then hold part of the body). */
int duro_errbody_json(duro_buf *out, int shape, int status, const char *msg);

/* The same as one msgpack map: keys and the code as fixstr, the message as a
 * str16 (str32 past 64 KiB) — the bytes the HTTP API has always sent. */
int duro_errbody_mp(duro_buf *out, int shape, int status, const char *msg);

#endif
