/*
 * tape.c — stored values between encodings and the reply tape into the
 * client's encoding (see codec.h).
 */
#include "common/codec_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---- stored values and tapes ---------------------------------------------- */

int duro__ext_json_to_mp(const uint8_t *s, size_t n, duro_buf *out)
{
    json_t *v = duro_json_parse(s, n, NULL);
    if (!v)
        return -1;
    int rc = duro_json_to_mp(v, out);
    json_decref(v);
    return rc;
}

int duro_value_to_json(int enc, const void *v, size_t n, duro_buf *out)
{
    if (enc == DURO_ENC_JSON)
        return v || n == 0 ? duro_buf_append(out, v, n) : -1;
    if (enc != DURO_ENC_MSGPACK)
        return -1;
    walker w = {.flags = F_JSONABLE, .sink = S_JSON, .max_depth = DURO_MP_MAX_DEPTH, .out = out};
    return duro__walk_exact(&w, v, n);
}

int duro_value_to_mp(int enc, const void *v, size_t n, duro_buf *out)
{
    if (enc == DURO_ENC_MSGPACK)
        return v || n == 0 ? duro_buf_append(out, v, n) : -1;
    if (enc != DURO_ENC_JSON || !v)
        return -1;
    return duro__ext_json_to_mp(v, n, out);
}

int duro_tape_to_json(const void *tape, size_t len, duro_buf *out)
{
    walker w = {.flags = F_JSONABLE | F_TAPE, .sink = S_JSON, .max_depth = TAPE_MAX_DEPTH,
                .out = out};
    return duro__walk_exact(&w, tape, len);
}

int duro_tape_to_mp(const void *tape, size_t len, duro_buf *out)
{
    walker w = {.flags = F_JSONABLE | F_TAPE, .sink = S_MP, .max_depth = TAPE_MAX_DEPTH,
                .out = out};
    return duro__walk_exact(&w, tape, len);
}

char *duro_tape_str_field(const void *tape, size_t len, const char *name)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *out = NULL;
    size_t nl = strlen(name);
    if (msgpack_unpack_next(&u, tape, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < u.data.via.map.size && !out; i++) {
            const msgpack_object *k = &u.data.via.map.ptr[i].key;
            const msgpack_object *v = &u.data.via.map.ptr[i].val;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == nl &&
                memcmp(k->via.str.ptr, name, nl) == 0 && v->type == MSGPACK_OBJECT_STR)
                out = strndup(v->via.str.ptr, v->via.str.size);
        }
    msgpack_unpacked_destroy(&u);
    return out;
}
