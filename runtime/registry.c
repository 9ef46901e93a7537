/*
 * registry.c — the registry actor: reconcile at open, then one thread that
 * applies change notices in group commits, answers queries, and repairs the
 * index while running when notices were lost (see registry.h here and
 * objects/registry.h).
 *
 * Ownership: _registry.db (r->db) belongs to one thread at a time (r->owner,
 * runtime/owner.h): the opener while it reconciles, then the registry thread
 * from its start (duro_registry_close() touches it only after the join). The
 * functions that touch r->db assert it.
 */
#include "runtime/registry.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/errinj.h"
#include "common/log.h"
#include "runtime/mailbox.h"
#include "runtime/notice.h"
#include "runtime/owner.h"
#include "runtime/route.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"

/* How long applied notices may wait for their registry COMMIT. */
#define DURO_REGISTRY_COMMIT_MS 100
/* The repair after lost notices: its first try this long after the loss,
 * doubling after each failed try up to the maximum; at most STEP namespaces
 * between two looks at the mailbox; a set of namespaces to rebuild larger
 * than SET_MAX bytes of names is dropped for a walk over every file. */
#define DURO_REPAIR_FIRST_MS 250
#define DURO_REPAIR_MAX_MS 30000
#define DURO_REPAIR_STEP 32
#define DURO_REPAIR_SET_MAX (1u << 20)
/* Records a fold holds at most before it is applied (see "folding"). */
#define DURO_FOLD_MAX 65536

/* A resource's latest record in the fold's map: rec points into the body of
 * m, a notice waiting in the fold. */
typedef struct fold_slot {
    const char *rec;
    const duro_msg *m;
    uint64_t hash;
} fold_slot;

struct duro_registry {
    pthread_t thread;
    int started;
    duro_mailbox mailbox;
    size_t max_mailbox; /* queued queries; notices are never refused */
    size_t max_reply;   /* largest reply tape of a query */
    int actors;         /* the runtime's, for server.info */
    int64_t started_ms;
    size_t queries;     /* queued queries (atomic) */
    const duro_registry_store *store;
    duro_registry_db *db;
    int in_txn, failed; /* the open group transaction (registry thread only) */
    int64_t commit_due;
    int dropped;           /* an owner could not hand notices over (atomic) */
    duro_store_config cfg; /* data_dir borrowed from the runtime */
    duro_owner owner;      /* the one thread that touches db (see above) */

    /* repair (registry thread only; see "repair while running" below) */
    duro_buf group_ns;    /* namespaces of the open group, NUL-terminated names */
    size_t group_last;    /* offset of the last name in group_ns */
    int tainted;          /* notices were lost: versions are not recorded */
    duro_buf repair;      /* namespaces to rebuild, NUL-terminated names */
    int repair_all;       /* walk every namespace file, rebuilding changed ones */
    int forget_versions;  /* drop every recorded version first (see settle()) */
    int walk_shard;       /* the walk's next shard directory, 0..256 */
    DIR *walk_dir;        /* ...and the one being read */
    int64_t repair_due;   /* when the next repair step may run; 0: none pending */
    int repair_delay;     /* ms until a failed try is tried again */
    int repair_finishing; /* nothing left: the open group ends the repair */
    int repair_partial;   /* a namespace could not be read: the next start finishes */
    int guard;            /* a rebuild ran: skip notices the index already holds */

    /* folding (registry thread only; see "folding" below) */
    duro_msg *fold_head, **fold_tail; /* notices waiting, in arrival order */
    size_t fold_recs;                 /* their records */
    fold_slot *fold_map;              /* open addressing, fold_cap slots (a power of 2) */
    size_t fold_cap, fold_alloc;
    duro_buf fold_out; /* the records of one apply */
};

/* ---- reconcile ---- */

