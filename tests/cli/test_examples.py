"""
test_examples.py — builds nothing, runs the examples against a real durod:

  test_examples.py kv_basic_remote      examples/kv_basic duro://127.0.0.1:RPC
  test_examples.py kv_basic_with_access_control   the same with --auth-token and DURO_TOKEN
  test_examples.py kv_basic_embedded    examples/kv_basic file://TMP (twice)
  test_examples.py http_curl            examples/http_curl.sh with DURO_HTTP
  test_examples.py http_curl_with_token the same against --auth-token, with DURO_TOKEN
  test_examples.py rate_limit_remote    examples/rate_limit over duro://127.0.0.1:RPC
  test_examples.py rate_limit_embedded  examples/rate_limit over file://TMP
  test_examples.py login_flow           examples/login_flow over DURO_HTTP's /auth
  test_examples.py                      all of them

rate_limit's binary comes from DURO_RATE_LIMIT (default build/examples/rate_limit),
login_flow's from DURO_LOGIN_FLOW (default build/examples/login_flow).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402


def rate_limit_bin():
    return clitest._path("DURO_RATE_LIMIT", "build/examples/rate_limit")


def login_flow_bin():
    return clitest._path("DURO_LOGIN_FLOW", "build/examples/login_flow")


class RateLimitServer:
    """examples/rate_limit URL PORT LIMIT WINDOW_MS [--requests N] on a free
    port; stopped (SIGTERM, then SIGKILL) by its own PID only."""

    def __init__(self, url, limit, window_ms, requests=None):
        self.port = clitest.free_port()
        self.out_path = os.path.join(clitest.tempdir("duro-rate-limit-"), "out.txt")
        self.out = open(self.out_path, "wb")
        argv = [rate_limit_bin(), url, str(self.port), str(limit), str(window_ms)]
        if requests is not None:
            argv += ["--requests", str(requests)]
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=clitest._pdeathsig)
        deadline = time.monotonic() + clitest.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rate_limit exited with %d: %s"
                                     % (self.proc.returncode, self.output()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("rate_limit did not listen: %s" % self.output())

    def output(self):
        with open(self.out_path, "r", errors="replace") as f:
            return f.read()

    def get(self, headers=None):
        """One GET / on a new connection: (status, Retry-After or None, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/", headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Retry-After"), r.read().decode()
        finally:
            c.close()

    def wait(self, timeout=clitest.STOP_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("rate_limit still running: %s" % self.output())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.out.close()


class Examples(unittest.TestCase):
    def check_limited(self, rl, n=8, limit=5):
        """n requests from one client: exactly `limit` x 200, then 429s with
        Retry-After (whole seconds, > 0)."""
        got = [rl.get() for _ in range(n)]
        self.assertEqual([g[0] for g in got], [200] * limit + [429] * (n - limit), got)
        for status, retry, body in got:
            if status == 200:
                self.assertEqual((retry, body), (None, "ok\n"))
            else:
                self.assertIsNotNone(retry, "429 without Retry-After")
                self.assertGreaterEqual(int(retry), 1)
                self.assertLessEqual(int(retry), 60)
                self.assertEqual(body, "rate limited\n")

    def test_rate_limit_remote(self):
        srv = clitest.Server()
        rl = None
        try:
            rl = RateLimitServer(srv.url, 5, 60000)
            self.check_limited(rl)
            # another client (X-Client-Key) has its own bucket
            self.assertEqual(rl.get({"X-Client-Key": "api-key-1"})[0], 200)
            # the state is duro's: the CLI sees the same bucket in namespace "example"
            rc, out, err = clitest.duro(srv, "-n", "example", "ratelimit", "get",
                                        "ip:127.0.0.1")
            self.assertEqual(rc, 0, err)
            state = json.loads(out)
            self.assertEqual((state["limit"], state["remaining"]), (5, 0), state)
            # a second server process shares the limit through durod
            rl2 = RateLimitServer(srv.url, 5, 60000)
            try:
                self.assertEqual(rl2.get()[0], 429)
            finally:
                self.assertEqual(rl2.stop(), 0, rl2.output())
                rl2.kill()
            self.assertEqual(rl.stop(), 0, rl.output())
            self.assertIn("served 9 requests", rl.output())
        finally:
            if rl is not None:
                rl.kill()
            self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_rate_limit_embedded(self):
        d = clitest.tempdir("duro-rate-limit-data-")
        rl = RateLimitServer("file://" + d, 5, 60000, requests=8)
        try:
            self.check_limited(rl)
            self.assertEqual(rl.wait(), 0, rl.output())   # --requests 8: exits by itself
            self.assertIn("served 8 requests", rl.output())
        finally:
            rl.kill()
        # the bucket was written on close: a new process over the directory
        # still refuses this client
        rl = RateLimitServer("file://" + d, 5, 60000)
        try:
            status, retry, _ = rl.get()
            self.assertEqual(status, 429)
            self.assertGreaterEqual(int(retry), 1)
            self.assertEqual(rl.stop(), 0, rl.output())
        finally:
            rl.kill()
        self.check_rate_limit_usage()

    def check_rate_limit_usage(self):
        for args in ([], ["duro://127.0.0.1:1", "80"], ["file:///tmp/x", "0", "5", "1000"],
                     ["file:///tmp/x", "8080", "5", "1000", "--requests"]):
            rc, out, err = clitest.run([rate_limit_bin()] + args)
            self.assertEqual(rc, 2, args)
            self.assertIn("usage", err)

    def check_kv_basic(self, url, env=None):
        rc, out, err = clitest.run([clitest.kv_basic_bin(), url], env=env)
        self.assertEqual(rc, 0, "kv_basic %s: exit %d\n%s\n%s" % (url, rc, out, err))
        for line in ("put user:1", "get user:1 -> {\"name\":\"Ada\",\"visits\":1}",
                     "CAS update at version", "stale CAS",
                     "list prefix user: ->", "get user:1 -> ", "ok"):
            self.assertIn(line, out)

    def test_kv_basic_with_access_control(self):
        token = "examples-admin-" + "k" * 32
        srv = clitest.Server(["--auth-token", token])
        try:
            self.check_kv_basic(srv.url, env={"DURO_TOKEN": token})
            rc, out, err = clitest.run([clitest.kv_basic_bin(), srv.url])  # no token
            self.assertNotEqual(rc, 0)
            self.assertIn("unauthorized", err.lower())
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_kv_basic_remote(self):
        srv = clitest.Server()
        try:
            self.check_kv_basic(srv.url)
            self.check_kv_basic(srv.url)     # again: it cleans up after itself
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_kv_basic_embedded(self):
        d = clitest.tempdir("duro-kv-basic-")
        self.check_kv_basic("file://" + d)
        self.check_kv_basic("file://" + d)   # reopens the same directory
        self.assertTrue(os.path.isdir(os.path.join(d, "ns")), os.listdir(d))

    def test_http_curl(self):
        srv = clitest.Server()
        try:
            rc, out, err = clitest.run(["/bin/bash", clitest.http_curl_script()],
                                       env={"DURO_HTTP": srv.http})
            self.assertEqual(rc, 0, "http_curl.sh: exit %d\n%s\n%s" % (rc, out[-3000:], err))
            self.assertIn("every step answered as expected", out)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_http_curl_with_token(self):
        token = "curl-admin-" + "t" * 32
        srv = clitest.Server(["--auth-token", token])
        try:
            rc, out, err = clitest.run(["/bin/bash", clitest.http_curl_script()],
                                       env={"DURO_HTTP": srv.http, "DURO_TOKEN": token})
            self.assertEqual(rc, 0, "http_curl.sh: exit %d\n%s\n%s" % (rc, out[-3000:], err))
            self.assertIn("every step answered as expected", out)
            for family in ("/ratelimit/", "/sessions", "/auth/login", "/api/storage?",
                           "/api/namespaces", "/api/info", "/metrics", "/api/resources/"):
                self.assertIn(family, out)
            # without the token the first call is refused, and the script says so
            rc, out, err = clitest.run(["/bin/bash", clitest.http_curl_script()],
                                       env={"DURO_HTTP": srv.http, "DURO_TOKEN": ""})
            self.assertEqual(rc, 1)
            self.assertIn("status 401", err)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())

    LOGIN_STEPS = ("1. create user: POST /auth/users -> 201 (want 201)",
                   "2. log in: POST /auth/login -> 200 (want 200)",
                   "3. who am I: GET /auth/session -> 200 (want 200)",
                   "4. log out: POST /auth/logout -> 200 (want 200)",
                   "5. after logout: GET /auth/session -> 401 (want 401)")

    def test_login_flow(self):
        srv = clitest.Server(["--pwhash-min"])
        try:
            for _ in range(2):              # a new random user each run
                rc, out, err = clitest.run([login_flow_bin(), srv.http, "app"])
                self.assertEqual(rc, 0, "login_flow: exit %d\n%s\n%s" % (rc, out, err))
                for line in self.LOGIN_STEPS:
                    self.assertIn(line, out)
                self.assertIn("userId", out)
                self.assertIn("login flow ok", out)
            # a base URL with a trailing '/', another namespace
            rc, out, err = clitest.run([login_flow_bin(), srv.http + "/", "app.two_2-x"])
            self.assertEqual(rc, 0, "login_flow: exit %d\n%s\n%s" % (rc, out, err))
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())
        # with access control on and no token, the first step is refused
        srv = clitest.Server(["--pwhash-min", "--auth-token", "X"])
        try:
            rc, out, err = clitest.run([login_flow_bin(), srv.http, "app"])
            self.assertEqual(rc, 1, "login_flow: exit %d\n%s\n%s" % (rc, out, err))
            self.assertIn("1. create user: POST /auth/users -> 401 (want 201)", out)
            self.assertNotIn("2. log in", out)
            self.assertIn("login flow FAILED", out)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())
        # nothing listening: exit 1; bad arguments: exit 2
        url = "http://127.0.0.1:%d" % clitest.closed_port()
        rc, out, err = clitest.run([login_flow_bin(), url, "app"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("no reply", out)
        for args in ([], [srv.http], ["duro://127.0.0.1:1", "app"], [srv.http, ""]):
            rc, out, err = clitest.run([login_flow_bin()] + args)
            self.assertEqual(rc, 2, args)
            self.assertIn("usage", err)


if __name__ == "__main__":
    names = ["Examples.test_" + a for a in sys.argv[1:]]
    clitest.main(watchdog_seconds=280, tests=names)
