/*
 * test_errinj.c — the fault injection points (runtime/errinj.h) against a real
 * runtime: with a point on, a write fails with the status a real failure
 * gets, the batch it was in is rolled back, reads keep working; once the
 * counter ran out writes work again, and a restart shows the same data.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "objects/kv.h"
#include "unit/rt_util.h"
#include "runtime/errinj.h"
#include "test.h"

/* A one-key request over borrowed strings (value: JSON text). */
static duro_kv_req one(duro_kv_item *it, const char *key, const char *json)
{
    *it = (duro_kv_item){.key = (char *)key, .key_len = strlen(key), .val = (char *)json,
                         .val_len = json ? strlen(json) : 0, .enc = DURO_ENC_JSON};
    return (duro_kv_req){.items = it, .n = 1, .if_match = -1};
}

static int put(duro_runtime *rt, const char *key, const char *json, char *errmsg)
{
    duro_kv_item it;
    duro_kv_req r = one(&it, key, json);
    return rt_run_text(rt, DURO_KIND_KV, DURO_KV_PUT, "inj", &r, NULL, errmsg);
}

/* The value of key as JSON text (malloc'd), or NULL with the status in *st. */
static char *get(duro_runtime *rt, const char *key, int *st)
{
    duro_kv_item it;
    duro_kv_req r = one(&it, key, NULL);
    char *text = NULL;
    *st = rt_run_text(rt, DURO_KIND_KV, DURO_KV_GET, "inj", &r, &text, NULL);
    return text;
}

static int value_is(duro_runtime *rt, const char *key, const char *want)
{
    int st;
    char *v = get(rt, key, &st);
    int same = v && strcmp(v, want) == 0;
    free(v);
    return same;
}

TEST(the_table_names_every_point)
{
    for (int p = 0; p < DURO_ERRINJ_COUNT; p++) {
        const char *name = duro_errinj_name(p);
        ASSERT(name && duro_errinj_help(p));
        ASSERT_EQ(duro_errinj_find(name, strlen(name)), p);
    }
    ASSERT_EQ(duro_errinj_find("sqlite_full", 11), DURO_ERRINJ_NS_FULL);
    ASSERT_EQ(duro_errinj_find("fsync", 5), DURO_ERRINJ_NS_FSYNC);
    ASSERT_EQ(duro_errinj_find("sqlite_ful", 10), -1);
    ASSERT(!duro_errinj_name(DURO_ERRINJ_COUNT));
    duro_errinj_set(DURO_ERRINJ_ALLOC, 1L << 40);
    ASSERT_EQ(duro_errinj_get(DURO_ERRINJ_ALLOC), DURO_ERRINJ_MAX);
    duro_errinj_set(DURO_ERRINJ_ALLOC, -5);
    ASSERT_EQ(duro_errinj_get(DURO_ERRINJ_ALLOC), 0);
    ASSERT(duro_errinj_vfs() != NULL);
}

/* Each point on a write's path (the commit log, the change notice): a write
 * fails with the status and message of the real failure, nothing of it
 * stays, reads work, the next write works. */
TEST(each_point_fails_one_write_the_way_a_real_failure_does)
{
    static const struct {
        int point, status;
        const char *msg;
    } cases[] = {
        {DURO_ERRINJ_LOG_WRITE, DURO_INSUFFICIENT_STORAGE,
         "the data directory's disk is full; nothing was written"},
        {DURO_ERRINJ_LOG_SYNC, DURO_IO, "storage error, nothing was written: I/O error"},
        {DURO_ERRINJ_ALLOC, DURO_NOMEM, "storage error, nothing was written: out of memory"},
    };
    rt_fresh_dir("errinj");
    duro_runtime *rt = rt_open(1000);
    char err[192];
    ASSERT_EQ(put(rt, "before", "1", err), DURO_OK); /* the namespace has its file */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%zu", i);
        duro_errinj[cases[i].point] = 1;
        ASSERT_EQ(put(rt, key, "2", err), cases[i].status);
        ASSERT_STREQ(err, cases[i].msg);
        ASSERT_EQ(duro_errinj[cases[i].point], 0);
        int st;
        ASSERT(!get(rt, key, &st));
        ASSERT_EQ(st, DURO_NOT_FOUND);
        ASSERT(value_is(rt, "before", "1"));
        ASSERT_EQ(put(rt, key, "3", err), DURO_OK);
        ASSERT(value_is(rt, key, "3"));
    }
    duro_runtime_close(rt);
    rt = rt_open(1000);
    ASSERT(value_is(rt, "before", "1"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%zu", i);
        ASSERT(value_is(rt, key, "3"));
    }
    duro_runtime_close(rt);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int answered;

static void on_done(duro_msg *m)
{
    pthread_mutex_lock(&mu);
    answered++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Two writes in one batch share one log sync: a failed fdatasync fails both. */
TEST(a_failed_commit_fails_every_write_of_its_batch)
{
    rt_fresh_dir("errinj-batch");
    duro_runtime *rt = rt_open(1000);
    ASSERT_EQ(put(rt, "before", "1", NULL), DURO_OK);
    duro_kv_item it[2];
    duro_kv_req r[2] = {one(&it[0], "a", "1"), one(&it[1], "b", "2")};
    duro_msg m[2];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 2; i++) {
        m[i].kind = DURO_KIND_KV;
        m[i].op = DURO_KV_PUT;
        m[i].req = &r[i];
        memcpy(m[i].ns, "inj", 3);
        m[i].ns_len = 3;
        m[i].done = on_done;
    }
    m[0].next = &m[1];
    answered = 0;
    duro_errinj[DURO_ERRINJ_LOG_SYNC] = 1;
    ASSERT(duro_runtime_submit_list(rt, &m[0]) == NULL); /* one splice: one batch */
    pthread_mutex_lock(&mu);
    while (answered < 2)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    ASSERT_EQ(m[0].status, DURO_IO);
    ASSERT_EQ(m[1].status, DURO_IO);
    int st;
    ASSERT(!get(rt, "a", &st) && !get(rt, "b", &st));
    duro_buf_free(&m[0].body);
    duro_buf_free(&m[1].body);
    duro_runtime_close(rt);
    rt = rt_open(1000);
    ASSERT(!get(rt, "a", &st) && st == DURO_NOT_FOUND);
    ASSERT(value_is(rt, "before", "1"));
    duro_runtime_close(rt);
}

/* The namespace file's points fire when the log is applied to it, not on
 * the write: the write is acknowledged from the log, the failed apply is
 * retried, and the value is there after a restart. */
TEST(a_failed_apply_loses_nothing)
{
    static const int points[] = {DURO_ERRINJ_NS_FULL, DURO_ERRINJ_NS_IOERR,
                                 DURO_ERRINJ_NS_FSYNC};
    rt_fresh_dir("errinj-apply");
    duro_runtime *rt = rt_open(1000);
    ASSERT_EQ(put(rt, "before", "1", NULL), DURO_OK);
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "a%zu", i);
        duro_errinj[points[i]] = 1;
        ASSERT_EQ(put(rt, key, "x", NULL), DURO_OK);
        ASSERT(value_is(rt, key, "x"));
        for (int t = 0; t < 300 && duro_errinj[points[i]] > 0; t++)
            usleep(10000); /* the next apply pass (500 ms) takes the injected failure */
        ASSERT_EQ(duro_errinj[points[i]], 0);
        ASSERT(value_is(rt, key, "x"));
    }
    duro_runtime_close(rt);
    rt = rt_open(1000);
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "a%zu", i);
        ASSERT(value_is(rt, key, "x"));
    }
    duro_runtime_close(rt);
}

TEST_MAIN()
