/*
 * bench.c — `duro bench`, a load generator over the binary protocol.
 *
 * DESIGN
 *
 * Threads. --threads T event loops (default one per 4 CPUs, at least 1: on
 * loopback the server needs the rest; at most --clients); thread t owns
 * connections [t*C/T, (t+1)*C/T) of the --clients C, each a non-blocking TCP
 * socket with TCP_NODELAY (and the auth op first when there is a token), and
 * runs one epoll loop over them: nothing is shared between threads while a
 * run lasts but the stop time and the --requests counter (atomics).
 *
 * Requests. The frames are pre-encoded once per run as templates (4-byte
 * length, [msgid, op, ns, {..., key: }]) with the key last: a request is a
 * copy of its template into the connection's output buffer, its msgid (a
 * fixed uint64) patched in place and the key "kN" appended. msgid is
 * seq << 12 | slot, slot an index into the connection's --pipeline slots
 * (send time, msgid): a reply finds its slot in O(1), in any order. Replies
 * are parsed in place from a per-connection input buffer: their length, msgid
 * and status are read, nothing is decoded or copied. Nothing is allocated per
 * request or per reply; a buffer grows only for a reply larger than it.
 *
 * Loops. Closed loop by default: a connection sends a new request as soon as
 * a reply comes back, and a latency is the time from the write to the reply.
 * With --rate R (ops/s over all connections) it runs an open loop: every
 * connection owns a fixed schedule of R/clients requests per second (a timerfd
 * per thread wakes it), a request is sent when it is due (if fewer than
 * --pipeline are in flight; otherwise as soon as one returns) and its latency
 * counts from when it was due, so a stall shows up in the percentiles instead
 * of slowing the schedule (no coordinated omission). Latencies go into a
 * log-linear histogram per thread (1/64 relative precision), merged at the end.
 *
 * Bounded: sending stops at --duration (or after --requests), then each thread
 * waits at most DRAIN_S for the replies in flight (those missing count as
 * errors); every epoll_wait has a timeout, so a thread notices the stop and the
 * drain deadline whether or not the server answers.
 *
 * Server count. With --metrics-url (durod's HTTP --listen address) the
 * server's counter of the op's kind (duro_kv_ops_total, or
 * duro_ratelimit_ops_total for --op ratelimit) is read from /metrics after the
 * preload, just before the start, and again after every reply was drained:
 * the difference is what the server executed for this run, and it must equal
 * the replies the client took (unless other clients use the server meanwhile).
 *
 * Keys are k0..k(K-1), picked uniformly at random per request; values are
 * strings of --value-size bytes. Before a get or mixed run the keys are written
 * with kv.batch_set through a libduro handle (unless --no-preload). --op
 * ratelimit sends ratelimit.check {limit: RL_LIMIT, windowMs: RL_WINDOW_MS,
 * key} on the same key space: a limit so high that every check is allowed and
 * writes its bucket, the rate limiter's full path per request.
 *
 * An embedded run (file://, --clients 1) has no socket: it goes through
 * libduro's duro_send/duro_recv on one thread (the "handle loop" below).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "duro/duro.h"

#define B_OK 0
#define B_USAGE 2
#define B_SERVER 3

#define HIST_SUB 64                        /* sub-buckets per power of two */
#define HIST_BUCKETS ((64 - 5) * HIST_SUB) /* covers every uint64 ns value */
#define PRELOAD_BATCH 1000
#define RL_LIMIT 1000000000 /* --op ratelimit: never denied */
#define RL_WINDOW_MS 60000
#define DRAIN_S 10            /* seconds to wait for the replies in flight at the stop */
#define SLOT_BITS 12          /* msgid = seq << SLOT_BITS | slot; --pipeline <= 4096 */
#define OUT_MAX (4u << 20)    /* bytes of frames buffered per connection, at most */
#define IN_MIN 65536          /* a connection's input buffer, at first */
#define REPLY_MAX (64u << 20) /* a longer reply is a protocol error */
#define ID_AT 6               /* a template's msgid: after the length, 0x94, 0xcf */
#define MAX_EVENTS 64
#define TIMER_TAG UINT32_MAX
#define METRICS_TIMEOUT_MS 3000

enum { OP_GET, OP_SET, OP_MIXED, OP_RATELIMIT };

typedef struct bench_cfg {
    const char *url, *ns, *token, *metrics_url;
    int clients, threads, pipeline, value_size, get_pct, preload, json;
    int64_t keys, max_requests;
    double duration_s, rate;
    int op;
} bench_cfg;

/* Results of one thread (either loop), merged at the end. */
typedef struct tally {
    uint64_t hist[HIST_BUCKETS];
    uint64_t ok, not_found, errors, replies, missing, max_ns, end_ns;
} tally;

/* A frame template: everything but the msgid (zeros at ID_AT) and the key. */
typedef struct tmpl {
    unsigned char *b;
    size_t len;
} tmpl;

/* Shared state of one run. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int go;            /* under lock: the threads may start */
    uint64_t start_ns; /* written before go */
    _Atomic uint64_t stop_ns;
    atomic_int_fast64_t sent;
    const char *value;
    tmpl tpl[2]; /* [0] get or ratelimit.check, [1] put */
    size_t frame_max;
} run = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL, {{0}}, 0};

static uint64_t stop_at(void) { return atomic_load_explicit(&run.stop_ns, memory_order_relaxed); }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void wait_go(void)
{
    pthread_mutex_lock(&run.lock);
    while (!run.go)
        pthread_cond_wait(&run.cond, &run.lock);
    pthread_mutex_unlock(&run.lock);
}

/* May one more request go out at `now`? Counts it against --requests; the
 * first refusal stops every thread. */
static int may_send(const bench_cfg *cfg, uint64_t now)
{
    if (now >= stop_at())
        return 0;
    if (cfg->max_requests > 0 && atomic_fetch_add(&run.sent, 1) >= cfg->max_requests) {
        atomic_store_explicit(&run.stop_ns, 0, memory_order_relaxed);
        return 0;
    }
    return 1;
}

/* ---- latency histogram ---- */

static size_t hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    uint64_t top = v >> (msb - 6); /* 64..127 */
    return (size_t)(msb - 5) * HIST_SUB + (size_t)(top - HIST_SUB);
}

/* The middle of bucket i's range, in ns. */
static double hist_value(size_t i)
{
    if (i < 2 * HIST_SUB)
        return (double)i;
    int msb = (int)(i / HIST_SUB) + 5;
    uint64_t top = i % HIST_SUB + HIST_SUB;
    double lo = ldexp((double)top, msb - 6);
    return lo + ldexp(1.0, msb - 6) / 2;
}

static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

static void record(tally *t, uint64_t t0, uint64_t t1, int status)
{
    uint64_t lat = t1 > t0 ? t1 - t0 : 0;
    t->hist[hist_index(lat)]++;
    if (lat > t->max_ns)
        t->max_ns = lat;
    t->replies++;
    if (status == DURO_OK || status == DURO_CREATED)
        t->ok++;
    else if (status == DURO_NOT_FOUND)
        t->not_found++;
    else
        t->errors++;
}

