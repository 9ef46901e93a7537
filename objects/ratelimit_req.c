/* ratelimit_req.c — rate-limiter request decoding (see ratelimit_req.h). */
#include "objects/ratelimit_req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/kv_req.h"
#include "common/mp_fields.h"
#include "common/names.h"

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

const char *const duro_rl_op_names[DURO_RL_OP_COUNT] = {
    [DURO_RL_CHECK] = "ratelimit.check",
    [DURO_RL_GET] = "ratelimit.get",
    [DURO_RL_RESET] = "ratelimit.reset",
};

int duro_rl_op_from_name(const char *name, size_t len)
{
    return duro_op_index(duro_rl_op_names, DURO_RL_OP_COUNT, name, len);
}

/* The members each op may have; "key" (first) only when the key is not
 * given from a path. */
static const char *const check_fields[] = {"key", "limit", "windowMs", "cost", "enforce"};
static const char *const get_fields[] = {"key", "limit", "windowMs"};
static const char *const reset_fields[] = {"key"};

static const struct {
    const char *const *names;
    size_t n;
} op_fields[DURO_RL_OP_COUNT] = {
    [DURO_RL_CHECK] = {check_fields, sizeof check_fields / sizeof *check_fields},
    [DURO_RL_GET] = {get_fields, sizeof get_fields / sizeof *get_fields},
    [DURO_RL_RESET] = {reset_fields, sizeof reset_fields / sizeof *reset_fields},
};

