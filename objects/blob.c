/*
 * blob.c — the blob kind (blob.h): objects of bytes in files beside the
 * namespace's database, their rows in it.
 *
 * DESIGN
 * A put runs in two steps (kind.h: DURO_CONTINUE):
 *   0 (owner)   checks If-Match / If-None-Match against the current row, picks
 *               a new file name (128 random bits) and marks it in flight;
 *   pool        the runtime's I/O pool writes the bytes to that file in 1 MiB
 *               pieces, hashing SHA-256 and MD5 on the way (the only pass
 *               over them), checks the digests the client sent, fsyncs the
 *               file and its directory;
 *   1 (owner)   checks the conditions again (another write may have come in
 *               between), then upserts the row naming the file, inside the
 *               batch's transaction: the put is answered after its COMMIT.
 * The replaced file is removed after that commit (txn_end); if the commit
 * fails, the new file is removed instead. So a reader, which opens the file
 * its row names, sees the old object or the new one, and a crash at any
 * point leaves at most files that no row names: they are removed the first
 * time the namespace is used after the process starts (sweep_files), unless
 * they are being written right now (the in-flight set).
 *
 * Ordering: the two steps of a put are two ops of the namespace; ops in
 * between see the old object. Two puts of one key race to their step 1; the
 * later step 1 wins, as a later write does.
 */
#include "objects/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/md5.h"
#include "common/sha256.h"
#include "common/tape.h"
#include "objects/object.h"
#include "objects/registry.h"
#include "runtime/errinj.h"
#include "runtime/notice.h"
#include "runtime/route.h"

enum { ST_FIND = 55, ST_UPSERT, ST_DELETE, ST_LIST_GE, ST_LIST_GT, ST_REFERENCED };

static const char SQL_FIND[] =
    "SELECT file, size, sha256, md5, content_type, metadata, created_at, updated_at, version"
    " FROM _duro_blobs WHERE key = ?1";
static const char SQL_UPSERT[] =
    "INSERT INTO _duro_blobs(key, file, size, sha256, md5, content_type, metadata, created_at,"
    " updated_at, version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)"
    " ON CONFLICT(key) DO UPDATE SET file = excluded.file, size = excluded.size,"
    " sha256 = excluded.sha256, md5 = excluded.md5, content_type = excluded.content_type,"
    " metadata = excluded.metadata, updated_at = excluded.updated_at,"
    " version = excluded.version";
static const char SQL_DELETE[] = "DELETE FROM _duro_blobs WHERE key = ?1";
#define LIST_COLS "SELECT key, size, sha256, content_type, updated_at, metadata FROM _duro_blobs"
static const char SQL_LIST_GE[] = LIST_COLS " WHERE key >= ?1 AND key < ?2 ORDER BY key";
static const char SQL_LIST_GT[] = LIST_COLS " WHERE key > ?1 AND key < ?2 ORDER BY key";
static const char SQL_REFERENCED[] = "SELECT 1 FROM _duro_blobs WHERE file = ?1";

#define PIECE ((size_t)1 << 20) /* bytes written (and hashed) per write() */

/* A bound above every valid UTF-8 key under memcmp (0xff starts none). */
static const char KEY_TOP[] = "\xff";

typedef struct blob_row {
    char file[33];
    int64_t size, created, updated, version;
    char sha256[65], md5[33];
    char *content_type; /* malloc'd or NULL */
    char *meta;
    size_t meta_len;
} blob_row;

static void row_free(blob_row *b)
{
    free(b->content_type);
    free(b->meta);
    b->content_type = b->meta = NULL;
}

/* ---- the in-flight set (every namespace of the process) ---- */

static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static char (*inflight)[33];
static size_t inflight_n, inflight_cap;

/* With inflight_mu held. Out of memory: not marked, and a sweep in the
 * next moments could take the file (the put then fails at its step 1). */
static void inflight_add_locked(const char *file)
{
    if (inflight_n == inflight_cap) {
        size_t cap = inflight_cap ? inflight_cap * 2 : 64;
        void *p = realloc(inflight, cap * sizeof *inflight);
        if (p) {
            inflight = p;
            inflight_cap = cap;
        }
    }
    if (inflight_n < inflight_cap)
        memcpy(inflight[inflight_n++], file, 33);
}

/* With inflight_mu held. */
static void inflight_del_locked(const char *file)
{
    for (size_t i = 0; i < inflight_n; i++)
        if (memcmp(inflight[i], file, 33) == 0) {
            memcpy(inflight[i], inflight[--inflight_n], 33);
            break;
        }
}

void duro_blob_inflight_add(const char *file)
{
    pthread_mutex_lock(&inflight_mu);
    inflight_add_locked(file);
    pthread_mutex_unlock(&inflight_mu);
}

void duro_blob_inflight_del(const char *file)
{
    pthread_mutex_lock(&inflight_mu);
    inflight_del_locked(file);
    pthread_mutex_unlock(&inflight_mu);
}

static int inflight_has(const char *file)
{
    pthread_mutex_lock(&inflight_mu);
    int found = 0;
    for (size_t i = 0; i < inflight_n && !found; i++)
        found = memcmp(inflight[i], file, 33) == 0;
    pthread_mutex_unlock(&inflight_mu);
    return found;
}

/* ---- per-namespace state ---- */

typedef struct blob_state {
    int swept;          /* unreferenced files were looked for since the open */
    duro_buf fresh;     /* files the open transaction's rows name (33 bytes each) */
    duro_buf doomed;    /* files its rows stopped naming */
} blob_state;

static blob_state *state_of(duro_ns *ns)
{
    DURO_ASSERT_OWNER(ns->owner);
    blob_state *s = ns->kind_state[DURO_KIND_BLOB];
    if (!s && (s = calloc(1, sizeof *s)))
        ns->kind_state[DURO_KIND_BLOB] = s;
    return s;
}

static int blobs_dir(const duro_ns *ns, char *buf, size_t cap)
{
    size_t n;
    if (duro_ns_files_dir(ns, buf, cap) != 0 || (n = strlen(buf)) + 7 > cap)
        return -1;
    memcpy(buf + n, "/blobs", 7);
    return 0;
}