/* ---- msgpack pieces ---- */

static unsigned char *mp_str(unsigned char *p, const void *s, size_t n)
{
    if (n < 32) {
        *p++ = (unsigned char)(0xa0 | n);
    } else if (n < 256) {
        *p++ = 0xd9;
        *p++ = (unsigned char)n;
    } else if (n < 65536) {
        *p++ = 0xda;
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    } else {
        *p++ = 0xdb;
        *p++ = (unsigned char)(n >> 24);
        *p++ = (unsigned char)(n >> 16);
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    }
    memcpy(p, s, n);
    return p + n;
}

static unsigned char *mp_lit(unsigned char *p, const char *s) { return mp_str(p, s, strlen(s)); }

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* "kN" as a msgpack fixstr (N < 1e9 + 1: at most 11 bytes) at p, without
 * snprintf; returns the end. */
static unsigned char *mp_key(unsigned char *p, uint64_t k)
{
    char d[24];
    int i = (int)sizeof d;
    do {
        d[--i] = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    d[--i] = 'k';
    size_t n = sizeof d - (size_t)i;
    *p++ = (unsigned char)(0xa0 | n);
    memcpy(p, d + i, n);
    return p + n;
}

/* The args map of an op without its key (which comes last, as "key" then the
 * key string): {key} {value, key} or {limit, windowMs, key}. */
static unsigned char *args_head(unsigned char *p, int kind, const bench_cfg *cfg)
{
    if (kind == 0 && cfg->op == OP_RATELIMIT) {
        *p++ = 0x83;
        p = mp_lit(p, "limit");
        *p++ = 0xce;
        be32(p, RL_LIMIT);
        p += 4;
        p = mp_lit(p, "windowMs");
        *p++ = 0xcd;
        *p++ = (unsigned char)(RL_WINDOW_MS >> 8);
        *p++ = (unsigned char)RL_WINDOW_MS;
    } else if (kind == 0) {
        *p++ = 0x81;
    } else {
        *p++ = 0x82;
        p = mp_lit(p, "value");
        p = mp_str(p, run.value, (size_t)cfg->value_size);
    }
    return mp_lit(p, "key");
}

/* Builds run.tpl (the frames of this run's ops, without msgid and key) and
 * run.frame_max. 0, or -1 out of memory. */
static int templates_build(const bench_cfg *cfg)
{
    size_t nsl = strlen(cfg->ns);
    size_t cap = (size_t)cfg->value_size + nsl + 96;
    for (int kind = 0; kind < 2; kind++) {
        unsigned char *b = malloc(cap), *p = b;
        if (!b)
            return -1;
        memset(b, 0, cap);
        p += 4;
        *p++ = 0x94;
        *p++ = 0xcf; /* msgid: a uint64 at ID_AT, patched per request */
        p += 8;
        p = mp_lit(p, kind ? "kv.put" : cfg->op == OP_RATELIMIT ? "ratelimit.check" : "kv.get");
        p = mp_str(p, cfg->ns, nsl);
        p = args_head(p, kind, cfg);
        run.tpl[kind] = (tmpl){b, (size_t)(p - b)};
    }
    run.frame_max = cap + 16;
    return 0;
}

/* Request id at dst from template t and key k; returns its length. */
static size_t frame_put(unsigned char *dst, const tmpl *t, uint64_t id, uint64_t k)
{
    memcpy(dst, t->b, t->len);
    be32(dst + ID_AT, (uint32_t)(id >> 32));
    be32(dst + ID_AT + 4, (uint32_t)id);
    unsigned char *p = mp_key(dst + t->len, k);
    be32(dst, (uint32_t)(p - dst - 4));
    return (size_t)(p - dst);
}

/* A reply [msgid, status, body] of len bytes at p: its msgid and status.
 * 0, or -1 if it is not such a frame. */
static int reply_parse(const unsigned char *p, size_t len, uint64_t *id, int *status)
{
    if (len < 3 || p[0] != 0x93)
        return -1;
    size_t i;
    if (p[1] < 0x80) {
        *id = p[1];
        i = 2;
    } else if (p[1] >= 0xcc && p[1] <= 0xcf) {
        size_t n = (size_t)1 << (p[1] - 0xcc);
        if (len < 3 + n)
            return -1;
        uint64_t v = 0;
        for (size_t j = 0; j < n; j++)
            v = v << 8 | p[2 + j];
        *id = v;
        i = 2 + n;
    } else {
        return -1;
    }
    if (p[i] < 0x80)
        *status = p[i];
    else if (p[i] == 0xcc && i + 1 < len)
        *status = p[i + 1];
    else
        *status = DURO_INTERNAL; /* not a status the protocol has: an error */
    return 0;
}

/* ---- the socket loop: connections and threads ---- */

typedef struct conn {
    int fd, dead;
    int inflight;
    uint32_t events; /* the epoll interest now set */
    uint64_t seq;    /* requests sent so far */
    uint64_t due;    /* open loop: when its next request is due */
    uint64_t *ids;   /* per slot: msgid in flight, 0 when the slot is free */
    uint64_t *t0;    /* per slot: write (closed loop) or due (open loop) time */
    uint16_t *free_slots;
    int nfree;
    unsigned char *in, *out;
    size_t in_len, in_cap, out_off, out_len, out_cap;
} conn;

typedef struct worker {
    const bench_cfg *cfg;
    pthread_t thread;
    conn *c;
    int nconn, first; /* c[i] is connection first + i of the run */
    int live, inflight, sending, failed_msg;
    int ep, tfd;
    uint64_t rng, interval;
    tally t;
} worker;

typedef struct endpoint {
    char host[256], port[16];
    int connect_ms;
    char *token; /* malloc'd, or NULL */
} endpoint;

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* duro://host[:port][/][?connect_timeout_ms=N&token=T&...] into e (the URL
 * was already checked by duro_open_ex). 0, or -1. */
static int endpoint_parse(const char *url, endpoint *e)
{
    if (strncmp(url, "duro://", 7) != 0)
        return -1;
    const char *p = url + 7, *h = p, *he;
    if (*p == '[') {
        h = p + 1;
        he = strchr(h, ']');
        if (!he)
            return -1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/?");
        p = he;
    }
    if ((size_t)(he - h) >= sizeof e->host || he == h)
        return -1;
    memcpy(e->host, h, (size_t)(he - h));
    e->host[he - h] = '\0';
    snprintf(e->port, sizeof e->port, "7070");
    if (*p == ':') {
        size_t n = strspn(p + 1, "0123456789");
        if (n == 0 || n >= sizeof e->port)
            return -1;
        memcpy(e->port, p + 1, n);
        e->port[n] = '\0';
        p += 1 + n;
    }
    e->connect_ms = 2000;
    const char *q = strchr(p, '?');
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&");
        if (n > 19 && strncmp(q, "connect_timeout_ms=", 19) == 0) {
            e->connect_ms = atoi(q + 19);
        } else if (n >= 6 && strncmp(q, "token=", 6) == 0 && !e->token) {
            char *t = malloc(n), *o = t;
            if (!t)
                return -1;
            for (const char *s = q + 6; s < q + n; s++) {
                if (*s == '%' && s + 2 < q + n && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
                    s += 2;
                } else {
                    *o++ = *s == '+' ? ' ' : *s;
                }
            }
            *o = '\0';
            e->token = t;
        }
        q += n;
    }
    if (e->connect_ms <= 0)
        e->connect_ms = 2000;
    return 0;
}

