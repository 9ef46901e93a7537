/*
 * sql.c — the SQL kind: user SQL on the namespace's own file (see sql.h and
 * docs/sql.md).
 *
 * DESIGN
 * An op runs on the owner inside the batch's transaction, as one SAVEPOINT.
 * While the user's SQL is prepared and stepped (and only then) the
 * connection has:
 *   - an authorizer (authorize()) — installed once per connection and active
 *     only then: installing or removing an authorizer expires every prepared
 *     statement of the connection, so the server's own statements (and the
 *     cached user ones) would be prepared again after every SQL op — that
 *     hides _duro_* and sqlite_schema and
 *     refuses ATTACH/DETACH, load_extension, TEMP objects, transactions and
 *     PRAGMAs outside a short read-only list. SQLite's own nested parses
 *     (CREATE TABLE writes sqlite_schema; DROP and ALTER TABLE read it) go
 *     through the authorizer too: writes to sqlite_schema are allowed
 *     (SQLite refuses users those itself), its rowid may be read (every
 *     CREATE and the first use of an eponymous table read it), and its other
 *     columns only inside a DROP or ALTER statement, which holds no user
 *     SELECT. A RENAME TO a hidden name is caught after the step;
 *   - a progress handler that interrupts it past the op's deadline;
 *   - sqlite3_limit: value length <= the reply cap, 0 attached databases,
 *     100 variables (the previous limits come back afterwards).
 * Then the savepoint is released (or rolled back and released). The last
 * few user statements that were a whole request (no DDL) stay prepared, with
 * what the authorizer said of them (duro_sql_cache); SQLite prepares them
 * again, through the authorizer, when the schema changed. SQLite rolls
 * the whole transaction back by itself on some errors (an interrupted or
 * out-of-memory write statement, I/O errors): then the op fails as a storage
 * error, so the actor fails the batch's writes to this namespace instead of
 * acknowledging writes that are gone.
 *
 * Registry: an op that wrote records the tables it wrote (by name, from the
 * authorizer) and whether DDL ran, in the kind's state of the namespace, and
 * marks the kind dirty; the kind's flush, which the actor runs inside the
 * commit, turns that into _duro_resources rows and change notices once per
 * commit (sizes from dbstat). The dirty bit also makes an op on the ghost
 * count as a change, so a CREATE TABLE on a namespace without a file
 * creates it.
 */
#include "objects/sql.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/tape.h"
#include "objects/object.h"
#include "runtime/notice.h"
#include "runtime/runtime.h"

enum { ST_DIFF = 51, ST_SIZE, ST_UPSERT, ST_DELETE };

#define PROGRESS_STEPS 1000 /* VM steps between two looks at the clock */

int duro_sql_hidden(const char *name)
{
    return name && (strncasecmp(name, "_duro_", 6) == 0 ||
                    strncasecmp(name, "sqlite_autoindex__duro_", 23) == 0);
}

static int is_schema_table(const char *t)
{
    return t &&
           (strcasecmp(t, "sqlite_master") == 0 || strcasecmp(t, "sqlite_schema") == 0 ||
            strcasecmp(t, "sqlite_temp_master") == 0 || strcasecmp(t, "sqlite_temp_schema") == 0);
}

/* 1 if a user table or view named t would stand in for one of SQLite's
 * built-in (eponymous) virtual tables, which resolve after the schema's own
 * objects: the server measures table sizes with dbstat. */
static int shadows_builtin(const char *t)
{
    static const char *const builtin[] = {"dbstat",    "sqlite_dbpage",   "sqlite_stmt",
                                          "json_each", "json_tree",       "generate_series",
                                          "fts3tokenize", "fts5vocab", "rtree_i32"};
    if (!t)
        return 0;
    if (strncasecmp(t, "pragma_", 7) == 0)
        return 1;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcasecmp(t, builtin[i]) == 0)
            return 1;
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- one op's run ---- */

typedef struct run {
    sqlite3 *db;
    duro_sql_effects *fx;
    int64_t deadline_ns;
    int64_t timeout_ms;
    int timed_out;
    int internal; /* our own statements: the authorizer lets them be */
    /* the statement being prepared (reset before each) */
    int schema_ok;  /* a DROP or ALTER: SQLite's nested reads of sqlite_schema */
    int alter;      /* an ALTER TABLE */
    int ddl;        /* creates, drops or alters something */
    int table_list; /* PRAGMA table_list: its rows are filtered */
    int stats;      /* it writes sqlite_stat1 / sqlite_stat4 */
    char why[160];  /* the first thing the authorizer refused */
    char view[128]; /* the view a CREATE VIEW makes (checked after it ran) */
    /* the tables the statement being prepared writes (for the cache) */
    size_t st_n;
    int st_over;
    char st_tables[DURO_SQL_CACHE_TABLES][64];
} run;

static int deny(run *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_view(run *c, char *err, size_t errlen);
static int deny(run *c, const char *fmt, ...)
{
    if (!c->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof c->why, fmt, ap);
        va_end(ap);
    }
    return SQLITE_DENY;
}

static void note_table(duro_sql_effects *fx, const char *t)
{
    if (!t || strncasecmp(t, "sqlite_", 7) == 0 || fx->all)
        return;
    for (size_t i = 0; i < fx->n_tables; i++)
        if (strcmp(fx->tables[i], t) == 0)
            return;
    if (fx->n_tables == DURO_SQL_TABLES_MAX || strlen(t) >= sizeof fx->tables[0]) {
        fx->all = 1;
        return;
    }
    snprintf(fx->tables[fx->n_tables++], sizeof fx->tables[0], "%s", t);
}

static const char *const pragma_allowed[] = {"table_info", "table_xinfo", "table_list",
                                             "index_list", "index_info", "index_xinfo",
                                             "foreign_key_list",
                                             /* read by fts5 on the same connection */
                                             "data_version"};

