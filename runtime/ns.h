/*
 * ns.h — an open namespace: its SQLite handle, prepared statements, cache and
 * version counter. Only the owning actor thread touches a duro_ns: the thread
 * that opened it (ns->owner), asserted by every function here that touches
 * its handle, statements, cache or counters.
 *
 * Objects (objects/) run over this handle: they read and write through
 * duro_ns_stmt() statements and the cache, inside the transaction the actor
 * opened; they never begin or commit themselves.
 */
#ifndef DURO_NS_H
#define DURO_NS_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/buf.h"
#include "runtime/cache.h"
#include "runtime/msg.h"
#include "runtime/owner.h"
#include "common/names.h"

#define DURO_NS_STMTS 70 /* kv 0..31, ratelimit 32..34, session 36..43, auth 44..47,
                            resource 48..50, sql 51..54,
                            blob 55..62, store 63..69 */

/* An open transaction keeps every page it dirtied in SQLite's page cache
 * (1 MiB per namespace otherwise: cache_size=-1024); past it SQLite spills
 * pages to the WAL and reads them back, which at 10k keys doubled the cost of
 * a put. So the first DURO_TXN_CACHE_MAX namespaces of an actor that open a
 * transaction get DURO_TXN_CACHE_KB until their apply: at most 4 x 16 MiB
 * more per actor (docs/limits.md). */
#define DURO_TXN_CACHE_KB 16384
#define DURO_TXN_CACHE_MAX 4

typedef struct duro_ns duro_ns;
struct duro_ns {
    char name[DURO_NS_MAX + 1];
    size_t name_len;
    sqlite3 *db;
    sqlite3_stmt *stmts[DURO_NS_STMTS];
    duro_ctable cache;
    int64_t version;           /* write counter, including uncommitted writes */
    int64_t version_committed; /* as last committed */
    int has_ttl;               /* some key may carry an expiry */
    void *kind_state[DURO_KIND_MAX]; /* an object kind's in-memory state, if any */
    unsigned dirty_kinds;      /* kinds with state to write behind (bit per kind) */
    unsigned txn_kinds;        /* kinds to tell how the transaction ends (kind.h: txn_end) */
    duro_buf notes;            /* change notices of the open transaction (notice.h) */
    int ghost;                 /* an in-memory stand-in for a namespace without a file */
    size_t max_reply;          /* largest reply tape an op may build (0: the default) */
    int readonly;              /* the file was opened read-only (read-only file system) */
    duro_owner owner;          /* the thread that opened it: the only one to touch it */

    /* owned by the actor */
    duro_ns *hnext;             /* actor's name table */
    duro_ns *lprev, *lnext;     /* actor's LRU of open namespaces */
    duro_ns *txn_next;          /* list of namespaces in the current batch's txn */
    int in_txn;                 /* in the current batch (a SAVEPOINT in the open txn) */
    int open_txn;               /* a transaction is open across batches: what the log holds */
    int commit_now;             /* a kind wrote what the log cannot carry (user SQL): the
                                   batch ends with SQLite's own COMMIT (set by the kind) */
    int txn_lost;               /* SQLite rolled the open transaction back by itself */
    int cache_raised;           /* its page cache is DURO_TXN_CACHE_KB until the apply */
    struct sqlite3_session *session; /* records the batch's changes for the log */
    int in_sql;                 /* the batch's SAVEPOINT (and session) is open */
    /* deferred writes (see "Deferred writes" below) */
    int defer_ok;               /* writes may be deferred here (the actor: commit log on) */
    int deferring;              /* this batch may still defer (no SAVEPOINT yet) */
    int batch_deferred;         /* this batch deferred a write */
    unsigned defer_kinds;       /* kinds with deferred rows not yet in SQLite (bit per kind) */
    duro_buf defer_rec;         /* this batch's ROWS record (clog.h), of one kind */
    int logged;                 /* the log may hold records of ns its file lacks */
    int txn_failed;             /* an op hit a storage error: roll back */
    const char *txn_why;        /* its cause for the client (duro_why_*), or NULL */
    int flush_failing;          /* write-behind flushes fail (logged once) */
    duro_msg *pending, **pending_tail; /* replies held until commit */
};

