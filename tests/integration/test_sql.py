#!/usr/bin/python3
"""The SQL kind (POST /api/storage/d1/{ns}/exec | query | batch, binary ops
sql.*; docs/sql.md) against a real durod: the seed examples, every route and
status, namespace isolation, batch atomicity, transactions refused, every
authorizer denial (and the server's tables untouched afterwards), bounds,
types, the time budget (a neighbour on the same actor still answers),
read-only JWTs, restart and SIGKILL survival, registry tracking (d1), no file
for reads of a new namespace, and the binary protocol."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, Server, ServerTestCase, assert_error, bearer, free_port,  # noqa: E402
                      jwt, kv_path, main, ok, q)

SECRET = "s" * 40
ADMIN = "admin-" + "q" * 40


def d1(ns, op):
    return "/api/storage/d1/%s/%s" % (q(ns), op)


def ns_files(data_dir, prefix):
    out = []
    for root, _, files in os.walk(os.path.join(data_dir, "ns")):
        out += [f for f in files if f.startswith(prefix + ".")]
    return sorted(out)


def bin_not_there_yet(r):
    """The product-wide bytes rule (bin in replies and msgpack params) is
    built in common/ by someone else; until it lands a reply with a BLOB
    cannot be encoded (500) and a msgpack bin param is refused (400 "bin is
    not supported"). Tests of it skip then, and pass once it lands."""
    if r.status == 500 and "could not be encoded" in str(r.body):
        return True
    return r.status == 400 and "bin is not supported" in str(r.body)


class SqlServer(ServerTestCase):
    server_args = ["--sql-max-rows", "100", "--max-reply-bytes", "65536"]

    def exec(self, sql, params=None, ns=None, **kw):
        body = {"sql": sql}
        if params is not None:
            body["params"] = params
        return self.req("POST", d1(ns or self.ns, "exec"), body, **kw)

    def query(self, sql, params=None, ns=None, **kw):
        body = {"sql": sql}
        if params is not None:
            body["params"] = params
        return self.req("POST", d1(ns or self.ns, "query"), body, **kw)

    def rows(self, sql, params=None, ns=None):
        return ok(self.query(sql, params, ns))["results"]

    def test_the_seed_examples_work_as_written(self):
        data = ok(self.req("POST", d1("app1", "exec"),
                           {"sql": "CREATE TABLE users (id INTEGER, name TEXT)", "params": []}))
        self.assertEqual(set(data["meta"]), {"changes", "last_row_id", "rows_read", "rows_written",
                                             "duration_ms"})
        ok(self.req("POST", d1("app1", "exec"),
                    {"sql": "INSERT INTO users VALUES (?, ?)", "params": [123, "Ada"]}))
        data = ok(self.req("POST", d1("app1", "query"),
                           {"sql": "SELECT * FROM users WHERE id = ?", "params": [123]}))
        self.assertEqual(data["results"], [{"id": 123, "name": "Ada"}])
        self.assertEqual(data["meta"]["rows_read"] >= 1, True)
        # and app2 does not see app1's table
        r = self.req("POST", d1("app2", "query"), {"sql": "SELECT * FROM users", "params": []})
        assert_error(r, 400, "BAD_REQUEST")
        self.assertEqual(r.body["error"]["message"], "SQL error: no such table: users")

    def test_the_seed_application_database_example(self):
        ok(self.exec("""
  CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    completed BOOLEAN DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
  )
"""))
        ok(self.exec("INSERT INTO tasks (title) VALUES (?)", ["Finish documentation"]))
        tasks = self.rows("SELECT * FROM tasks WHERE completed = 0")
        self.assertEqual(len(tasks), 1)
        self.assertEqual((tasks[0]["id"], tasks[0]["title"], tasks[0]["completed"]),
                         (1, "Finish documentation", 0))
        self.assertRegex(tasks[0]["created_at"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        # AUTOINCREMENT's sqlite_sequence is SQLite's: not listed, not a resource
        self.assertEqual([t["name"] for t in self.rows("PRAGMA table_list")], ["tasks"])
        r = self.req("GET", "/api/resources/list?type=d1&namespace=" + self.ns)
        self.assertEqual([x["key"] for x in r.body["resources"]], ["tasks"])

    def test_exec_meta_and_scripts(self):
        m = ok(self.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                         " INSERT INTO t(v) VALUES('a'), ('b'); INSERT INTO t(v) VALUES('c')"))["meta"]
        self.assertEqual((m["changes"], m["rows_written"], m["last_row_id"]), (3, 3, 3))
        self.assertIsInstance(m["duration_ms"], float)
        m = ok(self.exec("UPDATE t SET v = ? WHERE id > ?", [None, 1]))["meta"]
        self.assertEqual(m["changes"], 2)
        self.assertEqual(m["last_row_id"], 0)  # no insert in this request
        self.assertEqual(self.rows("SELECT id, v FROM t ORDER BY id"),
                         [{"id": 1, "v": "a"}, {"id": 2, "v": None}, {"id": 3, "v": None}])
        # a write with RETURNING through query: its rows and its changes
        d = ok(self.query("INSERT INTO t(v) VALUES(?) RETURNING id, v", ["r"]))
        self.assertEqual(d["results"], [{"id": 4, "v": "r"}])
        self.assertEqual((d["meta"]["changes"], d["meta"]["last_row_id"]), (1, 4))
        r = self.exec("INSERT INTO t(v) VALUES(?); SELECT 1", ["x"])
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("exactly one statement", r.body["error"]["message"])
        r = self.query("SELECT 1; SELECT 2")
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("one statement per query", r.body["error"]["message"])

    def test_types(self):
        res = self.rows("SELECT 9007199254740993 AS big, -5 AS neg, 2.5 AS r, 1e999 AS inf,"
                        " 'h\u00e9' AS t, NULL AS n, 1 AS d, 2 AS d, ? AS b, ? AS f",
                        [True, 0.25])
        self.assertEqual(res, [{"big": 9007199254740993, "neg": -5, "r": 2.5, "inf": None,
                                "t": "h\u00e9", "n": None, "d": 2, "b": 1, "f": 0.25}])

    def test_blobs(self):
        ok(self.exec("CREATE TABLE b(x BLOB)"))
        ok(self.exec("INSERT INTO b VALUES(?)", [{"$bytes": "AP8Q"}]))
        self.assertEqual(self.rows("SELECT hex(x) AS h, length(x) AS n FROM b"),
                         [{"h": "00FF10", "n": 3}])
        r = self.query("SELECT x FROM b")
        if bin_not_there_yet(r):
            self.skipTest("bin in replies is not built yet (common/: the bytes rule)")
        self.assertEqual(ok(r)["results"], [{"x": {"$bytes": "AP8Q"}}])
        r = self.query("SELECT x FROM b", accept_msgpack=True)
        self.assertEqual(ok(r)["results"], [{"x": b"\x00\xff\x10"}])

    def test_msgpack_bodies_and_bin_params(self):
        r = self.req("POST", d1(self.ns, "query"), {"sql": "SELECT ? + 1 AS n", "params": [41]},
                     msgpack=True, accept_msgpack=True)
        self.assertEqual(ok(r)["results"], [{"n": 42}])
        ok(self.exec("CREATE TABLE mb(x BLOB)"))
        r = self.req("POST", d1(self.ns, "exec"), {"sql": "INSERT INTO mb VALUES(?)",
                                                   "params": [b"\x01\x02"]}, msgpack=True)
        if bin_not_there_yet(r):
            self.skipTest("msgpack bin params are not built yet (common/: the bytes rule)")
        ok(r)
        self.assertEqual(self.rows("SELECT hex(x) AS h FROM mb"), [{"h": "0102"}])

    def test_routes_and_statuses(self):
        r = self.req("GET", d1(self.ns, "query"))
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("POST", d1(self.ns, "nope"), {"sql": "SELECT 1"}), 404, "NOT_FOUND")
        assert_error(self.req("POST", "/api/storage/d1/_bad/query", {"sql": "SELECT 1"}), 400,
                     "BAD_REQUEST")
        r = self.req("POST", d1(self.ns, "query"), b"{}", headers={"Content-Type": "text/plain"})
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
        for body in ({}, {"sql": 1}, {"sql": "SELECT 1", "x": 1}, [1], {"sql": "SELECT ?"},
                     {"sql": "SELECT ?", "params": [1, 2]}, {"sql": "SELECT :a", "params": [1]}):
            assert_error(self.req("POST", d1(self.ns, "query"), body), 400, "BAD_REQUEST", str(body))
        assert_error(self.req("POST", d1(self.ns, "query") + "?x=1", {"sql": "SELECT 1"}), 400,
                     "BAD_REQUEST")
        r = self.query("SELEC 1")
        assert_error(r, 400, "BAD_REQUEST")
        self.assertTrue(r.body["error"]["message"].startswith("SQL error: "), r)
        ok(self.exec("CREATE TABLE c(a UNIQUE)"))
        ok(self.exec("INSERT INTO c VALUES(1)"))
        r = self.exec("INSERT INTO c VALUES(1)")
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("UNIQUE constraint failed: c.a", r.body["error"]["message"])

    def test_batch_is_atomic(self):
        ok(self.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)"))
        ok(self.exec("INSERT INTO acct VALUES(1, 10)"))
        r = self.req("POST", d1(self.ns, "batch"), {"statements": [
            {"sql": "UPDATE acct SET bal = bal - 5 WHERE id = 1"},
            {"sql": "INSERT INTO acct VALUES(?, NULL)", "params": [2]}]})
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("statements[1]: SQL error: NOT NULL constraint failed",
                      r.body["error"]["message"])
        self.assertEqual(self.rows("SELECT bal FROM acct"), [{"bal": 10}])  # first not applied
        data = ok(self.req("POST", d1(self.ns, "batch"), {"statements": [
            {"sql": "UPDATE acct SET bal = bal - 5 WHERE id = 1"},
            {"sql": "INSERT INTO acct VALUES(?, ?)", "params": [2, 5]},
            {"sql": "SELECT sum(bal) AS s FROM acct"}]}))
        self.assertEqual(len(data), 3)
        self.assertEqual([d["meta"]["changes"] for d in data], [1, 1, 0])
        self.assertEqual(data[2]["results"], [{"s": 10}])
        self.assertEqual(data[0]["results"], [])
        big = {"statements": [{"sql": "SELECT 1"}] * 101}
        r = self.req("POST", d1(self.ns, "batch"), big)
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("at most 100", r.body["error"]["message"])
        assert_error(self.req("POST", d1(self.ns, "batch"), {"statements": []}), 400, "BAD_REQUEST")

    def test_transactions_are_refused_and_point_to_batch(self):
        for sql in ("BEGIN", "BEGIN TRANSACTION", "COMMIT", "END", "ROLLBACK", "SAVEPOINT a",
                    "RELEASE a", "ROLLBACK TO a"):
            r = self.exec(sql)
            assert_error(r, 400, "BAD_REQUEST", sql)
            self.assertIn("/batch", r.body["error"]["message"], sql)

    def test_every_denial_and_the_server_tables_stay_untouched(self):
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": {"keep": 1}}))
        ok(self.exec("CREATE TABLE mine(a)"))
        denied = [
            ("SELECT * FROM _duro_kv", "internal"),
            ("SELECT * FROM _DURO_KV", "internal"),
            ("INSERT INTO _duro_kv(key, value, enc, version, created_at, updated_at)"
             " VALUES('x', '1', 0, 1, 0, 0)", "internal"),
            ("UPDATE _duro_kv SET value = '2'", "internal"),
            ("DELETE FROM _duro_kv", "internal"),
            ("DELETE FROM _duro_meta", "internal"),
            ("DROP TABLE _duro_kv", "internal"),
            ("ALTER TABLE _duro_kv RENAME TO stolen", "internal"),
            ("ALTER TABLE mine RENAME TO _duro_mine", "reserved"),
            ("CREATE TABLE _duro_new(a)", "reserved"),
            ("CREATE INDEX i ON _duro_kv(value)", "reserved"),
            ("CREATE TRIGGER tr AFTER INSERT ON _duro_kv BEGIN SELECT 1; END", "reserved"),
            ("DROP INDEX _duro_kv_expiry", "reserved"),
            ("SELECT * FROM sqlite_master", "PRAGMA table_list"),
            ("SELECT sql FROM sqlite_schema", "PRAGMA table_list"),
            ("SELECT * FROM sqlite_temp_master", "PRAGMA table_list"),
            ("CREATE TABLE leak AS SELECT * FROM sqlite_schema", "PRAGMA table_list"),
            ("ATTACH 'x.db' AS x", "ATTACH"),
            ("DETACH x", "DETACH"),
            ("SELECT load_extension('/tmp/x.so')", "load_extension"),
            ("CREATE TEMP TABLE tt(a)", "TEMP"),
            ("CREATE TEMP VIEW tv AS SELECT 1", "TEMP"),
            ("PRAGMA journal_mode=DELETE", "PRAGMA journal_mode"),
            ("PRAGMA writable_schema=ON", "PRAGMA writable_schema"),
            ("PRAGMA user_version", "PRAGMA user_version"),
            ("PRAGMA table_info(_duro_kv)", "internal"),
            ("SELECT * FROM pragma_table_info('_duro_kv')", "PRAGMA statement"),
            ("SELECT * FROM dbstat", "dbstat"),
            # a table or view of a built-in table's name would stand in for it
            ("CREATE TABLE dbstat(name TEXT, pgsize INTEGER, aggregate INTEGER)", "built-in"),
            ("CREATE VIEW DBSTAT AS SELECT 1", "built-in"),
            ("CREATE TABLE pragma_x(a)", "built-in"),
            # a view over a hidden table would show its columns (PRAGMA table_info)
            ("CREATE VIEW vu AS SELECT * FROM _duro_users", "internal"),
            ("CREATE VIEW vs AS SELECT name FROM sqlite_schema", "PRAGMA table_list"),
        ]
        for sql, why in denied:
            r = self.exec(sql)
            assert_error(r, 400, "BAD_REQUEST", sql)
            msg = r.body["error"]["message"]
            self.assertTrue(msg.startswith("not allowed: ") and why in msg, (sql, msg))
        # defensive mode: a virtual table's shadow tables are the module's own
        ok(self.exec("CREATE VIRTUAL TABLE f USING fts5(a)"))
        ok(self.exec("INSERT INTO f(a) VALUES('hello world')"))
        assert_error(self.exec("UPDATE f_config SET v = 999 WHERE k = 'version'"), 400,
                     "BAD_REQUEST", "may not be modified")
        self.assertEqual(self.rows("SELECT a FROM f WHERE f MATCH 'hello'"), [{"a": "hello world"}])
        ok(self.exec("CREATE VIRTUAL TABLE rt USING rtree(id, x0, x1)"))  # reads PRAGMA page_size
        ok(self.exec("DROP TABLE f"))
        ok(self.exec("DROP TABLE rt"))
        ok(self.exec("INSERT INTO mine VALUES(1)"))
        ok(self.exec("ALTER TABLE mine ADD COLUMN b INT CHECK(b IS NULL OR b > 0)"))
        ok(self.exec("ALTER TABLE mine DROP COLUMN b"))
        ok(self.exec("DELETE FROM mine"))
        # the allowed PRAGMAs, and table_list shows only the user's tables
        names = [t["name"] for t in self.rows("PRAGMA table_list")]
        self.assertEqual(names, ["mine"])
        self.assertEqual([c["name"] for c in self.rows("PRAGMA table_info(mine)")], ["a"])
        self.assertEqual(ok(self.req("GET", kv_path("k", ns=self.ns))), {"keep": 1})
        keys = ok(self.req("GET", "/storage/list?ns=" + q(self.ns)))["keys"]
        self.assertEqual([k["name"] if isinstance(k, dict) else k for k in keys], ["k"])

    def test_bounds(self):
        r = self.query("SELECT 1" + " " * (100 * 1024))
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("at most 102400 bytes of SQL", r.body["error"]["message"])
        r = self.query("SELECT " + "+".join(["?"] * 101), [1] * 101)
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("101 params; at most 100", r.body["error"]["message"])
        self.assertEqual(self.rows("SELECT " + "+".join(["?"] * 100) + " AS s", [1] * 100),
                         [{"s": 100}])
        cte = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT %d) "
        self.assertEqual(len(self.rows(cte % 100 + "SELECT n FROM c")), 100)
        r = self.query(cte % 101 + "SELECT n FROM c")
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("more than 100 rows (--sql-max-rows)", r.body["error"]["message"])
        r = self.query(cte % 50 + "SELECT hex(zeroblob(1000)) AS h FROM c")
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("larger than --max-reply-bytes (65536 bytes)", r.body["error"]["message"])
        r = self.query("SELECT length(randomblob(1000000)) AS n")
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("too big", r.body["error"]["message"])

    def test_registry_tracks_tables(self):
        def d1_rows():
            r = self.req("GET", "/api/resources/list?type=d1&namespace=" + self.ns)
            self.assertEqual(r.status, 200, r)
            return {x["key"]: x for x in r.body["resources"]}
        self.assertEqual(d1_rows(), {})
        ok(self.exec("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT)"))
        got = d1_rows()
        self.assertEqual(list(got), ["people"])
        self.assertEqual(got["people"]["type"], "d1")
        size0 = got["people"]["size"]
        ok(self.req("POST", d1(self.ns, "batch"), {"statements": [
            {"sql": "INSERT INTO people(name) VALUES(?)", "params": ["n" * 500]}] * 50}))
        got = d1_rows()
        self.assertGreater(got["people"]["size"], 0)
        # a table is measured at most once a second (docs/sql.md): its new size
        # shows within about a second, without another write
        deadline = time.monotonic() + 5
        while got["people"]["size"] <= size0 and time.monotonic() < deadline:
            time.sleep(0.05)
            got = d1_rows()
        self.assertGreater(got["people"]["size"], size0)
        size1 = got["people"]["size"]
        ok(self.exec("INSERT INTO people(name) VALUES('one more')"))
        self.assertGreaterEqual(d1_rows()["people"]["size"], size1)
        ok(self.exec("ALTER TABLE people RENAME TO folks"))
        self.assertEqual(list(d1_rows()), ["folks"])
        info = ok(self.req("GET", "/api/namespaces/" + self.ns))
        self.assertEqual(info["tables"], 1)  # docs/namespaces.md
        ok(self.exec("DROP TABLE folks"))
        self.assertEqual(d1_rows(), {})
        self.assertEqual(ok(self.req("GET", "/api/namespaces/" + self.ns))["tables"], 0)

    def test_reads_and_failures_of_a_new_namespace_create_no_file(self):
        ns = self.ns
        ok(self.query("SELECT 1 AS one", ns=ns))
        assert_error(self.query("SELECT * FROM nope", ns=ns), 400, "BAD_REQUEST")
        assert_error(self.exec("CREATE TABLE _duro_x(a)", ns=ns), 400, "BAD_REQUEST")
        self.assertEqual(self.rows("PRAGMA table_list", ns=ns), [])
        self.assertEqual(ns_files(self.server.data_dir, ns), [])
        ok(self.exec("CREATE TABLE first(a)", ns=ns))
        self.assertIn(ns + ".db", ns_files(self.server.data_dir, ns))
        self.assertEqual([t["name"] for t in self.rows("PRAGMA table_list", ns=ns)], ["first"])


