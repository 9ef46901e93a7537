/*
 * tests/unit/objects/kv.c — the KV object run by a real runtime over a temp data directory:
 * versions, conditions, TTL (lazy and swept), lists, batches, restart, the lock,
 * and request decoding.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objects/kv.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "unit/rt_util.h"
#include "test.h"
#include "common/codec.h"
#include "objects/kv_req.h"

/* Runs one request; returns the status and, on success, the data as JSON text
 * in out (caller frees). Frees r. */
static int run(duro_runtime *rt, const char *ns, int op, duro_kv_req *r, char **out)
{
    int st = rt_run_text(rt, DURO_KIND_KV, op, ns, r, out, NULL);
    duro_kv_req_free(r);
    return st;
}

static duro_kv_req *req_key(const char *key)
{
    duro_kv_req *r = duro_kv_req_new(0);
    char err[128];
    if (duro_kv_add_key(r, key, strlen(key), err, sizeof err) != DURO_OK)
        abort();
    return r;
}

static const duro_kv_limits limits = {1 << 20, 0};

static duro_kv_req *req_put(const char *key, const char *body_json)
{
    duro_kv_req *r = req_key(key);
    char err[128];
    json_error_t je;
    json_t *body = json_loads(body_json, 0, &je);
    if (!body || duro_kv_decode_put(r, body, DURO_ENC_JSON, &limits, err, sizeof err) != DURO_OK)
        abort();
    json_decref(body);
    return r;
}

static int put(duro_runtime *rt, const char *ns, const char *key, const char *body)
{
    return run(rt, ns, DURO_KV_PUT, req_put(key, body), NULL);
}

static char *get(duro_runtime *rt, const char *ns, const char *key, int *status)
{
    char *out;
    *status = run(rt, ns, DURO_KV_GET, req_key(key), &out);
    return out;
}

static char *list(duro_runtime *rt, const char *ns, const char *params_json)
{
    duro_kv_req *r = duro_kv_req_new(DURO_KV_LIST);
    json_error_t je;
    json_t *p = json_loads(params_json, 0, &je);
    char err[128];
    if (!p || duro_kv_decode_list(r, p, DURO_PARAMS_TYPED, err, sizeof err) != DURO_OK)
        abort();
    json_decref(p);
    char *out;
    if (run(rt, ns, DURO_KV_LIST, r, &out) != DURO_OK)
        abort();
    return out;
}

static duro_runtime *open_rt(int sweep_ms) { return rt_open(sweep_ms); }

static void fresh_dir(void) { rt_fresh_dir("kv"); }

TEST(put_get_versions_and_conditions)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    int st;
    ASSERT_EQ(put(rt, "a", "k", "{\"value\": {\"x\": 1}}"), DURO_OK);
    char *v = get(rt, "a", "k", &st);
    ASSERT_EQ(st, DURO_OK);
    ASSERT_STREQ(v, "{\"x\":1}");
    free(v);
    get(rt, "b", "k", &st); /* namespaces are isolated */
    ASSERT_EQ(st, DURO_NOT_FOUND);

    duro_kv_req *r = req_put("k", "{\"value\": 2}");
    r->if_match = 7;
    ASSERT_EQ(run(rt, "a", DURO_KV_PUT, r, NULL), DURO_PRECONDITION_FAILED);
    r = req_put("k", "{\"value\": 2}");
    r->if_match = 1;
    char *out;
    ASSERT_EQ(run(rt, "a", DURO_KV_PUT, r, &out), DURO_OK);
    ASSERT_STREQ(out, "{\"version\":2}");
    free(out);
    r = req_put("k", "{\"value\": 3}");
    r->if_none_match = 1;
    ASSERT_EQ(run(rt, "a", DURO_KV_PUT, r, NULL), DURO_PRECONDITION_FAILED);
    r = req_put("new", "{\"value\": 3}");
    r->if_none_match = 1;
    ASSERT_EQ(run(rt, "a", DURO_KV_PUT, r, NULL), DURO_OK);

    ASSERT_EQ(run(rt, "a", DURO_KV_DELETE, req_key("k"), &out), DURO_OK);
    ASSERT_STREQ(out, "{\"deleted\":true}");
    free(out);
    ASSERT_EQ(run(rt, "a", DURO_KV_DELETE, req_key("k"), &out), DURO_OK);
    ASSERT_STREQ(out, "{\"deleted\":false}");
    free(out);
    duro_runtime_close(rt);
}

