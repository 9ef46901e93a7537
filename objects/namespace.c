/*
 * namespace.c — namespaces as objects (see namespace.h): the list and the
 * figures of one namespace and of the server (registry queries, run by the
 * registry actor), and namespaces.delete (kind DURO_KIND_NAMESPACE, run by
 * the namespace's owner).
 */
#include "objects/namespace.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/tape.h"
#include "duro/version.h"
#include "objects/object.h"
#include "objects/registry_req.h"
#include "runtime/ns.h"
#include "runtime/route.h"
#include "runtime/stats.h"

/* What a reply holds besides its records. */
#define REPLY_FIXED 160

/* ---- the files ---- */

/* Calls fn for each namespace file of data_dir (a valid name in its own
 * shard directory), in no order, with the file's name (name[0..len) is the
 * namespace's; not NUL-terminated there); stops at fn's first non-zero
 * answer. */
static int each_file(const char *data_dir, int (*fn)(void *arg, const char *name, size_t len),
                     void *arg)
{
    for (unsigned shard = 0; shard < 256; shard++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/ns/%02x", data_dir, shard);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *f;
        int rc = 0;
        while (!rc && (f = readdir(d))) {
            size_t len = strlen(f->d_name);
            const char *why;
            if (len > 3 && strcmp(f->d_name + len - 3, ".db") == 0 &&
                duro_ns_valid(f->d_name, len - 3, &why) == 0 &&
                duro_route_shard(f->d_name, len - 3) == shard)
                rc = fn(arg, f->d_name, len - 3);
        }
        closedir(d);
        if (rc)
            return rc;
    }
    return 0;
}

/* The sizes of ns's .db and -wal and their latest modification (ms). 1 if
 * the .db exists, else 0. */
static int ns_files(const char *data_dir, const char *ns, size_t len, int64_t *bytes,
                    int64_t *mtime_ms)
{
    char path[4096 + 8];
    struct stat sb;
    *bytes = *mtime_ms = 0;
    if (duro_ns_path(data_dir, ns, len, path, 4096, NULL) != 0 || stat(path, &sb) != 0)
        return 0;
    for (int wal = 0; wal < 2; wal++) {
        if (wal && (strcat(path, "-wal"), stat(path, &sb) != 0))
            break;
        int64_t t = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        *bytes += (int64_t)sb.st_size;
        if (t > *mtime_ms)
            *mtime_ms = t;
    }
    return 1;
}

/* Packs one namespace record (namespace.h); 0 if it has no file. */
static int pack_ns(duro_registry_db *db, msgpack_packer *pk, const duro_registry_env *env,
                   const char *ns, size_t len, int *st)
{
    int64_t bytes, mtime, keys = 0, tables = 0, blobs = 0;
    if (!ns_files(env->data_dir, ns, len, &bytes, &mtime))
        return 0;
    *st = duro_registry_db_ns_keys(db, ns, len, &keys);
    if (*st == DURO_OK)
        *st = duro_registry_db_ns_count(db, ns, len, "d1", &tables);
    if (*st == DURO_OK)
        *st = duro_registry_db_ns_count(db, ns, len, "r2", &blobs);
    char iso[32];
    duro_iso8601(mtime, iso);
    msgpack_pack_map(pk, 7);
    duro_tape_lit(pk, "namespace");
    duro_tape_str(pk, ns, len);
    duro_tape_lit(pk, "keys");
    msgpack_pack_int64(pk, keys);
    duro_tape_lit(pk, "bytes");
    msgpack_pack_int64(pk, bytes);
    duro_tape_lit(pk, "tables");
    msgpack_pack_int64(pk, tables);
    duro_tape_lit(pk, "blobs");
    msgpack_pack_int64(pk, blobs);
    duro_tape_lit(pk, "last_write");
    duro_tape_lit(pk, iso);
    duro_tape_lit(pk, "last_write_ms");
    msgpack_pack_int64(pk, mtime);
    return 1;
}

/* ---- namespaces.list ---- */

/* The page being collected: the `limit` smallest matching names after the
 * cursor, sorted (names[i] point into slots). */
struct page {
    const duro_registry_query *q;
    char (*slots)[DURO_NS_MAX + 1];
    char **names;
    size_t n, cap; /* cap = limit + 1: one more tells has_more */
    int64_t total;
};

