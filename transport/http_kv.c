/*
 * http_kv.c — the KV kind over HTTP: /storage/:key, /storage/list,
 * /storage/batch/..., /storage/clear, /api/storage/kv/{ns}/{key} and the
 * /api/storage snapshot. Path, query,
 * headers (If-Match, If-None-Match) and body fill the request through the KV
 * decoders (objects/kv_req.h), the same rules as every other way in.
 */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "transport/metrics.h"

static const char *const list_params[] = {"prefix", "start",  "startAfter", "end",
                                          "limit",  "cursor", "reverse",    "values"};

static const char *const Q_NS_META[] = {"ns", "meta", NULL};

static const char *const Q_META[] = {"meta", NULL};

/* ttlMs: only with an application/octet-stream body (build_kv) */
static const char *const Q_NS_PUT[] = {"ns", "ttlMs", NULL};

static const char *const Q_PUT[] = {"ttlMs", NULL};

static const char *const Q_NS_LIST[] = {"ns",    "prefix", "start",   "startAfter", "end",
                                        "limit", "cursor", "reverse", "values",     NULL};

static const char *const Q_LIST[] = {"prefix", "start",   "startAfter", "end", "limit",
                                     "cursor", "reverse", "values",     NULL};

/* Maps a method + /storage/... rest to an op; -1 unknown path, -2 wrong method. */
static int storage_op(int cmd, const char *rest, const char **allowed)
{
    if (strcmp(rest, "list") == 0 && cmd == DURO_M_GET)
        return DURO_KV_LIST;
    if (cmd == DURO_M_POST) {
        if (strcmp(rest, "batch/get") == 0)
            return DURO_KV_BATCH_GET;
        if (strcmp(rest, "batch/set") == 0)
            return DURO_KV_BATCH_SET;
        if (strcmp(rest, "batch/delete") == 0)
            return DURO_KV_BATCH_DELETE;
        if (strcmp(rest, "clear") == 0)
            return DURO_KV_CLEAR;
    }
    switch (cmd) {
    case DURO_M_GET:
        return DURO_KV_GET;
    case DURO_M_PUT:
    case DURO_M_POST:
        return DURO_KV_PUT;
    case DURO_M_DELETE:
        return DURO_KV_DELETE;
    default:
        *allowed = "allowed: GET, HEAD, PUT, POST, DELETE";
        return -2;
    }
}

static const int op_routes[DURO_KV_OP_COUNT] = {
    [DURO_KV_GET] = DURO_ROUTE_KV_GET,
    [DURO_KV_PUT] = DURO_ROUTE_KV_PUT,
    [DURO_KV_DELETE] = DURO_ROUTE_KV_DELETE,
    [DURO_KV_BATCH_GET] = DURO_ROUTE_KV_BATCH_GET,
    [DURO_KV_BATCH_SET] = DURO_ROUTE_KV_BATCH_SET,
    [DURO_KV_BATCH_DELETE] = DURO_ROUTE_KV_BATCH_DELETE,
    [DURO_KV_LIST] = DURO_ROUTE_KV_LIST,
    [DURO_KV_CLEAR] = DURO_ROUTE_KV_CLEAR,
    [DURO_KV_SNAPSHOT_GET] = DURO_ROUTE_SNAPSHOT,
    [DURO_KV_SNAPSHOT_PATCH] = DURO_ROUTE_SNAPSHOT,
};

/* The query parameters a KV route takes. */
static const char *const *kv_query_params(const route_info *ri)
{
    switch (ri->op) {
    case DURO_KV_GET:
        return ri->ns_in_path ? Q_META : Q_NS_META;
    case DURO_KV_LIST:
        return ri->ns_in_path ? Q_LIST : Q_NS_LIST;
    case DURO_KV_PUT:
        return ri->ns_in_path ? Q_PUT : Q_NS_PUT;
    default:
        return ri->ns_in_path ? duro_http_q_none : duro_http_q_ns;
    }
}

