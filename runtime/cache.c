/* cache.c — per-namespace hash tables over one per-actor LRU (see cache.h). */
#include "runtime/cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/route.h"
#include "runtime/stats.h"

_Static_assert(sizeof(void *) != 8 || sizeof(duro_centry) == 72,
               "a cache entry's header is 72 bytes on 64-bit targets (cache.h)");

void duro_lru_init(duro_lru *lru, size_t budget)
{
    lru->head = lru->tail = NULL;
    lru->bytes = 0;
    lru->pinned_bytes = 0;
    lru->raised = 0;
    lru->budget = budget;
    lru->tables = NULL;
    lru->free_slots = NULL;
    lru->n_slots = lru->cap_slots = lru->n_free = 0;
    lru->slabs = NULL;
    lru->slab_at = lru->slab_end = NULL;
    lru->free_lists = NULL;
    duro_owner_set(&lru->owner);
}

/* ---- entry memory ----
 *
 * Entries up to SLAB_ENTRY_MAX bytes are carved from SLAB_BYTES slabs in
 * 8-byte size classes: no malloc chunk header and rounding to 16, and none of
 * the holes the actor's other allocations leave between entries in malloc's
 * heap (a namespace's raised SQLite page cache, freed after each apply, left
 * ~17 bytes per key of free fragments at 1M keys). A freed entry goes on its
 * class's free list for the next entry of that size; the slabs go back to
 * malloc when the LRU's last table is destroyed (every entry is freed by
 * then). Larger entries come from malloc. Under ASan free-listed memory is
 * poisoned. */
#define SLAB_BYTES (256u << 10)
#define SLAB_ENTRY_MAX 4096u
#define DURO_CACHE_CLASSES (SLAB_ENTRY_MAX / 8)

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DURO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DURO_ASAN 1
#endif
#ifdef DURO_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static size_t class_bytes(size_t sz) { return (sz + 7) & ~(size_t)7; }

static void *entry_alloc(duro_lru *lru, size_t sz)
{
    if (sz > SLAB_ENTRY_MAX)
        return malloc(sz);
    size_t n = class_bytes(sz), cls = n / 8 - 1;
    if (lru->free_lists && lru->free_lists[cls]) {
        void *p = lru->free_lists[cls];
        UNPOISON(p, n);
        lru->free_lists[cls] = *(void **)p;
        return p;
    }
    if ((size_t)(lru->slab_end - lru->slab_at) < n) {
        if (!lru->free_lists && !(lru->free_lists = calloc(DURO_CACHE_CLASSES, sizeof(void *))))
            return NULL;
        char *slab = malloc(SLAB_BYTES);
        if (!slab)
            return NULL;
        *(void **)slab = lru->slabs; /* the slab's first 8 bytes link the slabs */
        lru->slabs = slab;
        lru->slab_at = slab + 8;
        lru->slab_end = slab + SLAB_BYTES;
        POISON(lru->slab_at, SLAB_BYTES - 8);
    }
    void *p = lru->slab_at;
    lru->slab_at += n;
    UNPOISON(p, n);
    return p;
}

static void entry_release(duro_lru *lru, void *p, size_t sz)
{
    if (sz > SLAB_ENTRY_MAX) {
        free(p);
        return;
    }
    size_t n = class_bytes(sz), cls = n / 8 - 1;
    *(void **)p = lru->free_lists[cls];
    lru->free_lists[cls] = p;
    POISON((char *)p + sizeof(void *), n - sizeof(void *));
}

/* Every entry is freed: the slabs go back to malloc. */
static void slabs_free(duro_lru *lru)
{
    while (lru->slabs) {
        void *next = *(void **)lru->slabs;
        UNPOISON(lru->slabs, SLAB_BYTES);
        free(lru->slabs);
        lru->slabs = next;
    }
    free(lru->free_lists);
    lru->free_lists = NULL;
    lru->slab_at = lru->slab_end = NULL;
}

/* A slot of lru->tables for t. 0, or -1 on ENOMEM. */
static int slot_take(duro_lru *lru, duro_ctable *t)
{
    if (lru->n_free) {
        t->slot = lru->free_slots[--lru->n_free];
    } else {
        if (lru->n_slots == UINT32_MAX)
            return -1;
        if (lru->n_slots == lru->cap_slots) {
            uint32_t cap = lru->cap_slots ? lru->cap_slots * 2 : 16;
            duro_ctable **tables = realloc(lru->tables, cap * sizeof *tables);
            if (!tables)
                return -1;
            lru->tables = tables;
            uint32_t *free_slots = realloc(lru->free_slots, cap * sizeof *free_slots);
            if (!free_slots)
                return -1;
            lru->free_slots = free_slots;
            lru->cap_slots = cap;
        }
        t->slot = lru->n_slots++;
    }
    lru->tables[t->slot] = t;
    return 0;
}

