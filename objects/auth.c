/*
 * auth.c — users and the storage half of password login (see auth.h).
 *
 * Users live in _duro_users of the namespace (email -> user id, Argon2id
 * string). Failed logins are throttled with the namespace's rate limiter on
 * the keys "login-failures:email:<email>" and "login-failures:client:<addr>"
 * (charged only on failures, checked before every attempt). Sessions are
 * created and revoked through the session object, in the same transaction.
 */
#include "objects/auth.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "objects/ratelimit.h"
#include "objects/session.h"
#include "common/tape.h"

enum { ST_INSERT = 44, ST_BY_EMAIL, ST_BY_ID, ST_SET };

static const char SQL_INSERT[] =
    "INSERT INTO _duro_users(email, user_id, pwhash, created_at) VALUES(?1, ?2, ?3, ?4)"
    " ON CONFLICT(email) DO NOTHING";
static const char SQL_BY_EMAIL[] = "SELECT user_id, pwhash FROM _duro_users WHERE email = ?1";
static const char SQL_BY_ID[] = "SELECT email, pwhash FROM _duro_users WHERE user_id = ?1";
static const char SQL_SET[] = "UPDATE _duro_users SET pwhash = ?2 WHERE user_id = ?1";

void duro_auth_req_free(duro_auth_req *r)
{
    if (!r)
        return;
    char *secret[] = {r->password, r->password2, r->pwhash};
    for (size_t i = 0; i < 3; i++)
        if (secret[i]) {
            sodium_memzero(secret[i], strlen(secret[i]));
            free(secret[i]);
        }
    free(r->email);
    free(r->client);
    free(r->user_id);
    free(r);
}

static int user_create(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    unsigned char raw[16];
    char uid[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(uid, sizeof uid, raw, sizeof raw);
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_INSERT, SQL_INSERT);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(st, 1, r->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    if (sqlite3_changes(ns->db) == 0)
        return duro_msg_fail(m, DURO_CONFLICT, "a user with this email exists");
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "userId");
    duro_tape_lit(&pk, uid);
    duro_tape_lit(&pk, "email");
    duro_tape_lit(&pk, r->email);
    return DURO_OK;
}

/* The two throttle keys of a login attempt (rate-limiter keys of the
 * namespace, charged only by failed logins). */
static void throttle_keys(const duro_auth_req *r, char *ke, size_t ne, char *ka, size_t na)
{
    snprintf(ke, ne, "login-failures:email:%s", r->email);
    snprintf(ka, na, "login-failures:client:%s", r->client ? r->client : "-");
}

/* Charges one failure (cost 1) or looks (cost 0). *blocked: no failure left
 * on either key; *retry_ms: until one is back. DURO_OK or a storage status. */
static int throttle(duro_ns *ns, const duro_auth_req *r, int64_t now, int cost, int *blocked,
                    int64_t *retry_ms)
{
    char ke[400], ka[160];
    throttle_keys(r, ke, sizeof ke, ka, sizeof ka);
    const char *keys[2] = {ke, ka};
    const int64_t limits[2] = {DURO_AUTH_FAIL_EMAIL_LIMIT, DURO_AUTH_FAIL_CLIENT_LIMIT};
    *blocked = 0;
    *retry_ms = 0;
    for (int i = 0; i < 2; i++) {
        int allowed;
        int64_t remaining, retry;
        int st = duro_rl_charge(ns, keys[i], strlen(keys[i]), limits[i],
                                DURO_AUTH_FAIL_WINDOW_MS, cost, now, &allowed, &remaining, &retry);
        if (st == DURO_OK && cost == 0 && remaining == 0) /* a denied probe stores nothing */
            st = duro_rl_charge(ns, keys[i], strlen(keys[i]), limits[i],
                                DURO_AUTH_FAIL_WINDOW_MS, 1, now, &allowed, &remaining, &retry);
        if (st != DURO_OK)
            return st;
        if (cost == 0 && !allowed) {
            *blocked = 1;
            if (retry > *retry_ms)
                *retry_ms = retry;
        }
    }
    return DURO_OK;
}

static int login_begin(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    int blocked;
    int64_t retry;
    int st = throttle(ns, r, now, 0, &blocked, &retry);
    if (st != DURO_OK)
        return duro_ns_fail(ns, m, -st);
    if (blocked) {
        m->rl.set = 1;
        m->rl.retry_after_ms = retry;
        return duro_msg_fail(m, DURO_RATE_LIMITED,
                             "too many failed logins; retry in %lld ms", (long long)retry);
    }
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_BY_EMAIL, SQL_BY_EMAIL);
    if (!q)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(q, 1, r->email, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(q);
        return duro_ns_fail(ns, m, rc);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "pwhash");
    if (rc == SQLITE_ROW)
        duro_tape_lit(&pk, (const char *)sqlite3_column_text(q, 1));
    else
        msgpack_pack_nil(&pk);
    duro_tape_lit(&pk, "userId");
    if (rc == SQLITE_ROW)
        duro_tape_lit(&pk, (const char *)sqlite3_column_text(q, 0));
    else
        msgpack_pack_nil(&pk);
    sqlite3_reset(q);
    return DURO_OK;
}

