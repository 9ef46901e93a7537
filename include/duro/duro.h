/*
 * duro.h — libduro, the C client of duro.
 *
 * One API, two ways in:
 *   duro://host:port       talks to a durod over the binary protocol (docs/protocol.md)
 *   file:///path/to/data   runs the duro runtime inside this process over that data
 *                          directory (same semantics and durability; takes the
 *                          directory's lock, so no durod may be serving it)
 *
 * Values cross this API as JSON text (duro_put/duro_get and most calls) or as one
 * msgpack object (the *_mp calls).
 *
 * Errors: every call returns a duro_status (include/duro/status.h), DURO_OK (0)
 * on success. Each function below lists the errors that belong to it; besides
 * those, any call on a handle may return
 *   DURO_BAD_REQUEST        a required pointer is NULL, or an argument is invalid
 *                           (the message says which: a bad key, namespace, JSON text...)
 *   DURO_PAYLOAD_TOO_LARGE  the request, or the reply it would get, is over a server
 *                           limit (--max-body-bytes, --max-value-bytes, --max-reply-bytes)
 *   DURO_NOMEM              out of memory (here or in the runtime)
 *   DURO_INTERNAL           the server failed, or sent a reply libduro cannot read
 *   DURO_UNAVAILABLE        remote: the server cannot be reached, is overloaded or
 *                           shutting down, or sent no reply within timeout_ms;
 *                           embedded: the runtime is overloaded or stopping
 *   DURO_IO                 remote: the connection broke during the call (a write may
 *                           or may not have been applied), or the server speaks another
 *                           protocol version; embedded: a storage error
 *   DURO_UNAUTHORIZED, DURO_FORBIDDEN
 *                           remote: the server has access control on (docs/access.md)
 *                           and the connection sent no valid "auth" (duro_call), or its
 *                           token does not cover the namespace or the write
 *   DURO_INSUFFICIENT_STORAGE  a write found the disk full or read-only.
 * duro_errstr() gives a static message for any status; duro_errmsg(db) the
 * message of the last call on a handle, duro_last_error() that of this thread's
 * last call (the server's or runtime's message, naming the cause).
 *
 * Memory: inputs are copied before a call returns; outputs returned through
 * char ** / void ** are malloc'd for the caller, who frees them with
 * duro_free(). Nothing returned points into the handle.
 *
 * Threads: a duro handle may be shared by any number of threads; calls on one
 * handle are safe to make concurrently (a remote handle serializes its socket
 * internally and matches replies by msgid; an embedded handle runs calls on the
 * runtime's actors). duro_close() must not race with other calls on the handle.
 *
 * Remote connections: a call that fails because the connection broke returns
 * DURO_IO and is not retried (a write may or may not have been applied); the
 * next call reconnects (a connection the server closed while idle is redialed
 * before sending, so a server restart between calls is not seen at all). A call
 * that gets no reply within timeout_ms returns DURO_UNAVAILABLE. URL options:
 * duro://host:port?timeout_ms=N (per call, default 5000) &connect_timeout_ms=N
 * (default 2000) &token=T (percent-encoded; see duro_open_ex, which keeps the
 * token out of the URL); the port defaults to 7070.
 *
 * Access control: a server started with --auth-token or --jwt-secret refuses
 * every op but ping until the connection presents a token. A handle opened
 * with one (duro_open_ex, or the URL's token=) sends it as the first frame of
 * every connection it makes, the reconnects after a server restart included,
 * and fails with the server's answer (DURO_UNAUTHORIZED) if it is refused.
 *
 * Embedded options: file:///dir?actors=N (default: one per core) &cache_mb=N
 * (64) &ttl_sweep_ms=N (1000) &max_value_bytes=N (2 MiB) &sync=full|normal
 * (full: every write is fsynced before the call returns)
 * &ratelimit_default=LIMIT/WINDOW (30/60s, as durod's --ratelimit-default: the
 * limit and window of a rate-limit check that gives none).
 *
 * Namespaces: every ns parameter may be NULL, meaning "default".
 */
#ifndef DURO_DURO_H
#define DURO_DURO_H

#include <stddef.h>
#include <stdint.h>

#include "duro/status.h"
#include "duro/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DURO_API /* also defined by duro/status.h */
#if defined(__GNUC__)
#define DURO_API __attribute__((visibility("default")))
#else
#define DURO_API
#endif
#endif

/* An open connection to duro (remote or embedded). Opaque. */
typedef struct duro duro;

/* Opens url (see above) into *db. Returns DURO_OK, or DURO_BAD_REQUEST for a
 * malformed URL or option, DURO_UNAVAILABLE if the server cannot be reached
 * within connect_timeout_ms, DURO_LOCKED if a file:// directory is in use by
 * another process, DURO_IO if a file:// directory cannot be opened or read,
 * DURO_INSUFFICIENT_STORAGE if it cannot be written, DURO_NOMEM. On error
 * *db is NULL (the message is in duro_last_error()). */
DURO_API duro_status duro_open(const char *url, duro **db);

