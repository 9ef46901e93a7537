/*
 * tests/unit/common/json_text.c — unit tests for common/ (codec): the msgpack structural
 * check, JSON and msgpack conversions, stored values, the reply tape, string
 * escaping and UTF-8 validation.
 */
#include <math.h>
#include <msgpack.h>

#include "tests/test.h"
#include "common/codec.h"

/* Decodes hex digits (spaces ignored) into out; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        int c = *hex, v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static int check_hex(const char *hex, int max_depth, size_t *used)
{
    uint8_t b[256];
    size_t n = unhex(hex, b);
    return duro_mp_check(b, n, max_depth, used);
}

/* Converts the msgpack value given in hex to JSON text with
 * duro_value_to_json; returns a NUL-terminated string (freed by the caller)
 * or NULL if the conversion failed. */
static char *mp_hex_to_text(const char *hex)
{
    uint8_t b[256];
    size_t n = unhex(hex, b);
    duro_buf out = {0};
    if (duro_value_to_json(DURO_ENC_MSGPACK, b, n, &out) != 0) {
        duro_buf_free(&out);
        return NULL;
    }
    duro_buf_append(&out, "", 1);
    return duro_buf_take(&out, NULL);
}

static char *tape_text(const uint8_t *t, size_t n)
{
    duro_buf out = {0};
    if (duro_tape_to_json(t, n, &out) != 0) {
        duro_buf_free(&out);
        return NULL;
    }
    duro_buf_append(&out, "", 1);
    return duro_buf_take(&out, NULL);
}

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

/* ---- duro_mp_check ---------------------------------------------------------- */

TEST(mp_check_rejects_allocation_bombs)
{
    size_t used = 0;
    ASSERT_EQ(check_hex("dd ffffffff", 64, &used), -1);
    ASSERT_EQ(check_hex("df ffffffff", 64, &used), -1);
    ASSERT_EQ(check_hex("dc ffff", 64, &used), -1);
    ASSERT_EQ(check_hex("de ffff", 64, &used), -1);
    ASSERT_EQ(check_hex("dd 7fffffff dd 7fffffff 00 00", 64, &used), -1);
    ASSERT_EQ(check_hex("91 df 7fffffff 00 00 00 00 00 00", 64, &used), -1);
    ASSERT_EQ(check_hex("db ffffffff 00", 64, &used), -1);
    ASSERT_EQ(check_hex("c6 ffffffff 00", 64, &used), -1);
    ASSERT_EQ(check_hex("c9 ffffffff 01 00", 64, &used), -1);
    /* a map of n pairs needs 2n bytes */
    ASSERT_EQ(check_hex("82 00 00 00", 64, &used), -1);
    ASSERT_EQ(check_hex("82 00 00 00 00", 64, &used), 0);
    ASSERT_EQ(used, 5);
    ASSERT_EQ(check_hex("dd 00000003 00 00 00", 64, &used), 0);
    ASSERT_EQ(used, 8);
}

TEST(mp_check_rejects_c1)
{
    size_t used;
    ASSERT_EQ(check_hex("c1", 64, &used), -1);
    ASSERT_EQ(check_hex("91 c1", 64, &used), -1);
    ASSERT_EQ(check_hex("81 a1 61 c1", 64, &used), -1);
    ASSERT_EQ(check_hex("", 64, &used), -1);
    ASSERT_EQ(duro_mp_check(NULL, 0, 64, &used), -1);
}

