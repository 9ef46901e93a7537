#!/usr/bin/python3
"""The Python SDK (sdk/python) against a real durod: era_storage runs the storage
proxy document's examples unchanged, and duro.Client's calls, errors, streaming,
keep-alive and retries behave as docs/sdk-python.md says."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SDK = os.path.join(ROOT, "sdk", "python")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, SDK)

from durotest import Server, unique_ns  # noqa: E402

import duro  # noqa: E402
from duro import Client  # noqa: E402
from duro.datastore import Datastore, InvalidInput, KVAdapter, NotAuthorized  # noqa: E402
from duro.storage_client import (StorageHelpers, create_storage_client,  # noqa: E402
                                 createLoginService, createRateLimiter)

# The storage proxy document's Python examples, as printed there (SDK Usage, Namespacing
# without its two placeholder lines "CREATE TABLE users ...", and Use Cases 1-4). The
# document leaves user_id to the app: the prelude defines it.
PRELUDE = "user_id = 42\n"
EXAMPLES = [
    '''
import era_storage

# KV Storage
era_storage.kv.set("app1", "user:123", '{"name": "Alice"}')
data = era_storage.kv.get("app1", "user:123")
keys = era_storage.kv.list("app1", prefix="user:")
era_storage.kv.delete("app1", "user:123")

# D1 Database
era_storage.d1.exec("app1", "CREATE TABLE users (id INTEGER, name TEXT)")
era_storage.d1.exec("app1", "INSERT INTO users VALUES (?, ?)", [1, "Bob"])
users = era_storage.d1.query("app1", "SELECT * FROM users")

# R2 Storage
era_storage.r2.put("app1", "file.txt", b"Hello World!")
content = era_storage.r2.get("app1", "file.txt")
objects = era_storage.r2.list("app1", prefix="uploads/")
era_storage.r2.delete("app1", "file.txt")
print("RESULT", repr((data, keys, users, content, objects)))
''',
    '''
# App 1 resources
era_storage.kv.set("app1", "config", "...")

# App 2 resources
era_storage.kv.set("app2", "config", "...")

# Cross-namespace access is allowed
app1_config = era_storage.kv.get("app1", "config")
app2_config = era_storage.kv.get("app2", "config")
''',
    '''
import era_storage
import json

# Save user preferences
prefs = {"theme": "dark", "lang": "en"}
era_storage.kv.set("myapp", f"user:{user_id}:prefs", json.dumps(prefs))

# Load user preferences
prefs_json = era_storage.kv.get("myapp", f"user:{user_id}:prefs")
prefs = json.loads(prefs_json)
''',
    '''
import era_storage

# Initialize database
era_storage.d1.exec("myapp", """
  CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    completed BOOLEAN DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
  )
""")

# Add task
era_storage.d1.exec("myapp",
  "INSERT INTO tasks (title) VALUES (?)",
  ["Finish documentation"])

# Query tasks
tasks = era_storage.d1.query("myapp", "SELECT * FROM tasks WHERE completed = 0")
print(f"Pending tasks: {len(tasks)}")
''',
    '''
import era_storage

# Upload user avatar
with open("avatar.jpg", "rb") as f:
    image_data = f.read()
    era_storage.r2.put("myapp", f"avatars/{user_id}.jpg", image_data)

# Download avatar
avatar_data = era_storage.r2.get("myapp", f"avatars/{user_id}.jpg")
with open("downloaded_avatar.jpg", "wb") as f:
    f.write(avatar_data)
''',
    '''
import era_storage

# App1 writes shared config
era_storage.kv.set("shared", "api_key", "sk-...")

# App2 reads shared config
api_key = era_storage.kv.get("shared", "api_key")
''',
]


class WithServer(unittest.TestCase):
    """One durod for the test class, at self.url."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.url = "http://127.0.0.1:%d" % cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()


