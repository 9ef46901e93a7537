/*
 * store.c — namespace files: open, schema migrations, statements, transactions.
 *
 * DESIGN
 * Each namespace is one SQLite file in WAL mode at
 * <data>/ns/<shard>/<name>.db (see route.h). synchronous=FULL by default, so a
 * COMMIT returns only after the WAL is on disk; `--sync normal` trades the last
 * commits before an OS crash (not a process crash) for fewer fsyncs.
 * Extension loading is disabled. The schema version is PRAGMA user_version; each
 * migration runs in its own transaction. The steps are the object kinds'
 * (runtime/kind.h), collected into one duro_schema by the runtime. Internal
 * tables are named _duro_* so that user SQL can be kept away from them by
 * name.
 *
 * Ownership: a duro_ns belongs to the thread that opened it (ns->owner, set
 * by ns_new()); the functions below that touch its handle, statements,
 * transaction or cache assert it (runtime/owner.h).
 */
#include "runtime/ns.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/errinj.h"
#include "runtime/route.h"
#include "runtime/stats.h"


static void session_end(duro_ns *ns);
static int store_version(duro_ns *ns, int always);

enum {
    ST_SET_VERSION = 63,
    ST_SET_MARK,
    ST_GET_MARK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_GET_VERSION,
};

/* WAL pages before an automatic checkpoint (SQLite's default is 1000). A
 * checkpoint costs about one write of every distinct page touched since the
 * last one plus an fsync of the database file, and it runs on the owner
 * thread, stalling that namespace's commits: fewer, larger checkpoints do less
 * work in all. The WAL file is cut back to 8 MiB after each checkpoint
 * (journal_size_limit), so an idle namespace does not keep a large one. */
#ifndef DURO_WAL_CHECKPOINT_PAGES
#define DURO_WAL_CHECKPOINT_PAGES "4096"
#endif

int duro_status_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return DURO_OK;
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return DURO_INSUFFICIENT_STORAGE;
    case SQLITE_NOMEM:
        return DURO_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DURO_UNAVAILABLE;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
        return DURO_IO;
    default:
        return DURO_INTERNAL;
    }
}

const char *const duro_why_no_fds = "too many open files; retry later";
const char *const duro_why_readonly = "the data directory is read-only";
const char *const duro_why_full = "the data directory's disk is full";

/* The status and client message of an OS error number behind a failed
 * storage call; DURO_OK if it is none of the classified causes. */
static int status_from_errno(int e, const char **why)
{
    const char *w = e == EMFILE || e == ENFILE ? duro_why_no_fds
                  : e == EROFS                 ? duro_why_readonly
                  : e == ENOSPC || e == EDQUOT ? duro_why_full
                                               : NULL;
    if (why)
        *why = w;
    return !w ? DURO_OK : w == duro_why_no_fds ? DURO_UNAVAILABLE : DURO_INSUFFICIENT_STORAGE;
}

int duro_status_from_db(sqlite3 *db, int rc, const char **why)
{
    if (why)
        *why = NULL;
    int p = rc & 0xff;
    if (p == SQLITE_READONLY) {
        if (why)
            *why = duro_why_readonly;
        return DURO_INSUFFICIENT_STORAGE;
    }
    if (p == SQLITE_FULL) {
        if (why)
            *why = duro_why_full;
        return DURO_INSUFFICIENT_STORAGE;
    }
    /* SQLite records the OS error only for these two (and keeps it after) */
    if (db && (p == SQLITE_CANTOPEN || p == SQLITE_IOERR)) {
        int st = status_from_errno(sqlite3_system_errno(db), why);
        if (st != DURO_OK)
            return st;
    }
    return duro_status_from_sqlite(rc);
}

int duro_ns_fail(duro_ns *ns, duro_msg *m, int code)
{
    DURO_ASSERT_OWNER(ns->owner);
    const char *why = NULL;
    int st = code < 0 ? -code : duro_status_from_db(ns->db, code, &why);
    if (st == DURO_OK)
        st = DURO_INTERNAL;
    m->body.len = 0;
    return duro_msg_fail(m, st, "storage error: %s", why ? why : duro_errstr(st));
}

