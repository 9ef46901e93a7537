/*
 * registry.c — the StorageRegistry's database: applying change notices,
 * listing, counting, rebuilding one namespace (see registry.h).
 *
 * One row per resource in `resources`, keyed (namespace, type, key), plus a
 * secondary index (type, namespace, key); every filter of a list is a range
 * of one of the two (a key prefix is the range [prefix, successor(prefix))),
 * and every list is in (namespace, type, key) order, so pages are stable.
 * `namespaces` records, per namespace, the write counter of its file that
 * the rows reflect; reconciling compares it with the file's own.
 *
 * An expired KV key's row is deleted by the next query (through the partial
 * index on expires_at: one probe when nothing is due), so no query needs to
 * filter on expiry and every count and page runs on an index range alone;
 * the KV sweep's later notice for it is then a no-op.
 */
#include "objects/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tape.h"
#include "common/log.h"
#include "objects/namespace.h"
#include "objects/object.h"
#include "objects/registry_req.h"
#include "runtime/ns.h"

enum {
    ST_PUT = 0,
    ST_DEL,
    ST_CLEAR,
    ST_SET_VERSION,
    ST_GET_VERSION,
    ST_FORGET_ROWS,
    ST_FORGET_NS,
    ST_PURGE,
    ST_NS_KEYS,
    ST_NS_COUNT,
    ST_LIST = 16,       /* 16 variants: 16..31 */
    ST_COUNT = 32,      /* 16 variants: 32..47 */
    ST_STATS_TYPE = 48, /* 16 variants: 48..63 */
    ST_STATS_NS = 64,   /* 16 variants: 64..79 */
    ST_N = 80
};

struct duro_registry_db {
    sqlite3 *db;
    sqlite3_stmt *st[ST_N];
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS resources(namespace TEXT NOT NULL, type TEXT NOT NULL,"
    " key TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL, expires_at INTEGER, metadata TEXT,"
    " PRIMARY KEY(namespace, type, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS resources_by_type ON resources(type, namespace, key);"
    "CREATE INDEX IF NOT EXISTS resources_expiry ON resources(expires_at)"
    " WHERE expires_at IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS namespaces(namespace TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL) WITHOUT ROWID;";

static const char SQL_PUT[] =
    "INSERT INTO resources(namespace, type, key, size, created_at, updated_at, expires_at,"
    " metadata) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(namespace, type, key) DO UPDATE SET size = excluded.size,"
    " created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " expires_at = excluded.expires_at, metadata = excluded.metadata";
static const char SQL_DEL[] =
    "DELETE FROM resources WHERE namespace = ?1 AND type = ?2 AND key = ?3";
static const char SQL_CLEAR[] = "DELETE FROM resources WHERE namespace = ?1 AND type = ?2";
static const char SQL_SET_VERSION[] =
    "INSERT INTO namespaces VALUES(?1, ?2) ON CONFLICT(namespace) DO UPDATE SET version = "
    "excluded.version";
static const char SQL_GET_VERSION[] = "SELECT version FROM namespaces WHERE namespace = ?1";
static const char SQL_FORGET_ROWS[] = "DELETE FROM resources WHERE namespace = ?1";
static const char SQL_FORGET_NS[] = "DELETE FROM namespaces WHERE namespace = ?1";
static const char SQL_NS_KEYS[] =
    "SELECT count(*) FROM resources WHERE namespace = ?1 AND type = 'kv'";
static const char SQL_NS_COUNT[] =
    "SELECT count(*) FROM resources WHERE namespace = ?1 AND type = ?2";
static const char SQL_PURGE[] = "DELETE FROM resources WHERE expires_at <= ?1";

void duro_registry_query_free(duro_registry_query *q)
{
    if (!q)
        return;
    free(q->prefix);
    free(q);
}

void duro_resource_req_free(duro_resource_req *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->meta);
    free(r);
}

int duro_resource_type_valid(const char *s, size_t n, const char **why)
{
    if (n == 0 || n > DURO_RESOURCE_TYPE_MAX) {
        *why = "a type is 1 to 64 bytes";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            *why = "a type is made of [A-Za-z0-9._-]";
            return -1;
        }
    }
    return 0;
}