/* The namespace schema: steps[v] takes PRAGMA user_version from v to v + 1;
 * version is the last one (the object kinds' migrations, runtime/kind.h). */
typedef struct duro_schema {
    const char *const *steps;
    int version;
} duro_schema;

typedef struct duro_store_config {
    const char *data_dir;
    int sync_full; /* synchronous=FULL (1) or NORMAL (0) */
    const duro_schema *schema;
} duro_store_config;

/* Opens (creating if needed) the namespace's file and migrates its schema.
 * Returns a duro_status; on error *ns is NULL and err holds a message for the
 * log. Errors of the process's environment come as their own statuses, with
 * a short message for the client in *why (if why is not NULL; else NULL):
 *   DURO_UNAVAILABLE            no file descriptor left (EMFILE, ENFILE):
 *                               close some files and retry (duro_why_no_fds)
 *   DURO_INSUFFICIENT_STORAGE   a read-only file system (duro_why_readonly) or
 *                               a full disk (duro_why_full)
 * A file on a read-only file system opens read-only: reads work, writes fail
 * with SQLITE_READONLY (DURO_INSUFFICIENT_STORAGE). */
int duro_ns_open(const duro_store_config *cfg, const char *name, size_t name_len,
                 duro_lru *lru, duro_ns **ns, const char **why, char *err, size_t errlen);
/* 1 if the namespace's file exists (or its state cannot be told: the open
 * will say why), 0 if there is none. Creates nothing. */
int duro_ns_exists(const duro_store_config *cfg, const char *name, size_t name_len);

/* Removes the closed namespace's files (<name>.db, then -wal and -shm) and
 * fsyncs its shard directory, so the removal survives a crash. DURO_OK (also
 * if there was no file), or DURO_INSUFFICIENT_STORAGE (a read-only file
 * system, *why: duro_why_readonly) or DURO_IO with a message in err. The
 * caller (the owner) has closed every handle of it. */
int duro_ns_remove(const duro_store_config *cfg, const char *name, size_t name_len,
                   const char **why, char *err, size_t errlen);

/* The directory beside ns's file where kinds keep files of their own (a
 * blob's bytes): <data>/ns/<hh>/<name>.files, into buf (not created). 0, or
 * -1 for a ghost or a path over cap. duro_ns_remove() removes it. */
int duro_ns_files_dir(const duro_ns *ns, char *buf, size_t cap);

/* Opens a ghost: a namespace in an in-memory SQLite database with the full
 * schema and nothing in it, named "" (the caller names it for each use). An
 * actor runs an op there first when the op's namespace has no file, and keeps
 * the answer only if the op changed nothing (see actor.c): a read of a
 * namespace that does not exist answers "empty" and writes no file.
 * DURO_OK, or a status with a message in err. */
int duro_ns_open_ghost(const duro_store_config *cfg, duro_lru *lru, duro_ns **ns, char *err,
                       size_t errlen);

/* 1 if ns's file can be written now (it was opened read-only because its
 * file system was read-only: the owner closes and opens it again before a
 * write). One access(2). */
int duro_ns_writable(const duro_store_config *cfg, const duro_ns *ns);

/* Finalizes, closes and frees. duro_ns_close(NULL) is a no-op. */
void duro_ns_close(duro_ns *ns);

/* The prepared statement `id` (< DURO_NS_STMTS) of this namespace, prepared
 * from sql on first use; reset and with bindings cleared. NULL on error. */
sqlite3_stmt *duro_ns_stmt(duro_ns *ns, int id, const char *sql);

int duro_ns_begin(duro_ns *ns);
int duro_ns_commit(duro_ns *ns); /* stores the version counter, then COMMIT */
void duro_ns_rollback(duro_ns *ns); /* ROLLBACK, clears the cache, resets the counter */

