/* config.c — the flag table of durod and its parser (see config.h). */
#include "transport/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "objects/ratelimit_req.h"

enum kind { K_LONG, K_LISTEN, K_PATH, K_LOGLEVEL, K_SYNC, K_RATE, K_SECRET, K_BOOL, K_LOGFORMAT,
            K_ACCESSLOG };

struct flag {
    const char *name;
    enum kind kind;
    size_t off;
    long min, max;
    const char *def; /* NULL: computed (see defaults()) */
    const char *help;
};

#define OFF(f) offsetof(duro_config, f)

static const struct flag flags[] = {
    {"listen", K_LISTEN, 0, 0, 0, "127.0.0.1:8787", "HTTP address HOST:PORT"},
    {"rpc-port", K_LONG, OFF(rpc_port), 0, 65535, "7070",
     "binary protocol port on the --listen host (0: off)"},
    {"data", K_PATH, 0, 0, 0, "./data", "data directory (created if missing)"},
    {"actors", K_LONG, OFF(actors), 1, 256, NULL, "actor threads (default: number of cores)"},
    {"io-threads", K_LONG, OFF(io_threads), 1, 64, NULL,
     "I/O threads, HTTP and binary protocol (default: number of cores, at most 4)"},
    {"max-body-bytes", K_LONG, OFF(max_body_bytes), 1024, 1L << 30, "8388608",
     "largest request body (413 above)"},
    {"max-value-bytes", K_LONG, OFF(max_value_bytes), 16, 1L << 30, "2097152",
     "largest encoded value (413 above)"},
    {"max-snapshot-bytes", K_LONG, OFF(max_snapshot_bytes), 1024, 1L << 30, "16777216",
     "largest GET /api/storage snapshot (413 above: use the list API)"},
    {"max-reply-bytes", K_LONG, OFF(max_reply_bytes), 65536, 1L << 30, "16777216",
     "largest reply body (list pages end early; larger batch gets, snapshots, registry pages:"
     " 413)"},
    {"max-header-bytes", K_LONG, OFF(max_header_bytes), 1024, 1L << 20, "16384",
     "largest request line + headers"},
    {"cache-mb", K_LONG, OFF(cache_mb), 1, 1L << 20, "256", "value cache budget in MiB"},
    {"max-open-namespaces", K_LONG, OFF(max_open_namespaces), 1, 1L << 20, "1024",
     "namespace files kept open (LRU)"},
    {"max-connections", K_LONG, OFF(max_connections), 1, 1L << 20, "10000",
     "concurrent connections, HTTP and binary protocol together (lowered to fit the fd"
     " limit; over it new connections get 503)"},
    {"max-inflight-bytes", K_LONG, OFF(max_pending_bytes), 1L << 20, 1L << 40, "268435456",
     "request bytes being received or in flight, all connections together (503 above)"},
    {"max-pending-bytes", K_LONG, OFF(max_pending_bytes), 1L << 20, 1L << 40, NULL,
     "the old name of --max-inflight-bytes"},
    {"max-blob-bytes", K_LONG, OFF(max_blob_bytes), 1, 1L << 40, "67108864",
     "largest blob (PUT /api/storage/r2/...) in bytes"},
    {"max-pipeline", K_LONG, OFF(max_pipeline), 1, 4096, "128",
     "requests in flight per binary-protocol connection (more wait unread); reads also"
     " reserve their largest reply from 4 x --max-reply-bytes per connection"},
    {"max-mailbox", K_LONG, OFF(max_mailbox), 1, 1L << 24, "100000",
     "queued requests per actor before 503"},
    {"idle-timeout-ms", K_LONG, OFF(idle_timeout_ms), 100, 3600000, "60000",
     "close a connection idle this long"},
    {"request-timeout-ms", K_LONG, OFF(request_timeout_ms), 100, 3600000, "30000",
     "time allowed to send one whole request (slow clients are cut off)"},
    {"ttl-sweep-ms", K_LONG, OFF(ttl_sweep_ms), 10, 3600000, "1000",
     "period of the active TTL sweep"},
    {"sql-timeout-ms", K_LONG, OFF(sql_timeout_ms), 10, 3600000, "1000",
     "time budget of one SQL request (exec, query, batch): past it the statement is"
     " interrupted and the request rolled back"},
    {"sql-max-rows", K_LONG, OFF(sql_max_rows), 1, 10000000, "10000",
     "rows one SQL statement may return (413 above)"},
    {"ratelimit-default", K_RATE, 0, 0, 0, "30/60s",
     "limit/window of a rate-limit check that names none (window in ms, s, m or h)"},
    {"cors-origin", K_SECRET, OFF(cors_origin), 0, 0, NULL,
     "allowed CORS origin(s), comma-separated, or * (default: * on loopback without auth,"
     " else none)"},
    {"auth-token", K_SECRET, OFF(auth_token), 0, 0, NULL,
     "admin bearer token: every route but /healthz needs it (or a JWT)"},
    {"jwt-secret", K_SECRET, OFF(jwt_secret), 0, 0, NULL,
     "HS256 key (>= 32 bytes) of JWTs that scope namespaces (claim ns) and methods (scope)"},
    {"commit-log", K_BOOL, OFF(commit_log), 0, 1, "1",
     "1: a batch is durable once in its actor's commit log (one fdatasync), applied to the"
     " namespace files every 500 ms (default); 0: every batch commits to its files (docs/architecture.md)"},
    {"insecure", K_BOOL, OFF(insecure), 0, 1, "0",
     "allow a non-loopback --listen without --auth-token or --jwt-secret (1)"},
    {"pwhash-min", K_BOOL, OFF(pwhash_min), 0, 1, "0",
     "hash passwords with Argon2id's minimum cost (tests only; never in production)"},
    {"errinj", K_BOOL, OFF(errinj), 0, 1, "0",
     "serve GET/POST /_errinj, which makes storage calls fail on purpose (tests only; never in"
     " production; docs/testing.md)"},
    {"log-level", K_LOGLEVEL, 0, 0, 0, "info", "error|warn|info|debug"},
    {"log-format", K_LOGFORMAT, 0, 0, 0, "text",
     "text: one line per message; json: one JSON object {time, level, msg} per line"},
    {"access-log", K_ACCESSLOG, 0, 0, 0, NULL,
     "one JSON line per request, HTTP and binary protocol, to this file (- : stderr; SIGHUP"
     " reopens it); off by default"},
    {"sync", K_SYNC, 0, 0, 0, "full",
     "full: a batch is fdatasynced (its commit log record, or its COMMIT) before its replies"
     " (default); normal: opt-in, faster, may lose the last batches on power loss (never on a"
     " process crash)"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static int set(duro_config *c, const struct flag *f, const char *v, char *err, size_t errlen)
{
    switch (f->kind) {
    case K_LONG: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < f->min || x > f->max) {
            snprintf(err, errlen, "--%s: expected an integer in %ld..%ld, got \"%s\"", f->name,
                     f->min, f->max, v);
            return -1;
        }
        *(long *)((char *)c + f->off) = x;
        return 0;
    }
    case K_LISTEN: {
        const char *colon = strrchr(v, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == v || (size_t)(colon - v) >= sizeof c->listen_host ||
            colon[1] == '\0' || *end || port < 0 || port > 65535) {
            snprintf(err, errlen, "--listen: expected HOST:PORT, got \"%s\"", v);
            return -1;
        }
        memcpy(c->listen_host, v, (size_t)(colon - v));
        c->listen_host[colon - v] = '\0';
        c->listen_port = (int)port;
        return 0;
    }
    case K_PATH:
        if (!*v || strlen(v) >= sizeof c->data_dir) {
            snprintf(err, errlen, "--data: expected a directory path");
            return -1;
        }
        strcpy(c->data_dir, v);
        return 0;
    case K_RATE: {
        duro_rl_defaults d;
        if (strlen(v) >= sizeof c->ratelimit_default || duro_rl_parse_default(v, &d) != 0) {
            snprintf(err, errlen, "--ratelimit-default: expected LIMIT/WINDOW like 30/60s, got \"%s\"",
                     v);
            return -1;
        }
        strcpy(c->ratelimit_default, v);
        return 0;
    }
    case K_SECRET: {
        char *dst = (char *)c + f->off;
        if (strlen(v) >= 512) {
            snprintf(err, errlen, "--%s: longer than 511 bytes", f->name);
            return -1;
        }
        strcpy(dst, v);
        return 0;
    }
    case K_BOOL:
        if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
            *(long *)((char *)c + f->off) = 1;
        else if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
            *(long *)((char *)c + f->off) = 0;
        else {
            snprintf(err, errlen, "--%s: expected 0|1|true|false, got \"%s\"", f->name, v);
            return -1;
        }
        return 0;
    case K_LOGFORMAT:
        if (strcasecmp(v, "text") == 0 || strcasecmp(v, "json") == 0) {
            c->log_json = strcasecmp(v, "json") == 0;
            return 0;
        }
        snprintf(err, errlen, "--log-format: expected text|json, got \"%s\"", v);
        return -1;
    case K_ACCESSLOG:
        if (!*v || strlen(v) >= sizeof c->access_log) {
            snprintf(err, errlen, "--access-log: expected a file path or -");
            return -1;
        }
        strcpy(c->access_log, v);
        return 0;
    case K_LOGLEVEL:
        if ((c->log_level = duro_log_level_parse(v)) < 0) {
            snprintf(err, errlen, "--log-level: expected error|warn|info|debug, got \"%s\"", v);
            return -1;
        }
        return 0;
    case K_SYNC:
        if (strcasecmp(v, "full") == 0)
            c->sync_full = 1;
        else if (strcasecmp(v, "normal") == 0)
            c->sync_full = 0;
        else {
            snprintf(err, errlen, "--sync: expected full|normal, got \"%s\"", v);
            return -1;
        }
        return 0;
    }
    return -1;
}

