/* session_req.c — validation and decoding of session requests (see
 * session_req.h). */
#include "objects/session_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "objects/kv_req.h"

const char *const duro_session_op_names[DURO_SESSION_OP_COUNT] = {
    [DURO_SESSION_CREATE] = "session.create",
    [DURO_SESSION_GET] = "session.get",
    [DURO_SESSION_PUT] = "session.put",
    [DURO_SESSION_DELETE] = "session.delete",
    [DURO_SESSION_LIST_USER] = "session.list_user",
    [DURO_SESSION_REVOKE_USER] = "session.revoke_user",
};

int duro_session_op_from_name(const char *name, size_t len)
{
    return duro_op_index(duro_session_op_names, DURO_SESSION_OP_COUNT, name, len);
}

const char *duro_session_op_name(int op)
{
    return op >= 0 && op < DURO_SESSION_OP_COUNT ? duro_session_op_names[op] : NULL;
}

static int fail(char *err, size_t errlen, int st, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return st;
}

/* args' member name, NULL if absent or null. */
static const json_t *field(const json_t *args, const char *name)
{
    const json_t *v = args ? json_object_get(args, name) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

/* The members each op's args may have. The first is the op's subject (the
 * session id or user id), allowed only when it does not come from a path;
 * CREATE has none. */
static const char *const create_fields[] = {"data", "ttlMs", "userId", "rolling"};
static const char *const id_fields[] = {"id"};
static const char *const put_fields[] = {"id", "data", "ttlMs"};
static const char *const user_fields[] = {"userId"};
static const char *const revoke_fields[] = {"userId", "exceptId"};

static const struct {
    const char *const *names;
    size_t n;
    int subject;
} op_fields[DURO_SESSION_OP_COUNT] = {
    [DURO_SESSION_CREATE] = {create_fields, 4, 0},
    [DURO_SESSION_GET] = {id_fields, 1, 1},
    [DURO_SESSION_PUT] = {put_fields, 3, 1},
    [DURO_SESSION_DELETE] = {id_fields, 1, 1},
    [DURO_SESSION_LIST_USER] = {user_fields, 1, 1},
    [DURO_SESSION_REVOKE_USER] = {revoke_fields, 2, 1},
};

static int user_id(duro_session_req *r, const char *s, size_t n, char *err, size_t errlen)
{
    if (n < 1 || n > DURO_SESSION_USER_MAX || memchr(s, '\0', n) || !duro_utf8_valid(s, n))
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "\"userId\" must be 1 to 256 bytes of UTF-8 without NUL");
    if (!(r->user_id = malloc(n + 1)))
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    memcpy(r->user_id, s, n);
    r->user_id[n] = '\0';
    r->user_id_len = n;
    return DURO_OK;
}

