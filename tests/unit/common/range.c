/*
 * tests/unit/common/range.c — the Range header (common/range.c) and MD5
 * (common/md5.c).
 */
#include "tests/test.h"
#include "common/md5.h"
#include "common/range.h"

static int parse(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    *off = *len = 12345;
    return duro_range_parse(h, size, off, len);
}

TEST(single_ranges)
{
    uint64_t off, len;
    ASSERT_EQ(parse("bytes=0-9", 100, &off, &len), DURO_RANGE_PARTIAL);
    ASSERT(off == 0 && len == 10);
    ASSERT_EQ(parse("bytes=90-", 100, &off, &len), DURO_RANGE_PARTIAL);
    ASSERT(off == 90 && len == 10);
    ASSERT_EQ(parse("bytes=-5", 100, &off, &len), DURO_RANGE_PARTIAL);
    ASSERT(off == 95 && len == 5);
    ASSERT_EQ(parse("bytes=-500", 100, &off, &len), DURO_RANGE_PARTIAL); /* all of it */
    ASSERT(off == 0 && len == 100);
    ASSERT_EQ(parse("bytes=95-1000", 100, &off, &len), DURO_RANGE_PARTIAL); /* clamped */
    ASSERT(off == 95 && len == 5);
    ASSERT_EQ(parse("bytes=99-99", 100, &off, &len), DURO_RANGE_PARTIAL);
    ASSERT(off == 99 && len == 1);
    ASSERT_EQ(parse("  bytes= 3-4 ", 100, &off, &len), DURO_RANGE_PARTIAL);
    ASSERT(off == 3 && len == 2);
}

TEST(unsatisfiable)
{
    uint64_t off, len;
    ASSERT_EQ(parse("bytes=100-", 100, &off, &len), DURO_RANGE_UNSATISFIABLE);
    ASSERT_EQ(parse("bytes=100-200", 100, &off, &len), DURO_RANGE_UNSATISFIABLE);
    ASSERT_EQ(parse("bytes=-0", 100, &off, &len), DURO_RANGE_UNSATISFIABLE);
    ASSERT_EQ(parse("bytes=0-", 0, &off, &len), DURO_RANGE_UNSATISFIABLE);
    ASSERT_EQ(parse("bytes=-1", 0, &off, &len), DURO_RANGE_UNSATISFIABLE);
    ASSERT(off == 12345 && len == 12345);
}

TEST(ignored)
{
    uint64_t off, len;
    static const char *junk[] = {NULL,          "",           "bytes",         "bytes=",
                                 "bytes=-",     "bytes=a-b",  "bytes=5-3",     "items=0-1",
                                 "bytes=0-1,2-3", "bytes=0-1x", "bytes=1--2", "Bytes=0-1",
                                 "bytes=99999999999999999999-", "bytes=0-99999999999999999999"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        if (parse(junk[i], 100, &off, &len) != DURO_RANGE_NONE)
            TEST_FAIL_("not ignored: %s", junk[i] ? junk[i] : "(null)");
    }
    ASSERT(off == 12345 && len == 12345);
}

static void md5_hex(const void *p, size_t n, char out[33])
{
    duro_md5 c;
    unsigned char d[16];
    duro_md5_init(&c);
    /* in uneven pieces, to cross the 64-byte blocks */
    const unsigned char *s = p;
    for (size_t done = 0, step = 1; done < n; step = step * 3 % 97 + 1) {
        size_t k = n - done < step ? n - done : step;
        duro_md5_update(&c, s + done, k);
        done += k;
    }
    duro_md5_final(&c, d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(md5_rfc1321_vectors)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[33];
        md5_hex(v[i].in, strlen(v[i].in), hex);
        ASSERT_STREQ(hex, v[i].hex);
    }
    /* a million 'a's */
    char *m = malloc(1000000);
    ASSERT(m != NULL);
    memset(m, 'a', 1000000);
    char hex[33];
    md5_hex(m, 1000000, hex);
    free(m);
    ASSERT_STREQ(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

TEST_MAIN()
