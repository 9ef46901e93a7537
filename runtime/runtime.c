/*
 * runtime.c — starting and stopping the actors over a data directory.
 *
 * The data directory holds LOCK (flock'ed exclusively for the life of the
 * runtime, with the owner's pid inside) and ns/<shard>/<namespace>.db files.
 * A second process (durod or an embedded client) on the same directory fails
 * at open with DURO_LOCKED.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/actor.h"
#include "runtime/recover.h"
#include "runtime/registry.h"
#include "runtime/route.h"
#include "runtime/stats.h"
#include "runtime/workers.h"

struct duro_stats duro_stats;

const uint64_t duro_commit_bounds_us[DURO_COMMIT_BUCKETS] = {100,  250,   500,   1000,  2000,
                                                            4000, 8000, 16000, 32000, 100000};

void duro_stats_commit(uint64_t us)
{
    size_t b = 0;
    while (b < DURO_COMMIT_BUCKETS && us > duro_commit_bounds_us[b])
        b++;
    DURO_STAT_ADD(commit_us_buckets[b], 1);
    DURO_STAT_ADD(commit_us_sum, us);
}

struct duro_runtime {
    const duro_kinds *kinds;
    const char *schema_steps[DURO_SCHEMA_MAX];
    duro_schema schema;
    unsigned n_actors;
    duro_actor *actors;
    int lock_fd;
    char *data_dir;
    duro_registry *registry;
    duro_workers *workers; /* CPU-heavy steps of ops (kind.h: DURO_CONTINUE) */
    duro_workers *io_workers; /* file-I/O steps (a blob's write and fsync) */
};

int64_t duro_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int duro_msg_fail(duro_msg *m, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
    va_end(ap);
    m->status = status;
    return status;
}

/* SQLite's memory statistics take one process-wide mutex on every
 * allocation, which every actor and the registry would contend on; nothing
 * here reads them. Only possible before SQLite initializes: in a process that
 * already used SQLite (an embedding application) the call is refused and
 * changes nothing. */
static void sqlite_setup(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static int mkdir_p(const char *dir) { return duro_mkdir_durable(dir); }

static int take_lock(const char *dir, int *fd_out, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return DURO_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0)
            pid[n] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen, "data directory %s is locked by another process%s%s%s", dir,
                 pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        close(fd);
        return DURO_LOCKED;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        /* the lock holds; the pid is only a hint */
    }
    *fd_out = fd;
    return DURO_OK;
}

