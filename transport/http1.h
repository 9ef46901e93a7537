/*
 * http1.h — HTTP/1.1 messages over an I/O connection (io.h): read one request
 * at a time, hand it to a handler, write its response.
 *
 * Why not evhttp: it offers no hook between a request's headers and its body,
 * so neither a process-wide budget of bodies being received nor our error
 * envelope for framing errors could be had from it; it takes the first of two
 * Content-Length headers, sends bodies for HEAD and reports a bad chunk as an
 * oversized one. This layer does only framing; routing is http.c's.
 *
 * Rules (RFC 9112, strict where laxness lets two parsers disagree):
 *   - request line "METHOD SP target SP HTTP/1.0|1.1"; line ends CRLF or LF;
 *     the line plus headers at most --max-header-bytes (413 above);
 *   - header names are tokens with no space before the colon, no folded
 *     lines; bytes below 0x20 (but tab) or 0x7f anywhere: 400;
 *   - more than one Content-Length, Content-Length with Transfer-Encoding, a
 *     Transfer-Encoding other than "chunked" (or on HTTP/1.0), a malformed
 *     length or chunk line: 400, before any handler runs, and the connection
 *     is closed after the answer;
 *   - a body over --max-body-bytes: 413 without reading it; a body that does
 *     not fit in --max-inflight-bytes (all connections): 503; both close;
 *   - "Expect: 100-continue" gets "100 Continue" once the body is accepted;
 *   - one request at a time per connection; pipelined requests wait in the
 *     socket until the previous response is queued and the output is below
 *     DURO_OUT_HIGH;
 *   - HEAD responses carry the headers (with the Content-Length of the body)
 *     and no body.
 */
#ifndef DURO_HTTP1_H
#define DURO_HTTP1_H

#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "transport/io.h"

enum duro_method {
    DURO_M_OTHER = 0,
    DURO_M_GET,
    DURO_M_HEAD,
    DURO_M_POST,
    DURO_M_PUT,
    DURO_M_DELETE,
    DURO_M_OPTIONS,
    DURO_M_PATCH,
};

typedef struct duro_hreq {
    duro_conn *conn;
    int method;          /* enum duro_method */
    char method_name[16];
    int minor;           /* HTTP/1.minor */
    int keep_alive;      /* the connection stays open after the response */
    char *head;          /* the request line and headers (owned) */
    const char *path;    /* raw (percent-encoded) path, NUL-terminated */
    const char *query;   /* raw query without '?', or NULL */
    struct evkeyvalq in; /* request headers */
    struct evkeyvalq out; /* response headers (the handler adds them) */
    duro_buf body;
    int error;           /* a duro_status if the request could not be read */
    char error_msg[160];
    size_t reserved;     /* pending-request budget held for the body */
    void *user;          /* the handler's, freed with user_free() with the request */
    void (*user_free)(void *);
    /* for the access log and the X-Request-Id reply header */
    uint64_t t0_us;      /* when its head was complete (duro_mono_us) */
    char request_id[65]; /* the client's X-Request-Id if it is 1..64 of [A-Za-z0-9._-], else ours */
    char log_ns[129];    /* the namespace the handler found, or "" */
} duro_hreq;

typedef struct duro_http1_config {
    void (*handler)(duro_hreq *r, void *arg); /* must end with duro_hreq_respond() */
    void *arg;
    size_t max_header_bytes;
    size_t max_body_bytes;
    /* Optional: the largest body of this request (its head is parsed), or 0
     * for max_body_bytes; *flag names the option that sets it (for the 413). */
    size_t (*body_max)(const duro_hreq *r, void *arg, const char **flag);
} duro_http1_config;

/* The protocol for duro_io_listen(); its arg is a duro_http1_config. */
extern const duro_proto duro_http1_proto;

/* Sends the response (status line, r->out, Content-Length, body) and frees r.
 * body (malloc'd, may be NULL) is taken. reason may be NULL: the phrase of the
 * status table (duro_http_reason(), "Unknown" for a number it lacks).
 * Once the connection is gone the response is dropped. I/O thread of r. */
void duro_hreq_respond(duro_hreq *r, int code, const char *reason, void *body, size_t len);

/* duro_hreq_respond() with the body read from the open file fd, bytes
 * [off, off + len) (sent with sendfile; the file is taken and closed). */
void duro_hreq_respond_file(duro_hreq *r, int code, const char *reason, int fd, uint64_t off,
                            uint64_t len);

/* Parses a request head (request line and header lines, up to and without the
 * empty line) held in r->head[0..n) into r: method, version, path, query,
 * keep_alive and r->in. DURO_OK, or a status with a message in err. Pure
 * (fuzzed). */
int duro_http1_parse_head(duro_hreq *r, size_t n, char *err, size_t errlen);

/* The body framing of the parsed headers: *len (Content-Length, 0 if none)
 * or *chunked. DURO_OK, or DURO_BAD_REQUEST with a message in err. */
int duro_http1_framing(const duro_hreq *r, uint64_t *len, int *chunked, char *err,
                       size_t errlen);

/* Frees a request's memory (for tests; the layer frees requests itself). */
void duro_hreq_free(duro_hreq *r);

#endif
