/*
 * sql_req.c — decoding SQL requests (see sql.h): {"sql", "params"} or
 * {"statements": [...]} from a jansson tree, as HTTP bodies (JSON or
 * msgpack) and the binary protocol's args give it. Strict like the other
 * decoders: unknown members are refused; every bound of docs/sql.md is
 * checked here, so exec only ever runs a bounded request.
 */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro/status.h"
#include "objects/kv_req.h"
#include "objects/sql.h"

void duro_sql_req_free(duro_sql_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        duro_sql_stmt *s = &r->stmts[i];
        free(s->sql);
        for (size_t j = 0; j < s->n_params; j++)
            free(s->params[j].s);
        free(s->params);
    }
    free(r->stmts);
    free(r);
}

/* `where` prefixes messages of a batch's statements ("statements[3]: "). */
static int bad(char *err, size_t errlen, const char *where, int st, const char *msg)
{
    snprintf(err, errlen, "%s%s", where, msg);
    return st;
}

static int decode_param(duro_sql_param *p, const json_t *v, size_t i, const char *where, char *err,
                        size_t errlen)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        p->type = DURO_SQL_NULL;
        return DURO_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        p->type = DURO_SQL_INT;
        p->i = json_is_true(v);
        return DURO_OK;
    case JSON_INTEGER:
        p->type = DURO_SQL_INT;
        p->i = json_integer_value(v);
        return DURO_OK;
    case JSON_REAL:
        p->type = DURO_SQL_REAL;
        p->d = json_real_value(v);
        return DURO_OK;
    case JSON_STRING: {
        p->type = DURO_SQL_TEXT;
        p->len = json_string_length(v);
        if (!(p->s = malloc(p->len + 1)))
            return DURO_NOMEM;
        memcpy(p->s, json_string_value(v), p->len + 1);
        return DURO_OK;
    }
    case JSON_OBJECT: {
        const json_t *b = json_object_get(v, "$bytes");
        if (json_object_size(v) == 1 && json_is_string(b)) {
            const char *s = json_string_value(b);
            size_t n = json_string_length(b), out_len = 0;
            p->type = DURO_SQL_BLOB;
            if (!(p->s = malloc(n / 4 * 3 + 3)))
                return DURO_NOMEM;
            if (sodium_base642bin((unsigned char *)p->s, n / 4 * 3 + 3, s, n, NULL, &out_len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0) {
                snprintf(err, errlen, "%sparams[%zu]: \"$bytes\" must be standard base64", where,
                         i);
                return DURO_BAD_REQUEST;
            }
            p->len = out_len;
            return DURO_OK;
        }
        break;
    }
    default:
        break;
    }
    snprintf(err, errlen,
             "%sparams[%zu] must be null, a boolean, a number, a string or {\"$bytes\": base64}",
             where, i);
    return DURO_BAD_REQUEST;
}

