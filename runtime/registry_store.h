/*
 * registry_store.h — what the registry actor (runtime/registry.h) needs of
 * the registry's database, and the ops of its messages.
 *
 * The actor owns the thread, the mailbox, group commit, reconcile and
 * repair; the database's schema and queries are objects/registry.c's, handed
 * to the runtime in the kind table (duro_kinds.registry, runtime/kind.h).
 * Every function runs on the registry actor's thread only.
 */
#ifndef DURO_REGISTRY_STORE_H
#define DURO_REGISTRY_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/msg.h"

/* m->op of a DURO_KIND_REGISTRY message. NOTICE and FORGET come from the
 * namespaces' owners (change notices; a namespace was deleted), the others
 * are queries. */
enum duro_registry_op {
    DURO_REGISTRY_NOTICE = 0,
    DURO_REGISTRY_LIST,
    DURO_REGISTRY_STATS,
    DURO_REGISTRY_NS_LIST, /* namespaces.list (objects/namespace.h) */
    DURO_REGISTRY_NS_GET,  /* namespaces.get */
    DURO_REGISTRY_INFO,    /* server.info */
    DURO_REGISTRY_FORGET,  /* an owner deleted m->ns: forget it (not a query) */
};

/* What a query may read besides the index: the data directory (namespace
 * files, free space) and the runtime's settings. */
typedef struct duro_registry_env {
    const char *data_dir;
    int sync_full;
    int actors;
    int64_t started_ms; /* when the runtime opened */
    int64_t now_ms;
    size_t max_reply; /* largest reply tape */
} duro_registry_env;

typedef struct duro_registry_db duro_registry_db;

typedef struct duro_registry_store {
    /* Opens (creating) the registry file at path. */
    int (*open)(const char *path, duro_registry_db **out, char *err, size_t errlen);
    void (*close)(duro_registry_db *db);
    /* Runs SQL without results (SAVEPOINT, DELETE ...). DURO_OK or a status. */
    int (*sql)(duro_registry_db *db, const char *sql);
    int (*begin)(duro_registry_db *db);
    int (*commit)(duro_registry_db *db);
    void (*rollback)(duro_registry_db *db);
    /* Applies a namespace's notices and, if version >= 0, records the
     * namespace's version they bring it to. */
    int (*apply)(duro_registry_db *db, const char *ns, size_t ns_len, int64_t version,
                 const char *notes, size_t len);
    /* Runs a query message (inside a transaction). */
    int (*exec)(duro_registry_db *db, duro_msg *m, const duro_registry_env *env);
    /* The version recorded for ns: 1 with *version set, 0 if unknown, or a
     * negative status. */
    int (*version)(duro_registry_db *db, const char *ns, size_t ns_len, int64_t *version);
    /* Replaces everything known of ns by what its open database nsdb holds
     * and records version; *ns_failed (if not NULL) is 1 when reading nsdb
     * failed, 0 when writing the registry did. */
    int (*rebuild)(duro_registry_db *db, const char *ns, size_t ns_len, sqlite3 *nsdb,
                   int64_t version, int64_t now_ms, int *ns_failed);
    /* Forgets ns entirely (its file is gone). */
    int (*forget)(duro_registry_db *db, const char *ns, size_t ns_len);
    /* Calls fn for each namespace the registry knows. */
    int (*each_ns)(duro_registry_db *db, int (*fn)(void *arg, const char *ns, size_t ns_len),
                   void *arg);
} duro_registry_store;

#endif
