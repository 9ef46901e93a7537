/*
 * clog.c — an actor's commit log (clog.h).
 */
#include "runtime/clog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "runtime/errinj.h"
#include "runtime/ns.h"

#define MAGIC "DUROLOG1"
#define HDR 16u  /* magic, epoch */
#define PRE 8u   /* len, crc */
#define FIXED 10u /* lsn, type, ns_len */
#define REC_MAX (1ull << 31) /* a record longer than this is damage */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *s = p;
    while (n) {
        ssize_t w = pwrite(fd, s, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Fills the file with zeros up to at least `need` (plus DURO_CLOG_AHEAD)
 * and syncs it: later syncs then only write data. 0 or -1. */
static int allocate(duro_clog *l, uint64_t need)
{
    static const char zeros[1 << 16];
    uint64_t to = need + DURO_CLOG_AHEAD, off = l->alloc;
    for (; off < to; off += sizeof zeros)
        if (pwrite_all(l->fd, zeros, sizeof zeros, off) != 0)
            return -1;
    if (fdatasync(l->fd) != 0)
        return -1;
    l->alloc = off;
    return 0;
}

int duro_clog_create(duro_clog *l, const char *dir, unsigned id, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    duro_owner_set(&l->owner);
    if (snprintf(l->path, sizeof l->path, "%s/%u.log", dir, id) >= (int)sizeof l->path) {
        snprintf(err, errlen, "log path too long");
        return -1;
    }
    while (l->epoch == 0)
        if (getrandom(&l->epoch, sizeof l->epoch, 0) != sizeof l->epoch) {
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
    unsigned char hdr[HDR];
    memcpy(hdr, MAGIC, 8);
    put64(hdr + 8, l->epoch);
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (l->fd < 0 || pwrite_all(l->fd, hdr, HDR, 0) != 0 || fdatasync(l->fd) != 0 ||
        duro_dir_sync(dir) != 0) {
        snprintf(err, errlen, "%s: %s", l->path, strerror(errno));
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        return -1;
    }
    l->size = l->synced = l->alloc = HDR;
    return 0;
}

void duro_clog_close(duro_clog *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    duro_buf_free(&l->pending);
}

uint64_t duro_clog_add(duro_clog *l, int type, const char *ns, size_t ns_len, const void *p,
                       size_t n)
{
    DURO_ASSERT_OWNER(l->owner);
    size_t body = FIXED + ns_len + n;
    if (ns_len > 255 || body > REC_MAX || duro_buf_reserve(&l->pending, PRE + body) != 0)
        return 0;
    unsigned char *r = (unsigned char *)l->pending.data + l->pending.len;
    uint64_t lsn = l->lsn + 1;
    put32(r, (uint32_t)body);
    put64(r + PRE, lsn);
    r[PRE + 8] = (unsigned char)type;
    r[PRE + 9] = (unsigned char)ns_len;
    memcpy(r + PRE + FIXED, ns, ns_len);
    if (n)
        memcpy(r + PRE + FIXED + ns_len, p, n);
    put32(r + 4, duro_crc32c(0, r + PRE, body));
    l->pending.len += PRE + body;
    l->lsn = lsn;
    return lsn;
}

void duro_clog_unadd(duro_clog *l, size_t mark)
{
    DURO_ASSERT_OWNER(l->owner);
    if (mark < l->pending.len)
        l->pending.len = mark;
}

int duro_clog_write(duro_clog *l, int sync)
{
    DURO_ASSERT_OWNER(l->owner);
    if (l->pending.len) {
        int e = 0;
        if (duro_errinj_hit(DURO_ERRINJ_LOG_WRITE))
            e = ENOSPC;
        else if (l->size + l->pending.len > l->alloc && allocate(l, l->size + l->pending.len) != 0)
            e = errno ? errno : EIO;
        else if (pwrite_all(l->fd, l->pending.data, l->pending.len, l->size) != 0)
            e = errno ? errno : EIO;
        if (e) {
            /* the next write goes over what reached the file, with larger
             * lsns: a scan never takes these records */
            l->pending.len = 0;
            errno = e;
            return -1;
        }
        l->size += l->pending.len;
        l->pending.len = 0;
    }
    if (sync && l->synced < l->size) {
        int injected = duro_errinj_hit(DURO_ERRINJ_LOG_SYNC);
        if (injected || fdatasync(l->fd) != 0) {
            int e = injected ? EIO : errno;
            /* what was not synced is not known to be on disk: the next
             * records go over it (its batches fail; unsynced sweeps stay in
             * the open transactions, which the next apply makes durable) */
            l->size = l->synced;
            errno = e;
            return -1;
        }
        l->synced = l->size;
    }
    return 0;
}

int duro_clog_reset(duro_clog *l)
{
    DURO_ASSERT_OWNER(l->owner);
    if (l->size == HDR)
        return 0;
    /* the file stays allocated; the old records are overwritten by ones
     * with larger lsns, and until then a replay finds them applied (the
     * namespaces' marks) and skips them */
    static const unsigned char zero[PRE];
    if (pwrite_all(l->fd, zero, PRE, HDR) != 0) /* a scan stops at once */
        return -1;
    l->size = l->synced = HDR;
    return 0;
}

int duro_clog_empty(duro_clog *l)
{
    DURO_ASSERT_OWNER(l->owner);
    if (ftruncate(l->fd, 0) != 0 || fdatasync(l->fd) != 0)
        return -1;
    l->size = l->synced = l->alloc = 0;
    return 0;
}

int duro_clog_scan(const char *path, uint64_t limit, duro_clog_fn fn, void *ctx, char *err,
                   size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    unsigned char hdr[HDR];
    if (fread(hdr, 1, HDR, f) != HDR || memcmp(hdr, MAGIC, 8) != 0) {
        fclose(f); /* empty, or cut before its header was synced: no records */
        return 0;
    }
    uint64_t epoch = get64(hdr + 8);
    unsigned char *buf = NULL;
    size_t cap = 0;
    uint64_t prev = 0, off = HDR;
    for (;;) {
        unsigned char pre[PRE];
        if (fread(pre, 1, PRE, f) != PRE)
            break;
        uint32_t len = get32(pre);
        if (len < FIXED || len > REC_MAX || off + PRE + len > limit)
            break;
        off += PRE + len;
        if (len > cap) {
            unsigned char *nb = realloc(buf, len);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory for a record of %u bytes", path, len);
                rc = -1;
                break;
            }
            buf = nb;
            cap = len;
        }
        if (fread(buf, 1, len, f) != len || duro_crc32c(0, buf, len) != get32(pre + 4))
            break; /* torn: nothing after it was synced */
        size_t ns_len = buf[9];
        uint64_t lsn = get64(buf);
        if (FIXED + ns_len > len || lsn <= prev)
            break; /* older records, from before a reset */
        prev = lsn;
        rc = fn(ctx, epoch, lsn, buf[8], (const char *)buf + FIXED, ns_len,
                buf + FIXED + ns_len, len - FIXED - ns_len);
        if (rc != 0)
            break;
    }
    free(buf);
    fclose(f);
    return rc;
}