/* Opens an object's file for reading: the fd, or -1 with errno set. */
static int open_object(const duro_ns *ns, const char *file)
{
    char path[4200];
    if (blobs_dir(ns, path, 4096) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", file);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static void remove_file(const duro_ns *ns, const char *file)
{
    char path[4200];
    if (blobs_dir(ns, path, 4096) != 0)
        return;
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", file);
    if (unlink(path) != 0 && errno != ENOENT)
        duro_log_warn("namespace %s: cannot remove blob file %s: %s", ns->name, path,
                      strerror(errno));
}

static int is_file_name(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == 32 && s[32] == '\0';
}

/* The blobs directories this process has swept (64-bit hashes of their
 * paths, open addressing; 8 bytes per namespace that has blobs): what a crash
 * leaves is there only at start, so each is swept once per process, not at
 * every open (an LRU that closes and opens namespaces often would otherwise
 * list a large directory each time). A hash collision skips a sweep: its
 * leftovers wait for the next start. */
static pthread_mutex_t swept_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *swept;
static size_t swept_n, swept_cap; /* cap: a power of two */

/* 1 if dir was swept before; else marks it (0). */
static int swept_before(const char *dir)
{
    uint64_t h = duro_route_hash(dir, strlen(dir)) | 1; /* 0 is an empty slot */
    pthread_mutex_lock(&swept_mu);
    if (2 * (swept_n + 1) > swept_cap) {
        size_t cap = swept_cap ? 2 * swept_cap : 1024;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&swept_mu);
            return 0; /* sweep again; nothing is lost but time */
        }
        for (size_t i = 0; i < swept_cap; i++)
            for (size_t j = swept[i] & (cap - 1); swept[i]; j = (j + 1) & (cap - 1))
                if (!t[j]) {
                    t[j] = swept[i];
                    break;
                }
        free(swept);
        swept = t;
        swept_cap = cap;
    }
    size_t j = h & (swept_cap - 1);
    while (swept[j] && swept[j] != h)
        j = (j + 1) & (swept_cap - 1);
    int seen = swept[j] == h;
    if (!seen) {
        swept[j] = h;
        swept_n++;
    }
    pthread_mutex_unlock(&swept_mu);
    return seen;
}

/* Removes the files of ns's blobs directory that no row names and no put is
 * writing: what a crash left. On the namespace's first use in this process. */
static void sweep_files(duro_ns *ns, blob_state *s)
{
    if (s->swept || ns->ghost)
        return;
    s->swept = 1;
    char dir[4096];
    if (blobs_dir(ns, dir, sizeof dir) != 0 || swept_before(dir))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        if (!is_file_name(e->d_name) || inflight_has(e->d_name))
            continue;
        sqlite3_stmt *st = duro_ns_stmt(ns, ST_REFERENCED, SQL_REFERENCED);
        if (!st)
            break;
        sqlite3_bind_text(st, 1, e->d_name, 32, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            remove_file(ns, e->d_name);
            removed++;
        } else if (rc != SQLITE_ROW) {
            break;
        }
    }
    closedir(d);
    if (removed)
        duro_log_info("namespace %s: removed %d blob file(s) no object names (left by a crash)",
                      ns->name, removed);
}

static void blob_txn_end(duro_ns *ns, int committed)
{
    blob_state *s = ns->kind_state[DURO_KIND_BLOB];
    if (!s)
        return;
    duro_buf *gone = committed ? &s->doomed : &s->fresh;
    /* a replaced file goes only once the batch that stopped naming it cannot
     * be undone by a power loss: the actor calls this after the batch's log
     * record was synced (or its COMMIT returned) (kind.h: txn_end) */
    for (size_t off = 0; off + 33 <= gone->len; off += 33)
        remove_file(ns, gone->data + off);
    s->fresh.len = s->doomed.len = 0;
}

static void blob_ns_close(duro_ns *ns)
{
    blob_state *s = ns->kind_state[DURO_KIND_BLOB];
    if (!s)
        return;
    duro_buf_free(&s->fresh);
    duro_buf_free(&s->doomed);
    free(s);
    ns->kind_state[DURO_KIND_BLOB] = NULL;
}

/* ---- rows ---- */

static char *dup_col(sqlite3_stmt *st, int col, size_t *len)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    const unsigned char *p = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *s = p ? malloc(n + 1) : NULL;
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    if (len)
        *len = n;
    return s;
}

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *p = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", p ? (const char *)p : "");
}

/* The row of key: 1 found (b filled: row_free it), 0 none, or a negated
 * status / SQLite code for duro_ns_fail (> 0). */
static int find(duro_ns *ns, const char *key, size_t key_len, blob_row *b)
{
    memset(b, 0, sizeof *b);
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_FIND, SQL_FIND);
    if (!st)
        return -DURO_INTERNAL;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(st, 0, b->file, sizeof b->file);
        b->size = sqlite3_column_int64(st, 1);
        copy_text(st, 2, b->sha256, sizeof b->sha256);
        copy_text(st, 3, b->md5, sizeof b->md5);
        b->content_type = dup_col(st, 4, NULL);
        b->meta = dup_col(st, 5, &b->meta_len);
        b->created = sqlite3_column_int64(st, 6);
        b->updated = sqlite3_column_int64(st, 7);
        b->version = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : rc;
}

/* ---- conditions ---- */

/* 1 if the ETag list h ("*", or entity tags like "abc", W/"abc", comma
 * separated) matches etag (NULL: no object). strong (If-Match): a weak tag
 * never matches (RFC 9110 §13.1.1); If-None-Match compares weakly. */
static int etag_matches(const char *h, const char *etag, int strong)
{
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return etag != NULL;
        int weak = p[0] == 'W' && p[1] == '/';
        if (weak)
            p += 2;
        int quoted = *p == '"';
        if (quoted)
            p++;
        size_t n = strcspn(p, quoted ? "\"" : ", \t");
        if (etag && !(weak && strong) && n == strlen(etag) && strncasecmp(p, etag, n) == 0)
            return 1;
        p += n;
        if (quoted && *p == '"')
            p++;
        p += strcspn(p, ",");
    }
    return 0;
}

/* Checks r's conditions against the current object (etag NULL: none) for a
 * write: DURO_OK or DURO_PRECONDITION_FAILED with the reason. */
