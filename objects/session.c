/*
 * session.c — the session object: create, get (rolling), put, delete, and a
 * user's sessions listed or revoked (see session.h).
 *
 * DESIGN
 * Rows live in _duro_sessions (runtime/store.c, migration 3), keyed by the
 * 32-byte BLAKE2b hash of the id; the id itself exists only in the CREATE
 * reply and in the client's hands. Rows are read from SQLite (its page cache)
 * and not kept in the KV value cache, whose keys are KV keys.
 *
 * Expired sessions are invisible to every op (lazy expiry: expires_at <= now
 * is gone) and deleted by sweep() (active expiry, the actor's TTL sweep; the
 * namespace's has_ttl is set by every session write so the sweep visits it).
 *
 * Every op but LIST_USER runs inside the namespace's transaction (the kind's txn),
 * GET included: a rolling session's GET moves its expiry to now + ttl, and the
 * actor must know before running an op whether it writes. The cost for a
 * non-rolling GET is a BEGIN/COMMIT that writes nothing (no WAL frame, no
 * fsync) and a reply that waits for the batch's commits; a rolling GET costs a
 * write, so its new expiry is durable before the reply.
 */
#include "objects/session.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "objects/session_req.h"
#include "common/tape.h"
#include "common/codec.h"

enum {
    ST_INSERT = 36,
    ST_GET,
    ST_EXTEND,
    ST_PUT,
    ST_DELETE,
    ST_LIST_USER,
    ST_REVOKE_USER,
    ST_SWEEP, /* 43; 44..45 free */
};

static const char SQL_INSERT[] =
    "INSERT INTO _duro_sessions(id_hash, user_id, data, created_at, expires_at, ttl_ms, rolling)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_GET[] =
    "SELECT user_id, data, created_at, expires_at, ttl_ms, rolling FROM _duro_sessions"
    " WHERE id_hash = ?1";
static const char SQL_EXTEND[] = "UPDATE _duro_sessions SET expires_at = ?2 WHERE id_hash = ?1";
/* ?3 > 0: a new ttl, expiry = now + ttl; else a rolling session rolls and a
 * fixed one keeps its expiry */
static const char SQL_PUT[] =
    "UPDATE _duro_sessions SET data = ?2,"
    " ttl_ms = CASE WHEN ?3 > 0 THEN ?3 ELSE ttl_ms END,"
    " expires_at = CASE WHEN ?3 > 0 THEN ?4 + ?3"
    " WHEN rolling THEN max(expires_at, ?4 + ttl_ms) ELSE expires_at END"
    " WHERE id_hash = ?1 AND expires_at > ?4 RETURNING expires_at";
static const char SQL_DELETE[] =
    "DELETE FROM _duro_sessions WHERE id_hash = ?1 RETURNING expires_at";
static const char SQL_LIST_USER[] =
    "SELECT created_at, expires_at, rolling FROM _duro_sessions"
    " WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at, id_hash";
static const char SQL_REVOKE_USER[] =
    "DELETE FROM _duro_sessions WHERE user_id = ?1 AND (?2 IS NULL OR id_hash <> ?2)"
    " RETURNING expires_at";
static const char SQL_SWEEP[] =
    "DELETE FROM _duro_sessions WHERE id_hash IN (SELECT id_hash FROM _duro_sessions"
    " WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)";

void duro_session_req_free(duro_session_req *r)
{
    if (!r)
        return;
    free(r->user_id);
    free(r->data);
    free(r);
}

int duro_session_op_writes(int op) { return op != DURO_SESSION_LIST_USER; }