static int await_fd(int fd, short what, int ms)
{
    struct pollfd pfd = {fd, what, 0};
    int n;
    do
        n = poll(&pfd, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0;
}

/* A non-blocking TCP connection to one of res, TCP_NODELAY. fd or -1. */
static int dial(const struct addrinfo *res, int ms, int *err)
{
    *err = ECONNREFUSED;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            socklen_t l = sizeof *err;
            *err = ETIMEDOUT;
            if (await_fd(fd, POLLOUT, ms) && getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &l) == 0)
                rc = *err == 0 ? 0 : -1;
        } else if (rc != 0) {
            *err = errno;
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
    }
    return -1;
}

/* Sends [0, "auth", "", {token}] on a new connection and reads its reply.
 * DURO_OK, the server's status, or DURO_UNAVAILABLE (no answer in ms). */
static int handshake(int fd, const char *token, int ms)
{
    size_t tl = strlen(token);
    unsigned char *f = malloc(tl + 64), *p = f;
    if (!f)
        return DURO_NOMEM;
    p += 4;
    *p++ = 0x94;
    *p++ = 0x00;
    p = mp_lit(p, "auth");
    p = mp_lit(p, "");
    *p++ = 0x81;
    p = mp_lit(p, "token");
    p = mp_str(p, token, tl);
    be32(f, (uint32_t)(p - f - 4));
    size_t n = (size_t)(p - f), off = 0;
    int bad = 0;
    while (!bad && off < n) {
        ssize_t w = send(fd, f + off, n - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && (errno == EAGAIN || errno == EINTR))
            bad = !await_fd(fd, POLLOUT, ms);
        else
            bad = 1;
    }
    memset(f, 0, n);
    free(f);
    unsigned char buf[1024];
    size_t got = 0, need = 4;
    while (!bad && got < need) {
        ssize_t r = recv(fd, buf + got, need - got, 0);
        if (r > 0) {
            got += (size_t)r;
            if (got == 4 && need == 4) {
                need = 4 +
                       ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3]);
                bad = need == 4 || need > sizeof buf;
            }
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            bad = !await_fd(fd, POLLIN, ms);
        } else {
            bad = 1;
        }
    }
    uint64_t id;
    int st;
    if (bad || reply_parse(buf + 4, need - 4, &id, &st) != 0)
        return DURO_UNAVAILABLE;
    return st;
}

static void conn_free(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->ids);
    free(c->t0);
    free(c->free_slots);
    free(c->in);
    free(c->out);
}

/* The buffers of a connection. 0, or -1 out of memory. */
static int conn_init(conn *c, const bench_cfg *cfg)
{
    size_t p = (size_t)cfg->pipeline;
    c->ids = calloc(p, sizeof *c->ids);
    c->t0 = calloc(p, sizeof *c->t0);
    c->free_slots = calloc(p, sizeof *c->free_slots);
    size_t frames = OUT_MAX / run.frame_max;
    if (frames < 1)
        frames = 1;
    if (frames > p)
        frames = p;
    c->out_cap = frames * run.frame_max;
    c->out = malloc(c->out_cap);
    c->in_cap = IN_MIN;
    if (c->in_cap < (size_t)cfg->value_size + 512)
        c->in_cap = (size_t)cfg->value_size + 512;
    c->in = malloc(c->in_cap);
    if (!c->ids || !c->t0 || !c->free_slots || !c->out || !c->in)
        return -1;
    for (size_t i = 0; i < p; i++)
        c->free_slots[i] = (uint16_t)(p - 1 - i); /* slot 0 first */
    c->nfree = (int)p;
    return 0;
}

/* A connection that broke: what it had in flight counts as errors. */
static void conn_fail(worker *w, conn *c, const char *why)
{
    if (!w->failed_msg++)
        fprintf(stderr, "duro: bench: a connection failed: %s\n", why);
    w->t.errors += (uint64_t)c->inflight;
    w->inflight -= c->inflight;
    c->inflight = 0;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->dead = 1;
    w->live--;
}

static void conn_interest(worker *w, conn *c)
{
    uint32_t ev = EPOLLIN | (c->out_len > c->out_off ? EPOLLOUT : 0);
    if (ev != c->events) {
        struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(c - w->c)};
        epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e);
        c->events = ev;
    }
}

/* Writes what c has buffered, as far as the socket takes it. 0, or -1 (c failed). */
static int conn_flush(worker *w, conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_fail(w, c, n < 0 ? strerror(errno) : "write failed");
            return -1;
        }
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    } else if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    return 0;
}

/* Sends what c may send now: up to --pipeline in flight (closed loop), of
 * those due by `now` (open loop); frames built in place, then one write. */
static void conn_pump(worker *w, conn *c, uint64_t now)
{
    const bench_cfg *cfg = w->cfg;
    for (;;) {
        int built = 0;
        while (w->sending && c->inflight < cfg->pipeline &&
               c->out_len + run.frame_max <= c->out_cap) {
            if (w->interval && c->due > now)
                break;
            if (!may_send(cfg, now)) {
                w->sending = 0;
                break;
            }
            int kind = cfg->op == OP_SET ||
                       (cfg->op == OP_MIXED && (int)(xorshift(&w->rng) % 100) >= cfg->get_pct);
            uint64_t k = xorshift(&w->rng) % (uint64_t)cfg->keys;
            int slot = c->free_slots[--c->nfree];
            uint64_t id = ++c->seq << SLOT_BITS | (uint64_t)slot;
            c->ids[slot] = id;
            c->t0[slot] = w->interval ? c->due : now;
            c->out_len += frame_put(c->out + c->out_len, &run.tpl[kind], id, k);
            c->inflight++;
            w->inflight++;
            c->due += w->interval;
            built++;
        }
        if (conn_flush(w, c) != 0)
            return;
        if (!built || c->out_len > 0) /* nothing more, or the socket is full */
            break;
    }
    conn_interest(w, c);
}

