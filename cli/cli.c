/*
 * cli.c — `duro`, the command-line client (like redis-cli / etcdctl).
 *
 *   duro [-u URL] [-n NS] COMMAND [ARGS] [OPTIONS]
 *
 * Talks to duro through libduro only (include/duro/duro.h), so the same
 * commands work against a server (duro://host:port) and embedded over a data
 * directory (file:///path). Results are JSON on stdout, one document per
 * command; diagnostics go to stderr. Exit codes are for scripts:
 *
 *   0 ok   1 not found   2 usage or invalid input   3 server or connection
 *   error   4 precondition failed (a stale --if-match or --if-none-match)
 *   5 rate limited (`duro ratelimit check` was denied; the result is printed)
 *
 * `duro ratelimit ...`, `duro session ...`, `duro snapshot ...` and `duro
 * resources ...` are command groups: the word after the group picks the
 * subcommand (`duro ratelimit check KEY`).
 *
 * `duro bench` is the load generator in bench.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro/duro.h"

#define DEFAULT_URL "duro://127.0.0.1:7070"
#define EXIT_OK 0
#define EXIT_NOT_FOUND 1
#define EXIT_USAGE 2
#define EXIT_SERVER 3
#define EXIT_PRECONDITION 4
#define EXIT_DENIED 5
#define MAX_OPTS 16
#define LIST_PAGE 10000 /* the server's largest page */

/* bench.c: runs `duro bench`; args are what follows "bench" (global options
 * already removed); ns is NULL when -n was not given. Returns an exit code. */
int duro_cli_bench(int argc, char **argv, const char *url, const char *ns);

/* ---- parsed command line ---- */

struct command;

typedef struct ctx {
    const char *url, *ns;
    duro *db;
    const char *cmd; /* the command's name, for messages ("get", "session create") */
    const struct command *def;   /* the command (NULL before it is known) */
    const struct command *group; /* its group (ratelimit, session), or NULL */
    char cmdname[64];
    int npos;
    char **pos;                 /* positional arguments of the command */
    const char *opt_name[MAX_OPTS]; /* "--ttl" → value ("" for a flag) */
    const char *opt_val[MAX_OPTS];
    int nopt;
} ctx;

typedef struct command {
    const char *name;
    int (*run)(ctx *c);
    const char *args;        /* usage after the name */
    const char *summary;     /* one line */
    const char *const *opts; /* allowed options; a trailing '=' takes a value */
    int min_pos, max_pos;    /* max_pos -1: no limit */
    const struct command *subs; /* a group: its subcommands (run is NULL) */
    size_t nsubs;
} command;

