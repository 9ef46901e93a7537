/*
 * tests/unit/transport/access.c — unit tests of transport/access.c: the admin token and HS256
 * JWTs. The JWTs are minted here with libsodium's HMAC-SHA256, independently of the code under
 * test.
 */
#include <sodium.h>

#include "test.h"
#include "transport/access.h"

#define SECRET "0123456789abcdef0123456789abcdef-test-secret"
#define OTHER_SECRET "fedcba9876543210fedcba9876543210-other-secret"
#define ADMIN "adm1n-T0ken_with.dots~"
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define NOW ((int64_t)1700000000)

enum { TOKCAP = 12000 };

static void b64(const void *bin, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Writes "Bearer <h>.<p>.<b64url(HMAC-SHA256(secret, "<h>.<p>"))>" into out,
 * h and p taken as they are; secret NULL leaves the signature empty. */
static const char *mint_raw(char *out, const char *secret, const char *h, const char *p)
{
    snprintf(out, TOKCAP, "Bearer %s.%s.", h, p);
    const char *signed_part = out + 7;
    size_t signed_len = strlen(signed_part) - 1;
    if (secret) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_part, signed_len);
        crypto_auth_hmacsha256_final(&st, mac);
        size_t n = strlen(out);
        b64(mac, sizeof mac, out + n, TOKCAP - n);
    }
    return out;
}

/* Writes "Bearer <b64url(header)>.<b64url(payload)>.<signature>" into out. */
static const char *mint(char *out, const char *secret, const char *header, const char *payload)
{
    char h[TOKCAP], p[TOKCAP];
    b64(header, strlen(header), h, sizeof h);
    b64(payload, strlen(payload), p, sizeof p);
    return mint_raw(out, secret, h, p);
}

static duro_access *make(const char *token, const char *secret)
{
    duro_access *a = NULL;
    char err[128];
    if (duro_access_new(token, secret, 30, &a, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "duro_access_new: %s\n", err);
        abort();
    }
    return a;
}

/* Checks the request against ns "app" (NULL: no namespace) and asserts that
 * the reason, if any, never shows the secret or the admin token. */
static int check_ns(const duro_access *a, const char *auth, const char *ns, int write, int64_t now)
{
    char err[128] = "";
    int rc = duro_access_check(a, auth, ns, ns ? strlen(ns) : 0, write, now, err, sizeof err);
    if (rc != DURO_OK && (!err[0] || strstr(err, SECRET) || strstr(err, ADMIN))) {
        fprintf(stderr, "  bad reason: \"%s\"\n", err);
        return -1;
    }
    return rc;
}

static int check(const duro_access *a, const char *auth, int write)
{
    return check_ns(a, auth, "app", write, NOW);
}

TEST(nothing_configured_allows_all)
{
    duro_access *a = make(NULL, NULL), *b = make("", "");
    ASSERT_EQ(duro_access_enabled(a), 0);
    ASSERT_EQ(duro_access_enabled(b), 0);
    ASSERT_EQ(check(a, NULL, 1), DURO_OK);
    ASSERT_EQ(check_ns(b, NULL, NULL, 1, NOW), DURO_OK);
    ASSERT_EQ(check(a, "Basic Zm9vOmJhcg==", 1), DURO_OK);
    ASSERT_EQ(duro_access_is_admin(a, "Bearer x"), 0);
    duro_access_free(a);
    duro_access_free(b);
    duro_access_free(NULL);
}

