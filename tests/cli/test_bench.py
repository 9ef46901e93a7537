"""
test_bench.py — `duro bench` against a real durod: closed loop with
pipelining, every op (ratelimit too), the open loop (--rate), the --requests bound, and its
exit codes (0 after a run, 2 for bad options, 3 when the server is down).
"""

import json
import os
import re
import sys
import time
import unittest

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
