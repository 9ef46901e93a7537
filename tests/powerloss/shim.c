/*
 * shim.c — an LD_PRELOAD library that keeps, next to a running durod, the image of what its
 * disk would hold if the power failed at this instant (tests/powerloss/, docs/testing.md
 * "Power loss").
 *
 *   DURO_PL_ROOT=<durod's --data dir>   the tree that is tracked (nothing outside it is)
 *   DURO_PL_DISK=<empty dir>            where the durable image is kept
 *   DURO_PL_MODE=strict|ext4            strict (default): a name is durable only once its
 *                                       directory is fsynced; ext4: an fsync of a file also
 *                                       makes that file's own name durable
 *   DURO_PL_CRASH_AFTER=N               the N-th sync call (1-based) raises SIGKILL before
 *                                       it takes effect; <disk>/syncs holds the count so far
 *
 * DESIGN
 *
 * The model, at the system-call level (no knowledge of SQLite or of durod's files):
 * - the *content* of a regular file becomes durable when the file is fsynced or fdatasynced
 *   (also sync_file_range with SYNC_FILE_RANGE_WAIT_AFTER, a write on an fd opened with
 *   O_SYNC/O_DSYNC, syncfs and sync): at that moment the shim copies the file's whole current
 *   content into the image, keyed by inode;
 * - a *name* (creation, rename, unlink, mkdir, rmdir) becomes durable when its directory is
 *   fsynced: at that moment the shim reads the live directory and stores its listing (name →
 *   inode, type) in the image. Which operations produced the listing does not matter, so
 *   rename, unlink, mkdir and rmdir need no bookkeeping of their own — except that an inode
 *   number can be reused once its file is gone: unlink, rmdir and a rename over an existing
 *   name give the old inode a new generation, so a durable name that still refers to the dead
 *   file keeps the dead file's durable content;
 * - `*-shm` files are never durable (SQLite rebuilds the WAL index); mmap'd writes are not
 *   tracked (msync is not a sync point here).
 *
 * The image (DURO_PL_DISK): `root` holds the key of the root directory; `d/<key>` is the
 * durable listing of a directory, lines "<f|d> <key> <name>"; `c/<key>` the durable content
 * of a file. A key is "<inode>.<generation>". Every file of the image is written to a
 * temporary name and renamed, so a kill at any point leaves the previous image of that file.
 * A name whose content was never synced materializes as an empty file; a directory whose
 * listing was never synced as an empty directory. tests/powerloss/test_powerloss.py
 * (materialize()) builds a data directory from the image.
 *
 * Threads: one mutex around every sync and every generation change. The real call is made
 * first (so its errors are the caller's), the image updated after it; the crash point is
 * before both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_GENS 65536

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int enabled;
static int lenient;
static long crash_after;
static long syncs;
static int count_fd = -1; /* <disk>/syncs: the count so far, for the driver */
static char root[PATH_MAX];
static size_t root_len;
static char disk[PATH_MAX];
static unsigned char sync_fd[MAX_FDS]; /* opened with O_SYNC / O_DSYNC */

static struct gen {
    ino_t ino;
    unsigned gen;
} gens[MAX_GENS];
static size_t ngens;

/* ---- the real functions ---- */

