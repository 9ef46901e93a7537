/*
 * http.h — the server's ways in: the HTTP API (and, with --rpc-port, the
 * binary protocol) on the I/O threads of io.h.
 *
 * Each I/O thread has its own event_base and one SO_REUSEPORT listener per
 * protocol on the same address; the kernel spreads connections over them. A
 * request is framed (http1.c), validated and decoded on its I/O thread (large
 * bodies on the encoder pool), sent to the owning actor as a duro_msg, and its
 * reply is encoded and sent on the same thread when the actor hands it back
 * (completion list + event_active). I/O threads never touch SQLite.
 */
#ifndef DURO_HTTP_H
#define DURO_HTTP_H

#include "runtime/runtime.h"
#include "transport/config.h"

typedef struct duro_http duro_http;

/* Binds the listeners and starts the I/O threads. DURO_OK, or an error with a
 * message in err. */
struct duro_access;
/* access decides who may do what (transport/access.h); it must outlive the
 * server. */
int duro_http_start(const duro_config *cfg, duro_runtime *rt, const struct duro_access *access,
                    duro_http **out, char *err, size_t errlen);

/* Stops accepting, waits until every request in flight has been answered, and
 * joins the threads. NULL is a no-op. */
void duro_http_stop(duro_http *h);

/* Frees the loops and couriers. Call it only after duro_runtime_close(): an
 * actor may still be inside a courier's done() callback of a message whose
 * reply was already sent. NULL is a no-op. */
void duro_http_free(duro_http *h);

#endif
