/*
 * kind.c — the kind table (runtime/kind.h, objects/object.c): every op name
 * finds its kind, one builder answers bad calls as the protocol documents,
 * the access check sees each op's write flag, and the runtime refuses a
 * table whose migrations collide or leave a gap.
 */
#include <jansson.h>
#include <string.h>

#include "common/codec.h"
#include "objects/kv.h"
#include "objects/object.h"
#include "objects/ratelimit.h"
#include "objects/session.h"
#include "objects/sql.h"
#include "runtime/registry_store.h"
#include "test.h"
#include "unit/rt_util.h"

static const duro_kinds *T = &duro_object_kinds;

TEST(every_op_name_finds_its_row)
{
    int names = 0;
    for (int id = 0; id <= DURO_KIND_MAX; id++) {
        const duro_kind *k = T->kinds[id];
        for (int op = 0; k && k->ops && op < k->n_ops; op++) {
            if (!k->ops[op])
                continue;
            int kind = -1, o = -1;
            ASSERT(duro_op_find(T, k->ops[op], strlen(k->ops[op]), &kind, &o) == k);
            ASSERT_EQ(kind, id);
            ASSERT_EQ(o, op);
            ASSERT(k->decode != NULL);
            names++;
        }
    }
    /* kv+snapshot, ratelimit, session, auth, resources, registry queries
     * (resources, namespaces, server.info), namespaces.delete, blob, sql */
    ASSERT_EQ(names, 10 + 3 + 6 + 5 + 2 + 5 + 1 + 6 + 3);
    int kind, op;
    ASSERT(duro_op_find(T, "kv.gets", 7, &kind, &op) == NULL);
    ASSERT(duro_op_find(T, "kv.ge", 5, &kind, &op) == NULL);
    ASSERT(duro_op_find(T, "", 0, &kind, &op) == NULL);
}

/* What the access check was asked, and what it answers. */
typedef struct seen {
    int calls, write;
    char ns[64];
    int refuse;
    int refuse_write; /* a read-only token: only write access is refused */
} seen;

static int allow(void *arg, const char *ns, size_t ns_len, int write, char *err, size_t errlen)
{
    seen *s = arg;
    s->calls++;
    s->write = write;
    if (!ns) /* an admin-only op */
        ns_len = 7, ns = "(admin)";
    snprintf(s->ns, sizeof s->ns, "%.*s", (int)ns_len, ns);
    if (s->refuse || (s->refuse_write && write)) {
        snprintf(err, errlen, "no access to %.*s", (int)ns_len, ns);
        return DURO_FORBIDDEN;
    }
    return DURO_OK;
}

static const duro_limits lim = {.max_value_bytes = 1024,
                                .max_reply_bytes = 1 << 20,
                                .rl_limit = 30,
                                .rl_window_ms = 60000};

/* Builds op over ns with JSON args (as msgpack), the access check s.
 * Aborts if the args are no JSON or the builder breaks its contract (a
 * request exactly when DURO_OK). */
static int build(const char *op, const char *ns, const char *args, seen *s, duro_msg *m)
{
    json_error_t je;
    json_t *j = json_loads(args, 0, &je);
    duro_buf mp = {0};
    if (!j || duro_json_to_mp(j, &mp) != 0)
        abort();
    json_decref(j);
    memset(m, 0, sizeof *m);
    duro_op_call c = {.op = op,
                      .op_len = strlen(op),
                      .ns = ns,
                      .ns_len = strlen(ns),
                      .args = {.mp = (const unsigned char *)mp.data, .len = mp.len,
                               .val_enc = DURO_ENC_MSGPACK, .lim = &lim},
                      .allow = s ? allow : NULL,
                      .allow_arg = s};
    int st = duro_op_build(T, &c, m);
    duro_buf_free(&mp);
    if ((st == DURO_OK) != (m->req != NULL))
        abort();
    return st;
}

