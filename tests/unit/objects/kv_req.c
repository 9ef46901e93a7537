/*
 * tests/unit/objects/kv_req.c — the KV request decoder (objects/kv_req.c)
 * holds every way in to the same strict rules: an unknown field is 400 naming
 * it, bools are bools and integers integers (typed args) or their exact
 * query-string spellings (DURO_PARAMS_QUERY), list bounds are any UTF-8 byte
 * string; plus the JSON parser's refusal of lone surrogates and the
 * 1000-element batch cap. One test runs list bounds with NUL through a real
 * runtime. The other kinds' decoders: ratelimit_req.c, session_req.c,
 * registry_req.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "objects/kv.h"
#include "test.h"
#include "objects/kv_req.h"
#include "unit/objects/req_util.h"
#include "unit/rt_util.h"

static const duro_kv_limits lim = {1 << 20, 0};

/* kv args of op name `op` from JSON text: the status (err has the message). */
static int kv_args(const char *op, const char *args, duro_kv_req **out)
{
    json_t *a = js(args);
    duro_kv_req *r = NULL;
    int st = duro_kv_request_from_args(duro_kv_op_from_name(op, strlen(op)), a, DURO_ENC_JSON,
                                       &lim, &r, err, sizeof err);
    json_decref(a);
    if (out)
        *out = r;
    else
        duro_kv_req_free(r);
    return st;
}

/* ---- item 1: unknown fields ---------------------------------------------- */

