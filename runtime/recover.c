/*
 * recover.c — replaying commit logs into namespace files (recover.h).
 */
#include "runtime/recover.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/clog.h"
#include "runtime/kind.h"

#define OPEN_MAX 32 /* namespaces kept open during a replay */

/* Writes a ROWS record (clog.h) to ns's open transaction through its
 * kind's replay(); the write counter takes the record's if higher. */
static int replay_rows(duro_ns *ns, const duro_kinds *kinds, const unsigned char *p, size_t n)
{
    if (n < DURO_ROWS_HEADER)
        return DURO_INTERNAL;
    const duro_kind *ops = duro_kind_get(kinds, p[0]);
    if (!ops || !ops->replay)
        return DURO_INTERNAL;
    uint64_t v = 0;
    for (int i = 8; i >= 1; i--)
        v = v << 8 | p[i];
    int st = duro_ns_txn(ns);
    if (st == DURO_OK)
        st = ops->replay(ns, p + DURO_ROWS_HEADER, n - DURO_ROWS_HEADER);
    if (st == DURO_OK && (int64_t)v > ns->version)
        ns->version = ns->version_committed = (int64_t)v;
    return st;
}

static int replay_one(duro_ns *ns, const duro_kinds *kinds, int type, const void *p, size_t n)
{
    return type == DURO_CLOG_ROWS ? replay_rows(ns, kinds, p, n) : duro_ns_replay(ns, p, n);
}

/* ---- one namespace, while running ---- */

typedef struct one {
    duro_ns *ns;
    const duro_kinds *kinds;
    uint64_t epoch, mark_epoch, mark_lsn;
    int st;
    char *err;
    size_t errlen;
} one;

static int one_record(void *ctx, uint64_t epoch, uint64_t lsn, int type, const char *name,
                      size_t len, const void *p, size_t n)
{
    one *o = ctx;
    if (epoch != o->epoch || len != o->ns->name_len || memcmp(name, o->ns->name, len) != 0)
        return 0;
    if (o->mark_epoch == epoch && lsn <= o->mark_lsn)
        return 0;
    if (type == DURO_CLOG_DROP) {
        /* the namespace was deleted after these: the file is a new one */
        duro_ns_rollback(o->ns);
        return 0;
    }
    if (type != DURO_CLOG_CHANGES && type != DURO_CLOG_ROWS)
        return 0;
    o->st = replay_one(o->ns, o->kinds, type, p, n);
    if (o->st != DURO_OK) {
        snprintf(o->err, o->errlen, "namespace %s: replaying log record %llu failed: %s",
                 o->ns->name, (unsigned long long)lsn, sqlite3_errmsg(o->ns->db));
        return 1;
    }
    return 0;
}

int duro_recover_ns(duro_ns *ns, const duro_kinds *kinds, const duro_clog *log, char *err,
                    size_t errlen)
{
    DURO_ASSERT_OWNER(ns->owner);
    one o = {.ns = ns, .kinds = kinds, .epoch = log->epoch, .err = err, .errlen = errlen};
    if ((o.st = duro_ns_mark(ns, &o.mark_epoch, &o.mark_lsn)) != DURO_OK) {
        snprintf(err, errlen, "namespace %s: cannot read its log mark", ns->name);
        return o.st;
    }
    if (duro_clog_scan(log->path, log->size, one_record, &o, err, errlen) < 0 && o.st == DURO_OK)
        return DURO_IO;
    if (o.st == DURO_OK && (o.st = duro_ns_reload_version(ns)) != DURO_OK)
        snprintf(err, errlen, "namespace %s: cannot read its write counter", ns->name);
    return o.st;
}

/* ---- every log, at start ---- */

typedef struct open_ns {
    duro_ns *ns;
    uint64_t mark_epoch, mark_lsn;
    uint64_t last; /* lsn of the last record applied */
} open_ns;

typedef struct replay {
    const duro_store_config *cfg;
    const duro_kinds *kinds;
    duro_lru *lru;
    open_ns open[OPEN_MAX];
    size_t n_open;
    uint64_t epoch;
    uint64_t applied;
    int st;
    char *err;
    size_t errlen;
} replay;

/* Commits the i-th open namespace with its new mark and closes it. */
static int close_one(replay *r, size_t i, int commit)
{
    open_ns *o = &r->open[i];
    int st = DURO_OK;
    if (commit && o->ns->open_txn && (st = duro_ns_reload_version(o->ns)) == DURO_OK)
        st = duro_ns_apply(o->ns, r->epoch, o->last);
    if (st != DURO_OK)
        snprintf(r->err, r->errlen, "namespace %s: cannot commit the replayed log: %s",
                 o->ns->name, sqlite3_errmsg(o->ns->db));
    duro_ns_close(o->ns);
    r->open[i] = r->open[--r->n_open];
    return st;
}

