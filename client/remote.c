/*
 * remote.c — libduro's duro://host:port backend: the binary protocol of
 * docs/protocol.md over one TCP connection per handle.
 *
 * DESIGN
 * Frames are a 4-byte big-endian length and one msgpack object: requests
 * [msgid, op, ns, args] (packed with msgpack-c's packer), replies
 * [msgid, status, body], which may come back in any order. Every request in
 * flight has an entry in a table keyed by msgid.
 *
 * Threads: any number of threads share a handle. Two locks:
 *   wmu  serializes writers (a frame is written whole) and reconnects;
 *   mu   guards the table, the ready list and the connection state.
 * Lock order wmu → mu. Nobody owns the read side: a thread that waits for a
 * reply and finds no reader becomes the reader (reading = 1), reads without
 * holding mu, then files every complete reply under mu — into its owner's
 * entry, waking everyone — and gives the role up. So a reply read by one
 * thread reaches the thread that asked for it, and exactly one thread reads
 * at a time. A reply whose msgid is not in the table (its caller timed out)
 * is dropped.
 *
 * Failures: a broken connection (EOF, reset, a malformed or oversize reply
 * frame, a write that fails or times out half-way) is shut down at once and
 * every request in flight on it fails with DURO_IO; the fd is closed and a new
 * connection dialed by the next call (under wmu, once no thread reads). Before
 * writing on a connection with nothing in flight, a call checks whether the
 * peer already hung up (e.g. a restarted server) and then redials instead of
 * failing. A call that gets no reply within timeout_ms returns
 * DURO_UNAVAILABLE and leaves the connection up (its late reply is dropped).
 * The fd is non-blocking; every wait is a poll() or a timed condvar wait
 * against a CLOCK_MONOTONIC deadline.
 *
 * Versions: this is protocol 2 (DURO_PROTOCOL_VERSION): a reply's status is a
 * stable number of the status table. A protocol-1 durod answers HTTP-like
 * numbers (100..599), which no table row has: the first such reply breaks the
 * connection with "the server speaks binary protocol 1, not 2" (DURO_IO). The
 * handle does not ping on connect (it would cost a round trip per dial); ping
 * answers {pong, protocol} for a caller that wants to check up front.
 */
#include <errno.h>
#include <msgpack.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/codec.h"
#include "common/names.h"

#define BUCKETS 1024
#define MAX_REPLY_BYTES (256u << 20) /* larger reply frames break the connection */
#define READ_CHUNK 65536
/* what a reply status of 100..599 (HTTP-like) means: a durod older than this libduro */
#define PROTOCOL_1 "the server speaks binary protocol 1, not 2"

typedef struct pend pend;
struct pend {
    uint64_t id;
    int done;
    int async;      /* duro_send: to the ready list when done */
    int rc;         /* -1: answered by the server (status, body); else a local failure */
    int status;     /* the reply's: a stable number of the status table */
    duro_buf body;  /* msgpack */
    char msg[288];  /* local failure message */
    pend *hnext;    /* table chain */
    pend *rnext;    /* ready list */
};

typedef struct remote {
    struct duro base;
    char *host, *port;
    char *token;         /* sent as the auth op on every new connection, or NULL */
    int timeout_ms, connect_timeout_ms;
    pthread_mutex_t wmu;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* a reply was filed, the read role is free, the connection changed */
    int fd;              /* -1 when not connected */
    int broken;          /* shut down; closed and redialed by the next call */
    int reading;         /* a thread holds the read role */
    duro_buf rbuf;       /* bytes read and not yet filed; the reader's (or mu's when !reading) */
    pend *table[BUCKETS];
    size_t npend;        /* entries in table */
    pend *ready, *ready_tail;
    size_t inflight;     /* duro_send requests not yet taken by duro_recv */
    uint64_t next_id;
    char fatal[160];     /* the server's last word before it hung up (msgid 0) */
    int fatal_status;    /* its status (e.g. PAYLOAD_TOO_LARGE for an oversize frame), or 0 */
} remote;

/* ---- time ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
    int64_t r = deadline - now_ms();
    return r < 0 ? 0 : r > 1000000000 ? 1000000000 : (int)r;
}

static int timed_wait(remote *R, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    return pthread_cond_timedwait(&R->cv, &R->mu, &ts);
}

/* ---- the table (mu held) ---- */