/* 1 if the directory of the file at path is on a read-only file system. */
static int dir_readonly(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0 || n >= sizeof dir)
        return 0;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return access(dir, W_OK) != 0 && errno == EROFS;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        duro_log_error("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

int duro_dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int duro_mkdir_durable(const char *path)
{
    if (mkdir(path, 0755) != 0)
        return errno == EEXIST ? 0 : -1;
    char parent[4096];
    if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0'; /* "/x": the root */
    else if (slash)
        *slash = '\0';
    return duro_dir_sync(slash ? parent : ".");
}

int duro_sql_exec(sqlite3 *db, const char *sql)
{
    return duro_status_from_sqlite(exec(db, sql));
}

/* The status of a failed open or configuration of db (path): as
 * duro_status_from_db(), and a file that cannot be created because its
 * directory is read-only counts as read-only (SQLite then reports the failed
 * read-only retry: ENOENT). */
static int open_status(sqlite3 *db, const char *path, int rc, const char **why)
{
    int st = duro_status_from_db(db, rc, why);
    if (st == DURO_IO && (rc & 0xff) == SQLITE_CANTOPEN && dir_readonly(path)) {
        if (why)
            *why = duro_why_readonly;
        st = DURO_INSUFFICIENT_STORAGE;
    }
    return st;
}

/* duro_sql_open() with the open flags and VFS (NULL: the default) given
 * (path may be a URI). */
static int sql_open(const char *path, int flags, const char *vfs, const char *const *pragmas,
                    sqlite3 **out, const char **why, char *err, size_t errlen)
{
    *out = NULL;
    if (why)
        *why = NULL;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        int st = open_status(db, path, rc, why);
        sqlite3_close(db);
        return st;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    /* users run their own SQL on these files (objects/sql.c): no writes to
     * virtual tables' shadow tables (fts, rtree: hand-made contents are the
     * known way to corrupt their parsers), no writable_schema, and no
     * functions with side effects run from the schema (views, triggers) */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_extended_result_codes(db, 1);
    for (; *pragmas; pragmas++) {
        if ((rc = exec(db, *pragmas)) != SQLITE_OK) {
            snprintf(err, errlen, "configure %s: %s", path, sqlite3_errmsg(db));
            int st = open_status(db, path, rc, why);
            sqlite3_close(db);
            return st;
        }
    }
    *out = db;
    return DURO_OK;
}

int duro_sql_open(const char *path, const char *const *pragmas, sqlite3 **out,
                  const char **why, char *err, size_t errlen)
{
    return sql_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL, pragmas, out, why,
                    err, errlen);
}

/* Opens an existing namespace file on a read-only file system. SQLite reads
 * a WAL-mode file there only if its -wal and -shm files exist (it cannot
 * create the -shm), but a file closed cleanly has neither: then it is opened
 * "immutable" (read-only, no locks, no WAL), which is exact as long as no
 * -wal holds commits the file lacks, and nothing can write the file while its
 * file system is read-only. DURO_OK, or a status as duro_sql_open(). */
static int open_immutable(const char *path, sqlite3 **db, const char **why, char *err,
                          size_t errlen)
{
    static const char *const pragmas[] = {"PRAGMA cache_size=-1024", "PRAGMA temp_store=MEMORY",
                                          NULL};
    char wal[4200], uri[3 * 4096 + 32];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(path, &sb) != 0 || stat(wal, &sb) == 0 || errno != ENOENT)
        return DURO_INSUFFICIENT_STORAGE; /* nothing to read, or a WAL it would miss */
    size_t n = (size_t)snprintf(uri, sizeof uri, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < sizeof uri; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._-~", *p))
            uri[n++] = (char)*p;
        else
            n += (size_t)snprintf(uri + n, sizeof uri - n, "%%%02X", *p);
    }
    snprintf(uri + n, sizeof uri - n, "?immutable=1");
    return sql_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL, pragmas, db, why, err,
                    errlen);
}

int duro_ns_path(const char *data_dir, const char *name, size_t name_len, char *path, size_t cap,
                 size_t *dir_len)
{
    int d = snprintf(path, cap, "%s/ns/%02x", data_dir, duro_route_shard(name, name_len));
    if (d < 0 || (size_t)d >= cap)
        return -1;
    int n = snprintf(path + d, cap - (size_t)d, "/%.*s.db", (int)name_len, name);
    if (n < 0 || (size_t)n >= cap - (size_t)d)
        return -1;
    if (dir_len)
        *dir_len = (size_t)d;
    return 0;
}

/* Reads PRAGMA user_version into *v (the file's first read: it opens the
 * -wal and -shm files). SQLITE_OK or the failing result code. */
