#!/usr/bin/python3
"""Fault injection (docs/testing.md) against a real durod started with
--errinj: with a storage fault on, writes answer what the fault maps to —
507 INSUFFICIENT_STORAGE for a full disk (SQLITE_FULL), 500 IO for an I/O
error and a failed fsync, 500 NOMEM for a failed allocation — over HTTP (the
JSON error envelope) and the binary protocol; reads keep working; nothing
acknowledged before is lost; once the fault is cleared writes work again
without a restart, and a restart afterwards shows the same data. Without
--errinj the route does not exist."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, Server, assert_error, free_port, kv_path, main, ok,  # noqa: E402
                      storage_path)

# point -> (HTTP status, wire code, message of a refused write)
# the points on a write's path; the namespace file's own (sqlite_full,
# sqlite_ioerr, fsync) fire when the commit log is applied to it, which is
# retried and loses nothing (tests/unit/runtime/errinj.c)
FAULTS = {
    "log_write": (507, "INSUFFICIENT_STORAGE",
                  "the data directory's disk is full; nothing was written"),
    "log_sync": (500, "IO", "storage error, nothing was written: I/O error"),
    "alloc": (500, "NOMEM", "storage error, nothing was written: out of memory"),
}
POINTS = ["registry_apply", "registry_rebuild", "sqlite_full", "sqlite_ioerr", "fsync", "blob_write",
          "log_write", "log_sync", "alloc"]
ON = 1000  # "on" for the length of a test step: far more passes than the step makes


class FaultInjection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rpc_port = free_port()
        cls.srv = Server(extra_args=["--errinj", "--rpc-port", str(cls.rpc_port)])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop_ok()
        finally:
            cls.srv.close()

    def inject(self, point, count):
        counters = ok(self.srv.req("POST", "/_errinj", {"point": point, "count": count}))
        self.assertEqual(counters[point], count)
        return counters

    def put(self, ns, key, value):
        return self.srv.req("PUT", kv_path(key, ns=ns), {"value": value})

    def registry_keys(self, ns):
        r = self.srv.req("GET", "/api/resources/list?namespace=%s&limit=1000" % ns)
        self.assertEqual(r.status, 200, r)
        return sorted(x["key"] for x in r.body["resources"])

    def test_0_the_route(self):
        counters = ok(self.srv.req("GET", "/_errinj"))
        self.assertEqual(sorted(counters), sorted(POINTS))
        self.assertTrue(all(v == 0 for v in counters.values()), counters)
        post = lambda body: self.srv.req("POST", "/_errinj", body)  # noqa: E731
        assert_error(post({"point": "nope", "count": 1}), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync", "count": -1}), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync", "count": 1000001}), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync", "count": "1"}), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync", "count": 1, "x": 1}), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync"}), 400, "BAD_REQUEST")
        assert_error(post(b"{"), 400, "BAD_REQUEST")
        assert_error(post({"point": "fsync", "count": 1, "pad": "x" * 2000}), 413,
                     "PAYLOAD_TOO_LARGE")
        assert_error(self.srv.req("DELETE", "/_errinj"), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.srv.req("GET", "/_errinj?x=1"), 400, "BAD_REQUEST")
        self.assertTrue(all(v == 0 for v in ok(self.srv.req("GET", "/_errinj")).values()))

    def test_1_each_fault_refuses_writes_and_keeps_the_data(self):
        rpc = Rpc(self.rpc_port)
        self.addCleanup(rpc.close)
        acked = {}  # (ns, key) -> value
        for n, point in enumerate(FAULTS):
            ns = "inj-%d" % n
            status, code, msg = FAULTS[point]
            for i in range(20):
                ok(self.put(ns, "a%02d" % i, i))
                acked[(ns, "a%02d" % i)] = i
            self.inject(point, ON)
            # writes fail: HTTP, an HTTP batch, the binary protocol
            for i in range(5):
                r = self.put(ns, "b%02d" % i, i)
                assert_error(r, status, code, point)
                self.assertEqual(r.body["error"]["message"], msg, point)
            r = self.srv.req("POST", storage_path("batch/set", ns=ns),
                             {"entries": [{"key": "c1", "value": 1}, {"key": "c2", "value": 2}]})
            assert_error(r, status, code, point)
            st, body = rpc.call("kv.put", ns, {"key": "r1", "value": 1})
            self.assertEqual((st, body["code"], body["message"]), (getattr(St, code), code, msg),
                             point)
            # an overwrite fails too and leaves the old value
            assert_error(self.put(ns, "a00", "changed"), status, code, point)
            # reads keep working and see every acknowledged write, nothing else
            for i in range(20):
                self.assertEqual(ok(self.srv.req("GET", kv_path("a%02d" % i, ns=ns))), i)
            self.assertEqual(rpc.call("kv.get", ns, {"key": "a05"}), (St.OK, 5))
            self.assertEqual(self.srv.list_all(ns=ns), ["a%02d" % i for i in range(20)])
            # cleared: writes work again, without a restart
            self.assertTrue(all(v == 0 for v in self.inject(point, 0).values()))
            ok(self.put(ns, "b00", "after"))
            acked[(ns, "b00")] = "after"
            st, body = rpc.call("kv.put", ns, {"key": "r1", "value": 1})
            self.assertEqual(st, St.OK, body)
            acked[(ns, "r1")] = 1
        self.check(acked)
        self.srv.restart()
        self.check(acked)

    def check(self, acked):
        by_ns = {}
        for (ns, key), value in acked.items():
            by_ns.setdefault(ns, []).append(key)
            self.assertEqual(ok(self.srv.req("GET", kv_path(key, ns=ns))), value, (ns, key))
        for ns, keys in by_ns.items():
            self.assertEqual(self.srv.list_all(ns=ns), sorted(keys))
            self.assertEqual(self.registry_keys(ns), sorted(keys))


class WithoutTheFlag(unittest.TestCase):
    def test_the_route_does_not_exist(self):
        srv = Server()
        try:
            assert_error(srv.req("GET", "/_errinj"), 404, "NOT_FOUND")
            assert_error(srv.req("POST", "/_errinj", {"point": "sqlite_full", "count": 1}),
                         404, "NOT_FOUND")
            ok(srv.req("PUT", kv_path("k", ns="plain"), {"value": 1}))  # nothing was injected
            srv.stop_ok()
        finally:
            srv.close()


class WithAccessControl(unittest.TestCase):
    def test_it_needs_the_admin_token(self):
        srv = Server(extra_args=["--errinj", "--auth-token", "secret-token"])
        try:
            body = {"point": "fsync", "count": 1}
            assert_error(srv.req("POST", "/_errinj", body), 401, "UNAUTHORIZED")
            admin = {"Authorization": "Bearer secret-token"}
            self.assertEqual(ok(srv.req("POST", "/_errinj", body, headers=admin))["fsync"], 1)
            ok(srv.req("POST", "/_errinj", {"point": "fsync", "count": 0}, headers=admin))
            srv.stop_ok()
        finally:
            srv.close()


if __name__ == "__main__":
    main()
