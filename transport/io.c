/*
 * io.c — I/O threads, listeners, connections and their deadlines (see io.h).
 *
 * DESIGN
 * Threads: each I/O thread runs one event_base with its courier, its
 * listeners (one per protocol, SO_REUSEPORT, so the kernel spreads
 * connections over the threads), its connections and a 200 ms sweep event.
 * Only the owning thread touches any of them; the request budget is the one
 * shared thing (an atomic counter).
 *
 * A connection is a bufferevent plus our bookkeeping (duro_conn) and the
 * protocol's state, one allocation. Its life:
 *
 *   accepted -> open ......................... -> closing (output drains)
 *                 | EOF with work pending: eof,   -> lingering (SHUT_WR, input
 *                 |   answer, then closing           dropped, <= 2 s / 1 MiB)
 *                 v                               -> closed (socket freed)
 *               closed on error/timeout/close()   -> freed when the last hold goes
 *
 * Writes: output goes to the bufferevent's output buffer and the connection
 * on the thread's dirty list; after the loop turn's callbacks (flush_ev, an
 * active event) each dirty connection is written with one writev. Only what
 * the socket does not take enables the bufferevent's EV_WRITE, until the
 * output drained. So a reply costs no epoll_ctl (add and remove of write
 * interest) and no loop turn (bench/RESULTS.md, issue 13).
 *
 * Deadlines are kept as timestamps and checked by the sweep, never as
 * bufferevent timeouts (those restart on every byte and would let a client
 * that trickles one byte a second keep a connection and its buffer forever).
 */
#include "transport/io.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define MAX_LISTENERS 4
#define SWEEP_MS 200
#define LINGER_MS 2000
#define LINGER_BYTES (1u << 20)
#define STOP_GRACE_MS 5000
#define ACCEPT_RETRY_MIN_MS 100
#define ACCEPT_RETRY_MAX_MS 1000

typedef struct io_thread io_thread;

typedef struct listener {
    io_thread *t;
    struct evconnlistener *l;
    const duro_proto *proto;
    void *arg;
} listener;

struct io_thread {
    duro_io *io;
    int index;
    pthread_t thread;
    pthread_t self;   /* the loop's thread, while `running` */
    int running;
    int started;
    struct event_base *base;
    duro_courier *courier;
    listener listeners[MAX_LISTENERS];
    int nlisteners;
    struct event *stop_ev;
    struct event *sweep_ev;
    struct event *retry_ev; /* accept paused for want of fds */
    int accept_paused;
    int retry_ms;
    duro_conn *conns;
    long nconns;
    long holds;
    int stopping;
    int64_t stop_deadline;
    struct event *flush_ev; /* writes the dirty connections (end of the loop turn) */
    duro_conn *dirty;       /* connections with output not yet written */
};

struct duro_io {
    const duro_config *cfg;
    duro_runtime *rt;
    int n;
    io_thread *threads;
    size_t pending_max;
    size_t pending; /* atomic */
    long conns;     /* open connections of every thread (atomic): the limit is global */
    long max_conns;
};

/* libevent objects are touched only on their loop's thread (before the loop
 * runs and after it stopped, the thread that owns the io does it). */
#define ON_LOOP(t) assert(!(t)->running || pthread_equal(pthread_self(), (t)->self))

struct duro_conn {
    io_thread *t;
    listener *lst;
    struct bufferevent *bev; /* NULL once closed */
    int refs;                /* 1 while the socket is open, + 1 per hold */
    int holds;
    int closing;             /* close once the output is written */
    int lingering;           /* output written, SHUT_WR sent, draining input */
    int eof;
    int paused;
    struct event *resume_ev; /* reads what is buffered, a loop turn later */
    int receiving;           /* a request has begun and not arrived whole */
    int64_t t_request;       /* when it began */
    int64_t t_idle;          /* since when nothing happens on it */
    int64_t t_linger;
    size_t lingered;
    size_t out_seen;         /* output length at the last sweep */
    int64_t t_out;           /* since when the output did not shrink */
    char peer[INET6_ADDRSTRLEN];
    duro_conn *prev, *next;
    duro_conn *dirty_next; /* on t->dirty (holds a ref) */
    int dirty;
    int write_on;          /* EV_WRITE enabled: the socket did not take everything */
    _Alignas(16) unsigned char state[];
};

int64_t duro_mono_ms(void) { return (int64_t)(duro_mono_us() / 1000u); }

uint64_t duro_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the request budget ---- */