/* Options of duro_open_ex; zero-initialize, set what you need. */
typedef struct duro_open_options {
    /* The access token (the server's --auth-token admin token, or a JWT) a
     * remote handle presents on every connection; NULL or "": none (the
     * URL's token= if it has one). Copied; wiped from memory at duro_close.
     * Ignored by file:// handles (an embedded runtime has no access
     * control). */
    const char *token;
} duro_open_options;

/* duro_open with options (opts may be NULL). Returns what duro_open does,
 * and DURO_UNAUTHORIZED if the server refuses the token. */
DURO_API duro_status duro_open_ex(const char *url, const duro_open_options *opts, duro **db);

/* Closes the handle (an embedded runtime commits and releases its lock).
 * duro_close(NULL) is a no-op. */
DURO_API void duro_close(duro *db);

/* Frees memory returned by any duro_* call. NULL is a no-op. */
DURO_API void duro_free(void *p);

/* The server's (or runtime's) message for the last failed call made by this
 * thread, or "" — valid until this thread's next call. */
DURO_API const char *duro_last_error(void);

/* Returns the version of the running libduro as "MAJOR.MINOR.PATCH" (static;
 * never NULL, never freed; DURO_VERSION_STRING of duro/version.h is the
 * headers'). Thread-safe. */
DURO_API const char *duro_version(void);

/* The message of the last call on db that returned: its error message, or ""
 * if it succeeded ("db is NULL" for NULL). The string is this thread's copy,
 * valid until its next duro_errmsg() call. Thread-safe: when several threads
 * use db at once, "last" is whichever call finished last — use
 * duro_last_error() for the message of this thread's own call. */
DURO_API const char *duro_errmsg(duro *db);

/* ---- key-value: the minimum surface ---- */

/* Stores json[0..len) (one JSON value) under ns/key; ttl_ms > 0 sets an
 * expiry, 0 means none. Returns DURO_OK, or DURO_BAD_REQUEST if json is not
 * one JSON value or key or ttl_ms is invalid, DURO_PAYLOAD_TOO_LARGE if the
 * value is over --max-value-bytes. */
DURO_API duro_status duro_put(duro *db, const char *ns, const char *key, const char *json,
                              size_t len, int64_t ttl_ms);

/* Reads ns/key: *json gets the value as compact JSON text (NUL-terminated,
 * *len without the NUL; free with duro_free). Returns DURO_OK, or
 * DURO_NOT_FOUND if the key is missing or expired (*json is NULL). */
DURO_API duro_status duro_get(duro *db, const char *ns, const char *key, char **json,
                              size_t *len);

/* Deletes ns/key. Returns DURO_OK whether or not it existed. */
DURO_API duro_status duro_delete(duro *db, const char *ns, const char *key);

/* ---- richer calls ---- */

/* Options of a write. Zero-initialize, then set what you need. */
typedef struct duro_put_opts {
    int64_t ttl_ms;        /* > 0: expiry; 0: none */
    const char *metadata;  /* JSON object text, or NULL */
    int64_t if_match;      /* > 0: require this version (DURO_PRECONDITION_FAILED otherwise) */
    int if_none_match;     /* 1: create only (DURO_PRECONDITION_FAILED if the key exists) */
} duro_put_opts;

/* duro_put with options (NULL: none); *version (if not NULL) gets the new
 * version. Returns DURO_OK, or DURO_PRECONDITION_FAILED if opts->if_match is
 * not the key's version (or the key is missing) or opts->if_none_match finds
 * the key, DURO_BAD_REQUEST and DURO_PAYLOAD_TOO_LARGE as duro_put
 * (DURO_BAD_REQUEST also for metadata that is no JSON object or is over
 * 16 KiB). */
DURO_API duro_status duro_put_ex(duro *db, const char *ns, const char *key, const char *json,
                                 size_t len, const duro_put_opts *opts, int64_t *version);

/* A key's value and metadata. Every pointer is malloc'd (free with
 * duro_meta_free); metadata is NULL when none; expires_at is 0 when none. */
typedef struct duro_meta {
    char *value;    /* JSON text, NUL-terminated */
    size_t value_len;
    char *metadata; /* JSON object text or NULL */
    int64_t version, created_at, updated_at, expires_at; /* ms since the epoch */
} duro_meta;

/* Reads a key with its metadata and version into *out (zeroed on error).
 * Returns DURO_OK, or DURO_NOT_FOUND if the key is missing or expired. */
DURO_API duro_status duro_get_meta(duro *db, const char *ns, const char *key, duro_meta *out);
DURO_API void duro_meta_free(duro_meta *m);

/* Deletes a key only if it is at version if_match (> 0; 0: any version);
 * *deleted (if not NULL) is 1 if a live key went away. Returns DURO_OK, or
 * DURO_PRECONDITION_FAILED if if_match > 0 and the key is missing or at
 * another version (nothing is deleted). */
DURO_API duro_status duro_delete_ex(duro *db, const char *ns, const char *key, int64_t if_match,
                                    int *deleted);