/* Gives t's slot back; the last table's frees both arrays. */
static void slot_give(duro_lru *lru, duro_ctable *t)
{
    lru->tables[t->slot] = NULL;
    lru->free_slots[lru->n_free++] = t->slot;
    if (lru->n_free == lru->n_slots) {
        free(lru->tables);
        free(lru->free_slots);
        lru->tables = NULL;
        lru->free_slots = NULL;
        lru->n_slots = lru->cap_slots = lru->n_free = 0;
        slabs_free(lru);
    }
}

/* The LRU and a table's pinned list: doubly linked through lprev / lnext,
 * head first. */
static void list_unlink(duro_centry **head, duro_centry **tail, duro_centry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        *head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        *tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void list_push_head(duro_centry **head, duro_centry **tail, duro_centry *e)
{
    e->lprev = NULL;
    e->lnext = *head;
    if (*head)
        (*head)->lprev = e;
    else
        *tail = e;
    *head = e;
}

static void lru_unlink(duro_lru *lru, duro_centry *e) { list_unlink(&lru->head, &lru->tail, e); }

static void lru_push_head(duro_lru *lru, duro_centry *e)
{
    list_push_head(&lru->head, &lru->tail, e);
}

/* Takes the pinned entry e off t's pinned list. */
static void pinned_unlink(duro_ctable *t, duro_centry *e)
{
    list_unlink(&t->pinned, &t->pinned_tail, e);
    t->n_pinned--;
}

/* Removes e from its bucket chain, the LRU and the byte count, and frees it. */
static void entry_free(duro_ctable *t, duro_centry *e)
{
    duro_centry **pp = &t->buckets[e->hash & t->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    t->count--;
    size_t sz = duro_centry_size(e);
    if (e->flags & DURO_CE_PINNED) {
        pinned_unlink(t, e);
        t->lru->pinned_bytes -= sz;
    } else {
        lru_unlink(t->lru, e);
        t->lru->bytes -= sz;
    }
    DURO_STAT_SUB(cache_bytes, sz);
    entry_release(t->lru, e, sz);
}

size_t duro_lru_evict(duro_lru *lru)
{
    DURO_ASSERT_OWNER(lru->owner);
    size_t n = 0;
    while (lru->bytes > lru->budget && lru->tail) {
        duro_centry *e = lru->tail;
        if (e->flags & DURO_CE_REF) { /* read since: a second chance */
            e->flags &= ~DURO_CE_REF;
            lru_unlink(lru, e);
            lru_push_head(lru, e);
            continue;
        }
        entry_free(lru->tables[e->table], e);
        n++;
    }
    if (n)
        DURO_STAT_ADD(cache_evictions, n);
    return n;
}

int duro_ctable_init(duro_ctable *t, duro_lru *lru)
{
    DURO_ASSERT_OWNER(lru->owner);
    t->mask = 63;
    t->count = 0;
    t->pinned = t->pinned_tail = NULL;
    t->n_pinned = 0;
    t->lru = lru;
    t->buckets = calloc(t->mask + 1, sizeof *t->buckets);
    if (!t->buckets)
        return -1;
    if (slot_take(lru, t) != 0) {
        free(t->buckets);
        t->buckets = NULL;
        return -1;
    }
    return 0;
}

void duro_ctable_clear(duro_ctable *t)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    for (size_t i = 0; i <= t->mask; i++)
        while (t->buckets[i])
            entry_free(t, t->buckets[i]);
}

void duro_ctable_destroy(duro_ctable *t)
{
    if (!t->buckets)
        return;
    duro_ctable_clear(t);
    free(t->buckets);
    t->buckets = NULL;
    slot_give(t->lru, t);
}

static duro_centry *find(duro_ctable *t, uint32_t h, const char *key, size_t key_len)
{
    for (duro_centry *e = t->buckets[h & t->mask]; e; e = e->hnext)
        if (e->hash == h && e->key_len == key_len && memcmp(e->data, key, key_len) == 0)
            return e;
    return NULL;
}

duro_centry *duro_cache_get(duro_ctable *t, const char *key, size_t key_len)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    duro_centry *e = find(t, (uint32_t)duro_route_hash(key, key_len), key, key_len);
    if (e && !(e->flags & (DURO_CE_PINNED | DURO_CE_REF)))
        e->flags |= DURO_CE_REF;
    return e;
}

