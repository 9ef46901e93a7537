/* http_ratelimit.c — the rate limiter over HTTP: POST /ratelimit/:key/check,
 * GET|DELETE /ratelimit/:key (objects/ratelimit_req.h). */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "transport/metrics.h"

static const char *const Q_NS_ENFORCE[] = {"ns", "enforce", NULL};

/* POST /ratelimit/:key/check, GET|DELETE /ratelimit/:key */
void duro_http_serve_ratelimit(duro_http *srv, duro_hreq *req, int cmd, const char *rest,
                               const char *query, int accept_mp, uint64_t t0)
{
    size_t n = strlen(rest);
    int op = -1, route = DURO_ROUTE_OTHER;
    int check = n > 6 && strcmp(rest + n - 6, "/check") == 0; /* a key's '/' is %2F */
    if (check && cmd != DURO_M_POST) {
        duro_http_fail(srv, req, DURO_ROUTE_RL_CHECK, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                       "allowed: POST");
        return;
    }
    if (check) {
        op = DURO_RL_CHECK;
        n -= 6;
        route = DURO_ROUTE_RL_CHECK;
    } else if (cmd == DURO_M_GET) {
        op = DURO_RL_GET;
        route = DURO_ROUTE_RL_GET;
    } else if (cmd == DURO_M_DELETE) {
        op = DURO_RL_RESET;
        route = DURO_ROUTE_RL_RESET;
    } else {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                       "allowed: POST .../check, GET, HEAD, DELETE");
        return;
    }
    char err[256];
    route_info ri = {.op = op, .route = route};
    int st = duro_http_query_check(query, op == DURO_RL_CHECK ? Q_NS_ENFORCE : duro_http_q_ns, err,
                                   sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_authorize(srv, req, ri.ns, ri.ns_len, duro_http_writes(DURO_KIND_RATELIMIT, op),
                                 err, sizeof err);
    char *key = NULL;
    size_t key_len = 0;
    if (st == DURO_OK && duro_pct_decode(rest, n, &key, &key_len) != 0) {
        snprintf(err, sizeof err, "invalid key: bad percent-encoding");
        st = DURO_BAD_REQUEST;
    }
    json_t *body = NULL;
    if (st == DURO_OK && op == DURO_RL_CHECK && req->body.len > 0)
        st = duro_http_body_read(srv, req, &body, NULL, err, sizeof err);
    duro_rl_req *r = NULL;
    if (st == DURO_OK)
        st = duro_rl_request(op, key, key_len, body, &srv->rl_defaults, &r, err, sizeof err);
    json_decref(body);
    free(key);
    if (st == DURO_OK) {
        int enforce = r->enforce;
        st = duro_http_query_flag(query, "enforce", &enforce, err, sizeof err);
        r->enforce = enforce;
    }
    if (st != DURO_OK) {
        duro_rl_req_free(r);
        duro_http_fail(srv, req, route, accept_mp, t0, st, err);
        return;
    }
    duro_http_submit(srv, req, route, accept_mp, t0, DURO_KIND_RATELIMIT, op, r, ri.ns, ri.ns_len);
}

/* ---- /auth: users and password login ----
 *
 * The auth ops of the runtime (objects/auth.h: a login runs owner → worker
 * pool → owner there); HTTP only turns the body, the path and the session
 * cookie into their args, and sets or clears the cookie. */
