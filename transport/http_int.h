/*
 * http_int.h — what the files of the HTTP API share (transport/http*.c).
 * Private to transport/.
 *
 *   http.c           the route table, /healthz, /metrics, /_errinj, start and stop
 *   http_request.c   query strings, bodies, the namespace and access check of a route
 *   http_reply.c     the reply envelope, CORS, headers; a call's life (alloc, send,
 *                    reply, free)
 *   http_kv.c        /storage, /api/storage/kv/{ns}, /api/storage (the KV kind)
 *   http_ratelimit.c /ratelimit
 *   http_session.c   /sessions, /users/:id/sessions
 *   http_auth.c      /auth (the auth kind's ops: objects/auth.h)
 *   http_registry.c  /api/resources
 *   http_sql.c       /api/storage/d1/{ns}/exec | query | batch (the SQL kind)
 */
#ifndef DURO_HTTP_INT_H
#define DURO_HTTP_INT_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "objects/kv_req.h"
#include "objects/ratelimit_req.h"
#include "runtime/kind.h"
#include "runtime/workers.h"
#include "transport/access.h"
#include "transport/config.h"
#include "transport/http.h"
#include "transport/http1.h"
#include "transport/io.h"
#include "transport/rpc.h"

/* Replies whose tape is larger are encoded on the encoder pool, and bodies
 * larger than this are parsed there. */
#define ENCODE_INLINE_MAX (32u << 10)
#define DECODE_INLINE_MAX (64u << 10)

/* Replies whose tape is larger are encoded on the encoder pool, and bodies
 * larger than this are parsed there. */
#define ENCODE_INLINE_MAX (32u << 10)
#define DECODE_INLINE_MAX (64u << 10)

typedef struct call call;

struct duro_http {
    const duro_config *cfg;
    duro_runtime *rt;
    const duro_access *access;
    duro_io *io;
    duro_rpc *rpc;
    duro_workers *encoders; /* large replies */
    duro_http1_config h1;
    char cors[512]; /* allowed origins: "" none, "*" any, or a comma list */
    duro_kv_limits limits;
    duro_rl_defaults rl_defaults;
    duro_limits lim; /* what the kinds' decoders apply (runtime/kind.h) */
};

struct call {
    duro_msg m; /* first: a duro_msg * is a call * */
    duro_http *srv;
    duro_hreq *req;
    int route;
    int accept_mp;
    uint64_t t0_us;
    int raw;        /* the reply is the document itself, without the envelope */
    int enc_status; /* what the encoder pool produced in out */
    duro_buf out;
};

typedef struct route_info {
    int op;              /* enum duro_kv_op, or -1 */
    int route;           /* enum duro_route */
    const char *key_raw; /* percent-encoded key in the path, or NULL */
    size_t key_raw_len;
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    int ns_in_path;
    const char *ns_raw; /* percent-encoded namespace in the path (ns_in_path) */
    size_t ns_raw_len;
} route_info;

/* A route's handler: path is what follows the route's prefix (the whole
 * path for routes that read it themselves), cmd the method (HEAD as GET). */
typedef void duro_http_handler(duro_http *srv, duro_hreq *req, int cmd, const char *path,
                               const char *query, int accept_mp, uint64_t t0);

/* ---- http_request.c ---- */

/* 1 if the Accept header asks for msgpack replies. */
int duro_http_wants_mp(const char *accept);

/* 0 JSON, 1 msgpack, -1 unsupported. */
int duro_http_body_encoding(const char *ctype);

/* 1 if the media type (Content-Type, or one entry of an Accept list) is
 * application/octet-stream: raw bytes (KV binary values). */
int duro_http_is_octet(const char *ctype);
int duro_http_wants_octet(const char *accept);

/* Parses the body; on error returns a status with a message in err. */
int duro_http_body_parse(duro_hreq *req, int enc, size_t max, json_t **out, char *err,
                         size_t errlen);

/* The request body, decoded by its Content-Type (415 for another type);
 * *enc (if not NULL) gets the encoding. */
int duro_http_body_read(const duro_http *srv, duro_hreq *req, json_t **out, int *enc, char *err,
                        size_t errlen);

/* Every parameter of the query must be one of names (NULL-terminated), at
 * most once. */
int duro_http_query_check(const char *query, const char *const *names, char *err, size_t errlen);

