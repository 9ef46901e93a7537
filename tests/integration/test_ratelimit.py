#!/usr/bin/python3
"""Rate limiting (/ratelimit, GCRA): exact under concurrency, refill over the
window, enforce mode with its headers, reset, defaults, bad parameters, the
binary protocol ops, and state that survives a clean restart."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import St, Rpc, ServerTestCase, assert_error, free_port, main, ok, q  # noqa: E402

RPC_PORT = free_port()


def check_path(key, ns, **query):
    qs = "&".join("%s=%s" % (k, v) for k, v in [("ns", ns)] + sorted(query.items()))
    return "/ratelimit/%s/check?%s" % (q(key), qs)


class RateLimit(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT), "--ratelimit-default", "5/1h"]

    def check(self, key, body=None, **query):
        return self.req("POST", check_path(key, self.ns, **query), body)

    def test_exact_under_concurrency(self):
        limit, threads, per_thread = 50, 8, 20
        allowed = []
        lock = threading.Lock()

        def worker():
            n = 0
            for _ in range(per_thread):
                d = ok(self.check("race", {"limit": limit, "windowMs": 3600000}))
                n += d["allowed"]
            with lock:
                allowed.append(n)

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(sum(allowed), limit)  # 160 attempts, exactly `limit` allowed

    def test_counts_down_and_refills(self):
        body = {"limit": 4, "windowMs": 2000}  # one token back every 500 ms
        got = [ok(self.check("r", body)) for _ in range(5)]
        self.assertEqual([g["allowed"] for g in got], [True] * 4 + [False])
        self.assertEqual([g["remaining"] for g in got[:4]], [3, 2, 1, 0])
        self.assertGreater(got[4]["retryAfterMs"], 0)
        self.assertLessEqual(got[4]["retryAfterMs"], 500)
        self.assertTrue(all(g["limit"] == 4 for g in got))
        time.sleep(got[4]["retryAfterMs"] / 1000 + 0.05)
        self.assertTrue(ok(self.check("r", body))["allowed"])  # one token back
        time.sleep(2.1)
        d = ok(self.check("r", body))
        self.assertTrue(d["allowed"])
        self.assertEqual(d["remaining"], 3)  # full again after a whole window

    def test_cost_and_peek(self):
        body = {"limit": 10, "windowMs": 3600000, "cost": 7}
        self.assertTrue(ok(self.check("c", body))["allowed"])
        d = ok(self.check("c", body))
        self.assertFalse(d["allowed"])
        self.assertEqual(d["remaining"], 3)
        self.assertTrue(ok(self.check("c", dict(body, cost=3)))["allowed"])
        d = ok(self.req("GET", "/ratelimit/c?ns=" + self.ns))  # state, with the key's limit
        self.assertEqual((d["limit"], d["remaining"]), (10, 0))

    def test_a_negative_cost_gives_tokens_back(self):
        # a refund (express-rate-limit's decrement): never past a full bucket, always allowed
        body = {"limit": 3, "windowMs": 3600000}
        for _ in range(3):
            self.assertTrue(ok(self.check("r", body))["allowed"])
        self.assertFalse(ok(self.check("r", body))["allowed"])
        d = ok(self.check("r", dict(body, cost=-1)))
        self.assertEqual((d["allowed"], d["remaining"]), (True, 1))
        self.assertTrue(ok(self.check("r", body))["allowed"])
        self.assertFalse(ok(self.check("r", body))["allowed"])
        d = ok(self.check("r", dict(body, cost=-3)))  # more than was taken: a full bucket
        self.assertEqual(d["remaining"], 3)
        d = ok(self.check("r", dict(body, cost=-2)))
        self.assertEqual(d["remaining"], 3)
        for _ in range(3):
            self.assertTrue(ok(self.check("r", body))["allowed"])
        self.assertFalse(ok(self.check("r", body))["allowed"])
        assert_error(self.check("r", dict(body, cost=-4)), 400, "BAD_REQUEST")  # beyond -limit
        d = ok(self.req("GET", "/ratelimit/r?ns=" + self.ns))
        self.assertEqual(d["remaining"], 0)  # the refused refund changed nothing

    def test_enforce_headers(self):
        body = {"limit": 2, "windowMs": 60000}
        r = self.check("e", body, enforce=1)
        ok(r)
        self.assertEqual(r.headers["ratelimit-limit"], "2")
        self.assertEqual(r.headers["ratelimit-remaining"], "1")
        self.check("e", body, enforce=1)
        r = self.check("e", body, enforce=1)
        assert_error(r, 429, "RATE_LIMITED")
        self.assertEqual(r.headers["ratelimit-remaining"], "0")
        self.assertIn(r.headers["retry-after"], ("30", "31"))
        self.assertIn(r.headers["ratelimit-reset"], ("60", "61"))

    def test_reset_and_defaults(self):
        for _ in range(5):  # --ratelimit-default 5/1h
            self.assertTrue(ok(self.check("d"))["allowed"])
        self.assertFalse(ok(self.check("d"))["allowed"])
        self.assertEqual(ok(self.req("DELETE", "/ratelimit/d?ns=" + self.ns)), {"deleted": True})
        self.assertEqual(ok(self.req("DELETE", "/ratelimit/d?ns=" + self.ns)), {"deleted": False})
        d = ok(self.check("d"))
        self.assertEqual((d["allowed"], d["remaining"], d["limit"]), (True, 4, 5))

    def test_check_without_limits_uses_the_keys_policy(self):
        # an explicit policy is stored with the key; a later check (or get) that
        # gives none runs with it, not with --ratelimit-default (5/1h)
        d = ok(self.check("pol", {"limit": 3, "windowMs": 60000}))
        self.assertEqual((d["limit"], d["remaining"]), (3, 2))
        d = ok(self.check("pol"))
        self.assertEqual((d["allowed"], d["limit"], d["remaining"]), (True, 3, 1))
        self.assertEqual(ok(self.req("GET", "/ratelimit/pol?ns=" + self.ns))["limit"], 3)
        ok(self.check("pol"))
        self.assertFalse(ok(self.check("pol"))["allowed"])
        # a cost the stored policy can never allow is a bad request, not a denial
        assert_error(self.check("pol", {"cost": 4}), 400, "BAD_REQUEST", "never allowed")
        # a key with no policy still takes the default
        self.assertEqual(ok(self.check("fresh"))["limit"], 5)

    def test_check_is_post_only(self):
        for method in ("GET", "DELETE", "PUT"):
            r = self.req(method, "/ratelimit/k/check?ns=" + self.ns)
            assert_error(r, 405, "METHOD_NOT_ALLOWED")
            self.assertEqual(r.headers["allow"], "POST")
        # a key that ends in /check is spelled with %2F
        d = ok(self.check("a/check"))
        self.assertTrue(d["allowed"])

    def test_bad_parameters(self):
        cases = [{"limit": 0}, {"limit": -1}, {"limit": 1.5}, {"limit": "10"},
                 {"windowMs": 0}, {"windowMs": 315360000001}, {"cost": 1.5},
                 {"limit": 2, "cost": 3}, {"limit": 2, "cost": -3}, {"cost": -1000000001},
                 [1, 2], "x"]
        for body in cases:
            with self.subTest(body=body):
                assert_error(self.check("bad", body), 400, "BAD_REQUEST")
        assert_error(self.req("POST", "/ratelimit/%ff/check?ns=" + self.ns), 400, "BAD_REQUEST")
        assert_error(self.req("PUT", "/ratelimit/x?ns=" + self.ns, {}), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("POST", "/ratelimit/x/check?ns=_bad"), 400, "BAD_REQUEST")
        r = self.req("POST", check_path("bad", self.ns), b"{}", headers={"Content-Type": "text/plain"})
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_binary_protocol_ops(self):
        c = Rpc(RPC_PORT, timeout=5)
        for i in range(3):
            r = c.call("ratelimit.check", self.ns, {"key": "p", "limit": 3, "windowMs": 60000})
            self.assertEqual((r[0], r[1]["allowed"]), (St.OK, True))
        r = c.call("ratelimit.check", self.ns, {"key": "p", "limit": 3, "windowMs": 60000, "enforce": True})
        self.assertEqual((r[0], r[1]["code"]), (St.RATE_LIMITED, "RATE_LIMITED"))
        self.assertEqual(c.call("ratelimit.get", self.ns, {"key": "p"})[1]["remaining"], 0)
        self.assertEqual(c.call("ratelimit.reset", self.ns, {"key": "p"})[1], {"deleted": True})
        self.assertEqual(c.call("ratelimit.check", self.ns, {"limit": 3})[0], St.BAD_REQUEST)  # no key
        # shapes of the fast path and of the general one give the same answers
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "q", "limit": 0})[0], St.BAD_REQUEST)
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "q", "limit": -1})[0], St.BAD_REQUEST)
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "q", "limit": 2, "cost": 3})[0], St.BAD_REQUEST)
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "", "limit": 2})[0], St.BAD_REQUEST)
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "q", "limit": 2, "x": [1]})[0], St.BAD_REQUEST)
        self.assertEqual(c.call("ratelimit.check", self.ns, {"key": "q", "limit": 2})[0], St.OK)
        r = c.call("ratelimit.check", self.ns, {"key": "q", "limit": 2, "windowMs": 60000, "cost": 2})
        self.assertEqual((r[0], r[1]["allowed"]), (St.OK, False))  # 1 of 2 used just above
        c.close()


class RateLimitRestart(ServerTestCase):
    def test_clean_restart_forgets_nothing(self):
        body = {"limit": 100, "windowMs": 3600000}
        for i in range(40):
            ok(self.req("POST", check_path("k%d" % (i % 4), self.ns), body))
        self.assertEqual(self.server.stop(), 0)  # SIGTERM: flushes the state
        self.server.start()
        for i in range(4):
            d = ok(self.req("POST", check_path("k%d" % i, self.ns), body))
            self.assertEqual(d["remaining"], 100 - 11)

    def test_reset_of_state_only_on_disk(self):
        body = {"limit": 100, "windowMs": 3600000}
        ok(self.req("POST", check_path("od", self.ns), body))
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(ok(self.req("DELETE", "/ratelimit/od?ns=" + self.ns)), {"deleted": True})
        self.assertEqual(ok(self.req("POST", check_path("od", self.ns), body))["remaining"], 99)

    def test_state_reaches_disk_within_the_flush_period(self):
        body = {"limit": 100, "windowMs": 3600000}
        for _ in range(10):
            ok(self.req("POST", check_path("w", self.ns), body))
        time.sleep(0.5)  # > 100 ms write-behind period
        self.server.kill()
        self.server.start()
        d = ok(self.req("POST", check_path("w", self.ns), body))
        self.assertEqual(d["remaining"], 100 - 11)


if __name__ == "__main__":
    main()
