#!/usr/bin/python3
"""Namespaces as objects (docs/namespaces.md): GET /api/namespaces (paged by
cursor, prefix filter), GET and DELETE /api/namespaces/{ns}, GET /api/info,
and the binary ops namespaces.list / .get / .delete and server.info: reply
shapes, paging and bounds, a delete removes the files and the registry rows
durably (also across a restart), a write after it starts a fresh namespace,
a delete needs the admin token when access control is on, and writes racing
with deletes neither crash nor corrupt."""
import glob
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, Server, ServerTestCase, api_path, assert_error, bearer,  # noqa: E402
                      free_port, jwt, main, ok)

ADMIN = "admin-" + "n" * 40
SECRET = "s" * 40
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NS_KEYS = {"namespace", "keys", "bytes", "tables", "blobs", "last_write", "last_write_ms"}
LIST_KEYS = {"namespaces", "total", "limit", "has_more", "next"}
INFO_KEYS = {"version", "started_at", "uptime_ms", "sync", "actors", "namespaces_open",
             "namespaces_total", "cache_bytes", "cache_hits", "cache_misses", "cache_hit_rate",
             "commits", "data_bytes", "disk_free_bytes", "disk_total_bytes"}


def files_of(data_dir, ns):
    return glob.glob(os.path.join(data_dir, "ns", "*", ns + ".db*"))


class Asserts:
    def put(self, ns, key, value=1, headers=None):
        r = self.req("PUT", api_path(ns, key), {"value": value}, headers=headers)
        self.assertIn(r.status, (200, 201), r)

    def check_ns(self, rec, ns, keys):
        self.assertEqual(set(rec), NS_KEYS)
        self.assertEqual(rec["namespace"], ns)
        self.assertEqual(rec["keys"], keys)
        self.assertGreater(rec["bytes"], 0)
        self.assertEqual((rec["tables"], rec["blobs"]), (0, 0))
        self.assertRegex(rec["last_write"], ISO_RE)
        self.assertIsInstance(rec["last_write_ms"], int)

    def list_all(self, prefix, limit):
        names, after, pages = [], None, 0
        while True:
            path = "/api/namespaces?prefix=%s&limit=%d" % (prefix, limit)
            if after:
                path += "&after=" + after
            d = ok(self.req("GET", path))
            self.assertEqual(set(d), LIST_KEYS)
            self.assertLessEqual(len(d["namespaces"]), limit)
            names += [r["namespace"] for r in d["namespaces"]]
            pages += 1
            if not d["has_more"]:
                self.assertIsNone(d["next"])
                return names, d["total"], pages
            after = d["next"]
            self.assertEqual(after, names[-1])


