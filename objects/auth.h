/*
 * auth.h — users and password login (the object's half; the Argon2id work is
 * done by the worker pool, orchestrated by the transport, see docs/auth.md).
 *
 * Ops (enum duro_auth_op), replies as tapes:
 *   USER_CREATE   {email, pwhash}           -> {userId, email}; CONFLICT if taken
 *   LOGIN_BEGIN   {email, client}           -> {pwhash | nil, userId | nil};
 *                 RATE_LIMITED when the email or client address has too many
 *                 recent failures (nothing else is revealed)
 *   LOGIN_FINISH  {email, client, ok, userId, ttl_ms}
 *                 ok: a new session for userId -> {sessionId, expiresAt, userId}
 *                 not ok: one failure charged to the email and the client
 *                 address -> UNAUTHORIZED
 *   USER_GET      {user_id}                 -> {pwhash, email}; NOT_FOUND
 *   SET_PASSWORD  {user_id, pwhash, keep}   -> {revoked: n}: the other sessions of
 *                 the user are deleted (keep: the session to spare, by hash)
 * Passwords never reach the object: only Argon2id strings (crypto_pwhash_str).
 */
#ifndef DURO_AUTH_H
#define DURO_AUTH_H

#include <stddef.h>
#include <stdint.h>

enum duro_auth_op {
    DURO_AUTH_USER_CREATE = 0,
    DURO_AUTH_LOGIN_BEGIN,
    DURO_AUTH_LOGIN_FINISH,
    DURO_AUTH_USER_GET,
    DURO_AUTH_SET_PASSWORD,
    DURO_AUTH_OP_COUNT
};

/* Failed logins allowed per window before 429, per email and per client. */
#define DURO_AUTH_FAIL_EMAIL_LIMIT 5
#define DURO_AUTH_FAIL_CLIENT_LIMIT 20
#define DURO_AUTH_FAIL_WINDOW_MS (15 * 60 * 1000)

typedef struct duro_auth_req {
    char *email;   /* normalised: trimmed, lower case */
    char *client;  /* client address, for throttling */
    char *pwhash;  /* Argon2id string */
    char *user_id;
    char *password; /* transport only (never sent to an actor); wiped on free */
    char *password2; /* transport only: the new password of a change */
    int ok;
    int64_t ttl_ms;
    unsigned char keep_hash[32];
    int has_keep;
} duro_auth_req;

void duro_auth_req_free(duro_auth_req *r);

#endif
