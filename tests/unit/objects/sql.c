/*
 * tests/unit/objects/sql.c — the SQL kind's engine (duro_sql_run) over an
 * in-memory database holding stand-ins of the server's tables: every action
 * the authorizer refuses (one case each) and the ones it lets through, the
 * PRAGMA allowlist and table_list's filter, the type mapping, parameter
 * binding, read-only requests, savepoints, bounds and the time budget; and
 * the request decoder's bounds.
 */
#include <math.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "objects/sql.h"
#include "test.h"

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        abort();
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    const char *schema = "CREATE TABLE _duro_kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
                         "CREATE INDEX _duro_kv_value ON _duro_kv(value);"
                         "CREATE TABLE _duro_users(email TEXT PRIMARY KEY, id TEXT UNIQUE);"
                         "INSERT INTO _duro_kv VALUES('secret', 'v');"
                         "CREATE TABLE u(a INTEGER PRIMARY KEY, b TEXT);"
                         "INSERT INTO u VALUES(1, 'one'), (2, 'two');";
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    return db;
}

typedef struct res {
    int st;
    char err[256];
    duro_buf tape;
    duro_sql_effects fx;
} res;

static duro_limits test_lim = {.sql_timeout_ms = 1000, .sql_max_rows = 50};
static duro_sql_cache cache; /* used when use_cache (one db at a time) */
static int use_cache;

/* Decodes body (JSON text) as op and runs it on db; cap bounds the reply. */
static res *run_cap(sqlite3 *db, int op, const char *body, int read_only, size_t cap)
{
    res *r = calloc(1, sizeof *r);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", body);
        abort();
    }
    duro_sql_req *q = NULL;
    r->st = duro_sql_request(op, j, &test_lim, read_only, &q, r->err, sizeof r->err);
    json_decref(j);
    if (r->st == DURO_OK) {
        int rc;
        r->st = duro_sql_run(db, use_cache ? &cache : NULL, op, q, cap, &r->tape, &r->fx, &rc,
                             r->err, sizeof r->err);
        if (r->st != DURO_OK && r->tape.len)
            abort(); /* nothing is left in the reply on error */
    }
    duro_sql_req_free(q);
    return r;
}

static res *run(sqlite3 *db, int op, const char *body) { return run_cap(db, op, body, 0, 1 << 20); }

static void res_free(res *r)
{
    duro_buf_free(&r->tape);
    free(r);
}

/* The status of running sql as exec (one statement, no params). */
static int exec_status(sqlite3 *db, const char *sql, char *err)
{
    json_t *b = json_pack("{ss}", "sql", sql);
    char *text = json_dumps(b, 0);
    json_decref(b);
    res *r = run(db, DURO_SQL_EXEC, text);
    free(text);
    int st = r->st;
    if (err)
        snprintf(err, 256, "%s", r->err);
    res_free(r);
    return st;
}

/* The reply as JSON text (no bin in it), or NULL. */
static char *as_json(const res *r)
{
    duro_buf b = {0};
    if (duro_tape_to_json(r->tape.data, r->tape.len, &b) != 0 || duro_buf_append(&b, "", 1))
        return NULL;
    return b.data;
}

static int64_t count_kv(sqlite3 *db)
{
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM _duro_kv WHERE key = 'secret' AND value = 'v'", -1,
                       &s, NULL);
    sqlite3_step(s);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

