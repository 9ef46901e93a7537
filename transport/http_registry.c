/* http_registry.c — the StorageRegistry over HTTP: GET /api/resources/list
 * and /stats, POST /api/resources/register and /unregister
 * (objects/registry_req.h). */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "transport/metrics.h"
#include "objects/registry_req.h"

static const char *const registry_params[] = {"type",  "namespace", "key_prefix",
                                              "limit", "offset",    "consistent"};

static const char *const resource_params[] = {"type", "namespace", "key"};

static const char *const Q_REGISTRY[] = {"type",   "namespace",  "key_prefix", "limit",
                                         "offset", "consistent", NULL};

static const char *const Q_RESOURCE[] = {"type", "namespace", "key", NULL};

/* GET /api/resources/list and /stats (the registry actor), POST
 * /api/resources/register and DELETE /api/resources/unregister (the owner of
 * the resource's namespace; unregister reads a body or the query). */
void duro_http_serve_resources(duro_http *srv, duro_hreq *req, int cmd, const char *rest,
                               const char *query, int accept_mp, uint64_t t0)
{
    static const struct {
        const char *path;
        int cmd;
        const char *allowed;
        int kind, op;
        const char *const *params;
    } routes[] = {
        {"list", DURO_M_GET, "allowed: GET, HEAD", DURO_KIND_REGISTRY, DURO_REGISTRY_LIST,
         Q_REGISTRY},
        {"stats", DURO_M_GET, "allowed: GET, HEAD", DURO_KIND_REGISTRY, DURO_REGISTRY_STATS,
         Q_REGISTRY},
        {"register", DURO_M_POST, "allowed: POST", DURO_KIND_RESOURCE, DURO_RESOURCE_REGISTER,
         duro_http_q_none},
        {"unregister", DURO_M_DELETE, "allowed: DELETE", DURO_KIND_RESOURCE,
         DURO_RESOURCE_UNREGISTER, Q_RESOURCE},
    };
    const int route = DURO_ROUTE_RESOURCES;
    size_t i = 0;
    while (i < sizeof routes / sizeof routes[0] && strcmp(rest, routes[i].path) != 0)
        i++;
    if (i == sizeof routes / sizeof routes[0]) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (cmd != routes[i].cmd) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED, routes[i].allowed);
        return;
    }
    char err[256], ns[DURO_NS_MAX + 1] = "*";
    size_t ns_len = 1;
    void *rq = NULL;
    json_t *args = NULL;
    int st = duro_http_query_check(query, routes[i].params, err, sizeof err);
    if (st != DURO_OK) {
        /* answered below */
    } else if (routes[i].kind == DURO_KIND_REGISTRY) {
        st = duro_http_query_object(query, registry_params,
                                    sizeof registry_params / sizeof *registry_params, &args, err,
                                    sizeof err);
        duro_registry_query *q = NULL;
        if (st == DURO_OK && (st = duro_registry_query_from(args, DURO_PARAMS_QUERY, &q, err,
                                                            sizeof err)) == DURO_OK) {
            const char *scope; /* the message itself goes to the registry as "*" */
            size_t scope_len;
            duro_registry_query_scope(q, &scope, &scope_len);
            st = duro_http_authorize(srv, req, scope, scope_len, 0, err, sizeof err);
        }
        rq = q;
    } else {
        int body = req->body.len > 0;
        if (routes[i].op == DURO_RESOURCE_UNREGISTER && !body)
            st = duro_http_query_object(query, resource_params,
                                        sizeof resource_params / sizeof *resource_params, &args,
                                        err, sizeof err);
        else if (routes[i].op == DURO_RESOURCE_UNREGISTER && query && *query) {
            snprintf(err, sizeof err, "give the resource in the body or in the query, not both");
            st = DURO_BAD_REQUEST;
        } else
            st = duro_http_body_read(srv, req, &args, NULL, err, sizeof err);
        duro_resource_req *r = NULL;
        if (st == DURO_OK)
            st = duro_resource_request(routes[i].op, args, ns, &ns_len, &r, err, sizeof err);
        rq = r;
        if (st == DURO_OK)
            st = duro_http_authorize(srv, req, ns, ns_len,
                                     duro_http_writes(DURO_KIND_RESOURCE, routes[i].op), err,
                                     sizeof err);
    }
    json_decref(args);
    if (st != DURO_OK) {
        duro_http_fail(srv, req, route, accept_mp, t0, st, err);
        duro_kind_get(&duro_object_kinds, routes[i].kind)->free(rq);
        return;
    }
    duro_http_submit(srv, req, route, accept_mp, t0, routes[i].kind, routes[i].op, rq, ns, ns_len);
}
