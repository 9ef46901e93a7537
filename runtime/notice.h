/*
 * notice.h — change notices: what a namespace's owner tells the registry
 * after a commit.
 *
 * While an op runs, an object kind that owns registry resources (KV keys,
 * registered resources) appends one record per change to ns->notes. After the
 * namespace's COMMIT the actor hands the buffer to the registry (runtime/
 * registry.h) before it posts the batch's replies; on ROLLBACK the buffer is
 * emptied. So the registry sees exactly the committed changes, in commit order,
 * and sees them before the writer is acknowledged.
 *
 * Records are packed native-endian (producer and consumer are one process):
 *   u8 op, u8 type_len, type, u32 key_len, key,
 *   and for PUT: i64 size, created, updated, expires (0 = none),
 *                u32 meta_len (UINT32_MAX = no metadata), meta
 * CLEAR has no key (key_len 0): every resource of the type in the namespace.
 */
#ifndef DURO_NOTICE_H
#define DURO_NOTICE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum { DURO_NOTICE_PUT = 1, DURO_NOTICE_DEL, DURO_NOTICE_CLEAR };

#define DURO_RESOURCE_TYPE_MAX 64

typedef struct duro_notice {
    int op;
    const char *type;
    size_t type_len;
    const char *key;
    size_t key_len;
    int64_t size, created_at, updated_at, expires_at;
    const char *meta; /* NULL: none */
    size_t meta_len;
} duro_notice;

/* Appends a record. 0, or -1 when out of memory (the buffer is unchanged). */
int duro_notice_add(duro_buf *b, const duro_notice *n);

/* Reads the record at *p (before end) and advances *p. 1 read, 0 at the end,
 * -1 on a malformed buffer. Pointers in n borrow from the buffer. */
int duro_notice_next(const char **p, const char *end, duro_notice *n);

#endif
