/* http_namespace.c — namespaces and the server over HTTP (objects/
 * namespace.h, docs/namespaces.md): GET /api/namespaces, GET and DELETE
 * /api/namespaces/{ns}, GET /api/info. */
#include "transport/http_int.h"

#include <stdio.h>
#include <string.h>

#include "objects/namespace.h"
#include "objects/object.h"
#include "objects/registry_req.h"
#include "transport/metrics.h"

#define NS_PREFIX "/api/namespaces"

static const char *const list_params[] = {"prefix", "after", "limit"};
static const char *const Q_LIST[] = {"prefix", "after", "limit", NULL};

int duro_http_is_namespaces(const char *path)
{
    size_t n = sizeof NS_PREFIX - 1;
    return strcmp(path, "/api/info") == 0 ||
           (strncmp(path, NS_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

void duro_http_serve_namespaces(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                                const char *query, int accept_mp, uint64_t t0)
{
    size_t n = sizeof NS_PREFIX - 1;
    int info = strcmp(path, "/api/info") == 0;
    const int route = info ? DURO_ROUTE_INFO : DURO_ROUTE_NAMESPACES;
    const char *name = info || !path[n] ? "" : path + n + 1; /* after "/api/namespaces/" */
    size_t name_len = strlen(name);
    int one = name_len > 0;
    char err[256];
    if (strchr(name, '/') || (!info && path[n] == '/' && !one)) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (cmd != DURO_M_GET && !(one && cmd == DURO_M_DELETE)) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                       one ? "allowed: GET, HEAD, DELETE" : "allowed: GET, HEAD");
        return;
    }
    const char *why;
    if (one && duro_ns_valid(name, name_len, &why) != 0) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_BAD_REQUEST,
                       "invalid namespace");
        return;
    }
    int st = duro_http_query_check(query, info || one ? duro_http_q_none : Q_LIST, err,
                                   sizeof err);
    if (st == DURO_OK && one && cmd == DURO_M_DELETE) { /* the owner removes it */
        st = duro_http_authorize(srv, req, NULL, 0, 1, err, sizeof err); /* admin only */
        if (st != DURO_OK) {
            duro_http_fail(srv, req, route, accept_mp, t0, st, err);
            return;
        }
        duro_http_submit(srv, req, route, accept_mp, t0, DURO_KIND_NAMESPACE,
                         DURO_NAMESPACE_DELETE, NULL, name, name_len);
        return;
    }
    int op = info ? DURO_REGISTRY_INFO : one ? DURO_REGISTRY_NS_GET : DURO_REGISTRY_NS_LIST;
    json_t *args = NULL;
    duro_registry_query *q = NULL;
    if (st == DURO_OK && op == DURO_REGISTRY_NS_LIST)
        st = duro_http_query_object(query, list_params, sizeof list_params / sizeof *list_params,
                                    &args, err, sizeof err);
    else if (st == DURO_OK && op == DURO_REGISTRY_NS_GET &&
             !(args = json_pack("{s:s%}", "namespace", name, name_len))) {
        snprintf(err, sizeof err, "out of memory");
        st = DURO_NOMEM;
    }
    if (st == DURO_OK)
        st = duro_namespace_query_from(op, args, DURO_PARAMS_QUERY, &q, err, sizeof err);
    json_decref(args);
    if (st == DURO_OK) {
        const char *scope; /* the message itself goes to the registry as "*" */
        size_t scope_len;
        duro_registry_query_scope(q, &scope, &scope_len);
        st = duro_http_authorize(srv, req, scope, scope_len, 0, err, sizeof err);
    }
    if (st != DURO_OK) {
        duro_http_fail(srv, req, route, accept_mp, t0, st, err);
        duro_registry_query_free(q);
        return;
    }
    duro_http_submit(srv, req, route, accept_mp, t0, DURO_KIND_REGISTRY, op, q, "*", 1);
}
