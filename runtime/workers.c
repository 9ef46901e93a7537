/* workers.c — the worker pool of workers.h: one mutex, one condvar, a list. */
#include "runtime/workers.h"

#include <pthread.h>
#include <stdlib.h>

struct duro_workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    duro_msg *head, **tail;
    size_t depth, max_queue;
    int stopping;
    int n;
    pthread_t threads[];
};

static void *worker_main(void *arg)
{
    duro_workers *w = arg;
    pthread_setname_np(pthread_self(), "duro-worker");
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        duro_msg *m = w->head;
        if (m) {
            w->head = m->next;
            if (!w->head)
                w->tail = &w->head;
            w->depth--;
        }
        pthread_mutex_unlock(&w->lock);
        if (!m)
            return NULL; /* stopping and drained */
        m->work(m);
        if (m->resume) /* a step of an actor's op: back to its owner */
            m->resume(m);
        else
            m->done(m);
    }
}

int duro_workers_start(int n, size_t max_queue, duro_workers **out)
{
    *out = NULL;
    duro_workers *w = calloc(1, sizeof *w + (size_t)n * sizeof(pthread_t));
    if (!w)
        return DURO_NOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->tail = &w->head;
    w->max_queue = max_queue;
    for (; w->n < n; w->n++)
        if (pthread_create(&w->threads[w->n], NULL, worker_main, w) != 0) {
            duro_workers_stop(w);
            return DURO_INTERNAL;
        }
    *out = w;
    return DURO_OK;
}

int duro_workers_submit(duro_workers *w, duro_msg *m, void (*work)(duro_msg *m))
{
    m->work = work;
    m->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->depth >= w->max_queue) {
        pthread_mutex_unlock(&w->lock);
        return DURO_UNAVAILABLE;
    }
    *w->tail = m;
    w->tail = &m->next;
    w->depth++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return DURO_OK;
}

void duro_workers_stop(duro_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
