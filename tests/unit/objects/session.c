/*
 * tests/unit/objects/session.c — the session object run by a real runtime over a temp data
 * directory: create/get/put/delete, TTL (lazy and swept), rolling sessions,
 * a user's sessions listed and revoked, namespaces, restart, ids hashed at
 * rest, and request decoding.
 */
#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objects/session.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "unit/rt_util.h"
#include "test.h"
#include "common/codec.h"
#include "objects/session_req.h"

/* Runs one request; returns the status and the reply as a new jansson tree in
 * *out (NULL unless DURO_OK). Frees r. */
static int run(duro_runtime *rt, const char *ns, int op, duro_session_req *r, json_t **out)
{
    char errmsg[192];
    int st = rt_run_msg(rt, DURO_KIND_SESSION, op, ns, r, out, errmsg);
    if (st == DURO_NOT_FOUND && strcmp(errmsg, "session not found") != 0)
        abort(); /* every miss reads the same */
    duro_session_req_free(r);
    return st;
}

/* A request that must decode; path may be NULL, args is JSON text or NULL. */
static duro_session_req *req(int op, const char *path, const char *args_json)
{
    json_t *args = NULL;
    json_error_t je;
    if (args_json && !(args = json_loads(args_json, 0, &je)))
        abort();
    duro_session_req *r;
    char err[160];
    int st = duro_session_request(op, path, path ? strlen(path) : 0, args, &r, err, sizeof err);
    json_decref(args);
    if (st != DURO_OK) {
        fprintf(stderr, "request: %s\n", err);
        abort();
    }
    return r;
}

/* The status of decoding a request (which is freed). */
static int decode_status(int op, const char *path, const char *args_json)
{
    json_t *args = NULL;
    json_error_t je;
    if (args_json && !(args = json_loads(args_json, JSON_ALLOW_NUL, &je)))
        abort();
    duro_session_req *r = NULL;
    char err[160] = "";
    int st = duro_session_request(op, path, path ? strlen(path) : 0, args, &r, err, sizeof err);
    json_decref(args);
    if ((st == DURO_OK) != (r != NULL) || (st != DURO_OK && !err[0]))
        abort();
    duro_session_req_free(r);
    return st;
}

/* Creates a session from args_json: its id into id, its expiry into *expires. */
static int create(duro_runtime *rt, const char *ns, const char *args_json, char id[44],
                  int64_t *expires)
{
    json_t *out;
    int st = run(rt, ns, DURO_SESSION_CREATE, req(DURO_SESSION_CREATE, NULL, args_json), &out);
    if (st != DURO_OK)
        return st;
    const char *s = json_string_value(json_object_get(out, "id"));
    if (!s || strlen(s) != DURO_SESSION_ID_LEN || json_object_size(out) != 2)
        abort();
    memcpy(id, s, DURO_SESSION_ID_LEN + 1);
    if (expires)
        *expires = json_integer_value(json_object_get(out, "expiresAt"));
    json_decref(out);
    return st;
}

/* run() of a request that must decode. */
static int call(duro_runtime *rt, const char *ns, int op, const char *path, const char *args_json,
                json_t **out)
{
    return run(rt, ns, op, req(op, path, args_json), out);
}

static int get(duro_runtime *rt, const char *ns, const char *id, json_t **out)
{
    return call(rt, ns, DURO_SESSION_GET, id, NULL, out);
}

static int64_t int_of(const json_t *o, const char *name)
{
    return json_integer_value(json_object_get(o, name));
}

static duro_runtime *open_rt(int sweep_ms) { return rt_open(sweep_ms); }

static void fresh_dir(void) { rt_fresh_dir("session"); }

