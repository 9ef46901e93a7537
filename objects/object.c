/*
 * object.c — the table of object kinds (runtime/kind.h) that durod and the
 * embedded client hand to the runtime. A new kind is one line here, its id
 * in object.h, and its own files (objects/<kind>.c, objects/<kind>_req.c).
 */
#include "objects/object.h"

#include "objects/registry.h"

const duro_kinds duro_object_kinds = {
    .kinds =
        {
            [DURO_KIND_KV] = &duro_kv_kind,
            [DURO_KIND_RATELIMIT] = &duro_ratelimit_kind,
            [DURO_KIND_SESSION] = &duro_session_kind,
            [DURO_KIND_AUTH] = &duro_auth_kind,
            [DURO_KIND_RESOURCE] = &duro_resource_kind,
            [DURO_KIND_NAMESPACE] = &duro_namespace_kind,
            [DURO_KIND_BLOB] = &duro_blob_kind,
            [DURO_KIND_SQL] = &duro_sql_kind,
            [DURO_KIND_REGISTRY] = &duro_registry_kind,
        },
    .registry = &duro_registry_sqlite,
};
