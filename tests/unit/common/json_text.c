/*
 * tests/unit/common/json_text.c — JSON text (common/json_text.c): parsing with its depth
 * pre-scan and duplicate-key check, trees out as text, number formatting, string escaping and
 * UTF-8 validation.
 */
#include "common/codec.h"
#include "tests/test.h"

static char *tree_text(const json_t *v)
{
    duro_buf out = {0};
    if (duro_json_to_text(v, &out) != 0) {
        duro_buf_free(&out);
        return NULL;
    }
    duro_buf_append(&out, "", 1);
    return duro_buf_take(&out, NULL);
}

/* ---- JSON text -------------------------------------------------------------- */

TEST(json_round_trips)
{
    static const char *texts[] = {
        "null", "true", "false", "0", "-1", "9223372036854775807", "-9223372036854775808",
        "0.5", "-2.5", "1.0", "1e+22", "-9.5367431640625e-07", "\"\"", "\"abc\"",
        "\"\\u0000\"", "\"a\\u0000b\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"",
        "\"\\\"\\\\\\n\\t\\r\\b\\f\\u0001\\u001f\"", "[]", "{}", "[[]]", "[{}]", "{\"\":{}}",
        "{\"b\":1,\"a\":2,\"c\":[1,2.5,\"x\",true,false,null,{}]}",
        "{\"\xf0\x9f\x98\x80\":\"\xf0\x9f\x98\x80\"}", "[127,128,255,256,65535,65536,4294967295]",
        "[4294967296,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *err = NULL;
        json_t *v = duro_json_parse(texts[i], strlen(texts[i]), &err);
        if (!v)
            TEST_FAIL_("parse %s: %s", texts[i], err);
        char *text = tree_text(v);
        if (!text || strcmp(text, texts[i]) != 0)
            TEST_FAIL_("text of %s: %s", texts[i], text ? text : "(null)");
        free(text);

        duro_buf mp = {0};
        ASSERT_EQ(duro_json_to_mp(v, &mp), 0);
        size_t used;
        ASSERT_EQ(duro_mp_check(mp.data, mp.len, DURO_MP_MAX_DEPTH, &used), 0);
        ASSERT_EQ(used, mp.len);
        json_t *back = duro_mp_to_json(mp.data, mp.len, &err);
        if (!back || !json_equal(v, back))
            TEST_FAIL_("msgpack round trip of %s", texts[i]);
        json_decref(back);

        duro_buf out = {0};
        ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp.data, mp.len, &out), 0);
        ASSERT_EQ(out.len, strlen(texts[i]));
        ASSERT_MEMEQ(out.data, texts[i], out.len);
        duro_buf_free(&out);

        ASSERT_EQ(duro_value_to_mp(DURO_ENC_JSON, texts[i], strlen(texts[i]), &out), 0);
        ASSERT_EQ(out.len, mp.len);
        ASSERT_MEMEQ(out.data, mp.data, mp.len);
        duro_buf_free(&out);
        duro_buf_free(&mp);
        json_decref(v);
    }
}