static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int migrate(sqlite3 *db, const duro_schema *schema, const char **why, char *err,
                   size_t errlen)
{
    int v = -1, rc = user_version(db, &v);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "read the schema version: %s", sqlite3_errmsg(db));
        return duro_status_from_db(db, rc, why);
    }
    if (v < 0 || v > schema->version) {
        snprintf(err, errlen, "unknown schema version %d (this durod knows up to %d)", v,
                 schema->version);
        return DURO_INTERNAL;
    }
    for (; v < schema->version; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
        if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
            goto fail;
        if (exec(db, schema->steps[v]) != SQLITE_OK || exec(db, sql) != SQLITE_OK ||
            exec(db, "COMMIT") != SQLITE_OK) {
            exec(db, "ROLLBACK");
            goto fail;
        }
    }
    return DURO_OK;
fail:
    snprintf(err, errlen, "schema migration to version %d failed: %s", v + 1,
             sqlite3_errmsg(db));
    return duro_status_from_db(db, sqlite3_extended_errcode(db), why);
}

static int load_counters(duro_ns *ns)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(ns->db,
                                "SELECT (SELECT value FROM _duro_meta WHERE name='version'),"
                                " EXISTS(SELECT 1 FROM _duro_kv WHERE expires_at IS NOT NULL)"
                                " OR EXISTS(SELECT 1 FROM _duro_sessions)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ns->version = ns->version_committed = sqlite3_column_int64(st, 0);
        ns->has_ttl = sqlite3_column_int(st, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* A new, unopened duro_ns named name (NULL on ENOMEM). */
static duro_ns *ns_new(const char *name, size_t name_len, duro_lru *lru)
{
    duro_ns *ns = calloc(1, sizeof *ns);
    if (!ns || duro_ctable_init(&ns->cache, lru) != 0) {
        free(ns);
        return NULL;
    }
    memcpy(ns->name, name, name_len);
    ns->name[name_len] = '\0';
    ns->name_len = name_len;
    ns->pending_tail = &ns->pending;
    duro_owner_set(&ns->owner);
    return ns;
}

/* Migrates ns->db and loads its counters. DURO_OK or a status (message in err). */
static int ns_prepare(duro_ns *ns, const duro_schema *schema, const char *path, const char **why,
                      char *err, size_t errlen)
{
    int st = migrate(ns->db, schema, why, err, errlen);
    int rc;
    if (st == DURO_OK && (rc = load_counters(ns)) != SQLITE_OK) {
        snprintf(err, errlen, "read %s: %s", path, sqlite3_errmsg(ns->db));
        st = open_status(ns->db, path, rc, why);
    }
    return st;
}

/* DURO_OK, or DURO_UNAVAILABLE if the file at path was opened read-only
 * although it is writable: SQLite falls back to a read-only open when the
 * read-write one fails, e.g. for want of a file descriptor at that moment;
 * such a handle would refuse every write. */
static int check_writable(duro_ns *ns, const char *path, const char **why, char *err,
                          size_t errlen)
{
    if (sqlite3_db_readonly(ns->db, "main") != 1)
        return DURO_OK;
    if (access(path, W_OK) != 0) {
        ns->readonly = 1; /* really read-only: reads work, writes are 507 */
        return DURO_OK;
    }
    snprintf(err, errlen, "%s was opened read-only although it is writable", path);
    if (why)
        *why = duro_why_no_fds;
    return DURO_UNAVAILABLE;
}

int duro_ns_exists(const duro_store_config *cfg, const char *name, size_t name_len)
{
    char path[4096];
    struct stat sb;
    if (duro_ns_path(cfg->data_dir, name, name_len, path, sizeof path, NULL) != 0)
        return 1; /* let duro_ns_open() report it */
    return stat(path, &sb) == 0 || errno != ENOENT;
}

/* nftw: removes one entry of a kind's files directory (depth first). */
static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int rc = type == FTW_DP ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

int duro_ns_files_dir(const duro_ns *ns, char *buf, size_t cap)
{
    const char *db = ns->ghost ? NULL : sqlite3_db_filename(ns->db, "main");
    size_t n = db ? strlen(db) : 0;
    if (n < 4 || strcmp(db + n - 3, ".db") != 0 || n + 4 > cap)
        return -1;
    memcpy(buf, db, n - 3);
    memcpy(buf + n - 3, ".files", 7);
    return 0;
}

int duro_ns_remove(const duro_store_config *cfg, const char *name, size_t name_len,
                   const char **why, char *err, size_t errlen)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char path[4096 + 8];
    size_t dir_len;
    *why = NULL;
    if (duro_ns_path(cfg->data_dir, name, name_len, path, 4096, &dir_len) != 0) {
        snprintf(err, errlen, "path too long");
        return DURO_BAD_REQUEST;
    }
    size_t base = strlen(path);
    /* the .db first: once it is gone the namespace is gone (a -wal left
     * behind by a failure below is the one risk: see docs/namespaces.md) */
    for (size_t i = 0; i < 3; i++) {
        snprintf(path + base, sizeof path - base, "%s", suffix[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            int e = errno;
            snprintf(err, errlen, "cannot remove %s: %s", path, strerror(e));
            if (e == EROFS || e == EACCES || e == EPERM) {
                *why = duro_why_readonly;
                return DURO_INSUFFICIENT_STORAGE;
            }
            return DURO_IO;
        }
    }
    /* then the kinds' files beside it (duro_ns_files_dir): without the .db
     * nothing refers to them; a crash in between leaves files a new namespace
     * of that name finds unreferenced and removes (objects/blob.c) */
    snprintf(path + base - 3, sizeof path - base + 3, ".files");
    if (nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "cannot remove %s: %s", path, strerror(e));
        if (e != EROFS && e != EACCES && e != EPERM)
            return DURO_IO;
        *why = duro_why_readonly;
        return DURO_INSUFFICIENT_STORAGE;
    }
    path[dir_len] = '\0';
    if (duro_dir_sync(path) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        return DURO_IO;
    }
    return DURO_OK;
}

int duro_ns_writable(const duro_store_config *cfg, const duro_ns *ns)
{
    char path[4096];
    return duro_ns_path(cfg->data_dir, ns->name, ns->name_len, path, sizeof path, NULL) == 0 &&
           access(path, W_OK) == 0;
}

int duro_ns_open_ghost(const duro_store_config *cfg, duro_lru *lru, duro_ns **out, char *err,
                       size_t errlen)
{
    static const char *const pragmas[] = {"PRAGMA temp_store=MEMORY", NULL};
    *out = NULL;
    duro_ns *ns = ns_new("", 0, lru);
    if (!ns) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    ns->ghost = 1;
    int st = duro_sql_open(":memory:", pragmas, &ns->db, NULL, err, errlen);
    if (st == DURO_OK)
        st = ns_prepare(ns, cfg->schema, ":memory:", NULL, err, errlen);
    if (st != DURO_OK) {
        duro_ns_close(ns);
        return st;
    }
    *out = ns;
    return DURO_OK;
}

/* Before a namespace file is created: a -wal or -shm without its .db (a
 * crash in the middle of duro_ns_remove()) must not be replayed into the
 * new file. */
static void drop_strays(const char *db_path)
{
    struct stat sb;
    if (stat(db_path, &sb) == 0 || errno != ENOENT)
        return;
    char p[4096 + 8];
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
}

int duro_ns_open(const duro_store_config *cfg, const char *name, size_t name_len,
                 duro_lru *lru, duro_ns **out, const char **why, char *err, size_t errlen)
{
    *out = NULL;
    if (why)
        *why = NULL;
    char path[4096];
    size_t dir_len;
    if (duro_ns_path(cfg->data_dir, name, name_len, path, sizeof path, &dir_len) != 0) {
        snprintf(err, errlen, "data path too long");
        return DURO_INTERNAL;
    }
    path[dir_len] = '\0'; /* the shard directory first */
    if (duro_mkdir_durable(path) != 0) { /* a new shard's name must survive a power loss */
        int e = errno;
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(e));
        int st = status_from_errno(e, why);
        return st != DURO_OK ? st : DURO_IO;
    }
    path[dir_len] = '/';
    drop_strays(path);

    duro_ns *ns = ns_new(name, name_len, lru);
    if (!ns) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }

    const char *const pragmas[] = {
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL", /* commits are rare: the commit log carries batches */
        "PRAGMA cache_size=-1024",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA wal_autocheckpoint=" DURO_WAL_CHECKPOINT_PAGES,
        "PRAGMA journal_size_limit=8388608",
        NULL,
    };
    const char *cause;
    /* through the fault injection VFS (errinj.h): its points fire in tests only */
    int st = sql_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, duro_errinj_vfs(), pragmas,
                      &ns->db, &cause, err, errlen);
    if (st != DURO_OK && cause == duro_why_readonly &&
        open_immutable(path, &ns->db, NULL, err, errlen) == DURO_OK)
        st = DURO_OK;
    if (why)
        *why = st == DURO_OK ? NULL : cause;
    if (st == DURO_OK) {
        DURO_STAT_ADD(open_namespaces, 1); /* duro_ns_close() counts it down */
        st = check_writable(ns, path, why, err, errlen);
    }
    if (st == DURO_OK)
        st = ns_prepare(ns, cfg->schema, path, why, err, errlen);
    if (st != DURO_OK) {
        duro_ns_close(ns);
        return st;
    }
    *out = ns;
    return DURO_OK;
}

