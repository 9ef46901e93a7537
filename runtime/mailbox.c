/*
 * mailbox.c — the MPSC inbox of mailbox.h: one mutex, one condvar.
 *
 * DESIGN
 * After Tarantool's cbus (cbus.h/cbus.c), where it does the same:
 * - One consumer per mailbox (an actor, or the registry thread), many
 *   producers. The consumer owns what it takes; producers only append.
 * - Batching on the consumer side: duro_mailbox_take() takes the whole queue
 *   in one splice under the lock (cbus_endpoint_fetch, a stailq_concat) and
 *   runs it as a batch without the lock; the actor's group commit rides on
 *   that.
 * - Batching on the producer side: duro_mailbox_push_list() splices a list
 *   built without any lock in one lock/unlock, as a cpipe flushes its input
 *   at the end of a loop iteration. The list is built by the sender's
 *   courier (transport/courier.c, duro_runtime_submit_list()), not here.
 * - Wake-ups coalesce: a push signals only when the queue goes from empty to
 *   non-empty, or held only lazy messages that did not signal (cbus wakes
 *   the endpoint only when its output was empty).
 * - A message makes a round trip and is freed by its sender (runtime/msg.h).
 *
 * Where it does not:
 * - No event loop on the consumer side: the consumer is a plain thread
 *   blocked on a condition variable (with a timeout for its sweep and
 *   flush timers), not an endpoint woken through ev_async.
 * - No named endpoints, pipes or routes: a sender finds the mailbox by
 *   index (route.h: the namespace's hash picks the actor), and a message has
 *   one hop. There is no return pipe: the reply goes back through m->done(),
 *   which the sender supplies (transport/courier.c appends it to its own
 *   locked completion list and activates an event on its loop; the embedded
 *   client signals a condvar its caller waits on).
 * - Bounded: a mailbox holds at most max_depth messages; a push beyond is
 *   refused (-1) and the sender answers 503 UNAVAILABLE (--max-mailbox). A
 *   cpipe's queue has no bound.
 * - Lazy delivery (duro_mailbox_push_lazy/take_lazy, used for the
 *   registry's change notices): a lazy message is queued at once but does
 *   not wake a consumer that waits with a timeout (its open group commit
 *   will take it by then); it wakes one that sleeps without a timeout, once.
 *   An ordinary push is "urgent" and ends take_lazy's wait, taking the lazy
 *   messages queued before it along, in order. cbus has no such second class.
 * - No producer-side input queue: a single push takes the lock at once.
 *   What a cpipe's input does (collect without a lock, splice at the end of
 *   the loop iteration) is the courier's job, which then calls push_list.
 * - close() refuses further pushes and wakes the consumer, which takes what
 *   is left (take returns NULL only once the mailbox is closed and empty, or
 *   on a timeout).
 */
#include "runtime/mailbox.h"

#include <errno.h>
#include <time.h>

int duro_mailbox_init(duro_mailbox *mb, size_t max_depth)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&mb->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&mb->lock, NULL) != 0) {
        pthread_cond_destroy(&mb->wake);
        return -1;
    }
    mb->head = NULL;
    mb->tail = &mb->head;
    mb->depth = 0;
    mb->max_depth = max_depth;
    mb->closed = 0;
    mb->sleeping = 0;
    mb->unsignalled = 0;
    mb->urgent = 0;
    return 0;
}

void duro_mailbox_destroy(duro_mailbox *mb)
{
    pthread_mutex_destroy(&mb->lock);
    pthread_cond_destroy(&mb->wake);
}

/* Appends head..tail (n messages); bounded: refused beyond max_depth. */
static int push(duro_mailbox *mb, duro_msg *head, duro_msg *tail, size_t n, int bounded)
{
    tail->next = NULL;
    pthread_mutex_lock(&mb->lock);
    if (mb->closed || (bounded && mb->depth + n > mb->max_depth)) {
        pthread_mutex_unlock(&mb->lock);
        return -1;
    }
    /* a queue holding only unsignalled lazy messages must still wake */
    int wake = mb->head == NULL || mb->unsignalled;
    mb->unsignalled = 0;
    mb->urgent = 1;
    *mb->tail = head;
    mb->tail = &tail->next;
    mb->depth += n;
    pthread_mutex_unlock(&mb->lock);
    if (wake)
        pthread_cond_signal(&mb->wake);
    return 0;
}

int duro_mailbox_push_list(duro_mailbox *mb, duro_msg *head, duro_msg *tail, size_t n)
{
    return push(mb, head, tail, n, 1);
}

int duro_mailbox_push_back(duro_mailbox *mb, duro_msg *m) { return push(mb, m, m, 1, 0); }

int duro_mailbox_push_lazy(duro_mailbox *mb, duro_msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&mb->lock);
    if (mb->closed || mb->depth + 1 > mb->max_depth) {
        pthread_mutex_unlock(&mb->lock);
        return -1;
    }
    int wake = mb->sleeping && !mb->urgent;
    if (wake)
        mb->urgent = 1;
    else
        mb->unsignalled = 1;
    *mb->tail = m;
    mb->tail = &m->next;
    mb->depth++;
    pthread_mutex_unlock(&mb->lock);
    if (wake)
        pthread_cond_signal(&mb->wake);
    return 0;
}

int duro_mailbox_push(duro_mailbox *mb, duro_msg *m)
{
    return duro_mailbox_push_list(mb, m, m, 1);
}

static void deadline(int timeout_ms, struct timespec *until)
{
    clock_gettime(CLOCK_MONOTONIC, until);
    until->tv_sec += timeout_ms / 1000;
    until->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

/* Under the lock: takes the whole queue and unlocks. */
static duro_msg *splice(duro_mailbox *mb, size_t *n)
{
    mb->sleeping = 0;
    mb->unsignalled = 0;
    mb->urgent = 0;
    duro_msg *list = mb->head;
    *n = mb->depth;
    mb->head = NULL;
    mb->tail = &mb->head;
    mb->depth = 0;
    pthread_mutex_unlock(&mb->lock);
    return list;
}

duro_msg *duro_mailbox_take(duro_mailbox *mb, int timeout_ms, size_t *n)
{
    struct timespec until;
    if (timeout_ms >= 0)
        deadline(timeout_ms, &until);
    pthread_mutex_lock(&mb->lock);
    while (mb->head == NULL && !mb->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&mb->wake, &mb->lock);
        } else if (pthread_cond_timedwait(&mb->wake, &mb->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    return splice(mb, n);
}

duro_msg *duro_mailbox_take_lazy(duro_mailbox *mb, int timeout_ms, size_t *n)
{
    struct timespec until;
    if (timeout_ms >= 0)
        deadline(timeout_ms, &until);
    pthread_mutex_lock(&mb->lock);
    if (timeout_ms < 0 && mb->head)
        mb->urgent = 1;
    mb->sleeping = timeout_ms < 0;
    while (!mb->urgent && !mb->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&mb->wake, &mb->lock);
        } else if (pthread_cond_timedwait(&mb->wake, &mb->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    return splice(mb, n);
}

void duro_mailbox_close(duro_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    __atomic_store_n(&mb->closed, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&mb->lock);
    pthread_cond_broadcast(&mb->wake);
}

size_t duro_mailbox_depth(duro_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    size_t d = mb->depth;
    pthread_mutex_unlock(&mb->lock);
    return d;
}

int duro_mailbox_closed(duro_mailbox *mb)
{
    return __atomic_load_n(&mb->closed, __ATOMIC_ACQUIRE);
}
