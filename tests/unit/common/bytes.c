/*
 * tests/unit/common/bytes.c — the JSON form of bytes, {"$bytes": base64}
 * (common/bytes.c), through every converter of codec.h: msgpack bin <->
 * {"$bytes"} in values, tapes, request trees and jansson → msgpack.
 */
#include "common/codec.h"
#include "common/tape.h"
#include "tests/test.h"
#include "unit/common/hex.h"

static char *mp_text(const uint8_t *b, size_t n)
{
    duro_buf out = {0};
    if (duro_value_to_json(DURO_ENC_MSGPACK, b, n, &out) != 0) {
        duro_buf_free(&out);
        return NULL;
    }
    duro_buf_append(&out, "", 1);
    return duro_buf_take(&out, NULL);
}

/* JSON text → (parse) → msgpack, into out. */
static int text_mp(const char *j, duro_buf *out)
{
    return duro_value_to_mp(DURO_ENC_JSON, j, strlen(j), out);
}

TEST(bin_to_json_text)
{
    static const struct {
        const char *hex, *json;
    } cases[] = {
        {"c4 00", "{\"$bytes\":\"\"}"},
        {"c4 01 00", "{\"$bytes\":\"AA==\"}"},
        {"c4 02 ff fe", "{\"$bytes\":\"//4=\"}"},
        {"c4 03 01 02 03", "{\"$bytes\":\"AQID\"}"},
        /* wider headers than needed: back as the smallest (the case after) */
        {"c5 0003 61 62 63", "{\"$bytes\":\"YWJj\"}"},
        {"c4 03 61 62 63", "{\"$bytes\":\"YWJj\"}"},
        {"c6 00000001 7a", "{\"$bytes\":\"eg==\"}"},
        {"c4 01 7a", "{\"$bytes\":\"eg==\"}"},
        /* nested, in arrays and maps */
        {"92 c4 01 00 81 a1 62 c4 01 ff", "[{\"$bytes\":\"AA==\"},{\"b\":{\"$bytes\":\"/w==\"}}]"},
        {"81 a1 61 91 91 c4 00", "{\"a\":[[{\"$bytes\":\"\"}]]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[64];
        size_t n = unhex(cases[i].hex, b);
        char *text = mp_text(b, n);
        if (!text || strcmp(text, cases[i].json) != 0)
            TEST_FAIL_("%s: got %s, want %s", cases[i].hex, text ? text : "(null)", cases[i].json);
        free(text);
        /* and back: the JSON form is bytes again */
        if (b[0] != 0xc4 && (b[0] == 0xc5 || b[0] == 0xc6))
            n = unhex(cases[++i].hex, b);
        duro_buf out = {0};
        if (text_mp(cases[i].json, &out) != 0 || out.len != n || memcmp(out.data, b, n) != 0)
            TEST_FAIL_("%s: JSON back to msgpack differs", cases[i].hex);
        duro_buf_free(&out);
        /* the tree of a request holds the same object */
        json_t *v = duro_mp_to_json(b, n, NULL);
        ASSERT(v != NULL);
        duro_buf t = {0};
        ASSERT_EQ(duro_json_to_text(v, &t), 0);
        if (t.len != strlen(cases[i].json) || memcmp(t.data, cases[i].json, t.len) != 0)
            TEST_FAIL_("%s: tree text differs", cases[i].hex);
        duro_buf_free(&t);
        ASSERT_EQ(duro_json_to_mp(v, &t), 0);
        if (t.len != n || memcmp(t.data, b, n) != 0)
            TEST_FAIL_("%s: tree to msgpack differs", cases[i].hex);
        duro_buf_free(&t);
        json_decref(v);
    }
}

TEST(every_byte_value_round_trips)
{
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)i;
    for (size_t len = 0; len <= 256; len++) {
        duro_buf mp = {0}, text = {0}, back = {0};
        ASSERT_EQ(duro_mp_put_bin_header(&mp, len), 0);
        ASSERT_EQ(duro_buf_append(&mp, raw, len), 0);
        ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp.data, mp.len, &text), 0);
        ASSERT_EQ(duro_value_to_mp(DURO_ENC_JSON, text.data, text.len, &back), 0);
        ASSERT_EQ(back.len, mp.len);
        ASSERT_MEMEQ(back.data, mp.data, mp.len);
        const void *p;
        size_t n;
        ASSERT_EQ(duro_mp_is_bin(back.data, back.len, &p, &n), 1);
        ASSERT_EQ(n, len);
        if (len)
            ASSERT_MEMEQ(p, raw, len);
        duro_buf_free(&mp);
        duro_buf_free(&text);
        duro_buf_free(&back);
    }
}