class EraStorage(WithServer):
    def test_the_proxy_documents_examples_run_unchanged(self):
        with tempfile.TemporaryDirectory() as cwd:
            avatar = os.urandom(100000)
            with open(os.path.join(cwd, "avatar.jpg"), "wb") as f:
                f.write(avatar)
            script = "import era_storage\n" + PRELUDE + "".join(textwrap.dedent(e) for e in EXAMPLES)
            env = dict(os.environ, ERA_STORAGE_URL=self.url, PYTHONPATH=SDK)
            env.pop("DURO_URL", None)
            out = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("Pending tasks: 1", out.stdout)
            result = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")][0]
            data, keys, users, content, objects = eval(result[len("RESULT "):])
            self.assertEqual(data, '{"name": "Alice"}')
            self.assertEqual(keys, ["user:123"])
            self.assertEqual(users, [{"id": 1, "name": "Bob"}])
            self.assertEqual(content, b"Hello World!")
            self.assertEqual(objects, [])
            with open(os.path.join(cwd, "downloaded_avatar.jpg"), "rb") as f:
                self.assertEqual(f.read(), avatar)
        # and what they left is in the server, read another way
        c = Client(self.url)
        self.addCleanup(c.close)
        self.assertEqual(c.kv.get("app1", "config"), "...")
        self.assertEqual(c.kv.get("shared", "api_key"), "sk-...")
        self.assertEqual(c.kv.get("myapp", "user:42:prefs"), '{"theme": "dark", "lang": "en"}')
        self.assertRaises(duro.NotFound, c.kv.get, "app1", "user:123")
        self.assertEqual(c.blobs.head("myapp", "avatars/42.jpg")["content-length"], "100000")
        self.assertEqual(c.sql.query("myapp", "SELECT title FROM tasks"),
                         [{"title": "Finish documentation"}])

    def test_missing_reads_are_none(self):
        import era_storage
        os.environ["ERA_STORAGE_URL"] = self.url
        self.addCleanup(os.environ.pop, "ERA_STORAGE_URL", None)
        era_storage._client = None
        ns = unique_ns("es")
        self.assertIsNone(era_storage.kv.get(ns, "nope"))
        self.assertIsNone(era_storage.r2.get(ns, "nope"))
        self.assertFalse(era_storage.kv.delete(ns, "nope"))
        self.assertEqual(era_storage.kv.list(ns), [])


