/*
 * tests/unit/common/sha256.c — SHA-256 (common/sha256.c), both its paths
 * (the CPU's SHA instructions where present, and portable C): FIPS 180-2
 * vectors, and libsodium's digest of every length up to 3000 bytes fed in
 * uneven pieces.
 */
#include <sodium.h>

#include "tests/test.h"
#include "common/sha256.h"

static void digest(const void *p, size_t n, size_t step, unsigned char out[32])
{
    duro_sha256 c;
    duro_sha256_init(&c);
    const unsigned char *s = p;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < step ? n - done : step;
        duro_sha256_update(&c, s + done, k);
        done += k;
        step = step * 5 % 131 + 1;
    }
    duro_sha256_final(&c, out);
}

static void hex(const unsigned char *d, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void vectors(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char d[32];
        char h[65];
        digest(v[i].in, strlen(v[i].in), 64, d);
        hex(d, h);
        ASSERT_STREQ(h, v[i].hex);
    }
}

static void against_libsodium(void)
{
    static unsigned char buf[3000 + 16];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
    for (size_t len = 0; len <= 3000; len++) {
        unsigned char a[32], b[32];
        crypto_hash_sha256(a, buf + len % 13, len);
        digest(buf + len % 13, len, len % 70 + 1, b);
        if (memcmp(a, b, 32) != 0)
            TEST_FAIL_("length %zu differs from libsodium", len);
    }
}

TEST(the_cpu_path_if_there_is_one)
{
    duro_sha256_portable(0);
    vectors();
    against_libsodium();
}

TEST(the_portable_path)
{
    duro_sha256_portable(1);
    duro_sha256 c;
    duro_sha256_init(&c);
    ASSERT_EQ(c.hw, 0);
    vectors();
    against_libsodium();
    duro_sha256_portable(0);
}

TEST_MAIN()