TEST(kv_args_unknown_fields_every_op)
{
    static const struct {
        const char *op, *args, *field;
    } cases[] = {
        {"kv.get", "{\"key\":\"k\",\"metadata\":true}", "metadata"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"expirationTtl\":60}", "expirationTtl"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttl\":null}", "ttl"}, /* null: still a name */
        {"kv.delete", "{\"key\":\"k\",\"ifNoneMatch\":true}", "ifNoneMatch"},
        {"kv.delete", "{\"key\":\"k\",\"value\":1}", "value"},
        {"kv.batch_get", "{\"keys\":[\"a\"],\"meta\":true}", "meta"},
        {"kv.batch_set", "{\"entries\":[],\"ttlMs\":5}", "ttlMs"},
        {"kv.batch_delete", "{\"keys\":[\"a\"],\"ifMatch\":1}", "ifMatch"},
        {"kv.list", "{\"prefix\":\"a\",\"startAt\":\"b\"}", "startAt"},
        {"kv.list", "{\"key\":\"a\"}", "key"},
        {"kv.clear", "{\"prefix\":\"a\"}", "prefix"},
        {"snapshot.get", "{\"key\":\"a\"}", "key"},
        {"snapshot.patch", "{\"ops\":[],\"etag\":3}", "etag"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_EQ(kv_args(cases[i].op, cases[i].args, NULL), DURO_BAD_REQUEST);
        ASSERT(names_unknown(NULL, cases[i].field));
    }
    /* and the accepted shapes of each op */
    static const char *const good[][2] = {
        {"kv.get", "{\"key\":\"k\",\"meta\":true}"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":5,\"metadata\":{},\"ifMatch\":3,"
                   "\"ifNoneMatch\":false}"},
        {"kv.delete", "{\"key\":\"k\",\"ifMatch\":0}"},
        {"kv.batch_get", "{\"keys\":[\"a\"]}"},
        {"kv.batch_set", "{\"entries\":[{\"key\":\"a\",\"value\":1,\"ttlMs\":1,\"metadata\":{}}]}"},
        {"kv.batch_delete", "{\"keys\":[]}"},
        {"kv.list", "{\"prefix\":\"a\",\"start\":\"a\",\"end\":\"b\",\"limit\":5,\"cursor\":null,"
                    "\"reverse\":true,\"values\":false}"},
        {"kv.list", "{\"startAfter\":\"a\"}"},
        {"kv.clear", "{}"},
        {"snapshot.get", "{}"},
        {"snapshot.patch", "{\"ops\":[{\"op\":\"del\",\"key\":\"a\"}],\"ifMatch\":0}"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (kv_args(good[i][0], good[i][1], NULL) != DURO_OK)
            TEST_FAIL_("%s %s: %s", good[i][0], good[i][1], err);
    }
}

TEST(kv_bodies_unknown_fields)
{
    /* PUT body (HTTP): key, ifMatch etc. come from the path and headers */
    const char *put_bad[][2] = {{"{\"value\":1,\"expirationTtl\":60}", "expirationTtl"},
                                {"{\"key\":\"k\",\"value\":1}", "key"},
                                {"{\"value\":1,\"ifMatch\":1}", "ifMatch"},
                                {"{\"expiration\":1}", "expiration"}}; /* before "missing value" */
    for (size_t i = 0; i < 4; i++) {
        duro_kv_req *r = duro_kv_req_new(DURO_KV_PUT);
        ASSERT_EQ(duro_kv_add_key(r, "k", 1, err, sizeof err), DURO_OK);
        json_t *b = js(put_bad[i][0]);
        ASSERT_EQ(duro_kv_decode_put(r, b, DURO_ENC_JSON, &lim, err, sizeof err),
                  DURO_BAD_REQUEST);
        ASSERT(names_unknown(NULL, put_bad[i][1]));
        ASSERT(r->items[0].val == NULL);
        json_decref(b);
        duro_kv_req_free(r);
    }
    /* batch bodies, and fields inside entries */
    duro_kv_req *r = duro_kv_req_new(DURO_KV_BATCH_GET);
    json_t *b = js("{\"keys\":[\"a\"],\"values\":true}");
    ASSERT_EQ(duro_kv_decode_keys(r, b, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "values"));
    json_decref(b);
    duro_kv_req_free(r);

    r = duro_kv_req_new(DURO_KV_BATCH_SET);
    b = js("{\"entries\":[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2,"
           "\"expirationTtl\":60}]}");
    ASSERT_EQ(duro_kv_decode_entries(r, b, DURO_ENC_JSON, &lim, err, sizeof err),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown("entries[1]", "expirationTtl"));
    json_decref(b);
    duro_kv_req_free(r);

    /* the same through binary-protocol args */
    ASSERT_EQ(kv_args("kv.batch_set", "{\"entries\":[{\"key\":\"a\",\"value\":1,\"ifMatch\":2}]}",
                      NULL),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown("entries[0]", "ifMatch"));
}

TEST(patch_ops_unknown_fields)
{
    static const struct {
        const char *body, *where, *field;
    } cases[] = {
        {"[{\"op\":\"set\",\"key\":\"a\",\"value\":1,\"expirationTtl\":5}]", "ops[0]",
         "expirationTtl"},
        {"[{\"op\":\"del\",\"key\":\"a\"},{\"op\":\"del\",\"key\":\"b\",\"value\":1}]", "ops[1]",
         "value"},
        {"[{\"op\":\"del\",\"key\":\"a\",\"ttlMs\":1}]", "ops[0]", "ttlMs"},
        {"[{\"op\":\"set\",\"key\":\"a\",\"value\":1,\"ifMatch\":1}]", "ops[0]", "ifMatch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        duro_kv_req *r = duro_kv_req_new(DURO_KV_SNAPSHOT_PATCH);
        json_t *b = js(cases[i].body);
        ASSERT_EQ(duro_kv_decode_patch(r, b, DURO_ENC_JSON, &lim, err, sizeof err),
                  DURO_BAD_REQUEST);
        ASSERT(names_unknown(cases[i].where, cases[i].field));
        json_decref(b);
        duro_kv_req_free(r);
    }
    /* args: {ops, ifMatch}, ops checked the same way */
    ASSERT_EQ(kv_args("snapshot.patch", "{\"ops\":[{\"op\":\"set\",\"key\":\"a\",\"value\":1,"
                                        "\"x\":1}]}",
                      NULL),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown("ops[0]", "x"));
    ASSERT_EQ(kv_args("snapshot.patch", "{\"ifMatch\":1}", NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(err, "\"ops\" must be an array") != NULL);
    /* an op with a NUL after "set" is no op */
    duro_kv_req *r = duro_kv_req_new(DURO_KV_SNAPSHOT_PATCH);
    json_t *b = js("[{\"op\":\"set\\u0000x\",\"key\":\"a\",\"value\":1}]");
    ASSERT_EQ(duro_kv_decode_patch(r, b, DURO_ENC_JSON, &lim, err, sizeof err), DURO_BAD_REQUEST);
    json_decref(b);
    duro_kv_req_free(r);
}

TEST(null_is_absent_for_optional_fields)
{
    duro_kv_req *r;
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\",\"value\":null,\"ttlMs\":null,\"metadata\":null,"
                                "\"ifMatch\":null,\"ifNoneMatch\":null}",
                      &r),
              DURO_OK);
    ASSERT_EQ(r->items[0].ttl_ms, 0);
    ASSERT(r->items[0].meta == NULL);
    ASSERT_EQ(r->if_match, -1);
    ASSERT_EQ(r->if_none_match, 0);
    ASSERT(r->items[0].val_len == 4 && memcmp(r->items[0].val, "null", 4) == 0); /* a value */
    duro_kv_req_free(r);
    ASSERT_EQ(kv_args("kv.get", "{\"key\":\"k\",\"meta\":null}", &r), DURO_OK);
    ASSERT_EQ(r->with_meta, 0);
    duro_kv_req_free(r);
    ASSERT_EQ(kv_args("kv.list", "{\"prefix\":null,\"start\":null,\"startAfter\":null,"
                                 "\"end\":null,\"limit\":null,\"cursor\":null,\"reverse\":null,"
                                 "\"values\":null}",
                      &r),
              DURO_OK);
    ASSERT(!r->list.prefix.has && !r->list.start.has && !r->list.end.has);
    ASSERT_EQ(r->list.limit, DURO_KV_LIST_DEFAULT);
    duro_kv_req_free(r);
    /* a required field is never satisfied by null */
    ASSERT_EQ(kv_args("kv.get", "{\"key\":null}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(kv_args("kv.batch_get", "{\"keys\":null}", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\"}", NULL), DURO_BAD_REQUEST);
}

TEST(unknown_field_message_is_clipped_utf8)
{
    /* 100 two-byte characters: the name is cut to at most 64 bytes, on a
     * character boundary, so the message stays valid UTF-8 */
    char args[512] = "{\"key\":\"k\",\"";
    for (int i = 0; i < 100; i++)
        strcat(args, "\xc3\xa9");
    strcat(args, "\":1}");
    ASSERT_EQ(kv_args("kv.get", args, NULL), DURO_BAD_REQUEST);
    ASSERT(strncmp(err, "unknown field \"", 15) == 0);
    ASSERT(strlen(err) <= 15 + 64 + 1);
    ASSERT(duro_utf8_valid(err, strlen(err)));
}

/* ---- item 2: bools are bools, integers integers --------------------------- */

TEST(typed_bools_refuse_everything_else)
{
    static const char *const bad[][2] = {
        {"kv.get", "{\"key\":\"k\",\"meta\":\"yes\"}"},
        {"kv.get", "{\"key\":\"k\",\"meta\":\"true\"}"},
        {"kv.get", "{\"key\":\"k\",\"meta\":1}"},
        {"kv.get", "{\"key\":\"k\",\"meta\":0}"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ifNoneMatch\":\"true\"}"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ifNoneMatch\":1}"},
        {"kv.list", "{\"values\":\"true\"}"},
        {"kv.list", "{\"values\":\"\"}"},
        {"kv.list", "{\"reverse\":1}"},
        {"kv.list", "{\"reverse\":[true]}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kv_args(bad[i][0], bad[i][1], NULL) != DURO_BAD_REQUEST)
            TEST_FAIL_("%s %s accepted", bad[i][0], bad[i][1]);
        ASSERT(strstr(err, "must be true or false, not ") != NULL);
    }
    ASSERT_EQ(kv_args("kv.get", "{\"key\":\"k\",\"meta\":\"yes\"}", NULL), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"meta\" must be true or false, not a string");
    duro_kv_req *r;
    ASSERT_EQ(kv_args("kv.list", "{\"reverse\":true,\"values\":false}", &r), DURO_OK);
    ASSERT_EQ(r->list.reverse, 1);
    ASSERT_EQ(r->list.values, 0);
    duro_kv_req_free(r);
}

TEST(typed_ints_refuse_floats_and_strings)
{
    static const struct {
        const char *op, *args, *msg;
    } bad[] = {
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":60.0}",
         "\"ttlMs\" must be an integer from 1 to 315360000000 (ten years), not a float"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":\"60\"}",
         "\"ttlMs\" must be an integer from 1 to 315360000000 (ten years), not a string"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":true}",
         "\"ttlMs\" must be an integer from 1 to 315360000000 (ten years), not a boolean"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":0}",
         "\"ttlMs\" must be an integer from 1 to 315360000000 (ten years)"},
        {"kv.put", "{\"key\":\"k\",\"value\":1,\"ifMatch\":\"3\"}",
         "\"ifMatch\" must be a version number (an integer >= 0), not a string"},
        {"kv.delete", "{\"key\":\"k\",\"ifMatch\":-1}",
         "\"ifMatch\" must be a version number (an integer >= 0)"},
        {"snapshot.patch", "{\"ops\":[],\"ifMatch\":\"\\\"3\\\"\"}",
         "\"ifMatch\" must be a version number (an integer >= 0), not a string"},
        {"kv.list", "{\"limit\":\"10\"}",
         "\"limit\" must be an integer from 1 to 10000, not a string"},
        {"kv.list", "{\"limit\":10.0}",
         "\"limit\" must be an integer from 1 to 10000, not a float"},
        /* a batch's error names the element (issue 11) */
        {"kv.batch_set", "{\"entries\":[{\"key\":\"a\",\"value\":1,\"ttlMs\":1.5}]}",
         "entries[0]: \"ttlMs\" must be an integer from 1 to 315360000000 (ten years), not a float"},
        {"kv.batch_set", "{\"entries\":[{\"key\":\"a\",\"value\":1},{\"key\":\"\",\"value\":2}]}",
         "entries[1]: invalid key: key is empty"},
        {"kv.batch_get", "{\"keys\":[\"a\",\"b\",\"\"]}", "keys[2]: invalid key: key is empty"},
        {"kv.batch_delete", "{\"keys\":[\"a\",7]}", "keys[1]: every key must be a string"},
        {"snapshot.patch", "{\"ops\":[{\"op\":\"set\",\"key\":\"\",\"value\":1}]}",
         "ops[0]: invalid key: key is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(kv_args(bad[i].op, bad[i].args, NULL), DURO_BAD_REQUEST);
        ASSERT_STREQ(err, bad[i].msg);
    }
    duro_kv_req *r;
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\",\"value\":1,\"ttlMs\":60,\"ifMatch\":7}", &r),
              DURO_OK);
    ASSERT_EQ(r->items[0].ttl_ms, 60);
    ASSERT_EQ(r->if_match, 7);
    duro_kv_req_free(r);
}

TEST(query_mode_spellings)
{
    static const struct {
        const char *s;
        size_t n;
        int rc, v;
    } flags[] = {
        {"1", 1, 0, 1},     {"true", 4, 0, 1},  {"", 0, 0, 1},      {"0", 1, 0, 0},
        {"false", 5, 0, 0}, {"yes", 3, -1, 0},  {"TRUE", 4, -1, 0}, {"2", 1, -1, 0},
        {" 1", 2, -1, 0},   {"1\0", 2, -1, 0},  {"on", 2, -1, 0},   {"False", 5, -1, 0},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int v = -7;
        json_t *s = json_stringn_nocheck(flags[i].s, flags[i].n);
        ASSERT_EQ(duro_param_flag(s, DURO_PARAMS_QUERY, &v), flags[i].rc);
        if (flags[i].rc == 0)
            ASSERT_EQ(v, flags[i].v);
        /* typed mode refuses every string */
        ASSERT_EQ(duro_param_flag(s, DURO_PARAMS_TYPED, &v), -1);
        json_decref(s);
    }
    int v = 0;
    ASSERT_EQ(duro_param_flag(json_true(), DURO_PARAMS_QUERY, &v), -1); /* only strings */

    static const struct {
        const char *s;
        int rc;
        long long v;
    } ints[] = {
        {"10", 0, 10},  {"010", 0, 10},    {"0", 0, 0},       {"+1", -1, 0},
        {"-1", -1, 0},  {"1e3", -1, 0},    {"", -1, 0},       {" 1", -1, 0},
        {"1 ", -1, 0},  {"0x10", -1, 0},   {"10.0", -1, 0},   {"99999999999999999999", -1, 0},
        {"10001", -1, 0}, /* out of range */
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long x = -7;
        json_t *s = json_string(ints[i].s);
        ASSERT_EQ(duro_param_int(s, DURO_PARAMS_QUERY, 0, 10000, &x), ints[i].rc);
        if (ints[i].rc == 0)
            ASSERT_EQ(x, ints[i].v);
        ASSERT_EQ(duro_param_int(s, DURO_PARAMS_TYPED, 0, 10000, &x), -1);
        json_decref(s);
    }
    long long x;
    json_t *i10 = json_integer(10);
    ASSERT_EQ(duro_param_int(i10, DURO_PARAMS_QUERY, 0, 100, &x), -1); /* only strings */
    ASSERT_EQ(duro_param_int(i10, DURO_PARAMS_TYPED, 0, 100, &x), 0);
    json_decref(i10);
    ASSERT_EQ(duro_param_int(json_null(), DURO_PARAMS_TYPED, 0, 100, &x), 1);
    ASSERT_EQ(duro_param_int(NULL, DURO_PARAMS_QUERY, 0, 100, &x), 1);
}

TEST(list_query_mode_vs_typed)
{
    /* what an HTTP query string gives the decoder: every value a string */
    duro_kv_req *r = duro_kv_req_new(DURO_KV_LIST);
    json_t *q = js("{\"values\":\"1\",\"limit\":\"10\",\"reverse\":\"true\"}");
    ASSERT_EQ(duro_kv_decode_list(r, q, DURO_PARAMS_QUERY, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->list.values, 1);
    ASSERT_EQ(r->list.reverse, 1);
    ASSERT_EQ(r->list.limit, 10);
    duro_kv_req_free(r);
    /* the same object as typed args is refused */
    r = duro_kv_req_new(DURO_KV_LIST);
    ASSERT_EQ(duro_kv_decode_list(r, q, DURO_PARAMS_TYPED, err, sizeof err), DURO_BAD_REQUEST);
    duro_kv_req_free(r);
    json_decref(q);
    /* "?values" (empty) means true; "?values=yes" is refused */
    r = duro_kv_req_new(DURO_KV_LIST);
    q = js("{\"values\":\"\",\"reverse\":\"0\"}");
    ASSERT_EQ(duro_kv_decode_list(r, q, DURO_PARAMS_QUERY, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->list.values, 1);
    ASSERT_EQ(r->list.reverse, 0);
    duro_kv_req_free(r);
    json_decref(q);
    const char *bad[] = {"{\"values\":\"yes\"}", "{\"reverse\":\"2\"}", "{\"limit\":\"1.5\"}",
                         "{\"limit\":\"\"}", "{\"limit\":10}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = duro_kv_req_new(DURO_KV_LIST);
        q = js(bad[i]);
        ASSERT_EQ(duro_kv_decode_list(r, q, DURO_PARAMS_QUERY, err, sizeof err), DURO_BAD_REQUEST);
        json_decref(q);
        duro_kv_req_free(r);
    }
    r = duro_kv_req_new(DURO_KV_LIST);
    q = js("{\"values\":\"yes\"}");
    ASSERT_EQ(duro_kv_decode_list(r, q, DURO_PARAMS_QUERY, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"values\" must be 1, true, 0 or false");
    json_decref(q);
    duro_kv_req_free(r);
}

/* ---- item 3: list bounds are not keys ------------------------------------ */

TEST(list_bounds_any_utf8)
{
    /* NUL inside, and far longer than a key */
    duro_kv_req *r = duro_kv_req_new(DURO_KV_LIST);
    json_t *p = json_object();
    json_object_set_new(p, "end", json_stringn("a\0", 2));
    json_object_set_new(p, "startAfter", json_stringn("\0\0x", 3));
    char *big = malloc(5001);
    memset(big, 'p', 5000);
    big[5000] = '\0';
    json_object_set_new(p, "prefix", json_string(big));
    ASSERT_EQ(duro_kv_decode_list(r, p, DURO_PARAMS_TYPED, err, sizeof err), DURO_OK);
    ASSERT(r->list.end.has && r->list.end.len == 2 && memcmp(r->list.end.key, "a\0", 2) == 0);
    ASSERT(r->list.start_after.has && r->list.start_after.len == 3);
    ASSERT(r->list.prefix.has && r->list.prefix.len == 5000);
    duro_kv_req_free(r);
    json_decref(p);
    /* the same from a query string */
    r = duro_kv_req_new(DURO_KV_LIST);
    p = json_object();
    json_object_set_new(p, "start", json_stringn_nocheck(big, 5000));
    json_object_set_new(p, "end", json_stringn_nocheck("b\0", 2));
    ASSERT_EQ(duro_kv_decode_list(r, p, DURO_PARAMS_QUERY, err, sizeof err), DURO_OK);
    ASSERT(r->list.start.len == 5000 && r->list.end.len == 2);
    duro_kv_req_free(r);
    json_decref(p);
    free(big);
    /* not UTF-8 (a query string can carry any bytes): refused */
    const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80" /* a surrogate */, "\xc0\xaf"};
    const char *names[] = {"prefix", "start", "startAfter", "end"};
    for (size_t i = 0; i < 4; i++) {
        r = duro_kv_req_new(DURO_KV_LIST);
        p = json_object();
        json_object_set_new(p, names[i], json_stringn_nocheck(bad[i], strlen(bad[i])));
        ASSERT_EQ(duro_kv_decode_list(r, p, DURO_PARAMS_QUERY, err, sizeof err),
                  DURO_BAD_REQUEST);
        ASSERT(strstr(err, "is not valid UTF-8") != NULL);
        json_decref(p);
        duro_kv_req_free(r);
    }
    /* the cursor stays an encoded key: one that decodes to "a\0" is refused */
    duro_buf c = {0};
    ASSERT_EQ(duro_kv_cursor_encode("a\0", 2, &c), 0);
    r = duro_kv_req_new(DURO_KV_LIST);
    p = json_object();
    json_object_set_new(p, "cursor", json_stringn(c.data, c.len));
    ASSERT_EQ(duro_kv_decode_list(r, p, DURO_PARAMS_TYPED, err, sizeof err), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "malformed \"cursor\"");
    json_decref(p);
    duro_kv_req_free(r);
    duro_buf_free(&c);
}

/* Lists ns with params (typed JSON args built by the caller); the keys as
 * "k1,k2,...". */
static char *keys_of(duro_runtime *rt, json_t *params)
{
    duro_kv_req *r = duro_kv_req_new(DURO_KV_LIST);
    if (duro_kv_decode_list(r, params, DURO_PARAMS_TYPED, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "list: %s\n", err);
        abort();
    }
    json_decref(params);
    json_t *out;
    if (rt_run(rt, DURO_KIND_KV, DURO_KV_LIST, "b", r, &out) != DURO_OK)
        abort();
    duro_kv_req_free(r);
    duro_buf b = {0};
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(out, "keys"), i, k)
        duro_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(k));
    duro_buf_append(&b, "", 1);
    json_decref(out);
    return b.data;
}

static json_t *bound1(const char *name, const char *s, size_t n)
{
    json_t *p = json_object();
    json_object_set_new(p, name, json_stringn(s, n));
    return p;
}

TEST(list_bounds_with_nul_through_the_store)
{
    rt_fresh_dir("request");
    duro_runtime *rt = rt_open(1000);
    duro_kv_req *w;
    ASSERT_EQ(kv_args("kv.batch_set", "{\"entries\":[{\"key\":\"a\",\"value\":1},"
                                      "{\"key\":\"a/b\",\"value\":2},{\"key\":\"ab\",\"value\":3},"
                                      "{\"key\":\"b\",\"value\":4}]}",
                      &w),
              DURO_OK);
    ASSERT_EQ(rt_run(rt, DURO_KIND_KV, DURO_KV_BATCH_SET, "b", w, NULL), DURO_OK);
    duro_kv_req_free(w);

    struct {
        json_t *p;
        const char *want;
    } cases[] = {
        {bound1("end", "a\0", 2), "a"},               /* "a" + NUL: the inclusive end */
        {bound1("start", "a\0", 2), "a/b,ab,b"},      /* everything after "a" */
        {bound1("startAfter", "a\0", 2), "a/b,ab,b"}, /* no key is "a\0" */
        {bound1("prefix", "a\0", 2), ""},             /* no key holds a NUL */
        {bound1("end", "ab\0", 3), "a,a/b,ab"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = keys_of(rt, cases[i].p);
        ASSERT_STREQ(got, cases[i].want);
        free(got);
    }
    /* reverse with a NUL end; a prefix longer than any key: an empty page */
    json_t *p = bound1("end", "a/b\0", 4);
    json_object_set_new(p, "reverse", json_true());
    char *got = keys_of(rt, p);
    ASSERT_STREQ(got, "a/b,a");
    free(got);
    char big[3001];
    memset(big, 'a', 3000);
    big[3000] = '\0';
    got = keys_of(rt, bound1("prefix", big, 3000));
    ASSERT_STREQ(got, "");
    free(got);
    got = keys_of(rt, bound1("start", big, 3000)); /* "aaa…" sorts between "a/b" and "ab" */
    ASSERT_STREQ(got, "ab,b");
    free(got);
    duro_runtime_close(rt);
}

/* ---- item 4: batch cap, lone surrogates ---------------------------------- */

TEST(batch_cap_is_1000)
{
    for (int n = 1000; n <= 1001; n++) {
        json_t *keys = json_array(), *entries = json_array(), *ops = json_array();
        for (int i = 0; i < n; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            json_array_append_new(keys, json_string(k));
            json_array_append_new(entries, json_pack("{s:s,s:i}", "key", k, "value", i));
            json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "del", "key", k));
        }
        int want = n == 1000 ? DURO_OK : DURO_BAD_REQUEST;
        json_t *b = json_pack("{s:o}", "keys", keys);
        duro_kv_req *r = duro_kv_req_new(DURO_KV_BATCH_DELETE);
        ASSERT_EQ(duro_kv_decode_keys(r, b, err, sizeof err), want);
        if (want)
            ASSERT_STREQ(err, "\"keys\" has more than 1000 elements");
        duro_kv_req_free(r);
        json_decref(b);
        b = json_pack("{s:o}", "entries", entries);
        r = duro_kv_req_new(DURO_KV_BATCH_SET);
        ASSERT_EQ(duro_kv_decode_entries(r, b, DURO_ENC_JSON, &lim, err, sizeof err), want);
        if (want)
            ASSERT_STREQ(err, "\"entries\" has more than 1000 elements");
        duro_kv_req_free(r);
        json_decref(b);
        r = duro_kv_req_new(DURO_KV_SNAPSHOT_PATCH);
        ASSERT_EQ(duro_kv_decode_patch(r, ops, DURO_ENC_JSON, &lim, err, sizeof err), want);
        if (want)
            ASSERT_STREQ(err, "more than 1000 operations");
        duro_kv_req_free(r);
        json_decref(ops);
    }
}

TEST(lone_surrogates_are_refused)
{
    const char *bad[] = {"\"\\ud800\"", "\"\\udc00\"", "\"x\\ud800y\"", "\"\\ud800\\u0041\"",
                         "\"\\udfff\\ud800\"", "{\"value\":\"\\ud83d\"}",
                         "{\"\\ud800\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        json_t *j = duro_json_parse(bad[i], strlen(bad[i]), &why);
        if (j)
            TEST_FAIL_("%s parsed", bad[i]);
        ASSERT(why != NULL);
    }
    /* a pair is one character */
    const char *why;
    json_t *j = duro_json_parse("\"\\ud83d\\ude00\"", 14, &why);
    ASSERT(j != NULL);
    ASSERT_STREQ(json_string_value(j), "\xf0\x9f\x98\x80");
    json_decref(j);
    /* the same code point as raw (CESU) bytes in JSON or in a msgpack str */
    ASSERT(duro_json_parse("\"\xed\xa0\x80\"", 5, &why) == NULL);
    const unsigned char mp[] = {0xa3, 0xed, 0xa0, 0x80};
    ASSERT(duro_mp_to_json(mp, sizeof mp, &why) == NULL);
}

/* ---- bytes (docs/kv.md, "Binary values") ---------------------------------- */

TEST(json_value_with_bytes_is_stored_as_msgpack)
{
    duro_kv_req *r = NULL;
    /* plain JSON stays JSON text */
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\",\"value\":{\"a\":1}}", &r), DURO_OK);
    ASSERT_EQ(r->items[0].enc, DURO_ENC_JSON);
    duro_kv_req_free(r);
    /* a {"$bytes"} anywhere: msgpack, with a real bin */
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\",\"value\":[1,{\"$bytes\":\"AAH/\"}]}", &r),
              DURO_OK);
    ASSERT_EQ(r->items[0].enc, DURO_ENC_MSGPACK);
    ASSERT_EQ(r->items[0].val_len, 7);
    ASSERT_MEMEQ(r->items[0].val, "\x92\x01\xc4\x03\x00\x01\xff", 7);
    duro_kv_req_free(r);
    /* not base64: an ordinary object, JSON text */
    ASSERT_EQ(kv_args("kv.put", "{\"key\":\"k\",\"value\":{\"$bytes\":\"AA=\"}}", &r),
              DURO_OK);
    ASSERT_EQ(r->items[0].enc, DURO_ENC_JSON);
    duro_kv_req_free(r);
    /* batch entries each decide for themselves */
    ASSERT_EQ(kv_args("kv.batch_set",
                      "{\"entries\":[{\"key\":\"a\",\"value\":\"x\"},"
                      "{\"key\":\"b\",\"value\":{\"$bytes\":\"\"}}]}",
                      &r),
              DURO_OK);
    ASSERT_EQ(r->items[0].enc, DURO_ENC_JSON);
    ASSERT_EQ(r->items[1].enc, DURO_ENC_MSGPACK);
    ASSERT_EQ(r->items[1].val_len, 2);
    ASSERT_MEMEQ(r->items[1].val, "\xc4\x00", 2);
    duro_kv_req_free(r);
}

