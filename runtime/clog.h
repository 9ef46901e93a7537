/*
 * clog.h — an actor's commit log: the durable record of its batches until
 * they are applied to the namespace files. Private to runtime/.
 *
 * DESIGN
 * One file per actor, <data>/log/<id>.log. A header (magic, the run's epoch:
 * 64 random bits drawn when the file is created) and then records, each
 *
 *   u32 len | u32 crc32c(of the len bytes that follow) | u64 lsn | u8 type |
 *   u8 ns_len | ns | payload
 *
 * little-endian. lsn counts the actor's records from 1 in this epoch and only
 * grows. The file is kept allocated: it is filled with zeros ahead of the
 * records (DURO_CLOG_AHEAD at a time, synced once), and a reset starts
 * writing at the header again over what is there, so an fdatasync writes
 * data blocks only, never the file's size (about 2.3x the syncs per second
 * of an appended file on the bench machine's ext4). A scan stops where the
 * lsn stops growing: what follows is older. A
 * CHANGES record's payload is a SQLite changeset (the session extension's:
 * the rows a batch left different, as full images), a DROP record has none:
 * the namespace was deleted. A ROWS record holds a batch's deferred writes
 * (ns.h): u8 kind | i64 version (the namespace's write counter after the
 * batch) | the kind's rows, which its replay() reads. A batch's ROWS record
 * of a namespace precedes its CHANGES record: the rows were written before
 * anything the session recorded. A batch's records go out in one write(2), then
 * one fdatasync(2) covers every namespace of the batch. A scan stops at the
 * first record that is cut short or fails its checksum: a power loss can
 * only have torn what was not yet synced.
 *
 * Only the owning actor touches its log (asserted).
 */
#ifndef DURO_CLOG_H
#define DURO_CLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "runtime/owner.h"

enum { DURO_CLOG_CHANGES = 1, DURO_CLOG_DROP = 2, DURO_CLOG_ROWS = 3 };

#define DURO_CLOG_AHEAD (8u << 20)

typedef struct duro_clog {
    int fd;
    char path[4200];
    uint64_t epoch;
    uint64_t lsn;     /* the last one handed out */
    uint64_t size;    /* bytes of whole records in the file, header included */
    uint64_t synced;  /* ... of which are known to be on disk */
    uint64_t alloc;   /* bytes of the file written (zeros or old records) and synced */
    duro_buf pending; /* records added, not yet written */
    duro_owner owner;
} duro_clog;

/* Creates (replacing) <dir>/<id>.log with a new epoch and syncs it and dir.
 * 0, or -1 with a message in err. */
int duro_clog_create(duro_clog *l, const char *dir, unsigned id, char *err, size_t errlen);
void duro_clog_close(duro_clog *l);

/* Adds a record to the pending ones; its lsn, or 0 if out of memory. */
uint64_t duro_clog_add(duro_clog *l, int type, const char *ns, size_t ns_len, const void *p,
                       size_t n);
/* Drops pending records added since size `mark` of l->pending (a batch that
 * failed before its write). */
void duro_clog_unadd(duro_clog *l, size_t mark);

/* Writes the pending records, then fdatasyncs if sync (or if what an
 * earlier call wrote unsynced must now be on disk: sync covers both). 0, or
 * -1 with errno set: the file is cut back to its last whole record and the
 * records are dropped (their batch fails). */
int duro_clog_write(duro_clog *l, int sync);

/* Everything in the log was applied to the namespace files and synced
 * there: the next record goes right after the header. 0 or -1. */
int duro_clog_reset(duro_clog *l);

/* At a clean stop, with everything applied: the file is emptied. 0 or -1. */
int duro_clog_empty(duro_clog *l);

/* Calls fn for each whole record of the file at path, in order, until fn
 * returns nonzero (returned) or the records end, or the next one would end
 * past byte `limit` of the file (UINT64_MAX: no limit; a running actor
 * passes its log's size, since past it lie records of batches that failed).
 * 0 at the end, -1 if the file cannot be read (err). A missing file has no
 * records. */
typedef int (*duro_clog_fn)(void *ctx, uint64_t epoch, uint64_t lsn, int type, const char *ns,
                            size_t ns_len, const void *p, size_t n);
int duro_clog_scan(const char *path, uint64_t limit, duro_clog_fn fn, void *ctx, char *err,
                   size_t errlen);

#endif
