#!/usr/bin/python3
"""Durability: concurrent writers, SIGKILL, restart, every acknowledged
write is there (several cycles); a clean SIGTERM exits 0 and keeps data;
a second durod on the same data dir refuses to start (lock)."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (MISSING, Server, assert_error, free_port, kv_path, ok,  # noqa: E402
                      run_durod, storage_path)
import durotest  # noqa: E402
import unittest  # noqa: E402

WRITERS = 4
CYCLES = 3
RUN_BEFORE_KILL = 0.7      # seconds of writing before SIGKILL
NAMESPACES = ("dur-a", "dur-b", "dur-c")
DELETED = object()


class Writer(threading.Thread):
    """Writes its own keys (puts, overwrites, deletes, batch sets) until the
    server goes away or stop is set. `state` maps (ns, key) → the last
    acknowledged value (or DELETED); `pending` holds the ops whose outcome is
    unknown (in flight when the server died): a list of {(ns, key): value}."""

    def __init__(self, srv, wid, cycle, state, stop):
        super().__init__(daemon=True, name="writer-%d" % wid)
        self.srv, self.wid, self.cycle = srv, wid, cycle
        self.state = state
        self.stop = stop
        self.pending = []
        self.acks = 0
        self.error = None
        self.rng = random.Random(wid * 1000 + cycle)

    def key(self, i):
        return "w%d/c%d/%05d" % (self.wid, self.cycle, i)

    def run(self):
        i = 0
        mine = []          # (ns, key) this writer created in this cycle
        try:
            while not self.stop.is_set():
                i += 1
                ns = NAMESPACES[(self.wid + i) % len(NAMESPACES)]
                choice = i % 10
                if choice == 9 and mine:                # delete
                    target = mine[self.rng.randrange(len(mine))]
                    op = {target: DELETED}
                    call = ("DELETE", kv_path(target[1], ns=target[0]), None)
                elif choice in (3, 6) and mine:          # overwrite
                    target = mine[self.rng.randrange(len(mine))]
                    val = {"w": self.wid, "i": i, "over": True}
                    op = {target: val}
                    call = ("PUT", kv_path(target[1], ns=target[0]), {"value": val})
                elif choice == 5:                        # batch of 5 (atomic)
                    ents = []
                    op = {}
                    for j in range(5):
                        k = self.key(i) + "-b%d" % j
                        v = {"w": self.wid, "i": i, "j": j}
                        ents.append({"key": k, "value": v})
                        op[(ns, k)] = v
                    call = ("POST", storage_path("batch/set", ns=ns), {"entries": ents})
                else:                                    # new key
                    k = self.key(i)
                    val = {"w": self.wid, "i": i, "pad": "p" * (i % 200)}
                    op = {(ns, k): val}
                    call = ("PUT", kv_path(k, ns=ns), {"value": val})
                try:
                    r = self.srv.req(call[0], call[1], call[2], retry=False, timeout=10)
                except (OSError, Exception):
                    self.pending.append(op)
                    return              # server gone (killed): stop writing
                if r.status == 503 and b"shutting down" in r.raw:
                    self.pending.append(op)  # refused, not applied: the server is stopping
                    return
                if r.status != 200:
                    self.error = "unexpected reply to %s %s: %r" % (call[0], call[1], r)
                    return
                ok(r)
                for tk, tv in op.items():
                    self.state[tk] = tv
                    if tv is not DELETED and tk not in mine and choice not in (3, 6):
                        mine.append(tk)
                if choice == 9:
                    mine.remove(next(iter(op)))
                self.acks += 1
        except BaseException as e:
            self.error = repr(e)


def read_all(srv):
    """{(ns, key): value} of all the durability namespaces, via list values=1."""
    out = {}
    for ns in NAMESPACES:
        for e in srv.list_all(ns=ns, values=True):
            out[(ns, e["key"])] = e["value"]
    return out


class Durability(unittest.TestCase):

    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        self.srv.close()

    def verify(self, state, pendings):
        actual = read_all(self.srv)
        # ops in flight at the kill: each is all-or-nothing
        allowed = {}
        for op in pendings:
            applied = [k for k, v in op.items()
                       if (actual.get(k, DELETED) == v if v is not DELETED else k not in actual)]
            if len(op) > 1 and applied and len(applied) != len(op):
                self.fail("in-flight batch applied partly: %r of %r" % (applied, list(op)))
            for k, v in op.items():
                allowed.setdefault(k, []).append(v)
        bad = []
        for k, v in state.items():
            got = actual.get(k, DELETED)
            if got == v or (got is DELETED and v is DELETED):
                continue
            if k in allowed and any((a is DELETED and got is DELETED) or a == got for a in allowed[k]):
                continue
            bad.append((k, v if v is not DELETED else "<deleted>", got if got is not DELETED else "<missing>"))
        self.assertEqual(bad[:20], [], "%d acknowledged writes lost or wrong (key, expected, got)" % len(bad))
        # nothing the writers never sent
        for k in actual:
            self.assertTrue(k in state or k in allowed, "unexpected key %r" % (k,))
        # point reads agree with the list
        sample = [k for k, v in state.items() if v is not DELETED and k not in allowed][:50]
        for ns, key in sample:
            self.assertEqual(self.srv.get(key, ns=ns), state[(ns, key)])

    def test_sigkill_cycles_with_concurrent_writers(self):
        state = {}
        all_pending = []
        total_acks = 0
        for cycle in range(CYCLES):
            stop = threading.Event()
            writers = [Writer(self.srv, w, cycle, state, stop) for w in range(WRITERS)]
            for w in writers:
                w.start()
            time.sleep(RUN_BEFORE_KILL)
            self.srv.kill()                   # SIGKILL mid-flight
            stop.set()
            for w in writers:
                w.join(30)
                self.assertFalse(w.is_alive(), "writer hung")
                self.assertIsNone(w.error, w.error)
                total_acks += w.acks
                all_pending.extend(w.pending)
            cycle_acks = sum(w.acks for w in writers)
            self.assertGreater(cycle_acks, 20, "too few writes acknowledged in cycle %d" % cycle)
            self.srv.start()
            self.verify(state, all_pending)
            # pending outcomes are settled now: fold what is there into state
            actual = read_all(self.srv)
            for op in all_pending:
                for k in op:
                    state[k] = actual.get(k, DELETED)
            all_pending = []
        self.assertGreater(total_acks, 100)
        # a final clean restart keeps everything too
        self.srv.restart()
        self.verify(state, [])

    def test_sigterm_exits_zero_and_keeps_data(self):
        ents = [{"key": "t%03d" % i, "value": {"i": i}} for i in range(200)]
        ok(self.srv.req("POST", storage_path("batch/set", ns="term"), {"entries": ents}))
        self.srv.put("single", "s", ns="term")
        self.srv.put("gone", 1, ns="term")
        ok(self.srv.req("DELETE", kv_path("gone", ns="term")))
        rc = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.log_tail())
        self.srv.start()
        snap = self.srv.snapshot(ns="term")
        self.assertEqual(len(snap), 201)
        self.assertEqual(snap["t123"], ({"i": 123}, None))
        self.assertEqual(self.srv.get("single", ns="term"), "s")
        self.assertIs(self.srv.get("gone", ns="term"), MISSING)
        # versions keep increasing across restarts
        v = self.srv.put("single", "s2", ns="term")["version"]
        self.srv.restart()
        self.assertGreater(self.srv.put("single", "s3", ns="term")["version"], v)

    def test_sigterm_under_load(self):
        state = {}
        stop = threading.Event()
        writers = [Writer(self.srv, w, 100, state, stop) for w in range(WRITERS)]
        for w in writers:
            w.start()
        time.sleep(0.4)
        rc = self.srv.stop()
        stop.set()
        pend = []
        for w in writers:
            w.join(30)
            self.assertFalse(w.is_alive())
            self.assertIsNone(w.error, w.error)
            pend.extend(w.pending)
        self.assertEqual(rc, 0, "exit code after SIGTERM under load\n" + self.srv.log_tail())
        self.srv.start()
        self.verify(state, pend)

    def test_versions_not_reused_after_clear_and_restart(self):
        # ETags must never repeat for a key, or a stale If-Match could succeed (ABA)
        v1 = self.srv.put("k", "a", ns="ver")["version"]
        for i in range(5):
            self.srv.put("other%d" % i, i, ns="ver")
        top = self.srv.put("k", "b", ns="ver")["version"]
        ok(self.srv.req("POST", storage_path("clear", ns="ver")))
        self.srv.restart()
        v2 = self.srv.put("k", "c", ns="ver")["version"]
        self.assertGreater(v2, top)
        assert_error(self.srv.req("PUT", kv_path("k", ns="ver"), {"value": "d"}, headers={"If-Match": '"%d"' % v1}),
                     412, "PRECONDITION_FAILED")
        ok(self.srv.req("DELETE", kv_path("k", ns="ver")))
        self.srv.kill()
        self.srv.start()
        v3 = self.srv.put("k", "e", ns="ver")["version"]
        self.assertGreater(v3, v2)

    def test_second_server_on_same_dir_fails(self):
        self.srv.put("k", "v", ns="lock")
        port = free_port()
        rc, out, err = run_durod(["--listen", "127.0.0.1:%d" % port, "--data", self.srv.data_dir,
                                  "--log-level", "warn"], timeout=10)
        self.assertIsNotNone(rc, "second durod on the same data dir kept running")
        self.assertNotEqual(rc, 0)
        self.assertIn("lock", (out + err).lower(), "message should mention the lock: %r" % (out + err))
        # the first one is unharmed
        self.assertTrue(self.srv.alive())
        self.assertEqual(self.srv.get("k", ns="lock"), "v")
        self.srv.put("k2", "v2", ns="lock")
        # and after the first one is killed, the lock is free again
        self.srv.kill()
        self.srv.start()
        self.assertEqual(self.srv.get("k2", ns="lock"), "v2")

    def test_expired_writes_stay_expired_after_restart(self):
        ok(self.srv.req("PUT", kv_path("ttl", ns="dur-ttl"), {"value": 1, "ttlMs": 200}))
        self.srv.put("keep", 1, ns="dur-ttl")
        self.srv.kill()
        time.sleep(0.3)
        self.srv.start()
        self.assertIs(self.srv.get("ttl", ns="dur-ttl"), MISSING)
        self.assertEqual(self.srv.list_all(ns="dur-ttl"), ["keep"])
        assert_error(self.srv.req("GET", kv_path("ttl", ns="dur-ttl")), 404, "NOT_FOUND")


if __name__ == "__main__":
    durotest.main()