void duro_ns_close(duro_ns *ns)
{
    if (!ns)
        return;
    DURO_ASSERT_OWNER(ns->owner);
    session_end(ns);
    duro_buf_free(&ns->defer_rec);
    if (ns->cache_raised && ns->cache.lru)
        ns->cache.lru->raised--;
    for (int i = 0; i < DURO_NS_STMTS; i++)
        sqlite3_finalize(ns->stmts[i]);
    if (ns->db && sqlite3_close(ns->db) != SQLITE_OK)
        duro_log_error("close namespace %s: %s", ns->name, sqlite3_errmsg(ns->db));
    else if (ns->db && !ns->ghost)
        DURO_STAT_SUB(open_namespaces, 1);
    duro_ctable_destroy(&ns->cache);
    duro_buf_free(&ns->notes);
    free(ns);
}

sqlite3_stmt *duro_stmt_cached(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
    sqlite3_stmt *st = *slot;
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        duro_log_error("prepare %s: %s", sql, sqlite3_errmsg(db));
        return NULL;
    }
    *slot = st;
    return st;
}

sqlite3_stmt *duro_ns_stmt(duro_ns *ns, int id, const char *sql)
{
    DURO_ASSERT_OWNER(ns->owner);
    return duro_stmt_cached(ns->db, &ns->stmts[id], sql);
}