TEST(json_parse_rejects_duplicates)
{
    static const char *bad[] = {
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", "[{\"x\":1,\"x\":1}]",
        "{\"\\u0061\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *err = NULL;
        json_t *v = duro_json_parse(bad[i], strlen(bad[i]), &err);
        ASSERT(v == NULL);
        ASSERT(err && strstr(err, "duplicate"));
    }
    json_t *v = duro_json_parse("{\"a\":1,\"A\":2}", 13, NULL);
    ASSERT(v != NULL);
    json_decref(v);
}

TEST(json_parse_depth)
{
    size_t n = 100000;
    char *s = malloc(n + 200);
    memset(s, '[', n);
    const char *err = NULL;
    ASSERT(duro_json_parse(s, n, &err) == NULL);
    ASSERT(err && strstr(err, "deep"));
    memset(s, '{', n);
    ASSERT(duro_json_parse(s, n, &err) == NULL);
    ASSERT(err && strstr(err, "deep"));

    for (int d = 60; d <= 70; d++) {
        memset(s, '[', (size_t)d);
        memset(s + d, ']', (size_t)d);
        json_t *v = duro_json_parse(s, 2 * (size_t)d, NULL);
        ASSERT_EQ(v != NULL, d <= DURO_JSON_MAX_DEPTH);
        json_decref(v);
    }
    /* brackets inside strings do not count, escaped quotes do not end them */
    s[0] = '[';
    s[1] = '"';
    memset(s + 2, '[', 1000);
    memcpy(s + 1002, "\\\"[[[\"]", 7);
    json_t *v = duro_json_parse(s, 1009, &err);
    ASSERT(v != NULL);
    ASSERT_EQ(json_string_length(json_array_get(v, 0)), 1004);
    json_decref(v);
    /* a stray closer does not buy extra depth */
    memcpy(s, "]", 1);
    memset(s + 1, '[', 1000);
    ASSERT(duro_json_parse(s, 1001, &err) == NULL);
    free(s);
}

TEST(json_parse_misc)
{
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {"1", 1}, {" \"x\" ", 1}, {"{} ", 1}, {"", 0}, {"1 2", 0}, {"{}x", 0}, {"[1,]", 0},
        {"9223372036854775808", 0}, {"-9223372036854775809", 0}, {"\"\xff\"", 0},
        {"\"\\ud800\"", 0}, {"\"\\udc00\"", 0}, {"\"\\ud83d\\ude00\"", 1}, {"NaN", 0},
        {"Infinity", 0}, {"1e400", 0}, {"'a'", 0}, {"{\"a\":\"\\u0000\"}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *err = NULL;
        json_t *v = duro_json_parse(cases[i].text, strlen(cases[i].text), &err);
        if ((v != NULL) != cases[i].ok)
            TEST_FAIL_("%s: %s", cases[i].text, v ? "accepted" : err);
        if (!v && !err)
            TEST_FAIL_("%s: no error message", cases[i].text);
        json_decref(v);
    }
    ASSERT(duro_json_parse(NULL, 0, NULL) == NULL);
    /* jansson refuses NUL in object keys, so msgpack does too */
    const char *nulkey = "{\"a\\u0000b\":1}";
    const char *err = NULL;
    ASSERT(duro_json_parse(nulkey, strlen(nulkey), &err) == NULL);
    ASSERT_STREQ(err, "NUL in JSON object key");
    static const uint8_t mp[] = {0x81, 0xa3, 'a', 0, 'b', 0x01};
    ASSERT(duro_mp_to_json(mp, sizeof mp, &err) == NULL);
    ASSERT_STREQ(err, "NUL in map key");
    duro_buf out = {0};
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp, sizeof mp, &out), -1);
    ASSERT_EQ(duro_tape_to_mp(mp, sizeof mp, &out), -1);
    ASSERT_EQ(out.len, 0);
    duro_buf_free(&out);
}

TEST(json_to_text_keeps_order_and_buffer)
{
    json_t *v = json_object();
    json_object_set_new(v, "z", json_integer(1));
    json_object_set_new(v, "a", json_real(2.0));
    json_object_set_new(v, "m", json_string("x\"y"));
    duro_buf out = {0};
    duro_buf_append(&out, "pre:", 4);
    ASSERT_EQ(duro_json_to_text(v, &out), 0);
    ASSERT_EQ(out.len, 4 + strlen("{\"z\":1,\"a\":2.0,\"m\":\"x\\\"y\"}"));
    ASSERT_MEMEQ(out.data, "pre:{\"z\":1,\"a\":2.0,\"m\":\"x\\\"y\"}", out.len);
    /* a failing append leaves the buffer as it was */
    json_object_set_new(v, "bad", json_stringn_nocheck("\xff", 1));
    size_t before = out.len;
    ASSERT_EQ(duro_json_to_text(v, &out), -1);
    ASSERT_EQ(out.len, before);
    duro_buf_free(&out);
    json_decref(v);
}

TEST(json_floats_stay_real)
{
    static const double ds[] = {0.0, 1.0, -3.0, 0.1, 1e21, 1e-7, 123456789012345678.0,
                                5e-324, 1.7976931348623157e308, -0.0};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        json_t *v = json_real(ds[i]);
        char *text = tree_text(v);
        json_t *back = duro_json_parse(text, strlen(text), NULL);
        if (!back || !json_is_real(back) || json_real_value(back) != ds[i])
            TEST_FAIL_("%.17g printed as %s", ds[i], text);
        free(text);
        json_decref(back);
        json_decref(v);
    }
}

/* Reals print as "%.17g" would, plus ".0" when that looks like an integer. */
TEST(json_real_format)
{
    static const double ds[] = {0.0, -0.0, 1.0, -1.0, 123.0, 1e15, -1e15, 9007199254740991.0,
                                -9007199254740991.0, 9007199254740992.0, 1e16, 1e17, 1e22,
                                4503599627370495.5, 0.5, 1e-300, 3.141592653589793};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "%.17g", ds[i]);
        if (!strpbrk(want, ".e"))
            memcpy(want + n, ".0", 3);
        json_t *v = json_real(ds[i]);
        char *text = tree_text(v);
        if (!text || strcmp(text, want) != 0)
            TEST_FAIL_("%s != %s", text ? text : "(null)", want);
        free(text);
        json_decref(v);
    }
}

