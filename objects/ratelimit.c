/*
 * ratelimit.c — the GCRA rate limiter (see ratelimit.h).
 *
 * DESIGN
 * State lives in memory, per namespace (ns->kind_state), one entry per key:
 * the TAT in nanoseconds and the limit/window last used. A check is answered
 * from memory and marks the entry dirty; dirty entries are written behind into
 * _duro_ratelimit, inside the namespace's next commit or at the latest by the
 * actor's periodic flush (every 100 ms), and before the namespace is closed or
 * the server stops. So a clean restart forgets nothing, and a crash (kill -9,
 * power loss) forgets at most the checks of the last ~100 ms: those keys may
 * allow up to that many extra requests after the restart. Entries whose bucket
 * has refilled carry no information and may be dropped from memory.
 */
#include "objects/ratelimit.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "objects/ratelimit_req.h"
#include "common/tape.h"
#include "runtime/route.h"
#include "common/codec.h"

enum { ST_LOAD = 32, ST_SAVE, ST_DELETE };

static const char SQL_LOAD[] =
    "SELECT tat, lim, window_ms FROM _duro_ratelimit WHERE key = ?1";
static const char SQL_SAVE[] =
    "INSERT OR REPLACE INTO _duro_ratelimit(key, tat, lim, window_ms) VALUES(?1, ?2, ?3, ?4)";
static const char SQL_DELETE[] = "DELETE FROM _duro_ratelimit WHERE key = ?1 RETURNING tat";

typedef struct rl_entry rl_entry;
struct rl_entry {
    rl_entry *next;
    uint64_t hash;
    int64_t tat; /* ns since the epoch */
    int64_t limit, window_ms;
    int dirty;
    size_t key_len;
    char key[];
};

typedef struct rl_table {
    rl_entry **buckets;
    size_t mask, count;
} rl_table;

void duro_rl_req_free(duro_rl_req *r)
{
    if (r) {
        free(r->key);
        free(r);
    }
}