/* Batch get: keys[0..n) (n ≤ 1000). *json gets a JSON object {key: value}
 * holding the live keys only (free with duro_free). Returns DURO_OK (missing
 * keys are simply absent), or DURO_BAD_REQUEST for more than 1000 keys, a NULL
 * or invalid key, DURO_PAYLOAD_TOO_LARGE if the values are over
 * --max-reply-bytes together. */
DURO_API duro_status duro_batch_get(duro *db, const char *ns, const char *const *keys, size_t n,
                                    char **json, size_t *len);

/* Batch set, atomic: entries_json is a JSON array
 * [{"key":..,"value":..,"ttlMs"?:..,"metadata"?:..}] (≤ 1000). *version (if not
 * NULL) gets the batch's version. Returns DURO_OK, or DURO_BAD_REQUEST if
 * entries_json is no such array (an unknown field, more than 1000 entries, an
 * invalid entry: nothing is written), DURO_PAYLOAD_TOO_LARGE for a value over
 * --max-value-bytes. */
DURO_API duro_status duro_batch_set(duro *db, const char *ns, const char *entries_json,
                                    size_t len, int64_t *version);

/* Batch delete of keys[0..n) (n ≤ 1000); *deleted (if not NULL) gets how many
 * went away. Returns DURO_OK, or DURO_BAD_REQUEST for more than 1000 keys or a
 * NULL or invalid key (nothing is deleted). */
DURO_API duro_status duro_batch_delete(duro *db, const char *ns, const char *const *keys,
                                       size_t n, int64_t *deleted);

/* List options. Zero-initialize; NULL strings are unset. */
typedef struct duro_list_opts {
    const char *prefix, *start, *start_after, *end;
    const char *cursor; /* from a previous page */
    int limit;          /* 0: server default (1000); max 10000 */
    int reverse;
    int values;         /* 1: entries are {key, value, expiresAt} */
} duro_list_opts;

/* One page of keys in byte order: *json gets the list's data object
 * {"keys":[...],"cursor":str|null,"list_complete":bool} as JSON text (free
 * with duro_free). opts NULL: all unset. Returns DURO_OK (an empty page is no
 * error), or DURO_BAD_REQUEST for a limit over 10000 or below 0, start with
 * start_after, a malformed cursor, DURO_PAYLOAD_TOO_LARGE if values = 1 and one
 * entry alone is over --max-reply-bytes. */
DURO_API duro_status duro_list(duro *db, const char *ns, const duro_list_opts *opts, char **json,
                               size_t *len);

/* Deletes every key of ns; *deleted (if not NULL) gets how many. Returns
 * DURO_OK. */
DURO_API duro_status duro_clear(duro *db, const char *ns, int64_t *deleted);

/* ---- rate limiting (docs/ratelimit.md) ---- */

/* The outcome of a rate-limit check (GCRA: a bucket of `limit` tokens that
 * refills `limit` tokens per window). */
typedef struct duro_rl_result {
    int allowed;            /* 1: the check passed and took its cost; 0: denied, took nothing */
    int64_t remaining;      /* whole tokens left after the check */
    int64_t limit;          /* the limit the check ran with */
    int64_t reset_ms;       /* ms until the bucket is full again */
    int64_t retry_after_ms; /* denied only: ms until this cost would pass (else 0) */
} duro_rl_result;

/* Checks ns/key against `limit` requests per `window_ms` and, if allowed,
 * takes `cost` tokens (1 for one request; 0 only looks). limit (1..10^9) and
 * window_ms (1..315360000000) of 0 take the server's default
 * (--ratelimit-default, 30/60s; embedded: the URL's ratelimit_default=, else
 * 30/60s); cost is -limit..limit (negative: gives tokens back, never past a full
 * bucket). Returns DURO_OK whether the check was allowed or
 * denied (out->allowed tells), DURO_BAD_REQUEST for a bad key or parameter,
 * and transport errors as every call. Checks of one namespace run one at a
 * time, so N threads or processes racing on one key get exactly `limit`
 * allows per window. Rate-limit keys are separate from KV keys. out may be
 * NULL. */
DURO_API duro_status duro_ratelimit_check(duro *db, const char *ns, const char *key,
                                          int64_t limit, int64_t window_ms, int64_t cost,
                                          duro_rl_result *out);

/* The state of ns/key as a zero-cost check (takes nothing). limit and
 * window_ms of 0: those the key last used (the defaults for a new key).
 * Returns DURO_OK, or DURO_BAD_REQUEST for a bad key, limit or window_ms. */
DURO_API duro_status duro_ratelimit_get(duro *db, const char *ns, const char *key, int64_t limit,
                                        int64_t window_ms, duro_rl_result *out);

/* Forgets ns/key's state (its bucket is full again); *deleted (if not NULL)
 * is 1 if the key had any. Returns DURO_OK, or DURO_BAD_REQUEST for a bad
 * key. */
