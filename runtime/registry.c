/*
 * registry.c — the registry actor: reconcile at open, then one thread that
 * applies change notices in group commits and answers queries (see
 * registry.h here and objects/registry.h).
 */
#include "runtime/registry.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects/registry.h"
#include "runtime/log.h"
#include "runtime/mailbox.h"
#include "runtime/route.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"

/* How long applied notices may wait for their registry COMMIT. */
#define DURO_REGISTRY_COMMIT_MS 100

struct duro_registry {
    pthread_t thread;
    int started;
    duro_mailbox mailbox;
    size_t max_mailbox; /* queued queries; notices are never refused */
    size_t max_reply;   /* largest reply tape of a query */
    size_t queries;     /* queued queries (atomic) */
    duro_registry_db *db;
    int in_txn, failed; /* the open group transaction (registry thread only) */
    int64_t commit_due;
    int tainted;           /* notices were lost: versions are no longer recorded */
    int forgotten;         /* ...and the recorded ones were dropped (see settle()) */
    int dropped;           /* an owner could not hand notices over (atomic) */
    duro_store_config cfg; /* data_dir borrowed from the runtime */
};

/* ---- reconcile ---- */

/* Brings the registry's rows of one namespace file up to date. */
static int reconcile_ns(duro_registry *r, const char *name, size_t n, int64_t now)
{
    duro_lru lru;
    duro_lru_init(&lru, 0);
    duro_ns *ns;
    char err[256];
    int st = duro_ns_open(&r->cfg, name, n, &lru, &ns, NULL, err, sizeof err);
    if (st != DURO_OK) {
        duro_log_error("registry: namespace %.*s: %s", (int)n, name, err);
        return DURO_OK; /* one bad file does not stop the rest */
    }
    /* a namespace that cannot be read is forgotten (so the next start tries
     * it again) and does not stop the others */
    if ((st = duro_registry_db_sql(r->db, "SAVEPOINT ns")) != DURO_OK) {
        duro_ns_close(ns);
        return st;
    }
    int64_t known = -1;
    int found = duro_registry_db_version(r->db, name, n, &known);
    if (found < 0)
        st = -found;
    else if (!found || known != ns->version_committed)
        st = duro_registry_db_rebuild(r->db, name, n, ns->db, ns->version_committed, now);
    duro_ns_close(ns);
    if (st != DURO_OK) {
        duro_log_error("registry: namespace %.*s could not be indexed: %s", (int)n, name,
                       duro_errstr(st));
        if ((st = duro_registry_db_sql(r->db, "ROLLBACK TO ns")) == DURO_OK)
            st = duro_registry_db_forget(r->db, name, n);
    }
    int rel = duro_registry_db_sql(r->db, "RELEASE ns");
    return st != DURO_OK ? st : rel;
}

static int forget_if_gone(void *arg, const char *ns, size_t n)
{
    duro_registry *r = arg;
    char path[4096];
    struct stat sb;
    if (duro_ns_path(r->cfg.data_dir, ns, n, path, sizeof path, NULL) == 0 &&
        stat(path, &sb) == 0)
        return DURO_OK;
    return duro_registry_db_forget(r->db, ns, n);
}

static int reconcile(duro_registry *r)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ns", r->cfg.data_dir);
    DIR *top = opendir(dir);
    if (!top)
        return DURO_OK; /* no namespace yet */
    int64_t now = duro_now_ms();
    int st = DURO_OK;
    struct dirent *d;
    while (st == DURO_OK && (d = readdir(top))) {
        if (strlen(d->d_name) != 2)
            continue;
        char sub[4096 + 8];
        snprintf(sub, sizeof sub, "%s/%.2s", dir, d->d_name);
        DIR *shard = opendir(sub);
        if (!shard)
            continue;
        struct dirent *f;
        while (st == DURO_OK && (f = readdir(shard))) {
            size_t len = strlen(f->d_name);
            const char *why;
            if (len <= 3 || strcmp(f->d_name + len - 3, ".db") != 0 ||
                duro_ns_valid(f->d_name, len - 3, &why) != 0)
                continue;
            char want[3];
            snprintf(want, sizeof want, "%02x", duro_route_shard(f->d_name, len - 3));
            if (strcmp(want, d->d_name) == 0)
                st = reconcile_ns(r, f->d_name, len - 3, now);
        }
        closedir(shard);
    }
    closedir(top);
    if (st == DURO_OK)
        st = duro_registry_db_each_ns(r->db, forget_if_gone, r);
    return st;
}