/* Brings the registry's rows of one namespace file up to date. */
static int reconcile_ns(duro_registry *r, const char *name, size_t n, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
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
    if ((st = r->store->sql(r->db, "SAVEPOINT ns")) != DURO_OK) {
        duro_ns_close(ns);
        return st;
    }
    int64_t known = -1;
    int found = r->store->version(r->db, name, n, &known);
    if (found < 0)
        st = -found;
    else if (!found || known != ns->version_committed)
        st = r->store->rebuild(r->db, name, n, ns->db, ns->version_committed, now, NULL);
    duro_ns_close(ns);
    if (st != DURO_OK) {
        duro_log_error("registry: namespace %.*s could not be indexed: %s", (int)n, name,
                       duro_errstr(st));
        if ((st = r->store->sql(r->db, "ROLLBACK TO ns")) == DURO_OK)
            st = r->store->forget(r->db, name, n);
    }
    int rel = r->store->sql(r->db, "RELEASE ns");
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
    return r->store->forget(r->db, ns, n);
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
        st = r->store->each_ns(r->db, forget_if_gone, r);
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
    DURO_ASSERT_OWNER(r->owner);
    if (!r->in_txn && !r->failed) {
        r->commit_due = now + DURO_REGISTRY_COMMIT_MS;
        r->failed = r->store->begin(r->db) != DURO_OK;
        r->in_txn = !r->failed;
    }
    return r->in_txn;
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

/* ---- repair while running ----
 *
 * Notices are lost when a group transaction fails (disk full, I/O error: the
 * rollback takes every notice of the group, and those that arrive before it
 * ends) or when an owner cannot hand them over (out of memory). The index is
 * then behind, and it repairs itself while running:
 *
 * - A failed group's namespaces (group_ns, every namespace a notice of the
 *   group named) join the repair set. The rows and recorded versions of the
 *   index are those of its last good commit, so they stay trustworthy.
 *   Notices lost by an owner name no namespace: the recorded versions are
 *   dropped (settle()) and every file is walked.
 * - From the loss until the repair ends the index is "tainted": no version
 *   is recorded, so a start in between rebuilds every namespace whose file
 *   moved on since the last good commit (reconcile()).
 * - DURO_REPAIR_FIRST_MS after the loss, and then in steps of at most
 *   DURO_REPAIR_STEP namespaces between mailbox batches (queries and notices
 *   go on meanwhile), each namespace of the set is rebuilt from its file, as
 *   at start, but through a separate read-only SQLite connection opened by
 *   this thread (WAL: a reader takes no lock an owner waits for, and sees
 *   the last commit; the owner actor is never asked or blocked; the file must
 *   exist, it is never created, but SQLite may leave an empty -wal and the
 *   -shm beside a file its owner has closed, until the owner opens and closes
 *   it again). The rebuild records the version read in the same read
 *   transaction. A walk does the same for every file whose version differs
 *   from the recorded one, then forgets namespaces whose file is gone.
 * - The rebuilds run inside the group transaction: if it fails again (the
 *   disk is still full) they are lost with it, their namespaces return to
 *   the set and the next try waits twice as long (up to DURO_REPAIR_MAX_MS).
 *   When the set is empty and the group holding the last rebuild commits,
 *   the repair ends: versions are recorded again.
 * - Ordering: an owner sends a commit's notice after the commit, so a
 *   rebuild may read a commit whose notice arrives later. From the first
 *   rebuild on (guard), a notice whose version is not above the one recorded
 *   for its namespace is skipped: the index already holds it. (The only
 *   notices that take no version, the TTL sweep's, delete expired keys that
 *   every query already drops.)
 * - A namespace that cannot be read (not locked or short of descriptors:
 *   those are tried again) is logged and left behind, and the index stays
 *   tainted until the next start, which rebuilds it.
 */

/* Adds ns to the namespaces of the open group (once in a row). */
static void note_group_ns(duro_registry *r, const char *ns, size_t n)
{
    if (r->group_ns.len && strlen(r->group_ns.data + r->group_last) == n &&
        memcmp(r->group_ns.data + r->group_last, ns, n) == 0)
        return;
    size_t at = r->group_ns.len;
    if (duro_buf_append(&r->group_ns, ns, n) != 0 || duro_buf_append(&r->group_ns, "", 1) != 0) {
        r->group_ns.len = at;
        r->repair_all = 1; /* cannot say which: walk them all if this group fails */
        return;
    }
    r->group_last = at;
}

static void schedule_repair(duro_registry *r, int64_t now)
{
    if (!r->repair_delay)
        r->repair_delay = DURO_REPAIR_FIRST_MS;
    r->repair_due = now + r->repair_delay;
}

/* Notices were lost: the index is behind until the repair ends. */
static void taint(duro_registry *r, int64_t now)
{
    if (!r->tainted)
        duro_log_error("registry: change notices were lost; repairing the index from the"
                       " namespace files");
    r->tainted = 1;
    r->repair_finishing = 0;
    schedule_repair(r, now);
}

/* Moves names (NUL-terminated, len bytes) into the repair set. */
static void repair_add(duro_registry *r, const char *names, size_t len)
{
    if (r->repair_all)
        return;
    if (r->repair.len + len > DURO_REPAIR_SET_MAX || duro_buf_append(&r->repair, names, len) != 0) {
        r->repair.len = 0;
        r->repair_all = 1;
    }
}

/* The group failed: its namespaces join the repair set, and a repair that
 * had reached its end tries again later. */
static void lose_group(duro_registry *r, int64_t now)
{
    repair_add(r, r->group_ns.data, r->group_ns.len);
    r->group_ns.len = 0;
    if (r->repair_due)
        r->repair_delay = r->repair_delay * 2 > DURO_REPAIR_MAX_MS ? DURO_REPAIR_MAX_MS
                                                                   : r->repair_delay * 2;
    taint(r, now);
}

/* Outside a transaction, once after an owner lost notices: drops the
 * recorded versions (so the walk, and a start before it ends, rebuild every
 * namespace), or, if the file cannot be written, removes it (the next start
 * rebuilds it). */
static void settle(duro_registry *r)
{
    DURO_ASSERT_OWNER(r->owner);
    if (!r->forget_versions || r->in_txn)
        return;
    r->forget_versions = 0;
    if (r->store->sql(r->db, "DELETE FROM namespaces") != DURO_OK)
        remove_files(r);
}

enum { REPAIRED, RETRY, UNREADABLE };

/* Reads the namespace's version in the open read transaction of nsdb. */
static int ns_version(sqlite3 *nsdb, int64_t *v)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(nsdb, "SELECT value FROM _duro_meta WHERE name = 'version'", -1,
                                &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Rebuilds ns's rows from nsdb (a read transaction is open on it) at the
 * version read there, unless !force and the recorded version is that one.
 * REPAIRED, RETRY or UNREADABLE; a failure to write the index fails the
 * group (r->failed) and counts as REPAIRED: the group's loss brings ns back. */
static int rebuild_from(duro_registry *r, const char *ns, size_t n, sqlite3 *nsdb, int force,
                        int64_t now)
{
    int64_t v = 0, known = -1;
    int rc = ns_version(nsdb, &v);
    if (rc != SQLITE_OK)
        return duro_status_from_db(nsdb, rc, NULL) == DURO_UNAVAILABLE ? RETRY : UNREADABLE;
    if (!force && r->store->version(r->db, ns, n, &known) == 1 && known == v)
        return REPAIRED;
    note_group_ns(r, ns, n);
    r->guard = 1;
    if (r->store->sql(r->db, "SAVEPOINT repair") != DURO_OK) {
        r->failed = 1;
        return REPAIRED;
    }
    int ns_failed = 0;
    int st = duro_errinj_hit(DURO_ERRINJ_REGISTRY_REBUILD)
                 ? DURO_INSUFFICIENT_STORAGE
                 : r->store->rebuild(r->db, ns, n, nsdb, v, now, &ns_failed);
    if (st != DURO_OK && r->store->sql(r->db, "ROLLBACK TO repair") != DURO_OK)
        r->failed = 1;
    if (r->store->sql(r->db, "RELEASE repair") != DURO_OK)
        r->failed = 1;
    if (st == DURO_OK || !ns_failed) {
        if (st != DURO_OK)
            r->failed = 1;
        return REPAIRED;
    }
    return st == DURO_UNAVAILABLE ? RETRY : UNREADABLE;
}

/* Brings the index's rows of one namespace up to date from its file (see
 * above). Inside the group transaction. */
static int repair_ns(duro_registry *r, const char *ns, size_t n, int force, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    char path[4096];
    struct stat sb;
    if (duro_ns_path(r->cfg.data_dir, ns, n, path, sizeof path, NULL) != 0)
        return UNREADABLE;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return RETRY;
        note_group_ns(r, ns, n);
        if (r->store->forget(r->db, ns, n) != DURO_OK)
            r->failed = 1;
        return REPAIRED;
    }
    sqlite3 *nsdb = NULL;
    int rc = sqlite3_open_v2(path, &nsdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    int out = UNREADABLE;
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(nsdb, 1);
        sqlite3_busy_timeout(nsdb, 100);
        rc = sqlite3_exec(nsdb, "BEGIN", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        out = rebuild_from(r, ns, n, nsdb, force, now);
        sqlite3_exec(nsdb, "COMMIT", NULL, NULL, NULL);
    } else if (duro_status_from_db(nsdb, rc, NULL) == DURO_UNAVAILABLE) {
        out = RETRY;
    }
    if (out == UNREADABLE)
        duro_log_error("registry: namespace %.*s cannot be read to repair the index (%s); the"
                       " next start rebuilds it",
                       (int)n, ns, nsdb ? sqlite3_errmsg(nsdb) : sqlite3_errstr(rc));
    sqlite3_close(nsdb);
    return out;
}

/* The walk's next namespace file name (without ".db") in name, 1; or 0 when
 * every shard directory was read. */
static int walk_next(duro_registry *r, char *name, size_t cap)
{
    for (;;) {
        if (!r->walk_dir) {
            if (r->walk_shard >= 256)
                return 0;
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/ns/%02x", r->cfg.data_dir, r->walk_shard++);
            if (!(r->walk_dir = opendir(dir)))
                continue;
        }
        struct dirent *f;
        while ((f = readdir(r->walk_dir))) {
            size_t len = strlen(f->d_name);
            const char *why;
            if (len > 3 && len - 3 < cap && strcmp(f->d_name + len - 3, ".db") == 0 &&
                duro_ns_valid(f->d_name, len - 3, &why) == 0 &&
                duro_route_shard(f->d_name, len - 3) == (unsigned)r->walk_shard - 1) {
                memcpy(name, f->d_name, len - 3);
                name[len - 3] = '\0';
                return 1;
            }
        }
        closedir(r->walk_dir);
        r->walk_dir = NULL;
    }
}

/* Takes the last name of the repair set into name. 0 if the set is empty. */
static int repair_pop(duro_registry *r, char *name, size_t cap)
{
    if (!r->repair.len)
        return 0;
    size_t end = r->repair.len - 1, start = end; /* repair.data[end] is its NUL */
    while (start > 0 && r->repair.data[start - 1] != '\0')
        start--;
    size_t n = end - start < cap ? end - start : cap - 1;
    memcpy(name, r->repair.data + start, n);
    name[n] = '\0';
    r->repair.len = start;
    return 1;
}

static int repair_pending(const duro_registry *r)
{
    return r->tainted && r->repair_due && !r->repair_finishing;
}

/* One step of the repair: up to DURO_REPAIR_STEP namespaces, inside the
 * group transaction. */
static void repair_step(duro_registry *r, int64_t now)
{
    if (!begin(r, now))
        return; /* the group failed: commit() schedules the next try */
    duro_buf retry = {0};
    char name[DURO_NS_MAX + 1];
    for (int done = 0; done < DURO_REPAIR_STEP && !r->failed; done++) {
        int from_set = repair_pop(r, name, sizeof name);
        if (!from_set && !(r->repair_all && walk_next(r, name, sizeof name)))
            break;
        int out = repair_ns(r, name, strlen(name), from_set, now);
        if (out == RETRY)
            duro_buf_append(&retry, name, strlen(name) + 1);
        else if (out == UNREADABLE)
            r->repair_partial = 1;
    }
    if (!r->failed && !r->repair.len && r->repair_all && !r->walk_dir && r->walk_shard >= 256) {
        if (r->store->each_ns(r->db, forget_if_gone, r) != DURO_OK)
            r->failed = 1;
        r->repair_all = 0;
        r->walk_shard = 0;
    }
    if (retry.len) {
        repair_add(r, retry.data, retry.len);
        r->repair_delay = r->repair_delay * 2 > DURO_REPAIR_MAX_MS ? DURO_REPAIR_MAX_MS
                                                                   : r->repair_delay * 2;
        schedule_repair(r, now);
    } else if (!r->failed && !r->repair.len && !r->repair_all) {
        r->repair_finishing = 1; /* ends when this group commits */
    }
    duro_buf_free(&retry);
}

/* The group that held the repair's last rebuilds committed. */
static void end_repair(duro_registry *r)
{
    r->repair_finishing = 0;
    r->repair_due = 0;
    r->repair_delay = 0;
    DURO_STAT_ADD(registry_repairs, 1);
    if (r->repair_partial) {
        duro_log_error("registry: repaired but for namespaces that could not be read; the next"
                       " start rebuilds them");
        return; /* stays tainted: versions are not recorded */
    }
    r->tainted = 0;
    duro_log_info("registry: the index is repaired");
}

/* 1 if the index already holds m's commit: a rebuild read it (see above). */
static int already_indexed(duro_registry *r, const duro_msg *m)
{
    int64_t known;
    return r->guard && r->store->version(r->db, m->ns, m->ns_len, &known) == 1 &&
           m->version <= known;
}

/* ---- folding ----
 *
 * The notices of a batch taken from the mailbox (up to 100 ms of commits)
 * wait in the fold, and are applied with only the last record of each
 * resource: a key written 40 times in that time costs one upsert instead of
 * 40. The index ends as if every record had been applied in order, since a
 * record replaces everything its row held (a PUT the whole row, a DEL the
 * row), and records of different resources do not interact. A CLEAR does
 * (it drops every row of a type), so a notice with one is applied alone,
 * after the fold. The fold is applied before anything else touches the
 * index — a query (which so still sees every notice sent before it), a
 * FORGET, a CLEAR, the end of the batch (before a repair step or the
 * commit) — and when it holds DURO_FOLD_MAX records. The namespace's version
 * is recorded with the last notice of each run of one namespace, as before;
 * all of it inside the group transaction, so a failure still loses the
 * whole group, and the repair brings it back. */

/* The resource a record names, and its hash with the namespace's (nsh). */
static uint64_t rec_hash(const char *rec, uint64_t nsh, const char **type, size_t *tl,
                         const char **key, size_t *kl)
{
    uint8_t t = (uint8_t)rec[1];
    uint32_t k;
    memcpy(&k, rec + 2 + t, 4);
    *type = rec + 2;
    *tl = t;
    *key = rec + 2 + t + 4;
    *kl = k;
    uint64_t h = duro_route_hash(*key, *kl) ^ (duro_route_hash(*type, *tl) * 0x9e3779b97f4a7c15u);
    return h ^ (nsh * 0xc2b2ae3d27d4eb4fu);
}

static int same_resource(const fold_slot *a, const char *rec, const duro_msg *m)
{
    if (a->m->ns_len != m->ns_len || memcmp(a->m->ns, m->ns, m->ns_len) != 0)
        return 0;
    const char *t1, *t2, *k1, *k2;
    size_t tl1, tl2, kl1, kl2;
    rec_hash(a->rec, 0, &t1, &tl1, &k1, &kl1);
    rec_hash(rec, 0, &t2, &tl2, &k2, &kl2);
    return tl1 == tl2 && kl1 == kl2 && memcmp(t1, t2, tl1) == 0 && memcmp(k1, k2, kl1) == 0;
}

/* The map's slot of rec's resource: where it is, or the empty one it goes to. */
static fold_slot *fold_find(duro_registry *r, const char *rec, const duro_msg *m, uint64_t h)
{
    size_t mask = r->fold_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        fold_slot *s = &r->fold_map[i];
        if (!s->rec || (s->hash == h && same_resource(s, rec, m)))
            return s;
    }
}

/* An empty map for n records. 0, or -1 on ENOMEM (then nothing is folded). */
static int fold_map_reset(duro_registry *r, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (cap > r->fold_alloc) {
        fold_slot *map = realloc(r->fold_map, cap * sizeof *map);
        if (!map)
            return -1;
        r->fold_map = map;
        r->fold_alloc = cap;
    }
    r->fold_cap = cap;
    memset(r->fold_map, 0, cap * sizeof *r->fold_map);
    return 0;
}

/* Steps through m's records (take_notice() found them well formed): *at
 * starts at m->body.data; 1 with the next one in *rec (*len bytes), 0 at the
 * end. */
static int next_record(const duro_msg *m, const char **at, const char **rec, size_t *len)
{
    duro_notice n;
    *rec = *at;
    if (duro_notice_next(at, m->body.data + m->body.len, &n) != 1)
        return 0;
    *len = (size_t)(*at - *rec);
    return 1;
}

/* Applies records[0..len) of namespace m->ns inside the open transaction
 * (begun on demand), recording version if >= 0. */
static void apply_records(duro_registry *r, const duro_msg *m, int64_t version,
                          const char *records, size_t len, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    if (!len && version < 0)
        return;
    if (!len)
        records = ""; /* every record folded away: only the version (never NULL + 0) */
    /* after a failure nothing more is applied: SQLite may have rolled the
     * transaction back itself, and the rest would land in autocommit */
    if (begin(r, now) && !r->failed &&
        (duro_errinj_hit(DURO_ERRINJ_REGISTRY_APPLY) ||
         r->store->apply(r->db, m->ns, m->ns_len, version, records, len) != DURO_OK))
        r->failed = 1;
}

/* Applies the fold (see above) and frees its notices. */
static void fold_apply(duro_registry *r, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    duro_msg *list = r->fold_head;
    size_t recs = r->fold_recs;
    r->fold_head = NULL;
    r->fold_tail = &r->fold_head;
    r->fold_recs = 0;
    /* a notice a rebuild already read is dropped (see "repair" above) */
    for (duro_msg **pp = &list; *pp;) {
        duro_msg *m = *pp;
        if (already_indexed(r, m)) {
            *pp = m->next;
            free_notice(m);
        } else {
            pp = &m->next;
        }
    }
    if (!list)
        return;
    int fold = list->next && fold_map_reset(r, recs) == 0;
    const char *type, *key, *at, *rec;
    size_t tl, kl, len;
    if (fold) /* each resource's slot ends at its last record */
        for (duro_msg *m = list; m; m = m->next) {
            uint64_t nsh = duro_route_hash(m->ns, m->ns_len);
            for (at = m->body.data; next_record(m, &at, &rec, &len);) {
                uint64_t h = rec_hash(rec, nsh, &type, &tl, &key, &kl);
                fold_slot *slot = fold_find(r, rec, m, h);
                slot->rec = rec;
                slot->m = m;
                slot->hash = h;
            }
        }
    /* the notices are freed only at the end: the map points into them all */
    for (duro_msg *run = list, *next; run; run = next) {
        duro_msg *last = run; /* a run of notices of one namespace */
        while (last->next && last->next->ns_len == run->ns_len &&
               memcmp(last->next->ns, run->ns, run->ns_len) == 0)
            last = last->next;
        next = last->next;
        int64_t version = r->tainted ? -1 : last->version;
        if (!fold) {
            for (duro_msg *m = run; m != next; m = m->next)
                apply_records(r, m, m == last ? version : -1, m->body.data, m->body.len, now);
            continue;
        }
        r->fold_out.len = 0;
        uint64_t nsh = duro_route_hash(run->ns, run->ns_len);
        size_t folded = 0;
        for (duro_msg *m = run; m != next; m = m->next)
            for (at = m->body.data; next_record(m, &at, &rec, &len);) {
                uint64_t h = rec_hash(rec, nsh, &type, &tl, &key, &kl);
                if (fold_find(r, rec, m, h)->rec != rec)
                    folded++;
                else if (duro_buf_append(&r->fold_out, rec, len) != 0)
                    r->failed = 1; /* out of memory: the group is lost, and repaired */
            }
        DURO_STAT_ADD(registry_folded, folded);
        apply_records(r, run, version, r->fold_out.data, r->fold_out.len, now);
    }
    while (list) {
        duro_msg *next = list->next;
        free_notice(list);
        list = next;
    }
    if (r->fold_out.cap > (1u << 20))
        duro_buf_free(&r->fold_out);
}

/* Takes a change notice: into the fold, or, if it holds a CLEAR (or is
 * malformed: then the apply fails the group), applied alone after it. */
static void take_notice(duro_registry *r, duro_msg *m, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    note_group_ns(r, m->ns, m->ns_len);
    const char *p = m->body.data, *end = p + m->body.len;
    duro_notice n;
    size_t recs = 0;
    int rc, alone = 0;
    while ((rc = duro_notice_next(&p, end, &n)) == 1) {
        recs++;
        alone |= n.op == DURO_NOTICE_CLEAR;
    }
    if (rc < 0 || alone) {
        fold_apply(r, now);
        if (!already_indexed(r, m))
            apply_records(r, m, r->tainted ? -1 : m->version, m->body.data, m->body.len, now);
        free_notice(m);
        return;
    }
    if (r->fold_recs + recs > DURO_FOLD_MAX)
        fold_apply(r, now);
    m->next = NULL;
    *r->fold_tail = m;
    r->fold_tail = &m->next;
    r->fold_recs += recs;
}

/* An owner deleted m's namespace: forgets it inside the open transaction.
 * If this group fails, the repair finds the file gone and forgets it then. */
static void forget(duro_registry *r, duro_msg *m, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    note_group_ns(r, m->ns, m->ns_len);
    if (begin(r, now) && !r->failed && r->store->forget(r->db, m->ns, m->ns_len) != DURO_OK)
        r->failed = 1;
    free(m);
}

static void commit(duro_registry *r, int64_t now)
{
    DURO_ASSERT_OWNER(r->owner);
    if (r->in_txn && (r->failed || r->store->commit(r->db) != DURO_OK)) {
        r->store->rollback(r->db);
        r->failed = 1;
    }
    if (r->failed) {
        DURO_STAT_ADD(registry_failures, 1);
        lose_group(r, now);
    } else {
        DURO_STAT_ADD(registry_commits, 1);
        r->group_ns.len = 0;
        if (r->repair_finishing)
            end_repair(r);
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
 * for a wake-up, never what a query sees. A repair (above) runs in steps
 * between batches. */
static void *registry_main(void *arg)
{
    duro_registry *r = arg;
    pthread_setname_np(pthread_self(), "duro-registry");
    duro_owner_set(&r->owner); /* handed over by duro_registry_open() */
    for (;;) {
        int64_t now = duro_now_ms();
        int64_t due = INT64_MAX;
        if (r->in_txn || r->failed)
            due = r->commit_due;
        if (repair_pending(r) && r->repair_due < due)
            due = r->repair_due;
        int wait = due == INT64_MAX ? -1 : due <= now ? 0 : (int)(due - now);
        size_t n;
        duro_msg *batch = duro_mailbox_take_lazy(&r->mailbox, wait, &n);
        now = duro_now_ms();
        while (batch) {
            duro_msg *m = batch;
            batch = m->next;
            if (m->op == DURO_REGISTRY_NOTICE) {
                DURO_STAT_ADD(registry_notices, 1);
                take_notice(r, m, now);
                continue;
            }
            fold_apply(r, now); /* everything below sees every notice before it */
            if (m->op == DURO_REGISTRY_FORGET) {
                forget(r, m, now);
                continue;
            }
            DURO_STAT_ADD(registry_queries, 1);
            __atomic_fetch_sub(&r->queries, 1, __ATOMIC_RELAXED);
            m->status = DURO_OK;
            m->version = -1;
            duro_registry_env env = {r->cfg.data_dir, r->cfg.sync_full, r->actors,
                                     r->started_ms,   now,              r->max_reply};
            if (begin(r, now))
                r->store->exec(r->db, m, &env);
            else
                duro_msg_fail(m, DURO_INTERNAL, "the registry cannot open a transaction");
            m->done(m);
        }
        fold_apply(r, now);
        if (__atomic_exchange_n(&r->dropped, 0, __ATOMIC_ACQ_REL)) {
            r->forget_versions = 1;
            r->repair_all = 1;
            taint(r, now);
        }
        if (!duro_mailbox_closed(&r->mailbox) && repair_pending(r) && now >= r->repair_due &&
            !r->forget_versions)
            repair_step(r, now);
        if ((r->in_txn || r->failed) && (now >= r->commit_due || duro_mailbox_closed(&r->mailbox)))
            commit(r, now);
        settle(r);
        if (!r->in_txn && !r->failed && duro_mailbox_closed(&r->mailbox) &&
            duro_mailbox_depth(&r->mailbox) == 0)
            break;
    }
    if (r->walk_dir)
        closedir(r->walk_dir);
    duro_buf_free(&r->group_ns);
    duro_buf_free(&r->repair);
    duro_buf_free(&r->fold_out);
    free(r->fold_map);
    return NULL;
}

/* ---- the interface ---- */

int duro_registry_open(const duro_store_config *cfg, const duro_registry_store *store,
                       size_t max_mailbox, size_t max_reply, int actors, duro_registry **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    duro_registry *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return DURO_NOMEM;
    }
    r->cfg = *cfg;
    r->store = store;
    r->max_mailbox = max_mailbox;
    r->max_reply = max_reply;
    r->actors = actors;
    r->started_ms = duro_now_ms();
    r->fold_tail = &r->fold_head;
    duro_owner_set(&r->owner); /* until the thread starts */
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
        if ((st = r->store->open(path, &r->db, err, errlen)) != DURO_OK)
            continue;
        if ((st = r->store->begin(r->db)) == DURO_OK && (st = reconcile(r)) == DURO_OK)
            st = r->store->commit(r->db);
        if (st != DURO_OK) {
            r->store->rollback(r->db);
            snprintf(err, errlen, "cannot reconcile the registry: %s", duro_errstr(st));
            r->store->close(r->db);
            r->db = NULL;
        }
    }
    if (st != DURO_OK) {
        free(r);
        return st;
    }
    if (duro_mailbox_init(&r->mailbox, SIZE_MAX) != 0) {
        r->store->close(r->db);
        free(r);
        snprintf(err, errlen, "cannot start the registry");
        return DURO_INTERNAL;
    }
    if (pthread_create(&r->thread, NULL, registry_main, r) != 0) {
        duro_mailbox_destroy(&r->mailbox);
        r->store->close(r->db);
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
    DURO_ASSERT_OWNER(ns->owner);
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
    m->version = ns->version_committed;
    m->body = ns->notes;
    ns->notes = (duro_buf){0};
    if (duro_mailbox_push_lazy(&r->mailbox, m) != 0) {
        __atomic_store_n(&r->dropped, 1, __ATOMIC_RELEASE); /* only after close: ignored */
        duro_log_error("registry: stopped; namespace %s is behind until the next start", ns->name);
        free_notice(m);
    }
}

void duro_registry_forget(duro_registry *r, const char *name, size_t len)
{
    duro_msg *m = calloc(1, sizeof *m);
    if (!m) { /* the walk of the repair forgets namespaces whose file is gone */
        __atomic_store_n(&r->dropped, 1, __ATOMIC_RELEASE);
        duro_log_error("registry: out of memory; namespace %.*s is forgotten by the repair",
                       (int)len, name);
        return;
    }
    m->kind = DURO_KIND_REGISTRY;
    m->op = DURO_REGISTRY_FORGET;
    memcpy(m->ns, name, len);
    m->ns[len] = '\0';
    m->ns_len = len;
    if (duro_mailbox_push_lazy(&r->mailbox, m) != 0)
        free(m); /* stopping: the next start's reconcile forgets it */
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
    r->store->close(r->db);
    free(r);
}
