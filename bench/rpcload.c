/*
 * rpcload.c — the minimal binary-protocol load generator (bench_rpcload): the
 * reference a heavier client (duro bench) and the server's own /metrics are
 * checked against (bench/RESULTS.md, "Load generators and cost growth").
 *
 *   bench_rpcload PORT CONNS PIPELINE MODE SECONDS [--keys K] [--value-size B]
 *                 [--namespaces N] [--threads T]
 *
 * CONNS connections to 127.0.0.1:PORT, spread over T threads (one epoll loop
 * each, default 1), each connection keeping PIPELINE requests in flight (a new
 * one per reply). Keys are k0..k(K-1) (default 10000); key i lives in
 * namespace "bench" when N is 1 (the default), else in "bench-<i % N>". MODE:
 *   get     kv.get of a random key
 *   put     kv.put of a random key, a B-byte string value (default 100)
 *   fill    kv.put of every key once (k0..k(K-1), each in its namespace), then stop
 *   query   sql.query "SELECT v FROM pt WHERE id = ?" of a random id 0..9999 (ns bench)
 *   insert  sql.exec "INSERT INTO ins(v) VALUES(?)" of a B-byte string (ns bench)
 * (bench/sql.sh creates the tables first). Per reply it only checks the status
 * (0 or 17; a get's 1, NOT_FOUND, is counted apart), counts it and writes the
 * next frame, built in place in a buffer allocated once: nothing is allocated
 * per request. At SECONDS (or when fill wrote every key) it stops sending and
 * waits (at most 10 s) for the replies in flight, so its count is exactly what
 * the server answered (duro_kv_ops_total / duro_sql_ops_total).
 *
 * Prints "<ops> ops in <s>s = <ops/s> ops/s", then one line to parse:
 *   RPCLOAD mode=get conns=50 pipeline=1 threads=1 keys=10000 value_size=100
 *           namespaces=1 ops=N not_found=N seconds=S ops_per_sec=R
 * Exits 1 on any error (also a reply that is not OK), 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_S 10.0
#define NS_STRIDE 32 /* "bench-<long>" fits */

enum { KVGET, KVPUT, FILL, QUERY, INSERT };

static struct {
    int port, conns, pipeline, mode, threads, value_size;
    long keys, namespaces;
    double seconds;
    char *ns_names; /* namespaces x NS_STRIDE, NUL-terminated each */
    unsigned char *value;
    size_t frame_max, in_cap;
    _Atomic long fill_next;
    double start, end;
} g = {.threads = 1, .value_size = 100, .keys = 10000, .namespaces = 1};

typedef struct conn {
    int fd, inflight;
    unsigned char *in;
    size_t in_len;
} conn;

typedef struct worker {
    pthread_t thread;
    int index, nconn;
    conn *c;
    unsigned char *out;
    uint64_t rng, id;
    long done, not_found;
    int failed;
} worker;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned char *str(unsigned char *p, const void *s, size_t n)
{
    if (n < 32) {
        *p++ = (unsigned char)(0xa0 | n);
    } else if (n < 256) {
        *p++ = 0xd9;
        *p++ = (unsigned char)n;
    } else {
        *p++ = 0xda;
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    }
    memcpy(p, s, n);
    return p + n;
}

static unsigned char *lit(unsigned char *p, const char *s)
{
    return str(p, s, strlen(s));
}