TEST(new_refuses_bad_settings)
{
    duro_access *a = (duro_access *)1;
    char err[128];
    ASSERT_EQ(duro_access_new(NULL, "short-secret", 30, &a, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT(a == NULL);
    ASSERT(strstr(err, "32"));
    ASSERT(!strstr(err, "short-secret"));
    char s31[32];
    memset(s31, 'k', 31);
    s31[31] = 0;
    ASSERT_EQ(duro_access_new(NULL, s31, 30, &a, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_access_new("has space", NULL, 30, &a, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT(!strstr(err, "has space"));
    ASSERT_EQ(duro_access_new("tab\there", NULL, 30, &a, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_access_new(ADMIN, SECRET, -1, &a, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_access_new(ADMIN, SECRET, 30, &a, NULL, 0), DURO_OK);
    ASSERT_EQ(duro_access_enabled(a), 1);
    duro_access_free(a);
    char s32[33];
    memset(s32, 'k', 32);
    s32[32] = 0;
    ASSERT_EQ(duro_access_new(NULL, s32, 0, &a, err, sizeof err), DURO_OK);
    ASSERT_EQ(duro_access_enabled(a), 1);
    duro_access_free(a);
}

TEST(admin_token)
{
    duro_access *a = make(ADMIN, NULL);
    ASSERT_EQ(duro_access_enabled(a), 1);
    ASSERT_EQ(check(a, "Bearer " ADMIN, 1), DURO_OK);
    ASSERT_EQ(check_ns(a, "Bearer " ADMIN, NULL, 1, NOW), DURO_OK);
    ASSERT_EQ(check(a, "bearer   " ADMIN " \t", 1), DURO_OK);
    ASSERT_EQ(check(a, "Bearer wrong", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, NULL, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer ", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer adm1n", 0), DURO_UNAUTHORIZED);              /* a prefix */
    ASSERT_EQ(check(a, "Bearer " ADMIN "x", 0), DURO_UNAUTHORIZED);         /* longer */
    ASSERT_EQ(check(a, "Bearer x" ADMIN, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer " ADMIN " " ADMIN, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, ADMIN, 0), DURO_UNAUTHORIZED);                       /* no scheme */
    ASSERT_EQ(check(a, "Basic " ADMIN, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "BearerX " ADMIN, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Token " ADMIN, 0), DURO_UNAUTHORIZED);
    /* Without a JWT secret a well-formed JWT is just an unknown token. */
    char tok[TOKCAP];
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, "{\"ns\":\"*\"}"), 0), DURO_UNAUTHORIZED);
    duro_access_free(a);
}

TEST(is_admin)
{
    duro_access *a = make(ADMIN, SECRET), *j = make(NULL, SECRET);
    char tok[TOKCAP];
    mint(tok, SECRET, HS256, "{\"ns\":\"*\"}");
    ASSERT_EQ(duro_access_is_admin(a, "Bearer " ADMIN), 1);
    ASSERT_EQ(duro_access_is_admin(a, "BEARER " ADMIN "  "), 1);
    ASSERT_EQ(duro_access_is_admin(a, "Bearer adm1n"), 0);
    ASSERT_EQ(duro_access_is_admin(a, "Basic " ADMIN), 0);
    ASSERT_EQ(duro_access_is_admin(a, NULL), 0);
    ASSERT_EQ(duro_access_is_admin(a, tok), 0);
    ASSERT_EQ(check(a, tok, 1), DURO_OK); /* both configured: JWTs work too */
    ASSERT_EQ(duro_access_is_admin(j, "Bearer " ADMIN), 0);
    ASSERT_EQ(duro_access_is_admin(j, tok), 0);
    duro_access_free(a);
    duro_access_free(j);
}

TEST(oversized_authorization)
{
    duro_access *a = make(ADMIN, SECRET);
    size_t n = 9 * 1024;
    char *big = malloc(n + 1);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', n - 7);
    big[n] = 0;
    ASSERT_EQ(check(a, big, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(duro_access_is_admin(a, big), 0);
    /* the admin token followed by 9 KiB of spaces is too long, not trimmed */
    memcpy(big + 7, ADMIN, strlen(ADMIN));
    memset(big + 7 + strlen(ADMIN), ' ', n - 7 - strlen(ADMIN));
    ASSERT_EQ(check(a, big, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(duro_access_is_admin(a, big), 0);
    /* a well-signed JWT whose payload pushes it past 8 KiB */
    char tok[TOKCAP], payload[7000];
    snprintf(payload, sizeof payload, "{\"ns\":\"*\",\"pad\":\"%06200d\"}", 0);
    ASSERT(strlen(mint(tok, SECRET, HS256, payload)) > 8192);
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    /* a big token within the bound passes */
    snprintf(payload, sizeof payload, "{\"ns\":\"*\",\"pad\":\"%05000d\"}", 0);
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, payload), 0), DURO_OK);
    free(big);
    duro_access_free(a);
}

TEST(jwt_ns_string)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP];
    mint(tok, SECRET, HS256, "{\"ns\":\"app\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_OK);
    ASSERT_EQ(check(a, tok, 1), DURO_OK); /* no scope = write */
    ASSERT_EQ(check_ns(a, tok, "other", 0, NOW), DURO_FORBIDDEN);
    ASSERT_EQ(check_ns(a, tok, "ap", 0, NOW), DURO_FORBIDDEN);
    ASSERT_EQ(check_ns(a, tok, "app2", 0, NOW), DURO_FORBIDDEN);
    ASSERT_EQ(check_ns(a, tok, NULL, 0, NOW), DURO_FORBIDDEN); /* admin-only request */
    ASSERT_EQ(duro_access_check(a, tok, "app\0x", 5, 0, NOW, NULL, 0), DURO_FORBIDDEN);
    /* without typ, and with extra header fields */
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256\"}", "{\"ns\":\"app\"}"), 1),
              DURO_OK);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"kid\":\"k1\",\"alg\":\"HS256\",\"typ\":\"jwt\"}",
                            "{\"ns\":\"app\",\"sub\":\"u1\",\"iat\":1}"), 1),
              DURO_OK);
    duro_access_free(a);
}

TEST(jwt_ns_array_and_star)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP];
    mint(tok, SECRET, HS256, "{\"ns\":[\"a\",\"app\",\"b\"]}");
    ASSERT_EQ(check(a, tok, 1), DURO_OK);
    ASSERT_EQ(check_ns(a, tok, "a", 1, NOW), DURO_OK);
    ASSERT_EQ(check_ns(a, tok, "c", 1, NOW), DURO_FORBIDDEN);
    mint(tok, SECRET, HS256, "{\"ns\":[]}");
    ASSERT_EQ(check(a, tok, 0), DURO_FORBIDDEN);
    mint(tok, SECRET, HS256, "{\"ns\":\"*\"}");
    ASSERT_EQ(check(a, tok, 1), DURO_OK);
    ASSERT_EQ(check_ns(a, tok, "anything:at-all", 1, NOW), DURO_OK);
    ASSERT_EQ(check_ns(a, tok, NULL, 0, NOW), DURO_FORBIDDEN); /* "*" is not admin */
    mint(tok, SECRET, HS256, "{\"ns\":[\"x\",\"*\"]}");
    ASSERT_EQ(check_ns(a, tok, "zzz", 1, NOW), DURO_OK);
    mint(tok, SECRET, HS256, "{\"ns\":\"**\"}"); /* only "*" itself is a wildcard */
    ASSERT_EQ(check(a, tok, 0), DURO_FORBIDDEN);
    mint(tok, SECRET, HS256, "{\"sub\":\"u1\"}"); /* no ns at all */
    ASSERT_EQ(check(a, tok, 0), DURO_FORBIDDEN);
    duro_access_free(a);
}

