/*
 * duro/status.h — the one table of duro status codes.
 *
 * Every row of DURO_STATUS_MAP names a status once: its enum name, its stable
 * number, its wire code (the "code" of a JSON error body), its HTTP status,
 * that status's reason phrase (the "Not Found" of "HTTP/1.1 404 Not Found")
 * and a default message. The enum, duro_errstr(), the HTTP mapping, the
 * status lines and the JSON error codes are all generated from these rows, so
 * they cannot disagree. Rows that share an HTTP status share its phrase.
 *
 * Numbers are stable: the binary protocol sends them (docs/protocol.md), so a
 * row keeps its number forever and new rows go at the end. DURO_CREATED is no
 * error and no function returns it: it is the binary protocol's status of a
 * write that created its target (HTTP 201); libduro reports that as DURO_OK
 * and a *created flag.
 */
#ifndef DURO_STATUS_H
#define DURO_STATUS_H

#include <stddef.h>

/* X(NAME, number, "WIRE_CODE", http_status, "HTTP reason phrase", "message") */
#define DURO_STATUS_MAP(X)                                                                         \
    X(OK, 0, "OK", 200, "OK", "ok")                                                                \
    X(NOT_FOUND, 1, "NOT_FOUND", 404, "Not Found", "not found")                                    \
    X(BAD_REQUEST, 2, "BAD_REQUEST", 400, "Bad Request", "bad request")                            \
    X(UNAUTHORIZED, 3, "UNAUTHORIZED", 401, "Unauthorized", "unauthorized")                        \
    X(FORBIDDEN, 4, "FORBIDDEN", 403, "Forbidden", "forbidden")                                    \
    X(METHOD_NOT_ALLOWED, 5, "METHOD_NOT_ALLOWED", 405, "Method Not Allowed",                      \
      "method not allowed")                                                                        \
    X(CONFLICT, 6, "CONFLICT", 409, "Conflict", "conflict")                                        \
    X(PRECONDITION_FAILED, 7, "PRECONDITION_FAILED", 412, "Precondition Failed",                   \
      "precondition failed")                                                                       \
    X(PAYLOAD_TOO_LARGE, 8, "PAYLOAD_TOO_LARGE", 413, "Payload Too Large", "payload too large")    \
    X(UNSUPPORTED_MEDIA_TYPE, 9, "UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type",          \
      "unsupported media type")                                                                    \
    X(RATE_LIMITED, 10, "RATE_LIMITED", 429, "Too Many Requests", "rate limited")                  \
    X(INTERNAL, 11, "INTERNAL", 500, "Internal Server Error", "internal error")                    \
    X(UNAVAILABLE, 12, "UNAVAILABLE", 503, "Service Unavailable", "unavailable")                   \
    X(INSUFFICIENT_STORAGE, 13, "INSUFFICIENT_STORAGE", 507, "Insufficient Storage",               \
      "insufficient storage")                                                                      \
    X(LOCKED, 14, "LOCKED", 503, "Service Unavailable",                                            \
      "data directory is locked by another process")                                               \
    X(IO, 15, "IO", 500, "Internal Server Error", "I/O error")                                     \
    X(NOMEM, 16, "NOMEM", 500, "Internal Server Error", "out of memory")                           \
    X(CREATED, 17, "CREATED", 201, "Created", "created")                                          \
    X(NOT_MODIFIED, 18, "NOT_MODIFIED", 304, "Not Modified", "not modified")                       \
    X(RANGE_NOT_SATISFIABLE, 19, "RANGE_NOT_SATISFIABLE", 416, "Range Not Satisfiable",            \
      "range not satisfiable")

typedef enum duro_status {
#define DURO__ENUM(name, num, wire, http, reason, msg) DURO_##name = num,
    DURO_STATUS_MAP(DURO__ENUM)
#undef DURO__ENUM
} duro_status;

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions libduro.so exports (it is built with -fvisibility=hidden). */
#ifndef DURO_API
#if defined(__GNUC__)
#define DURO_API __attribute__((visibility("default")))
#else
#define DURO_API
#endif
#endif

/* Returns a static, human-readable message for rc ("unknown status" for
 * numbers outside the table). Never NULL; never freed by the caller. */
DURO_API const char *duro_errstr(int rc);

/* Returns the wire code ("NOT_FOUND") for rc, "INTERNAL" if unknown. */
DURO_API const char *duro_status_code(int rc);

/* Returns the HTTP status for rc, 500 if unknown. */
DURO_API int duro_status_http(int rc);

/* Returns the status whose wire code is code[0..len) ("NOT_FOUND" ->
 * DURO_NOT_FOUND), or -1 if no row has it. */
DURO_API int duro_status_from_code(const char *code, size_t len);

/* Returns the first status of the table with HTTP status http (200 -> DURO_OK,
 * 404 -> DURO_NOT_FOUND, ...), DURO_INTERNAL if none. Several statuses share
 * 500 and 503; prefer duro_status_from_code() when a wire code is at hand. */
DURO_API duro_status duro_status_from_http(int http);

#ifdef __cplusplus
}
#endif

#endif
