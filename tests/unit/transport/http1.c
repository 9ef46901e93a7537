/*
 * tests/unit/transport/http1.c — the HTTP/1.1 request-head parser and body framing
 * (transport/http1.c): what is accepted, and every shape two parsers could read differently is
 * refused.
 */
#include <event2/http.h>
#include <sys/queue.h>

#include "duro/status.h"
#include "test.h"
#include "transport/http1.h"

/* Parses head text (without the final empty line) into a fresh request. */
static duro_hreq *parse(const char *text, int *st, char *err, size_t errlen)
{
    duro_hreq *r = calloc(1, sizeof *r);
    TAILQ_INIT(&r->in);
    TAILQ_INIT(&r->out);
    size_t n = strlen(text);
    r->head = malloc(n + 1);
    memcpy(r->head, text, n + 1);
    *st = duro_http1_parse_head(r, n, err, errlen);
    return r;
}

static int status_of(const char *text)
{
    char err[160];
    int st;
    duro_hreq *r = parse(text, &st, err, sizeof err);
    if (st == DURO_OK) {
        uint64_t len;
        int chunked;
        st = duro_http1_framing(r, &len, &chunked, err, sizeof err);
    }
    duro_hreq_free(r);
    return st;
}

TEST(request_line_and_headers)
{
    char err[160];
    int st;
    duro_hreq *r = parse("PUT /storage/a%2Fb?ns=x&y=1 HTTP/1.1\r\nHost: h\r\n"
                         "Content-Length:  12 \r\nX-Empty:\r\n",
                         &st, err, sizeof err);
    ASSERT_EQ(st, DURO_OK);
    ASSERT_EQ(r->method, DURO_M_PUT);
    ASSERT_EQ(r->minor, 1);
    ASSERT_EQ(r->keep_alive, 1);
    ASSERT_STREQ(r->path, "/storage/a%2Fb");
    ASSERT_STREQ(r->query, "ns=x&y=1");
    ASSERT_STREQ(evhttp_find_header(&r->in, "content-length"), "12");
    ASSERT_STREQ(evhttp_find_header(&r->in, "X-Empty"), "");
    uint64_t len;
    int chunked;
    ASSERT_EQ(duro_http1_framing(r, &len, &chunked, err, sizeof err), DURO_OK);
    ASSERT_EQ(len, 12);
    ASSERT_EQ(chunked, 0);
    duro_hreq_free(r);
}

TEST(versions_and_keep_alive)
{
    char err[160];
    int st;
    duro_hreq *r = parse("GET / HTTP/1.0\n", &st, err, sizeof err);
    ASSERT_EQ(st, DURO_OK);
    ASSERT_EQ(r->keep_alive, 0);
    duro_hreq_free(r);
    r = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n", &st, err, sizeof err);
    ASSERT_EQ(r->keep_alive, 1);
    duro_hreq_free(r);
    r = parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n", &st, err, sizeof err);
    ASSERT_EQ(st, DURO_OK);
    ASSERT_EQ(r->keep_alive, 0);
    duro_hreq_free(r);
    ASSERT_EQ(status_of("GET / HTTP/2.0\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.2\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET /\r\n"), DURO_BAD_REQUEST);
}

TEST(targets)
{
    char err[160];
    int st;
    duro_hreq *r = parse("GET http://example.com/storage/k?ns=a HTTP/1.1\r\n", &st, err,
                         sizeof err);
    ASSERT_EQ(st, DURO_OK);
    ASSERT_STREQ(r->path, "/storage/k");
    ASSERT_STREQ(r->query, "ns=a");
    duro_hreq_free(r);
    r = parse("GET http://example.com HTTP/1.1\r\n", &st, err, sizeof err);
    ASSERT_STREQ(r->path, "/");
    duro_hreq_free(r);
    r = parse("OPTIONS * HTTP/1.1\r\n", &st, err, sizeof err);
    ASSERT_EQ(st, DURO_OK);
    duro_hreq_free(r);
    ASSERT_EQ(status_of("GET * HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET storage HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET /a\x01 HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET /a\x7f HTTP/1.1\r\n"), DURO_BAD_REQUEST);
}

TEST(methods)
{
    char err[160];
    int st;
    duro_hreq *r = parse("PROPFIND / HTTP/1.1\r\n", &st, err, sizeof err);
    ASSERT_EQ(st, DURO_OK); /* routed later: 405 */
    ASSERT_EQ(r->method, DURO_M_OTHER);
    ASSERT_STREQ(r->method_name, "PROPFIND");
    duro_hreq_free(r);
    ASSERT_EQ(status_of("G(T / HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of(" GET / HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET  / HTTP/1.1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1 \r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("AVERYLONGMETHODNAME / HTTP/1.1\r\n"), DURO_BAD_REQUEST);
}

TEST(header_shapes_that_parsers_disagree_on)
{
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nHost : x\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\n: x\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nNoColon\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nX: a\rb\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nX: a\x01\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nX: tab\there\r\n"), DURO_OK);
    ASSERT_EQ(status_of("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n"), DURO_OK);
}

TEST(nul_bytes_are_refused)
{
    char err[160];
    int st;
    const char text[] = "PUT / HTTP/1.1\r\nContent-Length: 11\0 junk\r\n";
    duro_hreq *r = calloc(1, sizeof *r);
    TAILQ_INIT(&r->in);
    TAILQ_INIT(&r->out);
    r->head = malloc(sizeof text);
    memcpy(r->head, text, sizeof text);
    st = duro_http1_parse_head(r, sizeof text - 1, err, sizeof err);
    ASSERT_EQ(st, DURO_BAD_REQUEST);
    duro_hreq_free(r);
}

TEST(framing)
{
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 11\r\nContent-Length: 0\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: -1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: +1\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n"), DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status_of("PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"), DURO_BAD_REQUEST);
    char err[160];
    int st;
    duro_hreq *r = parse("PUT / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n", &st, err, sizeof err);
    uint64_t len = 7;
    int chunked = 0;
    ASSERT_EQ(duro_http1_framing(r, &len, &chunked, err, sizeof err), DURO_OK);
    ASSERT_EQ(chunked, 1);
    ASSERT_EQ(len, 0);
    duro_hreq_free(r);
}

TEST_MAIN()