static int write_conditions(duro_msg *m, const duro_blob_req *r, const char *etag)
{
    if (r->if_match && !etag_matches(r->if_match, etag, 1))
        return duro_msg_fail(m, DURO_PRECONDITION_FAILED,
                             etag ? "If-Match: the object's ETag is \"%s\"" : "%s",
                             etag ? etag : "If-Match: there is no such object");
    if (r->if_none_match && etag_matches(r->if_none_match, etag, 0))
        return duro_msg_fail(m, DURO_PRECONDITION_FAILED, "If-None-Match: the object %s",
                             strcmp(r->if_none_match, "*") == 0 ? "exists"
                                                                : "has that ETag");
    return DURO_OK;
}

/* Checks r's conditions against the object stored now: DURO_OK, or the
 * failure (412, or a storage error) already in m. */
static int current_conditions(duro_ns *ns, duro_msg *m, const duro_blob_req *r)
{
    blob_row cur;
    int rc = find(ns, r->key, r->key_len, &cur);
    if (rc != 0 && rc != 1)
        return duro_ns_fail(ns, m, rc);
    int st = write_conditions(m, r, rc == 1 ? cur.sha256 : NULL);
    row_free(&cur);
    return st;
}

/* ---- replies ---- */

static void pack_uploaded(msgpack_packer *pk, int64_t ms)
{
    char iso[32];
    duro_iso8601(ms, iso);
    duro_tape_lit(pk, iso);
}

static void pack_meta(msgpack_packer *pk, const char *meta, size_t len)
{
    if (meta)
        duro_tape_json(pk, meta, len);
    else
        msgpack_pack_map(pk, 0);
}

/* {key, size, etag, md5, contentType, uploaded, updatedAt, metadata, version,
 *  + extra} */
static void pack_object(msgpack_packer *pk, const char *key, size_t key_len, const blob_row *b,
                        int extra)
{
    msgpack_pack_map(pk, 9 + (size_t)extra);
    duro_tape_lit(pk, "key");
    duro_tape_str(pk, key, key_len);
    duro_tape_lit(pk, "size");
    msgpack_pack_int64(pk, b->size);
    duro_tape_lit(pk, "etag");
    duro_tape_lit(pk, b->sha256);
    duro_tape_lit(pk, "md5");
    duro_tape_lit(pk, b->md5);
    duro_tape_lit(pk, "contentType");
    duro_tape_lit(pk, b->content_type ? b->content_type : "application/octet-stream");
    duro_tape_lit(pk, "uploaded");
    pack_uploaded(pk, b->updated);
    duro_tape_lit(pk, "updatedAt");
    msgpack_pack_int64(pk, b->updated);
    duro_tape_lit(pk, "metadata");
    pack_meta(pk, b->meta, b->meta_len);
    duro_tape_lit(pk, "version");
    msgpack_pack_int64(pk, b->version);
}

/* ---- put ---- */

static void random_name(char out[33])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    duro_blob_hex(r, sizeof r, out);
}


static void write_failed(duro_blob_req *r, const char *what, int e)
{
    r->write_status = e == ENOSPC || e == EDQUOT || e == EROFS ? DURO_INSUFFICIENT_STORAGE
                                                                 : DURO_IO;
    snprintf(r->write_err, sizeof r->write_err, "storage error: cannot %s the object: %s", what,
             e == ENOSPC || e == EDQUOT ? "the data directory's disk is full"
             : e == EROFS               ? "the data directory is read-only"
                                        : strerror(e));
}

/* Digests of a put's bytes, each on a thread of its own while the pool's
 * thread writes and fsyncs them: hashing is CPU (SHA-256 ~1 GB/s with the
 * SHA instructions, ~260 MB/s without; MD5 ~440 MB/s here), the fsync is
 * waiting, so the three overlap. */
#define HASH_THREADS_MIN ((size_t)256 << 10) /* smaller bodies are hashed inline */

typedef struct hash_job {
    const unsigned char *p;
    size_t n;
    unsigned char *out;
    pthread_t tid;
    int started;
} hash_job;

static void sha256_all(const unsigned char *p, size_t n, unsigned char out[32])
{
    duro_sha256 s;
    duro_sha256_init(&s);
    duro_sha256_update(&s, p, n);
    duro_sha256_final(&s, out);
}

static void md5_all(const unsigned char *p, size_t n, unsigned char out[16])
{
    duro_md5 c;
    duro_md5_init(&c);
    duro_md5_update(&c, p, n);
    duro_md5_final(&c, out);
}

static void *sha_thread(void *arg)
{
    hash_job *j = arg;
    sha256_all(j->p, j->n, j->out);
    return NULL;
}

static void *md5_thread(void *arg)
{
    hash_job *j = arg;
    md5_all(j->p, j->n, j->out);
    return NULL;
}

/* Starts the two digests of r's bytes (threads for large bodies). */
static void hashes_start(duro_blob_req *r, hash_job j[2])
{
    j[0] = (hash_job){r->data, r->size, r->sha256, 0, 0};
    j[1] = (hash_job){r->data, r->size, r->md5, 0, 0};
    if (r->size < HASH_THREADS_MIN)
        return;
    j[0].started = pthread_create(&j[0].tid, NULL, sha_thread, &j[0]) == 0;
    j[1].started = pthread_create(&j[1].tid, NULL, md5_thread, &j[1]) == 0;
}

/* Waits for them (or computes those that got no thread). */
static void hashes_finish(hash_job j[2])
{
    if (j[0].started)
        pthread_join(j[0].tid, NULL);
    else
        sha256_all(j[0].p, j[0].n, j[0].out);
    if (j[1].started)
        pthread_join(j[1].tid, NULL);
    else
        md5_all(j[1].p, j[1].n, j[1].out);
}

/* Opens r's file with flags (creating the blob directories first if
 * make_dirs): the fd, or -1 with r's write error set. */
static int open_file(duro_blob_req *r, int flags, int make_dirs)
{
    char files[4096], path[4200];
    snprintf(files, sizeof files, "%s", r->dir);
    char *slash = strrchr(files, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/%s", r->dir, r->file);
    int fd = -1;
    if ((make_dirs && (duro_mkdir_durable(files) != 0 || duro_mkdir_durable(r->dir) != 0)) ||
        (fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644)) < 0)
        write_failed(r, "store", errno);
    return fd;
}