void duro_iso8601(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

void duro_registry_pack_resource(msgpack_packer *pk, const char *type, size_t type_len,
                                 const char *ns, size_t ns_len, const char *key, size_t key_len,
                                 int64_t created, int64_t updated, int64_t size, const char *meta,
                                 size_t meta_len)
{
    char t[32];
    msgpack_pack_map(pk, 7);
    duro_tape_lit(pk, "type");
    duro_tape_str(pk, type, type_len);
    duro_tape_lit(pk, "namespace");
    duro_tape_str(pk, ns, ns_len);
    duro_tape_lit(pk, "key");
    duro_tape_str(pk, key, key_len);
    duro_tape_lit(pk, "created_at");
    duro_iso8601(created, t);
    duro_tape_lit(pk, t);
    duro_tape_lit(pk, "updated_at");
    duro_iso8601(updated, t);
    duro_tape_lit(pk, t);
    duro_tape_lit(pk, "size");
    msgpack_pack_int64(pk, size);
    duro_tape_lit(pk, "metadata");
    if (meta)
        duro_tape_json(pk, meta, meta_len);
    else
        msgpack_pack_nil(pk);
}

/* ---- the database ---- */

static sqlite3_stmt *stmt(duro_registry_db *db, int id, const char *sql)
{
    return duro_stmt_cached(db->db, &db->st[id], sql);
}

/* Steps a write statement to its end. DURO_OK or a status. */
static int run(sqlite3_stmt *st)
{
    if (!st)
        return DURO_INTERNAL;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? DURO_OK : duro_status_from_sqlite(rc);
}

int duro_registry_db_sql(duro_registry_db *db, const char *sql)
{
    return duro_sql_exec(db->db, sql);
}

int duro_registry_db_open(const char *path, duro_registry_db **out, char *err, size_t errlen)
{
    *out = NULL;
    duro_registry_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    static const char *const pragmas[] = {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                                          "PRAGMA cache_size=-4096", /* 4 MiB */
                                          "PRAGMA temp_store=MEMORY", NULL};
    int st = duro_sql_open(path, pragmas, &db->db, NULL, err, errlen);
    if (st == DURO_OK && (st = duro_registry_db_sql(db, SCHEMA)) != DURO_OK)
        snprintf(err, errlen, "set up %s: %s", path, sqlite3_errmsg(db->db));
    if (st != DURO_OK) {
        duro_registry_db_close(db);
        return st;
    }
    *out = db;
    return DURO_OK;
}

void duro_registry_db_close(duro_registry_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(db->st[i]);
    if (db->db && sqlite3_close(db->db) != SQLITE_OK)
        duro_log_error("registry: close: %s", sqlite3_errmsg(db->db));
    free(db);
}

int duro_registry_db_begin(duro_registry_db *db) { return duro_registry_db_sql(db, "BEGIN"); }

int duro_registry_db_commit(duro_registry_db *db) { return duro_registry_db_sql(db, "COMMIT"); }

void duro_registry_db_rollback(duro_registry_db *db)
{
    if (!sqlite3_get_autocommit(db->db))
        duro_registry_db_sql(db, "ROLLBACK");
}

static int set_version(duro_registry_db *db, const char *ns, size_t ns_len, int64_t version)
{
    sqlite3_stmt *st = stmt(db, ST_SET_VERSION, SQL_SET_VERSION);
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    return run(st);
}

static int put_row(duro_registry_db *db, const char *ns, size_t ns_len, const duro_notice *n)
{
    sqlite3_stmt *st = stmt(db, ST_PUT, SQL_PUT);
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->type, (int)n->type_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, n->key, (int)n->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, n->size);
    sqlite3_bind_int64(st, 5, n->created_at);
    sqlite3_bind_int64(st, 6, n->updated_at);
    if (n->expires_at)
        sqlite3_bind_int64(st, 7, n->expires_at);
    if (n->meta)
        sqlite3_bind_text(st, 8, n->meta, (int)n->meta_len, SQLITE_STATIC);
    return run(st);
}