/* One statement {"sql", "params"?} into s. */
static int decode_stmt(duro_sql_stmt *s, const json_t *o, const char *where, char *err,
                       size_t errlen)
{
    static const char *const fields[] = {"sql", "params"};
    if (!json_is_object(o))
        return bad(err, errlen, where, DURO_BAD_REQUEST,
                   "body must be {\"sql\": \"...\", \"params\": [...]}");
    int st = duro_fields_check(o, fields, 2, where[0] ? "statement" : NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    const json_t *sql = json_object_get(o, "sql");
    if (!json_is_string(sql))
        return bad(err, errlen, where, DURO_BAD_REQUEST, "\"sql\" must be a string");
    size_t n = json_string_length(sql);
    if (n == 0)
        return bad(err, errlen, where, DURO_BAD_REQUEST, "\"sql\" is empty");
    if (n > DURO_SQL_TEXT_MAX) {
        snprintf(err, errlen, "%s\"sql\" is %zu bytes; at most %u bytes of SQL per statement",
                 where, n, DURO_SQL_TEXT_MAX);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    if (memchr(json_string_value(sql), '\0', n))
        return bad(err, errlen, where, DURO_BAD_REQUEST, "\"sql\" contains a NUL byte");
    if (!(s->sql = malloc(n + 1)))
        return DURO_NOMEM;
    memcpy(s->sql, json_string_value(sql), n + 1);
    s->len = n;
    const json_t *params = json_object_get(o, "params");
    if (!params || json_is_null(params))
        return DURO_OK;
    if (!json_is_array(params))
        return bad(err, errlen, where, DURO_BAD_REQUEST, "\"params\" must be an array");
    size_t np = json_array_size(params);
    if (np > DURO_SQL_PARAMS_MAX) {
        snprintf(err, errlen, "%s%zu params; at most %d per statement", where, np,
                 DURO_SQL_PARAMS_MAX);
        return DURO_BAD_REQUEST;
    }
    if (np && !(s->params = calloc(np, sizeof *s->params)))
        return DURO_NOMEM;
    for (size_t i = 0; i < np; i++) {
        s->n_params = i + 1; /* freed with what it holds */
        if ((st = decode_param(&s->params[i], json_array_get(params, i), i, where, err, errlen)) !=
            DURO_OK)
            return st;
    }
    return DURO_OK;
}

int duro_sql_request(int op, const json_t *body, const duro_limits *lim, int read_only,
                     duro_sql_req **out, char *err, size_t errlen)
{
    *out = NULL;
    err[0] = '\0';
    if (op < 0 || op >= DURO_SQL_OP_COUNT)
        return bad(err, errlen, "", DURO_BAD_REQUEST, "unknown SQL operation");
    duro_sql_req *r = calloc(1, sizeof *r);
    if (!r)
        return DURO_NOMEM;
    r->read_only = read_only;
    r->timeout_ms = lim && lim->sql_timeout_ms > 0 ? lim->sql_timeout_ms : DURO_SQL_TIMEOUT_DEFAULT;
    r->max_rows = lim && lim->sql_max_rows > 0 ? lim->sql_max_rows : DURO_SQL_ROWS_DEFAULT;
    int st = DURO_OK;
    if (op != DURO_SQL_BATCH) {
        if (!(r->stmts = calloc(1, sizeof *r->stmts)))
            st = DURO_NOMEM;
        else {
            r->n = 1;
            st = decode_stmt(&r->stmts[0], body, "", err, errlen);
        }
    } else {
        static const char *const fields[] = {"statements"};
        const json_t *list = json_is_object(body) ? json_object_get(body, "statements") : NULL;
        if (!json_is_object(body))
            st = bad(err, errlen, "", DURO_BAD_REQUEST,
                     "body must be {\"statements\": [{\"sql\", \"params\"}, ...]}");
        else if ((st = duro_fields_check(body, fields, 1, NULL, err, errlen)) != DURO_OK)
            ;
        else if (!json_is_array(list) || json_array_size(list) == 0)
            st = bad(err, errlen, "", DURO_BAD_REQUEST,
                     "\"statements\" must be a non-empty array of {\"sql\", \"params\"}");
        else if (json_array_size(list) > DURO_SQL_BATCH_MAX) {
            snprintf(err, errlen, "%zu statements; a batch holds at most %d", json_array_size(list),
                     DURO_SQL_BATCH_MAX);
            st = DURO_BAD_REQUEST;
        } else if (!(r->stmts = calloc(json_array_size(list), sizeof *r->stmts)))
            st = DURO_NOMEM;
        for (size_t i = 0; st == DURO_OK && i < json_array_size(list); i++) {
            char where[48];
            snprintf(where, sizeof where, "statements[%zu]: ", i);
            r->n = i + 1;
            st = decode_stmt(&r->stmts[i], json_array_get(list, i), where, err, errlen);
        }
    }
    if (st != DURO_OK) {
        if (st == DURO_NOMEM && !err[0])
            snprintf(err, errlen, "out of memory");
        duro_sql_req_free(r);
        return st;
    }
    *out = r;
    return DURO_OK;
}

static int from_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                     size_t errlen)
{
    return duro_sql_request(op, args, a->lim, a->read_only, (duro_sql_req **)req, err, errlen);
}

int duro_sql_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, from_tree, req, err, errlen);
}
