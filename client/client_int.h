/*
 * client_int.h — libduro's private interface between the public API
 * (client.c) and its two backends (remote.c, embedded.c).
 *
 * client.c turns every public call into one protocol op: an op name, a
 * namespace and an args map encoded as msgpack (docs/protocol.md). A backend
 * runs the op and hands back a duro_reply. Nothing here is API; none of these
 * symbols leave libduro.so (-fvisibility=hidden).
 */
#ifndef DURO_CLIENT_INT_H
#define DURO_CLIENT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "duro/duro.h"
#include "common/buf.h"
#include "common/errbody.h" /* the error map of a reply body */
#include "common/frame.h"   /* the protocol version, ping's answer */

#define DURO_CLIENT_MAX_INFLIGHT 4096 /* duro_send requests per handle */

/* Encodings of a reply body a caller may ask for. */
enum { DURO_OUT_MP = 0, DURO_OUT_JSON = 1 };

/* The outcome of one op. */
typedef struct duro_reply {
    int rc;          /* duro_status */
    int http;        /* HTTP-like status of rc (201 when created): duro_call's *status */
    duro_buf body;   /* on DURO_OK: the data in the encoding asked for; on an
                      * error answered by the server/runtime: the error map as
                      * msgpack ({code, message}); empty for local failures */
    char msg[256];   /* on error: the message ("" on success) */
    int created;     /* the write created its target (DURO_CREATED on the wire) */
} duro_reply;

typedef struct duro_backend {
    /* Runs op and waits for its reply. args[0..args_len) is one msgpack map.
     * val_enc is how an embedded runtime stores values (DURO_ENC_JSON for the
     * JSON calls, DURO_ENC_MSGPACK otherwise; a server always stores msgpack);
     * out is DURO_OUT_MP or DURO_OUT_JSON. Fills *r (r->body starts empty). */
    void (*call)(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                 int val_enc, int out, duro_reply *r);
    /* Pipelining, see duro_send / duro_recv. recv fills *r with a msgpack body. */
    int (*send)(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                uint64_t *id, char *msg, size_t msglen);
    int (*recv)(duro *db, uint64_t *id, duro_reply *r);
    void (*close)(duro *db);
} duro_backend;

/* Every handle starts with this header (zeroed by the backend's constructor;
 * the rest is client.c's). */
struct duro {
    const duro_backend *be;
    pthread_mutex_t err_mu; /* guards errmsg */
    char errmsg[256];       /* the message of the last call on this handle, "" if it succeeded */
};

/* Backend constructors: url is the whole URL (token: see duro_open_ex). On
 * failure return a status and write a message into msg. */
int duro_remote_open(const char *url, const char *token, duro **db, char *msg, size_t msglen);
int duro_embedded_open(const char *url, duro **db, char *msg, size_t msglen);

/* Fills r as an error (rc, its HTTP status, message; body left empty).
 * Returns rc. */
int duro_reply_fail(duro_reply *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets r->rc, r->http and r->msg from an error reply: status is its number
 * (the wire's, protocol 2), body its msgpack {code, message}. A number that is
 * no error status of the table falls back to the body's code, else
 * DURO_INTERNAL. */
void duro_reply_error_from_body(duro_reply *r, int status, const void *body, size_t len);

/* 0 if every option of a URL query (a=1&b=2) is named in known (NULL-
 * terminated); else -1 with "unknown URL option ..." in msg. */
int duro_url_known(const char *query, const char *const *known, char *msg, size_t msglen);

/* Parses a decimal option "name=value" from a URL query (after '?'). Returns
 * 1 and *out if present, 0 if absent, -1 if malformed. */
int duro_url_int(const char *query, const char *name, long long min, long long max,
                 long long *out);

#endif