static const char *const vtab_allowed[] = {"fts5", "fts4", "fts3", "rtree"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasecmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* The authorizer (see DESIGN). a1..a4 as sqlite3_set_authorizer documents. */
static int authorize(void *arg, int code, const char *a1, const char *a2, const char *a3,
                     const char *a4)
{
    run *c = arg;
    (void)a4;
    if (c->internal)
        return SQLITE_OK;
    int schema_code =
        (code >= SQLITE_CREATE_INDEX && code <= SQLITE_DROP_VIEW && code != SQLITE_DELETE) ||
        code == SQLITE_CREATE_VTABLE || code == SQLITE_DROP_VTABLE;
    if (schema_code && a3 && strcasecmp(a3, "main") != 0) /* CREATE TABLE temp.t */
        return deny(c, "TEMP tables, views, triggers and indexes");
    switch (code) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_READ:
        if (duro_sql_hidden(a1))
            return deny(c, "table %s is internal to the server", a1);
        if (is_schema_table(a1)) {
            /* its rowid, or no column (count(*)), tells nothing */
            if ((a2 && (strcasecmp(a2, "ROWID") == 0 || !a2[0])) || c->schema_ok)
                return SQLITE_OK;
            return deny(c, "reading %s (use PRAGMA table_list)", a1);
        }
        /* ALTER TABLE ADD COLUMN ... CHECK checks the rows with a nested
         * read of pragma_quick_check */
        if (a1 && c->alter && strcasecmp(a1, "pragma_quick_check") == 0)
            return SQLITE_OK;
        if (a1 && (strncasecmp(a1, "pragma_", 7) == 0))
            return deny(c, "the table-valued function %s (use the PRAGMA statement)", a1);
        if (a1 && (strcasecmp(a1, "dbstat") == 0 || strcasecmp(a1, "sqlite_dbpage") == 0 ||
                   strcasecmp(a1, "sqlite_stmt") == 0))
            return deny(c, "the virtual table %s", a1);
        return SQLITE_OK;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        if (duro_sql_hidden(a1))
            return deny(c, "table %s is internal to the server", a1);
        /* the planner's statistics: ANALYZE, DROP and ALTER write them in
         * nested statements, so writes pass, and rows about the server's
         * tables are deleted after the statement (forget_internal_stats) */
        if (a1 && strncasecmp(a1, "sqlite_stat", 11) == 0)
            c->stats = 1;
        if (!is_schema_table(a1) && a1 && strncasecmp(a1, "sqlite_", 7) != 0) {
            note_table(c->fx, a1);
            size_t i = 0;
            while (i < c->st_n && strcmp(c->st_tables[i], a1) != 0)
                i++;
            if (i == c->st_n &&
                (c->st_n == DURO_SQL_CACHE_TABLES || strlen(a1) >= sizeof c->st_tables[0]))
                c->st_over = 1;
            else if (i == c->st_n)
                snprintf(c->st_tables[c->st_n++], sizeof c->st_tables[0], "%s", a1);
        }
        return SQLITE_OK; /* sqlite_schema: SQLite's own nested writes (users cannot) */
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_VIEW:
        if (duro_sql_hidden(a1))
            return deny(c, "names starting with _duro_ are reserved for the server (%s)", a1);
        if (code != SQLITE_DROP_VIEW && shadows_builtin(a1))
            return deny(c, "the name %s is a built-in table of SQLite's (a table of that name"
                           " would stand in for it)", a1);
        if (code == SQLITE_CREATE_VIEW && a1 && strlen(a1) < sizeof c->view)
            snprintf(c->view, sizeof c->view, "%s", a1);
        c->ddl = 1;
        c->schema_ok |= code == SQLITE_DROP_VIEW;
        return SQLITE_OK;
    case SQLITE_DROP_TABLE:
        if (duro_sql_hidden(a1))
            return deny(c, "table %s is internal to the server", a1);
        c->ddl = c->schema_ok = 1;
        return SQLITE_OK;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER:
        if (duro_sql_hidden(a1) || duro_sql_hidden(a2))
            return deny(c, "names starting with _duro_ are reserved for the server (%s on %s)",
                        a1 ? a1 : "?", a2 ? a2 : "?");
        c->ddl = 1;
        c->schema_ok |= code == SQLITE_DROP_INDEX || code == SQLITE_DROP_TRIGGER;
        return SQLITE_OK;
    case SQLITE_ALTER_TABLE: /* a1: database, a2: table */
        if (duro_sql_hidden(a2))
            return deny(c, "table %s is internal to the server", a2);
        c->ddl = c->schema_ok = c->alter = 1;
        return SQLITE_OK;
    case SQLITE_CREATE_VTABLE: /* a1: table, a2: module */
        if (duro_sql_hidden(a1))
            return deny(c, "names starting with _duro_ are reserved for the server (%s)", a1);
        if (shadows_builtin(a1))
            return deny(c, "the name %s is a built-in table of SQLite's (a table of that name"
                           " would stand in for it)", a1);
        if (!in_list(a2, vtab_allowed, sizeof vtab_allowed / sizeof *vtab_allowed))
            return deny(c, "virtual tables of module %s (allowed: fts5, fts4, fts3, rtree)",
                        a2 ? a2 : "?");
        c->ddl = 1;
        return SQLITE_OK;
    case SQLITE_DROP_VTABLE:
        if (duro_sql_hidden(a1))
            return deny(c, "table %s is internal to the server", a1);
        c->ddl = c->schema_ok = 1;
        return SQLITE_OK;
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
        return deny(c, "TEMP tables, views, triggers and indexes");
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return deny(c,
                    "%s: a statement may not open or end a transaction; send the statements"
                    " to /batch, which runs them in one transaction",
                    code == SQLITE_SAVEPOINT ? (a1 && !strcmp(a1, "BEGIN") ? "SAVEPOINT" : a1)
                                             : a1);
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return deny(c, "ATTACH and DETACH");
    case SQLITE_PRAGMA: /* a1: name, a2: argument, a3: database */
        if (a1 && strcasecmp(a1, "page_size") == 0 && !a2)
            return SQLITE_OK; /* read only: rtree asks it when a table is made */
        if (a1 && c->alter && strcasecmp(a1, "quick_check") == 0)
            return SQLITE_OK; /* ALTER TABLE ADD COLUMN ... CHECK, on its rows */
        if (!in_list(a1, pragma_allowed, sizeof pragma_allowed / sizeof *pragma_allowed))
            return deny(c,
                        "PRAGMA %s (allowed: table_info, table_xinfo, table_list, index_list,"
                        " index_info, index_xinfo, foreign_key_list)",
                        a1 ? a1 : "?");
        if (a3 && strcasecmp(a3, "main") != 0)
            return deny(c, "PRAGMA %s on database %s", a1, a3);
        if (duro_sql_hidden(a2) || (a2 && strncasecmp(a2, "sqlite_", 7) == 0))
            return deny(c, "PRAGMA %s of %s, which is internal", a1, a2);
        c->table_list |= strcasecmp(a1, "table_list") == 0;
        return SQLITE_OK;
    case SQLITE_FUNCTION: /* a2: function name */
        if (a2 && strcasecmp(a2, "load_extension") == 0)
            return deny(c, "load_extension()");
        return SQLITE_OK;
    case SQLITE_ANALYZE:
    case SQLITE_REINDEX:
        if (duro_sql_hidden(a1))
            return deny(c, "%s of %s, which is internal (name a table)",
                        code == SQLITE_ANALYZE ? "ANALYZE" : "REINDEX", a1);
        return SQLITE_OK;
    default:
        return deny(c, "this kind of statement (authorizer action %d)", code);
    }
}

