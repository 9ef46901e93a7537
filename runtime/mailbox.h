/*
 * mailbox.h — an actor's inbox: many producers, one consumer.
 *
 * Producers take the lock only to append and signal the consumer only when the
 * queue goes from empty to non-empty (after cbus in Tarantool). The consumer
 * takes the whole queue at once (one splice) and runs it as a batch.
 */
#ifndef DURO_MAILBOX_H
#define DURO_MAILBOX_H

#include <pthread.h>
#include <stddef.h>

#include "runtime/msg.h"

typedef struct duro_mailbox {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    duro_msg *head, **tail;
    size_t depth;
    size_t max_depth; /* pushes beyond it are refused (back-pressure) */
    int closed;
    int sleeping;    /* the consumer waits without a timeout */
    int unsignalled; /* a lazy push did not signal */
    int urgent;      /* a push that must end a lazy take's wait */
} duro_mailbox;

int duro_mailbox_init(duro_mailbox *mb, size_t max_depth);
void duro_mailbox_destroy(duro_mailbox *mb);

/* Appends m. Returns 0, or -1 if the mailbox is full or closed (m not taken). */
int duro_mailbox_push(duro_mailbox *mb, duro_msg *m);

/* Appends a list of n messages (head..tail linked by next) in one splice.
 * Returns 0, or -1 if the mailbox is closed or would exceed its depth (the
 * list is not taken). */
int duro_mailbox_push_list(duro_mailbox *mb, duro_msg *head, duro_msg *tail, size_t n);

/* Appends a message the mailbox already took once and that comes back (an
 * op that continued on the worker pool, runtime/kind.h): past max_depth too,
 * so it is never lost to back-pressure (their number is bounded by the
 * pool's queue). 0, or -1 if the mailbox is closed. */
int duro_mailbox_push_back(duro_mailbox *mb, duro_msg *m);

/* Lazy delivery, for messages that may wait a little so that a busy producer
 * does not wake the consumer once per message:
 * duro_mailbox_push_lazy() appends m and wakes the consumer only if it waits
 * in duro_mailbox_take_lazy() without a timeout (0, or -1 if closed/full);
 * duro_mailbox_take_lazy() waits until an ordinary push arrives, the mailbox
 * closes or timeout_ms passes (< 0: no timeout, and it returns at once if
 * anything is queued), then takes everything queued, lazy or not. */
int duro_mailbox_push_lazy(duro_mailbox *mb, duro_msg *m);
duro_msg *duro_mailbox_take_lazy(duro_mailbox *mb, int timeout_ms, size_t *n);

/* Takes every queued message (in arrival order), waiting up to timeout_ms
 * (< 0: forever) for one to arrive. Returns the list (NULL on timeout, or when
 * closed and empty) and stores how many were taken in *n. */
duro_msg *duro_mailbox_take(duro_mailbox *mb, int timeout_ms, size_t *n);

/* Refuses further pushes and wakes the consumer. */
void duro_mailbox_close(duro_mailbox *mb);

size_t duro_mailbox_depth(duro_mailbox *mb);

/* 1 once duro_mailbox_close() ran. */
int duro_mailbox_closed(duro_mailbox *mb);

#endif
