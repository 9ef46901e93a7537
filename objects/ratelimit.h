/*
 * ratelimit.h — the rate limiter object: requests as the runtime receives them.
 *
 * GCRA (generic cell rate algorithm), equivalent to a token bucket whose size
 * is `limit` and which refills `limit` tokens per `window_ms`: with the
 * emission interval T = window/limit, a key's state is one timestamp, the
 * theoretical arrival time (TAT). A check of cost c at time now computes
 * tat' = max(TAT, now) + c*T and is allowed iff tat' - window <= now; an
 * allowed check stores tat'. Exact under concurrency because the namespace's
 * owner runs checks one at a time.
 *
 * Replies (tape): CHECK and GET {allowed, remaining, limit, resetMs,
 * retryAfterMs} (GET: as a zero-cost check); RESET {deleted: bool}.
 * With enforce set, a denied CHECK fails with DURO_RATE_LIMITED. m->rl holds
 * the figures for headers either way.
 */
#ifndef DURO_RATELIMIT_H
#define DURO_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

enum duro_rl_op { DURO_RL_CHECK = 0, DURO_RL_GET, DURO_RL_RESET, DURO_RL_OP_COUNT };

#define DURO_RL_LIMIT_MAX 1000000000LL
#define DURO_RL_WINDOW_MAX 315360000000LL /* ten years in ms */
#define DURO_RL_KEYS_MAX 100000           /* states kept in memory per namespace */

typedef struct duro_rl_req {
    char *key;
    size_t key_len;
    int64_t limit;     /* > 0 */
    int64_t window_ms; /* > 0 */
    int64_t cost;      /* 0..limit */
    int enforce;
    int explicit_params; /* limit/window were given (else the defaults; GET then
                          * reports with the key's last used ones) */
} duro_rl_req;

void duro_rl_req_free(duro_rl_req *r);

struct duro_ns;
/* For other object kinds of the same namespace (login throttling): one check
 * of cost on key, on the owner thread. DURO_OK with *allowed, *remaining
 * (whole tokens left) and *retry_ms (when denied) set, or a storage status.
 * cost 0 only looks; a denied check stores nothing. */
int duro_rl_charge(struct duro_ns *ns, const char *key, size_t key_len, int64_t limit,
                   int64_t window_ms, int64_t cost, int64_t now_ms, int *allowed,
                   int64_t *remaining, int64_t *retry_ms);

#endif