/* One reply of len bytes at p, taken at t1. 0, or -1 for a protocol error. */
static int conn_reply(worker *w, conn *c, const unsigned char *p, size_t len, uint64_t t1)
{
    uint64_t id;
    int st;
    if (reply_parse(p, len, &id, &st) != 0)
        return -1;
    size_t slot = (size_t)(id & ((1u << SLOT_BITS) - 1));
    if (id == 0 || slot >= (size_t)w->cfg->pipeline || c->ids[slot] != id)
        return -1; /* a reply to nothing this connection sent */
    c->ids[slot] = 0;
    c->free_slots[c->nfree++] = (uint16_t)slot;
    c->inflight--;
    w->inflight--;
    record(&w->t, c->t0[slot], t1, st);
    return 0;
}

/* Reads what c has and takes every complete reply in place; *now becomes the
 * time of the read (the replies' arrival, and the send time of what the pump
 * writes next). 0, or -1 (c failed). */
static int conn_read(worker *w, conn *c, uint64_t *now)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (r <= 0) {
        conn_fail(w, c, r == 0 ? "closed by the server" : strerror(errno));
        return -1;
    }
    c->in_len += (size_t)r;
    uint64_t t1 = *now = now_ns();
    size_t off = 0;
    while (c->in_len - off >= 4) {
        const unsigned char *p = c->in + off;
        size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (len > REPLY_MAX) {
            conn_fail(w, c, "a reply longer than 64 MiB");
            return -1;
        }
        if (c->in_len - off < 4 + len)
            break;
        if (conn_reply(w, c, p + 4, len, t1) != 0) {
            conn_fail(w, c, "a malformed reply or one to no request");
            return -1;
        }
        off += 4 + len;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->in_len >= 4) { /* a reply that does not fit: grow (rare, not per request) */
        size_t len =
            (size_t)c->in[0] << 24 | (size_t)c->in[1] << 16 | (size_t)c->in[2] << 8 | c->in[3];
        if (len + 4 > c->in_cap) {
            unsigned char *b = realloc(c->in, len + 4);
            if (!b) {
                conn_fail(w, c, "out of memory");
                return -1;
            }
            c->in = b;
            c->in_cap = len + 4;
        }
    }
    return 0;
}

/* Open loop: arms the timer for the earliest due request of a connection
 * that has room, or the stop, whichever comes first. */
static void timer_arm(worker *w, uint64_t now)
{
    uint64_t next = stop_at();
    for (int i = 0; i < w->nconn; i++) {
        conn *c = &w->c[i];
        if (!c->dead && c->inflight < w->cfg->pipeline && c->due < next)
            next = c->due;
    }
    if (next <= now)
        next = now + 1000;
    struct itimerspec its = {{0, 0}, {(time_t)(next / 1000000000u), (long)(next % 1000000000u)}};
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const bench_cfg *cfg = w->cfg;
    wait_go();
    uint64_t now = now_ns(), stopped = 0;
    for (int i = 0; i < w->nconn; i++) {
        conn *c = &w->c[i];
        c->due = run.start_ns + w->interval * (uint64_t)(w->first + i) / (uint64_t)cfg->clients;
        conn_pump(w, c, now);
    }
    struct epoll_event ev[MAX_EVENTS];
    for (;;) { /* `now`: one clock read per wake-up and one per read */
        if (w->sending && now >= stop_at())
            w->sending = 0;
        if (!w->sending && !stopped)
            stopped = now;
        if (w->live == 0 || (!w->sending && w->inflight == 0))
            break;
        if (!w->sending && now >= stopped + (uint64_t)DRAIN_S * 1000000000u) {
            w->t.missing += (uint64_t)w->inflight;
            w->t.errors += (uint64_t)w->inflight;
            fprintf(stderr, "duro: bench: %d replies missing %d s after the end\n", w->inflight,
                    DRAIN_S);
            break;
        }
        int timeout = 100;
        if (w->sending) {
            uint64_t left = stop_at() - now;
            if (left / 1000000u + 1 < (uint64_t)timeout)
                timeout = (int)(left / 1000000u + 1);
            if (w->interval)
                timer_arm(w, now);
        }
        int n = epoll_wait(w->ep, ev, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "duro: bench: epoll_wait: %s\n", strerror(errno));
            break;
        }
        now = now_ns();
        if (w->sending && now >= stop_at())
            w->sending = 0;
        for (int k = 0; k < n; k++) {
            if (ev[k].data.u32 == TIMER_TAG) {
                uint64_t ticks;
                if (read(w->tfd, &ticks, sizeof ticks) < 0) {
                    /* nothing: the timer is re-armed anyway */
                }
                continue;
            }
            conn *c = &w->c[ev[k].data.u32];
            if (c->dead)
                continue;
            if ((ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(w, c, &now) != 0)
                continue;
            if (!w->interval)
                conn_pump(w, c, now);
            else if (ev[k].events & EPOLLOUT && conn_flush(w, c) == 0)
                conn_interest(w, c);
        }
        if (w->interval && w->sending)
            for (int i = 0; i < w->nconn; i++)
                if (!w->c[i].dead)
                    conn_pump(w, &w->c[i], now);
    }
    w->t.end_ns = now_ns();
    return NULL;
}

/* ---- the handle loop (file://): duro_send/duro_recv on one thread ---- */

typedef struct pending { /* one in-flight request: open addressing, backward-shift delete */
    uint64_t id;
    uint64_t t_ns; /* send time (closed loop) or due time (open loop) */
    int used;
} pending;

typedef struct hclient {
    const bench_cfg *cfg;
    duro *db;
    uint64_t rng;
    pending *table;
    size_t mask;
    unsigned char *args;
    tally t;
} hclient;

static size_t slot_of(const hclient *c, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & c->mask;
}

static void pending_put(hclient *c, uint64_t id, uint64_t t)
{
    size_t i = slot_of(c, id);
    while (c->table[i].used)
        i = (i + 1) & c->mask;
    c->table[i] = (pending){id, t, 1};
}

