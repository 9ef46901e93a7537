/*
 * actor.h — one actor thread: its mailbox, its open namespaces, its cache.
 * Private to runtime/.
 */
#ifndef DURO_ACTOR_H
#define DURO_ACTOR_H

#include <pthread.h>

#include "runtime/cache.h"
#include "runtime/clog.h"
#include "runtime/mailbox.h"
#include "runtime/ns.h"
#include "runtime/owner.h"

typedef struct duro_actor {
    unsigned id;
    pthread_t thread;
    duro_owner owner;       /* the actor's thread, from its start: owns all below */
    duro_mailbox mailbox;
    duro_store_config store;
    duro_lru lru;           /* value cache of all this actor's namespaces */
    duro_ns **table;        /* open namespaces by name */
    size_t table_mask;
    size_t open_count;
    size_t max_open;
    size_t max_reply;       /* largest reply tape of one op (--max-reply-bytes) */
    duro_ns *lru_head, *lru_tail; /* open namespaces, most recently used first */
    duro_msg *outbox, **outbox_tail; /* replies ready before this batch's commits */
    duro_ns *ghost;         /* in-memory stand-in for namespaces without a file */
    int ghost_failed;       /* the ghost could not be opened: ops use real files */
    uint64_t drops;         /* namespaces deleted so far (DURO_DROP) */
    struct duro_registry *registry; /* gets each commit's change notices */
    const struct duro_kinds *kinds; /* the object kinds it runs (runtime/kind.h) */
    struct duro_workers *workers;   /* the runtime's pool, for ops that continue */
    struct duro_workers *io_workers; /* ... whose step is file I/O (m->work_io) */
    int ttl_sweep_ms;
    int64_t next_sweep_ms;
    int64_t next_flush_ms;
    int64_t next_apply_ms;  /* the open transactions are applied by then */
    int64_t drip_since_ms;  /* a due apply settles its rows over loop turns since; 0: none */
    int trim_pending;       /* an apply gave memory back that malloc_trim() has not yet */
    duro_clog log;          /* its commit log (clog.h), created by the runtime */
    duro_buf changes;       /* a namespace batch's changeset, on its way to the log */
    int commit_log;         /* 0: every batch ends with its namespaces' COMMIT */
    int log_failed;         /* a write or sync of the log failed: apply before writes */
    char **unapplied;       /* namespaces closed with log records not in their files */
    size_t n_unapplied;
} duro_actor;

int duro_actor_start(duro_actor *a);
/* Closes the mailbox and joins the thread after it drained and committed. */
void duro_actor_stop(duro_actor *a);

#endif
