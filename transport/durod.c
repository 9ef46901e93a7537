/*
 * durod.c — the server: read the config, open the runtime, serve HTTP until
 * SIGTERM or SIGINT, then stop accepting, answer what is in flight, commit and
 * exit 0.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sodium.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro/version.h"
#include "common/frame.h"
#include "common/log.h"
#include "objects/object.h"
#include "runtime/runtime.h"
#include "transport/access.h"
#include "transport/accesslog.h"
#include "transport/config.h"
#include "transport/http.h"

/* 1 for 127.0.0.0/8, ::1 and "localhost". */
static int is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && n < sizeof h && host[0] == '[' && host[n - 1] == ']') {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
        host = h;
    }
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* File descriptors open right now. */
static long fds_in_use(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 16;
    long n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* Raises the soft limit on file descriptors to the hard one, then fits the
 * two things that take fds by the client's doing into what is left after a
 * reserve (registry, lock, event loops, listeners, refused accepts, slack):
 * open namespace files (3 fds each: the database, its WAL and its shared
 * memory file) get at most half, connections the rest. Flags are only ever
 * lowered. Logs what it chose. 0, or -1 if the limit is too low to run. */
static int fit_fd_limits(duro_config *cfg, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20)
                                                                                : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    long limit = rl.rlim_cur == RLIM_INFINITY ? (1L << 20) : (long)rl.rlim_cur;
    if (!cfg->io_threads) { /* not given: one per core up to 4, as many as the limit allows */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->io_threads = cores > 4 ? 4 : cores > 1 ? cores : 1;
        while (cfg->io_threads > 1 && limit - (fds_in_use() + 35 + 10 * cfg->io_threads +
                                               5 * cfg->actors) < 0)
            cfg->io_threads--;
    }
    long reserve = fds_in_use() + 32 + 3 + 8 * cfg->io_threads + 2 * cfg->actors;
    long avail = limit - reserve;
    long need = 3 * cfg->actors + 2 * cfg->io_threads;
    if (avail < need) {
        snprintf(err, errlen,
                 "the file descriptor limit (%ld) is too low: durod needs at least %ld with"
                 " --actors %ld --io-threads %ld (raise ulimit -n)",
                 limit, reserve + need, cfg->actors, cfg->io_threads);
        return -1;
    }
    long ns = cfg->max_open_namespaces, conns = cfg->max_connections;
    if (3 * ns + conns > avail) {
        if (3 * ns > avail / 2)
            ns = avail / 2 / 3;
        if (ns < cfg->actors)
            ns = cfg->actors;
        if (conns > avail - 3 * ns)
            conns = avail - 3 * ns;
        if (conns < cfg->io_threads)
            conns = cfg->io_threads;
        duro_log_warn("file descriptor limit %ld: lowering --max-open-namespaces %ld -> %ld and"
                      " --max-connections %ld -> %ld to fit (raise ulimit -n to keep them)",
                      limit, cfg->max_open_namespaces, ns, cfg->max_connections, conns);
        cfg->max_open_namespaces = ns;
        cfg->max_connections = conns;
    }
    char raised[64] = "";
    if ((long)was != limit)
        snprintf(raised, sizeof raised, " (raised from %ld)", (long)was);
    duro_log_info("file descriptors: limit %ld%s; up to %ld open namespace files (3 fds each),"
                  " %ld connections, %ld reserved",
                  limit, raised, cfg->max_open_namespaces, cfg->max_connections, reserve);
    return 0;
}

