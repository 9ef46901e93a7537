#!/usr/bin/python3
"""Users and password login as runtime ops (auth.register, auth.login,
auth.session, auth.password, auth.logout) over the binary protocol: the same
users and sessions as /auth over HTTP, the same answers (a wrong password and
an unknown email alike, throttling after 5 failures), and a restart keeps
them. Argon2id runs on the runtime's worker pool between two visits to the
namespace's owner, so many logins in flight on one connection must all come
back."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import Rpc, ServerTestCase, St, free_port, main, ok  # noqa: E402

RPC_PORT = free_port()


class AuthRpc(ServerTestCase):
    server_args = ["--pwhash-min", "--rpc-port", str(RPC_PORT)]

    def setUp(self):
        super().setUp()
        self.c = Rpc(RPC_PORT)

    def tearDown(self):
        self.c.close()
        super().tearDown()

    def call(self, op, args):
        return self.c.call(op, self.ns, args)

    def test_register_login_session_password_logout(self):
        st, user = self.call("auth.register", {"email": " Ada@Example.com", "password": "correct horse"})
        self.assertEqual((st, user["email"]), (St.CREATED, "ada@example.com"))
        st, err = self.call("auth.register", {"email": "ada@example.com", "password": "12345678"})
        self.assertEqual((st, err["code"]), (St.CONFLICT, "CONFLICT"))
        st, s1 = self.call("auth.login", {"email": "ada@example.com", "password": "correct horse",
                                          "ttlMs": 60000})
        self.assertEqual((st, s1["userId"]), (St.OK, user["userId"]))
        # the session works over HTTP too, and HTTP's login over the binary protocol
        r = self.req("GET", "/auth/session?ns=" + self.ns,
                     headers={"Cookie": "duro_session=" + s1["sessionId"]})
        self.assertEqual(ok(r)["userId"], user["userId"])
        s2 = ok(self.req("POST", "/auth/login?ns=" + self.ns,
                         {"email": "ada@example.com", "password": "correct horse"}))
        st, sess = self.call("auth.session", {"sessionId": s2["sessionId"]})
        self.assertEqual((st, sess["userId"]), (St.OK, user["userId"]))
        # a password change keeps the caller's session and ends the others
        st, err = self.call("auth.password", {"sessionId": s1["sessionId"],
                                              "currentPassword": "wrong password",
                                              "newPassword": "battery staple"})
        self.assertEqual((st, err["code"]), (St.UNAUTHORIZED, "UNAUTHORIZED"))
        st, rev = self.call("auth.password", {"sessionId": s1["sessionId"],
                                              "currentPassword": "correct horse",
                                              "newPassword": "battery staple"})
        self.assertEqual((st, rev), (St.OK, {"deleted": 1}))
        self.assertEqual(self.call("auth.session", {"sessionId": s2["sessionId"]})[0], St.UNAUTHORIZED)
        self.assertEqual(self.call("auth.session", {"sessionId": s1["sessionId"]})[0], St.OK)
        self.assertEqual(self.call("auth.login", {"email": "ada@example.com",
                                                  "password": "correct horse"})[0], St.UNAUTHORIZED)
        self.assertEqual(self.call("auth.login", {"email": "ada@example.com",
                                                  "password": "battery staple"})[0], St.OK)
        # logout, twice
        self.assertEqual(self.call("auth.logout", {"sessionId": s1["sessionId"]}),
                         (St.OK, {"deleted": True}))
        self.assertEqual(self.call("auth.logout", {"sessionId": s1["sessionId"]}),
                         (St.OK, {"deleted": False}))
        st, err = self.call("auth.session", {"sessionId": s1["sessionId"]})
        self.assertEqual((st, err["code"], err["message"]), (St.UNAUTHORIZED, "UNAUTHORIZED", "no such session"))
        # the users survive a restart
        self.c.close()
        self.server.restart()
        self.c = Rpc(RPC_PORT)
        self.assertEqual(self.call("auth.login", {"email": "ada@example.com",
                                                  "password": "battery staple"})[0], St.OK)

    def test_wrong_password_and_unknown_email_answer_alike_then_throttle(self):
        self.assertEqual(self.call("auth.register", {"email": "bob@example.com",
                                                     "password": "correct horse"})[0], St.CREATED)
        wrong = self.call("auth.login", {"email": "bob@example.com", "password": "wrong pass"})
        unknown = self.call("auth.login", {"email": "nobody@example.com", "password": "wrong pass"})
        self.assertEqual(wrong, unknown)
        self.assertEqual((wrong[0], wrong[1]["message"]), (St.UNAUTHORIZED, "invalid email or password"))
        for _ in range(4):  # 5 failures in all for bob
            self.call("auth.login", {"email": "bob@example.com", "password": "wrong pass"})
        st, err = self.call("auth.login", {"email": "bob@example.com", "password": "correct horse"})
        self.assertEqual((st, err["code"]), (St.RATE_LIMITED, "RATE_LIMITED"))
        # throttled per email: another user still logs in
        self.assertEqual(self.call("auth.register", {"email": "eve@example.com",
                                                     "password": "correct horse"})[0], St.CREATED)
        self.assertEqual(self.call("auth.login", {"email": "eve@example.com",
                                                  "password": "correct horse"})[0], St.OK)

    def test_wrong_current_passwords_are_throttled_like_logins(self):
        self.assertEqual(self.call("auth.register", {"email": "cat@example.com",
                                                     "password": "correct horse"})[0], St.CREATED)
        sid = self.call("auth.login", {"email": "cat@example.com",
                                       "password": "correct horse"})[1]["sessionId"]
        change = {"sessionId": sid, "currentPassword": "wrong guess", "newPassword": "12345678"}
        for _ in range(5):
            st, err = self.call("auth.password", change)
            self.assertEqual((st, err["message"]), (St.UNAUTHORIZED, "the current password is wrong"))
        # the email has no failure left: even the right current password waits, and so do logins
        st, err = self.call("auth.password", dict(change, currentPassword="correct horse"))
        self.assertEqual((st, err["code"]), (St.RATE_LIMITED, "RATE_LIMITED"))
        st, err = self.call("auth.login", {"email": "cat@example.com", "password": "correct horse"})
        self.assertEqual(st, St.RATE_LIMITED)

    def test_metrics_count_binary_ops_and_login_failures(self):
        def value(text, name):
            m = re.search(r"(?m)^%s (\d+)$" % re.escape(name), text)
            return int(m.group(1)) if m else 0

        before = self.server.metrics()
        self.assertEqual(self.call("ping", {})[0], St.OK)
        self.call("auth.register", {"email": "dot@example.com", "password": "correct horse"})
        for _ in range(6):  # 5 wrong, then throttled
            self.call("auth.login", {"email": "dot@example.com", "password": "wrong guess"})
        self.call("kv.nope", {})
        after = self.server.metrics()
        for name, grew in (('duro_rpc_requests_total{op="ping",status="OK"}', 1),
                           ('duro_rpc_requests_total{op="auth.login",status="UNAUTHORIZED"}', 5),
                           ('duro_rpc_requests_total{op="auth.login",status="RATE_LIMITED"}', 1),
                           ('duro_rpc_requests_total{op="other",status="BAD_REQUEST"}', 1),
                           ("duro_auth_login_failures_total", 5),
                           ("duro_auth_login_throttled_total", 1)):
            self.assertEqual(value(after, name) - value(before, name), grew, name)
        self.assertGreaterEqual(value(after, "duro_rpc_connections"), 1)
        self.assertGreaterEqual(value(after, "duro_rpc_request_duration_seconds_count") -
                                value(before, "duro_rpc_request_duration_seconds_count"), 8)

    def test_bad_args(self):
        cases = [
            ("auth.register", {"email": "not-an-email", "password": "12345678"}, "\"email\""),
            ("auth.register", {"email": "a@b.c", "password": "short"}, "\"password\""),
            ("auth.register", {"email": "a@b.c", "password": "12345678", "ttlMs": 5000},
             "unknown field \"ttlMs\""),
            ("auth.login", {"email": "a@b.c", "password": "12345678", "ttlMs": 10}, "\"ttlMs\""),
            ("auth.login", {"email": "a@b.c", "password": "12345678", "x": 1}, "unknown field \"x\""),
            ("auth.session", {}, "\"sessionId\" must be a string"),
            ("auth.password", {"sessionId": "s", "currentPassword": "12345678"}, "\"newPassword\""),
        ]
        for op, args, msg in cases:
            st, err = self.call(op, args)
            self.assertEqual((st, err["code"]), (St.BAD_REQUEST, "BAD_REQUEST"), (op, args, err))
            self.assertIn(msg, err["message"])
        # a malformed session id is an unknown session, not a bad request
        self.assertEqual(self.call("auth.session", {"sessionId": "!"})[0], St.UNAUTHORIZED)

    def test_many_logins_in_flight_all_come_back(self):
        self.assertEqual(self.call("auth.register", {"email": "pip@example.com",
                                                     "password": "correct horse"})[0], St.CREATED)
        n = 40
        for i in range(n):
            self.c.send([1000 + i, "auth.login", self.ns,
                         {"email": "pip@example.com", "password": "correct horse"}])
        got = {}
        for _ in range(n):
            r = self.c.recv()
            self.assertIsNotNone(r)
            got[r[0]] = r
        self.assertEqual(sorted(got), list(range(1000, 1000 + n)))
        ids = {r[2]["sessionId"] for r in got.values() if r[1] == St.OK}
        self.assertEqual(len(ids), n)  # every one a new session


if __name__ == "__main__":
    main()
