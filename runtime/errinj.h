/*
 * errinj.h — fault injection points for tests (DURO_ERRINJ).
 *
 * A test sets a point's counter to n: the next n passes through that point
 * fail as if the storage call there had failed. Every counter is 0 in
 * production, where a pass costs one relaxed atomic load.
 */
#ifndef DURO_ERRINJ_H
#define DURO_ERRINJ_H

enum duro_errinj_point {
    DURO_ERRINJ_REGISTRY_APPLY,   /* the registry applying a notice message (its group is lost) */
    DURO_ERRINJ_REGISTRY_REBUILD, /* the repair writing a namespace's rows (its group is lost) */
    DURO_ERRINJ_COUNT
};

extern int duro_errinj[DURO_ERRINJ_COUNT];

/* 1 if this pass through point p is to fail (and counts it down), else 0. */
static inline int duro_errinj_hit(enum duro_errinj_point p)
{
    int n = __atomic_load_n(&duro_errinj[p], __ATOMIC_RELAXED);
    while (n > 0 && !__atomic_compare_exchange_n(&duro_errinj[p], &n, n - 1, 0, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED)) {
    }
    return n > 0;
}

#endif
