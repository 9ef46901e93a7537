#!/usr/bin/python3
"""Concurrent compare-and-set: several clients increment one key with
GET → ETag → PUT n+1 If-Match; the final value equals the number of
successful writes, and the successful writes wrote 1..N exactly once."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (ServerTestCase, api_path, assert_error, etag_version, kv_path,  # noqa: E402
                      main, ok)

THREADS = 8
PER_THREAD = 25          # successful increments per thread
TIME_LIMIT = 30.0        # seconds for the whole race


class Cas(ServerTestCase):
    server_args = ["--actors", "2", "--io-threads", "2"]

    def race(self, path_for):
        self.server.put("counter", 0, ns=self.ns)
        lock = threading.Lock()
        written = []          # values written by successful PUTs
        versions = []         # versions returned by successful PUTs
        conflicts = [0]
        errors = []
        unknown = [0]         # requests whose outcome is unknown (connection lost)
        deadline = time.monotonic() + TIME_LIMIT
        start = threading.Barrier(THREADS)

        def worker(tid):
            try:
                start.wait(10)
                mine = 0
                while mine < PER_THREAD and time.monotonic() < deadline:
                    g = self.server.req("GET", path_for("counter"))
                    n = ok(g)
                    v = etag_version(g)
                    try:
                        r = self.server.req("PUT", path_for("counter"), {"value": n + 1},
                                            headers={"If-Match": '"%d"' % v}, retry=False)
                    except OSError:
                        with lock:
                            unknown[0] += 1
                        continue
                    if r.status == 200:
                        d = ok(r)
                        with lock:
                            written.append(n + 1)
                            versions.append(d["version"])
                        mine += 1
                    elif r.status == 412:
                        assert_error(r, 412, "PRECONDITION_FAILED")
                        with lock:
                            conflicts[0] += 1
                    else:
                        raise AssertionError("unexpected reply %r" % (r,))
            except BaseException as e:   # reported by the main thread
                with lock:
                    errors.append("thread %d: %r" % (tid, e))

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIME_LIMIT + 30)
        self.assertFalse(any(t.is_alive() for t in threads), "CAS workers hung")
        self.assertEqual(errors, [])
        self.assertEqual(unknown[0], 0, "connections lost during the race")
        n = len(written)
        self.assertGreater(n, 0)
        final = self.server.get("counter", ns=self.ns)
        self.assertEqual(final, n, "final value %r != successful writes %d (conflicts %d)"
                         % (final, n, conflicts[0]))
        self.assertEqual(sorted(written), list(range(1, n + 1)), "a value was written twice or skipped")
        self.assertEqual(len(set(versions)), n, "two successful writes share a version")
        # versions grow with the values written
        by_value = [v for _, v in sorted(zip(written, versions))]
        self.assertEqual(by_value, sorted(by_value))
        return n, conflicts[0]

    def test_concurrent_increment_storage(self):
        n, conflicts = self.race(lambda k: kv_path(k, ns=self.ns))
        self.assertEqual(n, THREADS * PER_THREAD, "ran out of time")

    def test_concurrent_increment_api(self):
        self.race(lambda k: api_path(self.ns, k))

    def test_create_race_if_none_match(self):
        wins = []
        errors = []
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def worker(tid):
            try:
                start.wait(10)
                r = self.server.req("PUT", kv_path("once", ns=self.ns), {"value": tid},
                                    headers={"If-None-Match": "*"}, retry=False)
                if r.status == 200:
                    with lock:
                        wins.append(tid)
                else:
                    assert_error(r, 412, "PRECONDITION_FAILED")
            except BaseException as e:
                with lock:
                    errors.append(repr(e))

        for rnd in range(5):
            wins.clear()
            ok(self.req("DELETE", kv_path("once", ns=self.ns)))
            start.reset()
            threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            self.assertEqual(errors, [])
            self.assertEqual(len(wins), 1, "round %d: winners %r" % (rnd, wins))
            self.assertEqual(self.server.get("once", ns=self.ns), wins[0])


if __name__ == "__main__":
    main()