TEST(data_survives_restart_and_lock_excludes_second_opener)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    ASSERT_EQ(put(rt, "p", "k", "{\"value\": \"kept\", \"metadata\": {\"m\": true}}"), DURO_OK);
    duro_runtime_config c = rt_config(1, 16, 1000);
    duro_runtime *second;
    char err[256];
    ASSERT_EQ(duro_runtime_open(&c, &second, err, sizeof err), DURO_LOCKED);
    ASSERT(strstr(err, "locked") != NULL);
    duro_runtime_close(rt);

    rt = open_rt(1000);
    int st;
    char *v = get(rt, "p", "k", &st);
    ASSERT_STREQ(v, "\"kept\"");
    free(v);
    duro_kv_req *r = req_key("k");
    r->with_meta = 1;
    char *out;
    ASSERT_EQ(run(rt, "p", DURO_KV_GET, r, &out), DURO_OK);
    ASSERT(strstr(out, "\"metadata\":{\"m\":true}") != NULL);
    ASSERT(strstr(out, "\"version\":1") != NULL);
    free(out);
    /* the version counter continues after a restart */
    ASSERT_EQ(run(rt, "p", DURO_KV_PUT, req_put("k2", "{\"value\":1}"), &out), DURO_OK);
    ASSERT_STREQ(out, "{\"version\":2}");
    free(out);
    duro_runtime_close(rt);
}

TEST(ttl_expires_lazily_and_is_swept)
{
    fresh_dir();
    duro_runtime *rt = open_rt(20);
    int64_t t0 = duro_now_ms();
    ASSERT_EQ(put(rt, "t", "short", "{\"value\": 1, \"ttlMs\": 400}"), DURO_OK);
    ASSERT_EQ(put(rt, "t", "long", "{\"value\": 2, \"ttlMs\": 100000}"), DURO_OK);
    int st;
    free(get(rt, "t", "short", &st));
    if (duro_now_ms() - t0 < 400)
        ASSERT_EQ(st, DURO_OK);
    uint64_t expired0 = DURO_STAT_GET(keys_expired);
    do {
        usleep(20 * 1000);
        free(get(rt, "t", "short", &st));
    } while (st == DURO_OK && duro_now_ms() - t0 < 5000);
    ASSERT_EQ(st, DURO_NOT_FOUND);
    ASSERT(duro_now_ms() - t0 >= 400); /* not before its time */
    char *l = list(rt, "t", "{}");
    ASSERT_STREQ(l, "{\"keys\":[\"long\"],\"cursor\":null,\"list_complete\":true}");
    free(l);
    for (int i = 0; i < 300 && DURO_STAT_GET(keys_expired) == expired0; i++)
        usleep(10 * 1000);
    ASSERT(DURO_STAT_GET(keys_expired) > expired0);
    /* a key written again after expiry is a new key */
    ASSERT_EQ(put(rt, "t", "short", "{\"value\": 3}"), DURO_OK);
    char *v = get(rt, "t", "short", &st);
    ASSERT_STREQ(v, "3");
    free(v);
    duro_runtime_close(rt);
}