int duro_ns_begin(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    int rc = exec(ns->db, "BEGIN");
    return duro_status_from_sqlite(rc);
}

int duro_ns_commit(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    int st = store_version(ns, 0);
    if (st != DURO_OK)
        return st;
    int rc = exec(ns->db, "COMMIT");
    if (rc != SQLITE_OK)
        return duro_status_from_db(ns->db, rc, NULL);
    ns->version_committed = ns->version;
    return DURO_OK;
}

/* ---- batches over the commit log ---- */

/* One of the batch's control statements (cached), stepped. */
static int control(duro_ns *ns, int id, const char *sql)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, id, sql);
    if (!st)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The session records the internal tables only: user SQL tables are made
 * durable by SQLite's own COMMIT (ns->commit_now, set by the SQL kind). */
static int internal_table(void *ctx, const char *table)
{
    (void)ctx;
    return strncmp(table, "_duro_", 6) == 0;
}

static void session_end(duro_ns *ns)
{
    if (ns->session)
        sqlite3session_delete(ns->session);
    ns->session = NULL;
}

/* Raises or restores the namespace's page cache (ns.h: DURO_TXN_CACHE_KB). */
static void cache_raise(duro_ns *ns, int raise)
{
    duro_lru *lru = ns->cache.lru;
    if (raise == ns->cache_raised || !lru || (raise && lru->raised >= DURO_TXN_CACHE_MAX))
        return;
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", raise ? DURO_TXN_CACHE_KB : 1024);
    if (exec(ns->db, sql) != SQLITE_OK)
        return;
    ns->cache_raised = raise;
    lru->raised += raise ? 1 : -1;
}

int duro_ns_txn(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (ns->open_txn)
        return DURO_OK;
    int rc = exec(ns->db, "BEGIN");
    if (rc != SQLITE_OK)
        return duro_status_from_db(ns->db, rc, NULL);
    ns->open_txn = 1;
    if (!ns->ghost)
        cache_raise(ns, 1);
    return DURO_OK;
}

void duro_ns_batch_open(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    ns->commit_now = 0;
    ns->txn_lost = 0;
    ns->in_sql = 0;
    ns->deferring = ns->defer_ok;
    ns->batch_deferred = 0;
    ns->defer_rec.len = 0;
}

