/*
 * registry.h — the registry actor: one thread that owns <data>/_registry.db
 * (its storage: runtime/registry_store.h) and runs, in arrival order, the change notices the
 * namespace owners send after their commits and the LIST/STATS queries.
 * Private to runtime/.
 *
 * Ordering: an owner sends a commit's notices before it posts that commit's
 * replies, and a query is queued behind every notice sent before it. So a
 * query sees every write acknowledged before the query was sent: the registry
 * never answers behind what a client has been told (reads are always
 * "consistent"; the lag only ever shows as queueing time).
 *
 * Group commit: notices are pushed lazily (duro_mailbox_push_lazy: they do not
 * wake the thread while its group transaction is open) and applied in one
 * transaction committed at most 100 ms after it began (synchronous=NORMAL:
 * no fsync). A query wakes the thread at once. The file may lose its last
 * transactions in a crash; that is repaired at the next start.
 *
 * Reconcile (at open, before any actor runs): for each namespace file whose
 * write counter differs from the one recorded in the registry, the
 * namespace's rows are rebuilt from the file; namespaces whose file is gone
 * are forgotten. A deleted _registry.db is rebuilt whole.
 *
 * Repair (while running): when notices are lost (a group transaction fails,
 * e.g. on a full disk, or an owner cannot hand notices over), the namespaces
 * they named are rebuilt from their files, by this thread, through separate
 * read-only SQLite connections, in small steps between mailbox batches and
 * again (with backoff) until the rebuilds commit; owners are neither asked
 * nor blocked. Until the repair ends no version is recorded, so a restart in
 * between still rebuilds what was lost. Details in registry.c.
 */
#ifndef DURO_RUNTIME_REGISTRY_H
#define DURO_RUNTIME_REGISTRY_H

#include <stddef.h>

#include "runtime/msg.h"
#include "runtime/ns.h"
#include "runtime/registry_store.h"

typedef struct duro_registry duro_registry;

/* Opens the registry file of cfg->data_dir, reconciles it with the
 * namespace files and starts the thread. max_reply: the largest reply tape of
 * a query (a larger one is DURO_PAYLOAD_TOO_LARGE); actors: how many the
 * runtime runs (for server.info). */
int duro_registry_open(const duro_store_config *cfg, const duro_registry_store *store,
                       size_t max_mailbox, size_t max_reply, int actors, duro_registry **out,
                       char *err, size_t errlen);

/* Owner thread, right after ns committed: hands ns->notes (if any) to the
 * registry; ns->notes is left empty. */
void duro_registry_notify(duro_registry *r, duro_ns *ns);

/* Owner thread, right after it removed the file of namespace name (and
 * after every notice of it): the registry forgets the namespace, in order
 * with the notices, so a query sent after the removal was acknowledged does
 * not see it. */
void duro_registry_forget(duro_registry *r, const char *name, size_t len);

/* Queues a query message. DURO_OK, or DURO_UNAVAILABLE (full/closed). */
int duro_registry_submit(duro_registry *r, duro_msg *m);

/* Messages waiting in the registry's mailbox (notices and queries). */
size_t duro_registry_depth(duro_registry *r);

/* After every actor stopped: drains, commits, joins and closes. NULL: no-op. */
void duro_registry_close(duro_registry *r);

#endif
