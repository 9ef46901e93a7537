/*
 * courier.h — carries messages between one I/O thread and the actors.
 *
 * Out: duro_courier_send() queues a message; after every callback of the
 * current event-loop iteration has run, the queue goes to the actors in one
 * splice per owning mailbox (sender-side batching: one lock and at most one
 * wake-up per actor per iteration). Back: the actor's done() appends the
 * message to the courier's completion list and activates an event on the I/O
 * thread (wake-ups coalesce); the I/O thread then calls each message's
 * reply() callback, on its own thread, in the order the replies arrived, at
 * most 64 (or 2 ms worth) per loop turn, so that sockets are polled between.
 *
 * A message refused by a full or closed mailbox gets status DURO_UNAVAILABLE
 * and comes back through reply() in the same way. The courier owns m->done,
 * m->ctx and m->next while a message travels; the transport sets m->reply.
 *
 * Threads: everything but the actors' done() runs on the loop's thread, which
 * takes the courier over with duro_courier_own() before it runs the loop;
 * the functions here assert it (runtime/owner.h).
 */
#ifndef DURO_COURIER_H
#define DURO_COURIER_H

#include <event2/event.h>

#include "runtime/msg.h"
#include "runtime/runtime.h"

typedef struct duro_courier duro_courier;

/* In a reply() callback: the monotonic time (duro_mono_us) of the current
 * delivery, read at most 16 replies ago; for latency figures, so a reply does
 * not cost a clock read. */
uint64_t duro_courier_now_us(const duro_courier *c);

/* A courier for the loop of base. NULL on ENOMEM. */
duro_courier *duro_courier_new(struct event_base *base, duro_runtime *rt);

/* On the loop's thread, before it runs the loop: from now on only this thread
 * sends and delivers through c. */
void duro_courier_own(duro_courier *c);

/* Frees it; every message sent must have come back first, and the actors must
 * have stopped (one may still be returning from done()). NULL is a no-op. */
void duro_courier_free(duro_courier *c);

/* Queues m for its owning actor (m->reply must be set). */
void duro_courier_send(duro_courier *c, duro_msg *m);

struct duro_workers;
/* Runs work(m) on the worker pool, then brings m back through m->reply() on
 * this I/O thread. A full pool answers DURO_UNAVAILABLE through reply() too. */
void duro_courier_work(duro_courier *c, struct duro_workers *w, duro_msg *m,
                       void (*work)(duro_msg *m));

/* As duro_courier_work(), but a full pool returns DURO_UNAVAILABLE and leaves
 * m untouched (the caller then does the work itself). */
int duro_courier_offload(duro_courier *c, struct duro_workers *w, duro_msg *m,
                         void (*work)(duro_msg *m));

#endif