TEST(jwt_scope)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP];
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":\"read\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_OK);
    ASSERT_EQ(check(a, tok, 1), DURO_FORBIDDEN);
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":\"write\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_OK);
    ASSERT_EQ(check(a, tok, 1), DURO_OK);
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":\"admin\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":\"READ\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":[\"read\"]}");
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"scope\":null}");
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    /* a malformed scope is 401 even where the namespace would be 403 */
    mint(tok, SECRET, HS256, "{\"ns\":\"other\",\"scope\":1}");
    ASSERT_EQ(check(a, tok, 0), DURO_UNAUTHORIZED);
    duro_access_free(a);
}

TEST(jwt_exp_nbf)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP], p[128];
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld}", (long long)(NOW - 31));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_UNAUTHORIZED); /* beyond leeway */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld}", (long long)(NOW - 30));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK); /* at the edge */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld}", (long long)(NOW - 10));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK); /* within leeway */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld}", (long long)(NOW + 3600));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 1), DURO_OK);
    ASSERT_EQ(check_ns(a, tok, "app", 1, NOW + 3631), DURO_UNAUTHORIZED);
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld.5}", (long long)(NOW - 31));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_UNAUTHORIZED); /* NOW-30.5 */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld.5}", (long long)(NOW - 30));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK); /* NOW-29.5 */
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"exp\":\"9999999999\"}"), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"exp\":true}"), 0),
              DURO_UNAUTHORIZED);
    /* an expired token is 401 even for a namespace it does not cover */
    snprintf(p, sizeof p, "{\"ns\":\"other\",\"exp\":%lld}", (long long)(NOW - 1000));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_UNAUTHORIZED);

    snprintf(p, sizeof p, "{\"ns\":\"app\",\"nbf\":%lld}", (long long)(NOW + 31));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_UNAUTHORIZED); /* in the future */
    ASSERT_EQ(check_ns(a, tok, "app", 0, NOW + 1), DURO_OK);
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"nbf\":%lld}", (long long)(NOW + 20));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK); /* within leeway */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"nbf\":%lld}", (long long)(NOW - 100));
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK);
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, "{\"ns\":\"app\",\"nbf\":null}"), 0),
              DURO_UNAUTHORIZED);
    duro_access_free(a);

    duro_access *z = NULL;
    ASSERT_EQ(duro_access_new(NULL, SECRET, 0, &z, NULL, 0), DURO_OK); /* no leeway */
    snprintf(p, sizeof p, "{\"ns\":\"app\",\"exp\":%lld}", (long long)(NOW - 1));
    ASSERT_EQ(check(z, mint(tok, SECRET, HS256, p), 0), DURO_UNAUTHORIZED);
    duro_access_free(z);
}