TEST(mp_check_depth_cap)
{
    uint8_t b[400];
    size_t used;
    for (int d = 0; d <= 300; d++) {
        memset(b, 0x91, (size_t)d);
        b[d] = 0xc0;
        int want = d <= 64 ? 0 : -1;
        ASSERT_EQ(duro_mp_check(b, (size_t)d + 1, 64, &used), want);
        if (want == 0)
            ASSERT_EQ(used, (size_t)d + 1);
        /* empty containers count as a level too */
        b[d] = 0x90;
        ASSERT_EQ(duro_mp_check(b, (size_t)d + 1, 64, &used), d + 1 <= 64 ? 0 : -1);
    }
    ASSERT_EQ(check_hex("c0", 0, &used), 0);
    ASSERT_EQ(check_hex("90", 0, &used), -1);
    ASSERT_EQ(check_hex("90", 1, &used), 0);
    ASSERT_EQ(check_hex("91 90", 1, &used), -1);
    ASSERT_EQ(check_hex("92 90 90", 2, &used), 0);
    ASSERT_EQ(check_hex("81 90 90", 2, &used), 0);
    ASSERT_EQ(check_hex("c0", -5, &used), 0);
    /* the explicit stack is bounded: larger caps are clamped to 256 */
    memset(b, 0x91, 300);
    b[300] = 0xc0;
    ASSERT_EQ(duro_mp_check(b, 301, 1000, &used), -1);
    ASSERT_EQ(duro_mp_check(b + 44, 257, 1000, &used), 0);
}

TEST(mp_check_truncated_and_trailing)
{
    uint8_t b[256];
    size_t n = unhex("83 a3 6b6579 92 cd 0102 cb 3ff0000000000000"
                     " d9 03 616263 c4 02 0102"
                     " a1 78 c7 02 05 abcd",
                     b);
    size_t used;
    ASSERT_EQ(duro_mp_check(b, n, 64, &used), 0);
    ASSERT_EQ(used, n);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(duro_mp_check(b, i, 64, &used), -1);
    b[n] = 0xc0;
    ASSERT_EQ(duro_mp_check(b, n + 1, 64, &used), 0);
    ASSERT_EQ(used, n);
    const char *err = NULL;
    ASSERT(duro_mp_to_json(b, n + 1, &err) == NULL);
    ASSERT(err != NULL);
}

TEST(mp_check_every_type)
{
    static const struct {
        const char *hex;
        size_t used;
    } ok[] = {
        {"00", 1}, {"7f", 1}, {"e0", 1}, {"ff", 1}, {"c0", 1}, {"c2", 1}, {"c3", 1},
        {"cc ff", 2}, {"cd ffff", 3}, {"ce ffffffff", 5}, {"cf ffffffffffffffff", 9},
        {"d0 80", 2}, {"d1 8000", 3}, {"d2 80000000", 5}, {"d3 8000000000000000", 9},
        {"ca 3f800000", 5}, {"cb 3ff0000000000000", 9},
        {"a0", 1}, {"a3 616263", 4},
        {"bf 00000000000000000000000000000000000000000000000000000000000000", 32},
        {"d9 00", 2}, {"d9 01 61", 3}, {"da 0001 61", 4}, {"db 00000001 61", 6},
        {"c4 00", 2}, {"c4 01 00", 3}, {"c5 0001 00", 4}, {"c6 00000001 00", 6},
        {"d4 01 00", 3}, {"d5 01 0000", 4}, {"d6 ff 00000000", 6}, {"d7 01 0000000000000000", 10},
        {"d8 01 00000000000000000000000000000000", 18},
        {"c7 00 01", 3}, {"c7 01 01 00", 4}, {"c8 0001 01 00", 5}, {"c9 00000001 01 00", 7},
        {"90", 1}, {"80", 1}, {"91 00", 2}, {"81 00 00", 3},
        {"dc 0000", 3}, {"dc 0001 c0", 4}, {"dd 00000001 c0", 6},
        {"de 0000", 3}, {"de 0001 c0 c0", 5}, {"df 00000001 c0 c0", 7},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t used = 0;
        if (check_hex(ok[i].hex, 64, &used) != 0 || used != ok[i].used)
            TEST_FAIL_("%s: used %zu", ok[i].hex, used);
    }
    static const char *bad[] = {
        "cc", "cd ff", "ce ffffff", "cf ffffffffffffff", "d0", "d1 80", "d2 800000",
        "d3 80000000000000", "ca 3f8000", "cb 3ff00000000000", "a3 6162", "d9", "d9 02 61",
        "da 00", "db 000000", "c4", "c4 02 00", "c5 00", "c6 000000", "d4 01", "d4", "d8 01 00",
        "c7 01", "c7 01 01", "c8 00", "c9 00000001", "91", "81 00", "dc 00", "dd 000000",
        "de 0001 c0", "df 00000002 c0 c0 c0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t used;
        if (check_hex(bad[i], 64, &used) == 0)
            TEST_FAIL_("accepted truncated %s", bad[i]);
    }
}