class SqlAndKvOrder(unittest.TestCase):
    """KV writes go through the commit log, SQL writes through SQLite's own
    COMMIT (docs/architecture.md): interleaved in one namespace, both survive
    a SIGKILL in order, and a KV write after a SQL commit is replayed on top
    of it, not under it."""

    def test_interleaved_writes_survive_a_kill_in_order(self):
        srv = Server()
        self.addCleanup(srv.stop)
        ns = "order"
        kv = lambda k, v: ok(srv.req("PUT", kv_path(k, ns=ns), {"value": v}))  # noqa: E731
        sql = lambda t, p=None: ok(srv.req("POST", d1(ns, "exec"),  # noqa: E731
                                           {"sql": t, **({"params": p} if p else {})}))
        sql("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(30):
            kv("k", i)  # the same key overwritten: the last acknowledged value must win
            sql("INSERT INTO t(id, v) VALUES(?, ?)", [i, "v%d" % i])
            kv("after-%d" % i, i)
        sql("UPDATE t SET v = 'last' WHERE id = 29")
        kv("k", "final")  # logged after the SQL commit above
        srv.kill()  # no apply, no clean close: the log and the SQL commits are all there is
        srv.start()
        self.assertEqual(ok(srv.req("GET", kv_path("k", ns=ns))), "final")
        for i in range(30):
            self.assertEqual(ok(srv.req("GET", kv_path("after-%d" % i, ns=ns))), i)
        rows = ok(srv.req("POST", d1(ns, "query"), {"sql": "SELECT id, v FROM t ORDER BY id"}))
        got = [(r["id"], r["v"]) for r in rows["results"]]
        self.assertEqual(got, [(i, "v%d" % i) for i in range(29)] + [(29, "last")])


class SqlTimeout(ServerTestCase):
    server_args = ["--actors", "1", "--sql-timeout-ms", "300"]

    def test_a_runaway_query_is_stopped_and_a_neighbour_still_answers(self):
        ok(self.req("PUT", kv_path("k", ns=self.ns + "-kv"), {"value": 7}))
        ok(self.req("POST", d1(self.ns, "exec"), {"sql": "CREATE TABLE t(a)"}))
        forever = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c)"
                   " SELECT count(*) FROM c")
        out = {}

        def runaway():
            t0 = time.monotonic()
            out["r"] = self.server.req("POST", d1(self.ns, "query"), {"sql": forever})
            out["t"] = time.monotonic() - t0

        th = threading.Thread(target=runaway)
        th.start()
        time.sleep(0.05)  # let the query reach the actor first (not needed for correctness)
        t0 = time.monotonic()
        got = self.req("GET", kv_path("k", ns=self.ns + "-kv"))
        kv_t = time.monotonic() - t0
        th.join(10)
        self.assertEqual(ok(got), 7)
        r = out["r"]
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("interrupted after 300 ms (--sql-timeout-ms)", r.body["error"]["message"])
        self.assertLess(out["t"], 2.0)
        self.assertGreater(out["t"], 0.25)
        self.assertLess(kv_t, 2.0)  # the same actor: it waited at most for the budget
        # a batch shares one budget and is undone as a whole
        r = self.req("POST", d1(self.ns, "batch"), {"statements": [
            {"sql": "INSERT INTO t VALUES(1)"}, {"sql": forever}]})
        assert_error(r, 400, "BAD_REQUEST")
        r = ok(self.req("POST", d1(self.ns, "query"), {"sql": "SELECT count(*) AS n FROM t"}))
        self.assertEqual(r["results"], [{"n": 0}])
        # a runaway write: SQLite rolls the whole transaction back, so it fails as a
        # storage error with every write of its group commit (docs/sql.md)
        r = self.req("POST", d1(self.ns, "exec"), {"sql": "INSERT INTO t " + forever})
        assert_error(r, 500, "INTERNAL")
        self.assertIn("nothing was written", r.body["error"]["message"])
        ok(self.req("POST", d1(self.ns, "exec"), {"sql": "INSERT INTO t VALUES(5)"}))
        r = ok(self.req("POST", d1(self.ns, "query"), {"sql": "SELECT a FROM t"}))
        self.assertEqual(r["results"], [{"a": 5}])


