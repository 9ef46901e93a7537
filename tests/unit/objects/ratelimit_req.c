/*
 * tests/unit/objects/ratelimit_req.c — the rate limiter's request decoder
 * (objects/ratelimit_req.c): the fields of check, get and reset over HTTP and the binary
 * protocol, their types, and the same field sets on the typed fast path.
 */
#include "objects/ratelimit.h"
#include "test.h"
#include "objects/ratelimit_req.h"
#include "unit/objects/req_util.h"

/* ---- rate limiter --------------------------------------------------------- */

static const duro_rl_defaults rl_d = {30, 60000};

static int rl(int op, const char *key, const char *args)
{
    json_t *a = args ? js(args) : NULL;
    duro_rl_req *r = NULL;
    int st = duro_rl_request(op, key, key ? strlen(key) : 0, a, &rl_d, &r, err, sizeof err);
    json_decref(a);
    duro_rl_req_free(r);
    return st;
}

TEST(ratelimit_fields)
{
    /* HTTP: key from the path; the body has no "key" */
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"limit\":5,\"windowMs\":1000,\"cost\":1,\"enforce\":true}"),
              DURO_OK);
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"key\":\"k\",\"limit\":5}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "key"));
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"limit\":5,\"window\":1000}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "window"));
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", NULL), DURO_OK);
    /* binary protocol: key from args */
    ASSERT_EQ(rl(DURO_RL_CHECK, NULL, "{\"key\":\"k\",\"limit\":5}"), DURO_OK);
    ASSERT_EQ(rl(DURO_RL_CHECK, NULL, "{\"limit\":5}"), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"key\" must be a string");
    ASSERT_EQ(rl(DURO_RL_CHECK, NULL, "{\"key\":\"k\",\"limit\":5,\"x\":[1]}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "x"));
    ASSERT_EQ(rl(DURO_RL_GET, NULL, "{\"key\":\"k\",\"limit\":5,\"windowMs\":10}"), DURO_OK);
    ASSERT_EQ(rl(DURO_RL_GET, NULL, "{\"key\":\"k\",\"cost\":1}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "cost"));
    ASSERT_EQ(rl(DURO_RL_GET, NULL, "{\"key\":\"k\",\"enforce\":true}"), DURO_BAD_REQUEST);
    ASSERT_EQ(rl(DURO_RL_RESET, NULL, "{\"key\":\"k\"}"), DURO_OK);
    ASSERT_EQ(rl(DURO_RL_RESET, NULL, "{\"key\":\"k\",\"limit\":5}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "limit"));
    /* types */
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"limit\":\"30\"}"), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"limit\" must be an integer from 1 to 1000000000, not a string");
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"windowMs\":1000.0}"), DURO_BAD_REQUEST);
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"cost\":true}"), DURO_BAD_REQUEST);
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"enforce\":1}"), DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"enforce\" must be true or false, not an integer");
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"enforce\":\"true\"}"), DURO_BAD_REQUEST);
    ASSERT_EQ(rl(DURO_RL_CHECK, "k", "{\"limit\":null,\"enforce\":null}"), DURO_OK);

    /* the typed fast path (rpc.c reads the fields itself) keeps the same sets */
    duro_rl_fields f = {.has_cost = 1, .cost = 1};
    duro_rl_req *r = NULL;
    ASSERT_EQ(duro_rl_request_fields(DURO_RL_GET, "k", 1, &f, &rl_d, &r, err, sizeof err),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "cost"));
    ASSERT_EQ(duro_rl_request_fields(DURO_RL_CHECK, "k", 1, &f, &rl_d, &r, err, sizeof err),
              DURO_OK);
    duro_rl_req_free(r);
}

TEST_MAIN()
