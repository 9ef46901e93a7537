/*
 * blob.h — blobs (objects/files, the storage proxy's R2): bytes under a key
 * in a namespace, with a content type, user metadata and digests.
 *
 * Layout (docs/blobs.md): each object's bytes are one immutable file in the
 * namespace's files directory (duro_ns_files_dir()/blobs/<32 hex>), written
 * and fsynced once on the runtime's I/O pool (hashing SHA-256 and MD5 on the
 * way), and its row in _duro_blobs (key → file, size, digests, type,
 * metadata, times) commits with the namespace's batch. A reader opens the
 * file its committed row names, so it never sees half an object; a replaced
 * or deleted object's file is removed only after the commit that dropped it
 * (txn_end), and files no row names — a crash between the write and the
 * commit, or between the commit and the removal — are removed the first time
 * the namespace is used after the process starts.
 */
#ifndef DURO_BLOB_H
#define DURO_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/kind.h"

enum duro_blob_op {
    DURO_BLOB_PUT = 0,
    DURO_BLOB_GET,
    DURO_BLOB_HEAD,
    DURO_BLOB_DELETE,
    DURO_BLOB_LIST,
    DURO_BLOB_APPEND, /* a put in parts (an upload): docs/blobs.md */
};

#define DURO_BLOB_UPLOADS_MAX 256       /* uploads open at once (the process) */
#define DURO_BLOB_UPLOADS_PER_NS 8      /* ... of one namespace */
#define DURO_BLOB_UPLOAD_IDLE_MS 60000  /* an upload without a part this long is dropped */

#define DURO_BLOB_KEY_MAX 1024        /* bytes of UTF-8, as S3 */
#define DURO_BLOB_TYPE_MAX 256        /* Content-Type */
#define DURO_BLOB_META_MAX 8192       /* user metadata, as JSON text */
#define DURO_BLOB_LIST_MAX 1000       /* objects and prefixes in one page */
#define DURO_BLOB_MAX_DEFAULT ((size_t)64 << 20)

typedef struct duro_blob_req {
    char *key;
    size_t key_len;
    /* put: the bytes (borrowed from the transport's body, or own) */
    const unsigned char *data;
    size_t size;
    unsigned char *own;
    char *content_type; /* NULL: application/octet-stream */
    char *meta;         /* a JSON object's text, or NULL */
    size_t meta_len;
    /* put, get, head, delete: conditions on the current object's ETag (the
     * SHA-256 in hex) or "*"; NULL: none */
    char *if_match, *if_none_match;
    int has_md5, has_sha256; /* put: digests the client sent, checked */
    unsigned char want_md5[16], want_sha256[32];
    /* get */
    int want_file;     /* answer with the open file (m->file): HTTP */
    int has_range;     /* inline reads: [off, off + len) only */
    uint64_t off, len;
    /* list */
    char *prefix, *delimiter, *start_after, *cursor;
    size_t prefix_len, delimiter_len, start_after_len, cursor_len;
    int limit;
    /* append */
    char upload[33]; /* the upload's id ("" to start one) */
    int final;       /* the last part: the object is stored */
    uint64_t received; /* bytes of the upload so far (set by the kind) */
    size_t max_total;  /* the largest object (--max-blob-bytes), set by the decoder */
    /* a put's file, while it is this request's (set by the kind) */
    char *dir;
    char file[33];
    int file_state; /* 0 none, 1 written or being written (this request's), 2 the namespace's */
    int holds_upload; /* an append holds its upload (busy) until it is answered */
    int write_status;
    char write_err[160];
    unsigned char md5[16], sha256[32];
} duro_blob_req;

/* A new empty request (NULL when out of memory). */
duro_blob_req *duro_blob_req_new(void);
/* Frees r; a file still its own (an op that never reached its commit) is
 * removed. */
void duro_blob_req_free(duro_blob_req *r);

/* Checks what a transport filled in: key, content type, metadata, list
 * bounds. DURO_OK or DURO_BAD_REQUEST with a message in err. */
int duro_blob_req_check(int op, duro_blob_req *r, const duro_limits *lim, char *err,
                        size_t errlen);

/* The kind's decoder of msgpack args (binary protocol, libduro). */
int duro_blob_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

/* The process's set of blob files being written (not yet named by a row):
 * a namespace's sweep of unreferenced files leaves them alone. */
void duro_blob_inflight_add(const char *file);
void duro_blob_inflight_del(const char *file);

/* Lets go of the upload an append holds (r->holds_upload): the upload ends
 * (its file removed) if drop, else it waits for its next part. */
void duro_blob_upload_release(duro_blob_req *r, int drop);

/* Hex s[0..len) of exactly n bytes into out: 0, or -1. */
int duro_blob_unhex(const char *s, size_t len, unsigned char *out, size_t n);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void duro_blob_hex(const unsigned char *p, size_t n, char *out);

#endif