int duro_session_id_hash(const char *id, size_t len, unsigned char hash[DURO_SESSION_HASH_BYTES])
{
    unsigned char raw[DURO_SESSION_ID_BYTES];
    char again[DURO_SESSION_ID_LEN + 1];
    size_t n = 0;
    const char *end = NULL;
    int ok = len == DURO_SESSION_ID_LEN &&
             sodium_base642bin(raw, sizeof raw, id, len, NULL, &n, &end,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
             end == id + len && n == sizeof raw;
    /* canonical only: the two unused low bits of the last character are 0, so
     * one session has exactly one id text */
    if (ok) {
        sodium_bin2base64(again, sizeof again, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        ok = memcmp(again, id, len) == 0;
    }
    if (ok)
        crypto_generichash(hash, DURO_SESSION_HASH_BYTES, raw, sizeof raw, NULL, 0);
    else
        memset(hash, 0, DURO_SESSION_HASH_BYTES);
    sodium_memzero(raw, sizeof raw);
    return ok ? 0 : -1;
}

/* ---- the reply tape ---- */

/* ---- ops ---- */

static int not_found(duro_msg *m)
{
    return duro_msg_fail(m, DURO_NOT_FOUND, "session not found");
}

static sqlite3_stmt *stmt(duro_ns *ns, int id, const char *sql)
{
    return duro_ns_stmt(ns, id, sql);
}

static int op_create(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    unsigned char raw[DURO_SESSION_ID_BYTES], hash[DURO_SESSION_HASH_BYTES];
    char id[DURO_SESSION_ID_LEN + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(id, sizeof id, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(hash, sizeof hash, raw, sizeof raw, NULL, 0);
    sodium_memzero(raw, sizeof raw);

    sqlite3_stmt *st = stmt(ns, ST_INSERT, SQL_INSERT);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    int64_t expires = now + r->ttl_ms;
    sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_STATIC);
    if (r->user_id)
        sqlite3_bind_text(st, 2, r->user_id, (int)r->user_id_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->data, (int)r->data_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, expires);
    sqlite3_bind_int64(st, 6, r->ttl_ms);
    sqlite3_bind_int(st, 7, r->rolling ? 1 : 0);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc); /* a duplicate of 256 random bits is no answer */
    ns->has_ttl = 1;
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "id");
    duro_tape_str(&pk, id, DURO_SESSION_ID_LEN);
    duro_tape_lit(&pk, "expiresAt");
    msgpack_pack_int64(&pk, expires);
    sodium_memzero(id, sizeof id);
    m->created = 1; /* a new session: 201 / CREATED, as every POST that creates */
    return DURO_OK;
}

static int op_get(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    if (!r->id_ok)
        return not_found(m);
    sqlite3_stmt *st = stmt(ns, ST_GET, SQL_GET);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_blob(st, 1, r->id_hash, sizeof r->id_hash, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return not_found(m);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return duro_ns_fail(ns, m, rc);
    }
    int64_t expires = sqlite3_column_int64(st, 3);
    if (expires <= now) {
        sqlite3_reset(st);
        return not_found(m);
    }
    int64_t ttl = sqlite3_column_int64(st, 4);
    int rolling = sqlite3_column_int(st, 5) != 0;
    int64_t old_expires = expires;
    if (rolling && now + ttl > expires)
        expires = now + ttl;

    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 5);
    duro_tape_lit(&pk, "data");
    duro_tape_json(&pk, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    duro_tape_lit(&pk, "userId");
    if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        msgpack_pack_nil(&pk);
    else
        duro_tape_str(&pk, (const char *)sqlite3_column_text(st, 0),
                 (size_t)sqlite3_column_bytes(st, 0));
    duro_tape_lit(&pk, "createdAt");
    msgpack_pack_int64(&pk, sqlite3_column_int64(st, 2));
    duro_tape_lit(&pk, "expiresAt");
    msgpack_pack_int64(&pk, expires);
    duro_tape_lit(&pk, "rolling");
    duro_tape_bool(&pk, rolling);
    sqlite3_reset(st);

    if (expires != old_expires) {
        st = stmt(ns, ST_EXTEND, SQL_EXTEND);
        if (!st)
            return duro_ns_fail(ns, m, -DURO_INTERNAL);
        sqlite3_bind_blob(st, 1, r->id_hash, sizeof r->id_hash, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, expires);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return duro_ns_fail(ns, m, rc);
        ns->has_ttl = 1;
    }
    return DURO_OK;
}

static int op_put(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    if (!r->id_ok)
        return not_found(m);
    sqlite3_stmt *st = stmt(ns, ST_PUT, SQL_PUT);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_blob(st, 1, r->id_hash, sizeof r->id_hash, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->data, (int)r->data_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->ttl_ms);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return not_found(m); /* absent or expired: nothing was changed */
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return duro_ns_fail(ns, m, rc);
    }
    int64_t expires = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    ns->has_ttl = 1;
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "expiresAt");
    msgpack_pack_int64(&pk, expires);
    return DURO_OK;
}