/* Writes p[0..n) to fd in pieces, feeding u's digests if u is set (an
 * upload's part; u->size grows with what was written). 0, or an errno. */
struct upload;
static int write_pieces(int fd, const unsigned char *p, size_t n, struct upload *u);

/* fsyncs (if sync) and closes fd, then fsyncs dir: e, or the first errno. */
static int close_file(int fd, const char *dir, int sync, int e)
{
    if (!e && sync && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && sync && duro_dir_sync(dir) != 0)
        e = errno;
    return e;
}

/* Compares the digests the client sent (named md5_name and sha_name) with
 * what was written: on a mismatch, r's write status is 400. */
static void check_digests(duro_blob_req *r, const char *md5_name, const char *sha_name)
{
    const char *bad = r->has_md5 && sodium_memcmp(r->md5, r->want_md5, 16) != 0 ? md5_name
                    : r->has_sha256 && sodium_memcmp(r->sha256, r->want_sha256, 32) != 0
                        ? sha_name
                        : NULL;
    if (bad) {
        r->write_status = DURO_BAD_REQUEST;
        snprintf(r->write_err, sizeof r->write_err,
                 "%s does not match the bytes sent (nothing was stored)", bad);
    }
}

/* The I/O pool's step of a put (off every actor): the file, its digests,
 * its fsync. Touches only the request. */
static void put_write(duro_msg *m)
{
    duro_blob_req *r = m->req;
    r->write_status = DURO_OK;
    int fd = open_file(r, O_CREAT | O_EXCL, 1);
    if (fd < 0)
        return;
    hash_job hj[2];
    hashes_start(r, hj);
    int e = write_pieces(fd, r->data, r->size, NULL);
    if (!e && r->size == 0 && duro_errinj_hit(DURO_ERRINJ_BLOB_WRITE))
        e = ENOSPC;
    e = close_file(fd, r->dir, 1, e);
    hashes_finish(hj);
    if (e)
        write_failed(r, "store", e);
    else
        check_digests(r, "Content-MD5", "x-content-sha256");
    if (r->write_status != DURO_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", r->dir, r->file);
        unlink(path);
        duro_blob_inflight_del(r->file);
        r->file_state = 0;
    }
}

static int put_start(duro_ns *ns, duro_msg *m, duro_blob_req *r)
{
    if (ns->ghost) {
        /* a put creates the namespace's file (its files go beside it): tell
         * the actor this op changes the namespace, so it runs it there */
        ns->txn_kinds |= 1u << DURO_KIND_BLOB;
        return DURO_OK;
    }
    int st = current_conditions(ns, m, r);
    if (st != DURO_OK)
        return st;
    char dir[4096];
    if (blobs_dir(ns, dir, sizeof dir) != 0)
        return duro_msg_fail(m, DURO_INTERNAL, "the namespace's files directory path is too long");
    if (!(r->dir = strdup(dir)))
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    random_name(r->file);
    duro_blob_inflight_add(r->file);
    r->file_state = 1;
    m->work = put_write;
    m->work_io = 1;
    return DURO_CONTINUE;
}

static int put_commit(duro_ns *ns, duro_msg *m, duro_blob_req *r, int64_t now)
{
    if (r->file_state != 1 || r->write_status != DURO_OK)
        return duro_msg_fail(m, r->write_status != DURO_OK ? r->write_status : DURO_INTERNAL,
                             "%s", r->write_status != DURO_OK ? r->write_err : "no file");
    blob_state *s = state_of(ns);
    if (!s)
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    blob_row cur;
    int rc = find(ns, r->key, r->key_len, &cur);
    if (rc != 0 && rc != 1)
        return duro_ns_fail(ns, m, rc);
    int existed = rc == 1;
    int st = write_conditions(m, r, existed ? cur.sha256 : NULL);
    if (st != DURO_OK) {
        row_free(&cur);
        return st; /* the file is the request's: freeing it removes it */
    }
    blob_row b = {.size = (int64_t)r->size,
                  .created = existed ? cur.created : now,
                  .updated = now,
                  .content_type = r->content_type,
                  .meta = r->meta,
                  .meta_len = r->meta_len};
    memcpy(b.file, r->file, 33);
    duro_blob_hex(r->sha256, 32, b.sha256);
    duro_blob_hex(r->md5, 16, b.md5);
    sqlite3_stmt *q = duro_ns_stmt(ns, ST_UPSERT, SQL_UPSERT);
    if (!q) {
        row_free(&cur);
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    }
    b.version = duro_ns_next_version(ns);
    sqlite3_bind_text(q, 1, r->key, (int)r->key_len, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, b.file, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, b.size);
    sqlite3_bind_text(q, 4, b.sha256, 64, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, b.md5, 32, SQLITE_STATIC);
    if (r->content_type)
        sqlite3_bind_text(q, 6, r->content_type, -1, SQLITE_STATIC);
    if (r->meta)
        sqlite3_bind_text(q, 7, r->meta, (int)r->meta_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, now);
    sqlite3_bind_int64(q, 9, b.version);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        row_free(&cur);
        return duro_ns_fail(ns, m, rc);
    }
    /* from here the file is the transaction's: kept if it commits, removed
     * (by txn_end) if it rolls back */
    ns->txn_kinds |= 1u << DURO_KIND_BLOB;
    if (duro_buf_append(&s->fresh, b.file, 33) != 0 ||
        (existed && duro_buf_append(&s->doomed, cur.file, 33) != 0)) {
        row_free(&cur);
        return duro_ns_fail(ns, m, -DURO_NOMEM); /* the batch rolls back; the request's
                                                  * free removes the file */
    }
    r->file_state = 2;
    duro_blob_inflight_del(r->file);
    row_free(&cur);
    duro_notice n = {.op = DURO_NOTICE_PUT,
                     .type = "r2",
                     .type_len = 2,
                     .key = r->key,
                     .key_len = r->key_len,
                     .size = b.size,
                     .created_at = b.created,
                     .updated_at = now,
                     .meta = r->meta,
                     .meta_len = r->meta_len};
    if (duro_notice_add(&ns->notes, &n) != 0)
        return duro_ns_fail(ns, m, -DURO_NOMEM);
    m->created = !existed;
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    pack_object(&pk, r->key, r->key_len, &b, 0);
    return DURO_OK;
}