/* The authorizer of a connection with a cache: the run's while user SQL runs. */
static int authorize_cached(void *arg, int code, const char *a1, const char *a2, const char *a3,
                            const char *a4)
{
    duro_sql_cache *k = arg;
    return k->active ? authorize(k->active, code, a1, a2, a3, a4) : SQLITE_OK;
}

static int progress(void *arg)
{
    run *c = arg;
    if (mono_ns() > c->deadline_ns) {
        c->timed_out = 1;
        return 1;
    }
    return 0;
}

typedef struct meta {
    int64_t changes, rows_read, rows_written;
    int64_t t0_ns;
} meta;

static void pack_meta(msgpack_packer *pk, sqlite3 *db, const meta *mt)
{
    msgpack_pack_map(pk, 5);
    duro_tape_lit(pk, "changes");
    msgpack_pack_int64(pk, mt->changes);
    duro_tape_lit(pk, "last_row_id");
    msgpack_pack_int64(pk, sqlite3_last_insert_rowid(db));
    duro_tape_lit(pk, "rows_read");
    msgpack_pack_int64(pk, mt->rows_read);
    duro_tape_lit(pk, "rows_written");
    msgpack_pack_int64(pk, mt->rows_written);
    duro_tape_lit(pk, "duration_ms");
    msgpack_pack_double(pk, (double)(mono_ns() - mt->t0_ns) / 1e6);
}

static void pack_value(msgpack_packer *pk, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        msgpack_pack_int64(pk, sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, i);
        if (isfinite(d))
            msgpack_pack_double(pk, d);
        else
            msgpack_pack_nil(pk);
        break;
    }
    case SQLITE_TEXT: {
        const unsigned char *s = sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        if (duro_utf8_valid(s, n)) {
            duro_tape_str(pk, (const char *)s, n);
        } else {
            msgpack_pack_bin(pk, n);
            msgpack_pack_bin_body(pk, s, n);
        }
        break;
    }
    case SQLITE_BLOB: {
        const void *b = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, b, n);
        break;
    }
    default:
        msgpack_pack_nil(pk);
    }
}

static int fail(char *err, size_t errlen, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

/* 1 if rc (a failed call's result code) means storage failed. */
static int storage_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
        return 1;
    default:
        return 0;
    }
}

/* Counts names starting with _duro_ in the schema (a RENAME TO must not add one). */
static int64_t hidden_count(run *c)
{
    sqlite3_stmt *q;
    int64_t n = -1;
    c->internal = 1;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_duro\\_%'"
                           " ESCAPE '\\'",
                           -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    c->internal = 0;
    return n;
}

/* Deletes what the planner's statistics say of the server's tables (a user
 * may write them; they would steer the server's own queries). 0 or a
 * SQLite result code. */
static int forget_internal_stats(run *c)
{
    static const char *const sql[] = {
        "DELETE FROM sqlite_stat1 WHERE tbl LIKE '\\_duro\\_%' ESCAPE '\\'",
        "DELETE FROM sqlite_stat4 WHERE tbl LIKE '\\_duro\\_%' ESCAPE '\\'"};
    int rc = SQLITE_OK;
    c->internal = 1;
    for (size_t i = 0; i < 2 && rc == SQLITE_OK; i++) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(c->db, sql[i], -1, &q, NULL) != SQLITE_OK)
            continue; /* no such table */
        rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
        sqlite3_finalize(q);
    }
    c->internal = 0;
    return rc;
}

/* The error of a failed step or prepare (rc) of user SQL. */
static int stmt_error(run *c, int rc, int *sqlite_rc, char *err, size_t errlen)
{
    if (c->timed_out)
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "statement interrupted after %lld ms (--sql-timeout-ms); nothing of this"
                    " request was applied",
                    (long long)c->timeout_ms);
    if ((rc & 0xff) == SQLITE_AUTH || c->why[0])
        return fail(err, errlen, DURO_BAD_REQUEST, "not allowed: %s",
                    c->why[0] ? c->why : sqlite3_errmsg(c->db));
    if ((rc & 0xff) == SQLITE_TOOBIG)
        return fail(err, errlen, DURO_PAYLOAD_TOO_LARGE,
                    "SQL error: %s (a value may be at most --max-reply-bytes long)",
                    sqlite3_errmsg(c->db));
    if (storage_rc(rc)) {
        *sqlite_rc = rc;
        fail(err, errlen, DURO_IO, "storage error: %s", sqlite3_errmsg(c->db));
        return duro_status_from_sqlite(rc) == DURO_OK ? DURO_INTERNAL : duro_status_from_sqlite(rc);
    }
    return fail(err, errlen, DURO_BAD_REQUEST, "SQL error: %s", sqlite3_errmsg(c->db));
}