/* Reads an optional integer field in min..max into *out (*has = 1). */
static int int_field(const json_t *args, const char *name, int64_t min, int64_t max, int *has,
                     int64_t *out, char *err, size_t errlen)
{
    const json_t *v = args ? json_object_get(args, name) : NULL;
    long long x;
    int rc = duro_param_int(v, DURO_PARAMS_TYPED, min, max, &x);
    if (rc < 0) {
        char what[80];
        snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min,
                 (long long)max);
        return duro_param_error(err, errlen, name, what, v, JSON_INTEGER, DURO_PARAMS_TYPED);
    }
    if (rc == 0) {
        *has = 1;
        *out = x;
    }
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
    /* the fast path of the binary protocol reads typed fields itself: the
     * same members as op_fields, so a get or reset takes no cost etc. */
    const char *extra = op == DURO_RL_CHECK ? NULL
                        : f->has_cost       ? "cost"
                        : f->has_enforce    ? "enforce"
                        : op == DURO_RL_GET ? NULL
                        : f->has_limit      ? "limit"
                        : f->has_window     ? "windowMs"
                                            : NULL;
    if (extra) {
        snprintf(err, errlen, "unknown field \"%s\"", extra);
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
        st = range("cost", f->has_cost, f->cost, -DURO_RL_LIMIT_MAX, DURO_RL_LIMIT_MAX, err,
                   errlen);
    if (st != DURO_OK)
        return st;
    int64_t limit = f->has_limit ? f->limit : d->limit;
    int64_t cost = f->has_cost ? f->cost : 1;
    if (cost > limit || cost < -limit) {
        snprintf(err, errlen,
                 cost > limit ? "\"cost\" (%lld) is larger than \"limit\" (%lld): never allowed"
                              : "\"cost\" (%lld) gives back more than \"limit\" (%lld) tokens",
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
    if (op < 0 || op >= DURO_RL_OP_COUNT) {
        snprintf(err, errlen, "unknown ratelimit operation");
        return DURO_BAD_REQUEST;
    }
    if (args && !json_is_object(args)) {
        snprintf(err, errlen, "body must be an object like {\"limit\":30,\"windowMs\":60000}");
        return DURO_BAD_REQUEST;
    }
    int from_path = key != NULL;
    int st = args ? duro_fields_check(args, op_fields[op].names + from_path,
                                      op_fields[op].n - (size_t)from_path, NULL, err, errlen)
                  : DURO_OK;
    if (st != DURO_OK)
        return st;
    if (!from_path) {
        const json_t *k = args ? json_object_get(args, "key") : NULL;
        if (!json_is_string(k)) {
            snprintf(err, errlen, "\"key\" must be a string");
            return DURO_BAD_REQUEST;
        }
        key = json_string_value(k);
        key_len = json_string_length(k);
    }
    duro_rl_fields f = {0};
    st = int_field(args, "limit", 1, DURO_RL_LIMIT_MAX, &f.has_limit, &f.limit, err, errlen);
    if (st == DURO_OK)
        st = int_field(args, "windowMs", 1, DURO_RL_WINDOW_MAX, &f.has_window, &f.window_ms, err,
                       errlen);
    if (st == DURO_OK)
        st = int_field(args, "cost", -DURO_RL_LIMIT_MAX, DURO_RL_LIMIT_MAX, &f.has_cost, &f.cost,
                       err, errlen);
    const json_t *en = args ? json_object_get(args, "enforce") : NULL;
    if (st == DURO_OK && en && !json_is_null(en)) {
        if (duro_param_flag(en, DURO_PARAMS_TYPED, &f.enforce) != 0)
            st = duro_param_error(err, errlen, "enforce", "true or false", en, JSON_TRUE,
                                  DURO_PARAMS_TYPED);
        f.has_enforce = 1;
    }
    if (st != DURO_OK)
        return st;
    return duro_rl_request_fields(op, key, key_len, &f, d, out, err, errlen);
}

/* ratelimit.check / ratelimit.get {key, limit?, windowMs?, cost?, enforce?}
 * read straight from msgpack (common/mp_fields.h): 1 if the args have
 * another shape (the general path answers them), else 0 with key and *rf
 * set. */
static int fields_fast(const duro_args *a, const char **key, size_t *key_len, duro_rl_fields *rf)
{
    duro_mp_field f[DURO_MP_FIELDS_MAX];
    int c;
    if (duro_mp_fields(a->mp, a->len, f, &c) != 0)
        return 1;
    *key = NULL;
    memset(rf, 0, sizeof *rf);
    for (int i = 0; i < c; i++) {
        int u = f[i].type == 'u' && f[i].u <= (uint64_t)INT64_MAX;
        if (duro_mp_field_is(&f[i], "key") && f[i].type == 's') {
            *key = f[i].s;
            *key_len = f[i].sl;
        } else if (duro_mp_field_is(&f[i], "limit") && u) {
            rf->has_limit = 1;
            rf->limit = (int64_t)f[i].u;
        } else if (duro_mp_field_is(&f[i], "windowMs") && u) {
            rf->has_window = 1;
            rf->window_ms = (int64_t)f[i].u;
        } else if (duro_mp_field_is(&f[i], "cost") && u) {
            rf->has_cost = 1;
            rf->cost = (int64_t)f[i].u;
        } else if (duro_mp_field_is(&f[i], "enforce") && f[i].type == 'b') {
            rf->has_enforce = 1;
            rf->enforce = (int)f[i].u;
        } else {
            return 1;
        }
    }
    return *key ? 0 : 1;
}

static int from_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                     size_t errlen)
{
    if (!json_is_string(json_object_get(args, "key"))) {
        snprintf(err, errlen, "\"key\" must be a string");
        return DURO_BAD_REQUEST;
    }
    duro_rl_defaults d = {a->lim->rl_limit, a->lim->rl_window_ms};
    return duro_rl_request(op, NULL, 0, args, &d, (duro_rl_req **)req, err, errlen);
}

int duro_rl_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    duro_rl_req **out = (duro_rl_req **)req;
    duro_rl_defaults d = {a->lim->rl_limit, a->lim->rl_window_ms};
    const char *key;
    size_t key_len = 0;
    duro_rl_fields f;
    if (op != DURO_RL_RESET && fields_fast(a, &key, &key_len, &f) == 0)
        return duro_rl_request_fields(op, key, key_len, &f, &d, out, err, errlen);
    return duro_args_decode(a, op, from_tree, req, err, errlen);
}