TEST(every_denied_action_is_refused_with_what_it_was)
{
    static const struct {
        const char *sql, *why;
    } cases[] = {
        {"SELECT * FROM _duro_kv", "table _duro_kv is internal"},
        {"SELECT key FROM _DURO_KV", "internal"}, /* any case */
        {"INSERT INTO _duro_kv VALUES('x', 'y')", "internal"},
        {"UPDATE _duro_kv SET value = 'z'", "internal"},
        {"DELETE FROM _duro_kv", "internal"},
        {"INSERT INTO u SELECT 9, key FROM _duro_kv", "internal"},
        {"CREATE TABLE _duro_x(a)", "reserved"},
        {"CREATE TABLE _Duro_y(a)", "reserved"},
        {"CREATE INDEX _duro_i ON u(b)", "reserved"},
        {"CREATE INDEX ix ON _duro_kv(value)", "reserved"},
        {"CREATE TRIGGER tr AFTER INSERT ON _duro_kv BEGIN SELECT 1; END", "reserved"},
        {"CREATE TRIGGER _duro_tr AFTER INSERT ON u BEGIN SELECT 1; END", "reserved"},
        {"CREATE VIEW _duro_v AS SELECT 1", "reserved"},
        {"DROP TABLE _duro_kv", "internal"},
        {"DROP INDEX _duro_kv_value", "reserved"},
        {"ALTER TABLE _duro_kv RENAME TO kv2", "internal"},
        {"ALTER TABLE _duro_kv ADD COLUMN c", "internal"},
        {"ALTER TABLE u RENAME TO _duro_u", "reserved"},
        {"SELECT * FROM sqlite_master", "PRAGMA table_list"},
        {"SELECT name FROM sqlite_schema", "PRAGMA table_list"},
        {"SELECT sql FROM sqlite_temp_master", "PRAGMA table_list"},
        {"CREATE TABLE leak AS SELECT name FROM sqlite_schema", "PRAGMA table_list"},
        {"ATTACH ':memory:' AS other", "ATTACH"},
        {"DETACH other", "DETACH"},
        {"SELECT load_extension('x')", "load_extension"},
        {"CREATE TEMP TABLE t(a)", "TEMP"},
        {"CREATE TABLE temp.t(a)", "TEMP"},
        {"CREATE TEMP VIEW tv AS SELECT 1", "TEMP"},
        {"CREATE TEMP TRIGGER tt AFTER INSERT ON u BEGIN SELECT 1; END", "TEMP"},
        {"PRAGMA journal_mode", "PRAGMA journal_mode"},
        {"PRAGMA writable_schema = 1", "PRAGMA writable_schema"},
        {"PRAGMA user_version = 5", "PRAGMA user_version"},
        {"PRAGMA table_info(_duro_kv)", "internal"},
        {"PRAGMA index_list(_duro_kv)", "internal"},
        {"PRAGMA index_info(_duro_kv_value)", "internal"},
        {"PRAGMA index_info(sqlite_autoindex__duro_users_1)", "internal"},
        {"PRAGMA foreign_key_list(_duro_kv)", "internal"},
        {"PRAGMA table_info(sqlite_schema)", "internal"},
        {"SELECT * FROM pragma_table_info('_duro_kv')", "PRAGMA statement"},
        {"SELECT * FROM pragma_table_list", "PRAGMA statement"},
        {"SELECT name FROM dbstat", "dbstat"},
        {"CREATE VIRTUAL TABLE st USING dbstat", "module dbstat"},
        {"BEGIN", "/batch"},
        {"BEGIN IMMEDIATE", "/batch"},
        {"COMMIT", "/batch"},
        {"ROLLBACK", "/batch"},
        {"SAVEPOINT s", "/batch"},
        {"RELEASE s", "/batch"},
        {"ANALYZE", "ANALYZE"},
        {"ANALYZE _duro_kv", "ANALYZE"},
        {"REINDEX", "REINDEX"},
    };
    sqlite3 *db = open_db();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        int st = exec_status(db, cases[i].sql, err);
        if (st != DURO_BAD_REQUEST || !strstr(err, cases[i].why) ||
            strncmp(err, "not allowed: ", 13) != 0)
            TEST_FAIL_("%s: %d \"%s\" (wanted 400 with \"%s\")", cases[i].sql, st, err,
                       cases[i].why);
    }
    ASSERT_EQ(count_kv(db), 1); /* untouched */
    /* ANALYZE of a user table works, its statistics are SQLite's to write */
    ASSERT_EQ(exec_status(db, "ANALYZE u", NULL), DURO_OK);
    /* statistics about the server's tables do not stay */
    ASSERT_EQ(exec_status(db,
                          "INSERT INTO sqlite_stat1 VALUES('_duro_kv', NULL, '1000000'),"
                          " ('u', NULL, '7')",
                          NULL),
              DURO_OK);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT group_concat(tbl) FROM sqlite_stat1", -1, &q, NULL);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    ASSERT(strstr((const char *)sqlite3_column_text(q, 0), "_duro_") == NULL);
    sqlite3_finalize(q);
    /* DROP and ALTER keep the statistics up to date themselves */
    ASSERT_EQ(exec_status(db, "CREATE INDEX u_b ON u(b)", NULL), DURO_OK);
    char aerr[256];
    if (exec_status(db, "ANALYZE u", aerr) != DURO_OK)
        TEST_FAIL_("ANALYZE u: %s", aerr);
    ASSERT_EQ(exec_status(db, "ALTER TABLE u RENAME TO u2", NULL), DURO_OK);
    ASSERT_EQ(exec_status(db, "DROP INDEX u_b", NULL), DURO_OK);
    ASSERT_EQ(exec_status(db, "ALTER TABLE u2 RENAME TO u", NULL), DURO_OK);
    /* VACUUM (INTO a file) never runs: a request is always inside a transaction */
    char verr[256];
    remove("/tmp/duro_unit_sql_vacuum.db");
    ASSERT_EQ(exec_status(db, "VACUUM INTO '/tmp/duro_unit_sql_vacuum.db'", verr),
              DURO_BAD_REQUEST);
    ASSERT(strstr(verr, "cannot VACUUM from within a transaction") != NULL);
    ASSERT(fopen("/tmp/duro_unit_sql_vacuum.db", "r") == NULL);
    /* a view over an internal table is refused when it is made (its columns
     * would show in PRAGMA table_info), and a view made before (by the
     * server's own hand here) when it is read */
    char vwhy[256];
    ASSERT_EQ(exec_status(db, "CREATE VIEW peek AS SELECT * FROM _duro_kv", vwhy),
              DURO_BAD_REQUEST);
    ASSERT(strstr(vwhy, "the view peek would read what is hidden") != NULL);
    ASSERT_EQ(sqlite3_exec(db, "CREATE VIEW peek AS SELECT * FROM _duro_kv", NULL, NULL, NULL),
              SQLITE_OK);
    res *r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT * FROM peek\"}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "internal") != NULL);
    res_free(r);
    /* so is a trigger of a user table that writes one */
    ASSERT_EQ(exec_status(db,
                          "CREATE TRIGGER sneak AFTER INSERT ON u BEGIN"
                          " DELETE FROM _duro_kv; END",
                          NULL),
              DURO_OK);
    ASSERT_EQ(exec_status(db, "INSERT INTO u VALUES(7, 'seven')", NULL), DURO_BAD_REQUEST);
    ASSERT_EQ(count_kv(db), 1);
    /* the authorizer is gone afterwards: the server's own statements run */
    ASSERT_EQ(
        sqlite3_exec(db, "SELECT * FROM _duro_kv; SELECT * FROM sqlite_schema", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

TEST(user_ddl_and_dml_go_through)
{
    static const char *const ok[] = {
        "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT UNIQUE, z REAL)",
        "CREATE INDEX t_y ON t(y)",
        "CREATE UNIQUE INDEX t_z ON t(z) WHERE z IS NOT NULL",
        "CREATE VIEW tv AS SELECT x, y FROM t",
        "CREATE TRIGGER tt AFTER INSERT ON t BEGIN UPDATE t SET z = 1 WHERE x = new.x; END",
        "INSERT INTO t(x, y) VALUES(1, 'a')",
        "UPDATE t SET y = 'b' WHERE x = 1",
        "ALTER TABLE t ADD COLUMN w",
        "ALTER TABLE t RENAME COLUMN w TO w2",
        "ALTER TABLE t RENAME TO t2",
        "DROP TRIGGER tt",
        "DROP VIEW tv",
        "DROP INDEX t_y",
        "ANALYZE t2",
        "REINDEX t_z",
        "CREATE VIRTUAL TABLE docs USING fts5(body)",
        "INSERT INTO docs VALUES('hello world')",
        "SELECT * FROM docs WHERE docs MATCH 'hello'",
        "DROP TABLE docs",
        "DELETE FROM t2",
        "DROP TABLE t2",
        ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 5)"
         " SELECT sum(n) FROM c"),
        "SELECT json_extract('{\"a\":1}', '$.a'), * FROM json_each('[1,2]')",
        "SELECT rowid FROM sqlite_schema", /* its rowid tells nothing */
        "SELECT count(*) FROM sqlite_schema",
    };
    sqlite3 *db = open_db();
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[256];
        if (exec_status(db, ok[i], err) != DURO_OK)
            TEST_FAIL_("%s: %s", ok[i], err);
    }
    ASSERT_EQ(count_kv(db), 1);
    sqlite3_close(db);
}

