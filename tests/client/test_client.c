/*
 * test_client.c — libduro's test suite, one source run twice by ctest:
 *
 *   DURO_TEST_MODE=embedded   file:///<temp dir>: the runtime in this process
 *   DURO_TEST_MODE=remote     duro://127.0.0.1:<port>: a durod ($DURO_BIN) that
 *                             this program starts on free loopback ports over a
 *                             temp data dir and kills by PID at the end
 *   DURO_TEST_URL=...         or any URL given (restart/lock tests are skipped)
 *
 * Both modes hash passwords at Argon2id's minimum cost (durod --pwhash-min,
 * file://...?pwhash=min), so that the auth tests stay fast.
 *
 * Tests run in order on one shared handle; each uses its own namespace.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duro/duro.h"
#include "test.h"

enum { EMBEDDED, REMOTE, GIVEN };
static int mode;
static char url[512], data_dir[256];
static pid_t durod_pid = -1;
static int http_port, rpc_port;
static duro *db;

/* ---- setup: a data dir, a durod for remote mode ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts durod over dir on the given ports; returns its pid once the rpc port
 * accepts, or -1 if it exited (*status gets its exit status). */
/* Starts durod over dir (extra: more arguments, NULL-terminated, or NULL). */
static pid_t start_durod_with(const char *dir, int hport, int rport, int *status,
                              const char *const *extra)
{
    const char *bin = getenv("DURO_BIN");
    if (!bin)
        return -1;
    char listen[64], rp[16];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", hport);
    snprintf(rp, sizeof rp, "%d", rport);
    pid_t pid = fork();
    if (pid == 0) {
        char log[300];
        snprintf(log, sizeof log, "%s.log", dir);
        FILE *f = fopen(log, "a");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        const char *args[32] = {bin,       "--listen",       listen, "--rpc-port", rp,
                                "--data",  dir,              "--actors", "2", "--ttl-sweep-ms",
                                "100",     "--log-level",    "warn", "--pwhash-min"};
        size_t n = 14;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            args[n++] = extra[i];
        args[n] = NULL;
        execv(bin, (char *const *)args);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (status)
                *status = st;
            return -1;
        }
        if (port_open(rport))
            return pid;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static pid_t start_durod(const char *dir, int hport, int rport, int *status)
{
    return start_durod_with(dir, hport, rport, status, NULL);
}

static void stop_durod(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void cleanup(void)
{
    duro_close(db);
    db = NULL;
    stop_durod(durod_pid);
    if (data_dir[0]) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log' '%s-2'", data_dir, data_dir, data_dir);
        if (system(cmd) != 0) {
        }
    }
}

static void on_signal(int sig)
{
    if (durod_pid > 0)
        kill(durod_pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void setup(void)
{
    const char *given = getenv("DURO_TEST_URL");
    const char *m = getenv("DURO_TEST_MODE");
    signal(SIGPIPE, SIG_IGN);
    if (given && *given) {
        mode = GIVEN;
        snprintf(url, sizeof url, "%s", given);
        return;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/duro-client-XXXXXX", tmp);
    if (!mkdtemp(data_dir))
        abort();
    atexit(cleanup);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    if (m && strcmp(m, "remote") == 0) {
        mode = REMOTE;
        http_port = free_port();
        rpc_port = free_port();
        durod_pid = start_durod(data_dir, http_port, rpc_port, NULL);
        if (durod_pid < 0) {
            fprintf(stderr, "cannot start durod ($DURO_BIN=%s)\n", getenv("DURO_BIN"));
            exit(1);
        }
        snprintf(url, sizeof url, "duro://127.0.0.1:%d?timeout_ms=10000", rpc_port);
    } else {
        mode = EMBEDDED;
        snprintf(url, sizeof url, "file://%s?actors=2&ttl_sweep_ms=100&pwhash=min", data_dir);
    }
}

/* ---- helpers ---- */

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "  bad JSON from libduro: %s\n", s);
    return j;
}

typedef struct mpbuf {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mpbuf;

static void mp_init(mpbuf *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void mp_str(mpbuf *b, const char *s)
{
    msgpack_pack_str(&b->pk, strlen(s));
    msgpack_pack_str_body(&b->pk, s, strlen(s));
}

/* The "code" of an msgpack error map, in a static buffer. */
static const char *mp_code(const void *body, size_t len)
{
    static char code[64];
    code[0] = '\0';
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, body, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 4 &&
                memcmp(kv->key.via.str.ptr, "code", 4) == 0 && kv->val.type == MSGPACK_OBJECT_STR)
                snprintf(code, sizeof code, "%.*s", (int)kv->val.via.str.size,
                         kv->val.via.str.ptr);
        }
    }
    msgpack_unpacked_destroy(&u);
    return code;
}

#define PUT(ns, key, json) duro_put(db, ns, key, json, strlen(json), 0)

/* ---- tests ---- */

TEST(open)
{
    setup();
    ASSERT_EQ(duro_open(url, &db), DURO_OK);
    ASSERT(db != NULL);
    ASSERT_STREQ(duro_last_error(), "");
}

TEST(open_bad_urls)
{
    duro *x = (duro *)1;
    ASSERT_EQ(duro_open("http://localhost:1", &x), DURO_BAD_REQUEST);
    ASSERT(x == NULL);
    ASSERT(duro_last_error()[0] != '\0');
    ASSERT_EQ(duro_open("duro://", &x), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_open("duro://h:99999", &x), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_open("duro://h:1?timeout_ms=abc", &x), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_open("file://", &x), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_open("file:///tmp/x?actors=0", &x), DURO_BAD_REQUEST);
    /* a misspelt option is an error, not a silent default */
    ASSERT_EQ(duro_open("duro://h:1?timeout=50", &x), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "unknown URL option \"timeout\"") != NULL);
    ASSERT_EQ(duro_open("file:///tmp/duro-never-made?actor=2", &x), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "unknown URL option \"actor\"") != NULL);
    /* file://data names a host, not ./data */
    ASSERT_EQ(duro_open("file://data", &x), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "absolute path") != NULL);
    ASSERT_EQ(duro_open(NULL, &x), DURO_BAD_REQUEST);
    int port = free_port(); /* nothing listens there */
    char u[64];
    snprintf(u, sizeof u, "duro://127.0.0.1:%d?connect_timeout_ms=500", port);
    ASSERT_EQ(duro_open(u, &x), DURO_UNAVAILABLE);
    ASSERT(x == NULL);
    ASSERT(strstr(duro_last_error(), "connect") != NULL);
    duro_close(NULL);
    duro_free(NULL);
}