static int login_finish(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    if (!r->ok || !r->user_id) {
        int blocked;
        int64_t retry;
        int st = throttle(ns, r, now, 1, &blocked, &retry);
        if (st != DURO_OK)
            return duro_ns_fail(ns, m, -st);
        return duro_msg_fail(m, DURO_UNAUTHORIZED, "invalid email or password");
    }
    duro_session_req s = {0};
    s.user_id = r->user_id;
    s.user_id_len = strlen(r->user_id);
    s.data = "{}";
    s.data_len = 2;
    s.ttl_ms = r->ttl_ms;
    s.rolling = 1;
    int op = m->op;
    void *req = m->req;
    m->op = DURO_SESSION_CREATE;
    m->req = &s;
    duro_buf created = {0};
    duro_buf saved = m->body;
    m->body = created;
    int st = duro_session_object.exec(ns, m, now);
    created = m->body;
    m->body = saved;
    m->op = op;
    m->req = req;
    if (st != DURO_OK) {
        duro_buf_free(&created);
        return st;
    }
    /* {id, expiresAt} -> {sessionId, expiresAt, userId}: re-read the tape */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    st = DURO_INTERNAL;
    if (msgpack_unpack_next(&u, created.data, created.len, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_kv *kv = u.data.via.map.ptr;
        msgpack_packer pk;
        duro_tape_packer(&pk, &m->body);
        msgpack_pack_map(&pk, 3);
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            if (kv[i].key.type != MSGPACK_OBJECT_STR)
                continue;
            if (kv[i].key.via.str.size == 2 && memcmp(kv[i].key.via.str.ptr, "id", 2) == 0)
                duro_tape_lit(&pk, "sessionId");
            else
                msgpack_pack_object(&pk, kv[i].key);
            msgpack_pack_object(&pk, kv[i].val);
        }
        duro_tape_lit(&pk, "userId");
        duro_tape_lit(&pk, r->user_id);
        st = DURO_OK;
    }
    msgpack_unpacked_destroy(&u);
    duro_buf_free(&created);
    return st;
}

static int user_get(duro_ns *ns, duro_msg *m, const duro_auth_req *r)
{
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_BY_ID, SQL_BY_ID);
    if (!q)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(q, 1, r->user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return duro_msg_fail(m, DURO_NOT_FOUND, "no such user");
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return duro_ns_fail(ns, m, rc);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "pwhash");
    duro_tape_lit(&pk, (const char *)sqlite3_column_text(q, 1));
    duro_tape_lit(&pk, "email");
    duro_tape_lit(&pk, (const char *)sqlite3_column_text(q, 0));
    sqlite3_reset(q);
    return DURO_OK;
}

static int set_password(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_SET, SQL_SET);
    if (!q)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(q, 1, r->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, r->pwhash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    if (sqlite3_changes(ns->db) == 0)
        return duro_msg_fail(m, DURO_NOT_FOUND, "no such user");
    duro_session_req s = {0};
    s.user_id = r->user_id;
    s.user_id_len = strlen(r->user_id);
    if (r->has_keep) {
        memcpy(s.except_hash, r->keep_hash, sizeof s.except_hash);
        s.has_except = 1;
    }
    int op = m->op;
    void *req = m->req;
    m->op = DURO_SESSION_REVOKE_USER;
    m->req = &s;
    int st = duro_session_object.exec(ns, m, now); /* replies {deleted: n} */
    m->op = op;
    m->req = req;
    return st;
}

static int auth_is_write(const duro_msg *m)
{
    return m->op != DURO_AUTH_USER_GET && m->op != DURO_AUTH_LOGIN_BEGIN;
}

static int auth_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    duro_auth_req *r = m->req;
    switch (m->op) {
    case DURO_AUTH_USER_CREATE:
        return user_create(ns, m, r, now);
    case DURO_AUTH_LOGIN_BEGIN:
        return login_begin(ns, m, r, now);
    case DURO_AUTH_LOGIN_FINISH:
        return login_finish(ns, m, r, now);
    case DURO_AUTH_USER_GET:
        return user_get(ns, m, r);
    case DURO_AUTH_SET_PASSWORD:
        return set_password(ns, m, r, now);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown auth operation");
    }
}

const duro_object_ops duro_auth_object = {
    .name = "auth",
    .is_write = auth_is_write,
    .exec = auth_exec,
};
