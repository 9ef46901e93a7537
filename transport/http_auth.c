/*
 * http_auth.c — /auth over HTTP: the auth kind's ops (objects/auth.h, where a
 * login runs owner -> worker pool -> owner). HTTP only turns the body, the
 * path and the session cookie into their args, and sets or clears the cookie.
 */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/auth.h"
#include "objects/object.h"
#include "common/codec.h"
#include "transport/metrics.h"

/* The session id of a request: the duro_session cookie, or (when access
 * control does not use the header) Authorization: Bearer. NULL if none. */
static char *session_id_of(duro_http *srv, duro_hreq *req)
{
    const char *cookie = evhttp_find_header(&req->in, "Cookie");
    for (const char *p = cookie; p && (p = strstr(p, "duro_session=")) != NULL; p++) {
        if (p != cookie && p[-1] != ' ' && p[-1] != ';')
            continue;
        p += 13;
        size_t n = strcspn(p, "; ");
        return n ? strndup(p, n) : NULL;
    }
    const char *auth = evhttp_find_header(&req->in, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0 &&
        !(srv->access && duro_access_enabled(srv->access)))
        return strdup(auth + 7);
    return NULL;
}

static void add_cookie(duro_hreq *req, const char *id, int64_t max_age_s)
{
    char v[160];
    snprintf(v, sizeof v, "duro_session=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld",
             id ? id : "", (long long)max_age_s);
    evhttp_add_header(&req->out, "Set-Cookie", v);
}

static void auth_reply(duro_msg *m)
{
    call *k = (call *)m;
    duro_metrics_auth(m->op, m->status);
    if (m->status == DURO_OK && m->op == DURO_AUTH_LOGIN) {
        char *sid = duro_tape_str_field(m->body.data, m->body.len, "sessionId");
        const duro_auth_req *r = m->req;
        add_cookie(k->req, sid, r->ttl_ms / 1000);
        free(sid);
    }
    duro_http_reply(k->srv, k->req, k->route, k->accept_mp, k->t0_us, m->status, m->errmsg,
                    &m->body, -1, m);
    duro_http_call_free(k);
}

/* POST /auth/users | /auth/login | /auth/logout | /auth/password, GET /auth/session */
void duro_http_serve_auth(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                          const char *query, int accept_mp, uint64_t t0)
{
    static const char *const credential_fields[] = {"email", "password", "ttlMs"};
    static const char *const password_fields[] = {"currentPassword", "newPassword"};
    static const struct {
        const char *path, *op;
        int get, with_session, body;
    } routes[] = {
        {"users", "auth.register", 0, 0, 1},    {"login", "auth.login", 0, 0, 1},
        {"logout", "auth.logout", 0, 1, 0},     {"session", "auth.session", 1, 1, 0},
        {"password", "auth.password", 0, 1, 1},
    };
    const int route = DURO_ROUTE_AUTH;
    size_t i = 0;
    while (i < sizeof routes / sizeof routes[0] && strcmp(path + 6, routes[i].path))
        i++;
    if (i == sizeof routes / sizeof routes[0]) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_NOT_FOUND, "no such route");
        return;
    }
    if (routes[i].get ? cmd != DURO_M_GET : cmd != DURO_M_POST) {
        duro_http_fail(srv, req, route, accept_mp, t0, DURO_METHOD_NOT_ALLOWED,
                       routes[i].get ? "allowed: GET, HEAD" : "allowed: POST");
        return;
    }
    char err[256];
    route_info ri = {.route = route};
    int st = duro_http_query_check(query, duro_http_q_ns, err, sizeof err);
    if (st == DURO_OK)
        st = duro_http_namespace(req, query, &ri, err, sizeof err);
    int kind = DURO_KIND_AUTH, op = -1;
    duro_op_find(&duro_object_kinds, routes[i].op, strlen(routes[i].op), &kind, &op);
    if (st == DURO_OK)
        st = duro_http_authorize(srv, req, ri.ns, ri.ns_len, duro_http_writes(kind, op), err,
                                 sizeof err);
    char *sid = NULL;
    if (st == DURO_OK && routes[i].with_session && !(sid = session_id_of(srv, req))) {
        snprintf(err, sizeof err, "no session (cookie duro_session or Authorization: Bearer)");
        st = DURO_UNAUTHORIZED;
    }
    json_t *args = NULL;
    int is_password = !strcmp(routes[i].path, "password");
    if (st == DURO_OK && routes[i].body) /* the password route reads JSON only */
        st = is_password
                 ? duro_http_body_parse(req, DURO_ENC_JSON, (size_t)srv->cfg->max_body_bytes, &args,
                                        err, sizeof err)
                 : duro_http_body_read(srv, req, &args, NULL, err, sizeof err);
    if (st == DURO_OK && routes[i].body && !json_is_object(args)) {
        snprintf(err, sizeof err,
                 is_password ? "body must be {\"currentPassword\", \"newPassword\"}"
                             : "body must be {\"email\", \"password\"}");
        st = DURO_BAD_REQUEST;
    }
    if (st == DURO_OK && routes[i].body)
        st = is_password ? duro_fields_check(args, password_fields, 2, NULL, err, sizeof err)
                         : duro_fields_check(args, credential_fields, 3, NULL, err, sizeof err);
    if (st == DURO_OK && !args && !(args = json_object()))
        st = DURO_NOMEM;
    if (st == DURO_OK && sid && json_object_set_new(args, "sessionId", json_string(sid)) != 0)
        st = DURO_NOMEM;
    free(sid);
    if (st == DURO_OK && !strcmp(routes[i].path, "users"))
        json_object_del(args, "ttlMs"); /* HTTP has always taken and ignored it */
    duro_buf mp = {0};
    if (st == DURO_OK && duro_json_to_mp(args, &mp) != 0)
        st = DURO_NOMEM;
    json_decref(args);
    call *k = st == DURO_OK ? duro_http_call_new(srv, req, route, accept_mp, t0) : NULL;
    if (st == DURO_OK && !k) {
        duro_buf_free(&mp);
        return;
    }
    if (st == DURO_OK) {
        duro_op_call c = {
            .op = routes[i].op,
            .op_len = strlen(routes[i].op),
            .ns = ri.ns,
            .ns_len = ri.ns_len,
            .args = {.mp = (const unsigned char *)mp.data, .len = mp.len,
                     .val_enc = DURO_ENC_JSON, .lim = &srv->lim,
                     .peer = duro_conn_peer(req->conn)},
        };
        if ((st = duro_op_build(&duro_object_kinds, &c, &k->m)) != DURO_OK)
            snprintf(err, sizeof err, "%s", k->m.errmsg);
    }
    duro_buf_free(&mp);
    if (st != DURO_OK) {
        if (k)
            duro_http_call_free(k);
        duro_http_fail(srv, req, route, accept_mp, t0, st,
                       st == DURO_NOMEM && !err[0] ? "out of memory" : err);
        return;
    }
    k->m.reply = auth_reply;
    if (!strcmp(routes[i].path, "logout"))
        add_cookie(req, NULL, 0);
    duro_http_call_send(k);
}
