/*
 * runtime.h — the actor runtime: start it over a data directory, send it
 * messages, stop it. Used by durod's transports and by the embedded client.
 */
#ifndef DURO_RUNTIME_H
#define DURO_RUNTIME_H

#include <stddef.h>

#include "runtime/kind.h"
#include "runtime/msg.h"

typedef struct duro_runtime duro_runtime;

typedef struct duro_runtime_config {
    const char *data_dir;
    const duro_kinds *kinds; /* the object kinds (objects/object.h: &duro_object_kinds) */
    int actors;             /* > 0 */
    size_t cache_bytes;     /* value cache budget, split evenly over actors */
    int max_open_ns;        /* open namespace files, split evenly over actors */
    int sync_full;          /* 1: synchronous=FULL; 0: NORMAL (opt-in) */
    int no_commit_log;      /* 0: batches go to the commit log (clog.h); 1: each commits */
    int ttl_sweep_ms;       /* period of the active TTL sweep */
    size_t max_mailbox;     /* queued messages per actor before 503 */
    int workers;            /* threads for CPU-heavy steps (Argon2id); 0: 2 */
    int io_workers;         /* threads for file-I/O steps (blob writes); 0: 4 */
    size_t max_reply_bytes; /* largest reply tape of one op; 0: DURO_MAX_REPLY_DEFAULT.
                               Lists end their page before it, larger batch gets,
                               snapshots, registry pages and other reads are 413 */
} duro_runtime_config;

/* Takes the data directory's lock, creates its layout and starts the actors.
 * Returns DURO_OK, DURO_LOCKED if another process holds the directory, or
 * another status with a message in err. */
int duro_runtime_open(const duro_runtime_config *cfg, duro_runtime **rt, char *err,
                      size_t errlen);

/* Sends m to the namespace's owner. DURO_OK: m->done(m) will be called once,
 * on an actor thread. DURO_UNAVAILABLE: the mailbox is full or the runtime is
 * stopping; m was not taken. */
int duro_runtime_submit(duro_runtime *rt, duro_msg *m);

/* Sends a list of messages (linked by next), each to its owner, taking each
 * owner's mailbox lock once (sender-side batching). Returns the messages that
 * were refused (full mailbox or stopping) as a list, NULL if all were taken;
 * the taken ones are answered through done() as with duro_runtime_submit(). */
duro_msg *duro_runtime_submit_list(duro_runtime *rt, duro_msg *list);

/* Refuses new messages, lets the actors finish and commit what is queued,
 * joins them, closes every file and releases the lock. NULL is a no-op. */
void duro_runtime_close(duro_runtime *rt);

/* Sum of all mailbox depths. */
size_t duro_runtime_mailbox_depth(duro_runtime *rt);

/* Current wall-clock time in ms since the epoch. */
int64_t duro_now_ms(void);

#endif
