#!/usr/bin/python3
"""Hardening: one client must never cost the server unbounded memory, CPU
time, file descriptors or disk. Each test reproduces an attack at a bounded
size and asserts the bound (RSS, time to /healthz, fds, log size, status).

Memory bounds are measured as the growth of durod's VmRSS over its level
before the attack; under AddressSanitizer (ASAN_OPTIONS set by make
test-asan) allocations cost more and freed memory is quarantined, so the
bounds are scaled there."""

import json
import os
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durotest  # noqa: E402
from durotest import (St, Rpc, Server, ServerTestCase, assert_error, frame, frame_header,  # noqa: E402
                      free_port, kv_path, main, mp_pack, ok, split_frames)

MiB = 1 << 20
ASAN = "ASAN_OPTIONS" in os.environ
SLOW = 3 if ASAN else 1           # time factor under sanitizers
MEM = 3 if ASAN else 1            # memory factor under sanitizers


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def healthz_seconds(srv, timeout=30):
    t0 = time.monotonic()
    r = srv.req("GET", "/healthz", timeout=timeout, retry=False)
    assert r.status == 200, r
    return time.monotonic() - t0


def _complete(out):
    """True once out holds a whole response (head and Content-Length body)."""
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def raw_exchange(port, data, timeout=5.0):
    """Sends data on a new HTTP connection; returns the bytes of the first
    response (all the server sent until it closed, or until that response
    was complete, or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and not _complete(out):
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    return out


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def body_of(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


class ClassServer(unittest.TestCase):
    """A server per test class, started by setUpClass as cls.srv, stopped
    (expecting exit 0) when the class is done."""

    srv = None

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop_ok()
        finally:
            cls.srv.close()


class RpcBackPressure(ClassServer):
    """Items 1 and 2: pipelined reads of large values whose replies are never
    read; reads that need a JSON -> msgpack conversion of a 1 MiB value."""

    @classmethod
    def setUpClass(cls):
        cls.rpc_port = free_port()
        cls.srv = Server(extra_args=["--rpc-port", str(cls.rpc_port)])
        big = {"blob": "x" * (MiB - 64)}
        # stored as msgpack (binary protocol) and as JSON (HTTP)
        c = Rpc(cls.rpc_port)
        st, _ = c.call("kv.put", "bp", {"key": "mp", "value": big})
        assert st == St.OK, st
        c.close()
        ok(cls.srv.req("PUT", kv_path("js", ns="bp"), {"value": big}))

    def pipeline_unread(self, key, n, conns):
        socks = []
        data = b"".join(frame([i + 1, "kv.get", "bp", {"key": key}]) for i in range(n))
        for _ in range(conns):
            s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(data)
            socks.append(s)
        return socks

    def test_unread_replies_are_bounded(self):
        pid = self.srv.pid
        healthz_seconds(self.srv)
        base = rss(pid)
        socks = self.pipeline_unread("mp", 1000, 4)
        try:
            time.sleep(2.0 * SLOW)
            grown = rss(pid) - base
            # 4 x (32 replies in flight + 1 MiB unsent) is ~130 MiB; before the
            # fix one such connection took 1.36 GB
            self.assertLess(grown, 300 * MiB * MEM, "RSS grew by %d MiB" % (grown // MiB))
            self.assertLess(healthz_seconds(self.srv), 1.0 * SLOW)
        finally:
            for s in socks:
                s.close()
        # the server still answers everything afterwards
        c = Rpc(self.rpc_port)
        st, body = c.call("kv.get", "bp", {"key": "mp"})
        self.assertEqual(st, St.OK)
        self.assertEqual(len(body["blob"]), MiB - 64)
        c.close()

    def test_reader_gets_every_reply_in_time(self):
        # a client that does read gets all of its pipelined replies
        s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=30)
        n = 200
        s.sendall(b"".join(frame([i + 1, "kv.get", "bp", {"key": "mp"}]) for i in range(n)))
        got = set()
        buf = b""
        while len(got) < n:
            d = s.recv(1 << 20)
            self.assertTrue(d, "closed after %d replies" % len(got))
            buf += d
            replies, buf = split_frames(buf)
            for r in replies:
                self.assertEqual(r[1], St.OK)
                got.add(r[0])
        s.close()
        self.assertEqual(got, set(range(1, n + 1)))

    def test_conversion_does_not_stall_other_clients(self):
        # each reply converts a 1 MiB JSON value to msgpack; meanwhile /healthz
        # on the same I/O thread must stay fast (it took 4 s before the fix)
        socks = self.pipeline_unread("js", 300, 2)
        try:
            worst = 0.0
            for _ in range(10):
                worst = max(worst, healthz_seconds(self.srv))
                time.sleep(0.05)
            self.assertLess(worst, 0.5 * SLOW, "/healthz took %.3f s" % worst)
        finally:
            for s in socks:
                s.close()

    def worst_healthz_while(self, load, clients, seconds):
        """Runs load() in a loop on `clients` threads for `seconds`; returns the
        slowest /healthz meanwhile. Every load() must return True (success)."""
        stop = time.monotonic() + seconds
        errors = []

        def client():
            try:
                while time.monotonic() < stop:
                    if not load():
                        errors.append("a request failed")
            except Exception as e:  # reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for t in ts:
            t.start()
        worst = 0.0
        while time.monotonic() < stop:
            worst = max(worst, healthz_seconds(self.srv))
            time.sleep(0.05)
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        return worst

    def test_large_http_replies_do_not_stall(self):
        # the same over HTTP: several clients reading the 1 MiB value as msgpack
        worst = self.worst_healthz_while(
            lambda: self.srv.req("GET", kv_path("js", ns="bp"), accept_msgpack=True).status == 200,
            4, 2.0 * SLOW)
        self.assertLess(worst, 0.5 * SLOW, "/healthz took %.3f s" % worst)

    def test_large_bodies_do_not_stall(self):
        # clients sending 6 MB JSON batches back to back: /healthz stays fast
        ents = [{"key": "b%d" % i, "value": {"a": ["x" * 1000] * 6}} for i in range(1000)]
        body = json.dumps({"entries": ents}).encode()
        worst = self.worst_healthz_while(
            lambda: self.srv.req("POST", "/storage/batch/set?ns=bp2", body).status == 200,
            3, 2.0 * SLOW)
        self.assertLess(worst, 0.5 * SLOW, "/healthz took %.3f s" % worst)


class RpcPagesInFlight(unittest.TestCase):
    """Pipelined list pages (each up to --max-reply-bytes) whose replies are
    never read: a connection may have only 4 x max-reply of them in flight."""

    def test_pipelined_pages_are_bounded(self):
        rpc_port = free_port()
        # under ASan freed blocks wait in its quarantine (256 MiB by default)
        # and count in RSS: a small one keeps the growth to what is live
        env = {"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"] + ":quarantine_size_mb=16"} if ASAN else {}
        srv = Server(extra_args=["--rpc-port", str(rpc_port), "--max-reply-bytes", str(MiB),
                                 "--max-value-bytes", str(256 << 10)], env=env)
        try:
            c = Rpc(rpc_port)
            for i in range(8):
                st, _ = c.call("kv.batch_set", "pg", {"entries": [
                    {"key": "k%d-%d" % (i, j), "value": "v" * (200 << 10)} for j in range(5)]})
                self.assertEqual(st, St.OK)
            c.close()
            healthz_seconds(srv)
            base = rss(srv.pid)
            data = b"".join(frame([i + 1, "kv.list", "pg", {"values": True, "limit": 10000}])
                            for i in range(300))
            socks = []
            for _ in range(3):
                s = socket.create_connection(("127.0.0.1", rpc_port), timeout=10)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.sendall(data)
                socks.append(s)
            time.sleep(2.0 * SLOW)
            grown = rss(srv.pid) - base
            # 3 x (4 pages of 1 MiB + 1 MiB unsent); with 128 pages in flight
            # per connection it would be ~400 MiB
            self.assertLess(grown, 60 * MiB * MEM, "RSS grew by %d MiB" % (grown // MiB))
            self.assertLess(healthz_seconds(srv), 1.0 * SLOW)
            for s in socks:
                s.close()
            srv.stop_ok()
        finally:
            srv.close()


class SlowClients(ClassServer):
    """Item 3: frames and bodies get deadlines, and the bytes of partially
    received frames and bodies are bounded across all connections."""

    @classmethod
    def setUpClass(cls):
        cls.rpc_port = free_port()
        cls.srv = Server(extra_args=["--rpc-port", str(cls.rpc_port),
                                     "--request-timeout-ms", "1000", "--idle-timeout-ms", "1500",
                                     "--max-body-bytes", str(MiB),
                                     "--max-pending-bytes", str(8 * MiB)])

    def closed_within(self, s, seconds, drip=None):
        s.settimeout(0.1)
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                if drip:
                    s.sendall(drip)
                d = s.recv(65536)
                if not d:
                    return True
            except socket.timeout:
                pass
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def test_trickling_frames_are_cut(self):
        socks = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=5)
            s.sendall(frame_header(100))
            socks.append(s)
        try:
            # one byte every 100 ms never completes the 100-byte frame in 1 s
            cut = [self.closed_within(s, 3.0 * SLOW, drip=b"\x90") for s in socks[:3]]
            self.assertEqual(cut, [True] * 3)
            for s in socks[3:]:
                self.assertTrue(self.closed_within(s, 2.0 * SLOW))
        finally:
            for s in socks:
                s.close()
        self.assertLess(healthz_seconds(self.srv), 1.0 * SLOW)

    def test_idle_is_not_restarted_by_a_trickle_of_nothing(self):
        s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=5)
        try:
            self.assertTrue(self.closed_within(s, 4.0 * SLOW))
        finally:
            s.close()

    def test_partial_frames_are_bounded(self):
        pid = self.srv.pid
        base = rss(pid)
        socks, refused = [], 0
        n = MiB - 1
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=5)
            socks.append(s)
            s.sendall(frame_header(n))
            try:
                s.sendall(b"\x94" + b"\xc0" * (n - 2))  # one byte short of the frame
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            # within --request-timeout-ms of the first bytes: the held frames
            # are still held
            time.sleep(0.2)
            grown = rss(pid) - base
            self.assertLess(grown, 64 * MiB * MEM, "RSS grew by %d MiB" % (grown // MiB))
            # HTTP bodies share the budget: 503 with the JSON envelope
            big = (b"PUT /storage/x?ns=slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                   + b" " * 100000)
            out = raw_exchange(self.srv.port, big, timeout=0.5)
            self.assertEqual(status_of(out), 503, out[:200])
            self.assertEqual(json.loads(body_of(out)[1])["error"]["code"], "UNAVAILABLE")
            for s in socks:
                s.settimeout(0.05)
                try:
                    d = s.recv(4096)
                except (socket.timeout, ConnectionResetError):
                    continue
                if d and len(d) >= 4:
                    r = split_frames(d)[0][0]
                    self.assertEqual(r[1], St.UNAVAILABLE, r)
                    self.assertEqual(r[2]["code"], "UNAVAILABLE")
                    refused += 1
            # 8 MiB of budget: at most 8 frames of 1 MiB are held, the rest refused
            self.assertGreaterEqual(refused, 12)
        finally:
            for s in socks:
                s.close()
        # the budget comes back once those clients are gone
        time.sleep(0.3)
        ok(self.srv.req("PUT", kv_path("after", ns="slow"), {"value": "y" * 100000}))
        m = self.srv.metrics()
        self.assertEqual(durotest.metric_sum(m, "duro_pending_request_bytes"), 0.0)

    def test_announced_lengths_do_not_hold_the_budget(self):
        # headers alone (a large Content-Length or frame length, no bytes)
        # cost nothing: only bytes that arrived count against the budget
        socks = []
        try:
            for _ in range(12):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
                s.sendall(b"PUT /storage/k?ns=slow HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 1000000\r\n\r\n")
                socks.append(s)
                s = socket.create_connection(("127.0.0.1", self.rpc_port), timeout=5)
                s.sendall(frame_header(MiB - 1))
                socks.append(s)
            time.sleep(0.2)
            ok(self.srv.req("PUT", kv_path("small", ns="slow"), {"value": 1}))
            c = Rpc(self.rpc_port)
            self.assertEqual(c.call("kv.put", "slow", {"key": "small2", "value": 2})[0], St.OK)
            c.close()
            m = self.srv.metrics()
            self.assertLess(durotest.metric_sum(m, "duro_pending_request_bytes"), 64 * 1024)
        finally:
            for s in socks:
                s.close()

    def test_slow_http_body_is_cut(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            s.sendall(b"PUT /storage/slowbody?ns=slow HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            self.assertTrue(self.closed_within(s, 3.0 * SLOW, drip=b" "))
        finally:
            s.close()
        self.assertIs(self.srv.get("slowbody", ns="slow"), durotest.MISSING)


class FileDescriptors(unittest.TestCase):
    """Item 4: a low fd limit; more connections and namespaces than fit."""

    LIMIT = 256

    def test_low_fd_limit(self):
        lim = self.LIMIT

        orig = durotest._pdeathsig

        def low_fds():
            orig()
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))

        rpc_port = free_port()
        srv = Server(extra_args=["--rpc-port", str(rpc_port), "--log-level", "info"], start=False)
        durotest._pdeathsig = low_fds
        try:
            srv.start()
        finally:
            durotest._pdeathsig = orig
        try:
            pid = srv.pid
            with open(srv.log_path, "rb") as f:
                start_log = f.read().decode("utf-8", "replace")
            self.assertIn("file descriptors: limit %d" % lim, start_log)
            # many namespaces: more than fit in the fds at 3 each
            for i in range(150):
                r = srv.req("PUT", kv_path("k", ns="fd%d" % i), {"value": i})
                self.assertIn(r.status, (200, 503), r)
            # more connections than fds, both protocols
            socks, refused = [], 0
            for i in range(400):
                port = rpc_port if i % 2 else srv.port
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    refused += 1
            self.assertLessEqual(fds(pid), lim)
            # while they are open, requests on new connections are answered or refused
            # with 503, never 500, and the server does not spin
            r = None
            try:
                r = srv.req("GET", kv_path("k", ns="fd1"), timeout=3, retry=False)
            except OSError:
                pass
            if r is not None:
                self.assertIn(r.status, (200, 503), r)
            for s in socks:
                s.close()
            # after the clients left, the server serves again within a second or two
            end = time.monotonic() + 5 * SLOW
            while True:
                try:
                    if srv.req("GET", "/healthz", timeout=1, retry=False).status == 200:
                        break
                except OSError:
                    pass
                self.assertLess(time.monotonic(), end, "server unresponsive after the clients left")
                time.sleep(0.1)
            for i in range(0, 150, 7):
                r = srv.req("GET", kv_path("k", ns="fd%d" % i))
                self.assertIn(r.status, (200, 404), r)
            written = sum(1 for i in range(150)
                          if srv.req("GET", kv_path("k", ns="fd%d" % i)).status == 200)
            self.assertGreater(written, 100)
            self.assertLess(os.path.getsize(srv.log_path), 200000, "the log exploded")
            self.assertLessEqual(fds(pid), lim)
            srv.stop_ok()
        finally:
            srv.close()


    def test_accept_out_of_fds_pauses_and_recovers(self):
        # lower a running server's limit under what it has open: accept() fails
        # with EMFILE; the server must not spin or flood its log, and must
        # serve again once descriptors are back
        srv = Server(extra_args=["--log-level", "info"])
        try:
            pid = srv.pid
            srv._close_conns()
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds(pid), hard))
            socks = []
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            time.sleep(2.0)
            busy = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            self.assertLess(busy, 0.3, "durod used %.0f%% CPU while out of fds" % (busy * 100))
            with open(srv.log_path, "rb") as f:
                log = f.read().decode("utf-8", "replace")
            self.assertIn("pausing accept", log)
            self.assertLess(log.count("accept ("), 5, log[-2000:])
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            # the waiting clients are served once fds are back
            for s in socks:
                s.settimeout(5)
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
                s.close()
            self.assertEqual(srv.req("GET", "/healthz").status, 200)
            srv.stop_ok()
        finally:
            srv.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HttpFraming(ServerTestCase):
    """Item 6 and the smaller HTTP items: smuggling shapes, HEAD, unknown
    methods, bad chunks, strict query parameters."""

    def raw(self, data):
        return raw_exchange(self.server.port, data, timeout=3)

    def test_duplicate_content_length_is_400(self):
        ns = self.ns
        for cls in ([b"11", b"0"], [b"11", b"11"], [b"0", b"11"]):
            req = (b"PUT /storage/smuggled?ns=" + ns.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\n" +
                   b"".join(b"Content-Length: " + v + b"\r\n" for v in cls) +
                   b"\r\n{\"value\":1}")
            out = self.raw(req)
            self.assertEqual(status_of(out), 400, out[:300])
            self.assertEqual(json.loads(body_of(out)[1])["error"]["code"], "BAD_REQUEST")
            self.assertIn(b"Connection: close", body_of(out)[0])
        self.assertIs(self.server.get("smuggled", ns=ns), durotest.MISSING)

    def test_content_length_with_transfer_encoding_is_400(self):
        req = (b"PUT /storage/te?ns=" + self.ns.encode() + b" HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nContent-Length: 11\r\n"
               b"Transfer-Encoding: chunked\r\n\r\nb\r\n{\"value\":1}\r\n0\r\n\r\n")
        out = self.raw(req)
        self.assertEqual(status_of(out), 400, out[:300])
        self.assertIs(self.server.get("te", ns=self.ns), durotest.MISSING)
        for te in (b"gzip", b"chunked, chunked", b"identity"):
            out = self.raw(b"POST /storage/batch/get HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " +
                           te + b"\r\n\r\n0\r\n\r\n")
            self.assertEqual(status_of(out), 400, (te, out[:300]))

    def test_bad_chunk_framing_is_400(self):
        base = (b"PUT /storage/ch?ns=" + self.ns.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for body in (b"zz\r\n{}\r\n0\r\n\r\n", b"b\r\n{\"value\":1}XX0\r\n\r\n",
                     b"-1\r\n{}\r\n0\r\n\r\n", b"ffffffffffffffffffff\r\n"):
            out = self.raw(base + body)
            self.assertEqual(status_of(out), 400, (body, out[:300]))
            self.assertEqual(json.loads(body_of(out)[1])["error"]["code"], "BAD_REQUEST")

    def test_head_answers_headers_only_and_keeps_the_connection(self):
        self.server.put("h", {"v": "x" * 100}, ns=self.ns)
        path = kv_path("h", ns=self.ns).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            s.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            end = time.monotonic() + 5
            while data.count(b"HTTP/1.1 200") < 2 and time.monotonic() < end:
                data += s.recv(65536)
            first, rest = data.split(b"\r\n\r\n", 1)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), data)
            clen = int([l for l in first.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                       [0].split(b":")[1])
            # the GET's reply follows at once: the HEAD sent no body
            self.assertTrue(rest.startswith(b"HTTP/1.1 200"), rest[:100])
            ghead, gbody = rest.split(b"\r\n\r\n", 1)
            while len(gbody) < clen:
                gbody += s.recv(65536)
            self.assertEqual(len(gbody), clen)
            self.assertEqual(json.loads(gbody)["data"], {"v": "x" * 100})
        finally:
            s.close()
        for p in ("/healthz", "/storage/list?ns=" + self.ns, "/metrics",
                  "/api/resources/stats"):
            r = self.server.req("HEAD", p)
            self.assertEqual(r.status, 200, (p, r))
            self.assertEqual(r.raw, b"")

    def test_unknown_method_is_405_envelope(self):
        for m in (b"FOO", b"TRACE", b"CONNECT", b"PROPFIND"):
            out = self.raw(m + b" /storage/k?ns=" + self.ns.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(out), 405, (m, out[:300]))
            self.assertIn(b"405 Method Not Allowed", out.split(b"\r\n")[0])
            self.assertEqual(json.loads(body_of(out)[1])["error"]["code"], "METHOD_NOT_ALLOWED")

    def test_unknown_query_parameter_is_400(self):
        self.server.put("q", 1, ns=self.ns)
        for path in ("/storage/list?ns=%s&prefx=a" % self.ns, "/storage/q?ns=%s&x=1" % self.ns,
                     "/api/storage/kv/%s?prefx=a" % self.ns, "/healthz?x=1",
                     "/storage/list?ns=%s&limit=1&limit=2" % self.ns,
                     "/ratelimit/k?ns=%s&foo=1" % self.ns, "/sessions/abc?ns=%s&y=" % self.ns):
            r = self.server.req("GET", path)
            assert_error(r, 400, "BAD_REQUEST", path)
        r = self.server.req("GET", "/storage/list?ns=%s&prefx=a" % self.ns)
        self.assertIn('"prefx"', r.body["error"]["message"])

    def test_early_errors_answer_http_1_1(self):
        out = self.raw(b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:100])
        out = self.raw(b"GET /healthz HTTP/1.1\0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:100])

    def test_namespace_of_128_bytes_in_the_path(self):
        ns = "n" * 128
        self.assertEqual(ok(self.server.req("PUT", "/api/storage/kv/%s/k" % ns, {"value": 7})),
                         {"version": 1})
        self.assertEqual(ok(self.server.req("GET", "/api/storage/kv/%s/k" % ns)), 7)
        self.assertEqual(self.server.get("k", ns=ns), 7)
        enc = "".join("%%%02X" % ord(ch) for ch in "n" * 100)   # 300 bytes, 100 decoded
        self.assertEqual(self.server.req("GET", "/api/storage/kv/%s/k" % enc).status, 404)
        assert_error(self.server.req("GET", "/api/storage/kv/%s/k" % ("n" * 129)), 400,
                     "BAD_REQUEST")

    def test_auth_bodies_are_strict(self):
        for path, body in (("/auth/users", {"email": "a@b.c", "password": "12345678", "admin": 1}),
                           ("/auth/login", {"email": "a@b.c", "password": "12345678", "ttl": 5})):
            r = self.server.req("POST", path + "?ns=" + self.ns, body)
            assert_error(r, 400, "BAD_REQUEST", path)
            self.assertIn("unknown field", r.body["error"]["message"])

    def test_bool_query_values_are_strict(self):
        self.server.put("b", 1, ns=self.ns)
        assert_error(self.server.req("GET", kv_path("b", ns=self.ns, meta="yes")), 400, "BAD_REQUEST")
        self.assertEqual(ok(self.server.req("GET", kv_path("b", ns=self.ns, meta="true")))["value"], 1)
        self.assertEqual(ok(self.server.req("GET", kv_path("b", ns=self.ns, meta="0"))), 1)


class ConnectionCap(unittest.TestCase):
    """--max-connections counts HTTP and binary-protocol connections together;
    one over the cap is answered 503 and closed."""

    def test_cap_counts_both_protocols(self):
        rpc_port = free_port()
        srv = Server(extra_args=["--rpc-port", str(rpc_port), "--max-connections", "4"])
        try:
            held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(2)]
            held += [socket.create_connection(("127.0.0.1", rpc_port), timeout=5) for _ in range(2)]
            time.sleep(0.2)
            out = raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
            self.assertEqual(status_of(out), 503, out[:200])
            self.assertEqual(json.loads(body_of(out)[1])["error"]["code"], "UNAVAILABLE")
            s = socket.create_connection(("127.0.0.1", rpc_port), timeout=3)
            d = b""
            try:
                while True:
                    c = s.recv(4096)
                    if not c:
                        break
                    d += c
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
            r = split_frames(d)[0][0]
            self.assertEqual(r[1], St.UNAVAILABLE)
            for h in held:
                h.close()
            end = time.monotonic() + 5
            while True:
                try:
                    if srv.req("GET", "/healthz", timeout=1, retry=False).status == 200:
                        break
                except OSError:
                    pass
                self.assertLess(time.monotonic(), end)
                time.sleep(0.05)
            srv.stop_ok()
        finally:
            srv.close()


    def test_cap_is_one_count_over_all_io_threads(self):
        # 4 I/O threads, cap 10: the kernel spreads connections over their listeners
        # unevenly, yet exactly 10 are served (each answers a request), the 11th is refused
        srv = Server(extra_args=["--io-threads", "4", "--max-connections", "10"])
        try:
            held = []
            for _ in range(10):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                got = b""
                while b"\r\n\r\n" not in got:
                    c = s.recv(4096)
                    self.assertTrue(c, "connection %d was closed" % len(held))
                    got += c
                self.assertEqual(status_of(got), 200, got[:200])
                held.append(s)
            out = raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
            self.assertEqual(status_of(out), 503, out[:200])
            for h in held:
                h.close()
            srv.stop_ok()
        finally:
            srv.close()


class ZeroFrame(unittest.TestCase):
    def test_duplicate_args_are_400_on_the_fast_paths_too(self):
        rpc_port = free_port()
        srv = Server(extra_args=["--rpc-port", str(rpc_port)])
        try:
            c = Rpc(rpc_port)
            self.assertEqual(c.call("kv.put", "d", {"key": "a", "value": 1})[0], St.OK)
            for op, args in (("kv.get", b"\x82\xa3key\xa1a\xa3key\xa1b"),
                             ("ratelimit.get", b"\x82\xa3key\xa1a\xa3key\xa1b")):
                body = mp_pack([9, op, "d"])
                raw = b"\x94" + body[1:] + args   # [9, op, "d", <args as sent>]
                c.send_frame(raw)
                r = c.recv()
                self.assertEqual(r[0], 9)
                self.assertEqual(r[1], St.BAD_REQUEST, (op, r))
            c.close()
            srv.stop_ok()
        finally:
            srv.close()

    def test_zero_length_frame_is_400_and_closes(self):
        rpc_port = free_port()
        srv = Server(extra_args=["--rpc-port", str(rpc_port)])
        try:
            c = Rpc(rpc_port)
            c.send_raw(frame_header(0))
            r = c.recv()
            self.assertEqual(r[0], 0)
            self.assertEqual(r[1], St.BAD_REQUEST)
            self.assertEqual(r[2]["code"], "BAD_REQUEST")
            self.assertIsNone(c.recv())
            c.close()
            srv.stop_ok()
        finally:
            srv.close()


if __name__ == "__main__":
    main(timeout=240)