TEST(the_allowed_pragmas_answer_and_table_list_hides_internal_tables)
{
    sqlite3 *db = open_db();
    ASSERT_EQ(exec_status(db, "CREATE INDEX u_b ON u(b)", NULL), DURO_OK);
    ASSERT_EQ(exec_status(db, "CREATE TABLE child(id, u_a REFERENCES u(a))", NULL), DURO_OK);
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"PRAGMA table_info(u)", "\"name\":\"b\""},
        {"PRAGMA table_xinfo(u)", "\"name\":\"a\""},
        {"PRAGMA index_list(u)", "\"name\":\"u_b\""},
        {"PRAGMA index_info(u_b)", "\"name\":\"b\""},
        {"PRAGMA index_xinfo(u_b)", "\"name\":\"b\""},
        {"PRAGMA foreign_key_list(child)", "\"table\":\"u\""},
        {"PRAGMA main.table_info(u)", "\"name\":\"a\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = json_pack("{ss}", "sql", cases[i].sql);
        char *text = json_dumps(b, 0);
        json_decref(b);
        res *r = run(db, DURO_SQL_QUERY, text);
        free(text);
        char *j = r->st == DURO_OK ? as_json(r) : NULL;
        if (!j || !strstr(j, cases[i].want))
            TEST_FAIL_("%s: %d %s %s", cases[i].sql, r->st, r->err, j ? j : "");
        free(j);
        res_free(r);
    }
    res *r = run(db, DURO_SQL_QUERY, "{\"sql\":\"PRAGMA table_list\"}");
    ASSERT_EQ(r->st, DURO_OK);
    char *j = as_json(r);
    ASSERT(j && strstr(j, "\"name\":\"u\"") && strstr(j, "\"name\":\"child\""));
    ASSERT(strstr(j, "_duro_") == NULL && strstr(j, "sqlite_") == NULL);
    free(j);
    res_free(r);
    char err[256];
    ASSERT_EQ(exec_status(db, "PRAGMA temp.table_info(u)", err), DURO_BAD_REQUEST);
    sqlite3_close(db);
}