#define REAL(name, ret, ...)                                                                       \
    static ret (*real_##name)(__VA_ARGS__);                                                        \
    static ret (*get_##name(void))(__VA_ARGS__)                                                    \
    {                                                                                              \
        if (!real_##name)                                                                          \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                      \
        return real_##name;                                                                        \
    }

REAL(open, int, const char *, int, ...)
REAL(open64, int, const char *, int, ...)
REAL(openat, int, int, const char *, int, ...)
REAL(openat64, int, int, const char *, int, ...)
REAL(creat, int, const char *, mode_t)
REAL(close, int, int)
REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(syncfs, int, int)
REAL(sync, void, void)
REAL(sync_file_range, int, int, off64_t, off64_t, unsigned int)
REAL(write, ssize_t, int, const void *, size_t)
REAL(pwrite, ssize_t, int, const void *, size_t, off_t)
REAL(pwrite64, ssize_t, int, const void *, size_t, off64_t)
REAL(writev, ssize_t, int, const struct iovec *, int)
REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t)
REAL(rename, int, const char *, const char *)
REAL(renameat, int, int, const char *, int, const char *)
REAL(renameat2, int, int, const char *, int, const char *, unsigned int)
REAL(unlink, int, const char *)
REAL(unlinkat, int, int, const char *, int)
REAL(rmdir, int, const char *)
REAL(mkdir, int, const char *, mode_t)
REAL(mkdirat, int, int, const char *, mode_t)
REAL(ftruncate, int, int, off_t)
REAL(ftruncate64, int, int, off64_t)

/* ---- helpers (called with mu held) ---- */

static void die(const char *what)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "duro powerloss shim: %s: %s\n", what, strerror(errno));
    if (n > 0)
        (void)!get_write()(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(99);
}

/* snprintf that treats truncation as fatal (a path longer than PATH_MAX is not expected). */
__attribute__((format(printf, 3, 4))) static int fmt(char *out, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(out, n, f, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= n) {
        errno = ENAMETOOLONG;
        die(f);
    }
    return r;
}

static unsigned gen_of(ino_t ino)
{
    for (size_t i = 0; i < ngens; i++)
        if (gens[i].ino == ino)
            return gens[i].gen;
    return 0;
}

static void gen_bump(ino_t ino)
{
    for (size_t i = 0; i < ngens; i++)
        if (gens[i].ino == ino) {
            gens[i].gen++;
            return;
        }
    if (ngens == MAX_GENS) {
        errno = ENOSPC;
        die("too many removed inodes");
    }
    gens[ngens].ino = ino;
    gens[ngens].gen = 1;
    ngens++;
}

static void key_of(ino_t ino, char *out, size_t n)
{
    fmt(out, n, "%llu.%u", (unsigned long long)ino, gen_of(ino));
}

static int under_root(const char *path)
{
    return strncmp(path, root, root_len) == 0 && (path[root_len] == '\0' || path[root_len] == '/');
}

static int is_shm(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, "-shm") == 0;
}

/* The path of an open fd, if it is under the root (and not deleted); else 0. */
static int fd_path(int fd, char *out, size_t n)
{
    char link[64];
    fmt(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, out, n - 1);
    if (len <= 0)
        return 0;
    out[len] = '\0';
    if (len > 10 && strcmp(out + len - 10, " (deleted)") == 0)
        return 0;
    return under_root(out);
}

