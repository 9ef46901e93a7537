#!/usr/bin/python3
"""Server access control: --auth-token (admin) and --jwt-secret (HS256 JWTs
scoped by namespace and read/write), on HTTP and the binary protocol; every
401/403 path; /healthz open, /metrics guarded; the loopback rule."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, ServerTestCase, assert_error, b64url, bearer, duro_bin,  # noqa: E402
                      free_port, jwt, kv_path, main, ok)

ADMIN = "admin-" + "x" * 40
SECRET = "s" * 40
RPC_PORT = free_port()


class Access(ServerTestCase):
    server_args = ["--auth-token", ADMIN, "--jwt-secret", SECRET, "--rpc-port", str(RPC_PORT)]

    def put(self, key, ns, headers, value=1):
        return self.req("PUT", kv_path(key, ns=ns), {"value": value}, headers=headers)

    def get(self, key, ns, headers):
        return self.req("GET", kv_path(key, ns=ns), headers=headers)

    def test_healthz_open_everything_else_needs_credentials(self):
        self.assertEqual(self.req("GET", "/healthz").status, 200)
        r = self.get("k", "app1", {})
        assert_error(r, 401, "UNAUTHORIZED")
        self.assertEqual(r.headers.get("www-authenticate"), "Bearer")
        assert_error(self.req("GET", "/nope"), 401, "UNAUTHORIZED")
        assert_error(self.req("GET", "/metrics"), 401, "UNAUTHORIZED")
        assert_error(self.req("POST", "/ratelimit/k/check?ns=app1"), 401, "UNAUTHORIZED")

    def test_admin_token(self):
        ok(self.put("k", "app1", bearer(ADMIN)))
        self.assertEqual(ok(self.get("k", "app1", bearer(ADMIN))), 1)
        self.assertEqual(self.req("GET", "/metrics", headers=bearer(ADMIN)).status, 200)
        for bad in (ADMIN[:-1], ADMIN + "x", "", "nope"):
            assert_error(self.get("k", "app1", bearer(bad)), 401, "UNAUTHORIZED")
        assert_error(self.get("k", "app1", {"Authorization": "Basic " + ADMIN}), 401, "UNAUTHORIZED")

    def test_jwt_namespaces_and_scope(self):
        now = int(time.time())
        ok(self.put("k", "app1", bearer(ADMIN), "v1"))
        ok(self.put("k", "app2", bearer(ADMIN), "v2"))
        one = jwt(SECRET, {"ns": "app1", "exp": now + 600})
        self.assertEqual(ok(self.get("k", "app1", bearer(one))), "v1")
        ok(self.put("k2", "app1", bearer(one)))
        assert_error(self.get("k", "app2", bearer(one)), 403, "FORBIDDEN")
        several = jwt(SECRET, {"ns": ["app1", "app2"]})
        self.assertEqual(ok(self.get("k", "app2", bearer(several))), "v2")
        star = jwt(SECRET, {"ns": "*"})
        self.assertEqual(ok(self.get("k", "app2", bearer(star))), "v2")
        self.assertEqual(self.req("GET", "/metrics", headers=bearer(star)).status, 200)
        assert_error(self.req("GET", "/metrics", headers=bearer(one)), 403, "FORBIDDEN")
        ro = jwt(SECRET, {"ns": "app1", "scope": "read"})
        self.assertEqual(ok(self.get("k", "app1", bearer(ro))), "v1")
        self.assertEqual(ok(self.req("GET", "/storage/list?ns=app1", headers=bearer(ro)))["keys"],
                         ["k", "k2"])
        assert_error(self.put("k", "app1", bearer(ro)), 403, "FORBIDDEN")
        assert_error(self.req("DELETE", kv_path("k", ns="app1"), headers=bearer(ro)), 403, "FORBIDDEN")
        assert_error(self.req("POST", "/storage/clear?ns=app1", headers=bearer(ro)), 403, "FORBIDDEN")
        assert_error(self.req("POST", "/ratelimit/x/check?ns=app1", headers=bearer(ro)), 403,
                     "FORBIDDEN")
        self.assertEqual(self.req("GET", "/ratelimit/x?ns=app1", headers=bearer(ro)).status, 200)
        # the proxy route's namespace is the path segment
        assert_error(self.req("GET", "/api/storage/kv/app2/k", headers=bearer(one)), 403, "FORBIDDEN")
        self.assertEqual(ok(self.req("GET", "/api/storage/kv/app1/k", headers=bearer(one))), "v1")
        self.assertEqual(ok(self.get("k", "app1", bearer(ADMIN))), "v1")  # nothing changed

    def test_bad_jwts(self):
        now = int(time.time())
        good = jwt(SECRET, {"ns": "app1"})
        h, p, s = good.split(".")
        tampered = h + "." + b64url(json.dumps({"ns": "*"}).encode()) + "." + s
        none = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + p + "."
        cases = {
            "wrong key": jwt("k" * 40, {"ns": "app1"}),
            "alg none": none,
            "alg HS512": jwt(SECRET, {"ns": "app1"}, alg="HS512"),
            "expired": jwt(SECRET, {"ns": "app1", "exp": now - 120}),
            "not yet valid": jwt(SECRET, {"ns": "app1", "nbf": now + 120}),
            "tampered": tampered,
            "two parts": h + "." + p,
            "padded": good + "=",
            "garbage": "a.b.c",
            "huge": "x" * 9000,
        }
        for name, tok in cases.items():
            with self.subTest(case=name):
                assert_error(self.get("k", "app1", bearer(tok)), 401, "UNAUTHORIZED")
        # within the clock-skew leeway still counts as valid
        ok_tok = jwt(SECRET, {"ns": "app1", "exp": now - 5})
        self.assertIn(self.get("k", "app1", bearer(ok_tok)).status, (200, 404))

    def test_binary_protocol(self):
        c = Rpc(RPC_PORT, timeout=5)
        self.assertEqual(c.call("ping", "", {})[0], St.OK)
        self.assertEqual(c.call("kv.get", "app1", {"key": "k"})[1]["code"], "UNAUTHORIZED")
        self.assertEqual(c.call("auth", "", {"token": "wrong"})[0], St.UNAUTHORIZED)
        ro = jwt(SECRET, {"ns": "app1", "scope": "read"})
        self.assertEqual(c.call("auth", "", {"token": ro})[0], St.OK)
        self.assertIn(c.call("kv.get", "app1", {"key": "k"})[0], (St.OK, St.NOT_FOUND))
        self.assertEqual(c.call("kv.put", "app1", {"key": "k", "value": 1})[1]["code"], "FORBIDDEN")
        self.assertEqual(c.call("kv.get", "app2", {"key": "k"})[1]["code"], "FORBIDDEN")
        self.assertEqual(c.call("auth", "", {"token": ADMIN})[0], St.OK)
        self.assertEqual(c.call("kv.put", "app2", {"key": "rpc", "value": 2})[0], St.OK)
        c.close()


class LoopbackRule(ServerTestCase):
    def test_refuses_open_listen_without_auth(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([duro_bin(), "--listen", "0.0.0.0:%d" % free_port(), "--data", d,
                                "--rpc-port", "0"], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 2)
            self.assertIn(b"--insecure", p.stderr)
            p = subprocess.run([duro_bin(), "--jwt-secret", "tiny-k3y", "--data", d],
                               capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 2)
            self.assertNotIn(b"tiny-k3y", p.stderr)  # secrets are never echoed


if __name__ == "__main__":
    main()
