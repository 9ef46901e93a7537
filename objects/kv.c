/*
 * kv.c — the key-value object: get, put, delete, batches, list, clear, TTL.
 *
 * Rows live in _duro_kv (see runtime/store.c). A write goes to the
 * namespace's cache and either to SQLite in the same step, inside the
 * actor's transaction, or — in a batch that may defer (runtime/ns.h,
 * "Deferred writes": gets, puts, deletes and their batches) — into the
 * batch's ROWS log record, its row pinned in the cache until the actor
 * settles the namespace (kv_settle writes the pinned rows; a deleted key is a
 * pinned tombstone). Reads look in the cache first and load the row on a
 * miss. Expired rows are
 * invisible to every read (lazy expiry) and deleted by sweep() (active expiry).
 * Versions come from the namespace's write counter: each write op that
 * changes something takes the next number, so versions are unique and
 * increasing within a namespace.
 */
#include "objects/kv.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "objects/kv_req.h"
#include "objects/object.h"
#include "common/tape.h"
#include "runtime/notice.h"
#include "runtime/stats.h"
#include "common/codec.h"

enum {
    ST_GET = 0,
    ST_UPSERT,
    ST_DELETE,
    ST_COUNT_LIVE,
    ST_CLEAR,
    ST_SWEEP,
    ST_SNAPSHOT,
    ST_ANY_LIVE,
    ST_PRIOR,
    ST_PUT_ROW,
    ST_LIST = 16, /* 16 variants: 16..31 */
};

static const char SQL_GET[] =
    "SELECT value, enc, metadata, version, created_at, updated_at, expires_at"
    " FROM _duro_kv WHERE key = ?1";
static const char SQL_UPSERT[] =
    "INSERT INTO _duro_kv(key, value, enc, metadata, version, created_at, updated_at, expires_at)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value, enc = excluded.enc,"
    " metadata = excluded.metadata, version = excluded.version,"
    " updated_at = excluded.updated_at, expires_at = excluded.expires_at,"
    " created_at = CASE WHEN _duro_kv.expires_at IS NOT NULL"
    " AND _duro_kv.expires_at <= excluded.updated_at"
    " THEN excluded.created_at ELSE _duro_kv.created_at END";
/* What a write needs of the row it replaces. (Not RETURNING from the upsert:
 * RETURNING makes SQLite open a statement journal, and releasing it walks the
 * in-memory sub-journal of the batch's savepoint from its start, every
 * statement: 2x the cost of a put at pipeline 16, bench/RESULTS.md.) */
static const char SQL_PRIOR[] = "SELECT created_at, expires_at FROM _duro_kv WHERE key = ?1";
/* A row exactly as given (settle, replay): created_at was decided when the
 * write was made. */
static const char SQL_PUT_ROW[] =
    "INSERT INTO _duro_kv(key, value, enc, metadata, version, created_at, updated_at, expires_at)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value, enc = excluded.enc,"
    " metadata = excluded.metadata, version = excluded.version,"
    " created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " expires_at = excluded.expires_at";
static const char SQL_DELETE[] = "DELETE FROM _duro_kv WHERE key = ?1"; /* no RETURNING: see SQL_PRIOR */
static const char SQL_COUNT_LIVE[] =
    "SELECT count(*) FROM _duro_kv WHERE expires_at IS NULL OR expires_at > ?1";
static const char SQL_CLEAR[] = "DELETE FROM _duro_kv";
static const char SQL_SNAPSHOT[] =
    "SELECT key, value, enc FROM _duro_kv WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY key";
static const char SQL_ANY_LIVE[] =
    "SELECT EXISTS(SELECT 1 FROM _duro_kv WHERE expires_at IS NULL OR expires_at > ?1)";
static const char SQL_SWEEP[] =
    "DELETE FROM _duro_kv WHERE key IN (SELECT key FROM _duro_kv WHERE expires_at <= ?1"
    " ORDER BY expires_at LIMIT ?2) RETURNING key";

void duro_kv_req_free(duro_kv_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->inline_one) {
            free(r->items[i].key);
            free(r->items[i].val);
        }
        free(r->items[i].meta);
    }
    if (!r->inline_one)
        free(r->items);
    duro_kv_bound *b[] = {&r->list.prefix, &r->list.start, &r->list.start_after, &r->list.end,
                          &r->list.cursor};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        free(b[i]->key);
    free(r);
}

int duro_kv_op_writes(int op)
{
    return op == DURO_KV_PUT || op == DURO_KV_DELETE || op == DURO_KV_BATCH_SET ||
           op == DURO_KV_BATCH_DELETE || op == DURO_KV_CLEAR || op == DURO_KV_SNAPSHOT_PATCH;
}