static void table_add(remote *R, pend *p)
{
    pend **b = &R->table[p->id % BUCKETS];
    p->hnext = *b;
    *b = p;
    R->npend++;
}

static pend *table_take(remote *R, uint64_t id)
{
    for (pend **pp = &R->table[id % BUCKETS]; *pp; pp = &(*pp)->hnext)
        if ((*pp)->id == id) {
            pend *p = *pp;
            *pp = p->hnext;
            p->hnext = NULL;
            R->npend--;
            return p;
        }
    return NULL;
}

static void ready_push(remote *R, pend *p)
{
    p->rnext = NULL;
    if (R->ready_tail)
        R->ready_tail->rnext = p;
    else
        R->ready = p;
    R->ready_tail = p;
}

/* Removes p from the ready list if it is there. */
static void ready_unlink(remote *R, pend *p)
{
    pend *prev = NULL;
    for (pend *q = R->ready; q; prev = q, q = q->rnext)
        if (q == p) {
            if (prev)
                prev->rnext = q->rnext;
            else
                R->ready = q->rnext;
            if (R->ready_tail == q)
                R->ready_tail = prev;
            return;
        }
}

static void pend_free(pend *p)
{
    if (p) {
        duro_buf_free(&p->body);
        free(p);
    }
}

/* Marks p finished (it has left the table) and wakes its owner. */
static void complete(remote *R, pend *p)
{
    p->done = 1;
    if (p->async)
        ready_push(R, p);
}

/* Shuts the connection down and fails everything in flight on it (mu held). */
static void mark_broken(remote *R, const char *why)
{
    if (R->fd >= 0 && !R->broken) {
        shutdown(R->fd, SHUT_RDWR);
        R->broken = 1;
    }
    for (size_t b = 0; b < BUCKETS; b++)
        while (R->table[b]) {
            pend *p = R->table[b];
            R->table[b] = p->hnext;
            p->hnext = NULL;
            R->npend--;
            /* the server said why it hung up (a frame over --max-body-bytes): that is
             * the answer; else the connection is simply lost */
            p->rc = R->fatal_status ? R->fatal_status : DURO_IO;
            if (R->fatal_status)
                snprintf(p->msg, sizeof p->msg, "%s", R->fatal);
            else
                snprintf(p->msg, sizeof p->msg, "connection to %.64s:%.8s lost: %.110s", R->host,
                         R->port, why);
            complete(R, p);
        }
    pthread_cond_broadcast(&R->cv);
}

/* ---- the socket ---- */