TEST(list_ranges_cursors_reverse)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    const char *keys[] = {"a", "b/1", "b/2", "b/3", "b\xff", "c", "\xc3\xa9"};
    duro_kv_req *r = duro_kv_req_new(DURO_KV_BATCH_SET);
    char err[128];
    json_t *body = json_pack("{s:[]}", "entries");
    for (size_t i = 0; i < 7; i++) {
        if (i == 4)
            continue; /* not UTF-8; never a valid key */
        json_array_append_new(json_object_get(body, "entries"),
                              json_pack("{s:s,s:i}", "key", keys[i], "value", (int)i));
    }
    ASSERT_EQ(duro_kv_decode_entries(r, body, DURO_ENC_JSON, &limits, err, sizeof err), DURO_OK);
    json_decref(body);
    char *out;
    ASSERT_EQ(run(rt, "l", DURO_KV_BATCH_SET, r, &out), DURO_OK);
    ASSERT_STREQ(out, "{\"count\":6,\"version\":1}");
    free(out);

    char *l = list(rt, "l", "{\"prefix\": \"b/\"}");
    ASSERT_STREQ(l, "{\"keys\":[\"b/1\",\"b/2\",\"b/3\"],\"cursor\":null,\"list_complete\":true}");
    free(l);
    l = list(rt, "l", "{\"start\": \"b/2\", \"end\": \"c\"}");
    ASSERT_STREQ(l, "{\"keys\":[\"b/2\",\"b/3\"],\"cursor\":null,\"list_complete\":true}");
    free(l);
    l = list(rt, "l", "{\"startAfter\": \"b/2\", \"limit\": 2}");
    ASSERT(strstr(l, "\"keys\":[\"b/3\",\"c\"]") != NULL);
    ASSERT(strstr(l, "\"list_complete\":false") != NULL);
    free(l);
    l = list(rt, "l", "{\"end\": \"a\"}");
    ASSERT_STREQ(l, "{\"keys\":[],\"cursor\":null,\"list_complete\":true}");
    free(l);
    l = list(rt, "l", "{\"reverse\": true, \"limit\": 2}");
    ASSERT(strstr(l, "\"keys\":[\"\xc3\xa9\",\"c\"]") != NULL);
    free(l);

    /* page through everything, forward and reverse, with cursors */
    for (int rev = 0; rev <= 1; rev++) {
        char params[256] = "";
        int seen = 0;
        for (int page = 0; page < 10; page++) {
            json_t *p = json_pack("{s:i,s:b}", "limit", 2, "reverse", rev);
            if (params[0])
                json_object_set_new(p, "cursor", json_string(params));
            char *txt = json_dumps(p, 0);
            json_decref(p);
            l = list(rt, "l", txt);
            free(txt);
            json_error_t je;
            json_t *res = json_loads(l, 0, &je);
            free(l);
            seen += (int)json_array_size(json_object_get(res, "keys"));
            int done_ = json_is_true(json_object_get(res, "list_complete"));
            if (!done_)
                snprintf(params, sizeof params, "%s",
                         json_string_value(json_object_get(res, "cursor")));
            json_decref(res);
            if (done_)
                break;
        }
        ASSERT_EQ(seen, 6);
    }
    r = duro_kv_req_new(DURO_KV_CLEAR);
    ASSERT_EQ(run(rt, "l", DURO_KV_CLEAR, r, &out), DURO_OK);
    ASSERT_STREQ(out, "{\"deleted\":6}");
    free(out);
    duro_runtime_close(rt);
}

TEST(cached_reads_skip_sqlite_and_closed_namespaces_reopen)
{
    fresh_dir();
    /* 2 actors, at most 4 open namespace files in all: 2 per actor */
    duro_runtime_config c = rt_config(2, 4, 1000);
    duro_runtime *rt;
    char err[256];
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    char ns[16], body[64];
    for (int i = 0; i < 20; i++) {
        snprintf(ns, sizeof ns, "ns%d", i);
        snprintf(body, sizeof body, "{\"value\": %d}", i);
        ASSERT_EQ(put(rt, ns, "k", body), DURO_OK);
    }
    /* each actor trims its open files right after replying to a batch */
    for (int i = 0; i < 200 && DURO_STAT_GET(open_namespaces) > 4; i++)
        usleep(5 * 1000);
    ASSERT(DURO_STAT_GET(open_namespaces) <= 4);
    for (int i = 0; i < 20; i++) {
        snprintf(ns, sizeof ns, "ns%d", i);
        int st;
        char *v = get(rt, ns, "k", &st);
        ASSERT_EQ(st, DURO_OK);
        ASSERT_EQ(atoi(v), i);
        free(v);
    }
    /* a written key is cached (write-through): reading it again is a hit */
    ASSERT_EQ(put(rt, "hot", "k", "{\"value\": 1}"), DURO_OK);
    uint64_t misses = DURO_STAT_GET(cache_misses), hits = DURO_STAT_GET(cache_hits);
    for (int i = 0; i < 10; i++) {
        int st;
        free(get(rt, "hot", "k", &st));
        ASSERT_EQ(st, DURO_OK);
    }
    ASSERT_EQ(DURO_STAT_GET(cache_misses), misses);
    ASSERT_EQ(DURO_STAT_GET(cache_hits), hits + 10);
    duro_runtime_close(rt);
    ASSERT_EQ(DURO_STAT_GET(open_namespaces), 0);
}