int duro_ns_batch_sql(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    assert(!ns->defer_kinds); /* settled first: what the session records follows it */
    ns->deferring = 0;
    if (ns->in_sql)
        return DURO_OK;
    int st = duro_ns_txn(ns);
    if (st != DURO_OK)
        return st;
    int rc = control(ns, ST_SAVEPOINT, "SAVEPOINT duro_batch");
    if (rc != SQLITE_OK)
        return duro_status_from_db(ns->db, rc, NULL);
    if (sqlite3session_create(ns->db, "main", &ns->session) != SQLITE_OK) {
        ns->session = NULL;
        control(ns, ST_ROLLBACK_TO, "ROLLBACK TO duro_batch");
        control(ns, ST_RELEASE, "RELEASE duro_batch");
        return DURO_NOMEM;
    }
    sqlite3session_table_filter(ns->session, internal_table, NULL);
    if (sqlite3session_attach(ns->session, NULL) != SQLITE_OK) {
        session_end(ns);
        control(ns, ST_ROLLBACK_TO, "ROLLBACK TO duro_batch");
        control(ns, ST_RELEASE, "RELEASE duro_batch");
        return DURO_NOMEM;
    }
    ns->in_sql = 1;
    return DURO_OK;
}

int duro_ns_batch_begin(duro_ns *ns)
{
    duro_ns_batch_open(ns);
    return duro_ns_batch_sql(ns);
}

duro_buf *duro_ns_defer_rec(duro_ns *ns, int kind)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (!ns->deferring)
        return NULL;
    if (!ns->defer_rec.len) {
        unsigned char h[DURO_ROWS_HEADER] = {(unsigned char)kind};
        if (duro_buf_append(&ns->defer_rec, h, sizeof h) != 0)
            return NULL;
    } else if ((unsigned char)ns->defer_rec.data[0] != kind) {
        return NULL;
    }
    return &ns->defer_rec;
}

int duro_ns_reload_version(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    sqlite3_stmt *st =
        duro_ns_stmt(ns, ST_GET_VERSION, "SELECT value FROM _duro_meta WHERE name='version'");
    if (!st)
        return DURO_INTERNAL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (v > ns->version)
            ns->version = ns->version_committed = v;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? DURO_OK : duro_status_from_db(ns->db, rc, NULL);
}

/* Stores the write counter in _duro_meta: always, or only if this batch
 * moved it. */
static int store_version(duro_ns *ns, int always)
{
    if (!always && ns->version == ns->version_committed)
        return DURO_OK;
    sqlite3_stmt *st =
        duro_ns_stmt(ns, ST_SET_VERSION, "UPDATE _duro_meta SET value=? WHERE name='version'");
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_int64(st, 1, ns->version);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? DURO_OK : duro_status_from_db(ns->db, rc, NULL);
}

int duro_ns_batch_changes(duro_ns *ns, duro_buf *out)
{
    DURO_ASSERT_OWNER(ns->owner);
    int st = store_version(ns, 0);
    if (st != DURO_OK)
        return st;
    if (!ns->session || sqlite3session_isempty(ns->session))
        return DURO_OK;
    int n = 0;
    void *p = NULL;
    int rc = sqlite3session_changeset(ns->session, &n, &p);
    if (rc != SQLITE_OK) {
        sqlite3_free(p);
        return duro_status_from_db(ns->db, rc, NULL);
    }
    st = n > 0 && duro_buf_append(out, p, (size_t)n) != 0 ? DURO_NOMEM : DURO_OK;
    sqlite3_free(p);
    return st;
}

int duro_ns_batch_release(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    session_end(ns);
    if (ns->in_sql) {
        int rc = control(ns, ST_RELEASE, "RELEASE duro_batch");
        if (rc != SQLITE_OK)
            return duro_status_from_db(ns->db, rc, NULL);
    }
    ns->in_sql = 0;
    ns->deferring = 0;
    ns->batch_deferred = 0;
    ns->defer_rec.len = 0;
    ns->version_committed = ns->version;
    return DURO_OK;
}

