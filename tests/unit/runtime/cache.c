/*
 * tests/unit/runtime/cache.c — the value cache: lookups, replacement, LRU eviction by bytes.
 */
#include "runtime/cache.h"

#include <stdio.h>
#include <string.h>

#include "test.h"

#define DURO_KEY_TEST 2048 /* DURO_KEY_MAX */

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

/* CLOCK: a hit only marks the entry; eviction gives a marked entry one more
 * round at the hot end, clearing the mark; prefetch hints change nothing. */
TEST(hits_mark_and_eviction_gives_a_second_chance)
{
    duro_lru lru;
    duro_ctable t;
    size_t one = sizeof(duro_centry) + 5; /* "kN" + "123" */
    duro_lru_init(&lru, 1 << 20);
    duro_ctable_init(&t, &lru);
    duro_cache_prefetch(&t, "k0", 2, 0); /* on an empty table: a no-op */
    duro_cache_prefetch(&t, "k0", 2, 1);
    const char *keys[] = {"k0", "k1", "k2", "k3"};
    for (int i = 0; i < 3; i++) {
        duro_crow r = row(keys[i], "123", i);
        duro_cache_put(&t, &r);
    }
    duro_cache_prefetch(&t, "k0", 2, 0);
    duro_cache_prefetch(&t, "k0", 2, 1);
    duro_centry *k0 = duro_cache_get(&t, "k0", 2); /* the oldest, now marked */
    ASSERT(k0 && (k0->flags & DURO_CE_REF));
    ASSERT(lru.tail == k0); /* a hit moves nothing */
    duro_crow r = row(keys[3], "123", 3);
    duro_cache_put(&t, &r);
    lru.budget = 3 * one; /* over it by one entry */
    ASSERT_EQ(duro_lru_evict(&lru), 1);
    ASSERT(duro_cache_get(&t, "k1", 2) == NULL); /* the oldest unmarked one went */
    k0 = duro_cache_get(&t, "k0", 2);
    ASSERT(k0 != NULL);
    ASSERT(lru.head == k0); /* its second chance put it at the hot end */
    ASSERT(k0->flags & DURO_CE_REF); /* marked again by this get */
    duro_ctable_destroy(&t);
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

/* Entries name their table by a slot of the LRU: tables that come and go
 * (namespaces opening and closing) reuse slots, eviction finds the right
 * table through them, and the last table's destroy frees the slot arrays. */
TEST(tables_come_and_go_on_one_lru)
{
    duro_lru lru;
    duro_ctable t[40];
    size_t one = sizeof(duro_centry) + 4; /* "kNN" + "1" */
    duro_lru_init(&lru, 40 * one);
    for (int i = 0; i < 40; i++) {
        ASSERT_EQ(duro_ctable_init(&t[i], &lru), 0);
        char key[8];
        snprintf(key, sizeof key, "k%02d", i);
        duro_crow r = row(key, "1", i);
        ASSERT(duro_cache_put(&t[i], &r) != NULL);
    }
    ASSERT(lru.n_slots == 40 && lru.cap_slots >= 40);
    for (int i = 0; i < 40; i += 2) /* every other one closes */
        duro_ctable_destroy(&t[i]);
    ASSERT_EQ(lru.n_free, 20);
    ASSERT_EQ(lru.bytes, 20 * one);
    for (int i = 0; i < 40; i += 2) { /* and opens again, in a freed slot */
        ASSERT_EQ(duro_ctable_init(&t[i], &lru), 0);
        ASSERT(t[i].slot < 40);
        ASSERT(lru.tables[t[i].slot] == &t[i]);
        char key[8];
        snprintf(key, sizeof key, "n%02d", i);
        duro_crow r = row(key, "1", 100 + i);
        ASSERT(duro_cache_put(&t[i], &r) != NULL);
    }
    ASSERT_EQ(lru.n_slots, 40); /* no new slot was needed */
    ASSERT_EQ(lru.n_free, 0);
    lru.budget = 10 * one; /* the 30 least recently used go, each from its own table */
    ASSERT_EQ(duro_lru_evict(&lru), 30);
    size_t left = 0;
    for (int i = 0; i < 40; i++)
        left += t[i].count;
    ASSERT_EQ(left, 10);
    for (int i = 20; i < 40; i += 2) /* the ten put last: n20..n38 of reopened tables */
        ASSERT(duro_cache_get(&t[i], (char[]){'n', (char)('0' + i / 10), (char)('0' + i % 10)},
                              3) != NULL);
    for (int i = 0; i < 40; i++)
        duro_ctable_destroy(&t[i]);
    ASSERT(lru.tables == NULL && lru.free_slots == NULL);
    ASSERT_EQ(lru.n_slots, 0);
    ASSERT_EQ(lru.bytes, 0);
}

/* The header's fields keep what they are given, up to their widths; a value
 * wider than 28 bits of length is not cached. */
TEST(entry_fields_round_trip)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, (size_t)1 << 40); /* budget/8 is no bound here */
    duro_ctable_init(&t, &lru);
    char key[DURO_KEY_TEST];
    memset(key, 'k', sizeof key);
    char meta[300];
    memset(meta, 'm', sizeof meta);
    duro_crow r = {key, sizeof key, "\x81\xa1" "a\x01", 4, 1, meta, sizeof meta,
                   INT64_MAX, INT64_MIN + 1, -5, INT64_MAX - 1};
    duro_centry *e = duro_cache_pin(&t, &r, 0);
    ASSERT(e != NULL);
    ASSERT_EQ(e->key_len, sizeof key);
    ASSERT_EQ(e->val_len, 4);
    ASSERT_EQ(e->meta_len, sizeof meta);
    ASSERT_EQ(e->enc, 1);
    ASSERT_EQ(e->flags, DURO_CE_PINNED);
    ASSERT(e->version == INT64_MAX && e->created_at == INT64_MIN + 1 && e->updated_at == -5 &&
           e->expires_at == INT64_MAX - 1);
    ASSERT_MEMEQ(duro_centry_meta(e), meta, sizeof meta);
    r.val_len = (size_t)DURO_CENTRY_VAL_MAX + 1; /* only the length is looked at first */
    ASSERT(duro_cache_put(&t, &r) == NULL);
    ASSERT(duro_cache_get(&t, key, sizeof key) == NULL); /* the older entry went too */
    duro_ctable_destroy(&t);
}

