#!/usr/bin/python3
"""Namespaces without a file: every read, list, snapshot, session or rate-limit
lookup, and every "write" that changes nothing (deleting a missing key, clear,
batch delete, revoke, unregister, a failed If-Match), answers as for an empty
namespace and creates no file; the first write that changes something creates
the file, and everything survives a restart."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (ServerTestCase, api_path, assert_error, kv_path, main, ok,  # noqa: E402
                      storage_path)

SID = "A" * 42 + "A"  # well formed, never issued


def ns_files(data_dir, prefix):
    """The files under <data>/ns of namespaces whose name starts with prefix."""
    out = []
    for root, _, files in os.walk(os.path.join(data_dir, "ns")):
        out += [os.path.join(root, f) for f in files if f.startswith(prefix)]
    return sorted(out)


class GhostNamespaces(ServerTestCase):
    server_args = ["--actors", "2"]

    def db_names(self):
        return sorted(os.path.basename(p) for p in ns_files(self.server.data_dir, self.ns)
                      if p.endswith(".db"))

    def touch_everything(self, ns):
        """Every read route, and every write that changes nothing in an empty
        namespace, against ns; asserts the empty answers."""
        r = self.req
        assert_error(r("GET", kv_path("k", ns=ns)), 404, "NOT_FOUND")
        assert_error(r("GET", kv_path("k", ns=ns, meta=1)), 404, "NOT_FOUND")
        assert_error(r("GET", api_path(ns, "k")), 404, "NOT_FOUND")
        for values in (0, 1):
            d = ok(r("GET", storage_path("list", ns=ns, values=values, prefix="p", limit=10)))
            self.assertEqual(d, {"keys": [], "cursor": None, "list_complete": True})
        self.assertEqual(ok(r("GET", api_path(ns, prefix="x")))["keys"], [])
        self.assertEqual(ok(r("POST", storage_path("batch/get", ns=ns), {"keys": ["a", "b"]})), {})
        snap = r("GET", "/api/storage?ns=" + ns)
        self.assertEqual((snap.status, snap.body, snap.headers.get("etag")), (200, {}, '"0"'))
        self.assertEqual(ok(r("DELETE", kv_path("k", ns=ns))), {"deleted": False})
        self.assertEqual(ok(r("DELETE", api_path(ns, "k"))), {"deleted": False})
        self.assertEqual(ok(r("POST", storage_path("batch/delete", ns=ns), {"keys": ["a"]})),
                         {"deleted": 0})
        self.assertEqual(ok(r("POST", storage_path("clear", ns=ns))), {"deleted": 0})
        assert_error(r("PUT", kv_path("k", ns=ns), {"value": 1}, headers={"If-Match": '"3"'}),
                     412, "PRECONDITION_FAILED")
        assert_error(r("PATCH", "/api/storage?ns=" + ns, [{"op": "del", "key": "k"}],
                       headers={"If-Match": '"9"'}), 412, "PRECONDITION_FAILED")
        # sessions: get (a "write": rolling sessions extend), put, delete, per user
        assert_error(r("GET", "/sessions/%s?ns=%s" % (SID, ns)), 404, "NOT_FOUND")
        assert_error(r("PUT", "/sessions/%s?ns=%s" % (SID, ns), {"data": {}}), 404, "NOT_FOUND")
        self.assertEqual(ok(r("DELETE", "/sessions/%s?ns=%s" % (SID, ns))), {"deleted": False})
        d = ok(r("GET", "/users/u1/sessions?ns=" + ns))
        self.assertEqual((d["sessions"], d["count"]), ([], 0))
        self.assertEqual(ok(r("DELETE", "/users/u1/sessions?ns=" + ns)), {"deleted": 0})
        assert_error(r("GET", "/auth/session?ns=" + ns, headers={"Authorization": "Bearer " + SID}),
                     401, "UNAUTHORIZED")
        # rate limiter: looking and resetting keep no state
        d = ok(r("GET", "/ratelimit/k?ns=" + ns))
        self.assertEqual((d["allowed"], d["remaining"]), (True, d["limit"]))
        self.assertEqual(ok(r("DELETE", "/ratelimit/k?ns=" + ns)), {"deleted": False})
        # registry: reads, and unregistering what is not there
        self.assertEqual(r("GET", "/api/resources/list?namespace=" + ns).body["total"], 0)
        self.assertEqual(r("GET", "/api/resources/stats?namespace=" + ns).body["total"], 0)
        self.assertEqual(ok(r("DELETE", "/api/resources/unregister?type=do&namespace=%s&key=x"
                              % ns)), {"deleted": False})

    def test_1_reads_create_no_file(self):
        base = self.ns
        for i in range(40):
            self.touch_everything("%s-ghost%d" % (base, i))
        self.assertEqual(ns_files(self.server.data_dir, base), [])
        # nothing at all was created under ns/ (no shard directory either): this
        # test runs first on a fresh server
        self.assertEqual(os.listdir(os.path.join(self.server.data_dir, "ns")), [])

    def test_2_first_real_write_creates_the_file_and_survives_restart(self):
        srv = self.server
        written = "%s-real" % self.ns
        self.touch_everything(written)
        self.assertEqual(ns_files(srv.data_dir, self.ns), [])
        # each of these changes something: each creates its namespace's file
        ok(srv.req("PUT", kv_path("k", ns=written), {"value": {"x": 1}}))
        sid = ok(srv.req("POST", "/sessions?ns=%s-sess" % self.ns,
                         {"data": {"a": 1}, "ttlMs": 600000, "userId": "u"}), 201)["id"]
        d = ok(srv.req("POST", "/ratelimit/k/check?ns=%s-rl" % self.ns,
                       {"limit": 3, "windowMs": 600000}))
        self.assertEqual(d["remaining"], 2)
        names = self.db_names()
        self.assertEqual(names, sorted("%s-%s.db" % (self.ns, s) for s in ("real", "sess", "rl")))
        # ghosts used in between never saw the real namespaces' state
        self.touch_everything("%s-after" % self.ns)
        srv.restart()
        self.assertEqual(srv.get("k", ns=written), {"x": 1})
        self.assertEqual(ok(srv.req("GET", "/sessions/%s?ns=%s-sess" % (sid, self.ns)))["data"],
                         {"a": 1})
        d = ok(srv.req("GET", "/ratelimit/k?ns=%s-rl" % self.ns))
        self.assertEqual((d["limit"], d["remaining"]), (3, 2))  # the state was kept
        reg = srv.req("GET", "/api/resources/list?namespace=" + written).body
        self.assertEqual(reg["total"], 1)
        self.touch_everything("%s-after2" % self.ns)
        self.assertEqual(self.db_names(), names)


if __name__ == "__main__":
    main()
