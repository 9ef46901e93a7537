/* auth_req.c — decoding the auth ops' args (see auth.h). */
#include "objects/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/codec.h"
#include "objects/kv.h"
#include "objects/kv_req.h"
#include "objects/session_req.h"

const char *const duro_auth_op_names[DURO_AUTH_OP_COUNT] = {
    [DURO_AUTH_REGISTER] = "auth.register", [DURO_AUTH_LOGIN] = "auth.login",
    [DURO_AUTH_SESSION] = "auth.session",   [DURO_AUTH_LOGOUT] = "auth.logout",
    [DURO_AUTH_PASSWORD] = "auth.password",
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int duro_auth_email(const char *in, size_t n, char **out)
{
    while (n && is_space(*in))
        in++, n--;
    while (n && is_space(in[n - 1]))
        n--;
    const char *at = memchr(in, '@', n);
    if (n < 3 || n > 254 || !at || at == in || at == in + n - 1 ||
        memchr(at + 1, '@', n - (size_t)(at - in) - 1) || !duro_utf8_valid(in, n))
        return -1;
    char *e = malloc(n + 1);
    if (!e)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch <= ' ' || ch == 0x7f) {
            free(e);
            return -1;
        }
        e[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    e[n] = '\0';
    *out = e;
    return 0;
}

static int password(const json_t *args, const char *name, char **out, char *err, size_t errlen)
{
    const json_t *p = json_object_get(args, name);
    size_t n = json_string_length(p);
    if (!json_is_string(p) || n < 8 || n > 1024 || memchr(json_string_value(p), 0, n)) {
        snprintf(err, errlen, "\"%s\" must be a string of 8 to 1024 bytes", name);
        return DURO_BAD_REQUEST;
    }
    if (!(*out = malloc(n + 1))) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    memcpy(*out, json_string_value(p), n + 1);
    return DURO_OK;
}

/* {email, password, ttlMs?} of register and login (register takes no ttlMs). */
static int credentials(int op, const json_t *args, duro_auth_req *r, char *err, size_t errlen)
{
    static const char *const fields[] = {"email", "password", "ttlMs"};
    int st = duro_fields_check(args, fields, op == DURO_AUTH_LOGIN ? 3 : 2, NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    const json_t *em = json_object_get(args, "email");
    if (!json_is_string(em) ||
        duro_auth_email(json_string_value(em), json_string_length(em), &r->email) != 0) {
        snprintf(err, errlen, "\"email\" must be an address like name@example.com");
        return DURO_BAD_REQUEST;
    }
    if ((st = password(args, "password", &r->password, err, errlen)) != DURO_OK)
        return st;
    r->ttl_ms = DURO_AUTH_TTL_DEFAULT;
    const json_t *ttl = json_object_get(args, "ttlMs");
    if (ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1000 ||
            json_integer_value(ttl) > DURO_KV_TTL_MAX) {
            snprintf(err, errlen, "\"ttlMs\" must be an integer from 1000 to 315360000000");
            return DURO_BAD_REQUEST;
        }
        r->ttl_ms = json_integer_value(ttl);
    }
    return DURO_OK;
}

/* {sessionId, currentPassword?, newPassword?} of session, logout, password. */
static int session_args(int op, const json_t *args, duro_auth_req *r, char *err, size_t errlen)
{
    static const char *const fields[] = {"sessionId", "currentPassword", "newPassword"};
    int st = duro_fields_check(args, fields, op == DURO_AUTH_PASSWORD ? 3 : 1, NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    const json_t *id = json_object_get(args, "sessionId");
    if (!json_is_string(id)) {
        snprintf(err, errlen, "\"sessionId\" must be a string");
        return DURO_BAD_REQUEST;
    }
    int sop = op == DURO_AUTH_LOGOUT ? DURO_SESSION_DELETE : DURO_SESSION_GET;
    st = duro_session_request(sop, json_string_value(id), json_string_length(id), NULL,
                              &r->session, err, errlen);
    if (st == DURO_OK && op == DURO_AUTH_PASSWORD &&
        (st = password(args, "currentPassword", &r->password, err, errlen)) == DURO_OK)
        st = password(args, "newPassword", &r->password2, err, errlen);
    return st;
}

static int from_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                     size_t errlen)
{
    duro_auth_req *r = calloc(1, sizeof *r);
    int st = r ? DURO_OK : DURO_NOMEM;
    if (r)
        r->pwhash_min = a->lim->pwhash_min;
    if (st == DURO_OK && (op == DURO_AUTH_REGISTER || op == DURO_AUTH_LOGIN)) {
        st = credentials(op, args, r, err, errlen);
        if (st == DURO_OK && !(r->client = strdup(a->peer ? a->peer : "-")))
            st = DURO_NOMEM;
    } else if (st == DURO_OK &&
               (op == DURO_AUTH_SESSION || op == DURO_AUTH_LOGOUT || op == DURO_AUTH_PASSWORD)) {
        st = session_args(op, args, r, err, errlen);
        if (st == DURO_OK && op == DURO_AUTH_PASSWORD &&
            !(r->client = strdup(a->peer ? a->peer : "-")))
            st = DURO_NOMEM;
    } else if (st == DURO_OK) {
        snprintf(err, errlen, "unknown auth operation");
        st = DURO_BAD_REQUEST;
    }
    /* the tree is the caller's, freed right after: wipe its passwords (jansson
     * would free them as they are) */
    static const char *const secrets[] = {"password", "currentPassword", "newPassword"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        const json_t *v = json_object_get(args, secrets[i]);
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
    if (st != DURO_OK) {
        if (st == DURO_NOMEM)
            snprintf(err, errlen, "out of memory");
        duro_auth_req_free(r);
        return st;
    }
    *req = r;
    return DURO_OK;
}

int duro_auth_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, from_tree, req, err, errlen);
}