static rl_table *table_of(duro_ns *ns, int create)
{
    rl_table *t = ns->kind_state[DURO_KIND_RATELIMIT];
    if (t || !create)
        return t;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->mask = 255;
    t->buckets = calloc(t->mask + 1, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    ns->kind_state[DURO_KIND_RATELIMIT] = t;
    return t;
}

static rl_entry **find(rl_table *t, uint64_t h, const char *key, size_t n)
{
    rl_entry **pp = &t->buckets[h & t->mask];
    while (*pp && !((*pp)->hash == h && (*pp)->key_len == n && memcmp((*pp)->key, key, n) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void grow(rl_table *t)
{
    size_t nmask = t->mask * 2 + 1;
    rl_entry **nb = calloc(nmask + 1, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        for (rl_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = nb[e->hash & nmask];
            nb[e->hash & nmask] = e;
        }
    free(t->buckets);
    t->buckets = nb;
    t->mask = nmask;
}

/* Drops clean entries from memory: first those whose bucket is full again
 * (they say nothing), then any clean one, until the table is under the cap. */
static void trim(rl_table *t, int64_t now_ns)
{
    for (int pass = 0; pass < 2 && t->count > DURO_RL_KEYS_MAX / 2; pass++)
        for (size_t i = 0; i <= t->mask; i++)
            for (rl_entry **pp = &t->buckets[i]; *pp;) {
                rl_entry *e = *pp;
                if (!e->dirty && (pass == 1 || e->tat <= now_ns)) {
                    *pp = e->next;
                    free(e);
                    t->count--;
                } else {
                    pp = &e->next;
                }
            }
}

/* The key's entry, loaded from disk or created fresh. NULL with *st set on
 * failure. */
static rl_entry *entry(duro_ns *ns, const duro_rl_req *r, int64_t now_ns, int *st)
{
    rl_table *t = table_of(ns, 1);
    if (!t) {
        *st = DURO_NOMEM;
        return NULL;
    }
    uint64_t h = duro_route_hash(r->key, r->key_len);
    rl_entry **pp = find(t, h, r->key, r->key_len);
    if (*pp)
        return *pp;
    rl_entry *e = calloc(1, sizeof *e + r->key_len);
    if (!e) {
        *st = DURO_NOMEM;
        return NULL;
    }
    e->hash = h;
    e->key_len = r->key_len;
    memcpy(e->key, r->key, r->key_len);
    sqlite3_stmt *s = duro_ns_stmt(ns, ST_LOAD, SQL_LOAD);
    if (!s) {
        free(e);
        *st = DURO_INTERNAL;
        return NULL;
    }
    sqlite3_bind_text(s, 1, r->key, (int)r->key_len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        e->tat = sqlite3_column_int64(s, 0);
        e->limit = sqlite3_column_int64(s, 1);
        e->window_ms = sqlite3_column_int64(s, 2);
    } else if (rc != SQLITE_DONE) {
        free(e);
        *st = duro_status_from_sqlite(rc);
        return NULL;
    }
    sqlite3_reset(s);
    if (t->count >= DURO_RL_KEYS_MAX)
        trim(t, now_ns);
    if (t->count >= t->mask + 1)
        grow(t);
    pp = find(t, h, r->key, r->key_len);
    e->next = *pp;
    *pp = e;
    t->count++;
    return e;
}

static int64_t ceil_ms(int64_t ns) { return ns <= 0 ? 0 : (ns + 999999) / 1000000; }

/* One GCRA step for r at now_ms: fills the figures and stores the new TAT
 * when allowed. DURO_OK, or a storage status. */
static int gcra(duro_ns *ns, const duro_rl_req *r, int64_t now_ms, int *allowed,
                int64_t *remaining, int64_t *reset_ms, int64_t *retry_ms)
{
    int64_t now = now_ms * 1000000;
    int st = DURO_OK;
    rl_entry *e = entry(ns, r, now, &st);
    if (!e)
        return st;
    int64_t window = r->window_ms * 1000000;
    int64_t t = window / r->limit; /* emission interval */
    if (t < 1)
        t = 1;
    int64_t tat = e->tat > now ? e->tat : now;
    int64_t new_tat = tat + r->cost * t;
    if (new_tat < now) /* a refund (cost < 0) fills the bucket at most */
        new_tat = now;
    *allowed = new_tat - now <= window;
    if (*allowed && r->cost != 0) {
        e->tat = new_tat;
        e->limit = r->limit;
        e->window_ms = r->window_ms;
        if (!e->dirty) {
            e->dirty = 1;
            ns->dirty_kinds |= 1u << DURO_KIND_RATELIMIT;
        }
        tat = new_tat;
    }
    int64_t rem = (window - (tat - now)) / t;
    *remaining = rem < 0 ? 0 : rem > r->limit ? r->limit : rem;
    *reset_ms = ceil_ms(tat - now);
    *retry_ms = *allowed ? 0 : ceil_ms(new_tat - window - now);
    return DURO_OK;
}

int duro_rl_charge(duro_ns *ns, const char *key, size_t key_len, int64_t limit,
                   int64_t window_ms, int64_t cost, int64_t now_ms, int *allowed,
                   int64_t *remaining, int64_t *retry_ms)
{
    duro_rl_req r = {(char *)key, key_len, limit, window_ms, cost, 0, 1};
    int64_t reset;
    return gcra(ns, &r, now_ms, allowed, remaining, &reset, retry_ms);
}

static int check(duro_ns *ns, duro_msg *m, const duro_rl_req *r, int64_t now_ms)
{
    int allowed;
    int64_t remaining, reset, retry;
    int st = gcra(ns, r, now_ms, &allowed, &remaining, &reset, &retry);
    if (st != DURO_OK)
        return duro_ns_fail(ns, m, -st);
    m->rl.set = 1;
    m->rl.limit = r->limit;
    m->rl.remaining = remaining;
    m->rl.reset_ms = reset;
    m->rl.retry_after_ms = retry;
    if (!allowed && r->enforce)
        return duro_msg_fail(m, DURO_RATE_LIMITED, "rate limit exceeded; retry in %lld ms",
                             (long long)retry);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 5);
    duro_tape_lit(&pk, "allowed");
    if (allowed)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    duro_tape_lit(&pk, "remaining");
    msgpack_pack_int64(&pk, remaining);
    duro_tape_lit(&pk, "limit");
    msgpack_pack_int64(&pk, r->limit);
    duro_tape_lit(&pk, "resetMs");
    msgpack_pack_int64(&pk, m->rl.reset_ms);
    duro_tape_lit(&pk, "retryAfterMs");
    msgpack_pack_int64(&pk, retry);
    return DURO_OK;
}

static int reset(duro_ns *ns, duro_msg *m, const duro_rl_req *r, int64_t now_ms)
{
    int live = 0;
    rl_table *t = table_of(ns, 0);
    if (t) {
        rl_entry **pp = find(t, duro_route_hash(r->key, r->key_len), r->key, r->key_len);
        if (*pp) {
            rl_entry *e = *pp;
            live = e->tat > now_ms * 1000000;
            *pp = e->next;
            free(e);
            t->count--;
        }
    }
    sqlite3_stmt *s = duro_ns_stmt(ns, ST_DELETE, SQL_DELETE);
    if (!s)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    sqlite3_bind_text(s, 1, r->key, (int)r->key_len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { /* state that was only on disk counts too */
        live |= sqlite3_column_int64(s, 0) > now_ms * 1000000;
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    if (live)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    return DURO_OK;
}

/* The limit and window r runs with: its own, or, when the call gave neither,
 * the key's stored ones if it has any (the policy of its last explicit
 * check), else the defaults r carries. */
static int policy(duro_ns *ns, duro_msg *m, const duro_rl_req *r, int64_t now, duro_rl_req *out)
{
    *out = *r;
    if (r->explicit_params)
        return DURO_OK;
    int st = DURO_OK;
    rl_entry *e = entry(ns, r, now * 1000000, &st);
    if (!e)
        return duro_ns_fail(ns, m, -st);
    if (e->limit > 0) {
        out->limit = e->limit;
        out->window_ms = e->window_ms;
    }
    if (out->cost > out->limit)
        return duro_msg_fail(m, DURO_BAD_REQUEST,
                             "\"cost\" (%lld) is larger than the key's limit (%lld): never allowed",
                             (long long)out->cost, (long long)out->limit);
    if (out->cost < -out->limit)
        return duro_msg_fail(m, DURO_BAD_REQUEST,
                             "\"cost\" (%lld) gives back more than the key's limit (%lld) tokens",
                             (long long)out->cost, (long long)out->limit);
    return DURO_OK;
}

static int rl_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    duro_rl_req *r = m->req;
    duro_rl_req p;
    int st;
    switch (m->op) {
    case DURO_RL_CHECK:
        if ((st = policy(ns, m, r, now, &p)) != DURO_OK)
            return st;
        return check(ns, m, &p, now);
    case DURO_RL_GET:
        if ((st = policy(ns, m, r, now, &p)) != DURO_OK)
            return st;
        p.cost = 0;
        p.enforce = 0;
        return check(ns, m, &p, now);
    case DURO_RL_RESET:
        return reset(ns, m, r, now);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown ratelimit operation");
    }
}

static int rl_flush(duro_ns *ns)
{
    rl_table *t = table_of(ns, 0);
    ns->dirty_kinds &= ~(1u << DURO_KIND_RATELIMIT);
    if (!t)
        return 0;
    sqlite3_stmt *s = duro_ns_stmt(ns, ST_SAVE, SQL_SAVE);
    if (!s)
        return -1;
    for (size_t i = 0; i <= t->mask; i++)
        for (rl_entry *e = t->buckets[i]; e; e = e->next) {
            if (!e->dirty)
                continue;
            sqlite3_reset(s);
            sqlite3_bind_text(s, 1, e->key, (int)e->key_len, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, e->tat);
            sqlite3_bind_int64(s, 3, e->limit);
            sqlite3_bind_int64(s, 4, e->window_ms);
            if (sqlite3_step(s) != SQLITE_DONE) {
                sqlite3_reset(s);
                ns->dirty_kinds |= 1u << DURO_KIND_RATELIMIT;
                return -1;
            }
            e->dirty = 0;
        }
    sqlite3_reset(s);
    return 0;
}

static void rl_ns_close(duro_ns *ns)
{
    rl_table *t = table_of(ns, 0);
    if (!t)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        for (rl_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->buckets);
    free(t);
    ns->kind_state[DURO_KIND_RATELIMIT] = NULL;
}

/* A check consumes (write access) but changes only the in-memory state,
 * flushed later (rl_flush): only a reset runs in the transaction. */
static int rl_writes(int op) { return op != DURO_RL_GET; }
static int rl_txn(int op) { return op == DURO_RL_RESET; }
static void rl_free(void *req) { duro_rl_req_free(req); }

static const duro_migration rl_migrations[] = {
    /* rate limiter state (GCRA theoretical arrival time, ns) */
    {2, "CREATE TABLE _duro_ratelimit(key TEXT PRIMARY KEY, tat INTEGER NOT NULL,"
        " lim INTEGER NOT NULL, window_ms INTEGER NOT NULL) WITHOUT ROWID;"},
};

const duro_kind duro_ratelimit_kind = {
    .name = "ratelimit",
    .metric = "duro_ratelimit_ops_total",
    .metric_help = "Operations run by the rate limiter.",
    .ops = duro_rl_op_names,
    .n_ops = DURO_RL_OP_COUNT,
    .writes = rl_writes,
    .txn = rl_txn,
    .decode = duro_rl_decode_args,
    .free = rl_free,
    .exec = rl_exec,
    .flush = rl_flush,
    .ns_close = rl_ns_close,
    .migrations = rl_migrations,
    .n_migrations = sizeof rl_migrations / sizeof rl_migrations[0],
};
