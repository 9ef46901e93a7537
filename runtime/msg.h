/*
 * msg.h — the request message that travels from a transport to the owning
 * actor and back.
 *
 * The sender (an I/O thread, or the embedded client) allocates the message,
 * fills the request half, and hands it to duro_runtime_submit(). The actor runs
 * it, fills the reply half and calls done() on the actor thread; done() must
 * only hand the message back to the sender's thread (e.g. append it to a
 * completion list and wake that loop). The sender frees the message.
 */
#ifndef DURO_MSG_H
#define DURO_MSG_H

#include <stdint.h>

#include "duro/status.h"
#include "common/buf.h"
#include "common/names.h"

/* m->kind: an object kind's id (enum duro_kind_id, objects/object.h), below
 * DURO_KIND_MAX, or DURO_KIND_REGISTRY: the registry's own messages (change
 * notices, queries), served by the registry actor with m->ns unused. */
#define DURO_KIND_MAX 16
#define DURO_KIND_REGISTRY DURO_KIND_MAX

/* The default largest reply body (tape) of one op: --max-reply-bytes. */
#define DURO_MAX_REPLY_DEFAULT ((size_t)16 << 20)

typedef struct duro_msg duro_msg;
typedef void (*duro_msg_done_fn)(duro_msg *m);

struct duro_msg {
    duro_msg *next; /* mailbox or completion-list link */

    /* request: set by the sender */
    int kind;  /* a kind id (see above) */
    int op;    /* kind-specific operation */
    void *req; /* kind-specific decoded request; owned by the sender */
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    duro_msg_done_fn done; /* called on the actor thread */
    void *ctx;             /* the sender's; untouched by the runtime */
    duro_msg_done_fn reply; /* the sender's, for its own thread (transport/courier.h) */
    void (*work)(duro_msg *m); /* a worker-pool job (runtime/workers.h) */
    int work_io;           /* work is file I/O (a blob's write): the I/O pool runs it */
    int stage;             /* a kind's own step of an op that continues (kind.h) */
    duro_msg_done_fn resume; /* the runtime's: a worker-pool job goes back (actor.c) */
    void *rt_ctx;            /* the runtime's, with resume */
    uint64_t rt_drops;       /* the runtime's: its actor's drops when it went to the pool */

    /* reply: set by the actor before done() */
    int status;        /* duro_status */
    int64_t version;   /* the version the reply is at (a key's, or the namespace's), or -1 */
    int created;       /* the write created its target */
    int tape_plain;    /* body holds no tape extension (no JSON text): it is the
                          msgpack a client gets, as it is (codec.h) */
    duro_buf body;     /* on DURO_OK: the data as a tape (see codec.h) */
    char errmsg[192];  /* on error: the message of the error body */
    struct {           /* an open file the reply's bytes are read from (a blob):
                          the sender takes it and closes fd (only if open) */
        int open, fd;
        uint64_t off, len;
    } file;
    struct {           /* a rate-limit check's figures, besides the body */
        int set;
        int64_t limit, remaining, reset_ms, retry_after_ms;
    } rl;
};

/* Sets an error reply: status and a formatted message. Returns status. */
int duro_msg_fail(duro_msg *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