static open_ns *find(replay *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->n_open; i++)
        if (r->open[i].ns->name_len == len && memcmp(r->open[i].ns->name, name, len) == 0)
            return &r->open[i];
    return NULL;
}

static open_ns *get(replay *r, const char *name, size_t len)
{
    open_ns *o = find(r, name, len);
    if (o)
        return o;
    if (r->n_open == OPEN_MAX && (r->st = close_one(r, 0, 1)) != DURO_OK)
        return NULL;
    duro_ns *ns;
    const char *why;
    char e[256];
    if ((r->st = duro_ns_open(r->cfg, name, len, r->lru, &ns, &why, e, sizeof e)) != DURO_OK) {
        snprintf(r->err, r->errlen, "namespace %.*s: %s", (int)len, name, e);
        return NULL;
    }
    o = &r->open[r->n_open++];
    *o = (open_ns){.ns = ns};
    if ((r->st = duro_ns_mark(ns, &o->mark_epoch, &o->mark_lsn)) != DURO_OK) {
        snprintf(r->err, r->errlen, "namespace %s: cannot read its log mark", ns->name);
        return NULL;
    }
    return o;
}

static int all_record(void *ctx, uint64_t epoch, uint64_t lsn, int type, const char *name,
                      size_t len, const void *p, size_t n)
{
    replay *r = ctx;
    r->epoch = epoch;
    if (type == DURO_CLOG_DROP) {
        open_ns *o = find(r, name, len);
        if (o && (r->st = close_one(r, (size_t)(o - r->open), 0)) != DURO_OK)
            return 1;
        const char *why;
        if ((r->st = duro_ns_remove(r->cfg, name, len, &why, r->err, r->errlen)) != DURO_OK)
            return 1;
        return 0;
    }
    if (type != DURO_CLOG_CHANGES && type != DURO_CLOG_ROWS)
        return 0;
    if (!duro_ns_exists(r->cfg, name, len) && n == 0)
        return 0;
    open_ns *o = get(r, name, len);
    if (!o)
        return 1;
    if (o->mark_epoch == epoch && lsn <= o->mark_lsn)
        return 0;
    if ((r->st = replay_one(o->ns, r->kinds, type, p, n)) != DURO_OK) {
        snprintf(r->err, r->errlen, "namespace %s: replaying log record %llu failed: %s",
                 o->ns->name, (unsigned long long)lsn, sqlite3_errmsg(o->ns->db));
        return 1;
    }
    o->last = lsn;
    r->applied++;
    return 0;
}

static int is_log(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".log") == 0 && strspn(name, "0123456789") == n - 4;
}

int duro_recover_logs(const duro_store_config *cfg, const duro_kinds *kinds, const char *log_dir,
                      uint64_t *records, char *err, size_t errlen)
{
    *records = 0;
    DIR *d = opendir(log_dir);
    if (!d)
        return errno == ENOENT ? DURO_OK : (snprintf(err, errlen, "%s: %s", log_dir,
                                                     strerror(errno)),
                                            DURO_IO);
    duro_lru lru;
    duro_lru_init(&lru, 8u << 20);
    duro_owner_set(&lru.owner);
    replay r = {.cfg = cfg, .kinds = kinds, .lru = &lru, .err = err, .errlen = errlen};
    char path[4400];
    struct dirent *e;
    int st = DURO_OK;
    char (*names)[64] = NULL;
    size_t n_names = 0;
    while (st == DURO_OK && (e = readdir(d))) {
        if (!is_log(e->d_name) || strlen(e->d_name) >= 64)
            continue;
        char(*nn)[64] = realloc(names, (n_names + 1) * sizeof *names);
        if (!nn) {
            st = DURO_NOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
        names = nn;
        snprintf(names[n_names++], 64, "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 0; st == DURO_OK && i < n_names; i++) {
        snprintf(path, sizeof path, "%s/%s", log_dir, names[i]);
        r.st = DURO_OK;
        if (duro_clog_scan(path, UINT64_MAX, all_record, &r, err, errlen) < 0 && r.st == DURO_OK)
            r.st = DURO_IO;
        st = r.st;
        while (r.n_open) {
            int c = close_one(&r, r.n_open - 1, st == DURO_OK);
            if (st == DURO_OK)
                st = c;
        }
    }
    /* every namespace is committed: the logs have done their work */
    for (size_t i = 0; st == DURO_OK && i < n_names; i++) {
        snprintf(path, sizeof path, "%s/%s", log_dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            st = DURO_IO;
        }
    }
    free(names);
    *records = r.applied;
    return st;
}