/* Entries of dir other than . and .. (0 if it does not exist). */
static int dir_entries(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (!p || fscanf(p, "%d", &n) != 1)
        abort();
    pclose(p);
    return n;
}

TEST(namespaces_without_a_file_answer_empty_and_write_nothing)
{
    fresh_dir();
    duro_runtime *rt = open_rt(1000);
    char ns_dir[300], ns[32], *out;
    snprintf(ns_dir, sizeof ns_dir, "%s/ns", rt_dir);
    for (int i = 0; i < 50; i++) {
        snprintf(ns, sizeof ns, "ghost%d", i);
        int st;
        free(get(rt, ns, "k", &st));
        ASSERT_EQ(st, DURO_NOT_FOUND);
        char *l = list(rt, ns, "{\"values\": true}");
        ASSERT_STREQ(l, "{\"keys\":[],\"cursor\":null,\"list_complete\":true}");
        free(l);
        ASSERT_EQ(run(rt, ns, DURO_KV_DELETE, req_key("k"), &out), DURO_OK);
        ASSERT_STREQ(out, "{\"deleted\":false}");
        free(out);
        ASSERT_EQ(run(rt, ns, DURO_KV_CLEAR, duro_kv_req_new(DURO_KV_CLEAR), &out), DURO_OK);
        ASSERT_STREQ(out, "{\"deleted\":0}");
        free(out);
        duro_kv_req *r = duro_kv_req_new(DURO_KV_SNAPSHOT_GET);
        r->max_bytes = 1 << 20;
        ASSERT_EQ(run(rt, ns, DURO_KV_SNAPSHOT_GET, r, &out), DURO_OK);
        ASSERT_STREQ(out, "{}");
        free(out);
    }
    ASSERT_EQ(dir_entries(ns_dir), 0);
    ASSERT_EQ(DURO_STAT_GET(open_namespaces), 0);
    /* a write that changes something creates the file; what it wrote is
     * never seen by the ghost of another namespace */
    ASSERT_EQ(put(rt, "real", "k", "{\"value\": 7}"), DURO_OK);
    int st;
    free(get(rt, "ghost-after", "k", &st));
    ASSERT_EQ(st, DURO_NOT_FOUND);
    char *v = get(rt, "real", "k", &st);
    ASSERT_STREQ(v, "7");
    free(v);
    ASSERT_EQ(dir_entries(ns_dir), 1); /* one shard directory: real's */
    duro_runtime_close(rt);
}

/* A PUT of a JSON string of n 'x's (n + 2 bytes stored). */
static int put_big(duro_runtime *rt, const char *ns, const char *key, size_t n)
{
    char *body = malloc(n + 32);
    int len = snprintf(body, n + 32, "{\"value\": \"");
    memset(body + len, 'x', n);
    strcpy(body + len + n, "\"}");
    int st = put(rt, ns, key, body);
    free(body);
    return st;
}

