/*
 * object.h — how the runtime runs an object kind.
 *
 * An object kind is plain code over a duro_ns: it does no I/O of its own,
 * starts no threads and knows nothing of HTTP. The actor calls exec() for each
 * message of the kind, inside the namespace's open transaction when is_write()
 * says the op writes; exec() returns a duro_status and fills m's reply.
 * A return of DURO_INTERNAL, DURO_IO, DURO_NOMEM or DURO_INSUFFICIENT_STORAGE
 * means storage failed: the actor rolls the namespace's transaction back and
 * fails every write of that batch. Other statuses are ordinary answers
 * (404, 412, ...) that leave the transaction alone.
 */
#ifndef DURO_OBJECT_H
#define DURO_OBJECT_H

#include <stdint.h>

#include "runtime/msg.h"
#include "runtime/ns.h"

typedef struct duro_object_ops {
    const char *name;
    int (*is_write)(const duro_msg *m);
    int (*exec)(duro_ns *ns, duro_msg *m, int64_t now_ms);
    /* Deletes up to `max` keys due at now_ms (inside a transaction); returns
     * how many, or -1 on a storage error. NULL if the kind has no expiry. */
    int (*sweep)(duro_ns *ns, int64_t now_ms, int max);
    /* Writes the kind's dirty in-memory state (inside a transaction). 0, or
     * -1 on a storage error. NULL if the kind keeps no such state. */
    int (*flush)(duro_ns *ns);
    /* Frees the kind's in-memory state of a namespace being closed (after a
     * final flush). NULL if none. */
    void (*ns_close)(duro_ns *ns);
} duro_object_ops;

extern const duro_object_ops duro_kv_object;
extern const duro_object_ops duro_ratelimit_object;
extern const duro_object_ops duro_session_object;
extern const duro_object_ops duro_auth_object;
extern const duro_object_ops duro_resource_object;

/* The ops of a kind (enum duro_kind), NULL if unknown. */
const duro_object_ops *duro_object_find(int kind);

/* 1 if status means storage failed (roll back), else 0. */
static inline int duro_status_is_storage_error(int st)
{
    return st == DURO_INTERNAL || st == DURO_IO || st == DURO_NOMEM ||
           st == DURO_INSUFFICIENT_STORAGE;
}

#endif
