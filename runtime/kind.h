/*
 * kind.h — what an object kind is to the runtime: one table row per kind.
 *
 * DESIGN
 * An object kind (KV, rate limiter, sessions, ...) is plain code over a
 * duro_ns: it does no I/O of its own, starts no threads and knows nothing of
 * HTTP. Everything the rest of the system needs to know about it is in its
 * row (duro_kind): the op names callers use, which ops write, how a call's
 * msgpack args become a validated request, how that request is freed, how the
 * owner runs it, and the kind's part of the namespace schema. The rows live
 * in objects/object.c; durod and the embedded client hand that table
 * (duro_kinds) to the runtime (duro_runtime_config.kinds), so the runtime
 * never includes an object header and a new kind is a row plus its files.
 *
 * One builder, duro_op_build(), turns a call (op name, namespace, msgpack
 * args) into a message for the binary protocol and the embedded client
 * alike, so both answer every call the same way.
 *
 * exec() runs on the namespace's owner, inside the namespace's open
 * transaction when txn(op) says so (a batch's SAVEPOINT; its changes to the
 * _duro_* tables reach the commit log, clog.h; a kind that writes other
 * tables — user SQL — sets ns->commit_now so the batch ends with SQLite's
 * own COMMIT); it returns a duro_status
 * and fills m's reply. A return of DURO_INTERNAL, DURO_IO, DURO_NOMEM or
 * DURO_INSUFFICIENT_STORAGE means storage failed: the actor rolls the
 * namespace's transaction back and fails every write of that batch. Other
 * statuses are ordinary answers (404, 412, ...) that leave the transaction
 * alone.
 */
#ifndef DURO_KIND_H
#define DURO_KIND_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "runtime/msg.h"
#include "runtime/ns.h"

/* Limits and defaults a decoder applies: durod's flags, or the embedded
 * client's URL options. */
typedef struct duro_limits {
    size_t max_value_bytes;
    size_t max_snapshot_bytes; /* 0: the KV default */
    size_t max_reply_bytes;    /* 0: DURO_MAX_REPLY_DEFAULT */
    int64_t rl_limit;          /* a rate-limit check that gives no limit */
    int64_t rl_window_ms;      /* ... and no window */
    int pwhash_min;            /* Argon2id at its minimum cost (--pwhash-min, tests) */
    size_t max_blob_bytes;     /* largest blob (--max-blob-bytes); 0: DURO_BLOB_MAX_DEFAULT */
    int64_t sql_timeout_ms;    /* a SQL op's time budget (--sql-timeout-ms); 0: 1000 */
    int64_t sql_max_rows;      /* rows one SQL statement may return (--sql-max-rows); 0: 10000 */
} duro_limits;

/* A call's arguments as a decoder gets them. */
typedef struct duro_args {
    const unsigned char *mp; /* a msgpack map that passed duro_mp_check() */
    size_t len;
    int val_enc;             /* DURO_ENC_*: how this call's values are stored */
    const duro_limits *lim;
    const char *peer;        /* the caller's address (login throttling), or NULL */
    /* 1: the caller may only read (an op whose writes(op) is
     * DURO_WRITES_IF_STMT, called with a read-only token): the decoder
     * stores it in the request and exec refuses what would write */
    int read_only;
} duro_args;

/* One step of the namespace schema: PRAGMA user_version goes from
 * version - 1 to version by running sql, in one transaction. Versions are
 * numbered across all kinds (1, 2, 3, ...); a new step takes the next one. */
typedef struct duro_migration {
    int version;
    const char *sql;
} duro_migration;