int main(int argc, char **argv)
{
    static duro_config cfg;
    char err[512];
    switch (duro_config_load(&cfg, argc, argv, err, sizeof err)) {
    case DURO_CONFIG_HELP:
        duro_config_usage(stdout);
        return 0;
    case DURO_CONFIG_VERSION:
        printf("durod " DURO_VERSION_STRING " (binary protocol %d)\n", DURO_PROTOCOL_VERSION);
        return 0;
    case DURO_CONFIG_ERROR:
        fprintf(stderr, "durod: %s\n", err);
        return 2;
    default:
        break;
    }
    duro_log_level = cfg.log_level;
    duro_log_json = cfg.log_json;
    if (cfg.access_log[0] && duro_accesslog_open(cfg.access_log) != 0) {
        fprintf(stderr, "durod: --access-log %s: %s\n", cfg.access_log, strerror(errno));
        return 2;
    }
    if (cfg.max_reply_bytes < cfg.max_value_bytes + 1024)
        duro_log_warn("--max-reply-bytes %ld is not above --max-value-bytes %ld: a value near the"
                      " size limit can be written but not read back (413)",
                      cfg.max_reply_bytes, cfg.max_value_bytes);
    if (cfg.errinj)
        duro_log_warn("--errinj: fault injection is on (/_errinj); for tests only");
    if (fit_fd_limits(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "durod: %s\n", err);
        return 2;
    }
    duro_access *access;
    if (duro_access_new(cfg.auth_token, cfg.jwt_secret, 30, &access, err, sizeof err) != DURO_OK) {
        fprintf(stderr, "durod: %s\n", err);
        return 2;
    }
    sodium_memzero(cfg.auth_token, sizeof cfg.auth_token);
    sodium_memzero(cfg.jwt_secret, sizeof cfg.jwt_secret);
    if (!duro_access_enabled(access) && !cfg.insecure && !is_loopback(cfg.listen_host)) {
        duro_access_free(access);
        fprintf(stderr, "durod: refusing to listen on %s without --auth-token or --jwt-secret"
                        " (anyone could read and write every namespace); pass --insecure to"
                        " do it anyway\n",
                cfg.listen_host);
        return 2;
    }

    /* Signals are taken by sigwait() below; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP); /* the log rotation signal: never a stop */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    duro_runtime_config rc = {
        .data_dir = cfg.data_dir,
        .kinds = &duro_object_kinds,
        .actors = (int)cfg.actors,
        .cache_bytes = (size_t)cfg.cache_mb << 20,
        .max_open_ns = (int)cfg.max_open_namespaces,
        .sync_full = cfg.sync_full,
        .no_commit_log = cfg.commit_log ? 0 : 1,
        .ttl_sweep_ms = (int)cfg.ttl_sweep_ms,
        .max_mailbox = (size_t)cfg.max_mailbox,
        .max_reply_bytes = (size_t)cfg.max_reply_bytes,
    };
    duro_runtime *rt;
    int st = duro_runtime_open(&rc, &rt, err, sizeof err);
    if (st != DURO_OK) {
        fprintf(stderr, "durod: %s\n", err);
        duro_access_free(access);
        return 1;
    }
    duro_http *http;
    st = duro_http_start(&cfg, rt, access, &http, err, sizeof err);
    if (st != DURO_OK) {
        fprintf(stderr, "durod: %s\n", err);
        duro_runtime_close(rt);
        duro_access_free(access);
        return 1;
    }
    char rpc[32] = "off";
    if (cfg.rpc_port)
        snprintf(rpc, sizeof rpc, "port %ld", cfg.rpc_port);
    duro_log_info("durod " DURO_VERSION_STRING " listening on http://%s:%d (binary protocol: %s),"
                  " data in %s, %ld"
                  " actors, %ld I/O threads%s%s",
                  cfg.listen_host, cfg.listen_port, rpc, cfg.data_dir, cfg.actors,
                  cfg.io_threads, cfg.sync_full ? "" : ", sync=normal",
                  duro_access_enabled(access) ? ", access control on" : "");
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        if (!duro_accesslog_on())
            duro_log_info("SIGHUP: nothing to reopen (the log is stderr); still running");
        else if (duro_accesslog_reopen() != 0)
            duro_log_error("SIGHUP: cannot reopen --access-log %s: %s (still writing the old"
                           " file)", cfg.access_log, strerror(errno));
        else
            duro_log_info("SIGHUP: --access-log reopened");
    }
    duro_log_info("signal %d: stopping (finishing requests in flight)", sig);
    duro_http_stop(http);
    duro_runtime_close(rt);
    duro_http_free(http);
    duro_access_free(access);
    duro_accesslog_close();
    duro_log_info("stopped cleanly");
    return 0;
}
