/*
 * fuzz_msgpack.c — untrusted msgpack: duro_mp_check, duro_mp_to_json, the
 * streaming value and tape converters, and msgpack-c behind duro_mp_check.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            __builtin_trap();                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0, used32 = 0;
    int chk = duro_mp_check(data, size, DURO_MP_MAX_DEPTH, &used);
    CHECK(chk != 0 || (used > 0 && used <= size));

    /* msgpack-c only ever sees what the check accepted (its own stack is 32) */
    if (duro_mp_check(data, size, 32, &used32) == 0) {
        CHECK(chk == 0 && used32 == used);
        msgpack_unpacked u;
        size_t off = 0;
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS);
        CHECK(off == used);
        msgpack_unpacked_destroy(&u);
    }

    const char *err = NULL;
    json_t *v = duro_mp_to_json(data, size, &err);
    CHECK(v || err);
    CHECK(!v || (chk == 0 && used == size));

    duro_buf j = {0}, m = {0}, t = {0};
    int vj = duro_value_to_json(DURO_ENC_MSGPACK, data, size, &j);
    CHECK(vj != 0 ? j.len == 0 : chk == 0 && used == size);
    if (v) {
        CHECK(vj == 0);
        json_t *parsed = duro_json_parse(j.data, j.len, &err);
        CHECK(parsed && json_equal(parsed, v));
        json_decref(parsed);
        CHECK(duro_json_to_text(v, &t) == 0);
        CHECK(t.len == j.len && memcmp(t.data, j.data, j.len) == 0);
        t.len = 0;
        CHECK(duro_json_to_mp(v, &m) == 0);
        json_t *back = duro_mp_to_json(m.data, m.len, &err);
        CHECK(back && json_equal(back, v));
        json_decref(back);
        m.len = 0;
    }
    CHECK(duro_value_to_mp(DURO_ENC_MSGPACK, data, size, &m) == 0 && m.len == size);
    m.len = 0;

    /* tapes may nest deeper than values: stored values are spliced into them */
    size_t tused = 0;
    int tchk = duro_mp_check(data, size, 2 * DURO_MP_MAX_DEPTH, &tused);
    CHECK(chk != 0 || (tchk == 0 && tused == used));
    int tj = duro_tape_to_json(data, size, &t);
    CHECK(tj != 0 ? t.len == 0 : tchk == 0 && tused == size);
    if (vj == 0)
        CHECK(tj == 0 && t.len == j.len && memcmp(t.data, j.data, j.len) == 0);
    int tm = duro_tape_to_mp(data, size, &m);
    CHECK(tm != 0 ? m.len == 0 : tj == 0);
    if (tm == 0) {
        size_t mused = 0;
        CHECK(duro_mp_check(m.data, m.len, 4 * DURO_MP_MAX_DEPTH, &mused) == 0);
        CHECK(mused == m.len);
        /* the converted tape holds only JSON-model values */
        if (duro_mp_check(m.data, m.len, 2 * DURO_MP_MAX_DEPTH, &mused) == 0) {
            duro_buf t2 = {0};
            CHECK(duro_tape_to_json(m.data, m.len, &t2) == 0);
            duro_buf_free(&t2);
        }
    }
    if (vj == 0)
        CHECK(tm == 0 && m.len == size && memcmp(m.data, data, size) == 0);

    json_decref(v);
    duro_buf_free(&j);
    duro_buf_free(&m);
    duro_buf_free(&t);
    return 0;
}