/* ---- the thread ---- */

static void free_notice(duro_msg *m)
{
    duro_buf_free(&m->body);
    free(m);
}

/* Opens the group transaction if none is open. 1 if one is open. */
static int begin(duro_registry *r, int64_t now)
{
    if (!r->in_txn && !r->failed) {
        r->commit_due = now + DURO_REGISTRY_COMMIT_MS;
        r->failed = duro_registry_db_begin(r->db) != DURO_OK;
        r->in_txn = !r->failed;
    }
    return r->in_txn;
}

/* Notices were lost (a failed group, or an owner that could not hand them
 * over): the index is behind. From now on no namespace's version is
 * recorded, and settle() drops the recorded ones, so the next start rebuilds
 * every namespace instead of trusting versions recorded after the loss. */
static void taint(duro_registry *r)
{
    if (!r->tainted)
        duro_log_error("registry: change notices were lost; the registry is behind until the"
                       " next start rebuilds it");
    r->tainted = 1;
}

/* Removes the registry's files (the next open starts empty and rebuilds). */
static void remove_files(const duro_registry *r)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/_registry.db%s", r->cfg.data_dir, suffix[i]);
        unlink(path);
    }
}

/* Outside a transaction, once after taint(): drops the recorded versions, or,
 * if the file cannot be written, removes it (the next start rebuilds it). */
static void settle(duro_registry *r)
{
    if (!r->tainted || r->forgotten || r->in_txn)
        return;
    r->forgotten = 1;
    if (duro_registry_db_sql(r->db, "DELETE FROM namespaces") != DURO_OK)
        remove_files(r);
}

/* Applies one notice inside the open transaction (begun on demand). The
 * namespace's version is recorded only with its last notice in a row. */
static void apply(duro_registry *r, duro_msg *m, int64_t now)
{
    const duro_msg *n = m->next;
    int last = !r->tainted && (!n || n->op != DURO_REGISTRY_NOTICE || n->ns_len != m->ns_len ||
                               memcmp(n->ns, m->ns, m->ns_len) != 0);
    /* after a failure nothing more is applied: SQLite may have rolled the
     * transaction back itself, and the rest would land in autocommit */
    if (begin(r, now) && !r->failed &&
        duro_registry_db_apply(r->db, m->ns, m->ns_len, last ? m->etag : -1, m->body.data,
                               m->body.len) != DURO_OK)
        r->failed = 1;
    free_notice(m);
}

static void commit(duro_registry *r)
{
    if (r->in_txn && (r->failed || duro_registry_db_commit(r->db) != DURO_OK)) {
        duro_registry_db_rollback(r->db);
        r->failed = 1;
    }
    if (r->failed) {
        DURO_STAT_ADD(registry_failures, 1);
        taint(r);
    } else {
        DURO_STAT_ADD(registry_commits, 1);
    }
    r->in_txn = r->failed = 0;
}

/* Notices are pushed lazily (they do not wake the thread while a group
 * transaction is open) and applied in one transaction committed
 * DURO_REGISTRY_COMMIT_MS after it began (or when the mailbox closes). A
 * query is an ordinary push: it wakes the thread at once, and everything
 * queued before it — every notice sent before it — is applied first; queries
 * run on the same connection and see every applied notice, committed or not.
 * So the commit period only bounds what a crash can take from the registry
 * file (the next start's reconcile restores it) and how many notices wait
 * for a wake-up, never what a query sees. */
static void *registry_main(void *arg)
{
    duro_registry *r = arg;
    pthread_setname_np(pthread_self(), "duro-registry");
    for (;;) {
        int wait = -1;
        if (r->in_txn || r->failed) {
            int64_t left = r->commit_due - duro_now_ms();
            wait = left < 0 ? 0 : (int)left;
        }
        size_t n;
        duro_msg *batch = duro_mailbox_take_lazy(&r->mailbox, wait, &n);
        int64_t now = duro_now_ms();
        while (batch) {
            duro_msg *m = batch;
            batch = m->next;
            if (m->op == DURO_REGISTRY_NOTICE) {
                DURO_STAT_ADD(registry_notices, 1);
                apply(r, m, now);
                continue;
            }
            DURO_STAT_ADD(registry_queries, 1);
            __atomic_fetch_sub(&r->queries, 1, __ATOMIC_RELAXED);
            m->status = DURO_OK;
            m->etag = -1;
            if (begin(r, now))
                duro_registry_db_exec(r->db, m, now, r->max_reply);
            else
                duro_msg_fail(m, DURO_INTERNAL, "the registry cannot open a transaction");
            m->done(m);
        }
        if ((r->in_txn || r->failed) && (now >= r->commit_due || duro_mailbox_closed(&r->mailbox)))
            commit(r);
        if (__atomic_exchange_n(&r->dropped, 0, __ATOMIC_ACQ_REL))
            taint(r);
        settle(r);
        if (!r->in_txn && !r->failed && duro_mailbox_closed(&r->mailbox) &&
            duro_mailbox_depth(&r->mailbox) == 0)
            break;
    }
    return NULL;
}

