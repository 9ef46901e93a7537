/*
 * http_request.c — what every HTTP route reads the same way: the query string
 * (every route names its parameters; any other, or one given twice, is 400
 * naming it; flags are "1"/"true"/"" or "0"/"false"), the body (JSON or
 * msgpack by Content-Type; one over DECODE_INLINE_MAX is parsed on the encoder
 * pool first), the namespace (path, ?ns=, X-Namespace or "default") and the
 * access check. See http_int.h.
 */
#include "transport/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "objects/object.h"

int duro_http_wants_mp(const char *accept)
{
    return accept &&
           (strstr(accept, "application/msgpack") || strstr(accept, "application/x-msgpack"));
}

/* 0 JSON, 1 msgpack, -1 unsupported. */
int duro_http_body_encoding(const char *ctype)
{
    if (!ctype)
        return DURO_ENC_JSON;
    while (*ctype == ' ')
        ctype++;
    size_t n = strcspn(ctype, ";");
    while (n && ctype[n - 1] == ' ')
        n--;
    if (n == 0 || (n == 16 && strncasecmp(ctype, "application/json", 16) == 0))
        return DURO_ENC_JSON;
    if ((n == 19 && strncasecmp(ctype, "application/msgpack", 19) == 0) ||
        (n == 21 && strncasecmp(ctype, "application/x-msgpack", 21) == 0))
        return DURO_ENC_MSGPACK;
    return -1;
}

int duro_http_is_octet(const char *ctype)
{
    if (!ctype)
        return 0;
    while (*ctype == ' ')
        ctype++;
    size_t n = strcspn(ctype, ";");
    while (n && ctype[n - 1] == ' ')
        n--;
    return n == 24 && strncasecmp(ctype, "application/octet-stream", 24) == 0;
}

int duro_http_wants_octet(const char *accept)
{
    return accept && strcasestr(accept, "application/octet-stream") != NULL;
}

/* A body parsed on the encoder pool before the request was routed (bodies
 * over DECODE_INLINE_MAX): req->user. */
typedef struct parsed_body {
    duro_msg m; /* the job; first */
    duro_http *srv;
    duro_hreq *req;
    uint64_t t0;
    int enc;    /* of the Content-Type; -1 unsupported */
    int status; /* of the parse */
    json_t *json;
    char err[256];
} parsed_body;

static int parse_bytes(const duro_buf *body, int enc, json_t **out, char *err, size_t errlen)
{
    const char *why = "out of memory";
    const unsigned char *p = (const unsigned char *)body->data;
    *out = enc == DURO_ENC_MSGPACK ? duro_mp_to_json(p, body->len, &why)
                                   : duro_json_parse(p, body->len, &why);
    if (!*out) {
        snprintf(err, errlen, "malformed %s body: %s", enc == DURO_ENC_MSGPACK ? "msgpack" : "JSON",
                 why);
        return DURO_BAD_REQUEST;
    }
    return DURO_OK;
}

static void free_parsed(void *p)
{
    parsed_body *b = p;
    json_decref(b->json);
    free(b);
}

/* Encoder pool: parse the body (reads only the request's body). */
static void work_parse(duro_msg *m)
{
    parsed_body *b = (parsed_body *)m;
    if (b->enc >= 0)
        b->status = parse_bytes(&b->req->body, b->enc, &b->json, b->err, sizeof b->err);
}

/* Back on the I/O thread: route the request, its body parsed. */
static void parsed_reply(duro_msg *m)
{
    parsed_body *b = (parsed_body *)m;
    b->req->user = b;
    b->req->user_free = free_parsed;
    duro_http_route(b->srv, b->req, b->t0);
}

