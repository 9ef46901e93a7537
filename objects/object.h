/*
 * object.h — the object kinds and their table (runtime/kind.h).
 *
 * Each kind is one row, defined beside its code (objects/<kind>.c) and
 * listed in duro_object_kinds (objects/object.c), the table durod and the
 * embedded client hand to the runtime.
 */
#ifndef DURO_OBJECT_H
#define DURO_OBJECT_H

#include "runtime/kind.h"

/* Kind ids: the index of each row, and the slot of its in-memory state in
 * duro_ns.kind_state. Below DURO_KIND_MAX; never renumbered (they are not
 * stored, but tests and logs name them). */
enum duro_kind_id {
    DURO_KIND_KV = 0,
    DURO_KIND_RATELIMIT,
    DURO_KIND_SESSION,
    DURO_KIND_AUTH,
    DURO_KIND_RESOURCE, /* resources registered by hand (objects/registry.h) */
    DURO_KIND_NAMESPACE, /* namespaces.delete (objects/namespace.h) */
    DURO_KIND_SQL,       /* user SQL on the namespace's file (objects/sql.h) */
    DURO_KIND_BLOB,      /* blobs: objects/files (objects/blob.h) */
};

/* Schema versions (runtime/kind.h) by kind: kv 1, ratelimit 2, session 3,
 * auth 4, resource 5, blob 6, sql 7 (if it needs one); the next is 8. */

extern const duro_kind duro_kv_kind;
extern const duro_kind duro_ratelimit_kind;
extern const duro_kind duro_session_kind;
extern const duro_kind duro_auth_kind;
extern const duro_kind duro_resource_kind;
extern const duro_kind duro_namespace_kind;
extern const duro_kind duro_blob_kind;
extern const duro_kind duro_sql_kind; /* objects/sql.h */
/* resources.list / .stats, namespaces.list / .get, server.info */
extern const duro_kind duro_registry_kind;

/* Every kind, and the registry's storage (objects/registry.c). */
extern const duro_kinds duro_object_kinds;

#endif
