/*
 * access.c — server access control (see access.h and docs/access.md).
 *
 * DESIGN
 *   The handle is immutable once built, so checks take no lock. It keeps no
 *   secret in the clear: the admin token as a BLAKE2b digest keyed with a
 *   random per-process key (so equal-length and equal-prefix guesses take the
 *   same time, and the digest is useless outside this process), the JWT secret
 *   as an HMAC-SHA256 state already keyed (copied per check, then finished).
 *
 *   A JWT is checked in an order that spends little on garbage and nothing on
 *   unsigned claims: split into exactly three parts; decode the header into a
 *   bounded buffer, bound its nesting, parse it (duplicate keys rejected) and
 *   require alg HS256; verify the signature in constant time; only then decode
 *   and parse the payload and judge its claims. Every malformation is 401; 403
 *   is reserved for a token that is valid but does not cover the request.
 *
 *   JSON nesting is bounded before jansson sees the text: its parser recurses
 *   once per level, and these checks run on I/O threads.
 */
#include "transport/access.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DIGEST_LEN crypto_generichash_BYTES /* 32 */
#define MAX_JSON_DEPTH 8

struct duro_access {
    int has_token;
    int has_secret;
    int leeway_s;
    unsigned char token_key[crypto_generichash_KEYBYTES];
    unsigned char token_digest[DIGEST_LEN];
    crypto_auth_hmacsha256_state hmac; /* keyed with the JWT secret */
};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static int fail(char *err, size_t errlen, int rc, const char *msg)
{
    set_err(err, errlen, msg);
    return rc;
}

static void token_digest(const duro_access *a, const char *tok, size_t len,
                         unsigned char out[DIGEST_LEN])
{
    crypto_generichash(out, DIGEST_LEN, (const unsigned char *)tok, len, a->token_key,
                       sizeof a->token_key);
}

int duro_access_new(const char *admin_token, const char *jwt_secret, int leeway_s,
                    duro_access **out, char *err, size_t errlen)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fail(err, errlen, DURO_INTERNAL, "libsodium failed to initialise");
    size_t tlen = admin_token ? strlen(admin_token) : 0;
    size_t slen = jwt_secret ? strlen(jwt_secret) : 0;
    if (tlen > DURO_ACCESS_MAX_TOKEN)
        return fail(err, errlen, DURO_BAD_REQUEST, "auth token: longer than 4096 bytes");
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)admin_token[i] < 0x21 || (unsigned char)admin_token[i] > 0x7e)
            return fail(err, errlen, DURO_BAD_REQUEST,
                        "auth token: only visible ASCII characters, no spaces");
    if (slen && slen < DURO_ACCESS_MIN_SECRET)
        return fail(err, errlen, DURO_BAD_REQUEST, "jwt secret: shorter than 32 bytes");
    if (leeway_s < 0 || leeway_s > DURO_ACCESS_MAX_LEEWAY)
        return fail(err, errlen, DURO_BAD_REQUEST, "jwt leeway: not within 0..3600 seconds");

    duro_access *a = calloc(1, sizeof *a);
    if (!a)
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    a->leeway_s = leeway_s;
    if (tlen) {
        a->has_token = 1;
        randombytes_buf(a->token_key, sizeof a->token_key);
        token_digest(a, admin_token, tlen, a->token_digest);
    }
    if (slen) {
        a->has_secret = 1;
        crypto_auth_hmacsha256_init(&a->hmac, (const unsigned char *)jwt_secret, slen);
    }
    *out = a;
    return DURO_OK;
}

void duro_access_free(duro_access *a)
{
    if (!a)
        return;
    sodium_memzero(a, sizeof *a);
    free(a);
}

int duro_access_enabled(const duro_access *a)
{
    assert(a);
    return a->has_token || a->has_secret;
}

/* Finds the credentials of a "Bearer" Authorization value: [*cred, +*len).
 * 0, or -1 if it is not one. */
static int bearer(const char *authorization, const char **cred, size_t *len)
{
    size_t n = strnlen(authorization, DURO_ACCESS_MAX_AUTH + 1);
    if (n > DURO_ACCESS_MAX_AUTH)
        return -1;
    if (n < 7 || strncasecmp(authorization, "Bearer", 6) != 0 || authorization[6] != ' ')
        return -1;
    const char *p = authorization + 7, *end = authorization + n;
    while (p < end && *p == ' ')
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p == end)
        return -1;
    *cred = p;
    *len = (size_t)(end - p);
    return 0;
}