class NamespaceRoutes(Asserts, ServerTestCase):
    server_args = ["--rpc-port", "0"]

    def test_get_and_list_shapes(self):
        for k in ("a", "b", "c"):
            self.put(self.ns, k)
        rec = ok(self.req("GET", "/api/namespaces/" + self.ns))
        self.check_ns(rec, self.ns, 3)
        d = ok(self.req("GET", "/api/namespaces?prefix=" + self.ns))
        self.assertEqual(set(d), LIST_KEYS)
        self.assertEqual(d["total"], 1)
        self.assertEqual(d["limit"], 100)
        self.assertFalse(d["has_more"])
        self.check_ns(d["namespaces"][0], self.ns, 3)
        # HEAD and msgpack replies
        self.assertEqual(self.req("HEAD", "/api/namespaces/" + self.ns).status, 200)
        r = self.req("GET", "/api/namespaces/" + self.ns, accept_msgpack=True)
        self.assertEqual(r.status, 200)

    def test_paging(self):
        names = sorted("%s-%02d" % (self.ns, i) for i in range(7))
        for n in names:
            self.put(n, "k")
        got, total, pages = self.list_all(self.ns + "-", 3)
        self.assertEqual(got, names)
        self.assertEqual(total, 7)
        self.assertEqual(pages, 3)
        d = ok(self.req("GET", "/api/namespaces?limit=0&prefix=" + self.ns + "-"))
        # limit=0 counts: has_more says there is a name to show, no cursor moves
        self.assertEqual((d["namespaces"], d["total"], d["has_more"], d["next"]),
                         ([], 7, True, None))
        d = ok(self.req("GET", "/api/namespaces?limit=2&prefix=%s-&after=%s" % (self.ns, names[4])))
        self.assertEqual([r["namespace"] for r in d["namespaces"]], names[5:7])

    def test_bad_parameters(self):
        for q in ("limit=1001", "limit=-1", "limit=x", "after=..x", "prefix=a/b", "what=1"):
            assert_error(self.req("GET", "/api/namespaces?" + q), 400, "BAD_REQUEST", q)
        assert_error(self.req("GET", "/api/namespaces/x?limit=1"), 400, "BAD_REQUEST")
        assert_error(self.req("GET", "/api/namespaces/_bad"), 400, "BAD_REQUEST")
        assert_error(self.req("GET", "/api/namespaces/a/b"), 404, "NOT_FOUND")
        assert_error(self.req("POST", "/api/namespaces", {}), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("DELETE", "/api/namespaces"), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("PUT", "/api/namespaces/x", {}), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("POST", "/api/info", {}), 405, "METHOD_NOT_ALLOWED")

    def test_missing_namespace(self):
        assert_error(self.req("GET", "/api/namespaces/" + self.ns), 404, "NOT_FOUND")
        assert_error(self.req("DELETE", "/api/namespaces/" + self.ns), 404, "NOT_FOUND")
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])  # the 404 wrote nothing

    def test_info(self):
        self.put(self.ns, "k")
        d = ok(self.req("GET", "/api/info"))
        self.assertEqual(set(d), INFO_KEYS)
        self.assertRegex(d["version"], r"^\d+\.\d+\.\d+")
        self.assertRegex(d["started_at"], ISO_RE)
        self.assertEqual(d["sync"], "full")
        self.assertGreaterEqual(d["actors"], 1)
        self.assertGreaterEqual(d["namespaces_total"], 1)
        self.assertGreaterEqual(d["namespaces_open"], 1)
        self.assertGreaterEqual(d["commits"], 1)
        self.assertGreater(d["data_bytes"], 0)
        self.assertGreater(d["disk_free_bytes"], 0)
        self.assertGreaterEqual(d["disk_total_bytes"], d["disk_free_bytes"])
        self.assertTrue(0.0 <= d["cache_hit_rate"] <= 1.0)

    def test_delete(self):
        for k in ("a", "b"):
            self.put(self.ns, k)
        self.put(self.ns + "-other", "k")
        self.assertTrue(files_of(self.server.data_dir, self.ns))
        d = ok(self.req("DELETE", "/api/namespaces/" + self.ns))
        self.assertEqual(d, {"namespace": self.ns, "deleted": True})
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])
        assert_error(self.req("GET", "/api/namespaces/" + self.ns), 404, "NOT_FOUND")
        reg = self.req("GET", "/api/resources/list?namespace=" + self.ns)
        self.assertEqual(reg.status, 200)
        self.assertEqual(reg.body["total"], 0)
        assert_error(self.req("GET", api_path(self.ns, "a")), 404, "NOT_FOUND")
        # the neighbour is untouched
        self.check_ns(ok(self.req("GET", "/api/namespaces/" + self.ns + "-other")),
                      self.ns + "-other", 1)
        # a write after the delete starts a fresh namespace
        self.put(self.ns, "c")
        self.check_ns(ok(self.req("GET", "/api/namespaces/" + self.ns)), self.ns, 1)
        reg = self.req("GET", "/api/resources/list?namespace=" + self.ns)
        self.assertEqual([r["key"] for r in reg.body["resources"]], ["c"])
        assert_error(self.req("GET", api_path(self.ns, "a")), 404, "NOT_FOUND")

    def test_a_stray_wal_is_not_replayed_into_a_new_file(self):
        # a crash between the unlinks of a delete leaves a -wal without its
        # .db: nothing of it may show in the next file of that name (store.c
        # removes such strays before it creates a file)
        src, dst = self.ns + "-src", self.ns + "-dst"
        for k in ("s1", "s2"):
            self.put(src, k)
        self.put(dst, "old")
        shard_dir = os.path.dirname(files_of(self.server.data_dir, dst)[0])
        ok(self.req("DELETE", "/api/namespaces/" + dst))
        wal = [f for f in files_of(self.server.data_dir, src) if f.endswith("-wal")]
        self.assertTrue(wal and os.path.getsize(wal[0]) > 0, wal)
        with open(wal[0], "rb") as f, open(os.path.join(shard_dir, dst + ".db-wal"), "wb") as g:
            g.write(f.read())
        self.put(dst, "new")
        listed = ok(self.req("GET", api_path(dst)))["keys"]
        self.assertEqual([k["name"] if isinstance(k, dict) else k for k in listed], ["new"])

    def test_writes_racing_deletes(self):
        ns = self.ns
        stop = threading.Event()
        errors = []

        def writer(i):
            n = 0
            while not stop.is_set():
                r = self.server.req("PUT", api_path(ns, "k%d-%d" % (i, n % 20)), {"value": n})
                if r.status not in (200, 201):
                    errors.append(r)
                n += 1

        def deleter():
            for _ in range(40):
                r = self.server.req("DELETE", "/api/namespaces/" + ns)
                if r.status not in (200, 404):
                    errors.append(r)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        d = threading.Thread(target=deleter)
        d.start()
        d.join()
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.put(ns, "last")  # the last delete may have come after every write
        # what is left is consistent: the registry counts what the file holds
        listed = []
        cursor = None
        while True:
            path = api_path(ns, limit=1000, **({"cursor": cursor} if cursor else {}))
            page = ok(self.req("GET", path))
            listed += page["keys"]
            if page["list_complete"]:
                break
            cursor = page["cursor"]
        rec = ok(self.req("GET", "/api/namespaces/" + ns))
        self.assertEqual(rec["keys"], len(listed))
        reg = self.req("GET", "/api/resources/list?limit=1000&namespace=" + ns)
        self.assertEqual(reg.body["total"], len(listed))


