/*
 * rt_util.h — helpers for unit tests that drive a real runtime over a
 * temporary data directory: open it, run one message and wait for its reply.
 * Include once per test binary.
 */
#ifndef DURO_TEST_RT_UTIL_H
#define DURO_TEST_RT_UTIL_H

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "runtime/runtime.h"
#include "common/codec.h"

static pthread_mutex_t rt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rt_cv = PTHREAD_COND_INITIALIZER;
static char rt_dir[256];

static void rt_done(duro_msg *m)
{
    pthread_mutex_lock(&rt_mu);
    m->ctx = (void *)1;
    pthread_cond_broadcast(&rt_cv);
    pthread_mutex_unlock(&rt_mu);
}

/* Sends one message of kind/op with request req to ns and waits for it.
 * Returns the status; on DURO_OK and text != NULL, the reply as JSON text
 * (malloc'd, NUL-terminated; else NULL); errmsg (if not NULL, 192 bytes)
 * gets the error message. The request is not freed. */
static inline int rt_run_text(duro_runtime *rt, int kind, int op, const char *ns, void *req,
                              char **text, char *errmsg)
{
    duro_msg m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.op = op;
    m.req = req;
    m.ns_len = strlen(ns);
    memcpy(m.ns, ns, m.ns_len);
    m.done = rt_done;
    if (duro_runtime_submit(rt, &m) != DURO_OK)
        abort();
    pthread_mutex_lock(&rt_mu);
    while (!m.ctx)
        pthread_cond_wait(&rt_cv, &rt_mu);
    pthread_mutex_unlock(&rt_mu);
    if (text) {
        *text = NULL;
        if (m.status == DURO_OK) {
            duro_buf b = {0};
            if (duro_tape_to_json(m.body.data, m.body.len, &b) != 0 ||
                duro_buf_append(&b, "", 1) != 0)
                abort();
            *text = b.data;
        }
    }
    if (errmsg)
        memcpy(errmsg, m.errmsg, sizeof m.errmsg);
    duro_buf_free(&m.body);
    return m.status;
}

/* The same with the reply as a new jansson tree in *out (NULL unless DURO_OK). */
static inline int rt_run_msg(duro_runtime *rt, int kind, int op, const char *ns, void *req,
                             json_t **out, char *errmsg)
{
    char *text = NULL;
    int st = rt_run_text(rt, kind, op, ns, req, out ? &text : NULL, errmsg);
    if (out) {
        json_error_t je;
        *out = NULL;
        if (text && !(*out = json_loads(text, JSON_DECODE_ANY, &je)))
            abort();
        free(text);
    }
    return st;
}

static inline int rt_run(duro_runtime *rt, int kind, int op, const char *ns, void *req,
                         json_t **out)
{
    return rt_run_msg(rt, kind, op, ns, req, out, NULL);
}

/* The test runtime's config: 1 MiB of cache, FULL sync, 1000 queued messages
 * per actor, the default reply cap. */
static inline duro_runtime_config rt_config(int actors, int max_open_ns, int sweep_ms)
{
    duro_runtime_config c = {.data_dir = rt_dir,
                             .kinds = &duro_object_kinds,
                             .actors = actors,
                             .cache_bytes = 1 << 20,
                             .max_open_ns = max_open_ns,
                             .sync_full = 1,
                             .ttl_sweep_ms = sweep_ms,
                             .max_mailbox = 1000};
    return c;
}

static inline duro_runtime *rt_open(int sweep_ms)
{
    duro_runtime_config c = rt_config(2, 16, sweep_ms);
    duro_runtime *rt;
    char why[256]; /* not "err": tests may have a global of that name */
    if (duro_runtime_open(&c, &rt, why, sizeof why) != DURO_OK) {
        fprintf(stderr, "open: %s\n", why);
        abort();
    }
    return rt;
}

/* Removes the current data directory (also at exit). */
__attribute__((destructor)) static void rt_remove_dir(void)
{
    if (rt_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", rt_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", rt_dir);
        rt_dir[0] = '\0';
    }
}

static inline void rt_fresh_dir(const char *name)
{
    rt_remove_dir();
    snprintf(rt_dir, sizeof rt_dir, "/tmp/duro-test-%s-XXXXXX", name);
    if (!mkdtemp(rt_dir))
        abort();
}

#endif