/* "k<n>" without snprintf. */
static unsigned char *key(unsigned char *p, unsigned long n)
{
    char d[24];
    int i = (int)sizeof d;
    d[--i] = '\0';
    do {
        d[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    d[--i] = 'k';
    return str(p, d + i, sizeof d - 1 - (size_t)i);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The next key of worker w, or -1 when fill wrote every key. */
static long next_key(worker *w)
{
    if (g.mode == FILL) {
        long k = atomic_fetch_add_explicit(&g.fill_next, 1, memory_order_relaxed);
        return k < g.keys ? k : -1;
    }
    return (long)(xorshift(&w->rng) % (uint64_t)g.keys);
}

/* [msgid, op, ns, args] with its length prefix, at b; returns its length. */
static size_t frame(unsigned char *b, uint64_t id, long k)
{
    unsigned char *p = b + 4;
    *p++ = 0x94;
    *p++ = 0xcf;
    be32(p, (uint32_t)(id >> 32));
    be32(p + 4, (uint32_t)id);
    p += 8;
    static const char *const ops[] = {"kv.get", "kv.put", "kv.put", "sql.query", "sql.exec"};
    p = lit(p, ops[g.mode]);
    const char *ns = g.mode <= FILL && g.namespaces > 1
                         ? g.ns_names + (size_t)(k % g.namespaces) * NS_STRIDE
                         : "bench";
    p = lit(p, ns);
    if (g.mode <= FILL) {
        *p++ = g.mode == KVGET ? 0x81 : 0x82;
        if (g.mode != KVGET) {
            p = lit(p, "value");
            p = str(p, g.value, (size_t)g.value_size);
        }
        p = lit(p, "key");
        p = key(p, (unsigned long)k);
    } else {
        *p++ = 0x82;
        p = lit(p, "sql");
        p = lit(p, g.mode == QUERY ? "SELECT v FROM pt WHERE id = ?"
                                   : "INSERT INTO ins(v) VALUES(?)");
        p = lit(p, "params");
        *p++ = 0x91;
        if (g.mode == QUERY) {
            *p++ = 0xcd;
            *p++ = (unsigned char)(k >> 8);
            *p++ = (unsigned char)k;
        } else {
            p = str(p, g.value, (size_t)g.value_size);
        }
    }
    be32(b, (uint32_t)(p - b - 4));
    return (size_t)(p - b);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Up to `want` new frames for connection c into w->out; returns the bytes. */
static size_t fill_out(worker *w, conn *c, int want, int sending)
{
    size_t o = 0;
    while (sending && want-- > 0) {
        long k = next_key(w);
        if (k < 0)
            break;
        o += frame(w->out + o, w->id++, k);
        c->inflight++;
    }
    return o;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    int ep = epoll_create1(0);
    if (ep < 0) {
        w->failed = 1;
        return NULL;
    }
    int sending = 1, inflight = 0;
    for (int i = 0; i < w->nconn; i++) {
        conn *c = &w->c[i];
        size_t o = fill_out(w, c, g.pipeline, 1);
        inflight += c->inflight;
        if (o && write_all(c->fd, w->out, o) != 0) {
            w->failed = 1;
            return NULL;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
    struct epoll_event ev[64];
    double t = now();
    while (inflight > 0 && t < g.end + DRAIN_S) {
        if (sending && t >= g.end)
            sending = 0;
        int n = epoll_wait(ep, ev, 64, 100);
        for (int k = 0; k < n; k++) {
            conn *c = &w->c[ev[k].data.u32];
            ssize_t r = read(c->fd, c->in + c->in_len, g.in_cap - c->in_len);
            if (r <= 0) {
                fprintf(stderr, "bench_rpcload: a connection was closed by the server\n");
                w->failed = 1;
                goto out;
            }
            c->in_len += (size_t)r;
            size_t off = 0;
            int got = 0;
            while (c->in_len - off >= 4) {
                const unsigned char *p = c->in + off;
                size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
                if (len + 4 > g.in_cap) {
                    fprintf(stderr, "bench_rpcload: a reply of %zu bytes\n", len);
                    w->failed = 1;
                    goto out;
                }
                if (c->in_len - off < 4 + len)
                    break;
                /* [msgid, status, body]: 0x93, msgid (any uint), status */
                size_t s = 5 + (p[5] < 0x80    ? 1
                                : p[5] == 0xcc ? 2
                                : p[5] == 0xcd ? 3
                                : p[5] == 0xce ? 5
                                               : 9);
                int st = len >= s - 3 ? p[s] : -1;
                if (st == 1 && g.mode == KVGET) {
                    w->not_found++;
                } else if (st != 0 && st != 17) {
                    fprintf(stderr, "bench_rpcload: a reply that is not OK (status %d)\n", st);
                    w->failed = 1;
                    goto out;
                }
                off += 4 + len;
                w->done++;
                got++;
            }
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
            c->inflight -= got;
            inflight -= got;
            if (sending && now() >= g.end)
                sending = 0;
            int before = c->inflight;
            size_t o = fill_out(w, c, got, sending);
            inflight += c->inflight - before;
            if (o && write_all(c->fd, w->out, o) != 0) {
                w->failed = 1;
                goto out;
            }
        }
        t = now();
    }
    if (inflight > 0) {
        fprintf(stderr, "bench_rpcload: %d replies missing %.0f s after the end\n", inflight,
                DRAIN_S);
        w->failed = 1;
    }
out:
    close(ep);
    return NULL;
}

static int opt_long(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_rpcload: %s wants an integer in %ld..%ld\n", name, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = {"get", "put", "fill", "query", "insert"};
    g.mode = -1;
    for (int m = 0; argc >= 6 && m < 5; m++)
        if (!strcmp(argv[4], modes[m]))
            g.mode = m;
    if (g.mode < 0) {
        fprintf(stderr,
                "usage: %s PORT CONNS PIPELINE get|put|fill|query|insert SECONDS\n"
                "          [--keys K] [--value-size B] [--namespaces N] [--threads T]\n",
                argv[0]);
        return 2;
    }
    g.port = atoi(argv[1]);
    g.conns = atoi(argv[2]);
    g.pipeline = atoi(argv[3]);
    g.seconds = atof(argv[5]);
    for (int i = 6; i < argc; i += 2) {
        long v;
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--keys") && !opt_long(argv[i], val, 1, 100000000, &v))
            g.keys = v;
        else if (!strcmp(argv[i], "--value-size") && !opt_long(argv[i], val, 1, 60000, &v))
            g.value_size = (int)v;
        else if (!strcmp(argv[i], "--namespaces") && !opt_long(argv[i], val, 1, 1000000, &v))
            g.namespaces = v;
        else if (!strcmp(argv[i], "--threads") && !opt_long(argv[i], val, 1, 64, &v))
            g.threads = (int)v;
        else {
            fprintf(stderr, "bench_rpcload: bad option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (g.port <= 0 || g.conns < 1 || g.conns > 4096 || g.pipeline < 1 || g.pipeline > 4096 ||
        g.seconds <= 0 || g.seconds > 3600) {
        fprintf(stderr, "bench_rpcload: bad arguments\n");
        return 2;
    }
    if (g.threads > g.conns)
        g.threads = g.conns;
    g.frame_max = (size_t)g.value_size + 128;
    g.in_cap = (size_t)g.pipeline * ((size_t)g.value_size + 256);
    if (g.in_cap < 65536)
        g.in_cap = 65536;
    g.value = malloc((size_t)g.value_size);
    g.ns_names = calloc((size_t)g.namespaces, NS_STRIDE);
    worker *w = calloc((size_t)g.threads, sizeof *w);
    conn *cs = calloc((size_t)g.conns, sizeof *cs);
    if (!g.value || !g.ns_names || !w || !cs)
        return 1;
    memset(g.value, 'v', (size_t)g.value_size);
    for (long n = 0; n < g.namespaces; n++)
        snprintf(g.ns_names + (size_t)n * NS_STRIDE, NS_STRIDE, "bench-%ld", n);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < g.conns; i++) {
        int one = 1;
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            !(cs[i].in = malloc(g.in_cap))) {
            perror("bench_rpcload: connect");
            return 1;
        }
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    /* connections i*conns/threads .. (i+1)*conns/threads-1 belong to thread i */
    for (int t = 0; t < g.threads; t++) {
        int lo = (int)((long)t * g.conns / g.threads), hi = (int)((long)(t + 1) * g.conns / g.threads);
        w[t].index = t;
        w[t].c = cs + lo;
        w[t].nconn = hi - lo;
        w[t].rng = 0x853c49e6748fea9bull ^ ((uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull);
        w[t].id = (uint64_t)(t + 1) << 40;
        w[t].out = malloc((size_t)g.pipeline * g.frame_max);
        if (!w[t].out)
            return 1;
    }
    g.start = now();
    g.end = g.start + g.seconds;
    for (int t = 0; t < g.threads; t++)
        if (pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0)
            return 1;
    long done = 0, nf = 0;
    int failed = 0;
    for (int t = 0; t < g.threads; t++) {
        pthread_join(w[t].thread, NULL);
        done += w[t].done;
        nf += w[t].not_found;
        failed |= w[t].failed;
    }
    double secs = now() - g.start;
    if (g.mode == FILL && done < g.keys) {
        fprintf(stderr, "bench_rpcload: fill wrote %ld of %ld keys in %.0f s\n", done, g.keys,
                g.seconds);
        failed = 1;
    }
    printf("%ld ops in %.2fs = %.0f ops/s\n", done, secs, (double)done / secs);
    printf("RPCLOAD mode=%s conns=%d pipeline=%d threads=%d keys=%ld value_size=%d namespaces=%ld "
           "ops=%ld not_found=%ld seconds=%.3f ops_per_sec=%.0f\n",
           modes[g.mode], g.conns, g.pipeline, g.threads, g.keys, g.value_size, g.namespaces, done,
           nf, secs, (double)done / secs);
    return failed ? 1 : 0;
}
