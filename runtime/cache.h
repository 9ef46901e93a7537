/*
 * cache.h — the value cache of the namespaces of one actor.
 *
 * Each open namespace has a hash table of its cached rows (duro_ctable); all
 * tables of one actor share one LRU list and one byte budget (duro_lru). A
 * cached entry is a full copy of a row: presence means "the key exists with
 * these contents", absence means "unknown, ask SQLite". Writes go through to
 * SQLite and to the cache in the same step; if a transaction rolls back, the
 * namespace's table is cleared. Only the owning actor thread touches these
 * structures, so there are no locks: the LRU records its owner (the thread
 * that initialized it, or an actor thread that took it over with
 * duro_owner_set(&lru->owner) before its first use) and every function here
 * asserts it.
 *
 * Eviction (duro_lru_evict) runs after commits, so every entry it drops is
 * clean. An entry larger than budget/8 is not cached.
 *
 * A pinned entry (duro_cache_pin) is a write the commit log holds that the
 * namespace's SQLite file does not have yet (a deferred write, ns.h): the
 * cache is the only place a read finds it, so it is never evicted. It sits
 * on its table's pinned list (through the LRU links) instead of the LRU, and
 * its bytes count in lru->pinned_bytes, not in lru->bytes. A pinned
 * tombstone (DURO_CE_TOMB) is a deferred delete: the key is absent.
 * duro_ctable_unpin() makes every pinned entry an ordinary clean one once its
 * row is in SQLite (tombstones go).
 */
#ifndef DURO_CACHE_H
#define DURO_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/owner.h"

typedef struct duro_centry duro_centry;
typedef struct duro_ctable duro_ctable;

typedef struct duro_lru {
    duro_centry *head, *tail; /* head = most recently used */
    size_t bytes;
    size_t budget;
    size_t pinned_bytes; /* of pinned entries, on no LRU (not in bytes) */
    int raised; /* this actor's namespaces whose SQLite page cache is raised for an open
                   transaction (runtime/store.c: DURO_TXN_CACHE_*) */
    duro_owner owner; /* the only thread that touches the LRU and its tables */
    /* The tables on this LRU by slot (an entry names its table by slot, 4
     * bytes instead of a pointer); free slots are stacked in free_slots. Both
     * arrays are freed when the last table is destroyed. */
    duro_ctable **tables;
    uint32_t *free_slots;
    uint32_t n_slots, cap_slots, n_free;
    /* Entry memory (cache.c, "entry memory"): slabs, the unused end of the
     * newest, and a free list per 8-byte size class; freed with the last
     * table too. */
    void *slabs;
    char *slab_at, *slab_end;
    void **free_lists; /* DURO_CACHE_CLASSES heads, allocated with the first slab */
} duro_lru;

/* 72 bytes before the data: with a 7-byte key and a 100-byte value an entry
 * takes 184 bytes of a slab (cache.c, "entry memory"; docs/limits.md). */
struct duro_centry {
    /* what a lookup reads first, together at the start */
    duro_centry *hnext;
    uint32_t hash; /* the key's duro_route_hash, low 32 bits */
    uint32_t val_len : 28, enc : 1, flags : 3; /* enc: DURO_ENC_*; flags: DURO_CE_* */
    uint16_t key_len, meta_len; /* meta_len 0 = no metadata */
    uint32_t table;             /* its table's slot in lru->tables */
    duro_centry *lprev, *lnext;
    int64_t version;
    int64_t created_at, updated_at;
    int64_t expires_at; /* 0 = never */
    char data[]; /* key, then value, then metadata */
};

/* The largest value a cache entry holds (val_len's 28 bits); a larger row is
 * not cached. */
#define DURO_CENTRY_VAL_MAX ((1u << 28) - 1)

/* REF: read since the eviction scan last passed it (see duro_lru_evict). */
enum { DURO_CE_PINNED = 1, DURO_CE_TOMB = 2, DURO_CE_REF = 4 };

struct duro_ctable {
    duro_centry **buckets;
    size_t mask;
    size_t count;
    duro_centry *pinned;      /* pinned entries, newest first, linked through lnext */
    duro_centry *pinned_tail; /* ... and the oldest */
    size_t n_pinned;
    duro_lru *lru;
    uint32_t slot; /* in lru->tables; the table's address must not change */
};

/* A row as given to duro_cache_put (all pointers are copied). */
typedef struct duro_crow {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    int enc;
    const char *meta; /* NULL = none */
    size_t meta_len;
    int64_t version, created_at, updated_at, expires_at;
} duro_crow;

static inline const char *duro_centry_key(const duro_centry *e) { return e->data; }
static inline const char *duro_centry_val(const duro_centry *e) { return e->data + e->key_len; }
static inline const char *duro_centry_meta(const duro_centry *e)
{
    return e->meta_len ? e->data + e->key_len + e->val_len : NULL;
}
static inline size_t duro_centry_size(const duro_centry *e)
{
    return sizeof *e + e->key_len + e->val_len + e->meta_len;
}

/* Initializes lru, owned by the calling thread. */
void duro_lru_init(duro_lru *lru, size_t budget);

/* Evicts entries from the cold end of the LRU until the budget holds; an
 * entry read since it was put or last passed here (DURO_CE_REF) gets a second
 * chance at the hot end instead (CLOCK: a hit only sets the bit, so a read
 * of a large cache touches no other entry). Returns how many it evicted. */
size_t duro_lru_evict(duro_lru *lru);

/* 0, or -1 on ENOMEM. t must stay at its address until duro_ctable_destroy(). */
int duro_ctable_init(duro_ctable *t, duro_lru *lru);
/* Frees every entry of t (the table stays usable). */
void duro_ctable_clear(duro_ctable *t);
/* Clears and frees the bucket array. */
void duro_ctable_destroy(duro_ctable *t);

/* Looks a key up; a hit is marked used (DURO_CE_REF). NULL if absent. */
duro_centry *duro_cache_get(duro_ctable *t, const char *key, size_t key_len);

/* Inserts or replaces the row. Returns the entry, or NULL if it was not cached
 * (too large, or ENOMEM) — any older entry of the key is dropped either way. */
duro_centry *duro_cache_put(duro_ctable *t, const duro_crow *row);

/* Inserts or replaces the row as a pinned entry (tomb: a pinned tombstone
 * for row->key; the rest of row is not used). The entry, or NULL if it
 * could not be (larger than budget/8, or ENOMEM): any older entry of the key
 * is dropped either way, so the caller must then write the row to SQLite. */
duro_centry *duro_cache_pin(duro_ctable *t, const duro_crow *row, int tomb);

/* Every pinned entry of t becomes clean (most recently used); tombstones
 * are dropped. */
void duro_ctable_unpin(duro_ctable *t);

/* The pinned entry e (of t) becomes clean, or is dropped if a tombstone. */
void duro_cache_unpin(duro_ctable *t, duro_centry *e);

/* A hint that key will be looked up soon: stage 0 starts loading its hash
 * bucket, stage 1 (once the bucket is in) the first 192 bytes of the first
 * entry of its chain. */
void duro_cache_prefetch(const duro_ctable *t, const char *key, size_t key_len, int stage);

/* Drops a key if cached. */
void duro_cache_del(duro_ctable *t, const char *key, size_t key_len);

#endif
