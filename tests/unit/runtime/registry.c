/*
 * tests/unit/runtime/registry.c — the StorageRegistry under a real runtime: change notices,
 * tracking of every KV write path and of expiry, list filters and pages,
 * stats, registration by hand, and reconciling with the namespace files at
 * start (a deleted registry file, a namespace changed behind its back, a
 * namespace file that is gone).
 */
#include <sqlite3.h>
#include <unistd.h>

#include "objects/kv.h"
#include "objects/registry.h"
#include "unit/rt_util.h"
#include "runtime/errinj.h"
#include "runtime/stats.h"
#include "runtime/route.h"
#include "test.h"
#include "objects/kv_req.h"
#include "objects/registry_req.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
        abort();
    }
    return j;
}

/* Runs a KV op given by name with JSON args; returns its status. */
static int kv(duro_runtime *rt, const char *ns, const char *op, const char *args)
{
    static const duro_kv_limits lim = {1 << 20, 1 << 20};
    json_t *a = parse(args);
    duro_kv_req *r;
    char err[256];
    int kop = duro_kv_op_from_name(op, strlen(op));
    if (kop < 0 ||
        duro_kv_request_from_args(kop, a, DURO_ENC_JSON, &lim, &r, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "bad kv request %s %s: %s\n", op, args, err);
        abort();
    }
    json_decref(a);
    int st = rt_run(rt, DURO_KIND_KV, kop, ns, r, NULL);
    duro_kv_req_free(r);
    return st;
}

/* A registry query (LIST or STATS) with JSON params; returns the reply. */
static json_t *query(duro_runtime *rt, int op, const char *params)
{
    json_t *p = parse(params);
    duro_registry_query *q;
    char err[256];
    if (duro_registry_query_from(p, DURO_PARAMS_TYPED, &q, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "bad query %s: %s\n", params, err);
        abort();
    }
    json_decref(p);
    json_t *out;
    if (rt_run(rt, DURO_KIND_REGISTRY, op, "*", q, &out) != DURO_OK)
        abort();
    duro_registry_query_free(q);
    return out;
}

static json_t *list(duro_runtime *rt, const char *params)
{
    return query(rt, DURO_REGISTRY_LIST, params);
}

static int64_t total(duro_runtime *rt, const char *params)
{
    json_t *l = list(rt, params);
    int64_t n = json_integer_value(json_object_get(l, "total"));
    json_decref(l);
    return n;
}

/* The keys of a list reply as "ns/type/key,..." (in order). */
static char *names(json_t *l)
{
    duro_buf b = {0};
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(l, "resources"), i, r) duro_buf_printf(
        &b, "%s%s/%s/%s", i ? "," : "", json_string_value(json_object_get(r, "namespace")),
        json_string_value(json_object_get(r, "type")),
        json_string_value(json_object_get(r, "key")));
    duro_buf_append(&b, "", 1);
    return b.data;
}

static int resource(duro_runtime *rt, const char *ns, int op, const char *args, json_t **out)
{
    json_t *a = parse(args);
    duro_resource_req *r;
    char err[256];
    if (duro_resource_request(op, a, NULL, NULL, &r, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "bad resource request %s: %s\n", args, err);
        abort();
    }
    json_decref(a);
    int st = rt_run(rt, DURO_KIND_RESOURCE, op, ns, r, out);
    duro_resource_req_free(r);
    return st;
}