/* The id or user id from the path, else args' member name (a string). */
static int subject(const char *path, size_t len, const json_t *args, const char *name,
                   const char **s, size_t *n, char *err, size_t errlen)
{
    if (path) {
        *s = path;
        *n = len;
        return DURO_OK;
    }
    const json_t *v = field(args, name);
    if (!json_is_string(v)) {
        snprintf(err, errlen, "\"%s\" must be a string", name);
        return DURO_BAD_REQUEST;
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return DURO_OK;
}

static int ttl(duro_session_req *r, const json_t *args, int required, char *err, size_t errlen)
{
    const json_t *v = field(args, "ttlMs");
    if (!v && !required)
        return DURO_OK;
    long long x;
    if (duro_param_int(v, DURO_PARAMS_TYPED, 1, DURO_SESSION_TTL_MAX, &x) != 0)
        return duro_param_error(err, errlen, "ttlMs",
                                "an integer from 1 to 315360000000 (ten years)", v, JSON_INTEGER,
                                DURO_PARAMS_TYPED);
    r->ttl_ms = x;
    return DURO_OK;
}

static int data(duro_session_req *r, const json_t *args, char *err, size_t errlen)
{
    const json_t *v = field(args, "data");
    if (!json_is_object(v))
        return fail(err, errlen, DURO_BAD_REQUEST, "\"data\" must be an object");
    duro_buf b = {0};
    if (duro_json_to_text(v, &b) != 0) {
        duro_buf_free(&b);
        return fail(err, errlen, DURO_BAD_REQUEST, "\"data\" cannot be encoded");
    }
    if (b.len > DURO_SESSION_DATA_MAX) {
        duro_buf_free(&b);
        return fail(err, errlen, DURO_PAYLOAD_TOO_LARGE,
                    "\"data\" is larger than 65536 bytes of JSON");
    }
    r->data = duro_buf_take(&b, &r->data_len);
    if (!r->data) /* an empty object still has its two bytes; NULL is ENOMEM */
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    return DURO_OK;
}

static int decode(duro_session_req *r, int op, const char *path, size_t len, const json_t *args,
                  char *err, size_t errlen)
{
    const char *s;
    size_t n;
    int st;
    switch (op) {
    case DURO_SESSION_CREATE: {
        if ((st = data(r, args, err, errlen)) != DURO_OK ||
            (st = ttl(r, args, 1, err, errlen)) != DURO_OK)
            return st;
        const json_t *u = field(args, "userId");
        if (u && !json_is_string(u))
            return fail(err, errlen, DURO_BAD_REQUEST, "\"userId\" must be a string");
        if (u && (st = user_id(r, json_string_value(u), json_string_length(u), err, errlen)) !=
                     DURO_OK)
            return st;
        const json_t *roll = field(args, "rolling");
        if (duro_param_flag(roll, DURO_PARAMS_TYPED, &r->rolling) != 0)
            return duro_param_error(err, errlen, "rolling", "true or false", roll, JSON_TRUE,
                                    DURO_PARAMS_TYPED);
        return DURO_OK;
    }
    case DURO_SESSION_PUT:
    case DURO_SESSION_GET:
    case DURO_SESSION_DELETE:
        if ((st = subject(path, len, args, "id", &s, &n, err, errlen)) != DURO_OK)
            return st;
        r->id_ok = duro_session_id_hash(s, n, r->id_hash) == 0;
        if (op != DURO_SESSION_PUT)
            return DURO_OK;
        if ((st = data(r, args, err, errlen)) != DURO_OK)
            return st;
        return ttl(r, args, 0, err, errlen);
    case DURO_SESSION_LIST_USER:
    case DURO_SESSION_REVOKE_USER: {
        if ((st = subject(path, len, args, "userId", &s, &n, err, errlen)) != DURO_OK ||
            (st = user_id(r, s, n, err, errlen)) != DURO_OK)
            return st;
        const json_t *ex = op == DURO_SESSION_REVOKE_USER ? field(args, "exceptId") : NULL;
        if (!ex)
            return DURO_OK;
        if (!json_is_string(ex) || duro_session_id_hash(json_string_value(ex),
                                                        json_string_length(ex),
                                                        r->except_hash) != 0)
            return fail(err, errlen, DURO_BAD_REQUEST, "\"exceptId\" is not a session id");
        r->has_except = 1;
        return DURO_OK;
    }
    default:
        return fail(err, errlen, DURO_BAD_REQUEST, "unknown session operation");
    }
}

int duro_session_request(int op, const char *id_or_user, size_t len, const json_t *args,
                         duro_session_req **out, char *err, size_t errlen)
{
    *out = NULL;
    if (args && !json_is_object(args))
        return fail(err, errlen, DURO_BAD_REQUEST, "body must be an object");
    if (!args && (op == DURO_SESSION_CREATE || op == DURO_SESSION_PUT))
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "body must be an object like {\"data\": {...}, \"ttlMs\": 3600000}");
    if (op < 0 || op >= DURO_SESSION_OP_COUNT)
        return fail(err, errlen, DURO_BAD_REQUEST, "unknown session operation");
    int skip = op_fields[op].subject && id_or_user; /* the subject came from the path */
    int st = args ? duro_fields_check(args, op_fields[op].names + skip,
                                      op_fields[op].n - (size_t)skip, NULL, err, errlen)
                  : DURO_OK;
    if (st != DURO_OK)
        return st;
    duro_session_req *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    st = decode(r, op, id_or_user, len, args, err, errlen);
    if (st != DURO_OK) {
        duro_session_req_free(r);
        return st;
    }
    *out = r;
    return DURO_OK;
}

static int from_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                     size_t errlen)
{
    (void)a;
    return duro_session_request(op, NULL, 0, args, (duro_session_req **)req, err, errlen);
}

int duro_session_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, from_tree, req, err, errlen);
}
