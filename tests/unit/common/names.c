/*
 * tests/unit/common/names.c — unit tests for common/names.c: namespace and key rules,
 * strict percent-decoding and query-string lookup.
 */
#include "tests/test.h"
#include "common/names.h"

static int ns_ok(const char *s)
{
    const char *why = NULL;
    int rc = duro_ns_valid(s, strlen(s), &why);
    if (rc != 0 && !why)
        return -2;
    return rc;
}

static int key_ok(const char *s, size_t n)
{
    const char *why = NULL;
    int rc = duro_key_valid(s, n, &why);
    if (rc != 0 && !why)
        return -2;
    return rc;
}

TEST(ns_rules)
{
    static const char *good[] = {"a", "A", "0", "users", "my-app.v2_prod", "a.", "a_", "-a",
                                 "9lives", "a..b", "Z-9_.x"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (ns_ok(good[i]) != 0)
            TEST_FAIL_("rejected %s", good[i]);
    static const char *bad[] = {"", "_system", ".hidden", "_", ".", "a b", "a/b", "a%2f",
                                "caf\xc3\xa9", "a:b", "a@b", "a\tb", "a+b", "..", "a\\b", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ns_ok(bad[i]) != -1)
            TEST_FAIL_("accepted %s", bad[i]);
    char s[200];
    memset(s, 'n', sizeof s);
    ASSERT_EQ(duro_ns_valid(s, 128, NULL), 0);
    ASSERT_EQ(duro_ns_valid(s, 129, NULL), -1);
    ASSERT_EQ(duro_ns_valid(s, 0, NULL), -1);
    ASSERT_EQ(duro_ns_valid("a\0b", 3, NULL), -1);
    ASSERT_EQ(duro_ns_valid(NULL, 0, NULL), -1);
}

TEST(key_rules)
{
    ASSERT_EQ(key_ok("a", 1), 0);
    ASSERT_EQ(key_ok("user:42/profile?x=1&y", 21), 0);
    ASSERT_EQ(key_ok(" ", 1), 0);
    ASSERT_EQ(key_ok("_anything.goes", 14), 0);
    ASSERT_EQ(key_ok("caf\xc3\xa9 \xf0\x9f\x98\x80", 10), 0);
    ASSERT_EQ(key_ok("", 0), -1);
    ASSERT_EQ(key_ok("a\0b", 3), -1);
    ASSERT_EQ(key_ok("\0", 1), -1);
    ASSERT_EQ(key_ok("\xff", 1), -1);
    ASSERT_EQ(key_ok("\xc0\xaf", 2), -1);
    ASSERT_EQ(key_ok("\xed\xa0\x80", 3), -1);
    ASSERT_EQ(key_ok("ab\xe2\x82", 4), -1);
    char *k = malloc(3000);
    memset(k, 'k', 3000);
    ASSERT_EQ(key_ok(k, 2048), 0);
    ASSERT_EQ(key_ok(k, 2049), -1);
    /* the limit is in bytes: 682 three-byte characters fit, 683 do not */
    for (int i = 0; i < 683; i++)
        memcpy(k + 3 * i, "\xe2\x82\xac", 3);
    ASSERT_EQ(key_ok(k, 3 * 682), 0);
    ASSERT_EQ(key_ok(k, 3 * 683), -1);
    ASSERT_EQ(key_ok(k, 2048), -1); /* cuts a character in half */
    free(k);
    ASSERT_EQ(duro_key_valid(NULL, 0, NULL), -1);
}

static int dec(const char *in, const char *want, size_t want_len)
{
    char *out = (char *)1;
    size_t n = 99;
    int rc = duro_pct_decode(in, strlen(in), &out, &n);
    if (rc != 0)
        return rc;
    int same = n == want_len && memcmp(out, want, n) == 0 && out[n] == '\0';
    free(out);
    return same ? 0 : -2;
}

TEST(pct_decode)
{
    ASSERT_EQ(dec("", "", 0), 0);
    ASSERT_EQ(dec("abc", "abc", 3), 0);
    ASSERT_EQ(dec("a%2Fb", "a/b", 3), 0);
    ASSERT_EQ(dec("a%2fb", "a/b", 3), 0);
    ASSERT_EQ(dec("%41%42%43", "ABC", 3), 0);
    ASSERT_EQ(dec("a+b", "a+b", 3), 0);
    ASSERT_EQ(dec("%2B", "+", 1), 0);
    ASSERT_EQ(dec("%25", "%", 1), 0);
    ASSERT_EQ(dec("%2525", "%25", 3), 0);
    ASSERT_EQ(dec("%C3%A9", "\xc3\xa9", 2), 0);
    ASSERT_EQ(dec("%ff%FF", "\xff\xff", 2), 0);
    ASSERT_EQ(dec("%00", "\0", 1), 0);
    ASSERT_EQ(dec("a%00b", "a\0b", 3), 0);
    ASSERT_EQ(dec("%zz", "", 0), -1);
    ASSERT_EQ(dec("%", "", 0), -1);
    ASSERT_EQ(dec("abc%", "", 0), -1);
    ASSERT_EQ(dec("%0", "", 0), -1);
    ASSERT_EQ(dec("abc%4", "", 0), -1);
    ASSERT_EQ(dec("%g0", "", 0), -1);
    ASSERT_EQ(dec("%0g", "", 0), -1);
    ASSERT_EQ(dec("% 1", "", 0), -1);
    ASSERT_EQ(dec("%%41", "", 0), -1);
    ASSERT_EQ(dec("%-1", "", 0), -1);

    /* a failure allocates nothing and leaves *out alone */
    char *out = (char *)1;
    ASSERT_EQ(duro_pct_decode("%x", 2, &out, NULL), -1);
    ASSERT(out == (char *)1);
    /* only n bytes are read */
    ASSERT_EQ(duro_pct_decode("ab%41", 2, &out, NULL), 0);
    ASSERT_STREQ(out, "ab");
    free(out);
    ASSERT_EQ(duro_pct_decode("ab%4", 5, &out, NULL), -1);
    ASSERT_EQ(duro_pct_decode("ab%41", 4, &out, NULL), -1);
}

TEST(pct_decode_then_key_valid)
{
    char *out;
    size_t n;
    ASSERT_EQ(duro_pct_decode("a%00b", 5, &out, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(key_ok(out, n), -1);
    free(out);
    ASSERT_EQ(duro_pct_decode("%C3%28", 6, &out, &n), 0);
    ASSERT_EQ(key_ok(out, n), -1);
    free(out);
    ASSERT_EQ(duro_pct_decode("caf%C3%A9%2Fx", 13, &out, &n), 0);
    ASSERT_EQ(key_ok(out, n), 0);
    ASSERT_STREQ(out, "caf\xc3\xa9/x");
    free(out);
}

static int q(const char *query, const char *name, const char *want)
{
    char *out = (char *)1;
    size_t n = 99;
    int rc = duro_query_get(query, name, &out, &n);
    if (rc == 0)
        return out == NULL && n == 0 && want == NULL ? 0 : -2;
    if (rc < 0)
        return out == NULL && want == NULL ? rc : -3;
    int same = want && n == strlen(want) && strcmp(out, want) == 0;
    free(out);
    return same ? 1 : -4;
}

TEST(query_get)
{
    ASSERT_EQ(q("a=1&b=x%2Fy", "a", "1"), 1);
    ASSERT_EQ(q("a=1&b=x%2Fy", "b", "x/y"), 1);
    ASSERT_EQ(q("a=1&b=x%2Fy", "c", NULL), 0);
    ASSERT_EQ(q(NULL, "a", NULL), 0);
    ASSERT_EQ(q("", "a", NULL), 0);
    /* present but empty */
    ASSERT_EQ(q("a", "a", ""), 1);
    ASSERT_EQ(q("a=", "a", ""), 1);
    ASSERT_EQ(q("x=1&a&y=2", "a", ""), 1);
    ASSERT_EQ(q("x=1&a=&y=2", "a", ""), 1);
    /* '+' is a space in a query; %2B is a plus */
    ASSERT_EQ(q("p=a+b%2Bc", "p", "a b+c"), 1);
    ASSERT_EQ(q("p=+", "p", " "), 1);
    /* the first occurrence wins */
    ASSERT_EQ(q("a=1&a=2", "a", "1"), 1);
    ASSERT_EQ(q("a&a=2", "a", ""), 1);
    /* whole names only */
    ASSERT_EQ(q("ab=1&a=2", "a", "2"), 1);
    ASSERT_EQ(q("ab=1", "a", NULL), 0);
    ASSERT_EQ(q("a=1", "ab", NULL), 0);
    ASSERT_EQ(q("prefix=x&limit=10", "limit", "10"), 1);
    /* '=' in a value, empty segments */
    ASSERT_EQ(q("a=b=c", "a", "b=c"), 1);
    ASSERT_EQ(q("&&a=1&", "a", "1"), 1);
    ASSERT_EQ(q("=1&a=2", "a", "2"), 1);
    /* names are percent-decoded too */
    ASSERT_EQ(q("%61=1", "a", "1"), 1);
    ASSERT_EQ(q("my+name=1", "my name", "1"), 1);
    /* bad escapes */
    ASSERT_EQ(q("a=%zz", "a", NULL), -1);
    ASSERT_EQ(q("a=%", "a", NULL), -1);
    ASSERT_EQ(q("a=%4", "a", NULL), -1);
    ASSERT_EQ(q("%zz=1&a=2", "a", NULL), -1);
    ASSERT_EQ(q("a=1&b=%zz", "a", "1"), 1);
    /* NUL survives decoding */
    char *out;
    size_t n;
    ASSERT_EQ(duro_query_get("k=a%00b", "k", &out, &n), 1);
    ASSERT_EQ(n, 3);
    ASSERT_MEMEQ(out, "a\0b", 4);
    free(out);
    ASSERT_EQ(duro_query_get("k=v", "k", &out, NULL), 1);
    ASSERT_STREQ(out, "v");
    free(out);
}

TEST_MAIN()