class LoginRacingDelete(Asserts, ServerTestCase):
    """A login whose password check (Argon2id, full cost: some 100 ms) is on
    the worker pool when its namespace is deleted must not create a session
    in the new, empty namespace: whatever the order, no file is left."""

    def test_no_session_in_the_new_namespace(self):
        creds = {"email": "a@example.com", "password": "correct horse battery"}
        for attempt in range(3):
            ns = "%s-%d" % (self.ns, attempt)
            r = self.req("POST", "/auth/users?ns=" + ns, creds)
            self.assertIn(r.status, (200, 201), r)
            out = []
            t = threading.Thread(target=lambda: out.append(
                self.server.req("POST", "/auth/login?ns=" + ns, creds, timeout=30)))
            t.start()
            time.sleep(0.03 * (attempt + 1))
            ok(self.req("DELETE", "/api/namespaces/" + ns))
            t.join()
            self.assertIn(out[0].status, (200, 401, 503), out[0])
            if out[0].status == 401:
                continue  # it came after the delete: its failure is counted in a new file
            self.assertEqual(files_of(self.server.data_dir, ns), [], out[0])
            assert_error(self.req("GET", "/api/namespaces/" + ns), 404, "NOT_FOUND")


class NamespaceRpc(Asserts, unittest.TestCase):
    """The same through the binary protocol, and across a restart."""

    def setUp(self):
        self.server = Server(rpc=True)
        self.ns = "rpc-ns"

    def tearDown(self):
        self.server.stop_ok()
        self.server.close()

    def req(self, *a, **kw):
        return self.server.req(*a, **kw)

    def test_ops_and_restart(self):
        with Rpc(self.server.rpc_port) as c:
            for k in ("a", "b"):
                self.assertIn(c.call("kv.put", self.ns, {"key": k, "value": 1})[0],
                              (St.OK, St.CREATED))
            st, rec = c.call("namespaces.get", "", {"namespace": self.ns})
            self.assertEqual(st, St.OK)
            self.check_ns(rec, self.ns, 2)
            st, page = c.call("namespaces.list", "", {"prefix": "rpc-", "limit": 10})
            self.assertEqual(st, St.OK)
            self.assertEqual(set(page), LIST_KEYS)
            self.assertEqual([r["namespace"] for r in page["namespaces"]], [self.ns])
            st, info = c.call("server.info", "", {})
            self.assertEqual((st, set(info)), (St.OK, INFO_KEYS))
            self.assertEqual(c.call("namespaces.list", "", {"limit": "1"})[0], St.BAD_REQUEST)
            self.assertEqual(c.call("namespaces.get", "", {})[0], St.BAD_REQUEST)
            self.assertEqual(c.call("namespaces.delete", self.ns, {"x": 1})[0], St.BAD_REQUEST)
            st, body = c.call("namespaces.delete", self.ns, {})
            self.assertEqual((st, body), (St.OK, {"namespace": self.ns, "deleted": True}))
            self.assertEqual(c.call("namespaces.delete", self.ns, {})[0], St.NOT_FOUND)
            self.assertEqual(c.call("namespaces.get", "", {"namespace": self.ns})[0],
                             St.NOT_FOUND)
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])
        self.server.restart()
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])
        assert_error(self.req("GET", "/api/namespaces/" + self.ns), 404, "NOT_FOUND")
        self.assertEqual(self.req("GET", "/api/resources/list?namespace=" + self.ns).body["total"],
                         0)
        assert_error(self.req("GET", api_path(self.ns, "a")), 404, "NOT_FOUND")


