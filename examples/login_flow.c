/*
 * login_flow.c — a user's way through durod's HTTP /auth API (docs/auth.md),
 * driven by libevent's HTTP client:
 *
 *   login_flow BASE_URL NAMESPACE
 *   login_flow http://127.0.0.1:8787 app
 *
 *   1. POST /auth/users     create a user with a random email      -> 201
 *   2. POST /auth/login     the session: cookie duro_session=<id>  -> 200
 *   3. GET  /auth/session   with that cookie, the same userId      -> 200
 *   4. POST /auth/logout    with that cookie                       -> 200
 *   5. GET  /auth/session   the same cookie, now logged out        -> 401
 *
 * It prints each step and the status it got, and exits 0 only if every step
 * answered as expected, 1 at the first one that did not (or if durod cannot be
 * reached), 2 for bad arguments. The email is user-<random hex>@example.com,
 * so the program can run again and again against the same namespace.
 *
 * All requests go over one evhttp_connection (keep-alive) on one event_base;
 * each step makes its request and runs event_base_dispatch until the reply
 * callback has stored the answer. Replies are parsed with jansson. The session
 * id is a bearer secret: it is compared, never printed.
 *
 * Build: cc login_flow.c $(pkg-config --cflags --libs libevent jansson)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <jansson.h>

#define TIMEOUT_S 10
#define MAX_BODY (1 << 20)

typedef struct reply {
    int status;   /* 0: no reply (connection refused, reset, timeout) */
    char *body;   /* NUL-terminated, NULL if none */
    char *cookie; /* the value of duro_session= in Set-Cookie, NULL if none */
} reply;

typedef struct client {
    struct event_base *base;
    struct evhttp_connection *conn;
    char host[256];
    char prefix[512]; /* the base URL's path without its trailing '/' */
    char *ns_q;       /* the namespace, percent-encoded */
    reply r;          /* the last step's reply */
} client;

static void reply_clear(reply *r)
{
    free(r->body);
    free(r->cookie);
    memset(r, 0, sizeof *r);
}

/* duro_session=<value> out of one Set-Cookie header (value up to ';'). */
static char *session_cookie(const char *set_cookie)
{
    static const char name[] = "duro_session=";
    while (*set_cookie == ' ')
        set_cookie++;
    if (strncmp(set_cookie, name, sizeof name - 1) != 0)
        return NULL;
    const char *v = set_cookie + sizeof name - 1;
    size_t n = strcspn(v, ";");
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
    return out;
}

/* The reply of one step: stores status, body and session cookie, then stops
 * the loop. req is NULL (or its code 0) when no reply came. */
static void on_reply(struct evhttp_request *req, void *arg)
{
    client *c = arg;
    reply_clear(&c->r);
    if (req && evhttp_request_get_response_code(req) > 0) {
        c->r.status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n > MAX_BODY)
            n = MAX_BODY;
        if ((c->r.body = malloc(n + 1)) != NULL) {
            evbuffer_copyout(in, c->r.body, n);
            c->r.body[n] = '\0';
        }
        /* a reply may carry several Set-Cookie headers: take ours */
        for (struct evkeyval *h = evhttp_request_get_input_headers(req)->tqh_first; h;
             h = h->next.tqe_next) {
            if (!c->r.cookie && evutil_ascii_strcasecmp(h->key, "Set-Cookie") == 0)
                c->r.cookie = session_cookie(h->value);
        }
    }
    event_base_loopexit(c->base, NULL);
}

/* One request on the shared connection; runs the loop until its reply. body
 * (JSON) may be NULL; session, if not NULL, goes in Cookie: duro_session=. */
static int request(client *c, enum evhttp_cmd_type cmd, const char *path, const char *body,
                   const char *session)
{
    reply_clear(&c->r);
    struct evhttp_request *req = evhttp_request_new(on_reply, c);
    if (!req)
        return -1;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", c->host);
    evhttp_add_header(h, "Accept", "application/json");
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    if (session) {
        char cookie[300];
        snprintf(cookie, sizeof cookie, "duro_session=%s", session);
        evhttp_add_header(h, "Cookie", cookie);
    }
    char uri[1024];
    snprintf(uri, sizeof uri, "%s%s?ns=%s", c->prefix, path, c->ns_q);
    /* On failure evhttp_make_request frees req itself. */
    if (evhttp_make_request(c->conn, req, cmd, uri) != 0)
        return -1;
    return event_base_dispatch(c->base) < 0 ? -1 : 0;
}

/* Prints the step and its status; returns 1 if it is the expected one. */
static int step(client *c, int n, const char *what, const char *method, const char *path,
                int want)
{
    if (c->r.status == 0) {
        printf("%d. %s: %s %s -> no reply (cannot reach the server)\n", n, what, method, path);
        return 0;
    }
    printf("%d. %s: %s %s -> %d (want %d)\n", n, what, method, path, c->r.status, want);
    if (c->r.status != want) {
        printf("   unexpected status; body: %s\n", c->r.body ? c->r.body : "");
        return 0;
    }
    return 1;
}