DURO_API duro_status duro_ratelimit_reset(duro *db, const char *ns, const char *key,
                                          int *deleted);

/* ---- sessions (docs/sessions.md) ---- */

/* Creates a session holding data_json[0..len) (a JSON object, at most 64 KiB
 * compact) for ttl_ms (1..315360000000) ms, owned by user_id (NULL: none;
 * 1..256 bytes of UTF-8). rolling = 1: every duro_session_get (and a
 * duro_session_put without ttl) moves the expiry to now + ttl_ms. *id gets the
 * new session id (43 characters of base64url, NUL-terminated; free with
 * duro_free) — the only time it is ever returned: the server stores only its
 * hash. *expires_at (if not NULL) gets the expiry, ms since the epoch.
 * Returns DURO_OK, or DURO_BAD_REQUEST if data_json is no JSON object or
 * ttl_ms or user_id is out of range, DURO_PAYLOAD_TOO_LARGE if the data is
 * over 64 KiB. */
DURO_API duro_status duro_session_create(duro *db, const char *ns, const char *data_json,
                                         size_t len, int64_t ttl_ms, const char *user_id,
                                         int rolling, char **id, int64_t *expires_at);

/* Reads session id: *data_json gets its data (a JSON object as compact text,
 * NUL-terminated, *len without the NUL; free with duro_free). user_id and
 * expires_at may be NULL; *user_id gets the owner (free with duro_free), or
 * NULL when the session has none. A rolling session's expiry moves. Returns
 * DURO_OK, or DURO_NOT_FOUND for an unknown, expired or malformed id. */
DURO_API duro_status duro_session_get(duro *db, const char *ns, const char *id, char **data_json,
                                      size_t *len, char **user_id, int64_t *expires_at);

/* Replaces session id's data with data_json[0..len) (a JSON object; no
 * merge). ttl_ms > 0 sets the expiry to now + ttl_ms (and makes it the
 * session's ttl); 0 keeps it (a rolling session rolls). *expires_at (if not
 * NULL) gets the new expiry. Returns DURO_OK, or DURO_NOT_FOUND as
 * duro_session_get, DURO_BAD_REQUEST and DURO_PAYLOAD_TOO_LARGE as
 * duro_session_create. */
DURO_API duro_status duro_session_put(duro *db, const char *ns, const char *id,
                                      const char *data_json, size_t len, int64_t ttl_ms,
                                      int64_t *expires_at);

/* Deletes session id (logout); *deleted (if not NULL) is 1 if a live session
 * went away. Returns DURO_OK, for an unknown or malformed id too. */
DURO_API duro_status duro_session_delete(duro *db, const char *ns, const char *id, int *deleted);

/* Lists user_id's live sessions: *json gets
 * {"sessions":[{"createdAt":..,"expiresAt":..,"rolling":bool}],"count":n} as
 * JSON text (ids are not stored, so not listed; free with duro_free). Returns
 * DURO_OK (count 0 for an unknown user), or DURO_BAD_REQUEST for an invalid
 * user_id. */
DURO_API duro_status duro_session_list_user(duro *db, const char *ns, const char *user_id,
                                            char **json, size_t *len);

/* Deletes every session of user_id except except_id's (NULL: none kept) —
 * e.g. after a password change. *deleted (if not NULL) counts the live
 * sessions that went away. Returns DURO_OK, or DURO_BAD_REQUEST for an invalid
 * user_id or an except_id that is no well-formed id. */
DURO_API duro_status duro_session_revoke_user(duro *db, const char *ns, const char *user_id,
                                              const char *except_id, int64_t *deleted);

/* ---- users and password login (docs/auth.md) ---- */

/* A namespace's users: an email (normalised: surrounding whitespace trimmed,
 * ASCII letters lower-cased; one '@', no spaces or control bytes, 3..254
 * bytes), a user id (32 hex characters) and the Argon2id hash of a password
 * (8..1024 bytes). A login is a rolling session (the sessions above) owned by
 * the user id. The calls that take a password hash or verify it on the
 * runtime's worker threads, so they take about 0.1 s each (the server's
 * --pwhash-min, or pwhash=min in a file:// URL, makes that fast for tests
 * only). libduro keeps no copy of a password once a call returns: the request
 * buffers that held one are wiped. */

/* Registers a user with email and password. *user_id (if not NULL) gets the
 * new user's id (free with duro_free). Returns DURO_OK, or DURO_CONFLICT if a
 * user of ns has this email, DURO_BAD_REQUEST for a malformed email or a
 * password out of range. */
DURO_API duro_status duro_auth_register(duro *db, const char *ns, const char *email,
                                        const char *password, char **user_id);