/* Removes id; returns 1 and its time in *t if it was there. */
static int pending_take(hclient *c, uint64_t id, uint64_t *t)
{
    size_t i = slot_of(c, id);
    while (c->table[i].used && c->table[i].id != id)
        i = (i + 1) & c->mask;
    if (!c->table[i].used)
        return 0;
    *t = c->table[i].t_ns;
    c->table[i].used = 0;
    /* Backward-shift the run that follows so every probe chain stays intact. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & c->mask;
        if (!c->table[j].used)
            break;
        size_t home = slot_of(c, c->table[j].id);
        /* Move j to the hole i unless home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->table[i] = c->table[j];
            c->table[j].used = 0;
            i = j;
        }
    }
    return 1;
}

static int hclient_send(hclient *c, uint64_t t)
{
    const bench_cfg *cfg = c->cfg;
    int kind = cfg->op == OP_SET ||
               (cfg->op == OP_MIXED && (int)(xorshift(&c->rng) % 100) >= cfg->get_pct);
    uint64_t k = xorshift(&c->rng) % (uint64_t)cfg->keys;
    unsigned char *p = mp_key(args_head(c->args, kind, cfg), k);
    size_t len = (size_t)(p - c->args);
    const char *op = kind ? "kv.put" : cfg->op == OP_RATELIMIT ? "ratelimit.check" : "kv.get";
    uint64_t id = 0;
    if (duro_send(c->db, op, cfg->ns, c->args, len, &id) != DURO_OK) {
        c->t.errors++;
        return -1;
    }
    pending_put(c, id, t ? t : now_ns());
    return 0;
}

/* Takes one reply and records it. A request that failed without a reply
 * (DURO_IO with its id) counts as an error; no id at all (nothing within the
 * handle's timeout) gives up on everything in flight. */
static void hclient_recv(hclient *c, int *inflight)
{
    uint64_t id = 0, t0;
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    int rc = duro_recv(c->db, &id, &status, &body, &len); /* rc: the op's duro_status */
    uint64_t t1 = now_ns();
    duro_free(body);
    if (id != 0 && pending_take(c, id, &t0)) {
        (*inflight)--;
        record(&c->t, t0, t1, rc);
        return;
    }
    if (id != 0) /* a late reply to a request already given up on */
        return;
    c->t.errors += (uint64_t)*inflight;
    c->t.missing += (uint64_t)*inflight;
    *inflight = 0;
    memset(c->table, 0, (c->mask + 1) * sizeof *c->table);
}

static void hclient_run(hclient *c)
{
    const bench_cfg *cfg = c->cfg;
    int inflight = 0, sending = 1;
    if (cfg->rate <= 0) { /* closed loop */
        while (sending || inflight > 0) {
            while (sending && inflight < cfg->pipeline) {
                if (!may_send(cfg, now_ns())) {
                    sending = 0;
                    break;
                }
                if (hclient_send(c, 0) == 0)
                    inflight++;
                else if (inflight == 0)
                    sleep_ns(1000000); /* do not spin */
            }
            if (inflight > 0)
                hclient_recv(c, &inflight);
            if (sending && now_ns() >= stop_at())
                sending = 0;
        }
    } else { /* open loop */
        uint64_t interval = (uint64_t)(1e9 / cfg->rate);
        uint64_t due = run.start_ns;
        if (interval == 0)
            interval = 1;
        while (sending || inflight > 0) {
            uint64_t now = now_ns();
            if (sending && now >= due && inflight < cfg->pipeline) {
                if (!may_send(cfg, now)) {
                    sending = 0;
                    continue;
                }
                if (hclient_send(c, due) == 0)
                    inflight++;
                due += interval;
                continue;
            }
            if (sending && now >= stop_at()) {
                sending = 0;
                continue;
            }
            if (inflight > 0)
                hclient_recv(c, &inflight);
            else if (sending) {
                uint64_t stop = stop_at(), until = due < stop ? due : stop;
                if (until > now)
                    sleep_ns(until - now);
            }
        }
    }
    c->t.end_ns = now_ns();
}

/* ---- the server's count: GET /metrics ---- */

/* The value of counter `name` in the /metrics of murl (http://host[:port][/...])
 * into *v. 0, or -1 with why (n bytes) set. */
static int metrics_read(const char *murl, const char *token, const char *name, uint64_t *v,
                        char *why, size_t n)
{
    if (strncmp(murl, "http://", 7) != 0) {
        snprintf(why, n, "--metrics-url is not http://host:port");
        return -1;
    }
    endpoint e = {0};
    char durl[300];
    const char *auth = murl + 7;
    int al = (int)strcspn(auth, "/?");
    const char *colon = memrchr(auth, ':', (size_t)al), *bracket = memrchr(auth, ']', (size_t)al);
    int has_port = colon && (!bracket || colon > bracket);
    snprintf(durl, sizeof durl, "duro://%.*s%s", al, auth, has_port ? "" : ":80");
    if (endpoint_parse(durl, &e) != 0) {
        snprintf(why, n, "--metrics-url is not http://host:port");
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(e.host, e.port, &hints, &res) != 0) {
        snprintf(why, n, "cannot resolve %.100s", e.host);
        return -1;
    }
    int err, fd = dial(res, METRICS_TIMEOUT_MS, &err);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(why, n, "cannot connect to %.100s:%s: %s", e.host, e.port, strerror(err));
        return -1;
    }
    char req[1024];
    int rl = snprintf(
        req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n%s%s%s\r\n",
        e.host, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int rc = -1;
    snprintf(why, n, "no answer from %.100s:%s", e.host, e.port);
    if (!buf || rl <= 0 || (size_t)rl >= sizeof req)
        goto out;
    for (size_t off = 0; off < (size_t)rl;) {
        ssize_t w = send(fd, req + off, (size_t)rl - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
                 await_fd(fd, POLLOUT, METRICS_TIMEOUT_MS))
            continue;
        else
            goto out;
    }
    uint64_t deadline = now_ns() + (uint64_t)METRICS_TIMEOUT_MS * 1000000u;
    for (;;) {
        if (len + 1 >= cap) {
            char *b = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!b)
                goto out;
            buf = b;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r > 0) {
            len += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            uint64_t t = now_ns();
            if (t >= deadline || !await_fd(fd, POLLIN, (int)((deadline - t) / 1000000u) + 1))
                goto out;
        } else {
            goto out;
        }
    }
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 || status != 200) {
        snprintf(why, n, "GET /metrics answered HTTP %d", status);
        goto out;
    }
    size_t nl = strlen(name);
    const char *p = strstr(buf, "\r\n\r\n");
    for (p = p ? p + 4 : NULL; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            char *end;
            unsigned long long x = strtoull(p + nl + 1, &end, 10);
            if (end != p + nl + 1) {
                *v = (uint64_t)x;
                rc = 0;
            }
            break;
        }
    }
    if (rc != 0)
        snprintf(why, n, "/metrics has no %s", name);
out:
    free(buf);
    free(e.token);
    close(fd);
    return rc;
}

/* ---- preload ---- */

static int preload(duro *db, const bench_cfg *cfg)
{
    size_t per = (size_t)cfg->value_size + 48;
    size_t cap = PRELOAD_BATCH * per + 16;
    char *buf = malloc(cap);
    if (!buf)
        return DURO_NOMEM;
    int rc = DURO_OK;
    for (int64_t k0 = 0; k0 < cfg->keys && rc == DURO_OK; k0 += PRELOAD_BATCH) {
        size_t n = 0;
        buf[n++] = '[';
        for (int64_t k = k0; k < cfg->keys && k < k0 + PRELOAD_BATCH; k++) {
            n += (size_t)snprintf(buf + n, cap - n, "%s{\"key\":\"k%" PRId64 "\",\"value\":\"",
                                  k == k0 ? "" : ",", k);
            memcpy(buf + n, run.value, (size_t)cfg->value_size);
            n += (size_t)cfg->value_size;
            buf[n++] = '"';
            buf[n++] = '}';
        }
        buf[n++] = ']';
        rc = duro_batch_set(db, cfg->ns, buf, n, NULL);
    }
    free(buf);
    return rc;
}

