/*
 * errinj.h — fault injection points for tests (DURO_ERRINJ).
 *
 * A test sets a point's counter to n: the next n passes through that point
 * fail as if the call there had failed, and take the path a real failure
 * takes. Every counter is 0 in production, where a pass costs one relaxed
 * atomic load. Counters are set from C (duro_errinj[] or duro_errinj_set())
 * or, in a durod started with --errinj, over HTTP (GET/POST /_errinj, see
 * docs/testing.md).
 *
 * The namespace-file points live in a SQLite VFS (errinj.c) that every
 * namespace file is opened through: the file write or sync fails there, so
 * SQLite itself reports the error (as it would with a real full disk or
 * failing device), the statement or COMMIT fails with that code, and the
 * actor rolls the batch back as for any storage error. A pass is one write
 * (or sync) call on a namespace file, its -wal or its journal; a failing
 * COMMIT stops at its first failed call, so it takes one.
 */
#ifndef DURO_ERRINJ_H
#define DURO_ERRINJ_H

#include <stddef.h>

/* X(NAME, "name", "what a pass through it does when it fails") */
#define DURO_ERRINJ_MAP(X)                                                                     \
    X(REGISTRY_APPLY, "registry_apply",                                                        \
      "the registry applying a notice message fails (its group is lost)")                      \
    X(REGISTRY_REBUILD, "registry_rebuild",                                                    \
      "the repair writing a namespace's rows fails (its group is lost)")                       \
    X(NS_FULL, "sqlite_full",                                                                  \
      "a write to a namespace file fails with SQLITE_FULL, as on a full disk (ENOSPC); writes"  \
      " reach the file when the log is applied, so the apply fails and is retried")        \
    X(NS_IOERR, "sqlite_ioerr",                                                                \
      "a write to a namespace file fails with SQLITE_IOERR_WRITE (EIO)")                       \
    X(NS_FSYNC, "fsync",                                                                       \
      "a sync of a namespace file fails with SQLITE_IOERR_FSYNC (EIO): the commit fails"      \
      " after its pages were written (with --sync full, the default)")                        \
    X(BLOB_WRITE, "blob_write",                                                                \
      "writing a blob's file fails with ENOSPC, as on a full disk (objects/blob.c): the put"  \
      " fails with 507 and the old object stays")                                             \
    X(LOG_WRITE, "log_write",                                                                  \
      "writing a batch to the actor's commit log fails with ENOSPC, as on a full disk"          \
      " (runtime/clog.c): every write of the batch fails with 507 and nothing of it is kept")                                         \
    X(LOG_SYNC, "log_sync",                                                                    \
      "the commit log's fdatasync fails (EIO): the batch's writes fail and the actor applies"  \
      " what the log held to the namespace files before it takes new writes")                  \
    X(ALLOC, "alloc",                                                                          \
      "allocating a write's change notice fails (runtime/notice.c): the op fails with"        \
      " DURO_NOMEM")

enum duro_errinj_point {
#define DURO__ERRINJ_ENUM(name, str, help) DURO_ERRINJ_##name,
    DURO_ERRINJ_MAP(DURO__ERRINJ_ENUM)
#undef DURO__ERRINJ_ENUM
    DURO_ERRINJ_COUNT
};

/* The largest count a point takes (duro_errinj_set() caps there). */
#define DURO_ERRINJ_MAX 1000000

extern int duro_errinj[DURO_ERRINJ_COUNT];

/* 1 if this pass through point p is to fail (and counts it down), else 0. */
static inline int duro_errinj_hit(enum duro_errinj_point p)
{
    int n = __atomic_load_n(&duro_errinj[p], __ATOMIC_RELAXED);
    while (n > 0 && !__atomic_compare_exchange_n(&duro_errinj[p], &n, n - 1, 0, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED)) {
    }
    return n > 0;
}

/* The point named name[0..len) ("sqlite_full"), or -1. */
int duro_errinj_find(const char *name, size_t len);

/* The name and description of point p (NULL if p is out of range). */
const char *duro_errinj_name(int p);
const char *duro_errinj_help(int p);

/* Sets point p's counter to n, capped to 0..DURO_ERRINJ_MAX (0 clears it). */
void duro_errinj_set(int p, long n);

/* Point p's counter now. */
int duro_errinj_get(int p);

/* The name of the SQLite VFS that namespace files are opened through (the
 * default VFS with the file points above), registered on first call. NULL
 * if it could not be registered (files then use the default VFS and the
 * file points never fire). */
const char *duro_errinj_vfs(void);

#endif
