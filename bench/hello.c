/* bench_hello — the HTTP ceiling of this machine: a bare libevent evhttp server.
 * One thread, one event_base, one evhttp; every request gets 200 "hello"
 * (Content-Type: text/plain). Keep-alive is evhttp's default.
 *
 * usage: bench_hello PORT        (binds 127.0.0.1 only)
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evbuffer_add(out, "hello", 5);
    evhttp_send_reply(req, HTTP_OK, "OK", out); /* drains out */
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "bad port: %s\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct evbuffer *out = evbuffer_new();
    if (!base || !http || !out) {
        fprintf(stderr, "libevent init failed\n");
        return 1;
    }
    evhttp_set_gencb(http, on_request, out);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "cannot bind 127.0.0.1:%ld\n", port);
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    fprintf(stderr, "bench_hello listening on 127.0.0.1:%ld\n", port);
    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evbuffer_free(out);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