TEST(notices_round_trip_and_reject_garbage)
{
    duro_buf b = {0};
    duro_notice put = {.op = DURO_NOTICE_PUT,
                       .type = "kv",
                       .type_len = 2,
                       .key = "k1",
                       .key_len = 2,
                       .size = 7,
                       .created_at = 1,
                       .updated_at = 2,
                       .expires_at = 3,
                       .meta = "{\"a\":1}",
                       .meta_len = 7};
    duro_notice del = {
        .op = DURO_NOTICE_DEL, .type = "do", .type_len = 2, .key = "x", .key_len = 1};
    duro_notice clear = {.op = DURO_NOTICE_CLEAR, .type = "kv", .type_len = 2};
    ASSERT_EQ(duro_notice_add(&b, &put), 0);
    ASSERT_EQ(duro_notice_add(&b, &del), 0);
    ASSERT_EQ(duro_notice_add(&b, &clear), 0);
    const char *p = b.data, *end = b.data + b.len;
    duro_notice n;
    ASSERT_EQ(duro_notice_next(&p, end, &n), 1);
    ASSERT_EQ(n.op, DURO_NOTICE_PUT);
    ASSERT(n.key_len == 2 && memcmp(n.key, "k1", 2) == 0);
    ASSERT_EQ(n.size, 7);
    ASSERT_EQ(n.expires_at, 3);
    ASSERT(n.meta && n.meta_len == 7 && memcmp(n.meta, "{\"a\":1}", 7) == 0);
    ASSERT_EQ(duro_notice_next(&p, end, &n), 1);
    ASSERT(n.op == DURO_NOTICE_DEL && n.type_len == 2 && memcmp(n.type, "do", 2) == 0);
    ASSERT_EQ(duro_notice_next(&p, end, &n), 1);
    ASSERT(n.op == DURO_NOTICE_CLEAR && n.key_len == 0);
    ASSERT_EQ(duro_notice_next(&p, end, &n), 0);
    /* every truncation of the buffer is refused, never read past */
    for (size_t cut = 1; cut < b.len; cut++) {
        const char *q = b.data, *e = b.data + cut;
        int rc;
        while ((rc = duro_notice_next(&q, e, &n)) == 1)
            ;
        ASSERT(rc == -1 || q == e);
    }
    b.data[0] = 9; /* unknown op */
    p = b.data;
    ASSERT_EQ(duro_notice_next(&p, end, &n), -1);
    duro_buf_free(&b);
}

TEST(every_kv_write_path_is_tracked)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(20);
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"u1\",\"value\":{\"x\":1},\"metadata\":{\"m\":1}}"),
              DURO_OK);
    ASSERT_EQ(
        kv(rt, "a", "kv.batch_set",
           "{\"entries\":[{\"key\":\"u2\",\"value\":\"hello\"},{\"key\":\"v1\",\"value\":1}]}"),
        DURO_OK);
    ASSERT_EQ(kv(rt, "b", "kv.put", "{\"key\":\"u1\",\"value\":true}"), DURO_OK);
    json_t *l = list(rt, "{}");
    char *s = names(l);
    ASSERT_STREQ(s, "a/kv/u1,a/kv/u2,a/kv/v1,b/kv/u1");
    free(s);
    json_t *first = json_array_get(json_object_get(l, "resources"), 0);
    ASSERT_EQ(json_integer_value(json_object_get(first, "size")), 7); /* {"x":1} */
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(first, "metadata"), "m")), 1);
    const char *created = json_string_value(json_object_get(first, "created_at"));
    ASSERT(created && strlen(created) == 20 && created[10] == 'T' && created[19] == 'Z');
    json_decref(l);

    ASSERT_EQ(kv(rt, "a", "kv.delete", "{\"key\":\"u2\"}"), DURO_OK);
    ASSERT_EQ(kv(rt, "a", "kv.batch_delete", "{\"keys\":[\"v1\",\"nope\"]}"), DURO_OK);
    ASSERT_EQ(total(rt, "{\"namespace\":\"a\"}"), 1);
    ASSERT_EQ(kv(rt, "a", "snapshot.patch",
                 "{\"ops\":[{\"op\":\"set\",\"key\":\"p1\",\"value\":[1,2]},"
                 "{\"op\":\"del\",\"key\":\"u1\"}]}"),
              DURO_OK);
    l = list(rt, "{\"namespace\":\"a\"}");
    s = names(l);
    ASSERT_STREQ(s, "a/kv/p1");
    free(s);
    json_decref(l);

    /* clear removes the namespace's KV keys and nothing registered by hand */
    ASSERT_EQ(resource(rt, "b", DURO_RESOURCE_REGISTER,
                       "{\"type\":\"do\",\"key\":\"Obj\",\"size\":5}", NULL),
              DURO_OK);
    ASSERT_EQ(kv(rt, "b", "kv.clear", "{}"), DURO_OK);
    l = list(rt, "{\"namespace\":\"b\"}");
    s = names(l);
    ASSERT_STREQ(s, "b/do/Obj");
    free(s);
    json_decref(l);

    /* expiry: hidden at once, then swept (and the sweep's notice applied) */
    /* a TTL long enough to be seen under a loaded, sanitized run; then poll
     * (bounded) until the sweep removed it */
    ASSERT_EQ(kv(rt, "c", "kv.put", "{\"key\":\"t\",\"value\":1,\"ttlMs\":1000}"), DURO_OK);
    ASSERT_EQ(total(rt, "{\"namespace\":\"c\"}"), 1);
    for (int i = 0; i < 100 && total(rt, "{\"namespace\":\"c\"}") != 0; i++)
        usleep(50 * 1000);
    ASSERT_EQ(total(rt, "{\"namespace\":\"c\"}"), 0);
    json_t *st = query(rt, DURO_REGISTRY_STATS, "{}");
    ASSERT_EQ(json_integer_value(json_object_get(st, "total")), 2);
    ASSERT(json_object_get(json_object_get(st, "by_namespace"), "c") == NULL);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(st, "by_type"), "do")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(st, "by_type"), "r2")), 0);
    ASSERT_EQ(json_integer_value(json_object_get(st, "total_size")), 5 + 5); /* "[1,2]" + 5 */
    json_decref(st);
    duro_runtime_close(rt);
}

