/*
 * durod.c — the server: read the config, open the runtime, serve HTTP until
 * SIGTERM or SIGINT, then stop accepting, answer what is in flight, commit and
 * exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"
#include "runtime/runtime.h"
#include "transport/config.h"
#include "transport/http.h"

int main(int argc, char **argv)
{
    static duro_config cfg;
    char err[512];
    switch (duro_config_load(&cfg, argc, argv, err, sizeof err)) {
    case DURO_CONFIG_HELP:
        duro_config_usage(stdout);
        return 0;
    case DURO_CONFIG_ERROR:
        fprintf(stderr, "durod: %s\n", err);
        return 2;
    default:
        break;
    }
    duro_log_level = cfg.log_level;

    /* Signals are taken by sigwait() below; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    duro_runtime_config rc = {
        .data_dir = cfg.data_dir,
        .actors = (int)cfg.actors,
        .cache_bytes = (size_t)cfg.cache_mb << 20,
        .max_open_ns = (int)cfg.max_open_namespaces,
        .sync_full = cfg.sync_full,
        .ttl_sweep_ms = (int)cfg.ttl_sweep_ms,
        .max_mailbox = (size_t)cfg.max_mailbox,
    };
    duro_runtime *rt;
    int st = duro_runtime_open(&rc, &rt, err, sizeof err);
    if (st != DURO_OK) {
        fprintf(stderr, "durod: %s\n", err);
        return 1;
    }
    duro_http *http;
    st = duro_http_start(&cfg, rt, &http, err, sizeof err);
    if (st != DURO_OK) {
        fprintf(stderr, "durod: %s\n", err);
        duro_runtime_close(rt);
        return 1;
    }
    duro_log_info("durod listening on http://%s:%d, data in %s, %ld actors, %ld I/O threads%s",
                  cfg.listen_host, cfg.listen_port, cfg.data_dir, cfg.actors, cfg.io_threads,
                  cfg.sync_full ? "" : ", sync=normal");
    int sig = 0;
    sigwait(&sigs, &sig);
    duro_log_info("signal %d: stopping (finishing requests in flight)", sig);
    duro_http_stop(http);
    duro_runtime_close(rt);
    duro_http_free(http);
    duro_log_info("stopped cleanly");
    return 0;
}