int duro_io_reserve(duro_io *io, size_t n)
{
    size_t cur = __atomic_load_n(&io->pending, __ATOMIC_RELAXED);
    do {
        if (n > io->pending_max || cur > io->pending_max - n)
            return -1;
    } while (!__atomic_compare_exchange_n(&io->pending, &cur, cur + n, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return 0;
}

void duro_io_release(duro_io *io, size_t n)
{
    if (n)
        __atomic_fetch_sub(&io->pending, n, __ATOMIC_RELAXED);
}

size_t duro_io_pending_bytes(duro_io *io)
{
    return __atomic_load_n(&io->pending, __ATOMIC_RELAXED);
}

/* ---- stopping ---- */

static int outputs_empty(io_thread *t)
{
    for (duro_conn *c = t->conns; c; c = c->next)
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 && !c->lingering)
            return 0;
    return 1;
}

/* Once stopping: leave the loop when nothing is in flight and every reply
 * was written (or the grace period is over). */
static void maybe_exit(io_thread *t)
{
    if (t->stopping && t->holds == 0 &&
        (outputs_empty(t) || duro_mono_ms() > t->stop_deadline))
        event_base_loopexit(t->base, NULL);
}

/* ---- connections ---- */

static void conn_unref(duro_conn *c)
{
    if (--c->refs > 0)
        return;
    if (c->lst->proto->free)
        c->lst->proto->free(c);
    if (c->resume_ev)
        event_free(c->resume_ev);
    free(c);
}

void duro_conn_close(duro_conn *c)
{
    ON_LOOP(c->t);
    if (!c->bev)
        return;
    duro_log_debug("connection from %s closed", c->peer);
    io_thread *t = c->t;
    bufferevent_free(c->bev); /* closes the socket */
    c->bev = NULL;
    if (c->resume_ev)
        event_del(c->resume_ev);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    __atomic_store_n(&t->nconns, t->nconns - 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&t->io->conns, 1, __ATOMIC_RELAXED);
    if (c->lst->proto->closed)
        c->lst->proto->closed(c);
    conn_unref(c);
    maybe_exit(t);
}

/* Output written: shut down our side and drop what still comes for a while,
 * so the client reads our last reply before the connection goes. */
static void start_linger(duro_conn *c)
{
    c->lingering = 1;
    c->t_linger = duro_mono_ms();
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
        duro_conn_close(c);
        return;
    }
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    bufferevent_enable(c->bev, EV_READ);
}