/* Deferred writes: pinned entries and tombstones are never evicted, count
 * apart from the LRU's bytes, replace and are replaced by ordinary entries,
 * and unpin into clean ones (tombstones go). */
TEST(pinned_entries_stay_until_unpinned)
{
    duro_lru lru;
    duro_ctable t;
    size_t one = sizeof(duro_centry) + 8;
    duro_lru_init(&lru, 10 * one);
    duro_ctable_init(&t, &lru);
    char key[16];
    for (int i = 0; i < 30; i++) { /* three times the budget */
        snprintf(key, sizeof key, "p%04d", i);
        duro_crow r = row(key, "123", i);
        ASSERT(duro_cache_pin(&t, &r, 0) != NULL);
    }
    duro_crow gone = row("t0000", "", 0);
    duro_centry *tomb = duro_cache_pin(&t, &gone, 1);
    ASSERT(tomb != NULL);
    ASSERT(tomb->flags & DURO_CE_TOMB);
    ASSERT_EQ(tomb->val_len, 0);
    ASSERT_EQ(t.n_pinned, 31);
    ASSERT_EQ(lru.bytes, 0);
    ASSERT_EQ(lru.pinned_bytes, 30 * one + sizeof(duro_centry) + 5);
    for (int i = 0; i < 5; i++) { /* clean ones beside them */
        snprintf(key, sizeof key, "c%04d", i);
        duro_crow r = row(key, "123", 100 + i);
        duro_cache_put(&t, &r);
    }
    ASSERT_EQ(duro_lru_evict(&lru), 0); /* the clean ones fit; pinned bytes do not count */
    duro_centry *e = duro_cache_get(&t, "p0007", 5);
    ASSERT(e && (e->flags & DURO_CE_PINNED));
    ASSERT(lru.head != e); /* a hit on a pinned entry leaves the LRU alone */
    /* a clean write over a pinned key replaces it (and the other way round) */
    duro_crow over = row("p0001", "456", 50);
    ASSERT(duro_cache_put(&t, &over) != NULL);
    ASSERT_EQ(t.n_pinned, 30);
    duro_crow repin = row("c0000", "789", 51);
    ASSERT(duro_cache_pin(&t, &repin, 0) != NULL);
    ASSERT_EQ(t.n_pinned, 31);
    duro_cache_del(&t, "p0002", 5);
    ASSERT_EQ(t.n_pinned, 30);
    size_t pinned = 0;
    for (duro_centry *p = t.pinned; p; p = p->lnext)
        pinned++;
    ASSERT_EQ(pinned, 30);
    duro_ctable_unpin(&t);
    ASSERT_EQ(t.n_pinned, 0);
    ASSERT(t.pinned == NULL);
    ASSERT_EQ(lru.pinned_bytes, 0);
    ASSERT(duro_cache_get(&t, "t0000", 5) == NULL); /* the tombstone went */
    e = duro_cache_get(&t, "c0000", 5);
    ASSERT(e && !(e->flags & (DURO_CE_PINNED | DURO_CE_TOMB)) && e->version == 51);
    ASSERT(duro_lru_evict(&lru) > 0); /* clean now: the budget holds again */
    ASSERT(lru.bytes <= lru.budget);
    duro_ctable_destroy(&t);
    ASSERT_EQ(lru.bytes, 0);
}

