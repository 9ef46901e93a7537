/* registry_req.c — decoding registry requests (see registry_req.h). */
#include "objects/registry_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/kv_req.h"
#include "common/names.h"

static int fail(char *err, size_t errlen, int st, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return st;
}

/* A string field: 1 present (s, n set), 0 absent/null, -1 not a string. */
static int str_field(const json_t *o, const char *name, const char **s, size_t *n)
{
    const json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *s = json_string_value(v);
    *n = json_string_length(v);
    return 1;
}

/* A query parameter; from a query string, an empty string counts as absent
 * ("?limit=&offset="). */
static const json_t *param(const json_t *params, const char *name, duro_params_mode mode)
{
    const json_t *v = json_object_get(params, name);
    return mode == DURO_PARAMS_QUERY && json_is_string(v) && json_string_length(v) == 0 ? NULL
                                                                                         : v;
}

static const char *const query_fields[] = {"type",  "namespace", "key_prefix",
                                           "limit", "offset",    "consistent"};
/* REGISTER / UNREGISTER; "namespace" (second) only when it is read from args */
static const char *const register_fields[] = {"type", "namespace", "key", "size", "metadata"};

/* The string field name, checked by valid() and copied to out (of cap
 * bytes): DURO_OK with *has set, or DURO_BAD_REQUEST. */
static int name_field(const json_t *o, const char *name,
                      int (*valid)(const char *, size_t, const char **), char *out, size_t cap,
                      size_t *len, int *has, int required, const char *what, char *err,
                      size_t errlen)
{
    const char *s, *why;
    size_t n;
    int rc = str_field(o, name, &s, &n);
    if (rc == 1 && n == 0 && !required)
        rc = 0; /* "?type=&namespace=": an empty filter is no filter */
    *has = rc == 1;
    if (rc < 0 || (rc == 0 && required)) {
        snprintf(err, errlen, "\"%s\" must be %s", name, what);
        return DURO_BAD_REQUEST;
    }
    if (rc == 0)
        return DURO_OK;
    if (valid(s, n, &why) != 0 || n >= cap) {
        snprintf(err, errlen, "invalid %s: %s", name, why);
        return DURO_BAD_REQUEST;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    *len = n;
    return DURO_OK;
}

static int type_field(const json_t *o, char *type, size_t *len, int *has, int required, char *err,
                      size_t errlen)
{
    return name_field(o, "type", duro_resource_type_valid, type, DURO_RESOURCE_TYPE_MAX + 1, len,
                      has, required, "a string like \"kv\" or \"do\"", err, errlen);
}

static int ns_field(const json_t *o, char *ns, size_t *len, int *has, int required, char *err,
                    size_t errlen)
{
    return name_field(o, "namespace", duro_ns_valid, ns, DURO_NS_MAX + 1, len, has, required,
                      "a namespace name", err, errlen);
}

int duro_registry_query_from(const json_t *params, duro_params_mode mode,
                             duro_registry_query **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json_is_object(params))
        return fail(err, errlen, DURO_BAD_REQUEST, "query parameters must be a map");
    int st = duro_fields_check(params, query_fields, sizeof query_fields / sizeof *query_fields,
                               NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    duro_registry_query *q = calloc(1, sizeof *q);
    if (!q)
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    q->limit = DURO_REGISTRY_LIST_DEFAULT;
    st = type_field(params, q->type, &q->type_len, &q->has_type, 0, err, errlen);
    if (st == DURO_OK)
        st = ns_field(params, q->ns, &q->ns_len, &q->has_ns, 0, err, errlen);
    if (st != DURO_OK) {
        duro_registry_query_free(q);
        return st;
    }
    const char *s, *why;
    size_t n;
    int rc = str_field(params, "key_prefix", &s, &n);
    if (rc < 0 || (rc == 1 && n > DURO_KEY_MAX) ||
        (rc == 1 && n && duro_key_valid(s, n, &why) != 0)) {
        duro_registry_query_free(q);
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "\"key_prefix\" must be a valid key prefix (at most 2048 bytes"
                    " of UTF-8, no NUL)");
    }
    if (rc == 1 && n) {
        if (!(q->prefix = malloc(n + 1))) {
            duro_registry_query_free(q);
            return fail(err, errlen, DURO_NOMEM, "out of memory");
        }
        memcpy(q->prefix, s, n);
        q->prefix[n] = '\0';
        q->prefix_len = n;
    }
    long long x;
    const json_t *v = param(params, "limit", mode);
    if ((rc = duro_param_int(v, mode, 0, DURO_REGISTRY_LIST_MAX, &x)) < 0) {
        duro_registry_query_free(q);
        return duro_param_error(err, errlen, "limit", "an integer from 0 to 1000", v,
                                JSON_INTEGER, mode);
    }
    if (rc == 0)
        q->limit = x;
    v = param(params, "offset", mode);
    if ((rc = duro_param_int(v, mode, 0, DURO_REGISTRY_OFFSET_MAX, &x)) < 0) {
        duro_registry_query_free(q);
        return duro_param_error(err, errlen, "offset", "an integer from 0 to 1000000000", v,
                                JSON_INTEGER, mode);
    }
    if (rc == 0)
        q->offset = x;
    int consistent;
    v = param(params, "consistent", mode);
    if (duro_param_flag(v, mode, &consistent) != 0) {
        duro_registry_query_free(q);
        return duro_param_error(err, errlen, "consistent",
                                mode == DURO_PARAMS_TYPED ? "true or false"
                                                          : "1, true, 0 or false",
                                v, JSON_TRUE, mode);
    }
    *out = q;
    return DURO_OK;
}

