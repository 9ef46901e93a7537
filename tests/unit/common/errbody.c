/*
 * test_errbody.c — unit tests for common/errbody.c: the error body of every
 * reply, byte for byte, in JSON and msgpack, bare and in the HTTP envelope.
 */
#include "tests/test.h"
#include "duro/status.h"
#include "common/codec.h"
#include "common/errbody.h"

/* out as a NUL-terminated string (it owns the NUL). */
static const char *text(duro_buf *out)
{
    duro_buf_append(out, "", 1);
    out->len--;
    return out->data;
}

TEST(json_envelope)
{
    duro_buf b = {0};
    ASSERT_EQ(duro_errbody_json(&b, DURO_ERRBODY_ENVELOPE, DURO_NOT_FOUND, "no key \"k\"\n"), 0);
    ASSERT_STREQ(text(&b),
                 "{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no key "
                 "\\\"k\\\"\\n\"}}");
    duro_buf_free(&b);
    /* no message: the table's */
    ASSERT_EQ(duro_errbody_json(&b, DURO_ERRBODY_ENVELOPE, DURO_RATE_LIMITED, NULL), 0);
    ASSERT_STREQ(text(&b), "{\"success\":false,\"error\":{\"code\":\"RATE_LIMITED\",\"message\":"
                           "\"rate limited\"}}");
    duro_buf_free(&b);
    /* a number outside the table is INTERNAL */
    ASSERT_EQ(duro_errbody_json(&b, DURO_ERRBODY_ENVELOPE, 999, NULL), 0);
    ASSERT_STREQ(text(&b), "{\"success\":false,\"error\":{\"code\":\"INTERNAL\",\"message\":"
                           "\"unknown status\"}}");
    duro_buf_free(&b);
}

TEST(json_bare)
{
    duro_buf b = {0};
    ASSERT_EQ(duro_errbody_json(&b, DURO_ERRBODY_BARE, DURO_CONFLICT, "taken"), 0);
    ASSERT_STREQ(text(&b), "{\"code\":\"CONFLICT\",\"message\":\"taken\"}");
    duro_buf_free(&b);
}

TEST(mp_envelope_bytes)
{
    duro_buf b = {0};
    ASSERT_EQ(duro_errbody_mp(&b, DURO_ERRBODY_ENVELOPE, DURO_BAD_REQUEST, "bad"), 0);
    static const char want[] = "\x82\xa7success\xc2\xa5" "error\x82\xa4" "code\xab" "BAD_REQUEST"
                               "\xa7message\xda\x00\x03" "bad";
    ASSERT_EQ(b.len, sizeof want - 1);
    ASSERT_MEMEQ(b.data, want, sizeof want - 1);
    duro_buf_free(&b);
}

TEST(mp_bare_decodes)
{
    duro_buf b = {0};
    ASSERT_EQ(duro_errbody_mp(&b, DURO_ERRBODY_BARE, DURO_UNAVAILABLE, NULL), 0);
    const char *why;
    json_t *j = duro_mp_to_json(b.data, b.len, &why);
    ASSERT(j != NULL);
    ASSERT_EQ(json_object_size(j), 2);
    ASSERT_STREQ(json_string_value(json_object_get(j, "code")), "UNAVAILABLE");
    ASSERT_STREQ(json_string_value(json_object_get(j, "message")), "unavailable");
    json_decref(j);
    duro_buf_free(&b);
}

/* The same error in both encodings is the same document. */
TEST(encodings_agree)
{
    char big[70000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *msgs[] = {"", "é ünïcode \"quoted\"", big};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        duro_buf jb = {0}, mb = {0};
        ASSERT_EQ(duro_errbody_json(&jb, DURO_ERRBODY_ENVELOPE, DURO_FORBIDDEN, msgs[i]), 0);
        ASSERT_EQ(duro_errbody_mp(&mb, DURO_ERRBODY_ENVELOPE, DURO_FORBIDDEN, msgs[i]), 0);
        const char *why;
        json_t *a = duro_json_parse(jb.data, jb.len, &why);
        json_t *c = duro_mp_to_json(mb.data, mb.len, &why);
        ASSERT(a && c);
        ASSERT(json_equal(a, c));
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(c, "error"), "message")),
                     msgs[i]);
        json_decref(a);
        json_decref(c);
        duro_buf_free(&jb);
        duro_buf_free(&mb);
    }
}

TEST_MAIN()