int duro_kv_cursor_encode(const char *key, size_t len, duro_buf *out)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (duro_buf_reserve(out, n) != 0)
        return -1;
    sodium_bin2base64(out->data + out->len, n, (const unsigned char *)key, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out->len += n - 1; /* without the NUL */
    return 0;
}

char *duro_kv_cursor_decode(const char *cursor, size_t len, size_t *key_len)
{
    size_t cap = len * 3 / 4 + 1;
    char *key = malloc(cap + 1);
    if (!key)
        return NULL;
    const char *end;
    if (len == 0 ||
        sodium_base642bin((unsigned char *)key, cap, cursor, len, NULL, key_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != cursor + len || *key_len == 0) {
        free(key);
        return NULL;
    }
    key[*key_len] = '\0';
    return key;
}

/* ---- change notices for the registry (runtime/notice.h) ---- */

static int note_del(duro_ns *ns, const char *key, size_t key_len)
{
    duro_notice n = {.op = DURO_NOTICE_DEL, .type = "kv", .type_len = 2, .key = key,
                     .key_len = key_len};
    return duro_notice_add(&ns->notes, &n) == 0 ? 0 : -DURO_NOMEM;
}

/* ---- reading rows ---- */

static int live(int64_t expires_at, int64_t now) { return expires_at == 0 || expires_at > now; }

/* Finds the live row of key: 1 found (*row filled; its pointers stay valid
 * until the next statement or cache change), 0 absent, or a negative storage
 * status. */
static int lookup(duro_ns *ns, const char *key, size_t key_len, int64_t now, duro_crow *row)
{
    duro_centry *e = duro_cache_get(&ns->cache, key, key_len);
    if (e) {
        DURO_STAT_ADD(cache_hits, 1);
        if ((e->flags & DURO_CE_TOMB) || !live(e->expires_at, now))
            return 0;
        *row = (duro_crow){key, key_len, duro_centry_val(e), e->val_len, e->enc,
                           duro_centry_meta(e), e->meta_len, e->version, e->created_at,
                           e->updated_at, e->expires_at};
        return 1;
    }
    DURO_STAT_ADD(cache_misses, 1);
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_GET, SQL_GET);
    if (!st)
        return -DURO_INTERNAL;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return -duro_status_from_sqlite(rc);
    *row = (duro_crow){
        .key = key,
        .key_len = key_len,
        .val = sqlite3_column_blob(st, 0),
        .val_len = (size_t)sqlite3_column_bytes(st, 0),
        .enc = sqlite3_column_int(st, 1),
        .meta = (const char *)sqlite3_column_text(st, 2),
        .meta_len = (size_t)sqlite3_column_bytes(st, 2),
        .version = sqlite3_column_int64(st, 3),
        .created_at = sqlite3_column_int64(st, 4),
        .updated_at = sqlite3_column_int64(st, 5),
        .expires_at = sqlite3_column_int64(st, 6),
    };
    if (!live(row->expires_at, now))
        return 0;
    duro_cache_put(&ns->cache, row);
    return 1;
}

/* ---- writing the reply tape ---- */

static void pack_opt_time(msgpack_packer *pk, int64_t t)
{
    if (t)
        msgpack_pack_int64(pk, t);
    else
        msgpack_pack_nil(pk);
}

/* ---- ops ---- */

static int op_get(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    duro_crow row;
    int found = lookup(ns, r->items[0].key, r->items[0].key_len, now, &row);
    if (found < 0)
        return duro_ns_fail(ns, m, found);
    if (!found)
        return duro_msg_fail(m, DURO_NOT_FOUND, "key not found");
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    if (r->with_meta) {
        msgpack_pack_map(&pk, 6);
        duro_tape_lit(&pk, "value");
        duro_tape_value(&pk, row.enc, row.val, row.val_len);
        duro_tape_lit(&pk, "metadata");
        if (row.meta)
            duro_tape_value(&pk, DURO_ENC_JSON, row.meta, row.meta_len);
        else
            msgpack_pack_nil(&pk);
        duro_tape_lit(&pk, "version");
        msgpack_pack_int64(&pk, row.version);
        duro_tape_lit(&pk, "createdAt");
        msgpack_pack_int64(&pk, row.created_at);
        duro_tape_lit(&pk, "updatedAt");
        msgpack_pack_int64(&pk, row.updated_at);
        duro_tape_lit(&pk, "expiresAt");
        pack_opt_time(&pk, row.expires_at);
    } else {
        duro_tape_value(&pk, row.enc, row.val, row.val_len);
        m->tape_plain = row.enc == DURO_ENC_MSGPACK; /* checked when it was written */
    }
    m->version = row.version;
    return DURO_OK;
}

/* The row key has now, as far as a write needs it: 1 with *created and
 * *expires set (from the cache, else from SQLite), 0 if there is none, or a
 * negative status. */
