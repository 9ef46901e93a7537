/*
 * http_sql.c — the SQL kind over HTTP: POST /api/storage/d1/{ns}/exec,
 * /query and /batch (objects/sql.h, docs/sql.md). The body (JSON or
 * msgpack) goes to the kind's decoder; a token that may only read gets a
 * read-only request (runtime/kind.h, DURO_WRITES_IF_STMT).
 */
#include "transport/http_int.h"

#include <stdio.h>
#include <string.h>

#include "objects/object.h"
#include "objects/sql.h"
#include "transport/metrics.h"

void duro_http_serve_sql(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                         const char *query, int accept_mp, uint64_t t0)
{
    static const char *const ops[] = {
        [DURO_SQL_EXEC] = "exec", [DURO_SQL_QUERY] = "query", [DURO_SQL_BATCH] = "batch"};
    const int route = DURO_ROUTE_SQL;
    const char *slash = strchr(path, '/');
    int op = -1;
    for (int i = 0; slash && i < DURO_SQL_OP_COUNT; i++)
        if (strcmp(slash + 1, ops[i]) == 0)
            op = i;
    if (!slash || slash == path || op < 0) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (cmd != DURO_M_POST) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED, "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.op = op,
                     .route = route,
                     .ns_in_path = 1,
                     .ns_raw = path,
                     .ns_raw_len = (size_t)(slash - path)};
    if (ri.ns_raw_len > DURO_NS_MAX * 3) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_BAD_REQUEST,
                       "invalid namespace: longer than 128 bytes");
        return;
    }
    int st = duro_http_query_check(query, duro_http_q_none, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    int read_only = 0;
    if (st == DURO_OK &&
        (st = duro_http_authorize(srv, req, ri.ns, ri.ns_len, 1, err, sizeof err)) != DURO_OK) {
        /* a token that may only read runs read-only statements (kind.h) */
        char err2[256];
        if (duro_http_authorize(srv, req, ri.ns, ri.ns_len, 0, err2, sizeof err2) == DURO_OK) {
            st = DURO_OK;
            read_only = 1;
        }
    }
    json_t *body = NULL;
    if (st == DURO_OK)
        st = duro_http_body_read(srv, req, &body, NULL, err, sizeof err);
    duro_sql_req *r = NULL;
    if (st == DURO_OK)
        st = duro_sql_request(op, body, &srv->lim, read_only, &r, err, sizeof err);
    json_decref(body);
    if (st != DURO_OK) {
        duro_http_fail(srv, req, route, accept_mp, t0, st,
                       st == DURO_NOMEM && !err[0] ? "out of memory" : err);
        return;
    }
    duro_http_submit(srv, req, route, accept_mp, t0, DURO_KIND_SQL, op, r, ri.ns, ri.ns_len);
}