/* Logs in: checks password against email's user and creates a rolling
 * session of ttl_ms (1000..315360000000; 0: 24 hours) for it. *session_id gets
 * the session's id (43 characters of base64url, free with duro_free; it is
 * returned only here), *user_id (if not NULL) the user's id (free with
 * duro_free), *expires_at (if not NULL) the expiry, ms since the epoch.
 * Returns DURO_OK, or DURO_UNAUTHORIZED ("invalid email or password") for a
 * wrong password and an unknown email alike, DURO_RATE_LIMITED when the email
 * (5) or the client (20) had too many failed logins in the last 15 minutes —
 * even for the right password; the client is the TCP peer, and every
 * embedded handle is one client —, DURO_BAD_REQUEST for a malformed email, a
 * password or ttl_ms out of range. */
DURO_API duro_status duro_auth_login(duro *db, const char *ns, const char *email,
                                     const char *password, int64_t ttl_ms, char **session_id,
                                     char **user_id, int64_t *expires_at);

/* Checks the login session session_id (its expiry moves to now + its ttl).
 * *user_id (if not NULL) gets its user (free with duro_free; NULL for a
 * session made by duro_session_create without one), *expires_at (if not
 * NULL) its new expiry. Returns DURO_OK, or DURO_UNAUTHORIZED ("no such
 * session") for an unknown, expired or malformed id. */
DURO_API duro_status duro_auth_session(duro *db, const char *ns, const char *session_id,
                                       char **user_id, int64_t *expires_at);

/* Logs out: deletes session session_id, as duro_session_delete; *deleted (if
 * not NULL) is 1 if a live session went away. Returns DURO_OK, for an unknown
 * or malformed id too. */
DURO_API duro_status duro_auth_logout(duro *db, const char *ns, const char *session_id,
                                      int *deleted);

/* Changes the password of session_id's user from current to new_password,
 * keeps that session and deletes the user's other sessions; *revoked (if not
 * NULL) counts the live ones that went away. Returns DURO_OK, or
 * DURO_UNAUTHORIZED for an unknown, expired or malformed session id or a
 * wrong current password (nothing changes), DURO_FORBIDDEN if the session
 * belongs to no user, DURO_NOT_FOUND if its user is not a registered one,
 * DURO_BAD_REQUEST for a password out of range. */
DURO_API duro_status duro_auth_password(duro *db, const char *ns, const char *session_id,
                                        const char *current, const char *new_password,
                                        int64_t *revoked);

/* ---- the namespace snapshot (docs/snapshot.md) ---- */

/* Reads the whole namespace ns as one document: *json gets its live keys as a
 * JSON object {key: value, ...} (compact text, NUL-terminated, *len without
 * the NUL; free with duro_free) and *etag (if not NULL) the namespace's ETag:
 * its write counter, or 0 while it has no live key. Returns DURO_OK, or
 * DURO_PAYLOAD_TOO_LARGE past the server's --max-snapshot-bytes (embedded:
 * 16 MiB). */
DURO_API duro_status duro_snapshot_get(duro *db, const char *ns, char **json, size_t *len,
                                       int64_t *etag);

/* Applies ops_json[0..len), a JSON array [{"op":"set","key":..,"value":..,
 * "ttlMs"?:..,"metadata"?:..} | {"op":"del","key":..}] (≤ 1000 ops), to ns in
 * one transaction: all or nothing. if_match ≥ 0 requires the namespace's
 * current ETag to be if_match (0: the namespace is empty); -1: no condition.
 * *etag (if not NULL) gets the new ETag, *created (if not NULL) 1 when the
 * namespace was empty before and is not now. Returns DURO_OK, or
 * DURO_PRECONDITION_FAILED if the ETag is not if_match (nothing is applied),
 * DURO_BAD_REQUEST for a malformed op, more than 1000 ops or if_match below
 * -1, DURO_PAYLOAD_TOO_LARGE for a value over --max-value-bytes. */
DURO_API duro_status duro_snapshot_patch(duro *db, const char *ns, const char *ops_json,
                                         size_t len, int64_t if_match, int64_t *etag,
                                         int *created);

/* ---- the resource registry ---- */

/* Every resource of every namespace is indexed: KV keys (type "kv") are
 * tracked automatically, other types ("do", "d1", "r2", ... 1..64 bytes of
 * [A-Za-z0-9._-]) are registered by hand. A resource is reported as the JSON
 * object {"type","namespace","key","created_at","updated_at","size",
 * "metadata"} with times as ISO-8601 UTC strings ("2025-10-25T10:30:00Z") and
 * metadata an object or null. A list or stats call sees every write
 * acknowledged before it was made. */

/* Filters and paging of duro_resources_list. NULL strings and -1 numbers are
 * unset: start from DURO_RESOURCE_LIST_OPTS_INIT (a zeroed struct asks for a
 * page of 0 resources, which still counts them in "total"). */
typedef struct duro_resource_list_opts {
    const char *type;       /* only this type */
    const char *ns;         /* only this namespace (NULL: every namespace) */
    const char *key_prefix; /* only keys that begin with it */
    int64_t limit;          /* 0..1000 per page; -1: 100 */
    int64_t offset;         /* 0..1000000000 resources skipped; -1: 0 */
} duro_resource_list_opts;

#define DURO_RESOURCE_LIST_OPTS_INIT {NULL, NULL, NULL, -1, -1}

