/*
 * kv_basic.c — the libduro basics in one program that runs against a server or
 * embedded, depending only on the URL:
 *
 *   kv_basic duro://127.0.0.1:7070        a running durod (--rpc-port 7070)
 *   kv_basic file:///tmp/duro-data        the runtime inside this process
 *
 * It writes a key, reads it back, updates it with compare-and-set (and shows a
 * stale version being refused), lists the namespace, deletes the key and checks
 * it is gone. Exit status 0 when every step did what it should.
 *
 * Against a server with access control (--auth-token / --jwt-secret), set
 * DURO_TOKEN to the token: it is sent on every connection (duro_open_ex).
 *
 * Build: cc kv_basic.c $(pkg-config --cflags --libs duro)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <duro/duro.h>

static const char *NS = "examples";

/* Prints what failed and returns 1 (for `return fail(...)`). */
static int fail(const char *step, int rc)
{
    const char *detail = duro_last_error();
    fprintf(stderr, "kv_basic: %s: %s%s%s\n", step, duro_errstr(rc), *detail ? ": " : "",
            detail);
    return 1;
}

static int run(duro *db)
{
    int rc;

    /* 1. put: any JSON value, here with a one-hour TTL. */
    const char *doc = "{\"name\":\"Ada\",\"visits\":1}";
    rc = duro_put(db, NS, "user:1", doc, strlen(doc), 3600 * 1000);
    if (rc != DURO_OK)
        return fail("put user:1", rc);
    printf("put user:1 = %s\n", doc);

    /* 2. get: the value comes back as compact JSON, ours to free. */
    char *json = NULL;
    size_t len = 0;
    rc = duro_get(db, NS, "user:1", &json, &len);
    if (rc != DURO_OK)
        return fail("get user:1", rc);
    printf("get user:1 -> %.*s\n", (int)len, json);
    duro_free(json);

    /* 3. compare-and-set: read the version, write only if it is still current. */
    duro_meta m;
    memset(&m, 0, sizeof m);
    rc = duro_get_meta(db, NS, "user:1", &m);
    if (rc != DURO_OK)
        return fail("get_meta user:1", rc);
    int64_t seen = m.version;
    printf("user:1 is at version %" PRId64 " (expires at %" PRId64 ")\n", seen, m.expires_at);
    duro_meta_free(&m);

    const char *next = "{\"name\":\"Ada\",\"visits\":2}";
    duro_put_opts cas;
    memset(&cas, 0, sizeof cas);
    cas.if_match = seen;
    int64_t version = 0;
    rc = duro_put_ex(db, NS, "user:1", next, strlen(next), &cas, &version);
    if (rc != DURO_OK)
        return fail("CAS update of user:1", rc);
    printf("CAS update at version %" PRId64 " -> new version %" PRId64 "\n", seen, version);

    /* The same condition again is stale now and must be refused. */
    rc = duro_put_ex(db, NS, "user:1", doc, strlen(doc), &cas, NULL);
    if (rc != DURO_PRECONDITION_FAILED) {
        fprintf(stderr, "kv_basic: a stale CAS returned %s, not PRECONDITION_FAILED\n",
                duro_errstr(rc));
        return 1;
    }
    printf("stale CAS at version %" PRId64 " -> %s (as expected)\n", seen, duro_errstr(rc));

    /* 4. list: a second key, then one page of keys with the prefix. */
    rc = duro_put(db, NS, "user:2", "\"Grace\"", 7, 0);
    if (rc != DURO_OK)
        return fail("put user:2", rc);
    duro_list_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.prefix = "user:";
    lo.limit = 10;
    rc = duro_list(db, NS, &lo, &json, &len);
    if (rc != DURO_OK)
        return fail("list user:", rc);
    printf("list prefix user: -> %.*s\n", (int)len, json);
    int listed = strstr(json, "\"user:1\"") && strstr(json, "\"user:2\"");
    duro_free(json);
    if (!listed) {
        fprintf(stderr, "kv_basic: the list lacks user:1 or user:2\n");
        return 1;
    }

    /* 5. delete, and the key is gone. */
    if ((rc = duro_delete(db, NS, "user:1")) != DURO_OK ||
        (rc = duro_delete(db, NS, "user:2")) != DURO_OK)
        return fail("delete", rc);
    rc = duro_get(db, NS, "user:1", &json, &len);
    if (rc != DURO_NOT_FOUND) {
        if (rc == DURO_OK)
            duro_free(json);
        fprintf(stderr, "kv_basic: get after delete returned %s, not NOT_FOUND\n",
                duro_errstr(rc));
        return 1;
    }
    printf("deleted user:1, user:2; get user:1 -> %s\n", duro_errstr(rc));
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "duro://127.0.0.1:7070";
    duro *db = NULL;
    duro_open_options opts = {.token = getenv("DURO_TOKEN")};
    int rc = duro_open_ex(url, &opts, &db);
    if (rc != DURO_OK)
        return fail("open", rc);
    printf("opened %.*s\n", (int)strcspn(url, "?"), url); /* a query may hold token= */
    int ex = run(db);
    duro_close(db);
    printf(ex == 0 ? "ok\n" : "FAILED\n");
    return ex;
}
