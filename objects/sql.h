/*
 * sql.h — the SQL kind: user SQL on the namespace's own SQLite file
 * (POST /api/storage/d1/{ns}/exec | query | batch, ops sql.exec, sql.query,
 * sql.batch). docs/sql.md is the user's side of everything here.
 *
 * Every op runs on the namespace's owner inside the batch's group-commit
 * transaction (txn = 1) and is answered after COMMIT. Each op is one
 * SAVEPOINT: a failing statement undoes its own op (a whole batch), never
 * another op of the group commit. While user SQL is prepared and stepped an
 * authorizer hides the server's tables (_duro_*, sqlite_schema), refuses
 * ATTACH, extensions, TEMP objects, transactions and every PRAGMA but a few
 * read-only ones; a progress handler interrupts it past its time budget; and
 * sqlite3_limit bounds values (length <= the reply cap), variables (100) and
 * attached databases (0).
 *
 * Replies (tape):
 *   EXEC   {meta}                  (several ;-separated statements: summed)
 *   QUERY  {results: [row...], meta}
 *   BATCH  [{results, meta}, ...]  one per statement, all or nothing
 * where a row is a map column name -> value (INTEGER int64, REAL float64 or
 * nil when not finite, TEXT str or bin when it is not UTF-8, BLOB bin, NULL
 * nil; of duplicate column names the last wins) and meta is {changes,
 * last_row_id, rows_read, rows_written, duration_ms}.
 *
 * Registry: each user table is a "d1" resource, kept in _duro_resources (so
 * a registry rebuild from the file finds it) and sent as change notices by
 * the kind's flush, once per commit, for the tables the batch wrote (size
 * from dbstat) and the tables DDL created, renamed or dropped.
 */
#ifndef DURO_SQL_H
#define DURO_SQL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "runtime/kind.h"

enum duro_sql_op { DURO_SQL_EXEC = 0, DURO_SQL_QUERY, DURO_SQL_BATCH, DURO_SQL_OP_COUNT };

#define DURO_SQL_TEXT_MAX (100u * 1024) /* bytes of one statement's (or exec script's) text */
#define DURO_SQL_PARAMS_MAX 100         /* parameters of one statement */
#define DURO_SQL_BATCH_MAX 100          /* statements of one batch */
#define DURO_SQL_TIMEOUT_DEFAULT 1000   /* ms: --sql-timeout-ms */
#define DURO_SQL_ROWS_DEFAULT 10000     /* --sql-max-rows */
#define DURO_SQL_TABLES_MAX 64          /* tables an op's writes are tracked by name */

enum { DURO_SQL_NULL = 0, DURO_SQL_INT, DURO_SQL_REAL, DURO_SQL_TEXT, DURO_SQL_BLOB };

typedef struct duro_sql_param {
    int type; /* DURO_SQL_* */
    int64_t i;
    double d;
    char *s; /* TEXT or BLOB bytes (malloc'd) */
    size_t len;
} duro_sql_param;

typedef struct duro_sql_stmt {
    char *sql; /* NUL-terminated copy */
    size_t len;
    duro_sql_param *params;
    size_t n_params;
} duro_sql_stmt;

typedef struct duro_sql_req {
    duro_sql_stmt *stmts; /* one, or a batch's */
    size_t n;
    int read_only;      /* the caller may only read: writing statements are 403 */
    int64_t timeout_ms; /* the op's budget (a batch shares one) */
    int64_t max_rows;   /* rows a statement may return */
} duro_sql_req;

void duro_sql_req_free(duro_sql_req *r);

/* Builds the request of op from a body: EXEC / QUERY {"sql", "params"?},
 * BATCH {"statements": [{"sql", "params"?}, ...]} (1..DURO_SQL_BATCH_MAX).
 * A param is null, a bool (0/1), an integer, a float, a string or
 * {"$bytes": "<standard base64>"} (a BLOB). lim gives the timeout and row
 * bound (NULL: the defaults). DURO_OK with *out set, or DURO_BAD_REQUEST /
 * DURO_PAYLOAD_TOO_LARGE / DURO_NOMEM with a message in err. */
int duro_sql_request(int op, const json_t *body, const duro_limits *lim, int read_only,
                     duro_sql_req **out, char *err, size_t errlen);

/* The kind's decode (runtime/kind.h): the binary protocol's args. */
int duro_sql_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

/* What an op did, for the registry and the ghost test. */
typedef struct duro_sql_effects {
    int wrote; /* some statement changed rows or the schema */
    int ddl;   /* some statement created, altered or dropped something */
    int all;   /* more tables were written than names kept: rescan them all */
    size_t n_tables;
    char tables[DURO_SQL_TABLES_MAX][128]; /* tables written (names that fit) */
} duro_sql_effects;

/* Prepared statements kept for one connection (the namespace's, in the
 * kind's state): the savepoint's own three, and the last few user
 * statements that were one whole request each (no DDL, at most 4 KiB of
 * text), with what the authorizer said of them. */
#define DURO_SQL_CACHE_SLOTS 16
#define DURO_SQL_CACHE_TEXT_MAX 4096
#define DURO_SQL_CACHE_TABLES 4

typedef struct duro_sql_cached {
    char *sql; /* NULL: a free slot */
    size_t len;
    sqlite3_stmt *st;
    int schema_ok, alter, table_list, stats;
    size_t n_tables;
    char tables[DURO_SQL_CACHE_TABLES][64]; /* the tables it writes */
} duro_sql_cached;

typedef struct duro_sql_cache {
    /* the authorizer stays installed on db while the cache lives (installing
     * or removing one expires every prepared statement of the connection:
     * the server's own would be prepared again after each SQL op); it
     * refuses nothing while no user SQL runs (active NULL) */
    sqlite3 *db;
    void *active;
    sqlite3_stmt *sp_begin, *sp_release, *sp_rollback;
    duro_sql_cached slots[DURO_SQL_CACHE_SLOTS];
    unsigned next; /* the slot to replace next */
} duro_sql_cache;

/* Finalizes every statement of c and removes its authorizer (before its
 * connection closes or the cache is freed) and empties it. NULL is a no-op. */
void duro_sql_cache_clear(duro_sql_cache *c);

/* Runs op's request on db in one SAVEPOINT (released on success, rolled
 * back on error) with the authorizer, limits and time budget on, and
 * appends the reply tape to out (nothing on error). reply_cap bounds the
 * reply's bytes. DURO_OK; DURO_BAD_REQUEST / DURO_FORBIDDEN /
 * DURO_PAYLOAD_TOO_LARGE with a message in err (the op was undone); or a
 * storage status with *sqlite_rc the failed call's result code (the caller
 * fails the transaction: SQLite may have rolled it back already). fx (not
 * NULL) gets what the op did. cache (NULL: none) keeps prepared statements
 * of db between calls. Exposed for tests: the kind's exec is this
 * over the namespace's handle. */
int duro_sql_run(sqlite3 *db, duro_sql_cache *cache, int op, const duro_sql_req *r,
                 size_t reply_cap, duro_buf *out, duro_sql_effects *fx, int *sqlite_rc, char *err,
                 size_t errlen);

/* 1 if name is one user SQL may not see: _duro_* (any case),
 * sqlite_autoindex__duro_*, else 0. */
int duro_sql_hidden(const char *name);

extern const duro_kind duro_sql_kind;

#endif
