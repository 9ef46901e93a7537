/*
 * tests/unit/common/mp_read.c — reading msgpack (common/mp_read.c): the heap-free structural
 * check duro_mp_check and msgpack to JSON.
 */
#include <msgpack.h>

#include "common/codec.h"
#include "tests/test.h"
#include "unit/common/hex.h"

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
        "81 c4 01 61 02",        /* bin key */
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

TEST_MAIN()