/* The first row's column `col` of a query's reply, unpacked into z. */
static const msgpack_object *cell(msgpack_unpacked *z, const res *r, const char *col)
{
    size_t off = 0;
    if (msgpack_unpack_next(z, r->tape.data, r->tape.len, &off) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    const msgpack_object *top = &z->data;
    for (uint32_t i = 0; top->type == MSGPACK_OBJECT_MAP && i < top->via.map.size; i++) {
        const msgpack_object_kv *kv = &top->via.map.ptr[i];
        if (kv->key.via.str.size == 7 && !memcmp(kv->key.via.str.ptr, "results", 7) &&
            kv->val.type == MSGPACK_OBJECT_ARRAY && kv->val.via.array.size > 0) {
            const msgpack_object *row = &kv->val.via.array.ptr[0];
            for (uint32_t c = 0; c < row->via.map.size; c++) {
                const msgpack_object_kv *e = &row->via.map.ptr[c];
                if (e->key.via.str.size == strlen(col) &&
                    !memcmp(e->key.via.str.ptr, col, strlen(col)))
                    return &e->val;
            }
        }
    }
    return NULL;
}

TEST(types_map_to_msgpack_exactly)
{
    sqlite3 *db = open_db();
    res *r = run(db, DURO_SQL_QUERY,
                 "{\"sql\":\"SELECT 9223372036854775807 AS big, -9223372036854775808 AS small,"
                 " 1.5 AS r, 1e999 AS inf, -1e999 AS ninf, 'héllo' AS t,"
                 " CAST(x'ff00fe' AS TEXT) AS badtext, x'00ff' AS b, NULL AS n,"
                 " 1 AS dup, 2 AS dup\"}");
    ASSERT_EQ(r->st, DURO_OK);
    msgpack_unpacked z;
    msgpack_unpacked_init(&z);
    const msgpack_object *o;
    ASSERT((o = cell(&z, r, "big")) && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
           o->via.u64 == 9223372036854775807ULL);
    ASSERT((o = cell(&z, r, "small")) && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
           o->via.i64 == INT64_MIN);
    ASSERT((o = cell(&z, r, "r")) && o->type == MSGPACK_OBJECT_FLOAT64 && o->via.f64 == 1.5);
    ASSERT((o = cell(&z, r, "inf")) && o->type == MSGPACK_OBJECT_NIL);
    ASSERT((o = cell(&z, r, "ninf")) && o->type == MSGPACK_OBJECT_NIL);
    ASSERT((o = cell(&z, r, "t")) && o->type == MSGPACK_OBJECT_STR && o->via.str.size == 6 &&
           !memcmp(o->via.str.ptr, "h\xc3\xa9llo", 6));
    ASSERT((o = cell(&z, r, "badtext")) && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 3 &&
           !memcmp(o->via.bin.ptr, "\xff\x00\xfe", 3));
    ASSERT((o = cell(&z, r, "b")) && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 2 &&
           !memcmp(o->via.bin.ptr, "\x00\xff", 2));
    ASSERT((o = cell(&z, r, "n")) && o->type == MSGPACK_OBJECT_NIL);
    /* duplicate names: one key, the last column's value */
    ASSERT((o = cell(&z, r, "dup")) && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
           o->via.u64 == 2);
    msgpack_unpacked_destroy(&z);
    res_free(r);
    sqlite3_close(db);
}

TEST(params_bind_by_position_and_number_and_must_match_the_statement)
{
    sqlite3 *db = open_db();
    res *r = run(db, DURO_SQL_QUERY,
                 "{\"sql\":\"SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, typeof(?) AS f,"
                 " ? AS g\",\"params\":[null, true, 42, 2.5, \"s\", false,"
                 " {\"$bytes\":\"AP8=\"}]}");
    ASSERT_EQ(r->st, DURO_OK);
    msgpack_unpacked z;
    msgpack_unpacked_init(&z);
    const msgpack_object *o;
    ASSERT((o = cell(&z, r, "a")) && o->type == MSGPACK_OBJECT_NIL);
    ASSERT((o = cell(&z, r, "b")) && o->via.u64 == 1);
    ASSERT((o = cell(&z, r, "c")) && o->via.u64 == 42);
    ASSERT((o = cell(&z, r, "d")) && o->via.f64 == 2.5);
    ASSERT((o = cell(&z, r, "e")) && o->type == MSGPACK_OBJECT_STR);
    ASSERT((o = cell(&z, r, "f")) && o->via.str.size == 7 && !memcmp(o->via.str.ptr, "integer", 7));
    ASSERT((o = cell(&z, r, "g")) && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 2 &&
           !memcmp(o->via.bin.ptr, "\x00\xff", 2));
    msgpack_unpacked_destroy(&z);
    res_free(r);
    /* ?NNN: ?2 twice and ?1 */
    r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT ?2 + ?2 + ?1 AS s\",\"params\":[1, 10]}");
    ASSERT_EQ(r->st, DURO_OK);
    char *j = as_json(r);
    ASSERT(j && strstr(j, "\"s\":21"));
    free(j);
    res_free(r);
    static const struct {
        const char *body, *why;
        int st;
    } bad[] = {
        {"{\"sql\":\"SELECT ?, ?\",\"params\":[1]}", "takes 2 parameters but 1 was given", 400},
        {"{\"sql\":\"SELECT ?\",\"params\":[1, 2]}", "takes 1 parameter but 2 were", 400},
        {"{\"sql\":\"SELECT ?\"}", "takes 1 parameter but 0 were", 400},
        {"{\"sql\":\"SELECT ?3\",\"params\":[1]}", "takes 3 parameters", 400},
        {"{\"sql\":\"SELECT :name\",\"params\":[1]}", "named parameter :name", 400},
        {"{\"sql\":\"SELECT ?101\",\"params\":[1]}", "SQL error: variable number", 400},
        {"{\"sql\":\"SELECT ?\",\"params\":[[1]]}", "params[0] must be null", 400},
        {"{\"sql\":\"SELECT ?\",\"params\":[{\"a\":1}]}", "params[0] must be null", 400},
        {"{\"sql\":\"SELECT ?\",\"params\":[{\"$bytes\":\"!!\"}]}", "standard base64", 400},
        {"{\"sql\":\"SELECT ?\",\"params\":[{\"$bytes\":\"AA==\",\"x\":1}]}", "must be null", 400},
        {"{\"sql\":\"SELECT 1\",\"params\":{}}", "\"params\" must be an array", 400},
        {"{\"sql\":1}", "\"sql\" must be a string", 400},
        {"{\"sql\":\"\"}", "\"sql\" is empty", 400},
        {"{\"sql\":\"  -- nothing\"}", "no SQL statement", 400},
        {"{\"sql\":\"SELECT 1\",\"other\":1}", "unknown field \"other\"", 400},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run(db, DURO_SQL_QUERY, bad[i].body);
        if (duro_status_http(r->st) != bad[i].st || !strstr(r->err, bad[i].why))
            TEST_FAIL_("%s: %d \"%s\"", bad[i].body, r->st, r->err);
        res_free(r);
    }
    sqlite3_close(db);
}

