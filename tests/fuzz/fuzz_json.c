/*
 * fuzz_json.c — JSON request bodies: duro_json_parse, then every conversion
 * of the parsed value must round-trip (msgpack, text, stored values, tapes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            __builtin_trap();                                                       \
    } while (0)

static int same_bytes(const duro_buf *a, const duro_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    json_t *v = duro_json_parse(data, size, &err);
    if (!v) {
        CHECK(err != NULL);
        return 0;
    }
    duro_buf mp = {0}, text = {0}, b = {0}, tape = {0};

    CHECK(duro_json_to_mp(v, &mp) == 0);
    size_t used = 0;
    CHECK(duro_mp_check(mp.data, mp.len, DURO_MP_MAX_DEPTH, &used) == 0 && used == mp.len);
    json_t *back = duro_mp_to_json(mp.data, mp.len, &err);
    CHECK(back && json_equal(v, back));
    json_decref(back);

    CHECK(duro_json_to_text(v, &text) == 0);
    json_t *again = duro_json_parse(text.data, text.len, &err);
    CHECK(again && json_equal(v, again));
    json_decref(again);

    CHECK(duro_value_to_json(DURO_ENC_MSGPACK, mp.data, mp.len, &b) == 0);
    CHECK(same_bytes(&b, &text));
    b.len = 0;
    CHECK(duro_value_to_mp(DURO_ENC_JSON, text.data, text.len, &b) == 0);
    CHECK(same_bytes(&b, &mp));
    b.len = 0;
    CHECK(duro_tape_to_json(mp.data, mp.len, &b) == 0);
    CHECK(same_bytes(&b, &text));
    b.len = 0;
    CHECK(duro_tape_to_mp(mp.data, mp.len, &b) == 0);
    CHECK(same_bytes(&b, &mp));
    b.len = 0;

    /* the original text spliced into a tape: [ext JSON, value] */
    uint8_t hdr[6] = {0x92, 0xc9, (uint8_t)(size >> 24), (uint8_t)(size >> 16),
                      (uint8_t)(size >> 8), (uint8_t)size};
    duro_buf_append(&tape, hdr, sizeof hdr);
    duro_buf_append(&tape, "\x01", 1);
    duro_buf_append(&tape, data, size);
    duro_buf_append(&tape, mp.data, mp.len);
    CHECK(duro_tape_to_json(tape.data, tape.len, &b) == 0);
    CHECK(b.len == 3 + size + text.len && b.data[0] == '[' && b.data[b.len - 1] == ']');
    CHECK(memcmp(b.data + 1, data, size) == 0 && b.data[1 + size] == ',');
    b.len = 0;
    CHECK(duro_tape_to_mp(tape.data, tape.len, &b) == 0);
    CHECK(b.len == 1 + 2 * mp.len && (uint8_t)b.data[0] == 0x92);
    CHECK(memcmp(b.data + 1, mp.data, mp.len) == 0);
    CHECK(memcmp(b.data + 1 + mp.len, mp.data, mp.len) == 0);

    duro_buf_free(&mp);
    duro_buf_free(&text);
    duro_buf_free(&b);
    duro_buf_free(&tape);
    json_decref(v);
    return 0;
}