static int prior_row(duro_ns *ns, const char *key, size_t key_len, int64_t *created,
                     int64_t *expires)
{
    duro_centry *e = duro_cache_get(&ns->cache, key, key_len);
    if (e) {
        if (e->flags & DURO_CE_TOMB)
            return 0; /* a deferred delete */
        *created = e->created_at;
        *expires = e->expires_at;
        return 1;
    }
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_PRIOR, SQL_PRIOR);
    if (!st)
        return -DURO_INTERNAL;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *created = sqlite3_column_int64(st, 0);
        *expires = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -duro_status_from_sqlite(rc);
    return rc == SQLITE_ROW;
}

/* The created_at a write of key at `now` keeps: the live row's, or now for a
 * new or expired key (as the upsert's CASE computes it); a negative status
 * on error. */
static int64_t prior_created(duro_ns *ns, const char *key, size_t key_len, int64_t now)
{
    int64_t created = now, expires = 0;
    int found = prior_row(ns, key, key_len, &created, &expires);
    if (found < 0)
        return found;
    return found && live(expires, now) ? created : now;
}

/* ---- deferred rows (runtime/ns.h) ----
 *
 * A ROWS record's rows, each
 *   'P' | u32 key_len | u32 val_len | u32 meta_len + 1 (0: none) | u8 enc |
 *   i64 version, created_at, updated_at, expires_at | key | value | metadata
 *   'D' | u32 key_len | key
 * little-endian. */

enum { ROW_PUT = 'P', ROW_DEL = 'D', ROW_PUT_FIXED = 1 + 4 * 3 + 1 + 8 * 4, ROW_DEL_FIXED = 5 };