/* Batches over the commit log (actor.c, clog.h). The namespace keeps one
 * transaction open across batches (ns->open_txn); each batch is a SAVEPOINT
 * in it whose changes a SQLite session records:
 *   duro_ns_batch_begin    BEGIN if none is open, SAVEPOINT, a new session
 *   duro_ns_batch_changes  stores the version counter and appends the
 *                          batch's changeset to out (nothing if it changed
 *                          nothing)
 *   duro_ns_batch_release  RELEASE: the batch is part of the open txn
 *   duro_ns_batch_abort    ROLLBACK TO: the batch is undone (cache cleared,
 *                          counter and notices reset); if SQLite had already
 *                          rolled back the whole transaction, ns->open_txn
 *                          is 0 afterwards and what earlier batches logged is
 *                          gone from the file's view (the actor replays it)
 *   duro_ns_apply          stores the log mark (epoch, lsn: every record of
 *                          ns up to lsn is in the file) and COMMITs the open
 *                          transaction with synchronous=FULL
 * Each returns a duro_status (or nothing). duro_ns_batch_begin is
 * duro_ns_batch_open then duro_ns_batch_sql. */
int duro_ns_batch_begin(duro_ns *ns);
int duro_ns_batch_changes(duro_ns *ns, duro_buf *out);
int duro_ns_batch_release(duro_ns *ns);
void duro_ns_batch_abort(duro_ns *ns);
int duro_ns_apply(duro_ns *ns, uint64_t epoch, uint64_t lsn);

/* Deferred writes (docs/architecture.md, "Deferred writes"). In a batch
 * that has opened no SAVEPOINT yet (ns->deferring), a kind whose op
 * defers (kind.h: defers) may keep a write's row in memory (pinned in the
 * cache, cache.h) instead of writing it to SQLite, describing it in the
 * batch's ROWS record (duro_ns_defer_rec): the log record is what makes it
 * durable. The kind writes the rows to the open transaction later, when
 * the actor settles the namespace (kind.h: settle): before its apply,
 * before any op that does not defer, before a sweep or a write-behind
 * flush. At recovery the kind's replay() puts a record's rows in.
 *
 *   duro_ns_batch_open   a batch starts; nothing in SQLite yet
 *   duro_ns_batch_sql    the batch opens its SAVEPOINT and session (BEGIN if
 *                        no transaction is open); from here on it writes to
 *                        SQLite (the namespace must be settled first)
 *   duro_ns_txn          BEGIN if no transaction is open (settling, writing
 *                        a deferred row straight through)
 *   duro_ns_defer_rec    the batch's ROWS record of kind, its header
 *                        reserved (u8 kind | i64 version: the actor fills
 *                        it); NULL if ns is not deferring, the record is
 *                        another kind's, or out of memory
 * A batch that deferred a write, or a namespace with deferred rows, is
 * undone whole by duro_ns_batch_abort (ROLLBACK, cache cleared): the actor
 * then puts back from the log what earlier batches wrote (ns->logged). */
void duro_ns_batch_open(duro_ns *ns);
int duro_ns_batch_sql(duro_ns *ns);
int duro_ns_txn(duro_ns *ns);
duro_buf *duro_ns_defer_rec(duro_ns *ns, int kind);
#define DURO_ROWS_HEADER 9

/* Raises the write counter to the one _duro_meta holds (after a replay of
 * changesets) if that is higher. DURO_OK or a status. */
int duro_ns_reload_version(duro_ns *ns);

/* The log mark stored by the last duro_ns_apply (0, 0 if none). DURO_OK or
 * a status. */
int duro_ns_mark(duro_ns *ns, uint64_t *epoch, uint64_t *lsn);

/* Applies a logged changeset to ns inside its open transaction (opening one:
 * ns->open_txn), rows replacing what differs. DURO_OK or a status. */
int duro_ns_replay(duro_ns *ns, const void *changes, size_t n);

/* Opens (creating) the SQLite file at path for one owner thread (no mutex,
 * no extension loading, extended result codes) and runs each of the
 * NULL-terminated pragmas. DURO_OK, or a status with a message in err (and
 * *why, if why is not NULL, as for duro_ns_open()). */
