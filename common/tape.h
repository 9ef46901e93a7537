/*
 * tape.h — writing reply tapes (see common/codec.h): the small msgpack
 * helpers every object kind uses to build m->body.
 */
#ifndef DURO_TAPE_H
#define DURO_TAPE_H

#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/codec.h"

static inline void duro_tape_packer(msgpack_packer *pk, duro_buf *b)
{
    msgpack_packer_init(pk, b, duro_buf_mp_write);
}

static inline void duro_tape_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static inline void duro_tape_lit(msgpack_packer *pk, const char *s)
{
    duro_tape_str(pk, s, strlen(s));
}

static inline void duro_tape_bool(msgpack_packer *pk, int b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

/* A stored JSON text, spliced unparsed. */
static inline void duro_tape_json(msgpack_packer *pk, const void *text, size_t n)
{
    msgpack_pack_ext(pk, n, DURO_TAPE_EXT_JSON);
    msgpack_pack_ext_body(pk, text, n);
}

/* A stored value in its encoding: msgpack is copied in as it is. */
static inline void duro_tape_value(msgpack_packer *pk, int enc, const void *v, size_t n)
{
    if (enc == DURO_ENC_MSGPACK)
        duro_buf_append(pk->data, v, n);
    else
        duro_tape_json(pk, v, n);
}

#endif
