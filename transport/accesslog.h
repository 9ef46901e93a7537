/*
 * accesslog.h — --access-log: one JSON line per request, HTTP and binary
 * protocol alike (docs/logging.md).
 *
 * A line: {"time", "request_id", "peer", "proto", "method" (HTTP) or "op"
 * (binary), "path" (HTTP: the query's names, never their values), "ns",
 * "status", "bytes", "us"}. Nothing else of a request is logged: no header
 * (Authorization, Cookie), no query value, no body. Each line is one write(2)
 * to a file opened O_APPEND, from any I/O thread; with the log off, a
 * request costs one relaxed load.
 */
#ifndef DURO_ACCESSLOG_H
#define DURO_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

/* Opens path ("-": stderr) for appending. 0, or -1 with errno. */
int duro_accesslog_open(const char *path);

/* Reopens the file (log rotation: SIGHUP). 0, or -1 with errno (the old
 * file stays in use). */
int duro_accesslog_reopen(void);

/* 1 if a log is open. */
int duro_accesslog_on(void);

/* One HTTP request: method, raw path and query (its values are dropped),
 * the namespace if one was known ("" otherwise), the HTTP status, the reply
 * body's bytes, the time from the request head to the reply. */
void duro_accesslog_http(const char *request_id, const char *peer, const char *method,
                         const char *path, const char *query, const char *ns, int status,
                         size_t bytes, uint64_t us);

/* One binary-protocol request: its msgid as the request id, the op name (as
 * sent, at most 64 bytes), its namespace, the wire status (its code name). */
void duro_accesslog_rpc(uint64_t msgid, const char *peer, const char *op, size_t op_len,
                        const char *ns, size_t ns_len, int status, size_t bytes, uint64_t us);

void duro_accesslog_close(void);

#endif