/* ---- strings ---------------------------------------------------------------- */

TEST(json_put_str_escapes)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"", 0, "\"\""},
        {"abc", 3, "\"abc\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\""},
        {"\x01\x1f\x7f/", 4, "\"\\u0001\\u001f\x7f/\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        duro_buf out = {0};
        ASSERT_EQ(duro_json_put_str(&out, cases[i].in, cases[i].n), 0);
        if (out.len != strlen(cases[i].out) || memcmp(out.data, cases[i].out, out.len) != 0)
            TEST_FAIL_("case %zu: %.*s", i, (int)out.len, out.data);
        json_t *v = duro_json_parse(out.data, out.len, NULL);
        ASSERT(v && json_string_length(v) == cases[i].n);
        ASSERT_MEMEQ(json_string_value(v), cases[i].in, cases[i].n);
        json_decref(v);
        duro_buf_free(&out);
    }
    duro_buf out = {0};
    duro_buf_append(&out, "x", 1);
    ASSERT_EQ(duro_json_put_str(&out, "ab\xff", 3), -1);
    ASSERT_EQ(duro_json_put_str(&out, "\xed\xa0\x80", 3), -1);
    ASSERT_EQ(duro_json_put_str(&out, "\xc3", 1), -1);
    ASSERT_EQ(out.len, 1);
    ASSERT_EQ(duro_json_put_str(&out, NULL, 0), 0);
    ASSERT_EQ(out.len, 3);
    duro_buf_free(&out);
    /* long strings with escapes spread out */
    char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = i % 100 == 0 ? '\n' : 'a';
    ASSERT_EQ(duro_json_put_str(&out, big, sizeof big), 0);
    ASSERT_EQ(out.len, sizeof big + 50 + 2);
    duro_buf_free(&out);
}

TEST(utf8_valid_edges)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1}, {"hello", 1}, {"\x7f", 1},
        {"\xc2\x80", 1}, {"\xdf\xbf", 1}, {"\xc0\x80", 0}, {"\xc1\xbf", 0}, {"\xc2", 0},
        {"\xc2\x41", 0}, {"\x80", 0}, {"\xbf", 0},
        {"\xe0\xa0\x80", 1}, {"\xe0\x80\x80", 0}, {"\xe0\x9f\xbf", 0}, {"\xe2\x82\xac", 1},
        {"\xe2\x82", 0}, {"\xed\x9f\xbf", 1}, {"\xed\xa0\x80", 0}, {"\xed\xbf\xbf", 0},
        {"\xee\x80\x80", 1}, {"\xef\xbf\xbf", 1}, {"\xef\xbf", 0},
        {"\xf0\x90\x80\x80", 1}, {"\xf0\x80\x80\x80", 0}, {"\xf0\x8f\xbf\xbf", 0},
        {"\xf4\x8f\xbf\xbf", 1}, {"\xf4\x90\x80\x80", 0}, {"\xf0\x9f\x98", 0},
        {"\xf5\x80\x80\x80", 0}, {"\xf8\x88\x80\x80\x80", 0}, {"\xfe", 0}, {"\xff", 0},
        {"0123456789abcdef\xc3\xa9", 1}, {"0123456789abcdef\xc3", 0},
        {"01234567\xe2\x82\xac" "01234567", 1}, {"01234567\x80" "01234567", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (duro_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            TEST_FAIL_("case %zu", i);
    }
    ASSERT_EQ(duro_utf8_valid("a\0b", 3), 1);
    ASSERT_EQ(duro_utf8_valid(NULL, 0), 1);
}

/* Every code point is accepted exactly when it is a scalar value, as encoded
 * by a reference encoder. */
TEST(utf8_valid_all_code_points)
{
    for (uint32_t cp = 0; cp < 0x110000; cp += cp < 0x10000 ? 1 : 37) {
        uint8_t b[4];
        size_t n;
        if (cp < 0x80) {
            b[0] = (uint8_t)cp;
            n = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xc0 | cp >> 6);
            b[1] = (uint8_t)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xe0 | cp >> 12);
            b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | cp >> 18);
            b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            b[3] = (uint8_t)(0x80 | (cp & 0x3f));
            n = 4;
        }
        int want = !(cp >= 0xd800 && cp <= 0xdfff);
        if (duro_utf8_valid(b, n) != want)
            TEST_FAIL_("U+%04X", cp);
    }
}

TEST_MAIN()