static int collect(void *arg, const char *file, size_t len)
{
    struct page *p = arg;
    char name[DURO_NS_MAX + 1]; /* file is the file's name: "<name>.db" */
    memcpy(name, file, len);
    name[len] = '\0';
    const duro_registry_query *q = p->q;
    if (q->prefix && (len < q->prefix_len || memcmp(name, q->prefix, q->prefix_len) != 0))
        return 0;
    p->total++;
    if (p->cap == 0 || (q->has_after && strcmp(name, q->after) <= 0))
        return 0;
    size_t lo = 0, hi = p->n; /* the insertion point */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(p->names[mid], name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->cap)
        return 0; /* larger than every name kept, and the page is full */
    char *slot;
    if (p->n == p->cap)
        slot = p->names[--p->n]; /* drop the largest */
    else
        slot = p->slots[p->n];
    memmove(p->names + lo + 1, p->names + lo, (p->n - lo) * sizeof *p->names);
    memcpy(slot, name, len + 1);
    p->names[lo] = slot;
    p->n++;
    return 0;
}

static int fail_storage(duro_msg *m, int st)
{
    return duro_msg_fail(m, st, "registry storage error: %s", duro_errstr(st));
}

int duro_namespace_list(duro_registry_db *db, duro_msg *m, const duro_registry_query *q,
                        const duro_registry_env *env)
{
    struct page p = {.q = q, .cap = (size_t)q->limit + 1};
    p.slots = malloc(p.cap * sizeof *p.slots);
    p.names = malloc(p.cap * sizeof *p.names);
    if (!p.slots || !p.names) {
        free(p.slots);
        free(p.names);
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    }
    each_file(env->data_dir, collect, &p);
    int has_more = p.n > (size_t)q->limit;
    size_t shown = has_more ? (size_t)q->limit : p.n;
    duro_buf tmp = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tmp);
    uint32_t count = 0;
    int st = DURO_OK;
    const char *last = NULL;
    for (size_t i = 0; i < shown && st == DURO_OK; i++) {
        if (!pack_ns(db, &pk, env, p.names[i], strlen(p.names[i]), &st))
            continue; /* deleted meanwhile */
        count++;
        last = p.names[i];
        if (tmp.len + REPLY_FIXED + DURO_NS_MAX > env->max_reply) {
            st = DURO_PAYLOAD_TOO_LARGE;
            break;
        }
    }
    if (st == DURO_OK) {
        duro_tape_packer(&pk, &m->body);
        msgpack_pack_map(&pk, 5);
        duro_tape_lit(&pk, "namespaces");
        msgpack_pack_array(&pk, count);
        duro_buf_append(&m->body, tmp.data, tmp.len);
        duro_tape_lit(&pk, "total");
        msgpack_pack_int64(&pk, p.total);
        duro_tape_lit(&pk, "limit");
        msgpack_pack_int64(&pk, q->limit);
        duro_tape_lit(&pk, "has_more");
        duro_tape_bool(&pk, has_more);
        duro_tape_lit(&pk, "next");
        if (has_more && last)
            duro_tape_str(&pk, last, strlen(last));
        else
            msgpack_pack_nil(&pk);
    }
    duro_buf_free(&tmp);
    free(p.slots);
    free(p.names);
    if (st == DURO_PAYLOAD_TOO_LARGE)
        return duro_msg_fail(m, st,
                             "the reply would be larger than --max-reply-bytes (%zu bytes);"
                             " use a smaller limit",
                             env->max_reply);
    return st == DURO_OK ? DURO_OK : fail_storage(m, st);
}

/* ---- namespaces.get ---- */

int duro_namespace_get(duro_registry_db *db, duro_msg *m, const duro_registry_query *q,
                       const duro_registry_env *env)
{
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    int st = DURO_OK;
    if (!pack_ns(db, &pk, env, q->ns, q->ns_len, &st))
        return duro_msg_fail(m, DURO_NOT_FOUND, "namespace %s has no file", q->ns);
    if (st != DURO_OK) {
        duro_buf_free(&m->body);
        return fail_storage(m, st);
    }
    return DURO_OK;
}

/* ---- server.info ---- */

struct totals {
    const char *data_dir;
    int64_t count, bytes;
};