/* Binds s's params to st: exactly as many as it has (?, ?NNN only). */
static int bind_params(sqlite3_stmt *st, const duro_sql_stmt *s, char *err, size_t errlen)
{
    int n = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i);
        if (name && name[0] != '?')
            return fail(err, errlen, DURO_BAD_REQUEST,
                        "named parameter %s: use ? or ?NNN with \"params\" in order", name);
    }
    if ((size_t)n != s->n_params)
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "the statement takes %d parameter%s but %zu %s given", n, n == 1 ? "" : "s",
                    s->n_params, s->n_params == 1 ? "was" : "were");
    for (size_t i = 0; i < s->n_params; i++) {
        const duro_sql_param *p = &s->params[i];
        int k = (int)i + 1, rc;
        switch (p->type) {
        case DURO_SQL_INT:
            rc = sqlite3_bind_int64(st, k, p->i);
            break;
        case DURO_SQL_REAL:
            rc = sqlite3_bind_double(st, k, p->d);
            break;
        case DURO_SQL_TEXT:
            rc = sqlite3_bind_text64(st, k, p->s, p->len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case DURO_SQL_BLOB:
            rc = sqlite3_bind_blob64(st, k, p->s ? p->s : "", p->len, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
        if (rc == SQLITE_TOOBIG)
            return fail(err, errlen, DURO_PAYLOAD_TOO_LARGE,
                        "params[%zu] is longer than a value may be (--max-reply-bytes)", i);
        if (rc != SQLITE_OK)
            return fail(err, errlen, DURO_BAD_REQUEST, "params[%zu]: %s", i, sqlite3_errstr(rc));
    }
    return DURO_OK;
}

/* The columns of st that go into a row: of duplicate names the last. */
static int row_columns(sqlite3_stmt *st, int ncol, unsigned char *keep)
{
    int kept = 0;
    for (int i = 0; i < ncol; i++) {
        const char *a = sqlite3_column_name(st, i);
        keep[i] = 1;
        for (int j = i + 1; a && j < ncol && keep[i]; j++) {
            const char *b = sqlite3_column_name(st, j);
            if (b && strcmp(a, b) == 0)
                keep[i] = 0;
        }
        kept += keep[i];
    }
    return kept;
}

/* Steps st to its end. With rows (pk not NULL) packs each row into out, as
 * the elements of an array whose 5-byte header the caller wrote at hdr. */
static int step_all(run *c, sqlite3_stmt *st, const duro_sql_req *r, duro_buf *out, size_t hdr,
                    size_t start, size_t cap, msgpack_packer *pk, meta *mt, int *sqlite_rc,
                    char *err, size_t errlen)
{
    int ncol = sqlite3_column_count(st);
    unsigned char keep[2048];
    if (ncol > (int)sizeof keep)
        return fail(err, errlen, DURO_BAD_REQUEST, "at most %zu result columns", sizeof keep);
    int kept = pk ? row_columns(st, ncol, keep) : 0;
    int64_t rows = 0, changes0 = sqlite3_total_changes64(c->db);
    int64_t hidden0 = c->alter ? hidden_count(c) : 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->table_list) { /* the server's and SQLite's own tables are not listed */
            const char *name = (const char *)sqlite3_column_text(st, 1);
            if (duro_sql_hidden(name) || (name && strncasecmp(name, "sqlite_", 7) == 0))
                continue;
        }
        rows++;
        if (!pk)
            continue;
        if (rows > r->max_rows)
            return fail(err, errlen, DURO_PAYLOAD_TOO_LARGE,
                        "the result has more than %lld rows (--sql-max-rows); add a LIMIT",
                        (long long)r->max_rows);
        msgpack_pack_map(pk, (size_t)kept);
        for (int i = 0; i < ncol; i++) {
            if (!keep[i])
                continue;
            const char *name = sqlite3_column_name(st, i);
            duro_tape_lit(pk, name ? name : "");
            pack_value(pk, st, i);
        }
        if (out->len - start > cap)
            return fail(err, errlen, DURO_PAYLOAD_TOO_LARGE,
                        "the result is larger than --max-reply-bytes (%zu bytes); add a LIMIT or"
                        " select fewer columns",
                        cap);
    }
    if (rc != SQLITE_DONE)
        return stmt_error(c, rc, sqlite_rc, err, errlen);
    if (c->stats && (rc = forget_internal_stats(c)) != SQLITE_OK)
        return stmt_error(c, rc, sqlite_rc, err, errlen);
    if (c->alter && hidden_count(c) > hidden0)
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "not allowed: names starting with _duro_ are reserved for the server");
    if (c->view[0] && (rc = check_view(c, err, errlen)) != DURO_OK)
        return rc;
    if (pk) {
        /* the shortest header for the count (the rows move up to 4 bytes) */
        unsigned char h[5];
        size_t n;
        if (rows < 16) {
            h[0] = (unsigned char)(0x90 | rows);
            n = 1;
        } else if (rows < 65536) {
            h[0] = 0xdc;
            h[1] = (unsigned char)(rows >> 8);
            h[2] = (unsigned char)rows;
            n = 3;
        } else {
            h[0] = 0xdd;
            for (int i = 0; i < 4; i++)
                h[1 + i] = (unsigned char)(rows >> (24 - 8 * i));
            n = 5;
        }
        unsigned char *at = (unsigned char *)out->data + hdr;
        memmove(at + n, at + 5, out->len - hdr - 5);
        memcpy(at, h, n);
        out->len -= 5 - n;
    }
    int64_t written = sqlite3_total_changes64(c->db) - changes0;
    /* a DDL statement's full-scan steps are SQLite's own reads of its schema */
    mt->rows_read +=
        rows + (c->ddl ? 0 : sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0));
    mt->rows_written += written;
    mt->changes += written;
    if (written > 0 || c->ddl)
        c->fx->wrote = 1;
    c->fx->ddl |= c->ddl;
    return DURO_OK;
}