TEST(jwt_alg)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP];
    const char *p = "{\"ns\":\"*\"}";
    /* alg none with an empty signature, and with a valid HMAC */
    ASSERT_EQ(check(a, mint(tok, NULL, "{\"alg\":\"none\",\"typ\":\"JWT\"}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"none\",\"typ\":\"JWT\"}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"RS256\"}", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"hs256\"}", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256 \"}", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":null}", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"typ\":\"JWT\"}", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256\",\"typ\":1}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                            p), 0),
              DURO_UNAUTHORIZED);
    /* a duplicate alg must not let the second one win */
    ASSERT_EQ(check(a, mint(tok, SECRET, "{\"alg\":\"HS256\",\"alg\":\"none\"}", p), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, "[\"HS256\"]", p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, SECRET, HS256, p), 0), DURO_OK);
    duro_access_free(a);
}

TEST(jwt_signature)
{
    duro_access *a = make(ADMIN, SECRET);
    char tok[TOKCAP], t2[TOKCAP];
    const char *p = "{\"ns\":\"app\",\"scope\":\"read\"}";
    ASSERT_EQ(check(a, mint(tok, OTHER_SECRET, HS256, p), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(tok, ADMIN, HS256, p), 0), DURO_UNAUTHORIZED);
    /* tampered payload: the original signature over a widened payload */
    mint(tok, SECRET, HS256, p);
    ASSERT_EQ(check(a, tok, 0), DURO_OK);
    mint(t2, SECRET, HS256, "{\"ns\":\"*\",\"scope\":\"write\"}");
    char forged[TOKCAP];
    const char *sig = strrchr(tok, '.');
    size_t signed_len = (size_t)(strrchr(t2, '.') - t2);
    memcpy(forged, t2, signed_len);
    strcpy(forged + signed_len, sig);
    ASSERT_EQ(check(a, forged, 0), DURO_UNAUTHORIZED);
    /* a flipped signature character, a truncated and an extended signature */
    strcpy(t2, tok);
    char *last = t2 + strlen(t2) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    strcpy(t2, tok);
    t2[strlen(t2) - 4] = 0;
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    strcpy(t2, tok);
    strcat(t2, "AAAA");
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    /* the signature of a different header over the same payload */
    mint(t2, SECRET, "{\"alg\":\"HS256\"}", p);
    strcpy(forged, tok);
    strcpy(strrchr(forged, '.'), strrchr(t2, '.'));
    ASSERT_EQ(check(a, forged, 0), DURO_UNAUTHORIZED);
    duro_access_free(a);
}