TEST(replies_stay_under_the_reply_cap)
{
    fresh_dir();
    duro_runtime_config c = rt_config(1, 16, 1000);
    c.max_reply_bytes = 65536;
    duro_runtime *rt;
    char err[256], key[32], *out;
    ASSERT_EQ(duro_runtime_open(&c, &rt, err, sizeof err), DURO_OK);
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        ASSERT_EQ(put_big(rt, "cap", key, 10000), DURO_OK);
    }
    /* pages with values end before the cap and together hold every key once */
    char cursor[256] = "";
    int seen[30] = {0}, pages = 0, complete = 0;
    while (!complete && pages < 30) {
        json_t *p = json_pack("{s:i,s:b}", "limit", 10000, "values", 1);
        if (cursor[0])
            json_object_set_new(p, "cursor", json_string(cursor));
        duro_kv_req *r = duro_kv_req_new(DURO_KV_LIST);
        ASSERT_EQ(duro_kv_decode_list(r, p, DURO_PARAMS_TYPED, err, sizeof err), DURO_OK);
        json_decref(p);
        ASSERT_EQ(run(rt, "cap", DURO_KV_LIST, r, &out), DURO_OK);
        ASSERT(strlen(out) < 65536);
        json_error_t je;
        json_t *res = json_loads(out, 0, &je);
        free(out);
        json_t *keys = json_object_get(res, "keys");
        ASSERT(json_array_size(keys) >= 1);
        for (size_t i = 0; i < json_array_size(keys); i++) {
            const char *k = json_string_value(json_object_get(json_array_get(keys, i), "key"));
            seen[atoi(k + 1)]++;
        }
        complete = json_is_true(json_object_get(res, "list_complete"));
        if (!complete)
            snprintf(cursor, sizeof cursor, "%s",
                     json_string_value(json_object_get(res, "cursor")));
        json_decref(res);
        pages++;
    }
    ASSERT(complete);
    ASSERT(pages >= 5); /* 30 values of 10 kB in pages under 64 KiB */
    for (int i = 0; i < 30; i++)
        ASSERT_EQ(seen[i], 1);
    /* keys alone fit in one page */
    char *l = list(rt, "cap", "{}");
    ASSERT(strstr(l, "\"list_complete\":true") != NULL);
    free(l);

    /* a batch get over the cap is refused, a smaller one answered */
    json_t *keys = json_array();
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        json_array_append_new(keys, json_string(key));
    }
    json_t *body = json_pack("{s:o}", "keys", keys);
    duro_kv_req *r = duro_kv_req_new(DURO_KV_BATCH_GET);
    ASSERT_EQ(duro_kv_decode_keys(r, body, err, sizeof err), DURO_OK);
    json_decref(body);
    char msg[192];
    ASSERT_EQ(rt_run_text(rt, DURO_KIND_KV, DURO_KV_BATCH_GET, "cap", r, NULL, msg),
              DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(msg, "fewer keys") != NULL);
    duro_kv_req_free(r);
    body = json_pack("{s:[s,s]}", "keys", "k01", "k02");
    r = duro_kv_req_new(DURO_KV_BATCH_GET);
    ASSERT_EQ(duro_kv_decode_keys(r, body, err, sizeof err), DURO_OK);
    json_decref(body);
    ASSERT_EQ(run(rt, "cap", DURO_KV_BATCH_GET, r, NULL), DURO_OK);

    /* the snapshot's cap is the smaller of its own and the reply cap */
    r = duro_kv_req_new(DURO_KV_SNAPSHOT_GET);
    r->max_bytes = 1 << 20;
    ASSERT_EQ(rt_run_text(rt, DURO_KIND_KV, DURO_KV_SNAPSHOT_GET, "cap", r, NULL, msg),
              DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(msg, "--max-reply-bytes") != NULL);
    r->max_bytes = 20000;
    ASSERT_EQ(rt_run_text(rt, DURO_KIND_KV, DURO_KV_SNAPSHOT_GET, "cap", r, NULL, msg),
              DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(msg, "--max-snapshot-bytes") != NULL);
    duro_kv_req_free(r);

    /* a value larger than the cap: its GET and a list page of it alone are
     * 413 (the backstop; the list says why), the write itself succeeded */
    ASSERT_EQ(put_big(rt, "huge", "h", 70000), DURO_OK);
    int st;
    free(get(rt, "huge", "h", &st));
    ASSERT_EQ(st, DURO_PAYLOAD_TOO_LARGE);
    r = duro_kv_req_new(DURO_KV_LIST);
    r->list.limit = 10;
    r->list.values = 1;
    ASSERT_EQ(rt_run_text(rt, DURO_KIND_KV, DURO_KV_LIST, "huge", r, NULL, msg),
              DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(msg, "values=1") != NULL);
    duro_kv_req_free(r);
    l = list(rt, "huge", "{}");
    ASSERT_STREQ(l, "{\"keys\":[\"h\"],\"cursor\":null,\"list_complete\":true}");
    free(l);
    duro_runtime_close(rt);
}