/* A view its creator could not read (over a _duro_ table, sqlite_schema, a
 * pragma function) is refused when it is made: SQLite works out a view's
 * columns without the authorizer, so PRAGMA table_info of it would show the
 * hidden table's columns. Prepares SELECT * FROM it under the authorizer. */
static int check_view(run *c, char *err, size_t errlen)
{
    char q[2 * sizeof c->view + 32], name[sizeof c->view];
    snprintf(name, sizeof name, "%s", c->view);
    size_t n = (size_t)snprintf(q, sizeof q, "SELECT * FROM main.\"");
    for (const char *p = name; *p && n + 4 < sizeof q; p++) {
        if (*p == '"')
            q[n++] = '"';
        q[n++] = *p;
    }
    snprintf(q + n, sizeof q - n, "\" LIMIT 0");
    c->why[0] = '\0';
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, q, -1, &st, NULL);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        return DURO_OK;
    return fail(err, errlen, DURO_BAD_REQUEST, "not allowed: the view %s would read what is hidden: %s", name,
                c->why[0] ? c->why : sqlite3_errmsg(c->db));
}

/* Prepares the next statement of sql[*pos..len) into *st (NULL: nothing
 * but blanks and comments was left). */
static int prepare(run *c, const char *sql, size_t len, size_t *pos, sqlite3_stmt **st,
                   int *sqlite_rc, char *err, size_t errlen)
{
    c->schema_ok = c->alter = c->ddl = c->table_list = c->stats = 0;
    c->view[0] = '\0';
    c->st_n = 0;
    c->st_over = 0;
    c->why[0] = '\0';
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql + *pos, (int)(len - *pos), 0, st, &tail);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return stmt_error(c, rc, sqlite_rc, err, errlen);
    }
    *pos = tail ? (size_t)(tail - sql) : len;
    return DURO_OK;
}

void duro_sql_cache_clear(duro_sql_cache *c)
{
    if (!c)
        return;
    if (c->db)
        sqlite3_set_authorizer(c->db, NULL, NULL);
    sqlite3_finalize(c->sp_begin);
    sqlite3_finalize(c->sp_release);
    sqlite3_finalize(c->sp_rollback);
    for (size_t i = 0; i < DURO_SQL_CACHE_SLOTS; i++) {
        sqlite3_finalize(c->slots[i].st);
        free(c->slots[i].sql);
    }
    memset(c, 0, sizeof *c);
}

/* The cached statement of the whole text s, made ready to run (the run's
 * flags and written tables as when it was prepared), or NULL. */
static sqlite3_stmt *cache_get(run *c, duro_sql_cache *cache, const duro_sql_stmt *s,
                               duro_sql_cached **slot)
{
    for (size_t i = 0; cache && i < DURO_SQL_CACHE_SLOTS; i++) {
        duro_sql_cached *e = &cache->slots[i];
        if (e->sql && e->len == s->len && memcmp(e->sql, s->sql, s->len) == 0) {
            c->schema_ok = e->schema_ok;
            c->alter = e->alter;
            c->table_list = e->table_list;
            c->stats = e->stats;
            c->ddl = 0;
            c->why[0] = '\0';
            for (size_t t = 0; t < e->n_tables; t++)
                note_table(c->fx, e->tables[t]);
            *slot = e;
            return e->st;
        }
    }
    return NULL;
}

/* Keeps st (just prepared from all of s) in the cache if it may be: one
 * whole statement, no DDL, nothing refused, few tables. *slot gets its
 * entry (NULL if not kept: the caller finalizes it). */
static void cache_put(run *c, duro_sql_cache *cache, const duro_sql_stmt *s, size_t pos,
                      sqlite3_stmt *st, duro_sql_cached **slot)
{
    *slot = NULL;
    if (!cache || s->len > DURO_SQL_CACHE_TEXT_MAX || c->ddl || c->alter || c->why[0] || c->st_over)
        return;
    for (size_t i = pos; i < s->len; i++)
        if (s->sql[i] != ' ' && s->sql[i] != '\n' && s->sql[i] != '\t' && s->sql[i] != '\r' &&
            s->sql[i] != ';')
            return;
    char *text = malloc(s->len + 1);
    if (!text)
        return;
    duro_sql_cached *e = &cache->slots[cache->next++ % DURO_SQL_CACHE_SLOTS];
    sqlite3_finalize(e->st);
    free(e->sql);
    memcpy(text, s->sql, s->len + 1);
    *e = (duro_sql_cached){.stats = c->stats,
                           .sql = text,
                           .len = s->len,
                           .st = st,
                           .schema_ok = c->schema_ok,
                           .table_list = c->table_list,
                           .n_tables = c->st_n};
    memcpy(e->tables, c->st_tables, sizeof e->tables);
    *slot = e;
}