/* Folding: the registry applies only the last record of each resource in
 * a batch of notices, a kv.clear alone after what came before it, and ends
 * in the state every record applied in order would give. */
TEST(notices_fold_to_the_last_record)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    uint64_t folded = DURO_STAT_GET(registry_folded);
    char args[128], val[64];
    for (int round = 0; round < 20; round++) /* 10 keys over two namespaces, 20 times */
        for (int j = 0; j < 10; j++) {
            int n = round + 1 + j;
            memset(val, 'a', (size_t)n);
            val[n] = '\0';
            snprintf(args, sizeof args, "{\"key\":\"k%d\",\"value\":\"%s\"}", j, val);
            ASSERT_EQ(kv(rt, j % 2 ? "fb" : "fa", "kv.put", args), DURO_OK);
        }
    ASSERT_EQ(kv(rt, "fa", "kv.delete", "{\"key\":\"k0\"}"), DURO_OK);
    ASSERT_EQ(kv(rt, "fb", "kv.delete", "{\"key\":\"k1\"}"), DURO_OK);
    ASSERT_EQ(kv(rt, "fb", "kv.put", "{\"key\":\"k1\",\"value\":\"z\"}"), DURO_OK);
    ASSERT_EQ(resource(rt, "fb", DURO_RESOURCE_REGISTER,
                       "{\"type\":\"do\",\"key\":\"Obj\",\"size\":5}", NULL),
              DURO_OK);
    ASSERT_EQ(kv(rt, "fa", "kv.clear", "{}"), DURO_OK); /* a CLEAR: applied alone */
    ASSERT_EQ(kv(rt, "fa", "kv.put", "{\"key\":\"k2\",\"value\":\"new\"}"), DURO_OK);
    for (int pass = 0; pass < 2; pass++) { /* and the same after a restart */
        json_t *l = list(rt, "{}");
        char *s = names(l);
        ASSERT_STREQ(s, "fa/kv/k2,fb/do/Obj,fb/kv/k1,fb/kv/k3,fb/kv/k5,fb/kv/k7,fb/kv/k9");
        free(s);
        json_t *res = json_object_get(l, "resources");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(res, 0), "size")), 5);
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(res, 2), "size")), 3);
        for (size_t i = 3; i < 7; i++) /* k3..k9: the last round's "a" x (20 + j) */
            ASSERT_EQ(json_integer_value(json_object_get(json_array_get(res, i), "size")),
                      (json_int_t)(20 + (2 * (i - 3) + 3) + 2));
        json_decref(l);
        if (pass == 0) {
            ASSERT(DURO_STAT_GET(registry_folded) > folded); /* some records were skipped */
            duro_runtime_close(rt);
            rt = rt_open(1000);
        }
    }
    duro_runtime_close(rt);
}