TEST(header_sizes)
{
    static const struct {
        size_t n, hl;
        uint8_t tag;
    } cases[] = {{0, 2, 0xc4},     {255, 2, 0xc4},   {256, 3, 0xc5},
                 {65535, 3, 0xc5}, {65536, 5, 0xc6}, {1 << 20, 5, 0xc6}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].n;
        duro_buf mp = {0};
        ASSERT_EQ(duro_mp_put_bin_header(&mp, n), 0);
        ASSERT_EQ(mp.len, cases[i].hl);
        ASSERT_EQ((uint8_t)mp.data[0], cases[i].tag);
        ASSERT_EQ(duro_buf_reserve(&mp, n), 0);
        for (size_t k = 0; k < n; k++)
            mp.data[mp.len++] = (char)(k * 7 + 3);
        /* through JSON text and back, with the smallest header again */
        duro_buf text = {0}, back = {0};
        ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, mp.data, mp.len, &text), 0);
        ASSERT_EQ(text.len, 13 + (n + 2) / 3 * 4);
        ASSERT_EQ(duro_value_to_mp(DURO_ENC_JSON, text.data, text.len, &back), 0);
        ASSERT_EQ(back.len, mp.len);
        ASSERT_MEMEQ(back.data, mp.data, mp.len);
        /* a tree from the request, back to msgpack */
        json_t *v = duro_mp_to_json(mp.data, mp.len, NULL);
        ASSERT(v != NULL);
        ASSERT_EQ(duro_json_has_bytes(v), 1);
        duro_buf t = {0};
        ASSERT_EQ(duro_json_to_mp(v, &t), 0);
        ASSERT_EQ(t.len, mp.len);
        ASSERT_MEMEQ(t.data, mp.data, mp.len);
        json_decref(v);
        duro_buf_free(&t);
        duro_buf_free(&mp);
        duro_buf_free(&text);
        duro_buf_free(&back);
    }
}

TEST(not_bytes_stays_an_ordinary_object)
{
    static const char *const cases[] = {
        "{\"$bytes\":\"AA=\"}", /* length not a multiple of 4 */
        "{\"$bytes\":\"AA\"}",  /* no padding */
        "{\"$bytes\":\"A===\"}",
        "{\"$bytes\":\"AB==\"}",     /* non-canonical: unused bits set */
        "{\"$bytes\":\"AAA*\"}",     /* not base64 */
        "{\"$bytes\":\"AA-_\"}",     /* URL-safe alphabet */
        "{\"$bytes\":\"AA==AAAA\"}", /* padding inside */
        "{\"$bytes\":\"A\u00b7/\"}", /* non-ASCII (libsodium 1.0.18 took it) */
        "{\"$bytes\":\"\u00c0\u00c1\u00c2\u00c3\"}",
        "{\"$bytes\":\"AAA\\u0000\"}", /* NUL */
        "{\"$bytes\":\"AA=A\"}",
        "{\"$bytes\":\"====\"}",
        "{\"$bytes\":\" AAA\"}",
        "{\"$bytes\":\"AAAA\\n\"}",
        "{\"$bytes\":1}", /* not a string */
        "{\"$bytes\":null}",
        "{\"$bytes\":[\"AA==\"]}",
        "{\"$bytes\":\"AA==\",\"x\":1}", /* other members */
        "{\"$Bytes\":\"AA==\"}",
        "{\"bytes\":\"AA==\"}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = duro_json_parse(cases[i], strlen(cases[i]), NULL);
        ASSERT(v != NULL);
        ASSERT_EQ(duro_json_bytes(v, NULL), 0);
        duro_buf b = {0};
        ASSERT_EQ(duro_json_bytes(v, &b), 0);
        ASSERT_EQ(b.len, 0);
        ASSERT_EQ(duro_json_has_bytes(v), 0);
        ASSERT_EQ(duro_json_to_mp(v, &b), 0);
        if (b.len == 0 || ((uint8_t)b.data[0] & 0xf0) != 0x80)
            TEST_FAIL_("%s: not a msgpack map", cases[i]);
        /* and it reads back as the same object */
        duro_buf t = {0};
        ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b.data, b.len, &t), 0);
        json_t *w = duro_json_parse(t.data, t.len, NULL);
        if (!w || !json_equal(v, w))
            TEST_FAIL_("%s: changed on the way", cases[i]);
        json_decref(w);
        json_decref(v);
        duro_buf_free(&b);
        duro_buf_free(&t);
    }
    /* a long invalid string: padding at a 1024-character chunk boundary */
    size_t n = 2048;
    char *s = malloc(n + 1);
    memset(s, 'A', n);
    s[1022] = s[1023] = '=';
    s[n] = 0;
    json_t *v = json_pack("{s:s}", "$bytes", s);
    ASSERT_EQ(duro_json_bytes(v, NULL), 0);
    duro_buf b = {0};
    ASSERT_EQ(duro_json_bytes(v, &b), 0);
    s[1022] = s[1023] = 'A';
    json_object_set_new(v, "$bytes", json_string(s));
    ASSERT_EQ(duro_json_bytes(v, NULL), 1);
    ASSERT_EQ(duro_json_bytes(v, &b), 1);
    ASSERT_EQ(b.len, 1536);
    json_decref(v);
    duro_buf_free(&b);
    free(s);
}