/* Runs statement s (exec: every statement of its text) into out. */
static int run_one(run *c, duro_sql_cache *cache, int op, const duro_sql_req *r,
                   const duro_sql_stmt *s, duro_buf *out, size_t start, size_t cap, meta *mt,
                   int *sqlite_rc, char *err, size_t errlen)
{
    msgpack_packer pk;
    duro_tape_packer(&pk, out);
    size_t pos = 0;
    int count = 0, st = DURO_OK;
    sqlite3_stmt *stmt = NULL;
    for (;;) {
        duro_sql_cached *slot = NULL;
        if (pos == 0 && (stmt = cache_get(c, cache, s, &slot)) != NULL) {
            pos = s->len;
        } else {
            if ((st = prepare(c, s->sql, s->len, &pos, &stmt, sqlite_rc, err, errlen)) != DURO_OK)
                return st;
            if (stmt && count == 0)
                cache_put(c, cache, s, pos, stmt, &slot);
        }
        if (!stmt) {
            if (count == 0)
                return fail(err, errlen, DURO_BAD_REQUEST, "no SQL statement in \"sql\"");
            return DURO_OK;
        }
        count++;
        if (count > 1 && (op != DURO_SQL_EXEC || s->n_params)) {
            sqlite3_finalize(stmt); /* never a cached one: that is a whole text */
            return fail(err, errlen, DURO_BAD_REQUEST,
                        op == DURO_SQL_EXEC
                            ? "exec with params runs exactly one statement"
                            : "one statement per query; several go to exec (no params) or batch");
        }
        if ((st = bind_params(stmt, s, err, errlen)) == DURO_OK && r->read_only &&
            !sqlite3_stmt_readonly(stmt))
            st = fail(err, errlen, DURO_FORBIDDEN,
                      "this token may only read (scope read): the statement writes");
        if (st == DURO_OK) {
            if (op == DURO_SQL_EXEC) {
                st = step_all(c, stmt, r, out, 0, start, cap, NULL, mt, sqlite_rc, err, errlen);
            } else {
                msgpack_pack_map(&pk, 2);
                duro_tape_lit(&pk, "results");
                size_t hdr = out->len;
                static const unsigned char a32[5] = {0xdd, 0, 0, 0, 0};
                if (duro_buf_append(out, a32, sizeof a32) != 0)
                    st = fail(err, errlen, DURO_NOMEM, "out of memory");
                else
                    st =
                        step_all(c, stmt, r, out, hdr, start, cap, &pk, mt, sqlite_rc, err, errlen);
            }
        }
        if (slot) { /* kept: it holds no row and no pointer into this request */
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
        } else {
            sqlite3_finalize(stmt);
        }
        if (st != DURO_OK)
            return st;
        if (op != DURO_SQL_EXEC) {
            duro_tape_lit(&pk, "meta");
            pack_meta(&pk, c->db, mt);
        }
    }
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Runs one of the savepoint's statements, kept in *slot when there is a cache. */
static int control(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
    if (!slot)
        return exec_sql(db, sql);
    if (!*slot) {
        int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    int rc = sqlite3_step(*slot);
    sqlite3_reset(*slot);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int duro_sql_run(sqlite3 *db, duro_sql_cache *cache, int op, const duro_sql_req *r,
                 size_t reply_cap, duro_buf *out, duro_sql_effects *fx, int *sqlite_rc, char *err,
                 size_t errlen)
{
    *sqlite_rc = 0;
    err[0] = '\0';
    memset(fx, 0, offsetof(duro_sql_effects, tables));
    size_t start = out->len;
    int in_txn = !sqlite3_get_autocommit(db);
    int rc = control(db, cache ? &cache->sp_begin : NULL, "SAVEPOINT duro_sql");
    if (rc != SQLITE_OK) {
        *sqlite_rc = rc;
        snprintf(err, errlen, "storage error: %s", sqlite3_errmsg(db));
        int st = duro_status_from_sqlite(rc);
        return st == DURO_OK ? DURO_INTERNAL : st;
    }
    run c = {.db = db, .fx = fx, .timeout_ms = r->timeout_ms};
    c.deadline_ns = mono_ns() + r->timeout_ms * 1000000;
    int cap_len = reply_cap < (size_t)0x7fffffff ? (int)reply_cap : 0x7fffffff;
    int old_len = sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, cap_len < old_len ? cap_len : old_len);
    int old_att = sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    int old_var = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, DURO_SQL_PARAMS_MAX);
    sqlite3_set_last_insert_rowid(db, 0);
    if (!cache) {
        sqlite3_set_authorizer(db, authorize, &c);
    } else {
        if (cache->db != db) { /* first use (a cache serves one connection) */
            cache->db = db;
            sqlite3_set_authorizer(db, authorize_cached, cache);
        }
        cache->active = &c;
    }
    sqlite3_progress_handler(db, PROGRESS_STEPS, progress, &c);

    msgpack_packer pk;
    duro_tape_packer(&pk, out);
    meta mt = {.t0_ns = mono_ns()};
    int st = DURO_OK;
    if (op == DURO_SQL_BATCH)
        msgpack_pack_array(&pk, r->n);
    for (size_t i = 0; st == DURO_OK && i < r->n; i++) {
        if (op == DURO_SQL_BATCH)
            mt = (meta){.t0_ns = mono_ns()};
        st = run_one(&c, cache, op, r, &r->stmts[i], out, start, reply_cap, &mt, sqlite_rc, err,
                     errlen);
        if (st != DURO_OK && op == DURO_SQL_BATCH && r->n > 1) {
            char tmp[192];
            snprintf(tmp, sizeof tmp, "statements[%zu]: %s", i, err);
            snprintf(err, errlen, "%s", tmp);
        }
    }
    if (st == DURO_OK && op == DURO_SQL_EXEC) {
        msgpack_pack_map(&pk, 1);
        duro_tape_lit(&pk, "meta");
        pack_meta(&pk, db, &mt);
    }

    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (cache)
        cache->active = NULL;
    else
        sqlite3_set_authorizer(db, NULL, NULL);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, old_len);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, old_att);
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, old_var);
    if (st == DURO_OK &&
        (rc = control(db, cache ? &cache->sp_release : NULL, "RELEASE duro_sql")) != SQLITE_OK) {
        *sqlite_rc = rc;
        snprintf(err, errlen, "storage error: %s", sqlite3_errmsg(db));
        st = duro_status_from_sqlite(rc) == DURO_OK ? DURO_INTERNAL : duro_status_from_sqlite(rc);
    }
    if (st != DURO_OK) {
        out->len = start;
        if (in_txn && sqlite3_get_autocommit(db)) {
            /* SQLite rolled the whole transaction back (an interrupted or
             * failed write statement): the batch's other writes are gone too */
            if (!duro_status_is_storage_error(st)) {
                size_t n = strlen(err);
                snprintf(err + n, errlen - n, "; SQLite rolled back the whole transaction");
                st = DURO_INTERNAL;
                *sqlite_rc = *sqlite_rc ? *sqlite_rc : SQLITE_ABORT;
            }
        } else if (!sqlite3_get_autocommit(db)) {
            control(db, cache ? &cache->sp_rollback : NULL, "ROLLBACK TO duro_sql");
            control(db, cache ? &cache->sp_release : NULL, "RELEASE duro_sql");
        }
        memset(fx, 0, offsetof(duro_sql_effects, tables));
    }
    return st;
}