int duro_runtime_open(const duro_runtime_config *cfg, duro_runtime **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    char path[4096];
    if (strlen(cfg->data_dir) > 3000) {
        snprintf(err, errlen, "data directory path too long");
        return DURO_BAD_REQUEST;
    }
    snprintf(path, sizeof path, "%s/ns", cfg->data_dir);
    if (mkdir_p(cfg->data_dir) != 0 || mkdir_p(path) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return DURO_IO;
    }
    duro_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    rt->lock_fd = -1;
    int st = take_lock(cfg->data_dir, &rt->lock_fd, err, errlen);
    if (st != DURO_OK) {
        free(rt);
        return st;
    }
    rt->kinds = cfg->kinds;
    if ((st = duro_kinds_schema(cfg->kinds, rt->schema_steps, DURO_SCHEMA_MAX, &rt->schema, err,
                                errlen)) != DURO_OK)
        goto fail;
    rt->data_dir = strdup(cfg->data_dir);
    rt->actors = calloc((size_t)cfg->actors, sizeof *rt->actors);
    if (!rt->data_dir || !rt->actors) {
        snprintf(err, errlen, "out of memory");
        st = DURO_NOMEM;
        goto fail;
    }
    duro_store_config store = {rt->data_dir, cfg->sync_full, &rt->schema};
    /* the files take in what the commit logs hold first (recover.h), then
     * the registry reconciles with them, before any actor runs */
    char log_dir[4096];
    snprintf(log_dir, sizeof log_dir, "%s/log", rt->data_dir);
    uint64_t replayed = 0;
    if ((st = duro_recover_logs(&store, cfg->kinds, log_dir, &replayed, err, errlen)) != DURO_OK)
        goto fail;
    if (replayed) {
        duro_log_info("replayed %llu commit log record(s) into the namespace files",
                      (unsigned long long)replayed);
        DURO_STAT_ADD(log_replayed, replayed);
    }
    if (mkdir_p(log_dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", log_dir, strerror(errno));
        st = DURO_IO;
        goto fail;
    }
    size_t max_reply = cfg->max_reply_bytes ? cfg->max_reply_bytes : DURO_MAX_REPLY_DEFAULT;
    if ((st = duro_registry_open(&store, cfg->kinds->registry, cfg->max_mailbox, max_reply,
                                 cfg->actors, &rt->registry, err, errlen)) != DURO_OK)
        goto fail;
    if (duro_workers_start(cfg->workers > 0 ? cfg->workers : 2, 4096, &rt->workers) != DURO_OK) {
        snprintf(err, errlen, "cannot start the worker pool");
        st = DURO_INTERNAL;
        goto fail;
    }
    if (duro_workers_start(cfg->io_workers > 0 ? cfg->io_workers : 4, 1024, &rt->io_workers) !=
        DURO_OK) {
        snprintf(err, errlen, "cannot start the I/O worker pool");
        st = DURO_INTERNAL;
        goto fail;
    }
    rt->n_actors = (unsigned)cfg->actors;
    size_t per_open = (size_t)cfg->max_open_ns / rt->n_actors;
    for (unsigned i = 0; i < rt->n_actors; i++) {
        duro_actor *a = &rt->actors[i];
        a->id = i;
        a->store.data_dir = rt->data_dir;
        a->store.sync_full = cfg->sync_full;
        a->store.schema = &rt->schema;
        a->kinds = rt->kinds;
        a->workers = rt->workers;
        a->io_workers = rt->io_workers;
        a->max_open = per_open ? per_open : 1;
        a->max_reply = max_reply;
        a->ttl_sweep_ms = cfg->ttl_sweep_ms;
        a->commit_log = !cfg->no_commit_log;
        a->registry = rt->registry;
        duro_lru_init(&a->lru, cfg->cache_bytes / rt->n_actors);
        if (duro_clog_create(&a->log, log_dir, i, err, errlen) != 0) {
            st = DURO_IO;
            rt->n_actors = i;
            goto fail;
        }
        if (duro_mailbox_init(&a->mailbox, cfg->max_mailbox) != 0 || duro_actor_start(a) != 0) {
            snprintf(err, errlen, "cannot start actor %u", i);
            st = DURO_INTERNAL;
            rt->n_actors = i; /* stop only those that started */
            goto fail;
        }
    }
    *out = rt;
    return DURO_OK;
fail:
    duro_runtime_close(rt);
    return st;
}

int duro_runtime_submit(duro_runtime *rt, duro_msg *m)
{
    if (m->kind == DURO_KIND_REGISTRY)
        return duro_registry_submit(rt->registry, m);
    duro_actor *a = &rt->actors[duro_route_owner(m->ns, m->ns_len, rt->n_actors)];
    return duro_mailbox_push(&a->mailbox, m) == 0 ? DURO_OK : DURO_UNAVAILABLE;
}

duro_msg *duro_runtime_submit_list(duro_runtime *rt, duro_msg *list)
{
    enum { MAX_GROUPS = 256 };
    duro_msg *head[MAX_GROUPS] = {0}, *tail[MAX_GROUPS];
    size_t count[MAX_GROUPS] = {0};
    duro_msg *refused = NULL;
    while (list) {
        duro_msg *m = list;
        list = m->next;
        m->next = NULL;
        if (m->kind == DURO_KIND_REGISTRY) {
            if (duro_registry_submit(rt->registry, m) != DURO_OK) {
                m->next = refused;
                refused = m;
            }
            continue;
        }
        unsigned a = duro_route_owner(m->ns, m->ns_len, rt->n_actors);
        if (head[a])
            tail[a]->next = m;
        else
            head[a] = m;
        tail[a] = m;
        count[a]++;
    }
    for (unsigned a = 0; a < rt->n_actors; a++) {
        if (!head[a] || duro_mailbox_push_list(&rt->actors[a].mailbox, head[a], tail[a],
                                               count[a]) == 0)
            continue;
        tail[a]->next = refused;
        refused = head[a];
    }
    return refused;
}

size_t duro_runtime_mailbox_depth(duro_runtime *rt)
{
    size_t d = 0;
    for (unsigned i = 0; i < rt->n_actors; i++)
        d += duro_mailbox_depth(&rt->actors[i].mailbox);
    return d + (rt->registry ? duro_registry_depth(rt->registry) : 0);
}

void duro_runtime_close(duro_runtime *rt)
{
    if (!rt)
        return;
    for (unsigned i = 0; i < rt->n_actors; i++)
        duro_mailbox_close(&rt->actors[i].mailbox);
    for (unsigned i = 0; i < rt->n_actors; i++)
        duro_actor_stop(&rt->actors[i]);
    /* after the actors, before their mailboxes go: a step still on the pool
     * finds its owner's mailbox closed and is answered 503 */
    duro_workers_stop(rt->workers);
    duro_workers_stop(rt->io_workers);
    for (unsigned i = 0; i < rt->n_actors; i++)
        duro_mailbox_destroy(&rt->actors[i].mailbox);
    duro_registry_close(rt->registry); /* after the actors: they send it notices */
    free(rt->actors);
    free(rt->data_dir);
    if (rt->lock_fd >= 0)
        close(rt->lock_fd); /* releases the flock */
    free(rt);
}