static int add_file(void *arg, const char *name, size_t len)
{
    struct totals *t = arg;
    int64_t bytes, mtime;
    if (ns_files(t->data_dir, name, len, &bytes, &mtime)) {
        t->count++;
        t->bytes += bytes;
    }
    return 0;
}

int duro_namespace_info(duro_msg *m, const duro_registry_env *env)
{
    struct totals t = {env->data_dir, 0, 0};
    each_file(env->data_dir, add_file, &t);
    static const char *const suffix[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/_registry.db%s", env->data_dir, suffix[i]);
        if (stat(path, &sb) == 0)
            t.bytes += (int64_t)sb.st_size;
    }
    struct statvfs vfs;
    int64_t free_bytes = -1, total_bytes = -1;
    if (statvfs(env->data_dir, &vfs) == 0) {
        free_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        total_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
    }
    uint64_t hits = DURO_STAT_GET(cache_hits), misses = DURO_STAT_GET(cache_misses);
    char iso[32];
    duro_iso8601(env->started_ms, iso);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 15);
    duro_tape_lit(&pk, "version");
    duro_tape_lit(&pk, DURO_VERSION_STRING);
    duro_tape_lit(&pk, "started_at");
    duro_tape_lit(&pk, iso);
    duro_tape_lit(&pk, "uptime_ms");
    msgpack_pack_int64(&pk, env->now_ms - env->started_ms);
    duro_tape_lit(&pk, "sync");
    duro_tape_lit(&pk, env->sync_full ? "full" : "normal");
    duro_tape_lit(&pk, "actors");
    msgpack_pack_int64(&pk, env->actors);
    duro_tape_lit(&pk, "namespaces_open");
    msgpack_pack_uint64(&pk, DURO_STAT_GET(open_namespaces));
    duro_tape_lit(&pk, "namespaces_total");
    msgpack_pack_int64(&pk, t.count);
    duro_tape_lit(&pk, "cache_bytes");
    msgpack_pack_uint64(&pk, DURO_STAT_GET(cache_bytes));
    duro_tape_lit(&pk, "cache_hits");
    msgpack_pack_uint64(&pk, hits);
    duro_tape_lit(&pk, "cache_misses");
    msgpack_pack_uint64(&pk, misses);
    duro_tape_lit(&pk, "cache_hit_rate");
    msgpack_pack_double(&pk, hits + misses ? (double)hits / (double)(hits + misses) : 0.0);
    duro_tape_lit(&pk, "commits");
    msgpack_pack_uint64(&pk, DURO_STAT_GET(commits));
    duro_tape_lit(&pk, "data_bytes");
    msgpack_pack_int64(&pk, t.bytes);
    duro_tape_lit(&pk, "disk_free_bytes");
    msgpack_pack_int64(&pk, free_bytes);
    duro_tape_lit(&pk, "disk_total_bytes");
    msgpack_pack_int64(&pk, total_bytes);
    return DURO_OK;
}

/* ---- namespaces.delete: the kind DURO_KIND_NAMESPACE ---- */

/* Runs on the owner, on the namespace's file (a namespace without one is
 * run on the ghost first, and answers 404 there). */
static int ns_exec(duro_ns *ns, duro_msg *m, int64_t now_ms)
{
    (void)now_ms;
    if (m->op != DURO_NAMESPACE_DELETE)
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown namespace operation");
    if (ns->ghost)
        return duro_msg_fail(m, DURO_NOT_FOUND, "namespace %s has no file", m->ns);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 2);
    duro_tape_lit(&pk, "namespace");
    duro_tape_str(&pk, m->ns, m->ns_len);
    duro_tape_lit(&pk, "deleted");
    duro_tape_bool(&pk, 1);
    return DURO_DROP;
}

static void ns_req_free(void *req) { free(req); }

static const char *const ns_ops[] = {
    [DURO_NAMESPACE_DELETE] = "namespaces.delete",
};

const duro_kind duro_namespace_kind = {
    .name = "namespace",
    .metric = "duro_namespace_ops_total",
    .metric_help = "Namespace operations (delete).",
    .ops = ns_ops,
    .n_ops = sizeof ns_ops / sizeof ns_ops[0],
    .writes = duro_ops_all,
    .txn = duro_ops_none,
    .admin = duro_ops_all,
    .decode = duro_namespace_decode_args,
    .free = ns_req_free,
    .exec = ns_exec,
};
