/*
 * rate_limit.c — an HTTP handler guarding itself with duro: a tiny libevent
 * (evhttp) server that asks duro, for every request, whether its client may
 * have one more, and answers 200 "ok" or 429 with Retry-After.
 *
 *   rate_limit URL PORT LIMIT WINDOW_MS [--requests N]
 *
 *   rate_limit duro://127.0.0.1:7070 8080 5 60000     a durod's rate limiter
 *   rate_limit file:///tmp/duro-data 8080 5 60000     the runtime in this process
 *
 * Each request costs one token of the bucket "LIMIT per WINDOW_MS" of its
 * client, in duro's namespace "example". The client is the X-Client-Key header
 * when the request has one (an API key, a user id, ...), else its address
 * ("ip:127.0.0.1"). Because duro runs every check of a namespace on one thread,
 * any number of these servers sharing one durod enforce one exact limit
 * together.
 *
 * It listens on 127.0.0.1:PORT, prints "listening on 127.0.0.1:PORT" when
 * ready, and exits 0 on SIGTERM or SIGINT, or after answering N requests with
 * --requests N. If duro cannot answer, the request gets 503 (fail closed).
 *
 * The handler calls duro_ratelimit_check, which blocks this (single) event
 * loop thread for one round trip; a busy server would run checks on worker
 * threads or keep many in flight with duro_send/duro_recv.
 *
 * Build: cc rate_limit.c $(pkg-config --cflags --libs duro libevent)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <duro/duro.h>

static const char *NS = "example";

typedef struct server {
    duro *db;
    int64_t limit, window_ms;
    struct event_base *base;
    long long max_requests; /* 0: no limit */
    long long answered;     /* replies fully written */
} server;

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A reply has been written out: count it, and stop after --requests N. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    server *s = arg;
    s->answered++;
    if (s->max_requests > 0 && s->answered >= s->max_requests)
        event_base_loopexit(s->base, NULL);
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void handle(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    evhttp_request_set_on_complete_cb(req, on_complete, s);

    /* Who is asking: an explicit client key, else the peer's address. */
    char key[300];
    const char *hk = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Client-Key");
    if (hk && *hk) {
        snprintf(key, sizeof key, "key:%.256s", hk);
    } else {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
        snprintf(key, sizeof key, "ip:%s", addr ? addr : "unknown");
    }

    duro_rl_result r;
    int rc = duro_ratelimit_check(s->db, NS, key, s->limit, s->window_ms, 1, &r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (rc != DURO_OK) {
        fprintf(stderr, "rate_limit: check %s: %s (%s)\n", key, duro_errstr(rc),
                duro_last_error());
        reply(req, 503, "Service Unavailable", "rate limiter unavailable");
        return;
    }
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, r.limit);
    evhttp_add_header(h, "RateLimit-Limit", num);
    snprintf(num, sizeof num, "%" PRId64, r.remaining);
    evhttp_add_header(h, "RateLimit-Remaining", num);
    snprintf(num, sizeof num, "%" PRId64, (r.reset_ms + 999) / 1000);
    evhttp_add_header(h, "RateLimit-Reset", num);
    if (r.allowed) {
        reply(req, 200, "OK", "ok");
    } else {
        /* Retry-After is whole seconds, rounded up so a client that waits
         * that long is let in. */
        int64_t secs = (r.retry_after_ms + 999) / 1000;
        snprintf(num, sizeof num, "%" PRId64, secs > 0 ? secs : 1);
        evhttp_add_header(h, "Retry-After", num);
        reply(req, 429, "Too Many Requests", "rate limited");
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    long long port, limit, window, max_requests = 0;
    int bad = argc != 5 && !(argc == 7 && strcmp(argv[5], "--requests") == 0);
    if (!bad)
        bad = parse_int(argv[2], 1, 65535, &port) || parse_int(argv[3], 1, 1000000000, &limit) ||
              parse_int(argv[4], 1, 315360000000LL, &window) ||
              (argc == 7 && parse_int(argv[6], 1, 1000000000, &max_requests));
    if (bad) {
        fprintf(stderr, "usage: rate_limit URL PORT LIMIT WINDOW_MS [--requests N]\n"
                        "  e.g. rate_limit duro://127.0.0.1:7070 8080 5 60000\n");
        return 2;
    }

    server s = {.limit = limit, .window_ms = window, .max_requests = max_requests};
    duro_open_options opts = {.token = getenv("DURO_TOKEN")}; /* for access control */
    int rc = duro_open_ex(argv[1], &opts, &s.db);
    if (rc != DURO_OK) {
        fprintf(stderr, "rate_limit: cannot open %.*s: %s (%s)\n", (int)strcspn(argv[1], "?"),
                argv[1], duro_errstr(rc), duro_last_error());
        return 1;
    }

    int ex = 1;
    struct event *sigterm = NULL, *sigint = NULL;
    struct evhttp *http = NULL;
    s.base = event_base_new();
    if (!s.base || !(http = evhttp_new(s.base))) {
        fprintf(stderr, "rate_limit: cannot create the event loop\n");
        goto out;
    }
    evhttp_set_gencb(http, handle, &s);
    if (!evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port)) {
        fprintf(stderr, "rate_limit: cannot listen on 127.0.0.1:%lld\n", port);
        goto out;
    }
    sigterm = evsignal_new(s.base, SIGTERM, on_signal, s.base);
    sigint = evsignal_new(s.base, SIGINT, on_signal, s.base);
    if (!sigterm || !sigint || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
        fprintf(stderr, "rate_limit: cannot catch signals\n");
        goto out;
    }
    printf("listening on 127.0.0.1:%lld (%lld per %lld ms per client)\n", port, limit, window);
    fflush(stdout);
    ex = event_base_dispatch(s.base) < 0 ? 1 : 0;
    printf("served %lld requests\n", s.answered);

out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (http)
        evhttp_free(http);
    if (s.base)
        event_base_free(s.base);
    duro_close(s.db); /* embedded: writes the rate limiter's state */
    return ex;
}
