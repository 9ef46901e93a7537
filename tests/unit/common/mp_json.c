/*
 * tests/unit/common/mp_json.c — jansson trees out as msgpack (common/mp_json.c): the smallest
 * encodings, long containers and strings, and the depth caps of both writers.
 */
#include <msgpack.h>

#include "common/codec.h"
#include "tests/test.h"
#include "unit/common/hex.h"

/* ---- JSON -> msgpack -------------------------------------------------------- */

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

TEST_MAIN()