typedef struct duro_kind {
    const char *name;        /* "kv" */
    const char *metric;      /* its ops counter in /metrics, and the help text */
    const char *metric_help;
    const char *const *ops;  /* op names by op ("kv.get"); NULL: not callable */
    int n_ops;
    /* 1: served by the registry actor over every namespace (the call's
     * namespace is not used; the message's is "*"). */
    int global;
    /* 1 if op changes the namespace (a check of the rate limiter's counts):
     * it needs write access. DURO_WRITES_IF_STMT: op writes only if what it
     * runs does (user SQL): see below. */
    int (*writes)(int op);
    /* 1 if op runs inside the namespace's write transaction (and answers
     * after its commit). NULL: the same as writes. A kind whose writes only
     * touch in-memory state it flushes later (flush) says 0 for them; one
     * whose reads update something (a rolling session's expiry) says 1. */
    int (*txn)(int op);
    /* 1 if op needs the admin token (deleting a namespace): its access check
     * names no namespace, which no JWT covers. NULL: no op does. */
    int (*admin)(int op);
    /* Builds the request of op from a call's args: DURO_OK with *req set,
     * or an error status with a message in err. NULL: not callable. */
    int (*decode)(int op, const duro_args *a, void **req, char *err, size_t errlen);
    void (*free)(void *req);
    /* The largest reply (tape bytes) op can have, for a transport's reply
     * budget: a value, a page, or a few bytes (0) for a write. NULL: 0. */
    size_t (*reply_bound)(int op, const duro_limits *lim);
    /* Global kinds: the namespace a request reads, for access checks. */
    void (*scope)(const void *req, const char **ns, size_t *len);
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
    /* Told, on the owner, that the namespace's batch committed (1) or
     * rolled back (0), if an op of the kind set its bit in ns->txn_kinds
     * (which the actor then clears): the kind's work that must follow the
     * outcome. committed means durable: the batch's log record was synced
     * (whatever --sync says) or its COMMIT returned, so a blob's replaced
     * file can go. NULL if none. */
    void (*txn_end)(duro_ns *ns, int committed);
    /* Deferred writes (ns.h). defers(op): 1 if op runs over the kind's
     * deferred rows as they are (its own cache) and may defer its writes;
     * any other op of any kind finds the namespace settled first. NULL:
     * none does. */
    int (*defers)(int op);
    /* Optional: m is due soon on ns (open): start loading what it will read
     * (stage 0: the first level, e.g. a hash bucket; stage 1, a message later:
     * what that level points to). Only hints: no effect on the result. */
    void (*prefetch)(const duro_ns *ns, const duro_msg *m, int stage);
    /* Writes up to max of the kind's deferred rows of ns, oldest first, to
     * the open transaction (the actor began it) and makes them ordinary
     * cached rows. 0 when none is left, 1 when some are, -1 on a storage
     * error. */
    int (*settle)(duro_ns *ns, size_t max);
    /* Writes the rows of one of the kind's ROWS records (the bytes after
     * the header) to ns's open transaction: recovery. DURO_OK or a status
     * (DURO_INTERNAL: the record is malformed). */
    int (*replay)(duro_ns *ns, const void *p, size_t n);
    const duro_migration *migrations;
    size_t n_migrations;
} duro_kind;

struct duro_registry_store;

/* The table the runtime runs: kinds[id] for each kind id (enum duro_kind_id in
 * objects/object.h, DURO_KIND_REGISTRY for the registry's queries), NULL
 * where no kind has that id; and the registry's storage. */
typedef struct duro_kinds {
    const duro_kind *kinds[DURO_KIND_MAX + 1];
    const struct duro_registry_store *registry;
} duro_kinds;

/* writes(op)'s answer for "writes only if the request does" (a SQL
 * statement): duro_op_build() asks allow() for write access, and if that is
 * refused, for read access; if that is granted the call goes on with
 * duro_args.read_only = 1, and the kind's exec refuses (DURO_FORBIDDEN)
 * whatever would write. HTTP routes do the same with duro_http_authorize().
 * Anywhere a yes/no is wanted (duro_op_writes) it counts as a write. */
#define DURO_WRITES_IF_STMT 2

/* For writes / txn: every op (1), or none (0). */
int duro_ops_all(int op);
int duro_ops_none(int op);

/* The row of kind id, or NULL. */
static inline const duro_kind *duro_kind_get(const duro_kinds *t, int id)
{
    return id >= 0 && id <= DURO_KIND_MAX ? t->kinds[id] : NULL;
}

/* The index of name[0..len) in ops[0..n) (NULL entries skipped), or -1. */
int duro_op_index(const char *const *ops, int n, const char *name, size_t len);

/* The kind and op of an op name: the row with *kind and *op set, or NULL if
 * no kind has it. */
