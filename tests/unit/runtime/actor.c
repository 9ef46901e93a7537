/*
 * tests/unit/runtime/actor.c — the actor under a shortage of file descriptors: with a low
 * RLIMIT_NOFILE it closes idle namespace files to open new ones, answers 503
 * "too many open files" (never 500) when nothing can be freed, and works
 * again once descriptors are back; reads of namespaces without a file need
 * none.
 */
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "objects/kv.h"
#include "unit/rt_util.h"
#include "test.h"
#include "objects/kv_req.h"

static const duro_kv_limits limits = {1 << 20, 0};

static int put(duro_runtime *rt, const char *ns, const char *key, int value, char *msg)
{
    duro_kv_req *r = duro_kv_req_new(DURO_KV_PUT);
    char err[128], body[64];
    snprintf(body, sizeof body, "{\"value\": %d}", value);
    json_error_t je;
    json_t *b = json_loads(body, 0, &je);
    if (duro_kv_add_key(r, key, strlen(key), err, sizeof err) != DURO_OK ||
        duro_kv_decode_put(r, b, DURO_ENC_JSON, &limits, err, sizeof err) != DURO_OK)
        abort();
    json_decref(b);
    int st = rt_run_msg(rt, DURO_KIND_KV, DURO_KV_PUT, ns, r, NULL, msg);
    duro_kv_req_free(r);
    return st;
}

/* The value of key (an integer), or -1 with *st set. */
static int get(duro_runtime *rt, const char *ns, const char *key, int *st)
{
    duro_kv_req *r = duro_kv_req_new(DURO_KV_GET);
    char err[128];
    if (duro_kv_add_key(r, key, strlen(key), err, sizeof err) != DURO_OK)
        abort();
    char *out = NULL;
    *st = rt_run_text(rt, DURO_KIND_KV, DURO_KV_GET, ns, r, &out, NULL);
    duro_kv_req_free(r);
    int v = out ? atoi(out) : -1;
    free(out);
    return v;
}

/* Descriptors open in this process now. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        abort();
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static void set_fd_limit(rlim_t soft)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        abort();
    rl.rlim_cur = soft;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        abort();
}

TEST(few_descriptors_close_idle_namespaces_and_never_fail_with_500)
{
    rt_fresh_dir("actor");
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    duro_runtime_config c = rt_config(1, 100000, 1000); /* no LRU cap: only the fds limit */
    c.sync_full = 0;
    duro_runtime *rt;
    char err[256], ns[32], msg[192];
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    /* room for about ten namespaces (3 descriptors each) */
    set_fd_limit((rlim_t)(open_fds() + 32));
    for (int i = 0; i < 60; i++) {
        snprintf(ns, sizeof ns, "fd%d", i);
        int st = put(rt, ns, "k", i, msg);
        if (st != DURO_OK)
            fprintf(stderr, "  put %s: %d %s\n", ns, st, msg);
        ASSERT_EQ(st, DURO_OK);
    }
    for (int i = 0; i < 60; i++) {
        snprintf(ns, sizeof ns, "fd%d", i);
        int st;
        ASSERT_EQ(get(rt, ns, "k", &st), i);
        ASSERT_EQ(st, DURO_OK);
    }
    /* a limit below every free descriptor number: closing idle files frees
     * nothing usable, so a new namespace is 503 with the reason, not 500 */
    set_fd_limit(3);
    ASSERT_EQ(put(rt, "new", "k", 1, msg), DURO_UNAVAILABLE);
    ASSERT(strstr(msg, "too many open files") != NULL);
    /* reads of namespaces without a file need no descriptor */
    int st;
    get(rt, "never-written", "k", &st);
    ASSERT_EQ(st, DURO_NOT_FOUND);
    set_fd_limit(saved.rlim_cur);
    ASSERT_EQ(put(rt, "after", "k", 5, msg), DURO_OK);
    ASSERT_EQ(get(rt, "after", "k", &st), 5);
    ASSERT_EQ(get(rt, "fd7", "k", &st), 7);
    duro_runtime_close(rt);
    setrlimit(RLIMIT_NOFILE, &saved);
}

TEST_MAIN()