void duro_registry_query_scope(const duro_registry_query *q, const char **ns, size_t *len)
{
    *ns = q->has_ns ? q->ns : "*";
    *len = q->has_ns ? q->ns_len : 1;
}

int duro_resource_request(int op, const json_t *args, char *ns, size_t *ns_len,
                          duro_resource_req **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json_is_object(args))
        return fail(err, errlen, DURO_BAD_REQUEST,
                    "body must be an object like {\"type\", \"namespace\", \"key\"}");
    /* UNREGISTER takes type, namespace, key; without ns, namespace is not
     * read (the binary protocol's frame names it) and so not allowed */
    const char *names[5];
    size_t n_names = 0;
    for (size_t i = 0; i < (op == DURO_RESOURCE_REGISTER ? 5u : 3u); i++)
        if (i != 1 || ns)
            names[n_names++] = register_fields[i];
    int st = duro_fields_check(args, names, n_names, NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    duro_resource_req *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    int has;
    st = type_field(args, r->type, &r->type_len, &has, 1, err, errlen);
    if (st == DURO_OK && r->type_len == 2 && memcmp(r->type, "kv", 2) == 0)
        st = fail(err, errlen, DURO_BAD_REQUEST,
                  "\"kv\" resources are tracked automatically: write the key"
                  " with the KV API instead");
    if (st == DURO_OK && ns)
        st = ns_field(args, ns, ns_len, &has, 1, err, errlen);
    const char *s, *why;
    size_t n;
    if (st == DURO_OK) {
        int rc = str_field(args, "key", &s, &n);
        if (rc != 1 || duro_key_valid(s, n, &why) != 0)
            st = fail(err, errlen, DURO_BAD_REQUEST,
                      "\"key\" must be a string of 1 to 2048 bytes of UTF-8 without NUL");
        else if (!(r->key = malloc(n + 1)))
            st = fail(err, errlen, DURO_NOMEM, "out of memory");
        else {
            memcpy(r->key, s, n);
            r->key[n] = '\0';
            r->key_len = n;
        }
    }
    if (st == DURO_OK && op == DURO_RESOURCE_REGISTER) {
        long long size = 0;
        const json_t *v = json_object_get(args, "size");
        if (duro_param_int(v, DURO_PARAMS_TYPED, 0, DURO_RESOURCE_SIZE_MAX, &size) < 0)
            st = duro_param_error(err, errlen, "size", "an integer from 0 to 2^53-1 (bytes)", v,
                                  JSON_INTEGER, DURO_PARAMS_TYPED);
        r->size = size;
        const json_t *meta = json_object_get(args, "metadata");
        if (st == DURO_OK && meta && !json_is_null(meta) &&
            duro_meta_encode(meta, &r->meta, &r->meta_len) != 0)
            st = fail(err, errlen, DURO_BAD_REQUEST,
                      "\"metadata\" must be an object of at most 16384 bytes of JSON");
    }
    if (st != DURO_OK) {
        duro_resource_req_free(r);
        return st;
    }
    *out = r;
    return DURO_OK;
}

static const char *const ns_list_fields[] = {"prefix", "after", "limit"};
static const char *const ns_get_fields[] = {"namespace"};