/* One page of resources in (namespace, type, key) order: *json gets
 * {"resources":[resource...],"total":n,"offset":n,"limit":n,"has_more":bool}
 * (free with duro_free); total counts every match. opts NULL: all unset.
 * Returns DURO_OK, or DURO_BAD_REQUEST for a limit or offset out of range or
 * an invalid type or namespace filter. */
DURO_API duro_status duro_resources_list(duro *db, const duro_resource_list_opts *opts,
                                         char **json, size_t *len);

/* Counts: *json gets {"total":n,"by_type":{type: n},"by_namespace":{ns: n},
 * "total_size":bytes} over every namespace (free with duro_free). Returns
 * DURO_OK. */
DURO_API duro_status duro_resources_stats(duro *db, char **json, size_t *len);

/* Registers (or updates: size and metadata are replaced, created_at is kept)
 * the resource (type, key) in namespace ns. size is its size in bytes
 * (0..2^53-1; -1: not given, stored as 0); metadata_json a JSON object text
 * (≤ 16 KiB) or NULL. Type "kv" is DURO_BAD_REQUEST: KV keys are tracked
 * automatically. json and created may be NULL; *json gets the resource record
 * (free with duro_free), *created 1 when the resource was new (the binary
 * protocol's status CREATED, HTTP 201). Returns DURO_OK (new or replaced), or
 * DURO_BAD_REQUEST for type "kv", an invalid type or key, a size out of range,
 * or metadata that is no JSON object or is over 16 KiB. */
DURO_API duro_status duro_resources_register(duro *db, const char *ns, const char *type,
                                             const char *key, int64_t size,
                                             const char *metadata_json, char **json, size_t *len,
                                             int *created);

/* Removes the registration of (type, key) in ns; *deleted (if not NULL) is 1
 * if there was one. Returns DURO_OK either way, or DURO_BAD_REQUEST for type
 * "kv" or an invalid type or key. */
DURO_API duro_status duro_resources_unregister(duro *db, const char *ns, const char *type,
                                               const char *key, int *deleted);

/* ---- namespaces and the server ---- */

/* A namespace is reported as the JSON object {"namespace","keys","bytes",
 * "tables","blobs","last_write","last_write_ms"}: its live KV keys, the bytes
 * of its file and -wal, its last write (ISO-8601 UTC and ms since the epoch);
 * tables and blobs are 0 for now (docs/namespaces.md). */

/* Filters and paging of duro_namespaces_list. NULL strings and -1 are unset:
 * start from DURO_NAMESPACE_LIST_OPTS_INIT. */
typedef struct duro_namespace_list_opts {
    const char *prefix; /* only names that begin with it */
    const char *after;  /* the page starts after this name (the previous page's "next") */
    int64_t limit;      /* 0..1000 per page; -1: 100 */
} duro_namespace_list_opts;

#define DURO_NAMESPACE_LIST_OPTS_INIT {NULL, NULL, -1}

/* One page of namespaces in name order: *json gets
 * {"namespaces":[namespace...],"total":n,"limit":n,"has_more":bool,
 * "next":name|null} (free with duro_free); total counts every name matching
 * the prefix. opts NULL: all unset. Returns DURO_OK, DURO_BAD_REQUEST for a
 * limit out of range or a prefix or cursor that is no namespace name, or
 * DURO_FORBIDDEN for a token that does not cover every namespace. */
DURO_API duro_status duro_namespaces_list(duro *db, const duro_namespace_list_opts *opts,
                                          char **json, size_t *len);

/* The namespace ns as *json (free with duro_free). Returns DURO_OK,
 * DURO_NOT_FOUND if it has no file, DURO_BAD_REQUEST for an invalid name. */
DURO_API duro_status duro_namespaces_get(duro *db, const char *ns, char **json, size_t *len);

/* Deletes namespace ns: its files and its registry rows, durably; returns
 * once done. Later writes start a fresh namespace. Returns DURO_OK,
 * DURO_NOT_FOUND if it has no file, DURO_FORBIDDEN / DURO_UNAUTHORIZED without
 * the admin token (when the server has access control). */
DURO_API duro_status duro_namespaces_delete(duro *db, const char *ns);

/* The server's figures as *json (free with duro_free): {"version",
 * "started_at","uptime_ms","sync","actors","namespaces_open",
 * "namespaces_total","cache_bytes","cache_hits","cache_misses",
 * "cache_hit_rate","commits","data_bytes","disk_free_bytes",
 * "disk_total_bytes"} (docs/namespaces.md). */
DURO_API duro_status duro_server_info(duro *db, char **json, size_t *len);

/* ---- blobs (docs/blobs.md) ---- */

/* Blobs are objects of bytes under a key (1..1024 bytes of UTF-8 without
 * NUL), one set per namespace, up to the server's --max-blob-bytes (64 MiB by
 * default). A write replaces the whole object at once: a reader sees the old
 * object or the new one, never a mix. The ETag of an object is the SHA-256 of
 * its bytes in hex; conditions (if_match, if_none_match) take an ETag, "*" or
 * a comma-separated list, quoted or not, as HTTP's If-Match does. */