void duro_conn_close_after_write(duro_conn *c)
{
    ON_LOOP(c->t);
    if (!c->bev || c->closing)
        return;
    c->closing = 1;
    bufferevent_disable(c->bev, EV_READ);
    if (c->holds == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        start_linger(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    duro_conn *c = arg;
    if (c->lingering) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t n = evbuffer_get_length(in);
        c->lingered += n;
        evbuffer_drain(in, n);
        if (c->lingered > LINGER_BYTES)
            duro_conn_close(c);
        return;
    }
    if (c->closing || c->paused)
        return;
    c->refs++; /* the protocol may close it under us */
    c->lst->proto->read(c);
    conn_unref(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    duro_conn *c = arg;
    size_t out = evbuffer_get_length(bufferevent_get_output(bev));
    if (out == 0) {
        if (c->write_on) { /* back to writing at the end of loop turns */
            c->write_on = 0;
            bufferevent_disable(bev, EV_WRITE);
        }
        c->out_seen = 0;
        if (c->holds == 0 && !c->receiving)
            c->t_idle = duro_mono_ms();
    }
    if (c->closing) {
        if (out == 0 && !c->lingering && c->holds == 0)
            start_linger(c);
        return;
    }
    if (c->lst->proto->drained) {
        c->refs++;
        c->lst->proto->drained(c);
        conn_unref(c);
    }
    if (c->t->stopping)
        maybe_exit(c->t);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    duro_conn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->lingering &&
        (c->holds > 0 || evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
        /* a half-close after the request: answer it, then close */
        c->eof = 1;
        bufferevent_disable(bev, EV_READ);
        duro_conn_close_after_write(c);
        return;
    }
    duro_conn_close(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg);

/* Output was added: write it at the end of this loop turn. */
static void mark_dirty(duro_conn *c)
{
    if (c->dirty || c->write_on || !c->bev)
        return;
    io_thread *t = c->t;
    c->dirty = 1;
    c->refs++;
    c->dirty_next = t->dirty;
    if (!t->dirty)
        event_active(t->flush_ev, EV_WRITE, 0);
    t->dirty = c;
}

/* One writev per dirty connection; what the socket does not take waits for
 * EV_WRITE (the bufferevent's own writes, then on_write()). */
static void on_flush_out(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    duro_conn *list = t->dirty;
    t->dirty = NULL;
    while (list) {
        duro_conn *c = list;
        list = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        if (c->bev && !c->write_on && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
            /* (evbuffer_write() of nothing is -1) */
            struct evbuffer *out = bufferevent_get_output(c->bev);
            /* a socket bufferevent keeps its output's start frozen, and thaws
             * it only for its own writes: so do we */
            evbuffer_unfreeze(out, 1);
            errno = 0;
            int n = evbuffer_write(out, bufferevent_getfd(c->bev));
            int e = errno;
            evbuffer_freeze(out, 1);
            if (n < 0 && e != EAGAIN && e != EWOULDBLOCK && e != EINTR) {
                duro_log_debug("write to %s: %s; closing", c->peer, strerror(e));
                duro_conn_close(c); /* the peer is gone (EPIPE, ECONNRESET) */
            } else if (evbuffer_get_length(out) > 0) {
                c->write_on = 1;
                bufferevent_enable(c->bev, EV_WRITE);
            } else {
                on_write(c->bev, c); /* drained: what the write callback does */
            }
        }
        conn_unref(c);
    }
}

void duro_conn_pause(duro_conn *c)
{
    ON_LOOP(c->t);
    if (!c->bev || c->paused)
        return;
    c->paused = 1;
    bufferevent_disable(c->bev, EV_READ);
}

void duro_conn_resume(duro_conn *c)
{
    ON_LOOP(c->t);
    if (!c->bev || c->closing)
        return;
    if (c->paused) {
        c->paused = 0;
        if (!c->eof)
            bufferevent_enable(c->bev, EV_READ);
    }
    /* bytes already buffered would wait for the next packet: read them in
     * a later callback of this loop turn (never from inside a caller) */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        if (!c->resume_ev)
            c->resume_ev = evtimer_new(c->t->base, on_resume, c);
        static const struct timeval now = {0, 0};
        if (c->resume_ev && !evtimer_pending(c->resume_ev, NULL))
            evtimer_add(c->resume_ev, &now);
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    duro_conn *c = arg;
    if (c->bev && !c->paused && !c->closing)
        on_read(c->bev, c);
}

void duro_conn_request_begin(duro_conn *c)
{
    if (!c->receiving) {
        c->receiving = 1;
        c->t_request = duro_mono_ms();
    }
}

void duro_conn_request_end(duro_conn *c) { c->receiving = 0; }

void duro_conn_hold(duro_conn *c)
{
    ON_LOOP(c->t);
    c->refs++;
    c->holds++;
    c->t->holds++;
}

void duro_conn_release(duro_conn *c)
{
    ON_LOOP(c->t);
    io_thread *t = c->t;
    c->holds--;
    t->holds--;
    if (c->holds == 0 && !c->receiving)
        c->t_idle = duro_mono_ms();
    if (c->bev && c->closing && !c->lingering && c->holds == 0 &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        start_linger(c);
    conn_unref(c);
    maybe_exit(t);
}

void *duro_conn_state(duro_conn *c) { return c->state; }
void *duro_conn_arg(duro_conn *c) { return c->lst->arg; }
duro_io *duro_conn_io(duro_conn *c) { return c->t->io; }
duro_courier *duro_conn_courier(duro_conn *c) { return c->t->courier; }
const duro_config *duro_conn_cfg(duro_conn *c) { return c->t->io->cfg; }
const char *duro_conn_peer(duro_conn *c) { return c->peer; }
int duro_conn_open(const duro_conn *c) { return c->bev != NULL && !c->lingering; }
int duro_conn_stopping(const duro_conn *c) { return c->t->stopping; }
int duro_conn_eof(const duro_conn *c) { return c->eof; }

struct evbuffer *duro_conn_input(duro_conn *c)
{
    ON_LOOP(c->t);
    return c->bev ? bufferevent_get_input(c->bev) : NULL;
}

size_t duro_conn_output_len(duro_conn *c)
{
    ON_LOOP(c->t);
    return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void duro_conn_write(duro_conn *c, const void *p, size_t n)
{
    ON_LOOP(c->t);
    if (c->bev && n && bufferevent_write(c->bev, p, n) == 0)
        mark_dirty(c);
}

static void free_chunk(const void *data, size_t len, void *arg) { free((void *)data); }

/* Small buffers are copied: a chain per reply would make the next write a
 * writev() of many tiny pieces. */
#define COPY_BELOW 4096

void duro_conn_write_take(duro_conn *c, void *p, size_t n)
{
    ON_LOOP(c->t);
    if (c->bev && n && n < COPY_BELOW) {
        if (bufferevent_write(c->bev, p, n) == 0)
            mark_dirty(c);
        free(p);
    } else if (!c->bev || n == 0 ||
               evbuffer_add_reference(bufferevent_get_output(c->bev), p, n, free_chunk, NULL) !=
                   0) {
        free(p);
    } else {
        mark_dirty(c);
    }
}

int duro_conn_fd(duro_conn *c)
{
    ON_LOOP(c->t);
    return c->bev ? (int)bufferevent_getfd(c->bev) : -1;
}

void duro_conn_write_file(duro_conn *c, int fd, uint64_t off, uint64_t len)
{
    ON_LOOP(c->t);
    if (!c->bev || len == 0) {
        close(fd);
        return;
    }
    /* the head announced len bytes: if they cannot follow, the connection
     * must end after what was queued, or the client would read the next
     * answer as this body */
    struct evbuffer_file_segment *seg =
        evbuffer_file_segment_new(fd, (ev_off_t)off, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE);
    if (!seg) {
        close(fd);
        duro_log_warn("cannot queue a file for sending: out of memory");
        duro_conn_close_after_write(c);
        return;
    }
    if (evbuffer_add_file_segment(bufferevent_get_output(c->bev), seg, 0, (ev_off_t)len) != 0) {
        duro_log_warn("cannot queue a file for sending: out of memory");
        duro_conn_close_after_write(c);
    } else {
        mark_dirty(c);
    }
    evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
}

/* ---- accepting ---- */

static duro_log_limit cap_log, fd_log, accept_log;

/* accept() failed for want of descriptors: stop accepting on this thread
 * for retry_ms, which doubles (to ACCEPT_RETRY_MAX_MS) with every failure
 * until an accept succeeds again. */
static void pause_accept(io_thread *t)
{
    if (t->accept_paused)
        return; /* the other listener failed in the same turn */
    for (int i = 0; i < t->nlisteners; i++)
        evconnlistener_disable(t->listeners[i].l);
    t->accept_paused = 1;
    t->retry_ms = !t->retry_ms ? ACCEPT_RETRY_MIN_MS
                  : t->retry_ms * 2 > ACCEPT_RETRY_MAX_MS ? ACCEPT_RETRY_MAX_MS
                                                          : t->retry_ms * 2;
    struct timeval tv = {t->retry_ms / 1000, (t->retry_ms % 1000) * 1000};
    event_add(t->retry_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    if (t->stopping)
        return;
    t->accept_paused = 0; /* retry_ms stays until an accept succeeds */
    for (int i = 0; i < t->nlisteners; i++)
        evconnlistener_enable(t->listeners[i].l);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    listener *ls = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        int was_paused = ls->t->accept_paused;
        pause_accept(ls->t);
        if (!was_paused)
            duro_log_limited(&fd_log, DURO_LOG_WARN, "accept (%s): %s; pausing accept for %d ms",
                             ls->proto->name, strerror(e), ls->t->retry_ms);
    } else {
        duro_log_limited(&accept_log, DURO_LOG_WARN, "accept (%s): %s", ls->proto->name,
                         strerror(e));
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    listener *ls = arg;
    io_thread *t = ls->t;
    t->retry_ms = 0;
    /* one count over all I/O threads: the kernel spreads connections over
     * their SO_REUSEPORT listeners unevenly, a per-thread share would refuse
     * some below the limit */
    long open = __atomic_add_fetch(&t->io->conns, 1, __ATOMIC_RELAXED);
    if (open > t->io->max_conns || t->stopping) {
        __atomic_sub_fetch(&t->io->conns, 1, __ATOMIC_RELAXED);
        if (!t->stopping)
            duro_log_limited(&cap_log, DURO_LOG_WARN,
                             "connection limit reached (%ld); refusing new connections",
                             t->io->max_conns);
        if (ls->proto->refuse)
            ls->proto->refuse(fd);
        evutil_closesocket(fd);
        return;
    }
    duro_conn *c = calloc(1, sizeof *c + ls->proto->state_size);
    struct bufferevent *bev =
        c ? bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        __atomic_sub_fetch(&t->io->conns, 1, __ATOMIC_RELAXED);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t = t;
    c->lst = ls;
    c->bev = bev;
    c->refs = 1;
    c->t_idle = c->t_out = duro_mono_ms();
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof c->peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->peer, sizeof c->peer);
    else
        strcpy(c->peer, "-");
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    __atomic_store_n(&t->nconns, t->nconns + 1, __ATOMIC_RELAXED);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_WRITE, DURO_OUT_LOW, 0);
    /* EV_WRITE (on by default in a new bufferevent) only while output waits:
     * on_flush_out() */
    bufferevent_disable(bev, EV_WRITE);
    bufferevent_enable(bev, EV_READ);
    duro_log_debug("connection from %s opened (%s)", c->peer, ls->proto->name ? ls->proto->name : "?");
    if (ls->proto->open)
        ls->proto->open(c);
}

/* ---- the sweep ---- */

static duro_log_limit slow_request_log, unread_log;

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    const duro_config *cfg = t->io->cfg;
    int64_t now = duro_mono_ms();
    duro_conn *c = t->conns;
    while (c) {
        duro_conn *next = c->next;
        size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
        if (out == 0 || out < c->out_seen || c->out_seen == 0)
            c->t_out = now; /* nothing to send, or the client read some */
        c->out_seen = out;
        if (c->lingering) {
            if (now - c->t_linger > LINGER_MS)
                duro_conn_close(c);
        } else if (c->receiving && now - c->t_request > cfg->request_timeout_ms) {
            duro_log_limited(&slow_request_log, DURO_LOG_INFO,
                             "%s connection from %s: request not complete within %ld ms; closed",
                             c->lst->proto->name, c->peer, cfg->request_timeout_ms);
            duro_conn_close(c);
        } else if (out > 0 && now - c->t_out > cfg->idle_timeout_ms) {
            duro_log_limited(&unread_log, DURO_LOG_INFO,
                             "%s connection from %s: %zu reply bytes unread for %ld ms; closed",
                             c->lst->proto->name, c->peer, out, cfg->idle_timeout_ms);
            duro_conn_close(c);
        } else if (!c->receiving && c->holds == 0 && out == 0 &&
                   now - c->t_idle > cfg->idle_timeout_ms) {
            duro_conn_close(c);
        }
        c = next;
    }
    if (t->stopping)
        maybe_exit(t);
}

/* ---- threads ---- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    io_thread *t = arg;
    t->stopping = 1;
    t->stop_deadline = duro_mono_ms() + STOP_GRACE_MS;
    for (int i = 0; i < t->nlisteners; i++)
        evconnlistener_disable(t->listeners[i].l);
    event_del(t->retry_ev);
    maybe_exit(t);
}

static void *io_main(void *arg)
{
    io_thread *t = arg;
    pthread_setname_np(pthread_self(), "duro-io");
    t->self = pthread_self();
    t->running = 1;
    duro_courier_own(t->courier);
    event_base_dispatch(t->base);
    /* a request read in the same loop turn as the stop may still be out with
     * an actor: keep the loop turning until its reply is sent */
    while (t->holds > 0)
        event_base_loop(t->base, EVLOOP_ONCE);
    for (int i = 0; i < t->nlisteners; i++) {
        const duro_proto *p = t->listeners[i].proto;
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= t->listeners[j].proto == p;
        if (p->thread_end && !seen)
            p->thread_end();
    }
    t->running = 0;
    return NULL;
}

int duro_io_new(const duro_config *cfg, duro_runtime *rt, duro_io **out, char *err,
                size_t errlen)
{
    *out = NULL;
    duro_io *io = calloc(1, sizeof *io);
    if (!io)
        return DURO_NOMEM;
    io->cfg = cfg;
    io->rt = rt;
    io->pending_max = (size_t)cfg->max_pending_bytes;
    io->n = (int)cfg->io_threads;
    io->max_conns = cfg->max_connections;
    io->threads = calloc((size_t)io->n, sizeof *io->threads);
    if (!io->threads) {
        free(io);
        return DURO_NOMEM;
    }
    for (int i = 0; i < io->n; i++) {
        io_thread *t = &io->threads[i];
        t->io = io;
        t->index = i;
        t->base = event_base_new();
        t->courier = t->base ? duro_courier_new(t->base, rt) : NULL;
        t->stop_ev = t->base ? event_new(t->base, -1, 0, on_stop, t) : NULL;
        t->sweep_ev = t->base ? event_new(t->base, -1, EV_PERSIST, on_sweep, t) : NULL;
        t->retry_ev = t->base ? evtimer_new(t->base, on_retry, t) : NULL;
        t->flush_ev = t->base ? event_new(t->base, -1, 0, on_flush_out, t) : NULL;
        if (!t->courier || !t->stop_ev || !t->sweep_ev || !t->retry_ev || !t->flush_ev) {
            snprintf(err, errlen, "cannot create the I/O threads' event loops");
            duro_io_free(io);
            return DURO_INTERNAL;
        }
        struct timeval sw = {0, SWEEP_MS * 1000};
        event_add(t->sweep_ev, &sw);
    }
    *out = io;
    return DURO_OK;
}

int duro_io_listen(duro_io *io, const struct sockaddr *sa, int salen, const duro_proto *proto,
                   void *arg, char *err, size_t errlen)
{
    for (int i = 0; i < io->n; i++) {
        io_thread *t = &io->threads[i];
        if (t->nlisteners == MAX_LISTENERS) {
            snprintf(err, errlen, "too many listeners");
            return DURO_INTERNAL;
        }
        listener *ls = &t->listeners[t->nlisteners];
        ls->t = t;
        ls->proto = proto;
        ls->arg = arg;
        ls->l = evconnlistener_new_bind(t->base, on_accept, ls,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                            LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC |
                                            LEV_OPT_DISABLED,
                                        1024, sa, salen);
        if (!ls->l) {
            char host[INET6_ADDRSTRLEN] = "?";
            int port = 0;
            if (sa->sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
                          sizeof host);
                port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
            } else {
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host,
                          sizeof host);
                port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
            }
            snprintf(err, errlen, "cannot listen on %s:%d (%s): %s", host, port, proto->name,
                     strerror(errno));
            return DURO_IO;
        }
        evconnlistener_set_error_cb(ls->l, on_accept_error);
        /* accepted sockets inherit TCP_NODELAY (Linux) */
        int one = 1;
        setsockopt(evconnlistener_get_fd(ls->l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        t->nlisteners++;
    }
    return DURO_OK;
}

int duro_io_start(duro_io *io, char *err, size_t errlen)
{
    for (int i = 0; i < io->n; i++) {
        io_thread *t = &io->threads[i];
        for (int k = 0; k < t->nlisteners; k++)
            evconnlistener_enable(t->listeners[k].l);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20); /* jansson needs deep stacks */
        int rc = pthread_create(&t->thread, &attr, io_main, t);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start I/O thread");
            return DURO_INTERNAL;
        }
        t->started = 1;
    }
    return DURO_OK;
}

