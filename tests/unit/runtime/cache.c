/*
 * tests/unit/runtime/cache.c — the value cache: lookups, replacement, LRU eviction by bytes.
 */
#include "runtime/cache.h"

#include <stdio.h>
#include <string.h>

#include "test.h"

static duro_crow row(const char *key, const char *val, int64_t version)
{
    return (duro_crow){key, strlen(key), val, strlen(val), 0, NULL, 0, version, 1, 2, 0};
}

TEST(put_get_replace_delete)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 1 << 20);
    ASSERT_EQ(duro_ctable_init(&t, &lru), 0);
    duro_crow r = row("k", "\"v1\"", 1);
    ASSERT(duro_cache_put(&t, &r) != NULL);
    duro_centry *e = duro_cache_get(&t, "k", 1);
    ASSERT(e != NULL);
    ASSERT_MEMEQ(duro_centry_val(e), "\"v1\"", 4);
    ASSERT_EQ(e->version, 1);
    size_t bytes = lru.bytes;
    r = row("k", "\"v2-longer\"", 2);
    duro_cache_put(&t, &r);
    e = duro_cache_get(&t, "k", 1);
    ASSERT_EQ(e->version, 2);
    ASSERT_EQ(t.count, 1);
    ASSERT_EQ(lru.bytes, bytes + 7);
    ASSERT(duro_cache_get(&t, "x", 1) == NULL);
    duro_cache_del(&t, "k", 1);
    ASSERT(duro_cache_get(&t, "k", 1) == NULL);
    ASSERT_EQ(lru.bytes, 0);
    duro_ctable_destroy(&t);
}

TEST(metadata_is_kept)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 1 << 20);
    duro_ctable_init(&t, &lru);
    duro_crow r = row("k", "1", 1);
    r.meta = "{\"a\":1}";
    r.meta_len = 7;
    duro_cache_put(&t, &r);
    duro_centry *e = duro_cache_get(&t, "k", 1);
    ASSERT_MEMEQ(duro_centry_meta(e), "{\"a\":1}", 7);
    duro_ctable_destroy(&t);
}

TEST(evicts_least_recently_used_first)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 100 * (sizeof(duro_centry) + 8));
    duro_ctable_init(&t, &lru);
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%04d", i); /* 5 bytes key + 3 bytes value */
        duro_crow r = row(key, "123", i);
        ASSERT(duro_cache_put(&t, &r) != NULL);
        if (i >= 1)
            ASSERT(duro_cache_get(&t, "k0000", 5) != NULL); /* keep k0000 hot */
    }
    ASSERT_EQ(t.count, 200);
    size_t evicted = duro_lru_evict(&lru);
    ASSERT_EQ(evicted, 100);
    ASSERT(lru.bytes <= lru.budget);
    ASSERT(duro_cache_get(&t, "k0000", 5) != NULL); /* hot one survived */
    ASSERT(duro_cache_get(&t, "k0001", 5) == NULL); /* oldest cold ones went */
    ASSERT(duro_cache_get(&t, "k0199", 5) != NULL); /* newest stayed */
    duro_ctable_destroy(&t);
    ASSERT_EQ(lru.bytes, 0);
}

TEST(too_large_entries_are_not_cached)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 800);
    duro_ctable_init(&t, &lru);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    duro_crow small = row("k", "1", 1);
    duro_cache_put(&t, &small);
    duro_crow r = row("k", big, 2);
    ASSERT(duro_cache_put(&t, &r) == NULL);
    ASSERT(duro_cache_get(&t, "k", 1) == NULL); /* the stale small one is gone too */
    duro_ctable_destroy(&t);
}

TEST(many_tables_share_one_budget)
{
    duro_lru lru;
    duro_ctable a, b;
    duro_lru_init(&lru, 10 * (sizeof(duro_centry) + 4));
    duro_ctable_init(&a, &lru);
    duro_ctable_init(&b, &lru);
    char key[8];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "a%d", i);
        duro_crow r = row(key, "12", i);
        duro_cache_put(&a, &r);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "b%d", i);
        duro_crow r = row(key, "12", i);
        duro_cache_put(&b, &r);
    }
    duro_lru_evict(&lru);
    ASSERT_EQ(a.count, 0);
    ASSERT_EQ(b.count, 10);
    duro_ctable_clear(&b);
    ASSERT_EQ(lru.bytes, 0);
    duro_ctable_destroy(&a);
    duro_ctable_destroy(&b);
}

TEST(table_grows_and_finds_everything)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 64 << 20);
    duro_ctable_init(&t, &lru);
    char key[16];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        duro_crow r = row(key, "1", i);
        r.key_len = (size_t)n;
        duro_cache_put(&t, &r);
    }
    ASSERT(t.mask + 1 >= 4096);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        duro_centry *e = duro_cache_get(&t, key, (size_t)n);
        ASSERT(e != NULL);
        ASSERT_EQ(e->version, i);
    }
    duro_ctable_destroy(&t);
}

TEST_MAIN()
