/*
 * workers.h — a small pool of threads for CPU-heavy steps (Argon2id password
 * hashing and verification), so that neither I/O threads nor actors ever run
 * them. A job is a duro_msg: the worker runs work(m), then m->resume(m) if
 * set (the runtime's: an op that continues goes back to its owner actor,
 * runtime/kind.h), else m->done(m), on the worker thread (a courier then
 * brings it back to its I/O thread).
 */
#ifndef DURO_WORKERS_H
#define DURO_WORKERS_H

#include <stddef.h>

#include "runtime/msg.h"

typedef struct duro_workers duro_workers;

/* Starts n threads (n >= 1) with a queue of at most max_queue jobs. */
int duro_workers_start(int n, size_t max_queue, duro_workers **out);

/* Queues m; a worker runs work(m) then m->done(m). DURO_OK, or
 * DURO_UNAVAILABLE if the queue is full or the pool is stopping (m not
 * taken). */
int duro_workers_submit(duro_workers *w, duro_msg *m, void (*work)(duro_msg *m));

/* Runs what is queued, joins the threads, frees the pool. NULL is a no-op. */
void duro_workers_stop(duro_workers *w);

#endif
