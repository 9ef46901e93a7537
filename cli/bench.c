/*
 * bench.c — `duro bench`, a load generator over the binary protocol.
 *
 * Each client is one thread with its own handle (one connection) that keeps up
 * to --pipeline requests in flight with duro_send/duro_recv. Closed loop by
 * default: a client sends a new request as soon as a reply comes back, and a
 * latency is the time from duro_send to the reply. With --rate R (ops/s over
 * all clients) it runs an open loop: every client owns a fixed schedule of
 * R/clients requests per second, a request is sent when it is due (if fewer
 * than --pipeline are in flight; otherwise as soon as one returns) and its
 * latency counts from when it was due, so a stall shows up in the percentiles
 * instead of slowing the schedule (no coordinated omission).
 *
 * Keys are k0..k(K-1), picked uniformly at random per request; values are
 * strings of --value-size bytes. Before a get or mixed run the keys are written
 * with kv.batch_set (unless --no-preload). --op ratelimit sends
 * ratelimit.check {key, limit: RL_LIMIT, windowMs: RL_WINDOW_MS} on the same
 * key space: a limit so high that every check is allowed and writes its
 * bucket, the rate limiter's full path per request. Latencies go into a
 * log-linear histogram per thread (1/64 relative precision), merged at the end.
 *
 * Bounded: sending stops at --duration (or after --requests), then each client
 * waits for its in-flight replies, each bounded by the handle's call timeout
 * (URL option timeout_ms, default 5000).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "duro/duro.h"

#define B_OK 0
#define B_USAGE 2
#define B_SERVER 3

#define HIST_SUB 64                     /* sub-buckets per power of two */
#define HIST_BUCKETS ((64 - 5) * HIST_SUB) /* covers every uint64 ns value */
#define PRELOAD_BATCH 1000
#define RL_LIMIT 1000000000 /* --op ratelimit: never denied */
#define RL_WINDOW_MS 60000

enum { OP_GET, OP_SET, OP_MIXED, OP_RATELIMIT };

typedef struct bench_cfg {
    const char *url, *ns, *token;
    int clients, pipeline, value_size, get_pct, preload, json;
    int64_t keys, max_requests;
    double duration_s, rate;
    int op;
} bench_cfg;

typedef struct pending { /* one in-flight request: open addressing, backward-shift delete */
    uint64_t id;
    uint64_t t_ns; /* send time (closed loop) or due time (open loop) */
    int used;
} pending;

typedef struct client {
    const bench_cfg *cfg;
    pthread_t thread;
    int index;
    duro *db;
    uint64_t rng;
    pending *table;
    size_t mask;
    uint64_t hist[HIST_BUCKETS];
    uint64_t ok, not_found, errors, max_ns;
    uint64_t end_ns;
    char *args; /* request buffer */
    size_t args_cap;
} client;

/* Shared state of one run. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int go;            /* under lock: the clients may start */
    uint64_t start_ns; /* written before go */
    _Atomic uint64_t stop_ns;
    atomic_int_fast64_t sent;
    const char *value;
} run = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL};

static uint64_t stop_at(void)
{
    return atomic_load_explicit(&run.stop_ns, memory_order_relaxed);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- latency histogram ---- */

static size_t hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    uint64_t top = v >> (msb - 6); /* 64..127 */
    return (size_t)(msb - 5) * HIST_SUB + (size_t)(top - HIST_SUB);
}

/* The middle of bucket i's range, in ns. */
static double hist_value(size_t i)
{
    if (i < 2 * HIST_SUB)
        return (double)i;
    int msb = (int)(i / HIST_SUB) + 5;
    uint64_t top = i % HIST_SUB + HIST_SUB;
    double lo = ldexp((double)top, msb - 6);
    return lo + ldexp(1.0, msb - 6) / 2;
}

static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

/* ---- in-flight table ---- */

static size_t slot_of(const client *c, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & c->mask;
}

static void pending_put(client *c, uint64_t id, uint64_t t)
{
    size_t i = slot_of(c, id);
    while (c->table[i].used)
        i = (i + 1) & c->mask;
    c->table[i] = (pending){id, t, 1};
}

