/*
 * config.h — durod's settings: flags, the DURO_* environment, defaults.
 *
 * Every flag --some-name VALUE (or --some-name=VALUE) is also read from the
 * environment variable DURO_SOME_NAME; a flag wins over the environment.
 * Unknown flags and bad values are errors (durod exits 2).
 */
#ifndef DURO_CONFIG_H
#define DURO_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "runtime/kind.h"

typedef struct duro_config {
    char listen_host[256];
    int listen_port;
    long rpc_port;
    char data_dir[3000];
    long actors;
    long io_threads; /* 0: not given (durod picks: cores, at most 4, fewer under a low fd limit) */
    long max_body_bytes;
    long max_blob_bytes;
    long max_value_bytes;
    long max_snapshot_bytes;
    long max_reply_bytes;
    long max_header_bytes;
    long cache_mb;
    long max_open_namespaces;
    long max_connections;
    long max_pending_bytes;
    long max_pipeline;
    long max_mailbox;
    long idle_timeout_ms;
    long request_timeout_ms;
    long ttl_sweep_ms;
    long sql_timeout_ms; /* a SQL op's time budget */
    long sql_max_rows;   /* rows one SQL statement may return */
    char ratelimit_default[64];
    char cors_origin[512]; /* "" = automatic */
    char auth_token[512];  /* "" = none */
    char jwt_secret[512];  /* "" = none */
    long commit_log;
    long insecure;
    long pwhash_min;
    long errinj; /* serve the fault injection route /_errinj (tests only) */
    int log_level;
    int log_json;           /* --log-format json */
    char access_log[3000];  /* --access-log: "" none, "-" stderr, else a file */
    int sync_full;
} duro_config;

enum { DURO_CONFIG_OK = 0, DURO_CONFIG_HELP = 1, DURO_CONFIG_VERSION = 2, DURO_CONFIG_ERROR = -1 };

/* Fills c from defaults, then the environment, then argv. Returns
 * DURO_CONFIG_OK, DURO_CONFIG_HELP (--help was given), or DURO_CONFIG_ERROR
 * with a message in err. */
int duro_config_load(duro_config *c, int argc, char **argv, char *err, size_t errlen);

/* Prints the usage text, one line per flag with its default. */
void duro_config_usage(FILE *out);

/* The limits and defaults the request decoders apply (runtime/kind.h), from
 * --max-value-bytes, --max-snapshot-bytes, --max-reply-bytes,
 * --sql-timeout-ms, --sql-max-rows and
 * --ratelimit-default. */
void duro_config_limits(const duro_config *c, duro_limits *lim);

#endif