TEST(put_get_delete)
{
    ASSERT_EQ(PUT("basic", "user:1", "{\"name\": \"Ada\", \"n\": [1, 2.5, null, true]}"), DURO_OK);
    char *v = NULL;
    size_t len = 99;
    ASSERT_EQ(duro_get(db, "basic", "user:1", &v, &len), DURO_OK);
    ASSERT_STREQ(v, "{\"name\":\"Ada\",\"n\":[1,2.5,null,true]}");
    ASSERT_EQ(len, strlen(v));
    duro_free(v);
    /* keys are any UTF-8; NULL ns is "default" */
    ASSERT_EQ(PUT(NULL, "a/b \xc3\xa9", "\"x\""), DURO_OK);
    ASSERT_EQ(duro_get(db, "default", "a/b \xc3\xa9", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "\"x\"");
    duro_free(v);
    ASSERT_EQ(duro_delete(db, "basic", "user:1"), DURO_OK);
    ASSERT_EQ(duro_get(db, "basic", "user:1", &v, &len), DURO_NOT_FOUND);
    ASSERT(v == NULL);
    ASSERT(duro_last_error()[0] != '\0');
    ASSERT_EQ(duro_delete(db, "basic", "user:1"), DURO_OK); /* missing: still OK */
    int deleted = 7;
    ASSERT_EQ(duro_delete_ex(db, "basic", "user:1", 0, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(PUT("basic", "n", "null"), DURO_OK); /* null is a value */
    ASSERT_EQ(duro_get(db, "basic", "n", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "null");
    duro_free(v);
}

TEST(bad_requests)
{
    char *v = NULL;
    ASSERT_EQ(PUT("bad", "", "1"), DURO_BAD_REQUEST);            /* empty key */
    ASSERT_EQ(PUT("bad", "k", "{nope"), DURO_BAD_REQUEST);       /* not JSON */
    ASSERT_EQ(PUT("bad", "k", ""), DURO_BAD_REQUEST);
    ASSERT_EQ(PUT("_bad", "k", "1"), DURO_BAD_REQUEST);          /* bad namespace */
    ASSERT_EQ(PUT("a b", "k", "1"), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_put(db, "bad", "k", "1", 1, -5), DURO_BAD_REQUEST); /* ttl */
    ASSERT_EQ(duro_get(db, "bad", "\xff\xfe", &v, NULL), DURO_BAD_REQUEST); /* bad UTF-8 */
    char big[3000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(duro_get(db, "bad", big, &v, NULL), DURO_BAD_REQUEST); /* key > 2048 */
    ASSERT_EQ(duro_get(db, "bad", NULL, &v, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_get(NULL, "bad", "k", &v, NULL), DURO_BAD_REQUEST);
    duro_put_opts o = {.metadata = "[1]"}; /* metadata must be an object */
    ASSERT_EQ(duro_put_ex(db, "bad", "k", "1", 1, &o, NULL), DURO_BAD_REQUEST);
    ASSERT(strlen(duro_last_error()) > 0);
    ASSERT_EQ(duro_get(db, "bad", "k", &v, NULL), DURO_NOT_FOUND); /* nothing was written */
}

static void *errmsg_worker(void *arg)
{
    char *v = NULL;
    *(int *)arg = duro_get(db, "errmsg", "missing-in-thread", &v, NULL);
    return NULL;
}

TEST(errmsg)
{
    ASSERT_STREQ(duro_errmsg(NULL), "db is NULL");
    ASSERT_EQ(PUT("errmsg", "k", "1"), DURO_OK);
    ASSERT_STREQ(duro_errmsg(db), ""); /* the last call on db succeeded */
    /* the server's / runtime's message, the same as this thread's */
    char *v = NULL;
    ASSERT_EQ(duro_get(db, "errmsg", "missing", &v, NULL), DURO_NOT_FOUND);
    ASSERT(strlen(duro_errmsg(db)) > 0);
    ASSERT_STREQ(duro_errmsg(db), duro_last_error());
    /* a local failure: libduro's own message */
    ASSERT_EQ(PUT("errmsg", "k", "{nope"), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_errmsg(db), "not valid JSON") != NULL);
    ASSERT_EQ(duro_call(db, "kv.get", "errmsg", "\x91\x01", 2, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_errmsg(db), "msgpack map") != NULL);
    /* the handle's message is the last call on it from any thread; this
     * thread's duro_last_error() stays its own */
    ASSERT_EQ(PUT("errmsg", "k", "2"), DURO_OK);
    int rc = -1;
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, errmsg_worker, &rc), 0);
    pthread_join(th, NULL);
    ASSERT_EQ(rc, DURO_NOT_FOUND);
    ASSERT(strlen(duro_errmsg(db)) > 0);
    ASSERT_STREQ(duro_last_error(), "");
    /* the copy returned stays put while later calls change the handle's */
    const char *m = duro_errmsg(db);
    char seen[256];
    snprintf(seen, sizeof seen, "%s", m);
    ASSERT_EQ(PUT("errmsg", "k", "3"), DURO_OK);
    ASSERT_STREQ(m, seen);
    ASSERT_STREQ(duro_errmsg(db), "");
}

TEST(version)
{
    ASSERT_STREQ(duro_version(), DURO_VERSION_STRING);
    int major = -1, minor = -1, patch = -1;
    ASSERT_EQ(sscanf(duro_version(), "%d.%d.%d", &major, &minor, &patch), 3);
    ASSERT_EQ(major, DURO_VERSION_MAJOR);
    ASSERT_EQ(minor, DURO_VERSION_MINOR);
    ASSERT_EQ(patch, DURO_VERSION_PATCH);
    ASSERT_EQ(DURO_VERSION_NUMBER, major * 10000 + minor * 100 + patch);
}

TEST(versions_and_cas)
{
    int64_t v1 = 0, v2 = 0, v3 = 0;
    ASSERT_EQ(duro_put_ex(db, "cas", "c", "0", 1, NULL, &v1), DURO_OK);
    ASSERT(v1 > 0);
    duro_put_opts o = {.if_match = v1};
    ASSERT_EQ(duro_put_ex(db, "cas", "c", "1", 1, &o, &v2), DURO_OK);
    ASSERT(v2 > v1);
    ASSERT_EQ(duro_put_ex(db, "cas", "c", "2", 1, &o, &v3), DURO_PRECONDITION_FAILED); /* stale */
    ASSERT(duro_last_error()[0] != '\0');
    o.if_match = 0;
    o.if_none_match = 1;
    ASSERT_EQ(duro_put_ex(db, "cas", "c", "3", 1, &o, NULL), DURO_PRECONDITION_FAILED);
    ASSERT_EQ(duro_put_ex(db, "cas", "new", "3", 1, &o, &v3), DURO_OK); /* create-only */
    ASSERT(v3 > v2);
    o.if_none_match = 0;
    o.if_match = 12345678;
    ASSERT_EQ(duro_put_ex(db, "cas", "missing", "3", 1, &o, NULL), DURO_PRECONDITION_FAILED);
    int deleted = 5;
    ASSERT_EQ(duro_delete_ex(db, "cas", "c", v1, &deleted), DURO_PRECONDITION_FAILED);
    ASSERT_EQ(duro_delete_ex(db, "cas", "c", v2, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    char *v;
    ASSERT_EQ(duro_get(db, "cas", "c", &v, NULL), DURO_NOT_FOUND);
}

TEST(meta)
{
    int64_t before = wall_ms(), ver = 0;
    duro_put_opts o = {.ttl_ms = 60000, .metadata = "{\"owner\": \"me\"}"};
    ASSERT_EQ(duro_put_ex(db, "meta", "k", "[1,\"two\"]", 9, &o, &ver), DURO_OK);
    duro_meta m;
    ASSERT_EQ(duro_get_meta(db, "meta", "k", &m), DURO_OK);
    ASSERT_STREQ(m.value, "[1,\"two\"]");
    ASSERT_EQ(m.value_len, 9);
    ASSERT_STREQ(m.metadata, "{\"owner\":\"me\"}");
    ASSERT_EQ(m.version, ver);
    ASSERT(m.created_at >= before - 1000 && m.created_at <= wall_ms() + 1000);
    ASSERT(m.updated_at >= m.created_at);
    ASSERT(m.expires_at >= before + 60000 && m.expires_at <= wall_ms() + 61000);
    duro_meta_free(&m);
    ASSERT(m.value == NULL);
    ASSERT_EQ(PUT("meta", "plain", "1"), DURO_OK);
    ASSERT_EQ(duro_get_meta(db, "meta", "plain", &m), DURO_OK);
    ASSERT(m.metadata == NULL);
    ASSERT_EQ(m.expires_at, 0);
    ASSERT_STREQ(m.value, "1");
    duro_meta_free(&m);
    ASSERT_EQ(duro_get_meta(db, "meta", "nope", &m), DURO_NOT_FOUND);
    ASSERT(m.value == NULL);
    duro_meta_free(NULL);
}

TEST(ttl)
{
    int64_t t0 = wall_ms();
    ASSERT_EQ(duro_put(db, "ttl", "short", "1", 1, 1000), DURO_OK);
    ASSERT_EQ(duro_put(db, "ttl", "long", "2", 1, 600000), DURO_OK);
    char *v = NULL;
    int rc = duro_get(db, "ttl", "short", &v, NULL);
    if (wall_ms() - t0 < 1000) /* a loaded machine (ASan) may be slower than the TTL */
        ASSERT_EQ(rc, DURO_OK);
    duro_free(v);
    while ((rc = duro_get(db, "ttl", "short", &v, NULL)) == DURO_OK && wall_ms() - t0 < 8000) {
        duro_free(v);
        sleep_ms(50);
    }
    ASSERT_EQ(rc, DURO_NOT_FOUND);
    ASSERT(wall_ms() - t0 >= 1000); /* not before its time */
    ASSERT_EQ(duro_get(db, "ttl", "long", &v, NULL), DURO_OK);
    duro_free(v);
    char *list;
    ASSERT_EQ(duro_list(db, "ttl", NULL, &list, NULL), DURO_OK);
    ASSERT_STREQ(list, "{\"keys\":[\"long\"],\"cursor\":null,\"list_complete\":true}");
    duro_free(list);
}

TEST(large_value)
{
    size_t n = 1 << 20;
    char *s = malloc(n + 3);
    s[0] = '"';
    for (size_t i = 1; i <= n; i++)
        s[i] = (char)('a' + i % 26);
    s[n + 1] = '"';
    s[n + 2] = '\0';
    ASSERT_EQ(duro_put(db, "large", "big", s, n + 2, 0), DURO_OK);
    char *v = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_get(db, "large", "big", &v, &len), DURO_OK);
    ASSERT_EQ(len, n + 2);
    ASSERT(v && memcmp(v, s, n + 2) == 0);
    duro_free(v);
    void *mp = NULL;
    ASSERT_EQ(duro_get_mp(db, "large", "big", &mp, &len), DURO_OK);
    ASSERT_EQ(len, n + 5); /* str32 header */
    ASSERT(memcmp((char *)mp + 5, s + 1, n) == 0);
    duro_free(mp);
    /* over the 2 MiB value limit */
    size_t m = 3 << 20;
    char *t = malloc(m + 3);
    memset(t, 'x', m + 2);
    t[0] = t[m + 1] = '"';
    t[m + 2] = '\0';
    ASSERT_EQ(duro_put(db, "large", "huge", t, m + 2, 0), DURO_PAYLOAD_TOO_LARGE);
    free(t);
    free(s);
    ASSERT_EQ(duro_get(db, "large", "huge", &v, NULL), DURO_NOT_FOUND);
}

TEST(msgpack_values)
{
    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "a");
    msgpack_pack_int(&b.pk, 1);
    mp_str(&b, "b");
    msgpack_pack_array(&b.pk, 3);
    msgpack_pack_true(&b.pk);
    msgpack_pack_nil(&b.pk);
    msgpack_pack_double(&b.pk, 2.5);
    int64_t ver = 0;
    ASSERT_EQ(duro_put_mp(db, "mp", "m", b.sb.data, b.sb.size, NULL, &ver), DURO_OK);
    ASSERT(ver > 0);
    void *mp = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_get_mp(db, "mp", "m", &mp, &len), DURO_OK);
    ASSERT_EQ(len, b.sb.size);
    ASSERT_MEMEQ(mp, b.sb.data, len);
    duro_free(mp);
    char *v;
    ASSERT_EQ(duro_get(db, "mp", "m", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "{\"a\":1,\"b\":[true,null,2.5]}");
    duro_free(v);
    /* JSON in, msgpack out */
    ASSERT_EQ(PUT("mp", "j", "[\"x\",-3]"), DURO_OK);
    ASSERT_EQ(duro_get_mp(db, "mp", "j", &mp, &len), DURO_OK);
    ASSERT_EQ(len, 4);
    ASSERT_MEMEQ(mp, "\x92\xa1x\xfd", 4);
    duro_free(mp);
    /* with options */
    duro_put_opts o = {.if_match = ver, .ttl_ms = 100000};
    ASSERT_EQ(duro_put_mp(db, "mp", "m", "\x2a", 1, &o, NULL), DURO_OK);
    ASSERT_EQ(duro_put_mp(db, "mp", "m", "\x2a", 1, &o, NULL), DURO_PRECONDITION_FAILED);
    /* bytes (bin) are a value like any other, read back as bin */
    ASSERT_EQ(duro_put_mp(db, "mp", "bin", "\xc4\x02x\x00", 4, NULL, NULL), DURO_OK);
    ASSERT_EQ(duro_get_mp(db, "mp", "bin", &mp, &len), DURO_OK);
    ASSERT_EQ(len, 4);
    ASSERT_MEMEQ(mp, "\xc4\x02x\x00", 4);
    duro_free(mp);
    /* not msgpack, trailing bytes, not JSON-representable (ext, bin key) */
    ASSERT_EQ(duro_put_mp(db, "mp", "bad", "\xc1", 1, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_put_mp(db, "mp", "bad", "\x01\x02", 2, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_put_mp(db, "mp", "bad", "\xd4\x05x", 3, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_put_mp(db, "mp", "bad", "\x81\xc4\x01x\x01", 5, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_get_mp(db, "mp", "bad", &mp, &len), DURO_NOT_FOUND);
    ASSERT(mp == NULL);
    msgpack_sbuffer_destroy(&b.sb);
}

TEST(batches)
{
    const char *entries = "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":{\"x\":[2]}},"
                          "{\"key\":\"c\",\"value\":\"3\",\"ttlMs\":60000}]";
    int64_t ver = 0;
    ASSERT_EQ(duro_batch_set(db, "batch", entries, strlen(entries), &ver), DURO_OK);
    ASSERT(ver > 0);
    const char *keys[] = {"a", "b", "zz", "c"};
    char *json = NULL;
    size_t len;
    ASSERT_EQ(duro_batch_get(db, "batch", keys, 4, &json, &len), DURO_OK);
    json_t *o = parse(json);
    ASSERT(json_is_object(o));
    ASSERT_EQ(json_object_size(o), 3);
    ASSERT_EQ(json_integer_value(json_object_get(o, "a")), 1);
    ASSERT_STREQ(json_string_value(json_object_get(o, "c")), "3");
    ASSERT(json_object_get(o, "zz") == NULL);
    json_decref(o);
    duro_free(json);
    char *v;
    ASSERT_EQ(duro_get(db, "batch", "b", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "{\"x\":[2]}");
    duro_free(v);
    int64_t deleted = -1;
    const char *dkeys[] = {"a", "b", "nope"};
    ASSERT_EQ(duro_batch_delete(db, "batch", dkeys, 3, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 2);
    ASSERT_EQ(duro_get(db, "batch", "a", &v, NULL), DURO_NOT_FOUND);
    /* atomic: one bad entry, nothing written */
    const char *bad = "[{\"key\":\"ok\",\"value\":1},{\"key\":\"\",\"value\":2}]";
    ASSERT_EQ(duro_batch_set(db, "batch", bad, strlen(bad), NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_get(db, "batch", "ok", &v, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(duro_batch_set(db, "batch", "{", 1, NULL), DURO_BAD_REQUEST);
    /* over 1000 keys */
    const char **many = calloc(1001, sizeof *many);
    for (int i = 0; i < 1001; i++)
        many[i] = "k";
    ASSERT_EQ(duro_batch_get(db, "batch", many, 1001, &json, NULL), DURO_BAD_REQUEST);
    free(many);
}

TEST(list_paging)
{
    char key[16];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        ASSERT_EQ(duro_put(db, "list", key, "1", 1, 0), DURO_OK);
    }
    ASSERT_EQ(PUT("list", "other", "2"), DURO_OK);
    duro_list_opts o = {.prefix = "k", .limit = 10};
    char *cursor = NULL;
    int seen = 0, pages = 0, complete = 0;
    while (!complete) {
        o.cursor = cursor;
        char *json = NULL;
        ASSERT_EQ(duro_list(db, "list", &o, &json, NULL), DURO_OK);
        json_t *j = parse(json);
        duro_free(json);
        ASSERT(j);
        json_t *keys = json_object_get(j, "keys");
        for (size_t i = 0; i < json_array_size(keys); i++) {
            snprintf(key, sizeof key, "k%02d", seen++);
            ASSERT_STREQ(json_string_value(json_array_get(keys, i)), key);
        }
        complete = json_is_true(json_object_get(j, "list_complete"));
        free(cursor);
        cursor = complete ? NULL : strdup(json_string_value(json_object_get(j, "cursor")));
        ASSERT(complete == json_is_null(json_object_get(j, "cursor")));
        json_decref(j);
        pages++;
        ASSERT(pages <= 3);
    }
    ASSERT_EQ(seen, 25);
    ASSERT_EQ(pages, 3);
    /* reverse, range, values */
    duro_list_opts r = {.reverse = 1, .limit = 2, .values = 1, .start = "k05", .end = "k20"};
    char *json;
    ASSERT_EQ(duro_list(db, "list", &r, &json, NULL), DURO_OK);
    json_t *j = parse(json);
    duro_free(json);
    json_t *e0 = json_array_get(json_object_get(j, "keys"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(e0, "key")), "k19");
    ASSERT_EQ(json_integer_value(json_object_get(e0, "value")), 1);
    ASSERT(json_is_null(json_object_get(e0, "expiresAt")));
    ASSERT(json_is_false(json_object_get(j, "list_complete")));
    json_decref(j);
    duro_list_opts sa = {.start_after = "k23"};
    ASSERT_EQ(duro_list(db, "list", &sa, &json, NULL), DURO_OK);
    ASSERT_STREQ(json, "{\"keys\":[\"k24\",\"other\"],\"cursor\":null,\"list_complete\":true}");
    duro_free(json);
    duro_list_opts bad = {.limit = 10001};
    ASSERT_EQ(duro_list(db, "list", &bad, &json, NULL), DURO_BAD_REQUEST);
    duro_list_opts bc = {.cursor = "!!!"};
    ASSERT_EQ(duro_list(db, "list", &bc, &json, NULL), DURO_BAD_REQUEST);
    duro_list_opts both = {.start = "a", .start_after = "b"};
    ASSERT_EQ(duro_list(db, "list", &both, &json, NULL), DURO_BAD_REQUEST);
}

TEST(clear)
{
    for (int i = 0; i < 7; i++) {
        char key[8];
        snprintf(key, sizeof key, "c%d", i);
        ASSERT_EQ(duro_put(db, "clr", key, "true", 4, 0), DURO_OK);
    }
    int64_t deleted = 0;
    ASSERT_EQ(duro_clear(db, "clr", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 7);
    char *json;
    ASSERT_EQ(duro_list(db, "clr", NULL, &json, NULL), DURO_OK);
    ASSERT_STREQ(json, "{\"keys\":[],\"cursor\":null,\"list_complete\":true}");
    duro_free(json);
    ASSERT_EQ(duro_clear(db, "clr", NULL), DURO_OK);
}

TEST(call)
{
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_call(db, "ping", "default", NULL, 0, &status, &body, &len), DURO_OK);
    ASSERT_EQ(status, 200);
    /* {"pong": true, "protocol": 2}, the same bytes from durod and embedded */
    ASSERT_EQ(len, 17);
    ASSERT_MEMEQ(body, "\x82\xa4pong\xc3\xa8protocol\x02", 17);
    duro_free(body);

    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "key");
    mp_str(&b, "viacall");
    mp_str(&b, "value");
    mp_str(&b, "hello");
    ASSERT_EQ(duro_call(db, "kv.put", "call", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_OK);
    ASSERT_EQ(status, 200);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    char *v;
    ASSERT_EQ(duro_get(db, "call", "viacall", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "\"hello\"");
    duro_free(v);

    mp_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_str(&b, "key");
    mp_str(&b, "nothing");
    ASSERT_EQ(duro_call(db, "kv.get", "call", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_NOT_FOUND);
    ASSERT_EQ(status, 404);
    ASSERT_STREQ(mp_code(body, len), "NOT_FOUND");
    duro_free(body);
    ASSERT_EQ(duro_call(db, "kv.nope", "call", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status, 400);
    ASSERT_STREQ(mp_code(body, len), "BAD_REQUEST");
    duro_free(body);
    ASSERT_EQ(duro_call(db, "kv.get", "_ns", b.sb.data, b.sb.size, &status, NULL, NULL),
              DURO_BAD_REQUEST);
    msgpack_sbuffer_destroy(&b.sb);
    /* args that are not a map are refused before sending */
    ASSERT_EQ(duro_call(db, "kv.get", "call", "\x91\x01", 2, &status, &body, &len),
              DURO_BAD_REQUEST);
    ASSERT(body == NULL);
}

/* ---- concurrency ---- */

#define THREADS 8
#define OWN_KEYS 40
#define INCS 20

static int thread_errors;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static void thread_fail(const char *what, int rc)
{
    pthread_mutex_lock(&err_mu);
    if (thread_errors++ < 5)
        fprintf(stderr, "  thread: %s: %s (%s)\n", what, duro_errstr(rc), duro_last_error());
    pthread_mutex_unlock(&err_mu);
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    char key[32], val[32];
    for (int i = 0; i < OWN_KEYS; i++) {
        snprintf(key, sizeof key, "t%d-%03d", t, i);
        int n = snprintf(val, sizeof val, "%d", t * 1000 + i);
        int rc = duro_put(db, "conc", key, val, (size_t)n, 0);
        if (rc != DURO_OK)
            thread_fail("put", rc);
        char *v = NULL;
        rc = duro_get(db, i % 2 ? "conc" : "conc2", i % 2 ? key : "nothing", &v, NULL);
        if (i % 2 ? (rc != DURO_OK || strcmp(v, val) != 0) : rc != DURO_NOT_FOUND)
            thread_fail("get", rc);
        duro_free(v);
    }
    for (int i = 0; i < INCS; i++) { /* a CAS loop on one shared counter */
        for (int attempt = 0;; attempt++) {
            duro_meta m;
            int rc = duro_get_meta(db, "conc", "counter", &m);
            if (rc != DURO_OK) {
                thread_fail("get_meta", rc);
                break;
            }
            int n = snprintf(val, sizeof val, "%d", atoi(m.value) + 1);
            duro_put_opts o = {.if_match = m.version};
            duro_meta_free(&m);
            rc = duro_put_ex(db, "conc", "counter", val, (size_t)n, &o, NULL);
            if (rc == DURO_OK)
                break;
            if (rc != DURO_PRECONDITION_FAILED || attempt > 10000) {
                thread_fail("cas put", rc);
                break;
            }
        }
    }
    return NULL;
}

/* SQL through duro_call (the kind table serves it remote and embedded alike). */
TEST(sql_through_call)
{
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_str(&b, "sql");
    mp_str(&b, "CREATE TABLE IF NOT EXISTS t(a INTEGER, b TEXT); DELETE FROM t");
    ASSERT_EQ(duro_call(db, "sql.exec", "sqlcall", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_OK);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "sql");
    mp_str(&b, "INSERT INTO t VALUES(?, ?)");
    mp_str(&b, "params");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_int(&b.pk, 7);
    mp_str(&b, "seven");
    ASSERT_EQ(duro_call(db, "sql.exec", "sqlcall", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_OK);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_str(&b, "sql");
    mp_str(&b, "SELECT a, b FROM t");
    ASSERT_EQ(duro_call(db, "sql.query", "sqlcall", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_OK);
    ASSERT_EQ(status, 200);
    /* {results: [{a: 7, b: "seven"}], meta: {...}} */
    static const char row[] = "\x82\xa1" "a\x07\xa1" "b\xa5seven\xa4meta";
    ASSERT(memmem(body, len, "\xa7results\x91", 9) != NULL); /* the shortest array header */
    ASSERT(memmem(body, len, row, sizeof row - 1) != NULL);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_str(&b, "sql");
    mp_str(&b, "SELECT * FROM _duro_kv");
    ASSERT_EQ(duro_call(db, "sql.query", "sqlcall", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status, 400);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
}

TEST(threads)
{
    ASSERT_EQ(PUT("conc", "counter", "0"), DURO_OK);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    ASSERT_EQ(thread_errors, 0);
    char *v;
    ASSERT_EQ(duro_get(db, "conc", "counter", &v, NULL), DURO_OK);
    ASSERT_EQ(atoi(v), THREADS * INCS);
    duro_free(v);
    duro_list_opts o = {.prefix = "t"};
    char *json;
    ASSERT_EQ(duro_list(db, "conc", &o, &json, NULL), DURO_OK);
    json_t *j = parse(json);
    duro_free(json);
    ASSERT_EQ(json_array_size(json_object_get(j, "keys")), THREADS * OWN_KEYS);
    json_decref(j);
}

/* ---- pipelining ---- */

TEST(pipelining)
{
    enum { N = 100 };
    int seen[N + 1] = {0};
    uint64_t ids[N];
    uint64_t id = 0;
    int status;
    void *body;
    size_t len;
    /* nothing in flight */
    ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_BAD_REQUEST);
    for (int i = 0; i < N; i++) {
        mpbuf b;
        mp_init(&b);
        msgpack_pack_map(&b.pk, 2);
        char key[16], ns[16];
        snprintf(key, sizeof key, "p%03d", i);
        snprintf(ns, sizeof ns, "pipe%d", i % 7); /* several actors: any order */
        mp_str(&b, "key");
        mp_str(&b, key);
        mp_str(&b, "value");
        msgpack_pack_int(&b.pk, i);
        ASSERT_EQ(duro_send(db, i == 50 ? "kv.bogus" : "kv.put", ns, b.sb.data, b.sb.size,
                            &ids[i]),
                  DURO_OK);
        msgpack_sbuffer_destroy(&b.sb);
        for (int k = 0; k < i; k++)
            ASSERT(ids[k] != ids[i]);
    }
    for (int r = 0; r < N; r++) {
        int rc = duro_recv(db, &id, &status, &body, &len);
        int i = -1;
        for (int k = 0; k < N; k++)
            if (ids[k] == id)
                i = k;
        ASSERT(i >= 0);
        ASSERT_EQ(seen[i], 0);
        seen[i] = 1;
        if (i == 50) {
            ASSERT_EQ(rc, DURO_BAD_REQUEST);
            ASSERT_EQ(status, 400);
            ASSERT_STREQ(mp_code(body, len), "BAD_REQUEST");
        } else {
            ASSERT_EQ(rc, DURO_OK);
            ASSERT_EQ(status, 200);
        }
        duro_free(body);
    }
    ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_BAD_REQUEST);
    /* read them back pipelined */
    for (int i = 0; i < N; i++) {
        if (i == 50)
            continue;
        mpbuf b;
        mp_init(&b);
        msgpack_pack_map(&b.pk, 1);
        char key[16], ns[16];
        snprintf(key, sizeof key, "p%03d", i);
        snprintf(ns, sizeof ns, "pipe%d", i % 7);
        mp_str(&b, "key");
        mp_str(&b, key);
        ASSERT_EQ(duro_send(db, "kv.get", ns, b.sb.data, b.sb.size, &ids[i]), DURO_OK);
        msgpack_sbuffer_destroy(&b.sb);
    }
    for (int r = 0; r < N - 1; r++) {
        ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_OK);
        int i = -1;
        for (int k = 0; k < N; k++)
            if (k != 50 && ids[k] == id)
                i = k;
        ASSERT(i >= 0);
        ASSERT_EQ(seen[i], 1);
        seen[i] = 2;
        /* the value i as msgpack: positive fixint or uint8 */
        ASSERT(len >= 1 && len <= 2);
        ASSERT_EQ(len == 1 ? ((unsigned char *)body)[0] : ((unsigned char *)body)[1], i);
        duro_free(body);
    }
}

/* ---- rate limiting ---- */

TEST(ratelimit_check_get_reset)
{
    duro_rl_result r;
    for (int i = 0; i < 3; i++) {
        memset(&r, 0x55, sizeof r);
        ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 1, &r), DURO_OK);
        ASSERT_EQ(r.allowed, 1);
        ASSERT_EQ(r.remaining, 2 - i);
        ASSERT_EQ(r.limit, 3);
        ASSERT(r.reset_ms > 0 && r.reset_ms <= 60000);
        ASSERT_EQ(r.retry_after_ms, 0);
    }
    /* denied: still DURO_OK, allowed = 0, nothing taken */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 0);
    ASSERT_EQ(r.remaining, 0);
    ASSERT(r.retry_after_ms > 0 && r.retry_after_ms <= 20000);
    ASSERT_STREQ(duro_last_error(), "");
    /* get: a zero-cost look with the key's last parameters */
    ASSERT_EQ(duro_ratelimit_get(db, "rl", "login:ada", 0, 0, &r), DURO_OK);
    ASSERT_EQ(r.limit, 3);
    ASSERT_EQ(r.remaining, 0);
    /* a cost-0 check only looks, too */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 0, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 0);
    /* out may be NULL */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 1, NULL), DURO_OK);
    /* reset: the bucket is full again */
    int deleted = 7;
    ASSERT_EQ(duro_ratelimit_reset(db, "rl", "login:ada", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    ASSERT_EQ(duro_ratelimit_reset(db, "rl", "login:ada", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_ratelimit_reset(db, "rl", "never-seen", NULL), DURO_OK);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    ASSERT_EQ(r.remaining, 2);
    /* a larger cost */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "bulk", 10, 60000, 7, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    ASSERT_EQ(r.remaining, 3);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "bulk", 10, 60000, 4, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 0);
    ASSERT_EQ(r.remaining, 3);
    /* 0/0: the server's default, 30 per 60 s */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "defaults", 0, 0, 1, &r), DURO_OK);
    ASSERT_EQ(r.limit, 30);
    ASSERT_EQ(r.remaining, 29);
    /* keys are per namespace (NULL = default), and apart from KV keys */
    ASSERT_EQ(duro_ratelimit_check(db, "rl2", "login:ada", 3, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 2);
    ASSERT_EQ(duro_ratelimit_check(db, NULL, "rl-default-ns", 1, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    ASSERT_EQ(duro_ratelimit_check(db, "default", "rl-default-ns", 1, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 0);
    char *v = NULL;
    ASSERT_EQ(duro_get(db, "rl", "login:ada", &v, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(PUT("rl", "login:ada", "1"), DURO_OK);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "login:ada", 3, 60000, 1, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 1);
}

TEST(ratelimit_refill)
{
    duro_rl_result r;
    /* 2 per 300 ms: one token every 150 ms */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refill", 2, 300, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refill", 2, 300, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refill", 2, 300, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 0);
    ASSERT(r.retry_after_ms > 0 && r.retry_after_ms <= 150);
    sleep_ms((int)r.retry_after_ms + 20);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refill", 2, 300, 1, &r), DURO_OK);
    ASSERT_EQ(r.allowed, 1);
    sleep_ms(350); /* the bucket is full again */
    ASSERT_EQ(duro_ratelimit_get(db, "rl", "refill", 2, 300, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 2);
    ASSERT_EQ(r.reset_ms, 0);
}

TEST(ratelimit_bad_input)
{
    duro_rl_result r;
    ASSERT_EQ(duro_ratelimit_check(NULL, "rl", "k", 1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", NULL, 1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "", 1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "\xff", 1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "_bad", "k", 1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", -1, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", 1000000001, 1000, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", 5, -1, 1, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", 5, 1000, -6, &r), DURO_BAD_REQUEST);
    /* a negative cost within the limit is a refund */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refund", 5, 60000, 5, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 0);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "refund", 5, 60000, -2, &r), DURO_OK);
    ASSERT(r.allowed && r.remaining == 2);
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", 5, 1000, 6, &r), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "cost") != NULL);
    ASSERT_EQ(r.allowed, 0);
    ASSERT_EQ(duro_ratelimit_get(db, "rl", NULL, 0, 0, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_get(db, "rl", "k", 0, -5, &r), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_reset(db, "rl", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_reset(NULL, "rl", "k", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_ratelimit_reset(db, "rl", "", NULL), DURO_BAD_REQUEST);
    /* nothing was taken by the failed checks */
    ASSERT_EQ(duro_ratelimit_check(db, "rl", "k", 5, 1000, 1, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 4);
}

TEST(ratelimit_enforce_through_call)
{
    /* the raw op with enforce: a denied check is a 429 */
    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 4);
    mp_str(&b, "key");
    mp_str(&b, "enforced");
    mp_str(&b, "limit");
    msgpack_pack_int(&b.pk, 1);
    mp_str(&b, "windowMs");
    msgpack_pack_int(&b.pk, 60000);
    mp_str(&b, "enforce");
    msgpack_pack_true(&b.pk);
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_call(db, "ratelimit.check", "rl", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_OK);
    ASSERT_EQ(status, 200);
    duro_free(body);
    ASSERT_EQ(duro_call(db, "ratelimit.check", "rl", b.sb.data, b.sb.size, &status, &body, &len),
              DURO_RATE_LIMITED);
    ASSERT_EQ(status, 429);
    ASSERT_STREQ(mp_code(body, len), "RATE_LIMITED");
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    ASSERT_EQ(duro_call(db, "ratelimit.nope", "rl", NULL, 0, &status, NULL, NULL),
              DURO_BAD_REQUEST);
}

#define RL_THREADS 4
#define RL_TRIES 60
#define RL_LIMIT 100

static int rl_allowed[RL_THREADS];

static void *rl_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < RL_TRIES; i++) {
        duro_rl_result r;
        int rc = duro_ratelimit_check(db, "rl-race", "shared", RL_LIMIT, 3600000, 1, &r);
        if (rc != DURO_OK)
            thread_fail("ratelimit_check", rc);
        else if (r.allowed)
            rl_allowed[t]++;
    }
    return NULL;
}

TEST(ratelimit_exact_under_threads)
{
    /* 4 threads x 60 checks on one key with a limit of 100 per hour: exactly
     * 100 are allowed, whatever the interleaving */
    pthread_t th[RL_THREADS];
    for (int t = 0; t < RL_THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, rl_worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < RL_THREADS; t++)
        pthread_join(th[t], NULL);
    ASSERT_EQ(thread_errors, 0);
    int total = 0;
    for (int t = 0; t < RL_THREADS; t++)
        total += rl_allowed[t];
    ASSERT_EQ(total, RL_LIMIT);
    duro_rl_result r;
    ASSERT_EQ(duro_ratelimit_get(db, "rl-race", "shared", 0, 0, &r), DURO_OK);
    ASSERT_EQ(r.remaining, 0);
    ASSERT_EQ(r.limit, RL_LIMIT);
}

/* ---- sessions ---- */

static int is_session_id(const char *id)
{
    if (!id || strlen(id) != 43)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

#define SDATA(s) s, strlen(s)

TEST(session_lifecycle)
{
    char *id = NULL, *id2 = NULL, *data = NULL, *user = NULL;
    int64_t exp = 0, exp2 = 0;
    int64_t t0 = wall_ms();
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{\"cart\": [1, 2]}"), 600000, "ada", 0, &id,
                                  &exp),
              DURO_OK);
    ASSERT(is_session_id(id));
    ASSERT(exp >= t0 + 600000 - 1000 && exp <= wall_ms() + 600000 + 1000);
    size_t len = 0;
    int64_t got_exp = 0;
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, &len, &user, &got_exp), DURO_OK);
    ASSERT_STREQ(data, "{\"cart\":[1,2]}");
    ASSERT_EQ(len, strlen(data));
    ASSERT_STREQ(user, "ada");
    ASSERT_EQ(got_exp, exp); /* a fixed session does not move */
    duro_free(data);
    duro_free(user);
    data = user = NULL;
    /* user_id and expires_at may be NULL */
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, NULL, NULL, NULL), DURO_OK);
    duro_free(data);
    /* put without ttl keeps the expiry of a fixed session; with ttl sets it */
    ASSERT_EQ(duro_session_put(db, "ses", id, SDATA("{\"cart\":[]}"), 0, &exp2), DURO_OK);
    ASSERT_EQ(exp2, exp);
    ASSERT_EQ(duro_session_put(db, "ses", id, SDATA("{\"cart\":[3]}"), 1000000, &exp2), DURO_OK);
    ASSERT(exp2 > exp);
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, NULL, NULL, &got_exp), DURO_OK);
    ASSERT_STREQ(data, "{\"cart\":[3]}"); /* replaced whole */
    ASSERT_EQ(got_exp, exp2);
    duro_free(data);
    /* a second session of the same user, one of another and one without */
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 600000, "ada", 1, &id2, NULL), DURO_OK);
    ASSERT(is_session_id(id2));
    ASSERT(strcmp(id, id2) != 0);
    char *id3 = NULL, *id4 = NULL;
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 600000, "bob", 0, &id3, NULL), DURO_OK);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{\"anon\":true}"), 600000, NULL, 0, &id4,
                                  NULL),
              DURO_OK);
    ASSERT_EQ(duro_session_get(db, "ses", id4, &data, NULL, &user, NULL), DURO_OK);
    ASSERT(user == NULL); /* no owner */
    duro_free(data);
    /* the listing: createdAt, expiresAt, rolling, no ids */
    char *json = NULL;
    ASSERT_EQ(duro_session_list_user(db, "ses", "ada", &json, &len), DURO_OK);
    json_t *j = parse(json);
    ASSERT(j != NULL);
    ASSERT_EQ(json_integer_value(json_object_get(j, "count")), 2);
    json_t *arr = json_object_get(j, "sessions");
    ASSERT_EQ(json_array_size(arr), 2);
    ASSERT(json_is_integer(json_object_get(json_array_get(arr, 0), "expiresAt")));
    ASSERT(strstr(json, id) == NULL && strstr(json, id2) == NULL);
    json_decref(j);
    duro_free(json);
    ASSERT_EQ(duro_session_list_user(db, "ses", "nobody", &json, NULL), DURO_OK);
    ASSERT_STREQ(json, "{\"sessions\":[],\"count\":0}");
    duro_free(json);
    /* sessions are per namespace */
    ASSERT_EQ(duro_session_get(db, "ses-other", id, &data, NULL, NULL, NULL), DURO_NOT_FOUND);
    /* revoke every session of ada but id: id2 goes */
    int64_t n = -1;
    ASSERT_EQ(duro_session_revoke_user(db, "ses", "ada", id, &n), DURO_OK);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(duro_session_get(db, "ses", id2, &data, NULL, NULL, NULL), DURO_NOT_FOUND);
    ASSERT(data == NULL);
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, NULL, NULL, NULL), DURO_OK);
    duro_free(data);
    ASSERT_EQ(duro_session_get(db, "ses", id3, &data, NULL, NULL, NULL), DURO_OK); /* bob's */
    duro_free(data);
    /* revoke all (no exception) */
    ASSERT_EQ(duro_session_revoke_user(db, "ses", "ada", NULL, &n), DURO_OK);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(duro_session_revoke_user(db, "ses", "ada", NULL, NULL), DURO_OK);
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, NULL, NULL, NULL), DURO_NOT_FOUND);
    /* delete (logout) */
    int deleted = -1;
    ASSERT_EQ(duro_session_delete(db, "ses", id3, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    ASSERT_EQ(duro_session_delete(db, "ses", id3, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_session_get(db, "ses", id3, &data, NULL, NULL, NULL), DURO_NOT_FOUND);
    ASSERT(strstr(duro_last_error(), "not found") != NULL);
    ASSERT_EQ(duro_session_put(db, "ses", id3, SDATA("{}"), 0, &exp2), DURO_NOT_FOUND);
    ASSERT_EQ(duro_session_delete(db, "ses", id4, NULL), DURO_OK);
    duro_free(id);
    duro_free(id2);
    duro_free(id3);
    duro_free(id4);
}

TEST(session_rolling_and_expiry)
{
    char *id = NULL, *fixed = NULL, *data = NULL;
    int64_t exp = 0, e1 = 0, e2 = 0;
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 60000, "roll", 1, &id, &exp), DURO_OK);
    sleep_ms(30);
    ASSERT_EQ(duro_session_get(db, "ses", id, &data, NULL, NULL, &e1), DURO_OK);
    duro_free(data);
    ASSERT(e1 > exp); /* every get moves it to now + ttl */
    sleep_ms(30);
    ASSERT_EQ(duro_session_put(db, "ses", id, SDATA("{\"x\":1}"), 0, &e2), DURO_OK);
    ASSERT(e2 > e1); /* and a put without ttl too */
    duro_free(id);
    /* a short session expires */
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 150, "short", 0, &fixed, NULL),
              DURO_OK);
    ASSERT_EQ(duro_session_get(db, "ses", fixed, &data, NULL, NULL, NULL), DURO_OK);
    duro_free(data);
    sleep_ms(250);
    ASSERT_EQ(duro_session_get(db, "ses", fixed, &data, NULL, NULL, NULL), DURO_NOT_FOUND);
    int deleted = -1;
    ASSERT_EQ(duro_session_delete(db, "ses", fixed, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0); /* an expired session is never reported deleted */
    char *json = NULL;
    ASSERT_EQ(duro_session_list_user(db, "ses", "short", &json, NULL), DURO_OK);
    ASSERT_STREQ(json, "{\"sessions\":[],\"count\":0}");
    duro_free(json);
    duro_free(fixed);
}

TEST(session_bad_input)
{
    char *id = (char *)1, *data = (char *)1, *user = (char *)1;
    int64_t exp = 7;
    /* data: JSON, an object, at most 64 KiB */
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{nope"), 1000, NULL, 0, &id, &exp),
              DURO_BAD_REQUEST);
    ASSERT(id == NULL);
    ASSERT_EQ(exp, 0);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("[1]"), 1000, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "object") != NULL);
    size_t big_len = 70000;
    char *big = malloc(big_len + 1);
    ASSERT(big != NULL);
    memset(big, 'x', big_len);
    memcpy(big, "{\"b\":\"", 6);
    memcpy(big + big_len - 2, "\"}", 2);
    big[big_len] = '\0';
    ASSERT_EQ(duro_session_create(db, "ses", big, big_len, 1000, NULL, 0, &id, NULL),
              DURO_PAYLOAD_TOO_LARGE);
    free(big);
    /* ttl: required, 1..ten years */
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 0, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), -5, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 315360000001LL, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    /* user id: 1..256 bytes of UTF-8 */
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 1000, "", 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 1000, "\xc3", 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "_bad", SDATA("{}"), 1000, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    /* NULL where a pointer is needed */
    ASSERT_EQ(duro_session_create(NULL, "ses", SDATA("{}"), 1000, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "ses", NULL, 0, 1000, NULL, 0, &id, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 1000, NULL, 0, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_get(db, "ses", NULL, &data, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_get(db, "ses", "x", NULL, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_put(db, "ses", "x", NULL, 0, 0, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_delete(db, "ses", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_list_user(db, "ses", NULL, &data, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_revoke_user(db, "ses", NULL, NULL, NULL), DURO_BAD_REQUEST);
    /* a malformed id is "not found", like an unknown one */
    const char *bad_ids[] = {"", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* non-canonical */
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}; /* never issued */
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        ASSERT_EQ(duro_session_get(db, "ses", bad_ids[i], &data, NULL, &user, &exp),
                  DURO_NOT_FOUND);
        ASSERT(data == NULL && user == NULL && exp == 0);
        ASSERT_EQ(duro_session_put(db, "ses", bad_ids[i], SDATA("{}"), 0, &exp), DURO_NOT_FOUND);
        int deleted = -1;
        ASSERT_EQ(duro_session_delete(db, "ses", bad_ids[i], &deleted), DURO_OK);
        ASSERT_EQ(deleted, 0);
    }
    /* put: data must be an object; ttl 1..ten years */
    char *good = NULL;
    ASSERT_EQ(duro_session_create(db, "ses", SDATA("{}"), 60000, "badput", 0, &good, NULL),
              DURO_OK);
    ASSERT_EQ(duro_session_put(db, "ses", good, SDATA("7"), 0, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_put(db, "ses", good, SDATA("{x"), 0, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_put(db, "ses", good, SDATA("{}"), -1, NULL), DURO_BAD_REQUEST);
    /* exceptId must be a well-formed id */
    ASSERT_EQ(duro_session_revoke_user(db, "ses", "badput", "nope", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_revoke_user(db, "ses", "", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_session_get(db, "ses", good, &data, NULL, NULL, NULL), DURO_OK); /* untouched */
    ASSERT_STREQ(data, "{}");
    duro_free(data);
    duro_free(good);
}

/* ---- users and password login ---- */

static int is_user_id(const char *id)
{
    if (!id || strlen(id) != 32)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Logs email in for 24 hours: *sid gets the session id. */
static int login(const char *ns, const char *email, const char *password, char **sid)
{
    return duro_auth_login(db, ns, email, password, 0, sid, NULL, NULL);
}

TEST(auth_register_login_logout)
{
    char *uid = NULL, *uid2 = (char *)1, *sid = NULL, *sid2 = NULL, *who = NULL;
    int64_t exp = 0, got = 0;
    ASSERT_EQ(duro_auth_register(db, "auth", " Ada@Example.com", "correct horse", &uid), DURO_OK);
    ASSERT(is_user_id(uid));
    ASSERT_STREQ(duro_errmsg(db), "");
    /* the email is normalised: the same address again is taken */
    ASSERT_EQ(duro_auth_register(db, "auth", "ada@example.com", "another one", &uid2),
              DURO_CONFLICT);
    ASSERT(uid2 == NULL);
    ASSERT(strstr(duro_last_error(), "exists") != NULL);
    ASSERT_EQ(duro_auth_register(db, "auth", "bob@example.com", "bob's password", NULL), DURO_OK);
    /* users are per namespace */
    ASSERT_EQ(duro_auth_register(db, "auth-other", "ada@example.com", "correct horse", NULL),
              DURO_OK);
    /* a wrong password and an unknown email answer alike */
    ASSERT_EQ(duro_auth_login(db, "auth", "ada@example.com", "wrong horse", 0, &sid, &who, &exp),
              DURO_UNAUTHORIZED);
    ASSERT(sid == NULL && who == NULL && exp == 0);
    ASSERT_STREQ(duro_last_error(), "invalid email or password");
    ASSERT_STREQ(duro_errmsg(db), "invalid email or password");
    ASSERT_EQ(login("auth", "nobody@example.com", "wrong horse", &sid), DURO_UNAUTHORIZED);
    ASSERT_STREQ(duro_last_error(), "invalid email or password");
    /* ttl_ms 0: 24 hours; user_id and expires_at may be NULL */
    int64_t t0 = wall_ms();
    ASSERT_EQ(duro_auth_login(db, "auth", "ADA@example.com", "correct horse", 0, &sid, &who, &exp),
              DURO_OK);
    ASSERT(is_session_id(sid));
    ASSERT_STREQ(who, uid);
    ASSERT(exp >= t0 + 86400000 - 1000 && exp <= wall_ms() + 86400000 + 1000);
    duro_free(who);
    who = NULL;
    t0 = wall_ms();
    ASSERT_EQ(duro_auth_login(db, "auth", "ada@example.com", "correct horse", 60000, &sid2, NULL,
                              &exp),
              DURO_OK);
    ASSERT(is_session_id(sid2) && strcmp(sid, sid2) != 0);
    ASSERT(exp >= t0 + 60000 - 1000 && exp <= wall_ms() + 60000 + 1000);
    /* the session: its user, and a rolling expiry */
    sleep_ms(20);
    ASSERT_EQ(duro_auth_session(db, "auth", sid2, &who, &got), DURO_OK);
    ASSERT_STREQ(who, uid);
    ASSERT(got > exp);
    duro_free(who);
    who = NULL;
    ASSERT_EQ(duro_auth_session(db, "auth", sid2, NULL, NULL), DURO_OK);
    ASSERT_EQ(duro_auth_session(db, "auth-other", sid2, &who, &got), DURO_UNAUTHORIZED);
    ASSERT(who == NULL && got == 0);
    /* a login session is a session of the user */
    char *data = NULL;
    ASSERT_EQ(duro_session_get(db, "auth", sid, &data, NULL, &who, NULL), DURO_OK);
    ASSERT_STREQ(data, "{}");
    ASSERT_STREQ(who, uid);
    duro_free(data);
    duro_free(who);
    who = NULL;
    /* logout, twice */
    int deleted = -1;
    ASSERT_EQ(duro_auth_logout(db, "auth", sid2, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    ASSERT_EQ(duro_auth_logout(db, "auth", sid2, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_auth_logout(db, "auth", sid2, NULL), DURO_OK);
    ASSERT_EQ(duro_auth_session(db, "auth", sid2, &who, &got), DURO_UNAUTHORIZED);
    ASSERT_STREQ(duro_last_error(), "no such session");
    ASSERT_EQ(duro_auth_session(db, "auth", sid, NULL, NULL), DURO_OK); /* the other stays */
    ASSERT_EQ(duro_auth_logout(db, "auth", sid, NULL), DURO_OK);
    duro_free(uid);
    duro_free(sid);
    duro_free(sid2);
}

TEST(auth_password_change)
{
    char *uid = NULL, *s1 = NULL, *s2 = NULL, *s3 = NULL, *bob = NULL;
    ASSERT_EQ(duro_auth_register(db, "authpw", "ada@example.com", "correct horse", &uid),
              DURO_OK);
    ASSERT_EQ(duro_auth_register(db, "authpw", "bob@example.com", "bob's password", NULL),
              DURO_OK);
    ASSERT_EQ(login("authpw", "ada@example.com", "correct horse", &s1), DURO_OK);
    ASSERT_EQ(login("authpw", "ada@example.com", "correct horse", &s2), DURO_OK);
    ASSERT_EQ(login("authpw", "ada@example.com", "correct horse", &s3), DURO_OK);
    ASSERT_EQ(login("authpw", "bob@example.com", "bob's password", &bob), DURO_OK);
    /* a wrong current password changes nothing */
    int64_t revoked = -1;
    ASSERT_EQ(duro_auth_password(db, "authpw", s1, "wrong horse", "battery staple", &revoked),
              DURO_UNAUTHORIZED);
    ASSERT_EQ(revoked, 0);
    ASSERT_EQ(duro_auth_session(db, "authpw", s2, NULL, NULL), DURO_OK);
    /* the right one: s1 stays, ada's other sessions go, bob's stays */
    ASSERT_EQ(duro_auth_password(db, "authpw", s1, "correct horse", "battery staple", &revoked),
              DURO_OK);
    ASSERT_EQ(revoked, 2);
    ASSERT_EQ(duro_auth_session(db, "authpw", s1, NULL, NULL), DURO_OK);
    ASSERT_EQ(duro_auth_session(db, "authpw", s2, NULL, NULL), DURO_UNAUTHORIZED);
    ASSERT_EQ(duro_auth_session(db, "authpw", s3, NULL, NULL), DURO_UNAUTHORIZED);
    ASSERT_EQ(duro_auth_session(db, "authpw", bob, NULL, NULL), DURO_OK);
    /* the old password no longer logs in, the new one does */
    char *s4 = NULL;
    ASSERT_EQ(login("authpw", "ada@example.com", "correct horse", &s4), DURO_UNAUTHORIZED);
    ASSERT_EQ(login("authpw", "ada@example.com", "battery staple", &s4), DURO_OK);
    /* again from s1: s4 goes; revoked may be NULL */
    ASSERT_EQ(duro_auth_password(db, "authpw", s1, "battery staple", "correct horse", NULL),
              DURO_OK);
    ASSERT_EQ(duro_auth_session(db, "authpw", s4, NULL, NULL), DURO_UNAUTHORIZED);
    /* a session of no user, and one of a user who never registered */
    char *anon = NULL, *ghost = NULL;
    ASSERT_EQ(duro_session_create(db, "authpw", SDATA("{}"), 60000, NULL, 0, &anon, NULL),
              DURO_OK);
    ASSERT_EQ(duro_auth_password(db, "authpw", anon, "correct horse", "battery staple", NULL),
              DURO_FORBIDDEN);
    ASSERT_EQ(duro_session_create(db, "authpw", SDATA("{}"), 60000, "ghost", 0, &ghost, NULL),
              DURO_OK);
    ASSERT_EQ(duro_auth_password(db, "authpw", ghost, "correct horse", "battery staple", NULL),
              DURO_NOT_FOUND);
    /* after a logout the session can change nothing */
    ASSERT_EQ(duro_auth_logout(db, "authpw", s1, NULL), DURO_OK);
    ASSERT_EQ(duro_auth_password(db, "authpw", s1, "correct horse", "battery staple", &revoked),
              DURO_UNAUTHORIZED);
    ASSERT_STREQ(duro_last_error(), "no such session");
    duro_free(uid);
    duro_free(s1);
    duro_free(s2);
    duro_free(s3);
    duro_free(s4);
    duro_free(bob);
    duro_free(anon);
    duro_free(ghost);
}

TEST(auth_login_throttled)
{
    ASSERT_EQ(duro_auth_register(db, "authrl", "tim@example.com", "correct horse", NULL),
              DURO_OK);
    char *sid = NULL;
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(login("authrl", "tim@example.com", "wrong horse", &sid), DURO_UNAUTHORIZED);
    /* the email has no failures left: even the right password is refused */
    ASSERT_EQ(login("authrl", "tim@example.com", "correct horse", &sid), DURO_RATE_LIMITED);
    ASSERT(sid == NULL);
    /* another user of the namespace still logs in */
    ASSERT_EQ(duro_auth_register(db, "authrl", "amy@example.com", "correct horse", NULL),
              DURO_OK);
    ASSERT_EQ(login("authrl", "amy@example.com", "correct horse", &sid), DURO_OK);
    duro_free(sid);
}

TEST(auth_bad_input)
{
    char *uid = (char *)1, *sid = (char *)1;
    int64_t exp = 7, n = 7;
    int deleted = 7;
    /* NULL where a pointer is needed: out params are cleared first */
    ASSERT_EQ(duro_auth_register(NULL, "auth", "a@b.c", "12345678", &uid), DURO_BAD_REQUEST);
    ASSERT(uid == NULL);
    ASSERT_EQ(duro_auth_register(db, "auth", NULL, "12345678", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_register(db, "auth", "a@b.c", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_errmsg(db), "must not be NULL") != NULL);
    uid = (char *)1;
    ASSERT_EQ(duro_auth_login(NULL, "auth", "a@b.c", "12345678", 0, &sid, &uid, &exp),
              DURO_BAD_REQUEST);
    ASSERT(sid == NULL && uid == NULL && exp == 0);
    ASSERT_EQ(duro_auth_login(db, "auth", NULL, "12345678", 0, &sid, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_login(db, "auth", "a@b.c", NULL, 0, &sid, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_login(db, "auth", "a@b.c", "12345678", 0, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    uid = (char *)1;
    exp = 7;
    ASSERT_EQ(duro_auth_session(db, "auth", NULL, &uid, &exp), DURO_BAD_REQUEST);
    ASSERT(uid == NULL && exp == 0);
    ASSERT_EQ(duro_auth_session(NULL, "auth", "x", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_logout(db, "auth", NULL, &deleted), DURO_BAD_REQUEST);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_auth_logout(NULL, "auth", "x", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_password(db, "auth", NULL, "12345678", "87654321", &n), DURO_BAD_REQUEST);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(duro_auth_password(db, "auth", "x", NULL, "87654321", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_password(db, "auth", "x", "12345678", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_password(NULL, "auth", "x", "12345678", "87654321", NULL),
              DURO_BAD_REQUEST);
    /* what the server refuses: emails, passwords, ttl, the namespace */
    const char *bad_emails[] = {"", "nobody", "@example.com", "a@", "a@b@c", "a b@example.com"};
    for (size_t i = 0; i < sizeof bad_emails / sizeof bad_emails[0]; i++) {
        ASSERT_EQ(duro_auth_register(db, "auth", bad_emails[i], "12345678", NULL),
                  DURO_BAD_REQUEST);
        ASSERT(strstr(duro_last_error(), "\"email\"") != NULL);
        ASSERT_EQ(duro_auth_login(db, "auth", bad_emails[i], "12345678", 0, &sid, NULL, NULL),
                  DURO_BAD_REQUEST);
    }
    char big[1100];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(duro_auth_register(db, "auth", "pw@example.com", "short", NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "\"password\"") != NULL);
    ASSERT_EQ(duro_auth_register(db, "auth", "pw@example.com", big, NULL), DURO_BAD_REQUEST);
    big[1024] = '\0'; /* 1024 bytes: the longest */
    ASSERT_EQ(duro_auth_register(db, "auth", "pw@example.com", big, NULL), DURO_OK);
    ASSERT_EQ(duro_auth_login(db, "auth", "pw@example.com", big, 999, &sid, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "\"ttlMs\"") != NULL);
    ASSERT_EQ(duro_auth_login(db, "auth", "pw@example.com", big, -1, &sid, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_login(db, "auth", "pw@example.com", big, 315360000001LL, &sid, NULL,
                              NULL),
              DURO_BAD_REQUEST);
    ASSERT(sid == NULL);
    ASSERT_EQ(duro_auth_register(db, "_bad", "pw@example.com", big, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_auth_login(db, "auth", "pw@example.com", big, 1000, &sid, NULL, NULL),
              DURO_OK);
    ASSERT_EQ(duro_auth_password(db, "auth", sid, big, "short", NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "\"newPassword\"") != NULL);
    ASSERT_EQ(duro_auth_password(db, "auth", sid, "short", big, NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "\"currentPassword\"") != NULL);
    duro_free(sid);
    /* a malformed session id is an unknown session */
    const char *bad_ids[] = {"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        ASSERT_EQ(duro_auth_session(db, "auth", bad_ids[i], NULL, NULL), DURO_UNAUTHORIZED);
        ASSERT_EQ(duro_auth_password(db, "auth", bad_ids[i], "12345678", "87654321", NULL),
                  DURO_UNAUTHORIZED);
        ASSERT_EQ(duro_auth_logout(db, "auth", bad_ids[i], &deleted), DURO_OK);
        ASSERT_EQ(deleted, 0);
    }
}

TEST(embedded_ratelimit_default)
{
    if (mode != EMBEDDED)
        return;
    /* file:///dir?ratelimit_default=LIMIT/WINDOW, like durod's flag */
    char furl[600];
    duro *other = NULL;
    duro_rl_result r;
    snprintf(furl, sizeof furl, "file://%s-2?actors=1&ratelimit_default=2/1m", data_dir);
    ASSERT_EQ(duro_open(furl, &other), DURO_OK);
    ASSERT_EQ(duro_ratelimit_check(other, "rl", "k", 0, 0, 1, &r), DURO_OK);
    ASSERT_EQ(r.limit, 2);
    ASSERT_EQ(r.remaining, 1);
    ASSERT(r.reset_ms > 29000 && r.reset_ms <= 30000);
    duro_close(other);
    snprintf(furl, sizeof furl, "file://%s-2?ratelimit_default=2/1y", data_dir);
    ASSERT_EQ(duro_open(furl, &other), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "ratelimit_default") != NULL);
}

/* ---- the namespace snapshot ---- */

TEST(namespaces_list_get_delete_info)
{
    ASSERT_EQ(PUT("nsapi-a", "k1", "1"), DURO_OK);
    ASSERT_EQ(PUT("nsapi-a", "k2", "2"), DURO_OK);
    ASSERT_EQ(PUT("nsapi-b", "k", "1"), DURO_OK);
    duro_namespace_list_opts lo = DURO_NAMESPACE_LIST_OPTS_INIT;
    lo.prefix = "nsapi-";
    lo.limit = 1;
    char *json = NULL;
    ASSERT_EQ(duro_namespaces_list(db, &lo, &json, NULL), DURO_OK);
    json_t *j = parse(json);
    duro_free(json);
    ASSERT(j);
    ASSERT_EQ(json_integer_value(json_object_get(j, "total")), 2);
    ASSERT_STREQ(json_string_value(json_object_get(j, "next")), "nsapi-a");
    ASSERT_STREQ(json_string_value(json_object_get(
                     json_array_get(json_object_get(j, "namespaces"), 0), "namespace")),
                 "nsapi-a");
    json_decref(j);
    lo.after = "nsapi-a";
    ASSERT_EQ(duro_namespaces_list(db, &lo, &json, NULL), DURO_OK);
    ASSERT(strstr(json, "\"nsapi-b\"") && !strstr(json, "\"nsapi-a\""));
    duro_free(json);
    lo.limit = 1001;
    ASSERT_EQ(duro_namespaces_list(db, &lo, &json, NULL), DURO_BAD_REQUEST);
    ASSERT(json == NULL);
    size_t len = 0;
    ASSERT_EQ(duro_namespaces_get(db, "nsapi-a", &json, &len), DURO_OK);
    ASSERT(len == strlen(json) && strstr(json, "\"keys\":2"));
    duro_free(json);
    ASSERT_EQ(duro_namespaces_delete(db, "nsapi-a"), DURO_OK);
    ASSERT_EQ(duro_namespaces_get(db, "nsapi-a", &json, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(duro_namespaces_delete(db, "nsapi-a"), DURO_NOT_FOUND);
    char *v = NULL;
    ASSERT_EQ(duro_get(db, "nsapi-a", "k1", &v, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(duro_namespaces_delete(db, "bad name"), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_server_info(db, &json, NULL), DURO_OK);
    ASSERT(strstr(json, "\"version\":\"" DURO_VERSION_STRING "\""));
    duro_free(json);
}

/* The integer etag of a snapshot, read with duro_snapshot_get (-1 on error). */
static int64_t snap_etag(const char *ns)
{
    char *json = NULL;
    int64_t etag = -1;
    if (duro_snapshot_get(db, ns, &json, NULL, &etag) != DURO_OK)
        return -1;
    duro_free(json);
    return etag;
}

TEST(snapshot_get_patch)
{
    char *json = (char *)1;
    size_t len = 99;
    int64_t etag = -7, e1 = 0, e2 = 0;
    int created = -1;
    /* an empty namespace: {} with ETag 0 */
    ASSERT_EQ(duro_snapshot_get(db, "snap", &json, &len, &etag), DURO_OK);
    ASSERT_STREQ(json, "{}");
    ASSERT_EQ(len, 2);
    ASSERT_EQ(etag, 0);
    duro_free(json);
    /* create under If-Match 0 ("empty"): created */
    const char *ops = "[{\"op\":\"set\",\"key\":\"a\",\"value\":1},"
                      "{\"op\":\"set\",\"key\":\"b\",\"value\":{\"x\":[2,\"y\"]},\"ttlMs\":600000,"
                      "\"metadata\":{\"m\":1}},{\"op\":\"del\",\"key\":\"never\"}]";
    ASSERT_EQ(duro_snapshot_patch(db, "snap", ops, strlen(ops), 0, &e1, &created), DURO_OK);
    ASSERT(e1 > 0);
    ASSERT_EQ(created, 1);
    ASSERT_EQ(duro_snapshot_get(db, "snap", &json, &len, &etag), DURO_OK);
    ASSERT_EQ(etag, e1);
    ASSERT_EQ(len, strlen(json));
    json_t *j = parse(json);
    duro_free(json);
    ASSERT(json_is_object(j));
    ASSERT_EQ(json_object_size(j), 2);
    ASSERT_EQ(json_integer_value(json_object_get(j, "a")), 1);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(json_object_get(j, "b"), "x"),
                                                  1)),
                 "y");
    json_decref(j);
    /* the patch wrote ordinary KV keys, with their ttl and metadata */
    duro_meta m;
    ASSERT_EQ(duro_get_meta(db, "snap", "b", &m), DURO_OK);
    ASSERT_STREQ(m.metadata, "{\"m\":1}");
    ASSERT(m.expires_at > wall_ms());
    ASSERT_EQ(m.version, e1);
    duro_meta_free(&m);
    /* a stale If-Match: 412, nothing applied */
    const char *del_a = "[{\"op\":\"del\",\"key\":\"a\"}]";
    ASSERT_EQ(duro_snapshot_patch(db, "snap", del_a, strlen(del_a), 0, &e2, &created),
              DURO_PRECONDITION_FAILED);
    ASSERT(strstr(duro_last_error(), "ETag") != NULL);
    ASSERT_EQ(e2, 0);
    ASSERT_EQ(created, 0);
    ASSERT_EQ(duro_snapshot_patch(db, "snap", del_a, strlen(del_a), e1 + 1000, NULL, NULL),
              DURO_PRECONDITION_FAILED);
    char *v = NULL;
    ASSERT_EQ(duro_get(db, "snap", "a", &v, NULL), DURO_OK);
    duro_free(v);
    /* the current one: applied, not created; etag/created may be NULL */
    ASSERT_EQ(duro_snapshot_patch(db, "snap", del_a, strlen(del_a), e1, &e2, &created), DURO_OK);
    ASSERT(e2 > e1);
    ASSERT_EQ(created, 0);
    ASSERT_EQ(duro_get(db, "snap", "a", &v, NULL), DURO_NOT_FOUND);
    const char *set_c = "[{\"op\":\"set\",\"key\":\"c\",\"value\":\"three\"}]";
    ASSERT_EQ(duro_snapshot_patch(db, "snap", set_c, strlen(set_c), -1, NULL, NULL), DURO_OK);
    /* every KV write moves the ETag: it is the write counter */
    int64_t ver = 0;
    ASSERT_EQ(duro_put_ex(db, "snap", "d", "4", 1, NULL, &ver), DURO_OK);
    ASSERT_EQ(snap_etag("snap"), ver);
    ASSERT_EQ(duro_snapshot_get(db, "snap", &json, NULL, NULL), DURO_OK); /* etag may be NULL */
    ASSERT_STREQ(json, "{\"b\":{\"x\":[2,\"y\"]},\"c\":\"three\",\"d\":4}");
    duro_free(json);
    /* bad input: all or nothing, checked before anything is applied */
    const char *half = "[{\"op\":\"set\",\"key\":\"ok\",\"value\":1},{\"op\":\"set\",\"key\":\"\","
                       "\"value\":2}]";
    ASSERT_EQ(duro_snapshot_patch(db, "snap", half, strlen(half), -1, &e2, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_get(db, "snap", "ok", &v, NULL), DURO_NOT_FOUND);
    const char *bad_ops[] = {"{nope", "{\"op\":\"set\"}", "[{\"op\":\"frob\",\"key\":\"k\"}]",
                             "[{\"op\":\"set\",\"key\":\"k\"}]", "[1]"};
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++)
        ASSERT_EQ(duro_snapshot_patch(db, "snap", bad_ops[i], strlen(bad_ops[i]), -1, NULL, NULL),
                  DURO_BAD_REQUEST);
    ASSERT_EQ(duro_snapshot_patch(db, "snap", set_c, strlen(set_c), -2, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_snapshot_patch(db, "snap", NULL, 0, -1, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_snapshot_patch(db, "_bad", set_c, strlen(set_c), -1, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_snapshot_get(db, "_bad", &json, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT(json == NULL);
    ASSERT_EQ(duro_snapshot_get(db, "snap", NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_snapshot_get(NULL, "snap", &json, NULL, NULL), DURO_BAD_REQUEST);
    /* deleting every key brings the ETag back to 0 */
    const char *del_all = "[{\"op\":\"del\",\"key\":\"b\"},{\"op\":\"del\",\"key\":\"c\"},"
                          "{\"op\":\"del\",\"key\":\"d\"}]";
    ASSERT_EQ(duro_snapshot_patch(db, "snap", del_all, strlen(del_all), -1, &e2, &created),
              DURO_OK);
    ASSERT_EQ(e2, 0);
    ASSERT_EQ(created, 0);
    ASSERT_EQ(duro_snapshot_get(db, "snap", &json, NULL, &etag), DURO_OK);
    ASSERT_STREQ(json, "{}");
    ASSERT_EQ(etag, 0);
    duro_free(json);
    /* NULL ns is "default" */
    ASSERT_EQ(PUT(NULL, "snap-default", "1"), DURO_OK);
    ASSERT_EQ(duro_snapshot_get(db, NULL, &json, NULL, NULL), DURO_OK);
    ASSERT(strstr(json, "\"snap-default\":1") != NULL);
    duro_free(json);
}

/* The value of name in an msgpack map body as JSON (NULL if absent). */
static json_t *mp_field(const void *body, size_t len, const char *name)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    json_t *out = NULL;
    if (msgpack_unpack_next(&u, body, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size && !out; i++) {
            msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != strlen(name) ||
                memcmp(kv->key.via.str.ptr, name, strlen(name)) != 0)
                continue;
            if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                out = json_integer((json_int_t)kv->val.via.u64);
            else if (kv->val.type == MSGPACK_OBJECT_BOOLEAN)
                out = json_boolean(kv->val.via.boolean);
            else if (kv->val.type == MSGPACK_OBJECT_MAP)
                out = json_integer((json_int_t)kv->val.via.map.size); /* its size */
            else if (kv->val.type == MSGPACK_OBJECT_ARRAY)
                out = json_integer((json_int_t)kv->val.via.array.size);
            else if (kv->val.type == MSGPACK_OBJECT_STR)
                out = json_stringn(kv->val.via.str.ptr, kv->val.via.str.size);
        }
    }
    msgpack_unpacked_destroy(&u);
    return out;
}

TEST(snapshot_through_call)
{
    /* duro_call answers as the binary protocol does: {version, data} */
    ASSERT_EQ(PUT("snapcall", "k1", "1"), DURO_OK);
    int64_t ver = 0;
    ASSERT_EQ(duro_put_ex(db, "snapcall", "k2", "2", 1, NULL, &ver), DURO_OK);
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_call(db, "snapshot.get", "snapcall", NULL, 0, &status, &body, &len), DURO_OK);
    ASSERT_EQ(status, 200);
    json_t *etag = mp_field(body, len, "version"), *data = mp_field(body, len, "data");
    duro_free(body);
    ASSERT_EQ(json_integer_value(etag), ver);
    ASSERT_EQ(json_integer_value(data), 2); /* a map of two keys */
    json_decref(etag);
    json_decref(data);
    /* snapshot.patch {ops, ifMatch}: 412 with the error map when stale */
    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "ops");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "op");
    mp_str(&b, "del");
    mp_str(&b, "key");
    mp_str(&b, "k1");
    mp_str(&b, "ifMatch");
    msgpack_pack_int64(&b.pk, ver - 1);
    ASSERT_EQ(duro_call(db, "snapshot.patch", "snapcall", b.sb.data, b.sb.size, &status, &body,
                        &len),
              DURO_PRECONDITION_FAILED);
    ASSERT_EQ(status, 412);
    ASSERT_STREQ(mp_code(body, len), "PRECONDITION_FAILED");
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "ops");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "op");
    mp_str(&b, "del");
    mp_str(&b, "key");
    mp_str(&b, "k1");
    mp_str(&b, "ifMatch");
    msgpack_pack_int64(&b.pk, ver);
    ASSERT_EQ(duro_call(db, "snapshot.patch", "snapcall", b.sb.data, b.sb.size, &status, &body,
                        &len),
              DURO_OK);
    msgpack_sbuffer_destroy(&b.sb);
    json_t *created = mp_field(body, len, "created"), *version = mp_field(body, len, "version");
    duro_free(body);
    ASSERT(json_is_false(created));
    ASSERT(json_integer_value(version) > ver);
    json_decref(created);
    json_decref(version);
}

/* ---- the resource registry ---- */

/* Parses a resources.list / stats reply; NULL (and a failed test) if bad. */
static json_t *res_list(const char *type, const char *ns, const char *prefix, int64_t limit,
                        int64_t offset)
{
    duro_resource_list_opts o = DURO_RESOURCE_LIST_OPTS_INIT;
    o.type = type;
    o.ns = ns;
    o.key_prefix = prefix;
    o.limit = limit;
    o.offset = offset;
    char *json = NULL;
    size_t len = 0;
    int rc = duro_resources_list(db, &o, &json, &len);
    if (rc != DURO_OK) {
        fprintf(stderr, "  duro_resources_list: %s (%s)\n", duro_errstr(rc), duro_last_error());
        return NULL;
    }
    json_t *j = len == strlen(json) ? parse(json) : NULL;
    duro_free(json);
    return j;
}

/* "type/key" of every resource of a list reply, comma-separated. */
static const char *res_names(const json_t *list)
{
    static char names[1024];
    snprintf(names, sizeof names, "%s", json_is_array(json_object_get(list, "resources"))
                                            ? "" : "(no list)");
    const json_t *arr = json_object_get(list, "resources"), *r;
    size_t i;
    json_array_foreach(arr, i, r)
    {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s/%s", i ? "," : "",
                 json_string_value(json_object_get(r, "type")),
                 json_string_value(json_object_get(r, "key")));
    }
    return names;
}

static json_t *res_stats(void)
{
    char *json = NULL;
    if (duro_resources_stats(db, &json, NULL) != DURO_OK)
        return NULL;
    json_t *j = parse(json);
    duro_free(json);
    return j;
}

static int64_t jint(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? json_integer_value(v) : -1; /* -1: no such number */
}

/* 1 if s looks like "2025-10-25T10:30:00Z". */
static int is_iso(const char *s)
{
    return s && strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z';
}

TEST(resources_register_list_stats)
{
    json_t *before = res_stats();
    ASSERT(before != NULL);
    char *json = NULL;
    size_t len = 0;
    int created = -1;
    /* register: the record, created */
    ASSERT_EQ(duro_resources_register(db, "res1", "do", "counter:1", 12,
                                      "{\"class\": \"Counter\"}", &json, &len, &created),
              DURO_OK);
    ASSERT_EQ(created, 1);
    ASSERT_EQ(len, strlen(json));
    json_t *rec = parse(json);
    duro_free(json);
    ASSERT_STREQ(json_string_value(json_object_get(rec, "type")), "do");
    ASSERT_STREQ(json_string_value(json_object_get(rec, "namespace")), "res1");
    ASSERT_STREQ(json_string_value(json_object_get(rec, "key")), "counter:1");
    ASSERT_EQ(jint(rec, "size", NULL), 12);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(rec, "metadata"), "class")),
                 "Counter");
    const char *c0 = json_string_value(json_object_get(rec, "created_at"));
    ASSERT(is_iso(c0));
    ASSERT_STREQ(json_string_value(json_object_get(rec, "updated_at")), c0);
    char first_created[32];
    snprintf(first_created, sizeof first_created, "%s", c0);
    json_decref(rec);
    /* registering again updates it: size and metadata replaced, created_at
     * kept. Embedded knows it is not new at once; over duro:// the flag is
     * read from the times, which differ from the next second on. */
    ASSERT_EQ(duro_resources_register(db, "res1", "do", "counter:1", 13, NULL, NULL, NULL,
                                      &created),
              DURO_OK);
    if (mode == EMBEDDED)
        ASSERT_EQ(created, 0);
    sleep_ms((int)(1000 - wall_ms() % 1000) + 20);
    ASSERT_EQ(duro_resources_register(db, "res1", "do", "counter:1", -1, NULL, &json, NULL,
                                      &created),
              DURO_OK);
    ASSERT_EQ(created, 0);
    rec = parse(json);
    duro_free(json);
    ASSERT_STREQ(json_string_value(json_object_get(rec, "created_at")), first_created);
    ASSERT(strcmp(json_string_value(json_object_get(rec, "updated_at")), first_created) > 0);
    ASSERT_EQ(jint(rec, "size", NULL), 0); /* size not given: 0 */
    ASSERT(json_is_null(json_object_get(rec, "metadata")));
    json_decref(rec);
    /* more resources of res1: hand-registered types and a KV key */
    ASSERT_EQ(duro_resources_register(db, "res1", "do", "alpha", 5, NULL, NULL, NULL, NULL),
              DURO_OK);
    ASSERT_EQ(duro_resources_register(db, "res1", "r2", "bucket/a", 100, "{}", NULL, NULL,
                                      &created),
              DURO_OK);
    ASSERT_EQ(created, 1);
    ASSERT_EQ(PUT("res1", "akv", "\"hello\""), DURO_OK);
    ASSERT_EQ(duro_resources_register(db, "res2", "do", "alpha", 1, NULL, NULL, NULL, NULL),
              DURO_OK);
    /* list: (namespace, type, key) order, filters, paging */
    json_t *l = res_list(NULL, "res1", NULL, -1, -1);
    ASSERT(l != NULL);
    ASSERT_STREQ(res_names(l), "do/alpha,do/counter:1,kv/akv,r2/bucket/a");
    ASSERT_EQ(jint(l, "total", NULL), 4);
    ASSERT_EQ(jint(l, "offset", NULL), 0);
    ASSERT_EQ(jint(l, "limit", NULL), 100);
    ASSERT(json_is_false(json_object_get(l, "has_more")));
    json_t *kv = json_array_get(json_object_get(l, "resources"), 2);
    ASSERT_STREQ(json_string_value(json_object_get(kv, "namespace")), "res1");
    ASSERT(jint(kv, "size", NULL) > 0);
    json_decref(l);
    l = res_list(NULL, "res1", NULL, 2, 1);
    ASSERT_STREQ(res_names(l), "do/counter:1,kv/akv");
    ASSERT_EQ(jint(l, "total", NULL), 4);
    ASSERT_EQ(jint(l, "limit", NULL), 2);
    ASSERT(json_is_true(json_object_get(l, "has_more")));
    json_decref(l);
    l = res_list(NULL, "res1", NULL, 2, 3);
    ASSERT_STREQ(res_names(l), "r2/bucket/a");
    ASSERT(json_is_false(json_object_get(l, "has_more")));
    json_decref(l);
    l = res_list(NULL, "res1", NULL, 0, -1); /* a page of 0 still counts */
    ASSERT_STREQ(res_names(l), "");
    ASSERT_EQ(jint(l, "total", NULL), 4);
    json_decref(l);
    l = res_list(NULL, "res1", NULL, -1, 10);
    ASSERT_STREQ(res_names(l), "");
    ASSERT_EQ(jint(l, "total", NULL), 4);
    json_decref(l);
    l = res_list("do", "res1", NULL, -1, -1);
    ASSERT_STREQ(res_names(l), "do/alpha,do/counter:1");
    json_decref(l);
    l = res_list(NULL, "res1", "a", -1, -1);
    ASSERT_STREQ(res_names(l), "do/alpha,kv/akv");
    json_decref(l);
    l = res_list("do", NULL, "alpha", -1, -1); /* across namespaces */
    ASSERT_EQ(jint(l, "total", NULL), 2);
    ASSERT_STREQ(res_names(l), "do/alpha,do/alpha");
    json_decref(l);
    l = res_list("kv", "res1", NULL, -1, -1);
    ASSERT_STREQ(res_names(l), "kv/akv");
    json_decref(l);
    /* opts NULL: every namespace, the first 100 */
    ASSERT_EQ(duro_resources_list(db, NULL, &json, NULL), DURO_OK);
    l = parse(json);
    duro_free(json);
    ASSERT(jint(l, "total", NULL) >= 5);
    ASSERT_EQ(jint(l, "limit", NULL), 100);
    json_decref(l);
    /* stats: what we added */
    json_t *after = res_stats();
    ASSERT(after != NULL);
    ASSERT_EQ(jint(after, "total", NULL), jint(before, "total", NULL) + 5);
    ASSERT_EQ(jint(after, "by_type", "do"), jint(before, "by_type", "do") + 3);
    ASSERT_EQ(jint(after, "by_type", "r2"), jint(before, "by_type", "r2") + 1);
    ASSERT_EQ(jint(after, "by_type", "kv"), jint(before, "by_type", "kv") + 1);
    ASSERT_EQ(jint(after, "by_namespace", "res1"), 4);
    ASSERT_EQ(jint(after, "by_namespace", "res2"), 1);
    ASSERT(jint(after, "total_size", NULL) >= jint(before, "total_size", NULL) + 106);
    json_decref(after);
    json_decref(before);
    /* unregister */
    int deleted = -1;
    ASSERT_EQ(duro_resources_unregister(db, "res1", "do", "alpha", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    ASSERT_EQ(duro_resources_unregister(db, "res1", "do", "alpha", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_resources_unregister(db, "res1", "do", "never", NULL), DURO_OK);
    l = res_list(NULL, "res1", NULL, -1, -1);
    ASSERT_STREQ(res_names(l), "do/counter:1,kv/akv,r2/bucket/a");
    json_decref(l);
    /* a KV key leaves the registry when deleted */
    ASSERT_EQ(duro_delete(db, "res1", "akv"), DURO_OK);
    l = res_list("kv", "res1", NULL, -1, -1);
    ASSERT_EQ(jint(l, "total", NULL), 0);
    json_decref(l);
}

TEST(resources_bad_input)
{
    char *json = (char *)1;
    int created = 5, deleted = 5;
    /* "kv" is tracked automatically: 400 */
    ASSERT_EQ(duro_resources_register(db, "resbad", "kv", "k", 1, NULL, &json, NULL, &created),
              DURO_BAD_REQUEST);
    ASSERT(json == NULL);
    ASSERT_EQ(created, 0);
    ASSERT(strstr(duro_last_error(), "kv") != NULL);
    ASSERT_EQ(duro_resources_unregister(db, "resbad", "kv", "k", &deleted), DURO_BAD_REQUEST);
    ASSERT_EQ(deleted, 0);
    /* names, size, metadata */
    ASSERT_EQ(duro_resources_register(db, "resbad", "", "k", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "no space", "k", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", "", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "_bad", "do", "k", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", "k", -5, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", "k", 9007199254740992LL, NULL, NULL,
                                      NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", "k", 1, "[1]", NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", "k", 1, "{nope", NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", NULL, "k", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(db, "resbad", "do", NULL, 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_register(NULL, "resbad", "do", "k", 1, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_unregister(db, "resbad", "do", NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_unregister(db, "_bad", "do", "k", NULL), DURO_BAD_REQUEST);
    /* list: limit 0..1000, offset 0..1e9, valid names */
    duro_resource_list_opts o = DURO_RESOURCE_LIST_OPTS_INIT;
    o.limit = 1001;
    ASSERT_EQ(duro_resources_list(db, &o, &json, NULL), DURO_BAD_REQUEST);
    ASSERT(json == NULL);
    ASSERT(strstr(duro_last_error(), "limit") != NULL);
    o.limit = -5;
    ASSERT_EQ(duro_resources_list(db, &o, &json, NULL), DURO_BAD_REQUEST);
    o.limit = -1;
    o.offset = 1000000001;
    ASSERT_EQ(duro_resources_list(db, &o, &json, NULL), DURO_BAD_REQUEST);
    ASSERT(strstr(duro_last_error(), "offset") != NULL);
    o.offset = -1;
    o.ns = "_bad";
    ASSERT_EQ(duro_resources_list(db, &o, &json, NULL), DURO_BAD_REQUEST);
    o.ns = NULL;
    o.type = "a b";
    ASSERT_EQ(duro_resources_list(db, &o, &json, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_list(db, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_resources_stats(NULL, &json, NULL), DURO_BAD_REQUEST);
    /* nothing was registered */
    json_t *l = res_list(NULL, "resbad", NULL, -1, -1);
    ASSERT_EQ(jint(l, "total", NULL), 0);
    json_decref(l);
}

TEST(resources_through_call)
{
    int status = 0;
    void *body = NULL;
    size_t len = 0;
    /* register / list / unregister as raw ops; list ignores the call's namespace */
    mpbuf b;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_str(&b, "type");
    mp_str(&b, "d1");
    mp_str(&b, "key");
    mp_str(&b, "db-main");
    mp_str(&b, "size");
    msgpack_pack_int(&b.pk, 4096);
    ASSERT_EQ(duro_call(db, "resources.register", "rescall", b.sb.data, b.sb.size, &status, &body,
                        &len),
              DURO_OK);
    ASSERT_EQ(status, 201); /* new: as HTTP, the binary protocol says 201 */
    json_t *ns = mp_field(body, len, "namespace"), *size = mp_field(body, len, "size");
    duro_free(body);
    ASSERT_STREQ(json_string_value(ns), "rescall");
    ASSERT_EQ(json_integer_value(size), 4096);
    json_decref(ns);
    json_decref(size);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "namespace");
    mp_str(&b, "rescall");
    mp_str(&b, "limit");
    msgpack_pack_int(&b.pk, 5); /* args are typed: a decimal string would be 400 */
    ASSERT_EQ(duro_call(db, "resources.list", "default", b.sb.data, b.sb.size, &status, &body,
                        &len),
              DURO_OK);
    json_t *total = mp_field(body, len, "total"), *lim = mp_field(body, len, "limit");
    duro_free(body);
    ASSERT_EQ(json_integer_value(total), 1);
    ASSERT_EQ(json_integer_value(lim), 5);
    json_decref(total);
    json_decref(lim);
    ASSERT_EQ(duro_call(db, "resources.stats", "_not a namespace", NULL, 0, &status, &body, &len),
              DURO_OK);
    ASSERT_EQ(status, 200);
    json_t *bt = mp_field(body, len, "by_type");
    ASSERT(json_integer_value(bt) >= 4); /* kv, d1, r2, do at least */
    json_decref(bt);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    mp_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_str(&b, "limit");
    msgpack_pack_int(&b.pk, 1001);
    ASSERT_EQ(duro_call(db, "resources.list", "default", b.sb.data, b.sb.size, &status, &body,
                        &len),
              DURO_BAD_REQUEST);
    ASSERT_EQ(status, 400);
    ASSERT_STREQ(mp_code(body, len), "BAD_REQUEST");
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    /* pipelined, like any op */
    uint64_t id1 = 0, id2 = 0, id = 0;
    mp_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_str(&b, "type");
    mp_str(&b, "d1");
    mp_str(&b, "key");
    mp_str(&b, "db-main");
    ASSERT_EQ(duro_send(db, "resources.unregister", "rescall", b.sb.data, b.sb.size, &id1),
              DURO_OK);
    ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_OK);
    ASSERT_EQ(id, id1);
    json_t *del = mp_field(body, len, "deleted");
    ASSERT(json_is_true(del));
    json_decref(del);
    duro_free(body);
    msgpack_sbuffer_destroy(&b.sb);
    ASSERT_EQ(duro_send(db, "resources.stats", NULL, NULL, 0, &id2), DURO_OK);
    ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_OK);
    ASSERT_EQ(id, id2);
    duro_free(body);
    json_t *l = res_list("d1", "rescall", NULL, -1, -1);
    ASSERT_EQ(jint(l, "total", NULL), 0);
    json_decref(l);
}

/* ---- blobs ---- */

/* The bytes of blob tests: byte i of a pattern that holds every byte value
 * and does not repeat with a period of any part size. */
static unsigned char blob_byte(uint64_t i) { return (unsigned char)((i * 7 + i / 251) & 0xff); }

TEST(blob_round_trip)
{
    unsigned char all[1024];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (unsigned char)(i & 0xff); /* every byte value, NUL included, 4 times */
    duro_blob_put_opts po = {.content_type = "application/x-test",
                             .metadata_json = "{\"owner\":\"ada\"}"};
    duro_blob_info info;
    int created = -1;
    ASSERT_EQ(duro_blob_put(db, "blobs", "dir/all.bin", all, sizeof all, &po, &info, &created),
              DURO_OK);
    ASSERT_EQ(created, 1);
    ASSERT_EQ(info.size, sizeof all);
    ASSERT_EQ(strlen(info.etag), 64);
    ASSERT_EQ(strlen(info.md5), 32);
    ASSERT_STREQ(info.content_type, "application/x-test");
    ASSERT_STREQ(info.metadata_json, "{\"owner\":\"ada\"}");
    ASSERT(info.updated_at > wall_ms() - 60000 && info.updated_at <= wall_ms() + 1000);
    ASSERT(info.version > 0);
    char etag[65];
    memcpy(etag, info.etag, sizeof etag);
    duro_blob_info_free(&info);
    ASSERT(info.content_type == NULL && info.metadata_json == NULL);

    void *data = NULL;
    size_t len = 0;
    ASSERT_EQ(duro_blob_get(db, "blobs", "dir/all.bin", &data, &len, &info), DURO_OK);
    ASSERT_EQ(len, sizeof all);
    ASSERT(memcmp(data, all, sizeof all) == 0);
    ASSERT_STREQ(info.etag, etag);
    ASSERT_STREQ(info.content_type, "application/x-test");
    duro_free(data);
    duro_blob_info_free(&info);

    ASSERT_EQ(duro_blob_head(db, "blobs", "dir/all.bin", &info), DURO_OK);
    ASSERT_EQ(info.size, sizeof all);
    ASSERT_STREQ(info.etag, etag);
    ASSERT_STREQ(info.metadata_json, "{\"owner\":\"ada\"}");
    duro_blob_info_free(&info);

    /* known digests; no type given: octet-stream; no metadata: NULL */
    ASSERT_EQ(duro_blob_put(db, "blobs", "abc", "abc", 3, NULL, &info, &created), DURO_OK);
    ASSERT_STREQ(info.etag, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_STREQ(info.md5, "900150983cd24fb0d6963f7d28e17f72");
    ASSERT_STREQ(info.content_type, "application/octet-stream");
    ASSERT(info.metadata_json == NULL);
    duro_blob_info_free(&info);
    ASSERT_EQ(duro_blob_put(db, "blobs", "abc", "abc!", 4, NULL, NULL, &created), DURO_OK);
    ASSERT_EQ(created, 0); /* replaced */
    /* an empty object, and its data is still a pointer */
    ASSERT_EQ(duro_blob_put(db, "blobs", "empty", NULL, 0, NULL, NULL, NULL), DURO_OK);
    ASSERT_EQ(duro_blob_get(db, "blobs", "empty", &data, &len, NULL), DURO_OK);
    ASSERT(data != NULL);
    ASSERT_EQ(len, 0);
    duro_free(data);

    char *json = NULL;
    ASSERT_EQ(duro_blob_list(db, "blobs", NULL, &json, &len), DURO_OK);
    json_t *page = parse(json);
    duro_free(json);
    json_t *objs = json_object_get(page, "objects");
    ASSERT_EQ(json_array_size(objs), 3);
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(objs, 0), "key")), "abc");
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(objs, 1), "key")), "dir/all.bin");
    ASSERT_EQ(json_integer_value(json_object_get(json_array_get(objs, 1), "size")), 1024);
    ASSERT(json_is_false(json_object_get(page, "truncated")));
    json_decref(page);

    int deleted = -1;
    ASSERT_EQ(duro_blob_delete(db, "blobs", "dir/all.bin", NULL, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
    data = (void *)1;
    ASSERT_EQ(duro_blob_get(db, "blobs", "dir/all.bin", &data, &len, &info), DURO_NOT_FOUND);
    ASSERT(data == NULL && info.content_type == NULL);
    ASSERT(strlen(duro_errmsg(db)) > 0);
    ASSERT_EQ(duro_blob_head(db, "blobs", "dir/all.bin", &info), DURO_NOT_FOUND);
    ASSERT_EQ(duro_blob_delete(db, "blobs", "dir/all.bin", NULL, &deleted), DURO_OK);
    ASSERT_EQ(deleted, 0);
}

TEST(blob_range)
{
    unsigned char b[1000];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = blob_byte(i);
    duro_blob_info info;
    ASSERT_EQ(duro_blob_put(db, "blobrange", "r", b, sizeof b, NULL, &info, NULL), DURO_OK);
    char etag[65];
    memcpy(etag, info.etag, sizeof etag);
    duro_blob_info_free(&info);
    void *data;
    size_t len;
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 10, 20, NULL, &data, &len, &info), DURO_OK);
    ASSERT_EQ(len, 20);
    ASSERT(memcmp(data, b + 10, 20) == 0);
    ASSERT_EQ(info.size, 1000); /* the whole object's fields */
    duro_free(data);
    duro_blob_info_free(&info);
    /* clamped at the end; to the end; the empty piece at the end */
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 990, 100, etag, &data, &len, NULL),
              DURO_OK);
    ASSERT_EQ(len, 10);
    ASSERT(memcmp(data, b + 990, 10) == 0);
    duro_free(data);
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 1, UINT64_MAX, NULL, &data, &len, NULL),
              DURO_OK);
    ASSERT_EQ(len, 999);
    ASSERT(memcmp(data, b + 1, 999) == 0);
    duro_free(data);
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 1000, 5, NULL, &data, &len, NULL), DURO_OK);
    ASSERT_EQ(len, 0);
    duro_free(data);
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 1001, 5, NULL, &data, &len, NULL),
              DURO_RANGE_NOT_SATISFIABLE);
    ASSERT(data == NULL);
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "r", 0, 5, "0000", &data, &len, NULL),
              DURO_PRECONDITION_FAILED);
    ASSERT_EQ(duro_blob_get_range(db, "blobrange", "nope", 0, 5, NULL, &data, &len, NULL),
              DURO_NOT_FOUND);
}

TEST(blob_conditions)
{
    duro_blob_info info;
    ASSERT_EQ(duro_blob_put(db, "blobcond", "k", "v1", 2, NULL, &info, NULL), DURO_OK);
    char etag[65];
    memcpy(etag, info.etag, sizeof etag);
    duro_blob_info_free(&info);
    duro_blob_put_opts create_only = {.if_none_match = "*"};
    ASSERT_EQ(duro_blob_put(db, "blobcond", "k", "v2", 2, &create_only, NULL, NULL),
              DURO_PRECONDITION_FAILED);
    ASSERT(strstr(duro_errmsg(db), "If-None-Match") != NULL);
    int created = 0;
    ASSERT_EQ(duro_blob_put(db, "blobcond", "new", "n", 1, &create_only, NULL, &created), DURO_OK);
    ASSERT_EQ(created, 1);
    duro_blob_put_opts stale = {
        .if_match = "1111111111111111111111111111111111111111111111111111111111111111"};
    ASSERT_EQ(duro_blob_put(db, "blobcond", "k", "v2", 2, &stale, NULL, NULL),
              DURO_PRECONDITION_FAILED);
    ASSERT_EQ(duro_blob_put(db, "blobcond", "missing", "v2", 2, &stale, NULL, NULL),
              DURO_PRECONDITION_FAILED);
    duro_blob_put_opts fresh = {.if_match = etag};
    ASSERT_EQ(duro_blob_put(db, "blobcond", "k", "v2", 2, &fresh, &info, NULL), DURO_OK);
    ASSERT(strcmp(info.etag, etag) != 0);
    duro_blob_info_free(&info);
    /* the old ETag is stale now: nothing was written by the refused calls */
    ASSERT_EQ(duro_blob_put(db, "blobcond", "k", "v3", 2, &fresh, NULL, NULL),
              DURO_PRECONDITION_FAILED);
    void *data;
    size_t len;
    ASSERT_EQ(duro_blob_get(db, "blobcond", "k", &data, &len, NULL), DURO_OK);
    ASSERT_EQ(len, 2);
    ASSERT(memcmp(data, "v2", 2) == 0);
    duro_free(data);
    int deleted = -1;
    ASSERT_EQ(duro_blob_delete(db, "blobcond", "k", etag, &deleted), DURO_PRECONDITION_FAILED);
    ASSERT_EQ(deleted, 0);
    ASSERT_EQ(duro_blob_delete(db, "blobcond", "k", "*", &deleted), DURO_OK);
    ASSERT_EQ(deleted, 1);
}

TEST(blob_list_paging)
{
    const char *keys[] = {"a/1", "a/2", "a/b/3", "b/1", "c"};
    for (size_t i = 0; i < 5; i++)
        ASSERT_EQ(duro_blob_put(db, "bloblist", keys[i], "x", 1, NULL, NULL, NULL), DURO_OK);
    char *json;
    duro_blob_list_opts lo = {.prefix = "a/", .delimiter = "/"};
    ASSERT_EQ(duro_blob_list(db, "bloblist", &lo, &json, NULL), DURO_OK);
    json_t *page = parse(json);
    duro_free(json);
    ASSERT_EQ(json_array_size(json_object_get(page, "objects")), 2);
    json_t *pre = json_object_get(page, "delimitedPrefixes");
    ASSERT_EQ(json_array_size(pre), 1);
    ASSERT_STREQ(json_string_value(json_array_get(pre, 0)), "a/b/");
    json_decref(page);
    /* pages of 2 with the cursor: every key once, in order */
    duro_blob_list_opts po = {.limit = 2};
    char seen[256] = "";
    char *cursor = NULL;
    for (int pages = 0; pages < 10; pages++) {
        po.cursor = cursor;
        ASSERT_EQ(duro_blob_list(db, "bloblist", &po, &json, NULL), DURO_OK);
        page = parse(json);
        duro_free(json);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(page, "objects"), i, o)
        {
            strcat(seen, json_string_value(json_object_get(o, "key")));
            strcat(seen, " ");
        }
        free(cursor);
        cursor = NULL;
        int more = json_is_true(json_object_get(page, "truncated"));
        if (more)
            cursor = strdup(json_string_value(json_object_get(page, "cursor")));
        json_decref(page);
        if (!more)
            break;
    }
    free(cursor);
    ASSERT_STREQ(seen, "a/1 a/2 a/b/3 b/1 c ");
    duro_blob_list_opts sa = {.start_after = "b/1"};
    ASSERT_EQ(duro_blob_list(db, "bloblist", &sa, &json, NULL), DURO_OK);
    ASSERT(strstr(json, "\"c\"") && !strstr(json, "b/1"));
    duro_free(json);
    duro_blob_list_opts bad = {.limit = 1001};
    ASSERT_EQ(duro_blob_list(db, "bloblist", &bad, &json, NULL), DURO_BAD_REQUEST);
    ASSERT(json == NULL);
}

/* A read callback giving n bytes of blob_byte() in reads of odd sizes. */
typedef struct pattern_src {
    uint64_t off, n;
    int calls, fail_after; /* fail_after > 0: the read after that many fails */
} pattern_src;

static int pattern_read(void *arg, void *buf, size_t cap, size_t *got)
{
    pattern_src *s = arg;
    if (s->fail_after && ++s->calls > s->fail_after)
        return -1;
    size_t want = cap < 1000003 ? cap : 1000003;
    if (want > s->n - s->off)
        want = (size_t)(s->n - s->off);
    for (size_t i = 0; i < want; i++)
        ((unsigned char *)buf)[i] = blob_byte(s->off + i);
    s->off += want;
    *got = want;
    return 0;
}

/* A write callback checking the bytes against blob_byte(); if overwrite is
 * set, it replaces the object after the first piece. */
typedef struct pattern_sink {
    uint64_t off;
    int pieces, bad;
    const char *overwrite; /* key to replace in namespace "blobstream" after piece 1 */
} pattern_sink;

static int pattern_write(void *arg, const void *p, size_t n)
{
    pattern_sink *s = arg;
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i] != blob_byte(s->off + i))
            s->bad = 1;
    s->off += n;
    if (++s->pieces == 1 && s->overwrite &&
        duro_blob_put(db, "blobstream", s->overwrite, "new", 3, NULL, NULL, NULL) != DURO_OK)
        s->bad = 1;
    return 0;
}

static int failing_write(void *arg, const void *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return -1;
}

TEST(blob_stream_large)
{
    const uint64_t size = 20u << 20; /* 20 MiB: 5 parts up, 5 pieces down */
    pattern_src src = {.n = size};
    duro_blob_info info;
    int created = 0;
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "big", pattern_read, &src, NULL, &info, &created),
        DURO_OK);
    ASSERT_EQ(created, 1);
    ASSERT_EQ(info.size, size);
    char etag[65];
    memcpy(etag, info.etag, sizeof etag);
    duro_blob_info_free(&info);
    pattern_sink sink = {0};
    ASSERT_EQ(duro_blob_get_stream(db, "blobstream", "big", pattern_write, &sink, &info), DURO_OK);
    ASSERT_EQ(sink.off, size);
    ASSERT_EQ(sink.pieces, 5);
    ASSERT_EQ(sink.bad, 0);
    ASSERT_STREQ(info.etag, etag);
    duro_blob_info_free(&info);
    /* too large for one reply: duro_blob_get says so; a range reads a piece */
    void *data = NULL;
    size_t len;
    ASSERT_EQ(duro_blob_get(db, "blobstream", "big", &data, &len, NULL), DURO_PAYLOAD_TOO_LARGE);
    ASSERT(data == NULL);
    ASSERT_EQ(duro_blob_get_range(db, "blobstream", "big", size - 10, 100, etag, &data, &len, NULL),
              DURO_OK);
    ASSERT_EQ(len, 10);
    ASSERT_EQ(((unsigned char *)data)[9], blob_byte(size - 1));
    duro_free(data);
    /* duro_blob_put of more than a part: sent in parts too; the same ETag */
    unsigned char *mem = malloc(size);
    ASSERT(mem != NULL);
    for (uint64_t i = 0; i < size; i++)
        mem[i] = blob_byte(i);
    ASSERT_EQ(duro_blob_put(db, "blobstream", "big2", mem, size, NULL, &info, NULL), DURO_OK);
    free(mem);
    ASSERT_STREQ(info.etag, etag);
    duro_blob_info_free(&info);
    /* exactly one part: one blob.put; an empty stream: an empty object */
    pattern_src part = {.n = 4u << 20};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "part", pattern_read, &part, NULL, &info, NULL),
        DURO_OK);
    ASSERT_EQ(info.size, 4u << 20);
    duro_blob_info_free(&info);
    pattern_src none = {.n = 0};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "none", pattern_read, &none, NULL, &info, NULL),
        DURO_OK);
    ASSERT_EQ(info.size, 0);
    duro_blob_info_free(&info);
    sink = (pattern_sink){0};
    ASSERT_EQ(duro_blob_get_stream(db, "blobstream", "none", pattern_write, &sink, NULL), DURO_OK);
    ASSERT_EQ(sink.off, 0);
}

