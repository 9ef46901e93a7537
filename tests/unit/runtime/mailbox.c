/*
 * tests/unit/runtime/mailbox.c — the actor inbox: order, back-pressure, close, and lazy
 * delivery (a lazy push does not end a timed wait; an ordinary push does; an
 * untimed wait is woken by either).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/mailbox.h"
#include "test.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(order_depth_backpressure_close)
{
    duro_mailbox mb;
    ASSERT_EQ(duro_mailbox_init(&mb, 3), 0);
    duro_msg m[4];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(i == 1 ? duro_mailbox_push_lazy(&mb, &m[i]) : duro_mailbox_push(&mb, &m[i]), 0);
    ASSERT_EQ(duro_mailbox_push(&mb, &m[3]), -1); /* full */
    ASSERT_EQ(duro_mailbox_push_lazy(&mb, &m[3]), -1);
    ASSERT_EQ(duro_mailbox_depth(&mb), 3);
    size_t n;
    duro_msg *l = duro_mailbox_take(&mb, 0, &n);
    ASSERT_EQ(n, 3);
    ASSERT(l == &m[0] && l->next == &m[1] && l->next->next == &m[2] && !m[2].next);
    duro_mailbox_close(&mb);
    ASSERT_EQ(duro_mailbox_push(&mb, &m[0]), -1);
    ASSERT(duro_mailbox_take_lazy(&mb, -1, &n) == NULL); /* closed and empty: at once */
    duro_mailbox_destroy(&mb);
}

struct producer {
    duro_mailbox *mb;
    duro_msg *m;
    int lazy;
    int delay_ms;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    usleep((useconds_t)p->delay_ms * 1000);
    if (p->lazy)
        duro_mailbox_push_lazy(p->mb, p->m);
    else
        duro_mailbox_push(p->mb, p->m);
    return NULL;
}

TEST(lazy_delivery)
{
    duro_mailbox mb;
    ASSERT_EQ(duro_mailbox_init(&mb, 100), 0);
    duro_msg a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    size_t n;

    /* queued lazily: an untimed lazy take returns at once */
    ASSERT_EQ(duro_mailbox_push_lazy(&mb, &a), 0);
    ASSERT(duro_mailbox_take_lazy(&mb, -1, &n) == &a && n == 1);

    /* a lazy message does not end a timed wait early... */
    ASSERT_EQ(duro_mailbox_push_lazy(&mb, &a), 0);
    int64_t t0 = mono_ms();
    ASSERT(duro_mailbox_take_lazy(&mb, 300, &n) == &a);
    ASSERT(mono_ms() - t0 >= 250);

    /* ...an ordinary push does, and brings the lazy one along, in order */
    ASSERT_EQ(duro_mailbox_push_lazy(&mb, &a), 0);
    pthread_t th;
    struct producer p = {&mb, &b, 0, 50};
    pthread_create(&th, NULL, produce, &p);
    t0 = mono_ms();
    duro_msg *l = duro_mailbox_take_lazy(&mb, 60000, &n);
    pthread_join(th, NULL);
    ASSERT(l == &a && a.next == &b && n == 2);
    ASSERT(mono_ms() - t0 < 30000);

    /* an untimed wait on an empty mailbox is woken by a lazy push */
    struct producer q = {&mb, &a, 1, 50};
    pthread_create(&th, NULL, produce, &q);
    l = duro_mailbox_take_lazy(&mb, -1, &n);
    pthread_join(th, NULL);
    ASSERT(l == &a && n == 1);
    duro_mailbox_destroy(&mb);
}

TEST_MAIN()
