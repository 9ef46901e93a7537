/*
 * namespace.h — namespaces as objects: listing them, one's figures, deleting
 * one, and the server's own figures (docs/namespaces.md).
 *
 * namespaces.list, namespaces.get and server.info are queries of the
 * registry kind (objects/registry.h; ops DURO_REGISTRY_NS_LIST, NS_GET and
 * INFO of runtime/registry_store.h), served by the registry actor: the live
 * KV key count of a namespace is its registry rows, its size and last write
 * are its files' (stat). The namespace files are the truth about which
 * namespaces exist: a list walks the 256 shard directories (the cost grows
 * with the number of namespaces, not with the page) and keeps the `limit`
 * smallest names after the cursor.
 *
 * namespaces.delete is the op of kind DURO_KIND_NAMESPACE, run by the
 * namespace's owner: exec answers DURO_DROP (runtime/kind.h) and the actor
 * closes and removes the files and tells the registry to forget it. It needs
 * the admin token.
 *
 * Replies (tape):
 *   NS_LIST  {namespaces: [namespace...], total, limit, has_more, next}
 *            total: the namespaces matching prefix; next: the cursor of the
 *            next page (the last name of this one) or nil
 *   NS_GET   namespace
 *   INFO     {version, started_at, uptime_ms, sync, actors, namespaces_open,
 *             namespaces_total, cache_bytes, cache_hits, cache_misses,
 *             cache_hit_rate, commits, data_bytes, disk_free_bytes,
 *             disk_total_bytes}
 *   DELETE   {namespace, deleted: true}
 * where a namespace is {namespace, keys, bytes, tables, blobs, last_write,
 * last_write_ms}: keys the live KV keys, bytes the sizes of its .db and -wal,
 * last write its files' latest modification (ISO-8601 UTC and ms); tables
 * and blobs are 0 (those kinds do not exist yet).
 */
#ifndef DURO_NAMESPACE_H
#define DURO_NAMESPACE_H

#include "objects/registry.h"
#include "runtime/kind.h"

enum duro_namespace_op { DURO_NAMESPACE_DELETE = 0 };

/* The registry's queries of namespaces and of the server (see above). q:
 * NS_LIST reads prefix, after and limit; NS_GET its namespace. */
int duro_namespace_list(duro_registry_db *db, duro_msg *m, const duro_registry_query *q,
                        const duro_registry_env *env);
int duro_namespace_get(duro_registry_db *db, duro_msg *m, const duro_registry_query *q,
                       const duro_registry_env *env);
int duro_namespace_info(duro_msg *m, const duro_registry_env *env);

#endif
