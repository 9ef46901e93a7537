/* http_session.c — sessions over HTTP: POST /sessions, GET|PUT|DELETE
 * /sessions/:id, GET|DELETE /users/:userId/sessions (objects/session_req.h). */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "transport/metrics.h"
#include "objects/session_req.h"

static const char *const Q_NS_EXCEPT[] = {"ns", "exceptId", NULL};

/* POST /sessions, GET|PUT|DELETE /sessions/:id, GET|DELETE /users/:userId/sessions */
void duro_http_serve_sessions(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                              const char *query, int accept_mp, uint64_t t0)
{
    const int route = DURO_ROUTE_SESSION;
    const char *raw = NULL;
    size_t raw_len = 0;
    int op = -1;
    if (strcmp(path, "/sessions") == 0 || strcmp(path, "/sessions/") == 0) {
        op = cmd == DURO_M_POST ? DURO_SESSION_CREATE : -2;
    } else if (strncmp(path, "/sessions/", 10) == 0) {
        raw = path + 10;
        raw_len = strlen(raw);
        op = cmd == DURO_M_GET      ? DURO_SESSION_GET
             : cmd == DURO_M_PUT    ? DURO_SESSION_PUT
             : cmd == DURO_M_DELETE ? DURO_SESSION_DELETE
                                    : -2;
    } else {
        raw = path + 7;            /* "/users/" */
        raw_len = strlen(raw) - 9; /* "/sessions" */
        op = cmd == DURO_M_GET      ? DURO_SESSION_LIST_USER
             : cmd == DURO_M_DELETE ? DURO_SESSION_REVOKE_USER
                                    : -2;
    }
    if (op == -2) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                       raw ? "allowed: GET, HEAD, PUT, DELETE" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = duro_http_query_check(
        query, op == DURO_SESSION_REVOKE_USER ? Q_NS_EXCEPT : duro_http_q_ns, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_authorize(srv, req, ri.ns, ri.ns_len,
                                 duro_http_writes(DURO_KIND_SESSION, op), err, sizeof err);
    char *id = NULL;
    size_t id_len = 0;
    if (st == DURO_OK && raw && duro_pct_decode(raw, raw_len, &id, &id_len) != 0) {
        snprintf(err, sizeof err, "bad percent-encoding in the path");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && (op == DURO_SESSION_CREATE || op == DURO_SESSION_PUT ||
                          (op == DURO_SESSION_REVOKE_USER && req->body.len > 0)))
        st = duro_http_body_read(srv, req, &body, NULL, err, sizeof err);
    if (st == DURO_OK && op == DURO_SESSION_REVOKE_USER) {
        char *v;
        size_t vn;
        if (duro_query_get(query, "exceptId", &v, &vn) == 1) {
            if (!body)
                body = json_object();
            if (body && json_is_object(body))
                json_object_set_new(body, "exceptId", json_stringn_nocheck(v, vn));
            free(v);
        }
    }
    duro_session_req *r = NULL;
    if (st == DURO_OK)
        st = duro_session_request(op, id, id_len, body, &r, err, sizeof err);
    json_decref(body);
    free(id);
    if (st != DURO_OK) {
        duro_http_fail(srv, req, route, accept_mp, t0, st, err);
        return;
    }
    duro_http_submit(srv, req, route, accept_mp, t0, DURO_KIND_SESSION, op, r, ri.ns, ri.ns_len);
}