/* ---- options ---- */

static void bench_usage(FILE *f)
{
    fputs("usage: duro [-u URL] [-n NS] bench [OPTIONS]\n"
          "\n"
          "Load generator over the binary protocol: per-thread epoll loops over\n"
          "non-blocking connections, frames built in place, pipelined.\n"
          "\n"
          "  --clients N      connections                                 [50]\n"
          "  --threads T      event-loop threads sharing the connections  [1 per 4 CPUs,\n"
          "                   at least 1, at most N]\n"
          "  --pipeline P     requests in flight per connection (1..4096) [1]\n"
          "  --op OP          get | set | mixed | ratelimit              [get]\n"
          "                   ratelimit: ratelimit.check of a key, limit 1e9 per 60 s\n"
          "  --get-pct N      share of gets in mixed, percent            [90]\n"
          "  --value-size B   bytes per value (a string)                 [100]\n"
          "  --keys K         key space k0..k(K-1), uniform random       [10000]\n"
          "  --duration S     seconds of sending (fractions allowed)     [5]\n"
          "  --requests N     stop after N requests in all (0: no limit) [0]\n"
          "  --rate R         open loop at R ops/s in all; latency from when each\n"
          "                   request was due (0: closed loop)          [0]\n"
          "  --no-preload     do not write the keys before a get/mixed run\n"
          "  --metrics-url U  durod's HTTP address (http://host:port): compare the\n"
          "                   server's duro_kv_ops_total (duro_ratelimit_ops_total)\n"
          "                   before and after the run with the replies counted\n"
          "  --json           print the result as one JSON object\n"
          "  -u URL, -n NS    as for every command; the namespace defaults to \"bench\"\n"
          "  --token T        as for every command (or env DURO_TOKEN); also sent to\n"
          "                   /metrics as a bearer token\n"
          "\n"
          "Prints ops/s, p50/p99/p999/max latency in ms and, with --metrics-url,\n"
          "\"server counted N ops, client N: match\" (or MISMATCH). Sending stops at\n"
          "--duration, then the replies in flight are waited for (at most 10 s).\n"
          "Exit status 0 after a run, 2 for bad options, 3 if the server cannot be\n"
          "reached or no request succeeded.\n"
          "\n"
          "Examples:\n"
          "  duro bench --clients 50 --pipeline 16 --op get --duration 5\n"
          "  duro -u duro://127.0.0.1:7070 bench --op set --metrics-url http://127.0.0.1:8787\n",
          f);
}

static int num_opt(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = v ? strtod(v, &end) : 0;
    if (!v || !*v || errno || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "duro: bench: %s wants a number in %g..%g, not '%s'\n", name, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv, bench_cfg *cfg, int *help)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = '\0';

        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            *help = 1;
            continue;
        }
        if (!strcmp(name, "--no-preload")) {
            cfg->preload = 0;
            continue;
        }
        if (!strcmp(name, "--json")) {
            cfg->json = 1;
            continue;
        }
        static const char *const valued[] = {
            "--clients",     "--threads", "--pipeline", "--op",       "--get-pct",
            "--value-size",  "--keys",    "--duration", "--requests", "--rate",
            "--metrics-url", "-u",        "--url",      "-n",         "--ns",
            "--token",       NULL};
        int known = 0;
        for (const char *const *v = valued; *v; v++)
            known |= !strcmp(name, *v);
        if (!known) {
            fprintf(stderr, "duro: bench: unknown option '%s'\n", a);
            return -1;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "duro: bench: %s needs a value\n", name);
            return -1;
        }
        double d;
        if (!strcmp(name, "-u") || !strcmp(name, "--url")) {
            cfg->url = val;
        } else if (!strcmp(name, "--token")) {
            cfg->token = val;
        } else if (!strcmp(name, "-n") || !strcmp(name, "--ns")) {
            cfg->ns = val;
        } else if (!strcmp(name, "--metrics-url")) {
            if (strncmp(val, "http://", 7) != 0 || !val[7]) {
                fprintf(stderr, "duro: bench: --metrics-url wants http://host:port, not '%s'\n",
                        val);
                return -1;
            }
            cfg->metrics_url = val;
        } else if (!strcmp(name, "--op")) {
            if (!strcmp(val, "get"))
                cfg->op = OP_GET;
            else if (!strcmp(val, "set") || !strcmp(val, "put"))
                cfg->op = OP_SET;
            else if (!strcmp(val, "mixed"))
                cfg->op = OP_MIXED;
            else if (!strcmp(val, "ratelimit"))
                cfg->op = OP_RATELIMIT;
            else {
                fprintf(stderr, "duro: bench: --op is get, set, mixed or ratelimit, not '%s'\n",
                        val);
                return -1;
            }
        } else if (!strcmp(name, "--clients")) {
            if (num_opt(name, val, 1, 1024, &d) || d != floor(d))
                return -1;
            cfg->clients = (int)d;
        } else if (!strcmp(name, "--threads")) {
            if (num_opt(name, val, 1, 64, &d) || d != floor(d))
                return -1;
            cfg->threads = (int)d;
        } else if (!strcmp(name, "--pipeline")) {
            if (num_opt(name, val, 1, 4096, &d) || d != floor(d))
                return -1;
            cfg->pipeline = (int)d;
        } else if (!strcmp(name, "--get-pct")) {
            if (num_opt(name, val, 0, 100, &d) || d != floor(d))
                return -1;
            cfg->get_pct = (int)d;
        } else if (!strcmp(name, "--value-size")) {
            if (num_opt(name, val, 1, 1 << 20, &d) || d != floor(d))
                return -1;
            cfg->value_size = (int)d;
        } else if (!strcmp(name, "--keys")) {
            if (num_opt(name, val, 1, 1e9, &d) || d != floor(d))
                return -1;
            cfg->keys = (int64_t)d;
        } else if (!strcmp(name, "--duration")) {
            if (num_opt(name, val, 0.01, 3600, &d))
                return -1;
            cfg->duration_s = d;
        } else if (!strcmp(name, "--requests")) {
            if (num_opt(name, val, 0, 1e12, &d) || d != floor(d))
                return -1;
            cfg->max_requests = (int64_t)d;
        } else if (!strcmp(name, "--rate")) {
            if (num_opt(name, val, 0, 1e8, &d))
                return -1;
            cfg->rate = d;
        }
    }
    return 0;
}

static const char *op_name(int op)
{
    return op == OP_GET ? "get" : op == OP_SET ? "set" : op == OP_MIXED ? "mixed" : "ratelimit";
}

/* ---- one run ---- */

/* Opens the run's connections (auth op included) and splits them over the
 * workers. B_OK, or an exit code after a message. */
