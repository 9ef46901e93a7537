/*
 * errinj.c — the fault injection points' table and the SQLite VFS that
 * carries the namespace-file points (see errinj.h).
 *
 * DESIGN
 * The VFS "duro-errinj" wraps the default VFS (unix): each file opened
 * through it is the default VFS's file placed right behind a small header,
 * and every method passes straight through, except that xWrite fails with
 * SQLITE_FULL or SQLITE_IOERR_WRITE and xSync with SQLITE_IOERR_FSYNC while
 * their points' counters are above 0, without touching the file — as the
 * unix VFS reports a write that hit ENOSPC or EIO, or a failed fsync. SQLite
 * then handles the error exactly as a real one: the statement or COMMIT
 * returns it, and the actor rolls the namespace's batch back.
 *
 * What SQLite then asks the VFS for the OS error (xGetLastError, behind
 * sqlite3_system_errno(), which duro_status_from_db() reads) is the errno the
 * injection stands for (ENOSPC, EIO), once, on the thread that met it.
 *
 * The cost in production: one indirect call and, for writes and syncs, one
 * relaxed atomic load per call.
 */
#include "runtime/errinj.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int duro_errinj[DURO_ERRINJ_COUNT];

/* ---- the table ---- */

static const char *const names[] = {
#define DURO__ERRINJ_NAME(name, str, help) str,
    DURO_ERRINJ_MAP(DURO__ERRINJ_NAME)
#undef DURO__ERRINJ_NAME
};

static const char *const helps[] = {
#define DURO__ERRINJ_HELP(name, str, help) help,
    DURO_ERRINJ_MAP(DURO__ERRINJ_HELP)
#undef DURO__ERRINJ_HELP
};

int duro_errinj_find(const char *name, size_t len)
{
    for (int p = 0; p < DURO_ERRINJ_COUNT; p++)
        if (strlen(names[p]) == len && memcmp(names[p], name, len) == 0)
            return p;
    return -1;
}

const char *duro_errinj_name(int p) { return p >= 0 && p < DURO_ERRINJ_COUNT ? names[p] : NULL; }
const char *duro_errinj_help(int p) { return p >= 0 && p < DURO_ERRINJ_COUNT ? helps[p] : NULL; }

void duro_errinj_set(int p, long n)
{
    if (p < 0 || p >= DURO_ERRINJ_COUNT)
        return;
    int v = n < 0 ? 0 : n > DURO_ERRINJ_MAX ? DURO_ERRINJ_MAX : (int)n;
    __atomic_store_n(&duro_errinj[p], v, __ATOMIC_RELAXED);
}

int duro_errinj_get(int p)
{
    return p >= 0 && p < DURO_ERRINJ_COUNT ? __atomic_load_n(&duro_errinj[p], __ATOMIC_RELAXED)
                                            : 0;
}

/* ---- the VFS ---- */

typedef struct ej_file {
    sqlite3_file base;  /* pMethods: one of ej_methods, or NULL if the open failed */
    sqlite3_file *real; /* the default VFS's file, right behind this header */
} ej_file;

static sqlite3_vfs *root;   /* the default VFS */
static sqlite3_vfs ej_vfs;  /* "duro-errinj" */
static sqlite3_io_methods ej_methods[3]; /* for real files of iVersion 1, 2, 3 */
static _Thread_local int injected_errno; /* of the last injection on this thread */

#define REAL(f) (((ej_file *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int inject(int rc, int e)
{
    injected_errno = e;
    return rc;
}

static int ej_close(sqlite3_file *f) { return RM(f)->xClose(REAL(f)); }

static int ej_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return RM(f)->xRead(REAL(f), p, n, off);
}

static int ej_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (duro_errinj_hit(DURO_ERRINJ_NS_FULL))
        return inject(SQLITE_FULL, ENOSPC);
    if (duro_errinj_hit(DURO_ERRINJ_NS_IOERR))
        return inject(SQLITE_IOERR_WRITE, EIO);
    return RM(f)->xWrite(REAL(f), p, n, off);
}

static int ej_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return RM(f)->xTruncate(REAL(f), size);
}

static int ej_sync(sqlite3_file *f, int flags)
{
    if (duro_errinj_hit(DURO_ERRINJ_NS_FSYNC))
        return inject(SQLITE_IOERR_FSYNC, EIO);
    return RM(f)->xSync(REAL(f), flags);
}

static int ej_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return RM(f)->xFileSize(REAL(f), size);
}

static int ej_lock(sqlite3_file *f, int level) { return RM(f)->xLock(REAL(f), level); }
static int ej_unlock(sqlite3_file *f, int level) { return RM(f)->xUnlock(REAL(f), level); }

static int ej_check_reserved(sqlite3_file *f, int *out)
{
    return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int ej_file_control(sqlite3_file *f, int op, void *arg)
{
    return RM(f)->xFileControl(REAL(f), op, arg);
}

static int ej_sector_size(sqlite3_file *f) { return RM(f)->xSectorSize(REAL(f)); }

static int ej_device_characteristics(sqlite3_file *f)
{
    return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int ej_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return RM(f)->xShmMap(REAL(f), region, size, extend, pp);
}

static int ej_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return RM(f)->xShmLock(REAL(f), offset, n, flags);
}

