/*
 * session.h — the session object: requests as the runtime receives them.
 *
 * A session is a JSON object (`data`) with an expiry, optionally tied to a
 * user id, addressed by an id of 256 random bits (libsodium randombytes_buf)
 * written as base64url without padding (43 characters). The server never
 * stores an id: only BLAKE2b-256 (crypto_generichash, unkeyed) of its 32 raw
 * bytes, so a copy of the data directory gives no usable session id. An id of
 * 256 random bits needs no salt or slow hash: nothing can be guessed from the
 * digest.
 *
 * A transport validates the wire request (objects/session_req.h), turns
 * the id into its hash and sends a duro_session_req as msg->req with
 * msg->kind = DURO_KIND_SESSION and msg->op = enum duro_session_op.
 *
 * Replies (msg->body, a tape — see common/codec.h) by op:
 *   CREATE       {id, expiresAt}
 *   GET          {data, userId | nil, createdAt, expiresAt, rolling}
 *                (a rolling session's expiry is first moved to now + its ttl)
 *   PUT          {expiresAt}
 *   DELETE       {deleted: bool}
 *   LIST_USER    {sessions: [{createdAt, expiresAt, rolling}], count}
 *                (live sessions of the user, oldest first; never ids; count is
 *                all of them, the list as many as fit in the reply cap: fewer
 *                than count when it was cut)
 *   REVOKE_USER  {deleted: n}
 * GET and PUT of an unknown, expired or malformed id fail with DURO_NOT_FOUND
 * ("session not found"); DELETE of one replies {deleted: false}: a malformed
 * id reads exactly like an unknown one.
 */
#ifndef DURO_SESSION_H
#define DURO_SESSION_H

#include <stddef.h>
#include <stdint.h>

enum duro_session_op {
    DURO_SESSION_CREATE = 0,
    DURO_SESSION_GET,
    DURO_SESSION_PUT,
    DURO_SESSION_DELETE,
    DURO_SESSION_LIST_USER,
    DURO_SESSION_REVOKE_USER,
    DURO_SESSION_OP_COUNT
};

#define DURO_SESSION_ID_BYTES 32   /* random bytes of an id */
#define DURO_SESSION_ID_LEN 43     /* its base64url text, no padding */
#define DURO_SESSION_HASH_BYTES 32 /* what is stored: BLAKE2b-256 of the raw bytes */
#define DURO_SESSION_DATA_MAX 65536 /* data as compact JSON text, bytes */
#define DURO_SESSION_USER_MAX 256   /* userId, bytes of UTF-8 */
#define DURO_SESSION_TTL_MAX 315360000000LL /* ten years in ms */

typedef struct duro_session_req {
    /* GET, PUT, DELETE: the hash of the id; id_ok = 0 if the id was malformed
     * (the op then behaves as for an unknown id) */
    unsigned char id_hash[DURO_SESSION_HASH_BYTES];
    int id_ok;
    /* CREATE (optional), LIST_USER, REVOKE_USER: 1..256 bytes of UTF-8, no NUL */
    char *user_id;
    size_t user_id_len;
    /* CREATE, PUT: compact JSON text of an object, <= DURO_SESSION_DATA_MAX */
    char *data;
    size_t data_len;
    int64_t ttl_ms; /* CREATE: 1..DURO_SESSION_TTL_MAX; PUT: same, or 0 = keep */
    int rolling;    /* CREATE */
    /* REVOKE_USER: a session to keep, by hash, if has_except (a malformed
     * exceptId is rejected by the transport with DURO_BAD_REQUEST) */
    unsigned char except_hash[DURO_SESSION_HASH_BYTES];
    int has_except;
} duro_session_req;

/* Frees everything a request owns, and the request. NULL is a no-op. */
void duro_session_req_free(duro_session_req *r);

/* 1 for ops that run inside the namespace's transaction. All but LIST_USER:
 * GET is one too, because a rolling session's GET moves its expiry and which
 * sessions roll is only known after reading the row. */
int duro_session_op_writes(int op);

/* Checks that id[0..len) is exactly DURO_SESSION_ID_LEN characters of canonical
 * base64url (no padding) and writes the stored hash of its raw bytes to hash.
 * 0, or -1 if malformed (hash is then zeroed). */
int duro_session_id_hash(const char *id, size_t len,
                         unsigned char hash[DURO_SESSION_HASH_BYTES]);

#endif