static int workers_open(const bench_cfg *cfg, const endpoint *ep, worker *w, conn *cs)
{
    endpoint e = *ep;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(e.host, e.port, &hints, &res);
    int ex = B_OK;
    if (g != 0) {
        fprintf(stderr, "duro: bench: cannot resolve %s: %s\n", e.host, gai_strerror(g));
        ex = B_SERVER;
    }
    for (int i = 0; ex == B_OK && i < cfg->clients; i++) {
        int err;
        if (conn_init(&cs[i], cfg) != 0) {
            fputs("duro: bench: out of memory\n", stderr);
            ex = B_SERVER;
        } else if ((cs[i].fd = dial(res, e.connect_ms, &err)) < 0) {
            fprintf(stderr, "duro: bench: cannot connect to %s:%s: %s\n", e.host, e.port,
                    strerror(err));
            ex = B_SERVER;
        } else if (e.token) {
            int st = handshake(cs[i].fd, e.token, e.connect_ms);
            if (st != DURO_OK) {
                fprintf(stderr, "duro: bench: %s:%s refused the token: %s\n", e.host, e.port,
                        duro_errstr(st));
                ex = B_SERVER;
            }
        }
    }
    if (res)
        freeaddrinfo(res);
    for (int t = 0; ex == B_OK && t < cfg->threads; t++) {
        worker *x = &w[t];
        int lo = (int)((long)t * cfg->clients / cfg->threads);
        int hi = (int)((long)(t + 1) * cfg->clients / cfg->threads);
        x->cfg = cfg;
        x->c = cs + lo;
        x->first = lo;
        x->nconn = x->live = hi - lo;
        x->sending = 1;
        x->rng = 0x853c49e6748fea9bull ^ ((uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull);
        if (cfg->rate > 0) {
            x->interval = (uint64_t)((double)cfg->clients * 1e9 / cfg->rate);
            if (x->interval == 0)
                x->interval = 1;
        }
        x->ep = epoll_create1(EPOLL_CLOEXEC);
        x->tfd = cfg->rate > 0 ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) : -1;
        if (x->ep < 0 || (cfg->rate > 0 && x->tfd < 0)) {
            fprintf(stderr, "duro: bench: epoll: %s\n", strerror(errno));
            return B_SERVER;
        }
        for (int i = 0; i < x->nconn; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            x->c[i].events = EPOLLIN;
            epoll_ctl(x->ep, EPOLL_CTL_ADD, x->c[i].fd, &ev);
        }
        if (x->tfd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TIMER_TAG};
            epoll_ctl(x->ep, EPOLL_CTL_ADD, x->tfd, &ev);
        }
    }
    return ex;
}

/* Starts every thread at once and waits for them. B_OK or B_SERVER. */
static int run_threads(const bench_cfg *cfg, worker *w, hclient *hc)
{
    int ex = B_OK, started = 0;
    pthread_t *th = calloc((size_t)cfg->threads, sizeof *th);
    if (!th)
        return B_SERVER;
    for (; !hc && started < cfg->threads; started++) {
        if (pthread_create(&th[started], NULL, worker_main, &w[started]) != 0) {
            fprintf(stderr, "duro: bench: cannot start thread %d\n", started);
            ex = B_SERVER;
            break;
        }
    }
    /* Start every thread at once (or, after a failure, let them stop at once). */
    pthread_mutex_lock(&run.lock);
    run.start_ns = now_ns();
    atomic_store(&run.stop_ns, ex == B_OK ? run.start_ns + (uint64_t)(cfg->duration_s * 1e9) : 0);
    run.go = 1;
    pthread_cond_broadcast(&run.cond);
    pthread_mutex_unlock(&run.lock);
    if (hc)
        hclient_run(hc);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    return ex;
}

/* Prints the merged tallies; returns the exit code. */
static int report(const bench_cfg *cfg, const tally *ts, int nt, const char *server_line,
                  int have_server, uint64_t server_ops)
{
    uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist);
    uint64_t ok = 0, nf = 0, errs = 0, replies = 0, maxns = 0, end = run.start_ns;
    for (int i = 0; i < nt; i++) {
        for (size_t b = 0; hist && b < HIST_BUCKETS; b++)
            hist[b] += ts[i].hist[b];
        ok += ts[i].ok;
        nf += ts[i].not_found;
        errs += ts[i].errors;
        replies += ts[i].replies;
        if (ts[i].max_ns > maxns)
            maxns = ts[i].max_ns;
        if (ts[i].end_ns > end)
            end = ts[i].end_ns;
    }
    uint64_t done = ok + nf, total = 0;
    for (size_t b = 0; hist && b < HIST_BUCKETS; b++)
        total += hist[b];
    double secs = (double)(end - run.start_ns) / 1e9;
    double ops = secs > 0 ? (double)done / secs : 0;
    double p50 = hist ? hist_quantile(hist, total, 0.50) / 1e6 : 0;
    double p99 = hist ? hist_quantile(hist, total, 0.99) / 1e6 : 0;
    double p999 = hist ? hist_quantile(hist, total, 0.999) / 1e6 : 0;
    double mx = (double)maxns / 1e6;
    /* a bucket's middle may lie above the largest sample in it */
    p50 = fmin(p50, mx);
    p99 = fmin(p99, mx);
    p999 = fmin(p999, mx);
    free(hist);
    if (cfg->json) {
        char srv[96];
        if (have_server)
            snprintf(srv, sizeof srv, "%" PRIu64 ",\"server_match\":%s", server_ops,
                     server_ops == replies ? "true" : "false");
        else
            snprintf(srv, sizeof srv, "null,\"server_match\":null");
        printf("{\"op\":\"%s\",\"clients\":%d,\"threads\":%d,\"pipeline\":%d,\"value_size\":%d,"
               "\"keys\":%" PRId64 ",\"rate\":%.0f,\"seconds\":%.3f,\"ops\":%" PRIu64
               ",\"not_found\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"ops_per_sec\":%.0f,"
               "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
               "\"client_ops\":%" PRIu64 ",\"server_ops\":%s}\n",
               op_name(cfg->op), cfg->clients, cfg->threads, cfg->pipeline, cfg->value_size,
               cfg->keys, cfg->rate, secs, done, nf, errs, ops, p50, p99, p999, mx, replies, srv);
    } else {
        char shown_url[256];
        printf("op %s, %d clients, pipeline %d, %d-byte values, %" PRId64 " keys, %s, %s\n",
               op_name(cfg->op), cfg->clients, cfg->pipeline, cfg->value_size, cfg->keys,
               cfg->rate > 0 ? "open loop" : "closed loop",
               duro_cli_url_shown(cfg->url, shown_url, sizeof shown_url));
        if (cfg->rate > 0)
            printf("target rate: %.0f ops/s\n", cfg->rate);
        printf("requests: %" PRIu64 " in %.2f s (not found %" PRIu64 ", errors %" PRIu64 ")\n",
               done, secs, nf, errs);
        printf("ops/s: %.0f\n", ops);
        printf("latency ms: p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n", p50, p99, p999, mx);
        if (have_server)
            printf("server counted %" PRIu64 " ops, client %" PRIu64 ": %s\n", server_ops, replies,
                   server_ops == replies ? "match" : "MISMATCH");
        else
            printf("server count unavailable (%s)\n", server_line);
    }
    if (done == 0) {
        fputs("duro: bench: no request succeeded\n", stderr);
        return B_SERVER;
    }
    if (errs > 0)
        fprintf(stderr, "duro: bench: %" PRIu64 " requests failed\n", errs);
    return B_OK;
}