int duro_registry_db_apply(duro_registry_db *db, const char *ns, size_t ns_len, int64_t version,
                           const char *notes, size_t len)
{
    const char *p = notes, *end = notes + len;
    duro_notice n;
    int rc, st = DURO_OK;
    while (st == DURO_OK && (rc = duro_notice_next(&p, end, &n)) != 0) {
        if (rc < 0)
            return DURO_INTERNAL;
        if (n.op == DURO_NOTICE_PUT) {
            st = put_row(db, ns, ns_len, &n);
            continue;
        }
        sqlite3_stmt *s =
            n.op == DURO_NOTICE_DEL ? stmt(db, ST_DEL, SQL_DEL) : stmt(db, ST_CLEAR, SQL_CLEAR);
        if (!s)
            return DURO_INTERNAL;
        sqlite3_bind_text(s, 1, ns, (int)ns_len, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, n.type, (int)n.type_len, SQLITE_STATIC);
        if (n.op == DURO_NOTICE_DEL)
            sqlite3_bind_text(s, 3, n.key, (int)n.key_len, SQLITE_STATIC);
        st = run(s);
    }
    return st == DURO_OK && version >= 0 ? set_version(db, ns, ns_len, version) : st;
}

int duro_registry_db_version(duro_registry_db *db, const char *ns, size_t ns_len, int64_t *version)
{
    sqlite3_stmt *st = stmt(db, ST_GET_VERSION, SQL_GET_VERSION);
    if (!st)
        return -DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW;
    if (found)
        *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return found ? 1 : rc == SQLITE_DONE ? 0 : -duro_status_from_sqlite(rc);
}

/* Runs a write statement whose one parameter is a namespace. */
static int run_for_ns(duro_registry_db *db, int id, const char *sql, const char *ns,
                      size_t ns_len)
{
    sqlite3_stmt *st = stmt(db, id, sql);
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    return run(st);
}

int duro_registry_db_forget(duro_registry_db *db, const char *ns, size_t ns_len)
{
    int rc = run_for_ns(db, ST_FORGET_ROWS, SQL_FORGET_ROWS, ns, ns_len);
    return rc == DURO_OK ? run_for_ns(db, ST_FORGET_NS, SQL_FORGET_NS, ns, ns_len) : rc;
}

int duro_registry_db_ns_keys(duro_registry_db *db, const char *ns, size_t ns_len, int64_t *keys)
{
    sqlite3_stmt *st = stmt(db, ST_NS_KEYS, SQL_NS_KEYS);
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *keys = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? DURO_OK : duro_status_from_sqlite(rc);
}

int duro_registry_db_ns_count(duro_registry_db *db, const char *ns, size_t ns_len,
                              const char *type, int64_t *n)
{
    sqlite3_stmt *st = stmt(db, ST_NS_COUNT, SQL_NS_COUNT);
    if (!st)
        return DURO_INTERNAL;
    sqlite3_bind_text(st, 1, ns, (int)ns_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? DURO_OK : duro_status_from_sqlite(rc);
}

/* Copies the rows of one SELECT over a namespace file into the registry; the
 * SELECT yields type, key, size, created, updated, expires, metadata. On
 * failure *ns_failed says whether reading nsdb failed. */
static int copy_rows(duro_registry_db *db, const char *ns, size_t ns_len, sqlite3 *nsdb,
                     const char *sql, int64_t now, int *ns_failed)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(nsdb, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) {
        duro_log_error("registry: read namespace %.*s: %s", (int)ns_len, ns, sqlite3_errmsg(nsdb));
        *ns_failed = 1;
        int st = duro_status_from_db(nsdb, rc, NULL);
        return st == DURO_UNAVAILABLE ? st : DURO_INTERNAL;
    }
    sqlite3_bind_int64(q, 1, now);
    int st = DURO_OK;
    while (st == DURO_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        duro_notice n = {
            .op = DURO_NOTICE_PUT,
            .type = (const char *)sqlite3_column_text(q, 0),
            .type_len = (size_t)sqlite3_column_bytes(q, 0),
            .key = (const char *)sqlite3_column_text(q, 1),
            .key_len = (size_t)sqlite3_column_bytes(q, 1),
            .size = sqlite3_column_int64(q, 2),
            .created_at = sqlite3_column_int64(q, 3),
            .updated_at = sqlite3_column_int64(q, 4),
            .expires_at = sqlite3_column_int64(q, 5),
            .meta = (const char *)sqlite3_column_text(q, 6),
            .meta_len = (size_t)sqlite3_column_bytes(q, 6),
        };
        st = put_row(db, ns, ns_len, &n);
    }
    if (st == DURO_OK && rc != SQLITE_DONE) {
        *ns_failed = 1;
        st = duro_status_from_db(nsdb, rc, NULL);
    }
    sqlite3_finalize(q);
    return st;
}