/* A path as given to unlink/rename/..., relative to dirfd, made absolute (not resolved). */
static int abs_path(int dirfd, const char *path, char *out, size_t n)
{
    if (path[0] == '/') {
        fmt(out, n, "%s", path);
    } else if (dirfd == AT_FDCWD) {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return 0;
        fmt(out, n, "%s/%s", cwd, path);
    } else {
        char dir[PATH_MAX];
        char link[64];
        fmt(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t len = readlink(link, dir, sizeof dir - 1);
        if (len <= 0)
            return 0;
        dir[len] = '\0';
        fmt(out, n, "%s/%s", dir, path);
    }
    return under_root(out);
}

/* Writes data to <disk>/<rel> through a temporary file and a rename. */
static void put_file(const char *rel, const char *data, size_t len)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    fmt(tmp, sizeof tmp, "%s/tmp.%d", disk, (int)gettid());
    fmt(dst, sizeof dst, "%s/%s", disk, rel);
    int fd = get_open()(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(tmp);
    while (len > 0) {
        ssize_t w = get_write()(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write to the image");
        data += w;
        len -= (size_t)w;
    }
    get_close()(fd);
    if (get_rename()(tmp, dst) != 0)
        die(dst);
}

/* Copies the content of the live file src (an fd or, with fd < 0, a path) to c/<key>. */
static void copy_content(int fd, const char *src, ino_t ino)
{
    char key[64], rel[96], tmp[PATH_MAX], dst[PATH_MAX];
    key_of(ino, key, sizeof key);
    fmt(rel, sizeof rel, "c/%s", key);
    fmt(tmp, sizeof tmp, "%s/tmp.%d", disk, (int)gettid());
    fmt(dst, sizeof dst, "%s/%s", disk, rel);
    char proc[64];
    if (fd >= 0) { /* the fd's own inode, whatever its name is now */
        fmt(proc, sizeof proc, "/proc/self/fd/%d", fd);
        src = proc;
    }
    int in = get_open()(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return; /* gone meanwhile, or not readable */
    int out = get_open()(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        die(tmp);
    static char buf[1 << 16];
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(in, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read a synced file");
        if (r == 0)
            break;
        for (ssize_t done = 0; done < r;) {
            ssize_t w = get_write()(out, buf + done, (size_t)(r - done));
            if (w <= 0)
                die("write to the image");
            done += w;
        }
        off += r;
    }
    get_close()(in);
    get_close()(out);
    if (get_rename()(tmp, dst) != 0)
        die(dst);
}

/* Stores the live listing of directory path (inode ino) as its durable listing. */
static void sync_dir(const char *path, ino_t ino)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!text)
        die("malloc");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || is_shm(e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        char type;
        if (S_ISREG(st.st_mode))
            type = 'f';
        else if (S_ISDIR(st.st_mode))
            type = 'd';
        else
            continue;
        char key[64];
        key_of(st.st_ino, key, sizeof key);
        size_t need = strlen(e->d_name) + sizeof key + 8;
        while (len + need > cap) {
            cap *= 2;
            text = realloc(text, cap);
            if (!text)
                die("realloc");
        }
        len += (size_t)fmt(text + len, cap - len, "%c %s %s\n", type, key, e->d_name);
    }
    closedir(d);
    char key[64], rel[96];
    key_of(ino, key, sizeof key);
    fmt(rel, sizeof rel, "d/%s", key);
    put_file(rel, text, len);
    free(text);
}

/* Lenient mode: the fsynced file at path (inode ino) gets its own name in its directory's
 * durable listing (replacing the entry of that name, if any). */
static void sync_own_name(const char *path, ino_t ino, char type)
{
    char dir[PATH_MAX];
    fmt(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || !under_root(dir))
        return;
    *slash = '\0';
    const char *name = slash + 1;
    struct stat dst;
    if (stat(dir, &dst) != 0)
        return;
    char dkey[64], rel[PATH_MAX], fkey[64];
    key_of(dst.st_ino, dkey, sizeof dkey);
    key_of(ino, fkey, sizeof fkey);
    fmt(rel, sizeof rel, "%s/d/%s", disk, dkey);
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!text)
        die("malloc");
    FILE *f = fopen(rel, "re");
    if (f) {
        char line[PATH_MAX + 96];
        while (fgets(line, sizeof line, f)) {
            char *nm = strchr(line, ' ');
            nm = nm ? strchr(nm + 1, ' ') : NULL;
            if (nm && strncmp(nm + 1, name, strlen(name)) == 0 && nm[1 + strlen(name)] == '\n')
                continue;
            size_t l = strlen(line);
            while (len + l + 1 > cap) {
                cap *= 2;
                text = realloc(text, cap);
                if (!text)
                    die("realloc");
            }
            memcpy(text + len, line, l);
            len += l;
        }
        fclose(f);
    }
    size_t need = strlen(name) + sizeof fkey + 8;
    while (len + need > cap) {
        cap *= 2;
        text = realloc(text, cap);
        if (!text)
            die("realloc");
    }
    len += (size_t)fmt(text + len, cap - len, "%c %s %s\n", type, fkey, name);
    fmt(rel, sizeof rel, "d/%s", dkey);
    put_file(rel, text, len);
    free(text);
    /* ext4 commits its journal on fsync: the new directories above the file come with it */
    if (strcmp(dir, root) != 0)
        sync_own_name(dir, dst.st_ino, 'd');
}

/* Makes everything under path durable (sync, syncfs, and the initial image). */
static void sync_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISREG(st.st_mode)) {
        if (!is_shm(path))
            copy_content(-1, path, st.st_ino);
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    sync_dir(path, st.st_ino);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        fmt(sub, sizeof sub, "%s/%s", path, e->d_name);
        sync_tree(sub);
    }
    closedir(d);
}

