/*
 * rpc.h — the binary protocol (docs/protocol.md) on an I/O thread.
 *
 * Each I/O thread that serves HTTP also runs one duro_rpc: a SO_REUSEPORT
 * listener on --rpc-port and its connections, on the same event_base, sending
 * requests through the same courier to the same actors.
 */
#ifndef DURO_RPC_H
#define DURO_RPC_H

#include <event2/event.h>
#include <sys/socket.h>

#include "transport/config.h"
#include "transport/courier.h"

typedef struct duro_rpc duro_rpc;

/* Listens on the address sa (its port replaced by cfg->rpc_port); access
 * (may be NULL: everything allowed) decides each request. idle(arg)
 * is called when the last request in flight was answered after
 * duro_rpc_stop(). DURO_OK, or an error with a message in err. */
struct duro_access;
int duro_rpc_new(struct event_base *base, const duro_config *cfg, duro_courier *courier,
                 const struct duro_access *access, const struct sockaddr *sa, int salen,
                 void (*idle)(void *), void *arg, duro_rpc **out, char *err, size_t errlen);

/* Stops accepting; requests in flight are still answered. NULL is a no-op. */
void duro_rpc_stop(duro_rpc *r);

/* Requests sent to actors and not yet answered (0 for NULL). */
long duro_rpc_inflight(const duro_rpc *r);

/* Closes every connection and the listener. NULL is a no-op. */
void duro_rpc_free(duro_rpc *r);

#endif
