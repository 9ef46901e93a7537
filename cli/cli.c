/*
 * cli.c — `duro`, the command-line client (like redis-cli / etcdctl).
 *
 *   duro [-u URL] [-n NS] COMMAND [ARGS] [OPTIONS]
 *
 * Talks to duro through libduro only (include/duro/duro.h), so the same
 * commands work against a server (duro://host:port) and embedded over a data
 * directory (file:///path). Results are JSON on stdout, one document per
 * command: compact on one line when stdout is not a terminal, indented on
 * one; -o json|raw|table (--raw) picks (print_reply()). Diagnostics go to
 * stderr. `duro export` / `duro import` stream a namespace as JSON lines.
 * Exit codes are for scripts:
 *
 *   0 ok   1 not found   2 usage or invalid input   3 server or connection
 *   error   4 precondition failed (a stale --if-match or --if-none-match) or
 *     conflict (`duro auth register`: the email is taken)
 *   5 rate limited (`duro ratelimit check` was denied; the result is printed;
 *     or a server's RATE_LIMITED)   6 unauthorized or forbidden (UNAUTHORIZED,
 *     FORBIDDEN: the server wants an access token)
 *
 * `duro ratelimit ...`, `duro session ...`, `duro auth ...`, `duro snapshot
 * ...` and `duro resources ...` are command groups: the word after the group
 * picks the subcommand (`duro ratelimit check KEY`).
 *
 * Passwords (`duro auth`) are never arguments, which ps and shell history
 * show: each comes from an environment variable or a line of stdin (prompted
 * for without echo on a terminal), and is wiped when the command ends.
 *
 * `duro bench` is the load generator in bench.c.
 *
 * DESIGN
 * Every command is a row of the command table (`commands`, groups with their
 * own `subs`): its name, usage, summary, options (flags, strings, integers
 * with their range), how many arguments it takes, which argument is a JSON
 * input (text, or "-" for stdin), which one its error messages name, and a
 * handler. One frame, run_command(), does for each of them what is common:
 * it counts the arguments, checks the options' values, reads the JSON input
 * and the passwords, connects, calls the handler and reports a failure or
 * prints the reply. A handler only makes its libduro call and sets the reply (reply_text(),
 * reply_fmt(), reply_json(), ...); it runs only once everything the command
 * line can get wrong was checked, so a usage error never costs a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "duro/duro.h"

#ifdef DURO_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#define DEFAULT_URL "duro://127.0.0.1:7070"
#define EXIT_OK 0
#define EXIT_NOT_FOUND 1
#define EXIT_USAGE 2
#define EXIT_SERVER 3
#define EXIT_PRECONDITION 4
#define EXIT_DENIED 5
#define EXIT_UNAUTHORIZED 6
#define MAX_OPTS 16
#define LIST_PAGE 10000 /* the server's largest page */
#define PASSWORD_MAX 1024 /* the server's longest password, in bytes */

/* ---- the command table's types ---- */

/* An option of a command: a flag, a string, or an integer in [lo, hi]. */
typedef struct optdef {
    const char *name; /* "--ttl" */
    char kind;        /* 'f' flag, 's' string, 'i' integer, 'd' duration (ms) */
    int64_t lo, hi;   /* 'i', 'd': the range (for 'd' in ms) */
    const char *required; /* not NULL: the option must be given (its metavar, "MS") */
} optdef;

#define OPT_FLAG(n) {n, 'f', 0, 0, NULL}
#define OPT_STR(n) {n, 's', 0, 0, NULL}
#define OPT_INT(n, lo, hi) {n, 'i', lo, hi, NULL}
#define OPT_DUR(n, lo, hi) {n, 'd', lo, hi, NULL}
#define OPT_END {NULL, 0, 0, 0, NULL}

struct command;

typedef struct ctx {
    const char *url, *ns;
    const char *token; /* --token / DURO_TOKEN, or NULL */
    int ns_given; /* -n / --ns / DURO_NS was given (bench has its own default) */
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
    /* the JSON input (command->input): the text, its length, the element
     * count of an array input; in_owned is freed at the end */
    const char *in;
    size_t in_len, in_count;
    char *in_owned;
    /* the passwords (command->passwords; room for a line's \r), wiped at the end */
    char pw[2][PASSWORD_MAX + 2];
    /* the reply a handler sets, printed with a newline on success */
    char *reply;
    size_t reply_len;
    void (*reply_free)(void *);
    int exit_ok; /* the exit code of a success: EXIT_OK, or EXIT_DENIED */
    const char *failed_key; /* export: the key a call failed on */
    int64_t count;          /* export: the keys written */
    const char *output; /* -o json|raw|table (--raw: raw), or NULL: by stdout */
} ctx;

typedef struct command {
    const char *name;
    /* With c->db open and the command line checked: makes the call, sets the
     * reply, returns a libduro status (DURO_OK or the failure to report). */
    int (*run)(ctx *c);
    /* Or, without a connection (help, bench): returns the exit code. */
    int (*local)(ctx *c);
    const char *args;    /* usage after the name */
    const char *summary; /* one line */
    const char *notes;   /* a group's help: a paragraph after its subcommands */
    const char *example; /* one or more lines of `duro ...` invocations, for help */
    const char *table;   /* -o table: the reply's field that holds the rows */
    const optdef *opts;  /* allowed options, OPT_END-terminated */
    int min_pos, max_pos; /* max_pos -1: no limit */
    int subject;         /* 1-based: the argument that error messages name (0: none) */
    int input;           /* 1-based: the JSON|- argument (0: none) */
    const char *input_array;  /* the input is an array, bare or as this field of an object */
    const char *input_expect; /* the array's shape, for messages */
    int input_map;       /* an object but {input_array: [...]} is {key: value, ...} */
    const char *excl[2]; /* two options that exclude each other */
    int passwords;       /* 1 or 2: passwords read into ctx.pw (secret_srcs) */
    int raw_args;        /* everything after the name is the command's own (bench) */
    const struct command *subs; /* a group: its subcommands (run is NULL) */
    size_t nsubs;
} command;

static const command *find_command(const char *name);
static const command *find_sub(const command *group, const char *name);
static void command_usage(FILE *f, const command *group, const command *cmd);
static void print_reply(ctx *c);

/* ---- messages and exit codes ---- */

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
    case DURO_CONFLICT:
        return EXIT_PRECONDITION;
    case DURO_RATE_LIMITED:
        return EXIT_DENIED;
    case DURO_UNAUTHORIZED:
    case DURO_FORBIDDEN:
        return EXIT_UNAUTHORIZED;
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

/* ---- options and inputs ---- */

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

/* Parses a duration into ms: a bare integer is ms; or an integer with a unit
 * ms, s, m, h or d ("100ms", "60s", "5m", "1h", "7d"). In [lo, hi]; 0 on
 * success. */
static int parse_ms(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    for (size_t i = 0; !errno && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms || v * units[i].ms < lo || v * units[i].ms > hi)
                return -1;
            *out = v * units[i].ms;
            return 0;
        }
    return -1;
}

/* The value of the integer or duration option name (checked by check_opts),
 * or dflt if absent. */
static int64_t int_opt(const ctx *c, const char *name, int64_t dflt)
{
    const char *v = opt(c, name);
    int64_t n = dflt;
    if (v)
        parse_ms(v, INT64_MIN, INT64_MAX, &n); /* an integer is a duration without unit */
    return n;
}

/* Checks the options given against the command's: integers in their range,
 * required ones present, no two that exclude each other. EXIT_OK or
 * EXIT_USAGE after a message. */