int duro_registry_db_rebuild(duro_registry_db *db, const char *ns, size_t ns_len, sqlite3 *nsdb,
                             int64_t version, int64_t now, int *ns_failed)
{
    int failed = 0;
    int rc = run_for_ns(db, ST_FORGET_ROWS, SQL_FORGET_ROWS, ns, ns_len);
    if (rc == DURO_OK)
        rc = copy_rows(db, ns, ns_len, nsdb,
                       "SELECT 'kv', key, length(value), created_at, updated_at, expires_at,"
                       " metadata FROM _duro_kv WHERE expires_at IS NULL OR expires_at > ?1",
                       now, &failed);
    if (rc == DURO_OK)
        rc = copy_rows(db, ns, ns_len, nsdb,
                       "SELECT type, key, size, created_at, updated_at, NULL, metadata"
                       " FROM _duro_resources",
                       now, &failed);
    if (rc == DURO_OK)
        rc = copy_rows(db, ns, ns_len, nsdb,
                       "SELECT 'r2', key, size, created_at, updated_at, NULL, metadata"
                       " FROM _duro_blobs",
                       now, &failed);
    if (rc == DURO_OK)
        rc = set_version(db, ns, ns_len, version);
    if (ns_failed)
        *ns_failed = rc != DURO_OK && failed;
    return rc;
}

int duro_registry_db_each_ns(duro_registry_db *db,
                             int (*fn)(void *arg, const char *ns, size_t ns_len), void *arg)
{
    /* collected first: fn may change the table */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->db, "SELECT namespace FROM namespaces", -1, &q, NULL) != SQLITE_OK)
        return DURO_INTERNAL;
    duro_buf names = {0};
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(q, 0);
        int n = sqlite3_column_bytes(q, 0);
        if (n > 0 && n <= DURO_NS_MAX && duro_buf_append(&names, s, (size_t)n + 1) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(q);
    int st = rc == SQLITE_DONE ? DURO_OK : duro_status_from_sqlite(rc);
    for (size_t off = 0; st == DURO_OK && off < names.len;) {
        const char *s = names.data + off;
        size_t n = strlen(s);
        st = fn(arg, s, n);
        off += n + 1;
    }
    duro_buf_free(&names);
    return st;
}

/* ---- queries ---- */

/* The first key after every key with q's prefix, in succ: drop trailing 0xff
 * bytes, then increment the last one. Its length; 0 = no upper bound. */
static size_t successor(const duro_registry_query *q, char *succ)
{
    size_t n = q->prefix_len;
    memcpy(succ, q->prefix, n);
    while (n && (unsigned char)succ[n - 1] == 0xff)
        n--;
    if (n)
        succ[n - 1]++;
    return n;
}

enum { Q_LIST, Q_COUNT, Q_STATS_TYPE, Q_STATS_NS };

/* The statement of one query shape (Q_*) for q's filters (one variant per
 * combination). A page is found on the keys alone (a covering range of the
 * primary key or of resources_by_type, so the rows an OFFSET skips are never
 * read) and only its rows are then looked up. */