TEST(a_hundred_params_pass_and_a_hundred_and_one_do_not)
{
    sqlite3 *db = open_db();
    char sql[1024] = "SELECT ?", body[4096];
    for (int i = 1; i < 100; i++)
        strcat(sql, "+?");
    int n = snprintf(body, sizeof body, "{\"sql\":\"%s\",\"params\":[1", sql);
    for (int i = 1; i < 100; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, ",1");
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    res *r = run(db, DURO_SQL_QUERY, body);
    ASSERT_EQ(r->st, DURO_OK);
    res_free(r);
    n = snprintf(body, sizeof body, "{\"sql\":\"%s+?\",\"params\":[1", sql);
    for (int i = 1; i < 101; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, ",1");
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    r = run(db, DURO_SQL_QUERY, body);
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "101 params; at most 100") != NULL);
    res_free(r);
    sqlite3_close(db);
}

TEST(exec_runs_scripts_query_and_parameterised_exec_take_one_statement)
{
    sqlite3 *db = open_db();
    res *r = run(db, DURO_SQL_EXEC,
                 "{\"sql\":\"CREATE TABLE s(a); INSERT INTO s VALUES(1); INSERT INTO s"
                 " VALUES(2), (3);\",\"params\":[]}");
    ASSERT_EQ(r->st, DURO_OK);
    char *j = as_json(r);
    ASSERT(j && strstr(j, "\"changes\":3") && strstr(j, "\"rows_written\":3") &&
           strstr(j, "\"last_row_id\":3"));
    free(j);
    ASSERT(r->fx.wrote && r->fx.ddl);
    ASSERT_EQ(r->fx.n_tables, 1);
    ASSERT_STREQ(r->fx.tables[0], "s");
    res_free(r);
    r = run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO s VALUES(?); SELECT 1\",\"params\":[4]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "exactly one statement") != NULL);
    res_free(r);
    r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT 1; SELECT 2\"}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "one statement per query") != NULL);
    res_free(r);
    /* a failing statement of a script undoes the script's earlier ones */
    r = run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO s VALUES(5); INSERT INTO nope VALUES(1)\"}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT_STREQ(r->err, "SQL error: no such table: nope");
    ASSERT_EQ(r->fx.wrote, 0);
    res_free(r);
    r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT count(*) AS n FROM s\"}");
    j = as_json(r);
    ASSERT(j && strstr(j, "\"n\":3"));
    free(j);
    ASSERT_EQ(r->fx.wrote, 0);
    res_free(r);
    sqlite3_close(db);
}

