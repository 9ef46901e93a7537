/*
 * fuzz_sql_request.c — the decoding of a SQL request body as the HTTP and
 * binary transports run it: bytes → (JSON or checked msgpack) → validated
 * duro_sql_req (objects/sql_req.c), for exec, query and batch; and, for
 * inputs that decode, a run of the request on an in-memory database with a
 * stand-in server table, which must come out untouched.
 *
 * Input layout: byte 0 selects the op (bits 0-1, mod 3), the encoding (bit
 * 2: msgpack), read-only (bit 3), whether to run it (bit 4) and with the
 * statement cache (bit 5); the rest is the body.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "objects/sql.h"

static sqlite3 *db;

static int64_t kv_sum(void)
{
    sqlite3_stmt *s;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) + total(length(v)) FROM _duro_kv", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0];
    data++;
    size--;
    int op = (sel & 3) % DURO_SQL_OP_COUNT;
    const char *why;
    json_t *j = sel & 4 ? duro_mp_to_json(data, size, &why) : duro_json_parse(data, size, &why);
    if (!j)
        return 0;
    duro_limits lim = {.sql_timeout_ms = 20, .sql_max_rows = 100};
    duro_sql_req *r = NULL;
    char err[256];
    int st = duro_sql_request(op, j, &lim, (sel & 8) != 0, &r, err, sizeof err);
    json_decref(j);
    if ((st == DURO_OK) != (r != NULL) || (st != DURO_OK && !err[0]))
        abort();
    if (!r)
        return 0;
    /* whatever was accepted is within every bound */
    if (r->n < 1 || r->n > (op == DURO_SQL_BATCH ? DURO_SQL_BATCH_MAX : 1))
        abort();
    for (size_t i = 0; i < r->n; i++) {
        const duro_sql_stmt *s = &r->stmts[i];
        if (!s->sql || s->len == 0 || s->len > DURO_SQL_TEXT_MAX || strlen(s->sql) != s->len ||
            s->n_params > DURO_SQL_PARAMS_MAX)
            abort();
        for (size_t k = 0; k < s->n_params; k++)
            if (s->params[k].type < DURO_SQL_NULL || s->params[k].type > DURO_SQL_BLOB)
                abort();
    }
    if (sel & 16) {
        if (!db) {
            if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
                sqlite3_exec(db,
                             "CREATE TABLE _duro_kv(k TEXT PRIMARY KEY, v BLOB);"
                             "INSERT INTO _duro_kv VALUES('a', 'b')",
                             NULL, NULL, NULL) != SQLITE_OK)
                abort();
            sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
        }
        int64_t before = kv_sum();
        duro_buf out = {0};
        duro_sql_effects fx;
        int rc;
        static duro_sql_cache cache;
        duro_sql_run(db, (sel & 32) ? &cache : NULL, op, r, 1 << 16, &out, &fx, &rc, err,
                     sizeof err);
        duro_buf_free(&out);
        if (kv_sum() != before || !sqlite3_get_autocommit(db))
            abort();
    }
    duro_sql_req_free(r);
    return 0;
}