/* One sync call: counts it and crashes at the seeded point. */
static void sync_point(void)
{
    syncs++;
    if (count_fd >= 0) {
        char n[32];
        int len = fmt(n, sizeof n, "%-20ld\n", syncs);
        (void)!pwrite(count_fd, n, (size_t)len, 0);
    }
    if (crash_after > 0 && syncs >= crash_after) {
        raise(SIGKILL);
        _exit(137);
    }
}

/* The fd was synced: its content (and, leniently, its name) or its listing is durable. */
static void synced_fd(int fd)
{
    char path[PATH_MAX];
    struct stat st;
    if (!fd_path(fd, path, sizeof path) || fstat(fd, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        sync_dir(path, st.st_ino);
    } else if (S_ISREG(st.st_mode) && !is_shm(path)) {
        copy_content(fd, path, st.st_ino);
        if (lenient)
            sync_own_name(path, st.st_ino, 'f');
    }
}

static int tracked_fd(int fd)
{
    char path[PATH_MAX];
    return enabled && fd_path(fd, path, sizeof path);
}

/* Before a name at path is removed or replaced: its inode (if this is its last name) starts
 * a new generation, so that a reuse of the number is a different key. */
static void before_remove(int dirfd, const char *p, int is_dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (!enabled || !abs_path(dirfd, p, path, sizeof path) || lstat(path, &st) != 0)
        return;
    if (is_dir ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) && st.st_nlink <= 1))
        gen_bump(st.st_ino);
}

__attribute__((constructor)) static void init(void)
{
    const char *r = getenv("DURO_PL_ROOT");
    const char *d = getenv("DURO_PL_DISK");
    if (!r || !d || !*r || !*d)
        return;
    if (!realpath(r, root))
        die("DURO_PL_ROOT");
    root_len = strlen(root);
    if (!realpath(d, disk))
        die("DURO_PL_DISK");
    const char *m = getenv("DURO_PL_MODE");
    lenient = m && strcmp(m, "ext4") == 0;
    const char *c = getenv("DURO_PL_CRASH_AFTER");
    crash_after = c ? atol(c) : 0;
    char sub[PATH_MAX];
    fmt(sub, sizeof sub, "%s/c", disk);
    get_mkdir()(sub, 0755);
    fmt(sub, sizeof sub, "%s/d", disk);
    get_mkdir()(sub, 0755);
    struct stat st;
    if (stat(root, &st) != 0)
        die("stat DURO_PL_ROOT");
    char key[64];
    key_of(st.st_ino, key, sizeof key);
    char line[80];
    int n = fmt(line, sizeof line, "%s\n", key);
    put_file("root", line, (size_t)n);
    fmt(sub, sizeof sub, "%s/syncs", disk);
    count_fd = get_open()(sub, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    sync_tree(root); /* what is there before the process starts is durable */
    enabled = 1;
}

/* ---- the interposed functions ---- */

static void note_open(int fd, int flags)
{
    if (fd >= 0 && fd < MAX_FDS)
        sync_fd[fd] = (flags & (O_SYNC | O_DSYNC)) != 0;
}

#define OPEN_MODE(flags, mode)                                                                     \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                         \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, mode);
    int fd = get_open()(path, flags, mode);
    note_open(fd, flags);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, mode);
    int fd = get_open64()(path, flags, mode);
    note_open(fd, flags);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, mode);
    int fd = get_openat()(dirfd, path, flags, mode);
    note_open(fd, flags);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, mode);
    int fd = get_openat64()(dirfd, path, flags, mode);
    note_open(fd, flags);
    return fd;
}

int creat(const char *path, mode_t mode)
{
    int fd = get_creat()(path, mode);
    note_open(fd, 0);
    return fd;
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FDS)
        sync_fd[fd] = 0;
    return get_close()(fd);
}

static int do_fsync(int fd, int (*fn)(int))
{
    if (!tracked_fd(fd))
        return fn(fd);
    pthread_mutex_lock(&mu);
    sync_point();
    int rc = fn(fd);
    int saved = errno;
    if (rc == 0)
        synced_fd(fd);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    return do_fsync(fd, get_fsync());
}

int fdatasync(int fd)
{
    return do_fsync(fd, get_fdatasync());
}

