/*
 * stats.h — process-wide runtime counters, read by /metrics.
 * Relaxed atomics: each counter is exact, the set is not a snapshot.
 */
#ifndef DURO_STATS_H
#define DURO_STATS_H

#include <stdint.h>

#include "runtime/msg.h"

#define DURO_COMMIT_BUCKETS 10

struct duro_stats {
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t cache_evictions;
    uint64_t cache_bytes;
    uint64_t keys_expired;
    uint64_t open_namespaces;
    uint64_t ops[DURO_KIND_MAX]; /* by kind id (runtime/kind.h) */
    uint64_t commit_us_buckets[DURO_COMMIT_BUCKETS + 1]; /* by duro_commit_bounds_us; last: +Inf */
    uint64_t commit_us_sum;
    uint64_t registry_notices; /* change notice messages applied */
    uint64_t registry_folded;  /* their records skipped: a later one replaced them */
    uint64_t registry_queries;
    uint64_t registry_commits;
    uint64_t registry_failures; /* group transactions that could not be applied */
    uint64_t registry_repairs;  /* repairs after lost notices completed while running */
    uint64_t log_writes;        /* batches written to the actors' commit logs */
    uint64_t log_syncs;         /* ... and fdatasyncs of them */
    uint64_t log_bytes;
    uint64_t applies;           /* open transactions committed to namespace files */
    uint64_t log_replayed;      /* log records replayed into the files at start */
    uint64_t deferred;          /* writes kept in memory until a settle (ns.h) */
    uint64_t settles;           /* namespaces whose deferred rows went to SQLite */
    uint64_t drip_steps;        /* steps of due applies spread over loop turns (actor.c) */
};

/* Upper bounds (µs) of the commit duration histogram. */
extern const uint64_t duro_commit_bounds_us[DURO_COMMIT_BUCKETS];

/* Records one COMMIT that took `us` microseconds. */
void duro_stats_commit(uint64_t us);

extern struct duro_stats duro_stats;

#define DURO_STAT_ADD(field, n) __atomic_fetch_add(&duro_stats.field, (n), __ATOMIC_RELAXED)
#define DURO_STAT_SUB(field, n) __atomic_fetch_sub(&duro_stats.field, (n), __ATOMIC_RELAXED)
#define DURO_STAT_GET(field) __atomic_load_n(&duro_stats.field, __ATOMIC_RELAXED)

#endif
