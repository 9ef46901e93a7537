/*
 * log.h — leveled logging to stderr. Never pass secrets to these functions.
 */
#ifndef DURO_LOG_H
#define DURO_LOG_H

#include <stddef.h>

enum { DURO_LOG_ERROR = 0, DURO_LOG_WARN = 1, DURO_LOG_INFO = 2, DURO_LOG_DEBUG = 3 };

extern int duro_log_level;

/* 0: text lines ("2026-12-02T13:00:00.123Z info  msg"); 1: one JSON object
 * per line {"time","level","msg"} (--log-format json). */
extern int duro_log_json;

/* Parses "error|warn|info|debug"; -1 if unknown. */
int duro_log_level_parse(const char *s);

void duro_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Now as the logs write it, "2026-12-02T13:00:00.123Z" (UTC, ms), into buf
 * (at least 32 bytes). */
void duro_log_stamp(char *buf, size_t n);

#define duro_log_error(...) duro_log(DURO_LOG_ERROR, __VA_ARGS__)
#define duro_log_warn(...) duro_log(DURO_LOG_WARN, __VA_ARGS__)
#define duro_log_info(...) duro_log(DURO_LOG_INFO, __VA_ARGS__)
#define duro_log_debug(...) \
    do { if (duro_log_level >= DURO_LOG_DEBUG) duro_log(DURO_LOG_DEBUG, __VA_ARGS__); } while (0)

/* A message that may repeat at a high rate (accept() failing, a client over
 * a limit): one duro_log_limit per call site, zero-initialised (static). At
 * most one line per DURO_LOG_LIMIT_MS is written; the next one says how many
 * were suppressed meanwhile. Safe from any thread. */
typedef struct duro_log_limit {
    long long last_ms;
    unsigned long suppressed;
} duro_log_limit;

#define DURO_LOG_LIMIT_MS 10000

void duro_log_limited(duro_log_limit *lim, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