static void grow(duro_ctable *t)
{
    size_t nmask = t->mask * 2 + 1;
    duro_centry **nb = calloc(nmask + 1, sizeof *nb);
    if (!nb)
        return; /* keep the longer chains */
    for (size_t i = 0; i <= t->mask; i++) {
        duro_centry *e = t->buckets[i];
        while (e) {
            duro_centry *next = e->hnext;
            e->hnext = nb[e->hash & nmask];
            nb[e->hash & nmask] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->mask = nmask;
}

/* A new entry of row r (not linked anywhere), or NULL. */
static duro_centry *entry_new(duro_ctable *t, uint32_t h, const duro_crow *r, int tomb)
{
    size_t val_len = tomb ? 0 : r->val_len;
    size_t meta_len = !tomb && r->meta ? r->meta_len : 0;
    size_t sz = sizeof(duro_centry) + r->key_len + val_len + meta_len;
    if (sz > t->lru->budget / 8 || val_len > DURO_CENTRY_VAL_MAX || r->key_len > UINT16_MAX ||
        meta_len > UINT16_MAX)
        return NULL;
    duro_centry *e = entry_alloc(t->lru, sz);
    if (!e)
        return NULL;
    e->table = t->slot;
    e->hash = h;
    e->version = tomb ? 0 : r->version;
    e->created_at = tomb ? 0 : r->created_at;
    e->updated_at = tomb ? 0 : r->updated_at;
    e->expires_at = tomb ? 0 : r->expires_at;
    e->key_len = (uint16_t)r->key_len;
    e->val_len = (uint32_t)val_len & DURO_CENTRY_VAL_MAX;
    e->meta_len = (uint16_t)meta_len;
    e->enc = tomb ? 0u : (unsigned)r->enc & 1u;
    e->flags = 0;
    memcpy(e->data, r->key, r->key_len);
    if (val_len)
        memcpy(e->data + r->key_len, r->val, val_len);
    if (meta_len)
        memcpy(e->data + r->key_len + val_len, r->meta, meta_len);
    if (t->count >= t->mask + 1)
        grow(t);
    e->hnext = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = e;
    t->count++;
    DURO_STAT_ADD(cache_bytes, sz);
    return e;
}

duro_centry *duro_cache_put(duro_ctable *t, const duro_crow *r)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    uint32_t h = (uint32_t)duro_route_hash(r->key, r->key_len);
    duro_centry *old = find(t, h, r->key, r->key_len);
    if (old)
        entry_free(t, old);
    duro_centry *e = entry_new(t, h, r, 0);
    if (!e)
        return NULL;
    lru_push_head(t->lru, e);
    t->lru->bytes += duro_centry_size(e);
    return e;
}

duro_centry *duro_cache_pin(duro_ctable *t, const duro_crow *r, int tomb)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    uint32_t h = (uint32_t)duro_route_hash(r->key, r->key_len);
    duro_centry *old = find(t, h, r->key, r->key_len);
    if (old)
        entry_free(t, old);
    duro_centry *e = entry_new(t, h, r, tomb);
    if (!e)
        return NULL;
    e->flags = DURO_CE_PINNED | (tomb ? DURO_CE_TOMB : 0);
    list_push_head(&t->pinned, &t->pinned_tail, e);
    t->n_pinned++;
    t->lru->pinned_bytes += duro_centry_size(e);
    return e;
}

void duro_cache_unpin(duro_ctable *t, duro_centry *e)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    assert(e->flags & DURO_CE_PINNED);
    if (e->flags & DURO_CE_TOMB) {
        entry_free(t, e);
        return;
    }
    pinned_unlink(t, e);
    size_t sz = duro_centry_size(e);
    t->lru->pinned_bytes -= sz;
    t->lru->bytes += sz;
    e->flags = 0;
    lru_push_head(t->lru, e);
}

void duro_ctable_unpin(duro_ctable *t)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    while (t->pinned)
        duro_cache_unpin(t, t->pinned);
    assert(t->n_pinned == 0 && !t->pinned_tail);
}

void duro_cache_prefetch(const duro_ctable *t, const char *key, size_t key_len, int stage)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    duro_centry *const *b = &t->buckets[(uint32_t)duro_route_hash(key, key_len) & t->mask];
    if (stage == 0) {
        __builtin_prefetch(b);
    } else if (*b) { /* the header, the key and the start of the value */
        const char *e = (const char *)*b;
        __builtin_prefetch(e);
        __builtin_prefetch(e + 64);
        __builtin_prefetch(e + 128);
    }
}

void duro_cache_del(duro_ctable *t, const char *key, size_t key_len)
{
    DURO_ASSERT_OWNER(t->lru->owner);
    duro_centry *e = find(t, (uint32_t)duro_route_hash(key, key_len), key, key_len);
    if (e)
        entry_free(t, e);
}
