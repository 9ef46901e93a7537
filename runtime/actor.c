/*
 * actor.c — the actor loop: drain, run, commit, reply.
 *
 * DESIGN
 * One thread per actor. It owns the namespaces that route to it (route.h):
 * their SQLite handles, caches and counters; nothing else touches them. The
 * thread records itself as the owner of the actor and its LRU when it starts
 * (runtime/owner.h); each namespace it opens is owned by it, and the
 * functions here and in store.c / cache.c assert it.
 *
 *   loop:
 *     batch = take the whole mailbox (wait for the first message or the sweep)
 *     for each message m in arrival order:
 *       ns = find m's namespace; if it is not open and has no file, run m on
 *            the ghost first (below), else open it
 *       write op: BEGIN once per namespace per batch, run the op, hold the reply
 *       read op:  run it; its reply goes to the outbox unless the namespace has
 *                 writes pending in this batch (the read may have seen them),
 *                 then it is held too
 *     post the outbox (no reply in it waits for any fsync)
 *     for each namespace in a transaction: COMMIT, then post its held replies
 *     evict cache entries over budget, close namespaces over the open limit
 *     every --ttl-sweep-ms: delete due keys in small batches, same commit path
 *     every 100 ms: write behind the objects' in-memory state (rate limiter);
 *     it also rides along with any commit of its namespace
 *
 * So one fsync covers every write to a namespace in a batch (group commit), a
 * lone write commits at once (no timer), and a write is acknowledged only after
 * its COMMIT returned. If an op hits a storage error, or COMMIT fails, the
 * namespace's transaction is rolled back, its cache cleared, and every held
 * reply of it becomes that error.
 *
 * Namespaces without a file: reads never create one. An op on a namespace
 * that is not open and has no file runs first on the actor's ghost, an
 * in-memory namespace with the schema and no rows, renamed for the op, in a
 * transaction that is always rolled back (and whose cache, counters, notices
 * and kinds' in-memory state are dropped with it). If the op changed nothing
 * there (no version taken, no notice, no write-behind state, no row changed)
 * its answer is the empty namespace's answer and it is sent; that covers the
 * reads and the "writes" that change nothing in an empty namespace (a
 * session GET, deleting a missing key, clear). Otherwise the op runs again on
 * the real file, which it creates.
 *
 * Deleting a namespace (an exec that answers DURO_DROP, kind.h): the owner
 * commits what the batch wrote to it, closes it, removes its files, tells the
 * registry to forget it (behind that commit's notices) and then answers; what
 * comes after finds no file. A message that was on the worker pool across a
 * delete on this actor is answered "retry" (drop_ns(), run_one()).
 *
 * Shutdown: the mailbox is closed to new messages; the loop runs until it is
 * empty, commits, closes every namespace and returns.
 */
#include "runtime/actor.h"

#include <assert.h>
#include <errno.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "runtime/kind.h"
#include "common/log.h"
#include "runtime/recover.h"
#include "runtime/registry.h"
#include "runtime/route.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "runtime/workers.h"

#define SWEEP_BATCH 256
#define DURO_FLUSH_MS 100 /* write-behind state reaches disk at least this often */
#define DURO_FD_RELIEF 8  /* namespaces closed at least when out of file descriptors */
#define DURO_APPLY_MS 500 /* open transactions are applied to the files this often */
#define DURO_APPLY_LOG_BYTES (64u << 20) /* ... or once the log holds this much */
#define DURO_DRIP_ROWS 64     /* deferred rows per step of a due apply (see drip()) */
#define DURO_DRIP_US 300      /* ... the steps' time in one loop turn */
#define DURO_DRIP_MAX_MS 100  /* ... and a drip that takes longer settles the rest at once */

enum { NS_APPLY, NS_FORCE, NS_DISCARD }; /* how ns_drop() treats an open transaction */

/* ---- the table and LRU of open namespaces ---- */

