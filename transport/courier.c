/* courier.c — batching to the actors, completion list back (see courier.h). */
#include "transport/courier.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/owner.h"
#include "runtime/workers.h"
#include "transport/io.h"

/* One loop turn delivers at most this many replies, or stops after this much
 * time, before the loop polls its sockets again. */
#define TURN_REPLIES 64
#define TURN_US 2000

struct duro_courier {
    duro_runtime *rt;
    struct event *flush; /* the end of this loop iteration */
    struct event *wake;  /* replies are waiting */
    struct event *more;  /* a zero timer: the rest of a long delivery, next turn */
    duro_msg *outq, **outq_tail;
    int flush_pending;
    duro_msg *ready, **ready_tail; /* taken from the completion list, not delivered */
    pthread_mutex_t lock;
    duro_msg *done_head, **done_tail;
    duro_owner owner; /* the loop's thread (duro_courier_own) */
    uint64_t now_us;  /* duro_mono_us() as the delivery slice read it last */
};

uint64_t duro_courier_now_us(const duro_courier *c) { return c->now_us; }


static void deliver(duro_msg *m)
{
    m->reply(m);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    duro_courier *c = arg;
    DURO_ASSERT_OWNER(c->owner);
    duro_msg *list = c->outq;
    c->outq = NULL;
    c->outq_tail = &c->outq;
    c->flush_pending = 0;
    duro_msg *refused = duro_runtime_submit_list(c->rt, list);
    if (refused)
        c->now_us = duro_mono_us();
    while (refused) {
        duro_msg *m = refused;
        refused = m->next;
        duro_msg_fail(m, DURO_UNAVAILABLE, "server is overloaded or shutting down; retry later");
        deliver(m);
    }
}

/* Actor thread: hand the message back to the I/O thread. The I/O thread may
 * answer it and finish as soon as it sees it in the list, so nothing of the
 * courier is touched after the unlock (and the courier outlives the actors:
 * duro_http_free() runs after duro_runtime_close()). */
static void on_done(duro_msg *m)
{
    duro_courier *c = m->ctx;
    m->next = NULL;
    pthread_mutex_lock(&c->lock);
    int was_empty = c->done_head == NULL;
    *c->done_tail = m;
    c->done_tail = &m->next;
    if (was_empty)
        event_active(c->wake, EV_READ, 0);
    pthread_mutex_unlock(&c->lock);
}

/* Delivers ready replies for one bounded slice of the loop; what is left
 * waits for a zero timer, which fires only after the loop has polled its
 * sockets again, so a burst of large replies cannot starve other clients. */
static void deliver_some(duro_courier *c)
{
    DURO_ASSERT_OWNER(c->owner);
    uint64_t t0 = duro_mono_us();
    c->now_us = t0;
    for (int n = 0; c->ready; n++) {
        /* the clock is read every 16 replies, not at each */
        if (n >= TURN_REPLIES || (n && !(n & 15) && (c->now_us = duro_mono_us()) - t0 > TURN_US)) {
            event_add(c->more, &(struct timeval){0, 0});
            return;
        }
        duro_msg *m = c->ready;
        c->ready = m->next;
        if (!c->ready)
            c->ready_tail = &c->ready;
        deliver(m);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    duro_courier *c = arg;
    DURO_ASSERT_OWNER(c->owner);
    pthread_mutex_lock(&c->lock);
    duro_msg *m = c->done_head, **tail = c->done_tail;
    c->done_head = NULL;
    c->done_tail = &c->done_head;
    pthread_mutex_unlock(&c->lock);
    if (m) {
        *c->ready_tail = m;
        c->ready_tail = tail;
    }
    if (!event_pending(c->more, EV_TIMEOUT, NULL))
        deliver_some(c);
}

static void on_more(evutil_socket_t fd, short what, void *arg) { deliver_some(arg); }

duro_courier *duro_courier_new(struct event_base *base, duro_runtime *rt)
{
    duro_courier *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->rt = rt;
    c->outq_tail = &c->outq;
    c->done_tail = &c->done_head;
    c->ready_tail = &c->ready;
    pthread_mutex_init(&c->lock, NULL);
    c->flush = event_new(base, -1, 0, on_flush, c);
    c->wake = event_new(base, -1, 0, on_wake, c);
    c->more = evtimer_new(base, on_more, c);
    if (!c->flush || !c->wake || !c->more) {
        duro_courier_free(c);
        return NULL;
    }
    return c;
}

void duro_courier_own(duro_courier *c) { duro_owner_set(&c->owner); }

void duro_courier_free(duro_courier *c)
{
    if (!c)
        return;
    if (c->flush)
        event_free(c->flush);
    if (c->wake)
        event_free(c->wake);
    if (c->more)
        event_free(c->more);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void duro_courier_send(duro_courier *c, duro_msg *m)
{
    DURO_ASSERT_OWNER(c->owner);
    m->done = on_done;
    m->ctx = c;
    m->next = NULL;
    *c->outq_tail = m;
    c->outq_tail = &m->next;
    if (!c->flush_pending) {
        c->flush_pending = 1;
        event_active(c->flush, EV_READ, 0);
    }
}

void duro_courier_work(duro_courier *c, duro_workers *w, duro_msg *m, void (*work)(duro_msg *m))
{
    if (duro_courier_offload(c, w, m, work) != DURO_OK) {
        duro_msg_fail(m, DURO_UNAVAILABLE, "server is busy; retry later");
        deliver(m);
    }
}

int duro_courier_offload(duro_courier *c, duro_workers *w, duro_msg *m,
                         void (*work)(duro_msg *m))
{
    DURO_ASSERT_OWNER(c->owner);
    m->done = on_done;
    m->ctx = c;
    return duro_workers_submit(w, m, work);
}
