/*
 * tests/unit/objects/session_req.c — the session request decoder (objects/session_req.c):
 * the same fields on both ways in, the id in the path or in the args but not both, and typed
 * fields.
 */
#include "objects/session.h"
#include "test.h"
#include "objects/session_req.h"
#include "unit/objects/req_util.h"

/* ---- sessions ------------------------------------------------------------- */

static int sess(int op, const char *path, const char *args)
{
    json_t *a = args ? js(args) : NULL;
    duro_session_req *r = NULL;
    int st = duro_session_request(op, path, path ? strlen(path) : 0, a, &r, err, sizeof err);
    json_decref(a);
    duro_session_req_free(r);
    return st;
}

TEST(session_fields)
{
    char id[44], a[256]; /* a well-formed (canonical) session id: 43 base64url zeros */
    memset(id, 'A', 43);
    id[43] = '\0';
    /* create: the same fields on both ways in */
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL,
                   "{\"data\":{},\"ttlMs\":1000,\"userId\":\"u\",\"rolling\":true}"),
              DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL, "{\"data\":{},\"ttlMs\":1000,\"ttl\":5}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "ttl"));
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL, "{\"data\":{},\"ttlMs\":1000,\"rolling\":\"yes\"}"),
              DURO_BAD_REQUEST);
    ASSERT_STREQ(err, "\"rolling\" must be true or false, not a string");
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL, "{\"data\":{},\"ttlMs\":1000.0}"), DURO_BAD_REQUEST);
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL, "{\"data\":{},\"ttlMs\":\"1000\"}"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(sess(DURO_SESSION_CREATE, NULL, "{\"data\":{},\"ttlMs\":1000,\"id\":\"x\"}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "id"));
    /* get / delete: {id} over args, nothing with the id in the path */
    snprintf(a, sizeof a, "{\"id\":\"%s\"}", id);
    ASSERT_EQ(sess(DURO_SESSION_GET, NULL, a), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_DELETE, NULL, a), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_GET, id, a), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "id"));
    snprintf(a, sizeof a, "{\"id\":\"%s\",\"rolling\":true}", id);
    ASSERT_EQ(sess(DURO_SESSION_GET, NULL, a), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "rolling"));
    /* put */
    snprintf(a, sizeof a, "{\"id\":\"%s\",\"data\":{},\"ttlMs\":5}", id);
    ASSERT_EQ(sess(DURO_SESSION_PUT, NULL, a), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_PUT, id, "{\"data\":{},\"ttlMs\":5}"), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_PUT, id, a), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "id"));
    ASSERT_EQ(sess(DURO_SESSION_PUT, id, "{\"data\":{},\"userId\":\"u\"}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "userId"));
    /* users */
    ASSERT_EQ(sess(DURO_SESSION_LIST_USER, NULL, "{\"userId\":\"u\"}"), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_LIST_USER, NULL, "{\"userId\":\"u\",\"limit\":5}"),
              DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "limit"));
    ASSERT_EQ(sess(DURO_SESSION_LIST_USER, "u", NULL), DURO_OK);
    snprintf(a, sizeof a, "{\"userId\":\"u\",\"exceptId\":\"%s\"}", id);
    ASSERT_EQ(sess(DURO_SESSION_REVOKE_USER, NULL, a), DURO_OK);
    snprintf(a, sizeof a, "{\"exceptId\":\"%s\"}", id);
    ASSERT_EQ(sess(DURO_SESSION_REVOKE_USER, "u", a), DURO_OK);
    ASSERT_EQ(sess(DURO_SESSION_REVOKE_USER, "u", "{\"except\":\"x\"}"), DURO_BAD_REQUEST);
    ASSERT(names_unknown(NULL, "except"));
}

TEST_MAIN()