class ClientCalls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(extra_args=["--idle-timeout-ms", "300"])
        cls.c = Client("http://127.0.0.1:%d" % cls.srv.port, retries=2)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.srv.close()

    def setUp(self):
        self.ns = unique_ns("py")

    def test_kv_options_and_compare_and_set(self):
        c, ns = self.c, self.ns
        v1 = c.kv.put(ns, "a", {"x": [1, 2.5, "é"]}, metadata={"m": 1}, ttl_ms=60000)
        self.assertEqual(c.kv.get(ns, "a"), {"x": [1, 2.5, "é"]})
        meta = c.kv.get(ns, "a", meta=True)
        self.assertEqual((meta["version"], meta["metadata"]), (v1, {"m": 1}))
        self.assertGreater(meta["expiresAt"], meta["createdAt"])
        with self.assertRaises(duro.PreconditionFailed) as e:
            c.kv.put(ns, "a", 2, if_match=v1 + 100)
        self.assertEqual((e.exception.code, e.exception.status), ("PRECONDITION_FAILED", 412))
        v2 = c.kv.put(ns, "a", 2, if_match=v1)
        self.assertGreater(v2, v1)
        self.assertRaises(duro.PreconditionFailed, c.kv.put, ns, "a", 3, if_none_match=True)
        self.assertEqual(c.kv.get(ns, "a"), 2)
        self.assertRaises(duro.PreconditionFailed, c.kv.delete, ns, "a", if_match=v1)
        self.assertTrue(c.kv.delete(ns, "a", if_match=v2))
        self.assertFalse(c.kv.delete(ns, "a"))
        with self.assertRaises(duro.NotFound):
            c.kv.get(ns, "a")
        self.assertRaises(duro.BadRequest, c.kv.put, ns, "", 1)
        c.kv.put(ns, "short", 1, ttl_ms=1)
        time.sleep(0.05)
        self.assertRaises(duro.NotFound, c.kv.get, ns, "short")

    def test_keys_with_any_characters_and_bytes_values(self):
        c, ns = self.c, self.ns
        for key in ("a/b c", "ü?&=#%", "x" * 2048):
            c.kv.put(ns, key, b"\x00\x01\xffraw")
            self.assertEqual(c.kv.get(ns, key), b"\x00\x01\xffraw")
        self.assertEqual(c.kv.get_many(ns, ["a/b c", "missing"]), {"a/b c": b"\x00\x01\xffraw"})

    def test_batches_and_list_pages_follow_cursors(self):
        c, ns = self.c, self.ns
        self.assertEqual(c.kv.set_many(ns, {"k%02d" % i: i for i in range(25)})["count"], 25)
        c.kv.set_many(ns, [{"key": "other", "value": True, "metadata": {"t": 1}}], ttl_ms=60000)
        self.assertEqual(list(c.kv.list(ns, prefix="k", page_size=10)),
                         ["k%02d" % i for i in range(25)])
        self.assertEqual(list(c.kv.list(ns, prefix="k", reverse=True, page_size=7))[:2],
                         ["k24", "k23"])
        entries = list(c.kv.list(ns, start="k20", end="k23", values=True))
        self.assertEqual([(e["key"], e["value"]) for e in entries],
                         [("k20", 20), ("k21", 21), ("k22", 22)])
        page = c.kv.list_page(ns, limit=5)
        self.assertEqual((len(page["keys"]), page["list_complete"]), (5, False))
        self.assertEqual(c.kv.get_many(ns, ["k01", "k02", "nope"]), {"k01": 1, "k02": 2})
        self.assertEqual(c.kv.delete_many(ns, ["k01", "k02", "nope"]), 2)
        self.assertEqual(c.kv.clear(ns), 24)
        self.assertEqual(list(c.kv.list(ns)), [])

    def test_sql(self):
        c, ns = self.c, self.ns
        c.sql.exec(ns, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        meta = c.sql.exec(ns, "INSERT INTO t (name) VALUES (?)", ["a"])
        self.assertEqual((meta["changes"], meta["last_row_id"]), (1, 1))
        out = c.sql.batch(ns, [("INSERT INTO t (name) VALUES (?)", ["b"]),
                               {"sql": "SELECT count(*) AS n FROM t"}])
        self.assertEqual(out[1]["results"], [{"n": 2}])
        self.assertEqual(c.sql.query(ns, "SELECT name FROM t ORDER BY id"),
                         [{"name": "a"}, {"name": "b"}])
        with self.assertRaises(duro.BadRequest):
            c.sql.query(ns, "SELECT * FROM nope")
        with self.assertRaises(duro.BadRequest):  # all or nothing
            c.sql.batch(ns, [("INSERT INTO t (name) VALUES ('c')", None), ("BAD SQL", None)])
        self.assertEqual(c.sql.query(ns, "SELECT count(*) AS n FROM t"), [{"n": 2}])

    def test_blobs_stream_from_and_to_files(self):
        c, ns = self.c, self.ns
        data = os.urandom(3 << 20)
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.bin")
            with open(src, "wb") as f:
                f.write(data)
            info = c.blobs.put_file(ns, "dir/big.bin", src, metadata={"who": "me"})
            self.assertEqual(info["size"], len(data))
            self.assertEqual(info["etag"], hashlib.sha256(data).hexdigest())
            dst = os.path.join(d, "out.bin")
            h = c.blobs.get_to_file(ns, "dir/big.bin", dst)
            with open(dst, "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(h["content-length"], str(len(data)))
        self.assertEqual(c.blobs.get(ns, "dir/big.bin", range=(10, 19)), data[10:20])
        c.blobs.put(ns, "dir/t.txt", "héllo", content_type="text/plain")
        self.assertEqual(c.blobs.head(ns, "dir/t.txt")["content-type"], "text/plain")
        self.assertEqual(c.blobs.get(ns, "dir/t.txt"), "héllo".encode())
        objs = list(c.blobs.list(ns, prefix="dir/", page_size=1))
        self.assertEqual([o["key"] for o in objs], ["dir/big.bin", "dir/t.txt"])
        self.assertEqual(objs[0]["metadata"], {"who": "me"})
        self.assertRaises(duro.PreconditionFailed, c.blobs.put, ns, "dir/t.txt", b"x",
                          if_none_match=True)
        self.assertTrue(c.blobs.delete(ns, "dir/t.txt"))
        self.assertRaises(duro.NotFound, c.blobs.get, ns, "dir/t.txt")

    def test_rate_limits_raise_with_retry_after(self):
        c, ns = self.c, self.ns
        for i in range(3):
            r = c.ratelimit.check(ns, "ip:1", limit=3, window_ms=60000, enforce=True)
            self.assertEqual((r["allowed"], r["remaining"]), (True, 2 - i))
        with self.assertRaises(duro.RateLimited) as e:
            c.ratelimit.check(ns, "ip:1", limit=3, window_ms=60000, enforce=True)
        self.assertEqual(e.exception.status, 429)
        self.assertIsNotNone(e.exception.retry_after)
        self.assertGreater(e.exception.retry_after, 0)
        self.assertFalse(c.ratelimit.check(ns, "ip:1", limit=3, window_ms=60000)["allowed"])
        self.assertTrue(c.ratelimit.reset(ns, "ip:1"))
        self.assertTrue(c.ratelimit.check(ns, "ip:1", limit=3, window_ms=60000)["allowed"])

    def test_sessions_and_login(self):
        c, ns = self.c, self.ns
        s = c.sessions.create(ns, {"cart": [1]}, 60000, user_id="u1")
        self.assertEqual(c.sessions.get(ns, s["id"])["data"], {"cart": [1]})
        c.sessions.update(ns, s["id"], {"cart": [1, 2]})
        self.assertEqual(c.sessions.get(ns, s["id"])["data"], {"cart": [1, 2]})
        self.assertEqual(c.sessions.of_user(ns, "u1")["count"], 1)
        self.assertTrue(c.sessions.delete(ns, s["id"]))
        self.assertRaises(duro.NotFound, c.sessions.get, ns, s["id"])
        c.auth.create_user(ns, "a@example.com", "correct horse battery")
        self.assertRaises(duro.Conflict, c.auth.create_user, ns, "a@example.com", "x" * 12)
        self.assertRaises(duro.Unauthorized, c.auth.login, ns, "a@example.com", "wrong password")
        li = c.auth.login(ns, "a@example.com", "correct horse battery")
        self.assertEqual(c.auth.session(ns, li["sessionId"])["userId"], li["userId"])
        self.assertTrue(c.auth.logout(ns, li["sessionId"]))
        self.assertRaises(duro.Unauthorized, c.auth.session, ns, li["sessionId"])

    def test_snapshot_and_registry(self):
        c, ns = self.c, self.ns
        data, version = c.snapshot.get(ns)
        self.assertEqual((data, version), ({}, 0))
        out = c.snapshot.patch(ns, [{"op": "set", "key": "a", "value": 1},
                                    {"op": "set", "key": "b", "value": 2}], if_match=0)
        data, version = c.snapshot.get(ns)
        self.assertEqual((data, version), ({"a": 1, "b": 2}, out["version"]))
        self.assertRaises(duro.PreconditionFailed, c.snapshot.patch, ns,
                          [{"op": "del", "key": "a"}], if_match=version + 5)
        st = c.registry.stats(namespace=ns)
        self.assertEqual(st["total"], 2)
        self.assertEqual([r["key"] for r in c.registry.list(namespace=ns, page_size=1)], ["a", "b"])
        self.assertEqual(c.namespaces.get(ns)["keys"], 2)

    def test_keep_alive_and_retries_after_the_server_closed_it(self):
        c, ns = self.c, self.ns
        c.kv.put(ns, "k", 1)
        sock = c._local.conn.sock
        for _ in range(20):
            c.kv.get(ns, "k")
        self.assertIs(c._local.conn.sock, sock)  # one connection for all of them
        time.sleep(0.8)  # past --idle-timeout-ms 300: the server closed it
        self.assertEqual(c.kv.get(ns, "k"), 1)
        time.sleep(0.8)
        self.assertEqual(c.sql.exec(ns, "CREATE TABLE IF NOT EXISTS t (a)")["changes"], 0)  # a POST

    def test_threads_share_one_client(self):
        c, ns = self.c, self.ns
        errs = []

        def work(t):
            try:
                for i in range(30):
                    c.kv.put(ns, "t%d-%d" % (t, i), i)
            except Exception as e:  # pragma: no cover - reported below
                errs.append(e)
        ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errs, [])
        self.assertEqual(len(list(c.kv.list(ns))), 120)

    def test_unreachable_server_is_connection_failed(self):
        dead = Client("http://127.0.0.1:1", retries=1, timeout=2)
        self.addCleanup(dead.close)
        with self.assertRaises(duro.ConnectionFailed) as e:
            dead.kv.get("x", "y")
        self.assertEqual(e.exception.status, 0)


ADD_ITEMS = """
import sys
sys.path.insert(0, %r)
from duro import Client
from duro.datastore import Datastore
url, kind, proc = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = Datastore(Client(url), namespaces={"list": "dsc-lists"}, d1_namespace="dsc-sql")
db = (ds.kv if kind == "kv" else ds.d1).auth("u%%d" %% proc)
for i in range(10):
    db.queryListAddItem("items", "shared", "p%%d-%%d" %% (proc, i))
"""


class DatastoreContract:
    """The same tests for both adapters (make_store() gives the adapter under test)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.url = "http://127.0.0.1:%d" % cls.srv.port
        cls.client = Client(cls.url)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.srv.close()

    def setUp(self):
        self.tag = unique_ns("d")
        self.ds = Datastore(self.client, namespaces={"project": self.tag + "-p",
                                                     "user": self.tag + "-u",
                                                     "list": self.tag + "-l"},
                            d1_namespace=self.tag + "-sql")
        self.store = self.make_store()

    def test_objects_carry_auth_and_views_see_only_their_own(self):
        alice, bob = self.store.auth("alice"), self.store.auth("bob")
        alice.put("PROJECT", "p1", {"name": "My Project", "n": [1, 2]})
        self.assertEqual(alice.get("PROJECT", "p1"),
                         {"name": "My Project", "n": [1, 2], "_auth": ["alice"]})
        self.assertTrue(alice.exists("PROJECT", "p1"))
        self.assertIsNone(bob.get("PROJECT", "p1"))
        self.assertFalse(bob.exists("PROJECT", "p1"))
        self.assertRaises(NotAuthorized, bob.delete, "PROJECT", "p1")
        self.assertRaises(NotAuthorized, bob.put, "PROJECT", "p1", {"name": "stolen"})
        self.assertEqual(alice.get("project", "p1")["name"], "My Project")  # class is lower-cased
        alice.put("PROJECT", "p1", {"name": "Renamed"})
        self.assertEqual(alice.get("PROJECT", "p1"), {"name": "Renamed", "_auth": ["alice"]})
        self.assertTrue(alice.delete("PROJECT", "p1"))
        self.assertFalse(alice.delete("PROJECT", "p1"))
        self.assertIsNone(alice.get("PROJECT", "p1"))
        composite = ":".join(["proj_1", "page_2"])
        bob.put("USER", composite, {"x": None})
        self.assertEqual(bob.get("USER", "proj_1:page_2"), {"x": None, "_auth": ["bob"]})
        self.assertEqual(self.store.get("USER", composite)["_auth"], ["bob"])  # no user: sees all

    def test_lists(self):
        db = self.store.auth("u1")
        self.assertEqual(db.queryListByPointer("apiKeys", "userId:1"), [])
        for k in ("key_abc123", "key_xyz456", "key_abc789", "key_abc123"):
            db.queryListAddItem("apiKeys", "userId:1", k)
        self.assertEqual(db.queryListByPointer("apiKeys", "userId:1"),
                         ["key_abc123", "key_xyz456", "key_abc789"])
        db.queryListRemoveItem("apiKeys", "userId:1", "key_xyz456")
        db.queryListRemoveItem("apiKeys", "userId:1", "never-there")
        self.assertEqual(db.query_list_by_pointer("apiKeys", "userId:1"),
                         ["key_abc123", "key_abc789"])
        db.queryListAddItem("projects", "12345", "proj_abc")
        db.queryListAddItem("projects", "12345", "proj_xyz")
        self.assertEqual(db.getList("projects", "12345"), ["proj_abc", "proj_xyz"])
        db.queryListClear("apiKeys", "userId:1")
        self.assertEqual(db.queryListByPointer("apiKeys", "userId:1"), [])
        self.assertEqual(db.getList("projects", "12345"), ["proj_abc", "proj_xyz"])

    def test_input_is_validated(self):
        db = self.store.auth("u1")
        for bad in (("", "i"), ("9x", "i"), ("a b", "i"), ("x" * 65, "i"), (None, "i")):
            self.assertRaises(InvalidInput, db.put, bad[0], bad[1], {})
        for bad_id in ("", "x" * 513, "a\0b", 5):
            self.assertRaises(InvalidInput, db.get, "PROJECT", bad_id)
        self.assertRaises(InvalidInput, db.put, "PROJECT", "i", ["not", "a", "dict"])
        self.assertRaises(InvalidInput, db.put, "PROJECT", "i", {"f": object()})
        self.assertRaises(InvalidInput, db.put, "PROJECT", "i", {"big": "x" * (1 << 20)})
        self.assertRaises(InvalidInput, db.queryListAddItem, "l", "p", "")
        self.assertRaises(InvalidInput, self.store.auth, "")

    def test_fifty_concurrent_adds_from_several_processes(self):
        kind = "kv" if isinstance(self.store, KVAdapter) else "d1"
        if kind == "kv":
            ns = {"list": "dsc-lists"}
            Datastore(self.client, namespaces=ns).kv.queryListClear("items", "shared")
        else:
            Datastore(self.client, d1_namespace="dsc-sql").d1.queryListClear("items", "shared")
        procs = [subprocess.Popen([sys.executable, "-c", ADD_ITEMS % SDK, self.url, kind, str(p)],
                                  stderr=subprocess.PIPE) for p in range(5)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err.decode()[-2000:])
        ds = Datastore(self.client, namespaces={"list": "dsc-lists"}, d1_namespace="dsc-sql")
        items = (ds.kv if kind == "kv" else ds.d1).queryListByPointer("items", "shared")
        self.assertEqual(len(items), 50)
        self.assertEqual(sorted(items), sorted("p%d-%d" % (p, i) for p in range(5) for i in range(10)))


class KVDatastore(DatastoreContract, unittest.TestCase):
    def make_store(self):
        return self.ds.kv

    def test_each_class_in_its_own_namespace(self):
        self.store.auth("a").put("PROJECT", "x", {"v": 1})
        self.assertEqual(self.client.kv.get(self.tag + "-p", "project:x"), {"v": 1, "_auth": ["a"]})
        self.assertRaises(InvalidInput, self.store.put, "UNMAPPED", "x", {})


class D1Datastore(DatastoreContract, unittest.TestCase):
    def make_store(self):
        return self.ds.d1

    def test_the_original_schema(self):
        self.store.auth("a").put("PROJECT", "x", {"v": 1})
        rows = self.client.sql.query(self.tag + "-sql",
                                     "SELECT class, id, data, auth_users FROM objects")
        self.assertEqual(rows, [{"class": "project", "id": "x", "data": '{"v":1}',
                                 "auth_users": '["a"]'}])
        cols = [r["name"] for r in self.client.sql.query(self.tag + "-sql", "PRAGMA table_info(lists)")]
        self.assertEqual(cols, ["list_name", "pointer", "item_id", "position", "created_at"])


COUNT_CHECKS = """
import sys
sys.path.insert(0, %r)
from duro.storage_client import create_rate_limiter
limiter = create_rate_limiter(sys.argv[1], limit=30, window_ms=3600000, namespace=sys.argv[2])
print(sum(limiter.checkLimit("user123")["allowed"] for _ in range(20)))
"""


class StorageObjectClient(WithServer):
    """The general storage object's examples, with the same calls in Python."""

    def test_basic_operations_namespaces_and_batches(self):
        storage = create_storage_client(self.url)
        self.addCleanup(storage.client.close)
        self.assertTrue(storage.set("my-key", {"data": "value"}, 60000)["success"])
        result = storage.get("my-key")
        self.assertEqual(result, {"success": True, "data": {"data": "value"}})
        self.assertEqual(storage.delete("my-key"), {"success": True, "data": {"deleted": True}})
        miss = storage.get("my-key")
        self.assertFalse(miss["success"])
        self.assertIn("not found", miss["error"])
        data = {"n": 1}
        storage.set("rate_limit:user123", data, None, "rate_limiting")
        storage.set("session:abc123", data, 60000, "sessions")
        storage.set("custom:key", data, None, "my_namespace")
        self.assertEqual(storage.get("custom:key", "my_namespace")["data"], data)
        self.assertFalse(storage.get("custom:key")["success"])  # another namespace
        self.assertEqual(storage.setMany({"a": 1, "b": 2})["data"]["count"], 2)
        self.assertEqual(storage.getMany(["a", "b", "c"])["data"], {"a": 1, "b": 2})
        self.assertEqual(storage.list()["data"], ["a", "b"])
        self.assertEqual(storage.deleteMany(["a", "c"])["data"], {"deleted": 1})
        self.assertEqual(storage.clear()["data"], {"deleted": 1})
        bad = storage.set("", 1)
        self.assertEqual(bad["success"], False)
        self.assertIn("key", bad["error"])

    def test_helpers(self):
        client = create_storage_client(self.url)
        self.addCleanup(client.client.close)
        helpers = StorageHelpers(client)
        who = unique_ns("u")  # the basic test above stored rate_limit:user123
        self.assertIsNone(helpers.getRateLimit(who))
        now = int(time.time() * 1000)
        helpers.setRateLimit(who, 29, now)
        self.assertEqual(helpers.getRateLimit(who), {"tokens": 29, "lastRefill": now})
        helpers.setSession("session-id", {"user": "u1"}, 7 * 24 * 60 * 60 * 1000)
        self.assertEqual(helpers.getSession("session-id"), {"user": "u1"})

    def test_rate_limiter_is_exact_across_processes(self):
        ns = unique_ns("rl")
        limiter = createRateLimiter(self.url, limit=30, window_ms=3600000, namespace=ns)
        self.addCleanup(limiter.client.close)
        self.assertEqual(limiter.checkLimit("user123"), {"allowed": True, "remaining": 29})
        procs = [subprocess.Popen([sys.executable, "-c", COUNT_CHECKS % SDK, self.url, ns],
                                  stdout=subprocess.PIPE) for _ in range(3)]
        allowed = sum(int(p.communicate(timeout=120)[0]) for p in procs)
        self.assertEqual(allowed, 29)  # 60 checks after the first, exactly 29 let through
        self.assertEqual(limiter.checkLimit("user123"), {"allowed": False, "remaining": 0})

    def test_login_service(self):
        c = Client(self.url)
        self.addCleanup(c.close)
        c.auth.create_user("auth", "ada@example.com", "correct horse battery")
        svc = createLoginService(c)
        result = svc.login({"email": "ada@example.com", "password": "correct horse battery"})
        self.assertTrue(result["success"])
        self.assertEqual(result["session"]["userId"], c.auth.session("auth", result["sessionId"])["userId"])
        bad = svc.login(email="ada@example.com", password="wrong one")
        self.assertEqual(bad["success"], False)


class Example(unittest.TestCase):
    def test_the_todo_example_runs(self):
        srv = Server()
        self.addCleanup(srv.close)
        env = dict(os.environ, DURO_URL="http://127.0.0.1:%d" % srv.port, PYTHONPATH=SDK,
                   ERA_STORAGE_URL="http://127.0.0.1:%d" % srv.port)
        app = os.path.join(ROOT, "examples", "python", "todo.py")

        def run(*args):
            out = subprocess.run([sys.executable, app] + list(args), env=env, capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout
        self.assertEqual(run("add", "alice", "buy milk"), "added task 1\n")
        self.assertEqual(run("add", "alice", "write docs"), "added task 2\n")
        self.assertEqual(run("add", "bob", "fix bike"), "added task 3\n")
        run("done", "alice", "1")
        self.assertEqual(run("list", "alice"), "2\twrite docs\t(added by alice)\n")
        self.assertEqual(run("list", "bob"), "3\tfix bike\t(added by bob)\n")
        c = Client(env["DURO_URL"])
        self.addCleanup(c.close)
        self.assertEqual(c.sql.query("todo-example", "SELECT id, done FROM tasks ORDER BY id"),
                         [{"id": 1, "done": 1}, {"id": 2, "done": 0}, {"id": 3, "done": 0}])
        self.assertIsInstance(c.kv.get("todo-example", "seen:alice"), int)


class Install(unittest.TestCase):
    def test_pip_install_gives_both_modules(self):
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as src:
            # from a copy: setuptools writes build/ and *.egg-info beside the sources
            src = shutil.copytree(SDK, os.path.join(src, "python"),
                                  ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
            out = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                                  "--no-deps", "--no-build-isolation", "--target", d, src],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr[-2000:])
            check = ("import duro, era_storage, inspect; print(duro.__version__, "
                     "inspect.getsourcefile(era_storage).startswith(%r))" % d)
            out = subprocess.run([sys.executable, "-c", check], cwd=d, capture_output=True,
                                 text=True, timeout=60, env={"PYTHONPATH": d})
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.split(), ["0.1.0", "True"])


class Tokens(unittest.TestCase):
    def test_token_from_the_environment(self):
        srv = Server(extra_args=["--auth-token", "s3cret-token-for-tests"])
        try:
            url = "http://127.0.0.1:%d" % srv.port
            with Client(url, token="") as c:
                self.assertRaises(duro.Unauthorized, c.kv.get, "n", "k")
            os.environ["DURO_TOKEN"] = "s3cret-token-for-tests"
            try:
                with Client(url) as c:
                    c.kv.put("n", "k", 1)
                    self.assertEqual(c.kv.get("n", "k"), 1)
            finally:
                del os.environ["DURO_TOKEN"]
            with Client(url, token="wrong") as c:
                self.assertRaises(duro.Unauthorized, c.kv.get, "n", "k")
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
