/*
 * test_owner.c — the owner-thread asserts (runtime/owner.h) fire: a namespace,
 * a cache or a courier touched from a thread that does not own it aborts the
 * process. Each case runs in a forked child, which must die of SIGABRT (or,
 * for the controls on the owner thread, exit 0).
 */
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cache.h"
#include "runtime/ns.h"
#include "runtime/owner.h"
#include "test.h"
#include "transport/courier.h"
#include "unit/rt_util.h"

#ifdef NDEBUG
#error "asserts are off: the owner-thread checks would not run (see the top CMakeLists.txt)"
#endif

struct job {
    void (*fn)(void *);
    void *arg;
};

static void *run_job(void *p)
{
    struct job *j = p;
    j->fn(j->arg);
    return NULL;
}

/* Runs fn(arg) in a forked child on a thread of its own (other_thread) or on
 * the child's main thread, then _exit(0). Returns the child's wait status. */
static int in_child(void (*fn)(void *), void *arg, int other_thread)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        if (other_thread) {
            pthread_t t;
            struct job j = {fn, arg};
            if (pthread_create(&t, NULL, run_job, &j) != 0)
                _exit(3);
            pthread_join(t, NULL);
        } else {
            fn(arg);
        }
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return status;
}

static int died_of_abort(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
static int exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

/* ---- namespaces ---- */

static duro_lru ns_lru;

static duro_ns *open_ns(void)
{
    rt_fresh_dir("owner");
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ns", rt_dir);
    if (mkdir(dir, 0755) != 0)
        abort();
    static const char *steps[DURO_SCHEMA_MAX];
    static duro_schema schema;
    char err[256];
    if (duro_kinds_schema(&duro_object_kinds, steps, DURO_SCHEMA_MAX, &schema, err,
                          sizeof err) != DURO_OK)
        abort();
    duro_store_config cfg = {rt_dir, 1, &schema};
    duro_lru_init(&ns_lru, 1 << 20);
    duro_ns *ns;
    if (duro_ns_open(&cfg, "n", 1, &ns_lru, &ns, NULL, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "open: %s\n", err);
        abort();
    }
    return ns;
}

static void touch_stmt(void *arg) { duro_ns_stmt(arg, 0, "SELECT 1"); }
static void touch_begin(void *arg)
{
    if (duro_ns_begin(arg) == DURO_OK)
        duro_ns_rollback(arg);
}
static void touch_version(void *arg) { duro_ns_next_version(arg); }
static void touch_ns_cache(void *arg) { duro_cache_get(&((duro_ns *)arg)->cache, "k", 1); }

TEST(namespace_touched_by_another_thread_aborts)
{
    duro_ns *ns = open_ns();
    void (*touch[])(void *) = {touch_stmt, touch_begin, touch_version, touch_ns_cache};
    for (size_t i = 0; i < sizeof touch / sizeof touch[0]; i++) {
        ASSERT(exited_ok(in_child(touch[i], ns, 0))); /* the opener may */
        ASSERT(died_of_abort(in_child(touch[i], ns, 1)));
    }
    duro_ns_close(ns);
}

/* ---- the cache ---- */

static duro_lru lru;
static duro_ctable table;

static void cache_put(void *arg)
{
    duro_crow row = {.key = "k", .key_len = 1, .val = "v", .val_len = 1};
    duro_cache_put(&table, &row);
}
static void cache_evict(void *arg) { duro_lru_evict(&lru); }
static void take_over_then_put(void *arg)
{
    duro_owner_set(&lru.owner); /* a hand-over, as an actor thread does at its start */
    cache_put(arg);
}

TEST(cache_touched_by_another_thread_aborts)
{
    duro_lru_init(&lru, 1 << 20);
    ASSERT_EQ(duro_ctable_init(&table, &lru), 0);
    ASSERT(exited_ok(in_child(cache_put, NULL, 0)));
    ASSERT(died_of_abort(in_child(cache_put, NULL, 1)));
    ASSERT(died_of_abort(in_child(cache_evict, NULL, 1)));
    /* after a hand-over the new owner may, and the old one may not */
    ASSERT(exited_ok(in_child(take_over_then_put, NULL, 1)));
    duro_owner_set(&lru.owner);
    duro_ctable_destroy(&table);
}

TEST(nobody_owns_an_unset_owner)
{
    duro_owner o = {0};
    ASSERT(!duro_owner_is_self(&o));
    duro_owner_set(&o);
    ASSERT(duro_owner_is_self(&o));
}

/* ---- the courier: libevent objects on their loop's thread only ---- */

static void courier_send(void *arg)
{
    static duro_msg m;
    duro_courier_send(arg, &m);
}
static void own_then_send(void *arg)
{
    duro_courier_own(arg);
    courier_send(arg);
}

TEST(courier_used_off_its_loop_aborts)
{
    struct event_base *base = event_base_new();
    ASSERT(base);
    duro_courier *c = duro_courier_new(base, NULL);
    ASSERT(c);
    ASSERT(died_of_abort(in_child(courier_send, c, 0))); /* not owned before its loop runs */
    ASSERT(exited_ok(in_child(own_then_send, c, 1)));
    duro_courier_own(c);
    ASSERT(died_of_abort(in_child(courier_send, c, 1)));
    duro_courier_free(c);
    event_base_free(base);
}

TEST_MAIN()