/* data.<name> of a {"success":true,"data":{...}} body as a new string, or NULL. */
static char *data_string(const char *body, const char *name)
{
    json_error_t e;
    json_t *j = body ? json_loads(body, 0, &e) : NULL;
    const char *s = json_string_value(json_object_get(json_object_get(j, "data"), name));
    char *out = s ? strdup(s) : NULL;
    json_decref(j);
    return out;
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char b[32];
    if (bytes > sizeof b)
        bytes = sizeof b;
    evutil_secure_rng_get_bytes(b, bytes);
    for (size_t i = 0; i < bytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* The five steps; 0 when every one answered as expected. */
static int flow(client *c)
{
    char hex[33], pw_hex[33], email[64], password[64];
    random_hex(hex, 8);
    random_hex(pw_hex, 12);
    snprintf(email, sizeof email, "user-%s@example.com", hex);
    snprintf(password, sizeof password, "pw-%s", pw_hex); /* 27 characters */

    json_t *cred = json_pack("{ssss}", "email", email, "password", password);
    char *cred_json = cred ? json_dumps(cred, JSON_COMPACT) : NULL;
    json_decref(cred);
    if (!cred_json) {
        fprintf(stderr, "login_flow: out of memory\n");
        return 1;
    }

    int ok = 0;
    char *user_id = NULL, *sid = NULL, *login_user = NULL, *session_user = NULL;
    printf("email %s\n", email);

    /* 1. the user */
    if (request(c, EVHTTP_REQ_POST, "/auth/users", cred_json, NULL) != 0 ||
        !step(c, 1, "create user", "POST", "/auth/users", 201))
        goto out;
    if (!(user_id = data_string(c->r.body, "userId"))) {
        printf("   no data.userId in %s\n", c->r.body ? c->r.body : "");
        goto out;
    }
    printf("   userId %s\n", user_id);

    /* 2. log in: the session id comes as a cookie and in the body */
    if (request(c, EVHTTP_REQ_POST, "/auth/login", cred_json, NULL) != 0 ||
        !step(c, 2, "log in", "POST", "/auth/login", 200))
        goto out;
    sid = data_string(c->r.body, "sessionId");
    login_user = data_string(c->r.body, "userId");
    if (!c->r.cookie || !*c->r.cookie || !sid || strcmp(c->r.cookie, sid) != 0) {
        printf("   no Set-Cookie duro_session=<sessionId> in the reply\n");
        goto out;
    }
    if (!login_user || strcmp(login_user, user_id) != 0) {
        printf("   login is for userId %s, not %s\n", login_user ? login_user : "(none)", user_id);
        goto out;
    }
    printf("   Set-Cookie duro_session=<%zu chars>, the same as data.sessionId\n", strlen(sid));

    /* 3. an authenticated request with the cookie */
    if (request(c, EVHTTP_REQ_GET, "/auth/session", NULL, sid) != 0 ||
        !step(c, 3, "who am I", "GET", "/auth/session", 200))
        goto out;
    session_user = data_string(c->r.body, "userId");
    if (!session_user || strcmp(session_user, user_id) != 0) {
        printf("   the session is for userId %s, not %s\n", session_user ? session_user : "(none)",
               user_id);
        goto out;
    }
    printf("   userId %s matches\n", session_user);

    /* 4. log out */
    if (request(c, EVHTTP_REQ_POST, "/auth/logout", NULL, sid) != 0 ||
        !step(c, 4, "log out", "POST", "/auth/logout", 200))
        goto out;

    /* 5. the old cookie no longer works */
    if (request(c, EVHTTP_REQ_GET, "/auth/session", NULL, sid) != 0 ||
        !step(c, 5, "after logout", "GET", "/auth/session", 401))
        goto out;

    ok = 1;
    printf("login flow ok: every step answered as expected\n");
out:
    if (!ok)
        printf("login flow FAILED\n");
    free(cred_json);
    free(user_id);
    free(sid);
    free(login_user);
    free(session_user);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct evhttp_uri *uri = argc == 3 ? evhttp_uri_parse(argv[1]) : NULL;
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    if (!uri || !scheme || strcmp(scheme, "http") != 0 || !host || !*host || !*argv[2]) {
        fprintf(stderr, "usage: login_flow BASE_URL NAMESPACE\n"
                        "  e.g. login_flow http://127.0.0.1:8787 app\n");
        if (uri)
            evhttp_uri_free(uri);
        return 2;
    }
    int port = evhttp_uri_get_port(uri);
    if (port < 0)
        port = 80;

    client c = {0};
    const char *path = evhttp_uri_get_path(uri);
    snprintf(c.prefix, sizeof c.prefix, "%s", path ? path : "");
    size_t pl = strlen(c.prefix);
    while (pl > 0 && c.prefix[pl - 1] == '/')
        c.prefix[--pl] = '\0';
    if (port == 80)
        snprintf(c.host, sizeof c.host, "%s", host);
    else
        snprintf(c.host, sizeof c.host, "%s:%d", host, port);

    int ex = 1;
    c.ns_q = evhttp_encode_uri(argv[2]);
    c.base = event_base_new();
    if (!c.ns_q || !c.base ||
        !(c.conn = evhttp_connection_base_new(c.base, NULL, host, (ev_uint16_t)port))) {
        fprintf(stderr, "login_flow: cannot set up the HTTP client\n");
        goto done;
    }
    evhttp_connection_set_timeout(c.conn, TIMEOUT_S);
    printf("login flow against %s, namespace %s\n", argv[1], argv[2]);
    ex = flow(&c);

done:
    reply_clear(&c.r);
    if (c.conn)
        evhttp_connection_free(c.conn);
    if (c.base)
        event_base_free(c.base);
    free(c.ns_q);
    evhttp_uri_free(uri);
    return ex;
}