/* msgpack-c unpacks everything duro_mp_check accepts (at depth <= 32). */
TEST(mp_check_agrees_with_msgpack_c)
{
    static const char *hex[] = {
        "83 a3 6b6579 92 cd 0102 cb 3ff0000000000000 d9 03 616263 c4 02 0102 a1 78 c7 02 05 abcd",
        "dc 0003 c0 c2 c3", "d8 01 00000000000000000000000000000000", "c7 00 01",
        "df 00000001 90 80",
    };
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
        uint8_t b[256];
        size_t n = unhex(hex[i], b), used, off = 0;
        ASSERT_EQ(duro_mp_check(b, n, 32, &used), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        ASSERT_EQ(msgpack_unpack_next(&u, (const char *)b, n, &off), MSGPACK_UNPACK_SUCCESS);
        ASSERT_EQ(off, used);
        msgpack_unpacked_destroy(&u);
    }
}

/* ---- msgpack -> JSON -------------------------------------------------------- */

TEST(mp_to_json_every_type)
{
    static const struct {
        const char *hex, *json;
    } cases[] = {
        {"00", "0"}, {"7f", "127"}, {"ff", "-1"}, {"e0", "-32"}, {"cc ff", "255"},
        {"cd ffff", "65535"}, {"ce ffffffff", "4294967295"},
        {"cf 7fffffffffffffff", "9223372036854775807"}, {"d0 80", "-128"},
        {"d1 8000", "-32768"}, {"d2 80000000", "-2147483648"},
        {"d3 8000000000000000", "-9223372036854775808"}, {"d3 0000000000000005", "5"},
        {"c0", "null"}, {"c2", "false"}, {"c3", "true"},
        {"ca 3f800000", "1.0"}, {"ca 3fc00000", "1.5"}, {"cb 3ff0000000000000", "1.0"},
        {"cb 3fb999999999999a", "0.10000000000000001"}, {"cb 8000000000000000", "-0.0"},
        {"cb 7fefffffffffffff", "1.7976931348623157e+308"},
        {"a0", "\"\""}, {"a3 616263", "\"abc\""}, {"d9 03 616263", "\"abc\""},
        {"da 0003 616263", "\"abc\""}, {"db 00000003 616263", "\"abc\""},
        {"a2 c3a9", "\"\xc3\xa9\""}, {"a1 00", "\"\\u0000\""},
        {"90", "[]"}, {"80", "{}"}, {"dc 0001 c0", "[null]"}, {"dd 00000002 01 02", "[1,2]"},
        {"de 0001 a1 61 01", "{\"a\":1}"}, {"df 00000001 a1 61 90", "{\"a\":[]}"},
        {"82 a1 62 01 a1 61 92 80 90", "{\"b\":1,\"a\":[{},[]]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = mp_hex_to_text(cases[i].hex);
        if (!text || strcmp(text, cases[i].json) != 0)
            TEST_FAIL_("%s: got %s, want %s", cases[i].hex, text ? text : "(null)", cases[i].json);
        uint8_t b[256];
        size_t n = unhex(cases[i].hex, b);
        const char *err = NULL;
        json_t *tree = duro_mp_to_json(b, n, &err);
        json_t *want = duro_json_parse(cases[i].json, strlen(cases[i].json), NULL);
        int same = tree && want && json_equal(tree, want);
        json_decref(tree);
        json_decref(want);
        free(text);
        if (!same)
            TEST_FAIL_("%s: tree differs (%s)", cases[i].hex, err ? err : "");
    }
}

TEST(mp_to_json_rejects_non_json)
{
    static const char *bad[] = {
        "cf 8000000000000000",   /* > INT64_MAX */
        "cf ffffffffffffffff",
        "cb 7ff0000000000000",   /* inf */
        "cb fff0000000000000",   /* -inf */
        "cb 7ff8000000000000",   /* nan */
        "ca 7f800000",           /* float32 inf */
        "ca 7fc00000",           /* float32 nan */
        "c4 01 00",              /* bin */
        "c5 0001 00",
        "d4 01 00",              /* ext, even DURO_TAPE_EXT_JSON outside a tape */
        "c7 01 05 00",
        "81 01 02",              /* non-str key */
        "81 c0 02",
        "81 90 02",
        "a1 ff",                 /* invalid UTF-8 */
        "a2 c0 80",              /* overlong */
        "a3 eda080",             /* surrogate */
        "81 a1 ff 00",           /* invalid UTF-8 key */
        "82 a1 61 01 a1 61 02",  /* duplicate key */
        "91 c4 00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[64];
        size_t n = unhex(bad[i], b), used;
        const char *err = NULL;
        json_t *v = duro_mp_to_json(b, n, &err);
        if (v || !err) {
            json_decref(v);
            TEST_FAIL_("accepted %s", bad[i]);
        }
        ASSERT_EQ(duro_mp_check(b, n, 64, &used), 0);
        char *text = mp_hex_to_text(bad[i]);
        /* the streaming path does not look for duplicate keys */
        if (text && i != sizeof bad / sizeof bad[0] - 2)
            TEST_FAIL_("value_to_json accepted %s: %s", bad[i], text);
        free(text);
    }
}

TEST(mp_to_json_depth)
{
    uint8_t b[100];
    memset(b, 0x91, 64);
    b[64] = 0x01;
    json_t *v = duro_mp_to_json(b, 65, NULL);
    ASSERT(v != NULL);
    json_decref(v);
    memset(b, 0x91, 65);
    b[65] = 0x01;
    const char *err = NULL;
    ASSERT(duro_mp_to_json(b, 66, &err) == NULL);
    ASSERT(err != NULL);
    duro_buf out = {0};
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b, 66, &out), -1);
    ASSERT_EQ(out.len, 0);
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b + 1, 65, &out), 0);
    duro_buf_free(&out);
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