TEST(size_limit_counts_bytes_as_stored)
{
    duro_kv_limits small = {100, 0};
    duro_kv_req *r = duro_kv_req_new(DURO_KV_PUT);
    ASSERT_EQ(duro_kv_add_key(r, "k", 1, err, sizeof err), DURO_OK);
    char raw[100] = {0};
    ASSERT_EQ(duro_kv_put_bytes(r, raw, 98, &small, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->items[0].enc, DURO_ENC_MSGPACK);
    ASSERT_EQ(r->items[0].val_len, 100);
    ASSERT_EQ(duro_kv_put_bytes(r, raw, 99, &small, err, sizeof err), DURO_PAYLOAD_TOO_LARGE);
    ASSERT_EQ(duro_kv_put_bytes(r, raw, 0, &small, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->items[0].val_len, 2);
    duro_kv_req_free(r);
    /* 72 bytes as base64 are 96 characters: still 74 bytes as stored */
    r = duro_kv_req_new(DURO_KV_PUT);
    ASSERT_EQ(duro_kv_add_key(r, "k", 1, err, sizeof err), DURO_OK);
    char body[200];
    snprintf(body, sizeof body, "{\"value\":{\"$bytes\":\"%s\"}}",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
             "AAAA");
    json_t *b = js(body);
    ASSERT_EQ(duro_kv_decode_put(r, b, DURO_ENC_JSON, &small, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->items[0].val_len, 74);
    json_decref(b);
    duro_kv_req_free(r);
    /* query-string TTLs */
    r = duro_kv_req_new(DURO_KV_PUT);
    ASSERT_EQ(duro_kv_add_key(r, "k", 1, err, sizeof err), DURO_OK);
    json_t *t = json_string("60000");
    ASSERT_EQ(duro_kv_put_ttl(r, t, DURO_PARAMS_QUERY, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->items[0].ttl_ms, 60000);
    json_decref(t);
    t = json_string("0");
    ASSERT_EQ(duro_kv_put_ttl(r, t, DURO_PARAMS_QUERY, err, sizeof err), DURO_BAD_REQUEST);
    json_decref(t);
    duro_kv_req_free(r);
}

/* kv.put from msgpack args (the binary protocol) takes a fast path for
 * {key, value: str, ttlMs?}: it must decode exactly what the JSON-tree path
 * decodes, and leave every other shape (and every error) to that path. */
static void put_both_ways(const char *args_json, size_t max_value)
{
    json_t *args = js(args_json);
    duro_buf mp = {0};
    ASSERT_EQ(duro_json_to_mp(args, &mp), 0);
    duro_limits dl = {.max_value_bytes = max_value};
    duro_args a = {.mp = (const unsigned char *)mp.data, .len = mp.len,
                   .val_enc = DURO_ENC_MSGPACK, .lim = &dl};
    void *fast = NULL;
    char err2[256];
    int st_fast = duro_kv_decode_args(DURO_KV_PUT, &a, &fast, err2, sizeof err2);
    duro_kv_limits kl = {max_value, 0};
    duro_kv_req *tree = NULL;
    int st_tree = duro_kv_request_from_args(DURO_KV_PUT, args, DURO_ENC_MSGPACK, &kl, &tree, err,
                                            sizeof err);
    ASSERT_EQ(st_fast, st_tree);
    if (st_tree == DURO_OK) {
        const duro_kv_item *x = &((duro_kv_req *)fast)->items[0], *y = &tree->items[0];
        ASSERT_EQ(x->key_len, y->key_len);
        ASSERT(memcmp(x->key, y->key, x->key_len) == 0);
        ASSERT_EQ(x->val_len, y->val_len);
        ASSERT(memcmp(x->val, y->val, x->val_len) == 0);
        ASSERT_EQ(x->enc, y->enc);
        ASSERT_EQ(x->ttl_ms, y->ttl_ms);
        ASSERT_EQ(((duro_kv_req *)fast)->if_match, tree->if_match);
    } else {
        ASSERT(strcmp(err, err2) == 0);
    }
    duro_kv_req_free(fast);
    duro_kv_req_free(tree);
    duro_buf_free(&mp);
    json_decref(args);
}

TEST(put_from_msgpack_matches_the_tree_path)
{
    static const size_t lens[] = {0, 1, 31, 32, 100, 255, 256, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *v = malloc(lens[i] + 1);
        memset(v, 'v', lens[i]);
        v[lens[i]] = '\0';
        char *j = malloc(lens[i] + 64);
        sprintf(j, "{\"key\":\"k%zu\",\"value\":\"%s\"}", i, v);
        put_both_ways(j, 1 << 20);
        put_both_ways(j, 200); /* over the value limit from 198 characters on */
        sprintf(j, "{\"value\":\"%s\",\"ttlMs\":60000,\"key\":\"t\"}", v);
        put_both_ways(j, 1 << 20);
        free(j);
        free(v);
    }
    put_both_ways("{\"key\":\"k\",\"value\":\"h\u00e9\u20ac\"}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":\"x\",\"ttlMs\":0}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":\"x\",\"ttlMs\":315360000001}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":\"x\",\"ifMatch\":3}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":7}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":{\"a\":[1,2]}}", 1 << 20);
    put_both_ways("{\"key\":\"\",\"value\":\"x\"}", 1 << 20);
    put_both_ways("{\"key\":\"k\"}", 1 << 20);
    put_both_ways("{\"value\":\"x\"}", 1 << 20);
    put_both_ways("{\"key\":\"k\",\"value\":\"x\",\"bogus\":1}", 1 << 20);
}

TEST_MAIN()