static void le_put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t le_get(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Appends row (or, if del, the deletion of row->key) to out. 0 or -1. */
static int row_encode(duro_buf *out, const duro_crow *r, int del)
{
    size_t meta_len = r->meta ? r->meta_len : 0;
    size_t fixed = del ? ROW_DEL_FIXED : ROW_PUT_FIXED;
    size_t n = fixed + r->key_len + (del ? 0 : r->val_len + meta_len);
    if (duro_buf_reserve(out, n) != 0)
        return -1;
    unsigned char *p = (unsigned char *)out->data + out->len;
    p[0] = del ? ROW_DEL : ROW_PUT;
    le_put(p + 1, r->key_len, 4);
    if (!del) {
        le_put(p + 5, r->val_len, 4);
        le_put(p + 9, r->meta ? meta_len + 1 : 0, 4);
        p[13] = (unsigned char)r->enc;
        le_put(p + 14, (uint64_t)r->version, 8);
        le_put(p + 22, (uint64_t)r->created_at, 8);
        le_put(p + 30, (uint64_t)r->updated_at, 8);
        le_put(p + 38, (uint64_t)r->expires_at, 8);
    }
    p += fixed;
    memcpy(p, r->key, r->key_len);
    if (!del) {
        if (r->val_len)
            memcpy(p + r->key_len, r->val, r->val_len);
        if (meta_len)
            memcpy(p + r->key_len + r->val_len, r->meta, meta_len);
    }
    out->len += n;
    return 0;
}

/* Writes row to SQLite exactly as given (or deletes its key). 0 or a
 * negative storage status. */
static int row_store(duro_ns *ns, const duro_crow *r, int del)
{
    sqlite3_stmt *st = del ? duro_ns_stmt(ns, ST_DELETE, SQL_DELETE)
                           : duro_ns_stmt(ns, ST_PUT_ROW, SQL_PUT_ROW);
    if (!st)
        return -DURO_INTERNAL;
    sqlite3_bind_text(st, 1, r->key, (int)r->key_len, SQLITE_STATIC);
    if (!del) {
        sqlite3_bind_blob(st, 2, r->val_len ? r->val : "", (int)r->val_len, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, r->enc);
        if (r->meta)
            sqlite3_bind_text(st, 4, r->meta, (int)r->meta_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->version);
        sqlite3_bind_int64(st, 6, r->created_at);
        sqlite3_bind_int64(st, 7, r->updated_at);
        if (r->expires_at)
            sqlite3_bind_int64(st, 8, r->expires_at);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -duro_status_from_sqlite(rc);
}

/* A write of row (del: the deletion of its key) in a batch that defers
 * (rec: its ROWS record): pinned in the cache, or — when the cache cannot
 * hold it (larger than its budget/8) — written straight to the open
 * transaction; in the record either way. 0 or a negative status. */
static int defer_row(duro_ns *ns, duro_buf *rec, const duro_crow *row, int del)
{
    size_t mark = rec->len;
    if (row_encode(rec, row, del) != 0)
        return -DURO_NOMEM;
    if (!duro_cache_pin(&ns->cache, row, del)) {
        int st = duro_ns_txn(ns);
        int rc = st != DURO_OK ? -st : row_store(ns, row, del);
        if (rc < 0) {
            rec->len = mark;
            return rc;
        }
    } else {
        ns->defer_kinds |= 1u << DURO_KIND_KV;
    }
    ns->batch_deferred = 1;
    DURO_STAT_ADD(deferred, 1);
    return 0;
}

static int kv_defers(int op)
{
    return op == DURO_KV_GET || op == DURO_KV_PUT || op == DURO_KV_DELETE ||
           op == DURO_KV_BATCH_GET || op == DURO_KV_BATCH_SET || op == DURO_KV_BATCH_DELETE;
}

/* kind.h: prefetch. A get's cache entry (batches of gets at 1M cached keys
 * spend most of the actor's time waiting for the bucket and the entry). */
static void kv_prefetch(const duro_ns *ns, const duro_msg *m, int stage)
{
    const duro_kv_req *r = m->req;
    if (m->op == DURO_KV_GET && r && r->n == 1)
        duro_cache_prefetch(&ns->cache, r->items[0].key, r->items[0].key_len, stage);
}

static int kv_settle(duro_ns *ns, size_t max)
{
    for (duro_centry *e; (e = ns->cache.pinned_tail);) {
        if (!max--)
            return 1;
        int tomb = (e->flags & DURO_CE_TOMB) != 0;
        duro_crow row = {duro_centry_key(e), e->key_len, duro_centry_val(e), e->val_len,
                         e->enc, duro_centry_meta(e), e->meta_len, e->version, e->created_at,
                         e->updated_at, e->expires_at};
        if (row_store(ns, &row, tomb) < 0)
            return -1; /* the actor rolls back and replays the log: the cache is rebuilt */
        duro_cache_unpin(&ns->cache, e);
    }
    return 0;
}

static int kv_replay(duro_ns *ns, const void *data, size_t n)
{
    const unsigned char *p = data, *end = p + n;
    while (p < end) {
        int del = p[0] == ROW_DEL;
        size_t fixed = del ? ROW_DEL_FIXED : ROW_PUT_FIXED;
        if ((p[0] != ROW_PUT && !del) || (size_t)(end - p) < fixed)
            return DURO_INTERNAL;
        duro_crow row = {.key_len = le_get(p + 1, 4)};
        size_t meta_n = 0;
        if (!del) {
            row.val_len = le_get(p + 5, 4);
            meta_n = le_get(p + 9, 4);
            row.meta_len = meta_n ? meta_n - 1 : 0;
            row.enc = p[13];
            row.version = (int64_t)le_get(p + 14, 8);
            row.created_at = (int64_t)le_get(p + 22, 8);
            row.updated_at = (int64_t)le_get(p + 30, 8);
            row.expires_at = (int64_t)le_get(p + 38, 8);
        }
        size_t body = row.key_len + row.val_len + row.meta_len;
        if ((size_t)(end - p) - fixed < body)
            return DURO_INTERNAL;
        row.key = (const char *)p + fixed;
        row.val = row.key + row.key_len;
        row.meta = meta_n ? row.val + row.val_len : NULL;
        int rc = row_store(ns, &row, del);
        if (rc < 0)
            return -rc;
        duro_cache_del(&ns->cache, row.key, row.key_len);
        if (row.expires_at)
            ns->has_ttl = 1;
        p += fixed + body;
    }
    return DURO_OK;
}

/* Writes one item with the given version; 0 or a negative storage status. */
static int write_item(duro_ns *ns, const duro_kv_item *it, int64_t version, int64_t now)
{
    int64_t expires = it->ttl_ms ? now + it->ttl_ms : 0;
    int64_t created = prior_created(ns, it->key, it->key_len, now);
    if (created < 0)
        return (int)created;
    duro_crow row = {it->key, it->key_len, it->val, it->val_len, it->enc, it->meta, it->meta_len,
                     version, created, now, expires};
    duro_buf *rec = duro_ns_defer_rec(ns, DURO_KIND_KV);
    if (!rec && ns->deferring)
        return -DURO_NOMEM;
    if (rec) {
        int rc = defer_row(ns, rec, &row, 0);
        if (rc < 0)
            return rc;
    } else {
        sqlite3_stmt *st = duro_ns_stmt(ns, ST_UPSERT, SQL_UPSERT);
        if (!st)
            return -DURO_INTERNAL;
        sqlite3_bind_text(st, 1, it->key, (int)it->key_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, it->val, (int)it->val_len, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, it->enc);
        if (it->meta)
            sqlite3_bind_text(st, 4, it->meta, (int)it->meta_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, version);
        sqlite3_bind_int64(st, 6, now);
        if (expires)
            sqlite3_bind_int64(st, 7, expires);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -duro_status_from_sqlite(rc);
        duro_cache_put(&ns->cache, &row);
    }
    duro_notice n = {.op = DURO_NOTICE_PUT, .type = "kv", .type_len = 2, .key = it->key,
                     .key_len = it->key_len, .size = (int64_t)it->val_len, .created_at = created,
                     .updated_at = now, .expires_at = expires, .meta = it->meta,
                     .meta_len = it->meta_len};
    if (duro_notice_add(&ns->notes, &n) != 0)
        return -DURO_NOMEM;
    if (expires)
        ns->has_ttl = 1;
    return 0;
}

static int op_put(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    const duro_kv_item *it = &r->items[0];
    if (r->if_match >= 0 || r->if_none_match) {
        duro_crow row;
        int found = lookup(ns, it->key, it->key_len, now, &row);
        if (found < 0)
            return duro_ns_fail(ns, m, found);
        if (r->if_none_match && found)
            return duro_msg_fail(m, DURO_PRECONDITION_FAILED, "key exists (If-None-Match: *)");
        if (r->if_match >= 0 && (!found || row.version != r->if_match)) {
            if (found)
                m->version = row.version;
            return duro_msg_fail(m, DURO_PRECONDITION_FAILED,
                                 found ? "version mismatch (If-Match)"
                                       : "key does not exist (If-Match)");
        }
    }
    int64_t version = duro_ns_next_version(ns);
    int rc = write_item(ns, it, version, now);
    if (rc < 0)
        return duro_ns_fail(ns, m, rc);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "version");
    msgpack_pack_int64(&pk, version);
    m->version = version;
    return DURO_OK;
}

/* Deletes one key: 1 if a live row went away, 0 if none, or a negative status. */
static int delete_key(duro_ns *ns, const char *key, size_t key_len, int64_t now)
{
    int64_t created = 0, expires = 0;
    int existed = prior_row(ns, key, key_len, &created, &expires);
    if (existed < 0)
        return existed;
    if (!existed)
        return 0;
    int deleted = live(expires, now);
    duro_crow row = {.key = key, .key_len = key_len};
    duro_buf *rec = duro_ns_defer_rec(ns, DURO_KIND_KV);
    if (!rec && ns->deferring)
        return -DURO_NOMEM;
    int rc = rec ? defer_row(ns, rec, &row, 1) : row_store(ns, &row, 1);
    if (rc < 0)
        return rc;
    if (!rec)
        duro_cache_del(&ns->cache, key, key_len);
    if (note_del(ns, key, key_len) != 0)
        return -DURO_NOMEM;
    return deleted;
}

static int op_delete(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    const duro_kv_item *it = &r->items[0];
    if (r->if_match >= 0) {
        duro_crow row;
        int found = lookup(ns, it->key, it->key_len, now, &row);
        if (found < 0)
            return duro_ns_fail(ns, m, found);
        if (!found || row.version != r->if_match)
            return duro_msg_fail(m, DURO_PRECONDITION_FAILED, "version mismatch (If-Match)");
    }
    int d = delete_key(ns, it->key, it->key_len, now);
    if (d < 0)
        return duro_ns_fail(ns, m, d);
    if (d)
        duro_ns_next_version(ns);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    if (d)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    return DURO_OK;
}

static int seen_before(const duro_kv_req *r, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (r->items[j].key_len == r->items[i].key_len &&
            memcmp(r->items[j].key, r->items[i].key, r->items[i].key_len) == 0)
            return 1;
    return 0;
}

/* The most a msgpack map or array header takes. */
#define MAP_HEADER 5

static int op_batch_get(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    size_t cap = duro_ns_reply_cap(ns);
    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (seen_before(r, i))
            continue;
        duro_crow row;
        int found = lookup(ns, r->items[i].key, r->items[i].key_len, now, &row);
        if (found < 0) {
            duro_buf_free(&tmp);
            return duro_ns_fail(ns, m, found);
        }
        if (!found)
            continue;
        duro_tape_str(&pk, row.key, row.key_len);
        duro_tape_value(&pk, row.enc, row.val, row.val_len);
        count++;
        if (tmp.len + MAP_HEADER > cap) {
            duro_buf_free(&tmp);
            return duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                                 "the values of these keys come to more than --max-reply-bytes"
                                 " (%zu bytes); ask for fewer keys per request",
                                 cap);
        }
    }
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, count);
    duro_buf_append(&m->body, tmp.data, tmp.len);
    duro_buf_free(&tmp);
    return DURO_OK;
}

