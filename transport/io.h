/*
 * io.h — I/O threads and the connections they own, for every protocol durod
 * speaks (HTTP/1.1 in http1.c, the binary protocol in rpc.c).
 *
 * Each I/O thread has its own event_base, courier (courier.h) and one
 * SO_REUSEPORT listener per protocol; libevent objects are touched only on
 * their own thread. The layer gives each protocol a duro_conn and enforces
 * what no protocol should have to remember:
 *
 *   - a connection cap per thread (--max-connections / --io-threads, both
 *     protocols counted together): a connection over it is answered by the
 *     protocol's refuse() and closed at once;
 *   - accept() failing for want of file descriptors pauses that thread's
 *     listeners and retries later (100 ms, doubling to 1 s), logging at most
 *     one line per 10 s;
 *   - deadlines, swept every 200 ms: a request (or frame) must arrive whole
 *     within --request-timeout-ms of its first byte; a connection with no
 *     request in progress, nothing in flight and nothing to send is closed
 *     after --idle-timeout-ms (bytes trickling in do not restart it: they
 *     start a request, whose deadline is fixed); a client that reads none of
 *     its pending replies for --idle-timeout-ms is cut off;
 *   - a process-wide budget of request bytes held (--max-inflight-bytes):
 *     protocols reserve the bytes of a body or frame as they arrive (before
 *     they keep them) and release them once answered, and refuse with 503
 *     when it is spent;
 *   - a graceful close: after the last reply is written the socket is shut
 *     down for writing and what the client still sends is read and dropped for
 *     a while (bounded), so it sees our answer rather than a reset.
 *
 * A duro_conn lives until its socket is closed *and* every hold on it was
 * released (one per request in flight), so a reply that comes back after the
 * client left finds the connection and drops itself (duro_conn_open() is 0).
 */
#ifndef DURO_IO_H
#define DURO_IO_H

#include <event2/util.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/config.h"
#include "transport/courier.h"

typedef struct duro_io duro_io;
typedef struct duro_conn duro_conn;

/* A connection's output is "full" above HIGH bytes: protocols stop taking
 * new requests from it until it drained to LOW. */
#define DURO_OUT_HIGH (1u << 20)
#define DURO_OUT_LOW (256u << 10)

typedef struct duro_proto {
    const char *name;
    size_t state_size; /* bytes of protocol state at duro_conn_state() */
    /* A new connection (state zeroed). */
    void (*open)(duro_conn *c);
    /* Input arrived, or a paused connection may read again. */
    void (*read)(duro_conn *c);
    /* The output drained to DURO_OUT_LOW or below. */
    void (*drained)(duro_conn *c);
    /* The socket is gone (EOF, error, timeout, or closed by us); holds may
     * remain. May be NULL. */
    void (*closed)(duro_conn *c);
    /* The last hold went: free what the state owns. May be NULL. */
    void (*free)(duro_conn *c);
    /* A connection over the cap: write one short error (the socket is
     * non-blocking; best effort) before it is closed. May be NULL. */
    void (*refuse)(evutil_socket_t fd);
    /* The I/O thread is about to end: free what the protocol keeps per
     * thread (on that thread). May be NULL. */
    void (*thread_end)(void);
} duro_proto;

/* Creates the I/O threads' loops and couriers (not started). */
int duro_io_new(const duro_config *cfg, duro_runtime *rt, duro_io **out, char *err,
                size_t errlen);

/* Adds a listener for proto on every thread, bound to sa with SO_REUSEPORT;
 * arg is handed to every connection (duro_conn_arg()). Before start. */
int duro_io_listen(duro_io *io, const struct sockaddr *sa, int salen, const duro_proto *proto,
                   void *arg, char *err, size_t errlen);

/* Starts the threads (stack size for JSON parsing: DEPS.md). */
int duro_io_start(duro_io *io, char *err, size_t errlen);

/* Stops accepting, answers what is in flight, joins the threads. */
void duro_io_stop(duro_io *io);

/* Frees everything; after duro_runtime_close() (see courier.h). NULL: no-op. */
void duro_io_free(duro_io *io);

int duro_io_threads(const duro_io *io);
/* The courier of thread i (for tests and metrics). */
duro_courier *duro_io_courier(duro_io *io, int i);
/* Open connections over all threads (relaxed: for /metrics). */
long duro_io_connections(duro_io *io);
/* Bytes of the pending-request budget in use. */
size_t duro_io_pending_bytes(duro_io *io);

/* ---- the request budget (any thread) ---- */

/* Takes n bytes of the process-wide budget: 0, or -1 if it would pass
 * --max-inflight-bytes (nothing taken). */
int duro_io_reserve(duro_io *io, size_t n);
void duro_io_release(duro_io *io, size_t n);

/* ---- one connection (its I/O thread only) ---- */

void *duro_conn_state(duro_conn *c);
void *duro_conn_arg(duro_conn *c);
duro_io *duro_conn_io(duro_conn *c);
duro_courier *duro_conn_courier(duro_conn *c);
const duro_config *duro_conn_cfg(duro_conn *c);
/* The peer's address as text ("127.0.0.1"). */
const char *duro_conn_peer(duro_conn *c);
/* 1 while replies can still be written (open, or closing with output to send). */
int duro_conn_open(const duro_conn *c);
/* 1 once the server is stopping: new requests get 503. */
int duro_conn_stopping(const duro_conn *c);
/* 1 after the client half-closed (EOF): answer what was read, then close. */
int duro_conn_eof(const duro_conn *c);

struct evbuffer *duro_conn_input(duro_conn *c);
size_t duro_conn_output_len(duro_conn *c);

/* Queues bytes to send (copied). */
void duro_conn_write(duro_conn *c, const void *p, size_t n);
/* Queues a malloc'd buffer to send without copying; takes it (freed even if
 * the connection is closed). */
void duro_conn_write_take(duro_conn *c, void *p, size_t n);

/* The connection's socket (for a protocol that reads a large body straight
 * into its own buffer), or -1. */
int duro_conn_fd(duro_conn *c);

/* Queues bytes [off, off + len) of the open file fd to send (sendfile);
 * takes fd (closed once sent, or now if the connection is closed). */
void duro_conn_write_file(duro_conn *c, int fd, uint64_t off, uint64_t len);

/* Stops reading the socket (back-pressure) / starts again; resume also runs
 * proto->read later in this loop turn for bytes already buffered. */
void duro_conn_pause(duro_conn *c);
void duro_conn_resume(duro_conn *c);

/* Request deadlines: a request's first byte was seen / it arrived whole. */
void duro_conn_request_begin(duro_conn *c);
void duro_conn_request_end(duro_conn *c);

/* A request in flight holds the connection (and the thread's loop, at
 * shutdown); release when it was answered. */
void duro_conn_hold(duro_conn *c);
void duro_conn_release(duro_conn *c);

/* Closes once every hold was released and everything queued was sent (with
 * the graceful close above); reading stops now. */
void duro_conn_close_after_write(duro_conn *c);
/* Closes now, dropping unsent output. */
void duro_conn_close(duro_conn *c);

/* Monotonic milliseconds and microseconds. */
int64_t duro_mono_ms(void);
uint64_t duro_mono_us(void);

#endif
