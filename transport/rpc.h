/*
 * rpc.h — the binary protocol (docs/protocol.md) as an I/O protocol (io.h).
 *
 * Every I/O thread that serves HTTP also listens on --rpc-port with this
 * protocol, on the same event_base, sending requests through the same courier
 * to the same actors.
 */
#ifndef DURO_RPC_H
#define DURO_RPC_H

#include "transport/config.h"
#include "transport/io.h"

typedef struct duro_rpc duro_rpc;
struct duro_access;
struct duro_workers;

/* The protocol's shared, read-only context: limits from cfg, access (may be
 * NULL: everything allowed) and the pool that encodes large replies. */
int duro_rpc_new(const duro_config *cfg, const struct duro_access *access,
                 struct duro_workers *encoders, duro_rpc **out, char *err, size_t errlen);
void duro_rpc_free(duro_rpc *r);

/* The protocol for duro_io_listen(); its arg is the duro_rpc. */
const duro_proto *duro_rpc_proto(void);

#endif
