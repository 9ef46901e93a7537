/*
 * test.h — the tiny unit-test harness.
 *
 *   TEST(name) { ASSERT_EQ(1, 1); }
 *   ...
 *   TEST_MAIN()      -- at the end of exactly one file per test binary
 *
 * A test binary runs every TEST in the order of definition (or only those whose
 * name contains argv[1]), prints one line per test and a closing
 * "N passed, N failed" line, and exits non-zero if any test failed. Each test
 * binary is one ctest test.
 */
#ifndef DURO_TEST_H
#define DURO_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*duro_test_fn)(void);
struct duro_test {
    const char *name;
    duro_test_fn fn;
    struct duro_test *next;
};
extern struct duro_test *duro_test_list_head, **duro_test_list_tail;
extern int duro_test_failed_flag;

#define TEST(name)                                                                  \
    static void test_##name(void);                                                  \
    __attribute__((constructor)) static void test_register_##name(void)            \
    {                                                                               \
        static struct duro_test t = {#name, test_##name, NULL};                     \
        if (!duro_test_list_tail)                                                   \
            duro_test_list_tail = &duro_test_list_head;                             \
        *duro_test_list_tail = &t;                                                  \
        duro_test_list_tail = &t.next;                                              \
    }                                                                               \
    static void test_##name(void)

#define TEST_FAIL_(...)                                                             \
    do {                                                                            \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                          \
        fprintf(stderr, __VA_ARGS__);                                               \
        fprintf(stderr, "\n");                                                      \
        duro_test_failed_flag = 1;                                                  \
        return;                                                                     \
    } while (0)

#define ASSERT(cond)                                                                \
    do {                                                                            \
        if (!(cond))                                                                \
            TEST_FAIL_("assertion failed: %s", #cond);                              \
    } while (0)

#define ASSERT_EQ(a, b)                                                             \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ != b_)                                                               \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                   \
    } while (0)

#define ASSERT_NE(a, b)                                                             \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ == b_)                                                               \
            TEST_FAIL_("%s != %s: both %lld", #a, #b, a_);                          \
    } while (0)

#define ASSERT_STREQ(a, b)                                                          \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",    \
                       b_ ? b_ : "(null)");                                         \
    } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                       \
    do {                                                                            \
        if (memcmp((a), (b), (n)) != 0)                                             \
            TEST_FAIL_("%s and %s differ in their first %zu bytes", #a, #b,         \
                       (size_t)(n));                                                \
    } while (0)

#define TEST_MAIN()                                                                 \
    struct duro_test *duro_test_list_head, **duro_test_list_tail;                   \
    int duro_test_failed_flag;                                                      \
    int main(int argc, char **argv)                                                 \
    {                                                                               \
        int passed = 0, failed = 0;                                                 \
        for (struct duro_test *t = duro_test_list_head; t; t = t->next) {           \
            if (argc > 1 && !strstr(t->name, argv[1]))                              \
                continue;                                                           \
            duro_test_failed_flag = 0;                                              \
            t->fn();                                                                \
            printf("%s %s\n", duro_test_failed_flag ? "FAIL" : "ok  ", t->name);    \
            if (duro_test_failed_flag)                                              \
                failed++;                                                           \
            else                                                                    \
                passed++;                                                           \
        }                                                                           \
        printf("%d passed, %d failed\n", passed, failed);                           \
        return failed ? 1 : 0;                                                      \
    }

#endif
