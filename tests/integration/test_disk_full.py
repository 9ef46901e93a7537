#!/usr/bin/python3
"""A disk-full episode: the data directory is a small tmpfs that a filler
file fills while clients write. Writes that fail are 507 INSUFFICIENT_STORAGE
(never 500) and change nothing; once the space is back, with no restart, the
registry lists exactly the acknowledged keys (lost change notices are
repaired while running) and new writes work; a restart changes nothing.

Needs root (mount); skipped with the reason printed otherwise. The mount is
always removed in teardown."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (Server, kv_path, main, metric_sum, mount_tmpfs, ok,  # noqa: E402
                      unmount)

VALUE = "x" * 2000


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="durotest-full-")
        self.addCleanup(shutil.rmtree, self.mnt, True)
        mount_tmpfs(self, self.mnt, "16m")
        self.data = os.path.join(self.mnt, "data")
        self.filler = os.path.join(self.mnt, "filler")
        self.srv = None

    def tearDown(self):
        try:
            if self.srv is not None:
                self.srv.close()
        finally:
            unmount(self.mnt)

    def fill(self, leave):
        """Grows the filler file until about `leave` bytes are free."""
        st = os.statvfs(self.mnt)
        free = st.f_bavail * st.f_frsize
        with open(self.filler, "ab") as f:
            chunk = b"\0" * 65536
            for _ in range(max(0, (free - leave) // len(chunk))):
                try:
                    f.write(chunk)
                except OSError:
                    break

    def registry_keys(self, ns):
        r = self.srv.req("GET", "/api/resources/list?namespace=%s&limit=1000" % ns)
        self.assertEqual(r.status, 200, r)
        return sorted(x["key"] for x in r.body["resources"])

    def test_registry_catches_up_after_the_disk_was_full(self):
        # --commit-log=0: with the log, a registry rebuild after lost notices reads the
        # files, which lack what waits in open transactions (up to 500 ms; a known gap,
        # docs/registry.md) -- this test pins the per-batch commit path's behaviour
        self.srv = srv = Server(data_dir=self.data,
                                extra_args=["--actors", "2", "--commit-log=0"])
        acked, refused = set(), 0
        # a few keys first, then fill the disk and write on until writes fail
        for i in range(20):
            ok(srv.req("PUT", kv_path("a%03d" % i, ns="full1"), {"value": VALUE}))
            acked.add(("full1", "a%03d" % i))
        self.fill(leave=1 << 20)
        for i in range(3000):
            ns = "full%d" % (i % 3 + 1)
            key = "b%03d" % i
            r = srv.req("PUT", kv_path(key, ns=ns), {"value": VALUE})
            if r.status == 200:
                acked.add((ns, key))
            else:
                self.assertEqual((r.status, r.body["error"]["code"]), (507, "INSUFFICIENT_STORAGE"),
                                 r)
                refused += 1
                if refused >= 30:
                    break
        self.assertGreater(refused, 0, "the disk never filled up")
        # the registry's group commit usually fails too, losing the notices of
        # the last acknowledged writes (not asserted: it depends on who needs
        # the last free page; tests/unit/runtime/registry.c injects it instead)
        time.sleep(0.3)  # the registry commits its group within 100 ms
        lost = metric_sum(srv.metrics(), "duro_registry_failures_total")
        print("\n  %d writes acknowledged, %d refused, %s registry groups failed"
              % (len(acked), refused, lost))
        os.unlink(self.filler)  # the space is back
        want = {ns: sorted(k for n, k in acked if n == ns) for ns in ("full1", "full2", "full3")}
        deadline = time.monotonic() + 20
        while True:
            got = {ns: self.registry_keys(ns) for ns in want}
            if got == want:
                break
            self.assertLess(time.monotonic(), deadline,
                            "registry still behind: %s" % {ns: sorted(set(want[ns]) ^ set(got[ns]))
                                                           for ns in want})
            time.sleep(0.1)
        for ns, keys in want.items():  # every acknowledged write is there, nothing else
            for key in keys[:5]:
                self.assertEqual(ok(srv.req("GET", kv_path(key, ns=ns))), VALUE)
        ok(srv.req("PUT", kv_path("after", ns="full2"), {"value": 1}))
        want["full2"] = sorted(want["full2"] + ["after"])
        self.assertEqual({ns: self.registry_keys(ns) for ns in want}, want)
        srv.restart()
        got = {ns: self.registry_keys(ns) for ns in want}
        self.assertEqual(got, want, {ns: sorted(set(want[ns]) ^ set(got[ns])) for ns in want})
        srv.stop_ok()


if __name__ == "__main__":
    main()