TEST(blob_stream_conditions_and_failures)
{
    /* the conditions of a streamed put: checked with the first part already */
    pattern_src src = {.n = 9u << 20};
    duro_blob_put_opts only_new = {.if_none_match = "*",
                                   .content_type = "text/x-pattern",
                                   .metadata_json = "{\"parts\":\"3\"}"};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "cond", pattern_read, &src, &only_new, NULL, NULL),
        DURO_OK);
    duro_blob_info info;
    ASSERT_EQ(duro_blob_head(db, "blobstream", "cond", &info), DURO_OK);
    ASSERT_STREQ(info.content_type, "text/x-pattern");
    ASSERT_STREQ(info.metadata_json, "{\"parts\":\"3\"}");
    duro_blob_info_free(&info);
    src = (pattern_src){.n = 9u << 20};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "cond", pattern_read, &src, &only_new, NULL, NULL),
        DURO_PRECONDITION_FAILED);
    ASSERT(src.off <= (4u << 20) + 1000003); /* refused at the first part */
    /* bad metadata: refused before anything is read */
    duro_blob_put_opts bad = {.metadata_json = "[]"};
    src = (pattern_src){.n = 9u << 20};
    ASSERT_EQ(duro_blob_put_stream(db, "blobstream", "x", pattern_read, &src, &bad, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(src.off, 0);
    /* a read that fails midway: DURO_IO, nothing stored */
    src = (pattern_src){.n = 9u << 20, .fail_after = 6};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "broken", pattern_read, &src, NULL, NULL, NULL),
        DURO_IO);
    ASSERT(strstr(duro_errmsg(db), "read callback") != NULL);
    ASSERT_EQ(duro_blob_head(db, "blobstream", "broken", &info), DURO_NOT_FOUND);
    /* replaced while it is read: the second piece is refused (ifMatch) */
    src = (pattern_src){.n = 9u << 20};
    ASSERT_EQ(
        duro_blob_put_stream(db, "blobstream", "moving", pattern_read, &src, NULL, NULL, NULL),
        DURO_OK);
    pattern_sink sink = {.overwrite = "moving"};
    ASSERT_EQ(duro_blob_get_stream(db, "blobstream", "moving", pattern_write, &sink, &info),
              DURO_PRECONDITION_FAILED);
    ASSERT(strstr(duro_errmsg(db), "the object changed while it was read") != NULL);
    ASSERT_EQ(sink.pieces, 1);
    ASSERT_EQ(sink.off, 4u << 20);
    ASSERT(info.content_type == NULL && info.size == 0);
    /* a write callback that fails stops the download */
    ASSERT_EQ(duro_blob_get_stream(db, "blobstream", "moving", failing_write, NULL, NULL), DURO_IO);
    ASSERT(strstr(duro_errmsg(db), "write callback") != NULL);
}

