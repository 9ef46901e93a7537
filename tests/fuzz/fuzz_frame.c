/*
 * fuzz_frame.c — the binary protocol's frame decoding as rpc.c runs it:
 * envelope (duro_frame_parse, which runs the heap-free check first), then args
 * through msgpack → JSON and the request validation of every op.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/kv.h"
#include "common/codec.h"
#include "common/frame.h"
#include "objects/kv_req.h"
#include "common/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    duro_frame f;
    if (duro_frame_parse(data, size, &f) != 0)
        return 0;
    if (f.args < data || f.args + f.args_len != data + size || f.op + f.op_len > (const char *)f.args)
        abort();
    const char *why;
    (void)duro_ns_valid(f.ns, f.ns_len, &why);
    json_t *args = duro_mp_to_json(f.args, f.args_len, &why);
    if (!args)
        return 0;
    int op = duro_kv_op_from_name(f.op, f.op_len);
    duro_kv_limits lim = {1 << 16, 0};
    char err[256];
    for (int o = 0; o < DURO_KV_OP_COUNT; o++) {
        if (op >= 0 && o != op)
            continue;
        duro_kv_req *r;
        if (duro_kv_request_from_args(o, args, DURO_ENC_MSGPACK, &lim, &r, err, sizeof err) ==
            DURO_OK) {
            for (size_t i = 0; i < r->n; i++)
                if (duro_key_valid(r->items[i].key, r->items[i].key_len, &why) != 0)
                    abort();
            duro_kv_req_free(r);
        }
    }
    json_decref(args);
    return 0;
}