class NamespaceAccess(Asserts, ServerTestCase):
    rpc_port = free_port()
    server_args = ["--auth-token", ADMIN, "--jwt-secret", SECRET, "--rpc-port", str(rpc_port)]

    def test_delete_needs_the_admin_token(self):
        adm = bearer(ADMIN)
        self.put(self.ns, "k", headers=adm)
        path = "/api/namespaces/" + self.ns
        assert_error(self.req("DELETE", path), 401, "UNAUTHORIZED")
        writer = bearer(jwt(SECRET, {"ns": [self.ns]}))
        anyns = bearer(jwt(SECRET, {"ns": "*"}))
        assert_error(self.req("DELETE", path, headers=writer), 403, "FORBIDDEN")
        assert_error(self.req("DELETE", path, headers=anyns), 403, "FORBIDDEN")
        # a token of the namespace may read its figures, not the list
        self.check_ns(ok(self.req("GET", path, headers=writer)), self.ns, 1)
        assert_error(self.req("GET", "/api/namespaces", headers=bearer(jwt(SECRET, {"ns": ["x"]}))),
                     403, "FORBIDDEN")
        assert_error(self.req("GET", "/api/info"), 401, "UNAUTHORIZED")
        ok(self.req("GET", "/api/info", headers=adm))
        self.assertTrue(files_of(self.server.data_dir, self.ns))
        self.assertEqual(ok(self.req("DELETE", path, headers=adm)),
                         {"namespace": self.ns, "deleted": True})
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])

    def test_rpc_delete_needs_the_admin_token(self):
        self.put(self.ns, "k", headers=bearer(ADMIN))
        with Rpc(self.rpc_port) as c:
            self.assertEqual(c.call("namespaces.delete", self.ns, {})[0], St.UNAUTHORIZED)
            self.assertEqual(c.call("auth", "", {"token": jwt(SECRET, {"ns": [self.ns]})})[0],
                             St.OK)
            self.assertEqual(c.call("namespaces.delete", self.ns, {})[0], St.FORBIDDEN)
            self.assertEqual(c.call("namespaces.get", "", {"namespace": self.ns})[0], St.OK)
            self.assertEqual(c.call("auth", "", {"token": ADMIN})[0], St.OK)
            self.assertEqual(c.call("namespaces.delete", self.ns, {})[0], St.OK)
        self.assertEqual(files_of(self.server.data_dir, self.ns), [])


if __name__ == "__main__":
    main()