const duro_kind *duro_op_find(const duro_kinds *t, const char *name, size_t len, int *kind,
                              int *op);

/* 1 if m's op writes (needs write access), else 0. */
int duro_op_writes(const duro_kinds *t, const duro_msg *m);

/* 1 if op of kind k runs inside the namespace's transaction. */
static inline int duro_kind_txn(const duro_kind *k, int op)
{
    return k->txn ? k->txn(op) : k->writes(op);
}

/* Frees m's request (m->req, of kind m->kind) and sets it to NULL. */
void duro_op_free(const duro_kinds *t, duro_msg *m);

/* A call, as a transport or the embedded client received it. */
typedef struct duro_op_call {
    const char *op;
    size_t op_len;
    const char *ns;
    size_t ns_len;
    duro_args args;
    /* Optional access check, run after the namespace check and before the
     * args are decoded (for a global kind: after, on its scope): DURO_OK,
     * or a status with a message in err. */
    int (*allow)(void *arg, const char *ns, size_t ns_len, int write, char *err,
                 size_t errlen);
    void *allow_arg;
    /* Optional: the op's row, kind and op when the caller already looked the
     * name up (duro_op_find); NULL: duro_op_build looks it up. */
    const duro_kind *found;
    int found_kind, found_op;
} duro_op_call;

/* Builds m's request from c: op name → kind and op ("unknown op"), the
 * namespace check ("invalid namespace"), the access check, the kind's
 * decode. DURO_OK with m->kind, op, req and ns set (free m->req with
 * duro_op_free), or an error status with m->status and m->errmsg set and
 * nothing to free. */
int duro_op_build(const duro_kinds *t, const duro_op_call *c, duro_msg *m);

/* The largest schema version a table may reach. */
#define DURO_SCHEMA_MAX 64

/* Collects the kinds' migrations into one schema (steps[v]: the step to
 * version v + 1; steps has room for max). Every version from 1 to the last
 * must be given exactly once: else DURO_INTERNAL with a message in err. */
int duro_kinds_schema(const duro_kinds *t, const char **steps, size_t max, duro_schema *out,
                      char *err, size_t errlen);

/* A decoder over a call's args as a jansson tree (an object). */
typedef int duro_tree_decode(int op, const json_t *args, const duro_args *a, void **req,
                             char *err, size_t errlen);

/* For decoders: runs fn on the call's args as a jansson tree; DURO_BAD_REQUEST
 * with "bad args: <why>" in err if they cannot be one. */
int duro_args_decode(const duro_args *a, int op, duro_tree_decode *fn, void **req, char *err,
                     size_t errlen);

/* exec()'s answer for "not done yet": the runtime runs m->work (set by
 * exec) on its worker pool, off every actor, then hands m back to the
 * namespace's owner, which runs exec again with m->stage one higher (it starts
 * at 0; exec itself never changes it, so a step the actor runs twice, on the
 * ghost and then on the file, starts over cleanly). The message is not
 * answered in between. A step that continues
 * must not have written anything the reply depends on: what it wrote commits
 * with its batch, before the message comes back. If the pool is full, the
 * runtime answers DURO_UNAVAILABLE. */
#define DURO_CONTINUE (-1)

/* exec()'s answer for "remove this namespace" (an op with txn(op) 0, run
 * on the namespace's file, never on the ghost): the actor commits the
 * namespace's open transaction (earlier writes of the batch are answered as
 * usual), closes it, removes its files durably (duro_ns_remove), tells the
 * registry to forget it, and only then answers m with the reply exec built
 * (or the removal's error). Ops after it see a namespace without a file; an
 * op that went to the worker pool (DURO_CONTINUE) before it and comes back
 * after it is answered DURO_UNAVAILABLE ("retry"), since its first step may
 * have read the namespace that is gone. */
#define DURO_DROP (-2)

/* 1 if status means storage failed (roll back), else 0. */
static inline int duro_status_is_storage_error(int st)
{
    return st == DURO_INTERNAL || st == DURO_IO || st == DURO_NOMEM ||
           st == DURO_INSUFFICIENT_STORAGE;
}

#endif