static int op_batch_set(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    int64_t version = r->n ? duro_ns_next_version(ns) : ns->version;
    for (size_t i = 0; i < r->n; i++) {
        int rc = write_item(ns, &r->items[i], version, now);
        if (rc < 0)
            return duro_ns_fail(ns, m, rc);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "count");
    msgpack_pack_uint64(&pk, r->n);
    duro_tape_lit(&pk, "version");
    msgpack_pack_int64(&pk, version);
    return DURO_OK;
}

static int op_batch_delete(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        int d = delete_key(ns, r->items[i].key, r->items[i].key_len, now);
        if (d < 0)
            return duro_ns_fail(ns, m, d);
        n += (uint64_t)d;
    }
    if (n)
        duro_ns_next_version(ns);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    msgpack_pack_uint64(&pk, n);
    return DURO_OK;
}

static int op_clear(duro_ns *ns, duro_msg *m, int64_t now)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_COUNT_LIVE, SQL_COUNT_LIVE);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_int64(st, 1, now);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return duro_ns_fail(ns, m, rc);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = duro_ns_stmt(ns, ST_CLEAR, SQL_CLEAR);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    duro_ctable_clear(&ns->cache);
    duro_notice clear = {.op = DURO_NOTICE_CLEAR, .type = "kv", .type_len = 2};
    if (sqlite3_changes(ns->db) > 0 && duro_notice_add(&ns->notes, &clear) != 0)
        return duro_ns_fail(ns, m, -DURO_NOMEM);
    if (n)
        duro_ns_next_version(ns);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    msgpack_pack_int64(&pk, n);
    return DURO_OK;
}