class SqlAccess(ServerTestCase):
    RPC = free_port()
    server_args = ["--auth-token", ADMIN, "--jwt-secret", SECRET, "--rpc-port", str(RPC)]

    def test_a_read_only_token_runs_reads_only(self):
        adm = bearer(ADMIN)
        ok(self.req("POST", d1(self.ns, "exec"), {"sql": "CREATE TABLE t(a)"}, headers=adm))
        ro = jwt(SECRET, {"ns": [self.ns], "scope": "read", "exp": int(time.time()) + 600})
        rw = jwt(SECRET, {"ns": [self.ns], "scope": "write", "exp": int(time.time()) + 600})
        r = self.req("POST", d1(self.ns, "query"), {"sql": "SELECT count(*) AS n FROM t"},
                     headers=bearer(ro))
        self.assertEqual(ok(r)["results"], [{"n": 0}])
        for op, sql in (("exec", "INSERT INTO t VALUES(1)"), ("query", "DELETE FROM t"),
                        ("exec", "CREATE TABLE u(a)")):
            r = self.req("POST", d1(self.ns, op), {"sql": sql}, headers=bearer(ro))
            assert_error(r, 403, "FORBIDDEN", sql)
            self.assertIn("this token may only read", r.body["error"]["message"])
        r = self.req("POST", d1(self.ns, "batch"), {"statements": [
            {"sql": "SELECT 1"}, {"sql": "INSERT INTO t VALUES(2)"}]}, headers=bearer(ro))
        assert_error(r, 403, "FORBIDDEN")
        ok(self.req("POST", d1(self.ns, "exec"), {"sql": "INSERT INTO t VALUES(3)"},
                    headers=bearer(rw)))
        # no token, another namespace's token
        assert_error(self.req("POST", d1(self.ns, "query"), {"sql": "SELECT 1"}), 401,
                     "UNAUTHORIZED")
        other = jwt(SECRET, {"ns": ["elsewhere"], "scope": "write", "exp": int(time.time()) + 600})
        assert_error(self.req("POST", d1(self.ns, "query"), {"sql": "SELECT 1"},
                              headers=bearer(other)), 403, "FORBIDDEN")
        # the same over the binary protocol
        with Rpc(self.RPC) as c:
            self.assertEqual(c.call("auth", "", {"token": ro})[0], St.OK)
            st, body = c.call("sql.query", self.ns, {"sql": "SELECT count(*) AS n FROM t"})
            self.assertEqual((st, body["results"]), (St.OK, [{"n": 1}]))
            st, body = c.call("sql.exec", self.ns, {"sql": "DELETE FROM t"})
            self.assertEqual(st, St.FORBIDDEN, body)
        r = self.req("POST", d1(self.ns, "query"), {"sql": "SELECT count(*) AS n FROM t"},
                     headers=adm)
        self.assertEqual(ok(r)["results"], [{"n": 1}])


