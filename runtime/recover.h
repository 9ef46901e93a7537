/*
 * recover.h — bringing namespace files up to their commit logs (clog.h).
 * Private to runtime/.
 *
 * At start, before the registry reconciles and before any actor runs,
 * duro_recover_logs() replays every log of the data directory into the
 * namespace files: for each namespace, the records after its mark (the
 * epoch and lsn its last apply stored, ns.h), in order; a DROP record
 * removes the namespace's files again. Each namespace is committed with
 * synchronous=FULL and a new mark, then the logs are removed: the actors
 * start new ones.
 *
 * While running, duro_recover_ns() puts back, into an open namespace's
 * transaction, what its actor's log holds for it beyond its mark: after
 * SQLite rolled back the open transaction by itself (an interrupted user
 * SQL write, an I/O error), or when a namespace that was closed without its
 * apply is opened again.
 */
#ifndef DURO_RECOVER_H
#define DURO_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/ns.h"

struct duro_kinds;
struct duro_clog;

/* Replays and removes every <data>/log/<n>.log. DURO_OK, or a status with a
 * message in err (the server must not start: the logs stay). *records gets
 * how many records were applied (skipped ones not counted). ROWS records
 * go to their kind's replay() in kinds. */
int duro_recover_logs(const duro_store_config *cfg, const struct duro_kinds *kinds,
                      const char *log_dir, uint64_t *records, char *err, size_t errlen);

/* Replays the records of ns in the running actor's log (its whole records
 * only: up to log->size) that are beyond ns's mark, into ns's open transaction (opening one). DURO_OK or a
 * status with a message in err. Afterwards ns's write counter is the
 * highest the file or the records know. */
int duro_recover_ns(duro_ns *ns, const struct duro_kinds *kinds, const struct duro_clog *log,
                    char *err, size_t errlen);

#endif
