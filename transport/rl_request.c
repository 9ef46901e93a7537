/* rl_request.c — rate-limiter request decoding (see rl_request.h). */
#include "transport/rl_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/auth.h"
#include "objects/kv.h"
#include "objects/registry.h"
#include "objects/session.h"
#include "runtime/msg.h"
#include "transport/kv_request.h"
#include "transport/names.h"
#include "transport/registry_request.h"
#include "transport/session_request.h"

int duro_rl_parse_default(const char *s, duro_rl_defaults *d)
{
    char *end;
    errno = 0;
    long long limit = strtoll(s, &end, 10);
    if (errno || end == s || *end != '/' || limit < 1 || limit > DURO_RL_LIMIT_MAX)
        return -1;
    const char *w = end + 1;
    long long n = strtoll(w, &end, 10);
    if (errno || end == w || n < 1 || *w < '0' || *w > '9')
        return -1;
    long long mult = !strcmp(end, "ms") ? 1 : !strcmp(end, "s") ? 1000
                   : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000 : 0;
    if (!mult || n > DURO_RL_WINDOW_MAX / mult)
        return -1;
    d->limit = limit;
    d->window_ms = n * mult;
    return 0;
}

int duro_rl_op_from_name(const char *name, size_t len)
{
    static const char *const names[DURO_RL_OP_COUNT] = {"ratelimit.check", "ratelimit.get",
                                                        "ratelimit.reset"};
    for (int op = 0; op < DURO_RL_OP_COUNT; op++)
        if (strlen(names[op]) == len && memcmp(names[op], name, len) == 0)
            return op;
    return -1;
}

/* Reads an optional integer field in min..max into *out (*has = 1). */
static int int_field(const json_t *args, const char *name, int64_t min, int64_t max, int *has,
                     int64_t *out, char *err, size_t errlen)
{
    const json_t *v = args ? json_object_get(args, name) : NULL;
    if (!v || json_is_null(v))
        return DURO_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "\"%s\" must be an integer from %lld to %lld", name,
                 (long long)min, (long long)max);
        return DURO_BAD_REQUEST;
    }
    *has = 1;
    *out = json_integer_value(v);
    return DURO_OK;
}

static int range(const char *name, int has, int64_t v, int64_t min, int64_t max, char *err,
                 size_t errlen)
{
    if (has && (v < min || v > max)) {
        snprintf(err, errlen, "\"%s\" must be an integer from %lld to %lld", name,
                 (long long)min, (long long)max);
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

int duro_rl_request_fields(int op, const char *key, size_t key_len, const duro_rl_fields *f,
                           const duro_rl_defaults *d, duro_rl_req **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    const char *why;
    if (op < 0 || op >= DURO_RL_OP_COUNT) {
        snprintf(err, errlen, "unknown ratelimit operation");
        return DURO_BAD_REQUEST;
    }
    if (duro_key_valid(key, key_len, &why) != 0) {
        snprintf(err, errlen, "invalid key: %s", why);
        return DURO_BAD_REQUEST;
    }
    int st = range("limit", f->has_limit, f->limit, 1, DURO_RL_LIMIT_MAX, err, errlen);
    if (st == DURO_OK)
        st = range("windowMs", f->has_window, f->window_ms, 1, DURO_RL_WINDOW_MAX, err, errlen);
    if (st == DURO_OK)
        st = range("cost", f->has_cost, f->cost, 0, DURO_RL_LIMIT_MAX, err, errlen);
    if (st != DURO_OK)
        return st;
    int64_t limit = f->has_limit ? f->limit : d->limit;
    int64_t cost = f->has_cost ? f->cost : 1;
    if (cost > limit) {
        snprintf(err, errlen, "\"cost\" (%lld) is larger than \"limit\" (%lld): never allowed",
                 (long long)cost, (long long)limit);
        return DURO_BAD_REQUEST;
    }
    duro_rl_req *r = calloc(1, sizeof *r);
    if (!r || !(r->key = malloc(key_len + 1))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    memcpy(r->key, key, key_len);
    r->key[key_len] = '\0';
    r->key_len = key_len;
    r->limit = limit;
    r->window_ms = f->has_window ? f->window_ms : d->window_ms;
    r->cost = cost;
    r->enforce = f->has_enforce && f->enforce;
    r->explicit_params = f->has_limit || f->has_window;
    *out = r;
    return DURO_OK;
}

int duro_rl_request(int op, const char *key, size_t key_len, const json_t *args,
                    const duro_rl_defaults *d, duro_rl_req **out, char *err, size_t errlen)
{
    *out = NULL;
    if (args && !json_is_object(args)) {
        snprintf(err, errlen, "body must be an object like {\"limit\":30,\"windowMs\":60000}");
        return DURO_BAD_REQUEST;
    }
    duro_rl_fields f = {0};
    int st = int_field(args, "limit", 1, DURO_RL_LIMIT_MAX, &f.has_limit, &f.limit, err, errlen);
    if (st == DURO_OK)
        st = int_field(args, "windowMs", 1, DURO_RL_WINDOW_MAX, &f.has_window, &f.window_ms, err,
                       errlen);
    if (st == DURO_OK)
        st = int_field(args, "cost", 0, DURO_RL_LIMIT_MAX, &f.has_cost, &f.cost, err, errlen);
    const json_t *en = args ? json_object_get(args, "enforce") : NULL;
    if (st == DURO_OK && en && !json_is_null(en)) {
        if (!json_is_boolean(en)) {
            snprintf(err, errlen, "\"enforce\" must be a boolean");
            st = DURO_BAD_REQUEST;
        }
        f.has_enforce = 1;
        f.enforce = json_is_true(en);
    }
    if (st != DURO_OK)
        return st;
    return duro_rl_request_fields(op, key, key_len, &f, d, out, err, errlen);
}

void duro_request_free(int kind, void *req)
{
    switch (kind) {
    case DURO_KIND_RATELIMIT:
        duro_rl_req_free(req);
        break;
    case DURO_KIND_SESSION:
        duro_session_req_free(req);
        break;
    case DURO_KIND_AUTH:
        duro_auth_req_free(req);
        break;
    case DURO_KIND_RESOURCE:
        duro_resource_req_free(req);
        break;
    case DURO_KIND_REGISTRY:
        duro_registry_query_free(req);
        break;
    default:
        duro_kv_req_free(req);
    }
}

int duro_op_from_name(const char *name, size_t len, int *kind, int *op)
{
    if ((*op = duro_kv_op_from_name(name, len)) >= 0)
        *kind = DURO_KIND_KV;
    else if ((*op = duro_rl_op_from_name(name, len)) >= 0)
        *kind = DURO_KIND_RATELIMIT;
    else if ((*op = duro_session_op_from_name(name, len)) >= 0)
        *kind = DURO_KIND_SESSION;
    else
        return duro_registry_op_from_name(name, len, kind, op);
    return 0;
}