/* ---- list ---- */

static int cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

/* The effective range [lo, hi) of a list request (lo_excl: (lo, hi)).
 * Pointers borrow from the request; succ is scratch for the prefix's end. */
struct range {
    const char *lo;
    size_t lo_len;
    int lo_excl;
    const char *hi;
    size_t hi_len;
    int has_hi;
};

static void raise_lo(struct range *g, const char *k, size_t n, int excl)
{
    int c = cmp(k, n, g->lo, g->lo_len);
    if (c > 0 || (c == 0 && excl)) {
        g->lo = k;
        g->lo_len = n;
        g->lo_excl = excl;
    }
}

static void lower_hi(struct range *g, const char *k, size_t n)
{
    if (!g->has_hi || cmp(k, n, g->hi, g->hi_len) < 0) {
        g->hi = k;
        g->hi_len = n;
        g->has_hi = 1;
    }
}

static void make_range(const duro_kv_list *l, struct range *g, char *succ)
{
    *g = (struct range){"", 0, 0, NULL, 0, 0};
    if (l->start.has)
        raise_lo(g, l->start.key, l->start.len, 0);
    if (l->start_after.has)
        raise_lo(g, l->start_after.key, l->start_after.len, 1);
    if (l->end.has)
        lower_hi(g, l->end.key, l->end.len);
    if (l->prefix.has && l->prefix.len) {
        raise_lo(g, l->prefix.key, l->prefix.len, 0);
        /* the first key after every key with this prefix: drop trailing 0xff
         * bytes, then increment the last one; none left = no upper bound */
        size_t n = l->prefix.len;
        memcpy(succ, l->prefix.key, n);
        while (n && (unsigned char)succ[n - 1] == 0xff)
            n--;
        if (n) {
            succ[n - 1]++;
            lower_hi(g, succ, n);
        }
    }
    if (l->cursor.has) {
        if (l->reverse)
            lower_hi(g, l->cursor.key, l->cursor.len);
        else
            raise_lo(g, l->cursor.key, l->cursor.len, 1);
    }
}

static sqlite3_stmt *list_stmt(duro_ns *ns, int lo_excl, int has_hi, int reverse, int values)
{
    int variant = lo_excl | has_hi << 1 | reverse << 2 | values << 3;
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT key, expires_at%s FROM _duro_kv WHERE key %s ?1%s"
             " AND (expires_at IS NULL OR expires_at > ?3) ORDER BY key%s LIMIT ?4",
             values ? ", value, enc" : "", lo_excl ? ">" : ">=", has_hi ? " AND key < ?2" : "",
             reverse ? " DESC" : "");
    return duro_ns_stmt(ns, ST_LIST + variant, sql);
}

/* The bytes of a list reply besides its entries when its cursor is a key of
 * kn bytes: the map, "keys" and the array header, "cursor" and the cursor,
 * "list_complete" and its value. */
