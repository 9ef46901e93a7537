#!/usr/bin/python3
"""The server itself: /healthz, /metrics (Prometheus text), keep-alive and
pipelining, and the command line (--help, unknown flags, bad values, DURO_*
environment variables)."""

import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (Server, ServerTestCase, assert_error, free_port, kv_path,  # noqa: E402
                      metric_sum, ok, run_durod)
import durotest  # noqa: E402
import tempfile  # noqa: E402
import shutil  # noqa: E402

FLAGS = ["--listen", "--data", "--actors", "--io-threads", "--max-body-bytes", "--max-value-bytes",
         "--cache-mb", "--max-open-namespaces", "--log-level", "--sync"]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*,?)?\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$')


class Endpoints(ServerTestCase):

    def test_healthz(self):
        r = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw.strip(), b"ok")

    def test_server_header_names_the_version(self):
        version = durotest.run_to_end([durotest.duro_bin(), "--version"])[1].split()[1]
        self.assertRegex(version, r"^\d+\.\d+\.\d+$")
        for path in ("/healthz", "/no/such/route", kv_path("missing", ns=self.ns)):
            self.assertEqual(self.req("GET", path).headers["server"], "durod/" + version)

    def test_metrics_format(self):
        self.req("GET", "/healthz")
        r = self.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)
        text = r.raw.decode("utf-8")
        self.assertTrue(text.endswith("\n"))
        names = set()
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^# ")
                continue
            self.assertRegex(line, SAMPLE)
            names.add(SAMPLE.match(line).group(1))
        self.assertIn("duro_http_requests_total", names)
        self.assertTrue(all(n.startswith("duro_") for n in names if not n.startswith(("process_", "go_"))),
                        sorted(names))
        self.assertRegex(text, r"(?m)^# TYPE duro_http_requests_total counter$")

    def test_metrics_cover_the_issue_list(self):
        text = self.server.metrics()
        names = {m.group(1) for m in re.finditer(r"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text)}
        for part in ("commit", "cache", "expired", "mailbox"):
            with self.subTest(part=part):
                self.assertTrue(any(part in n for n in names), "no duro_ metric about %r in %s" % (part, sorted(names)))
        # a latency histogram
        self.assertRegex(text, r'(?m)^duro_[a-z0-9_]*_bucket\{[^}]*le="\+Inf"[^}]*\} \d')
        # which build answers
        version = durotest.run_to_end([durotest.duro_bin(), "--version"])[1].split()[1]
        self.assertIn('duro_build_info{version="%s",protocol="2"} 1\n' % version, text)

    def test_request_counter_grows(self):
        before = metric_sum(self.server.metrics(), "duro_http_requests_total")
        self.assertIsNotNone(before)
        for i in range(10):
            self.server.put("m%d" % i, i, ns=self.ns)
        for i in range(5):
            self.req("GET", kv_path("missing", ns=self.ns))
        after = metric_sum(self.server.metrics(), "duro_http_requests_total")
        self.assertGreaterEqual(after - before, 15)
        # requests are counted by status too
        text = self.server.metrics()
        self.assertTrue(re.search(r'(?m)^duro_http_requests_total\{[^}]*"404"[^}]*\} [1-9]', text),
                        "no 404 series in duro_http_requests_total")

    def test_commit_log_counters_grow(self):
        names = ("duro_log_writes_total", "duro_log_syncs_total", "duro_log_bytes_total")
        text = self.server.metrics()
        before = {n: metric_sum(text, n) for n in names}
        for n in names + ("duro_log_applies_total", "duro_log_replayed_total"):
            self.assertRegex(text, r"(?m)^# TYPE %s counter$" % n)
        for i in range(5):
            self.server.put("log%d" % i, "x" * 200, ns=self.ns)
        after = {n: metric_sum(self.server.metrics(), n) for n in names}
        # each acknowledged write went to a log in a write and a sync of its own
        # (one client, one request at a time): at least 5 of each, 5 x 200 bytes
        self.assertGreaterEqual(after["duro_log_writes_total"] - before["duro_log_writes_total"], 5)
        self.assertGreaterEqual(after["duro_log_syncs_total"] - before["duro_log_syncs_total"], 5)
        self.assertGreaterEqual(after["duro_log_bytes_total"] - before["duro_log_bytes_total"], 1000)
        deadline = time.monotonic() + 10   # the apply runs every 500 ms
        while metric_sum(self.server.metrics(), "duro_log_applies_total") < 1:
            self.assertLess(time.monotonic(), deadline, "no apply in 10 s")
            time.sleep(0.1)

    def test_keep_alive(self):
        c = self.server._conn()
        self.req("GET", "/healthz")
        sock = c.sock
        self.assertIsNotNone(sock, "connection closed after a keep-alive request")
        for i in range(20):
            self.server.put("ka%d" % i, i, ns=self.ns)
            self.assertEqual(self.server.get("ka%d" % i, ns=self.ns), i)
        self.assertIs(c.sock, sock, "the connection was not kept alive")

    def test_pipelining(self):
        req = b""
        for i in range(3):
            body = b'{"value":%d}' % i
            req += (b"PUT /storage/p%d?ns=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (i, self.ns.encode(), len(body), body))
        req += b"GET /storage/p2?ns=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % self.ns.encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            s.sendall(req)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertEqual(data.count(b"HTTP/1.1 200"), 4, data)
        self.assertEqual([self.server.get("p%d" % i, ns=self.ns) for i in range(3)], [0, 1, 2])

    def test_http10_and_connection_close(self):
        r = self.server.raw(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 200)
        r = self.server.raw(b"GET /storage/none?ns=" + self.ns.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")
        assert_error(r, 404, "NOT_FOUND")

    def _exchange(self, data):
        return durotest.exchange(self.server.port, data)

    def test_status_lines(self):
        # every reason phrase comes from the status table (include/duro/status.h)
        # or its few extra HTTP numbers; the bytes of each status line are fixed
        ns = self.ns.encode()

        def first_line(method, path, body=b"", headers=b"", version=b"1.1"):
            head = b"%s %s HTTP/%s\r\nHost: x\r\nConnection: close\r\n%s" % (method, path, version, headers)
            if body:
                head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
            out = self._exchange(head + b"\r\n" + body)
            return out[:out.index(b"\r\n") + 2]

        put = b'{"value":1}'
        self.assertEqual(first_line(b"GET", b"/healthz"), b"HTTP/1.1 200 OK\r\n")
        self.assertEqual(first_line(b"GET", b"/storage/none?ns=" + ns), b"HTTP/1.1 404 Not Found\r\n")
        self.assertEqual(first_line(b"GET", b"/storage/none?ns=" + ns, version=b"1.0"),
                         b"HTTP/1.0 404 Not Found\r\n")
        self.assertEqual(first_line(b"OPTIONS", b"/storage/k?ns=" + ns), b"HTTP/1.1 204 No Content\r\n")
        self.assertEqual(first_line(b"POST", b"/api/resources/register",
                                    b'{"type":"do","namespace":"%s","key":"sl"}' % ns),
                         b"HTTP/1.1 201 Created\r\n")
        self.assertEqual(first_line(b"PUT", b"/storage/k?ns=" + ns, put, b'If-Match: "999"\r\n'),
                         b"HTTP/1.1 412 Precondition Failed\r\n")
        self.assertEqual(first_line(b"PUT", b"/storage/k?ns=" + ns, b"{nope"), b"HTTP/1.1 400 Bad Request\r\n")
        self.assertEqual(first_line(b"PATCH", b"/healthz"), b"HTTP/1.1 405 Method Not Allowed\r\n")
        rl = b"/ratelimit/sl/check?enforce=1&ns=" + ns
        self.assertEqual(first_line(b"POST", rl, b'{"limit":1,"windowMs":60000}'), b"HTTP/1.1 200 OK\r\n")
        self.assertEqual(first_line(b"POST", rl, b'{"limit":1,"windowMs":60000}'),
                         b"HTTP/1.1 429 Too Many Requests\r\n")

    def test_expect_100_continue(self):
        # curl sends Expect: 100-continue for bodies over 1 KiB
        body = b'{"value":"' + b"e" * 2000 + b'"}'
        head = (b"PUT /storage/exp?ns=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % (self.ns.encode(), len(body)))
        out = self._exchange(head + body)
        self.assertIn(b"HTTP/1.1 200", out)
        self.assertEqual(self.server.get("exp", ns=self.ns), "e" * 2000)

    def test_chunked_request_body(self):
        body = b'{"value":{"chunked":true}}'
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5]) for i in range(0, len(body), 5))
        req = (b"PUT /storage/ch?ns=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % self.ns.encode()) + chunks + b"0\r\n\r\n"
        out = self._exchange(req)
        self.assertIn(b"HTTP/1.1 200", out)
        self.assertEqual(self.server.get("ch", ns=self.ns), {"chunked": True})

    def test_many_connections(self):
        socks = []
        try:
            for _ in range(50):
                socks.append(socket.create_connection(("127.0.0.1", self.server.port), timeout=10))
            ok(self.req("PUT", kv_path("after-conns", ns=self.ns), {"value": 1}))
        finally:
            for s in socks:
                s.close()
        self.assertEqual(self.server.get("after-conns", ns=self.ns), 1)


class Options(unittest.TestCase):

    def test_version_flag(self):
        rc, out, err = durotest.run_to_end([durotest.duro_bin(), "--version"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^durod \d+\.\d+\.\d+ \(binary protocol 2\)\n$")
        self.assertIn("--version", durotest.run_to_end([durotest.duro_bin(), "--help"])[1])

    def test_sighup_does_not_stop_the_server(self):
        srv = Server(extra_args=["--log-level", "info"])
        try:
            version = durotest.run_to_end([durotest.duro_bin(), "--version"])[1].split()[1]
            self.assertIn("durod %s listening" % version, srv.log_tail())  # the start line
            srv.put("k", 1)
            for _ in range(3):
                os.kill(srv.pid, signal.SIGHUP)
                time.sleep(0.1)
                self.assertTrue(srv.alive())
            self.assertEqual(srv.get("k"), 1)
            self.assertIn("SIGHUP", srv.log_tail())
            srv.stop_ok()  # SIGTERM still stops it cleanly
        finally:
            srv.close()

    def test_actor_and_thread_counts(self):
        for args in (["--actors", "1", "--io-threads", "1"], ["--actors", "3", "--io-threads", "2"]):
            with self.subTest(args=args):
                srv = Server(extra_args=args + ["--cache-mb", "1", "--max-open-namespaces", "2"])
                try:
                    for n in range(6):
                        srv.put("k", n, ns="ns%d" % n)
                    for n in range(6):
                        self.assertEqual(srv.get("k", ns="ns%d" % n), n)
                    srv.stop_ok()
                finally:
                    srv.close()

    def test_small_cache_and_few_open_namespaces(self):
        # values well over the cache budget, namespaces over the open-handle cap:
        # everything still reads back right (evictions are invisible)
        srv = Server(extra_args=["--cache-mb", "1", "--max-open-namespaces", "2"])
        try:
            want = {}
            for i in range(24):
                ns, key = "c%d" % (i % 5), "k%d" % i
                val = {"i": i, "blob": chr(97 + i % 26) * 150000}
                srv.put(key, val, ns=ns)
                want[(ns, key)] = val
            for rnd in range(2):
                for (ns, key), val in sorted(want.items()):
                    self.assertEqual(srv.get(key, ns=ns), val)
            for n in range(5):
                self.assertEqual(len(srv.list_all(ns="c%d" % n)), len([1 for (ns, _) in want if ns == "c%d" % n]))
            srv.stop_ok()
        finally:
            srv.close()

    def test_sync_normal_survives_sigkill(self):
        srv = Server(extra_args=["--sync", "normal"])
        try:
            for i in range(50):
                srv.put("k%d" % i, i, ns="sn")
            srv.kill()
            srv.start()
            self.assertEqual(len(srv.list_all(ns="sn")), 50)
            self.assertEqual(srv.get("k49", ns="sn"), 49)
            srv.stop_ok()
        finally:
            srv.close()

    def test_sync_normal(self):
        srv = Server(extra_args=["--sync", "normal"])
        try:
            srv.put("k", 1, ns="s")
            srv.restart()
            self.assertEqual(srv.get("k", ns="s"), 1)
            srv.stop_ok()
        finally:
            srv.close()

    def test_env_var_sets_option(self):
        srv = Server(env={"DURO_MAX_BODY_BYTES": "2048"})
        try:
            ok(srv.req("PUT", kv_path("small", ns="e"), {"value": "x" * 100}))
            assert_error(srv.req("PUT", kv_path("big", ns="e"), {"value": "x" * 3000}), 413, "PAYLOAD_TOO_LARGE")
            srv.stop_ok()
        finally:
            srv.close()

    def test_values_are_case_insensitive(self):
        # --log-level=DEBUG, DURO_LOG_FORMAT=JSON, --sync=FULL, a bool as =TRUE: all
        # accepted (the harness passes --log-level itself, and flags win over the env)
        srv = Server(extra_args=["--sync=FULL", "--pwhash-min=TRUE", "--log-level=DEBUG"],
                     env={"DURO_LOG_FORMAT": "JSON"})
        try:
            ok(srv.req("PUT", kv_path("k", ns="case"), {"value": 1}))
            time.sleep(0.2)
            self.assertIn('"level":"debug"', srv.log_tail(1 << 20))
            srv.stop_ok()
        finally:
            srv.close()
        rc, _, err = durotest.run_to_end([durotest.duro_bin(), "--sync", "fast"])
        self.assertEqual(rc, 2)
        self.assertIn("expected full|normal", err)

    def test_max_value_bytes_flag(self):
        srv = Server(extra_args=["--max-value-bytes", "100"])
        try:
            ok(srv.req("PUT", kv_path("ok", ns="e"), {"value": "x" * 50}))
            assert_error(srv.req("PUT", kv_path("big", ns="e"), {"value": "x" * 200}), 413, "PAYLOAD_TOO_LARGE")
            srv.stop_ok()
        finally:
            srv.close()


class ConnectionLimits(unittest.TestCase):
    """Slow and idle clients are cut off; the connection cap recovers. Uses
    --request-timeout-ms / --idle-timeout-ms / --max-connections."""

    @classmethod
    def setUpClass(cls):
        try:
            cls.srv = Server(extra_args=["--request-timeout-ms", "500", "--idle-timeout-ms", "500",
                                         "--max-connections", "8"])
        except durotest.ServerError as e:
            raise unittest.SkipTest("server lacks the timeout flags: %s" % str(e)[:200])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop_ok()
        finally:
            cls.srv.close()

    def wait_closed(self, s, drip=None, limit=4.0):
        """Seconds until the server closes s (recv → b"" / reset); drip is
        sent every 100 ms meanwhile. Fails after `limit` seconds."""
        t0 = time.monotonic()
        s.settimeout(0.1)
        while time.monotonic() - t0 < limit:
            try:
                if drip is not None:
                    s.sendall(drip)
                data = s.recv(65536)
                if not data:
                    return time.monotonic() - t0
                # a 4xx reply (408/400) before closing is fine
                self.assertRegex(data[:12], rb"^HTTP/1\.[01] 4\d\d")
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0
        self.fail("connection still open after %.1fs" % limit)

    def test_slowloris_headers_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            self.wait_closed(s, drip=b"X-Slow: 1\r\n")
        finally:
            s.close()
        self.assertEqual(self.srv.req("GET", "/healthz").status, 200)

    def test_slow_body_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            s.sendall(b"PUT /storage/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000\r\n\r\n{\"value\":\"")
            self.wait_closed(s, drip=b"a")
        finally:
            s.close()
        self.assertIs(self.srv.get("slow"), durotest.MISSING)

    def test_idle_connection_closed(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            self.wait_closed(s)
        finally:
            s.close()

    def test_connection_cap_recovers(self):
        socks = [socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) for _ in range(12)]
        for s in socks:
            s.close()
        end = time.monotonic() + 5
        while True:
            try:
                r = self.srv.req("GET", "/healthz", timeout=2)
                if r.status == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), end, "server does not accept connections after the cap")
            time.sleep(0.05)
        ok(self.srv.req("PUT", kv_path("after-cap", ns="cap"), {"value": 1}))


class CommandLine(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="durotest-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def base(self):
        return ["--listen", "127.0.0.1:%d" % free_port(), "--data", self.dir]

    def test_help(self):
        rc, out, err = run_durod(["--help"])
        self.assertEqual(rc, 0, err)
        text = out + err
        for f in FLAGS:
            with self.subTest(flag=f):
                self.assertRegex(text, re.escape(f) + r"\b")
        # also documents the environment variables
        self.assertIn("DURO_", text)

    def test_unknown_flag_exits_2(self):
        for args in (["--no-such-flag"], ["--no-such-flag", "1"], ["-Z"], ["stray-argument"]):
            with self.subTest(args=args):
                rc, out, err = run_durod(self.base() + args, timeout=5)
                self.assertEqual(rc, 2, (out, err))
                self.assertTrue(err.strip(), "no message on stderr")

    def test_bad_values_exit_2(self):
        cases = [["--actors", "abc"], ["--actors", "0"], ["--actors", "-1"], ["--actors", "12abc"],
                 ["--io-threads", "x"], ["--max-body-bytes", "-5"], ["--max-body-bytes", "lots"],
                 ["--max-value-bytes", "1.5"], ["--cache-mb", "many"], ["--max-open-namespaces", "x"],
                 ["--log-level", "loud"], ["--sync", "sometimes"], ["--actors"],
                 ["--listen", "not-an-address"], ["--actors", "99999999999999999999999"]]
        for args in cases:
            with self.subTest(args=args):
                rc, out, err = run_durod(self.base() + args, timeout=5)
                self.assertEqual(rc, 2, (out, err))
                self.assertTrue(err.strip(), "no message on stderr")

    def test_bad_env_values_exit_2(self):
        for name, val in (("DURO_ACTORS", "abc"), ("DURO_IO_THREADS", "zero"), ("DURO_LOG_LEVEL", "loud"),
                          ("DURO_MAX_BODY_BYTES", "-1"), ("DURO_SYNC", "maybe")):
            with self.subTest(env=name):
                rc, out, err = run_durod(self.base(), env={name: val}, timeout=5)
                self.assertEqual(rc, 2, (out, err))
                self.assertTrue(err.strip(), "no message on stderr")


if __name__ == "__main__":
    durotest.main()