TEST(blob_bad_input)
{
    void *data;
    size_t len;
    duro_blob_info info;
    ASSERT_EQ(duro_blob_put(db, "blobbad", NULL, "x", 1, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_put(NULL, "blobbad", "k", "x", 1, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_put(db, "blobbad", "k", NULL, 1, NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_put(db, "blobbad", "", "x", 1, NULL, NULL, NULL), DURO_BAD_REQUEST);
    char big[1100];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(duro_blob_put(db, "blobbad", big, "x", 1, NULL, NULL, NULL), DURO_BAD_REQUEST);
    duro_blob_put_opts o = {.metadata_json = "[1]"};
    ASSERT_EQ(duro_blob_put(db, "blobbad", "k", "x", 1, &o, NULL, NULL), DURO_BAD_REQUEST);
    o.metadata_json = "{nope";
    ASSERT_EQ(duro_blob_put(db, "blobbad", "k", "x", 1, &o, NULL, NULL), DURO_BAD_REQUEST);
    duro_blob_put_opts t = {.content_type = "bad\ntype"};
    ASSERT_EQ(duro_blob_put(db, "blobbad", "k", "x", 1, &t, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_get(db, "blobbad", "k", NULL, &len, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_get(db, "blobbad", "k", &data, &len, &info), DURO_NOT_FOUND);
    ASSERT_EQ(duro_blob_head(db, "blobbad", "k", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_get_stream(db, "blobbad", "k", NULL, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_put_stream(db, "blobbad", "k", NULL, NULL, NULL, NULL, NULL),
              DURO_BAD_REQUEST);
    ASSERT_EQ(duro_blob_list(db, "blobbad", NULL, NULL, NULL), DURO_BAD_REQUEST);
    duro_blob_info_free(NULL);
}

/* ---- restart and locks ---- */

TEST(restart)
{
    if (mode == GIVEN)
        return;
    ASSERT_EQ(PUT("restart", "before", "\"kept\""), DURO_OK);
    /* a rate-limit state and a session survive a clean restart too */
    duro_rl_result rl;
    ASSERT_EQ(duro_ratelimit_check(db, "restart", "rl", 1, 3600000, 1, &rl), DURO_OK);
    ASSERT_EQ(rl.allowed, 1);
    char *sid = NULL;
    ASSERT_EQ(duro_session_create(db, "restart", "{\"s\":1}", 7, 3600000, "u", 0, &sid, NULL),
              DURO_OK);
    ASSERT_EQ(duro_resources_register(db, "restart", "do", "kept", 3, NULL, NULL, NULL, NULL),
              DURO_OK);
    char *v = NULL;
    if (mode == EMBEDDED) {
        duro_close(db);
        db = NULL;
        ASSERT_EQ(duro_open(url, &db), DURO_OK);
    } else {
        stop_durod(durod_pid);
        durod_pid = -1;
        /* server down: fails cleanly */
        int rc = duro_get(db, "restart", "before", &v, NULL);
        ASSERT(rc == DURO_IO || rc == DURO_UNAVAILABLE);
        ASSERT(v == NULL);
        rc = duro_get(db, "restart", "before", &v, NULL);
        ASSERT(rc == DURO_IO || rc == DURO_UNAVAILABLE);
        durod_pid = start_durod(data_dir, http_port, rpc_port, NULL);
        ASSERT(durod_pid > 0);
        rc = duro_get(db, "restart", "before", &v, NULL);
        ASSERT(rc == DURO_OK || rc == DURO_IO);
        duro_free(v);
        /* and a restart while the connection is idle and up */
        stop_durod(durod_pid);
        durod_pid = start_durod(data_dir, http_port, rpc_port, NULL);
        ASSERT(durod_pid > 0);
        rc = duro_put(db, "restart", "after", "1", 1, 0);
        ASSERT(rc == DURO_OK || rc == DURO_IO);
    }
    ASSERT_EQ(duro_ratelimit_check(db, "restart", "rl", 1, 3600000, 1, &rl), DURO_OK);
    ASSERT_EQ(rl.allowed, 0);
    ASSERT_EQ(duro_session_get(db, "restart", sid, &v, NULL, NULL, NULL), DURO_OK);
    ASSERT_STREQ(v, "{\"s\":1}");
    duro_free(v);
    duro_free(sid);
    json_t *l = res_list("do", "restart", NULL, -1, -1);
    ASSERT_STREQ(res_names(l), "do/kept");
    json_decref(l);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(duro_get(db, "restart", "before", &v, NULL), DURO_OK);
        ASSERT_STREQ(v, "\"kept\"");
        duro_free(v);
        ASSERT_EQ(duro_put(db, "restart", "after", "2", 1, 0), DURO_OK);
    }
}

TEST(restart_with_pending_pipeline)
{
    if (mode != REMOTE)
        return;
    /* requests in flight when the server goes away: every one is answered
     * (DURO_IO or a reply), none is lost, and the handle works afterwards */
    uint64_t ids[20], id;
    int status;
    void *body;
    size_t len;
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(duro_send(db, "ping", "default", NULL, 0, &ids[i]), DURO_OK);
    kill(durod_pid, SIGKILL);
    waitpid(durod_pid, NULL, 0);
    durod_pid = -1;
    for (int i = 0; i < 20; i++) {
        int rc = duro_recv(db, &id, &status, &body, &len);
        ASSERT(rc == DURO_OK || rc == DURO_IO);
        ASSERT(id != 0);
        duro_free(body);
    }
    ASSERT_EQ(duro_recv(db, &id, &status, &body, &len), DURO_BAD_REQUEST);
    durod_pid = start_durod(data_dir, http_port, rpc_port, NULL);
    ASSERT(durod_pid > 0);
    int rc = duro_call(db, "ping", NULL, NULL, 0, &status, NULL, NULL);
    ASSERT(rc == DURO_OK || rc == DURO_IO);
    ASSERT_EQ(duro_call(db, "ping", NULL, NULL, 0, &status, NULL, NULL), DURO_OK);
}

/* A server with access control: a handle with the token (duro_open_ex, or the
 * URL's token=) works, and keeps working across a server restart (the token
 * is sent again on the new connection); without it every op is refused; a
 * wrong token is refused at open. */
TEST(access_token)
{
    if (mode != REMOTE)
        return;
    char dir[300];
    snprintf(dir, sizeof dir, "%s-auth", data_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        ASSERT(0);
    int hp = free_port(), rp = free_port();
    static const char *const extra[] = {"--auth-token", "s3cret-admin-token-of-32-bytes!!", NULL};
    pid_t pid = start_durod_with(dir, hp, rp, NULL, extra);
    ASSERT(pid > 0);
    char u[128];
    snprintf(u, sizeof u, "duro://127.0.0.1:%d?timeout_ms=10000", rp);
    duro *plain = NULL, *authed = NULL, *by_url = NULL, *wrong = NULL;
    char *v = NULL;
    ASSERT_EQ(duro_open(u, &plain), DURO_OK);
    ASSERT_EQ(duro_put(plain, "acl", "k", "1", 1, 0), DURO_UNAUTHORIZED);
    duro_open_options opts = {.token = "s3cret-admin-token-of-32-bytes!!"};
    ASSERT_EQ(duro_open_ex(u, &opts, &authed), DURO_OK);
    ASSERT_EQ(duro_put(authed, "acl", "k", "\"v\"", 3, 0), DURO_OK);
    char uu[256]; /* the token in the URL, percent-encoded */
    snprintf(uu, sizeof uu, "%s&token=s3cret-admin-token-of-32-bytes%%21%%21", u);
    ASSERT_EQ(duro_open(uu, &by_url), DURO_OK);
    ASSERT_EQ(duro_get(by_url, "acl", "k", &v, NULL), DURO_OK);
    ASSERT_STREQ(v, "\"v\"");
    duro_free(v);
    v = NULL;
    duro_open_options bad = {.token = "not-the-token"};
    ASSERT_EQ(duro_open_ex(u, &bad, &wrong), DURO_UNAUTHORIZED);
    ASSERT(wrong == NULL);
    ASSERT(strstr(duro_last_error(), "not-the-token") == NULL); /* never echo a secret */
    /* a restart: the next connection authenticates again */
    stop_durod(pid);
    pid = start_durod_with(dir, hp, rp, NULL, extra);
    ASSERT(pid > 0);
    int rc = duro_get(authed, "acl", "k", &v, NULL);
    ASSERT(rc == DURO_OK || rc == DURO_IO);
    duro_free(v);
    v = NULL;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(duro_get(authed, "acl", "k", &v, NULL), DURO_OK);
        duro_free(v);
        v = NULL;
    }
    ASSERT_EQ(duro_get(plain, "acl", "k", &v, NULL), DURO_UNAUTHORIZED);
    duro_close(plain);
    duro_close(authed);
    duro_close(by_url);
    stop_durod(pid);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log'", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
}

TEST(locked)
{
    if (mode == GIVEN)
        return;
    char furl[600];
    snprintf(furl, sizeof furl, "file://%s", data_dir);
    duro *second = (duro *)1;
    /* embedded: our own handle holds the lock; remote: durod holds it */
    ASSERT_EQ(duro_open(furl, &second), DURO_LOCKED);
    ASSERT(second == NULL);
    ASSERT(strstr(duro_last_error(), "locked") != NULL);
    if (mode == EMBEDDED && getenv("DURO_BIN")) {
        /* a durod on a directory held by an embedded handle refuses to start */
        int st = 0;
        pid_t pid = start_durod(data_dir, free_port(), free_port(), &st);
        ASSERT_EQ(pid, -1);
        ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    }
    /* the handle still works, and another directory opens fine */
    ASSERT_EQ(PUT("locked", "k", "1"), DURO_OK);
    snprintf(furl, sizeof furl, "file://%s-2?actors=1", data_dir);
    ASSERT_EQ(duro_open(furl, &second), DURO_OK);
    ASSERT_EQ(duro_put(second, "x", "k", "1", 1, 0), DURO_OK);
    duro_close(second);
}

TEST(close)
{
    duro_close(db);
    db = NULL;
    if (mode == EMBEDDED) { /* closing released the lock */
        ASSERT_EQ(duro_open(url, &db), DURO_OK);
        char *v;
        ASSERT_EQ(duro_get(db, "restart", "before", &v, NULL), DURO_OK);
        duro_free(v);
        duro_close(db);
        db = NULL;
    }
}

TEST_MAIN()
