#!/usr/bin/python3
"""Sessions over HTTP and the binary protocol: create/get/put/delete, TTL and
rolling expiry, per-user list and revoke-all, errors, and ids never stored in
the clear (the data directory is searched for a live id)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import St, Rpc, ServerTestCase, assert_error, free_port, main, ok  # noqa: E402

RPC_PORT = free_port()


class Sessions(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT), "--ttl-sweep-ms", "50"]

    def create(self, body):
        return ok(self.req("POST", "/sessions?ns=" + self.ns, body), 201)

    def path(self, sid):
        return "/sessions/%s?ns=%s" % (sid, self.ns)

    def test_lifecycle(self):
        d = self.create({"data": {"cart": [1]}, "ttlMs": 60000, "userId": "u1"})
        sid = d["id"]
        self.assertEqual(len(sid), 43)
        self.assertGreater(d["expiresAt"], time.time() * 1000)
        got = ok(self.req("GET", self.path(sid)))
        self.assertEqual((got["data"], got["userId"], got["rolling"]), ({"cart": [1]}, "u1", False))
        ok(self.req("PUT", self.path(sid), {"data": {"cart": [1, 2]}}))
        self.assertEqual(ok(self.req("GET", self.path(sid)))["data"], {"cart": [1, 2]})
        self.assertEqual(ok(self.req("DELETE", self.path(sid))), {"deleted": True})
        assert_error(self.req("GET", self.path(sid)), 404, "NOT_FOUND")
        self.assertEqual(ok(self.req("DELETE", self.path(sid))), {"deleted": False})
        # probing with made-up or malformed ids tells nothing
        for bad in ("A" * 43, "short", "%2Fetc", "x" * 200):
            assert_error(self.req("GET", self.path(bad)), 404, "NOT_FOUND")

    def test_ttl_and_rolling(self):
        fixed = self.create({"data": {}, "ttlMs": 1000})["id"]
        rolling = self.create({"data": {}, "ttlMs": 1000, "rolling": True})["id"]
        deadline = time.time() + 8
        while time.time() < deadline:
            time.sleep(0.2)
            ok(self.req("GET", self.path(rolling)))  # each read pushes the expiry out
            if self.req("GET", self.path(fixed)).status == 404:
                break
        assert_error(self.req("GET", self.path(fixed)), 404, "NOT_FOUND")
        self.assertEqual(self.req("GET", self.path(rolling)).status, 200)

    def test_user_list_and_revoke(self):
        ids = [self.create({"data": {"i": i}, "ttlMs": 60000, "userId": "ada"})["id"] for i in range(3)]
        self.create({"data": {}, "ttlMs": 60000, "userId": "bob"})
        d = ok(self.req("GET", "/users/ada/sessions?ns=" + self.ns))
        self.assertEqual(d["count"], 3)
        self.assertTrue(all("id" not in s for s in d["sessions"]))  # ids are not stored
        d = ok(self.req("DELETE", "/users/ada/sessions?ns=%s&exceptId=%s" % (self.ns, ids[0])))
        self.assertEqual(d, {"deleted": 2})
        self.assertEqual(self.req("GET", self.path(ids[0])).status, 200)
        self.assertEqual(self.req("GET", self.path(ids[1])).status, 404)
        self.assertEqual(ok(self.req("GET", "/users/bob/sessions?ns=" + self.ns))["count"], 1)

    def test_bad_requests(self):
        for body in ({}, {"data": {}}, {"data": {}, "ttlMs": 0}, {"data": [1], "ttlMs": 10},
                     {"data": {}, "ttlMs": 10, "userId": ""}, {"data": {}, "ttlMs": 10, "rolling": 1},
                     [1], "x"):
            with self.subTest(body=body):
                assert_error(self.req("POST", "/sessions?ns=" + self.ns, body), 400, "BAD_REQUEST")
        assert_error(self.req("POST", "/sessions?ns=" + self.ns,
                              {"data": {"x": "y" * 70000}, "ttlMs": 10}), 413, "PAYLOAD_TOO_LARGE")
        assert_error(self.req("GET", "/sessions?ns=" + self.ns), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("POST", "/sessions?ns=_x", {"data": {}, "ttlMs": 10}), 400, "BAD_REQUEST")

    def test_ids_are_hashed_at_rest(self):
        sid = self.create({"data": {"marker": "m"}, "ttlMs": 600000})["id"]
        import base64
        raw = base64.urlsafe_b64decode(sid + "=")
        self.assertEqual(self.server.stop(), 0)  # everything on disk
        found = []
        for root, _, files in os.walk(self.server.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    blob = fh.read()
                if sid.encode() in blob or raw in blob:
                    found.append(f)
        self.server.start()
        self.assertEqual(found, [])
        self.assertEqual(ok(self.req("GET", self.path(sid)))["data"], {"marker": "m"})

    def test_binary_protocol(self):
        c = Rpc(RPC_PORT, timeout=5)
        r = c.call("session.create", self.ns, {"data": {"a": 1}, "ttlMs": 60000, "userId": "z"})
        self.assertEqual(r[0], St.CREATED)
        sid = r[1]["id"]
        self.assertEqual(c.call("session.get", self.ns, {"id": sid})[1]["data"], {"a": 1})
        self.assertEqual(c.call("session.list_user", self.ns, {"userId": "z"})[1]["count"], 1)
        self.assertEqual(c.call("session.revoke_user", self.ns, {"userId": "z"})[1], {"deleted": 1})
        self.assertEqual(c.call("session.get", self.ns, {"id": sid})[0], St.NOT_FOUND)
        c.close()


if __name__ == "__main__":
    main()
