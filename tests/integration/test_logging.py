#!/usr/bin/python3
"""Logs: --access-log writes one JSON line per request (HTTP and binary
protocol) with the request id (X-Request-Id accepted and echoed, else one of
ours), the path without query values, the namespace, status, bytes and
microseconds; SIGHUP reopens the file (rotation); --log-format json makes
every server log line a JSON object; --log-level debug has real debug lines;
and no secret — admin token, JWT, session cookie, password, query values —
ever reaches either log."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import Rpc, Server, St, bearer, jwt, kv_path, ok  # noqa: E402
from durotest import main as run_main  # noqa: E402

ADMIN = "log-admin-" + "a" * 32
SECRET = "s" * 40
PASSWORD = "correct horse battery"


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


class Logging(unittest.TestCase):
    def setUp(self):
        self.srv = Server(extra_args=["--auth-token", ADMIN, "--jwt-secret", SECRET,
                                      "--pwhash-min", "--log-level", "debug",
                                      "--log-format", "json"],
                          start=False, rpc=True)
        self.log = os.path.join(self.srv.log_dir, "access.log")
        self.srv.extra_args += ["--access-log", self.log]
        self.srv.start()

    def tearDown(self):
        try:
            self.assertEqual(self.srv.stop(), 0, self.srv.log_tail())
        finally:
            self.srv.close()

    def wait_lines(self, n, path=None):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = lines(path or self.log)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return lines(path or self.log)

    def test_access_lines_request_ids_and_no_secrets(self):
        h = dict(bearer(ADMIN), **{"X-Request-Id": "client-id.1"})
        r = self.srv.req("PUT", kv_path("k", ns="logs") + "&token=QUERYSECRET", {"value": 1},
                         headers=h)
        self.assertEqual(r.status, 400)  # token= is no parameter of the route
        self.assertEqual(r.headers["x-request-id"], "client-id.1")
        r = self.srv.req("PUT", kv_path("k", ns="logs"), {"value": 1}, headers=bearer(ADMIN))
        ok(r)
        generated = r.headers["x-request-id"]
        r2 = self.srv.req("GET", kv_path("k", ns="logs"), headers=dict(
            bearer(jwt(SECRET, {"ns": "logs"})), **{"X-Request-Id": "bad id with spaces"}))
        self.assertEqual(ok(r2), 1)
        self.assertNotIn(r2.headers["x-request-id"], ("bad id with spaces", generated))
        # a login (its password) and a session cookie
        self.srv.req("POST", "/auth/users?ns=logs", {"email": "l@example.com", "password": PASSWORD},
                     headers=bearer(ADMIN))
        sid = ok(self.srv.req("POST", "/auth/login?ns=logs",
                              {"email": "l@example.com", "password": PASSWORD},
                              headers=bearer(ADMIN)))["sessionId"]
        self.srv.req("GET", "/auth/session?ns=logs",
                     headers=dict(bearer(ADMIN), Cookie="duro_session=" + sid))
        with Rpc(self.srv.rpc_port) as c:
            self.assertEqual(c.call("auth", "", {"token": ADMIN})[0], St.OK)
            self.assertEqual(c.call("kv.get", "logs", {"key": "k"}, msgid=77), (St.OK, 1))
        got = self.wait_lines(8)
        http = [l for l in got if l["proto"] == "http"]
        rpc = [l for l in got if l["proto"] == "rpc"]
        first = [l for l in http if l["request_id"] == "client-id.1"][0]
        self.assertEqual((first["request_id"], first["method"], first["status"]),
                         ("client-id.1", "PUT", 400))
        self.assertEqual(first["path"], "/storage/k?ns&token")  # names only, never values
        put = [l for l in http if l["request_id"] == generated][0]
        self.assertEqual((put["ns"], put["status"], put["peer"]), ("logs", 200, "127.0.0.1"))
        self.assertGreater(put["bytes"], 0)
        self.assertIsInstance(put["us"], int)
        get = [l for l in rpc if l["request_id"] == "77"][0]
        self.assertEqual((get["op"], get["ns"], get["status"]), ("kv.get", "logs", "OK"))
        self.assertTrue(any(l["op"] == "auth" for l in rpc))
        # nothing secret anywhere: the access log, the server's own log
        with open(self.log, encoding="utf-8") as f:
            access = f.read()
        server = self.srv.log_tail(1 << 20)
        for secret in (ADMIN, SECRET, PASSWORD, sid, "QUERYSECRET",
                       jwt(SECRET, {"ns": "logs"}).split(".")[2]):
            self.assertNotIn(secret, access)
            self.assertNotIn(secret, server)

    def test_json_log_format_and_debug_lines(self):
        ok(self.srv.req("PUT", kv_path("d", ns="dbg"), {"value": 1}, headers=bearer(ADMIN)))
        time.sleep(0.2)
        text = self.srv.log_tail(1 << 20)
        records = [json.loads(l) for l in text.splitlines() if l.strip()]
        self.assertTrue(records)
        for rec in records:
            self.assertEqual(set(rec), {"time", "level", "msg"})
        msgs = [r["msg"] for r in records if r["level"] == "debug"]
        self.assertTrue(any("namespace dbg opened" in m for m in msgs), msgs)
        self.assertTrue(any("committed version" in m for m in msgs), msgs)

    def test_sighup_reopens_the_access_log(self):
        self.srv.req("GET", "/healthz")
        self.wait_lines(1)
        os.rename(self.log, self.log + ".1")
        os.kill(self.srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.srv.req("GET", "/healthz", headers={"X-Request-Id": "after-rotation"})
        new = self.wait_lines(1)
        self.assertEqual([l["request_id"] for l in new if l["path"] == "/healthz"][-1:],
                         ["after-rotation"])
        self.assertEqual(new[-1]["request_id"], "after-rotation")
        self.assertNotIn("after-rotation", open(self.log + ".1").read())
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    run_main()