/* ---- append: a put in parts ---- */

/* An upload: a file being written part by part, with its digests so far.
 * The slots and their fields are guarded by inflight_mu, except the file and
 * the hash states, which only the request that marked the slot busy touches
 * (on the I/O pool). */
typedef struct upload {
    int used, busy;
    char id[33];
    char ns[DURO_NS_MAX + 1];
    char *key;
    size_t key_len;
    char *dir;
    char file[33];
    uint64_t size;
    int64_t last_ms;
    duro_sha256 sha;
    duro_md5 md5;
} upload;

static upload uploads[DURO_BLOB_UPLOADS_MAX];

static int write_pieces(int fd, const unsigned char *p, size_t n, struct upload *u)
{
    for (size_t done = 0; done < n;) {
        size_t k = n - done < PIECE ? n - done : PIECE;
        if (duro_errinj_hit(DURO_ERRINJ_BLOB_WRITE))
            return ENOSPC;
        ssize_t w = write(fd, p + done, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        if (u) {
            duro_sha256_update(&u->sha, p + done, (size_t)w);
            duro_md5_update(&u->md5, p + done, (size_t)w);
            u->size += (uint64_t)w;
        }
        done += (size_t)w;
    }
    return 0;
}

/* With inflight_mu held: the slot of id, or NULL. */
static upload *upload_find(const char *id)
{
    for (int i = 0; i < DURO_BLOB_UPLOADS_MAX; i++)
        if (uploads[i].used && memcmp(uploads[i].id, id, 33) == 0)
            return &uploads[i];
    return NULL;
}

/* With inflight_mu held: ends u (its file removed). */
static void upload_end(upload *u)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", u->dir, u->file);
    unlink(path);
    inflight_del_locked(u->file); /* no longer being written */
    free(u->key);
    free(u->dir);
    memset(u, 0, sizeof *u);
}

void duro_blob_upload_release(duro_blob_req *r, int drop)
{
    pthread_mutex_lock(&inflight_mu);
    upload *u = upload_find(r->upload);
    if (u && drop)
        upload_end(u);
    else if (u)
        u->busy = 0;
    pthread_mutex_unlock(&inflight_mu);
    r->holds_upload = 0;
}

/* Starts an upload for r (its first part): DURO_OK with r->upload set and
 * the slot held, or an error reply. */
static int upload_begin(duro_ns *ns, duro_msg *m, duro_blob_req *r, const char *dir,
                        int64_t now)
{
    char *key = malloc(r->key_len + 1), *d = strdup(dir);
    if (!key || !d) {
        free(key);
        free(d);
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    }
    memcpy(key, r->key, r->key_len + 1);
    pthread_mutex_lock(&inflight_mu);
    upload *slot = NULL;
    int mine = 0; /* this namespace's open uploads */
    for (int i = 0; i < DURO_BLOB_UPLOADS_MAX; i++) {
        upload *u = &uploads[i];
        if (u->used && !u->busy && now - u->last_ms > DURO_BLOB_UPLOAD_IDLE_MS)
            upload_end(u); /* abandoned */
        if (!u->used && !slot)
            slot = u;
        if (u->used && strcmp(u->ns, ns->name) == 0)
            mine++;
    }
    int full_here = mine >= DURO_BLOB_UPLOADS_PER_NS;
    if (full_here)
        slot = NULL;
    if (slot) {
        slot->used = slot->busy = 1;
        random_name(slot->id);
        random_name(slot->file);
        snprintf(slot->ns, sizeof slot->ns, "%s", ns->name);
        slot->key = key;
        slot->key_len = r->key_len;
        slot->dir = d;
        slot->size = 0;
        slot->last_ms = now;
        duro_sha256_init(&slot->sha);
        duro_md5_init(&slot->md5);
        memcpy(r->upload, slot->id, 33);
        memcpy(r->file, slot->file, 33);
        inflight_add_locked(slot->file);
    }
    pthread_mutex_unlock(&inflight_mu);
    if (!slot) {
        free(key);
        free(d);
        return duro_msg_fail(m, DURO_UNAVAILABLE,
                             "%d uploads are open%s; finish one (final: true) or retry later",
                             full_here ? DURO_BLOB_UPLOADS_PER_NS : DURO_BLOB_UPLOADS_MAX,
                             full_here ? " in this namespace" : "");
    }
    r->holds_upload = 1;
    return DURO_OK;
}

/* The I/O pool's step of an append: the part, hashed into the upload's
 * digests; on the last part the file's fsync and the final digests. */
static void append_write(duro_msg *m)
{
    duro_blob_req *r = m->req;
    pthread_mutex_lock(&inflight_mu);
    upload *u = upload_find(r->upload); /* busy: ours until we answer */
    pthread_mutex_unlock(&inflight_mu);
    r->write_status = DURO_OK;
    if (!u) {
        r->write_status = DURO_INTERNAL;
        snprintf(r->write_err, sizeof r->write_err, "the upload is gone");
        return;
    }
    int fd = open_file(r, O_APPEND | (u->size == 0 ? O_CREAT : 0), u->size == 0);
    if (fd < 0)
        return;
    int e = write_pieces(fd, r->data, r->size, u);
    e = close_file(fd, r->dir, r->final, e);
    r->received = u->size;
    if (e) {
        write_failed(r, "store", e);
        return;
    }
    if (!r->final)
        return;
    duro_sha256_final(&u->sha, r->sha256);
    duro_md5_final(&u->md5, r->md5);
    check_digests(r, "md5", "sha256");
}