static int dial(remote *R, char *msg, size_t msglen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(R->host, R->port, &hints, &res);
    if (g != 0) {
        snprintf(msg, msglen, "cannot resolve %s: %s", R->host, gai_strerror(g));
        return -1;
    }
    int64_t deadline = now_ms() + R->connect_timeout_ms;
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            err = errno;
            if (errno == EINPROGRESS) {
                struct pollfd pfd = {fd, POLLOUT, 0};
                int n;
                do
                    n = poll(&pfd, 1, remaining(deadline));
                while (n < 0 && errno == EINTR);
                socklen_t sl = sizeof err;
                if (n == 0)
                    err = ETIMEDOUT;
                else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
                    err = errno;
            }
            if (err != 0) {
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot connect to %s:%s: %s", R->host, R->port, strerror(err));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* 1 if the peer of an idle connection has hung up (EOF or error pending). */
static int peer_gone(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static int encode(duro_buf *b, uint64_t id, const char *op, const char *ns, const void *args,
                  size_t args_len);
static void frame_free(duro_buf *frame);

/* Waits until fd is readable (POLLIN) or writable (POLLOUT) before deadline.
 * 1, or 0 on timeout or error. */
static int await_fd(int fd, short what, int64_t deadline)
{
    struct pollfd pfd = {fd, what, 0};
    int n;
    do
        n = poll(&pfd, 1, remaining(deadline));
    while (n < 0 && errno == EINTR);
    return n > 0;
}

/* On a new connection, before anyone else uses it: sends the handle's token
 * as the auth op [0, "auth", "", {token}] and reads its answer. The frame
 * and the reply are the only traffic, so no other reply can come between.
 * DURO_OK; the server's refusal (DURO_UNAUTHORIZED, ...) with its message;
 * or DURO_UNAVAILABLE if it does not answer within connect_timeout_ms. */
static int handshake(remote *R, int fd, char *msg, size_t msglen)
{
    if (!R->token)
        return DURO_OK;
    int64_t deadline = now_ms() + R->connect_timeout_ms;
    duro_buf args = {0}, frame = {0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, duro_buf_mp_write);
    size_t tl = strlen(R->token);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "token", 5);
    msgpack_pack_str(&pk, tl);
    msgpack_pack_str_body(&pk, R->token, tl);
    int bad = args.len == 0 || encode(&frame, 0, "auth", "", args.data, args.len) != 0;
    frame_free(&args);
    size_t off = 0;
    while (!bad && off < frame.len) {
        ssize_t w = send(fd, frame.data + off, frame.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            bad = !await_fd(fd, POLLOUT, deadline);
        else
            bad = 1;
    }
    frame_free(&frame);
    /* the reply: a 4-byte length, then [msgid, status, body] */
    unsigned char buf[1024];
    size_t got = 0, need = 4;
    while (!bad && got < need) {
        ssize_t n = recv(fd, buf + got, need - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            if (got == 4 && need == 4) {
                size_t len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 |
                             buf[3];
                need = 4 + len;
                bad = len == 0 || need > sizeof buf;
            }
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            bad = !await_fd(fd, POLLIN, deadline);
        } else {
            bad = 1;
        }
    }
    if (bad) {
        snprintf(msg, msglen, "%s:%s did not answer the auth op", R->host, R->port);
        return DURO_UNAVAILABLE;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = DURO_UNAVAILABLE;
    snprintf(msg, msglen, "%s:%s answered the auth op with a malformed frame", R->host, R->port);
    if (msgpack_unpack_next(&u, (const char *)buf + 4, need - 4, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 3 &&
        u.data.via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        uint64_t status = u.data.via.array.ptr[1].via.u64;
        if (status == DURO_OK) {
            rc = DURO_OK;
        } else if (status >= 100 && status <= 599) {
            snprintf(msg, msglen, "%s", PROTOCOL_1);
            rc = DURO_IO;
        } else {
            duro_buf body = {0};
            msgpack_packer bp;
            msgpack_packer_init(&bp, &body, duro_buf_mp_write);
            msgpack_pack_object(&bp, u.data.via.array.ptr[2]);
            duro_reply r = {0};
            duro_reply_error_from_body(&r, (int)status, body.data, body.len);
            duro_buf_free(&body);
            snprintf(msg, msglen, "auth: %s", r.msg);
            rc = r.rc;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* With wmu held: makes sure there is a live connection (authenticated with
 * the handle's token, if it has one). DURO_OK, DURO_UNAVAILABLE with a
 * message, or the server's refusal of the token. */
static int ensure_connected(remote *R, char *msg, size_t msglen)
{
    pthread_mutex_lock(&R->mu);
    if (R->fd >= 0 && !R->broken && R->npend == 0 && !R->reading && peer_gone(R->fd))
        mark_broken(R, "closed by the server");
    if (R->fd >= 0 && !R->broken) {
        pthread_mutex_unlock(&R->mu);
        return DURO_OK;
    }
    while (R->reading) /* the reader leaves at once: the socket is shut down */
        pthread_cond_wait(&R->cv, &R->mu);
    if (R->fd >= 0)
        close(R->fd);
    R->fd = -1;
    R->broken = 0;
    R->rbuf.len = 0;
    R->fatal[0] = '\0';
    R->fatal_status = 0;
    pthread_mutex_unlock(&R->mu);
    int fd = dial(R, msg, msglen); /* without mu: waiters keep waiting */
    if (fd < 0)
        return DURO_UNAVAILABLE;
    int rc = handshake(R, fd, msg, msglen); /* again on every reconnect */
    if (rc != DURO_OK) {
        close(fd);
        return rc;
    }
    pthread_mutex_lock(&R->mu);
    R->fd = fd;
    pthread_cond_broadcast(&R->cv);
    pthread_mutex_unlock(&R->mu);
    return DURO_OK;
}

/* With wmu held: writes the whole frame. 0, or -1 with why set. */
static int write_all(remote *R, const char *p, size_t n, const char **why)
{
    int64_t deadline = now_ms() + R->timeout_ms;
    int fd = R->fd; /* stable: only changed under wmu */
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int k = poll(&pfd, 1, remaining(deadline));
            if (k == 0) {
                *why = "write timed out";
                return -1;
            }
            if (k < 0 && errno != EINTR) {
                *why = strerror(errno);
                return -1;
            }
            continue;
        }
        *why = w < 0 ? strerror(errno) : "write failed";
        return -1;
    }
    return 0;
}

/* ---- reading and filing replies ---- */

static int rd_uint(const unsigned char **q, const unsigned char *end, uint64_t *v)
{
    const unsigned char *p = *q;
    if (p >= end)
        return -1;
    unsigned c = *p++;
    size_t n;
    if (c <= 0x7f) {
        *v = c;
        *q = p;
        return 0;
    }
    switch (c) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return -1;
    }
    if ((size_t)(end - p) < n)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | p[i];
    *v = x;
    *q = p + n;
    return 0;
}

/* Files one reply frame (mu held). NULL, or why the frame breaks the
 * connection. */
static const char *file_reply(remote *R, const unsigned char *f, size_t n)
{
    size_t used;
    if (duro_mp_check(f, n, DURO_MP_MAX_DEPTH, &used) != 0 || used != n)
        return "malformed reply frame";
    const unsigned char *q = f, *end = f + n;
    if (*q == 0x93)
        q++;
    else if (n >= 3 && q[0] == 0xdc && q[1] == 0 && q[2] == 3)
        q += 3;
    else
        return "malformed reply frame";
    uint64_t id, status;
    if (rd_uint(&q, end, &id) != 0 || rd_uint(&q, end, &status) != 0 || q >= end)
        return "malformed reply frame";
    if (status >= 100 && status <= 599) /* HTTP-like: a durod older than this libduro */
        return PROTOCOL_1;
    if (status >= 600)
        return "malformed reply frame";
    pend *p = table_take(R, id);
    if (!p) {
        if (id == 0 && status != DURO_OK) { /* the server's error before it hangs up */
            duro_reply tmp;
            memset(&tmp, 0, sizeof tmp);
            duro_reply_error_from_body(&tmp, (int)status, q, (size_t)(end - q));
            snprintf(R->fatal, sizeof R->fatal, "%.150s", tmp.msg);
            R->fatal_status = tmp.rc;
        }
        return NULL; /* its caller gave up waiting */
    }
    p->rc = -1;
    p->status = (int)status;
    if (duro_buf_append(&p->body, q, (size_t)(end - q)) != 0) {
        p->rc = DURO_NOMEM;
        snprintf(p->msg, sizeof p->msg, "out of memory");
    }
    complete(R, p);
    return NULL;
}

/* Files every complete frame in rbuf (mu held). NULL, or why a bad frame
 * breaks the connection. */
static const char *file_frames(remote *R)
{
    size_t off = 0;
    const char *bad = NULL;
    while (R->rbuf.len - off >= 4) {
        const unsigned char *h = (const unsigned char *)R->rbuf.data + off;
        uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (off == 0 && memcmp(h, "HTTP", 4) == 0) {
            bad = "an HTTP reply: that is durod's --listen port; use --rpc-port's (7070)";
            break;
        }
        if (n == 0 || n > MAX_REPLY_BYTES) {
            bad = "malformed reply frame";
            break;
        }
        if (R->rbuf.len - off - 4 < n)
            break;
        if ((bad = file_reply(R, h + 4, n)) != NULL)
            break;
        off += 4 + (size_t)n;
    }
    if (off > 0) {
        memmove(R->rbuf.data, R->rbuf.data + off, R->rbuf.len - off);
        R->rbuf.len -= off;
    }
    return bad;
}

/* In the read role, without mu: waits up to the deadline for bytes and reads
 * what is there into rbuf. 1 read, 0 nothing yet, -1 EOF/error (why set). */
static int read_some(remote *R, int fd, int64_t deadline, const char **why)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int k = poll(&pfd, 1, remaining(deadline));
    if (k == 0 || (k < 0 && errno == EINTR))
        return 0;
    if (k < 0) {
        *why = strerror(errno);
        return -1;
    }
    if (duro_buf_reserve(&R->rbuf, READ_CHUNK) != 0) {
        *why = "out of memory";
        return -1;
    }
    ssize_t n = recv(fd, R->rbuf.data + R->rbuf.len, R->rbuf.cap - R->rbuf.len, MSG_DONTWAIT);
    if (n > 0) {
        R->rbuf.len += (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    *why = n == 0 ? "closed by the server" : strerror(errno);
    return -1;
}

/* With mu held: waits until *flag (p->done, or the ready list) becomes
 * non-NULL/non-zero, taking the read role when it is free. 0, or -1 on
 * timeout. */
static int wait_until(remote *R, const int *done, pend *const *ready, int64_t deadline)
{
    while (!(done ? *done : *ready != NULL)) {
        if (now_ms() >= deadline)
            return -1;
        if (R->reading || R->fd < 0 || R->broken) {
            /* someone reads; or a reconnect is pending (then what we wait for
             * has already failed, or will be filed after the redial) */
            timed_wait(R, deadline);
            continue;
        }
        R->reading = 1;
        int fd = R->fd;
        pthread_mutex_unlock(&R->mu);
        const char *why = NULL;
        int r = read_some(R, fd, deadline, &why);
        pthread_mutex_lock(&R->mu);
        R->reading = 0;
        if (r < 0)
            mark_broken(R, why);
        else if (r > 0 && (why = file_frames(R)) != NULL)
            mark_broken(R, why);
        pthread_cond_broadcast(&R->cv);
    }
    return 0;
}

/* ---- requests ---- */

/* Encodes the frame of [id, op, ns, args]. 0 / -1 (ENOMEM or too large). */
static int encode(duro_buf *b, uint64_t id, const char *op, const char *ns, const void *args,
                  size_t args_len)
{
    if (duro_buf_append(b, "\0\0\0\0", 4) != 0)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, duro_buf_mp_write);
    size_t ol = strlen(op), nl = strlen(ns);
    if (msgpack_pack_array(&pk, 4) != 0 || msgpack_pack_uint64(&pk, id) != 0 ||
        msgpack_pack_str(&pk, ol) != 0 || msgpack_pack_str_body(&pk, op, ol) != 0 ||
        msgpack_pack_str(&pk, nl) != 0 || msgpack_pack_str_body(&pk, ns, nl) != 0 ||
        duro_buf_append(b, args, args_len) != 0)
        return -1;
    size_t n = b->len - 4;
    if (n > UINT32_MAX)
        return -1;
    unsigned char *h = (unsigned char *)b->data;
    h[0] = (unsigned char)(n >> 24);
    h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    return 0;
}

/* Frees a request frame, wiped first: it may carry a password (auth.*, from
 * the typed calls or duro_call), and wiping costs no more than the copy of
 * the args that built it. encode() appends the args last, so no block the
 * frame outgrew held them. */
static void frame_free(duro_buf *frame)
{
    sodium_memzero(frame->data, frame->len);
    duro_buf_free(frame);
}

/* Registers p and writes its frame. DURO_OK, or a failure status with msg:
 * then p is no longer in the table (it may be done with DURO_IO). */
static int submit(remote *R, pend *p, const duro_buf *frame, char *msg, size_t msglen)
{
    pthread_mutex_lock(&R->wmu);
    int rc = ensure_connected(R, msg, msglen);
    if (rc != DURO_OK) {
        pthread_mutex_unlock(&R->wmu);
        return rc;
    }
    pthread_mutex_lock(&R->mu);
    table_add(R, p);
    pthread_mutex_unlock(&R->mu);
    const char *why = NULL;
    if (write_all(R, frame->data, frame->len, &why) != 0) {
        pthread_mutex_lock(&R->mu);
        mark_broken(R, why); /* fails p too */
        pthread_mutex_unlock(&R->mu);
        snprintf(msg, msglen, "connection to %s:%s lost: %s", R->host, R->port, why);
        rc = DURO_IO;
    }
    pthread_mutex_unlock(&R->wmu);
    return rc;
}

/* The reply of a finished entry, in encoding out. Consumes p's body. */
static void reply_of(remote *R, pend *p, int out, duro_reply *r)
{
    if (p->rc >= 0) {
        duro_reply_fail(r, p->rc, "%s", p->msg);
        return;
    }
    if (p->status != DURO_OK && p->status != DURO_CREATED) {
        duro_reply_error_from_body(r, p->status, p->body.data, p->body.len);
        r->body = p->body; /* the error map, for duro_call */
        memset(&p->body, 0, sizeof p->body);
        return;
    }
    r->rc = DURO_OK;
    r->http = duro_status_http(p->status);
    r->created = p->status == DURO_CREATED;
    if (out == DURO_OUT_MP) {
        r->body = p->body;
        memset(&p->body, 0, sizeof p->body);
    } else if (duro_value_to_json(DURO_ENC_MSGPACK, p->body.data, p->body.len, &r->body) != 0) {
        duro_buf_free(&r->body);
        duro_reply_fail(r, DURO_INTERNAL, "reply body from %s:%s is not JSON-representable",
                        R->host, R->port);
    }
}

static void r_call(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                   int val_enc, int out, duro_reply *r)
{
    (void)val_enc; /* a server stores what comes over the protocol as msgpack */
    remote *R = (remote *)db;
    pend *p = calloc(1, sizeof *p);
    if (!p) {
        duro_reply_fail(r, DURO_NOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&R->mu);
    p->id = ++R->next_id;
    pthread_mutex_unlock(&R->mu);
    duro_buf frame = {0};
    if (encode(&frame, p->id, op, ns, args, args_len) != 0) {
        frame_free(&frame);
        pend_free(p);
        duro_reply_fail(r, DURO_PAYLOAD_TOO_LARGE, "request too large or out of memory");
        return;
    }
    int64_t deadline = now_ms() + R->timeout_ms;
    int rc = submit(R, p, &frame, r->msg, sizeof r->msg);
    frame_free(&frame);
    if (rc != DURO_OK) {
        pend_free(p); /* out of the table; a failed p is not async: not on the ready list */
        r->rc = rc;
        r->http = duro_status_http(rc);
        return;
    }
    pthread_mutex_lock(&R->mu);
    if (wait_until(R, &p->done, NULL, deadline) != 0) {
        if (!p->done)
            table_take(R, p->id);
        pthread_mutex_unlock(&R->mu);
        pend_free(p);
        duro_reply_fail(r, DURO_UNAVAILABLE, "no reply from %s:%s within %d ms", R->host,
                        R->port, R->timeout_ms);
        return;
    }
    pthread_mutex_unlock(&R->mu);
    reply_of(R, p, out, r);
    pend_free(p);
}

static int r_send(duro *db, const char *op, const char *ns, const void *args, size_t args_len,
                  uint64_t *id, char *msg, size_t msglen)
{
    remote *R = (remote *)db;
    pend *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(msg, msglen, "out of memory");
        return DURO_NOMEM;
    }
    p->async = 1;
    pthread_mutex_lock(&R->mu);
    if (R->inflight >= DURO_CLIENT_MAX_INFLIGHT) {
        pthread_mutex_unlock(&R->mu);
        free(p);
        snprintf(msg, msglen, "%d requests in flight: take replies with duro_recv first",
                 DURO_CLIENT_MAX_INFLIGHT);
        return DURO_UNAVAILABLE;
    }
    R->inflight++;
    p->id = ++R->next_id;
    pthread_mutex_unlock(&R->mu);
    duro_buf frame = {0};
    int rc = DURO_OK;
    if (encode(&frame, p->id, op, ns, args, args_len) != 0) {
        snprintf(msg, msglen, "request too large or out of memory");
        rc = DURO_PAYLOAD_TOO_LARGE;
    } else {
        rc = submit(R, p, &frame, msg, msglen);
    }
    frame_free(&frame);
    if (rc != DURO_OK) {
        pthread_mutex_lock(&R->mu);
        ready_unlink(R, p); /* mark_broken may have queued it */
        R->inflight--;
        pthread_mutex_unlock(&R->mu);
        pend_free(p);
        return rc;
    }
    *id = p->id;
    return DURO_OK;
}

static int r_recv(duro *db, uint64_t *id, duro_reply *r)
{
    remote *R = (remote *)db;
    int64_t deadline = now_ms() + R->timeout_ms;
    pthread_mutex_lock(&R->mu);
    if (R->inflight == 0) {
        pthread_mutex_unlock(&R->mu);
        return duro_reply_fail(r, DURO_BAD_REQUEST, "no request in flight");
    }
    if (wait_until(R, NULL, &R->ready, deadline) != 0) {
        pthread_mutex_unlock(&R->mu);
        return duro_reply_fail(r, DURO_UNAVAILABLE, "no reply from %s:%s within %d ms",
                               R->host, R->port, R->timeout_ms);
    }
    pend *p = R->ready;
    R->ready = p->rnext;
    if (!R->ready)
        R->ready_tail = NULL;
    R->inflight--;
    pthread_mutex_unlock(&R->mu);
    *id = p->id;
    reply_of(R, p, DURO_OUT_MP, r);
    pend_free(p);
    return r->rc;
}

static void r_free(remote *R)
{
    if (R->fd >= 0)
        close(R->fd);
    for (size_t b = 0; b < BUCKETS; b++)
        for (pend *p = R->table[b], *next; p; p = next) {
            next = p->hnext;
            pend_free(p);
        }
    for (pend *p = R->ready, *next; p; p = next) {
        next = p->rnext;
        pend_free(p);
    }
    duro_buf_free(&R->rbuf);
    pthread_cond_destroy(&R->cv);
    pthread_mutex_destroy(&R->mu);
    pthread_mutex_destroy(&R->wmu);
    free(R->host);
    free(R->port);
    if (R->token) {
        sodium_memzero(R->token, strlen(R->token));
        free(R->token);
    }
    free(R);
}

static void r_close(duro *db)
{
    r_free((remote *)db);
}

static const duro_backend remote_backend = {r_call, r_send, r_recv, r_close};

/* duro://host[:port][/][?timeout_ms=N&connect_timeout_ms=N&token=T]; host may
 * be [v6]; T percent-encoded. A token given to duro_open_ex wins over the
 * URL's. */
static int parse_url(remote *R, const char *url, char *msg, size_t msglen)
{
    const char *h = url + strlen("duro://"), *hend, *p;
    if (*h == '[') {
        hend = strchr(h, ']');
        if (!hend)
            goto bad;
        h++;
        p = hend + 1;
    } else {
        hend = h + strcspn(h, ":/?");
        p = hend;
    }
    if (hend == h)
        goto bad;
    R->host = strndup(h, (size_t)(hend - h));
    if (*p == ':') {
        p++;
        size_t n = strspn(p, "0123456789");
        long port = n && n <= 5 ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535)
            goto bad;
        R->port = strndup(p, n);
        p += n;
    } else {
        R->port = strdup("7070");
    }
    if (*p == '/')
        p++;
    const char *query = NULL;
    if (*p == '?')
        query = p + 1;
    else if (*p)
        goto bad;
    static const char *const known[] = {"timeout_ms", "connect_timeout_ms", "token", NULL};
    if (duro_url_known(query, known, msg, msglen) != 0)
        return DURO_BAD_REQUEST;
    long long t = 5000, ct = 2000;
    if (duro_url_int(query, "timeout_ms", 1, 86400000, &t) < 0 ||
        duro_url_int(query, "connect_timeout_ms", 1, 86400000, &ct) < 0)
        goto bad;
    R->timeout_ms = (int)t;
    R->connect_timeout_ms = (int)ct;
    size_t tl;
    if (!R->token && duro_query_get(query, "token", &R->token, &tl) < 0)
        goto bad;
    if (R->token && (tl = strlen(R->token)) == 0) {
        free(R->token);
        R->token = NULL;
    }
    if (!R->host || !R->port) {
        snprintf(msg, msglen, "out of memory");
        return DURO_NOMEM;
    }
    return DURO_OK;
bad:
    snprintf(msg, msglen, "malformed URL (want duro://host:port[?timeout_ms=N"
                          "&connect_timeout_ms=N&token=T])");
    return DURO_BAD_REQUEST;
}

int duro_remote_open(const char *url, const char *token, duro **db, char *msg, size_t msglen)
{
    remote *R = calloc(1, sizeof *R);
    if (!R || (token && *token && !(R->token = strdup(token)))) {
        free(R);
        snprintf(msg, msglen, "out of memory");
        return DURO_NOMEM;
    }
    R->base.be = &remote_backend;
    R->fd = -1;
    pthread_mutex_init(&R->wmu, NULL);
    pthread_mutex_init(&R->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&R->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = parse_url(R, url, msg, msglen);
    if (rc == DURO_OK) {
        pthread_mutex_lock(&R->wmu);
        rc = ensure_connected(R, msg, msglen);
        pthread_mutex_unlock(&R->wmu);
    }
    if (rc != DURO_OK) {
        r_free(R);
        return rc;
    }
    *db = &R->base;
    return DURO_OK;
}