class SqlRpc(unittest.TestCase):
    def test_binary_protocol_ops(self):
        port = free_port()
        srv = Server(extra_args=["--rpc-port", str(port)])
        try:
            with Rpc(port) as c:
                self.assertEqual(c.call("sql.exec", "rpc1", {"sql": "CREATE TABLE t(a, b)"})[0],
                                 St.OK)
                st, body = c.call("sql.exec", "rpc1", {"sql": "INSERT INTO t VALUES(?, ?)",
                                                       "params": [1, "x"]})
                self.assertEqual((st, body["meta"]["changes"]), (St.OK, 1))
                st, body = c.call("sql.query", "rpc1", {"sql": "SELECT * FROM t"})
                self.assertEqual((st, body["results"]), (St.OK, [{"a": 1, "b": "x"}]))
                st, body = c.call("sql.batch", "rpc1", {"statements": [
                    {"sql": "INSERT INTO t VALUES(2, 'y')"}, {"sql": "SELECT count(*) AS n FROM t"}]})
                self.assertEqual(st, St.OK)
                self.assertEqual(body[1]["results"], [{"n": 2}])
                st, body = c.call("sql.query", "rpc1", {"sql": "SELECT * FROM _duro_kv"})
                self.assertEqual(st, St.BAD_REQUEST)
                self.assertIn("internal", body["message"])
                st, body = c.call("sql.query", "rpc1", {"sql": "SELECT 1", "nope": 1})
                self.assertEqual(st, St.BAD_REQUEST)
                st, body = c.call("sql.exec", "rpc1", {"sql": "INSERT INTO t VALUES(?, 1)",
                                                       "params": [b"\x00\x01"]})
                if st == St.BAD_REQUEST and "bin is not supported" in body.get("message", ""):
                    pass  # the bytes rule is not built yet (see bin_not_there_yet)
                else:
                    self.assertEqual(st, St.OK, body)
        finally:
            srv.close()


