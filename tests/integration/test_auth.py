#!/usr/bin/python3
"""Users and password login (/auth): registration, login with cookie, wrong
password and unknown email answered alike, failed-login throttling (429),
session lookup by cookie and bearer, logout, password change revoking the
other sessions, input rules, and neither passwords nor session ids on disk."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import ServerTestCase, assert_error, main, ok  # noqa: E402


class Auth(ServerTestCase):
    server_args = ["--pwhash-min", "--rpc-port", "0"]

    def post(self, what, body, headers=None):
        return self.req("POST", "/auth/%s?ns=%s" % (what, self.ns), body, headers=headers or {})

    def login(self, email, password):
        return self.post("login", {"email": email, "password": password})

    def test_register_login_session_logout(self):
        r = self.post("users", {"email": "  Ada@Example.COM ", "password": "correct horse"})
        self.assertEqual(r.status, 201)
        uid = r.body["data"]["userId"]
        self.assertEqual(r.body["data"]["email"], "ada@example.com")
        assert_error(self.post("users", {"email": "ada@example.com", "password": "another one"}),
                     409, "CONFLICT")
        r = self.login("ADA@example.com", "correct horse")
        d = ok(r)
        self.assertEqual(d["userId"], uid)
        cookie = r.headers["set-cookie"]
        for attr in ("HttpOnly", "SameSite=Lax", "Path=/", "duro_session=" + d["sessionId"]):
            self.assertIn(attr, cookie)
        by_cookie = ok(self.req("GET", "/auth/session?ns=" + self.ns,
                                headers={"Cookie": "duro_session=" + d["sessionId"]}))
        self.assertEqual(by_cookie["userId"], uid)
        by_bearer = ok(self.req("GET", "/auth/session?ns=" + self.ns,
                                headers={"Authorization": "Bearer " + d["sessionId"]}))
        self.assertEqual(by_bearer["userId"], uid)
        ok(self.post("logout", None, {"Cookie": "duro_session=" + d["sessionId"]}))
        assert_error(self.req("GET", "/auth/session?ns=" + self.ns,
                              headers={"Cookie": "duro_session=" + d["sessionId"]}), 401, "UNAUTHORIZED")
        assert_error(self.req("GET", "/auth/session?ns=" + self.ns), 401, "UNAUTHORIZED")

    def test_wrong_password_and_unknown_email_look_the_same(self):
        self.post("users", {"email": "bob@example.com", "password": "hunter2hunter2"})
        times = {}
        bodies = {}
        for name, email in (("wrong", "bob@example.com"), ("unknown", "nobody@example.com")):
            t0 = time.monotonic()
            r = self.login(email, "not the password")
            times[name] = time.monotonic() - t0
            assert_error(r, 401, "UNAUTHORIZED")
            bodies[name] = r.body
        self.assertEqual(bodies["wrong"], bodies["unknown"])
        # both run one Argon2id verification; allow generous noise
        self.assertLess(max(times.values()) / max(min(times.values()), 1e-3), 20)

    def test_failed_logins_are_throttled(self):
        self.post("users", {"email": "eve@example.com", "password": "right password"})
        codes = [self.login("eve@example.com", "wrong password").status for _ in range(7)]
        self.assertEqual(codes[:5], [401] * 5)
        self.assertEqual(codes[5:], [429, 429])
        r = self.login("eve@example.com", "right password")  # even the right one, for now
        assert_error(r, 429, "RATE_LIMITED")
        self.assertIn("retry-after", r.headers)
        # other emails from the same client still work until the client's own limit
        self.post("users", {"email": "fay@example.com", "password": "right password"})
        ok(self.login("fay@example.com", "right password"))

    def test_password_change_revokes_other_sessions(self):
        self.post("users", {"email": "cat@example.com", "password": "old password"})
        a = ok(self.login("cat@example.com", "old password"))["sessionId"]
        b = ok(self.login("cat@example.com", "old password"))["sessionId"]
        ca = {"Cookie": "duro_session=" + a}
        assert_error(self.post("password", {"currentPassword": "not it at all",
                                            "newPassword": "new password"}, ca), 401, "UNAUTHORIZED")
        d = ok(self.post("password", {"currentPassword": "old password", "newPassword": "new password"}, ca))
        self.assertEqual(d["deleted"], 1)
        self.assertEqual(self.req("GET", "/auth/session?ns=" + self.ns, headers=ca).status, 200)
        assert_error(self.req("GET", "/auth/session?ns=" + self.ns,
                              headers={"Cookie": "duro_session=" + b}), 401, "UNAUTHORIZED")
        assert_error(self.login("cat@example.com", "old password"), 401, "UNAUTHORIZED")
        ok(self.login("cat@example.com", "new password"))

    def test_input_rules(self):
        bad = [{"email": "no-at-sign", "password": "long enough"},
               {"email": "a@b", "password": "short"},
               {"email": "a@b.c", "password": "x" * 1025},
               {"email": "a@@b.c", "password": "long enough"},
               {"email": "sp ace@b.c", "password": "long enough"},
               {"email": 5, "password": "long enough"},
               {"password": "long enough"}, [], "x"]
        for body in bad:
            with self.subTest(body=str(body)[:40]):
                assert_error(self.post("users", body), 400, "BAD_REQUEST")
        assert_error(self.req("GET", "/auth/login?ns=" + self.ns), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("POST", "/auth/nope?ns=" + self.ns, {}), 404, "NOT_FOUND")

    def test_nothing_secret_on_disk(self):
        password = "very secret passphrase"
        self.post("users", {"email": "dan@example.com", "password": password})
        sid = ok(self.login("dan@example.com", password))["sessionId"]
        self.assertEqual(self.server.stop(), 0)
        found = []
        for root, _, files in os.walk(self.server.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    blob = fh.read()
                for secret in (password, sid):
                    if secret.encode() in blob:
                        found.append((f, secret[:6]))
        self.server.start()
        self.assertEqual(found, [])
        self.assertEqual(self.req("GET", "/auth/session?ns=" + self.ns,
                                  headers={"Cookie": "duro_session=" + sid}).status, 200)


if __name__ == "__main__":
    main()