int duro_sql_open(const char *path, const char *const *pragmas, sqlite3 **db,
                  const char **why, char *err, size_t errlen);

/* Runs SQL without results, logging a failure. DURO_OK or a status. */
int duro_sql_exec(sqlite3 *db, const char *sql);

/* fsyncs the directory dir. 0, or -1 with errno set. */
int duro_dir_sync(const char *dir);

/* mkdir(path) whose name survives a power loss: when it creates the
 * directory it fsyncs the parent. 0 (created, or it existed), or -1 with
 * errno set. */
int duro_mkdir_durable(const char *path);

/* The file of a namespace: <data>/ns/<hh>/<name>.db (route.h's shard). 0, or
 * -1 if it does not fit in cap; *dir_len (if not NULL) gets the length of the
 * shard directory's part. */
int duro_ns_path(const char *data_dir, const char *name, size_t name_len, char *path, size_t cap,
                 size_t *dir_len);

/* A statement kept in *slot, prepared from sql on first use (persistent);
 * reset and with bindings cleared. NULL on error (logged). */
sqlite3_stmt *duro_stmt_cached(sqlite3 *db, sqlite3_stmt **slot, const char *sql);

/* The largest reply tape an op on ns may build (--max-reply-bytes). Objects
 * that build long replies (lists, batches, snapshots) keep under it; the
 * actor turns any other read's reply over it into DURO_PAYLOAD_TOO_LARGE. */
static inline size_t duro_ns_reply_cap(const duro_ns *ns)
{
    return ns->max_reply ? ns->max_reply : DURO_MAX_REPLY_DEFAULT;
}

/* Bumps and returns the namespace's write counter (inside a transaction). */
static inline int64_t duro_ns_next_version(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    return ++ns->version;
}

/* Maps a SQLite result code to a duro_status (SQLITE_FULL and SQLITE_READONLY
 * are DURO_INSUFFICIENT_STORAGE). */
int duro_status_from_sqlite(int rc);

/* Maps the result code rc of a failed call on db, looking at the OS error
 * behind it (sqlite3_system_errno) where SQLite records one: out of file
 * descriptors (EMFILE, ENFILE) is DURO_UNAVAILABLE, a read-only file system
 * (SQLITE_READONLY, EROFS) and a full disk (SQLITE_FULL, ENOSPC, EDQUOT) are
 * DURO_INSUFFICIENT_STORAGE; otherwise as duro_status_from_sqlite(rc). For
 * those causes *why (if why is not NULL) gets a message for the client, one
 * of the three below; else NULL. */
int duro_status_from_db(sqlite3 *db, int rc, const char **why);

/* Fails m with a storage error met on ns; returns the status. code is either
 *   > 0  the SQLite result code of the failed call on ns->db, mapped by
 *        duro_status_from_db() (full disk and read-only file system:
 *        DURO_INSUFFICIENT_STORAGE; out of file descriptors: DURO_UNAVAILABLE;
 *        other I/O errors: DURO_IO; ...), or
 *   < 0  a negated duro_status an object's helper returned (-DURO_NOMEM: a
 *        change notice could not be allocated; -DURO_INTERNAL: a statement
 *        could not be prepared, ...).
 * A code that maps to DURO_OK (SQLITE_ROW or SQLITE_DONE where the other was
 * due) is DURO_INTERNAL. Drops what m->body holds and sets the message
 * "storage error: <cause>", the cause being duro_status_from_db()'s message
 * for the client if there is one, else duro_errstr(status). (A write's
 * message is replaced by the actor when its transaction rolls back.) */
int duro_ns_fail(duro_ns *ns, duro_msg *m, int code);

extern const char *const duro_why_no_fds;   /* "too many open files; retry later" */
extern const char *const duro_why_readonly; /* "the data directory is read-only" */
extern const char *const duro_why_full;     /* "the data directory's disk is full" */

#endif
