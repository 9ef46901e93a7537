#!/usr/bin/python3
"""The namespace snapshot (/api/storage?ns=): GET as one object with the
namespace ETag, atomic PATCH under If-Match (201/200/412/400/413), one store
with the KV routes, expiry, racing PATCHes, CORS preflight."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import ServerTestCase, assert_error, kv_path, main, ok  # noqa: E402


class Snapshot(ServerTestCase):
    server_args = ["--max-snapshot-bytes", "4096", "--max-body-bytes", "65536", "--rpc-port", "0"]

    def path(self):
        return "/api/storage?ns=" + self.ns

    def patch(self, ops, etag=None):
        h = {"If-Match": '"%s"' % etag} if etag is not None else {}
        return self.req("PATCH", self.path(), ops, headers=h)

    def test_empty_then_create_then_update(self):
        r = self.req("GET", self.path())
        self.assertEqual((r.status, r.body, r.headers["etag"], r.headers["x-storage-backend"]),
                         (200, {}, '"0"', "sqlite"))
        r = self.patch([{"op": "set", "key": "a", "value": 1}, {"op": "set", "key": "b", "value": [2]}], 0)
        self.assertEqual(r.status, 201)
        e1 = r.headers["etag"]
        self.assertNotEqual(e1, '"0"')
        r = self.req("GET", self.path())
        self.assertEqual((r.body, r.headers["etag"]), ({"a": 1, "b": [2]}, e1))
        r = self.patch([{"op": "del", "key": "a"}, {"op": "set", "key": "c", "value": None}], e1.strip('"'))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.req("GET", self.path()).body, {"b": [2], "c": None})
        r = self.patch([{"op": "del", "key": "b"}], e1.strip('"'))  # stale
        assert_error(r, 412, "PRECONDITION_FAILED")
        self.assertEqual(r.headers["etag"], self.req("GET", self.path()).headers["etag"])

    def test_bad_ops_apply_nothing(self):
        ok(self.patch([{"op": "set", "key": "keep", "value": 1}]), 201)
        before = self.req("GET", self.path())
        for ops in ([{"op": "set", "key": "x", "value": 1}, {"op": "nope", "key": "y"}],
                    [{"op": "set", "key": "x"}], [{"op": "del"}], [{"op": "set", "key": "", "value": 1}],
                    {"op": "set"}, "x", [1]):
            with self.subTest(ops=str(ops)[:50]):
                assert_error(self.patch(ops), 400, "BAD_REQUEST")
        assert_error(self.patch([{"op": "set", "key": "big", "value": "x" * 70000}]), 413,
                     "PAYLOAD_TOO_LARGE")
        after = self.req("GET", self.path())
        self.assertEqual((after.body, after.headers["etag"]), (before.body, before.headers["etag"]))

    def test_one_store_with_kv_routes_and_expiry(self):
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": "from kv"}))
        t0 = time.monotonic()
        ok(self.req("PUT", kv_path("t", ns=self.ns), {"value": 1, "ttlMs": 1000}))
        snap = self.req("GET", self.path()).body
        if time.monotonic() - t0 < 1.0:  # a loaded machine may be slower than the TTL
            self.assertEqual(snap, {"k": "from kv", "t": 1})
        ok(self.patch([{"op": "set", "key": "p", "value": "from patch"}]))
        self.assertEqual(ok(self.req("GET", kv_path("p", ns=self.ns))), "from patch")
        time.sleep(max(0.0, 1.1 - (time.monotonic() - t0)))
        self.assertEqual(self.req("GET", self.path()).body, {"k": "from kv", "p": "from patch"})

    def test_too_large_snapshot(self):
        ok(self.req("POST", "/storage/batch/set?ns=" + self.ns,
                    {"entries": [{"key": "k%d" % i, "value": "v" * 100} for i in range(60)]}))
        r = self.req("GET", self.path())
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("list", r.body["error"]["message"])

    def test_racing_patches_one_wins(self):
        r = self.patch([{"op": "set", "key": "n", "value": 0}], 0)
        etag = r.headers["etag"].strip('"')
        results = []

        def worker(i):
            results.append(self.patch([{"op": "set", "key": "n", "value": i}], etag).status)

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(results), [200] + [412] * 7)

    def test_cors_preflight(self):
        r = self.req("OPTIONS", self.path(), headers={"Origin": "http://app.example"})
        self.assertEqual(r.status, 204)
        self.assertIn("PATCH", r.headers["access-control-allow-methods"])
        for h in ("Authorization", "If-Match", "If-None-Match", "Content-Type", "X-Namespace", "X-App-Id"):
            self.assertIn(h, r.headers["access-control-allow-headers"])
        self.assertEqual(r.headers["access-control-expose-headers"], "ETag, X-Storage-Backend")
        self.assertEqual(r.headers["access-control-allow-origin"], "*")  # loopback, no auth
        r = self.req("GET", self.path(), headers={"Origin": "http://app.example"})
        self.assertEqual(r.headers["access-control-allow-origin"], "*")
        self.assertEqual(self.req("OPTIONS", "/storage/anything").status, 204)


class SnapshotCorsConfigured(ServerTestCase):
    server_args = ["--cors-origin", "https://a.example, https://b.example", "--rpc-port", "0"]

    def test_only_listed_origins(self):
        r = self.req("OPTIONS", "/api/storage?ns=x", headers={"Origin": "https://b.example"})
        self.assertEqual(r.headers["access-control-allow-origin"], "https://b.example")
        r = self.req("OPTIONS", "/api/storage?ns=x", headers={"Origin": "https://evil.example"})
        self.assertNotIn("access-control-allow-origin", r.headers)


if __name__ == "__main__":
    main()