/* Entry memory: small entries come from slabs and are reused by size class,
 * large ones from malloc; every slab is gone with the last table. */
TEST(entry_memory_is_reused_and_given_back)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 64 << 20);
    duro_ctable_init(&t, &lru);
    static char big[8000];
    memset(big, 'b', sizeof big - 1);
    void *first = NULL;
    char key[16], val[300];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3000; i++) { /* sizes across many classes, some past the slabs */
            snprintf(key, sizeof key, "k%d", i);
            size_t n = (size_t)(i % 290) + 1;
            memset(val, 'a' + round, n);
            val[n] = '\0';
            duro_crow r = row(key, i % 500 == 0 ? big : val, round);
            ASSERT(duro_cache_put(&t, &r) != NULL);
        }
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "k%d", i);
            duro_centry *e = duro_cache_get(&t, key, strlen(key));
            ASSERT(e && e->version == round);
            ASSERT_EQ(duro_centry_val(e)[0], i % 500 == 0 ? 'b' : 'a' + round);
            ASSERT_EQ(e->val_len, i % 500 == 0 ? sizeof big - 1 : (size_t)(i % 290) + 1);
        }
        if (round == 0)
            first = lru.slabs;
        ASSERT(first != NULL);
        ASSERT(lru.slabs == first); /* rewriting the same sizes takes freed entries, no new slab */
    }
    duro_ctable_destroy(&t);
    ASSERT(lru.slabs == NULL && lru.free_lists == NULL);
    ASSERT_EQ(lru.bytes, 0);
}

/* The pinned list keeps its oldest at pinned_tail (a drip settles from
 * there), and one entry at a time can become clean (a tombstone goes). */
TEST(pinned_entries_unpin_one_at_a_time_oldest_first)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 1 << 20);
    duro_ctable_init(&t, &lru);
    char key[8];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "p%d", i);
        duro_crow r = row(key, "1", i);
        ASSERT(duro_cache_pin(&t, &r, i == 3) != NULL); /* p3: a tombstone */
    }
    duro_crow again = row("p0", "2", 9); /* written again: now the newest */
    ASSERT(duro_cache_pin(&t, &again, 0) != NULL);
    const char *want[] = {"p1", "p2", "p3", "p4", "p0"};
    for (int i = 0; i < 5; i++) {
        duro_centry *e = t.pinned_tail;
        ASSERT(e != NULL);
        ASSERT_MEMEQ(duro_centry_key(e), want[i], 2);
        int tomb = (e->flags & DURO_CE_TOMB) != 0;
        size_t before = lru.bytes;
        duro_cache_unpin(&t, e);
        ASSERT_EQ(t.n_pinned, (size_t)(4 - i));
        if (tomb) {
            ASSERT(duro_cache_get(&t, "p3", 2) == NULL);
            ASSERT_EQ(lru.bytes, before);
        } else {
            duro_centry *c = duro_cache_get(&t, want[i], 2);
            ASSERT(c && !(c->flags & (DURO_CE_PINNED | DURO_CE_TOMB)));
            ASSERT(lru.bytes > before);
        }
    }
    ASSERT(t.pinned == NULL && t.pinned_tail == NULL);
    ASSERT_EQ(lru.pinned_bytes, 0);
    ASSERT_EQ(duro_cache_get(&t, "p0", 2)->version, 9);
    duro_ctable_destroy(&t);
}

/* A pinned entry larger than budget/8 is refused like any other (the
 * caller writes it to SQLite), dropping the key's older entry. */
TEST(too_large_pinned_entries_are_refused)
{
    duro_lru lru;
    duro_ctable t;
    duro_lru_init(&lru, 800);
    duro_ctable_init(&t, &lru);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    duro_crow small = row("k", "1", 1);
    ASSERT(duro_cache_pin(&t, &small, 0) != NULL);
    duro_crow r = row("k", big, 2);
    ASSERT(duro_cache_pin(&t, &r, 0) == NULL);
    ASSERT(duro_cache_get(&t, "k", 1) == NULL);
    ASSERT_EQ(t.n_pinned, 0);
    ASSERT_EQ(lru.pinned_bytes, 0);
    duro_ctable_destroy(&t);
}

TEST_MAIN()
