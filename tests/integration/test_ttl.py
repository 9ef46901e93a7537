#!/usr/bin/python3
"""TTL: expiry seen by every read (get, meta, batch get, list, list values,
api family), overwrite semantics, and the active sweep (duro_keys_expired_total
grows without any read). Short TTLs, polled with deadlines; no long sleeps."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (MISSING, ServerTestCase, api_path, assert_error, kv_path,  # noqa: E402
                      main, metric_sum, ok, storage_path)

SHORT = 300          # ms
DEADLINE = 10.0      # s to wait for something that is due after SHORT ms


def wait_until(pred, timeout=DEADLINE, step=0.02, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(step)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


class Ttl(ServerTestCase):
    server_args = ["--ttl-sweep-ms", "50"]

    def put(self, key, value, ttl=None, ns=None, **kw):
        body = {"value": value}
        if ttl is not None:
            body["ttlMs"] = ttl
        body.update(kw)
        return ok(self.req("PUT", kv_path(key, ns=ns or self.ns), body))

    def test_expires_for_get(self):
        t0 = time.monotonic()
        self.put("short", "s", ttl=SHORT)
        self.put("long", "l", ttl=600000)
        self.put("forever", "f")
        wait_until(lambda: self.server.get("short", ns=self.ns) is MISSING, what="short to expire")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, SHORT / 1000.0 - 0.05, "expired too early")
        assert_error(self.req("GET", kv_path("short", ns=self.ns)), 404, "NOT_FOUND")
        assert_error(self.req("GET", kv_path("short", ns=self.ns, meta=1)), 404, "NOT_FOUND")
        assert_error(self.req("GET", api_path(self.ns, "short")), 404, "NOT_FOUND")
        self.assertEqual(self.server.get("long", ns=self.ns), "l")
        self.assertEqual(self.server.get("forever", ns=self.ns), "f")

    def test_present_before_expiry(self):
        before = int(time.time() * 1000)
        self.put("k", 1, ttl=5000)
        r = self.req("GET", kv_path("k", ns=self.ns, meta=1))
        m = ok(r)
        self.assertEqual(m["value"], 1)
        self.assertIsInstance(m["expiresAt"], int)
        self.assertTrue(before + 5000 - 1000 <= m["expiresAt"] <= int(time.time() * 1000) + 5000 + 1000, m)
        ent = [e for e in self.server.list_all(ns=self.ns, values=True) if e["key"] == "k"]
        self.assertEqual(len(ent), 1)
        self.assertEqual(ent[0]["expiresAt"], m["expiresAt"])

    def test_expired_not_listed(self):
        for i in range(5):
            self.put("e%d" % i, i, ttl=SHORT)
        self.put("stay", "s", ttl=600000)
        self.put("stay2", "s2")

        def gone():
            return self.server.list_all(ns=self.ns) == ["stay", "stay2"]
        wait_until(gone, what="expired keys to leave the list")
        vals = self.server.list_all(ns=self.ns, values=True)
        self.assertEqual([e["key"] for e in vals], ["stay", "stay2"])
        self.assertIsNone(vals[1]["expiresAt"])
        self.assertIsInstance(vals[0]["expiresAt"], int)
        self.assertEqual(self.server.list_all(ns=self.ns, api=True), ["stay", "stay2"])
        self.assertEqual(self.server.list_all(ns=self.ns, prefix="e"), [])
        self.assertEqual(self.server.list_all(ns=self.ns, reverse=1), ["stay2", "stay"])

    def test_expired_absent_from_batch_get(self):
        self.put("bx", 1, ttl=SHORT)
        self.put("by", 2)
        wait_until(lambda: self.server.get("bx", ns=self.ns) is MISSING, what="bx to expire")
        d = ok(self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["bx", "by"]}))
        self.assertEqual(d, {"by": 2})

    def test_lazy_expiry_without_sweep_delay(self):
        # Read right at expiry: whatever the sweep does, a read after expiresAt is 404.
        self.put("lz", 1, ttl=SHORT)
        m = ok(self.req("GET", kv_path("lz", ns=self.ns, meta=1)))
        due = m["expiresAt"] / 1000.0
        while time.time() < due + 0.02:
            time.sleep(0.01)
        assert_error(self.req("GET", kv_path("lz", ns=self.ns)), 404, "NOT_FOUND")

    def test_overwrite_without_ttl_clears_expiry(self):
        self.put("o", 1, ttl=SHORT)
        self.put("o", 2)
        m = ok(self.req("GET", kv_path("o", ns=self.ns, meta=1)))
        self.assertIsNone(m["expiresAt"])
        time.sleep(SHORT / 1000.0 + 0.3)
        self.assertEqual(self.server.get("o", ns=self.ns), 2)

    def test_null_ttl_is_no_expiry(self):
        self.put("n", 1, ttl=None, ttlMs=None)
        self.assertIsNone(ok(self.req("GET", kv_path("n", ns=self.ns, meta=1)))["expiresAt"])

    def test_overwrite_extends_ttl(self):
        self.put("x", 1, ttl=SHORT)
        self.put("x", 2, ttl=600000)
        time.sleep(SHORT / 1000.0 + 0.3)
        self.assertEqual(self.server.get("x", ns=self.ns), 2)

    def test_max_ttl_accepted(self):
        self.put("max", 1, ttl=315360000000)
        m = ok(self.req("GET", kv_path("max", ns=self.ns, meta=1)))
        self.assertGreater(m["expiresAt"], int(time.time() * 1000) + 315360000000 - 60000)

    def test_batch_set_ttl(self):
        ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                    {"entries": [{"key": "t1", "value": 1, "ttlMs": SHORT},
                                 {"key": "t2", "value": 2}]}))
        wait_until(lambda: self.server.get("t1", ns=self.ns) is MISSING, what="t1 to expire")
        self.assertEqual(self.server.get("t2", ns=self.ns), 2)

    def test_expired_key_can_be_created_with_if_none_match(self):
        self.put("inm", 1, ttl=SHORT)
        assert_error(self.req("PUT", kv_path("inm", ns=self.ns), {"value": 2},
                              headers={"If-None-Match": "*"}), 412, "PRECONDITION_FAILED")
        wait_until(lambda: self.server.get("inm", ns=self.ns) is MISSING, what="inm to expire")
        ok(self.req("PUT", kv_path("inm", ns=self.ns), {"value": 3}, headers={"If-None-Match": "*"}))
        self.assertEqual(self.server.get("inm", ns=self.ns), 3)

    def test_delete_of_expired_reports_false(self):
        self.put("de", 1, ttl=SHORT)
        wait_until(lambda: self.server.get("de", ns=self.ns) is MISSING, what="de to expire")
        self.assertEqual(ok(self.req("DELETE", kv_path("de", ns=self.ns))), {"deleted": False})

    def test_sweep_counts_expired_keys_without_reads(self):
        text = self.server.metrics()
        before = metric_sum(text, "duro_keys_expired_total")
        self.assertIsNotNone(before, "duro_keys_expired_total missing from /metrics")
        n = 20
        ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                    {"entries": [{"key": "sw%02d" % i, "value": i, "ttlMs": SHORT} for i in range(n)]}))

        def swept():
            v = metric_sum(self.server.metrics(), "duro_keys_expired_total")
            return v is not None and v >= before + n
        wait_until(swept, step=0.05, what="the sweep to expire %d keys (metric duro_keys_expired_total)" % n)
        self.assertEqual(self.server.list_all(ns=self.ns), [])


class LazyTtl(ServerTestCase):
    """With the sweep effectively off, every read path must hide expired keys
    on its own (lazy check)."""
    server_args = ["--ttl-sweep-ms", "3600000"]

    def test_every_read_hides_expired_keys(self):
        # long enough for the reads before the expiry on a loaded machine (the
        # batch's fsync, ASan): SHORT flaked there
        ents = [{"key": "x%d" % i, "value": i, "ttlMs": 5 * SHORT} for i in range(3)]
        ents += [{"key": "y", "value": "stay"}]
        ok(self.req("POST", storage_path("batch/set", ns=self.ns), {"entries": ents}))
        due = ok(self.req("GET", kv_path("x0", ns=self.ns, meta=1)))["expiresAt"] / 1000.0
        self.assertEqual(len(self.server.list_all(ns=self.ns)), 4)
        while time.time() < due + 0.05:
            time.sleep(0.01)
        before = metric_sum(self.server.metrics(), "duro_keys_expired_total") or 0
        self.assertEqual(self.server.list_all(ns=self.ns), ["y"])
        self.assertEqual(self.server.list_all(ns=self.ns, reverse=1), ["y"])
        self.assertEqual([e["key"] for e in self.server.list_all(ns=self.ns, values=True)], ["y"])
        self.assertEqual(self.server.list_all(ns=self.ns, api=True), ["y"])
        self.assertEqual(self.server.list_all(ns=self.ns, limit=1), ["y"])
        d = ok(self.req("GET", storage_path("list", ns=self.ns, limit=1)))
        self.assertEqual(d["keys"], ["y"])
        self.assertEqual(ok(self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["x0", "x1", "y"]})),
                         {"y": "stay"})
        for k in ("x0", "x1", "x2"):
            assert_error(self.req("GET", kv_path(k, ns=self.ns)), 404, "NOT_FOUND")
            assert_error(self.req("GET", kv_path(k, ns=self.ns, meta=1)), 404, "NOT_FOUND")
            assert_error(self.req("GET", api_path(self.ns, k)), 404, "NOT_FOUND")
        self.assertEqual(ok(self.req("POST", storage_path("batch/delete", ns=self.ns), {"keys": ["x0", "x1"]})),
                         {"deleted": 0})
        self.assertEqual(ok(self.req("POST", storage_path("clear", ns=self.ns))), {"deleted": 1})
        after = metric_sum(self.server.metrics(), "duro_keys_expired_total") or 0
        self.assertGreaterEqual(after, before)


if __name__ == "__main__":
    main()