TEST(filters_and_pages)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    char args[128];
    for (int ns = 0; ns < 3; ns++)
        for (int k = 0; k < 10; k++) {
            snprintf(args, sizeof args, "{\"key\":\"%s%d\",\"value\":%d}", k % 2 ? "odd" : "even",
                     k, k);
            char name[8];
            snprintf(name, sizeof name, "n%d", ns);
            ASSERT_EQ(kv(rt, name, "kv.put", args), DURO_OK);
        }
    ASSERT_EQ(
        resource(rt, "n1", DURO_RESOURCE_REGISTER, "{\"type\":\"do\",\"key\":\"even-obj\"}", NULL),
        DURO_OK);
    ASSERT_EQ(total(rt, "{}"), 31);
    ASSERT_EQ(total(rt, "{\"type\":\"kv\"}"), 30);
    ASSERT_EQ(total(rt, "{\"type\":\"do\"}"), 1);
    ASSERT_EQ(total(rt, "{\"namespace\":\"n1\"}"), 11);
    ASSERT_EQ(total(rt, "{\"key_prefix\":\"even\"}"), 16);
    ASSERT_EQ(total(rt, "{\"namespace\":\"n1\",\"type\":\"kv\",\"key_prefix\":\"odd\"}"), 5);
    ASSERT_EQ(total(rt, "{\"key_prefix\":\"zzz\"}"), 0);
    ASSERT_EQ(total(rt, "{\"type\":\"r2\"}"), 0);

    /* pages of 7 cover everything once, in (namespace, type, key) order */
    json_t *all = list(rt, "{\"limit\":1000}");
    char *want = names(all);
    json_decref(all);
    duro_buf got = {0};
    for (int off = 0; off < 31; off += 7) {
        snprintf(args, sizeof args, "{\"limit\":7,\"offset\":%d}", off);
        json_t *l = list(rt, args);
        char *s = names(l);
        duro_buf_printf(&got, "%s%s", off ? "," : "", s);
        free(s);
        ASSERT_EQ(json_is_true(json_object_get(l, "has_more")), off + 7 < 31);
        ASSERT_EQ(json_integer_value(json_object_get(l, "offset")), off);
        ASSERT_EQ(json_integer_value(json_object_get(l, "limit")), 7);
        json_decref(l);
    }
    duro_buf_append(&got, "", 1);
    ASSERT_STREQ(got.data, want);
    ASSERT(strncmp(want, "n0/kv/even0,n0/kv/even2", 23) == 0);
    free(want);
    duro_buf_free(&got);

    json_t *l = list(rt, "{\"offset\":31}");
    ASSERT_EQ(json_array_size(json_object_get(l, "resources")), 0);
    ASSERT_EQ(json_integer_value(json_object_get(l, "total")), 31);
    ASSERT(json_is_false(json_object_get(l, "has_more")));
    json_decref(l);
    l = list(rt, "{\"limit\":0}");
    ASSERT_EQ(json_array_size(json_object_get(l, "resources")), 0);
    ASSERT(json_is_true(json_object_get(l, "has_more")));
    json_decref(l);
    duro_runtime_close(rt);
}

