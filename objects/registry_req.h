/*
 * registry_req.h — building registry queries and resource registrations
 * from decoded wire input (HTTP query strings or bodies, binary-protocol
 * args). Everything the contract bounds is checked here; each function
 * returns DURO_OK or an error status with a message in err.
 */
#ifndef DURO_REGISTRY_REQUEST_H
#define DURO_REGISTRY_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "objects/registry.h"
#include "objects/kv_req.h"
#include "runtime/kind.h"

/* LIST/STATS from an object of type, namespace, key_prefix (strings), limit
 * (0..1000, default 100), offset (0..1e9) and consistent (a flag; every
 * read is consistent, see docs/registry.md), read as mode says: JSON
 * integers and a JSON bool from binary-protocol / embedded args
 * (DURO_PARAMS_TYPED), decimal strings and "1"/"true"/""/"0"/"false" from a
 * query string (DURO_PARAMS_QUERY, where an empty value counts as absent).
 * An empty type or namespace is no filter. Any other name is
 * DURO_BAD_REQUEST (`unknown field "<name>"`). */
int duro_registry_query_from(const json_t *params, duro_params_mode mode,
                             duro_registry_query **out, char *err, size_t errlen);

/* The namespace a query reads, for access checks: its namespace filter, or
 * "*" (every namespace) without one. */
void duro_registry_query_scope(const duro_registry_query *q, const char **ns, size_t *len);

/* REGISTER/UNREGISTER from {type, key, size?, metadata?} (size, a JSON
 * integer, and metadata only for REGISTER). If ns is not NULL (HTTP),
 * "namespace" is required in args and copied to ns (ns_len set); if ns is
 * NULL (binary protocol: the frame's namespace) it is not allowed. Any other
 * member is DURO_BAD_REQUEST (`unknown field "<name>"`). Type "kv" is
 * refused: KV keys are tracked automatically. */
int duro_resource_request(int op, const json_t *args, char *ns, size_t *ns_len,
                          duro_resource_req **out, char *err, size_t errlen);

/* The kinds' decodes (runtime/kind.h): resources.list / resources.stats
 * (duro_registry_query_from, typed) and resources.register / unregister
 * (duro_resource_request, in the call's namespace). */
int duro_registry_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);
/* namespaces.delete: args must be an empty map; *req is NULL. */
int duro_namespace_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

/* NS_LIST from {prefix, after (namespace names or a prefix of one), limit
 * (0..1000, default 100)}, NS_GET from {namespace}, INFO from {} (objects/
 * namespace.h); params may be NULL (no parameters). Read as mode says;
 * unknown fields are DURO_BAD_REQUEST. */
int duro_namespace_query_from(int op, const json_t *params, duro_params_mode mode,
                              duro_registry_query **out, char *err, size_t errlen);
int duro_resource_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

#endif