static sqlite3_stmt *query_stmt(duro_registry_db *db, const duro_registry_query *q, int shape,
                                size_t succ_len)
{
    int v = q->has_type | q->has_ns << 1 | (q->prefix != NULL) << 2 | (succ_len > 0) << 3;
    char where[160];
    snprintf(where, sizeof where, "1%s%s%s%s", v & 1 ? " AND type = ?2" : "",
             v & 2 ? " AND namespace = ?3" : "", v & 4 ? " AND key >= ?4" : "",
             v & 8 ? " AND key < ?5" : "");
    char sql[640];
    if (shape == Q_COUNT)
        snprintf(sql, sizeof sql, "SELECT count(*) FROM resources WHERE %s", where);
    else if (shape == Q_STATS_TYPE)
        snprintf(sql, sizeof sql, "SELECT type, count(*) FROM resources WHERE %s GROUP BY type",
                 where);
    else if (shape == Q_STATS_NS)
        snprintf(sql, sizeof sql,
                 "SELECT namespace, count(*), total(size) FROM resources WHERE %s"
                 " GROUP BY namespace",
                 where);
    else
        snprintf(sql, sizeof sql,
                 "SELECT r.type, r.namespace, r.key, r.created_at, r.updated_at, r.size,"
                 " r.metadata FROM (SELECT namespace, type, key FROM resources WHERE %s"
                 " ORDER BY namespace, type, key LIMIT ?6 OFFSET ?7) AS p"
                 " JOIN resources AS r ON r.namespace = p.namespace AND r.type = p.type"
                 " AND r.key = p.key ORDER BY r.namespace, r.type, r.key",
                 where);
    static const int base[] = {ST_LIST, ST_COUNT, ST_STATS_TYPE, ST_STATS_NS};
    return stmt(db, base[shape] + v, sql);
}

static void bind_query(sqlite3_stmt *st, const duro_registry_query *q, const char *succ,
                       size_t succ_len)
{
    if (q->has_type)
        sqlite3_bind_text(st, 2, q->type, (int)q->type_len, SQLITE_STATIC);
    if (q->has_ns)
        sqlite3_bind_text(st, 3, q->ns, (int)q->ns_len, SQLITE_STATIC);
    if (q->prefix)
        sqlite3_bind_text(st, 4, q->prefix, (int)q->prefix_len, SQLITE_STATIC);
    if (succ_len)
        sqlite3_bind_text(st, 5, succ, (int)succ_len, SQLITE_STATIC);
}

/* The bound statement of one query shape for q; succ is scratch of
 * DURO_KEY_MAX bytes for the prefix's upper bound (it must outlive the
 * statement's run). NULL on error. */
static sqlite3_stmt *prepare(duro_registry_db *db, const duro_registry_query *q, int shape,
                             char *succ)
{
    if (q->prefix && q->prefix_len > DURO_KEY_MAX)
        return NULL;
    size_t succ_len = q->prefix ? successor(q, succ) : 0;
    sqlite3_stmt *st = query_stmt(db, q, shape, succ_len);
    if (st)
        bind_query(st, q, succ, succ_len);
    return st;
}

static int storage_error(duro_msg *m, int st)
{
    return duro_msg_fail(m, st, "registry storage error: %s", duro_errstr(st));
}

/* What a reply holds besides its rows (map, names, counts): a reply tape
 * passes the cap if its rows pass the cap less this. */
#define REPLY_FIXED 128

static int too_large(duro_msg *m, size_t cap, const char *hint)
{
    return duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                         "the reply would be larger than --max-reply-bytes (%zu bytes); %s", cap,
                         hint);
}

