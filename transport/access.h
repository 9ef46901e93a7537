/*
 * access.h — server access control: the admin bearer token and HS256 JWTs.
 *
 * Both transports ask one question per request: may these credentials touch
 * this namespace, for reading or for writing? The answer is DURO_OK,
 * DURO_UNAUTHORIZED (401: who are you?) or DURO_FORBIDDEN (403: you may not).
 *
 *   - Nothing configured: everything is allowed (durod refuses a non-loopback
 *     --listen in that case unless --insecure; that is durod's business).
 *   - --auth-token: "Authorization: Bearer <token>" allows everything. The
 *     token is compared through keyed BLAKE2b digests with sodium_memcmp, so
 *     neither its bytes nor its length leak through timing; only the digest is
 *     kept in memory.
 *   - --jwt-secret: "Authorization: Bearer <jwt>", a compact JWS signed with
 *     HMAC-SHA256 whose claims say which namespaces ("ns") and what ("scope")
 *     it may touch; see docs/access.md for the exact rules.
 *
 * A duro_access is immutable after duro_access_new(): every function taking a
 * const duro_access * may be called from any number of threads at once.
 * Nothing here logs, and no error message ever contains a token or a secret.
 */
#ifndef DURO_ACCESS_H
#define DURO_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "duro/status.h"

/* Longest Authorization value (or binary-protocol token) looked at; longer
 * ones are refused with DURO_UNAUTHORIZED before any parsing. */
#define DURO_ACCESS_MAX_AUTH 8192
/* Bounds on the decoded JWT header and payload (JSON text). */
#define DURO_ACCESS_MAX_JWT_HEADER 1024
#define DURO_ACCESS_MAX_JWT_PAYLOAD 6144
/* Shortest accepted --jwt-secret (bytes): RFC 7518 §3.2 wants a key at least
 * as long as the hash output. */
#define DURO_ACCESS_MIN_SECRET 32
/* Longest accepted --auth-token (bytes). */
#define DURO_ACCESS_MAX_TOKEN 4096
/* Largest accepted leeway (seconds). */
#define DURO_ACCESS_MAX_LEEWAY 3600

/* Opaque access-control handle. */
typedef struct duro_access duro_access;

/* Creates the access-control handle from durod's settings.
 *
 * @param[in] admin_token  the admin bearer token, or NULL or "" when not
 *                         configured. 1..DURO_ACCESS_MAX_TOKEN bytes, each a
 *                         visible ASCII character (0x21..0x7e), since it must
 *                         travel in an HTTP header after "Bearer ".
 * @param[in] jwt_secret   the HS256 key (its raw bytes, not base64-decoded),
 *                         or NULL or "" when not configured; at least
 *                         DURO_ACCESS_MIN_SECRET bytes.
 * @param[in] leeway_s     clock skew allowed on "exp" and "nbf", in seconds
 *                         (0..DURO_ACCESS_MAX_LEEWAY; durod uses 30).
 * @param[out] out         the new handle; free it with duro_access_free().
 * @param[out] err         a message on failure (may be NULL); it names the
 *                         setting, never its value.
 * @param[in] errlen       size of err.
 * @return DURO_OK, DURO_BAD_REQUEST (a setting is unacceptable), DURO_NOMEM,
 *         or DURO_INTERNAL (libsodium failed to initialise).
 * @note Neither string is kept: the handle holds a digest of the token and a
 *       keyed HMAC state of the secret, and wipes them when freed. The caller
 *       may wipe its own copies as soon as this returns.
 */
int duro_access_new(const char *admin_token, const char *jwt_secret, int leeway_s,
                    duro_access **out, char *err, size_t errlen);

/* Frees a, wiping its key material. duro_access_free(NULL) is a no-op. */
void duro_access_free(duro_access *a);

/* Returns 1 if an admin token or a JWT secret is configured, else 0. */
int duro_access_enabled(const duro_access *a);

/* Decides whether a request may go ahead.
 *
 * @param[in] a              the handle (not NULL).
 * @param[in] authorization  the raw Authorization header value, or the
 *                           binary protocol's auth token in the same form
 *                           ("Bearer X"); NULL if there is none. NUL-terminated.
 *                           The scheme is case-insensitive; spaces after it and
 *                           trailing spaces/tabs are ignored.
 * @param[in] ns, ns_len     the namespace the request touches; ns NULL for a
 *                           request that touches none (e.g. /metrics), which
 *                           only the admin token may make.
 * @param[in] write          1 if the request writes, 0 if it only reads.
 * @param[in] now_s          the current time, seconds since the Unix epoch.
 * @param[out] err           a short reason on failure (may be NULL); never
 *                           contains the token or the secret.
 * @param[in] errlen         size of err.
 * @return DURO_OK: allowed (nothing configured, the admin token, or a JWT that
 *         covers the request).
 *         DURO_UNAUTHORIZED: no credentials, not "Bearer", longer than
 *         DURO_ACCESS_MAX_AUTH, an unknown token, or a JWT that is malformed,
 *         not HS256, badly signed, expired (now > exp + leeway), not yet valid
 *         (now + leeway < nbf), or has a claim of the wrong type or value.
 *         DURO_FORBIDDEN: a valid JWT whose "ns" claim is missing or does not
 *         cover ns (or ns is NULL), or whose "scope" is "read" and write is 1.
 */
int duro_access_check(const duro_access *a, const char *authorization, const char *ns,
                      size_t ns_len, int write, int64_t now_s, char *err, size_t errlen);

/* Returns 1 if authorization is "Bearer <the admin token>" (same parsing as
 * duro_access_check), 0 otherwise, including when no admin token is set.
 * Constant time in the token. */
int duro_access_is_admin(const duro_access *a, const char *authorization);

#endif