int syncfs(int fd)
{
    if (!enabled)
        return get_syncfs()(fd);
    pthread_mutex_lock(&mu);
    sync_point();
    int rc = get_syncfs()(fd);
    int saved = errno;
    if (rc == 0)
        sync_tree(root);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return rc;
}

void sync(void)
{
    if (!enabled) {
        get_sync()();
        return;
    }
    pthread_mutex_lock(&mu);
    sync_point();
    get_sync()();
    sync_tree(root);
    pthread_mutex_unlock(&mu);
}

/* sync_file_range is counted as a data sync of the whole file when it waits for the writes
 * (SYNC_FILE_RANGE_WAIT_AFTER); without it, it promises nothing. Copying the whole file is
 * more than the call promises for the other ranges: noted in docs/testing.md. */
int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
    if (!(flags & SYNC_FILE_RANGE_WAIT_AFTER) || !tracked_fd(fd))
        return get_sync_file_range()(fd, off, n, flags);
    pthread_mutex_lock(&mu);
    sync_point();
    int rc = get_sync_file_range()(fd, off, n, flags);
    int saved = errno;
    if (rc == 0)
        synced_fd(fd);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return rc;
}

/* A write on an O_SYNC / O_DSYNC fd is a write followed by a sync point. */
static int sync_write_fd(int fd)
{
    return fd >= 0 && fd < MAX_FDS && sync_fd[fd] && tracked_fd(fd);
}

#define SYNC_WRITE(call)                                                                           \
    if (!sync_write_fd(fd))                                                                        \
        return call;                                                                               \
    pthread_mutex_lock(&mu);                                                                       \
    sync_point();                                                                                  \
    ssize_t rc = call;                                                                             \
    int saved = errno;                                                                             \
    if (rc >= 0)                                                                                   \
        synced_fd(fd);                                                                             \
    pthread_mutex_unlock(&mu);                                                                     \
    errno = saved;                                                                                 \
    return rc;

ssize_t write(int fd, const void *buf, size_t n)
{
    SYNC_WRITE(get_write()(fd, buf, n))
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    SYNC_WRITE(get_pwrite()(fd, buf, n, off))
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    SYNC_WRITE(get_pwrite64()(fd, buf, n, off))
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    SYNC_WRITE(get_writev()(fd, iov, cnt))
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    SYNC_WRITE(get_pwritev()(fd, iov, cnt, off))
}

/* Name changes: durable when the directory is fsynced (sync_dir reads the live listing);
 * here only the generation of an inode whose last name goes away. */

#define REMOVE(dirfd, path, is_dir, call)                                                          \
    if (!enabled)                                                                                  \
        return call;                                                                               \
    pthread_mutex_lock(&mu);                                                                       \
    before_remove(dirfd, path, is_dir);                                                            \
    int rc = call;                                                                                 \
    int saved = errno;                                                                             \
    pthread_mutex_unlock(&mu);                                                                     \
    errno = saved;                                                                                 \
    return rc;

int unlink(const char *path)
{
    REMOVE(AT_FDCWD, path, 0, get_unlink()(path))
}

int unlinkat(int dirfd, const char *path, int flags)
{
    REMOVE(dirfd, path, (flags & AT_REMOVEDIR) != 0, get_unlinkat()(dirfd, path, flags))
}

int rmdir(const char *path)
{
    REMOVE(AT_FDCWD, path, 1, get_rmdir()(path))
}

int rename(const char *from, const char *to)
{
    REMOVE(AT_FDCWD, to, 0, get_rename()(from, to))
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    REMOVE(tofd, to, 0, get_renameat()(fromfd, from, tofd, to))
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    REMOVE(tofd, to, 0, get_renameat2()(fromfd, from, tofd, to, flags))
}

/* Pass-throughs, named so that the list of what was considered is complete: a new directory
 * is durable when its parent is fsynced, a new size when the file is. */

int mkdir(const char *path, mode_t mode)
{
    return get_mkdir()(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    return get_mkdirat()(dirfd, path, mode);
}

int ftruncate(int fd, off_t len)
{
    return get_ftruncate()(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    return get_ftruncate64()(fd, len);
}