static const command *find_command(const char *name);
static const command *find_sub(const command *group, const char *name);
static void command_usage(FILE *f, const command *group, const command *cmd);

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
    va_list ap;
    fputs("duro: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Maps a libduro status to the exit code of the command. */
static int exit_for(int rc)
{
    switch (rc) {
    case DURO_OK:
        return EXIT_OK;
    case DURO_NOT_FOUND:
        return EXIT_NOT_FOUND;
    case DURO_BAD_REQUEST:
    case DURO_PAYLOAD_TOO_LARGE:
        return EXIT_USAGE;
    case DURO_PRECONDITION_FAILED:
        return EXIT_PRECONDITION;
    default:
        return EXIT_SERVER;
    }
}

/* Reports a failed libduro call on stderr and returns its exit code. */
static int fail(ctx *c, const char *what, int rc)
{
    const char *detail = duro_last_error();
    const char *sep = what && *what ? " " : "";
    if (!what)
        what = "";
    if (detail && *detail && strcmp(detail, duro_errstr(rc)) != 0)
        errmsg("%s%s%s: %s (%s)", c->cmd, sep, what, duro_errstr(rc), detail);
    else
        errmsg("%s%s%s: %s", c->cmd, sep, what, duro_errstr(rc));
    return exit_for(rc);
}

static int usage_error(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(ctx *c, const char *fmt, ...)
{
    va_list ap;
    fputs("duro: ", stderr);
    if (c && c->cmd)
        fprintf(stderr, "%s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c && c->def)
        command_usage(stderr, c->group, c->def);
    else
        fputs("Try 'duro --help'.\n", stderr);
    return EXIT_USAGE;
}

/* The value of option name ("--ttl"), "" for a flag that was given, NULL if absent. */
static const char *opt(const ctx *c, const char *name)
{
    for (int i = c->nopt - 1; i >= 0; i--)
        if (strcmp(c->opt_name[i], name) == 0)
            return c->opt_val[i];
    return NULL;
}

/* Parses a decimal integer in [lo, hi] into *out; 0 on success. */
static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int int_opt(ctx *c, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = opt(c, name);
    if (!v)
        return 0;
    if (parse_i64(v, lo, hi, out) != 0) {
        usage_error(c, "%s wants an integer in %" PRId64 "..%" PRId64 ", not '%s'", name, lo, hi,
                    v);
        return -1;
    }
    return 0;
}

/* Reads all of stdin into a malloc'd NUL-terminated buffer; NULL on error. */
static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (cap - n < 2) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The JSON text of an argument: the argument itself, or stdin for "-".
 * *owned is set when the caller must free the result. */
static const char *json_arg(ctx *c, const char *arg, size_t *len, char **owned)
{
    *owned = NULL;
    if (strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        return arg;
    }
    *owned = read_stdin(len);
    if (!*owned)
        errmsg("%s: cannot read stdin: %s", c->cmd, strerror(errno ? errno : EIO));
    return *owned;
}

/* The JSON array in the argument arg (or "-": stdin), given bare or as the
 * field `field` of an object, as compact text (malloc'd) in *body and its
 * element count in *count. EXIT_OK, or the exit code after a message
 * (`expect` describes the array). */
static int json_array_arg(ctx *c, const char *arg, const char *field, const char *expect,
                          char **body, size_t *count)
{
    size_t len;
    char *owned;
    const char *text = json_arg(c, arg, &len, &owned);
    if (!text)
        return EXIT_USAGE;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    free(owned);
    if (!doc)
        return usage_error(c, "invalid JSON (%s at line %d column %d)", jerr.text, jerr.line,
                           jerr.column);
    json_t *arr = json_is_object(doc) ? json_object_get(doc, field) : doc;
    if (!json_is_array(arr)) {
        json_decref(doc);
        return usage_error(c, "expected a JSON array %s", expect);
    }
    *count = json_array_size(arr);
    *body = json_dumps(arr, JSON_COMPACT);
    json_decref(doc);
    if (!*body) {
        errmsg("%s: out of memory", c->cmd);
        return EXIT_SERVER;
    }
    return EXIT_OK;
}

static int open_db(ctx *c)
{
    if (c->db)
        return DURO_OK;
    int rc = duro_open(c->url, &c->db);
    if (rc != DURO_OK) {
        const char *detail = duro_last_error();
        errmsg("cannot open %s: %s%s%s%s", c->url, duro_errstr(rc), detail && *detail ? " (" : "",
               detail && *detail ? detail : "", detail && *detail ? ")" : "");
    }
    return rc;
}

/* Prints text[0..len) and a newline on stdout. */
static void out(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
}

/* Prints a jansson value compactly on stdout. */
static int out_json(ctx *c, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        errmsg("%s: out of memory", c->cmd);
        return EXIT_SERVER;
    }
    out(s, strlen(s));
    free(s);
    return EXIT_OK;
}

/* ---- commands ---- */

static int cmd_get(ctx *c)
{
    const char *key = c->pos[0];
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    if (opt(c, "--meta")) {
        duro_meta m;
        memset(&m, 0, sizeof m);
        rc = duro_get_meta(c->db, c->ns, key, &m);
        if (rc != DURO_OK)
            return fail(c, key, rc);
        char expires[32] = "null";
        if (m.expires_at > 0)
            snprintf(expires, sizeof expires, "%" PRId64, m.expires_at);
        printf("{\"value\":%.*s,\"metadata\":%s,\"version\":%" PRId64 ",\"createdAt\":%" PRId64
               ",\"updatedAt\":%" PRId64 ",\"expiresAt\":%s}\n",
               (int)m.value_len, m.value ? m.value : "null", m.metadata ? m.metadata : "null",
               m.version, m.created_at, m.updated_at, expires);
        duro_meta_free(&m);
        return EXIT_OK;
    }
    char *json = NULL;
    size_t len = 0;
    rc = duro_get(c->db, c->ns, key, &json, &len);
    if (rc != DURO_OK)
        return fail(c, key, rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_put(ctx *c)
{
    const char *key = c->pos[0];
    duro_put_opts po;
    memset(&po, 0, sizeof po);
    if (int_opt(c, "--ttl", 1, INT64_MAX, &po.ttl_ms) || int_opt(c, "--if-match", 1, INT64_MAX,
                                                                   &po.if_match))
        return EXIT_USAGE;
    po.if_none_match = opt(c, "--if-none-match") != NULL;
    po.metadata = opt(c, "--metadata");
    if (po.if_match && po.if_none_match)
        return usage_error(c, "--if-match and --if-none-match exclude each other");
    size_t len;
    char *owned;
    const char *json = json_arg(c, c->pos[1], &len, &owned);
    if (!json)
        return EXIT_USAGE;
    int rc = open_db(c);
    int64_t version = 0;
    if (rc == DURO_OK)
        rc = duro_put_ex(c->db, c->ns, key, json, len, &po, &version);
    free(owned);
    if (rc != DURO_OK)
        return c->db ? fail(c, key, rc) : exit_for(rc);
    printf("{\"version\":%" PRId64 "}\n", version);
    return EXIT_OK;
}

static int cmd_del(ctx *c)
{
    const char *key = c->pos[0];
    int64_t if_match = 0;
    if (int_opt(c, "--if-match", 1, INT64_MAX, &if_match))
        return EXIT_USAGE;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int deleted = 0;
    rc = duro_delete_ex(c->db, c->ns, key, if_match, &deleted);
    if (rc != DURO_OK)
        return fail(c, key, rc);
    printf("{\"deleted\":%s}\n", deleted ? "true" : "false");
    return EXIT_OK;
}

/* Fills list options from the command line; -1 on a usage error. */
static int list_opts(ctx *c, duro_list_opts *lo)
{
    memset(lo, 0, sizeof *lo);
    lo->prefix = opt(c, "--prefix");
    lo->start = opt(c, "--start");
    lo->start_after = opt(c, "--start-after");
    lo->end = opt(c, "--end");
    lo->cursor = opt(c, "--cursor");
    lo->reverse = opt(c, "--reverse") != NULL;
    lo->values = opt(c, "--values") != NULL;
    int64_t limit = 0;
    if (int_opt(c, "--limit", 1, 10000, &limit))
        return -1;
    lo->limit = (int)limit;
    return 0;
}

/* Fetches one page and parses it; returns a libduro status. */
static int list_page(ctx *c, const duro_list_opts *lo, json_t **page)
{
    char *json = NULL;
    size_t len = 0;
    *page = NULL;
    int rc = duro_list(c->db, c->ns, lo, &json, &len);
    if (rc != DURO_OK)
        return rc;
    json_error_t jerr;
    *page = json_loadb(json, len, 0, &jerr);
    duro_free(json);
    if (!*page || !json_is_array(json_object_get(*page, "keys"))) {
        errmsg("%s: the list reply is not a {keys, cursor, list_complete} object", c->cmd);
        json_decref(*page);
        *page = NULL;
        return DURO_INTERNAL;
    }
    return DURO_OK;
}

/* Walks every page from lo; calls each(page, arg) per page. Returns a status. */
static int list_all(ctx *c, duro_list_opts *lo, int (*each)(json_t *page, void *arg), void *arg)
{
    char *cursor = NULL;
    int rc;
    for (;;) {
        json_t *page;
        lo->cursor = cursor;
        rc = list_page(c, lo, &page);
        if (rc != DURO_OK)
            break;
        rc = each(page, arg);
        json_t *jc = json_object_get(page, "cursor");
        int complete = json_is_true(json_object_get(page, "list_complete"));
        free(cursor);
        cursor = NULL;
        if (rc == DURO_OK && !complete) {
            if (!json_is_string(jc)) {
                errmsg("%s: page is not complete but has no cursor", c->cmd);
                rc = DURO_INTERNAL;
            } else if (!(cursor = strdup(json_string_value(jc)))) {
                rc = DURO_NOMEM;
            }
        }
        json_decref(page);
        if (rc != DURO_OK || complete)
            break;
    }
    free(cursor);
    lo->cursor = NULL;
    return rc;
}

static int append_keys(json_t *page, void *arg)
{
    return json_array_extend((json_t *)arg, json_object_get(page, "keys")) == 0 ? DURO_OK
                                                                                : DURO_NOMEM;
}

static int count_keys(json_t *page, void *arg)
{
    *(int64_t *)arg += (int64_t)json_array_size(json_object_get(page, "keys"));
    return DURO_OK;
}

static int cmd_ls(ctx *c)
{
    duro_list_opts lo;
    if (list_opts(c, &lo))
        return EXIT_USAGE;
    int all = opt(c, "--all") != NULL;
    if (all && lo.cursor)
        return usage_error(c, "--all and --cursor exclude each other");
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    if (!all) {
        char *json = NULL;
        size_t len = 0;
        rc = duro_list(c->db, c->ns, &lo, &json, &len);
        if (rc != DURO_OK)
            return fail(c, "", rc);
        out(json, len);
        duro_free(json);
        return EXIT_OK;
    }
    json_t *keys = json_array();
    if (!lo.limit)
        lo.limit = LIST_PAGE;
    rc = keys ? list_all(c, &lo, append_keys, keys) : DURO_NOMEM;
    if (rc != DURO_OK) {
        json_decref(keys);
        return fail(c, "", rc);
    }
    json_t *res = json_pack("{s:o,s:n,s:b}", "keys", keys, "cursor", "list_complete", 1);
    int ex = res ? out_json(c, res) : EXIT_SERVER;
    json_decref(res);
    return ex;
}

static int cmd_batch_get(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    rc = duro_batch_get(c->db, c->ns, (const char *const *)c->pos, (size_t)c->npos, &json, &len);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_batch_set(ctx *c)
{
    /* Accept the entries array, or the HTTP body {"entries": [...]}. */
    size_t count;
    char *body;
    int ex = json_array_arg(c, c->pos[0], "entries", "[{\"key\":..,\"value\":..}, ...]", &body,
                            &count);
    if (ex != EXIT_OK)
        return ex;
    int rc = open_db(c);
    int64_t version = 0;
    if (rc == DURO_OK)
        rc = duro_batch_set(c->db, c->ns, body, strlen(body), &version);
    free(body);
    if (rc != DURO_OK)
        return c->db ? fail(c, "", rc) : exit_for(rc);
    printf("{\"count\":%zu,\"version\":%" PRId64 "}\n", count, version);
    return EXIT_OK;
}

static int cmd_batch_del(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int64_t deleted = 0;
    rc = duro_batch_delete(c->db, c->ns, (const char *const *)c->pos, (size_t)c->npos, &deleted);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    printf("{\"deleted\":%" PRId64 "}\n", deleted);
    return EXIT_OK;
}

static int cmd_clear(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int64_t deleted = 0;
    rc = duro_clear(c->db, c->ns, &deleted);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    printf("{\"deleted\":%" PRId64 "}\n", deleted);
    return EXIT_OK;
}

static int cmd_stats(ctx *c)
{
    duro_list_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.prefix = opt(c, "--prefix");
    lo.limit = LIST_PAGE;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int64_t n = 0;
    rc = list_all(c, &lo, count_keys, &n);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    json_t *res = json_pack("{s:s,s:I}", "namespace", c->ns, "keys", (json_int_t)n);
    if (res && lo.prefix)
        json_object_set_new(res, "prefix", json_string(lo.prefix));
    int ex = res ? out_json(c, res) : EXIT_SERVER;
    json_decref(res);
    return ex;
}

static int cmd_ping(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    static const unsigned char empty_map[] = {0x80};
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    rc = duro_call(c->db, "ping", c->ns, empty_map, sizeof empty_map, &status, &body, &len);
    duro_free(body);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    puts("\"pong\"");
    return EXIT_OK;
}

/* ---- rate limiting ---- */

/* Prints a rate-limit result as the HTTP API's data object. */
static void out_rl(const duro_rl_result *r)
{
    printf("{\"allowed\":%s,\"remaining\":%" PRId64 ",\"limit\":%" PRId64 ",\"resetMs\":%" PRId64
           ",\"retryAfterMs\":%" PRId64 "}\n",
           r->allowed ? "true" : "false", r->remaining, r->limit, r->reset_ms, r->retry_after_ms);
}

/* --limit and --window of ratelimit check/get; -1 on a usage error. */
static int rl_opts(ctx *c, int64_t *limit, int64_t *window_ms)
{
    *limit = 0;
    *window_ms = 0;
    return int_opt(c, "--limit", 1, INT64_MAX, limit) || int_opt(c, "--window", 1, INT64_MAX,
                                                                   window_ms)
               ? -1
               : 0;
}

static int cmd_rl_check(ctx *c)
{
    const char *key = c->pos[0];
    int64_t limit, window_ms, cost = 1;
    if (rl_opts(c, &limit, &window_ms) || int_opt(c, "--cost", 0, INT64_MAX, &cost))
        return EXIT_USAGE;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    duro_rl_result r;
    rc = duro_ratelimit_check(c->db, c->ns, key, limit, window_ms, cost, &r);
    if (rc != DURO_OK)
        return fail(c, key, rc);
    out_rl(&r);
    return r.allowed ? EXIT_OK : EXIT_DENIED;
}

static int cmd_rl_get(ctx *c)
{
    const char *key = c->pos[0];
    int64_t limit, window_ms;
    if (rl_opts(c, &limit, &window_ms))
        return EXIT_USAGE;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    duro_rl_result r;
    rc = duro_ratelimit_get(c->db, c->ns, key, limit, window_ms, &r);
    if (rc != DURO_OK)
        return fail(c, key, rc);
    out_rl(&r);
    return EXIT_OK;
}

static int cmd_rl_reset(ctx *c)
{
    const char *key = c->pos[0];
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int deleted = 0;
    rc = duro_ratelimit_reset(c->db, c->ns, key, &deleted);
    if (rc != DURO_OK)
        return fail(c, key, rc);
    printf("{\"deleted\":%s}\n", deleted ? "true" : "false");
    return EXIT_OK;
}

/* ---- sessions ---- */

static int cmd_session_create(ctx *c)
{
    int64_t ttl = 0;
    if (int_opt(c, "--ttl", 1, INT64_MAX, &ttl))
        return EXIT_USAGE;
    if (!ttl)
        return usage_error(c, "--ttl MS is required");
    size_t len;
    char *owned;
    const char *json = json_arg(c, c->pos[0], &len, &owned);
    if (!json)
        return EXIT_USAGE;
    int rc = open_db(c);
    char *id = NULL;
    int64_t expires = 0;
    if (rc == DURO_OK)
        rc = duro_session_create(c->db, c->ns, json, len, ttl, opt(c, "--user"),
                                 opt(c, "--rolling") != NULL, &id, &expires);
    free(owned);
    if (rc != DURO_OK)
        return c->db ? fail(c, "", rc) : exit_for(rc);
    json_t *o = json_pack("{s:s,s:I}", "id", id, "expiresAt", (json_int_t)expires);
    duro_free(id);
    int ex = o ? out_json(c, o) : EXIT_SERVER;
    json_decref(o);
    return ex;
}

static int cmd_session_get(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *data = NULL, *user = NULL;
    size_t len = 0;
    int64_t expires = 0;
    rc = duro_session_get(c->db, c->ns, c->pos[0], &data, &len, &user, &expires);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    json_t *juser = user ? json_string(user) : json_null();
    char *u = juser ? json_dumps(juser, JSON_ENCODE_ANY) : NULL;
    json_decref(juser);
    if (u)
        printf("{\"data\":%.*s,\"userId\":%s,\"expiresAt\":%" PRId64 "}\n", (int)len, data, u,
               expires);
    else
        errmsg("%s: out of memory", c->cmd);
    free(u);
    duro_free(data);
    duro_free(user);
    return u ? EXIT_OK : EXIT_SERVER;
}

static int cmd_session_put(ctx *c)
{
    int64_t ttl = 0;
    if (int_opt(c, "--ttl", 1, INT64_MAX, &ttl))
        return EXIT_USAGE;
    size_t len;
    char *owned;
    const char *json = json_arg(c, c->pos[1], &len, &owned);
    if (!json)
        return EXIT_USAGE;
    int rc = open_db(c);
    int64_t expires = 0;
    if (rc == DURO_OK)
        rc = duro_session_put(c->db, c->ns, c->pos[0], json, len, ttl, &expires);
    free(owned);
    if (rc != DURO_OK)
        return c->db ? fail(c, "", rc) : exit_for(rc);
    printf("{\"expiresAt\":%" PRId64 "}\n", expires);
    return EXIT_OK;
}

static int cmd_session_del(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int deleted = 0;
    rc = duro_session_delete(c->db, c->ns, c->pos[0], &deleted);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    printf("{\"deleted\":%s}\n", deleted ? "true" : "false");
    return EXIT_OK;
}

static int cmd_session_list(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    rc = duro_session_list_user(c->db, c->ns, c->pos[0], &json, &len);
    if (rc != DURO_OK)
        return fail(c, c->pos[0], rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_session_revoke(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int64_t deleted = 0;
    rc = duro_session_revoke_user(c->db, c->ns, c->pos[0], opt(c, "--except"), &deleted);
    if (rc != DURO_OK)
        return fail(c, c->pos[0], rc);
    printf("{\"deleted\":%" PRId64 "}\n", deleted);
    return EXIT_OK;
}

/* ---- the namespace snapshot ---- */

static int cmd_snapshot_get(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    int64_t etag = 0;
    rc = duro_snapshot_get(c->db, c->ns, &json, &len, &etag);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    if (opt(c, "--meta"))
        printf("{\"etag\":%" PRId64 ",\"data\":%.*s}\n", etag, (int)len, json);
    else
        out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_snapshot_patch(ctx *c)
{
    int64_t if_match = -1;
    if (int_opt(c, "--if-match", 0, INT64_MAX, &if_match))
        return EXIT_USAGE;
    /* Accept the ops array (the HTTP PATCH body), or {"ops": [...]}. */
    size_t count;
    char *body;
    int ex = json_array_arg(c, c->pos[0], "ops",
                            "[{\"op\":\"set\",\"key\":..,\"value\":..} | {\"op\":\"del\",\"key\":..}, ...]",
                            &body, &count);
    if (ex != EXIT_OK)
        return ex;
    int rc = open_db(c);
    int64_t etag = 0;
    int created = 0;
    if (rc == DURO_OK)
        rc = duro_snapshot_patch(c->db, c->ns, body, strlen(body), if_match, &etag, &created);
    free(body);
    if (rc != DURO_OK)
        return c->db ? fail(c, "", rc) : exit_for(rc);
    printf("{\"version\":%" PRId64 ",\"created\":%s}\n", etag, created ? "true" : "false");
    return EXIT_OK;
}

/* ---- the resource registry ---- */

static int cmd_res_list(ctx *c)
{
    duro_resource_list_opts lo = DURO_RESOURCE_LIST_OPTS_INIT;
    if (int_opt(c, "--limit", 0, 1000, &lo.limit) ||
        int_opt(c, "--offset", 0, 1000000000, &lo.offset))
        return EXIT_USAGE;
    lo.type = opt(c, "--type");
    lo.ns = opt(c, "--namespace");
    lo.key_prefix = opt(c, "--prefix");
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    rc = duro_resources_list(c->db, &lo, &json, &len);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_res_stats(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    rc = duro_resources_stats(c->db, &json, &len);
    if (rc != DURO_OK)
        return fail(c, "", rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_res_register(ctx *c)
{
    int64_t size = -1;
    if (int_opt(c, "--size", 0, INT64_MAX, &size))
        return EXIT_USAGE;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    char *json = NULL;
    size_t len = 0;
    rc = duro_resources_register(c->db, c->ns, c->pos[0], c->pos[1], size, opt(c, "--metadata"),
                                 &json, &len, NULL);
    if (rc != DURO_OK)
        return fail(c, c->pos[1], rc);
    out(json, len);
    duro_free(json);
    return EXIT_OK;
}

static int cmd_res_unregister(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    int deleted = 0;
    rc = duro_resources_unregister(c->db, c->ns, c->pos[0], c->pos[1], &deleted);
    if (rc != DURO_OK)
        return fail(c, c->pos[1], rc);
    printf("{\"deleted\":%s}\n", deleted ? "true" : "false");
    return EXIT_OK;
}

static int cmd_help(ctx *c);

/* ---- the command table ---- */

static const char *const get_opts[] = {"--meta", NULL};
static const char *const put_opts[] = {"--ttl=", "--if-match=", "--if-none-match", "--metadata=",
                                       NULL};
static const char *const del_opts[] = {"--if-match=", NULL};
static const char *const ls_opts[] = {"--prefix=", "--start=",  "--start-after=", "--end=",
                                      "--limit=",  "--cursor=", "--reverse",      "--values",
                                      "--all",     NULL};
static const char *const stats_opts[] = {"--prefix=", NULL};
static const char *const no_opts[] = {NULL};
static const char *const rl_check_opts[] = {"--limit=", "--window=", "--cost=", NULL};
static const char *const rl_get_opts[] = {"--limit=", "--window=", NULL};
static const char *const ses_create_opts[] = {"--ttl=", "--user=", "--rolling", NULL};
static const char *const ses_put_opts[] = {"--ttl=", NULL};
static const char *const ses_revoke_opts[] = {"--except=", NULL};
static const char *const snap_get_opts[] = {"--meta", NULL};
static const char *const snap_patch_opts[] = {"--if-match=", NULL};
static const char *const res_list_opts[] = {"--type=",  "--namespace=", "--prefix=",
                                            "--limit=", "--offset=",    NULL};
static const char *const res_register_opts[] = {"--size=", "--metadata=", NULL};

static const command ratelimit_subs[] = {
    {"check", cmd_rl_check, "KEY [--limit N] [--window MS] [--cost N]",
     "take --cost (1) of --limit per --window ms (default 30/60s) from KEY; exit 5 if denied",
     rl_check_opts, 1, 1, NULL, 0},
    {"get", cmd_rl_get, "KEY [--limit N] [--window MS]",
     "print KEY's state as a check of cost 0 would (takes nothing)", rl_get_opts, 1, 1, NULL, 0},
    {"reset", cmd_rl_reset, "KEY", "forget KEY's state; prints {\"deleted\":bool}", no_opts, 1,
     1, NULL, 0},
};

static const command session_subs[] = {
    {"create", cmd_session_create, "DATA_JSON|- --ttl MS [--user U] [--rolling]",
     "create a session (its id is shown only here); prints {\"id\",\"expiresAt\"}",
     ses_create_opts, 1, 1, NULL, 0},
    {"get", cmd_session_get, "ID",
     "print {\"data\",\"userId\",\"expiresAt\"}; exit 1 if unknown or expired", no_opts, 1,
     1, NULL, 0},
    {"put", cmd_session_put, "ID DATA_JSON|- [--ttl MS]",
     "replace the session's data (--ttl: expire MS from now); prints {\"expiresAt\"}",
     ses_put_opts, 2, 2, NULL, 0},
    {"del", cmd_session_del, "ID", "delete the session (logout); prints {\"deleted\":bool}",
     no_opts, 1, 1, NULL, 0},
    {"list", cmd_session_list, "USER",
     "list USER's live sessions: {\"sessions\":[{createdAt, expiresAt, rolling}],\"count\"}",
     no_opts, 1, 1, NULL, 0},
    {"revoke", cmd_session_revoke, "USER [--except ID]",
     "delete USER's sessions but ID's; prints {\"deleted\":n}", ses_revoke_opts, 1, 1, NULL, 0},
};

static const command snapshot_subs[] = {
    {"get", cmd_snapshot_get, "[--meta]",
     "print the namespace's live keys as one JSON object (--meta: {\"etag\",\"data\"})",
     snap_get_opts, 0, 0, NULL, 0},
    {"patch", cmd_snapshot_patch, "OPS_JSON|- [--if-match ETAG]",
     "apply set/del ops atomically; prints {\"version\",\"created\"}; exit 4 if stale",
     snap_patch_opts, 1, 1, NULL, 0},
};

static const command resources_subs[] = {
    {"list", cmd_res_list,
     "[--type T] [--namespace NS] [--prefix P] [--limit N] [--offset N]",
     "print a page {resources, total, offset, limit, has_more} (all namespaces)",
     res_list_opts, 0, 0, NULL, 0},
    {"stats", cmd_res_stats, "",
     "print {total, by_type, by_namespace, total_size} over every namespace", no_opts, 0, 0,
     NULL, 0},
    {"register", cmd_res_register, "TYPE KEY [--size BYTES] [--metadata JSON]",
     "register (or update) resource TYPE/KEY in the namespace (-n); prints the record",
     res_register_opts, 2, 2, NULL, 0},
    {"unregister", cmd_res_unregister, "TYPE KEY",
     "remove resource TYPE/KEY of the namespace (-n); prints {\"deleted\":bool}", no_opts, 2, 2,
     NULL, 0},
};

static const command commands[] = {
    {"get", cmd_get, "KEY [--meta]",
     "print the value of KEY as JSON (--meta: with metadata, version and times)",
     get_opts, 1, 1, NULL, 0},
    {"put", cmd_put, "KEY JSON|- [--ttl MS] [--if-match V | --if-none-match] [--metadata JSON]",
     "store a JSON value (- reads it from stdin); prints {\"version\":n}", put_opts, 2, 2, NULL, 0},
    {"del", cmd_del, "KEY [--if-match V]", "delete KEY; prints {\"deleted\":bool}", del_opts, 1,
     1, NULL, 0},
    {"ls", cmd_ls,
     "[--prefix P] [--start K] [--start-after K] [--end K] [--limit N] [--cursor C]\n"
     "            [--reverse] [--values] [--all]",
     "print one page {keys, cursor, list_complete} (--all: every page as one)",
     ls_opts, 0, 0, NULL, 0},
    {"batch-get", cmd_batch_get, "KEY...", "print {key: value} for the keys that exist", no_opts,
     1, -1, NULL, 0},
    {"batch-set", cmd_batch_set, "JSON|-",
     "store [{\"key\":..,\"value\":..,\"ttlMs\"?,\"metadata\"?}, ...] atomically (- reads stdin)",
     no_opts, 1, 1, NULL, 0},
    {"batch-del", cmd_batch_del, "KEY...", "delete keys; prints {\"deleted\":n}",
     no_opts, 1, -1, NULL, 0},
    {"clear", cmd_clear, "", "delete every key of the namespace; prints {\"deleted\":n}", no_opts,
     0, 0, NULL, 0},
    {"stats", cmd_stats, "[--prefix P]",
     "count the live keys (pages through the list); prints {\"namespace\",\"keys\"}", stats_opts,
     0, 0, NULL, 0},
    {"ping", cmd_ping, "", "check that the server answers; prints \"pong\"",
     no_opts, 0, 0, NULL, 0},
    {"ratelimit", NULL, "check|get|reset KEY [OPTIONS]",
     "rate limiting: check KEY [--limit N --window MS --cost N], get KEY, reset KEY", no_opts, 0,
     -1, ratelimit_subs, sizeof ratelimit_subs / sizeof ratelimit_subs[0]},
    {"session", NULL, "create|get|put|del|list|revoke ARGS [OPTIONS]",
     "sessions: create DATA --ttl MS, get ID, put ID DATA, del ID, list USER, revoke USER",
     no_opts, 0, -1, session_subs, sizeof session_subs / sizeof session_subs[0]},
    {"snapshot", NULL, "get|patch [ARGS] [OPTIONS]",
     "the namespace as one document: get [--meta], patch OPS_JSON [--if-match ETAG]", no_opts,
     0, -1, snapshot_subs, sizeof snapshot_subs / sizeof snapshot_subs[0]},
    {"resources", NULL, "list|stats|register|unregister [ARGS] [OPTIONS]",
     "the resource registry: list [filters], stats, register TYPE KEY, unregister TYPE KEY",
     no_opts, 0, -1, resources_subs, sizeof resources_subs / sizeof resources_subs[0]},
    {"bench", NULL, "[OPTIONS]   (duro bench --help)",
     "load generator over the binary protocol: ops/s and p50/p99/p999 latency",
     no_opts, 0, -1, NULL, 0},
    {"help", cmd_help, "[COMMAND [SUBCOMMAND]]", "show help for a command", no_opts, 0, 2, NULL, 0},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static const command *find_sub(const command *group, const char *name)
{
    for (size_t i = 0; group && name && i < group->nsubs; i++)
        if (strcmp(group->subs[i].name, name) == 0)
            return &group->subs[i];
    return NULL;
}

/* The usage of cmd (a subcommand of group when group is not NULL); for a
 * group, the usage of each of its subcommands. */
static void command_usage(FILE *f, const command *group, const command *cmd)
{
    if (!cmd)
        return;
    if (group) {
        fprintf(f, "usage: duro [-u URL] [-n NS] %s %s %s\n", group->name, cmd->name, cmd->args);
        return;
    }
    if (!cmd->subs) {
        fprintf(f, "usage: duro [-u URL] [-n NS] %s %s\n", cmd->name, cmd->args);
        return;
    }
    for (size_t i = 0; i < cmd->nsubs; i++)
        fprintf(f, "%s duro [-u URL] [-n NS] %s %s %s\n", i ? "      " : "usage:", cmd->name,
                cmd->subs[i].name, cmd->subs[i].args);
}

/* The help of a command, a group (each subcommand with its summary) or a
 * subcommand, on stdout. */
static void command_help(const command *group, const command *cmd)
{
    command_usage(stdout, group, cmd);
    printf("\n%s\n", cmd->summary);
    if (!group && cmd->subs) {
        printf("\n");
        for (size_t i = 0; i < cmd->nsubs; i++)
            printf("  %-10s %s\n", cmd->subs[i].name, cmd->subs[i].summary);
        if (strcmp(cmd->name, "ratelimit") == 0)
            printf("\nExit status of check: 0 allowed, 5 denied (the result is printed either "
                   "way).\nLimits are per namespace (-n); rate-limit keys are not KV keys.\n");
        else if (strcmp(cmd->name, "session") == 0)
            printf("\nAn ID that begins with '-' goes after -- (duro session get -- -Xy...);\n"
                   "options come before the --.\n");
        else if (strcmp(cmd->name, "snapshot") == 0)
            printf("\nOPS_JSON (or - for stdin) is [{\"op\":\"set\",\"key\":..,\"value\":..,"
                   "\"ttlMs\"?,\"metadata\"?} |\n{\"op\":\"del\",\"key\":..}, ...], "
                   "at most 1000, applied all or nothing.\n"
                   "The ETag is the namespace's write counter, 0 while it has no live key:\n"
                   "snapshot get --meta prints it, patch --if-match ETAG requires it (exit 4\n"
                   "if the namespace changed; --if-match 0: only if it is empty).\n");
        else
            printf("\nKV keys are resources of type \"kv\", tracked automatically (register\n"
                   "refuses that type). list and stats cover every namespace; after\n"
                   "'resources list', --namespace NS filters (-n/--ns stay the namespace of\n"
                   "register and unregister).\n");
    }
}

static void usage(FILE *f)
{
    fputs("usage: duro [-u URL] [-n NS] COMMAND [ARGS]\n"
          "\n"
          "Command-line client of duro. Prints JSON on stdout, errors on stderr.\n"
          "\n"
          "  -u, --url URL   duro://host:port (binary protocol) or file:///path/to/data\n"
          "                  (embedded) [env DURO_URL, default " DEFAULT_URL "]\n"
          "  -n, --ns NS     namespace [env DURO_NS, default \"default\"]\n"
          "  -h, --help      this help;  duro help COMMAND  or  duro COMMAND --help\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Exit status: 0 ok, 1 not found, 2 usage or invalid input, 3 server or connection\n"
          "error, 4 precondition failed (--if-match / --if-none-match), 5 rate limited\n"
          "(ratelimit check denied).\n"
          "\n"
          "Examples:\n"
          "  duro put user:1 '{\"name\":\"Ada\"}' --ttl 60000\n"
          "  duro get user:1\n"
          "  duro -n app1 ls --prefix user: --limit 100\n"
          "  echo '[{\"key\":\"a\",\"value\":1}]' | duro batch-set -\n"
          "  duro ratelimit check login:ada --limit 5 --window 60000\n"
          "  duro session create '{\"cart\":[]}' --ttl 3600000 --user ada --rolling\n"
          "  duro -n app1 snapshot patch '[{\"op\":\"set\",\"key\":\"a\",\"value\":1}]' "
          "--if-match 0\n"
          "  duro resources list --type do --namespace app1 --limit 50\n"
          "  duro bench --clients 50 --pipeline 16 --op get --duration 5\n",
          f);
}

static int cmd_help(ctx *c)
{
    if (c->npos == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    const command *cmd = find_command(c->pos[0]);
    if (!cmd) {
        c->cmd = NULL;
        c->def = NULL;
        return usage_error(c, "unknown command '%s'", c->pos[0]);
    }
    if (strcmp(cmd->name, "bench") == 0) {
        char help[] = "--help";
        char *argv[] = {help, NULL};
        return duro_cli_bench(1, argv, c->url, c->ns);
    }
    if (c->npos == 2) {
        const command *sub = find_sub(cmd, c->pos[1]);
        if (!sub)
            return usage_error(c, "'%s' has no subcommand '%s'", cmd->name, c->pos[1]);
        command_help(cmd, sub);
        return EXIT_OK;
    }
    command_help(NULL, cmd);
    return EXIT_OK;
}

/* Is name (which may be "--opt=value") one of cmd's options? Sets *takes_value. */
static int known_opt(const command *cmd, const char *name, size_t namelen, int *takes_value)
{
    for (const char *const *o = cmd->opts; *o; o++) {
        size_t ol = strlen(*o);
        int tv = ol > 0 && (*o)[ol - 1] == '=';
        if (tv)
            ol--;
        if (ol == namelen && strncmp(*o, name, namelen) == 0) {
            *takes_value = tv;
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    ctx c;
    memset(&c, 0, sizeof c);
    c.url = getenv("DURO_URL");
    if (!c.url || !*c.url)
        c.url = DEFAULT_URL;
    c.ns = getenv("DURO_NS");
    int ns_given = c.ns && *c.ns;
    if (!ns_given)
        c.ns = "default";

    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) {
        errmsg("out of memory");
        return EXIT_SERVER;
    }
    c.pos = pos;

    /* Global options come before the command; the command's own options and
     * -u/-n may follow it. "--" ends options. */
    const command *cmd = NULL, *sub = NULL;
    int ex = EXIT_OK;
    int want_help = 0, no_more_opts = 0;
    int bench_argc = 0;
    char **bench_argv = NULL;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (cmd && cmd->run == NULL && !cmd->subs) { /* bench: everything else is bench's */
            if (!bench_argv)
                bench_argv = &argv[i];
            bench_argc++;
            continue;
        }
        if (!no_more_opts && a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            if (strcmp(a, "--") == 0) {
                no_more_opts = 1;
                continue;
            }
            int own_ns = 0, tv; /* a command's own --namespace (resources list's filter) */
            if (c.def && strcmp(a, "--namespace") == 0)
                own_ns = known_opt(c.def, a, strlen(a), &tv);
            if (strcmp(a, "-u") == 0 || strcmp(a, "--url") == 0 || strcmp(a, "-n") == 0 ||
                strcmp(a, "--ns") == 0 || (strcmp(a, "--namespace") == 0 && !own_ns)) {
                if (i + 1 >= argc) {
                    ex = usage_error(NULL, "%s needs a value", a);
                    goto done;
                }
                if (a[1] == 'u' || a[2] == 'u')
                    c.url = argv[++i];
                else {
                    c.ns = argv[++i];
                    ns_given = 1;
                }
                continue;
            }
            if (strncmp(a, "--url=", 6) == 0) {
                c.url = a + 6;
                continue;
            }
            if (strncmp(a, "--ns=", 5) == 0) {
                c.ns = a + 5;
                ns_given = 1;
                continue;
            }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                want_help = 1;
                continue;
            }
            if (!cmd) {
                ex = usage_error(NULL, "unknown option '%s'", a);
                goto done;
            }
            const char *eq = strchr(a, '=');
            size_t namelen = eq ? (size_t)(eq - a) : strlen(a);
            int takes_value = 0;
            if (!known_opt(c.def, a, namelen, &takes_value)) {
                ex = usage_error(&c, "unknown option '%.*s'", (int)namelen, a);
                goto done;
            }
            if (c.nopt == MAX_OPTS) {
                ex = usage_error(&c, "too many options");
                goto done;
            }
            char *name = strndup(a, namelen);
            if (!name) {
                errmsg("out of memory");
                ex = EXIT_SERVER;
                goto done;
            }
            const char *val = "";
            c.opt_name[c.nopt] = name; /* owned by c from here on */
            c.opt_val[c.nopt++] = val;
            if (takes_value) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else {
                    ex = usage_error(&c, "%s needs a value", name);
                    goto done;
                }
            } else if (eq) {
                ex = usage_error(&c, "%s takes no value", name);
                goto done;
            }
            c.opt_val[c.nopt - 1] = val;
            continue;
        }
        if (!cmd) {
            cmd = find_command(a);
            if (!cmd) {
                ex = usage_error(NULL, "unknown command '%s'", a);
                goto done;
            }
            c.cmd = cmd->name;
            c.def = cmd;
            continue;
        }
        if (cmd->subs && !sub) {
            sub = find_sub(cmd, a);
            if (!sub) {
                ex = usage_error(&c, "unknown subcommand '%s'", a);
                goto done;
            }
            snprintf(c.cmdname, sizeof c.cmdname, "%s %s", cmd->name, sub->name);
            c.cmd = c.cmdname;
            c.group = cmd;
            c.def = sub;
            continue;
        }
        c.pos[c.npos++] = a;
    }

    if (!cmd) {
        if (want_help) {
            usage(stdout);
            ex = EXIT_OK;
        } else {
            usage(stderr);
            ex = EXIT_USAGE;
        }
    } else if (cmd->subs && !sub) {
        if (want_help) {
            command_help(NULL, cmd);
            ex = EXIT_OK;
        } else {
            ex = usage_error(&c, "missing subcommand");
        }
    } else if (cmd->run == NULL && !cmd->subs) {
        if (want_help) { /* "duro --help bench" */
            char help[] = "--help";
            char *hargv[] = {help, NULL};
            ex = duro_cli_bench(1, hargv, c.url, ns_given ? c.ns : NULL);
        } else {
            ex = duro_cli_bench(bench_argc, bench_argv, c.url, ns_given ? c.ns : NULL);
        }
    } else if (want_help) {
        command_help(c.group, c.def);
        ex = EXIT_OK;
    } else if (c.npos < c.def->min_pos || (c.def->max_pos >= 0 && c.npos > c.def->max_pos)) {
        ex = usage_error(&c, c.npos < c.def->min_pos ? "missing arguments" : "too many arguments");
    } else {
        ex = c.def->run(&c);
    }

    if (fflush(stdout) != 0 && ex == EXIT_OK) {
        errmsg("cannot write the output: %s", strerror(errno));
        ex = EXIT_SERVER;
    }
done:
    duro_close(c.db);
    for (int i = 0; i < c.nopt; i++)
        free((char *)c.opt_name[i]);
    free(pos);
    return ex;
}