/* Fills the request of a KV op from path, query, headers and body. */
static int build_kv(duro_http *srv, duro_hreq *req, const route_info *ri, const char *query,
                    duro_kv_req *r, char *err, size_t errlen)
{
    int st;
    if (ri->key_raw) {
        char *key;
        size_t n;
        if (duro_pct_decode(ri->key_raw, ri->key_raw_len, &key, &n) != 0) {
            snprintf(err, errlen, "invalid key: bad percent-encoding");
            return DURO_BAD_REQUEST;
        }
        st = duro_kv_add_key(r, key, n, err, errlen);
        free(key);
        if (st != DURO_OK)
            return st;
    }
    const char *im = evhttp_find_header(&req->in, "If-Match");
    const char *inm = evhttp_find_header(&req->in, "If-None-Match");
    if (im &&
        (ri->op == DURO_KV_PUT || ri->op == DURO_KV_DELETE || ri->op == DURO_KV_SNAPSHOT_PATCH)) {
        r->if_match = duro_kv_parse_etag(im);
        if (r->if_match < 0) {
            snprintf(err, errlen, "If-Match must be a version like \"12\"");
            return DURO_BAD_REQUEST;
        }
    }
    if (inm && ri->op == DURO_KV_PUT) {
        if (strcmp(inm, "*") != 0) {
            snprintf(err, errlen, "only If-None-Match: * is supported");
            return DURO_BAD_REQUEST;
        }
        r->if_none_match = 1;
    }
    if (ri->op == DURO_KV_GET &&
        (st = duro_http_query_flag(query, "meta", &r->with_meta, err, errlen)) != DURO_OK)
        return st;
    if (ri->op == DURO_KV_LIST) {
        json_t *params;
        if ((st = duro_http_query_object(query, list_params,
                                         sizeof list_params / sizeof list_params[0], &params, err,
                                         errlen)) != DURO_OK)
            return st;
        st = duro_kv_decode_list(r, params, DURO_PARAMS_QUERY, err, errlen);
        json_decref(params);
        return st;
    }
    if (ri->op == DURO_KV_SNAPSHOT_GET)
        r->max_bytes = srv->limits.max_snapshot_bytes;
    if (ri->op != DURO_KV_PUT && ri->op != DURO_KV_BATCH_GET && ri->op != DURO_KV_BATCH_SET &&
        ri->op != DURO_KV_BATCH_DELETE && ri->op != DURO_KV_SNAPSHOT_PATCH)
        return DURO_OK;

    int octet = duro_http_is_octet(evhttp_find_header(&req->in, "Content-Type"));
    if (ri->op == DURO_KV_PUT) {
        char *ttl = NULL;
        size_t tl;
        int rc = duro_query_get(query, "ttlMs", &ttl, &tl);
        if (rc != 0 && !octet) {
            free(ttl);
            snprintf(err, errlen, "the query parameter \"ttlMs\" goes with an "
                                  "application/octet-stream body; a JSON body has its own");
            return DURO_BAD_REQUEST;
        }
        if (rc < 0) {
            snprintf(err, errlen, "bad percent-encoding in query parameter \"ttlMs\"");
            return DURO_BAD_REQUEST;
        }
        if (rc > 0) {
            json_t *v = json_stringn_nocheck(ttl, tl);
            free(ttl);
            st = v ? duro_kv_put_ttl(r, v, DURO_PARAMS_QUERY, err, errlen) : DURO_NOMEM;
            json_decref(v);
            if (st != DURO_OK)
                return st;
        }
        /* raw bytes: the body is the value (docs/kv.md, "Binary values") */
        if (octet)
            return duro_kv_put_bytes(r, req->body.data, req->body.len, &srv->limits, err, errlen);
        const char *ct = evhttp_find_header(&req->in, "Content-Type");
        if (duro_http_body_encoding(ct) < 0) {
            snprintf(err, errlen,
                     "Content-Type must be application/json, application/msgpack or "
                     "application/octet-stream, not %.60s%s",
                     ct, strncmp(ct, "application/x-www-form-urlencoded", 33) == 0
                             ? " (with curl -d, add -H 'Content-Type: application/json')"
                             : "");
            return DURO_UNSUPPORTED_MEDIA_TYPE;
        }
    }
    int enc;
    json_t *body;
    if ((st = duro_http_body_read(srv, req, &body, &enc, err, errlen)) != DURO_OK)
        return st;
    switch (ri->op) {
    case DURO_KV_PUT:
        st = duro_kv_decode_put(r, body, enc, &srv->limits, err, errlen);
        break;
    case DURO_KV_BATCH_SET:
        st = duro_kv_decode_entries(r, body, enc, &srv->limits, err, errlen);
        break;
    case DURO_KV_SNAPSHOT_PATCH:
        st = duro_kv_decode_patch(r, body, enc, &srv->limits, err, errlen);
        break;
    default:
        st = duro_kv_decode_keys(r, body, err, errlen);
        break;
    }
    json_decref(body);
    return st;
}