TEST(json_to_mp_smallest_encodings)
{
    static const struct {
        const char *json, *hex;
    } cases[] = {
        {"0", "00"}, {"127", "7f"}, {"128", "cc80"}, {"255", "ccff"}, {"256", "cd0100"},
        {"65536", "ce00010000"}, {"4294967296", "cf0000000100000000"}, {"-1", "ff"},
        {"-32", "e0"}, {"-33", "d0df"}, {"-129", "d1ff7f"}, {"-32769", "d2ffff7fff"},
        {"-2147483649", "d3ffffffff7fffffff"}, {"1.5", "cb3ff8000000000000"},
        {"1.0", "cb3ff0000000000000"}, {"\"a\"", "a161"}, {"true", "c3"}, {"false", "c2"},
        {"null", "c0"}, {"[]", "90"}, {"{}", "80"}, {"{\"a\":[1]}", "81a16191 01"},
        {"\"0123456789012345678901234567890\"",
         "bf30313233343536373839303132333435363738393031323334353637383930"},
        {"\"01234567890123456789012345678901\"",
         "d92030313233343536373839303132333435363738393031323334353637383930 31"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t want[64];
        size_t n = unhex(cases[i].hex, want);
        json_t *v = duro_json_parse(cases[i].json, strlen(cases[i].json), NULL);
        ASSERT(v != NULL);
        duro_buf mp = {0};
        ASSERT_EQ(duro_json_to_mp(v, &mp), 0);
        if (mp.len != n || memcmp(mp.data, want, n) != 0)
            TEST_FAIL_("%s: wrong msgpack", cases[i].json);
        duro_buf_free(&mp);
        json_decref(v);
    }
}

TEST(json_to_mp_long_containers_and_strings)
{
    json_t *arr = json_array();
    for (int i = 0; i < 70000; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *obj = json_object();
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(obj, key, json_integer(i));
    }
    char *big = malloc(70000);
    memset(big, 'x', 70000);
    json_t *str = json_stringn(big, 70000);
    json_t *all = json_pack("[o,o,o,s%]", arr, obj, str, big, (size_t)300);
    free(big);
    duro_buf mp = {0};
    ASSERT_EQ(duro_json_to_mp(all, &mp), 0);
    json_t *back = duro_mp_to_json(mp.data, mp.len, NULL);
    ASSERT(back && json_equal(all, back));

    size_t off = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    ASSERT_EQ(msgpack_unpack_next(&u, mp.data, mp.len, &off), MSGPACK_UNPACK_SUCCESS);
    ASSERT_EQ(off, mp.len);
    ASSERT_EQ(u.data.type, MSGPACK_OBJECT_ARRAY);
    ASSERT_EQ(u.data.via.array.ptr[0].via.array.size, 70000);
    ASSERT_EQ(u.data.via.array.ptr[1].via.map.size, 20);
    ASSERT_EQ(u.data.via.array.ptr[2].via.str.size, 70000);
    ASSERT_EQ(u.data.via.array.ptr[3].via.str.size, 300);
    msgpack_unpacked_destroy(&u);
    json_decref(back);
    json_decref(all);
    duro_buf_free(&mp);
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

TEST(json_out_depth_caps)
{
    json_t *root = json_array(), *cur = root;
    for (int i = 1; i < 200; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
        duro_buf out = {0};
        ASSERT_EQ(duro_json_to_mp(root, &out), i + 1 <= DURO_MP_MAX_DEPTH ? 0 : -1);
        duro_buf_free(&out);
        ASSERT_EQ(duro_json_to_text(root, &out), i + 1 <= 2 * DURO_JSON_MAX_DEPTH ? 0 : -1);
        duro_buf_free(&out);
    }
    json_decref(root);
    ASSERT_EQ(duro_json_to_text(NULL, &(duro_buf){0}), -1);
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

/* ---- values and tapes ------------------------------------------------------- */

TEST(value_conversions)
{
    duro_buf out = {0};
    const char *j = "{\"a\":[1,\"x\"]}";
    ASSERT_EQ(duro_value_to_json(DURO_ENC_JSON, j, strlen(j), &out), 0);
    ASSERT_EQ(out.len, strlen(j));
    ASSERT_MEMEQ(out.data, j, out.len);
    duro_buf_free(&out);

    uint8_t mp[32];
    size_t n = unhex("81 a1 61 92 01 a1 78", mp);
    ASSERT_EQ(duro_value_to_mp(DURO_ENC_JSON, j, strlen(j), &out), 0);
    ASSERT_EQ(out.len, n);
    ASSERT_MEMEQ(out.data, mp, n);
    duro_buf_free(&out);

    ASSERT_EQ(duro_value_to_mp(DURO_ENC_MSGPACK, mp, n, &out), 0);
    ASSERT_EQ(out.len, n);
    ASSERT_MEMEQ(out.data, mp, n);
    duro_buf_free(&out);

    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp, n, &out), 0);
    ASSERT_EQ(out.len, strlen(j));
    ASSERT_MEMEQ(out.data, j, out.len);
    duro_buf_free(&out);

    ASSERT_EQ(duro_value_to_json(7, j, strlen(j), &out), -1);
    ASSERT_EQ(duro_value_to_mp(7, j, strlen(j), &out), -1);
    ASSERT_EQ(duro_value_to_mp(DURO_ENC_JSON, "{", 1, &out), -1);
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp, n - 1, &out), -1);
    mp[n] = 0xc0;
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp, n + 1, &out), -1);
    ASSERT_EQ(out.len, 0);
    duro_buf_free(&out);
}