static duro_ns **slot(duro_actor *a, const char *name, size_t len)
{
    duro_ns **pp = &a->table[duro_route_hash(name, len) & a->table_mask];
    while (*pp && !((*pp)->name_len == len && memcmp((*pp)->name, name, len) == 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void ns_lru_unlink(duro_actor *a, duro_ns *ns)
{
    if (ns->lprev)
        ns->lprev->lnext = ns->lnext;
    else
        a->lru_head = ns->lnext;
    if (ns->lnext)
        ns->lnext->lprev = ns->lprev;
    else
        a->lru_tail = ns->lprev;
    ns->lprev = ns->lnext = NULL;
}

static void ns_lru_touch(duro_actor *a, duro_ns *ns)
{
    if (a->lru_head == ns)
        return;
    if (ns->lprev || ns->lnext || a->lru_tail == ns)
        ns_lru_unlink(a, ns);
    ns->lnext = a->lru_head;
    if (a->lru_head)
        a->lru_head->lprev = ns;
    else
        a->lru_tail = ns;
    a->lru_head = ns;
}

static void flush_alone(duro_actor *a, duro_ns *ns);
static int settle(duro_actor *a, duro_ns *ns);
static int settle_rows(duro_actor *a, duro_ns *ns, size_t max);
static void lost_txn(duro_actor *a, duro_ns *ns);

/* Tells the kinds that asked (ns->txn_kinds) how ns's transaction ended. */
static void txn_ended(duro_actor *a, duro_ns *ns, int committed)
{
    DURO_ASSERT_OWNER(a->owner);
    for (int kind = 0; ns->txn_kinds && kind < DURO_KIND_MAX; kind++) {
        if (!(ns->txn_kinds & (1u << kind)))
            continue;
        ns->txn_kinds &= ~(1u << kind);
        const duro_kind *ops = duro_kind_get(a->kinds, kind);
        if (ops && ops->txn_end)
            ops->txn_end(ns, committed);
    }
}

/* ---- namespaces closed with log records that are not in their files ---- */

static ssize_t unapplied_find(const duro_actor *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n_unapplied; i++)
        if (strlen(a->unapplied[i]) == len && memcmp(a->unapplied[i], name, len) == 0)
            return (ssize_t)i;
    return -1;
}

static void unapplied_add(duro_actor *a, const char *name, size_t len)
{
    if (unapplied_find(a, name, len) >= 0)
        return;
    char **n = realloc(a->unapplied, (a->n_unapplied + 1) * sizeof *n);
    char *copy = strndup(name, len);
    if (!n || !copy) {
        /* cannot remember it: the log must then stay until the next start */
        free(copy);
        if (n)
            a->unapplied = n;
        a->log_failed = 1;
        duro_log_error("namespace %.*s: out of memory; its log records wait for the next start",
                       (int)len, name);
        return;
    }
    a->unapplied = n;
    a->unapplied[a->n_unapplied++] = copy;
}

static void unapplied_del(duro_actor *a, size_t i)
{
    free(a->unapplied[i]);
    a->unapplied[i] = a->unapplied[--a->n_unapplied];
}

/* Puts back into ns's (new) open transaction what the log holds for it
 * beyond its mark (recover.h). */
static int recover_into(duro_actor *a, duro_ns *ns)
{
    char err[256];
    int st = duro_recover_ns(ns, a->kinds, &a->log, err, sizeof err);
    if (st != DURO_OK)
        duro_log_error("actor %u: %s", a->id, err);
    return st;
}

/* Applies ns's open transaction to its file (clog.h: the log's records of
 * it are then not needed). DURO_OK or a status; if SQLite rolled the
 * transaction back, what it held is put back from the log. */
static int apply_ns(duro_actor *a, duro_ns *ns)
{
    DURO_ASSERT_OWNER(a->owner);
    assert(!ns->session); /* never inside a batch's savepoint */
    int st = settle(a, ns);
    if (st != DURO_OK)
        return st;
    if (!ns->open_txn)
        return DURO_OK;
    st = duro_ns_apply(ns, a->log.epoch, a->log.lsn);
    if (st == DURO_OK) {
        DURO_STAT_ADD(applies, 1);
        return DURO_OK;
    }
    duro_log_error("namespace %s: applying its log to the file failed: %s", ns->name,
                   sqlite3_errmsg(ns->db));
    if (!ns->open_txn) {
        duro_ctable_clear(&ns->cache);
        recover_into(a, ns);
    }
    return st;
}

/* Closes ns: NS_APPLY applies its open transaction first and keeps ns open
 * if that fails (-1); NS_FORCE closes it anyway (its records then wait in
 * the log: the next open replays them); NS_DISCARD drops the open
 * transaction (the namespace is being deleted). 0 when closed. */
static int ns_drop(duro_actor *a, duro_ns *ns, int how)
{
    DURO_ASSERT_OWNER(a->owner);
    if (how != NS_DISCARD) {
        flush_alone(a, ns);
        if (apply_ns(a, ns) != DURO_OK) {
            if (how == NS_APPLY)
                return -1;
            unapplied_add(a, ns->name, ns->name_len);
        }
    }
    duro_log_debug("actor %u: namespace %s closed", a->id, ns->name);
    for (int kind = 0; kind < DURO_KIND_MAX; kind++) {
        const duro_kind *ops = duro_kind_get(a->kinds, kind);
        if (ops && ops->ns_close)
            ops->ns_close(ns);
    }
    duro_ns **pp = slot(a, ns->name, ns->name_len);
    *pp = ns->hnext;
    ns_lru_unlink(a, ns);
    a->open_count--;
    duro_ns_close(ns);
    return 0;
}

/* m's namespace if it is open (now the most recently used), else NULL. */
static duro_ns *ns_find(duro_actor *a, const duro_msg *m)
{
    DURO_ASSERT_OWNER(a->owner);
    duro_ns *ns = *slot(a, m->ns, m->ns_len);
    if (ns)
        ns_lru_touch(a, ns);
    return ns;
}

/* Closes up to a quarter (at least DURO_FD_RELIEF) of the open namespaces,
 * least recently used first, skipping those in a transaction. How many. */
static size_t ns_close_idle(duro_actor *a)
{
    size_t want = a->open_count / 4 > DURO_FD_RELIEF ? a->open_count / 4 : DURO_FD_RELIEF;
    size_t closed = 0;
    for (duro_ns *ns = a->lru_tail, *prev; ns && closed < want; ns = prev) {
        prev = ns->lprev;
        if (!ns->in_txn && ns_drop(a, ns, NS_APPLY) == 0)
            closed++;
    }
    return closed;
}

/* Opens (creating) m's namespace file. Out of file descriptors (3 per open
 * namespace: the file, -wal, -shm), it closes some of its least recently
 * used namespaces and tries once more; if that fails too the reply is 503
 * "too many open files; retry later" and the server goes on. NULL with m
 * failed on error. */
static duro_ns *ns_open(duro_actor *a, duro_msg *m)
{
    DURO_ASSERT_OWNER(a->owner);
    duro_ns *ns;
    char err[256];
    const char *why;
    int st = duro_ns_open(&a->store, m->ns, m->ns_len, &a->lru, &ns, &why, err, sizeof err);
    if (st == DURO_UNAVAILABLE) {
        size_t closed = ns_close_idle(a);
        duro_log_warn("namespace %.*s: %s; closed %zu idle namespace files and retrying",
                      (int)m->ns_len, m->ns, err, closed);
        st = duro_ns_open(&a->store, m->ns, m->ns_len, &a->lru, &ns, &why, err, sizeof err);
    }
    if (st != DURO_OK) {
        duro_log_error("namespace %.*s: %s", (int)m->ns_len, m->ns, err);
        if (why)
            duro_msg_fail(m, st, "%s", why);
        else
            duro_msg_fail(m, st, "cannot open namespace: %s", duro_errstr(st));
        return NULL;
    }
    ns->defer_ok = a->commit_log && !ns->readonly; /* a read-only file refuses writes */
    ssize_t u = a->n_unapplied ? unapplied_find(a, m->ns, m->ns_len) : -1;
    if (u >= 0) {
        if (recover_into(a, ns) != DURO_OK) {
            duro_ns_close(ns);
            duro_msg_fail(m, DURO_IO, "cannot open namespace: its commit log cannot be replayed");
            return NULL;
        }
        ns->logged = 1;
        unapplied_del(a, (size_t)u);
    }
    ns->max_reply = a->max_reply;
    *slot(a, m->ns, m->ns_len) = ns;
    a->open_count++;
    ns_lru_touch(a, ns);
    duro_log_debug("actor %u: namespace %s opened (%zu open)", a->id, ns->name, a->open_count);
    return ns;
}

/* Closes least recently used namespaces over the limit (never one in a txn). */
static void ns_trim(duro_actor *a)
{
    duro_ns *ns = a->lru_tail;
    while (a->open_count > a->max_open && ns) {
        duro_ns *prev = ns->lprev;
        if (!ns->in_txn)
            ns_drop(a, ns, NS_APPLY);
        ns = prev;
    }
}

/* ---- write-behind state of object kinds ---- */

/* Writes every dirty kind's state of ns inside the current transaction.
 * 0, or a storage status. */
static int flush_kinds(duro_actor *a, duro_ns *ns)
{
    for (int kind = 0; kind < DURO_KIND_MAX && ns->dirty_kinds; kind++) {
        const duro_kind *ops = duro_kind_get(a->kinds, kind);
        if ((ns->dirty_kinds & (1u << kind)) && ops && ops->flush && ops->flush(ns) != 0)
            return DURO_IO;
    }
    return DURO_OK;
}

/* Undoes ns's batch; if that took with it what earlier batches logged
 * (the whole open transaction, or deferred rows), puts that back from the
 * log. */
static void undo_batch(duro_actor *a, duro_ns *ns)
{
    int had = ns->open_txn || ns->logged;
    duro_ns_batch_abort(ns);
    if (had && !ns->open_txn)
        lost_txn(a, ns);
}

/* Ends a batch of ns that no client waits for (a write-behind flush, a TTL
 * sweep): its changes go to the log unsynced (the next sync or apply covers
 * them; a kind that asked for txn_end gets a synced log). DURO_OK, or a
 * status with the batch undone. */
static int solo_end(duro_actor *a, duro_ns *ns, int st)
{
    size_t mark = a->log.pending.len;
    a->changes.len = 0;
    if (st == DURO_OK)
        st = duro_ns_batch_changes(ns, &a->changes);
    if (st == DURO_OK && a->changes.len) {
        if (!duro_clog_add(&a->log, DURO_CLOG_CHANGES, ns->name, ns->name_len, a->changes.data,
                           a->changes.len))
            st = DURO_NOMEM;
        else
            ns->logged = 1;
    }
    if (st == DURO_OK && duro_clog_write(&a->log, ns->txn_kinds != 0) != 0) {
        st = DURO_IO;
        a->log_failed = 1;
    }
    if (st == DURO_OK)
        st = duro_ns_batch_release(ns);
    if (st == DURO_OK && !a->commit_log && (st = apply_ns(a, ns)) != DURO_OK) {
        if (ns->open_txn)
            duro_ns_rollback(ns);
        ns->notes.len = 0;
        txn_ended(a, ns, 0);
        return st;
    }
    if (st != DURO_OK) {
        duro_clog_unadd(&a->log, mark);
        undo_batch(a, ns);
        txn_ended(a, ns, 0);
        return st;
    }
    txn_ended(a, ns, 1);
    DURO_STAT_ADD(commits, 1);
    duro_registry_notify(a->registry, ns); /* what the batch noticed (SQL table sizes) */
    return DURO_OK;
}

/* Outside any batch: writes ns's dirty state in a batch of its own.
 * A failure is logged once until a flush succeeds again (a read-only data
 * directory fails every 100 ms). */
static void flush_alone(duro_actor *a, duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    if (!ns->dirty_kinds || ns->in_txn || settle(a, ns) != DURO_OK ||
        duro_ns_batch_begin(ns) != DURO_OK)
        return;
    if (solo_end(a, ns, flush_kinds(a, ns)) != DURO_OK) {
        const char *why;
        duro_status_from_db(ns->db, sqlite3_extended_errcode(ns->db), &why);
        if (!ns->flush_failing)
            duro_log_error("namespace %s: write-behind flush failed: %s (retried every %d ms)",
                           ns->name, why ? why : sqlite3_errmsg(ns->db), DURO_FLUSH_MS);
        ns->flush_failing = 1;
        return;
    }
    ns->flush_failing = 0;
}

/* ---- one batch ---- */

static void reply(duro_msg *m)
{
    m->done(m);
}

/* Replies that need no commit wait in the outbox until the batch's ops have
 * run, then go out together before any COMMIT: the sender's thread is woken
 * once for them, and they never wait for an fsync. */
static void outbox_add(duro_actor *a, duro_msg *m)
{
    m->next = NULL;
    *a->outbox_tail = m;
    a->outbox_tail = &m->next;
}

static void outbox_flush(duro_actor *a)
{
    duro_msg *m = a->outbox;
    a->outbox = NULL;
    a->outbox_tail = &a->outbox;
    while (m) {
        duro_msg *next = m->next;
        reply(m);
        m = next;
    }
}

static void hold(duro_ns *ns, duro_msg *m)
{
    m->next = NULL;
    *ns->pending_tail = m;
    ns->pending_tail = &m->next;
}

/* ---- the reply cap ---- */

/* The backstop of --max-reply-bytes for reads: a reply tape over the cap
 * becomes DURO_PAYLOAD_TOO_LARGE (the objects that build long replies keep
 * under it themselves; this catches the rest, e.g. a GET of a value larger
 * than the cap). Never used for writes: a committed write is never answered
 * with an error. */
static void cap_read_reply(const duro_actor *a, duro_msg *m)
{
    if (m->status != DURO_OK || m->body.len <= a->max_reply)
        return;
    size_t n = m->body.len;
    duro_buf_free(&m->body);
    m->version = -1;
    duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                  "the reply (%zu bytes) would be larger than --max-reply-bytes (%zu)", n,
                  a->max_reply);
}

/* ---- ghost namespaces: ops on namespaces that have no file ---- */

/* The actor's ghost (store.h: duro_ns_open_ghost), opened on first use and
 * named after m's namespace. NULL if it cannot be opened (the op then runs on
 * the real file, as if the ghost did not exist). */
static duro_ns *ghost_get(duro_actor *a, const duro_msg *m)
{
    DURO_ASSERT_OWNER(a->owner);
    if (!a->ghost && !a->ghost_failed) {
        char err[256];
        if (duro_ns_open_ghost(&a->store, &a->lru, &a->ghost, err, sizeof err) != DURO_OK) {
            duro_log_error("actor %u: no in-memory namespace (%s); reads of new namespaces"
                           " create their files",
                           a->id, err);
            a->ghost_failed = 1;
            return NULL;
        }
        a->ghost->max_reply = a->max_reply;
    }
    if (a->ghost) {
        memcpy(a->ghost->name, m->ns, m->ns_len);
        a->ghost->name[m->ns_len] = '\0';
        a->ghost->name_len = m->ns_len;
    }
    return a->ghost;
}

/* Forgets everything an op did to the ghost: its transaction, cache,
 * counters, notices and every kind's in-memory state, so nothing of one
 * namespace is seen by the next. */
static void ghost_reset(duro_actor *a, duro_ns *g)
{
    duro_ns_rollback(g);
    txn_ended(a, g, 0);
    for (int kind = 0; kind < DURO_KIND_MAX; kind++) {
        const duro_kind *ops = duro_kind_get(a->kinds, kind);
        if (ops && ops->ns_close)
            ops->ns_close(g);
        g->kind_state[kind] = NULL;
    }
    g->dirty_kinds = 0;
    g->has_ttl = 0;
    g->version = g->version_committed = 0;
}

/* Clears the reply an op wrote into m, so that m can be run again. */
static void reply_reset(duro_msg *m)
{
    duro_buf_free(&m->body);
    m->status = DURO_OK;
    m->version = -1;
    m->created = 0;
    memset(&m->rl, 0, sizeof m->rl);
    m->errmsg[0] = '\0';
}

/* Worker thread: an op's worker step is done; back to its owner. */
static void resume(duro_msg *m)
{
    duro_actor *a = m->rt_ctx;
    m->resume = NULL;
    if (duro_mailbox_push_back(&a->mailbox, m) != 0) {
        duro_msg_fail(m, DURO_UNAVAILABLE, "the runtime is stopping");
        m->done(m);
    }
}

/* exec answered DURO_CONTINUE (kind.h): m->work runs on the worker pool,
 * then m comes back to this actor. */
static void to_workers(duro_actor *a, duro_msg *m)
{
    m->stage++;
    m->rt_ctx = a;
    m->rt_drops = a->drops;
    m->resume = resume;
    if (duro_workers_submit(m->work_io ? a->io_workers : a->workers, m, m->work) != DURO_OK) {
        m->resume = NULL;
        duro_msg_fail(m, DURO_UNAVAILABLE, "the worker pool is full; retry later");
        outbox_add(a, m);
    }
}

/* Runs m against the ghost named after its namespace (which has no file), in
 * a transaction that is always rolled back. If the op changed nothing — no
 * version taken, no change notice, no write-behind state, no row changed —
 * its answer is the answer of the empty namespace: m is answered and 1
 * returned. Otherwise (or on any storage error) m's reply is cleared and 0
 * returned: the op must run on the real file, which it creates. */
static int run_ghost(duro_actor *a, duro_msg *m, const duro_kind *ops, int64_t now)
{
    duro_ns *g = ghost_get(a, m);
    if (!g || duro_ns_begin(g) != DURO_OK)
        return 0;
    sqlite3_int64 changes = sqlite3_total_changes64(g->db);
    int st = ops->exec(g, m, now);
    int changed = duro_status_is_storage_error(st) || g->version != g->version_committed ||
                  g->notes.len || g->dirty_kinds || g->txn_kinds || sqlite3_total_changes64(g->db) != changes;
    ghost_reset(a, g);
    if (changed) {
        reply_reset(m);
        return 0;
    }
    if (st == DURO_CONTINUE) { /* a step that read nothing there: go on */
        to_workers(a, m);
        return 1;
    }
    if (!duro_kind_txn(ops, m->op))
        cap_read_reply(a, m);
    outbox_add(a, m);
    return 1;
}

/* The status of a storage failure st on ns, refined by the cause SQLite
 * reports for its last call (read-only file system, full disk, no file
 * descriptor); *why gets the cause's message for the client, or NULL. */
static int failure(duro_ns *ns, int st, const char **why)
{
    int refined = duro_status_from_db(ns->db, sqlite3_extended_errcode(ns->db), why);
    return *why ? refined : st;
}

static void drop_ns(duro_actor *a, duro_ns *ns, duro_msg *m, duro_ns **txn_list);

static void run_one(duro_actor *a, duro_msg *m, duro_ns **txn_list, int64_t now)
{
    DURO_ASSERT_OWNER(a->owner);
    const duro_kind *ops = duro_kind_get(a->kinds, m->kind);
    m->status = DURO_OK;
    m->version = -1;
    m->created = 0;
    if (!ops) {
        duro_msg_fail(m, DURO_INTERNAL, "unknown object kind");
        outbox_add(a, m);
        return;
    }
    DURO_STAT_ADD(ops[m->kind], 1);
    if (m->stage > 0 && m->rt_drops != a->drops) {
        /* back from the pool after a delete on this actor: what its first
         * step read may be of a namespace that is gone (coarse: any delete) */
        duro_msg_fail(m, DURO_UNAVAILABLE, "a namespace was deleted meanwhile; retry");
        outbox_add(a, m);
        return;
    }
    duro_ns *ns = ns_find(a, m);
    if (ns && ns->readonly && !ns->in_txn && duro_kind_txn(ops, m->op) &&
        duro_ns_writable(&a->store, ns)) {
        if (ns_drop(a, ns, NS_APPLY) == 0) /* opened on a read-only file system, writable again */
            ns = NULL;
    }
    if (!ns && !duro_ns_exists(&a->store, m->ns, m->ns_len) && run_ghost(a, m, ops, now))
        return;
    if (!ns && !(ns = ns_open(a, m))) {
        outbox_add(a, m);
        return;
    }
    int defers = ops->defers && ops->defers(m->op);
    if (!duro_kind_txn(ops, m->op)) {
        int st = defers ? DURO_OK : settle(a, ns);
        if (st != DURO_OK) {
            duro_msg_fail(m, st, "storage error: %s", duro_errstr(st));
            if (ns->in_txn)
                hold(ns, m);
            else
                outbox_add(a, m);
            return;
        }
        st = ops->exec(ns, m, now);
        if (st == DURO_CONTINUE) {
            to_workers(a, m);
            return;
        }
        if (st == DURO_DROP) {
            drop_ns(a, ns, m, txn_list);
            return;
        }
        cap_read_reply(a, m);
        if (ns->in_txn)
            hold(ns, m);
        else
            outbox_add(a, m);
        return;
    }
    if (!ns->in_txn) {
        duro_ns_batch_open(ns);
        ns->in_txn = 1;
        ns->txn_failed = DURO_OK;
        ns->txn_why = NULL;
        ns->txn_next = *txn_list;
        *txn_list = ns;
    }
    if (ns->txn_failed == DURO_OK && !(defers && ns->deferring)) {
        /* from here on the batch writes to SQLite, after what was deferred */
        int st = settle(a, ns);
        if (st == DURO_OK)
            st = duro_ns_batch_sql(ns);
        if (st != DURO_OK)
            ns->txn_failed = failure(ns, st, &ns->txn_why);
    }
    if (ns->txn_failed == DURO_OK) {
        int st = ops->exec(ns, m, now);
        if (st == DURO_CONTINUE) { /* what it wrote commits with the batch */
            to_workers(a, m);
            return;
        }
        if (duro_status_is_storage_error(st))
            ns->txn_failed = failure(ns, st, &ns->txn_why);
        if (ns->open_txn && sqlite3_get_autocommit(ns->db)) {
            /* SQLite ended the open transaction: this batch's writes of ns
             * are gone, earlier batches' come back from the log */
            if (ns->txn_failed == DURO_OK) {
                ns->txn_failed = DURO_INTERNAL;
                ns->txn_why = "SQLite rolled back the transaction";
            }
            duro_ns_batch_abort(ns);
            lost_txn(a, ns);
            int lost = ns->txn_lost;
            duro_ns_batch_open(ns); /* the rest of the batch fails: nothing to undo */
            ns->txn_lost = lost;
            ns->deferring = 0;
        }
    }
    hold(ns, m);
}

/* SQLite rolled ns's open transaction back by itself (an interrupted user
 * SQL write, an I/O error): what earlier batches logged for it is put back
 * from the log into a new one; if that fails ns is closed and replays its
 * records when it is opened again. */
static void lost_txn(duro_actor *a, duro_ns *ns)
{
    duro_log_warn("namespace %s: SQLite rolled back its open transaction; replaying the log",
                  ns->name);
    duro_ctable_clear(&ns->cache);
    if (recover_into(a, ns) != DURO_OK)
        ns->txn_lost = 2; /* the owner closes it once the batch is over */
}

/* Writes up to max of each kind's deferred rows of ns (oldest first) to
 * its open transaction (kind.h: settle). DURO_OK, or a status: in a batch,
 * the batch then fails (and is undone whole at its end); outside one, the
 * open transaction is rolled back and what the log holds for ns is put back
 * from it. */
static int settle_rows(duro_actor *a, duro_ns *ns, size_t max)
{
    DURO_ASSERT_OWNER(a->owner);
    if (!ns->defer_kinds)
        return DURO_OK;
    assert(!ns->in_sql);
    int st = duro_ns_txn(ns);
    for (int kind = 0; st == DURO_OK && kind < DURO_KIND_MAX; kind++) {
        unsigned bit = 1u << kind;
        if (!(ns->defer_kinds & bit))
            continue;
        const duro_kind *ops = duro_kind_get(a->kinds, kind);
        int rc = ops && ops->settle ? ops->settle(ns, max) : 0;
        if (rc < 0)
            st = DURO_IO;
        else if (rc == 0)
            ns->defer_kinds &= ~bit;
    }
    if (st == DURO_OK) {
        if (!ns->defer_kinds)
            DURO_STAT_ADD(settles, 1);
        return DURO_OK;
    }
    const char *why = NULL;
    st = failure(ns, st, &why);
    duro_log_error("namespace %s: writing its deferred rows failed: %s", ns->name,
                   why ? why : sqlite3_errmsg(ns->db));
    if (ns->in_txn) {
        if (ns->txn_failed == DURO_OK) {
            ns->txn_failed = st;
            ns->txn_why = why;
        }
        return st;
    }
    duro_ns_rollback(ns);
    lost_txn(a, ns);
    return st;
}

/* Writes all of ns's deferred rows to its open transaction (settle_rows()). */
static int settle(duro_actor *a, duro_ns *ns) { return settle_rows(a, ns, SIZE_MAX); }

/* A namespace of the batch whose writes user SQL made (ns->commit_now):
 * SQLite's own COMMIT, with everything its open transaction holds, makes
 * them durable; nothing of this batch goes to the log. */
static int commit_now(duro_actor *a, duro_ns *ns)
{
    a->changes.len = 0;
    int st = duro_ns_batch_changes(ns, &a->changes); /* stores the version counter */
    if (st != DURO_OK)
        return st;
    if ((st = duro_ns_batch_release(ns)) != DURO_OK)
        return st;
    if ((st = apply_ns(a, ns)) == DURO_OK)
        return DURO_OK;
    /* the batch is part of what failed to commit: undo all of it, then put
     * back what the log holds */
    if (ns->open_txn) {
        duro_ns_rollback(ns);
        lost_txn(a, ns);
    }
    ns->notes.len = 0; /* the batch's change notices go with it */
    ns->commit_now = 2; /* done: nothing to undo at the end */
    return st;
}

static uint64_t us_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Adds ns's batch to the log's pending records: its deferred rows (a ROWS
 * record), then what its session recorded after them (CHANGES). DURO_OK
 * or a status. */
static int log_batch(duro_actor *a, duro_ns *ns)
{
    duro_buf *rows = &ns->defer_rec;
    if (rows->len) {
        uint64_t v = (uint64_t)ns->version;
        for (int i = 1; i <= 8; i++, v >>= 8)
            rows->data[i] = (char)(v & 0xff);
        if (!duro_clog_add(&a->log, DURO_CLOG_ROWS, ns->name, ns->name_len, rows->data,
                           rows->len))
            return DURO_NOMEM;
        ns->logged = 1;
    }
    if (!ns->in_sql)
        return DURO_OK;
    a->changes.len = 0;
    int st = duro_ns_batch_changes(ns, &a->changes);
    if (st == DURO_OK && a->changes.len) {
        if (!duro_clog_add(&a->log, DURO_CLOG_CHANGES, ns->name, ns->name_len, a->changes.data,
                           a->changes.len))
            return DURO_NOMEM;
        ns->logged = 1;
    }
    return st;
}

/* Ends the batch: each namespace's changes become one log record, the
 * records go out in one write and (with --sync full, or when a kind must
 * know the batch is durable) one fdatasync; then each namespace's savepoint
 * is released, its change notices go to the registry and its replies are
 * posted, in that order (registry.h). A namespace whose batch failed is
 * rolled back to before the batch and its writes get the error. */
static void finish(duro_actor *a, duro_ns *list)
{
    DURO_ASSERT_OWNER(a->owner);
    if (!list)
        return;
    int sync = 0;
    for (duro_ns *ns = list; ns; ns = ns->txn_next) {
        int st = ns->txn_failed;
        const char *why = ns->txn_why;
        if (st == DURO_OK && ns->dirty_kinds) { /* write-behind rides along */
            if (!ns->in_sql && (st = settle(a, ns)) == DURO_OK)
                st = duro_ns_batch_sql(ns);
            if (st == DURO_OK)
                st = flush_kinds(a, ns);
            if (st != DURO_OK)
                st = failure(ns, st, &why);
        }
        if (!a->commit_log)
            ns->commit_now = 1;
        if (st == DURO_OK && ns->commit_now) {
            if ((st = commit_now(a, ns)) != DURO_OK)
                st = failure(ns, st, &why);
        } else if (st == DURO_OK) {
            st = log_batch(a, ns);
            if (st != DURO_OK)
                st = failure(ns, st, &why);
            sync |= ns->txn_kinds != 0 || (a->store.sync_full && ns->logged);
        }
        ns->txn_failed = st;
        ns->txn_why = why;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t bytes = a->log.pending.len;
    sync = sync && (bytes || a->log.synced < a->log.size);
    int log_st = DURO_OK;
    const char *log_why = NULL;
    if (duro_clog_write(&a->log, sync) != 0) {
        int e = errno;
        duro_log_error("actor %u: commit log %s: %s", a->id, a->log.path, strerror(e));
        log_st = e == ENOSPC || e == EDQUOT ? DURO_INSUFFICIENT_STORAGE : DURO_IO;
        log_why = e == ENOSPC || e == EDQUOT ? duro_why_full : NULL;
        a->log_failed = 1;
    } else if (bytes || sync) {
        DURO_STAT_ADD(log_writes, 1);
        DURO_STAT_ADD(log_bytes, bytes);
        if (sync) {
            DURO_STAT_ADD(log_syncs, 1);
            duro_stats_commit(us_since(&t0));
        }
    }
    while (list) {
        duro_ns *ns = list;
        list = ns->txn_next;
        int st = ns->txn_failed;
        const char *why = ns->txn_why;
        if (st == DURO_OK && !ns->commit_now && log_st != DURO_OK) {
            st = log_st;
            why = log_why;
        }
        if (st == DURO_OK && !ns->commit_now)
            st = duro_ns_batch_release(ns);
        if (st != DURO_OK) {
            duro_log_error("namespace %s: batch failed: %s", ns->name, duro_errstr(st));
            DURO_STAT_ADD(commit_failures, 1);
            if (ns->commit_now != 2)
                undo_batch(a, ns);
            txn_ended(a, ns, 0);
        } else {
            DURO_STAT_ADD(commits, 1);
            duro_log_debug("actor %u: namespace %s committed version %lld (%s)", a->id, ns->name,
                           (long long)ns->version, ns->commit_now ? "SQLite COMMIT" : "log");
            txn_ended(a, ns, 1);
            duro_registry_notify(a->registry, ns);
        }
        ns->in_txn = 0;
        ns->commit_now = 0;
        duro_msg *m = ns->pending;
        ns->pending = NULL;
        ns->pending_tail = &ns->pending;
        while (m) {
            duro_msg *next = m->next;
            if (st != DURO_OK) {
                duro_buf_free(&m->body);
                m->version = -1;
                if (why)
                    duro_msg_fail(m, st, "%s; nothing was written", why);
                else
                    duro_msg_fail(m, st, "storage error, nothing was written: %s",
                                  duro_errstr(st));
            }
            reply(m);
            m = next;
        }
        if (ns->txn_lost == 2)
            ns_drop(a, ns, NS_FORCE); /* its records replay when it is opened again */
    }
}

/* exec answered DURO_DROP (kind.h): commits what the batch wrote to ns
 * (answering those writes), closes ns, removes its files, tells the registry
 * to forget it (after the notices of that commit), then answers m. */
static void drop_ns(duro_actor *a, duro_ns *ns, duro_msg *m, duro_ns **txn_list)
{
    DURO_ASSERT_OWNER(a->owner);
    assert(!ns->ghost);
    char name[DURO_NS_MAX + 1];
    size_t len = ns->name_len;
    memcpy(name, ns->name, len + 1);
    if (ns->in_txn) {
        duro_ns **pp = txn_list;
        while (*pp != ns)
            pp = &(*pp)->txn_next;
        *pp = ns->txn_next;
        ns->txn_next = NULL;
        finish(a, ns);
        ns = *slot(a, name, len); /* finish() closes a namespace it could not recover */
    }
    /* the deletion is in the log before the files go: a replay of the
     * records before it does not bring the namespace back */
    char err[256];
    const char *why = NULL;
    int st = DURO_OK;
    if (!duro_clog_add(&a->log, DURO_CLOG_DROP, name, len, NULL, 0)) {
        st = DURO_NOMEM;
        snprintf(err, sizeof err, "out of memory");
    } else if (duro_clog_write(&a->log, 1) != 0) {
        st = DURO_IO;
        snprintf(err, sizeof err, "commit log: %s", strerror(errno));
        a->log_failed = 1;
    }
    if (st != DURO_OK) {
        duro_log_error("namespace %s: %s", name, err);
        duro_buf_free(&m->body);
        duro_msg_fail(m, st, "cannot delete the namespace: %s", duro_errstr(st));
        outbox_add(a, m);
        return;
    }
    if (ns)
        ns_drop(a, ns, NS_DISCARD);
    ssize_t u = a->n_unapplied ? unapplied_find(a, name, len) : -1;
    if (u >= 0)
        unapplied_del(a, (size_t)u);
    a->drops++;
    st = duro_ns_remove(&a->store, name, len, &why, err, sizeof err);
    if (st != DURO_OK) {
        duro_log_error("namespace %s: %s", name, err);
        duro_buf_free(&m->body);
        duro_msg_fail(m, st, "cannot delete the namespace: %s", why ? why : duro_errstr(st));
    }
    if (!duro_ns_exists(&a->store, name, len)) /* also after a later step failed */
        duro_registry_forget(a->registry, name, len);
    outbox_add(a, m);
}

/* Deletes due keys of every open namespace that has some, in small batches. */
static void sweep(duro_actor *a, int64_t now)
{
    DURO_ASSERT_OWNER(a->owner);
    for (duro_ns *ns = a->lru_head; ns; ns = ns->lnext) {
        if (!ns->has_ttl)
            continue;
        for (int kind = 0; kind < DURO_KIND_MAX; kind++) {
            const duro_kind *ops = duro_kind_get(a->kinds, kind);
            if (!ops || !ops->sweep)
                continue;
            if (settle(a, ns) != DURO_OK || duro_ns_batch_begin(ns) != DURO_OK)
                continue;
            int n = ops->sweep(ns, now, SWEEP_BATCH);
            if (solo_end(a, ns, n < 0 ? DURO_IO : DURO_OK) == DURO_OK)
                DURO_STAT_ADD(keys_expired, (uint64_t)n);
        }
    }
}

/* Opens a namespace by name for an apply pass (no client waits). */
static duro_ns *ns_open_name(duro_actor *a, const char *name)
{
    duro_msg m;
    memset(&m, 0, sizeof m);
    m.ns_len = strlen(name);
    if (m.ns_len > DURO_NS_MAX)
        return NULL;
    memcpy(m.ns, name, m.ns_len + 1);
    return ns_open(a, &m);
}

/* A due apply, spread over loop turns: in each, between mailbox batches,
 * the open namespaces' oldest deferred rows are written to their open
 * transactions for at most DURO_DRIP_US, so that no request waits behind
 * the whole of it (at 50k writes/s an apply is ~10k upserts, ~13 ms here);
 * rows written again meanwhile are pinned anew and go with a later step.
 * 1 when nothing is left to write (or the drip has taken DURO_DRIP_MAX_MS:
 * apply_all() then writes the rest at once) and apply_all() may commit. */
static int drip(duro_actor *a, int64_t now)
{
    DURO_ASSERT_OWNER(a->owner);
    if (now - a->drip_since_ms >= DURO_DRIP_MAX_MS)
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (duro_ns *ns = a->lru_head; ns; ns = ns->lnext)
        while (ns->defer_kinds) {
            if (us_since(&t0) >= DURO_DRIP_US)
                return 0;
            DURO_STAT_ADD(drip_steps, 1);
            if (settle_rows(a, ns, DURO_DRIP_ROWS) != DURO_OK)
                break; /* rolled back and replayed (settle_rows()): apply_all() tries again */
        }
    return 1;
}

/* After an apply gave back the raised SQLite page caches (up to 16 MiB a
 * namespace, runtime/store.c): their pages lie between live allocations, where
 * malloc keeps them; malloc_trim() returns the whole free pages among them to
 * the kernel (at 1M cached keys ~12 MiB of RSS). At most once a second in the
 * process, since it walks every arena's free lists: 0 if it had to wait (the
 * actor tries again on a later loop turn, a->trim_pending), else 1. */
static int trim_memory(int64_t now)
{
#ifdef __GLIBC__
    static int64_t last; /* atomic */
    int64_t was = __atomic_load_n(&last, __ATOMIC_RELAXED);
    if (now - was < 1000 ||
        !__atomic_compare_exchange_n(&last, &was, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return 0;
    malloc_trim(0);
#else
    (void)now;
#endif
    return 1;
}

/* Applies every open transaction to its file; when nothing the log holds is
 * missing from the files any more, the log is cut back to its header. */
static void apply_all(duro_actor *a)
{
    DURO_ASSERT_OWNER(a->owner);
    int left = 0, raised = a->lru.raised;
    for (duro_ns *ns = a->lru_head; ns; ns = ns->lnext)
        if (apply_ns(a, ns) != DURO_OK)
            left = 1;
    for (size_t i = 0; i < a->n_unapplied;) {
        size_t before = a->n_unapplied;
        duro_ns *ns = ns_open_name(a, a->unapplied[i]); /* replays: then off the list */
        if (!ns || apply_ns(a, ns) != DURO_OK)
            left = 1;
        if (a->n_unapplied == before)
            i++;
    }
    if (!left && !a->n_unapplied && duro_clog_reset(&a->log) == 0)
        a->log_failed = 0;
    if (raised && !a->lru.raised)
        a->trim_pending = !trim_memory(duro_now_ms());
}

/* kind.h: prefetch, for m's namespace if it is open. */
static void prefetch(duro_actor *a, const duro_msg *m, int stage)
{
    const duro_kind *ops = duro_kind_get(a->kinds, m->kind);
    if (!ops || !ops->prefetch)
        return;
    const duro_ns *ns = *slot(a, m->ns, m->ns_len);
    if (ns)
        ops->prefetch(ns, m, stage);
}

static void *actor_main(void *arg)
{
    duro_actor *a = arg;
    char name[16];
    snprintf(name, sizeof name, "duro-actor-%u", a->id % 1000);
    pthread_setname_np(pthread_self(), name);
    /* from here on only this thread touches the actor, its cache and namespaces */
    duro_owner_set(&a->owner);
    duro_owner_set(&a->lru.owner);
    duro_owner_set(&a->log.owner);
    for (;;) {
        int64_t now = duro_now_ms();
        int64_t next = a->next_sweep_ms < a->next_flush_ms ? a->next_sweep_ms : a->next_flush_ms;
        if (a->next_apply_ms < next)
            next = a->next_apply_ms;
        int wait = (int)(next - now);
        if (wait < 0)
            wait = 0;
        size_t n;
        duro_msg *batch = duro_mailbox_take(&a->mailbox, wait, &n);
        now = duro_now_ms();
        if (batch) {
            duro_ns *txn_list = NULL;
            while (batch) {
                duro_msg *m = batch;
                batch = m->next;
                if (batch) { /* the next two: their memory loads while m runs */
                    prefetch(a, batch, 1);
                    if (batch->next)
                        prefetch(a, batch->next, 0);
                }
                run_one(a, m, &txn_list, now);
            }
            outbox_flush(a);
            finish(a, txn_list);
        } else if (duro_mailbox_closed(&a->mailbox)) {
            break;
        }
        if (now >= a->next_sweep_ms) {
            sweep(a, now);
            a->next_sweep_ms = now + a->ttl_sweep_ms;
        }
        if (now >= a->next_flush_ms) {
            for (duro_ns *ns = a->lru_head; ns; ns = ns->lnext)
                flush_alone(a, ns);
            a->next_flush_ms = now + DURO_FLUSH_MS;
        }
        /* due: dripped over the next turns (the wait above is 0 meanwhile);
         * a full log or cache, or a failed log, applies at once */
        int urgent = a->log.size >= DURO_APPLY_LOG_BYTES || a->log_failed ||
                     a->lru.pinned_bytes > a->lru.budget / 2;
        if (now >= a->next_apply_ms && !urgent && !a->drip_since_ms)
            a->drip_since_ms = now;
        if (urgent || (a->drip_since_ms && drip(a, now))) {
            apply_all(a);
            a->drip_since_ms = 0;
            a->next_apply_ms = now + DURO_APPLY_MS;
        }
        if (a->trim_pending && trim_memory(now))
            a->trim_pending = 0;
        duro_lru_evict(&a->lru);
        ns_trim(a);
    }
    while (a->lru_head)
        ns_drop(a, a->lru_head, NS_FORCE);
    if (!a->n_unapplied)
        duro_clog_empty(&a->log); /* a clean stop: nothing to replay */
    duro_ns_close(a->ghost);
    a->ghost = NULL;
    return NULL;
}

int duro_actor_start(duro_actor *a)
{
    a->outbox = NULL;
    a->outbox_tail = &a->outbox;
    a->table_mask = 1023;
    a->table = calloc(a->table_mask + 1, sizeof *a->table);
    if (!a->table)
        return -1;
    a->next_sweep_ms = duro_now_ms() + a->ttl_sweep_ms;
    a->next_flush_ms = duro_now_ms() + DURO_FLUSH_MS;
    a->next_apply_ms = duro_now_ms() + DURO_APPLY_MS;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 4u << 20);
    int rc = pthread_create(&a->thread, &attr, actor_main, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(a->table);
        a->table = NULL;
        return -1;
    }
    return 0;
}

void duro_actor_stop(duro_actor *a)
{
    duro_mailbox_close(&a->mailbox);
    pthread_join(a->thread, NULL);
    free(a->table);
    a->table = NULL;
    duro_owner_set(&a->log.owner);
    duro_clog_close(&a->log);
    duro_buf_free(&a->changes);
    for (size_t i = 0; i < a->n_unapplied; i++)
        free(a->unapplied[i]);
    free(a->unapplied);
    a->unapplied = NULL;
    a->n_unapplied = 0;
}