static size_t list_overhead(size_t kn)
{
    return 1 + 5 + MAP_HEADER + 7 + MAP_HEADER +
           sodium_base64_ENCODED_LEN(kn, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 14 + 1;
}

/* Appends one list entry (a key, or {key, value, expiresAt}) of row st. */
static void pack_list_entry(msgpack_packer *pk, sqlite3_stmt *st, int values)
{
    const char *k = (const char *)sqlite3_column_text(st, 0);
    size_t kn = (size_t)sqlite3_column_bytes(st, 0);
    if (!values) {
        duro_tape_str(pk, k, kn);
        return;
    }
    msgpack_pack_map(pk, 3);
    duro_tape_lit(pk, "key");
    duro_tape_str(pk, k, kn);
    duro_tape_lit(pk, "value");
    duro_tape_value(pk, sqlite3_column_int(st, 3), sqlite3_column_blob(st, 2),
                    (size_t)sqlite3_column_bytes(st, 2));
    duro_tape_lit(pk, "expiresAt");
    pack_opt_time(pk, sqlite3_column_int64(st, 1));
}

/* A page holds at most l->limit entries and ends before the entry that would
 * take the reply tape past the reply cap (list_complete false, the cursor of
 * the last entry returned), but always holds at least one: paging makes
 * progress. An entry that alone passes the cap is DURO_PAYLOAD_TOO_LARGE. */
static int op_list(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    size_t cap = duro_ns_reply_cap(ns);
    const duro_kv_list *l = &r->list;
    char *succ = l->prefix.has ? malloc(l->prefix.len + 1) : NULL;
    if (l->prefix.has && !succ)
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    struct range g;
    make_range(l, &g, succ);
    sqlite3_stmt *st = list_stmt(ns, g.lo_excl, g.has_hi, l->reverse, l->values);
    if (!st) {
        free(succ);
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    }
    sqlite3_bind_text(st, 1, g.lo, (int)g.lo_len, SQLITE_STATIC);
    if (g.has_hi)
        sqlite3_bind_text(st, 2, g.hi, (int)g.hi_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, (int64_t)l->limit + 1);

    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0;
    int more = 0, rc;
    duro_buf last = {0}; /* copy of the last key: row text dies at the next step */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == (uint32_t)l->limit) {
            more = 1;
            break;
        }
        size_t before = tmp.len;
        size_t kn = (size_t)sqlite3_column_bytes(st, 0);
        pack_list_entry(&pk, st, l->values);
        if (tmp.len + list_overhead(kn) > cap) {
            tmp.len = before; /* this entry starts the next page */
            more = 1;
            break;
        }
        last.len = 0;
        duro_buf_append(&last, sqlite3_column_text(st, 0), kn);
        count++;
    }
    free(succ);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        duro_buf_free(&tmp);
        duro_buf_free(&last);
        return duro_ns_fail(ns, m, rc);
    }
    if (more && count == 0) {
        sqlite3_reset(st);
        duro_buf_free(&tmp);
        duro_buf_free(&last);
        return duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                             "the next entry alone is larger than --max-reply-bytes (%zu bytes):"
                             " list without values=1, or raise --max-reply-bytes above"
                             " --max-value-bytes",
                             cap);
    }
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 3);
    duro_tape_lit(&pk, "keys");
    msgpack_pack_array(&pk, count);
    duro_buf_append(&m->body, tmp.data, tmp.len);
    duro_buf_free(&tmp);
    duro_tape_lit(&pk, "cursor");
    if (more) {
        duro_buf c = {0};
        duro_kv_cursor_encode(last.data, last.len, &c);
        duro_tape_str(&pk, c.data, c.len);
        duro_buf_free(&c);
    } else {
        msgpack_pack_nil(&pk);
    }
    duro_tape_lit(&pk, "list_complete");
    if (more)
        msgpack_pack_false(&pk);
    else
        msgpack_pack_true(&pk);
    duro_buf_free(&last);
    sqlite3_reset(st);
    return DURO_OK;
}

/* ---- the namespace snapshot ---- */

/* The namespace's ETag: its write counter, or 0 while it has no live key
 * (so "0" means "empty" however many writes came before). -1 on error. */
static int64_t ns_etag(duro_ns *ns, int64_t now)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_ANY_LIVE, SQL_ANY_LIVE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    int rc = sqlite3_step(st);
    int64_t any = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return any < 0 ? -1 : any ? ns->version : 0;
}

/* The whole namespace as one object, refused (413) past the smaller of the
 * request's max_bytes (--max-snapshot-bytes) and the reply cap. */
static int op_snapshot_get(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    size_t cap = duro_ns_reply_cap(ns);
    const char *flag = "--max-reply-bytes";
    if (r->max_bytes && r->max_bytes <= cap) {
        cap = r->max_bytes;
        flag = "--max-snapshot-bytes";
    }
    int64_t etag = ns_etag(ns, now);
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_SNAPSHOT, SQL_SNAPSHOT);
    if (etag < 0 || !st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_int64(st, 1, now);
    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        duro_tape_str(&pk, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        duro_tape_value(&pk, sqlite3_column_int(st, 2), sqlite3_column_blob(st, 1),
                   (size_t)sqlite3_column_bytes(st, 1));
        count++;
        if (tmp.len + MAP_HEADER > cap) {
            sqlite3_reset(st);
            duro_buf_free(&tmp);
            return duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                                 "the namespace is larger than %s (%zu);"
                                 " read it in pages with GET /storage/list?values=1",
                                 flag, cap);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        duro_buf_free(&tmp);
        return duro_ns_fail(ns, m, rc);
    }
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, count);
    duro_buf_append(&m->body, tmp.data, tmp.len);
    duro_buf_free(&tmp);
    m->version = etag;
    return DURO_OK;
}