TEST(tape_splices_json)
{
    uint8_t t[128];
    size_t n = unhex("83 a5 76616c7565 c7 0b 01 7b2278223a5b312c325d7d"
                     " a1 6e 05 a1 6c 92 d4 01 37 d5 01 5b5d",
                     t);
    char *text = tape_text(t, n);
    ASSERT_STREQ(text, "{\"value\":{\"x\":[1,2]},\"n\":5,\"l\":[7,[]]}");
    free(text);

    uint8_t want[64];
    size_t wn = unhex("83 a5 76616c7565 81 a1 78 92 01 02 a1 6e 05 a1 6c 92 07 90", want);
    duro_buf out = {0};
    duro_buf_append(&out, "xy", 2);
    ASSERT_EQ(duro_tape_to_mp(t, n, &out), 0);
    ASSERT_EQ(out.len, wn + 2);
    ASSERT_MEMEQ(out.data + 2, want, wn);
    duro_buf_free(&out);

    /* a top-level ext JSON value and a 300-byte one (ext16) */
    n = unhex("d6 01 74727565", t);
    text = tape_text(t, n);
    ASSERT_STREQ(text, "true");
    free(text);
    ASSERT_EQ(duro_tape_to_mp(t, n, &out), 0);
    ASSERT_EQ(out.len, 1);
    ASSERT_EQ((uint8_t)out.data[0], 0xc3);
    duro_buf_free(&out);

    uint8_t big[400];
    memcpy(big, "\x91\xc8\x01\x2c\x01\"", 6);
    memset(big + 6, 'a', 298);
    big[304] = '"';
    text = tape_text(big, 305);
    ASSERT(text && strlen(text) == 302 && text[0] == '[' && text[301] == ']');
    free(text);
    ASSERT_EQ(duro_tape_to_mp(big, 305, &out), 0);
    ASSERT_EQ(out.len, 1 + 3 + 298);
    ASSERT_MEMEQ(out.data, "\x91\xda\x01\x2a" "aaa", 7);
    duro_buf_free(&out);
}

