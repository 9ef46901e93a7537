/*
 * http1.c — HTTP/1.1 requests and responses on an I/O connection (http1.h).
 *
 * DESIGN
 * Per connection a small state machine reads one request:
 *
 *   HEAD --(whole head, parsed, framed)--> BODY (Content-Length bytes)
 *        \                             \-> CHUNK_SIZE <-> CHUNK_DATA -> CHUNK_END
 *         \                                    \-> TRAILER (after the 0 chunk)
 *          `--------------------------------------> SERVING (the handler has it)
 *
 * In SERVING the socket is not read (back-pressure: pipelined requests wait in
 * the kernel); duro_hreq_respond() writes the response and goes back to HEAD,
 * reading again once the output is below DURO_OUT_HIGH. A request that cannot
 * be read (bad framing, too large, budget spent) is handed to the handler with
 * r->error set, so every error the client sees is the handler's JSON
 * envelope; the connection then closes after the response.
 *
 * Body bytes are reserved in the process-wide pending-request budget (io.h)
 * as they arrive, before they are kept (so an announced length costs nothing
 * until it is sent, and a client cannot hold the budget with headers alone).
 * The reservation is released when the request is freed (after its response,
 * or when the connection dies while reading it).
 */
#include "duro/version.h"
#include "transport/accesslog.h"
#include "transport/http1.h"

#include <sys/queue.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "duro/status.h"
#include "common/errbody.h"
#include "common/status_int.h"

enum { S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILER, S_SERVING };

#define CHUNK_LINE_MAX 4096
#define BODY_PREALLOC (64u << 10) /* a body's buffer grows from this as bytes arrive */
#define DIRECT_MIN (256u << 10)   /* bodies with more left are read past libevent (read_direct) */
#define DIRECT_MAX (1u << 20)     /* ... in pieces of up to this */

typedef struct hconn {
    int state;
    duro_hreq *req; /* being read, or being served */
    size_t scan;    /* head: bytes already searched for its end */
    uint64_t left;  /* body or chunk bytes still to read */
    size_t trailer_bytes;
    size_t body_max; /* the request's largest body (config body_max) */
    uint64_t body_len; /* its Content-Length (0 when chunked) */
} hconn;

/* ---- parsing (pure) ---- */

static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return DURO_BAD_REQUEST;
}

static int method_of(const char *m)
{
    static const struct {
        const char *name;
        int method;
    } known[] = {{"GET", DURO_M_GET},         {"HEAD", DURO_M_HEAD},     {"POST", DURO_M_POST},
                 {"PUT", DURO_M_PUT},         {"DELETE", DURO_M_DELETE}, {"OPTIONS", DURO_M_OPTIONS},
                 {"PATCH", DURO_M_PATCH}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i].name) == 0)
            return known[i].method;
    return DURO_M_OTHER;
}

/* Splits off the next line of p[*pos..n) (LF or CRLF), NUL-terminating it in
 * place. NULL at the end; *bad if the line holds a lone CR. */
static char *next_line(char *p, size_t n, size_t *pos, int *bad)
{
    if (*pos >= n)
        return NULL;
    char *s = p + *pos;
    char *lf = memchr(s, '\n', n - *pos);
    size_t len = lf ? (size_t)(lf - s) : n - *pos;
    *pos += len + (lf ? 1 : 0);
    if (len && s[len - 1] == '\r')
        len--;
    s[len] = '\0';
    if (memchr(s, '\r', len))
        *bad = 1;
    return s;
}

