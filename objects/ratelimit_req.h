/*
 * ratelimit_req.h — building rate-limiter requests (objects/ratelimit.h) from
 * wire input, shared by HTTP and the binary protocol.
 */
#ifndef DURO_RL_REQUEST_H
#define DURO_RL_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "duro/status.h"
#include "objects/ratelimit.h"
#include "runtime/kind.h"

typedef struct duro_rl_defaults {
    int64_t limit;
    int64_t window_ms;
} duro_rl_defaults;

/* Parses "LIMIT/WINDOW" with WINDOW a positive integer and a unit ms, s, m or
 * h ("30/60s", "100/1m"). 0, or -1 if malformed. */
int duro_rl_parse_default(const char *s, duro_rl_defaults *d);

/* "ratelimit.check" | "ratelimit.get" | "ratelimit.reset" -> enum duro_rl_op,
 * or -1. */
extern const char *const duro_rl_op_names[DURO_RL_OP_COUNT];
int duro_rl_op_from_name(const char *name, size_t len);

/* Builds a request for op from args (NULL, or an object). key[0..key_len)
 * is the key taken from an HTTP path; if key is NULL it is args' "key" (a
 * string, required) — the binary protocol's and embedded client's way. args
 * may hold, per op (and "key" only when key is NULL):
 *   CHECK  {key, limit, windowMs, cost, enforce}
 *   GET    {key, limit, windowMs}
 *   RESET  {key}
 * limit, windowMs and cost are JSON integers, enforce a JSON bool; missing
 * or null ones take the defaults (cost 1). Any other member is
 * DURO_BAD_REQUEST (`unknown field "<name>"`). DURO_OK with *out set, or an
 * error status with a message in err. */
int duro_rl_request(int op, const char *key, size_t key_len, const json_t *args,
                    const duro_rl_defaults *d, duro_rl_req **out, char *err, size_t errlen);

/* The parameters of a check, already typed (e.g. read straight from msgpack). */
typedef struct duro_rl_fields {
    int has_limit, has_window, has_cost, has_enforce;
    int64_t limit, window_ms, cost;
    int enforce;
} duro_rl_fields;

/* As duro_rl_request, from typed fields (ranges still checked; a GET with
 * cost or enforce, or a RESET with any field, is `unknown field`). */
int duro_rl_request_fields(int op, const char *key, size_t key_len, const duro_rl_fields *f,
                           const duro_rl_defaults *d, duro_rl_req **out, char *err,
                           size_t errlen);

/* The kind's decode (runtime/kind.h): duro_rl_request on the call's args
 * ("key" required), checks read straight from msgpack when they can be. */
int duro_rl_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

#endif