TEST(a_batch_is_all_or_nothing_and_answers_each_statement)
{
    sqlite3 *db = open_db();
    res *r = run(db, DURO_SQL_BATCH,
                 "{\"statements\":[{\"sql\":\"INSERT INTO u VALUES(?, ?)\",\"params\":[3,\"c\"]},"
                 "{\"sql\":\"INSERT INTO u VALUES(1, 'dup')\"}]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "statements[1]: SQL error: UNIQUE constraint failed") != NULL);
    res_free(r);
    r = run(db, DURO_SQL_BATCH,
            "{\"statements\":[{\"sql\":\"INSERT INTO u VALUES(?, ?)\",\"params\":[3,\"c\"]},"
            "{\"sql\":\"SELECT count(*) AS n FROM u\"}]}");
    ASSERT_EQ(r->st, DURO_OK);
    char *j = as_json(r);
    if (!j || strncmp(j, "[{\"results\":[],\"meta\":{\"changes\":1", 34) != 0)
        TEST_FAIL_("%s", j ? j : "(null)");
    ASSERT(strstr(j, "{\"results\":[{\"n\":3}]") !=
           NULL); /* 2 + 1: the failed batch left nothing */
    free(j);
    res_free(r);
    r = run(db, DURO_SQL_BATCH, "{\"statements\":[]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    res_free(r);
    r = run(db, DURO_SQL_BATCH, "{\"statements\":[{\"sql\":\"SELECT 1; SELECT 2\"}]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    res_free(r);
    duro_buf big = {0};
    duro_buf_append(&big, "{\"statements\":[", 15);
    for (int i = 0; i < 101; i++)
        duro_buf_append(&big, i ? ",{\"sql\":\"SELECT 1\"}" : "{\"sql\":\"SELECT 1\"}",
                        i ? 19 : 18);
    duro_buf_append(&big, "]}", 3);
    r = run(db, DURO_SQL_BATCH, big.data);
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "at most 100") != NULL);
    res_free(r);
    duro_buf_free(&big);
    sqlite3_close(db);
}

TEST(a_read_only_request_runs_reads_only)
{
    sqlite3 *db = open_db();
    res *r = run_cap(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT * FROM u\"}", 1, 1 << 20);
    ASSERT_EQ(r->st, DURO_OK);
    res_free(r);
    r = run_cap(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO u VALUES(9, 'x')\"}", 1, 1 << 20);
    ASSERT_EQ(r->st, DURO_FORBIDDEN);
    ASSERT(strstr(r->err, "this token may only read") != NULL);
    res_free(r);
    r = run_cap(db, DURO_SQL_EXEC, "{\"sql\":\"CREATE TABLE x(a)\"}", 1, 1 << 20);
    ASSERT_EQ(r->st, DURO_FORBIDDEN);
    res_free(r);
    r = run_cap(db, DURO_SQL_BATCH,
                "{\"statements\":[{\"sql\":\"SELECT 1\"},{\"sql\":\"DELETE FROM u\"}]}", 1,
                1 << 20);
    ASSERT_EQ(r->st, DURO_FORBIDDEN);
    res_free(r);
    r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT count(*) AS n FROM u\"}");
    char *j = as_json(r);
    ASSERT(j && strstr(j, "\"n\":2"));
    free(j);
    res_free(r);
    sqlite3_close(db);
}

