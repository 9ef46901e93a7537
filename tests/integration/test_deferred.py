#!/usr/bin/python3
"""Deferred KV writes (docs/architecture.md, "Deferred writes"): a put or delete is
acknowledged once its commit-log record is synced, its row kept in memory (pinned in the
cache) until the actor settles the namespace. Every read must see those rows; SIGKILL
before the apply must lose none of them (the log's ROWS records are replayed at start);
writes of other kinds in the same batch keep their order; a value too large for the cache
goes straight to the open transaction instead."""

import glob
import os
import random
import sqlite3
import time
import unittest

import msgpack

from durotest import Rpc, Server, St, frame, metric_sum, unique_ns


def pipelined(c, calls):
    """Sends every [op, ns, args] in one write (so one actor batch takes them) and returns
    the replies [(status, body)] in call order."""
    c.send_raw(b"".join(frame([i + 1, op, ns, args]) for i, (op, ns, args) in enumerate(calls)))
    got = {}
    for _ in calls:
        r = c.recv()
        assert r is not None, "connection closed"
        got[r[0]] = (r[1], r[2])
    return [got[i + 1] for i in range(len(calls))]


def values(srv, ns):
    """{key: value} of every live key of ns, through HTTP list pages."""
    return {k: v for k, (v, _) in srv.snapshot(ns=ns).items()}


def replayed(srv):
    return metric_sum(srv.metrics(), "duro_log_replayed_total")


class Deferred(unittest.TestCase):
    def setUp(self):
        self.srv = Server(rpc=True)

    def tearDown(self):
        self.srv.close()

    def test_every_read_sees_deferred_writes_in_the_same_batch(self):
        ns = unique_ns("dr")
        m0 = self.srv.metrics()
        with Rpc(self.srv.rpc_port) as c:
            out = pipelined(c, [
                ("kv.put", ns, {"key": "a", "value": "1"}),
                ("kv.put", ns, {"key": "b", "value": "2"}),
                ("kv.put", ns, {"key": "c", "value": "3"}),
                ("kv.delete", ns, {"key": "b"}),
                ("kv.get", ns, {"key": "a"}),
                ("kv.get", ns, {"key": "b"}),
                ("kv.batch_get", ns, {"keys": ["a", "b", "c"]}),
                ("kv.list", ns, {}),
                ("snapshot.get", ns, {}),
                ("kv.put", ns, {"key": "d", "value": "4"}),   # deferred again after the list
                ("kv.list", ns, {}),
            ])
        self.assertEqual([s for s, _ in out], [St.OK] * 5 + [St.NOT_FOUND] + [St.OK] * 5)
        self.assertEqual(out[4][1], "1")
        self.assertEqual(out[6][1], {"a": "1", "c": "3"})
        self.assertEqual(out[7][1]["keys"], ["a", "c"])
        self.assertEqual(out[8][1]["data"], {"a": "1", "c": "3"})
        self.assertEqual(out[10][1]["keys"], ["a", "c", "d"])
        m1 = self.srv.metrics()
        self.assertGreaterEqual(metric_sum(m1, "duro_log_deferred_total") -
                                metric_sum(m0, "duro_log_deferred_total"), 5)
        self.assertGreaterEqual(metric_sum(m1, "duro_log_settles_total") -
                                metric_sum(m0, "duro_log_settles_total"), 2)
        # the HTTP routes read the same rows
        self.assertEqual(self.srv.get("d", ns=ns), "4")
        self.assertEqual(sorted(values(self.srv, ns)), ["a", "c", "d"])

    def test_sigkill_before_the_apply_loses_no_acknowledged_write(self):
        ns = unique_ns("dk")
        with Rpc(self.srv.rpc_port) as c:
            calls = [("kv.put", ns, {"key": "k%d" % i, "value": "v%d" % i}) for i in range(40)]
            calls += [("kv.put", ns, {"key": "k%d" % i, "value": "w%d" % i}) for i in range(0, 40, 3)]
            calls += [("kv.delete", ns, {"key": "k%d" % i}) for i in range(1, 40, 5)]
            calls += [("kv.put", ns, {"key": "ttl", "value": "t", "ttlMs": 3600000}),
                      ("kv.batch_set", ns, {"entries": [{"key": "b%d" % i, "value": i}
                                                         for i in range(10)]}),
                      ("kv.batch_delete", ns, {"keys": ["b0", "b1"]}),
                      ("kv.delete", ns, {"key": "never-there"})]
            out = pipelined(c, calls)
            self.assertTrue(all(s == St.OK for s, _ in out), out)
            st, before = c.call("kv.get", ns, {"key": "ttl", "meta": True})
            self.assertEqual(st, St.OK)
            st, k0 = c.call("kv.get", ns, {"key": "k0", "meta": True})
        top = max(b["version"] for s, b in out if isinstance(b, dict) and "version" in b)
        self.srv.kill()          # well inside the 500 ms between applies
        self.srv.start()
        self.assertGreater(replayed(self.srv), 0, "the writes were not replayed from the log")
        want = {"k%d" % i: "v%d" % i for i in range(40)}
        want.update({"k%d" % i: "w%d" % i for i in range(0, 40, 3)})
        for i in range(1, 40, 5):
            del want["k%d" % i]
        want["ttl"] = "t"
        want.update({"b%d" % i: i for i in range(2, 10)})
        self.assertEqual(values(self.srv, ns), want)
        with Rpc(self.srv.rpc_port) as c:
            self.assertEqual(c.call("kv.get", ns, {"key": "ttl", "meta": True}), (St.OK, before))
            self.assertEqual(c.call("kv.get", ns, {"key": "k0", "meta": True}), (St.OK, k0))
            self.assertEqual(c.call("kv.get", ns, {"key": "k1"})[0], St.NOT_FOUND)
            st, body = c.call("kv.put", ns, {"key": "after", "value": "x"})
            self.assertEqual(st, St.OK)
            # deletes took versions too: none is handed out twice
            self.assertGreater(body["version"], top + 1)

    def test_applies_under_load_land_in_the_files(self):
        # writes for longer than three apply periods: each apply is spread over loop
        # turns (the drip) while writes go on; reads see the newest value meanwhile,
        # and once the writes stop the namespace file itself holds every last one
        ns = unique_ns("dd")
        m0 = self.srv.metrics()
        latest = {}
        deadline = time.monotonic() + 1.6
        rnd = random.Random(7)
        n = 0
        with Rpc(self.srv.rpc_port) as c:
            while time.monotonic() < deadline or n < 20:
                calls = []
                for _ in range(300):
                    k = "k%d" % rnd.randrange(2000)
                    latest[k] = n
                    calls.append(("kv.put", ns, {"key": k, "value": n}))
                    n += 1
                probe = rnd.sample(sorted(latest), 20)
                calls += [("kv.get", ns, {"key": k}) for k in probe]
                out = pipelined(c, calls)
                self.assertTrue(all(s == St.OK for s, _ in out), out[:3])
                self.assertEqual([v for _, v in out[300:]], [latest[k] for k in probe])
        m1 = self.srv.metrics()
        self.assertGreater(metric_sum(m1, "duro_log_drip_steps_total") -
                           metric_sum(m0, "duro_log_drip_steps_total"), 0)
        applies = metric_sum(m1, "duro_log_applies_total")
        for _ in range(100):  # the next apply commits what is left
            if metric_sum(self.srv.metrics(), "duro_log_applies_total") > applies:
                break
            time.sleep(0.05)
        path = glob.glob(os.path.join(self.srv.data_dir, "ns", "*", ns + ".db"))[0]
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            rows = {k: msgpack.unpackb(v) for k, v in db.execute("SELECT key, value FROM _duro_kv")}
        finally:
            db.close()
        self.assertEqual(rows, latest)
        self.srv.kill()
        self.srv.start()
        self.assertEqual(values(self.srv, ns), latest)

    def test_kv_sql_and_patch_of_one_namespace_keep_their_order(self):
        ns = unique_ns("do")
        with Rpc(self.srv.rpc_port) as c:
            out = pipelined(c, [
                ("kv.put", ns, {"key": "x", "value": 1}),
                ("sql.exec", ns, {"sql": "CREATE TABLE t(a)"}),
                ("kv.put", ns, {"key": "x", "value": 2}),
                ("sql.exec", ns, {"sql": "INSERT INTO t VALUES(1)"}),
                ("kv.put", ns, {"key": "y", "value": 1}),
                ("snapshot.patch", ns, {"ops": [{"op": "set", "key": "y", "value": 5},
                                                {"op": "del", "key": "x"}]}),
                ("kv.put", ns, {"key": "x", "value": 3}),
                ("kv.put", ns, {"key": "z", "value": 9}),
            ])
            self.assertTrue(all(s == St.OK for s, _ in out), out)
            out = pipelined(c, [("kv.put", ns, {"key": "z", "value": 10}),
                                ("kv.delete", ns, {"key": "y"})])
            self.assertTrue(all(s == St.OK for s, _ in out), out)
        want = {"x": 3, "z": 10}
        self.assertEqual(values(self.srv, ns), want)
        self.srv.kill()
        self.srv.start()
        self.assertEqual(values(self.srv, ns), want)
        with Rpc(self.srv.rpc_port) as c:
            st, body = c.call("sql.query", ns, {"sql": "SELECT a FROM t"})
            self.assertEqual((st, body["results"]), (St.OK, [{"a": 1}]))


