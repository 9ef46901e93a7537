"""
test_bench.py — `duro bench` against a real durod: closed loop with
pipelining, every op (ratelimit too), the open loop (--rate), the --requests bound, and its
exit codes (0 after a run, 2 for bad options, 3 when the server is down). With --metrics-url
the server's own counters (duro_kv_ops_total, duro_ratelimit_ops_total on /metrics) must equal
the replies the bench counted; several event-loop threads (--threads) share the connections.
"""

import json
import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from clitest import duro  # noqa: E402

SRV = None


def setUpModule():
    global SRV
    SRV = clitest.Server()


def tearDownModule():
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "durod exited with %r on SIGTERM: %s" % (rc, SRV.log_text())


class Bench(unittest.TestCase):
    def bench(self, *args, want=0):
        t0 = time.monotonic()
        rc, out, err = duro(SRV, "bench", *args, timeout=90)
        self.assertEqual(rc, want, "duro bench %s: exit %d\n%s\n%s"
                         % (" ".join(args), rc, out, err))
        return out, err, time.monotonic() - t0

    def test_one_second_text(self):
        out, err, secs = self.bench("--duration", "1", "--clients", "4", "--pipeline", "4",
                                    "--keys", "1000")
        m = re.search(r"^ops/s: (\d+)$", out, re.M)
        self.assertTrue(m, out)
        self.assertGreater(int(m.group(1)), 0)
        m = re.search(r"^latency ms: p50 ([\d.]+)  p99 ([\d.]+)  p999 ([\d.]+)  max ([\d.]+)$",
                      out, re.M)
        self.assertTrue(m, out)
        p50, p99, p999, mx = map(float, m.groups())
        self.assertTrue(0 < p50 <= p99 <= p999 <= mx * 1.02 + 0.001, out)
        self.assertIn("errors 0", out)
        self.assertIn("not found 0", out)     # the keys were preloaded
        self.assertLess(secs, 30)

    def test_ops_json(self):
        for op in ("get", "set", "mixed"):
            out, err, _ = self.bench("--duration", "1", "--clients", "3", "--pipeline", "8",
                                     "--op", op, "--value-size", "64", "--keys", "500",
                                     "--json", "-n", "bench-json")
            r = json.loads(out)
            self.assertEqual(r["op"], op)
            self.assertEqual((r["clients"], r["pipeline"], r["value_size"]), (3, 8, 64))
            self.assertGreater(r["ops"], 0)
            self.assertEqual(r["errors"], 0, out)
            self.assertGreater(r["ops_per_sec"], 0)
            self.assertGreaterEqual(r["p99_ms"], r["p50_ms"])
            self.assertTrue(0.9 <= r["seconds"] < 20, r)
        # the set run wrote values of the asked size
        rc, out, err = duro(SRV, "-n", "bench-json", "get", "k1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(out)), 64)

    def test_ratelimit_op(self):
        """--op ratelimit: ratelimit.check {key, limit 1e9, windowMs 60000},
        pipelined like get; every check is answered and allowed."""
        out, err, secs = self.bench("--op", "ratelimit", "--duration", "1", "--clients", "4",
                                    "--pipeline", "16", "--keys", "100", "-n", "bench-rl")
        self.assertIn("op ratelimit, 4 clients, pipeline 16", out)
        self.assertNotIn("preloaded", out)        # nothing to write first
        m = re.search(r"^ops/s: (\d+)$", out, re.M)
        self.assertTrue(m, out)
        self.assertGreater(int(m.group(1)), 0)
        m = re.search(r"^requests: (\d+) in [\d.]+ s \(not found (\d+), errors (\d+)\)$",
                      out, re.M)
        self.assertTrue(m, out)
        n, nf, errs = map(int, m.groups())
        self.assertGreater(n, 0)
        self.assertEqual((nf, errs), (0, 0), out)
        self.assertLess(secs, 30)
        # the checks went to the rate limiter: the buckets have their
        # parameters (a get without --limit/--window shows the key's last ones;
        # at 1e9 per minute they are full again at once, so no count to check)
        for k in (0, 42, 99):
            rc, o, e = duro(SRV, "-n", "bench-rl", "ratelimit", "get", "k%d" % k)
            self.assertEqual(rc, 0, e)
            st = json.loads(o)
            self.assertEqual(st["limit"], 1000000000, st)
            self.assertTrue(st["allowed"], st)
        out, err, _ = self.bench("--op", "ratelimit", "--duration", "1", "--clients", "2",
                                 "--pipeline", "4", "--json", "-n", "bench-rl")
        r = json.loads(out)
        self.assertEqual(r["op"], "ratelimit")
        self.assertEqual(r["errors"], 0, out)
        self.assertGreater(r["ops_per_sec"], 0)

    def test_open_loop_rate(self):
        out, err, _ = self.bench("--duration", "1.5", "--clients", "2", "--rate", "400",
                                 "--pipeline", "8", "--json")
        r = json.loads(out)
        self.assertEqual(r["errors"], 0, out)
        self.assertTrue(400 <= r["ops"] <= 660, r)   # 600 due in 1.5 s
        self.assertTrue(200 <= r["ops_per_sec"] <= 500, r)

    def test_requests_bound(self):
        out, err, _ = self.bench("--duration", "30", "--clients", "4", "--pipeline", "4",
                                 "--requests", "200", "--json")
        r = json.loads(out)
        self.assertEqual(r["ops"], 200, r)
        self.assertLess(r["seconds"], 20)

    def metrics(self, name):
        """The value of counter `name` on the server's /metrics."""
        with urllib.request.urlopen(SRV.http + "/metrics", timeout=10) as r:
            text = r.read().decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
        self.assertTrue(m, "no %s in /metrics" % name)
        return int(m.group(1))

    def test_server_count_matches_text(self):
        """get and set: the server counted exactly the replies the bench took
        (the preload is before the first reading), and the line says so."""
        for op in ("get", "set"):
            before = self.metrics("duro_kv_ops_total")
            out, err, _ = self.bench("--duration", "1", "--clients", "6", "--pipeline", "8",
                                     "--op", op, "--keys", "300", "-n", "bench-count",
                                     "--metrics-url", SRV.http)
            after = self.metrics("duro_kv_ops_total")
            m = re.search(r"^requests: (\d+) in [\d.]+ s \(not found (\d+), errors (\d+)\)$",
                          out, re.M)
            self.assertTrue(m, out)
            n, nf, errs = map(int, m.groups())
            self.assertEqual((nf, errs), (0, 0), out)
            m = re.search(r"^server counted (\d+) ops, client (\d+): (match|MISMATCH)$", out, re.M)
            self.assertTrue(m, out)
            self.assertEqual(m.group(3), "match", out)
            srv, cli = int(m.group(1)), int(m.group(2))
            self.assertEqual(srv, cli, out)
            self.assertEqual(cli, n, out)
            self.assertGreater(n, 100, out)
            # what /metrics says from outside agrees: the run's ops, plus the
            # preload's batch_set (one op per 1000 keys) for a get run
            self.assertEqual(after - before, n + (1 if op == "get" else 0), out)

    def test_server_count_json_and_threads(self):
        """--json has both counts and they agree; three event-loop threads over
        seven connections (uneven shares) run ratelimit and mixed."""
        for op, counter in (("ratelimit", "duro_ratelimit_ops_total"),
                            ("mixed", "duro_kv_ops_total")):
            before = self.metrics(counter)
            out, err, _ = self.bench("--duration", "1", "--clients", "7", "--threads", "3",
                                     "--pipeline", "4", "--op", op, "--keys", "200", "--json",
                                     "-n", "bench-threads", "--metrics-url", SRV.http)
            after = self.metrics(counter)
            r = json.loads(out)
            self.assertEqual((r["op"], r["clients"], r["threads"]), (op, 7, 3), r)
            self.assertEqual(r["errors"], 0, r)
            self.assertGreater(r["ops"], 100, r)
            self.assertEqual(r["client_ops"], r["ops"], r)
            self.assertEqual(r["server_ops"], r["client_ops"], r)
            self.assertIs(r["server_match"], True, r)
            self.assertEqual(after - before, r["ops"] + (1 if op == "mixed" else 0), r)
        # the default: one thread per 4 CPUs, never more than --clients
        out, err, _ = self.bench("--duration", "0.5", "--clients", "1", "--json", "--no-preload")
        r = json.loads(out)
        self.assertEqual((r["clients"], r["threads"]), (1, 1), r)
        self.assertIsNone(r["server_ops"], r)     # no --metrics-url
        self.assertIsNone(r["server_match"], r)

    def test_server_count_unavailable(self):
        """/metrics that cannot be read is reported, and the run still succeeds."""
        out, err, _ = self.bench("--duration", "0.5", "--clients", "2", "--no-preload",
                                 "--metrics-url", "http://127.0.0.1:%d" % clitest.closed_port())
        self.assertRegex(out, r"(?m)^server count unavailable \(cannot connect to .*\)$")
        self.assertRegex(out, r"(?m)^ops/s: [1-9]\d*$")
        # not durod's HTTP port: the binary protocol's port answers no HTTP 200
        out, err, _ = self.bench("--duration", "0.5", "--clients", "2", "--no-preload",
                                 "--metrics-url", "http://127.0.0.1:%d" % SRV.rpc_port, "--json")
        r = json.loads(out)
        self.assertIsNone(r["server_ops"], r)
        self.assertGreater(r["ops"], 0, r)
        self.bench("--metrics-url", "127.0.0.1:1", want=2)
        self.bench("--threads", "0", want=2)

    def test_usage_and_server_down(self):
        out, err, _ = self.bench("--help")
        self.assertIn("--pipeline", out)
        for bad in (["--clients", "0"], ["--pipeline", "5000"], ["--op", "scan"],
                    ["--duration", "-1"], ["--bogus"], ["--keys"]):
            self.bench(*bad, want=2)
        url = "duro://127.0.0.1:%d?connect_timeout_ms=1000" % clitest.closed_port()
        rc, out, err = duro(url, "bench", "--duration", "1", "--clients", "2", timeout=60)
        self.assertEqual(rc, 3, err)


if __name__ == "__main__":
    clitest.main(watchdog_seconds=280)