void duro_io_stop(duro_io *io)
{
    if (!io)
        return;
    for (int i = 0; i < io->n; i++)
        if (io->threads[i].started)
            event_active(io->threads[i].stop_ev, EV_READ, 0);
    for (int i = 0; i < io->n; i++)
        if (io->threads[i].started) {
            pthread_join(io->threads[i].thread, NULL);
            io->threads[i].started = 0;
        }
}

void duro_io_free(duro_io *io)
{
    if (!io)
        return;
    for (int i = 0; i < io->n; i++) {
        io_thread *t = &io->threads[i];
        while (t->conns)
            duro_conn_close(t->conns);
        while (t->dirty) { /* the loop ended before its flush: drop the lists' refs */
            duro_conn *c = t->dirty;
            t->dirty = c->dirty_next;
            conn_unref(c);
        }
        for (int k = 0; k < t->nlisteners; k++)
            evconnlistener_free(t->listeners[k].l);
        duro_courier_free(t->courier);
        if (t->stop_ev)
            event_free(t->stop_ev);
        if (t->sweep_ev)
            event_free(t->sweep_ev);
        if (t->retry_ev)
            event_free(t->retry_ev);
        if (t->flush_ev)
            event_free(t->flush_ev);
        if (t->base)
            event_base_free(t->base);
    }
    free(io->threads);
    free(io);
}

int duro_io_threads(const duro_io *io) { return io->n; }

duro_courier *duro_io_courier(duro_io *io, int i) { return io->threads[i].courier; }

long duro_io_connections(duro_io *io)
{
    long n = 0;
    for (int i = 0; i < io->n; i++)
        n += __atomic_load_n(&io->threads[i].nconns, __ATOMIC_RELAXED);
    return n;
}