static int append_start(duro_ns *ns, duro_msg *m, duro_blob_req *r, int64_t now)
{
    if (ns->ghost) { /* as a put: the namespace's file first */
        ns->txn_kinds |= 1u << DURO_KIND_BLOB;
        return DURO_OK;
    }
    char dir[4096];
    if (blobs_dir(ns, dir, sizeof dir) != 0)
        return duro_msg_fail(m, DURO_INTERNAL, "the namespace's files directory path is too long");
    if (!r->upload[0]) {
        int st = current_conditions(ns, m, r);
        if (st != DURO_OK || (st = upload_begin(ns, m, r, dir, now)) != DURO_OK)
            return st;
    } else {
        size_t max = r->max_total;
        pthread_mutex_lock(&inflight_mu);
        upload *u = upload_find(r->upload);
        int st = DURO_OK;
        if (!u)
            st = duro_msg_fail(m, DURO_NOT_FOUND,
                               "no such upload (it was finished, or dropped after a minute without a part)");
        else if (strcmp(u->ns, ns->name) || u->key_len != r->key_len ||
                 memcmp(u->key, r->key, r->key_len))
            st = duro_msg_fail(m, DURO_BAD_REQUEST, "the upload is of another namespace or key");
        else if (u->busy)
            st = duro_msg_fail(m, DURO_CONFLICT,
                               "a part of this upload is being written; send parts one at a time");
        else if (u->size + r->size > max)
            st = duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                               "the object would be larger than %zu bytes (--max-blob-bytes)",
                               max);
        if (st == DURO_OK) {
            u->busy = 1;
            memcpy(r->file, u->file, 33);
        }
        pthread_mutex_unlock(&inflight_mu);
        if (st != DURO_OK)
            return st;
        r->holds_upload = 1;
    }
    if (!(r->dir = strdup(dir)))
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    m->work = append_write;
    m->work_io = 1;
    return DURO_CONTINUE;
}

static int put_commit(duro_ns *ns, duro_msg *m, duro_blob_req *r, int64_t now);

static int append_done(duro_ns *ns, duro_msg *m, duro_blob_req *r, int64_t now)
{
    if (r->write_status != DURO_OK) { /* the upload cannot go on */
        duro_blob_upload_release(r, 1);
        return duro_msg_fail(m, r->write_status, "%s", r->write_err);
    }
    if (!r->final) {
        pthread_mutex_lock(&inflight_mu);
        upload *u = upload_find(r->upload);
        if (u)
            u->last_ms = now;
        pthread_mutex_unlock(&inflight_mu);
        duro_blob_upload_release(r, 0);
        msgpack_packer pk;
        duro_tape_packer(&pk, &m->body);
        msgpack_pack_map(&pk, 2);
        duro_tape_lit(&pk, "upload");
        duro_tape_str(&pk, r->upload, 32);
        duro_tape_lit(&pk, "received");
        msgpack_pack_uint64(&pk, r->received);
        return DURO_OK;
    }
    /* the last part: the file is this request's now, stored as a put's */
    pthread_mutex_lock(&inflight_mu);
    upload *u = upload_find(r->upload);
    if (u) {
        free(u->key);
        free(u->dir);
        memset(u, 0, sizeof *u); /* the file stays in flight until put_commit */
    }
    pthread_mutex_unlock(&inflight_mu);
    r->holds_upload = 0;
    r->file_state = 1;
    r->size = (size_t)r->received;
    return put_commit(ns, m, r, now);
}

/* ---- get, head, delete ---- */

/* Reads [off, off + len) of the object's file into the tape as a bin. */
static int read_inline(duro_ns *ns, duro_msg *m, const blob_row *b, uint64_t off, uint64_t len,
                       msgpack_packer *pk)
{
    int fd = open_object(ns, b->file);
    if (fd < 0)
        return duro_msg_fail(m, DURO_IO, "storage error: the object's file cannot be read: %s",
                             strerror(errno));
    msgpack_pack_bin(pk, (size_t)len);
    duro_buf *body = &m->body;
    int st = duro_buf_reserve(body, (size_t)len) == 0 ? DURO_OK : DURO_NOMEM;
    for (uint64_t done = 0; st == DURO_OK && done < len;) {
        ssize_t r = pread(fd, body->data + body->len, (size_t)(len - done), (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = DURO_IO;
            break;
        }
        body->len += (size_t)r;
        done += (uint64_t)r;
    }
    close(fd);
    if (st != DURO_OK) {
        duro_buf_free(body);
        return duro_msg_fail(m, st, "storage error: the object's file cannot be read");
    }
    return DURO_OK;
}

static int op_get(duro_ns *ns, duro_msg *m, duro_blob_req *r)
{
    blob_row b;
    int rc = find(ns, r->key, r->key_len, &b);
    if (rc != 0 && rc != 1)
        return duro_ns_fail(ns, m, rc);
    if (rc == 0)
        return duro_msg_fail(m, DURO_NOT_FOUND, "no such object");
    int st = DURO_OK;
    if (r->if_match && !etag_matches(r->if_match, b.sha256, 1))
        st = duro_msg_fail(m, DURO_PRECONDITION_FAILED, "If-Match: the object's ETag is \"%s\"",
                           b.sha256);
    else if (r->if_none_match && etag_matches(r->if_none_match, b.sha256, 0))
        st = DURO_NOT_MODIFIED; /* with the object's fields, for the headers */
    uint64_t off = 0, len = (uint64_t)b.size;
    if (st == DURO_OK && r->has_range && m->op == DURO_BLOB_GET && !r->want_file) {
        if (r->off > (uint64_t)b.size) {
            row_free(&b);
            return duro_msg_fail(m, DURO_RANGE_NOT_SATISFIABLE,
                                 "offset %llu is past the object's %lld bytes",
                                 (unsigned long long)r->off, (long long)b.size);
        }
        off = r->off;
        len = (uint64_t)b.size - off < r->len ? (uint64_t)b.size - off : r->len;
    }
    int inline_data = st == DURO_OK && m->op == DURO_BLOB_GET && !r->want_file;
    size_t cap = duro_ns_reply_cap(ns);
    if (inline_data && len + 4096 + b.meta_len > cap) {
        row_free(&b);
        return duro_msg_fail(m, DURO_PAYLOAD_TOO_LARGE,
                             "the object is larger than a reply may be (--max-reply-bytes): read"
                             " it in pieces with offset and length");
    }
    if (st == DURO_OK || st == DURO_NOT_MODIFIED) {
        msgpack_packer pk;
        duro_tape_packer(&pk, &m->body);
        pack_object(&pk, r->key, r->key_len, &b, inline_data ? 2 : 0);
        if (inline_data) {
            duro_tape_lit(&pk, "offset");
            msgpack_pack_uint64(&pk, off);
            duro_tape_lit(&pk, "data");
            int rs = read_inline(ns, m, &b, off, len, &pk);
            if (rs != DURO_OK)
                st = rs;
        }
    }
    if (st == DURO_OK && r->want_file && m->op == DURO_BLOB_GET) {
        int fd = open_object(ns, b.file);
        if (fd < 0) {
            duro_buf_free(&m->body);
            st = duro_msg_fail(m, DURO_IO, "storage error: the object's file cannot be read: %s",
                               strerror(errno));
        } else {
            m->file.open = 1;
            m->file.fd = fd;
            m->file.off = 0;
            m->file.len = (uint64_t)b.size;
        }
    }
    if (st == DURO_NOT_MODIFIED)
        m->status = DURO_NOT_MODIFIED;
    row_free(&b);
    return st;
}

static int op_delete(duro_ns *ns, duro_msg *m, duro_blob_req *r)
{
    blob_state *s = state_of(ns);
    if (!s)
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    blob_row b;
    int rc = find(ns, r->key, r->key_len, &b);
    if (rc != 0 && rc != 1)
        return duro_ns_fail(ns, m, rc);
    int st = write_conditions(m, r, rc == 1 ? b.sha256 : NULL);
    if (st == DURO_OK && rc == 1) {
        sqlite3_stmt *q = duro_ns_stmt(ns, ST_DELETE, SQL_DELETE);
        if (!q) {
            row_free(&b);
            return duro_ns_fail(ns, m, -DURO_INTERNAL);
        }
        sqlite3_bind_text(q, 1, r->key, (int)r->key_len, SQLITE_STATIC);
        int drc = sqlite3_step(q);
        sqlite3_reset(q);
        duro_notice n = {.op = DURO_NOTICE_DEL,
                         .type = "r2",
                         .type_len = 2,
                         .key = r->key,
                         .key_len = r->key_len};
        if (drc != SQLITE_DONE)
            st = duro_ns_fail(ns, m, drc);
        else if (duro_buf_append(&s->doomed, b.file, 33) != 0 ||
                 duro_notice_add(&ns->notes, &n) != 0)
            st = duro_ns_fail(ns, m, -DURO_NOMEM);
        else {
            ns->txn_kinds |= 1u << DURO_KIND_BLOB;
            duro_ns_next_version(ns);
        }
    }
    row_free(&b);
    if (st != DURO_OK)
        return st;
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    duro_tape_bool(&pk, rc == 1);
    return DURO_OK;
}

/* ---- list ---- */

/* The first string after every string starting with p[0..n), in out (n
 * bytes of room): trailing 0xff bytes dropped, the last one incremented.
 * Its length; 0: no such string (use KEY_TOP). */
static size_t successor(const char *p, size_t n, char *out)
{
    memcpy(out, p, n);
    while (n && (unsigned char)out[n - 1] == 0xff)
        n--;
    if (n)
        out[n - 1]++;
    return n;
}

/* The cursor names where the next page starts: 'x' + key (after key) or
 * 'i' + key (at key), base64url. */
static void pack_cursor(msgpack_packer *pk, char mode, const char *k, size_t n)
{
    char raw[DURO_BLOB_KEY_MAX + 2];
    raw[0] = mode;
    memcpy(raw + 1, k, n);
    char b64[sizeof raw * 4 / 3 + 8];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)raw, n + 1,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    duro_tape_lit(pk, b64);
}