/* A flag in the query: "1", "true" or "" set it, "0" or "false" clear it;
 * absent leaves *out alone. DURO_OK or DURO_BAD_REQUEST. */
int duro_http_query_flag(const char *query, const char *name, int *out, char *err, size_t errlen);

/* The query parameters names[0..count) as a JSON object of strings. */
int duro_http_query_object(const char *query, const char *const *names, size_t count, json_t **out,
                           char *err, size_t errlen);

/* Allowed query parameters, by route. */
extern const char *const duro_http_q_none[];

extern const char *const duro_http_q_ns[];

/* The namespace of a route (ri->ns): from the path (ri->ns_in_path), ?ns=,
 * X-Namespace or "default", checked. */
int duro_http_namespace(duro_hreq *req, const char *query, route_info *ri, char *err,
                        size_t errlen);

/* May this request touch namespace ns (write: it changes something)? DURO_OK,
 * or DURO_UNAUTHORIZED / DURO_FORBIDDEN with the reason in err. */
int duro_http_authorize(duro_http *srv, duro_hreq *req, const char *ns, size_t ns_len, int write,
                        char *err, size_t errlen);

/* 1 if op of kind needs write access (the kind's row, runtime/kind.h). */
int duro_http_writes(int kind, int op);

/* A large body is parsed on the encoder pool, so that it does not hold
 * this loop; the request is routed when it comes back (parsed_reply). 1 if
 * it went there, 0 if the caller goes on with it. */
int duro_http_body_parse_later(duro_http *srv, duro_hreq *req, uint64_t t0);

/* ---- http_reply.c ---- */

/* The allowed origins (h->cors): --cors-origin, or "*" on a loopback
 * listener without access control, else none. */
void duro_http_cors_setup(duro_http *h, const duro_config *cfg);

/* Encodes and sends one reply on this thread. tape is the success data. */
void duro_http_reply(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                     int status, const char *errmsg, const duro_buf *tape, int64_t etag,
                     const duro_msg *m);

/* duro_http_reply() of an error: status and its message. */
void duro_http_fail(const duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                    int status, const char *msg);

/* Frees a call: its request, reply tape and encoded reply. */
void duro_http_call_free(call *k);

/* Allocates a call for this request, or answers 500 and returns NULL. */
call *duro_http_call_new(duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0);

/* Hands the call to this thread's courier (503 if the server is stopping). */
void duro_http_call_send(call *k);

/* Sends request rq (op of kind, in namespace ns) as a new call; if no call
 * can be allocated, answers 500 and frees rq (the kind's free). */
void duro_http_submit(duro_http *srv, duro_hreq *req, int route, int accept_mp, uint64_t t0,
                      int kind, int op, void *rq, const char *ns, size_t ns_len);

/* Answers a CORS preflight (OPTIONS, on every route). */
void duro_http_preflight(const duro_http *srv, duro_hreq *req, uint64_t t0);

/* Adds the CORS headers of this request's Origin, if it is allowed. */
void duro_http_add_cors(const duro_http *h, duro_hreq *req);

/* ---- http_blob.c ---- */

duro_http_handler duro_http_serve_blob;
/* duro_http1_config.body_max: PUT /api/storage/r2/... takes --max-blob-bytes. */
size_t duro_http_blob_body_max(const duro_hreq *r, void *arg, const char **flag);

/* ---- http_kv.c ---- */

duro_http_handler duro_http_serve_kv;

/* ---- http_ratelimit.c ---- */

duro_http_handler duro_http_serve_ratelimit;

/* ---- http_session.c ---- */

duro_http_handler duro_http_serve_sessions;

/* ---- http_auth.c ---- */

duro_http_handler duro_http_serve_auth;

/* ---- http_registry.c ---- */

duro_http_handler duro_http_serve_resources;

/* ---- http_sql.c ---- */

duro_http_handler duro_http_serve_sql;

/* ---- http_namespace.c ---- */

/* 1 for /api/namespaces, /api/namespaces/... and /api/info. */
int duro_http_is_namespaces(const char *path);
duro_http_handler duro_http_serve_namespaces;

/* ---- http.c ---- */

/* Routes a request that passed the checks every route shares. */
void duro_http_route(duro_http *srv, duro_hreq *req, uint64_t t0);

#endif