void duro_ns_batch_abort(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    session_end(ns);
    if (ns->batch_deferred || ns->defer_kinds) {
        /* rows only the cache held go with it: undo the whole open
         * transaction (the actor puts back what the log holds) */
        if (!sqlite3_get_autocommit(ns->db))
            exec(ns->db, "ROLLBACK");
        ns->open_txn = 0;
        ns->defer_kinds = 0;
    } else if (ns->in_sql && !sqlite3_get_autocommit(ns->db)) {
        control(ns, ST_ROLLBACK_TO, "ROLLBACK TO duro_batch");
        control(ns, ST_RELEASE, "RELEASE duro_batch");
    }
    if (sqlite3_get_autocommit(ns->db))
        ns->open_txn = 0; /* SQLite ended it: earlier batches are gone from it too */
    duro_ctable_clear(&ns->cache);
    ns->version = ns->version_committed;
    ns->notes.len = 0;
    ns->in_sql = 0;
    ns->deferring = 0;
    ns->batch_deferred = 0;
    ns->defer_rec.len = 0;
}

int duro_ns_apply(duro_ns *ns, uint64_t epoch, uint64_t lsn)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (!ns->open_txn)
        return DURO_OK;
    if (ns->readonly) { /* opened read-only: nothing can have been written */
        duro_ns_rollback(ns);
        return DURO_OK;
    }
    assert(!ns->defer_kinds); /* settled first */
    int vst = store_version(ns, 1);
    if (vst != DURO_OK) {
        if (sqlite3_get_autocommit(ns->db))
            ns->open_txn = 0;
        return vst;
    }
    sqlite3_stmt *st = duro_ns_stmt(
        ns, ST_SET_MARK,
        "INSERT OR REPLACE INTO _duro_meta(name, value) VALUES('log_epoch', ?1), ('log_lsn', ?2)");
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)epoch);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)lsn);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        rc = exec(ns->db, "COMMIT");
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        int status = duro_status_from_db(ns->db, rc, NULL);
        if (sqlite3_get_autocommit(ns->db))
            ns->open_txn = 0;
        return status;
    }
    ns->open_txn = 0;
    ns->logged = 0;
    cache_raise(ns, 0);
    return DURO_OK;
}

int duro_ns_mark(duro_ns *ns, uint64_t *epoch, uint64_t *lsn)
{
    DURO_ASSERT_OWNER(ns->owner);
    *epoch = *lsn = 0;
    sqlite3_stmt *st = duro_ns_stmt(
        ns, ST_GET_MARK, "SELECT name, value FROM _duro_meta WHERE name IN ('log_epoch', 'log_lsn')");
    if (!st)
        return DURO_INTERNAL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
        if (strcmp((const char *)sqlite3_column_text(st, 0), "log_epoch") == 0)
            *epoch = v;
        else
            *lsn = v;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? DURO_OK : duro_status_from_db(ns->db, rc, NULL);
}

/* Replay takes the logged rows: where the file differs (it cannot, unless
 * damaged), the logged row wins; a change whose row is gone is skipped. */
static int on_conflict(void *ctx, int kind, sqlite3_changeset_iter *it)
{
    (void)ctx;
    (void)it;
    return kind == SQLITE_CHANGESET_DATA || kind == SQLITE_CHANGESET_CONFLICT
               ? SQLITE_CHANGESET_REPLACE
               : SQLITE_CHANGESET_OMIT;
}

int duro_ns_replay(duro_ns *ns, const void *changes, size_t n)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (n > 0x7fffffff)
        return DURO_INTERNAL;
    if (!ns->open_txn) {
        int rc = exec(ns->db, "BEGIN");
        if (rc != SQLITE_OK)
            return duro_status_from_db(ns->db, rc, NULL);
        ns->open_txn = 1;
    }
    int rc = sqlite3changeset_apply(ns->db, (int)n, (void *)changes, NULL, on_conflict, NULL);
    if (rc != SQLITE_OK) {
        int st = duro_status_from_db(ns->db, rc, NULL);
        if (sqlite3_get_autocommit(ns->db))
            ns->open_txn = 0;
        return st == DURO_OK ? DURO_INTERNAL : st;
    }
    return DURO_OK;
}

void duro_ns_rollback(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (!sqlite3_get_autocommit(ns->db))
        exec(ns->db, "ROLLBACK");
    duro_ctable_clear(&ns->cache);
    ns->version = ns->version_committed;
    ns->notes.len = 0;
    ns->open_txn = 0;
    ns->defer_kinds = 0;
    ns->batch_deferred = 0;
    ns->defer_rec.len = 0;
}
