/*
 * registry.h — the StorageRegistry: one index of every resource in every
 * namespace, and the requests that read it or register resources by hand.
 *
 * A resource is (type, namespace, key) with a size in bytes, created/updated
 * times and metadata. KV keys are type "kv" and tracked automatically: the KV
 * object appends change notices (runtime/notice.h) inside its transaction and
 * the namespace's owner hands them to the registry after COMMIT. Other types
 * ("do", and "r2" until blobs track themselves) are registered by
 * hand; a registration is a write to the namespace's own file
 * (_duro_resources, run by the namespace's owner as kind DURO_KIND_RESOURCE)
 * that sends a notice like any KV write. SQL tables ("d1") keep their rows in
 * the same table, written by the SQL kind's flush (objects/sql.h). So every
 * namespace file holds the
 * truth about its resources, and the registry's own file (<data>/_registry.db)
 * is an index that can always be rebuilt from them (runtime/registry.h).
 *
 * Replies (tape):
 *   REGISTRY LIST   {resources: [resource...], total, offset, limit, has_more}
 *   REGISTRY STATS  {total, by_type: {kv, d1, r2, do, ...}, by_namespace: {..},
 *                    total_size} over the resources matching the query's
 *                    filters (all of them without filters)
 *   RESOURCE REGISTER    the resource; m->created when it is new
 *   RESOURCE UNREGISTER  {deleted: bool}
 * where a resource is {type, namespace, key, created_at, updated_at, size,
 * metadata}, times as ISO-8601 UTC strings ("2025-10-25T10:30:00Z").
 * Expired KV keys are in no answer, whether or not they were swept yet.
 */
#ifndef DURO_REGISTRY_H
#define DURO_REGISTRY_H

#include <msgpack.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/msg.h"
#include "runtime/notice.h"
#include "runtime/registry_store.h"

enum duro_resource_op { DURO_RESOURCE_REGISTER = 0, DURO_RESOURCE_UNREGISTER };

#define DURO_REGISTRY_LIST_DEFAULT 100
#define DURO_REGISTRY_LIST_MAX 1000
#define DURO_REGISTRY_OFFSET_MAX 1000000000LL
#define DURO_RESOURCE_SIZE_MAX 9007199254740991LL /* 2^53 - 1: exact in JSON */

/* LIST / STATS. Filters with has_* = 0 are absent. */
typedef struct duro_registry_query {
    char type[DURO_RESOURCE_TYPE_MAX + 1];
    size_t type_len;
    int has_type;
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    int has_ns;
    char *prefix; /* key prefix, or NULL */
    size_t prefix_len;
    int64_t limit;  /* 0..DURO_REGISTRY_LIST_MAX */
    int64_t offset; /* 0..DURO_REGISTRY_OFFSET_MAX */
    /* namespaces.list (objects/namespace.h): prefix is a namespace prefix,
     * and the page starts after this name (the cursor) */
    char after[DURO_NS_MAX + 1];
    size_t after_len;
    int has_after;
} duro_registry_query;

/* REGISTER / UNREGISTER, in the namespace of the message. */
typedef struct duro_resource_req {
    char type[DURO_RESOURCE_TYPE_MAX + 1];
    size_t type_len;
    char *key;
    size_t key_len;
    int64_t size; /* REGISTER: 0..DURO_RESOURCE_SIZE_MAX */
    char *meta;   /* compact JSON object text, or NULL */
    size_t meta_len;
} duro_resource_req;

void duro_registry_query_free(duro_registry_query *q);
void duro_resource_req_free(duro_resource_req *r);

/* 0 if s[0..n) is a valid resource type (1..64 bytes of [A-Za-z0-9._-]),
 * else -1 with a static reason in *why. */
int duro_resource_type_valid(const char *s, size_t n, const char **why);

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds). */
void duro_iso8601(int64_t ms, char out[32]);

/* Packs one resource record (see above). */
void duro_registry_pack_resource(msgpack_packer *pk, const char *type, size_t type_len,
                                 const char *ns, size_t ns_len, const char *key, size_t key_len,
                                 int64_t created, int64_t updated, int64_t size, const char *meta,
                                 size_t meta_len);

/* ---- the registry's database (used by the registry actor only) ---- */

/* duro_registry_sqlite: these, as the runtime's registry store. */
extern const duro_registry_store duro_registry_sqlite;

/* Opens (creating) the registry file at path: WAL, synchronous=NORMAL (it
 * can be rebuilt, see runtime/registry.h). */
int duro_registry_db_open(const char *path, duro_registry_db **out, char *err, size_t errlen);
void duro_registry_db_close(duro_registry_db *db);

/* Runs SQL without results (SAVEPOINT, DELETE ...). DURO_OK or a status. */
int duro_registry_db_sql(duro_registry_db *db, const char *sql);

int duro_registry_db_begin(duro_registry_db *db);
int duro_registry_db_commit(duro_registry_db *db);
void duro_registry_db_rollback(duro_registry_db *db);

/* Applies a namespace's notices and, if version >= 0, records the
 * namespace's version they bring it to (a caller applying several commits of
 * one namespace in a row records only the last). DURO_OK or a storage status. */
int duro_registry_db_apply(duro_registry_db *db, const char *ns, size_t ns_len, int64_t version,
                           const char *notes, size_t len);

/* Runs a query message (m->req is a duro_registry_query; LIST, STATS and
 * the namespace queries of objects/namespace.h), after deleting the rows of
 * keys expired at env->now_ms. Inside a transaction. A reply tape that would
 * pass env->max_reply bytes is DURO_PAYLOAD_TOO_LARGE instead (a list: "use
 * a smaller limit"; stats: "filter it"). */
int duro_registry_db_exec(duro_registry_db *db, duro_msg *m, const duro_registry_env *env);

/* The version recorded for ns: 1 with *version set, 0 if unknown, or a
 * negative status. */
int duro_registry_db_version(duro_registry_db *db, const char *ns, size_t ns_len, int64_t *version);

/* Replaces everything known of ns by the resources in its open database
 * nsdb (live KV keys and registered resources) and records version. On
 * failure, *ns_failed (if not NULL) is 1 when reading nsdb failed, 0 when
 * writing the registry did. */
int duro_registry_db_rebuild(duro_registry_db *db, const char *ns, size_t ns_len, sqlite3 *nsdb,
                             int64_t version, int64_t now_ms, int *ns_failed);

/* The live KV keys of ns the registry knows, in *keys (after the query's
 * purge of expired rows). DURO_OK or a storage status. */
int duro_registry_db_ns_keys(duro_registry_db *db, const char *ns, size_t ns_len, int64_t *keys);

/* The resources of one type ("d1": SQL tables) of ns the registry knows, in
 * *n. DURO_OK or a storage status. */
int duro_registry_db_ns_count(duro_registry_db *db, const char *ns, size_t ns_len,
                              const char *type, int64_t *n);

/* Forgets ns entirely (its file is gone). */
int duro_registry_db_forget(duro_registry_db *db, const char *ns, size_t ns_len);

/* Calls fn for each namespace the registry knows (for reconciling). */
int duro_registry_db_each_ns(duro_registry_db *db,
                             int (*fn)(void *arg, const char *ns, size_t ns_len), void *arg);

#endif