TEST(rows_and_bytes_are_bounded)
{
    sqlite3 *db = open_db();
    const char *rows = "{\"sql\":\"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c"
                       " LIMIT %d) SELECT n FROM c\"}";
    char body[256];
    snprintf(body, sizeof body, rows, 50); /* test_lim.sql_max_rows */
    res *r = run(db, DURO_SQL_QUERY, body);
    ASSERT_EQ(r->st, DURO_OK);
    res_free(r);
    /* every array header size: fixarray, array16, array32 */
    test_lim.sql_max_rows = 100000;
    static const int counts[] = {0, 15, 16, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        snprintf(body, sizeof body, rows, counts[i]);
        r = run_cap(db, DURO_SQL_QUERY, body, 0, 4 << 20);
        ASSERT_EQ(r->st, DURO_OK);
        msgpack_unpacked z;
        msgpack_unpacked_init(&z);
        size_t off = 0;
        ASSERT(msgpack_unpack_next(&z, r->tape.data, r->tape.len, &off) == MSGPACK_UNPACK_SUCCESS);
        ASSERT_EQ(off, r->tape.len);
        const msgpack_object *arr = &z.data.via.map.ptr[0].val;
        ASSERT(arr->type == MSGPACK_OBJECT_ARRAY);
        ASSERT_EQ(arr->via.array.size, counts[i]);
        if (counts[i])
            ASSERT_EQ(arr->via.array.ptr[counts[i] - 1].via.map.ptr[0].val.via.u64, counts[i]);
        msgpack_unpacked_destroy(&z);
        res_free(r);
    }
    test_lim.sql_max_rows = 50;
    snprintf(body, sizeof body, rows, 51);
    r = run(db, DURO_SQL_QUERY, body);
    ASSERT_EQ(r->st, DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(r->err, "more than 50 rows (--sql-max-rows)") != NULL);
    res_free(r);
    r = run_cap(db, DURO_SQL_QUERY,
                "{\"sql\":\"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c"
                " LIMIT 10) SELECT hex(zeroblob(1000)) AS h FROM c\"}",
                0, 4096);
    ASSERT_EQ(r->st, DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(r->err, "larger than --max-reply-bytes (4096 bytes)") != NULL);
    res_free(r);
    /* values are bounded by the reply cap while user SQL runs */
    r = run_cap(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT length(randomblob(1000000000)) AS n\"}", 0,
                1 << 20);
    ASSERT_EQ(r->st, DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(r->err, "too big") != NULL);
    res_free(r);
    /* and the connection's own limits come back */
    ASSERT(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1) > (1 << 20));
    ASSERT(sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) > 100);
    ASSERT(sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, -1) > 0);
    /* text over 100 KiB */
    duro_buf big = {0};
    duro_buf_append(&big, "{\"sql\":\"SELECT 1 ", 17);
    for (int i = 0; i < 102400; i++)
        duro_buf_append(&big, " ", 1);
    duro_buf_append(&big, "\"}", 3);
    r = run(db, DURO_SQL_QUERY, big.data);
    ASSERT_EQ(r->st, DURO_PAYLOAD_TOO_LARGE);
    ASSERT(strstr(r->err, "at most 102400 bytes of SQL") != NULL);
    res_free(r);
    duro_buf_free(&big);
    sqlite3_close(db);
}

TEST(a_statement_past_its_budget_is_interrupted_and_undone)
{
    sqlite3 *db = open_db();
    test_lim.sql_timeout_ms = 200;
    int64_t t0 = (int64_t)time(NULL);
    res *r = run(db, DURO_SQL_QUERY,
                 "{\"sql\":\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c)"
                 " SELECT count(*) FROM c\"}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "interrupted after 200 ms (--sql-timeout-ms)") != NULL);
    ASSERT((int64_t)time(NULL) - t0 < 5);
    res_free(r);
    /* a batch shares one budget; its earlier writes are undone */
    r = run(db, DURO_SQL_BATCH,
            "{\"statements\":[{\"sql\":\"DELETE FROM u\"},{\"sql\":\"WITH RECURSIVE c(x) AS"
            " (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c\"}]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    res_free(r);
    test_lim.sql_timeout_ms = 1000;
    r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT count(*) AS n FROM u\"}");
    char *j = as_json(r);
    ASSERT(j && strstr(j, "\"n\":2"));
    free(j);
    res_free(r);
    sqlite3_close(db);
}

TEST(inside_a_transaction_a_failed_op_undoes_only_itself)
{
    sqlite3 *db = open_db();
    ASSERT_EQ(
        sqlite3_exec(db, "BEGIN; INSERT INTO _duro_kv VALUES('other op', 'x')", NULL, NULL, NULL),
        SQLITE_OK);
    res *r = run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO u VALUES(5, 'e'); SELECT nope\"}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    res_free(r);
    ASSERT_EQ(sqlite3_get_autocommit(db), 0); /* still in the batch's transaction */
    r = run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO u VALUES(6, 'f')\"}");
    ASSERT_EQ(r->st, DURO_OK);
    res_free(r);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db,
                       "SELECT (SELECT count(*) FROM _duro_kv), (SELECT group_concat(a) FROM u)",
                       -1, &s, NULL);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(s, 0), 2);
    ASSERT_STREQ((const char *)sqlite3_column_text(s, 1), "1,2,6");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