/* ---- the kind ---- */

/* The kind's state of a namespace: the tables written since the last flush
 * (a duro_sql_effects as a set) and the connection's statement cache. */
#define MEASURE_MS 1000 /* a table's size is measured at most this often */

typedef struct sql_state {
    /* fx.tables: the tables whose registry row is due (written since they
     * were last measured); fx.ddl / fx.all: rescan the schema */
    duro_sql_effects fx;
    unsigned char fresh[DURO_SQL_TABLES_MAX]; /* fx.tables[i] written since the last flush */
    struct {
        char name[128];
        int64_t at;
    } measured[DURO_SQL_TABLES_MAX]; /* when tables were last measured (a ring) */
    unsigned n_measured;
    sqlite3_stmt *touch; /* SQL_TOUCH */
    duro_sql_cache cache;
} sql_state;

static sql_state *state_of(duro_ns *ns, int create)
{
    sql_state *s = ns->kind_state[DURO_KIND_SQL];
    if (!s && create && (s = calloc(1, sizeof *s)))
        ns->kind_state[DURO_KIND_SQL] = s;
    return s;
}

static int sql_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    DURO_ASSERT_OWNER(ns->owner);
    (void)now;
    duro_sql_effects *fx = malloc(sizeof *fx);
    if (!fx)
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    int rc = 0;
    char err[sizeof m->errmsg];
    sql_state *state = state_of(ns, 1); /* NULL: run without a cache */
    int st = duro_sql_run(ns->db, state ? &state->cache : NULL, m->op, m->req,
                          duro_ns_reply_cap(ns), &m->body, fx, &rc, err, sizeof err);
    if (st == DURO_OK && (fx->wrote || fx->ddl))
        ns->commit_now = 1; /* user tables are made durable by SQLite's COMMIT, not the log */
    if (st == DURO_OK && (fx->wrote || fx->ddl)) {
        duro_sql_effects *s = state ? &state->fx : NULL;
        if (!s) {
            free(fx);
            return duro_ns_fail(ns, m, -DURO_NOMEM);
        }
        s->ddl |= fx->ddl;
        s->all |= fx->all;
        for (size_t i = 0; i < fx->n_tables; i++) {
            note_table(s, fx->tables[i]);
            for (size_t k = 0; k < s->n_tables; k++)
                if (strcmp(s->tables[k], fx->tables[i]) == 0)
                    state->fresh[k] = 1;
        }
        ns->dirty_kinds |= 1u << DURO_KIND_SQL;
        duro_ns_next_version(ns);
    }
    free(fx);
    if (st == DURO_OK)
        return DURO_OK;
    if (duro_status_is_storage_error(st))
        return duro_ns_fail(ns, m, rc ? rc : -st);
    return duro_msg_fail(m, st, "%s", err);
}

static const char SQL_DIFF[] =
    "SELECT 1, name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%'"
    " ESCAPE '\\' AND name NOT LIKE '\\_duro\\_%' ESCAPE '\\' AND (?1 OR name NOT IN"
    " (SELECT key FROM _duro_resources WHERE type = 'd1'))"
    " UNION ALL SELECT 0, key FROM _duro_resources WHERE type = 'd1' AND key NOT IN"
    " (SELECT name FROM sqlite_schema WHERE type = 'table')";
static const char SQL_SIZE[] =
    "SELECT (SELECT coalesce(sum(s.pgsize), 0) FROM sqlite_schema AS m, dbstat AS s"
    " WHERE m.tbl_name = ?1 AND s.name = m.name AND s.aggregate = 1)"
    " FROM sqlite_schema WHERE type = 'table' AND name = ?1";
static const char SQL_UPSERT[] =
    "INSERT INTO _duro_resources(type, key, size, metadata, created_at, updated_at)"
    " VALUES('d1', ?1, ?2, NULL, ?3, ?3) ON CONFLICT(type, key) DO UPDATE SET"
    " size = excluded.size, updated_at = excluded.updated_at RETURNING created_at";
static const char SQL_DELETE[] = "DELETE FROM _duro_resources WHERE type = 'd1' AND key = ?1";
static const char SQL_TOUCH[] = "UPDATE _duro_resources SET updated_at = ?2 WHERE type = 'd1'"
                                " AND key = ?1 RETURNING created_at, size";

/* The table name's registry row and PUT notice, if the table exists. */
static int flush_table(duro_ns *ns, const char *name, int64_t now)
{
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_SIZE, SQL_SIZE);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int64_t size = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return 0; /* gone (dropped in the same commit: the diff said so) */
    if (rc != SQLITE_ROW)
        return -1;
    sqlite3_stmt *u = duro_ns_stmt(ns, ST_UPSERT, SQL_UPSERT);
    if (!u)
        return -1;
    sqlite3_bind_text(u, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(u, 2, size);
    sqlite3_bind_int64(u, 3, now);
    rc = sqlite3_step(u);
    int64_t created = rc == SQLITE_ROW ? sqlite3_column_int64(u, 0) : now;
    sqlite3_reset(u);
    if (rc != SQLITE_ROW)
        return -1;
    duro_notice n = {.op = DURO_NOTICE_PUT,
                     .type = "d1",
                     .type_len = 2,
                     .key = name,
                     .key_len = strlen(name),
                     .size = size,
                     .created_at = created,
                     .updated_at = now};
    return duro_notice_add(&ns->notes, &n);
}

/* When name was last measured, or -1. */
static int64_t measured_at(const sql_state *st, const char *name)
{
    unsigned n = st->n_measured < DURO_SQL_TABLES_MAX ? st->n_measured : DURO_SQL_TABLES_MAX;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(st->measured[i].name, name) == 0)
            return st->measured[i].at;
    return -1;
}