static int op_list(duro_registry_db *db, duro_msg *m, const duro_registry_query *q, size_t cap)
{
    char succ[DURO_KEY_MAX];
    sqlite3_stmt *cs = prepare(db, q, Q_COUNT, succ);
    if (!cs)
        return storage_error(m, DURO_INTERNAL);
    int rc = sqlite3_step(cs);
    int64_t total = rc == SQLITE_ROW ? sqlite3_column_int64(cs, 0) : -1;
    sqlite3_reset(cs);
    if (total < 0)
        return storage_error(m, duro_status_from_sqlite(rc));
    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0;
    if (q->limit > 0 && q->offset < total) {
        sqlite3_stmt *ls = prepare(db, q, Q_LIST, succ);
        if (!ls) {
            duro_buf_free(&tmp);
            return storage_error(m, DURO_INTERNAL);
        }
        sqlite3_bind_int64(ls, 6, q->limit);
        sqlite3_bind_int64(ls, 7, q->offset);
        while ((rc = sqlite3_step(ls)) == SQLITE_ROW) {
            duro_registry_pack_resource(
                &pk, (const char *)sqlite3_column_text(ls, 0), (size_t)sqlite3_column_bytes(ls, 0),
                (const char *)sqlite3_column_text(ls, 1), (size_t)sqlite3_column_bytes(ls, 1),
                (const char *)sqlite3_column_text(ls, 2), (size_t)sqlite3_column_bytes(ls, 2),
                sqlite3_column_int64(ls, 3), sqlite3_column_int64(ls, 4),
                sqlite3_column_int64(ls, 5), (const char *)sqlite3_column_text(ls, 6),
                (size_t)sqlite3_column_bytes(ls, 6));
            count++;
            if (tmp.len + REPLY_FIXED > cap)
                break;
        }
        sqlite3_reset(ls);
        if (tmp.len + REPLY_FIXED > cap) {
            duro_buf_free(&tmp);
            return too_large(m, cap, "use a smaller limit");
        }
        if (rc != SQLITE_DONE) {
            duro_buf_free(&tmp);
            return storage_error(m, duro_status_from_sqlite(rc));
        }
    }
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 5);
    duro_tape_lit(&pk, "resources");
    msgpack_pack_array(&pk, count);
    duro_buf_append(&m->body, tmp.data, tmp.len);
    duro_buf_free(&tmp);
    duro_tape_lit(&pk, "total");
    msgpack_pack_int64(&pk, total);
    duro_tape_lit(&pk, "offset");
    msgpack_pack_int64(&pk, q->offset);
    duro_tape_lit(&pk, "limit");
    msgpack_pack_int64(&pk, q->limit);
    duro_tape_lit(&pk, "has_more");
    duro_tape_bool(&pk, q->offset + (int64_t)count < total);
    return DURO_OK;
}

/* a + b, saturating at INT64_MAX (sizes are at most 2^53 - 1 each) */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t c;
    return __builtin_add_overflow(a, b, &c) ? INT64_MAX : c;
}

/* A group's total(size) (a double, so that it cannot overflow) as an int64,
 * saturated. */
static int64_t size_of(sqlite3_stmt *st, int col)
{
    double d = sqlite3_column_double(st, col);
    return d >= 9.2e18 ? INT64_MAX : d <= 0 ? 0 : (int64_t)d;
}

/* Runs one GROUP BY of STATS and packs its groups as a map (name -> count)
 * into out. known names come first, 0 when absent. With total (by
 * namespace: the query has a total(size) column), *total and *size get the
 * sums. Returns the number of other map entries, or -1 with a status in *st. */
static int64_t stats_groups(duro_registry_db *db, const duro_registry_query *q, int shape,
                            const char *const *known, size_t n_known, duro_buf *out, int64_t *total,
                            int64_t *size, size_t cap, int *st)
{
    char succ[DURO_KEY_MAX];
    sqlite3_stmt *s = prepare(db, q, shape, succ);
    if (!s) {
        *st = DURO_INTERNAL;
        return -1;
    }
    int64_t known_count[8] = {0};
    duro_buf rest = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &rest);
    int64_t entries = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        int64_t c = sqlite3_column_int64(s, 1);
        if (total) {
            *total = add_sat(*total, c);
            *size = add_sat(*size, size_of(s, 2));
        }
        size_t k = 0;
        while (k < n_known && !(strlen(known[k]) == len && memcmp(known[k], name, len) == 0))
            k++;
        if (k < n_known) {
            known_count[k] = c;
            continue;
        }
        duro_tape_str(&pk, name, len);
        msgpack_pack_int64(&pk, c);
        entries++;
        if (rest.len + REPLY_FIXED > cap) {
            sqlite3_reset(s);
            duro_buf_free(&rest);
            *st = DURO_PAYLOAD_TOO_LARGE;
            return -1;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        duro_buf_free(&rest);
        *st = duro_status_from_sqlite(rc);
        return -1;
    }
    duro_tape_packer(&pk, out);
    msgpack_pack_map(&pk, (uint32_t)(entries + (int64_t)n_known));
    for (size_t k = 0; k < n_known; k++) {
        duro_tape_lit(&pk, known[k]);
        msgpack_pack_int64(&pk, known_count[k]);
    }
    duro_buf_append(out, rest.data, rest.len);
    duro_buf_free(&rest);
    return entries;
}