static int op_snapshot_patch(duro_ns *ns, duro_msg *m, duro_kv_req *r, int64_t now)
{
    int64_t etag = ns_etag(ns, now);
    if (etag < 0)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    if (r->if_match >= 0 && r->if_match != etag) {
        m->version = etag;
        return duro_msg_fail(m, DURO_PRECONDITION_FAILED,
                             "the namespace changed (ETag \"%lld\"); read it again",
                             (long long)etag);
    }
    int64_t version = duro_ns_next_version(ns);
    for (size_t i = 0; i < r->n; i++) {
        int rc = r->items[i].del ? delete_key(ns, r->items[i].key, r->items[i].key_len, now)
                                 : write_item(ns, &r->items[i], version, now);
        if (rc < 0)
            return duro_ns_fail(ns, m, rc);
    }
    int64_t after = ns_etag(ns, now);
    if (after < 0)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "version");
    msgpack_pack_int64(&pk, after);
    duro_tape_lit(&pk, "created");
    m->created = etag == 0 && after != 0;
    duro_tape_bool(&pk, m->created);
    m->version = after;
    return DURO_OK;
}

/* ---- the object ---- */

static int kv_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    duro_kv_req *r = m->req;
    switch (m->op) {
    case DURO_KV_GET:
        return op_get(ns, m, r, now);
    case DURO_KV_PUT:
        return op_put(ns, m, r, now);
    case DURO_KV_DELETE:
        return op_delete(ns, m, r, now);
    case DURO_KV_BATCH_GET:
        return op_batch_get(ns, m, r, now);
    case DURO_KV_BATCH_SET:
        return op_batch_set(ns, m, r, now);
    case DURO_KV_BATCH_DELETE:
        return op_batch_delete(ns, m, r, now);
    case DURO_KV_LIST:
        return op_list(ns, m, r, now);
    case DURO_KV_CLEAR:
        return op_clear(ns, m, now);
    case DURO_KV_SNAPSHOT_GET:
        return op_snapshot_get(ns, m, r, now);
    case DURO_KV_SNAPSHOT_PATCH:
        return op_snapshot_patch(ns, m, r, now);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown kv operation");
    }
}

static int kv_sweep(duro_ns *ns, int64_t now, int max)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_SWEEP, SQL_SWEEP);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        size_t kn = (size_t)sqlite3_column_bytes(st, 0);
        duro_cache_del(&ns->cache, k, kn);
        if (note_del(ns, k, kn) != 0) {
            sqlite3_reset(st);
            return -1;
        }
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

/* The reply bound of a read: a value, or a page (runtime/kind.h). */
static size_t kv_reply_bound(int op, const duro_limits *lim)
{
    if (op == DURO_KV_GET)
        return lim->max_value_bytes + DURO_KV_META_MAX + 1024;
    return op == DURO_KV_BATCH_GET || op == DURO_KV_LIST || op == DURO_KV_SNAPSHOT_GET
               ? lim->max_reply_bytes
               : 0;
}

static void kv_free(void *req) { duro_kv_req_free(req); }

static const duro_migration kv_migrations[] = {
    /* key-value rows, expiry index, and the namespace's own metadata (its
     * write counter, which every kind's writes advance) */
    {1, "CREATE TABLE _duro_kv(key TEXT PRIMARY KEY, value BLOB NOT NULL, enc INTEGER NOT NULL,"
        " metadata TEXT, version INTEGER NOT NULL, created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;"
        "CREATE INDEX _duro_kv_expiry ON _duro_kv(expires_at) WHERE expires_at IS NOT NULL;"
        "CREATE TABLE _duro_meta(name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "INSERT INTO _duro_meta VALUES('version', 0);"},
};

const duro_kind duro_kv_kind = {
    .name = "kv",
    .metric = "duro_kv_ops_total",
    .metric_help = "Operations run by the kv object.",
    .ops = duro_kv_op_names,
    .n_ops = DURO_KV_OP_COUNT,
    .writes = duro_kv_op_writes,
    .decode = duro_kv_decode_args,
    .free = kv_free,
    .reply_bound = kv_reply_bound,
    .exec = kv_exec,
    .sweep = kv_sweep,
    .defers = kv_defers,
    .settle = kv_settle,
    .prefetch = kv_prefetch,
    .replay = kv_replay,
    .migrations = kv_migrations,
    .n_migrations = sizeof kv_migrations / sizeof kv_migrations[0],
};