TEST(registration_by_hand)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    json_t *out;
    ASSERT_EQ(resource(rt, "app", DURO_RESOURCE_REGISTER,
                       "{\"type\":\"do\",\"key\":\"Room\",\"size\":12,\"metadata\":{\"c\":\"R\"}}",
                       &out),
              DURO_OK);
    ASSERT_STREQ(json_string_value(json_object_get(out, "namespace")), "app");
    ASSERT_EQ(json_integer_value(json_object_get(out, "size")), 12);
    json_decref(out);
    ASSERT_EQ(resource(rt, "app", DURO_RESOURCE_REGISTER,
                       "{\"type\":\"do\",\"key\":\"Room\",\"size\":20}", NULL),
              DURO_OK);
    json_t *l = list(rt, "{\"type\":\"do\"}");
    json_t *r = json_array_get(json_object_get(l, "resources"), 0);
    ASSERT_EQ(json_integer_value(json_object_get(r, "size")), 20);
    ASSERT(json_is_null(json_object_get(r, "metadata")));
    json_decref(l);
    ASSERT_EQ(
        resource(rt, "app", DURO_RESOURCE_UNREGISTER, "{\"type\":\"do\",\"key\":\"Room\"}", &out),
        DURO_OK);
    ASSERT(json_is_true(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(
        resource(rt, "app", DURO_RESOURCE_UNREGISTER, "{\"type\":\"do\",\"key\":\"Room\"}", &out),
        DURO_OK);
    ASSERT(json_is_false(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(total(rt, "{}"), 0);

    /* requests the decoder refuses */
    const char *bad[] = {"{\"type\":\"kv\",\"key\":\"k\"}",
                         "{\"key\":\"k\"}",
                         "{\"type\":\"do\"}",
                         "{\"type\":\"a b\",\"key\":\"k\"}",
                         "{\"type\":\"do\",\"key\":\"k\",\"size\":-1}",
                         "{\"type\":\"do\",\"key\":\"k\",\"metadata\":[1]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *a = parse(bad[i]);
        duro_resource_req *rr;
        char err[256];
        ASSERT_EQ(
            duro_resource_request(DURO_RESOURCE_REGISTER, a, NULL, NULL, &rr, err, sizeof err),
            DURO_BAD_REQUEST);
        json_decref(a);
    }
    duro_runtime_close(rt);
}

static char *full_list(duro_runtime *rt)
{
    json_t *l = list(rt, "{\"limit\":1000}");
    char *s = json_dumps(l, JSON_COMPACT);
    json_decref(l);
    return s;
}

static void rm_registry(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/_registry.db*", rt_dir);
    if (system(cmd) != 0)
        abort();
}

TEST(reconcile_rebuilds_and_repairs)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"k1\",\"value\":1,\"metadata\":{\"m\":[1]}}"),
              DURO_OK);
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"k2\",\"value\":\"two\"}"), DURO_OK);
    ASSERT_EQ(kv(rt, "gone", "kv.put", "{\"key\":\"k\",\"value\":0}"), DURO_OK);
    ASSERT_EQ(resource(rt, "b", DURO_RESOURCE_REGISTER,
                       "{\"type\":\"do\",\"key\":\"D\",\"size\":3}", NULL),
              DURO_OK);
    char *before = full_list(rt);
    duro_runtime_close(rt);

    /* the same after a plain restart, and after losing the registry file */
    rt = rt_open(1000);
    char *after = full_list(rt);
    ASSERT_STREQ(after, before);
    free(after);
    duro_runtime_close(rt);
    rm_registry();
    rt = rt_open(1000);
    after = full_list(rt);
    ASSERT_STREQ(after, before);
    free(after);
    duro_runtime_close(rt);

    /* a namespace changed behind the registry's back (a crash between the
     * namespace's commit and the registry's): its write counter differs, so
     * it is rebuilt; a namespace whose file is gone is forgotten */
    char path[512];
    snprintf(path, sizeof path, "%s/ns/%02x/a.db", rt_dir, duro_route_shard("a", 1));
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO _duro_kv VALUES('k3', CAST('33' AS BLOB), 0, NULL, 9, 1000,"
                           " 1000, NULL); UPDATE _duro_meta SET value = 9 WHERE name = 'version';",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    snprintf(path, sizeof path, "rm -f '%s'/ns/%02x/gone.db*", rt_dir, duro_route_shard("gone", 4));
    ASSERT_EQ(system(path), 0);
    rt = rt_open(1000);
    json_t *l = list(rt, "{}");
    char *s = names(l);
    ASSERT_STREQ(s, "a/kv/k1,a/kv/k2,a/kv/k3,b/do/D");
    free(s);
    json_t *k3 = json_array_get(json_object_get(l, "resources"), 2);
    ASSERT_STREQ(json_string_value(json_object_get(k3, "created_at")), "1970-01-01T00:00:01Z");
    ASSERT_EQ(json_integer_value(json_object_get(k3, "size")), 2);
    json_decref(l);
    free(before);
    duro_runtime_close(rt);
}