class PastTheCache(unittest.TestCase):
    """--cache-mb 1 over the actors: a 300 KiB value is more than an eighth of an
    actor's budget, so it is not pinned but written to the open transaction at once."""

    def test_values_the_cache_cannot_hold_survive_sigkill(self):
        srv = Server(["--cache-mb", "1"], rpc=True)
        try:
            ns = unique_ns("dc")
            big = "v" * (300 << 10)
            with Rpc(srv.rpc_port) as c:
                out = pipelined(c, [("kv.put", ns, {"key": "big", "value": big}),
                                    ("kv.put", ns, {"key": "small", "value": "s"}),
                                    ("kv.put", ns, {"key": "big2", "value": big + "2"}),
                                    ("kv.delete", ns, {"key": "big2"})])
                self.assertTrue(all(s == St.OK for s, _ in out), out)
                self.assertEqual(c.call("kv.get", ns, {"key": "big"}), (St.OK, big))
                self.assertEqual(c.call("kv.get", ns, {"key": "big2"})[0], St.NOT_FOUND)
            srv.kill()
            srv.start()
            with Rpc(srv.rpc_port) as c:
                self.assertEqual(c.call("kv.get", ns, {"key": "big"}), (St.OK, big))
                self.assertEqual(c.call("kv.get", ns, {"key": "small"}), (St.OK, "s"))
                self.assertEqual(c.call("kv.get", ns, {"key": "big2"})[0], St.NOT_FOUND)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
