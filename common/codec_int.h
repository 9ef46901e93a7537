/*
 * codec_int.h — what the codec's files (json_text.c, mp_read.c, mp_json.c,
 * tape.c) share; private to common/.
 */
#ifndef DURO_CODEC_INT_H
#define DURO_CODEC_INT_H

#include <stdint.h>

#include "common/codec.h"

#define STACK_MAX 256
#define TAPE_MAX_DEPTH (2 * DURO_MP_MAX_DEPTH)
#define TEXT_MAX_DEPTH (2 * DURO_JSON_MAX_DEPTH)

static inline int put1(duro_buf *b, char c)
{
    if (b->len == b->cap && duro_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

/* JSON text of an integer / a finite double ("%.17g", integral reals with
 * ".0"); 0 / -1. */
int duro__put_i64(duro_buf *b, int64_t v);
int duro__put_double(duro_buf *b, double d);

/* The codec's static error messages. */
extern const char duro__e_malformed[]; /* "malformed msgpack" */
extern const char duro__e_nomem[];     /* "out of memory" */

/* A JSON text as msgpack (parsed with duro_json_parse). 0 / -1. */
int duro__ext_json_to_mp(const uint8_t *s, size_t n, duro_buf *out);

/* The walker (mp_read.c) and its sinks. */
enum { S_NONE, S_JSON, S_MP, S_TREE };
#define F_JSONABLE 1 /* only the JSON data model (codec.h) */
#define F_TAPE 2     /* ext DURO_TAPE_EXT_JSON allowed: raw JSON text */

typedef struct walker {
    int flags;
    int sink;
    int max_depth;
    const char *err;
    duro_buf *out;            /* S_JSON, S_MP */
    const uint8_t *copy_from; /* S_MP: start of the bytes not yet copied */
    json_t *root;             /* S_TREE */
    json_t *tree[STACK_MAX];
    const uint8_t *key;
    size_t key_len;
} walker;

/* Runs the walker with a buffer sink over exactly one object filling
 * buf[0..len); rolls out back on failure. 0 / -1. */
int duro__walk_exact(walker *w, const void *buf, size_t len);

#endif
