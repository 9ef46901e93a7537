/*
 * auth.c — users and password login (see auth.h): the owner's steps, the
 * worker steps, and the kind's row.
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
#include <pthread.h>
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
    duro_session_req_free(r->session);
    free(r->email);
    free(r->client);
    free(r->user_id);
    free(r);
}

/* Replaces *dst by a copy of src (NULL: by NULL). 0, or -1 on ENOMEM. */
static int set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

/* Runs a session op on m's namespace with request s (the session object's
 * exec, in the same transaction); its reply is m's. */
static int session_op(duro_ns *ns, duro_msg *m, int op, duro_session_req *s, int64_t now)
{
    int op0 = m->op;
    void *req0 = m->req;
    m->op = op;
    m->req = s;
    int st = duro_session_kind.exec(ns, m, now);
    m->op = op0;
    m->req = req0;
    return st;
}

/* Register, owner step: inserts the user with the hash the worker made. */
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
    m->created = 1;
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

/* Login, owner step 1: refuses if failures are exhausted, else reads the
 * user's id and hash into r (none for an unknown email). */
/* Before a password is verified: RATE_LIMITED if the email or the client
 * address has no failure left, else DURO_OK. */
static int throttle_check(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    int blocked;
    int64_t retry;
    int st = throttle(ns, r, now, 0, &blocked, &retry);
    if (st != DURO_OK)
        return duro_ns_fail(ns, m, -st);
    if (blocked) {
        m->rl.set = 1;
        m->rl.limit = DURO_AUTH_FAIL_EMAIL_LIMIT;
        m->rl.retry_after_ms = retry;
        return duro_msg_fail(m, DURO_RATE_LIMITED,
                             "too many failed logins; retry in %lld ms", (long long)retry);
    }
    return DURO_OK;
}

/* A wrong password: one failure charged, then UNAUTHORIZED with msg. */
static int throttle_charge(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now,
                           const char *msg)
{
    int blocked;
    int64_t retry;
    int st = throttle(ns, r, now, 1, &blocked, &retry);
    if (st != DURO_OK)
        return duro_ns_fail(ns, m, -st);
    return duro_msg_fail(m, DURO_UNAUTHORIZED, "%s", msg);
}

static int login_begin(duro_ns *ns, duro_msg *m, duro_auth_req *r, int64_t now)
{
    int st = throttle_check(ns, m, r, now);
    if (st != DURO_OK)
        return st;
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_BY_EMAIL, SQL_BY_EMAIL);
    if (!q)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(q, 1, r->email, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(q);
        return duro_ns_fail(ns, m, rc);
    }
    int row = rc == SQLITE_ROW;
    if (set_str(&r->user_id, row ? (const char *)sqlite3_column_text(q, 0) : NULL) != 0 ||
        set_str(&r->pwhash, row ? (const char *)sqlite3_column_text(q, 1) : NULL) != 0) {
        sqlite3_reset(q);
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    }
    sqlite3_reset(q);
    return DURO_OK;
}

/* Login, owner step 2: a session for the user, or one failure charged to
 * the email and the client address. */
static int login_finish(duro_ns *ns, duro_msg *m, const duro_auth_req *r, int64_t now)
{
    if (!r->ok || !r->user_id)
        return throttle_charge(ns, m, r, now, "invalid email or password");
    duro_session_req s = {0};
    s.user_id = r->user_id;
    s.user_id_len = strlen(r->user_id);
    s.data = "{}";
    s.data_len = 2;
    s.ttl_ms = r->ttl_ms;
    s.rolling = 1;
    int st = session_op(ns, m, DURO_SESSION_CREATE, &s, now);
    m->created = 0; /* a login is no POST that creates: 200 */
    if (st != DURO_OK)
        return st;
    /* {id, expiresAt} -> {sessionId, expiresAt, userId}: re-read the tape */
    duro_buf created = m->body;
    m->body = (duro_buf){0};
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

/* Reads the email and hash of r->user_id into r. */
static int user_get(duro_ns *ns, duro_msg *m, duro_auth_req *r)
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
    rc = set_str(&r->email, (const char *)sqlite3_column_text(q, 0)) |
         set_str(&r->pwhash, (const char *)sqlite3_column_text(q, 1));
    sqlite3_reset(q);
    return rc == 0 ? DURO_OK : duro_msg_fail(m, DURO_NOMEM, "out of memory");
}

/* Password change, owner step 2: stores the new hash and revokes the user's
 * other sessions. */
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
    memcpy(s.except_hash, r->session->id_hash, sizeof s.except_hash);
    s.has_except = 1;
    return session_op(ns, m, DURO_SESSION_REVOKE_USER, &s, now); /* {deleted: n} */
}

/* The caller's session (SESSION, LOGOUT, PASSWORD): an unknown one is
 * UNAUTHORIZED, except for a logout, which answers {deleted: false}. */
static int caller_session(duro_ns *ns, duro_msg *m, duro_auth_req *r, int op, int64_t now)
{
    int st = session_op(ns, m, op, r->session, now);
    if (st == DURO_NOT_FOUND)
        return duro_msg_fail(m, DURO_UNAUTHORIZED, "no such session");
    return st;
}

/* Password change, owner step 1: the session's user and that user's email
 * and hash into r (the worker then verifies the current password). A wrong
 * current password is a failed login of that email and client: throttled
 * the same way, so a stolen session cannot guess it fast. */