static int cursor_decode(const duro_blob_req *r, char *mode, char *key, size_t *key_len)
{
    unsigned char raw[DURO_BLOB_KEY_MAX + 2];
    size_t n;
    if (sodium_base642bin(raw, sizeof raw, r->cursor, r->cursor_len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n < 1 || (raw[0] != 'x' && raw[0] != 'i') || n - 1 > DURO_BLOB_KEY_MAX)
        return -1;
    *mode = (char)raw[0];
    memcpy(key, raw + 1, n - 1);
    *key_len = n - 1;
    return 0;
}

/* memcmp order of two byte strings (a prefix first). */
static int keycmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

static int op_list(duro_ns *ns, duro_msg *m, duro_blob_req *r)
{
    char lb[DURO_BLOB_KEY_MAX + 1], top[DURO_BLOB_KEY_MAX + 1];
    size_t lb_len = 0, plen = r->prefix_len;
    char mode = 'i';
    size_t top_len = successor(r->prefix ? r->prefix : "", plen, top);
    if (!top_len) {
        memcpy(top, KEY_TOP, 1);
        top_len = 1;
    }
    if (r->cursor) {
        if (cursor_decode(r, &mode, lb, &lb_len) != 0)
            return duro_msg_fail(m, DURO_BAD_REQUEST, "cursor: not one this server gave");
    } else if (r->start_after) {
        memcpy(lb, r->start_after, r->start_after_len);
        lb_len = r->start_after_len;
        mode = 'x';
    }
    if (r->prefix && keycmp(lb, lb_len, r->prefix, plen) < 0) { /* never before the prefix */
        memcpy(lb, r->prefix, plen);
        lb_len = plen;
        mode = 'i';
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    duro_buf prefixes = {0};
    msgpack_packer ppk;
    duro_tape_packer(&ppk, &prefixes);
    size_t n_prefixes = 0, n_objects = 0;
    char last_prefix[DURO_BLOB_KEY_MAX + 1];
    size_t last_prefix_len = 0;
    int truncated = 0, rc = SQLITE_DONE;
    char next_mode = 0;
    char next[DURO_BLOB_KEY_MAX + 1];
    size_t next_len = 0;
    size_t cap = duro_ns_reply_cap(ns);
    msgpack_pack_map(&pk, 4);
    duro_tape_lit(&pk, "objects");
    /* objects are counted after the fact: packed into their own buffer */
    duro_buf objs = {0};
    msgpack_packer opk;
    duro_tape_packer(&opk, &objs);
    for (int restart = 1; restart;) {
        restart = 0;
        sqlite3_stmt *q = duro_ns_stmt(ns, mode == 'i' ? ST_LIST_GE : ST_LIST_GT,
                                       mode == 'i' ? SQL_LIST_GE : SQL_LIST_GT);
        if (!q) {
            duro_buf_free(&objs);
            duro_buf_free(&prefixes);
            return duro_ns_fail(ns, m, -DURO_INTERNAL);
        }
        sqlite3_bind_text(q, 1, lb, (int)lb_len, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, top, (int)top_len, SQLITE_STATIC);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(q, 0);
            size_t kl = (size_t)sqlite3_column_bytes(q, 0);
            if ((int)(n_objects + n_prefixes) >= r->limit || objs.len + prefixes.len > cap / 2) {
                truncated = 1;
                break;
            }
            const char *d = NULL;
            if (r->delimiter_len && kl > plen) {
                const char *rest = k + plen;
                size_t rl = kl - plen;
                for (size_t i = 0; i + r->delimiter_len <= rl && !d; i++)
                    if (memcmp(rest + i, r->delimiter, r->delimiter_len) == 0)
                        d = rest + i;
            }
            if (d) {
                size_t cl = (size_t)(d - k) + r->delimiter_len;
                if (!(cl == last_prefix_len && memcmp(k, last_prefix, cl) == 0)) {
                    duro_tape_str(&ppk, k, cl);
                    n_prefixes++;
                    memcpy(last_prefix, k, cl);
                    last_prefix_len = cl;
                }
                /* skip every key under it: restart at its successor */
                char succ[DURO_BLOB_KEY_MAX + 1];
                size_t sl = successor(k, cl, succ);
                next_mode = 'i';
                memcpy(next, succ, sl);
                next_len = sl;
                if (!sl) { /* nothing can follow it */
                    rc = SQLITE_DONE;
                    break;
                }
                memcpy(lb, succ, sl);
                lb_len = sl;
                mode = 'i';
                restart = 1;
                break;
            }
            /* packed straight from the row's columns (no copies) */
            const char *type = (const char *)sqlite3_column_text(q, 3);
            const char *meta = (const char *)sqlite3_column_text(q, 5);
            msgpack_pack_map(&opk, 6);
            duro_tape_lit(&opk, "key");
            duro_tape_str(&opk, k, kl);
            duro_tape_lit(&opk, "size");
            msgpack_pack_int64(&opk, sqlite3_column_int64(q, 1));
            duro_tape_lit(&opk, "etag");
            duro_tape_str(&opk, (const char *)sqlite3_column_text(q, 2),
                          (size_t)sqlite3_column_bytes(q, 2));
            duro_tape_lit(&opk, "contentType");
            duro_tape_lit(&opk, type ? type : "application/octet-stream");
            duro_tape_lit(&opk, "uploaded");
            pack_uploaded(&opk, sqlite3_column_int64(q, 4));
            duro_tape_lit(&opk, "metadata");
            pack_meta(&opk, meta, meta ? (size_t)sqlite3_column_bytes(q, 5) : 0);
            n_objects++;
            next_mode = 'x';
            memcpy(next, k, kl);
            next_len = kl;
        }
        sqlite3_reset(q);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        duro_buf_free(&objs);
        duro_buf_free(&prefixes);
        return duro_ns_fail(ns, m, rc);
    }
    msgpack_pack_array(&pk, n_objects);
    duro_buf_append(&m->body, objs.data, objs.len);
    duro_tape_lit(&pk, "truncated");
    duro_tape_bool(&pk, truncated);
    duro_tape_lit(&pk, "cursor");
    if (truncated && next_mode)
        pack_cursor(&pk, next_mode, next, next_len);
    else
        msgpack_pack_nil(&pk);
    duro_tape_lit(&pk, "delimitedPrefixes");
    msgpack_pack_array(&pk, n_prefixes);
    duro_buf_append(&m->body, prefixes.data, prefixes.len);
    duro_buf_free(&objs);
    duro_buf_free(&prefixes);
    return DURO_OK;
}

/* ---- the kind ---- */

static int blob_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    duro_blob_req *r = m->req;
    if (!ns->ghost && m->op != DURO_BLOB_LIST) {
        blob_state *s = state_of(ns);
        if (s)
            sweep_files(ns, s);
    }
    switch (m->op) {
    case DURO_BLOB_PUT:
        return m->stage == 0 ? put_start(ns, m, r) : put_commit(ns, m, r, now);
    case DURO_BLOB_GET:
    case DURO_BLOB_HEAD:
        return op_get(ns, m, r);
    case DURO_BLOB_DELETE:
        return op_delete(ns, m, r);
    case DURO_BLOB_LIST:
        return op_list(ns, m, r);
    case DURO_BLOB_APPEND:
        return m->stage == 0 ? append_start(ns, m, r, now)
                             : append_done(ns, m, r, now);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown blob operation");
    }
}

