/*
 * tests/unit/common/tape.c — stored values between encodings and the reply tape into JSON or
 * msgpack (common/tape.c).
 */
#include "common/codec.h"
#include "tests/test.h"
#include "unit/common/hex.h"

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
        "81 c4 01 61 01",      /* bin as a key */
        "c4 02 00",            /* bin longer than the tape */
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

TEST_MAIN()