/* Removes id; returns 1 and its time in *t if it was there. */
static int pending_take(client *c, uint64_t id, uint64_t *t)
{
    size_t i = slot_of(c, id);
    while (c->table[i].used && c->table[i].id != id)
        i = (i + 1) & c->mask;
    if (!c->table[i].used)
        return 0;
    *t = c->table[i].t_ns;
    c->table[i].used = 0;
    /* Backward-shift the run that follows so every probe chain stays intact. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & c->mask;
        if (!c->table[j].used)
            break;
        size_t home = slot_of(c, c->table[j].id);
        /* Move j to the hole i unless home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->table[i] = c->table[j];
            c->table[j].used = 0;
            i = j;
        }
    }
    return 1;
}

static void pending_clear(client *c)
{
    memset(c->table, 0, (c->mask + 1) * sizeof *c->table);
}

/* ---- request encoding (msgpack) ---- */

static size_t mp_str(char *p, const char *s, size_t n)
{
    size_t h;
    if (n < 32) {
        p[0] = (char)(0xa0 | n);
        h = 1;
    } else if (n < 256) {
        p[0] = (char)0xd9;
        p[1] = (char)n;
        h = 2;
    } else if (n < 65536) {
        p[0] = (char)0xda;
        p[1] = (char)(n >> 8);
        p[2] = (char)n;
        h = 3;
    } else {
        p[0] = (char)0xdb;
        p[1] = (char)(n >> 24);
        p[2] = (char)(n >> 16);
        p[3] = (char)(n >> 8);
        p[4] = (char)n;
        h = 5;
    }
    memcpy(p + h, s, n);
    return h + n;
}

/* {key: "kN", limit: RL_LIMIT, windowMs: RL_WINDOW_MS} into c->args (uint32
 * and uint16 in msgpack); returns its length. */
static size_t encode_rl_args(client *c, uint64_t k)
{
    char key[24];
    int kl = snprintf(key, sizeof key, "k%" PRIu64, k);
    unsigned char *p = (unsigned char *)c->args;
    size_t n = 0;
    p[n++] = 0x83;
    n += mp_str((char *)p + n, "key", 3);
    n += mp_str((char *)p + n, key, (size_t)kl);
    n += mp_str((char *)p + n, "limit", 5);
    p[n++] = 0xce;
    p[n++] = (unsigned char)(RL_LIMIT >> 24);
    p[n++] = (unsigned char)(RL_LIMIT >> 16);
    p[n++] = (unsigned char)(RL_LIMIT >> 8);
    p[n++] = (unsigned char)RL_LIMIT;
    n += mp_str((char *)p + n, "windowMs", 8);
    p[n++] = 0xcd;
    p[n++] = (unsigned char)(RL_WINDOW_MS >> 8);
    p[n++] = (unsigned char)RL_WINDOW_MS;
    return n;
}

/* {key: "kN"} or {key: "kN", value: "xxx..."} into c->args; returns its length. */
static size_t encode_args(client *c, int is_set, uint64_t k)
{
    char key[24];
    int kl = snprintf(key, sizeof key, "k%" PRIu64, k);
    char *p = c->args;
    size_t n = 0;
    p[n++] = (char)(is_set ? 0x82 : 0x81);
    n += mp_str(p + n, "key", 3);
    n += mp_str(p + n, key, (size_t)kl);
    if (is_set) {
        n += mp_str(p + n, "value", 5);
        n += mp_str(p + n, run.value, (size_t)c->cfg->value_size);
    }
    return n;
}

/* ---- one client ---- */

static int client_send(client *c, uint64_t t)
{
    const bench_cfg *cfg = c->cfg;
    int is_set = cfg->op == OP_SET ||
                 (cfg->op == OP_MIXED && (int)(xorshift(&c->rng) % 100) >= cfg->get_pct);
    uint64_t k = xorshift(&c->rng) % (uint64_t)cfg->keys;
    int is_rl = cfg->op == OP_RATELIMIT;
    size_t len = is_rl ? encode_rl_args(c, k) : encode_args(c, is_set, k);
    const char *op = is_rl ? "ratelimit.check" : is_set ? "kv.put" : "kv.get";
    uint64_t id = 0;
    int rc = duro_send(c->db, op, cfg->ns, c->args, len, &id);
    if (rc != DURO_OK) {
        c->errors++;
        return -1;
    }
    pending_put(c, id, t ? t : now_ns());
    return 0;
}

/* Takes one reply and records its latency. A request that failed without a
 * server reply (connection broken: DURO_IO with its id) counts as an error. A
 * call that returns no id at all (no reply within the handle's timeout_ms)
 * gives up on everything in flight: *inflight becomes 0, and replies that
 * still come for those ids later are ignored. */
static void client_recv(client *c, int *inflight)
{
    uint64_t id = 0, t0;
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    (void)duro_recv(c->db, &id, &status, &body, &len);
    uint64_t t1 = now_ns();
    duro_free(body);
    if (id != 0 && pending_take(c, id, &t0)) {
        (*inflight)--;
        uint64_t lat = t1 > t0 ? t1 - t0 : 0;
        c->hist[hist_index(lat)]++;
        if (lat > c->max_ns)
            c->max_ns = lat;
        if (status == 200)
            c->ok++;
        else if (status == 404)
            c->not_found++;
        else
            c->errors++;
        return;
    }
    if (id != 0) /* a late reply to a request already given up on */
        return;
    c->errors += (uint64_t)*inflight;
    *inflight = 0;
    pending_clear(c);
}

/* May this client send one more request? Counts it against --requests. */
static int may_send(client *c, uint64_t now)
{
    if (now >= stop_at())
        return 0;
    if (c->cfg->max_requests > 0 && atomic_fetch_add(&run.sent, 1) >= c->cfg->max_requests) {
        atomic_store_explicit(&run.stop_ns, 0, memory_order_relaxed); /* every client stops */
        return 0;
    }
    return 1;
}

static void *client_main(void *arg)
{
    client *c = arg;
    const bench_cfg *cfg = c->cfg;
    int inflight = 0, sending = 1;
    pthread_mutex_lock(&run.lock);
    while (!run.go)
        pthread_cond_wait(&run.cond, &run.lock);
    pthread_mutex_unlock(&run.lock);

    if (cfg->rate <= 0) { /* closed loop */
        while (sending || inflight > 0) {
            while (sending && inflight < cfg->pipeline) {
                if (!may_send(c, now_ns())) {
                    sending = 0;
                    break;
                }
                if (client_send(c, 0) == 0)
                    inflight++;
                else if (inflight == 0)
                    sleep_ns(1000000); /* server gone: do not spin */
            }
            if (inflight > 0)
                client_recv(c, &inflight);
            if (sending && now_ns() >= stop_at())
                sending = 0;
        }
    } else { /* open loop: a fixed schedule per client */
        uint64_t interval = (uint64_t)((double)cfg->clients * 1e9 / cfg->rate);
        if (interval == 0)
            interval = 1;
        uint64_t due = run.start_ns + interval * (uint64_t)c->index / (uint64_t)cfg->clients;
        while (sending || inflight > 0) {
            uint64_t now = now_ns();
            if (sending && now >= due && inflight < cfg->pipeline) {
                if (!may_send(c, now)) {
                    sending = 0;
                    continue;
                }
                if (client_send(c, due) == 0)
                    inflight++;
                due += interval;
                continue;
            }
            if (sending && now >= stop_at()) {
                sending = 0;
                continue;
            }
            if (inflight > 0)
                client_recv(c, &inflight);
            else if (sending) {
                uint64_t stop = stop_at();
                uint64_t until = due < stop ? due : stop;
                if (until > now)
                    sleep_ns(until - now);
            }
        }
    }
    c->end_ns = now_ns();
    return NULL;
}

/* ---- preload ---- */

static int preload(duro *db, const bench_cfg *cfg)
{
    size_t per = (size_t)cfg->value_size + 48;
    size_t cap = PRELOAD_BATCH * per + 16;
    char *buf = malloc(cap);
    if (!buf)
        return DURO_NOMEM;
    int rc = DURO_OK;
    for (int64_t k0 = 0; k0 < cfg->keys && rc == DURO_OK; k0 += PRELOAD_BATCH) {
        size_t n = 0;
        buf[n++] = '[';
        for (int64_t k = k0; k < cfg->keys && k < k0 + PRELOAD_BATCH; k++) {
            n += (size_t)snprintf(buf + n, cap - n, "%s{\"key\":\"k%" PRId64 "\",\"value\":\"",
                                  k == k0 ? "" : ",", k);
            memcpy(buf + n, run.value, (size_t)cfg->value_size);
            n += (size_t)cfg->value_size;
            buf[n++] = '"';
            buf[n++] = '}';
        }
        buf[n++] = ']';
        rc = duro_batch_set(db, cfg->ns, buf, n, NULL);
    }
    free(buf);
    return rc;
}

/* ---- options ---- */

static void bench_usage(FILE *f)
{
    fputs("usage: duro [-u URL] [-n NS] bench [OPTIONS]\n"
          "\n"
          "Load generator over the binary protocol (duro_send/duro_recv pipelining).\n"
          "\n"
          "  --clients N      client threads, one connection each        [50]\n"
          "  --pipeline P     requests in flight per client (1..4096)    [1]\n"
          "  --op OP          get | set | mixed | ratelimit              [get]\n"
          "                   ratelimit: ratelimit.check of a key, limit 1e9 per 60 s\n"
          "  --get-pct N      share of gets in mixed, percent            [90]\n"
          "  --value-size B   bytes per value (a string)                 [100]\n"
          "  --keys K         key space k0..k(K-1), uniform random       [10000]\n"
          "  --duration S     seconds of sending (fractions allowed)     [5]\n"
          "  --requests N     stop after N requests in all (0: no limit) [0]\n"
          "  --rate R         open loop at R ops/s in all; latency from when each\n"
          "                   request was due (0: closed loop)          [0]\n"
          "  --no-preload     do not write the keys before a get/mixed run\n"
          "  --json           print the result as one JSON object\n"
          "  -u URL, -n NS    as for every command; the namespace defaults to \"bench\"\n"
          "  --token T        as for every command (or env DURO_TOKEN)\n"
          "\n"
          "Prints ops/s and p50/p99/p999/max latency in ms. Exit status 0 after a run,\n"
          "2 for bad options, 3 if the server cannot be reached or no request succeeded.\n"
          "\n"
          "Example:\n"
          "  duro bench --clients 50 --pipeline 16 --op get --duration 5\n",
          f);
}

static int num_opt(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = v ? strtod(v, &end) : 0;
    if (!v || !*v || errno || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "duro: bench: %s wants a number in %g..%g, not '%s'\n", name, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv, bench_cfg *cfg, int *help)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = '\0';

        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            *help = 1;
            continue;
        }
        if (!strcmp(name, "--no-preload")) {
            cfg->preload = 0;
            continue;
        }
        if (!strcmp(name, "--json")) {
            cfg->json = 1;
            continue;
        }
        static const char *const valued[] = {"--clients", "--pipeline", "--op",     "--get-pct",
                                             "--value-size", "--keys", "--duration",
                                             "--requests", "--rate", "-u", "--url", "-n",
                                             "--ns", "--token", NULL};
        int known = 0;
        for (const char *const *v = valued; *v; v++)
            known |= !strcmp(name, *v);
        if (!known) {
            fprintf(stderr, "duro: bench: unknown option '%s'\n", a);
            return -1;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "duro: bench: %s needs a value\n", name);
            return -1;
        }
        double d;
        if (!strcmp(name, "-u") || !strcmp(name, "--url")) {
            cfg->url = val;
        } else if (!strcmp(name, "--token")) {
            cfg->token = val;
        } else if (!strcmp(name, "-n") || !strcmp(name, "--ns")) {
            cfg->ns = val;
        } else if (!strcmp(name, "--op")) {
            if (!strcmp(val, "get"))
                cfg->op = OP_GET;
            else if (!strcmp(val, "set") || !strcmp(val, "put"))
                cfg->op = OP_SET;
            else if (!strcmp(val, "mixed"))
                cfg->op = OP_MIXED;
            else if (!strcmp(val, "ratelimit"))
                cfg->op = OP_RATELIMIT;
            else {
                fprintf(stderr, "duro: bench: --op is get, set, mixed or ratelimit, not '%s'\n",
                        val);
                return -1;
            }
        } else if (!strcmp(name, "--clients")) {
            if (num_opt(name, val, 1, 1024, &d) || d != floor(d))
                return -1;
            cfg->clients = (int)d;
        } else if (!strcmp(name, "--pipeline")) {
            if (num_opt(name, val, 1, 4096, &d) || d != floor(d))
                return -1;
            cfg->pipeline = (int)d;
        } else if (!strcmp(name, "--get-pct")) {
            if (num_opt(name, val, 0, 100, &d) || d != floor(d))
                return -1;
            cfg->get_pct = (int)d;
        } else if (!strcmp(name, "--value-size")) {
            if (num_opt(name, val, 1, 1 << 20, &d) || d != floor(d))
                return -1;
            cfg->value_size = (int)d;
        } else if (!strcmp(name, "--keys")) {
            if (num_opt(name, val, 1, 1e9, &d) || d != floor(d))
                return -1;
            cfg->keys = (int64_t)d;
        } else if (!strcmp(name, "--duration")) {
            if (num_opt(name, val, 0.01, 3600, &d))
                return -1;
            cfg->duration_s = d;
        } else if (!strcmp(name, "--requests")) {
            if (num_opt(name, val, 0, 1e12, &d) || d != floor(d))
                return -1;
            cfg->max_requests = (int64_t)d;
        } else if (!strcmp(name, "--rate")) {
            if (num_opt(name, val, 0, 1e8, &d))
                return -1;
            cfg->rate = d;
        }
    }
    return 0;
}