/* An object's fields. content_type and metadata_json are malloc'd (free with
 * duro_blob_info_free); the rest are values. */
typedef struct duro_blob_info {
    int64_t size;        /* bytes */
    char etag[65];       /* SHA-256 of the bytes, 64 hex digits */
    char md5[33];        /* MD5 of the bytes, 32 hex digits */
    char *content_type;  /* "application/octet-stream" when the write gave none */
    char *metadata_json; /* a JSON object text, or NULL when it has none ({}) */
    int64_t updated_at;  /* the last write, ms since the epoch */
    int64_t version;     /* the namespace's write counter at that write */
} duro_blob_info;

/* Frees what info holds and zeroes it. NULL is a no-op. */
DURO_API void duro_blob_info_free(duro_blob_info *info);

/* Options of a blob write; zero-initialize (NULL strings are unset). */
typedef struct duro_blob_put_opts {
    const char *content_type;  /* 1..256 bytes of printable ASCII; NULL: application/octet-stream */
    const char *metadata_json; /* a JSON object text (<= 8 KiB as JSON), or NULL */
    const char *if_match;      /* write only if the object's ETag matches (or "*": it exists) */
    const char *if_none_match; /* "*": only if the key is free; an ETag: unless it matches */
} duro_blob_put_opts;

/* Stores data[0..len) as the object ns/key (opts NULL: none). Data of up to
 * 4 MiB goes in one request (blob.put); larger data in parts of 4 MiB, as
 * duro_blob_put_stream sends them. info (if not NULL) gets the new object's
 * fields (free with duro_blob_info_free), *created (if not NULL) 1 when the
 * key was new. Returns DURO_OK, or DURO_PRECONDITION_FAILED if a condition
 * does not hold (nothing is written), DURO_BAD_REQUEST for an invalid key,
 * content type or metadata, DURO_PAYLOAD_TOO_LARGE over --max-blob-bytes,
 * DURO_INSUFFICIENT_STORAGE when the disk is full. */
DURO_API duro_status duro_blob_put(duro *db, const char *ns, const char *key, const void *data,
                                   size_t len, const duro_blob_put_opts *opts, duro_blob_info *info,
                                   int *created);

/* Stores the bytes that read() gives as the object ns/key, without holding
 * them all: read(ctx, buf, cap, &got) fills buf[0..cap) with up to cap bytes,
 * sets *got (0 at the end) and returns 0, or non-zero to give up. The bytes
 * go in parts of 4 MiB (the server's blob.append; one part that holds
 * everything is sent as blob.put), so memory stays at one part whatever the
 * size. The conditions, content type and metadata of opts apply when the
 * last part lands, and the object appears then, all at once. info and created
 * as duro_blob_put. Returns what duro_blob_put does, and DURO_IO with "the
 * read callback failed" if read() returned non-zero (nothing is written; the
 * server drops the unfinished upload after 10 idle minutes). */
DURO_API duro_status duro_blob_put_stream(duro *db, const char *ns, const char *key,
                                          int (*read)(void *ctx, void *buf, size_t cap,
                                                      size_t *got),
                                          void *ctx, const duro_blob_put_opts *opts,
                                          duro_blob_info *info, int *created);

/* Reads the whole object ns/key: *data gets its bytes (malloc'd, free with
 * duro_free; never NULL on success, even for an empty object), *len their
 * count, info (if not NULL) its fields. Returns DURO_OK, or DURO_NOT_FOUND,
 * DURO_PAYLOAD_TOO_LARGE if the object does not fit in one reply
 * (--max-reply-bytes, 16 MiB: use duro_blob_get_stream or
 * duro_blob_get_range). */
DURO_API duro_status duro_blob_get(duro *db, const char *ns, const char *key, void **data,
                                   size_t *len, duro_blob_info *info);

/* Reads up to length bytes of ns/key from offset (fewer at the end of the
 * object; UINT64_MAX: to the end), only if its ETag matches if_match_etag
 * (NULL: any). *data, *len and info as duro_blob_get. Returns DURO_OK, or
 * DURO_NOT_FOUND, DURO_PRECONDITION_FAILED if the ETag does not match,
 * DURO_RANGE_NOT_SATISFIABLE if offset is past the end, DURO_PAYLOAD_TOO_LARGE
 * if the piece does not fit in one reply. */
DURO_API duro_status duro_blob_get_range(duro *db, const char *ns, const char *key, uint64_t offset,
                                         uint64_t length, const char *if_match_etag, void **data,
                                         size_t *len, duro_blob_info *info);

