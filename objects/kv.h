/*
 * kv.h — the key-value object: requests as the runtime receives them.
 *
 * A transport decodes a wire request (HTTP route + body, or a binary frame)
 * into a duro_kv_req — validated, limits checked, values already in their
 * stored encoding — and sends it as msg->req with msg->kind = DURO_KIND_KV and
 * msg->op = enum duro_kv_op. The object never sees wire formats.
 *
 * Replies (msg->body, a tape — see common/codec.h) by op:
 *   GET           the value; with with_meta: {value, metadata, version,
 *                 createdAt, updatedAt, expiresAt}; msg->version = the key's
 *   PUT           {version}; msg->version = the key's new version
 *   DELETE        {deleted: bool}
 *   BATCH_GET     {key: value, ...} for the live keys only
 *   BATCH_SET     {count, version}
 *   BATCH_DELETE  {deleted: n}
 *   LIST          {keys: [key | {key, value, expiresAt}], cursor: str | nil,
 *                  list_complete: bool}
 *   CLEAR         {deleted: n}
 *   SNAPSHOT_GET  {key: value, ...} of every live key (DURO_PAYLOAD_TOO_LARGE
 *                 past max_bytes); msg->version = the namespace's version
 *                 (its ETag): its write counter, or 0 while it has no live key
 *   SNAPSHOT_PATCH {version: n, created: bool}; msg->version = the new one; items
 *                 with del set are deletes; if_match is checked against the
 *                 namespace's ETag (412 with the current one)
 */
#ifndef DURO_KV_H
#define DURO_KV_H

#include <stddef.h>
#include <stdint.h>

enum duro_kv_op {
    DURO_KV_GET = 0,
    DURO_KV_PUT,
    DURO_KV_DELETE,
    DURO_KV_BATCH_GET,
    DURO_KV_BATCH_SET,
    DURO_KV_BATCH_DELETE,
    DURO_KV_LIST,
    DURO_KV_CLEAR,
    DURO_KV_SNAPSHOT_GET,   /* the whole namespace as one object */
    DURO_KV_SNAPSHOT_PATCH, /* [{op: set|del, ...}] atomically, under If-Match */
    DURO_KV_OP_COUNT
};

#define DURO_KV_BATCH_MAX 1000
#define DURO_KV_LIST_DEFAULT 1000
#define DURO_KV_LIST_MAX 10000
#define DURO_KV_META_MAX 16384
#define DURO_KV_TTL_MAX 315360000000LL /* ten years in ms */

typedef struct duro_kv_item {
    char *key;
    size_t key_len;
    char *val; /* stored encoding, see enc */
    size_t val_len;
    int enc;    /* DURO_ENC_JSON or DURO_ENC_MSGPACK */
    char *meta; /* compact JSON text of an object, or NULL */
    size_t meta_len;
    int64_t ttl_ms; /* 0 = no expiry */
    int del;        /* SNAPSHOT_PATCH: a delete */
} duro_kv_item;

/* A bound of a list range; has = 0 means unbounded. */
typedef struct duro_kv_bound {
    char *key;
    size_t len;
    int has;
} duro_kv_bound;

typedef struct duro_kv_list {
    duro_kv_bound prefix, start, start_after, end, cursor;
    int limit;
    int reverse;
    int values;
} duro_kv_list;

typedef struct duro_kv_req {
    duro_kv_item *items; /* GET/PUT/DELETE: one; batches: n; LIST/CLEAR: none */
    size_t n;
    /* A request of duro_kv_req_one(): items is &one, and one's key and value
     * live in the same allocation as the request (one malloc per request on
     * the fast paths instead of three). */
    int inline_one;
    duro_kv_item one;
    int64_t if_match;    /* required version, or -1 */
    int if_none_match;   /* 1: create only */
    int with_meta;       /* GET ?meta=1 */
    size_t max_bytes;    /* SNAPSHOT_GET: largest reply */
    duro_kv_list list;
} duro_kv_req;

/* Frees everything a request owns, and the request. NULL is a no-op. */
void duro_kv_req_free(duro_kv_req *r);

/* 1 for ops that write. */
int duro_kv_op_writes(int op);

/* Encodes / decodes a list cursor (base64url of the last key returned).
 * encode appends to out (0/-1); decode returns a malloc'd key or NULL if the
 * cursor is malformed. */
struct duro_buf;
int duro_kv_cursor_encode(const char *key, size_t len, struct duro_buf *out);
char *duro_kv_cursor_decode(const char *cursor, size_t len, size_t *key_len);

#endif