static const char *op_name(int op)
{
    return op == OP_GET ? "get" : op == OP_SET ? "set" : op == OP_MIXED ? "mixed" : "ratelimit";
}

int duro_cli_bench(int argc, char **argv, const char *url, const char *ns, const char *token)
{
    bench_cfg cfg = {
        .url = url,
        .token = token,
        .ns = ns ? ns : "bench",
        .clients = 50,
        .pipeline = 1,
        .value_size = 100,
        .get_pct = 90,
        .preload = 1,
        .keys = 10000,
        .duration_s = 5,
        .op = OP_GET,
    };
    int help = 0;
    if (parse_args(argc, argv, &cfg, &help) != 0) {
        fputs("Try 'duro bench --help'.\n", stderr);
        return B_USAGE;
    }
    if (help) {
        bench_usage(stdout);
        return B_OK;
    }
    if (strncmp(cfg.url, "file:", 5) == 0 && cfg.clients > 1) {
        fprintf(stderr, "duro: bench: an embedded (file://) run takes --clients 1: a data "
                        "directory can be opened once\n");
        return B_USAGE;
    }

    char *value = malloc((size_t)cfg.value_size + 1);
    client *cl = calloc((size_t)cfg.clients, sizeof *cl);
    if (!value || !cl) {
        free(value);
        free(cl);
        fputs("duro: bench: out of memory\n", stderr);
        return B_SERVER;
    }
    for (int i = 0; i < cfg.value_size; i++)
        value[i] = (char)('a' + i % 26);
    value[cfg.value_size] = '\0';
    run.value = value;
    atomic_store(&run.sent, 0);

    int ex = B_OK, opened = 0;
    size_t cap = 16;
    while (cap < 2 * (size_t)cfg.pipeline)
        cap *= 2;
    for (int i = 0; i < cfg.clients; i++, opened++) {
        client *c = &cl[i];
        c->cfg = &cfg;
        c->index = i;
        c->rng = 0x853c49e6748fea9bull ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull);
        c->mask = cap - 1;
        c->table = calloc(cap, sizeof *c->table);
        c->args_cap = (size_t)cfg.value_size + 64;
        c->args = malloc(c->args_cap);
        if (!c->table || !c->args) {
            fputs("duro: bench: out of memory\n", stderr);
            ex = B_SERVER;
            opened++;
            break;
        }
        duro_open_options oo = {.token = cfg.token};
        int rc = duro_open_ex(cfg.url, &oo, &c->db);
        if (rc != DURO_OK) {
            const char *d = duro_last_error();
            char shown[256];
            fprintf(stderr, "duro: bench: cannot open %s: %s%s%s\n",
                    duro_cli_url_shown(cfg.url, shown, sizeof shown), duro_errstr(rc),
                    d && *d ? ": " : "", d && *d ? d : "");
            ex = rc == DURO_BAD_REQUEST ? B_USAGE : B_SERVER;
            opened++;
            break;
        }
    }

    if (ex == B_OK && cfg.preload && (cfg.op == OP_GET || cfg.op == OP_MIXED)) {
        uint64_t t = now_ns();
        int rc = preload(cl[0].db, &cfg);
        if (rc != DURO_OK) {
            const char *d = duro_last_error();
            fprintf(stderr, "duro: bench: preload failed: %s%s%s\n", duro_errstr(rc),
                    d && *d ? ": " : "", d && *d ? d : "");
            ex = B_SERVER;
        } else if (!cfg.json) {
            printf("preloaded %" PRId64 " keys in %.2f s\n", cfg.keys,
                   (double)(now_ns() - t) / 1e9);
        }
    }

    int started = 0;
    if (ex == B_OK) {
        for (; started < cfg.clients; started++) {
            if (pthread_create(&cl[started].thread, NULL, client_main, &cl[started]) != 0) {
                fprintf(stderr, "duro: bench: cannot start thread %d\n", started);
                ex = B_SERVER;
                break;
            }
        }
        /* Start every client at once (or, after a failure, let them stop at once). */
        pthread_mutex_lock(&run.lock);
        run.start_ns = now_ns();
        atomic_store(&run.stop_ns,
                     ex == B_OK ? run.start_ns + (uint64_t)(cfg.duration_s * 1e9) : 0);
        run.go = 1;
        pthread_cond_broadcast(&run.cond);
        pthread_mutex_unlock(&run.lock);
        for (int i = 0; i < started; i++)
            pthread_join(cl[i].thread, NULL);
    }
    if (ex == B_OK) {

        uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist);
        uint64_t ok = 0, nf = 0, errs = 0, maxns = 0, end = run.start_ns;
        for (int i = 0; i < cfg.clients; i++) {
            for (size_t b = 0; hist && b < HIST_BUCKETS; b++)
                hist[b] += cl[i].hist[b];
            ok += cl[i].ok;
            nf += cl[i].not_found;
            errs += cl[i].errors;
            if (cl[i].max_ns > maxns)
                maxns = cl[i].max_ns;
            if (cl[i].end_ns > end)
                end = cl[i].end_ns;
        }
        uint64_t done = ok + nf;
        uint64_t total = 0;
        for (size_t b = 0; hist && b < HIST_BUCKETS; b++)
            total += hist[b];
        double secs = (double)(end - run.start_ns) / 1e9;
        double ops = secs > 0 ? (double)done / secs : 0;
        double p50 = hist ? hist_quantile(hist, total, 0.50) / 1e6 : 0;
        double p99 = hist ? hist_quantile(hist, total, 0.99) / 1e6 : 0;
        double p999 = hist ? hist_quantile(hist, total, 0.999) / 1e6 : 0;
        double mx = (double)maxns / 1e6;
        free(hist);
        if (cfg.json) {
            printf("{\"op\":\"%s\",\"clients\":%d,\"pipeline\":%d,\"value_size\":%d,"
                   "\"keys\":%" PRId64 ",\"rate\":%.0f,\"seconds\":%.3f,\"ops\":%" PRIu64
                   ",\"not_found\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"ops_per_sec\":%.0f,"
                   "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}\n",
                   op_name(cfg.op), cfg.clients, cfg.pipeline, cfg.value_size, cfg.keys, cfg.rate,
                   secs, done, nf, errs, ops, p50, p99, p999, mx);
        } else {
            char shown_url[256];
            printf("op %s, %d clients, pipeline %d, %d-byte values, %" PRId64 " keys, %s, %s\n",
                   op_name(cfg.op), cfg.clients, cfg.pipeline, cfg.value_size, cfg.keys,
                   cfg.rate > 0 ? "open loop" : "closed loop",
                   duro_cli_url_shown(cfg.url, shown_url, sizeof shown_url));
            if (cfg.rate > 0)
                printf("target rate: %.0f ops/s\n", cfg.rate);
            printf("requests: %" PRIu64 " in %.2f s (not found %" PRIu64 ", errors %" PRIu64
                   ")\n",
                   done, secs, nf, errs);
            printf("ops/s: %.0f\n", ops);
            printf("latency ms: p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n", p50, p99, p999, mx);
        }
        if (done == 0) {
            fputs("duro: bench: no request succeeded\n", stderr);
            ex = B_SERVER;
        } else if (errs > 0) {
            fprintf(stderr, "duro: bench: %" PRIu64 " requests failed\n", errs);
        }
    }

    for (int i = 0; i < opened && i < cfg.clients; i++) {
        duro_close(cl[i].db);
        free(cl[i].table);
        free(cl[i].args);
    }
    free(cl);
    free(value);
    return ex;
}