/* ---- the interface ---- */

int duro_registry_open(const duro_store_config *cfg, size_t max_mailbox, size_t max_reply,
                       duro_registry **out, char *err, size_t errlen)
{
    *out = NULL;
    duro_registry *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    r->cfg = *cfg;
    r->max_mailbox = max_mailbox;
    r->max_reply = max_reply;
    int st = DURO_INTERNAL;
    /* the file is only an index: one that cannot be opened or reconciled is
     * removed and rebuilt from the namespace files */
    for (int attempt = 0; attempt < 2 && st != DURO_OK; attempt++) {
        if (attempt) {
            duro_log_error("registry: %s; rebuilding it from the namespace files", err);
            remove_files(r);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/_registry.db", cfg->data_dir);
        if ((st = duro_registry_db_open(path, &r->db, err, errlen)) != DURO_OK)
            continue;
        if ((st = duro_registry_db_begin(r->db)) == DURO_OK && (st = reconcile(r)) == DURO_OK)
            st = duro_registry_db_commit(r->db);
        if (st != DURO_OK) {
            duro_registry_db_rollback(r->db);
            snprintf(err, errlen, "cannot reconcile the registry: %s", duro_errstr(st));
            duro_registry_db_close(r->db);
            r->db = NULL;
        }
    }
    if (st != DURO_OK) {
        free(r);
        return st;
    }
    if (duro_mailbox_init(&r->mailbox, SIZE_MAX) != 0) {
        duro_registry_db_close(r->db);
        free(r);
        snprintf(err, errlen, "cannot start the registry");
        return DURO_INTERNAL;
    }
    if (pthread_create(&r->thread, NULL, registry_main, r) != 0) {
        duro_mailbox_destroy(&r->mailbox);
        duro_registry_db_close(r->db);
        free(r);
        snprintf(err, errlen, "cannot start the registry");
        return DURO_INTERNAL;
    }
    r->started = 1;
    *out = r;
    return DURO_OK;
}

void duro_registry_notify(duro_registry *r, duro_ns *ns)
{
    if (!ns->notes.len)
        return;
    duro_msg *m = calloc(1, sizeof *m);
    if (!m) {
        ns->notes.len = 0;
        __atomic_store_n(&r->dropped, 1, __ATOMIC_RELEASE);
        duro_log_error("registry: out of memory; namespace %s is behind until the next start",
                       ns->name);
        return;
    }
    m->kind = DURO_KIND_REGISTRY;
    m->op = DURO_REGISTRY_NOTICE;
    memcpy(m->ns, ns->name, ns->name_len + 1);
    m->ns_len = ns->name_len;
    m->etag = ns->version_committed;
    m->body = ns->notes;
    ns->notes = (duro_buf){0};
    if (duro_mailbox_push_lazy(&r->mailbox, m) != 0) {
        __atomic_store_n(&r->dropped, 1, __ATOMIC_RELEASE); /* only after close: ignored */
        duro_log_error("registry: stopped; namespace %s is behind until the next start", ns->name);
        free_notice(m);
    }
}

int duro_registry_submit(duro_registry *r, duro_msg *m)
{
    if (__atomic_fetch_add(&r->queries, 1, __ATOMIC_RELAXED) >= r->max_mailbox ||
        duro_mailbox_push(&r->mailbox, m) != 0) {
        __atomic_fetch_sub(&r->queries, 1, __ATOMIC_RELAXED);
        return DURO_UNAVAILABLE;
    }
    return DURO_OK;
}

size_t duro_registry_depth(duro_registry *r) { return duro_mailbox_depth(&r->mailbox); }

void duro_registry_close(duro_registry *r)
{
    if (!r)
        return;
    duro_mailbox_close(&r->mailbox);
    if (r->started)
        pthread_join(r->thread, NULL);
    duro_mailbox_destroy(&r->mailbox);
    duro_registry_db_close(r->db);
    free(r);
}