int duro_cli_bench(int argc, char **argv, const char *url, const char *ns, const char *token)
{
    bench_cfg cfg = {
        .url = url,
        .token = token,
        .ns = ns ? ns : "bench",
        .clients = 50,
        .pipeline = 1,
        .value_size = 100,
        .get_pct = 90,
        .preload = 1,
        .keys = 10000,
        .duration_s = 5,
        .op = OP_GET,
    };
    int help = 0;
    if (parse_args(argc, argv, &cfg, &help) != 0) {
        fputs("Try 'duro bench --help'.\n", stderr);
        return B_USAGE;
    }
    if (help) {
        bench_usage(stdout);
        return B_OK;
    }
    int embedded = strncmp(cfg.url, "file:", 5) == 0;
    if (embedded && cfg.clients > 1) {
        fprintf(stderr, "duro: bench: an embedded (file://) run takes --clients 1: a data "
                        "directory can be opened once\n");
        return B_USAGE;
    }
    if (cfg.threads == 0) { /* the server shares the machine on loopback: 1 per 4 CPUs */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = cpus >= 8 ? (int)(cpus / 4) : 1;
    }
    if (cfg.threads > cfg.clients)
        cfg.threads = cfg.clients;
    if (embedded)
        cfg.threads = 1;

    char *value = malloc((size_t)cfg.value_size + 1);
    worker *w = calloc((size_t)cfg.threads, sizeof *w);
    conn *cs = calloc((size_t)cfg.clients, sizeof *cs);
    tally *ts = calloc((size_t)cfg.threads, sizeof *ts);
    hclient hc = {0};
    endpoint e = {0}; /* the server's address and token (--token wins over the URL's) */
    duro *db = NULL;
    int ex = B_OK;
    if (!value || !w || !cs || !ts || (cfg.token && *cfg.token && !(e.token = strdup(cfg.token)))) {
        fputs("duro: bench: out of memory\n", stderr);
        ex = B_SERVER;
        goto out;
    }
    for (int i = 0; i < cfg.clients; i++)
        cs[i].fd = -1;
    for (int t = 0; t < cfg.threads; t++)
        w[t].ep = w[t].tfd = -1;
    for (int i = 0; i < cfg.value_size; i++)
        value[i] = (char)('a' + i % 26);
    value[cfg.value_size] = '\0';
    run.value = value;
    atomic_store(&run.sent, 0);
    if (templates_build(&cfg) != 0) {
        fputs("duro: bench: out of memory\n", stderr);
        ex = B_SERVER;
        goto out;
    }

    /* A libduro handle checks the URL and the token and writes the preload;
     * the embedded run sends through it. */
    duro_open_options oo = {.token = cfg.token};
    int rc = duro_open_ex(cfg.url, &oo, &db);
    if (rc != DURO_OK) {
        const char *d = duro_last_error();
        char shown[256];
        fprintf(stderr, "duro: bench: cannot open %s: %s%s%s\n",
                duro_cli_url_shown(cfg.url, shown, sizeof shown), duro_errstr(rc),
                d && *d ? ": " : "", d && *d ? d : "");
        ex = rc == DURO_BAD_REQUEST ? B_USAGE : B_SERVER;
        goto out;
    }
    if (cfg.preload && (cfg.op == OP_GET || cfg.op == OP_MIXED)) {
        uint64_t t = now_ns();
        rc = preload(db, &cfg);
        if (rc != DURO_OK) {
            const char *d = duro_last_error();
            fprintf(stderr, "duro: bench: preload failed: %s%s%s\n", duro_errstr(rc),
                    d && *d ? ": " : "", d && *d ? d : "");
            ex = B_SERVER;
            goto out;
        }
        if (!cfg.json)
            printf("preloaded %" PRId64 " keys in %.2f s\n", cfg.keys,
                   (double)(now_ns() - t) / 1e9);
    }
    if (embedded) {
        size_t cap = 16;
        while (cap < 2 * (size_t)cfg.pipeline)
            cap *= 2;
        hc = (hclient){.cfg = &cfg, .db = db, .mask = cap - 1, .rng = 0x853c49e6748fea9bull};
        hc.table = calloc(cap, sizeof *hc.table);
        hc.args = malloc(run.frame_max);
        if (!hc.table || !hc.args) {
            fputs("duro: bench: out of memory\n", stderr);
            ex = B_SERVER;
            goto out;
        }
    } else if (endpoint_parse(cfg.url, &e) != 0) {
        char shown[256];
        fprintf(stderr, "duro: bench: malformed URL %s\n",
                duro_cli_url_shown(cfg.url, shown, sizeof shown));
        ex = B_USAGE;
        goto out;
    } else if ((ex = workers_open(&cfg, &e, w, cs)) != B_OK) {
        goto out;
    }

    /* the server's count: after the preload and the connections, before the start */
    const char *counter = cfg.op == OP_RATELIMIT ? "duro_ratelimit_ops_total" : "duro_kv_ops_total";
    char why[256] = "no --metrics-url";
    uint64_t before = 0, after = 0;
    int have = cfg.metrics_url && !embedded &&
               metrics_read(cfg.metrics_url, e.token, counter, &before, why, sizeof why) == 0;
    if (embedded)
        snprintf(why, sizeof why, "an embedded run has no server");

    if ((ex = run_threads(&cfg, w, embedded ? &hc : NULL)) != B_OK)
        goto out;
    /* every reply was taken (or given up on): the server counted all it will */
    if (have && metrics_read(cfg.metrics_url, e.token, counter, &after, why, sizeof why) != 0)
        have = 0;
    if (embedded)
        ts[0] = hc.t;
    else
        for (int t = 0; t < cfg.threads; t++)
            ts[t] = w[t].t;
    ex = report(&cfg, ts, cfg.threads, why, have, after - before);

out:
    for (int i = 0; cs && i < cfg.clients; i++)
        conn_free(&cs[i]);
    for (int t = 0; w && t < cfg.threads; t++) {
        if (w[t].ep >= 0)
            close(w[t].ep);
        if (w[t].tfd >= 0)
            close(w[t].tfd);
    }
    duro_close(db);
    if (e.token) {
        memset(e.token, 0, strlen(e.token));
        free(e.token);
    }
    free(hc.table);
    free(hc.args);
    for (int k = 0; k < 2; k++) {
        free(run.tpl[k].b);
        run.tpl[k] = (tmpl){0};
    }
    free(ts);
    free(cs);
    free(w);
    free(value);
    return ex;
}