/* Parses the body; on error returns a status with a message in err. */
int duro_http_body_parse(duro_hreq *req, int enc, size_t max, json_t **out, char *err,
                         size_t errlen)
{
    size_t len = req->body.len;
    *out = NULL;
    parsed_body *pre = req->user_free == free_parsed ? req->user : NULL;
    if (pre && pre->enc == enc && len > 0) {
        if (pre->status != DURO_OK) {
            snprintf(err, errlen, "%s", pre->err);
            return pre->status;
        }
        *out = pre->json;
        pre->json = NULL;
        if (*out)
            return DURO_OK;
        snprintf(err, errlen, "the request body was already read");
        return DURO_INTERNAL;
    }
    if (len == 0) {
        snprintf(err, errlen, "a request body is required");
        return DURO_BAD_REQUEST;
    }
    if (len > max) {
        snprintf(err, errlen, "request body is larger than %zu bytes", max);
        return DURO_PAYLOAD_TOO_LARGE;
    }
    return parse_bytes(&req->body, enc, out, err, errlen);
}

/* The request body, decoded by its Content-Type (415 for another type);
 * *enc (if not NULL) gets the encoding. */
int duro_http_body_read(const duro_http *srv, duro_hreq *req, json_t **out, int *enc, char *err,
                        size_t errlen)
{
    int e = duro_http_body_encoding(evhttp_find_header(&req->in, "Content-Type"));
    *out = NULL;
    if (enc)
        *enc = e;
    if (e < 0) {
        const char *ct = evhttp_find_header(&req->in, "Content-Type");
        /* curl -d sends application/x-www-form-urlencoded unless told */
        snprintf(err, errlen,
                 "Content-Type must be application/json or application/msgpack, not %.60s%s",
                 ct ? ct : "none",
                 ct && strncmp(ct, "application/x-www-form-urlencoded", 33) == 0
                     ? " (with curl -d, add -H 'Content-Type: application/json')"
                     : "");
        return DURO_UNSUPPORTED_MEDIA_TYPE;
    }
    return duro_http_body_parse(req, e, (size_t)srv->cfg->max_body_bytes, out, err, errlen);
}

/* Every parameter of the query must be one of names (NULL-terminated), at
 * most once. */
int duro_http_query_check(const char *query, const char *const *names, char *err, size_t errlen)
{
    unsigned seen = 0;
    for (const char *p = query; p && *p;) {
        size_t seg = strcspn(p, "&");
        if (seg) {
            size_t kl = strcspn(p, "=&");
            char *name = NULL;
            const char *nm = p; /* the name as sent, unless it needs decoding */
            size_t nl = kl;
            if (memchr(p, '%', kl) || memchr(p, '+', kl)) {
                if (duro_pct_decode(p, kl, &name, &nl) != 0) {
                    snprintf(err, errlen, "bad percent-encoding in a query parameter name");
                    return DURO_BAD_REQUEST;
                }
                nm = name;
            }
            int i = 0;
            while (names[i] && !(strlen(names[i]) == nl && memcmp(names[i], nm, nl) == 0))
                i++;
            int st = DURO_OK;
            if (!names[i]) {
                if (nl > 64 || !duro_utf8_valid(nm, nl) || memchr(nm, 0, nl))
                    snprintf(err, errlen, "unknown query parameter");
                else
                    snprintf(err, errlen, "unknown query parameter \"%.*s\"", (int)nl, nm);
                st = DURO_BAD_REQUEST;
            } else if (i < 32 && (seen & (1u << i))) {
                snprintf(err, errlen, "query parameter \"%s\" given twice", names[i]);
                st = DURO_BAD_REQUEST;
            }
            free(name);
            if (st != DURO_OK)
                return st;
            if (i < 32)
                seen |= 1u << i;
        }
        p += seg;
        if (*p)
            p++;
    }
    return DURO_OK;
}

/* A flag in the query: "1", "true" or "" set it, "0" or "false" clear it;
 * absent leaves *out alone. DURO_OK or DURO_BAD_REQUEST. */
int duro_http_query_flag(const char *query, const char *name, int *out, char *err, size_t errlen)
{
    char *v;
    size_t n;
    int rc = duro_query_get(query, name, &v, &n);
    if (rc == 0)
        return DURO_OK;
    int st = rc > 0 && duro_query_flag(v, n, out) == 0 ? DURO_OK : DURO_BAD_REQUEST;
    free(v);
    if (st != DURO_OK)
        snprintf(err, errlen, "query parameter \"%s\" must be 1, true, 0 or false", name);
    return st;
}