/* Runs SQL on a namespace's file while no runtime has it open. */
static void ns_sql(const char *ns, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ns/%02x/%s.db", rt_dir, duro_route_shard(ns, strlen(ns)), ns);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    sqlite3_close(db);
}

TEST(damage_is_contained)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    ASSERT_EQ(kv(rt, "good", "kv.put", "{\"key\":\"k\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "bad", "kv.put", "{\"key\":\"k\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "big", "kv.put", "{\"key\":\"k\",\"value\":1}"), DURO_OK);
    duro_runtime_close(rt);

    /* a namespace that opens but cannot be read is left out; the rest is
     * indexed and the server starts */
    ns_sql("bad", "DROP TABLE _duro_resources; CREATE TABLE _duro_resources(x);"
                  "UPDATE _duro_meta SET value = 50 WHERE name = 'version';");
    /* sizes that add up past 2^63 saturate instead of failing stats */
    ns_sql("big", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100)"
                  " INSERT INTO _duro_resources SELECT 'do', 'r' || i, 9007199254740991, NULL,"
                  " 1000, 1000 FROM n; UPDATE _duro_meta SET value = 50 WHERE name = 'version';");
    rt = rt_open(1000);
    ASSERT_EQ(total(rt, "{\"namespace\":\"good\"}"), 1);
    ASSERT_EQ(total(rt, "{\"namespace\":\"bad\"}"), 0);
    ASSERT_EQ(total(rt, "{\"namespace\":\"big\",\"type\":\"do\"}"), 1100);
    json_t *st = query(rt, DURO_REGISTRY_STATS, "{}");
    ASSERT_EQ(json_integer_value(json_object_get(st, "total")), 1102);
    ASSERT_EQ(json_integer_value(json_object_get(st, "total_size")), INT64_MAX);
    json_decref(st);
    char *before = full_list(rt);
    duro_runtime_close(rt);

    /* a registry file that is not a database is replaced and rebuilt */
    char path[400];
    snprintf(path, sizeof path, "%s/_registry.db", rt_dir);
    rm_registry();
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("this is not an SQLite database, and it is long enough to be read as a header....", f);
    fclose(f);
    rt = rt_open(1000);
    char *after = full_list(rt);
    ASSERT_STREQ(after, before);
    free(after);
    free(before);
    duro_runtime_close(rt);
}

/* Waits (bounded: 15 s) until the registry completed a repair after count. */
static int wait_repairs(uint64_t count)
{
    for (int i = 0; i < 1500 && DURO_STAT_GET(registry_repairs) <= count; i++)
        usleep(10 * 1000);
    return DURO_STAT_GET(registry_repairs) > count;
}