static int blob_writes(int op)
{
    return op == DURO_BLOB_PUT || op == DURO_BLOB_DELETE || op == DURO_BLOB_APPEND;
}

static void blob_free(void *req) { duro_blob_req_free(req); }

static size_t blob_reply_bound(int op, const duro_limits *lim)
{
    size_t reply = lim && lim->max_reply_bytes ? lim->max_reply_bytes : DURO_MAX_REPLY_DEFAULT;
    return op == DURO_BLOB_GET || op == DURO_BLOB_LIST ? reply : DURO_BLOB_META_MAX + 4096;
}

static const char *const blob_ops[] = {
    [DURO_BLOB_PUT] = "blob.put",   [DURO_BLOB_GET] = "blob.get",   [DURO_BLOB_HEAD] = "blob.head",
    [DURO_BLOB_DELETE] = "blob.delete", [DURO_BLOB_LIST] = "blob.list",
    [DURO_BLOB_APPEND] = "blob.append",
};

static const duro_migration blob_migrations[] = {
    {6, "CREATE TABLE _duro_blobs(key TEXT PRIMARY KEY, file TEXT NOT NULL UNIQUE,"
        " size INTEGER NOT NULL, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, content_type TEXT,"
        " metadata TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " version INTEGER NOT NULL) WITHOUT ROWID;"},
};

const duro_kind duro_blob_kind = {
    .name = "blob",
    .metric = "duro_blob_ops_total",
    .metric_help = "Blob puts, gets, heads, deletes and lists run.",
    .ops = blob_ops,
    .n_ops = sizeof blob_ops / sizeof blob_ops[0],
    .writes = blob_writes,
    .decode = duro_blob_decode_args,
    .free = blob_free,
    .reply_bound = blob_reply_bound,
    .exec = blob_exec,
    .ns_close = blob_ns_close,
    .txn_end = blob_txn_end,
    .migrations = blob_migrations,
    .n_migrations = sizeof blob_migrations / sizeof blob_migrations[0],
};
