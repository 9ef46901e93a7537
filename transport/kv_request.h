/*
 * kv_request.h — building a duro_kv_req from decoded wire input.
 *
 * Shared by every transport: the caller has parsed the body (JSON, or msgpack
 * checked and converted) into a jansson tree and knows the op and, for
 * single-key ops, the key. These functions validate everything the contract
 * asks (key rules, sizes, types, limits) so the object only runs valid
 * requests. Each returns DURO_OK or an error status with a message in err.
 */
#ifndef DURO_KV_REQUEST_H
#define DURO_KV_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "duro/status.h"
#include "objects/kv.h"

typedef struct duro_kv_limits {
    size_t max_value_bytes;
    size_t max_snapshot_bytes; /* 0: DURO_KV_SNAPSHOT_DEFAULT */
} duro_kv_limits;

#define DURO_KV_SNAPSHOT_DEFAULT (16u << 20)

/* A new empty request for op (if_match = -1), or NULL on ENOMEM. */
duro_kv_req *duro_kv_req_new(int op);

/* Appends an item with a copy of the key after validating it. */
int duro_kv_add_key(duro_kv_req *r, const char *key, size_t len, char *err, size_t errlen);

/* PUT: reads {"value", "ttlMs"?, "metadata"?} from body into r->items[0]; the
 * value is stored in encoding enc. */
int duro_kv_decode_put(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                       char *err, size_t errlen);

/* BATCH_GET / BATCH_DELETE: {"keys": [...]} (at most DURO_KV_BATCH_MAX). */
int duro_kv_decode_keys(duro_kv_req *r, const json_t *body, char *err, size_t errlen);

/* BATCH_SET: {"entries": [{"key","value","ttlMs"?,"metadata"?}, ...]}. */
int duro_kv_decode_entries(duro_kv_req *r, const json_t *body, int enc,
                           const duro_kv_limits *lim, char *err, size_t errlen);

/* SNAPSHOT_PATCH: [{"op":"set","key","value","ttlMs"?,"metadata"?} |
 * {"op":"del","key"}] (at most DURO_KV_BATCH_MAX). */
int duro_kv_decode_patch(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                         char *err, size_t errlen);

/* LIST: params is an object of prefix, start, startAfter, end, cursor
 * (strings), limit (integer or decimal string), reverse and values (bool, or
 * "1"/"true"/"0"/"false"). Unknown names are ignored. */
int duro_kv_decode_list(duro_kv_req *r, const json_t *params, char *err, size_t errlen);

/* Parameter helpers shared by the request decoders:
 * duro_param_int: v is an integer or a decimal string within [min, max];
 *   0 with *out set, 1 if absent (NULL or null), -1 if malformed/out of range.
 * duro_param_flag: v is a bool, 0/1 or "1"/"true"/""/"0"/"false"; 0 with
 *   *out set (untouched if absent), -1 if malformed.
 * duro_meta_encode: a metadata object as compact JSON text of at most
 *   DURO_KV_META_MAX bytes; 0 with *out (malloc'd) set, -1 otherwise. */
int duro_param_int(const json_t *v, long long min, long long max, long long *out);
int duro_param_flag(const json_t *v, int *out);
int duro_meta_encode(const json_t *meta, char **out, size_t *len);

/* The op of a binary-protocol / embedded op name ("kv.get", "kv.put", ...),
 * or -1 if unknown. duro_kv_op_name() is the reverse (NULL if out of range). */
int duro_kv_op_from_name(const char *name, size_t len);
const char *duro_kv_op_name(int op);

/* Builds the whole request of op from an args object as the binary protocol
 * and the embedded client send it (see docs/protocol.md):
 *   kv.get {key, meta?}            kv.put {key, value, ttlMs?, metadata?, ifMatch?, ifNoneMatch?}
 *   kv.delete {key, ifMatch?}      kv.batch_get / kv.batch_delete {keys}
 *   kv.batch_set {entries}         kv.list {prefix?, start?, ...}   kv.clear {}
 * Values are stored in encoding enc. On success *out is a new request (free
 * with duro_kv_req_free); otherwise an error status with a message in err. */
int duro_kv_request_from_args(int op, const json_t *args, int enc, const duro_kv_limits *lim,
                              duro_kv_req **out, char *err, size_t errlen);

/* Parses an If-Match header value ("\"12\"", "12", W/ not allowed):
 * the version, or -1 if malformed. */
long long duro_kv_parse_etag(const char *s);

#endif