/* The query parameters names[0..count) as a JSON object of strings. */
int duro_http_query_object(const char *query, const char *const *names, size_t count, json_t **out,
                           char *err, size_t errlen)
{
    json_t *o = json_object();
    if (!o)
        return DURO_NOMEM;
    for (size_t i = 0; i < count; i++) {
        char *v;
        size_t n;
        int rc = duro_query_get(query, names[i], &v, &n);
        if (rc < 0) {
            json_decref(o);
            snprintf(err, errlen, "bad percent-encoding in query parameter \"%s\"", names[i]);
            return DURO_BAD_REQUEST;
        }
        if (rc == 1) {
            json_object_set_new(o, names[i], json_stringn_nocheck(v, n));
            free(v);
        }
    }
    *out = o;
    return DURO_OK;
}

/* Allowed query parameters, by route. */
const char *const duro_http_q_none[] = {NULL};

const char *const duro_http_q_ns[] = {"ns", NULL};

int duro_http_namespace(duro_hreq *req, const char *query, route_info *ri, char *err, size_t errlen)
{
    char *v = NULL;
    size_t n = 0;
    int rc = ri->ns_in_path ? 1 : duro_query_get(query, "ns", &v, &n);
    if (rc < 0) {
        snprintf(err, errlen, "bad percent-encoding in \"ns\"");
        return DURO_BAD_REQUEST;
    }
    if (ri->ns_in_path) {
        if (duro_pct_decode(ri->ns_raw, ri->ns_raw_len, &v, &n) != 0) {
            snprintf(err, errlen, "invalid namespace: bad percent-encoding");
            return DURO_BAD_REQUEST;
        }
    } else if (rc == 0) {
        const char *h = evhttp_find_header(&req->in, "X-Namespace");
        v = strdup(h ? h : "default");
        n = v ? strlen(v) : 0;
    }
    if (!v)
        return DURO_NOMEM;
    const char *why;
    if (duro_ns_valid(v, n, &why) != 0) {
        snprintf(err, errlen, "invalid namespace: %s", why);
        free(v);
        return DURO_BAD_REQUEST;
    }
    snprintf(req->log_ns, sizeof req->log_ns, "%.*s", (int)n, v);
    memcpy(ri->ns, v, n);
    ri->ns[n] = '\0';
    ri->ns_len = n;
    free(v);
    return DURO_OK;
}

/* May this request touch namespace ns (write: it changes something)? DURO_OK,
 * or DURO_UNAUTHORIZED / DURO_FORBIDDEN with the reason in err. */
int duro_http_authorize(duro_http *srv, duro_hreq *req, const char *ns, size_t ns_len, int write,
                        char *err, size_t errlen)
{
    const duro_access *a = srv->access;
    if (!a || !duro_access_enabled(a))
        return DURO_OK;
    const char *auth = evhttp_find_header(&req->in, "Authorization");
    return duro_access_check(a, auth, ns, ns_len, write, (int64_t)time(NULL), err, errlen);
}

/* A large body is parsed on the encoder pool, so that it does not hold
 * this loop; the request is routed when it comes back (parsed_reply). 1 if
 * it went there, 0 if the caller goes on with it. */
int duro_http_body_parse_later(duro_http *srv, duro_hreq *req, uint64_t t0)
{
    if (req->body.len <= DECODE_INLINE_MAX ||
        duro_http_body_encoding(evhttp_find_header(&req->in, "Content-Type")) < 0)
        return 0; /* raw bytes are not parsed; an unsupported type is refused */
    parsed_body *b = calloc(1, sizeof *b);
    if (!b)
        return 0;
    b->srv = srv;
    b->req = req;
    b->t0 = t0;
    b->enc = duro_http_body_encoding(evhttp_find_header(&req->in, "Content-Type"));
    b->m.reply = parsed_reply;
    if (duro_courier_offload(duro_conn_courier(req->conn), srv->encoders, &b->m, work_parse) ==
        DURO_OK)
        return 1;
    free(b);
    return 0;
}

int duro_http_writes(int kind, int op)
{
    const duro_kind *k = duro_kind_get(&duro_object_kinds, kind);
    return k && k->writes && k->writes(op);
}
