/*
 * kv_req.h — building a duro_kv_req from decoded wire input.
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
#include "runtime/kind.h"

typedef struct duro_kv_limits {
    size_t max_value_bytes;
    size_t max_snapshot_bytes; /* 0: DURO_KV_SNAPSHOT_DEFAULT */
} duro_kv_limits;

#define DURO_KV_SNAPSHOT_DEFAULT (16u << 20)

/* A new empty request for op (if_match = -1), or NULL on ENOMEM. */
duro_kv_req *duro_kv_req_new(int op);

/* A request with one item (a get or a put): a copy of key (validated) and, if
 * val_cap, room for a value of val_cap bytes at items[0].val (val_len 0; the
 * caller fills both), all in one allocation. DURO_OK with *out set, or a
 * status with err. */
int duro_kv_req_one(const char *key, size_t len, size_t val_cap, duro_kv_req **out, char *err,
                    size_t errlen);

/* Appends an item with a copy of the key after validating it (not to a
 * request of duro_kv_req_one()). */
int duro_kv_add_key(duro_kv_req *r, const char *key, size_t len, char *err, size_t errlen);

/* Every decoder below refuses a member name it does not list with
 * DURO_BAD_REQUEST and the message `unknown field "<name>"` (inside an array
 * element: `entries[3]: unknown field "<name>"`). ttlMs must be a JSON
 * integer; null for an optional field is the same as leaving it out. */

/* PUT: reads {"value", "ttlMs"?, "metadata"?} from body into r->items[0]; the
 * value is stored in encoding enc — except that a JSON value holding bytes
 * ({"$bytes": base64}, common/codec.h) is stored as msgpack. */
int duro_kv_decode_put(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                       char *err, size_t errlen);

/* BATCH_GET / BATCH_DELETE: {"keys": [...]} (at most DURO_KV_BATCH_MAX). */
int duro_kv_decode_keys(duro_kv_req *r, const json_t *body, char *err, size_t errlen);

/* BATCH_SET: {"entries": [{"key","value","ttlMs"?,"metadata"?}, ...]}. */
int duro_kv_decode_entries(duro_kv_req *r, const json_t *body, int enc,
                           const duro_kv_limits *lim, char *err, size_t errlen);

/* SNAPSHOT_PATCH: [{"op":"set","key","value","ttlMs"?,"metadata"?} |
 * {"op":"del","key"}] (at most DURO_KV_BATCH_MAX; a "del" with a value,
 * ttlMs or metadata is refused as an unknown field). */
int duro_kv_decode_patch(duro_kv_req *r, const json_t *body, int enc, const duro_kv_limits *lim,
                         char *err, size_t errlen);

/* Where the parameters of a list or registry query come from. */
typedef enum duro_params_mode {
    /* binary protocol / embedded client args: a bool is a JSON bool, an
     * integer a JSON integer; strings for either are refused */
    DURO_PARAMS_TYPED = 0,
    /* an HTTP query string turned into an object of strings: bools are
     * exactly "1", "true", "" (a bare "?values") / "0", "false"; integers
     * are decimal digits */
    DURO_PARAMS_QUERY = 1,
} duro_params_mode;

/* PUT of raw bytes (HTTP application/octet-stream): r->items[0]'s value
 * becomes the msgpack bin of p[0..n) (its size, header included, bounded by
 * lim->max_value_bytes: DURO_PAYLOAD_TOO_LARGE). */
int duro_kv_put_bytes(duro_kv_req *r, const void *p, size_t n, const duro_kv_limits *lim,
                      char *err, size_t errlen);

/* r->items[0]'s TTL from ttl (NULL or null: none), as the "ttlMs" of a body
 * (DURO_PARAMS_TYPED) or of a query string (DURO_PARAMS_QUERY). */
int duro_kv_put_ttl(duro_kv_req *r, const json_t *ttl, duro_params_mode mode, char *err,
                    size_t errlen);

/* LIST: params is an object of prefix, start, startAfter, end, cursor
 * (strings), limit and reverse, values (an integer and bools, read as mode
 * says). The bounds prefix/start/startAfter/end are any valid UTF-8 byte
 * strings (NUL allowed, no length cap: they are only compared with keys);
 * cursor is an opaque encoded key. A name outside that list is
 * DURO_BAD_REQUEST ("unknown field"); null counts as absent. */