TEST(decode_rejects_bad_fields)
{
    char err[128];
    const char *bad[] = {
        "{}",                                   /* no value */
        "[1]",                                  /* not an object */
        "{\"value\":1,\"ttlMs\":0}",            /* ttl must be positive */
        "{\"value\":1,\"ttlMs\":-5}",
        "{\"value\":1,\"ttlMs\":1.5}",
        "{\"value\":1,\"ttlMs\":\"10\"}",
        "{\"value\":1,\"ttlMs\":315360000001}",
        "{\"value\":1,\"metadata\":[1]}",
        "{\"value\":1,\"metadata\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        duro_kv_req *r = req_key("k");
        json_error_t je;
        json_t *b = json_loads(bad[i], 0, &je);
        ASSERT(b != NULL);
        ASSERT_EQ(duro_kv_decode_put(r, b, DURO_ENC_JSON, &limits, err, sizeof err),
                  DURO_BAD_REQUEST);
        json_decref(b);
        duro_kv_req_free(r);
    }
    duro_kv_req *r = req_key("k");
    duro_kv_limits tiny = {8, 0};
    json_t *b = json_pack("{s:s}", "value", "0123456789");
    ASSERT_EQ(duro_kv_decode_put(r, b, DURO_ENC_JSON, &tiny, err, sizeof err),
              DURO_PAYLOAD_TOO_LARGE);
    json_decref(b);
    duro_kv_req_free(r);

    r = duro_kv_req_new(DURO_KV_LIST);
    b = json_pack("{s:s,s:s}", "start", "a", "startAfter", "b");
    ASSERT_EQ(duro_kv_decode_list(r, b, DURO_PARAMS_TYPED, err, sizeof err), DURO_BAD_REQUEST);
    json_decref(b);
    duro_kv_req_free(r);
    const char *bad_list[] = {"{\"limit\":0}", "{\"limit\":10001}", "{\"limit\":\"abc\"}",
                              "{\"cursor\":\"!!\"}", "{\"reverse\":\"maybe\"}"};
    for (size_t i = 0; i < sizeof bad_list / sizeof bad_list[0]; i++) {
        r = duro_kv_req_new(DURO_KV_LIST);
        json_error_t je;
        b = json_loads(bad_list[i], 0, &je);
        ASSERT_EQ(duro_kv_decode_list(r, b, DURO_PARAMS_TYPED, err, sizeof err),
                  DURO_BAD_REQUEST);
        json_decref(b);
        duro_kv_req_free(r);
    }
}

TEST(etag_and_cursor_round_trip)
{
    ASSERT_EQ(duro_kv_parse_etag("\"12\""), 12);
    ASSERT_EQ(duro_kv_parse_etag(" 7 "), 7);
    ASSERT_EQ(duro_kv_parse_etag("W/\"1\""), -1);
    ASSERT_EQ(duro_kv_parse_etag("\"\""), -1);
    ASSERT_EQ(duro_kv_parse_etag("99999999999999999999"), -1);
    duro_buf b = {0};
    ASSERT_EQ(duro_kv_cursor_encode("b/\xc3\xa9", 4, &b), 0);
    size_t n;
    char *k = duro_kv_cursor_decode(b.data, b.len, &n);
    ASSERT(k != NULL);
    ASSERT_EQ(n, 4);
    ASSERT_MEMEQ(k, "b/\xc3\xa9", 4);
    free(k);
    duro_buf_free(&b);
    ASSERT(duro_kv_cursor_decode("a=", 2, &n) == NULL);
}

TEST_MAIN()