TEST(build_answers_bad_calls)
{
    duro_msg m;
    ASSERT_EQ(build("kv.nope", "app", "{}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_STREQ(m.errmsg, "unknown op \"kv.nope\"");
    ASSERT_EQ(build("kv.get", "bad name!", "{\"key\":\"k\"}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT(strncmp(m.errmsg, "invalid namespace: ", 19) == 0);
    ASSERT_EQ(build("kv.get", "app", "{\"key\":\"k\",\"x\":1}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_STREQ(m.errmsg, "unknown field \"x\"");
    ASSERT_EQ(build("ratelimit.check", "app", "{\"limit\":5}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_STREQ(m.errmsg, "\"key\" must be a string");
    char big[2048]; /* a value over max_value_bytes */
    int n = snprintf(big, sizeof big, "{\"key\":\"k\",\"value\":\"");
    memset(big + n, 'x', 1500);
    strcpy(big + n + 1500, "\"}");
    ASSERT_EQ(build("kv.put", "app", big, NULL, &m), DURO_PAYLOAD_TOO_LARGE);
}

TEST(the_access_check_sees_what_each_op_does)
{
    static const struct {
        const char *op, *args;
        int write;
    } cases[] = {
        {"kv.get", "{\"key\":\"k\"}", 0},
        {"kv.get", "{\"key\":\"k\",\"meta\":true}", 0}, /* the fast path */
        {"kv.put", "{\"key\":\"k\",\"value\":1}", 1},
        {"kv.list", "{}", 0},
        {"snapshot.patch", "{\"ops\":[]}", 1},
        {"ratelimit.check", "{\"key\":\"k\"}", 1}, /* it consumes */
        {"ratelimit.get", "{\"key\":\"k\"}", 0},
        {"session.get", "{\"id\":\"x\"}", 0},
        {"session.list_user", "{\"userId\":\"u\"}", 0},
        {"session.delete", "{\"id\":\"x\"}", 1},
        {"resources.register", "{\"type\":\"do\",\"key\":\"a\"}", 1},
        {"auth.login", "{\"email\":\"a@b.c\",\"password\":\"12345678\"}", 1},
        {"auth.session", "{\"sessionId\":\"x\"}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen s = {0};
        duro_msg m;
        ASSERT_EQ(build(cases[i].op, "app", cases[i].args, &s, &m), DURO_OK);
        ASSERT_EQ(s.calls, 1);
        ASSERT_EQ(s.write, cases[i].write);
        ASSERT_STREQ(s.ns, "app");
        ASSERT_STREQ(m.ns, "app");
        duro_op_free(T, &m);
        ASSERT(m.req == NULL);
        s = (seen){.refuse = 1};
        ASSERT_EQ(build(cases[i].op, "app", cases[i].args, &s, &m), DURO_FORBIDDEN);
        ASSERT_STREQ(m.errmsg, "no access to app");
    }
    /* the transaction is not the access: a check flushes later, a get renews */
    ASSERT_EQ(duro_kind_txn(T->kinds[DURO_KIND_RATELIMIT], DURO_RL_CHECK), 0);
    ASSERT_EQ(duro_kind_txn(T->kinds[DURO_KIND_SESSION], DURO_SESSION_GET), 1);
    ASSERT_EQ(duro_kind_txn(T->kinds[DURO_KIND_KV], DURO_KV_PUT), 1);
}

TEST(an_op_that_writes_only_if_its_statement_does_takes_a_read_only_caller)
{
    /* sql.*: writes(op) is DURO_WRITES_IF_STMT (kind.h) */
    seen s = {0};
    duro_msg m;
    const char *args = "{\"sql\":\"SELECT 1\"}";
    ASSERT_EQ(build("sql.query", "app", args, &s, &m), DURO_OK);
    ASSERT_EQ(s.calls, 1); /* write access granted: nothing more asked */
    ASSERT_EQ(s.write, 1);
    ASSERT_EQ(((duro_sql_req *)m.req)->read_only, 0);
    duro_op_free(T, &m);
    s = (seen){.refuse_write = 1};
    ASSERT_EQ(build("sql.exec", "app", args, &s, &m), DURO_OK);
    ASSERT_EQ(s.calls, 2); /* write refused, then read granted */
    ASSERT_EQ(s.write, 0);
    ASSERT_EQ(((duro_sql_req *)m.req)->read_only, 1);
    duro_op_free(T, &m);
    s = (seen){.refuse = 1};
    ASSERT_EQ(build("sql.batch", "app", "{\"statements\":[{\"sql\":\"SELECT 1\"}]}", &s, &m),
              DURO_FORBIDDEN);
    ASSERT_STREQ(m.errmsg, "no access to app"); /* the write check's answer */
    /* other ops never get a second ask */
    s = (seen){.refuse_write = 1};
    ASSERT_EQ(build("kv.put", "app", "{\"key\":\"k\",\"value\":1}", &s, &m), DURO_FORBIDDEN);
    ASSERT_EQ(s.calls, 1);
}

TEST(registry_queries_read_every_namespace_or_their_filter)
{
    seen s = {0};
    duro_msg m;
    ASSERT_EQ(build("resources.list", "ignored", "{}", &s, &m), DURO_OK);
    ASSERT_EQ(m.kind, DURO_KIND_REGISTRY);
    ASSERT_EQ(m.op, DURO_REGISTRY_LIST);
    ASSERT_STREQ(m.ns, "*");
    ASSERT_STREQ(s.ns, "*");
    ASSERT_EQ(s.write, 0);
    duro_op_free(T, &m);
    s = (seen){0};
    ASSERT_EQ(build("resources.stats", "ignored", "{\"namespace\":\"team\"}", &s, &m), DURO_OK);
    ASSERT_STREQ(s.ns, "team");
    duro_op_free(T, &m);
    s = (seen){.refuse = 1};
    ASSERT_EQ(build("resources.stats", "x", "{\"namespace\":\"team\"}", &s, &m), DURO_FORBIDDEN);
    ASSERT(m.req == NULL);
}

TEST(namespace_ops_ask_for_the_admin_or_their_scope)
{
    seen s = {0};
    duro_msg m;
    /* delete runs on the owner of its namespace, but asks for the admin */
    ASSERT_EQ(build("namespaces.delete", "app", "{}", &s, &m), DURO_OK);
    ASSERT_EQ(m.kind, DURO_KIND_NAMESPACE);
    ASSERT_STREQ(m.ns, "app");
    ASSERT_STREQ(s.ns, "(admin)");
    ASSERT_EQ(s.write, 1);
    duro_op_free(T, &m);
    ASSERT_EQ(build("namespaces.delete", "app", "{\"x\":1}", NULL, &m), DURO_BAD_REQUEST);
    s = (seen){.refuse = 1};
    ASSERT_EQ(build("namespaces.delete", "app", "{}", &s, &m), DURO_FORBIDDEN);
    ASSERT_STREQ(m.errmsg, "no access to (admin)");
    /* the queries go to the registry; get reads its namespace's scope */
    static const struct {
        const char *op, *args, *scope;
        int reg_op;
    } q[] = {
        {"namespaces.list", "{\"prefix\":\"a\",\"limit\":5}", "*", DURO_REGISTRY_NS_LIST},
        {"namespaces.get", "{\"namespace\":\"team\"}", "team", DURO_REGISTRY_NS_GET},
        {"server.info", "{}", "*", DURO_REGISTRY_INFO},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        s = (seen){0};
        ASSERT_EQ(build(q[i].op, "ignored", q[i].args, &s, &m), DURO_OK);
        ASSERT_EQ(m.kind, DURO_KIND_REGISTRY);
        ASSERT_EQ(m.op, q[i].reg_op);
        ASSERT_STREQ(m.ns, "*");
        ASSERT_STREQ(s.ns, q[i].scope);
        ASSERT_EQ(s.write, 0);
        duro_op_free(T, &m);
    }
    ASSERT_EQ(build("namespaces.list", "x", "{\"limit\":1001}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_EQ(build("namespaces.list", "x", "{\"after\":\"_x\"}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_EQ(build("namespaces.get", "x", "{}", NULL, &m), DURO_BAD_REQUEST);
    ASSERT_EQ(build("server.info", "x", "{\"a\":1}", NULL, &m), DURO_BAD_REQUEST);
}

/* A table with KV's migration given twice, or with a gap, is refused. */
TEST(the_runtime_refuses_a_bad_schema)
{
    rt_fresh_dir("kind");
    static const duro_migration dup[] = {{1, "SELECT 1"}};
    duro_kind twin = duro_kv_kind;
    twin.migrations = dup;
    twin.n_migrations = 1;
    duro_kinds bad = duro_object_kinds;
    bad.kinds[DURO_KIND_MAX - 1] = &twin;
    duro_runtime_config c = rt_config(1, 16, 1000);
    c.kinds = &bad;
    duro_runtime *rt;
    char err[256];
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_INTERNAL);
    ASSERT(strstr(err, "migration 1") != NULL);
    static const duro_migration gap[] = {{40, "SELECT 1"}}; /* far past the last one */
    twin.migrations = gap;
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_INTERNAL);
    ASSERT(strstr(err, "no kind has migration ") != NULL);
    c.kinds = &duro_object_kinds; /* and the real table opens */
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    duro_runtime_close(rt);
}

TEST_MAIN()