static int op_delete(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    int deleted = 0;
    if (r->id_ok) {
        sqlite3_stmt *st = stmt(ns, ST_DELETE, SQL_DELETE);
        if (!st)
            return duro_ns_fail(ns, m, -DURO_INTERNAL);
        sqlite3_bind_blob(st, 1, r->id_hash, sizeof r->id_hash, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            deleted = sqlite3_column_int64(st, 0) > now; /* an expired one was already gone */
            rc = sqlite3_step(st);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return duro_ns_fail(ns, m, rc);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    duro_tape_bool(&pk, deleted);
    return DURO_OK;
}

/* The bytes of a LIST_USER reply besides its entries. */
#define LIST_USER_FIXED 64

/* The user's live sessions, oldest first, as many as fit in the reply cap;
 * count is every live session of the user (more than the list holds when the
 * list was cut). */
static int op_list_user(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    size_t cap = duro_ns_reply_cap(ns);
    sqlite3_stmt *st = stmt(ns, ST_LIST_USER, SQL_LIST_USER);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(st, 1, r->user_id, (int)r->user_id_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0, listed = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        count++;
        if (listed < count - 1)
            continue; /* the list is full: only counting */
        size_t before = tmp.len;
        msgpack_pack_map(&pk, 3);
        duro_tape_lit(&pk, "createdAt");
        msgpack_pack_int64(&pk, sqlite3_column_int64(st, 0));
        duro_tape_lit(&pk, "expiresAt");
        msgpack_pack_int64(&pk, sqlite3_column_int64(st, 1));
        duro_tape_lit(&pk, "rolling");
        duro_tape_bool(&pk, sqlite3_column_int(st, 2) != 0);
        if (tmp.len + LIST_USER_FIXED > cap)
            tmp.len = before;
        else
            listed++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        duro_buf_free(&tmp);
        return duro_ns_fail(ns, m, rc);
    }
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "sessions");
    msgpack_pack_array(&pk, listed);
    duro_buf_append(&m->body, tmp.data, tmp.len);
    duro_buf_free(&tmp);
    duro_tape_lit(&pk, "count");
    msgpack_pack_uint32(&pk, count);
    return DURO_OK;
}

static int op_revoke_user(duro_ns *ns, duro_msg *m, const duro_session_req *r, int64_t now)
{
    sqlite3_stmt *st = stmt(ns, ST_REVOKE_USER, SQL_REVOKE_USER);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(st, 1, r->user_id, (int)r->user_id_len, SQLITE_STATIC);
    if (r->has_except)
        sqlite3_bind_blob(st, 2, r->except_hash, sizeof r->except_hash, SQLITE_STATIC);
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        n += sqlite3_column_int64(st, 0) > now; /* expired ones go too, uncounted */
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    msgpack_pack_int64(&pk, n);
    return DURO_OK;
}

/* ---- the object ---- */

static int session_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    const duro_session_req *r = m->req;
    switch (m->op) {
    case DURO_SESSION_CREATE:
        return op_create(ns, m, r, now);
    case DURO_SESSION_GET:
        return op_get(ns, m, r, now);
    case DURO_SESSION_PUT:
        return op_put(ns, m, r, now);
    case DURO_SESSION_DELETE:
        return op_delete(ns, m, r, now);
    case DURO_SESSION_LIST_USER:
        return op_list_user(ns, m, r, now);
    case DURO_SESSION_REVOKE_USER:
        return op_revoke_user(ns, m, r, now);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown session operation");
    }
}

/* Deletes up to max sessions due at now (inside the sweep's transaction). */
static int session_sweep(duro_ns *ns, int64_t now, int max)
{
    sqlite3_stmt *st = stmt(ns, ST_SWEEP, SQL_SWEEP);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(ns->db) : -1;
}

/* A get renews a rolling session's expiry: it runs in the transaction,
 * though it needs only read access. */
static int session_writes(int op) { return op != DURO_SESSION_GET && op != DURO_SESSION_LIST_USER; }
static void session_free(void *req) { duro_session_req_free(req); }

static size_t session_reply_bound(int op, const duro_limits *lim)
{
    return op == DURO_SESSION_LIST_USER                      ? lim->max_reply_bytes
           : op == DURO_SESSION_GET || op == DURO_SESSION_PUT ? DURO_SESSION_DATA_MAX + 1024
                                                              : 0;
}

static const duro_migration session_migrations[] = {
    /* sessions, by the hash of their id */
    {3, "CREATE TABLE _duro_sessions(id_hash BLOB PRIMARY KEY, user_id TEXT, data TEXT NOT NULL,"
        " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, ttl_ms INTEGER NOT NULL,"
        " rolling INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX _duro_sessions_user ON _duro_sessions(user_id) WHERE user_id IS NOT NULL;"
        "CREATE INDEX _duro_sessions_expiry ON _duro_sessions(expires_at);"},
};

const duro_kind duro_session_kind = {
    .name = "session",
    .metric = "duro_session_ops_total",
    .metric_help = "Operations run by the session store.",
    .ops = duro_session_op_names,
    .n_ops = DURO_SESSION_OP_COUNT,
    .writes = session_writes,
    .txn = duro_session_op_writes,
    .decode = duro_session_decode_args,
    .free = session_free,
    .reply_bound = session_reply_bound,
    .exec = session_exec,
    .sweep = session_sweep,
    .migrations = session_migrations,
    .n_migrations = sizeof session_migrations / sizeof session_migrations[0],
};