class SqlDurability(unittest.TestCase):
    def test_acknowledged_writes_survive_restart_and_sigkill(self):
        srv = Server()
        try:
            ns = "durable-sql"
            ok(srv.req("POST", d1(ns, "exec"), {"sql": "CREATE TABLE log(i INTEGER PRIMARY KEY)"}))
            ok(srv.req("POST", d1(ns, "batch"), {"statements": [
                {"sql": "INSERT INTO log VALUES(?)", "params": [i]} for i in range(1, 51)]}))
            srv.restart()
            r = ok(srv.req("POST", d1(ns, "query"), {"sql": "SELECT count(*) AS n FROM log"}))
            self.assertEqual(r["results"], [{"n": 50}])
            # concurrent writers, then SIGKILL: every acknowledged insert is there
            acked = []
            lock = threading.Lock()

            def writer(base):
                for i in range(base, base + 40):
                    try:
                        r = srv.req("POST", d1(ns, "exec"),
                                    {"sql": "INSERT INTO log VALUES(?)", "params": [i]}, retry=False)
                    except Exception:
                        return
                    if r.status == 200:
                        with lock:
                            acked.append(i)

            ths = [threading.Thread(target=writer, args=(1000 * k,)) for k in range(1, 5)]
            for t in ths:
                t.start()
            deadline = time.monotonic() + 10
            while len(acked) < 60 and time.monotonic() < deadline:
                time.sleep(0.01)
            srv.kill()
            for t in ths:
                t.join(10)
            srv.start()
            rows = ok(srv.req("POST", d1(ns, "query"), {"sql": "SELECT i FROM log WHERE i >= 1000"}))
            have = {x["i"] for x in rows["results"]}
            self.assertGreater(len(acked), 0)
            self.assertTrue(set(acked) <= have, sorted(set(acked) - have))
            # the registry survives too (rebuilt from the file if it must be)
            r = srv.req("GET", "/api/resources/list?type=d1&namespace=" + ns)
            self.assertEqual([x["key"] for x in r.body["resources"]], ["log"])
        finally:
            srv.close()


if __name__ == "__main__":
    main()