static void ej_shm_barrier(sqlite3_file *f) { RM(f)->xShmBarrier(REAL(f)); }

static int ej_shm_unmap(sqlite3_file *f, int del) { return RM(f)->xShmUnmap(REAL(f), del); }

static int ej_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return RM(f)->xFetch(REAL(f), off, n, pp);
}

static int ej_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return RM(f)->xUnfetch(REAL(f), off, p);
}

static int ej_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                   int *out_flags)
{
    ej_file *f = (ej_file *)file;
    f->real = (sqlite3_file *)&f[1];
    int rc = root->xOpen(root, name, f->real, flags, out_flags);
    const sqlite3_io_methods *m = f->real->pMethods;
    int v = !m ? 0 : m->iVersion < 1 ? 1 : m->iVersion > 3 ? 3 : m->iVersion;
    f->base.pMethods = m ? &ej_methods[v - 1] : NULL; /* NULL: SQLite calls no xClose */
    return rc;
}

static int ej_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return root->xDelete(root, name, sync_dir);
}

static int ej_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return root->xAccess(root, name, flags, out);
}

static int ej_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return root->xFullPathname(root, name, n, out);
}

static void *ej_dl_open(sqlite3_vfs *vfs, const char *path) { return root->xDlOpen(root, path); }
static void ej_dl_error(sqlite3_vfs *vfs, int n, char *msg) { root->xDlError(root, n, msg); }

static void (*ej_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return root->xDlSym(root, h, sym);
}

static void ej_dl_close(sqlite3_vfs *vfs, void *h) { root->xDlClose(root, h); }

static int ej_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return root->xRandomness(root, n, out);
}

static int ej_sleep(sqlite3_vfs *vfs, int us) { return root->xSleep(root, us); }

static int ej_current_time(sqlite3_vfs *vfs, double *t) { return root->xCurrentTime(root, t); }

static int ej_get_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
    int e = injected_errno;
    if (!e)
        return root->xGetLastError ? root->xGetLastError(root, n, msg) : 0;
    injected_errno = 0;
    if (msg && n > 0)
        snprintf(msg, (size_t)n, "%s (injected)", strerror(e));
    return e;
}

static int ej_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    return root->xCurrentTimeInt64(root, t);
}

static int ej_set_syscall(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr p)
{
    return root->xSetSystemCall(root, name, p);
}

static sqlite3_syscall_ptr ej_get_syscall(sqlite3_vfs *vfs, const char *name)
{
    return root->xGetSystemCall(root, name);
}

static const char *ej_next_syscall(sqlite3_vfs *vfs, const char *name)
{
    return root->xNextSystemCall(root, name);
}

static const char *vfs_name; /* NULL until registered */

static void vfs_register(void)
{
    if (!(root = sqlite3_vfs_find(NULL)))
        return;
    for (int v = 1; v <= 3; v++) {
        sqlite3_io_methods *m = &ej_methods[v - 1];
        *m = (sqlite3_io_methods){
            .iVersion = v,
            .xClose = ej_close,
            .xRead = ej_read,
            .xWrite = ej_write,
            .xTruncate = ej_truncate,
            .xSync = ej_sync,
            .xFileSize = ej_file_size,
            .xLock = ej_lock,
            .xUnlock = ej_unlock,
            .xCheckReservedLock = ej_check_reserved,
            .xFileControl = ej_file_control,
            .xSectorSize = ej_sector_size,
            .xDeviceCharacteristics = ej_device_characteristics,
        };
        if (v >= 2) {
            m->xShmMap = ej_shm_map;
            m->xShmLock = ej_shm_lock;
            m->xShmBarrier = ej_shm_barrier;
            m->xShmUnmap = ej_shm_unmap;
        }
        if (v >= 3) {
            m->xFetch = ej_fetch;
            m->xUnfetch = ej_unfetch;
        }
    }
    int v = root->iVersion > 3 ? 3 : root->iVersion;
    ej_vfs = (sqlite3_vfs){
        .iVersion = v,
        .szOsFile = (int)sizeof(ej_file) + root->szOsFile,
        .mxPathname = root->mxPathname,
        .zName = "duro-errinj",
        .xOpen = ej_open,
        .xDelete = ej_delete,
        .xAccess = ej_access,
        .xFullPathname = ej_full_pathname,
        .xDlOpen = ej_dl_open,
        .xDlError = ej_dl_error,
        .xDlSym = ej_dl_sym,
        .xDlClose = ej_dl_close,
        .xRandomness = ej_randomness,
        .xSleep = ej_sleep,
        .xCurrentTime = ej_current_time,
        .xGetLastError = ej_get_last_error,
    };
    if (v >= 2)
        ej_vfs.xCurrentTimeInt64 = ej_current_time64;
    if (v >= 3) {
        ej_vfs.xSetSystemCall = ej_set_syscall;
        ej_vfs.xGetSystemCall = ej_get_syscall;
        ej_vfs.xNextSystemCall = ej_next_syscall;
    }
    if (sqlite3_vfs_register(&ej_vfs, 0) == SQLITE_OK)
        vfs_name = ej_vfs.zName;
}

const char *duro_errinj_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, vfs_register);
    return vfs_name;
}