static int password_begin(duro_ns *ns, duro_msg *m, duro_auth_req *r, int64_t now)
{
    int st = caller_session(ns, m, r, DURO_SESSION_GET, now);
    if (st != DURO_OK)
        return st;
    char *user = duro_tape_str_field(m->body.data, m->body.len, "userId");
    duro_buf_free(&m->body);
    free(r->user_id);
    r->user_id = user;
    if (!user)
        return duro_msg_fail(m, DURO_FORBIDDEN, "the session belongs to no user");
    st = user_get(ns, m, r);
    return st == DURO_OK ? throttle_check(ns, m, r, now) : st;
}

/* ---- the worker steps (never on an actor) ---- */

static unsigned long long pw_ops(const duro_auth_req *r)
{
    return r->pwhash_min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

static size_t pw_mem(const duro_auth_req *r)
{
    return r->pwhash_min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

/* What an unknown email is verified against, so that it costs what a known
 * one does: one per cost setting, made on first use. NULL if it cannot be. */
static const char *dummy_hash(const duro_auth_req *r)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char hash[2][crypto_pwhash_STRBYTES];
    static int made[2];
    int i = r->pwhash_min != 0;
    pthread_mutex_lock(&lock);
    if (!made[i]) {
        unsigned char junk[32];
        randombytes_buf(junk, sizeof junk);
        made[i] = crypto_pwhash_str(hash[i], (const char *)junk, sizeof junk, pw_ops(r),
                                    pw_mem(r)) == 0;
    }
    pthread_mutex_unlock(&lock);
    return made[i] ? hash[i] : NULL;
}

/* r->pwhash = the hash of pw. */
static void hash_into(duro_msg *m, duro_auth_req *r, const char *pw)
{
    (void)m;
    r->pwhash = malloc(crypto_pwhash_STRBYTES);
    if (!r->pwhash || crypto_pwhash_str(r->pwhash, pw, strlen(pw), pw_ops(r), pw_mem(r)) != 0)
        r->work_failed = 1;
}

/* register: hash the password */
static void work_hash(duro_msg *m)
{
    duro_auth_req *r = m->req;
    hash_into(m, r, r->password);
}

/* login, password change: verify (an unknown user against the dummy); for a
 * change that verified, hash the new password */
static void work_verify(duro_msg *m)
{
    duro_auth_req *r = m->req;
    const char *h = r->pwhash ? r->pwhash : dummy_hash(r);
    r->ok = h && crypto_pwhash_str_verify(h, r->password, strlen(r->password)) == 0 &&
            r->pwhash;
    if (m->op == DURO_AUTH_PASSWORD && r->ok) {
        sodium_memzero(r->pwhash, strlen(r->pwhash));
        free(r->pwhash);
        r->pwhash = NULL;
        hash_into(m, r, r->password2);
    }
}

/* Goes on with work on the worker pool (kind.h: DURO_CONTINUE). */
static int then(duro_msg *m, void (*work)(duro_msg *m))
{
    m->work = work;
    return DURO_CONTINUE;
}

static int auth_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    duro_auth_req *r = m->req;
    if (r->work_failed)
        return duro_msg_fail(m, DURO_UNAVAILABLE, "password hashing failed; retry later");
    int st;
    switch (m->op) {
    case DURO_AUTH_REGISTER:
        return m->stage == 0 ? then(m, work_hash) : user_create(ns, m, r, now);
    case DURO_AUTH_LOGIN:
        if (m->stage == 1)
            return login_finish(ns, m, r, now);
        st = login_begin(ns, m, r, now);
        return st == DURO_OK ? then(m, work_verify) : st;
    case DURO_AUTH_SESSION:
        return caller_session(ns, m, r, DURO_SESSION_GET, now);
    case DURO_AUTH_LOGOUT:
        return session_op(ns, m, DURO_SESSION_DELETE, r->session, now);
    case DURO_AUTH_PASSWORD:
        if (m->stage == 1)
            return r->ok ? set_password(ns, m, r, now)
                         : throttle_charge(ns, m, r, now, "the current password is wrong");
        st = password_begin(ns, m, r, now);
        return st == DURO_OK ? then(m, work_verify) : st;
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown auth operation");
    }
}

/* Every op runs in the transaction: the steps that read (a login's first,
 * a session's renewal) commit nothing the reply waits for. */
static int auth_writes(int op) { return op != DURO_AUTH_SESSION; }
static void auth_free(void *req) { duro_auth_req_free(req); }

static size_t auth_reply_bound(int op, const duro_limits *lim)
{
    (void)lim;
    return op == DURO_AUTH_SESSION ? DURO_SESSION_DATA_MAX + 1024 : 1024;
}

static const duro_migration auth_migrations[] = {
    /* users (password login) */
    {4, "CREATE TABLE _duro_users(email TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE,"
        " pwhash TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;"},
};

const duro_kind duro_auth_kind = {
    .name = "auth",
    .metric = "duro_auth_ops_total",
    .metric_help = "Operations run by the user/login object.",
    .ops = duro_auth_op_names,
    .n_ops = DURO_AUTH_OP_COUNT,
    .writes = auth_writes,
    .txn = duro_ops_all,
    .decode = duro_auth_decode_args,
    .free = auth_free,
    .reply_bound = auth_reply_bound,
    .exec = auth_exec,
    .migrations = auth_migrations,
    .n_migrations = sizeof auth_migrations / sizeof auth_migrations[0],
};