TEST(jwt_malformed)
{
    duro_access *a = make(NULL, SECRET);
    char tok[TOKCAP], t2[TOKCAP];
    mint(tok, SECRET, HS256, "{\"ns\":\"*\"}");
    ASSERT_EQ(check(a, tok, 0), DURO_OK);

    strcpy(t2, tok); /* two parts */
    *strrchr(t2, '.') = 0;
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    strcpy(t2, tok); /* four parts, the last empty */
    strcat(t2, ".");
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    strcpy(t2, tok); /* four parts */
    strcat(t2, ".AAAA");
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer ..", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer a.b.c", 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, "Bearer not-a-jwt", 0), DURO_UNAUTHORIZED);

    /* parts that are not canonical base64url, each correctly signed:
     * {"alg":"HS256","typ":"JWT"} = eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 and
     * {"ns":"*"} (10 bytes) = eyJucyI6IioifQ, 14 characters, "==" when padded */
#define H "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    const char *h = H;
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6IioifQ"), 0), DURO_OK);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6IioifQ=="), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6IioifR"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6Iio+fQ"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6I*oifQ"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6IioifQ "), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6Iio ifQ"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, "eyJucyI6IioifQA"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, h, ""), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, "", "eyJucyI6IioifQ"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint_raw(t2, SECRET, H "=", "eyJucyI6IioifQ"), 0), DURO_UNAUTHORIZED);
    /* a padded signature (32 bytes: 43 characters, then "=") */
    strcpy(t2, tok);
    strcat(t2, "=");
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);
    strcpy(t2, tok);
    t2[strlen(t2) - 1] = '/'; /* standard base64's '/' */
    ASSERT_EQ(check(a, t2, 0), DURO_UNAUTHORIZED);

    /* properly signed, but not JSON / not an object / wrong claim types */
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "hello"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":\"*\"} x"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "[\"*\"]"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "\"*\""), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, "not json", "{\"ns\":\"*\"}"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":1}"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":{\"app\":true}}"), 0),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":[\"app\",1]}"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":[[\"app\"]]}"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":null}"), 0), DURO_UNAUTHORIZED);
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":\"app\\u0000x\"}"), 0),
              DURO_UNAUTHORIZED);
    /* a duplicate claim must not be resolved either way */
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, "{\"ns\":\"x\",\"ns\":\"*\"}"), 0),
              DURO_UNAUTHORIZED);
    /* deep nesting is refused before parsing */
    char deep[400] = "{\"ns\":\"*\",\"x\":";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    for (int i = 0; i < 100; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256, deep), 0), DURO_UNAUTHORIZED);
    /* shallow nesting in an ignored claim is fine; brackets inside strings do not count */
    ASSERT_EQ(check(a, mint(t2, SECRET, HS256,
                            "{\"ns\":\"*\",\"x\":{\"y\":[1,2]},\"z\":\"[[[[[[[[[[[[\\\"\"}"),
                    0),
              DURO_OK);
    duro_access_free(a);
}

TEST(reasons_never_leak)
{
    duro_access *a = make(ADMIN, SECRET);
    char tok[TOKCAP], err[256];
    const char *cases[] = {
        "Bearer " ADMIN "x", "Basic " ADMIN, "Bearer " SECRET,
        mint(tok, OTHER_SECRET, HS256, "{\"ns\":\"" ADMIN "\"}"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(err, 0, sizeof err);
        ASSERT_EQ(duro_access_check(a, cases[i], "app", 3, 1, NOW, err, sizeof err),
                  DURO_UNAUTHORIZED);
        ASSERT(err[0]);
        ASSERT(!strstr(err, ADMIN) && !strstr(err, SECRET) && !strstr(err, "eyJ"));
    }
    /* a tiny err buffer is truncated, not overrun; errlen 0 is allowed */
    char small[4] = "zzz";
    ASSERT_EQ(duro_access_check(a, "Bearer x", "app", 3, 0, NOW, small, 1), DURO_UNAUTHORIZED);
    ASSERT_EQ(small[0], 0);
    ASSERT_EQ(small[1], 'z');
    ASSERT_EQ(duro_access_check(a, "Bearer x", "app", 3, 0, NOW, small, 0), DURO_UNAUTHORIZED);
    duro_access_free(a);
}

TEST_MAIN()
