/*
 * tests/unit/objects/registry_req.c — the registry's request decoders
 * (objects/registry_req.c): resource registration fields, and list queries in typed and
 * query-string mode.
 */
#include "common/names.h"
#include "objects/registry.h"
#include "test.h"
#include "objects/kv_req.h"
#include "objects/registry_req.h"
#include "unit/objects/req_util.h"

/* ---- resources and the registry ------------------------------------------- */

static int res(int op, int http, const char *args)
{
    json_t *a = js(args);
    char ns[DURO_NS_MAX + 1];
    size_t ns_len;
    duro_resource_req *r = NULL;
    int st = duro_resource_request(op, a, http ? ns : NULL, http ? &ns_len : NULL, &r, err,
                                   sizeof err);
    json_decref(a);
    duro_resource_req_free(r);
    return st;
}

TEST(resource_fields)
{
    const char *reg = "{\"type\":\"do\",\"namespace\":\"n\",\"key\":\"k\",\"size\":1,"
                      "\"metadata\":{}}";
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 1, reg), DURO_OK);
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 0, reg), DURO_BAD_REQUEST); /* frame's namespace */
    ASSERT(names_unknown(NULL, "namespace"));
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 0, "{\"type\":\"do\",\"key\":\"k\",\"size\":1}"),
              DURO_OK);
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 1,
                  "{\"type\":\"do\",\"namespace\":\"n\",\"key\":\"k\",\"sizeBytes\":1}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "sizeBytes"));
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 0, "{\"type\":\"do\",\"key\":\"k\",\"size\":\"1\"}"),
              DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"size\" must be an integer from 0 to 2^53-1 (bytes), not a string");
    ASSERT_EQ(res(DURO_RESOURCE_REGISTER, 0, "{\"type\":\"do\",\"key\":\"k\",\"size\":1.0}"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(res(DURO_RESOURCE_UNREGISTER, 1,
                  "{\"type\":\"do\",\"namespace\":\"n\",\"key\":\"k\"}"),
              DURO_OK);
    ASSERT_EQ(res(DURO_RESOURCE_UNREGISTER, 1,
                  "{\"type\":\"do\",\"namespace\":\"n\",\"key\":\"k\",\"size\":1}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "size"));
    ASSERT_EQ(res(DURO_RESOURCE_UNREGISTER, 0, "{\"type\":\"do\",\"key\":\"k\",\"metadata\":{}}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "metadata"));
}

static int query(duro_params_mode mode, const char *params, duro_registry_query **out)
{
    json_t *p = js(params);
    duro_registry_query *q = NULL;
    int st = duro_registry_query_from(p, mode, &q, err, sizeof err);
    json_decref(p);
    if (out)
        *out = q;
    else
        duro_registry_query_free(q);
    return st;
}

TEST(registry_query_modes)
{
    duro_registry_query *q;
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"limit\":5,\"offset\":2,\"consistent\":true}", &q),
              DURO_OK);
    ASSERT(q->limit == 5 && q->offset == 2);
    duro_registry_query_free(q);
    ASSERT_EQ(query(DURO_PARAMS_QUERY, "{\"limit\":\"5\",\"offset\":\"2\",\"consistent\":\"1\"}",
                    &q),
              DURO_OK);
    ASSERT(q->limit == 5 && q->offset == 2);
    duro_registry_query_free(q);
    /* strings in typed args, typed values from a query: refused */
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"limit\":\"5\"}", NULL), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"limit\" must be an integer from 0 to 1000, not a string");
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"limit\":\"\"}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"consistent\":\"1\"}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"consistent\":1}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"offset\":2.0}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(query(DURO_PARAMS_QUERY, "{\"limit\":5}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(query(DURO_PARAMS_QUERY, "{\"consistent\":\"yes\"}", NULL), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"consistent\" must be 1, true, 0 or false");
    /* unknown names, both modes */
    ASSERT_EQ(query(DURO_PARAMS_TYPED, "{\"prefix\":\"a\"}", NULL), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "prefix"));
    ASSERT_EQ(query(DURO_PARAMS_QUERY, "{\"ns\":\"a\"}", NULL), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "ns"));
}

TEST(query_decoding_bounds)
{
    const char *bad[] = {"{\"limit\":1001}",           "{\"limit\":-1}",
                         "{\"limit\":\"x\"}",          "{\"offset\":-5}",
                         "{\"type\":\"k/v\"}",         "{\"namespace\":\"_x\"}",
                         "{\"consistent\":\"maybe\"}", "{\"key_prefix\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *p = js(bad[i]);
        duro_registry_query *q;
        ASSERT_EQ(duro_registry_query_from(p, DURO_PARAMS_TYPED, &q, err, sizeof err),
                  DURO_BAD_REQUEST);
        json_decref(p);
    }
    json_t *p =
        js("{\"limit\":\"1000\",\"offset\":\"3\",\"consistent\":\"1\",\"key_prefix\":\"\"}");
    duro_registry_query *q;
    ASSERT_EQ(duro_registry_query_from(p, DURO_PARAMS_QUERY, &q, err, sizeof err), DURO_OK);
    ASSERT_EQ(q->limit, 1000);
    ASSERT_EQ(q->offset, 3);
    ASSERT(q->prefix == NULL);
    duro_registry_query_free(q);
    json_decref(p);

    /* empty parameters are no filter (a template like ?type=&limit= filled
     * in literally) */
    p = js("{\"type\":\"\",\"namespace\":\"\",\"limit\":\"\",\"offset\":\"\"}");
    ASSERT_EQ(duro_registry_query_from(p, DURO_PARAMS_QUERY, &q, err, sizeof err), DURO_OK);
    ASSERT(!q->has_type && !q->has_ns && q->limit == 100 && q->offset == 0);
    duro_registry_query_free(q);
    json_decref(p);
}

TEST_MAIN()