TEST(has_bytes_finds_nested)
{
    const char *yes[] = {"{\"$bytes\":\"\"}", "[1,[2,{\"a\":{\"$bytes\":\"AQID\"}}]]",
                         "{\"a\":{\"b\":{\"$bytes\":\"AA==\"}}}"};
    const char *no[] = {"1", "\"$bytes\"", "{\"$bytes\":\"A\"}", "[{\"a\":\"AA==\"}]", "{}"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = duro_json_parse(yes[i], strlen(yes[i]), NULL);
        ASSERT_EQ(duro_json_has_bytes(v), 1);
        json_decref(v);
    }
    for (size_t i = 0; i < 5; i++) {
        json_t *v = duro_json_parse(no[i], strlen(no[i]), NULL);
        ASSERT_EQ(duro_json_has_bytes(v), 0);
        json_decref(v);
    }
    ASSERT_EQ(duro_json_has_bytes(NULL), 0);
}

TEST(tape_renders_bins)
{
    /* a tape written by a kind: {"v": bin 01 02, "j": ext-JSON {"$bytes":"AAE="}} */
    duro_buf tb = {0};
    msgpack_packer pk;
    duro_tape_packer(&pk, &tb);
    msgpack_pack_map(&pk, 3);
    duro_tape_lit(&pk, "v");
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "\x01\x02", 2);
    duro_tape_lit(&pk, "j");
    duro_tape_json(&pk, "{\"$bytes\":\"AAE=\"}", 17);
    duro_tape_lit(&pk, "s");
    uint8_t stored[8];
    size_t sn = unhex("91 c4 01 ff", stored);
    duro_tape_value(&pk, DURO_ENC_MSGPACK, stored, sn);

    duro_buf out = {0};
    ASSERT_EQ(duro_tape_to_json(tb.data, tb.len, &out), 0);
    duro_buf_append(&out, "", 1);
    ASSERT_STREQ(
        out.data,
        "{\"v\":{\"$bytes\":\"AQI=\"},\"j\":{\"$bytes\":\"AAE=\"},\"s\":[{\"$bytes\":\"/w==\"}]}");
    duro_buf_free(&out);

    ASSERT_EQ(duro_tape_to_mp(tb.data, tb.len, &out), 0);
    uint8_t want[64];
    size_t wn = unhex("83 a1 76 c4 02 01 02 a1 6a c4 02 00 01 a1 73 91 c4 01 ff", want);
    ASSERT_EQ(out.len, wn);
    ASSERT_MEMEQ(out.data, want, wn);
    duro_buf_free(&out);
    duro_buf_free(&tb);
}

TEST(mp_is_bin)
{
    uint8_t b[16];
    const void *p;
    size_t n;
    size_t len = unhex("c4 02 61 62", b);
    ASSERT_EQ(duro_mp_is_bin(b, len, &p, &n), 1);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(duro_mp_is_bin(b, len - 1, &p, &n), 0); /* short */
    len = unhex("c4 01 61 c0", b);
    ASSERT_EQ(duro_mp_is_bin(b, len, &p, &n), 0); /* trailing */
    len = unhex("a2 61 62", b);
    ASSERT_EQ(duro_mp_is_bin(b, len, &p, &n), 0); /* a string */
    len = unhex("91 c4 00", b);
    ASSERT_EQ(duro_mp_is_bin(b, len, &p, &n), 0); /* inside an array */
    len = unhex("c5 0000", b);
    ASSERT_EQ(duro_mp_is_bin(b, len, &p, &n), 1);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(duro_mp_is_bin(NULL, 0, &p, &n), 0);
}

TEST(bin_bounded_by_the_check)
{
    /* a bin that claims more bytes than there are never reaches a converter */
    uint8_t b[16];
    size_t n = unhex("c6 7fffffff 00", b), used;
    ASSERT_EQ(duro_mp_check(b, n, 64, &used), -1);
    const char *err = NULL;
    ASSERT(duro_mp_to_json(b, n, &err) == NULL);
    ASSERT(err != NULL);
    duro_buf out = {0};
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b, n, &out), -1);
    ASSERT_EQ(out.len, 0);
}

TEST(bin_counts_as_a_level)
{
    /* a bin's JSON form is an object: inside 63 arrays fine, 64 too deep */
    uint8_t b[80];
    memset(b, 0x91, 64);
    b[63] = 0xc4;
    b[64] = 0x00;
    json_t *v = duro_mp_to_json(b, 65, NULL);
    ASSERT(v != NULL);
    duro_buf t = {0};
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b, 65, &t), 0);
    json_t *w = duro_json_parse(t.data, t.len, NULL);
    ASSERT(w != NULL && json_equal(v, w));
    json_decref(w);
    json_decref(v);
    duro_buf_free(&t);
    b[63] = 0x91;
    b[64] = 0xc4;
    b[65] = 0x00;
    const char *err = NULL;
    ASSERT(duro_mp_to_json(b, 66, &err) == NULL);
    ASSERT_STREQ(err, "nesting too deep");
    ASSERT_EQ(duro_value_to_json(DURO_ENC_MSGPACK, b, 66, &t), -1);
    /* a tape may nest deeper */
    ASSERT_EQ(duro_tape_to_json(b, 66, &t), 0);
    duro_buf_free(&t);
}

TEST_MAIN()