static void env_name(const char *flag, char *out, size_t n)
{
    size_t i = snprintf(out, n, "DURO_");
    for (; *flag && i + 1 < n; flag++)
        out[i++] = *flag == '-' ? '_' : (char)toupper((unsigned char)*flag);
    out[i] = '\0';
}

int duro_config_load(duro_config *c, int argc, char **argv, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->actors = cores > 0 ? cores : 1;
    c->io_threads = 0; /* not given: durod.c picks (fit_fd_limits()) */
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].def && set(c, &flags[i], flags[i].def, err, errlen) != 0)
            return DURO_CONFIG_ERROR;
    for (size_t i = 0; i < NFLAGS; i++) {
        char name[64];
        env_name(flags[i].name, name, sizeof name);
        const char *v = getenv(name);
        if (v && set(c, &flags[i], v, err, errlen) != 0) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (from %s)", name);
            return DURO_CONFIG_ERROR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return DURO_CONFIG_HELP;
        if (strcmp(a, "--version") == 0)
            return DURO_CONFIG_VERSION;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
            return DURO_CONFIG_ERROR;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct flag *f = NULL;
        for (size_t k = 0; k < NFLAGS; k++)
            if (strlen(flags[k].name) == len && strncmp(flags[k].name, a + 2, len) == 0)
                f = &flags[k];
        if (!f) {
            snprintf(err, errlen, "unknown flag \"%.*s\" (see --help)", (int)len + 2, a);
            return DURO_CONFIG_ERROR;
        }
        const char *v = eq ? eq + 1
                      : f->kind == K_BOOL ? "1"
                      : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            snprintf(err, errlen, "--%s needs a value", f->name);
            return DURO_CONFIG_ERROR;
        }
        if (set(c, f, v, err, errlen) != 0)
            return DURO_CONFIG_ERROR;
    }
    return DURO_CONFIG_OK;
}