TEST(create_get_put_delete)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    char id[44], anon[44];
    int64_t exp, t0 = duro_now_ms();
    ASSERT_EQ(create(rt, "s", "{\"data\":{\"cart\":[1,2]},\"ttlMs\":60000,\"userId\":\"u1\"}", id,
                     &exp),
              DURO_OK);
    ASSERT(exp >= t0 + 60000 && exp <= duro_now_ms() + 60000);
    for (const char *p = id; *p; p++)
        ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));

    json_t *out;
    ASSERT_EQ(get(rt, "s", id, &out), DURO_OK);
    char *txt = json_dumps(json_object_get(out, "data"), JSON_COMPACT);
    ASSERT_STREQ(txt, "{\"cart\":[1,2]}");
    free(txt);
    ASSERT_STREQ(json_string_value(json_object_get(out, "userId")), "u1");
    ASSERT(json_is_false(json_object_get(out, "rolling")));
    ASSERT_EQ(int_of(out, "expiresAt"), exp);
    int64_t created = int_of(out, "createdAt");
    ASSERT(created >= t0 && created + 60000 == exp);
    ASSERT_EQ(json_object_size(out), 5);
    json_decref(out);

    /* PUT without ttlMs keeps a fixed session's expiry; with one, resets it */
    ASSERT_EQ(call(rt, "s", DURO_SESSION_PUT, id, "{\"data\":{\"v\":2}}", &out), DURO_OK);
    ASSERT_EQ(int_of(out, "expiresAt"), exp);
    json_decref(out);
    int64_t t1 = duro_now_ms();
    ASSERT_EQ(call(rt, "s", DURO_SESSION_PUT, id, "{\"data\":{\"v\":3},\"ttlMs\":120000}", &out),
              DURO_OK);
    ASSERT(int_of(out, "expiresAt") >= t1 + 120000);
    json_decref(out);
    ASSERT_EQ(get(rt, "s", id, &out), DURO_OK);
    txt = json_dumps(json_object_get(out, "data"), JSON_COMPACT);
    ASSERT_STREQ(txt, "{\"v\":3}");
    free(txt);
    ASSERT_EQ(int_of(out, "createdAt"), created);
    json_decref(out);

    ASSERT_EQ(create(rt, "s", "{\"data\":{},\"ttlMs\":60000,\"userId\":null}", anon, NULL),
              DURO_OK);
    ASSERT(strcmp(anon, id) != 0);
    ASSERT_EQ(get(rt, "s", anon, &out), DURO_OK);
    ASSERT(json_is_null(json_object_get(out, "userId")));
    json_decref(out);

    ASSERT_EQ(call(rt, "s", DURO_SESSION_DELETE, id, NULL, &out), DURO_OK);
    ASSERT(json_is_true(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(call(rt, "s", DURO_SESSION_DELETE, id, NULL, &out), DURO_OK);
    ASSERT(json_is_false(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(get(rt, "s", id, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(call(rt, "s", DURO_SESSION_PUT, id, "{\"data\":{}}", NULL), DURO_NOT_FOUND);
    ASSERT_EQ(get(rt, "s", anon, NULL), DURO_OK);

    /* malformed ids read exactly like unknown ones (run() checks the message) */
    char noncanon[44];
    memcpy(noncanon, anon, sizeof noncanon);
    /* the last character carries 4 bits + 2 unused ones: flip an unused one */
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    noncanon[42] = alpha[(strchr(alpha, anon[42]) - alpha) ^ 1];
    const char *bad[] = {"", "abc", "!!!", noncanon,
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A"}; /* not url-safe */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(get(rt, "s", bad[i], NULL), DURO_NOT_FOUND);
        ASSERT_EQ(call(rt, "s", DURO_SESSION_PUT, bad[i], "{\"data\":{}}", NULL), DURO_NOT_FOUND);
        ASSERT_EQ(call(rt, "s", DURO_SESSION_DELETE, bad[i], NULL, &out), DURO_OK);
        ASSERT(json_is_false(json_object_get(out, "deleted")));
        json_decref(out);
    }
    /* well formed, never issued */
    ASSERT_EQ(get(rt, "s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL), DURO_NOT_FOUND);
    ASSERT_EQ(get(rt, "s", anon, NULL), DURO_OK);
    duro_runtime_close(rt);
}

TEST(ttl_expires_lazily_and_is_swept)
{
    fresh_dir();
    duro_runtime *rt = open_rt(20);
    char s_short[44], s_long[44];
    int64_t t0 = duro_now_ms();
    ASSERT_EQ(create(rt, "t", "{\"data\":{},\"ttlMs\":400,\"userId\":\"u\"}", s_short, NULL),
              DURO_OK);
    ASSERT_EQ(create(rt, "t", "{\"data\":{},\"ttlMs\":100000,\"userId\":\"u\"}", s_long, NULL),
              DURO_OK);
    int st = get(rt, "t", s_short, NULL);
    if (duro_now_ms() - t0 < 400)
        ASSERT_EQ(st, DURO_OK);
    uint64_t expired0 = DURO_STAT_GET(keys_expired);
    while (st == DURO_OK && duro_now_ms() - t0 < 5000) {
        usleep(20 * 1000);
        st = get(rt, "t", s_short, NULL);
    }
    ASSERT_EQ(st, DURO_NOT_FOUND);
    ASSERT(duro_now_ms() - t0 >= 400); /* not before its time */
    ASSERT_EQ(call(rt, "t", DURO_SESSION_PUT, s_short, "{\"data\":{}}", NULL), DURO_NOT_FOUND);
    json_t *out;
    ASSERT_EQ(call(rt, "t", DURO_SESSION_LIST_USER, "u", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "count"), 1);
    json_decref(out);
    /* the sweep deletes it (no KV keys here: every expiry counted is a session) */
    for (int i = 0; i < 300 && DURO_STAT_GET(keys_expired) == expired0; i++)
        usleep(10 * 1000);
    ASSERT(DURO_STAT_GET(keys_expired) > expired0);
    ASSERT_EQ(call(rt, "t", DURO_SESSION_DELETE, s_short, NULL, &out), DURO_OK);
    ASSERT(json_is_false(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(get(rt, "t", s_long, NULL), DURO_OK);
    duro_runtime_close(rt);
}

TEST(rolling_sessions_extend_on_get)
{
    fresh_dir();
    duro_runtime *rt = open_rt(20);
    char roll[44], fixed[44];
    int64_t t0 = duro_now_ms();
    ASSERT_EQ(create(rt, "r", "{\"data\":{\"a\":1},\"ttlMs\":1000,\"rolling\":true}", roll, NULL),
              DURO_OK);
    ASSERT_EQ(create(rt, "r", "{\"data\":{\"a\":1},\"ttlMs\":1000}", fixed, NULL), DURO_OK);
    int64_t last = 0;
    /* read the rolling one every 100 ms for 2.5 s: it outlives its ttl */
    while (duro_now_ms() - t0 < 2500) {
        json_t *out;
        int64_t before = duro_now_ms();
        ASSERT_EQ(get(rt, "r", roll, &out), DURO_OK);
        ASSERT(json_is_true(json_object_get(out, "rolling")));
        int64_t e = int_of(out, "expiresAt");
        ASSERT(e >= before + 1000 && e >= last);
        last = e;
        json_decref(out);
        usleep(100 * 1000);
    }
    ASSERT_EQ(get(rt, "r", fixed, NULL), DURO_NOT_FOUND);
    /* PUT without ttlMs rolls it too; with ttlMs it takes the new ttl */
    json_t *out;
    int64_t before = duro_now_ms();
    ASSERT_EQ(call(rt, "r", DURO_SESSION_PUT, roll, "{\"data\":{\"a\":2},\"ttlMs\":300}", &out),
              DURO_OK);
    ASSERT(int_of(out, "expiresAt") >= before + 300 && int_of(out, "expiresAt") < last);
    json_decref(out);
    /* left alone, it expires after its (new) ttl */
    int64_t t1 = duro_now_ms();
    int st;
    do {
        usleep(100 * 1000); /* < ttl: a read before expiry rolls it, so wait it out */
    } while (duro_now_ms() - t1 < 400);
    st = get(rt, "r", roll, NULL);
    ASSERT_EQ(st, DURO_NOT_FOUND);
    duro_runtime_close(rt);
}

TEST(list_and_revoke_by_user)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    char a1[44], a2[44], a3[44], b1[44], anon[44];
    ASSERT_EQ(create(rt, "u", "{\"data\":{},\"ttlMs\":60000,\"userId\":\"alice\"}", a1, NULL),
              DURO_OK);
    usleep(2000);
    ASSERT_EQ(create(rt, "u",
                     "{\"data\":{},\"ttlMs\":90000,\"userId\":\"alice\",\"rolling\":true}", a2,
                     NULL),
              DURO_OK);
    usleep(2000);
    ASSERT_EQ(create(rt, "u", "{\"data\":{},\"ttlMs\":60000,\"userId\":\"alice\"}", a3, NULL),
              DURO_OK);
    ASSERT_EQ(create(rt, "u", "{\"data\":{},\"ttlMs\":60000,\"userId\":\"bob\"}", b1, NULL),
              DURO_OK);
    ASSERT_EQ(create(rt, "u", "{\"data\":{},\"ttlMs\":60000}", anon, NULL), DURO_OK);

    json_t *out;
    ASSERT_EQ(call(rt, "u", DURO_SESSION_LIST_USER, "alice", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "count"), 3);
    json_t *list = json_object_get(out, "sessions");
    ASSERT_EQ(json_array_size(list), 3);
    int64_t prev = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(list, i);
        ASSERT_EQ(json_object_size(e), 3); /* createdAt, expiresAt, rolling: never an id */
        ASSERT(int_of(e, "createdAt") > prev);
        prev = int_of(e, "createdAt");
        ASSERT(json_is_boolean(json_object_get(e, "rolling")));
        ASSERT_EQ(json_is_true(json_object_get(e, "rolling")), i == 1);
    }
    char *txt = json_dumps(out, JSON_COMPACT);
    ASSERT(strstr(txt, a1) == NULL && strstr(txt, a2) == NULL && strstr(txt, a3) == NULL);
    free(txt);
    json_decref(out);

    /* the password-change flow: revoke every other session of the user */
    char args[128];
    snprintf(args, sizeof args, "{\"exceptId\":\"%s\"}", a2);
    ASSERT_EQ(call(rt, "u", DURO_SESSION_REVOKE_USER, "alice", args, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "deleted"), 2);
    json_decref(out);
    ASSERT_EQ(get(rt, "u", a1, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(get(rt, "u", a3, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(get(rt, "u", a2, NULL), DURO_OK);
    ASSERT_EQ(get(rt, "u", b1, NULL), DURO_OK);
    ASSERT_EQ(get(rt, "u", anon, NULL), DURO_OK);
    ASSERT_EQ(call(rt, "u", DURO_SESSION_LIST_USER, "alice", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "count"), 1);
    json_decref(out);

    /* args instead of a path (the binary protocol) */
    ASSERT_EQ(call(rt, "u", DURO_SESSION_REVOKE_USER, NULL, "{\"userId\":\"alice\"}", &out),
              DURO_OK);
    ASSERT_EQ(int_of(out, "deleted"), 1);
    json_decref(out);
    ASSERT_EQ(call(rt, "u", DURO_SESSION_REVOKE_USER, "alice", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "deleted"), 0);
    json_decref(out);
    ASSERT_EQ(call(rt, "u", DURO_SESSION_LIST_USER, NULL, "{\"userId\":\"alice\"}", &out), DURO_OK);
    txt = json_dumps(out, JSON_COMPACT);
    ASSERT_STREQ(txt, "{\"sessions\":[],\"count\":0}");
    free(txt);
    json_decref(out);
    ASSERT_EQ(get(rt, "u", b1, NULL), DURO_OK);
    ASSERT_EQ(call(rt, "u", DURO_SESSION_GET, NULL, "{\"id\":\"x\"}", NULL), DURO_NOT_FOUND);
    duro_runtime_close(rt);
}

TEST(a_users_list_is_cut_at_the_reply_cap_and_counts_all)
{
    fresh_dir();
    duro_runtime_config c = rt_config(1, 16, 1000);
    c.max_reply_bytes = 65536; /* about 1360 entries of 48 bytes */
    c.sync_full = 0;
    duro_runtime *rt;
    char err[256], id[44];
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    for (int i = 0; i < 1500; i++)
        ASSERT_EQ(create(rt, "many", "{\"data\":{},\"ttlMs\":600000,\"userId\":\"u\"}", id,
                         NULL),
                  DURO_OK);
    json_t *out;
    ASSERT_EQ(call(rt, "many", DURO_SESSION_LIST_USER, "u", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "count"), 1500);
    size_t listed = json_array_size(json_object_get(out, "sessions"));
    ASSERT(listed > 1000 && listed < 1500);
    json_decref(out);
    duro_runtime_close(rt);
}

TEST(namespaces_are_isolated_and_sessions_survive_restart)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    char id[44], brief[44];
    ASSERT_EQ(create(rt, "n1", "{\"data\":{\"k\":\"kept\"},\"ttlMs\":600000,\"userId\":\"u\"}", id,
                     NULL),
              DURO_OK);
    ASSERT_EQ(create(rt, "n3", "{\"data\":{},\"ttlMs\":300}", brief, NULL), DURO_OK);
    json_t *out;
    ASSERT_EQ(get(rt, "n2", id, NULL), DURO_NOT_FOUND);
    ASSERT_EQ(call(rt, "n2", DURO_SESSION_DELETE, id, NULL, &out), DURO_OK);
    ASSERT(json_is_false(json_object_get(out, "deleted")));
    json_decref(out);
    ASSERT_EQ(call(rt, "n2", DURO_SESSION_LIST_USER, "u", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "count"), 0);
    json_decref(out);
    ASSERT_EQ(call(rt, "n2", DURO_SESSION_REVOKE_USER, "u", NULL, &out), DURO_OK);
    ASSERT_EQ(int_of(out, "deleted"), 0);
    json_decref(out);
    duro_runtime_close(rt);

    /* after a restart the session is there; the expired one of n3 is swept
     * although nothing touches n3's sessions (the sweep knows n3 has some) */
    usleep(400 * 1000);
    uint64_t expired0 = DURO_STAT_GET(keys_expired);
    rt = open_rt(20);
    ASSERT_EQ(get(rt, "n1", id, &out), DURO_OK);
    char *txt = json_dumps(json_object_get(out, "data"), JSON_COMPACT);
    ASSERT_STREQ(txt, "{\"k\":\"kept\"}");
    free(txt);
    json_decref(out);
    ASSERT_EQ(call(rt, "n3", DURO_SESSION_LIST_USER, "x", NULL, &out),
              DURO_OK); /* opens n3 with a read that writes nothing */
    json_decref(out);
    for (int i = 0; i < 300 && DURO_STAT_GET(keys_expired) == expired0; i++)
        usleep(10 * 1000);
    ASSERT_EQ(DURO_STAT_GET(keys_expired), expired0 + 1);
    duro_runtime_close(rt);
}

/* ---- hashed at rest ---- */

static const void *needle;
static size_t needle_len;
static int needle_found, files_seen;

static int scan_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || (!strstr(path, "/ns/") && !strstr(path, "/log/")) || sb->st_size == 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char *buf = malloc((size_t)sb->st_size);
    size_t n = buf ? fread(buf, 1, (size_t)sb->st_size, f) : 0;
    fclose(f);
    files_seen++;
    if (n >= needle_len && memmem(buf, n, needle, needle_len))
        needle_found = 1;
    free(buf);
    return 0;
}

/* 1 if bytes[0..n) occur in some file under the data directory's ns/ or
 * log/ (the commit log holds a batch until it is applied). */
static int on_disk(const void *bytes, size_t n)
{
    needle = bytes;
    needle_len = n;
    needle_found = files_seen = 0;
    if (nftw(rt_dir, scan_file, 16, FTW_PHYS) != 0 || files_seen == 0)
        abort();
    return needle_found;
}

TEST(ids_are_hashed_at_rest)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    char id[44];
    ASSERT_EQ(create(rt, "h",
                     "{\"data\":{\"marker\":\"m-4f1c2a77\"},\"ttlMs\":600000,"
                     "\"userId\":\"hash-user\"}",
                     id, NULL),
              DURO_OK);
    unsigned char raw[DURO_SESSION_ID_BYTES], hash[DURO_SESSION_HASH_BYTES];
    size_t n;
    ASSERT_EQ(sodium_base642bin(raw, sizeof raw, id, strlen(id), NULL, &n, NULL,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING),
              0);
    ASSERT_EQ(n, sizeof raw);
    crypto_generichash(hash, sizeof hash, raw, sizeof raw, NULL, 0);
    unsigned char check[DURO_SESSION_HASH_BYTES];
    ASSERT_EQ(duro_session_id_hash(id, strlen(id), check), 0);
    ASSERT_MEMEQ(check, hash, sizeof hash);

    /* acknowledged: in the commit log now; then in the file after the close */
    for (int pass = 0; pass < 2; pass++) {
        ASSERT(on_disk("m-4f1c2a77", 10)); /* the scan does see the session */
        ASSERT(on_disk(hash, sizeof hash)); /* stored by its hash */
        ASSERT(!on_disk(id, strlen(id)));
        ASSERT(!on_disk(raw, sizeof raw));
        if (pass == 0)
            duro_runtime_close(rt);
    }
    rt = open_rt(1000);
    ASSERT_EQ(get(rt, "h", id, NULL), DURO_OK);
    duro_runtime_close(rt);
}

TEST(decode_rejects_bad_fields)
{
    const int C = DURO_SESSION_CREATE;
    ASSERT_EQ(decode_status(C, NULL, "{\"data\":{},\"ttlMs\":1}"), DURO_OK);
    ASSERT_EQ(decode_status(C, NULL, "{\"data\":{},\"ttlMs\":315360000000,\"userId\":null,"
                                     "\"rolling\":null}"),
              DURO_OK);
    const char *bad_create[] = {
        NULL,
        "[1]",
        "{}",
        "{\"ttlMs\":1000}",
        "{\"data\":[1],\"ttlMs\":1000}",
        "{\"data\":\"x\",\"ttlMs\":1000}",
        "{\"data\":null,\"ttlMs\":1000}",
        "{\"data\":{}}",
        "{\"data\":{},\"ttlMs\":0}",
        "{\"data\":{},\"ttlMs\":-5}",
        "{\"data\":{},\"ttlMs\":1.5}",
        "{\"data\":{},\"ttlMs\":\"10\"}",
        "{\"data\":{},\"ttlMs\":315360000001}",
        "{\"data\":{},\"ttlMs\":1000,\"userId\":\"\"}",
        "{\"data\":{},\"ttlMs\":1000,\"userId\":5}",
        "{\"data\":{},\"ttlMs\":1000,\"userId\":\"a\\u0000b\"}",
        "{\"data\":{},\"ttlMs\":1000,\"rolling\":\"yes\"}",
        "{\"data\":{},\"ttlMs\":1000,\"rolling\":1}",
    };
    for (size_t i = 0; i < sizeof bad_create / sizeof bad_create[0]; i++)
        ASSERT_EQ(decode_status(C, NULL, bad_create[i]), DURO_BAD_REQUEST);

    /* userId: 256 bytes pass, 257 do not */
    char args[600];
    char user[258];
    memset(user, 'u', 257);
    user[256] = '\0';
    snprintf(args, sizeof args, "{\"data\":{},\"ttlMs\":1000,\"userId\":\"%s\"}", user);
    ASSERT_EQ(decode_status(C, NULL, args), DURO_OK);
    user[256] = 'u';
    user[257] = '\0';
    snprintf(args, sizeof args, "{\"data\":{},\"ttlMs\":1000,\"userId\":\"%s\"}", user);
    ASSERT_EQ(decode_status(C, NULL, args), DURO_BAD_REQUEST);

    /* data: 65536 bytes of JSON pass, one more is 413 */
    json_t *a = json_pack("{s:{s:s},s:i}", "data", "x", "", "ttlMs", 1000);
    size_t fill = 65536 - strlen("{\"x\":\"\"}");
    char *big = malloc(fill + 2);
    memset(big, 'b', fill + 1);
    big[fill] = '\0';
    json_object_set_new(json_object_get(a, "data"), "x", json_string(big));
    duro_session_req *r;
    char err[160];
    ASSERT_EQ(duro_session_request(C, NULL, 0, a, &r, err, sizeof err), DURO_OK);
    ASSERT_EQ(r->data_len, 65536);
    duro_session_req_free(r);
    big[fill] = 'b';
    big[fill + 1] = '\0';
    json_object_set_new(json_object_get(a, "data"), "x", json_string(big));
    ASSERT_EQ(duro_session_request(C, NULL, 0, a, &r, err, sizeof err), DURO_PAYLOAD_TOO_LARGE);
    ASSERT(r == NULL);
    free(big);
    json_decref(a);

    /* ids: a missing or non-string one is 400, a malformed one decodes (id_ok 0) */
    ASSERT_EQ(decode_status(DURO_SESSION_GET, NULL, "{}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_GET, NULL, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_DELETE, NULL, "{\"id\":5}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_GET, NULL, "[]"), DURO_BAD_REQUEST);
    r = req(DURO_SESSION_GET, "not-an-id", NULL);
    ASSERT_EQ(r->id_ok, 0);
    duro_session_req_free(r);
    r = req(DURO_SESSION_GET, NULL, "{\"id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    ASSERT_EQ(r->id_ok, 1);
    duro_session_req_free(r);
    const char *id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    ASSERT_EQ(decode_status(DURO_SESSION_PUT, id, NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_PUT, id, "{}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_PUT, id, "{\"data\":{},\"ttlMs\":0}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_PUT, id, "{\"data\":{},\"ttlMs\":null}"), DURO_OK);

    /* users */
    ASSERT_EQ(decode_status(DURO_SESSION_LIST_USER, "", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_LIST_USER, "\xff", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_LIST_USER, NULL, "{}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_LIST_USER, "\xc3\xa9", NULL), DURO_OK);
    ASSERT_EQ(decode_status(DURO_SESSION_REVOKE_USER, "u", "{\"exceptId\":\"bad\"}"),
              DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_REVOKE_USER, "u", "{\"exceptId\":7}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(DURO_SESSION_REVOKE_USER, "u", "{\"exceptId\":null}"), DURO_OK);
    snprintf(args, sizeof args, "{\"exceptId\":\"%s\"}", id);
    ASSERT_EQ(decode_status(DURO_SESSION_REVOKE_USER, "u", args), DURO_OK);

    ASSERT_EQ(decode_status(99, "x", "{}"), DURO_BAD_REQUEST);
    ASSERT_EQ(decode_status(-1, "x", "{}"), DURO_BAD_REQUEST);
}

TEST(op_names_and_ids)
{
    const char *names[] = {"session.create", "session.get", "session.put", "session.delete",
                           "session.list_user", "session.revoke_user"};
    for (int op = 0; op < DURO_SESSION_OP_COUNT; op++) {
        ASSERT_EQ(duro_session_op_from_name(names[op], strlen(names[op])), op);
        ASSERT_STREQ(duro_session_op_name(op), names[op]);
    }
    ASSERT_EQ(duro_session_op_from_name("session.gets", 12), -1);
    ASSERT_EQ(duro_session_op_from_name("session.get", 10), -1);
    ASSERT(duro_session_op_name(DURO_SESSION_OP_COUNT) == NULL);
    ASSERT_EQ(duro_session_op_writes(DURO_SESSION_GET), 1);
    ASSERT_EQ(duro_session_op_writes(DURO_SESSION_LIST_USER), 0);
    unsigned char h[DURO_SESSION_HASH_BYTES];
    ASSERT_EQ(duro_session_id_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 43, h), 0);
    ASSERT_EQ(duro_session_id_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", 43, h), -1);
    ASSERT_EQ(duro_session_id_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", 43, h), 0);
    ASSERT_EQ(duro_session_id_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 42, h), -1);
    ASSERT_EQ(duro_session_id_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", 43, h), -1);
}

TEST_MAIN()