static int is_admin_cred(const duro_access *a, const char *cred, size_t len)
{
    if (!a->has_token)
        return 0;
    unsigned char d[DIGEST_LEN];
    token_digest(a, cred, len, d);
    return sodium_memcmp(d, a->token_digest, DIGEST_LEN) == 0;
}

int duro_access_is_admin(const duro_access *a, const char *authorization)
{
    assert(a);
    const char *cred;
    size_t len;
    if (!a->has_token || !authorization || bearer(authorization, &cred, &len) != 0)
        return 0;
    return is_admin_cred(a, cred, len);
}

/* ---- JWT ---------------------------------------------------------------- */

/* Decodes base64url without padding from [s, s+len) into buf (at most cap
 * bytes). The decoded length, or -1 if it is not canonical base64url or does
 * not fit. */
static long b64url(const char *s, size_t len, unsigned char *buf, size_t cap)
{
    size_t bin_len;
    if (len == 0 || len > (cap / 3 + 1) * 4)
        return -1;
    if (sodium_base642bin(buf, cap, s, len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)bin_len;
}

/* 0 if the JSON text nests at most MAX_JSON_DEPTH levels (a bound checked
 * before parsing; the parser judges the rest), else -1. */
static int depth_ok(const unsigned char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_JSON_DEPTH)
                return -1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

/* Decodes and parses one JSON object part of a JWT. NULL if any step fails. */
static json_t *json_part(const char *s, size_t len, unsigned char *buf, size_t cap)
{
    long n = b64url(s, len, buf, cap);
    if (n <= 0 || depth_ok(buf, (size_t)n) != 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int check_header(const char *s, size_t len, char *err, size_t errlen)
{
    unsigned char buf[DURO_ACCESS_MAX_JWT_HEADER];
    json_t *h = json_part(s, len, buf, sizeof buf);
    if (!h)
        return fail(err, errlen, DURO_UNAUTHORIZED, "malformed token header");
    const json_t *alg = json_object_get(h, "alg");
    const json_t *typ = json_object_get(h, "typ");
    int rc = DURO_OK;
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        rc = fail(err, errlen, DURO_UNAUTHORIZED, "token alg must be HS256");
    else if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        rc = fail(err, errlen, DURO_UNAUTHORIZED, "token typ must be JWT");
    else if (json_object_get(h, "crit"))
        rc = fail(err, errlen, DURO_UNAUTHORIZED, "token has unsupported crit header");
    json_decref(h);
    return rc;
}

static int check_signature(const duro_access *a, const char *signed_part, size_t signed_len,
                           const char *sig, size_t sig_len, char *err, size_t errlen)
{
    unsigned char got[crypto_auth_hmacsha256_BYTES + 3];
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    long n = b64url(sig, sig_len, got, sizeof got);
    if (n != crypto_auth_hmacsha256_BYTES)
        return fail(err, errlen, DURO_UNAUTHORIZED, "bad token signature");
    crypto_auth_hmacsha256_state st = a->hmac;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_part, signed_len);
    crypto_auth_hmacsha256_final(&st, want);
    sodium_memzero(&st, sizeof st);
    int same = sodium_memcmp(got, want, sizeof want) == 0;
    sodium_memzero(want, sizeof want);
    return same ? DURO_OK : fail(err, errlen, DURO_UNAUTHORIZED, "bad token signature");
}

/* Does the "ns" claim (a string or an array of strings, "*" for all) cover
 * [ns, +ns_len)? The claim's type was checked already. */
static int ns_covers(const json_t *claim, const char *ns, size_t ns_len)
{
    if (json_is_string(claim)) {
        size_t n = json_string_length(claim);
        const char *v = json_string_value(claim);
        return (n == 1 && v[0] == '*') || (n == ns_len && memcmp(v, ns, n) == 0);
    }
    size_t i;
    const json_t *v;
    json_array_foreach(claim, i, v)
        if (ns_covers(v, ns, ns_len))
            return 1;
    return 0;
}

static int ns_claim_ok(const json_t *claim)
{
    if (json_is_string(claim))
        return 1;
    if (!json_is_array(claim))
        return 0;
    size_t i;
    const json_t *v;
    json_array_foreach(claim, i, v)
        if (!json_is_string(v))
            return 0;
    return 1;
}

static int check_claims(const duro_access *a, const json_t *p, const char *ns, size_t ns_len,
                        int write, int64_t now_s, char *err, size_t errlen)
{
    const json_t *exp = json_object_get(p, "exp");
    const json_t *nbf = json_object_get(p, "nbf");
    const json_t *nsc = json_object_get(p, "ns");
    const json_t *scope = json_object_get(p, "scope");
    double now = (double)now_s, leeway = a->leeway_s;

    /* Every 401 first: a malformed or stale token is refused whatever it asks. */
    if (exp && !json_is_number(exp))
        return fail(err, errlen, DURO_UNAUTHORIZED, "token exp must be a number");
    if (nbf && !json_is_number(nbf))
        return fail(err, errlen, DURO_UNAUTHORIZED, "token nbf must be a number");
    if (nsc && !ns_claim_ok(nsc))
        return fail(err, errlen, DURO_UNAUTHORIZED,
                    "token ns must be a string or an array of strings");
    int read_only = 0;
    if (scope) {
        const char *s = json_is_string(scope) ? json_string_value(scope) : "";
        if (!strcmp(s, "read"))
            read_only = 1;
        else if (strcmp(s, "write") != 0)
            return fail(err, errlen, DURO_UNAUTHORIZED, "token scope must be read or write");
    }
    if (exp && now > json_number_value(exp) + leeway)
        return fail(err, errlen, DURO_UNAUTHORIZED, "token expired");
    if (nbf && now + leeway < json_number_value(nbf))
        return fail(err, errlen, DURO_UNAUTHORIZED, "token not yet valid");

    if (!ns)
        return fail(err, errlen, DURO_FORBIDDEN, "admin token required");
    if (!nsc)
        return fail(err, errlen, DURO_FORBIDDEN, "token has no ns claim");
    if (!ns_covers(nsc, ns, ns_len))
        return fail(err, errlen, DURO_FORBIDDEN, "token does not cover this namespace");
    if (write && read_only)
        return fail(err, errlen, DURO_FORBIDDEN, "token is read-only");
    return DURO_OK;
}

static int check_jwt(const duro_access *a, const char *tok, size_t len, const char *ns,
                     size_t ns_len, int write, int64_t now_s, char *err, size_t errlen)
{
    const char *dot1 = memchr(tok, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(tok + len - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(tok + len - dot2 - 1)))
        return fail(err, errlen, DURO_UNAUTHORIZED, "malformed token");
    int rc = check_header(tok, (size_t)(dot1 - tok), err, errlen);
    if (rc != DURO_OK)
        return rc;
    rc = check_signature(a, tok, (size_t)(dot2 - tok), dot2 + 1, (size_t)(tok + len - dot2 - 1),
                         err, errlen);
    if (rc != DURO_OK)
        return rc;
    unsigned char buf[DURO_ACCESS_MAX_JWT_PAYLOAD];
    json_t *p = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof buf);
    if (!p)
        return fail(err, errlen, DURO_UNAUTHORIZED, "malformed token payload");
    rc = check_claims(a, p, ns, ns_len, write, now_s, err, errlen);
    json_decref(p);
    return rc;
}

int duro_access_check(const duro_access *a, const char *authorization, const char *ns,
                      size_t ns_len, int write, int64_t now_s, char *err, size_t errlen)
{
    assert(a);
    if (!a->has_token && !a->has_secret)
        return DURO_OK;
    if (!authorization || !*authorization)
        return fail(err, errlen, DURO_UNAUTHORIZED, "missing credentials");
    if (strnlen(authorization, DURO_ACCESS_MAX_AUTH + 1) > DURO_ACCESS_MAX_AUTH)
        return fail(err, errlen, DURO_UNAUTHORIZED, "credentials too long");
    const char *cred;
    size_t len;
    if (bearer(authorization, &cred, &len) != 0)
        return fail(err, errlen, DURO_UNAUTHORIZED, "expected Bearer credentials");
    if (is_admin_cred(a, cred, len))
        return DURO_OK;
    if (!a->has_secret || !memchr(cred, '.', len))
        return fail(err, errlen, DURO_UNAUTHORIZED, "unknown token");
    return check_jwt(a, cred, len, ns, ns_len, write, now_s, err, errlen);
}