static int check_opts(ctx *c)
{
    const command *d = c->def;
    for (const optdef *o = d->opts; o->name; o++) {
        const char *v = opt(c, o->name);
        int64_t n;
        if (o->kind == 'i' && v && parse_i64(v, o->lo, o->hi, &n) != 0)
            return usage_error(c, "%s wants an integer in %" PRId64 "..%" PRId64 ", not '%s'",
                               o->name, o->lo, o->hi, v);
        if (o->kind == 'd' && v && parse_ms(v, o->lo, o->hi, &n) != 0)
            return usage_error(c, "%s wants a duration: ms, or a number with ms, s, m, h or d"
                                  " (60s, 5m, 7d), from %" PRId64 " ms; not '%s'",
                               o->name, o->lo, v);
    }
    if (d->excl[0] && opt(c, d->excl[0]) && opt(c, d->excl[1]))
        return usage_error(c, "%s and %s exclude each other", d->excl[0], d->excl[1]);
    for (const optdef *o = d->opts; o->name; o++)
        if (o->required && !opt(c, o->name))
            return usage_error(c, "%s %s is required", o->name, o->required);
    return EXIT_OK;
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

/* The command's JSON input into c->in: the argument itself, or stdin for
 * "-"; an array input (input_array) is checked and made compact text, its
 * element count in c->in_count. EXIT_OK, or the exit code after a message. */
/* 1 if command d has option name. */
static int takes_opt(const command *d, const char *name)
{
    for (const optdef *o = d->opts; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return 1;
    return 0;
}

static int read_input(ctx *c)
{
    const command *d = c->def;
    const char *arg = c->pos[d->input - 1];
    if (strcmp(arg, "-") != 0) {
        c->in = arg;
        c->in_len = strlen(arg);
    } else if (!(c->in = c->in_owned = read_stdin(&c->in_len))) {
        errmsg("%s: cannot read stdin: %s", c->cmd, strerror(errno ? errno : EIO));
        return EXIT_USAGE;
    }
    json_error_t jerr;
    if (!d->input_array && (opt(c, "--string") || opt(c, "-s"))) {
        /* the text as a JSON string: duro put greeting hello -s */
        json_t *str = json_stringn(c->in, c->in_len);
        char *text = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref(str);
        if (!text)
            return usage_error(c, "the value is not UTF-8 text");
        free(c->in_owned);
        c->in = c->in_owned = text;
        c->in_len = strlen(text);
        return EXIT_OK;
    }
    if (!d->input_array) { /* checked here, so the error can say where and what to do */
        json_t *doc = json_loadb(c->in, c->in_len, JSON_DECODE_ANY, &jerr);
        if (doc) {
            json_decref(doc);
            return EXIT_OK;
        }
        return usage_error(c, "not valid JSON: %s at line %d column %d%s", jerr.text, jerr.line,
                           jerr.column,
                           takes_opt(d, "--string")
                               ? " (a string is quoted: '\"hello\"'; or add -s to store the text)"
                               : "");
    }
    json_t *doc = json_loadb(c->in, c->in_len, 0, &jerr);
    free(c->in_owned);
    c->in = c->in_owned = NULL;
    if (!doc)
        return usage_error(c, "not valid JSON: %s at line %d column %d", jerr.text, jerr.line,
                           jerr.column);
    json_t *arr = json_is_object(doc) ? json_object_get(doc, d->input_array) : doc;
    if (d->input_map && json_is_object(doc) &&
        !(json_object_size(doc) == 1 && json_is_array(arr))) {
        /* {"k": v, ...} (what batch-get prints): the entries [{key, value}, ...] */
        json_t *entries = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) {
            if (entries && json_array_append_new(entries, json_pack("{s:s,s:O}", "key", k,
                                                                      "value", v)) != 0) {
                json_decref(entries);
                entries = NULL;
            }
        }
        json_decref(doc);
        if (!entries) {
            errmsg("%s: out of memory", c->cmd);
            return EXIT_SERVER;
        }
        doc = arr = entries;
    }
    if (!json_is_array(arr)) {
        json_decref(doc);
        return usage_error(c, "expected a JSON array %s", d->input_expect);
    }
    c->in_count = json_array_size(arr);
    c->in = c->in_owned = json_dumps(arr, JSON_COMPACT);
    json_decref(doc);
    if (!c->in) {
        errmsg("%s: out of memory", c->cmd);
        return EXIT_SERVER;
    }
    c->in_len = strlen(c->in);
    return EXIT_OK;
}

/* Where the passwords of a command with `passwords` = n come from
 * (secret_srcs[n - 1][i] for the i-th): the variable if it is set and not
 * empty, else one line of stdin, prompted for on a terminal. */
typedef struct secret_src {
    const char *env, *what, *prompt;
} secret_src;

static const secret_src secret_srcs[2][2] = {
    {{"DURO_PASSWORD", "password", "Password: "}, {NULL, NULL, NULL}},
    {{"DURO_PASSWORD", "current password", "Current password: "},
     {"DURO_NEW_PASSWORD", "new password", "New password: "}},
};

/* Reads one line of stdin into buf[0..cap) without its newline (nor a \r
 * before it), a byte at a time: nothing past the line is consumed and no
 * stdio buffer keeps a copy. 0, 1 at the end of stdin before any byte, -1 on
 * a read error, -2 if the line does not fit. */
static int read_line(char *buf, size_t cap)
{
    size_t n = 0;
    int seen = 0;
    for (;;) {
        char ch;
        ssize_t got = read(STDIN_FILENO, &ch, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0 || ch == '\n') {
            if (got == 0 && !seen)
                return 1;
            break;
        }
        seen = 1;
        if (n + 1 >= cap) {
            explicit_bzero(buf, cap);
            return -2;
        }
        buf[n++] = ch;
    }
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

/* One password from src into buf[0..cap) (cap > PASSWORD_MAX + 1). On a
 * terminal the prompt goes to stderr and echo is off while the line is
 * typed. EXIT_OK, or EXIT_USAGE after a message. */
static int read_secret(ctx *c, const secret_src *src, char *buf, size_t cap)
{
    const char *env = getenv(src->env);
    if (env && *env) {
        if (strlen(env) > PASSWORD_MAX)
            return usage_error(c, "$%s is over %d bytes", src->env, PASSWORD_MAX);
        memcpy(buf, env, strlen(env) + 1);
        return EXIT_OK;
    }
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fputs(src->prompt, stderr);
    }
    int rc = read_line(buf, cap);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (rc == 0 && strlen(buf) > PASSWORD_MAX) {
        explicit_bzero(buf, cap);
        rc = -2;
    }
    if (rc == 1)
        return usage_error(c, "no %s: give it on stdin or in $%s", src->what, src->env);
    if (rc == -2)
        return usage_error(c, "the %s is over %d bytes", src->what, PASSWORD_MAX);
    if (rc != 0) {
        errmsg("%s: cannot read stdin: %s", c->cmd, strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The command's passwords into c->pw. EXIT_OK, or the exit code after a
 * message. */
static int read_passwords(ctx *c)
{
    int n = c->def->passwords;
    int ex = EXIT_OK;
    for (int i = 0; i < n && ex == EXIT_OK; i++)
        ex = read_secret(c, &secret_srcs[n - 1][i], c->pw[i], sizeof c->pw[i]);
    return ex;
}

const char *duro_cli_url_shown(const char *url, char *buf, size_t n)
{
    size_t q = strcspn(url, "?");
    snprintf(buf, n, "%.*s%s", (int)(q > 200 ? 200 : q), url, url[q] ? "?..." : "");
    return buf;
}

static int open_db(ctx *c)
{
    if (c->db)
        return DURO_OK;
    duro_open_options oo = {.token = c->token};
    int rc = duro_open_ex(c->url, &oo, &c->db);
    if (rc != DURO_OK) {
        const char *detail = duro_last_error();
        char shown[256];
        errmsg("cannot open %s: %s%s%s%s", duro_cli_url_shown(c->url, shown, sizeof shown),
               duro_errstr(rc), detail && *detail ? " (" : "",
               detail && *detail ? detail : "", detail && *detail ? ")" : "");
    }
    return rc;
}

/* ---- the reply: what a command prints on success ---- */

/* The reply is text[0..len) from libduro (freed with duro_free). DURO_OK. */
static int reply_text(ctx *c, char *text, size_t len)
{
    c->reply = text;
    c->reply_len = len;
    c->reply_free = duro_free;
    return DURO_OK;
}

/* The reply is printf(fmt, ...). DURO_OK, or DURO_NOMEM. */
static int reply_fmt(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reply_fmt(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return DURO_NOMEM;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->reply = s;
    c->reply_len = (size_t)n;
    c->reply_free = free;
    return DURO_OK;
}

/* The reply is v as compact JSON; takes v's reference (NULL: out of memory). */
static int reply_json(ctx *c, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!s)
        return DURO_NOMEM;
    c->reply = s;
    c->reply_len = strlen(s);
    c->reply_free = free;
    return DURO_OK;
}

/* {"deleted":true|false} */
static int reply_deleted(ctx *c, int deleted)
{
    return reply_fmt(c, "{\"deleted\":%s}", deleted ? "true" : "false");
}

/* {"<name>":n} */
static int reply_int(ctx *c, const char *name, int64_t n)
{
    return reply_fmt(c, "{\"%s\":%" PRId64 "}", name, n);
}

/* ---- commands: key-value ---- */

static int cmd_get(ctx *c)
{
    const char *key = c->pos[0];
    if (!opt(c, "--meta")) {
        char *json = NULL;
        size_t len = 0;
        int rc = duro_get(c->db, c->ns, key, &json, &len);
        return rc == DURO_OK ? reply_text(c, json, len) : rc;
    }
    duro_meta m;
    memset(&m, 0, sizeof m);
    int rc = duro_get_meta(c->db, c->ns, key, &m);
    if (rc != DURO_OK)
        return rc;
    char expires[32] = "null";
    if (m.expires_at > 0)
        snprintf(expires, sizeof expires, "%" PRId64, m.expires_at);
    rc = reply_fmt(c,
                   "{\"value\":%.*s,\"metadata\":%s,\"version\":%" PRId64 ",\"createdAt\":%" PRId64
                   ",\"updatedAt\":%" PRId64 ",\"expiresAt\":%s}",
                   (int)m.value_len, m.value ? m.value : "null", m.metadata ? m.metadata : "null",
                   m.version, m.created_at, m.updated_at, expires);
    duro_meta_free(&m);
    return rc;
}

static int cmd_put(ctx *c)
{
    duro_put_opts po;
    memset(&po, 0, sizeof po);
    po.ttl_ms = int_opt(c, "--ttl", 0);
    po.if_match = int_opt(c, "--if-match", 0);
    po.if_none_match = opt(c, "--if-none-match") != NULL;
    po.metadata = opt(c, "--metadata");
    int64_t version = 0;
    int rc = duro_put_ex(c->db, c->ns, c->pos[0], c->in, c->in_len, &po, &version);
    return rc == DURO_OK ? reply_int(c, "version", version) : rc;
}

static int cmd_del(ctx *c)
{
    int deleted = 0;
    int rc = duro_delete_ex(c->db, c->ns, c->pos[0], int_opt(c, "--if-match", 0), &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

/* The list options of the command line. */
static void list_opts(ctx *c, duro_list_opts *lo)
{
    memset(lo, 0, sizeof *lo);
    lo->prefix = opt(c, "--prefix");
    lo->start = opt(c, "--start");
    lo->start_after = opt(c, "--start-after");
    lo->end = opt(c, "--end");
    lo->cursor = opt(c, "--cursor");
    lo->reverse = opt(c, "--reverse") != NULL;
    lo->values = opt(c, "--values") != NULL;
    lo->limit = (int)int_opt(c, "--limit", 0);
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
    list_opts(c, &lo);
    if (!opt(c, "--all")) {
        char *json = NULL;
        size_t len = 0;
        int rc = duro_list(c->db, c->ns, &lo, &json, &len);
        return rc == DURO_OK ? reply_text(c, json, len) : rc;
    }
    json_t *keys = json_array();
    if (!lo.limit)
        lo.limit = LIST_PAGE;
    int rc = keys ? list_all(c, &lo, append_keys, keys) : DURO_NOMEM;
    if (rc != DURO_OK) {
        json_decref(keys);
        return rc;
    }
    return reply_json(c, json_pack("{s:o,s:n,s:b}", "keys", keys, "cursor", "list_complete", 1));
}

static int cmd_batch_get(ctx *c)
{
    char *json = NULL;
    size_t len = 0;
    int rc = duro_batch_get(c->db, c->ns, (const char *const *)c->pos, (size_t)c->npos, &json,
                            &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_batch_set(ctx *c)
{
    int64_t version = 0;
    int rc = duro_batch_set(c->db, c->ns, c->in, c->in_len, &version);
    if (rc != DURO_OK)
        return rc;
    return reply_fmt(c, "{\"count\":%zu,\"version\":%" PRId64 "}", c->in_count, version);
}

static int cmd_batch_del(ctx *c)
{
    int64_t deleted = 0;
    int rc = duro_batch_delete(c->db, c->ns, (const char *const *)c->pos, (size_t)c->npos,
                               &deleted);
    return rc == DURO_OK ? reply_int(c, "deleted", deleted) : rc;
}

static int cmd_clear(ctx *c)
{
    int64_t deleted = 0;
    int rc = duro_clear(c->db, c->ns, &deleted);
    return rc == DURO_OK ? reply_int(c, "deleted", deleted) : rc;
}

static int cmd_stats(ctx *c)
{
    duro_list_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.prefix = opt(c, "--prefix");
    lo.limit = LIST_PAGE;
    int64_t n = 0;
    int rc = list_all(c, &lo, count_keys, &n);
    if (rc != DURO_OK)
        return rc;
    json_t *res = json_pack("{s:s,s:I}", "namespace", c->ns, "keys", (json_int_t)n);
    if (res && lo.prefix)
        json_object_set_new(res, "prefix", json_string(lo.prefix));
    return reply_json(c, res);
}

static int cmd_ping(ctx *c)
{
    static const unsigned char empty_map[] = {0x80};
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    int rc = duro_call(c->db, "ping", c->ns, empty_map, sizeof empty_map, &status, &body, &len);
    duro_free(body);
    return rc == DURO_OK ? reply_fmt(c, "\"pong\"") : rc;
}

/* ---- commands: rate limiting ---- */

/* The reply is the rate-limit result as the HTTP API's data object. */
static int reply_rl(ctx *c, const duro_rl_result *r)
{
    return reply_fmt(c,
                     "{\"allowed\":%s,\"remaining\":%" PRId64 ",\"limit\":%" PRId64
                     ",\"resetMs\":%" PRId64 ",\"retryAfterMs\":%" PRId64 "}",
                     r->allowed ? "true" : "false", r->remaining, r->limit, r->reset_ms,
                     r->retry_after_ms);
}

static int cmd_rl_check(ctx *c)
{
    duro_rl_result r;
    int rc = duro_ratelimit_check(c->db, c->ns, c->pos[0], int_opt(c, "--limit", 0),
                                  int_opt(c, "--window", 0), int_opt(c, "--cost", 1), &r);
    if (rc != DURO_OK)
        return rc;
    c->exit_ok = r.allowed ? EXIT_OK : EXIT_DENIED;
    return reply_rl(c, &r);
}

static int cmd_rl_get(ctx *c)
{
    duro_rl_result r;
    int rc = duro_ratelimit_get(c->db, c->ns, c->pos[0], int_opt(c, "--limit", 0),
                                int_opt(c, "--window", 0), &r);
    return rc == DURO_OK ? reply_rl(c, &r) : rc;
}

static int cmd_rl_reset(ctx *c)
{
    int deleted = 0;
    int rc = duro_ratelimit_reset(c->db, c->ns, c->pos[0], &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

/* ---- commands: sessions ---- */

static int cmd_session_create(ctx *c)
{
    char *id = NULL;
    int64_t expires = 0;
    int rc = duro_session_create(c->db, c->ns, c->in, c->in_len, int_opt(c, "--ttl", 0),
                                 opt(c, "--user"), opt(c, "--rolling") != NULL, &id, &expires);
    if (rc != DURO_OK)
        return rc;
    rc = reply_json(c, json_pack("{s:s,s:I}", "id", id, "expiresAt", (json_int_t)expires));
    duro_free(id);
    return rc;
}

static int cmd_session_get(ctx *c)
{
    char *data = NULL, *user = NULL;
    size_t len = 0;
    int64_t expires = 0;
    int rc = duro_session_get(c->db, c->ns, c->pos[0], &data, &len, &user, &expires);
    if (rc != DURO_OK)
        return rc;
    json_t *juser = user ? json_string(user) : json_null();
    char *u = juser ? json_dumps(juser, JSON_ENCODE_ANY) : NULL;
    json_decref(juser);
    rc = u ? reply_fmt(c, "{\"data\":%.*s,\"userId\":%s,\"expiresAt\":%" PRId64 "}", (int)len,
                       data, u, expires)
           : DURO_NOMEM;
    free(u);
    duro_free(data);
    duro_free(user);
    return rc;
}

static int cmd_session_put(ctx *c)
{
    int64_t expires = 0;
    int rc = duro_session_put(c->db, c->ns, c->pos[0], c->in, c->in_len, int_opt(c, "--ttl", 0),
                              &expires);
    return rc == DURO_OK ? reply_int(c, "expiresAt", expires) : rc;
}

static int cmd_session_del(ctx *c)
{
    int deleted = 0;
    int rc = duro_session_delete(c->db, c->ns, c->pos[0], &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

static int cmd_session_list(ctx *c)
{
    char *json = NULL;
    size_t len = 0;
    int rc = duro_session_list_user(c->db, c->ns, c->pos[0], &json, &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_session_revoke(ctx *c)
{
    int64_t deleted = 0;
    int rc = duro_session_revoke_user(c->db, c->ns, c->pos[0], opt(c, "--except"), &deleted);
    return rc == DURO_OK ? reply_int(c, "deleted", deleted) : rc;
}

/* ---- commands: users and password login ---- */

static int cmd_auth_register(ctx *c)
{
    char *user = NULL;
    int rc = duro_auth_register(c->db, c->ns, c->pos[0], c->pw[0], &user);
    if (rc != DURO_OK)
        return rc;
    rc = reply_json(c, json_pack("{s:s}", "userId", user));
    duro_free(user);
    return rc;
}

static int cmd_auth_login(ctx *c)
{
    char *id = NULL, *user = NULL;
    int64_t expires = 0;
    int rc = duro_auth_login(c->db, c->ns, c->pos[0], c->pw[0], int_opt(c, "--ttl", 0), &id,
                             &user, &expires);
    if (rc != DURO_OK)
        return rc;
    rc = reply_json(c, json_pack("{s:s,s:I,s:s}", "sessionId", id, "expiresAt",
                                 (json_int_t)expires, "userId", user));
    duro_free(id);
    duro_free(user);
    return rc;
}

static int cmd_auth_session(ctx *c)
{
    char *user = NULL;
    int64_t expires = 0;
    int rc = duro_auth_session(c->db, c->ns, c->pos[0], &user, &expires);
    if (rc != DURO_OK)
        return rc;
    rc = reply_json(c, json_pack("{s:s?,s:I}", "userId", user, "expiresAt", (json_int_t)expires));
    duro_free(user);
    return rc;
}

static int cmd_auth_logout(ctx *c)
{
    int deleted = 0;
    int rc = duro_auth_logout(c->db, c->ns, c->pos[0], &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

static int cmd_auth_password(ctx *c)
{
    int64_t revoked = 0;
    int rc = duro_auth_password(c->db, c->ns, c->pos[0], c->pw[0], c->pw[1], &revoked);
    return rc == DURO_OK ? reply_int(c, "deleted", revoked) : rc;
}

/* ---- commands: the namespace snapshot ---- */

static int cmd_snapshot_get(ctx *c)
{
    char *json = NULL;
    size_t len = 0;
    int64_t etag = 0;
    int rc = duro_snapshot_get(c->db, c->ns, &json, &len, &etag);
    if (rc != DURO_OK || !opt(c, "--meta"))
        return rc == DURO_OK ? reply_text(c, json, len) : rc;
    rc = reply_fmt(c, "{\"version\":%" PRId64 ",\"data\":%.*s}", etag, (int)len, json);
    duro_free(json);
    return rc;
}

static int cmd_snapshot_patch(ctx *c)
{
    int64_t etag = 0;
    int created = 0;
    int rc = duro_snapshot_patch(c->db, c->ns, c->in, c->in_len, int_opt(c, "--if-match", -1),
                                 &etag, &created);
    if (rc != DURO_OK)
        return rc;
    return reply_fmt(c, "{\"version\":%" PRId64 ",\"created\":%s}", etag,
                     created ? "true" : "false");
}

/* ---- commands: the resource registry ---- */

static int cmd_res_list(ctx *c)
{
    duro_resource_list_opts lo = DURO_RESOURCE_LIST_OPTS_INIT;
    lo.limit = int_opt(c, "--limit", lo.limit);
    lo.offset = int_opt(c, "--offset", lo.offset);
    lo.type = opt(c, "--type");
    lo.ns = opt(c, "--namespace");
    lo.key_prefix = opt(c, "--prefix");
    char *json = NULL;
    size_t len = 0;
    int rc = duro_resources_list(c->db, &lo, &json, &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

/* The reply is what a libduro call of db alone answers as JSON text. */
static int reply_of(ctx *c, duro_status (*call)(duro *, char **, size_t *))
{
    char *json = NULL;
    size_t len = 0;
    int rc = call(c->db, &json, &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_res_stats(ctx *c) { return reply_of(c, duro_resources_stats); }

static int cmd_res_register(ctx *c)
{
    char *json = NULL;
    size_t len = 0;
    int rc = duro_resources_register(c->db, c->ns, c->pos[0], c->pos[1],
                                     int_opt(c, "--size", -1), opt(c, "--metadata"), &json, &len,
                                     NULL);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_res_unregister(ctx *c)
{
    int deleted = 0;
    int rc = duro_resources_unregister(c->db, c->ns, c->pos[0], c->pos[1], &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

/* ---- commands: namespaces and the server ---- */

static int cmd_ns_ls(ctx *c)
{
    duro_namespace_list_opts lo = DURO_NAMESPACE_LIST_OPTS_INIT;
    lo.prefix = opt(c, "--prefix");
    lo.after = opt(c, "--after");
    lo.limit = int_opt(c, "--limit", lo.limit);
    char *json = NULL;
    size_t len = 0;
    int rc = duro_namespaces_list(c->db, &lo, &json, &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_ns_info(ctx *c)
{
    char *json = NULL;
    size_t len = 0;
    int rc = duro_namespaces_get(c->db, c->pos[0], &json, &len);
    return rc == DURO_OK ? reply_text(c, json, len) : rc;
}

static int cmd_ns_rm(ctx *c)
{
    int rc = duro_namespaces_delete(c->db, c->pos[0]);
    return rc == DURO_OK ? reply_deleted(c, 1) : rc;
}

static int cmd_info(ctx *c) { return reply_of(c, duro_server_info); }

/* ---- commands: export and import (JSON lines) ---- */

#define IMPORT_BATCH 1000           /* entries per duro_batch_set: the server's most */
#define IMPORT_BATCH_BYTES (1 << 20) /* and at most this much JSON text (but one line) */

/* The time now in ms since the epoch. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints one export line per key of the page: {"key","value","metadata"?,"expiresAt"?}. */
static int export_page(json_t *page, void *arg)
{
    ctx *c = arg;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(page, "keys"), i, k) {
        const char *key = json_string_value(k);
        if (!key)
            return DURO_INTERNAL;
        duro_meta m;
        memset(&m, 0, sizeof m);
        int rc = duro_get_meta(c->db, c->ns, key, &m);
        if (rc == DURO_NOT_FOUND) /* deleted or expired since the page was read */
            continue;
        if (rc != DURO_OK) {
            c->failed_key = key;
            return rc;
        }
        char *jkey = json_dumps(k, JSON_ENCODE_ANY);
        if (!jkey) {
            duro_meta_free(&m);
            return DURO_NOMEM;
        }
        printf("{\"key\":%s,\"value\":%.*s", jkey, (int)m.value_len, m.value);
        if (m.metadata)
            printf(",\"metadata\":%s", m.metadata);
        if (m.expires_at > 0)
            printf(",\"expiresAt\":%" PRId64, m.expires_at);
        fputs("}\n", stdout);
        free(jkey);
        duro_meta_free(&m);
        c->count++;
    }
    return DURO_OK; /* a write error: main() reports it (fflush) */
}

static int cmd_export(ctx *c)
{
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    duro_list_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.prefix = opt(c, "--prefix");
    lo.limit = 1000;
    rc = list_all(c, &lo, export_page, c);
    if (rc != DURO_OK)
        return fail(c, c->failed_key ? c->failed_key : "", rc);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "duro: export: %" PRId64 " keys\n", c->count);
    return EXIT_OK;
}

/* The import's batch: "[e,e,...", its entry count and the lines it holds. */
typedef struct import_batch {
    char *buf;
    size_t len, cap, n;
    int64_t imported, expired; /* lines written, lines skipped as expired */
    int64_t line;              /* the last line read (1-based, --skip included) */
    int64_t done_line;         /* every line up to this one is imported */
    int progress;
} import_batch;

static int batch_add(import_batch *b, const char *text, size_t len)
{
    if (b->len + len + 3 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + len + 3)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -1;
        b->buf = nb;
        b->cap = cap;
    }
    b->buf[b->len++] = b->n ? ',' : '[';
    memcpy(b->buf + b->len, text, len);
    b->len += len;
    b->n++;
    return 0;
}

/* Sends the batch; up_to: the line number it ends with. A libduro status. */
static int batch_flush(ctx *c, import_batch *b, int64_t up_to)
{
    if (b->n) {
        b->buf[b->len] = ']';
        int rc = duro_batch_set(c->db, c->ns, b->buf, b->len + 1, NULL);
        if (rc != DURO_OK)
            return rc;
        b->imported += (int64_t)b->n;
        b->n = b->len = 0;
    }
    b->done_line = up_to;
    if (b->progress)
        fprintf(stderr, "\rduro: import: %" PRId64 " lines, %" PRId64 " keys", up_to,
                b->imported);
    return DURO_OK;
}

/* A line of the import as a batch-set entry, compact JSON; NULL (with *why)
 * for a line that is not one, and *expired for an entry whose expiresAt has
 * passed. */
static char *import_entry(const char *line, size_t len, int64_t now, const char **why,
                          int *expired)
{
    json_error_t jerr;
    json_t *doc = json_loadb(line, len, 0, &jerr);
    *expired = 0;
    if (!doc || !json_is_object(doc)) {
        *why = doc ? "not a JSON object" : "not valid JSON";
        json_decref(doc);
        return NULL;
    }
    json_t *exp = json_object_get(doc, "expiresAt");
    const char *name;
    json_t *member;
    int unknown = 0;
    json_object_foreach(doc, name, member) {
        if (strcmp(name, "key") != 0 && strcmp(name, "value") != 0 &&
            strcmp(name, "metadata") != 0 && strcmp(name, "expiresAt") != 0 &&
            strcmp(name, "ttlMs") != 0)
            unknown = 1;
    }
    *why = unknown ? "a member not key, value, metadata, expiresAt or ttlMs"
           : !json_is_string(json_object_get(doc, "key")) ? "no string \"key\""
           : !json_object_get(doc, "value")             ? "no \"value\""
           : exp && !json_is_integer(exp) && !json_is_null(exp) ? "\"expiresAt\" is not ms"
           : exp && json_object_get(doc, "ttlMs")        ? "both \"expiresAt\" and \"ttlMs\""
                                                         : NULL;
    char *text = NULL;
    if (!*why && json_is_integer(exp)) {
        int64_t left = (int64_t)json_integer_value(exp) - now;
        if (left <= 0)
            *expired = 1;
        else
            json_object_set_new(doc, "ttlMs", json_integer(left));
    }
    json_object_del(doc, "expiresAt");
    if (!*why && !*expired && !(text = json_dumps(doc, JSON_COMPACT)))
        *why = "out of memory";
    json_decref(doc);
    return text;
}

static int cmd_import(ctx *c)
{
    const char *path = c->pos[0];
    int64_t skip = int_opt(c, "--skip", 0);
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        errmsg("%s: cannot open %s: %s", c->cmd, path, strerror(errno));
        return EXIT_USAGE;
    }
    int rc = open_db(c);
    if (rc != DURO_OK) {
        if (in != stdin)
            fclose(in);
        return exit_for(rc);
    }
    import_batch b;
    memset(&b, 0, sizeof b);
    b.progress = isatty(STDERR_FILENO);
    b.done_line = skip;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int ex = EXIT_OK;
    int64_t now = now_ms();
    while (rc == DURO_OK && (got = getline(&line, &cap, in)) >= 0) {
        b.line++;
        if (b.line <= skip)
            continue;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (strspn(line, " \t\r\n") >= n) /* a blank line */
            continue;
        const char *why = NULL;
        int expired = 0;
        char *entry = import_entry(line, n, now, &why, &expired);
        if (why) {
            rc = batch_flush(c, &b, b.line - 1);
            if (rc == DURO_OK) {
                if (b.progress)
                    fputc('\n', stderr);
                errmsg("%s: %s line %" PRId64 ": %s; the %" PRId64 " lines before it are "
                       "imported: after fixing it, rerun with --skip %" PRId64,
                       c->cmd, path, b.line, why, b.line - 1, b.line - 1);
                ex = EXIT_USAGE;
            }
            break;
        }
        if (expired) {
            b.expired++;
            continue;
        }
        size_t elen = strlen(entry);
        if (b.n == IMPORT_BATCH || (b.n && b.len + elen > IMPORT_BATCH_BYTES))
            rc = batch_flush(c, &b, b.line - 1);
        if (rc == DURO_OK && batch_add(&b, entry, elen) != 0)
            rc = DURO_NOMEM;
        free(entry);
    }
    if (rc == DURO_OK && ex == EXIT_OK && ferror(in)) {
        errmsg("%s: cannot read %s: %s", c->cmd, path, strerror(errno));
        ex = EXIT_USAGE;
    }
    if (rc == DURO_OK && ex == EXIT_OK) {
        rc = batch_flush(c, &b, b.line);
        if (b.progress)
            fputc('\n', stderr);
    }
    free(line);
    free(b.buf);
    if (in != stdin)
        fclose(in);
    if (rc != DURO_OK) {
        if (b.progress)
            fputc('\n', stderr);
        ex = fail(c, "", rc);
        errmsg("%s: the lines up to %" PRId64 " are imported: rerun with --skip %" PRId64
               " to go on", c->cmd, b.done_line, b.done_line);
        return ex;
    }
    if (ex != EXIT_OK)
        return ex;
    printf("{\"imported\":%" PRId64 ",\"expired\":%" PRId64 ",\"skipped\":%" PRId64 "}\n",
           b.imported, b.expired, skip < b.line ? skip : b.line);
    return EXIT_OK;
}

/* ---- commands: blobs (duro blob ...) ---- */

/* The blob commands name their namespace as the first argument (duro blob
 * get NS KEY), as an object store's bucket: c->pos[0] is NS, c->pos[1] KEY. */

/* info as the object's fields {key, size, etag, md5, contentType, uploaded,
 * updatedAt, metadata, version} (+ created when created >= 0), as JSON. */
static json_t *blob_fields(const char *key, const duro_blob_info *info, int created)
{
    char iso[32];
    time_t s = (time_t)(info->updated_at / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(iso, sizeof iso, "1970-01-01T00:00:00Z");
    json_t *meta = info->metadata_json ? json_loads(info->metadata_json, 0, NULL) : json_object();
    json_t *o =
        json_pack("{s:s,s:I,s:s,s:s,s:s?,s:s,s:I,s:o?,s:I}", "key", key, "size",
                  (json_int_t)info->size, "etag", info->etag, "md5", info->md5, "contentType",
                  info->content_type, "uploaded", iso, "updatedAt", (json_int_t)info->updated_at,
                  "metadata", meta, "version", (json_int_t)info->version);
    if (o && created >= 0)
        json_object_set_new(o, "created", json_boolean(created));
    return o;
}

/* The source of blob put: a file descriptor, and the errno of a failed read. */
typedef struct blob_in {
    int fd;
    int err;
} blob_in;

static int blob_read(void *arg, void *buf, size_t cap, size_t *got)
{
    blob_in *in = arg;
    for (;;) {
        ssize_t n = read(in->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            in->err = errno;
            return -1;
        }
        *got = (size_t)n;
        return 0;
    }
}

static int cmd_blob_put(ctx *c)
{
    const char *path = c->npos > 2 ? c->pos[2] : "-";
    if (c->npos < 3 && isatty(STDIN_FILENO))
        return usage_error(c, "give FILE, or - to read stdin (it is a terminal)");
    const char *meta = opt(c, "--meta");
    if (meta) {
        json_error_t jerr;
        json_t *m = json_loads(meta, 0, &jerr);
        int ok = json_is_object(m);
        json_decref(m);
        if (!ok)
            return usage_error(c, "--meta wants a JSON object ({\"name\":\"value\"}), not '%s'",
                               meta);
    }
    blob_in in = {.fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        errmsg("%s: cannot open %s: %s", c->cmd, path, strerror(errno));
        return EXIT_USAGE;
    }
    int rc = open_db(c);
    if (rc != DURO_OK) {
        if (in.fd != STDIN_FILENO)
            close(in.fd);
        return exit_for(rc);
    }
    duro_blob_put_opts po = {.content_type = opt(c, "--type"),
                             .metadata_json = meta,
                             .if_match = opt(c, "--if-match"),
                             .if_none_match = opt(c, "--if-none-match")};
    duro_blob_info info;
    int created = 0;
    rc = duro_blob_put_stream(c->db, c->pos[0], c->pos[1], blob_read, &in, &po, &info, &created);
    if (in.fd != STDIN_FILENO)
        close(in.fd);
    if (in.err) {
        errmsg("%s %s: cannot read %s: %s (nothing was stored)", c->cmd, c->pos[1],
               strcmp(path, "-") == 0 ? "stdin" : path, strerror(in.err));
        return EXIT_USAGE;
    }
    if (rc != DURO_OK)
        return fail(c, c->pos[1], rc);
    rc = reply_json(c, blob_fields(c->pos[1], &info, created));
    duro_blob_info_free(&info);
    if (rc != DURO_OK)
        return fail(c, c->pos[1], rc);
    print_reply(c);
    return EXIT_OK;
}

/* The sink of blob get: a file descriptor, and the errno of a failed write. */
typedef struct blob_out {
    int fd;
    int err;
} blob_out;

static int blob_write(void *arg, const void *p, size_t n)
{
    blob_out *out = arg;
    const char *b = p;
    while (n) {
        ssize_t w = write(out->fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            out->err = w < 0 ? errno : EIO;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* duro blob get: the bytes to stdout, or with --out to a file. A regular
 * file is written as FILE.part and renamed over FILE once every byte is
 * there, so a failed download leaves FILE as it was. */
static int cmd_blob_get(ctx *c)
{
    const char *path = opt(c, "--out");
    char tmp[PATH_MAX];
    blob_out out = {.fd = STDOUT_FILENO};
    int direct = 0; /* --out names no regular file (/dev/null, a FIFO): written as it is */
    if (path) {
        struct stat st;
        direct = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.part", path) >= sizeof tmp)
            return usage_error(c, "--out: the path is too long");
        out.fd = open(direct ? path : tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out.fd < 0) {
            errmsg("%s: cannot open %s: %s", c->cmd, direct ? path : tmp, strerror(errno));
            return EXIT_USAGE;
        }
    }
    int rc = open_db(c);
    duro_blob_info info;
    memset(&info, 0, sizeof info);
    if (rc == DURO_OK)
        rc = duro_blob_get_stream(c->db, c->pos[0], c->pos[1], blob_write, &out, &info);
    int ex = EXIT_OK;
    if (rc != DURO_OK && out.err) {
        errmsg("%s %s: cannot write %s: %s", c->cmd, c->pos[1], path ? path : "stdout",
               strerror(out.err));
        ex = EXIT_SERVER;
    } else if (rc != DURO_OK) {
        ex = c->db ? fail(c, c->pos[1], rc) : exit_for(rc);
    }
    if (path) {
        if (ex == EXIT_OK && !direct && fsync(out.fd) != 0) {
            errmsg("%s %s: cannot write %s: %s", c->cmd, c->pos[1], tmp, strerror(errno));
            ex = EXIT_SERVER;
        }
        close(out.fd);
        if (!direct && ex == EXIT_OK && rename(tmp, path) != 0) {
            errmsg("%s %s: cannot rename %s to %s: %s", c->cmd, c->pos[1], tmp, path,
                   strerror(errno));
            ex = EXIT_SERVER;
        }
        if (!direct && ex != EXIT_OK)
            unlink(tmp);
    }
    if (ex == EXIT_OK && path) { /* the bytes went to the file: the fields to stdout */
        rc = reply_json(c, blob_fields(c->pos[1], &info, -1));
        if (rc == DURO_OK)
            print_reply(c);
        else
            ex = fail(c, c->pos[1], rc);
    }
    duro_blob_info_free(&info);
    return ex;
}

static int cmd_blob_head(ctx *c)
{
    duro_blob_info info;
    int rc = duro_blob_head(c->db, c->pos[0], c->pos[1], &info);
    if (rc != DURO_OK)
        return rc;
    rc = reply_json(c, blob_fields(c->pos[1], &info, -1));
    duro_blob_info_free(&info);
    return rc;
}

static int cmd_blob_rm(ctx *c)
{
    int deleted = 0;
    int rc = duro_blob_delete(c->db, c->pos[0], c->pos[1], opt(c, "--if-match"), &deleted);
    return rc == DURO_OK ? reply_deleted(c, deleted) : rc;
}

/* One page of blob ls, parsed. A libduro status. */
static int blob_page(ctx *c, const duro_blob_list_opts *lo, json_t **page)
{
    char *json = NULL;
    size_t len = 0;
    *page = NULL;
    int rc = duro_blob_list(c->db, c->pos[0], lo, &json, &len);
    if (rc != DURO_OK)
        return rc;
    *page = json_loadb(json, len, 0, NULL);
    duro_free(json);
    if (!*page || !json_is_array(json_object_get(*page, "objects"))) {
        errmsg("%s: the list reply is not a {objects, truncated, cursor, delimitedPrefixes} "
               "object",
               c->cmd);
        json_decref(*page);
        *page = NULL;
        return DURO_INTERNAL;
    }
    return DURO_OK;
}

/* -o table of blob ls: {"objects": [{key, size, type, uploaded}]}, a rolled
 * up prefix as a row of type "(prefix)". Takes page's reference. */
static json_t *blob_table(json_t *page)
{
    json_t *rows = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(page, "objects"), i, o) {
        json_array_append_new(rows, json_pack("{s:O,s:O,s:O,s:O}", "key",
                                              json_object_get(o, "key"), "size",
                                              json_object_get(o, "size"), "type",
                                              json_object_get(o, "contentType"), "uploaded",
                                              json_object_get(o, "uploaded")));
    }
    json_array_foreach(json_object_get(page, "delimitedPrefixes"), i, o) {
        json_array_append_new(rows, json_pack("{s:O,s:s,s:s,s:s}", "key", o, "size", "", "type",
                                              "(prefix)", "uploaded", ""));
    }
    json_decref(page);
    return rows ? json_pack("{s:o}", "objects", rows) : NULL;
}

static int cmd_blob_ls(ctx *c)
{
    duro_blob_list_opts lo = {.prefix = opt(c, "--prefix"),
                              .delimiter = opt(c, "--delimiter"),
                              .limit = (int)int_opt(c, "--limit", 0),
                              .cursor = opt(c, "--cursor")};
    int table = c->output && strcmp(c->output, "table") == 0;
    json_t *page = NULL;
    int rc;
    if (!opt(c, "--all")) {
        rc = blob_page(c, &lo, &page);
    } else { /* every page: the objects and prefixes of all, as one page */
        json_t *objs = json_array(), *pre = json_array();
        char *cursor = NULL;
        rc = objs && pre ? DURO_OK : DURO_NOMEM;
        while (rc == DURO_OK) {
            json_t *p;
            lo.cursor = cursor;
            if ((rc = blob_page(c, &lo, &p)) != DURO_OK)
                break;
            json_array_extend(objs, json_object_get(p, "objects"));
            json_t *dp = json_object_get(p, "delimitedPrefixes");
            if (json_is_array(dp))
                json_array_extend(pre, dp);
            json_t *next = json_object_get(p, "cursor");
            int more = json_is_true(json_object_get(p, "truncated"));
            free(cursor);
            cursor = NULL;
            if (more && !json_is_string(next)) {
                errmsg("%s: the page is truncated but has no cursor", c->cmd);
                rc = DURO_INTERNAL;
            } else if (more && !(cursor = strdup(json_string_value(next)))) {
                rc = DURO_NOMEM;
            }
            json_decref(p);
            if (!more)
                break;
        }
        free(cursor);
        if (rc == DURO_OK)
            page = json_pack("{s:O,s:b,s:n,s:O}", "objects", objs, "truncated", 0, "cursor",
                             "delimitedPrefixes", pre);
        json_decref(objs);
        json_decref(pre);
        if (rc == DURO_OK && !page)
            rc = DURO_NOMEM;
    }
    if (rc != DURO_OK)
        return rc;
    return reply_json(c, table ? blob_table(page) : page);
}

/* ---- commands without a connection ---- */

static int cmd_help(ctx *c);
static int cmd_completion(ctx *c);

static int cmd_bench(ctx *c)
{
    return duro_cli_bench(c->npos, c->pos, c->url, c->ns_given ? c->ns : NULL, c->token);
}

/* ---- the command table ---- */

static const optdef get_opts[] = {OPT_FLAG("--meta"), OPT_END};
static const optdef put_opts[] = {OPT_DUR("--ttl", 1, INT64_MAX), OPT_FLAG("--string"),
                                  OPT_FLAG("-s"),
                                  OPT_INT("--if-match", 1, INT64_MAX),
                                  OPT_FLAG("--if-none-match"), OPT_STR("--metadata"), OPT_END};
static const optdef del_opts[] = {OPT_INT("--if-match", 1, INT64_MAX), OPT_END};
static const optdef ls_opts[] = {OPT_STR("--prefix"),         OPT_STR("--start"),
                                 OPT_STR("--start-after"),    OPT_STR("--end"),
                                 OPT_INT("--limit", 1, 10000), OPT_STR("--cursor"),
                                 OPT_FLAG("--reverse"),       OPT_FLAG("--values"),
                                 OPT_FLAG("--all"),           OPT_END};
static const optdef stats_opts[] = {OPT_STR("--prefix"), OPT_END};
static const optdef no_opts[] = {OPT_END};
static const optdef export_opts[] = {OPT_STR("--prefix"), OPT_END};
static const optdef import_opts[] = {OPT_INT("--skip", 0, INT64_MAX), OPT_END};
static const optdef rl_check_opts[] = {OPT_INT("--limit", 1, INT64_MAX),
                                       OPT_DUR("--window", 1, INT64_MAX),
                                       OPT_INT("--cost", 0, INT64_MAX), OPT_END};
static const optdef rl_get_opts[] = {OPT_INT("--limit", 1, INT64_MAX),
                                     OPT_DUR("--window", 1, INT64_MAX), OPT_END};
static const optdef ses_create_opts[] = {{"--ttl", 'd', 1, INT64_MAX, "DUR"}, OPT_STR("--user"),
                                         OPT_FLAG("--rolling"), OPT_END};
static const optdef ses_put_opts[] = {OPT_DUR("--ttl", 1, INT64_MAX), OPT_END};
static const optdef ses_revoke_opts[] = {OPT_STR("--except"), OPT_END};
static const optdef auth_login_opts[] = {OPT_DUR("--ttl", 1, INT64_MAX), OPT_END};
static const optdef snap_get_opts[] = {OPT_FLAG("--meta"), OPT_END};
static const optdef snap_patch_opts[] = {OPT_INT("--if-match", 0, INT64_MAX), OPT_END};
static const optdef res_list_opts[] = {OPT_STR("--type"), OPT_STR("--namespace"),
                                       OPT_STR("--prefix"), OPT_INT("--limit", 0, 1000),
                                       OPT_INT("--offset", 0, 1000000000), OPT_END};
static const optdef res_register_opts[] = {OPT_INT("--size", 0, INT64_MAX),
                                           OPT_STR("--metadata"), OPT_END};

static const optdef ns_ls_opts[] = {OPT_STR("--prefix"), OPT_STR("--after"),
                                    OPT_INT("--limit", 0, 1000), OPT_END};
static const optdef ns_rm_opts[] = {{"--yes", 'f', 0, 0, "(no prompt: it cannot be undone)"},
                                    OPT_END};

static const optdef blob_put_opts[] = {OPT_STR("--type"), OPT_STR("--meta"),
                                       OPT_STR("--if-match"), OPT_STR("--if-none-match"),
                                       OPT_END};
static const optdef blob_get_opts[] = {OPT_STR("--out"), OPT_END};
static const optdef blob_rm_opts[] = {OPT_STR("--if-match"), OPT_END};
static const optdef blob_ls_opts[] = {OPT_STR("--prefix"), OPT_STR("--delimiter"),
                                      OPT_INT("--limit", 1, 1000), OPT_STR("--cursor"),
                                      OPT_FLAG("--all"), OPT_END};

#define NSUBS(subs) (sizeof subs / sizeof subs[0])

static const command ratelimit_subs[] = {
    {.name = "check", .example = "duro ratelimit check login:ada --limit 5 --window 60s",
     .run = cmd_rl_check, .args = "KEY [--limit N] [--window DUR] [--cost N]",
     .summary = "take --cost (1) of --limit per --window ms (default 30/60s) from KEY; exit 5 if "
                "denied",
     .opts = rl_check_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
    {.name = "get", .example = "duro ratelimit get login:ada --limit 5 --window 60s",
     .run = cmd_rl_get, .args = "KEY [--limit N] [--window DUR]",
     .summary = "print KEY's state as a check of cost 0 would (takes nothing)",
     .opts = rl_get_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
    {.name = "reset", .example = "duro ratelimit reset login:ada",
     .run = cmd_rl_reset, .args = "KEY",
     .summary = "forget KEY's state; prints {\"deleted\":bool}", .opts = no_opts, .min_pos = 1,
     .max_pos = 1, .subject = 1},
};

static const command session_subs[] = {
    {.name = "create", .example = "duro session create '{\"cart\":[]}' --ttl 1h --user ada --rolling",
     .run = cmd_session_create,
     .args = "DATA_JSON|- --ttl DUR [--user U] [--rolling]",
     .summary = "create a session (its id is shown only here); prints {\"id\",\"expiresAt\"}",
     .opts = ses_create_opts, .min_pos = 1, .max_pos = 1, .input = 1},
    {.name = "get", .example = "duro session get 3f2a9c0d...",
     .run = cmd_session_get, .args = "ID",
     .summary = "print {\"data\",\"userId\",\"expiresAt\"}; exit 1 if unknown or expired",
     .opts = no_opts, .min_pos = 1, .max_pos = 1},
    {.name = "put", .example = "duro session put 3f2a9c0d... '{\"cart\":[1]}' --ttl 1h",
     .run = cmd_session_put, .args = "ID DATA_JSON|- [--ttl DUR]",
     .summary = "replace the session's data (--ttl: expire MS from now); prints {\"expiresAt\"}",
     .opts = ses_put_opts, .min_pos = 2, .max_pos = 2, .input = 2},
    {.name = "del", .example = "duro session del 3f2a9c0d...",
     .run = cmd_session_del, .args = "ID",
     .summary = "delete the session (logout); prints {\"deleted\":bool}", .opts = no_opts,
     .min_pos = 1, .max_pos = 1},
    {.name = "list", .example = "duro session list ada -o table",
     .run = cmd_session_list, .args = "USER",
     .summary = "list USER's live sessions: {\"sessions\":[{createdAt, expiresAt, rolling}],"
                "\"count\"}",
     .opts = no_opts, .min_pos = 1, .max_pos = 1, .subject = 1, .table = "sessions"},
    {.name = "revoke", .example = "duro session revoke ada --except 3f2a9c0d...",
     .run = cmd_session_revoke, .args = "USER [--except ID]",
     .summary = "delete USER's sessions but ID's; prints {\"deleted\":n}",
     .opts = ses_revoke_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
};

static const command auth_subs[] = {
    {.name = "register", .example = "DURO_PASSWORD=... duro -n app1 auth register ada@example.com",
     .run = cmd_auth_register, .args = "EMAIL",
     .summary = "create a user (password: $DURO_PASSWORD or stdin); prints {\"userId\"}",
     .opts = no_opts, .min_pos = 1, .max_pos = 1, .subject = 1, .passwords = 1},
    {.name = "login", .example = "duro -n app1 auth login ada@example.com --ttl 7d < password.txt",
     .run = cmd_auth_login, .args = "EMAIL [--ttl DUR]",
     .summary = "log in; prints {\"sessionId\",\"expiresAt\",\"userId\"} (--ttl: default 24 h)",
     .opts = auth_login_opts, .min_pos = 1, .max_pos = 1, .subject = 1, .passwords = 1},
    {.name = "session", .example = "duro -n app1 auth session 3f2a9c0d...",
     .run = cmd_auth_session, .args = "ID",
     .summary = "print the login session's {\"userId\",\"expiresAt\"}; exit 6 if unknown",
     .opts = no_opts, .min_pos = 1, .max_pos = 1},
    {.name = "logout", .example = "duro -n app1 auth logout 3f2a9c0d...",
     .run = cmd_auth_logout, .args = "ID",
     .summary = "end the session; prints {\"deleted\":bool}", .opts = no_opts, .min_pos = 1,
     .max_pos = 1},
    {.name = "password", .example = "printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | duro -n app1 auth password 3f2a9c0d...",
     .run = cmd_auth_password, .args = "ID",
     .summary = "change the password (current, then new); ends the other sessions; prints "
                "{\"deleted\":n}",
     .opts = no_opts, .min_pos = 1, .max_pos = 1, .passwords = 2},
};

static const command snapshot_subs[] = {
    {.name = "get", .example = "duro -n app1 snapshot get --meta",
     .run = cmd_snapshot_get, .args = "[--meta]",
     .summary = "print the namespace's live keys as one JSON object (--meta: {\"version\",\"data\"})",
     .opts = snap_get_opts},
    {.name = "patch", .example = "duro -n app1 snapshot patch '[{\"op\":\"set\",\"key\":\"a\",\"value\":1}]' --if-match 0",
     .run = cmd_snapshot_patch, .args = "OPS_JSON|- [--if-match ETAG]",
     .summary = "apply set/del ops atomically; prints {\"version\",\"created\"}; exit 4 if stale",
     .opts = snap_patch_opts, .min_pos = 1, .max_pos = 1, .input = 1,
     /* the ops array (the HTTP PATCH body), or {"ops": [...]} */
     .input_array = "ops",
     .input_expect = "[{\"op\":\"set\",\"key\":..,\"value\":..} | "
                     "{\"op\":\"del\",\"key\":..}, ...]"},
};

static const command resources_subs[] = {
    {.name = "list", .example = "duro resources list --type do --namespace app1 --limit 50 -o table",
     .run = cmd_res_list,
     .args = "[--type T] [--namespace NS] [--prefix P] [--limit N] [--offset N]",
     .summary = "print a page {resources, total, offset, limit, has_more} (all namespaces)",
     .opts = res_list_opts, .table = "resources"},
    {.name = "stats", .example = "duro resources stats",
     .run = cmd_res_stats, .args = "",
     .summary = "print {total, by_type, by_namespace, total_size} over every namespace",
     .opts = no_opts},
    {.name = "register", .example = "duro -n app1 resources register do room:42 --size 1024 --metadata '{\"owner\":\"ada\"}'",
     .run = cmd_res_register,
     .args = "TYPE KEY [--size BYTES] [--metadata JSON]",
     .summary = "register (or update) resource TYPE/KEY in the namespace (-n); prints the record",
     .opts = res_register_opts, .min_pos = 2, .max_pos = 2, .subject = 2},
    {.name = "unregister", .example = "duro -n app1 resources unregister do room:42",
     .run = cmd_res_unregister, .args = "TYPE KEY",
     .summary = "remove resource TYPE/KEY of the namespace (-n); prints {\"deleted\":bool}",
     .opts = no_opts, .min_pos = 2, .max_pos = 2, .subject = 2},
};

static const command ns_subs[] = {
    {.name = "ls", .example = "duro ns ls --prefix app -o table",
     .run = cmd_ns_ls, .args = "[--prefix P] [--after NS] [--limit N]",
     .summary = "print a page {namespaces, total, limit, has_more, next} (--after: the next)",
     .opts = ns_ls_opts, .table = "namespaces"},
    {.name = "info", .example = "duro ns info app1",
     .run = cmd_ns_info, .args = "NS",
     .summary = "print {namespace, keys, bytes, tables, blobs, last_write, last_write_ms}",
     .opts = no_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
    {.name = "rm", .example = "duro ns rm app1 --yes",
     .run = cmd_ns_rm, .args = "NS --yes",
     .summary = "delete namespace NS, its files and registry rows; prints {\"deleted\":true}",
     .opts = ns_rm_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
};

static const command blob_subs[] = {
    {.name = "put", .example = "duro blob put media photos/cat.jpg cat.jpg --type image/jpeg\n"
                               "  tar c dir | duro blob put backups dir.tar - --if-none-match '*'",
     .local = cmd_blob_put,
     .args = "NS KEY [FILE|-] [--type CONTENT-TYPE] [--meta JSON] [--if-match ETAG]\n"
             "            [--if-none-match ETAG|*]",
     .summary = "store FILE (or stdin), streamed in parts of 4 MiB; prints the object's fields",
     .opts = blob_put_opts, .min_pos = 2, .max_pos = 3, .subject = 2},
    {.name = "get", .example = "duro blob get media photos/cat.jpg > cat.jpg\n"
                               "  duro blob get media photos/cat.jpg --out cat.jpg",
     .local = cmd_blob_get, .args = "NS KEY [--out FILE]",
     .summary = "write the object's bytes to stdout (--out: to FILE, then print its fields)",
     .opts = blob_get_opts, .min_pos = 2, .max_pos = 2, .subject = 2},
    {.name = "head", .example = "duro blob head media photos/cat.jpg",
     .run = cmd_blob_head, .args = "NS KEY",
     .summary = "print the object's fields {key, size, etag, md5, contentType, uploaded, ...}",
     .opts = no_opts, .min_pos = 2, .max_pos = 2, .subject = 2},
    {.name = "rm", .example = "duro blob rm media photos/cat.jpg --if-match 9f86d0...",
     .run = cmd_blob_rm, .args = "NS KEY [--if-match ETAG]",
     .summary = "delete the object; prints {\"deleted\":bool}", .opts = blob_rm_opts,
     .min_pos = 2, .max_pos = 2, .subject = 2},
    {.name = "ls", .example = "duro blob ls media --prefix photos/ --delimiter / -o table\n"
                              "  duro blob ls media --all",
     .run = cmd_blob_ls,
     .args = "NS [--prefix P] [--delimiter D] [--limit N] [--cursor C] [--all]",
     .summary = "print a page {objects, truncated, cursor, delimitedPrefixes} (--all: every page)",
     .opts = blob_ls_opts, .min_pos = 1, .max_pos = 1, .excl = {"--all", "--cursor"},
     .table = "objects"},
};

static const command commands[] = {
    {.name = "get", .example = "duro get user:1\n  duro get greet --raw\n  duro get user:1 --meta",
     .run = cmd_get, .args = "KEY [--meta]",
     .summary = "print the value of KEY as JSON (--meta: with metadata, version and times)",
     .opts = get_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
    {.name = "put", .example = "duro put user:1 '{\"name\":\"Ada\"}' --ttl 60s\n  duro put greet hello -s\n  echo '[1,2]' | duro put list -",
     .run = cmd_put,
     .args = "KEY JSON|- [-s] [--ttl DUR] [--if-match V | --if-none-match] [--metadata JSON]",
     .summary = "store a JSON value (- reads it from stdin; -s/--string: the text as a string);"
                " prints {\"version\":n}",
     .opts = put_opts, .min_pos = 2, .max_pos = 2, .subject = 1, .input = 2,
     .excl = {"--if-match", "--if-none-match"}},
    {.name = "del", .example = "duro del user:1 --if-match 3",
     .run = cmd_del, .args = "KEY [--if-match V]",
     .summary = "delete KEY; prints {\"deleted\":bool}", .opts = del_opts, .min_pos = 1,
     .max_pos = 1, .subject = 1},
    {.name = "ls", .example = "duro -n app1 ls --prefix user: --limit 100\n  duro ls --all -o table",
     .run = cmd_ls,
     .args = "[--prefix P] [--start K] [--start-after K] [--end K] [--limit N] [--cursor C]\n"
             "            [--reverse] [--values] [--all]",
     .summary = "print one page {keys, cursor, list_complete} (--all: every page as one)",
     .opts = ls_opts, .excl = {"--all", "--cursor"}, .table = "keys"},
    {.name = "batch-get", .example = "duro batch-get user:1 user:2",
     .run = cmd_batch_get, .args = "KEY...",
     .summary = "print {key: value} for the keys that exist", .opts = no_opts, .min_pos = 1,
     .max_pos = -1},
    {.name = "batch-set", .example = "duro batch-set '[{\"key\":\"a\",\"value\":1,\"ttlMs\":60000}]'\n  duro -n old batch-get a b | duro -n new batch-set -",
     .run = cmd_batch_set, .args = "JSON|-",
     .summary = "store [{\"key\":..,\"value\":..,\"ttlMs\"?,\"metadata\"?}, ...] or {\"key\": "
                "value, ...} (what batch-get prints) atomically (- reads stdin)",
     .opts = no_opts, .min_pos = 1, .max_pos = 1, .input = 1,
     /* the entries array, or the HTTP body {"entries": [...]} */
     .input_array = "entries", .input_map = 1,
     .input_expect = "[{\"key\":..,\"value\":..}, ...] or an object {\"key\": value, ...}"},
    {.name = "batch-del", .example = "duro batch-del user:1 user:2",
     .run = cmd_batch_del, .args = "KEY...",
     .summary = "delete keys; prints {\"deleted\":n}", .opts = no_opts, .min_pos = 1,
     .max_pos = -1},
    {.name = "clear", .example = "duro -n scratch clear",
     .run = cmd_clear, .args = "",
     .summary = "delete every key of the namespace; prints {\"deleted\":n}", .opts = no_opts},
    {.name = "stats", .example = "duro stats --prefix user:",
     .run = cmd_stats, .args = "[--prefix P]",
     .summary = "count the live keys (pages through the list); prints {\"namespace\",\"keys\"}",
     .opts = stats_opts},
    {.name = "export", .example = "duro -n app1 export --prefix user: > users.jsonl",
     .local = cmd_export, .args = "[--prefix P]",
     .summary = "print every key as a JSON line {\"key\",\"value\",\"metadata\"?,\"expiresAt\"?}",
     .opts = export_opts},
    {.name = "import", .example = "duro -n app2 import users.jsonl\n"
                                  "  duro -n app2 import users.jsonl --skip 12000",
     .local = cmd_import, .args = "FILE|- [--skip N]",
     .summary = "store the JSON lines of export (or batch-set entries) in batches of 1000;"
                " prints {\"imported\",\"expired\",\"skipped\"}",
     .opts = import_opts, .min_pos = 1, .max_pos = 1, .subject = 1},
    {.name = "ping", .example = "duro -u duro://10.0.0.5:7070 ping",
     .run = cmd_ping, .args = "",
     .summary = "check that the server answers; prints \"pong\"", .opts = no_opts},
    {.name = "ratelimit", .example = "duro ratelimit check login:ada --limit 5 --window 60s",
     .args = "check|get|reset KEY [OPTIONS]",
     .summary = "rate limiting: check KEY [--limit N --window DUR --cost N], get KEY, reset KEY",
     .notes = "Exit status of check: 0 allowed, 5 denied (the result is printed either way).\n"
              "Limits are per namespace (-n); rate-limit keys are not KV keys.\n",
     .opts = no_opts, .max_pos = -1, .subs = ratelimit_subs, .nsubs = NSUBS(ratelimit_subs)},
    {.name = "session", .example = "duro session create '{}' --ttl 1h --user ada",
     .args = "create|get|put|del|list|revoke ARGS [OPTIONS]",
     .summary = "sessions: create DATA --ttl DUR, get ID, put ID DATA, del ID, list USER, revoke "
                "USER",
     .notes = "An ID that begins with '-' goes after -- (duro session get -- -Xy...);\n"
              "options come before the --.\n",
     .opts = no_opts, .max_pos = -1, .subs = session_subs, .nsubs = NSUBS(session_subs)},
    {.name = "auth", .example = "duro -n app1 auth login ada@example.com < password.txt",
     .args = "register|login|session|logout|password ARG [OPTIONS]",
     .summary = "users and password login: register EMAIL, login EMAIL, session ID, logout ID, "
                "password ID",
     .notes = "Passwords are never arguments (ps and shell history would show them): each\n"
              "is $DURO_PASSWORD if set, else one line of stdin (its newline stripped; on\n"
              "a terminal it is prompted for, without echo). password takes the current\n"
              "password that way, then the new one from $DURO_NEW_PASSWORD, else the next\n"
              "line of stdin.\n"
              "Exit status: 6 for a wrong email or password or an unknown session, 5 when\n"
              "failed logins throttle the email (5 per 15 min) or client (20), 4 when\n"
              "register finds the email taken, 2 for a malformed email or a password not\n"
              "of 8..1024 bytes.\n"
              "An ID that begins with '-' goes after -- (duro auth session -- -Xy...).\n",
     .opts = no_opts, .max_pos = -1, .subs = auth_subs, .nsubs = NSUBS(auth_subs)},
    {.name = "snapshot", .example = "duro -n app1 snapshot get",
     .args = "get|patch [ARGS] [OPTIONS]",
     .summary = "the namespace as one document: get [--meta], patch OPS_JSON [--if-match ETAG]",
     .notes = "OPS_JSON (or - for stdin) is [{\"op\":\"set\",\"key\":..,\"value\":..,"
              "\"ttlMs\"?,\"metadata\"?} |\n{\"op\":\"del\",\"key\":..}, ...], "
              "at most 1000, applied all or nothing.\n"
              "The ETag is the namespace's write counter, 0 while it has no live key:\n"
              "snapshot get --meta prints it, patch --if-match ETAG requires it (exit 4\n"
              "if the namespace changed; --if-match 0: only if it is empty).\n",
     .opts = no_opts, .max_pos = -1, .subs = snapshot_subs, .nsubs = NSUBS(snapshot_subs)},
    {.name = "resources", .example = "duro resources stats",
     .args = "list|stats|register|unregister [ARGS] [OPTIONS]",
     .summary = "the resource registry: list [filters], stats, register TYPE KEY, unregister "
                "TYPE KEY",
     .notes = "KV keys are resources of type \"kv\", tracked automatically (register\n"
              "refuses that type). list and stats cover every namespace; after\n"
              "'resources list', --namespace NS filters (-n/--ns stay the namespace of\n"
              "register and unregister).\n",
     .opts = no_opts, .max_pos = -1, .subs = resources_subs, .nsubs = NSUBS(resources_subs)},
    {.name = "ns", .example = "duro ns ls",
     .args = "ls|info|rm [ARGS] [OPTIONS]",
     .summary = "namespaces: ls [--prefix P] [--after NS] [--limit N], info NS, rm NS --yes",
     .notes = "rm cannot be undone and asks nothing: it wants --yes, tty or not. With\n"
              "access control it needs the admin token. Exit status 1 when NS has no file.\n",
     .opts = no_opts, .max_pos = -1, .subs = ns_subs, .nsubs = NSUBS(ns_subs)},
    {.name = "blob", .example = "duro blob put media photos/cat.jpg cat.jpg --type image/jpeg",
     .args = "put|get|head|rm|ls NS [KEY] [ARGS] [OPTIONS]",
     .summary = "blobs (objects of bytes): put NS KEY [FILE], get NS KEY, head NS KEY, rm NS KEY,"
                " ls NS",
     .notes = "The namespace is the first argument (-n is not used). An ETag is the SHA-256\n"
              "of the bytes in hex, as head prints it; --if-none-match '*' writes only a\n"
              "new key. put and get stream in pieces of 4 MiB, so memory stays small\n"
              "whatever the size; get reads every piece of the version it started with\n"
              "and fails with exit 4 if the object is replaced meanwhile (what reached\n"
              "stdout is then incomplete; --out FILE is left as it was). Exit status 1\n"
              "when the object does not exist, 4 when a condition fails.\n",
     .opts = no_opts, .max_pos = -1, .subs = blob_subs, .nsubs = NSUBS(blob_subs)},
    {.name = "info", .example = "duro info",
     .run = cmd_info, .args = "",
     .summary = "print the server's figures {version, uptime_ms, sync, actors, ...}",
     .opts = no_opts},
    {.name = "bench", .example = "duro bench --clients 50 --pipeline 16 --op get --duration 5",
     .local = cmd_bench, .args = "[OPTIONS]   (duro bench --help)",
     .summary = "load generator over the binary protocol: ops/s and p50/p99/p999 latency",
     .opts = no_opts, .max_pos = -1, .raw_args = 1},
    {.name = "completion", .example = "duro completion bash > ~/.local/share/bash-completion/completions/duro\n"
                          "  duro completion zsh > ~/.zfunc/_duro",
     .local = cmd_completion, .args = "bash|zsh",
     .summary = "print a shell completion script for the commands and their options",
     .opts = no_opts, .min_pos = 1, .max_pos = 1},
    {.name = "help", .example = "duro help session create",
     .local = cmd_help, .args = "[COMMAND [SUBCOMMAND]]",
     .summary = "show help for a command", .opts = no_opts, .max_pos = 2},
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

/* The option names of o, space-separated, on f. */
static void print_opt_names(FILE *f, const optdef *o)
{
    for (; o && o->name; o++)
        fprintf(f, " %s", o->name);
}

/* `duro completion bash|zsh`: a completion script made from the command
 * table (zsh runs the bash one through bashcompinit). */
static int cmd_completion(ctx *c)
{
    const char *shell = c->pos[0];
    if (strcmp(shell, "bash") != 0 && strcmp(shell, "zsh") != 0)
        return usage_error(c, "the shell is bash or zsh, not '%s'", shell);
    if (strcmp(shell, "zsh") == 0)
        fputs("#compdef duro\n"
              "# zsh completion for duro: eval \"$(duro completion zsh)\" in ~/.zshrc\n"
              "autoload -U +X bashcompinit && bashcompinit\n",
              stdout);
    else
        fputs("# bash completion for duro: eval \"$(duro completion bash)\" in ~/.bashrc\n",
              stdout);
    fputs("_duro() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local i cmd= sub= words=\n"
          "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "        case ${COMP_WORDS[i]} in\n"
          "        -u|--url|-n|--ns|-t|--token|-o|--output) i=$((i + 1)) ;;\n"
          "        -*) ;;\n"
          "        *) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}\n"
          "           elif [[ -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;\n"
          "        esac\n"
          "    done\n"
          "    case $prev in\n"
          "    -o|--output) COMPREPLY=($(compgen -W \"json raw table\" -- \"$cur\")); return ;;\n"
          "    -u|--url|-n|--ns|-t|--token) COMPREPLY=(); return ;;\n"
          "    esac\n"
          "    local commands=\"",
          stdout);
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("%s%s", i ? " " : "", commands[i].name);
    fputs("\"\n"
          "    local globals=\"-u --url -n --ns -t --token -o --output --raw -h --help\"\n"
          "    case $cmd in\n"
          "    '') words=\"$commands $globals -V --version\" ;;\n"
          "    help) [[ -z $sub ]] && words=$commands ;;\n"
          "    completion) [[ -z $sub ]] && words=\"bash zsh\" ;;\n",
          stdout);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *d = &commands[i];
        if (strcmp(d->name, "help") == 0 || strcmp(d->name, "completion") == 0 || d->raw_args)
            continue;
        printf("    %s)", d->name);
        if (!d->subs) {
            fputs(" words=\"$globals", stdout);
            print_opt_names(stdout, d->opts);
            fputs("\" ;;\n", stdout);
            continue;
        }
        fputs("\n        case $sub in\n        '') words=\"", stdout);
        for (size_t j = 0; j < d->nsubs; j++)
            printf("%s%s", j ? " " : "", d->subs[j].name);
        fputs("\" ;;\n", stdout);
        for (size_t j = 0; j < d->nsubs; j++) {
            printf("        %s) words=\"$globals", d->subs[j].name);
            print_opt_names(stdout, d->subs[j].opts);
            fputs("\" ;;\n", stdout);
        }
        fputs("        esac ;;\n", stdout);
    }
    fputs("    esac\n"
          "    if [[ -z $words ]]; then COMPREPLY=($(compgen -f -- \"$cur\")); return; fi\n"
          "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "}\n"
          "complete -o default -F _duro duro\n",
          stdout);
    return EXIT_OK;
}

/* ---- help ---- */

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

/* cmd's example lines ("Example:" or "Examples:" and the lines indented). */
static void print_example(const command *cmd)
{
    if (cmd->example)
        printf("\n%s\n  %s\n", strchr(cmd->example, '\n') ? "Examples:" : "Example:",
               cmd->example);
}

/* The help of a command, a group (each subcommand with its summary) or a
 * subcommand, on stdout; bench prints its own. Returns the exit code. */
static int command_help(ctx *c, const command *group, const command *cmd)
{
    if (cmd->raw_args) {
        char help[] = "--help";
        char *argv[] = {help, NULL};
        return duro_cli_bench(1, argv, c->url, c->ns_given ? c->ns : NULL, c->token);
    }
    command_usage(stdout, group, cmd);
    printf("\n%s\n", cmd->summary);
    if (!group && cmd->subs) {
        printf("\n");
        for (size_t i = 0; i < cmd->nsubs; i++)
            printf("  %-10s %s\n", cmd->subs[i].name, cmd->subs[i].summary);
        if (cmd->notes)
            printf("\n%s", cmd->notes);
    }
    print_example(cmd);
    if (!group && cmd->subs)
        printf("\nduro help %s SUBCOMMAND: a subcommand's help and example.\n", cmd->name);
    return EXIT_OK;
}

static void usage(FILE *f)
{
    fputs("usage: duro [-u URL] [-n NS] [-t TOKEN] COMMAND [ARGS]\n"
          "\n"
          "Command-line client of duro. Prints JSON on stdout, errors on stderr.\n"
          "\n"
          "  -u, --url URL   duro://host:port (binary protocol) or file:///path/to/data\n"
          "                  (embedded) [env DURO_URL, default " DEFAULT_URL "]\n"
          "  -n, --ns NS     namespace [env DURO_NS, default \"default\"]\n"
          "  -t, --token T   access token (the server's --auth-token, or a JWT), sent on\n"
          "                  every connection [env DURO_TOKEN: prefer it, argv shows in ps]\n"
          "  -o, --output M  json (compact, one line; the default when stdout is not a\n"
          "                  terminal; on a terminal JSON is indented), raw (a string\n"
          "                  without quotes nor escapes), table (the rows of ls, ns ls,\n"
          "                  resources list, session list as columns); --raw: -o raw\n"
          "  -h, --help      this help;  duro help COMMAND  or  duro COMMAND --help\n"
          "  -V, --version   the version of duro and of the libduro it runs with\n"
          "\n"
          "DUR (--ttl, --window): milliseconds, or a number with a unit: 100ms, 60s, 5m, 1h, 7d.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Exit status: 0 ok, 1 not found, 2 usage or invalid input, 3 server or connection\n"
          "error, 4 precondition failed (--if-match / --if-none-match) or conflict (an\n"
          "email already registered), 5 rate limited (ratelimit check denied, login\n"
          "throttled), 6 unauthorized or forbidden.\n"
          "\n"
          "Examples:\n"
          "  duro put user:1 '{\"name\":\"Ada\"}' --ttl 60000\n"
          "  duro get user:1\n"
          "  duro -n app1 ls --prefix user: --limit 100\n"
          "  echo '[{\"key\":\"a\",\"value\":1}]' | duro batch-set -\n"
          "  duro ratelimit check login:ada --limit 5 --window 60000\n"
          "  duro session create '{\"cart\":[]}' --ttl 3600000 --user ada --rolling\n"
          "  duro -n app1 auth login ada@example.com < password.txt\n"
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
    if (c->npos == 2 && !cmd->raw_args) {
        const command *sub = find_sub(cmd, c->pos[1]);
        if (!sub)
            return usage_error(c, "'%s' has no subcommand '%s'", cmd->name, c->pos[1]);
        return command_help(c, cmd, sub);
    }
    return command_help(c, NULL, cmd);
}

/* ---- printing the reply: -o json|raw|table, or by what stdout is ---- */

/* A cell of -o table: a string as it is, anything else as compact JSON. */
static char *cell_text(json_t *v)
{
    if (!v)
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Prints rows (an array of objects, or of scalars with header one) as a
 * column table with a header line. 0, or -1 if it cannot (out of memory). */
static int print_table(json_t *rows, const char *one)
{
    size_t nrows = json_array_size(rows);
    json_t *cols = json_array(); /* the column names, in first-seen order */
    if (!cols)
        return -1;
    int objects = nrows > 0 && json_is_object(json_array_get(rows, 0));
    if (objects) {
        for (size_t r = 0; r < nrows; r++) {
            const char *k;
            json_t *v;
            json_t *row = json_array_get(rows, r);
            if (!json_is_object(row))
                continue;
            json_object_foreach(row, k, v) {
                size_t i, n = json_array_size(cols);
                for (i = 0; i < n; i++)
                    if (strcmp(json_string_value(json_array_get(cols, i)), k) == 0)
                        break;
                if (i == n)
                    json_array_append_new(cols, json_string(k));
            }
        }
    } else {
        json_array_append_new(cols, json_string(one));
    }
    size_t ncols = json_array_size(cols);
    size_t *w = calloc(ncols ? ncols : 1, sizeof *w);
    char **cells = calloc((nrows + 1) * (ncols ? ncols : 1), sizeof *cells);
    int rc = (w && cells) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ncols; i++) {
        const char *name = json_string_value(json_array_get(cols, i));
        char *h = strdup(name);
        for (char *p = h; p && *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        cells[i] = h;
        for (size_t r = 0; r < nrows; r++) {
            json_t *row = json_array_get(rows, r);
            cells[(r + 1) * ncols + i] = cell_text(objects ? json_object_get(row, name) : row);
        }
    }
    for (size_t j = 0; rc == 0 && j < (nrows + 1) * ncols; j++) {
        if (!cells[j])
            rc = -1;
        else if (strlen(cells[j]) > w[j % ncols])
            w[j % ncols] = strlen(cells[j]);
    }
    for (size_t r = 0; rc == 0 && r <= nrows; r++)
        for (size_t i = 0; i < ncols; i++) {
            const char *t = cells[r * ncols + i];
            if (i + 1 < ncols)
                printf("%-*s  ", (int)w[i], t);
            else
                printf("%s\n", t);
        }
    for (size_t j = 0; cells && j < (nrows + 1) * ncols; j++)
        free(cells[j]);
    free(cells);
    free(w);
    json_decref(cols);
    return rc;
}

/* Prints the reply and a newline: as it is (compact JSON) when stdout is not
 * a terminal or with -o json; indented on a terminal; -o raw: a string
 * without quotes nor escapes; -o table: the rows of a list-like reply. */
static void print_reply(ctx *c)
{
    const char *mode = c->output;
    if (!mode)
        mode = isatty(STDOUT_FILENO) ? "pretty" : "json";
    json_t *doc = NULL;
    if (strcmp(mode, "json") != 0)
        doc = json_loadb(c->reply, c->reply_len, JSON_DECODE_ANY, NULL);
    if (doc && strcmp(mode, "raw") == 0 && json_is_string(doc)) {
        fwrite(json_string_value(doc), 1, json_string_length(doc), stdout);
        fputc('\n', stdout);
        json_decref(doc);
        return;
    }
    if (doc && strcmp(mode, "table") == 0 && c->def->table &&
        json_is_array(json_object_get(doc, c->def->table))) {
        char one[32];
        snprintf(one, sizeof one, "%s", c->def->table);
        size_t n = strlen(one);
        if (n > 1 && one[n - 1] == 's')
            one[n - 1] = '\0';
        if (print_table(json_object_get(doc, c->def->table), one) == 0) {
            json_decref(doc);
            return;
        }
    }
    char *pretty = doc && strcmp(mode, "pretty") == 0
                       ? json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY)
                       : NULL;
    json_decref(doc);
    if (pretty) {
        fputs(pretty, stdout);
        free(pretty);
    } else {
        fwrite(c->reply, 1, c->reply_len, stdout);
    }
    fputc('\n', stdout);
}

/* ---- the frame every command runs in ---- */

/* Runs the command c->def with the arguments and options of the command
 * line: counts the arguments, checks the options, reads the JSON input,
 * connects and calls the handler; on success prints the reply. Returns the
 * exit code. */
static int run_command(ctx *c)
{
    const command *d = c->def;
    if (c->npos < d->min_pos || (d->max_pos >= 0 && c->npos > d->max_pos))
        return usage_error(c, c->npos < d->min_pos ? "missing arguments" : "too many arguments");
    int ex = check_opts(c);
    if (ex == EXIT_OK && d->local)
        return d->local(c);
    if (ex == EXIT_OK && d->input)
        ex = read_input(c);
    if (ex == EXIT_OK && d->passwords)
        ex = read_passwords(c);
    if (ex != EXIT_OK)
        return ex;
    int rc = open_db(c);
    if (rc != DURO_OK)
        return exit_for(rc);
    c->exit_ok = EXIT_OK;
    rc = d->run(c);
    if (rc != DURO_OK)
        return fail(c, d->subject ? c->pos[d->subject - 1] : "", rc);
    print_reply(c);
    return c->exit_ok;
}

/* Is name (which may be "--opt=value") one of cmd's options? Sets *takes_value. */
static int known_opt(const command *cmd, const char *name, size_t namelen, int *takes_value)
{
    for (const optdef *o = cmd->opts; o->name; o++) {
        if (strlen(o->name) == namelen && strncmp(o->name, name, namelen) == 0) {
            *takes_value = o->kind != 'f';
            return 1;
        }
    }
    return 0;
}

/* The exit code cli_main() answers for "no command, on a terminal": main()
 * then starts the prompt. */
#define EXIT_PROMPT (-1)

/* One command line: argv as a shell hands it over. shared: the prompt's
 * connection, kept across its lines (NULL: this run's own, closed at the
 * end). */
static int cli_main(int argc, char **argv, duro **shared)
{
    ctx c;
    memset(&c, 0, sizeof c);
    if (shared)
        c.db = *shared;
    c.url = getenv("DURO_URL");
    if (!c.url || !*c.url)
        c.url = DEFAULT_URL;
    c.token = getenv("DURO_TOKEN");
    if (c.token && !*c.token)
        c.token = NULL;
    c.ns = getenv("DURO_NS");
    c.ns_given = c.ns && *c.ns;
    if (!c.ns_given)
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
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (cmd && cmd->raw_args) { /* bench: everything else is bench's */
            c.pos[c.npos++] = a;
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
                strcmp(a, "--ns") == 0 || (strcmp(a, "--namespace") == 0 && !own_ns) ||
                strcmp(a, "-t") == 0 || strcmp(a, "--token") == 0) {
                if (i + 1 >= argc) {
                    ex = usage_error(NULL, "%s needs a value", a);
                    goto done;
                }
                if (a[1] == 'u' || a[2] == 'u')
                    c.url = argv[++i];
                else if (a[1] == 't' || a[2] == 't')
                    c.token = *argv[++i] ? argv[i] : NULL;
                else {
                    c.ns = argv[++i];
                    c.ns_given = 1;
                }
                continue;
            }
            if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                strncmp(a, "--output=", 9) == 0 || strcmp(a, "--raw") == 0) {
                const char *m = NULL; /* -o M, --output M: the next argument */
                if (strcmp(a, "--raw") == 0)
                    m = "raw";
                else if (strncmp(a, "--output=", 9) == 0)
                    m = a + 9;
                if (!m && i + 1 >= argc) {
                    ex = usage_error(NULL, "%s needs a value: json, raw or table", a);
                    goto done;
                }
                if (!m)
                    m = argv[++i];
                if (strcmp(m, "json") != 0 && strcmp(m, "raw") != 0 && strcmp(m, "table") != 0) {
                    ex = usage_error(NULL, "-o wants json, raw or table, not '%s'", m);
                    goto done;
                }
                c.output = m;
                continue;
            }
            if (strncmp(a, "--url=", 6) == 0) {
                c.url = a + 6;
                continue;
            }
            if (strncmp(a, "--token=", 8) == 0) {
                c.token = a[8] ? a + 8 : NULL;
                continue;
            }
            if (strncmp(a, "--ns=", 5) == 0) {
                c.ns = a + 5;
                c.ns_given = 1;
                continue;
            }
            if (!cmd && (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)) {
                printf("duro " DURO_VERSION_STRING " (libduro %s)\n", duro_version());
                goto done;
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
            } else if (eq) { /* a flag: --meta=true / =false / =1 / =0 */
                const char *b = eq + 1;
                if (strcmp(b, "1") != 0 && strcasecmp(b, "true") != 0 && strcmp(b, "0") != 0 &&
                    strcasecmp(b, "false") != 0) {
                    ex = usage_error(&c, "%s is a flag: =true, =false, =1 or =0, not '%s'", name, b);
                    goto done;
                }
                if (strcmp(b, "0") == 0 || strcasecmp(b, "false") == 0) {
                    free(name); /* off: as if it was not given */
                    c.nopt--;
                    continue;
                }
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

    if (!cmd && !want_help && !shared && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        ex = EXIT_PROMPT; /* `duro` alone on a terminal: the prompt */
    } else if (!cmd) {
        usage(want_help ? stdout : stderr);
        ex = want_help ? EXIT_OK : EXIT_USAGE;
    } else if (cmd->subs && !sub) {
        ex = want_help ? command_help(&c, NULL, cmd) : usage_error(&c, "missing subcommand");
    } else if (want_help) { /* "duro get --help", "duro --help bench" */
        ex = command_help(&c, c.group, c.def);
    } else {
        ex = run_command(&c);
    }

    if (fflush(stdout) != 0 && ex == EXIT_OK) {
        errmsg("cannot write the output: %s", strerror(errno));
        ex = EXIT_SERVER;
    }
done:
    if (c.reply_free)
        c.reply_free(c.reply);
    free(c.in_owned);
    explicit_bzero(c.pw, sizeof c.pw);
    if (shared)
        *shared = c.db;
    else
        duro_close(c.db);
    for (int i = 0; i < c.nopt; i++)
        free((char *)c.opt_name[i]);
    free(pos);
    return ex;
}

/* ---- the prompt: `duro` with no command on a terminal ---- */

#ifdef DURO_HAVE_LIBEDIT
/* Completion of the first word (a command) and of a group's subcommand. */
static const command *complete_group;
static size_t complete_index;

static char *complete_next(const char *text, int state)
{
    if (!state)
        complete_index = 0;
    size_t n = strlen(text);
    const command *list = complete_group ? complete_group->subs : commands;
    size_t count = complete_group ? complete_group->nsubs : NCOMMANDS;
    while (complete_index < count) {
        const char *name = list[complete_index++].name;
        if (strncmp(name, text, n) == 0)
            return strdup(name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    complete_group = NULL;
    if (start > 0) { /* after "session ": its subcommands; after anything else: files */
        char first[64];
        if (sscanf(rl_line_buffer, "%63s", first) != 1 || !(complete_group = find_command(first)) ||
            !complete_group->subs || strchr(rl_line_buffer + strlen(first) + 1, ' '))
            return NULL;
    }
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, complete_next);
}

/* Splits line into words like a shell would, for the common cases: blanks
 * separate, '...' and "..." quote (\" and \\ inside "..."), \ escapes one
 * character. The words are written into buf (as long as line). 0 with
 * *n set, or -1 for an unbalanced quote or too many words. */
static int split_words(const char *line, char *buf, char **words, int max, int *n)
{
    *n = 0;
    const char *p = line;
    char *o = buf;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return 0;
        if (*n == max)
            return -1;
        words[(*n)++] = o;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
            if (quote == '\'' && *p == '\'')
                quote = 0;
            else if (quote == '"' && *p == '"')
                quote = 0;
            else if (!quote && (*p == '\'' || *p == '"'))
                quote = *p;
            else if (*p == '\\' && quote != '\'' && p[1])
                *o++ = *++p;
            else
                *o++ = *p;
        }
        if (quote)
            return -1;
        *o++ = '\0';
    }
}

/* The prompt: each line is a command line as after `duro [global options]`;
 * history (in $HOME/.duro_history, at most 1000 lines) and completion of
 * commands and subcommands. One connection serves every line. quit, exit or
 * end of input leaves. */
static int prompt(int argc, char **argv)
{
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (home && *home && snprintf(hist, sizeof hist, "%s/.duro_history", home) < (int)sizeof hist)
        read_history(hist);
    stifle_history(1000);
    rl_attempted_completion_function = complete;
    printf("duro %s: type a command (duro --help lists them), quit to leave\n",
           DURO_VERSION_STRING);
    duro *db = NULL;
    enum { MAX_WORDS = 256 };
    char **args = calloc((size_t)argc + MAX_WORDS + 1, sizeof *args);
    if (!args)
        return EXIT_SERVER;
    for (;;) {
        char *line = readline("duro> ");
        if (!line) {
            putchar('\n');
            break;
        }
        char *buf = malloc(strlen(line) + 1);
        char *words[MAX_WORDS];
        int n = 0;
        if (!buf || split_words(line, buf, words, MAX_WORDS, &n) != 0) {
            errmsg("%s", buf ? "unbalanced quote or too many words" : "out of memory");
        } else if (n == 1 && (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0)) {
            free(buf);
            free(line);
            break;
        } else if (n > 0) {
            add_history(line);
            int k = 0;
            for (int i = 0; i < argc; i++) /* the program and its global options */
                args[k++] = argv[i];
            for (int i = 0; i < n; i++)
                args[k++] = words[i];
            args[k] = NULL;
            int ex = cli_main(k, args, &db);
            if (ex != EXIT_OK)
                printf("(exit %d)\n", ex);
            fflush(stdout);
        }
        free(buf);
        free(line);
    }
    if (hist[0])
        write_history(hist);
    free(args);
    duro_close(db);
    return EXIT_OK;
}
#endif

int main(int argc, char **argv)
{
    int ex = cli_main(argc, argv, NULL);
    if (ex != EXIT_PROMPT)
        return ex;
#ifdef DURO_HAVE_LIBEDIT
    return prompt(argc, argv);
#else
    usage(stderr);
    errmsg("this duro was built without libedit: no interactive prompt");
    return EXIT_USAGE;
#endif
}
