/*
 * fuzz_kv_request.c — the whole decoding of a KV request body as the HTTP and
 * binary transports run it: bytes → (JSON or checked msgpack) → validated
 * duro_kv_req, for every body-carrying op, plus the path key and list query.
 *
 * Input layout: byte 0 selects op and encoding (bit 0), and for lists the
 * parameter mode (bit 3: typed args or query strings); the rest is the body
 * (and, split at the first NUL, a percent-encoded key / query string).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/kv.h"
#include "common/codec.h"
#include "objects/kv_req.h"
#include "common/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0];
    data++;
    size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t head = nul ? (size_t)(nul - data) : 0;
    const char *path = (const char *)data;
    const uint8_t *body = nul ? nul + 1 : data;
    size_t body_len = nul ? size - head - 1 : size;

    int enc = sel & 1 ? DURO_ENC_MSGPACK : DURO_ENC_JSON;
    int op = (sel >> 1) % 4;
    static const int ops[] = {DURO_KV_PUT, DURO_KV_BATCH_SET, DURO_KV_BATCH_GET, DURO_KV_LIST};
    duro_kv_req *r = duro_kv_req_new(ops[op]);
    char err[256];
    duro_kv_limits lim = {1 << 16, 0};

    if (nul) {
        char *key;
        size_t n;
        if (duro_pct_decode(path, head, &key, &n) == 0) {
            duro_kv_add_key(r, key, n, err, sizeof err);
            free(key);
        }
        char *q = malloc(head + 1);
        memcpy(q, path, head);
        q[head] = '\0';
        char *v;
        if (duro_query_get(q, "prefix", &v, &n) == 1)
            free(v);
        free(q);
    }
    const char *why;
    json_t *j = enc == DURO_ENC_MSGPACK ? duro_mp_to_json(body, body_len, &why)
                                        : duro_json_parse(body, body_len, &why);
    if (j) {
        switch (ops[op]) {
        case DURO_KV_PUT:
            if (r->n == 0)
                duro_kv_add_key(r, "k", 1, err, sizeof err);
            duro_kv_decode_put(r, j, enc, &lim, err, sizeof err);
            break;
        case DURO_KV_BATCH_SET:
            duro_kv_decode_entries(r, j, enc, &lim, err, sizeof err);
            break;
        case DURO_KV_BATCH_GET:
            duro_kv_decode_keys(r, j, err, sizeof err);
            break;
        default:
            if (json_is_object(j))
                duro_kv_decode_list(r, j, sel & 8 ? DURO_PARAMS_QUERY : DURO_PARAMS_TYPED, err,
                                    sizeof err);
            break;
        }
        json_decref(j);
    }
    /* whatever was accepted must be a valid request */
    for (size_t i = 0; i < r->n; i++) {
        if (duro_key_valid(r->items[i].key, r->items[i].key_len, &why) != 0)
            abort();
        if (r->items[i].val && r->items[i].val_len > lim.max_value_bytes)
            abort();
    }
    if (r->list.limit < 1 || r->list.limit > DURO_KV_LIST_MAX)
        abort();
    /* list bounds are any UTF-8 (NUL allowed); the cursor is a key */
    const duro_kv_bound *bs[] = {&r->list.prefix, &r->list.start, &r->list.start_after,
                                 &r->list.end};
    for (size_t i = 0; i < 4; i++)
        if (bs[i]->has && !duro_utf8_valid(bs[i]->key, bs[i]->len))
            abort();
    if (r->list.cursor.has && duro_key_valid(r->list.cursor.key, r->list.cursor.len, &why) != 0)
        abort();
    duro_kv_req_free(r);
    return 0;
}