/* Reads the object ns/key in pieces of 4 MiB and hands each to
 * write(ctx, p, n), which returns 0 to go on or non-zero to stop. Every piece
 * after the first is asked for with the first one's ETag as its condition, so
 * the bytes written are all of one version. info (if not NULL) gets the
 * object's fields. Returns DURO_OK once every byte was written, or
 * DURO_NOT_FOUND, DURO_PRECONDITION_FAILED ("the object changed while it was
 * read") if it was replaced or deleted after the first piece (what was
 * written so far is of the old version: discard it), DURO_IO with "the write
 * callback failed" if write() returned non-zero. */
DURO_API duro_status duro_blob_get_stream(duro *db, const char *ns, const char *key,
                                          int (*write)(void *ctx, const void *p, size_t n),
                                          void *ctx, duro_blob_info *info);

/* The fields of ns/key into *info (free with duro_blob_info_free), without
 * its bytes. Returns DURO_OK, or DURO_NOT_FOUND. */
DURO_API duro_status duro_blob_head(duro *db, const char *ns, const char *key,
                                    duro_blob_info *info);

/* Deletes ns/key, only if its ETag matches if_match (NULL: in any case);
 * *deleted (if not NULL) is 1 if an object went away. Returns DURO_OK, for a
 * missing key too, or DURO_PRECONDITION_FAILED if if_match does not match
 * (nothing is deleted). */
DURO_API duro_status duro_blob_delete(duro *db, const char *ns, const char *key,
                                      const char *if_match, int *deleted);

/* Filters and paging of duro_blob_list; zero-initialize (NULL and 0 are
 * unset). */
typedef struct duro_blob_list_opts {
    const char *prefix;      /* only keys that begin with it */
    const char *delimiter;   /* roll keys up to the first delimiter after the prefix */
    int limit;               /* 1..1000 objects and prefixes per page; 0: 1000 */
    const char *cursor;      /* the previous page's "cursor" */
    const char *start_after; /* the page starts after this key (a cursor wins) */
} duro_blob_list_opts;

/* One page of ns's objects in key order: *json gets
 * {"objects":[{"key","size","etag","contentType","uploaded","metadata"}...],
 * "truncated":bool,"cursor":str|null,"delimitedPrefixes":[str...]} (free with
 * duro_free); when truncated, pass cursor back for the next page. opts NULL:
 * all unset. Returns DURO_OK, or DURO_BAD_REQUEST for a limit out of range,
 * a prefix, delimiter or start_after that is no valid key text, or a
 * malformed cursor. */
DURO_API duro_status duro_blob_list(duro *db, const char *ns, const duro_blob_list_opts *opts,
                                    char **json, size_t *len);

/* ---- msgpack values ---- */

/* As duro_put_ex / duro_get, with the value as one msgpack object (and their
 * errors; DURO_BAD_REQUEST also if mp[0..len) is not exactly one well-formed
 * msgpack object of the JSON types plus bin). A bin is bytes and comes back as
 * bin; the JSON calls (duro_get ...) show bytes as {"$bytes": "<base64>"}, and
 * a JSON value of exactly that shape is stored as bytes (docs/kv.md). */
DURO_API duro_status duro_put_mp(duro *db, const char *ns, const char *key, const void *mp,
                                 size_t len, const duro_put_opts *opts, int64_t *version);
DURO_API duro_status duro_get_mp(duro *db, const char *ns, const char *key, void **mp,
                                 size_t *len);

/* ---- any op, and many in flight ---- */

/* Runs one protocol op (docs/protocol.md) with args as one msgpack map (NULL:
 * {}). *body gets the reply body as msgpack (the data, or the error map
 * {code, message}) and *status the HTTP-like status of the outcome (200, 201
 * when the op created its target, 404, ...). Returns the op's duro_status:
 * DURO_OK (also when it created its target; never DURO_CREATED), or whatever
 * the op answered (DURO_BAD_REQUEST for an unknown op or args that are no
 * msgpack map, DURO_NOT_FOUND, ...). */
DURO_API duro_status duro_call(duro *db, const char *op, const char *ns, const void *args,
                               size_t args_len, int *status, void **body, size_t *body_len);

/* Pipelining: duro_send queues a request and returns its id at once (it may
 * block only to write to the socket); duro_recv waits for the next finished
 * reply (any order) and returns its id. Up to 4096 requests may be in flight
 * per handle; replies not yet taken by duro_recv are kept. Do not mix with
 * blocking calls from other threads on the same handle while replies are
 * outstanding. duro_send fails only locally (DURO_UNAVAILABLE when 4096 are in
 * flight or the server cannot be reached, DURO_IO if the connection broke while
 * writing); errors of the op itself come back through duro_recv, whose return
 * value is the op's duro_status (with *id set), DURO_IO for requests lost with a
 * broken connection, DURO_UNAVAILABLE (*id = 0) if nothing finished within
 * timeout_ms, DURO_BAD_REQUEST (*id = 0) if nothing is in flight. */
DURO_API duro_status duro_send(duro *db, const char *op, const char *ns, const void *args,
                               size_t args_len, uint64_t *id);
DURO_API duro_status duro_recv(duro *db, uint64_t *id, int *status, void **body,
                               size_t *body_len);

#ifdef __cplusplus
}
#endif

#endif
