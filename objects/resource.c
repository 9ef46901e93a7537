/*
 * resource.c — resources registered by hand, kept in the namespace's own
 * file (_duro_resources) so that the registry can always be rebuilt from the
 * namespace files (see registry.h). Each registration is a write of the
 * namespace: it takes the next version and sends a change notice.
 */
#include <stdlib.h>
#include <string.h>

#include "objects/object.h"
#include "objects/registry.h"
#include "objects/registry_req.h"
#include "common/tape.h"

enum { ST_FIND = 48, ST_UPSERT, ST_DELETE };

static const char SQL_FIND[] =
    "SELECT created_at FROM _duro_resources WHERE type = ?1 AND key = ?2";
static const char SQL_UPSERT[] =
    "INSERT INTO _duro_resources(type, key, size, metadata, created_at, updated_at)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(type, key) DO UPDATE SET size = excluded.size,"
    " metadata = excluded.metadata, updated_at = excluded.updated_at";
static const char SQL_DELETE[] = "DELETE FROM _duro_resources WHERE type = ?1 AND key = ?2";

static void bind_id(sqlite3_stmt *st, const duro_resource_req *r)
{
    sqlite3_bind_text(st, 1, r->type, (int)r->type_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->key, (int)r->key_len, SQLITE_STATIC);
}

static int op_register(duro_ns *ns, duro_msg *m, const duro_resource_req *r, int64_t now)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_FIND, SQL_FIND);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    bind_id(st, r);
    int rc = sqlite3_step(st);
    int64_t created = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : now;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    m->created = rc == SQLITE_DONE;
    if (!(st = duro_ns_stmt(ns, ST_UPSERT, SQL_UPSERT)))
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    bind_id(st, r);
    sqlite3_bind_int64(st, 3, r->size);
    if (r->meta)
        sqlite3_bind_text(st, 4, r->meta, (int)r->meta_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    duro_notice n = {.op = DURO_NOTICE_PUT,
                     .type = r->type,
                     .type_len = r->type_len,
                     .key = r->key,
                     .key_len = r->key_len,
                     .size = r->size,
                     .created_at = created,
                     .updated_at = now,
                     .meta = r->meta,
                     .meta_len = r->meta_len};
    if (duro_notice_add(&ns->notes, &n) != 0)
        return duro_msg_fail(m, DURO_NOMEM, "out of memory");
    duro_ns_next_version(ns);
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    duro_registry_pack_resource(&pk, r->type, r->type_len, ns->name, ns->name_len, r->key,
                                r->key_len, created, now, r->size, r->meta, r->meta_len);
    return DURO_OK;
}

static int op_unregister(duro_ns *ns, duro_msg *m, const duro_resource_req *r)
{
    sqlite3_stmt *st = duro_ns_stmt(ns, ST_DELETE, SQL_DELETE);
    if (!st)
        return duro_ns_fail(ns, m, -DURO_INTERNAL);
    bind_id(st, r);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return duro_ns_fail(ns, m, rc);
    int deleted = sqlite3_changes(ns->db) > 0;
    if (deleted) {
        duro_notice n = {.op = DURO_NOTICE_DEL,
                         .type = r->type,
                         .type_len = r->type_len,
                         .key = r->key,
                         .key_len = r->key_len};
        if (duro_notice_add(&ns->notes, &n) != 0)
            return duro_msg_fail(m, DURO_NOMEM, "out of memory");
        duro_ns_next_version(ns);
    }
    msgpack_packer pk;
    duro_tape_packer(&pk, &m->body);
    msgpack_pack_map(&pk, 1);
    duro_tape_lit(&pk, "deleted");
    duro_tape_bool(&pk, deleted);
    return DURO_OK;
}

static int resource_exec(duro_ns *ns, duro_msg *m, int64_t now)
{
    switch (m->op) {
    case DURO_RESOURCE_REGISTER:
        return op_register(ns, m, m->req, now);
    case DURO_RESOURCE_UNREGISTER:
        return op_unregister(ns, m, m->req);
    default:
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown resource operation");
    }
}

static void resource_free(void *req) { duro_resource_req_free(req); }

static size_t resource_reply_bound(int op, const duro_limits *lim)
{
    (void)op;
    (void)lim;
    return DURO_KV_META_MAX + 4096;
}

static const char *const resource_ops[] = {
    [DURO_RESOURCE_REGISTER] = "resources.register",
    [DURO_RESOURCE_UNREGISTER] = "resources.unregister",
};

static const duro_migration resource_migrations[] = {
    /* resources registered by hand */
    {5, "CREATE TABLE _duro_resources(type TEXT NOT NULL, key TEXT NOT NULL,"
        " size INTEGER NOT NULL, metadata TEXT, created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL, PRIMARY KEY(type, key)) WITHOUT ROWID;"},
};

const duro_kind duro_resource_kind = {
    .name = "resource",
    .metric = "duro_resource_ops_total",
    .metric_help = "Registrations and unregistrations run.",
    .ops = resource_ops,
    .n_ops = sizeof resource_ops / sizeof resource_ops[0],
    .writes = duro_ops_all,
    .decode = duro_resource_decode_args,
    .free = resource_free,
    .reply_bound = resource_reply_bound,
    .exec = resource_exec,
    .migrations = resource_migrations,
    .n_migrations = sizeof resource_migrations / sizeof resource_migrations[0],
};