TEST(tape_plain_msgpack)
{
    uint8_t t[64];
    size_t n = unhex("84 a1 61 c0 a1 62 c3 a1 63 cb 3ff8000000000000 a1 64 93 ff a0 80", t);
    char *text = tape_text(t, n);
    ASSERT_STREQ(text, "{\"a\":null,\"b\":true,\"c\":1.5,\"d\":[-1,\"\",{}]}");
    free(text);
    duro_buf out = {0};
    ASSERT_EQ(duro_tape_to_mp(t, n, &out), 0);
    ASSERT_EQ(out.len, n);
    ASSERT_MEMEQ(out.data, t, n);
    duro_buf_free(&out);
}

TEST(tape_rejects)
{
    static const char *bad[] = {
        "c4 01 00",            /* bin */
        "91 c4 00",
        "81 a1 61 c5 0001 00",
        "d4 02 00",            /* ext of another type */
        "c7 01 00 31",
        "c7 00 01",            /* empty JSON text */
        "81 d4 01 31 00",      /* ext JSON as a key */
        "81 01 02",            /* non-str key */
        "cf ffffffffffffffff", "cb 7ff8000000000000", "a1 ff",
        "92 01",               /* truncated */
        "c7 05 01 31",
        "01 02",               /* trailing bytes */
        "c1", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t t[64];
        size_t n = unhex(bad[i], t);
        duro_buf out = {0};
        duro_buf_append(&out, "keep", 4);
        if (duro_tape_to_json(t, n, &out) != -1 || out.len != 4)
            TEST_FAIL_("tape_to_json accepted %s", bad[i]);
        if (duro_tape_to_mp(t, n, &out) != -1 || out.len != 4)
            TEST_FAIL_("tape_to_mp accepted %s", bad[i]);
        duro_buf_free(&out);
    }
    /* JSON text in a tape is trusted by the JSON path, parsed by the msgpack path */
    uint8_t t[16];
    size_t n = unhex("92 01 d5 01 7b5b", t);
    char *text = tape_text(t, n);
    ASSERT_STREQ(text, "[1,{[]");
    free(text);
    duro_buf out = {0};
    ASSERT_EQ(duro_tape_to_mp(t, n, &out), -1);
    ASSERT_EQ(out.len, 0);
    duro_buf_free(&out);
}

TEST(tape_depth)
{
    uint8_t b[300];
    int cap = 2 * DURO_MP_MAX_DEPTH;
    memset(b, 0x91, (size_t)cap);
    b[cap] = 0xc0;
    char *text = tape_text(b, (size_t)cap + 1);
    ASSERT(text != NULL);
    free(text);
    memset(b, 0x91, (size_t)cap + 1);
    b[cap + 1] = 0xc0;
    ASSERT(tape_text(b, (size_t)cap + 2) == NULL);
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