static int op_stats(duro_registry_db *db, duro_msg *m, const duro_registry_query *q, size_t cap)
{
    static const char *const known[] = {"kv", "d1", "r2", "do"};
    duro_buf types = {0}, spaces = {0};
    int64_t total = 0, size = 0;
    int st = DURO_OK;
    /* by type: a covering scan of resources_by_type; by namespace (with the
     * sizes): the primary key's order */
    if (stats_groups(db, q, Q_STATS_TYPE, known, 4, &types, NULL, NULL, cap, &st) < 0 ||
        stats_groups(db, q, Q_STATS_NS, NULL, 0, &spaces, &total, &size,
                     cap > types.len ? cap - types.len : 0, &st) < 0) {
        duro_buf_free(&types);
        duro_buf_free(&spaces);
        if (st == DURO_PAYLOAD_TOO_LARGE)
            return too_large(m, cap, "filter the stats by type=, namespace= or key_prefix=");
        return storage_error(m, st);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 4);
    duro_tape_lit(&pk, "total");
    msgpack_pack_int64(&pk, total);
    duro_tape_lit(&pk, "by_type");
    duro_buf_append(&m->body, types.data, types.len);
    duro_tape_lit(&pk, "by_namespace");
    duro_buf_append(&m->body, spaces.data, spaces.len);
    duro_tape_lit(&pk, "total_size");
    msgpack_pack_int64(&pk, size);
    duro_buf_free(&types);
    duro_buf_free(&spaces);
    return DURO_OK;
}

int duro_registry_db_exec(duro_registry_db *db, duro_msg *m, const duro_registry_env *env)
{
    int64_t now = env->now_ms;
    size_t max_reply = env->max_reply;
    sqlite3_stmt *purge = stmt(db, ST_PURGE, SQL_PURGE);
    if (!purge)
        return storage_error(m, DURO_INTERNAL);
    sqlite3_bind_int64(purge, 1, now);
    int st = run(purge);
    if (st != DURO_OK)
        return storage_error(m, st);
    switch (m->op) {
    case DURO_REGISTRY_LIST:
        return op_list(db, m, m->req, max_reply);
    case DURO_REGISTRY_STATS:
        return op_stats(db, m, m->req, max_reply);
    case DURO_REGISTRY_NS_LIST:
        return duro_namespace_list(db, m, m->req, env);
    case DURO_REGISTRY_NS_GET:
        return duro_namespace_get(db, m, m->req, env);
    case DURO_REGISTRY_INFO:
        return duro_namespace_info(m, env);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown registry operation");
    }
}

const duro_registry_store duro_registry_sqlite = {
    .open = duro_registry_db_open,
    .close = duro_registry_db_close,
    .sql = duro_registry_db_sql,
    .begin = duro_registry_db_begin,
    .commit = duro_registry_db_commit,
    .rollback = duro_registry_db_rollback,
    .apply = duro_registry_db_apply,
    .exec = duro_registry_db_exec,
    .version = duro_registry_db_version,
    .rebuild = duro_registry_db_rebuild,
    .forget = duro_registry_db_forget,
    .each_ns = duro_registry_db_each_ns,
};

/* ---- the kind of the registry's queries ---- */

static void query_free(void *req) { duro_registry_query_free(req); }

static size_t query_reply_bound(int op, const duro_limits *lim)
{
    (void)op;
    return lim->max_reply_bytes;
}

static void query_scope(const void *req, const char **ns, size_t *len)
{
    duro_registry_query_scope(req, ns, len);
}

static const char *const query_ops[] = {
    [DURO_REGISTRY_LIST] = "resources.list",
    [DURO_REGISTRY_STATS] = "resources.stats",
    [DURO_REGISTRY_NS_LIST] = "namespaces.list",
    [DURO_REGISTRY_NS_GET] = "namespaces.get",
    [DURO_REGISTRY_INFO] = "server.info",
};

/* Run by the registry actor (duro_registry_sqlite.exec), not a namespace's
 * owner: no exec here. */
const duro_kind duro_registry_kind = {
    .name = "registry",
    .ops = query_ops,
    .n_ops = sizeof query_ops / sizeof query_ops[0],
    .global = 1,
    .writes = duro_ops_none,
    .decode = duro_registry_decode_args,
    .free = query_free,
    .reply_bound = query_reply_bound,
    .scope = query_scope,
};
