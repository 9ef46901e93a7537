/*
 * rpc_mini.c — the smallest binary-protocol load generator: one thread, one
 * epoll loop, C connections to 127.0.0.1:PORT each keeping P requests in
 * flight (a new one per reply), one op over namespace "bench" for SECONDS:
 *   get     kv.get of a random key k0..k9999
 *   put     kv.put of a random key k0..k9999, a 100-byte value
 *   query   sql.query "SELECT v FROM pt WHERE id = ?" of a random id 0..9999
 *   insert  sql.exec "INSERT INTO ins(v) VALUES(?)" of a 100-byte string
 * (bench/sql.sh creates and fills the tables first). It does nothing per
 * reply but check that its status is 0 (or 1, NOT_FOUND, for a get), count
 * it and write the next frame
 * (built in place, no allocation), so it is the reference a heavier client
 * (duro bench) and the server's own /metrics are checked against
 * (bench/RESULTS.md).
 *
 *   bench_rpc_mini PORT CONNS PIPELINE get|put|query|insert SECONDS
 *
 * Prints "<ops> ops in <s>s = <ops/s> ops/s". Exits 1 on any error (also a
 * reply that is not OK).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 200
#define IN_CAP (1u << 20)

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

enum { KVGET, KVPUT, QUERY, INSERT };

static unsigned char *str(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    if (n < 32) {
        *p++ = (unsigned char)(0xa0 | n);
    } else {
        *p++ = 0xd9;
        *p++ = (unsigned char)n;
    }
    memcpy(p, s, n);
    return p + n;
}

/* [msgid, op, "bench", args] with its length prefix. */
static size_t frame(unsigned char *b, int mode, uint32_t id)
{
    unsigned char *p = b + 4;
    *p++ = 0x94;
    *p++ = 0xce;
    be32(p, id);
    p += 4;
    static const char *const ops[] = {"kv.get", "kv.put", "sql.query", "sql.exec"};
    p = str(p, ops[mode]);
    p = str(p, "bench");
    if (mode == KVGET || mode == KVPUT) {
        char key[16];
        snprintf(key, sizeof key, "k%d", rand() % 10000);
        *p++ = mode == KVPUT ? 0x82 : 0x81;
        p = str(p, "key");
        p = str(p, key);
        if (mode == KVPUT) {
            p = str(p, "value");
            *p++ = 0xd9;
            *p++ = 100;
            memset(p, 'v', 100);
            p += 100;
        }
    } else {
        *p++ = 0x82;
        p = str(p, "sql");
        p = str(p,
                mode == QUERY ? "SELECT v FROM pt WHERE id = ?" : "INSERT INTO ins(v) VALUES(?)");
        p = str(p, "params");
        *p++ = 0x91;
        if (mode == QUERY) {
            int v = rand() % 10000;
            *p++ = 0xcd;
            *p++ = (unsigned char)(v >> 8);
            *p++ = (unsigned char)v;
        } else {
            *p++ = 0xd9;
            *p++ = 100;
            memset(p, 'v', 100);
            p += 100;
        }
    }
    be32(b, (uint32_t)(p - b - 4));
    return (size_t)(p - b);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int mode = argc == 6 && !strcmp(argv[4], "get")      ? KVGET
               : argc == 6 && !strcmp(argv[4], "put")    ? KVPUT
               : argc == 6 && !strcmp(argv[4], "query")  ? QUERY
               : argc == 6 && !strcmp(argv[4], "insert") ? INSERT
                                                         : -1;
    if (mode < 0) {
        fprintf(stderr, "usage: %s PORT CONNS PIPELINE get|put|query|insert SECONDS\n",
                argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), conns = atoi(argv[2]), pipeline = atoi(argv[3]);
    double seconds = atof(argv[5]);
    if (port <= 0 || conns < 1 || conns > 1024 || pipeline < 1 || pipeline > 4096 || seconds <= 0 ||
        seconds > 600) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    int ep = epoll_create1(0);
    int *fds = calloc((size_t)conns, sizeof *fds);
    unsigned char **in = calloc((size_t)conns, sizeof *in);
    size_t *in_len = calloc((size_t)conns, sizeof *in_len);
    unsigned char *out = malloc((size_t)pipeline * FRAME_MAX);
    if (ep < 0 || !fds || !in || !in_len || !out)
        return 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    uint32_t id = 1;
    for (int i = 0; i < conns; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            !(in[i] = malloc(IN_CAP))) {
            perror("connect");
            return 1;
        }
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        size_t n = 0;
        for (int k = 0; k < pipeline; k++)
            n += frame(out + n, mode, id++);
        if (write_all(fds[i], out, n) != 0)
            return 1;
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
    }
    long done = 0;
    double t0 = now(), end = t0 + seconds;
    struct epoll_event ev[64];
    while (now() < end) {
        int n = epoll_wait(ep, ev, 64, 100);
        for (int k = 0; k < n; k++) {
            int i = (int)ev[k].data.u32;
            ssize_t r = read(fds[i], in[i] + in_len[i], IN_CAP - in_len[i]);
            if (r <= 0) {
                fprintf(stderr, "connection %d closed by the server\n", i);
                return 1;
            }
            in_len[i] += (size_t)r;
            size_t off = 0, o = 0;
            while (in_len[i] - off >= 4) {
                const unsigned char *p = in[i] + off;
                size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
                if (len + 4 > IN_CAP) {
                    fprintf(stderr, "reply of %zu bytes\n", len);
                    return 1;
                }
                if (in_len[i] - off < 4 + len)
                    break;
                /* [msgid, status, body]: 0x93, msgid (any uint), status */
                size_t s = 5 + (p[5] < 0x80    ? 1
                                : p[5] == 0xcc ? 2
                                : p[5] == 0xcd ? 3
                                : p[5] == 0xce ? 5
                                               : 9);
                if (len < s - 3 || (p[s] != 0 && !(mode == KVGET && p[s] == 1))) {
                    fprintf(stderr, "a reply that is not OK (status byte 0x%02x)\n",
                            len >= s - 3 ? p[s] : 0);
                    return 1;
                }
                off += 4 + len;
                done++;
                o += frame(out + o, mode, id++);
            }
            memmove(in[i], in[i] + off, in_len[i] - off);
            in_len[i] -= off;
            if (o && write_all(fds[i], out, o) != 0)
                return 1;
        }
    }
    double t = now() - t0;
    printf("%ld ops in %.2fs = %.0f ops/s\n", done, t, (double)done / t);
    return 0;
}
