/*
 * auth.h — users and password login, as ops of the runtime (docs/auth.md).
 *
 * Ops (enum duro_auth_op; names for the binary protocol and libduro), replies
 * as tapes:
 *   REGISTER  auth.register {email, password}  -> {userId, email}; CONFLICT
 *             if the email is taken
 *   LOGIN     auth.login {email, password, ttlMs?} -> {sessionId, expiresAt,
 *             userId}; UNAUTHORIZED "invalid email or password";
 *             RATE_LIMITED when the email or client address has too many
 *             recent failures (nothing else is revealed)
 *   SESSION   auth.session {sessionId}        -> the session (as session.get);
 *             UNAUTHORIZED "no such session"
 *   LOGOUT    auth.logout {sessionId}         -> {deleted: bool}
 *   PASSWORD  auth.password {sessionId, currentPassword, newPassword}
 *             -> {deleted: n}: the user's other sessions are deleted;
 *             UNAUTHORIZED if the current password is wrong
 *
 * A route through the runtime: the owner actor runs the storage steps, the
 * runtime's worker pool the Argon2id steps (runtime/kind.h: DURO_CONTINUE),
 * and the message goes back to the owner in between:
 *   register  worker: hash                 -> owner: insert the user
 *   login     owner: throttle, read hash   -> worker: verify (a dummy hash
 *             for an unknown email)        -> owner: session, or a failure
 *   password  owner: session, user's hash  -> worker: verify, hash the new
 *                                          -> owner: store, revoke others
 * The owner never reads a password: only Argon2id strings
 * (crypto_pwhash_str) are stored, and passwords are wiped when the request
 * is freed.
 */
#ifndef DURO_AUTH_H
#define DURO_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "objects/session.h"
#include "runtime/kind.h"

enum duro_auth_op {
    DURO_AUTH_REGISTER = 0,
    DURO_AUTH_LOGIN,
    DURO_AUTH_SESSION,
    DURO_AUTH_LOGOUT,
    DURO_AUTH_PASSWORD,
    DURO_AUTH_OP_COUNT
};

/* Failed logins allowed per window before 429, per email and per client. */
#define DURO_AUTH_FAIL_EMAIL_LIMIT 5
#define DURO_AUTH_FAIL_CLIENT_LIMIT 20
#define DURO_AUTH_FAIL_WINDOW_MS (15 * 60 * 1000)
#define DURO_AUTH_TTL_DEFAULT (24LL * 3600 * 1000)

typedef struct duro_auth_req {
    char *email;     /* normalised: trimmed, lower case */
    char *client;    /* client address, for throttling */
    char *password;  /* REGISTER, LOGIN; PASSWORD: the current one */
    char *password2; /* PASSWORD: the new one */
    int64_t ttl_ms;  /* LOGIN: the session's lifetime */
    duro_session_req *session; /* SESSION, LOGOUT, PASSWORD: the caller's session */
    int pwhash_min;  /* Argon2id at its minimum cost (tests only) */
    /* filled on the way */
    char *pwhash;    /* Argon2id string: stored, or to store */
    char *user_id;
    int ok;          /* the password matched */
    int work_failed; /* hashing failed on the worker */
} duro_auth_req;

extern const char *const duro_auth_op_names[DURO_AUTH_OP_COUNT];

void duro_auth_req_free(duro_auth_req *r);

/* Trims ASCII whitespace and lowers ASCII letters; checks the shape (one
 * '@', 3..254 bytes, no spaces or control bytes). 0 with *out malloc'd, or
 * -1. */
int duro_auth_email(const char *in, size_t n, char **out);

/* The kind's decode (runtime/kind.h): args as listed above; a password is a
 * string of 8 to 1024 bytes without NUL; ttlMs an integer from 1000 to
 * DURO_KV_TTL_MAX; a malformed sessionId is not an error (the op answers as
 * for an unknown session). Any other member is `unknown field`. */
int duro_auth_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

#endif