static int parse_target(duro_hreq *r, char *t, char *err, size_t errlen)
{
    for (const unsigned char *q = (const unsigned char *)t; *q; q++)
        if (*q <= 0x20 || *q == 0x7f)
            return fail(err, errlen, "control byte in the request target");
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        char *auth = strstr(t, "//") + 2;
        char *slash = strpbrk(auth, "/?");
        if (!slash) {
            t = "/";
        } else if (*slash == '?') {
            /* "http://host?q": the path is "/"; keep the query */
            memmove(slash + 1, slash, strlen(slash) + 1);
            *slash = '/';
            t = slash;
        } else {
            t = slash;
        }
    } else if (strcmp(t, "*") == 0) {
        if (r->method != DURO_M_OPTIONS)
            return fail(err, errlen, "the target \"*\" is only for OPTIONS");
    } else if (t[0] != '/') {
        return fail(err, errlen, "the request target must start with '/'");
    }
    char *hash = strchr(t, '#');
    if (hash)
        *hash = '\0';
    char *qm = strchr(t, '?');
    if (qm) {
        *qm = '\0';
        r->query = qm + 1;
    }
    r->path = t;
    return DURO_OK;
}

int duro_http1_parse_head(duro_hreq *r, size_t n, char *err, size_t errlen)
{
    char *p = r->head;
    size_t pos = 0;
    int bad = 0;
    if (memchr(p, '\0', n))
        return fail(err, errlen, "NUL byte in the request head");
    char *line = next_line(p, n, &pos, &bad);
    if (!line || bad)
        return fail(err, errlen, "malformed request line");
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1)
        return fail(err, errlen, "malformed request line (expected METHOD target HTTP/1.1)");
    *sp1 = *sp2 = '\0';
    if (strlen(line) >= sizeof r->method_name)
        return fail(err, errlen, "method name too long");
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return fail(err, errlen, "malformed method name");
    strcpy(r->method_name, line);
    r->method = method_of(line);
    const char *ver = sp2 + 1;
    if (strcmp(ver, "HTTP/1.1") == 0)
        r->minor = 1;
    else if (strcmp(ver, "HTTP/1.0") == 0)
        r->minor = 0;
    else
        return fail(err, errlen, "unsupported protocol version (HTTP/1.0 and 1.1 only)");
    int st = parse_target(r, sp1 + 1, err, errlen);
    if (st != DURO_OK)
        return st;

    int close = 0, keep = 0;
    while ((line = next_line(p, n, &pos, &bad)) != NULL) {
        if (bad)
            return fail(err, errlen, "a bare CR in a header line");
        if (line[0] == '\0')
            break; /* only at the very end (the caller cut the head there) */
        if (line[0] == ' ' || line[0] == '\t')
            return fail(err, errlen, "folded header lines are not allowed");
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return fail(err, errlen, "malformed header line");
        for (const char *q = line; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return fail(err, errlen, "malformed header name (no spaces before ':')");
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        for (size_t i = 0; i < vl; i++) {
            unsigned char ch = (unsigned char)v[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return fail(err, errlen, "control byte in a header value");
        }
        if (evhttp_add_header(&r->in, line, v) != 0)
            return fail(err, errlen, "malformed header value");
        if (strcasecmp(line, "Connection") == 0) {
            for (char *tok = v; *tok;) {
                size_t tl = strcspn(tok, ",");
                char *end = tok + tl;
                while (*tok == ' ' || *tok == '\t')
                    tok++;
                size_t l = (size_t)(end - tok);
                while (l && (tok[l - 1] == ' ' || tok[l - 1] == '\t'))
                    l--;
                if (l == 5 && strncasecmp(tok, "close", 5) == 0)
                    close = 1;
                else if (l == 10 && strncasecmp(tok, "keep-alive", 10) == 0)
                    keep = 1;
                tok = *end ? end + 1 : end;
            }
        }
    }
    r->keep_alive = close ? 0 : r->minor >= 1 ? 1 : keep;
    return DURO_OK;
}

int duro_http1_framing(const duro_hreq *r, uint64_t *len, int *chunked, char *err,
                       size_t errlen)
{
    *len = 0;
    *chunked = 0;
    int ncl = 0, nte = 0;
    struct evkeyval *h;
    TAILQ_FOREACH(h, &r->in, next)
    {
        if (strcasecmp(h->key, "Content-Length") == 0) {
            if (++ncl > 1)
                return fail(err, errlen, "more than one Content-Length header");
            const char *v = h->value;
            size_t n = strlen(v);
            if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
                return fail(err, errlen, "malformed Content-Length");
            *len = strtoull(v, NULL, 10);
        } else if (strcasecmp(h->key, "Transfer-Encoding") == 0) {
            if (++nte > 1)
                return fail(err, errlen, "more than one Transfer-Encoding header");
            if (strcasecmp(h->value, "chunked") != 0)
                return fail(err, errlen, "Transfer-Encoding other than \"chunked\" is not supported");
            *chunked = 1;
        }
    }
    if (ncl && nte)
        return fail(err, errlen, "Content-Length together with Transfer-Encoding");
    if (nte && r->minor == 0)
        return fail(err, errlen, "Transfer-Encoding on HTTP/1.0");
    return DURO_OK;
}

/* ---- requests ---- */

static duro_hreq *req_new(duro_conn *c)
{
    duro_hreq *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->conn = c;
    r->minor = 1; /* until the request line says otherwise (errors before it) */
    r->t0_us = duro_mono_us();
    static uint64_t seq;
    static uint32_t boot; /* per process: ids of two runs do not collide */
    uint32_t b = __atomic_load_n(&boot, __ATOMIC_RELAXED), unset = 0;
    if (!b) { /* the first request of any I/O thread picks it; the others take that one */
        b = randombytes_random() | 1;
        if (!__atomic_compare_exchange_n(&boot, &unset, b, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            b = unset;
    }
    snprintf(r->request_id, sizeof r->request_id, "%08x-%llx", b,
             (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    TAILQ_INIT(&r->in);
    TAILQ_INIT(&r->out);
    return r;
}

void duro_hreq_free(duro_hreq *r)
{
    if (!r)
        return;
    if (r->user && r->user_free)
        r->user_free(r->user);
    evhttp_clear_headers(&r->in);
    evhttp_clear_headers(&r->out);
    duro_buf_free(&r->body);
    free(r->head);
    free(r);
}

static void req_release(duro_hreq *r)
{
    if (r->reserved)
        duro_io_release(duro_conn_io(r->conn), r->reserved);
    r->reserved = 0;
    duro_hreq_free(r);
}

/* Hands the request to the handler; the connection is held until it answers. */
static void dispatch(duro_conn *c, hconn *h)
{
    const duro_http1_config *cfg = duro_conn_arg(c);
    h->state = S_SERVING;
    duro_conn_request_end(c);
    duro_conn_pause(c);
    duro_conn_hold(c);
    cfg->handler(h->req, cfg->arg);
}

/* The request cannot be read further: the handler answers status, then the
 * connection closes. */
static void fail_req(duro_conn *c, hconn *h, int status, const char *msg)
{
    if (!h->req && !(h->req = req_new(c))) {
        duro_conn_close(c);
        return;
    }
    h->req->error = status;
    snprintf(h->req->error_msg, sizeof h->req->error_msg, "%s", msg);
    h->req->keep_alive = 0;
    dispatch(c, h);
}

/* Finds the end of the head in the input: the offset just past the empty
 * line, or 0 if not there yet. */
static size_t head_end(const unsigned char *p, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Consumes a line end (LF or CRLF) at the front of the input: 1 done, 0 not
 * all there yet, -1 the input does not start with one. */
static int eat_eol(struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    unsigned char b[2];
    if (avail == 0)
        return 0;
    evbuffer_copyout(in, b, avail < 2 ? 1 : 2);
    if (b[0] == '\n') {
        evbuffer_drain(in, 1);
        return 1;
    }
    if (b[0] != '\r')
        return -1;
    if (avail < 2)
        return 0;
    if (b[1] != '\n')
        return -1;
    evbuffer_drain(in, 2);
    return 1;
}

static void read_head(duro_conn *c, hconn *h, const duro_http1_config *cfg)
{
    struct evbuffer *in = duro_conn_input(c);
    /* blank lines before a request are ignored (RFC 9112 2.2) */
    int rc;
    while ((rc = eat_eol(in)) == 1) {
    }
    if (rc == 0)
        return;
    duro_conn_request_begin(c);
    size_t avail = evbuffer_get_length(in);
    size_t lim = avail < cfg->max_header_bytes + 4 ? avail : cfg->max_header_bytes + 4;
    const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)lim);
    /* A request line starts with a method (a token). A control byte first is
     * no HTTP at all — most likely a binary-protocol frame (its length's high
     * byte is 0): say so at once instead of waiting for a line end. */
    if (p && (p[0] < 0x21 || p[0] > 0x7e)) {
        fail_req(c, h, DURO_BAD_REQUEST,
                 "not HTTP: this is durod's HTTP port (--listen); the binary protocol is on"
                 " --rpc-port");
        return;
    }
    size_t end = p ? head_end(p, lim, h->scan) : 0;
    if (!end) {
        if (avail > cfg->max_header_bytes) {
            fail_req(c, h, DURO_PAYLOAD_TOO_LARGE,
                     "request line and headers are larger than --max-header-bytes");
            return;
        }
        h->scan = lim > 3 ? lim - 3 : 0;
        return;
    }
    h->scan = 0;
    duro_hreq *r = h->req = req_new(c);
    if (!r || !(r->head = malloc(end + 1))) {
        duro_conn_close(c);
        return;
    }
    memcpy(r->head, p, end);
    r->head[end] = '\0';
    evbuffer_drain(in, end);
    char err[160];
    int st = duro_http1_parse_head(r, end, err, sizeof err);
    const char *rid = st == DURO_OK ? evhttp_find_header(&r->in, "X-Request-Id") : NULL;
    if (rid && *rid && strlen(rid) < sizeof r->request_id &&
        strspn(rid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
            strlen(rid))
        strcpy(r->request_id, rid); /* the client's: echoed, and in the access log */
    uint64_t len = 0;
    int chunked = 0;
    if (st == DURO_OK)
        st = duro_http1_framing(r, &len, &chunked, err, sizeof err);
    if (st != DURO_OK) {
        fail_req(c, h, st, err);
        return;
    }
    h->body_max = cfg->max_body_bytes;
    const char *flag = "--max-body-bytes";
    if (cfg->body_max) {
        size_t m = cfg->body_max(r, cfg->arg, &flag);
        if (m)
            h->body_max = m;
        else
            flag = "--max-body-bytes";
    }
    if (!chunked && len > h->body_max) {
        snprintf(err, sizeof err, "request body is larger than %zu bytes (%s)", h->body_max,
                 flag);
        fail_req(c, h, DURO_PAYLOAD_TOO_LARGE, err);
        return;
    }
    if (len && duro_buf_reserve(&r->body, len < BODY_PREALLOC ? (size_t)len : BODY_PREALLOC) !=
                   0) {
        fail_req(c, h, DURO_NOMEM, "out of memory");
        return;
    }
    const char *expect = evhttp_find_header(&r->in, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0) {
            fail_req(c, h, DURO_BAD_REQUEST, "only \"Expect: 100-continue\" is supported");
            return;
        }
        if (r->minor >= 1 && (len || chunked) && evbuffer_get_length(in) == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            duro_conn_write(c, cont, sizeof cont - 1);
        }
    }
    h->body_len = chunked ? 0 : len;
    if (chunked) {
        h->state = S_CHUNK_SIZE;
    } else if (len) {
        h->left = len;
        h->state = S_BODY;
    } else {
        dispatch(c, h);
    }
}

/* The rest of a large body (its buffer already has room for all of it)
 * straight from the socket into the buffer, in pieces of up to DIRECT_MAX:
 * libevent 2.1 reads at most 4 KiB per call into its own buffer, which costs
 * a 64 MiB blob 16k reads and a copy. Each piece is reserved in the budget
 * before it is read (what was not read is given back). Stops at EAGAIN, at
 * the end of the body, or when the budget is short (the next libevent read
 * then fails the request as usual); EOF and errors are left to libevent's
 * next read. */
static void read_direct(duro_conn *c, hconn *h)
{
    duro_buf *b = &h->req->body;
    int fd = duro_conn_fd(c);
    while (fd >= 0 && h->left) {
        size_t want = h->left < DIRECT_MAX ? (size_t)h->left : DIRECT_MAX;
        if (duro_io_reserve(duro_conn_io(c), want) != 0)
            return;
        ssize_t n = recv(fd, b->data + b->len, want, MSG_DONTWAIT);
        size_t got = n > 0 ? (size_t)n : 0;
        duro_io_release(duro_conn_io(c), want - got);
        if (!got)
            return;
        h->req->reserved += got;
        b->len += got;
        h->left -= got;
    }
}

/* Moves up to h->left body bytes from the input, each reserved in the
 * pending-request budget as it arrives (what a client announces costs
 * nothing until it sends it). 1 when they are all there. */
static int read_bytes(duro_conn *c, hconn *h)
{
    struct evbuffer *in = duro_conn_input(c);
    size_t avail = evbuffer_get_length(in);
    size_t take = avail < h->left ? avail : (size_t)h->left;
    duro_buf *b = &h->req->body;
    if (take) {
        if (duro_io_reserve(duro_conn_io(c), take) != 0) {
            fail_req(c, h, DURO_UNAVAILABLE,
                     "the server holds too many request bodies (--max-inflight-bytes); retry "
                     "later");
            return -1;
        }
        h->req->reserved += take;
        /* once the budget took its first bytes, a large body gets its whole
         * length at once: one mapping, never copied by growing (and given
         * back to the system when freed) */
        if (h->state == S_BODY && b->len == 0 && h->body_len > b->cap) {
            char *p = realloc(b->data, (size_t)h->body_len);
            if (!p) {
                fail_req(c, h, DURO_NOMEM, "out of memory");
                return -1;
            }
            b->data = p;
            b->cap = (size_t)h->body_len;
        }
        if (duro_buf_reserve(b, take) != 0) {
            fail_req(c, h, DURO_NOMEM, "out of memory");
            return -1;
        }
        evbuffer_remove(in, b->data + b->len, take);
        b->len += take;
        h->left -= take;
    }
    if (take && h->state == S_BODY && h->left >= DIRECT_MIN && b->cap - b->len >= h->left)
        read_direct(c, h);
    return h->left == 0;
}

/* Reads one line (LF or CRLF) of at most max bytes into out (NUL-terminated).
 * 1 got it, 0 not yet, -1 too long, -2 it holds a NUL. */
static int read_line(struct evbuffer *in, char *out, size_t max)
{
    size_t avail = evbuffer_get_length(in);
    struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
    if (lf.pos < 0)
        return avail > max ? -1 : 0;
    if ((size_t)lf.pos > max)
        return -1;
    evbuffer_remove(in, out, (size_t)lf.pos + 1);
    size_t n = (size_t)lf.pos;
    if (n && out[n - 1] == '\r')
        n--;
    if (memchr(out, '\0', n))
        return -2;
    out[n] = '\0';
    return 1;
}

static void read_chunk_size(duro_conn *c, hconn *h, const duro_http1_config *cfg)
{
    char line[CHUNK_LINE_MAX + 2];
    int rc = read_line(duro_conn_input(c), line, CHUNK_LINE_MAX);
    if (rc == 0)
        return;
    if (rc < 0) {
        fail_req(c, h, DURO_BAD_REQUEST,
                 rc == -1 ? "malformed chunked body: chunk-size line too long"
                          : "malformed chunked body: NUL in a chunk-size line");
        return;
    }
    size_t hex = strspn(line, "0123456789abcdefABCDEF");
    const char *rest = line + hex;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (hex == 0 || hex > 15 || (*rest && *rest != ';') || memchr(line, '\r', strlen(line))) {
        fail_req(c, h, DURO_BAD_REQUEST, "malformed chunked body: bad chunk-size line");
        return;
    }
    uint64_t size = strtoull(line, NULL, 16);
    duro_hreq *r = h->req;
    if (size == 0) {
        h->state = S_TRAILER;
        h->trailer_bytes = 0;
        return;
    }
    if (size > h->body_max || r->body.len + size > h->body_max) {
        char err[128];
        snprintf(err, sizeof err, "request body is larger than %zu bytes", h->body_max);
        fail_req(c, h, DURO_PAYLOAD_TOO_LARGE, err);
        return;
    }
    h->left = size;
    h->state = S_CHUNK_DATA;
}

static void read_chunk_end(duro_conn *c, hconn *h)
{
    int rc = eat_eol(duro_conn_input(c));
    if (rc < 0)
        fail_req(c, h, DURO_BAD_REQUEST, "malformed chunked body: chunk data not followed by CRLF");
    else if (rc > 0)
        h->state = S_CHUNK_SIZE;
}

static void read_trailer(duro_conn *c, hconn *h, const duro_http1_config *cfg)
{
    char line[CHUNK_LINE_MAX + 2];
    for (;;) {
        int rc = read_line(duro_conn_input(c), line, CHUNK_LINE_MAX);
        if (rc == 0)
            return;
        if (rc == -2) {
            fail_req(c, h, DURO_BAD_REQUEST, "malformed chunked trailer: NUL in a line");
            return;
        }
        if (rc > 0)
            h->trailer_bytes += strlen(line) + 2;
        if (rc < 0 || h->trailer_bytes > cfg->max_header_bytes) {
            fail_req(c, h, DURO_PAYLOAD_TOO_LARGE, "chunked trailer larger than --max-header-bytes");
            return;
        }
        if (line[0] == '\0') {
            dispatch(c, h);
            return;
        }
    }
}

static void on_read(duro_conn *c)
{
    hconn *h = duro_conn_state(c);
    const duro_http1_config *cfg = duro_conn_arg(c);
    for (;;) {
        if (!duro_conn_open(c) || h->state == S_SERVING)
            return;
        if (h->state == S_HEAD && duro_conn_output_len(c) > DURO_OUT_HIGH) {
            duro_conn_pause(c); /* on_drained() reads on */
            return;
        }
        int before = h->state;
        size_t had = evbuffer_get_length(duro_conn_input(c));
        switch (h->state) {
        case S_HEAD:
            read_head(c, h, cfg);
            break;
        case S_BODY:
            if (read_bytes(c, h) == 1)
                dispatch(c, h);
            break;
        case S_CHUNK_SIZE:
            read_chunk_size(c, h, cfg);
            break;
        case S_CHUNK_DATA:
            if (read_bytes(c, h) == 1)
                h->state = S_CHUNK_END;
            break;
        case S_CHUNK_END:
            read_chunk_end(c, h);
            break;
        case S_TRAILER:
            read_trailer(c, h, cfg);
            break;
        }
        if (!duro_conn_input(c) ||
            (h->state == before && evbuffer_get_length(duro_conn_input(c)) == had))
            return; /* closed, or needs more bytes */
    }
}

/* ---- responses ---- */

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT", formatted once a second. */
static const char *http_date(void)
{
    static __thread time_t last;
    static __thread char buf[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

static void respond(duro_hreq *r, int code, const char *reason, void *body, size_t len, int fd,
                    uint64_t off);

void duro_hreq_respond(duro_hreq *r, int code, const char *reason, void *body, size_t len)
{
    respond(r, code, reason, body, len, -1, 0);
}

void duro_hreq_respond_file(duro_hreq *r, int code, const char *reason, int fd, uint64_t off,
                            uint64_t len)
{
    respond(r, code, reason, NULL, (size_t)len, fd, off);
}

static void respond(duro_hreq *r, int code, const char *reason, void *body, size_t len, int fd,
                    uint64_t off)
{
    duro_conn *c = r->conn;
    hconn *h = duro_conn_state(c);
    if (duro_conn_open(c)) {
        duro_buf head = {0};
        duro_buf_printf(&head, "HTTP/1.%d %d %s\r\n", r->minor, code,
                        reason ? reason : duro_http_reason(code));
        struct evkeyval *kv;
        TAILQ_FOREACH(kv, &r->out, next)
        {
            duro_buf_puts(&head, kv->key);
            duro_buf_puts(&head, ": ");
            duro_buf_puts(&head, kv->value);
            duro_buf_puts(&head, "\r\n");
        }
        duro_buf_printf(&head, "Date: %s\r\n", http_date());
        duro_buf_printf(&head, "X-Request-Id: %s\r\n", r->request_id);
        duro_buf_puts(&head, "Server: durod/" DURO_VERSION_STRING "\r\n");
        int bodyless = code == 204 || code == 304 || code < 200;
        if (!bodyless)
            duro_buf_printf(&head, "Content-Length: %zu\r\n", len);
        if (!r->keep_alive)
            duro_buf_puts(&head, "Connection: close\r\n");
        else if (r->minor == 0)
            duro_buf_puts(&head, "Connection: keep-alive\r\n");
        duro_buf_puts(&head, "\r\n");
        size_t hl;
        char *hd = duro_buf_take(&head, &hl);
        if (hd) {
            duro_conn_write_take(c, hd, hl);
        } else { /* no status line: nothing of this response may be sent */
            r->keep_alive = 0;
            bodyless = 1;
        }
        if (!bodyless && r->method != DURO_M_HEAD && body) {
            duro_conn_write_take(c, body, len);
            body = NULL;
        }
        if (!bodyless && r->method != DURO_M_HEAD && fd >= 0) {
            duro_conn_write_file(c, fd, off, len); /* takes fd */
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    if (duro_accesslog_on()) /* off: not even the clock is read */
        duro_accesslog_http(r->request_id, duro_conn_peer(c),
                            r->method_name[0] ? r->method_name : "-", r->path ? r->path : "-",
                            r->query, r->log_ns, code, len, duro_mono_us() - r->t0_us);
    free(body);
    int keep = r->keep_alive;
    if (h->req == r)
        h->req = NULL;
    req_release(r);
    if (keep && duro_conn_open(c) && !duro_conn_eof(c)) {
        h->state = S_HEAD;
        if (duro_conn_output_len(c) <= DURO_OUT_HIGH)
            duro_conn_resume(c);
    } else {
        h->state = S_SERVING; /* nothing more is read */
        duro_conn_close_after_write(c);
    }
    duro_conn_release(c);
}

/* ---- the protocol ---- */

static void on_drained(duro_conn *c)
{
    hconn *h = duro_conn_state(c);
    if (h->state == S_HEAD)
        duro_conn_resume(c);
}

static void on_closed(duro_conn *c)
{
    hconn *h = duro_conn_state(c);
    if (h->req && h->state != S_SERVING) { /* half read: nobody else has it */
        req_release(h->req);
        h->req = NULL;
    }
}

static void on_refuse(evutil_socket_t fd)
{
    duro_buf body = {0}, msg = {0};
    int st = DURO_UNAVAILABLE;
    int rc = duro_errbody_json(&body, DURO_ERRBODY_ENVELOPE, st,
                               "too many connections (--max-connections); retry later");
    rc |= duro_buf_printf(&msg,
                          "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n",
                          duro_status_http(st), duro_http_reason(duro_status_http(st)), body.len);
    rc |= duro_buf_append(&msg, body.data, body.len);
    if (rc == 0) {
        ssize_t w = send(fd, msg.data, msg.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    duro_buf_free(&body);
    duro_buf_free(&msg);
}

const duro_proto duro_http1_proto = {
    .name = "HTTP",
    .state_size = sizeof(hconn),
    .read = on_read,
    .drained = on_drained,
    .closed = on_closed,
    .refuse = on_refuse,
};