int duro_namespace_query_from(int op, const json_t *params, duro_params_mode mode,
                              duro_registry_query **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!params || json_is_null(params))
        params = NULL;
    else if (!json_is_object(params))
        return fail(err, errlen, DURO_BAD_REQUEST, "args must be a map");
    const char *const *names = op == DURO_REGISTRY_NS_LIST  ? ns_list_fields
                               : op == DURO_REGISTRY_NS_GET ? ns_get_fields
                                                            : NULL;
    size_t n_names = op == DURO_REGISTRY_NS_LIST ? 3 : op == DURO_REGISTRY_NS_GET ? 1 : 0;
    int st;
    if (params && (st = duro_fields_check(params, names, n_names, NULL, err, errlen)) != DURO_OK)
        return st;
    duro_registry_query *q = calloc(1, sizeof *q);
    if (!q)
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    q->limit = DURO_REGISTRY_LIST_DEFAULT;
    st = DURO_OK;
    if (op == DURO_REGISTRY_NS_GET)
        st = ns_field(params, q->ns, &q->ns_len, &q->has_ns, 1, err, errlen);
    if (op == DURO_REGISTRY_NS_LIST && params) {
        char prefix[DURO_NS_MAX + 1];
        size_t n = 0;
        int has = 0;
        /* a prefix of a valid name is a valid name (or empty: no filter) */
        st = name_field(params, "prefix", duro_ns_valid, prefix, sizeof prefix, &n, &has, 0,
                        "a namespace prefix", err, errlen);
        if (st == DURO_OK && has) {
            if (!(q->prefix = malloc(n + 1)))
                st = fail(err, errlen, DURO_NOMEM, "out of memory");
            else {
                memcpy(q->prefix, prefix, n + 1);
                q->prefix_len = n;
            }
        }
        if (st == DURO_OK)
            st = name_field(params, "after", duro_ns_valid, q->after, sizeof q->after,
                            &q->after_len, &q->has_after, 0, "a namespace name (the cursor)",
                            err, errlen);
        long long x;
        const json_t *v = param(params, "limit", mode);
        int rc;
        if (st == DURO_OK && (rc = duro_param_int(v, mode, 0, DURO_REGISTRY_LIST_MAX, &x)) < 0)
            st = duro_param_error(err, errlen, "limit", "an integer from 0 to 1000", v,
                                  JSON_INTEGER, mode);
        else if (st == DURO_OK && rc == 0)
            q->limit = x;
    }
    if (st != DURO_OK) {
        duro_registry_query_free(q);
        return st;
    }
    *out = q;
    return DURO_OK;
}

static int query_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                      size_t errlen)
{
    (void)a;
    if (op == DURO_REGISTRY_NS_LIST || op == DURO_REGISTRY_NS_GET || op == DURO_REGISTRY_INFO)
        return duro_namespace_query_from(op, args, DURO_PARAMS_TYPED, (duro_registry_query **)req,
                                         err, errlen);
    if (op != DURO_REGISTRY_LIST && op != DURO_REGISTRY_STATS) {
        snprintf(err, errlen, "unknown operation");
        return DURO_BAD_REQUEST;
    }
    return duro_registry_query_from(args, DURO_PARAMS_TYPED, (duro_registry_query **)req, err,
                                    errlen);
}

static int empty_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                      size_t errlen)
{
    (void)op;
    (void)a;
    *req = NULL;
    if (!json_is_object(args))
        return fail(err, errlen, DURO_BAD_REQUEST, "args must be a map");
    int st = duro_fields_check(args, NULL, 0, NULL, err, errlen);
    if (st != DURO_OK)
        return st;
    /* nothing to say, but a built call has a request (kind.h) */
    if (!(*req = calloc(1, 1)))
        return fail(err, errlen, DURO_NOMEM, "out of memory");
    return DURO_OK;
}

int duro_namespace_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, empty_tree, req, err, errlen);
}

static int resource_tree(int op, const json_t *args, const duro_args *a, void **req, char *err,
                         size_t errlen)
{
    (void)a;
    return duro_resource_request(op, args, NULL, NULL, (duro_resource_req **)req, err, errlen);
}

int duro_registry_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, query_tree, req, err, errlen);
}

int duro_resource_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen)
{
    return duro_args_decode(a, op, resource_tree, req, err, errlen);
}