int duro_kv_decode_list(duro_kv_req *r, const json_t *params, duro_params_mode mode, char *err,
                        size_t errlen);

/* Parameter helpers shared by the request decoders (NULL and JSON null count
 * as absent everywhere):
 * duro_param_int: v is an integer within [min, max] — a JSON integer in
 *   DURO_PARAMS_TYPED, a string of decimal digits in DURO_PARAMS_QUERY;
 *   0 with *out set, 1 if absent, -1 if malformed/out of range.
 * duro_param_flag: v is a bool — a JSON bool in DURO_PARAMS_TYPED, a string
 *   accepted by duro_query_flag in DURO_PARAMS_QUERY; 0 with *out set
 *   (untouched if absent), -1 if malformed.
 * duro_query_flag: s[0..n) is "1", "true" or "" (1) or "0", "false" (0),
 *   exactly; 0 with *out set, -1 otherwise.
 * duro_param_error: writes `"name" must be what` to err, plus the JSON type
 *   of v (", not a string") when v is not of type want (JSON_INTEGER or
 *   JSON_TRUE for any bool) in DURO_PARAMS_TYPED; returns DURO_BAD_REQUEST.
 * duro_fields_check: DURO_OK if every member name of obj is one of
 *   names[0..n); else DURO_BAD_REQUEST with `unknown field "<name>"` in err,
 *   prefixed by "where: " if where is not NULL.
 * duro_meta_encode: a metadata object as compact JSON text of at most
 *   DURO_KV_META_MAX bytes; 0 with *out (malloc'd) set, -1 otherwise. */
int duro_param_int(const json_t *v, duro_params_mode mode, long long min, long long max,
                   long long *out);
int duro_param_flag(const json_t *v, duro_params_mode mode, int *out);
int duro_query_flag(const char *s, size_t n, int *out);
int duro_param_error(char *err, size_t errlen, const char *name, const char *what,
                     const json_t *v, json_type want, duro_params_mode mode);
int duro_fields_check(const json_t *obj, const char *const *names, size_t n, const char *where,
                      char *err, size_t errlen);
int duro_meta_encode(const json_t *meta, char **out, size_t *len);

/* The op of a binary-protocol / embedded op name ("kv.get", "kv.put", ...),
 * or -1 if unknown. duro_kv_op_name() is the reverse (NULL if out of range). */
extern const char *const duro_kv_op_names[DURO_KV_OP_COUNT];
int duro_kv_op_from_name(const char *name, size_t len);
const char *duro_kv_op_name(int op);

/* Builds the whole request of op from an args object as the binary protocol
 * and the embedded client send it (see docs/protocol.md), typed
 * (DURO_PARAMS_TYPED):
 *   kv.get {key, meta?}            kv.put {key, value, ttlMs?, metadata?, ifMatch?, ifNoneMatch?}
 *   kv.delete {key, ifMatch?}      kv.batch_get / kv.batch_delete {keys}
 *   kv.batch_set {entries}         kv.list {prefix?, start?, ...}   kv.clear {}
 *   snapshot.get {}                snapshot.patch {ops, ifMatch?}
 * Any other member is DURO_BAD_REQUEST (`unknown field "<name>"`); meta and
 * ifNoneMatch are JSON bools, ifMatch a JSON integer >= 0. Values are stored
 * in encoding enc. On success *out is a new request (free with
 * duro_kv_req_free); otherwise an error status with a message in err. */
int duro_kv_request_from_args(int op, const json_t *args, int enc, const duro_kv_limits *lim,
                              duro_kv_req **out, char *err, size_t errlen);

/* The kind's decode (runtime/kind.h): duro_kv_request_from_args on the
 * call's args, with kv.get read straight from msgpack when it can be. */
int duro_kv_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

/* Parses an If-Match header value ("\"12\"", "12", W/ not allowed):
 * the version, or -1 if malformed. */
long long duro_kv_parse_etag(const char *s);

#endif