/* The KV routes: /storage/..., /api/storage/kv/{ns}[/{key}], /api/storage. */
void duro_http_serve_kv(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                        const char *query, int accept_mp, uint64_t t0)
{
    char err[256];
    const char *allowed = NULL;
    route_info ri = {.op = -1, .route = DURO_ROUTE_OTHER};
    if (strcmp(path, "/api/storage") == 0 || strcmp(path, "/api/storage/") == 0) {
        ri.op = cmd == DURO_M_GET     ? DURO_KV_SNAPSHOT_GET
                : cmd == DURO_M_PATCH ? DURO_KV_SNAPSHOT_PATCH
                                      : -2;
        allowed = "allowed: GET, HEAD, PATCH, OPTIONS";
    } else if (strncmp(path, "/storage/", 9) == 0) {
        const char *rest = path + 9;
        ri.op = storage_op(cmd, rest, &allowed);
        ri.key_raw = rest;
        ri.key_raw_len = strlen(rest);
        if (ri.op != DURO_KV_GET && ri.op != DURO_KV_PUT && ri.op != DURO_KV_DELETE)
            ri.key_raw = NULL;
    } else if (strncmp(path, "/api/storage/kv/", 16) == 0) {
        const char *s = path + 16;
        const char *slash = strchr(s, '/');
        size_t nlen = slash ? (size_t)(slash - s) : strlen(s);
        if (nlen == 0) {
            ri.op = -1;
        } else {
            /* decoded and checked by duro_http_namespace(); 3 encoded bytes a byte at most */
            ri.ns_raw = s;
            ri.ns_raw_len = nlen;
            ri.ns_in_path = 1;
            if (nlen > DURO_NS_MAX * 3) {
                duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_BAD_REQUEST,
                               "invalid namespace: longer than 128 bytes");
                return;
            }
            if (!slash || (slash[1] == '\0' && cmd == DURO_M_GET)) {
                if (cmd == DURO_M_GET) {
                    ri.op = DURO_KV_LIST;
                } else {
                    ri.op = -2;
                    allowed = "allowed: GET, HEAD";
                }
            } else {
                const char *rest = slash + 1;
                switch (cmd) {
                case DURO_M_GET:
                    ri.op = DURO_KV_GET;
                    break;
                case DURO_M_PUT:
                case DURO_M_POST:
                    ri.op = DURO_KV_PUT;
                    break;
                case DURO_M_DELETE:
                    ri.op = DURO_KV_DELETE;
                    break;
                default:
                    ri.op = -2;
                    allowed = "allowed: GET, HEAD, PUT, POST, DELETE";
                }
                ri.key_raw = rest;
                ri.key_raw_len = strlen(rest);
            }
        }
    }
    if (ri.op == -1) {
        duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (ri.op == -2) {
        duro_http_fail(srv, req, DURO_ROUTE_OTHER, accept_mp, t0, DURO_METHOD_NOT_ALLOWED, allowed);
        return;
    }
    ri.route = op_routes[ri.op];

    duro_kv_req *r = duro_kv_req_new(ri.op);
    if (!r) {
        duro_http_fail(srv, req, ri.route, accept_mp, t0, DURO_NOMEM, "out of memory");
        return;
    }
    int st = duro_http_query_check(query, kv_query_params(&ri), err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_authorize(srv, req, ri.ns, ri.ns_len, duro_http_writes(DURO_KIND_KV, ri.op), err,
                                 sizeof err);
    if (st == DURO_OK)
        st = build_kv(srv, req, &ri, query, r, err, sizeof err);
    if (st != DURO_OK) {
        duro_http_fail(srv, req, ri.route, accept_mp, t0, st, err);
        duro_kv_req_free(r);
        return;
    }
    duro_http_submit(srv, req, ri.route, accept_mp, t0, DURO_KIND_KV, ri.op, r, ri.ns, ri.ns_len);
}
