/* log.c — one line per message on stderr: time, level, text. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/codec.h"

int duro_log_level = DURO_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int duro_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) /* DURO_LOG_LEVEL=DEBUG works too */
            return i;
    return -1;
}

int duro_log_json;

void duro_log_stamp(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024], stamp[80];
    duro_log_stamp(stamp, sizeof stamp);
    int n = duro_log_json ? 0 : snprintf(line, sizeof line, "%s %-5s ", stamp, names[level]);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = strlen(line);
    if (suffix)
        len += (size_t)snprintf(line + len, sizeof line - len - 1, "%s", suffix);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (duro_log_json) { /* {"time","level","msg"}: the message escaped */
        duro_buf b = {0};
        duro_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", stamp, names[level]);
        duro_json_put_str(&b, line, len);
        duro_buf_puts(&b, "}\n");
        if (b.len)
            fwrite(b.data, 1, b.len, stderr);
        duro_buf_free(&b);
        return;
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

void duro_log(int level, const char *fmt, ...)
{
    if (level > duro_log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void duro_log_limited(duro_log_limit *lim, int level, const char *fmt, ...)
{
    if (level > duro_log_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    long long last = __atomic_load_n(&lim->last_ms, __ATOMIC_RELAXED);
    if ((last && now - last < DURO_LOG_LIMIT_MS) ||
        !__atomic_compare_exchange_n(&lim->last_ms, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&lim->suppressed, 1, __ATOMIC_RELAXED);
        return;
    }
    unsigned long n = __atomic_exchange_n(&lim->suppressed, 0, __ATOMIC_RELAXED);
    char suffix[80] = "";
    if (n)
        snprintf(suffix, sizeof suffix, " (%lu more like this in the last %d s)", n,
                 DURO_LOG_LIMIT_MS / 1000);
    va_list ap;
    va_start(ap, fmt);
    vlog(level, suffix, fmt, ap);
    va_end(ap);
}