static void set_measured(sql_state *st, const char *name, int64_t now)
{
    unsigned n = st->n_measured < DURO_SQL_TABLES_MAX ? st->n_measured : DURO_SQL_TABLES_MAX;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(st->measured[i].name, name) == 0) {
            st->measured[i].at = now;
            return;
        }
    unsigned i = st->n_measured++ % DURO_SQL_TABLES_MAX;
    snprintf(st->measured[i].name, sizeof st->measured[i].name, "%s", name);
    st->measured[i].at = now;
}

/* A write to name between two measurements: its row's updated_at and a PUT
 * notice with the size last measured. 0 (also if it has no row), or -1. */
static int touch_table(duro_ns *ns, sql_state *st, const char *name, int64_t now)
{
    if (!st->touch && sqlite3_prepare_v3(ns->db, SQL_TOUCH, -1, SQLITE_PREPARE_PERSISTENT,
                                         &st->touch, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st->touch, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->touch, 2, now);
    int rc = sqlite3_step(st->touch);
    duro_notice n = {.op = DURO_NOTICE_PUT,
                     .type = "d1",
                     .type_len = 2,
                     .key = name,
                     .key_len = strlen(name),
                     .updated_at = now};
    if (rc == SQLITE_ROW) {
        n.created_at = sqlite3_column_int64(st->touch, 0);
        n.size = sqlite3_column_int64(st->touch, 1);
        rc = sqlite3_step(st->touch);
    }
    sqlite3_reset(st->touch);
    sqlite3_clear_bindings(st->touch);
    if (rc != SQLITE_DONE)
        return -1;
    return n.created_at ? duro_notice_add(&ns->notes, &n) : 0;
}

/* Inside the commit (and the write-behind pass): the registry rows and
 * notices of what was written. Measuring a table (dbstat) reads all its
 * pages, so each is measured at most every MEASURE_MS: a write in between
 * moves updated_at and keeps the last size, and the table stays due (the
 * kind stays dirty) until the write-behind pass measures it. */
static int sql_flush(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    sql_state *state = state_of(ns, 0);
    duro_sql_effects *s = state ? &state->fx : NULL;
    if (!s) {
        ns->dirty_kinds &= ~(1u << DURO_KIND_SQL);
        return 0;
    }
    int64_t now = duro_now_ms();
    if (s->ddl || s->all) {
        sqlite3_stmt *q = duro_ns_stmt(ns, ST_DIFF, SQL_DIFF);
        if (!q)
            return -1;
        sqlite3_bind_int(q, 1, s->all);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 1);
            if (!name)
                continue;
            int r = 0;
            if (sqlite3_column_int(q, 0)) {
                int known = 0;
                for (size_t i = 0; i < s->n_tables && !known; i++)
                    known = strcmp(s->tables[i], name) == 0;
                if (!known && (r = flush_table(ns, name, now)) == 0)
                    set_measured(state, name, now);
            } else {
                sqlite3_stmt *d = duro_ns_stmt(ns, ST_DELETE, SQL_DELETE);
                duro_notice n = {.op = DURO_NOTICE_DEL,
                                 .type = "d1",
                                 .type_len = 2,
                                 .key = name,
                                 .key_len = strlen(name)};
                r = -1;
                if (d) {
                    sqlite3_bind_text(d, 1, name, -1, SQLITE_TRANSIENT);
                    r = sqlite3_step(d) == SQLITE_DONE ? 0 : -1;
                    sqlite3_reset(d);
                }
                if (r == 0)
                    r = duro_notice_add(&ns->notes, &n);
            }
            if (r != 0) {
                sqlite3_reset(q);
                return -1;
            }
        }
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
            return -1;
    }
    char later[DURO_SQL_TABLES_MAX][sizeof s->tables[0]]; /* still due after this */
    size_t keep = 0;
    for (size_t i = 0; i < s->n_tables; i++) {
        int64_t last = measured_at(state, s->tables[i]);
        int due = last < 0 || now - last >= MEASURE_MS, r = 0;
        if (due && (r = flush_table(ns, s->tables[i], now)) == 0)
            set_measured(state, s->tables[i], now);
        else if (!due && state->fresh[i])
            r = touch_table(ns, state, s->tables[i], now);
        if (r != 0)
            return -1; /* the set is as it was: the next flush does it again */
        if (!due)
            memcpy(later[keep++], s->tables[i], sizeof later[0]);
    }
    memcpy(s->tables, later, keep * sizeof later[0]);
    s->n_tables = keep;
    memset(state->fresh, 0, sizeof state->fresh);
    s->ddl = s->all = s->wrote = 0;
    if (!keep)
        ns->dirty_kinds &= ~(1u << DURO_KIND_SQL);
    return 0;
}

static void sql_ns_close(duro_ns *ns)
{
    sql_state *s = ns->kind_state[DURO_KIND_SQL];
    if (s) {
        sqlite3_finalize(s->touch);
        duro_sql_cache_clear(&s->cache);
    }
    free(s);
    ns->kind_state[DURO_KIND_SQL] = NULL;
}

static int sql_writes(int op)
{
    (void)op;
    return DURO_WRITES_IF_STMT;
}

static void sql_free(void *req) { duro_sql_req_free(req); }

static size_t sql_reply_bound(int op, const duro_limits *lim)
{
    (void)op;
    return lim && lim->max_reply_bytes ? lim->max_reply_bytes : DURO_MAX_REPLY_DEFAULT;
}

static const char *const sql_ops[] = {
    [DURO_SQL_EXEC] = "sql.exec",
    [DURO_SQL_QUERY] = "sql.query",
    [DURO_SQL_BATCH] = "sql.batch",
};

const duro_kind duro_sql_kind = {
    .name = "sql",
    .metric = "duro_sql_ops_total",
    .metric_help = "SQL operations run (exec, query, batch).",
    .ops = sql_ops,
    .n_ops = DURO_SQL_OP_COUNT,
    .writes = sql_writes,
    .txn = duro_ops_all,
    .decode = duro_sql_decode_args,
    .free = sql_free,
    .reply_bound = sql_reply_bound,
    .exec = sql_exec,
    .flush = sql_flush,
    .ns_close = sql_ns_close,
};