void duro_config_usage(FILE *out)
{
    fprintf(out, "usage: durod [--flag VALUE]...\n\n"
                 "Serves durable key-value namespaces over HTTP.\n"
                 "Every flag can also be set with the environment variable DURO_<FLAG>\n"
                 "(upper case, '-' as '_', e.g. DURO_MAX_BODY_BYTES); flags win.\n\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        char env[64], left[64];
        env_name(flags[i].name, env, sizeof env);
        snprintf(left, sizeof left, "--%s", flags[i].name);
        fprintf(out, "  %-24s %s\n  %-24s [env %s%s%s]\n", left, flags[i].help, "", env,
                flags[i].def ? ", default " : "", flags[i].def ? flags[i].def : "");
    }
    fprintf(out, "  %-24s show this help\n", "--help");
    fprintf(out, "  %-24s print the version and exit\n", "--version");
}

void duro_config_limits(const duro_config *c, duro_limits *lim)
{
    duro_rl_defaults d = {30, 60000};
    duro_rl_parse_default(c->ratelimit_default, &d); /* checked at load */
    *lim = (duro_limits){
        .max_value_bytes = (size_t)c->max_value_bytes,
        .max_snapshot_bytes = (size_t)c->max_snapshot_bytes,
        .max_reply_bytes = (size_t)c->max_reply_bytes,
        .rl_limit = d.limit,
        .rl_window_ms = d.window_ms,
        .pwhash_min = c->pwhash_min,
        .max_blob_bytes = (size_t)c->max_blob_bytes,
        .sql_timeout_ms = c->sql_timeout_ms,
        .sql_max_rows = c->sql_max_rows,
    };
}