TEST(lost_notices_are_repaired_while_running)
{
    rt_fresh_dir("registry");
    duro_runtime *rt = rt_open(1000);
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"k1\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "b", "kv.put", "{\"key\":\"k1\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "b", "kv.put", "{\"key\":\"k2\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(total(rt, "{}"), 3); /* every notice so far was applied */
    uint64_t failures = DURO_STAT_GET(registry_failures);
    uint64_t repairs = DURO_STAT_GET(registry_repairs);

    /* the next notice fails its group (as a full disk would): that group's
     * notices are lost, and the repair's first try fails as well */
    duro_errinj[DURO_ERRINJ_REGISTRY_APPLY] = 1;
    duro_errinj[DURO_ERRINJ_REGISTRY_REBUILD] = 1;
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"k2\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "c", "kv.put", "{\"key\":\"k1\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "b", "kv.delete", "{\"key\":\"k1\"}"), DURO_OK);
    ASSERT_EQ(resource(rt, "d", DURO_RESOURCE_REGISTER, "{\"type\":\"do\",\"key\":\"D\"}", NULL),
              DURO_OK);
    ASSERT(wait_repairs(repairs));
    ASSERT(DURO_STAT_GET(registry_failures) >= failures + 2); /* the loss, the failed try */
    ASSERT_EQ(duro_errinj[DURO_ERRINJ_REGISTRY_APPLY], 0);
    ASSERT_EQ(duro_errinj[DURO_ERRINJ_REGISTRY_REBUILD], 0);
    json_t *l = list(rt, "{}");
    char *s = names(l);
    ASSERT_STREQ(s, "a/kv/k1,a/kv/k2,b/kv/k2,c/kv/k1,d/do/D");
    free(s);
    json_decref(l);

    /* after the repair, writes are tracked and their versions recorded again */
    ASSERT_EQ(kv(rt, "a", "kv.put", "{\"key\":\"k3\",\"value\":1}"), DURO_OK);
    ASSERT_EQ(kv(rt, "c", "kv.delete", "{\"key\":\"k1\"}"), DURO_OK);
    l = list(rt, "{}");
    s = names(l);
    ASSERT_STREQ(s, "a/kv/k1,a/kv/k2,a/kv/k3,b/kv/k2,d/do/D");
    free(s);
    json_decref(l);
    char *before = full_list(rt);
    duro_runtime_close(rt);
    rt = rt_open(1000);
    char *after = full_list(rt);
    ASSERT_STREQ(after, before);
    free(after);
    free(before);
    duro_runtime_close(rt);
}

/* Runs a registry query with JSON params; its status (message in msg). */
static int query_status(duro_runtime *rt, int op, const char *params, char msg[192])
{
    json_t *p = parse(params);
    duro_registry_query *q;
    char err[256];
    if (duro_registry_query_from(p, DURO_PARAMS_TYPED, &q, err, sizeof err) != DURO_OK)
        abort();
    json_decref(p);
    int st = rt_run_msg(rt, DURO_KIND_REGISTRY, op, "*", q, NULL, msg);
    duro_registry_query_free(q);
    return st;
}

TEST(pages_over_the_reply_cap_are_refused)
{
    rt_fresh_dir("registry");
    duro_runtime_config c = rt_config(2, 16, 1000);
    c.max_reply_bytes = 65536;
    duro_runtime *rt;
    char err[256], msg[192];
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    /* 12 keys with ~10 kB of metadata each: 120 kB of resources */
    char *meta = malloc(10100);
    snprintf(meta, 10100, "{\"key\":\"k%02d\",\"value\":1,\"metadata\":{\"pad\":\"%0*d\"}}", 0,
             10000, 0);
    for (int i = 0; i < 12; i++) {
        meta[9] = (char)('0' + i / 10);
        meta[10] = (char)('0' + i % 10);
        ASSERT_EQ(kv(rt, "fat", "kv.put", meta), DURO_OK);
    }
    free(meta);
    ASSERT_EQ(query_status(rt, DURO_REGISTRY_LIST, "{\"limit\":100}", msg),
              DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(msg, "smaller limit") != NULL);
    json_t *l = list(rt, "{\"limit\":4}");
    ASSERT_EQ(json_array_size(json_object_get(l, "resources")), 4);
    ASSERT_EQ(json_integer_value(json_object_get(l, "total")), 12);
    json_decref(l);
    ASSERT_EQ(query_status(rt, DURO_REGISTRY_STATS, "{}", msg), DURO_OK);
    duro_runtime_close(rt);
}

TEST_MAIN()