TEST(cached_statements_answer_the_same_and_still_note_their_tables)
{
    sqlite3 *db = open_db();
    use_cache = 1;
    for (int pass = 0; pass < 3; pass++) { /* the later passes run from the cache */
        char err[256];
        ASSERT_EQ(exec_status(db, "SELECT * FROM _duro_kv", err), DURO_BAD_REQUEST);
        ASSERT_EQ(exec_status(db, "PRAGMA journal_mode", err), DURO_BAD_REQUEST);
        res *r =
            run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO u(b) VALUES(?)\",\"params\":[\"x\"]}");
        ASSERT_EQ(r->st, DURO_OK);
        ASSERT(r->fx.wrote);
        ASSERT_EQ(r->fx.n_tables, 1);
        ASSERT_STREQ(r->fx.tables[0], "u");
        res_free(r);
        r = run(db, DURO_SQL_QUERY, "{\"sql\":\"PRAGMA table_list\"}");
        char *j = as_json(r);
        ASSERT(j && strstr(j, "\"name\":\"u\"") && !strstr(j, "_duro_"));
        free(j);
        res_free(r);
        r = run(db, DURO_SQL_QUERY,
                "{\"sql\":\"SELECT count(*) AS n FROM u WHERE a > ?\",\"params\":[0]}");
        j = as_json(r);
        char want[32];
        snprintf(want, sizeof want, "\"n\":%d", 3 + pass);
        ASSERT(j && strstr(j, want));
        free(j);
        res_free(r);
        /* wrong params on a cached statement, then right ones */
        r = run(db, DURO_SQL_QUERY, "{\"sql\":\"SELECT count(*) AS n FROM u WHERE a > ?\"}");
        ASSERT_EQ(r->st, DURO_BAD_REQUEST);
        res_free(r);
        r = run_cap(db, DURO_SQL_EXEC,
                    "{\"sql\":\"INSERT INTO u(b) VALUES(?)\",\"params\":[\"y\"]}", 1, 1 << 20);
        ASSERT_EQ(r->st, DURO_FORBIDDEN); /* read-only, from the cache too */
        res_free(r);
    }
    /* a schema change under a cached statement: SQLite prepares it again */
    ASSERT_EQ(exec_status(db, "ALTER TABLE u ADD COLUMN c", NULL), DURO_OK);
    ASSERT_EQ(exec_status(db, "DROP TABLE u", NULL), DURO_OK);
    res *r = run(db, DURO_SQL_EXEC, "{\"sql\":\"INSERT INTO u(b) VALUES(?)\",\"params\":[\"x\"]}");
    ASSERT_EQ(r->st, DURO_BAD_REQUEST);
    ASSERT(strstr(r->err, "no such table: u") != NULL);
    res_free(r);
    use_cache = 0;
    duro_sql_cache_clear(&cache);
    ASSERT_EQ(sqlite3_close(db), SQLITE_OK); /* nothing left unfinalized */
}

TEST(an_interrupted_write_that_sqlite_rolls_back_entirely_is_a_storage_error)
{
    sqlite3 *db = open_db();
    test_lim.sql_timeout_ms = 100;
    ASSERT_EQ(
        sqlite3_exec(db, "BEGIN; INSERT INTO _duro_kv VALUES('other op', 'x')", NULL, NULL, NULL),
        SQLITE_OK);
    res *r = run(db, DURO_SQL_EXEC,
                 "{\"sql\":\"INSERT INTO u(b) SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1"
                 " UNION ALL SELECT x+1 FROM c) SELECT x FROM c)\"}");
    test_lim.sql_timeout_ms = 1000;
    /* SQLite rolled the whole transaction back: the other op's write is gone
     * too, so this must fail the batch (a storage status), not answer 400 */
    if (sqlite3_get_autocommit(db)) {
        fprintf(stderr, "  (SQLite rolled back the whole transaction)\n");
        ASSERT_EQ(r->st, DURO_INTERNAL);
        ASSERT(strstr(r->err, "rolled back the whole transaction") != NULL);
        ASSERT_EQ(count_kv(db), 1);
    } else { /* (a SQLite that only undid the statement) */
        ASSERT_EQ(r->st, DURO_BAD_REQUEST);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    res_free(r);
    sqlite3_close(db);
}

TEST(hidden_names)
{
    ASSERT(duro_sql_hidden("_duro_kv"));
    ASSERT(duro_sql_hidden("_DURO_x"));
    ASSERT(duro_sql_hidden("sqlite_autoindex__duro_users_1"));
    ASSERT(!duro_sql_hidden("duro_kv"));
    ASSERT(!duro_sql_hidden("users"));
    ASSERT(!duro_sql_hidden(NULL));
}

TEST_MAIN()
