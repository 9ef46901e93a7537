#!/usr/bin/python3
"""A data directory on a file system that becomes read-only while durod runs:
writes answer 507 INSUFFICIENT_STORAGE "the data directory is read-only"
(never 500), reads keep working, namespaces elsewhere are unaffected, and
writes work again once the file system is writable.

Needs root (mount): a small tmpfs is mounted over one shard directory,
<data>/ns/<hh>, and remounted read-only once durod holds no file on it (so
the remount is not refused as busy). It is always unmounted in teardown.
Without root the test is skipped with the reason printed."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (Server, assert_error, kv_path, main, mount_tmpfs, ok,  # noqa: E402
                      remount, storage_path, unmount)


def shard(ns):
    """runtime/route.h: FNV-1a 64 of the name, mod 256."""
    h = 14695981039346656037
    for b in ns.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h & 0xFF


def names_in_shard(prefix, want, count):
    out, i = [], 0
    while len(out) < count:
        n = "%s%d" % (prefix, i)
        if shard(n) == want:
            out.append(n)
        i += 1
    return out


class ReadOnlyFs(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="durotest-rofs-")
        self.addCleanup(shutil.rmtree, self.data, True)
        self.ro_ns = names_in_shard("ro", 0x5a, 2)  # both on the mount
        self.mnt = os.path.join(self.data, "ns", "%02x" % 0x5a)
        os.makedirs(self.mnt)
        mount_tmpfs(self, self.mnt, "8m")
        self.srv = None

    def tearDown(self):
        try:
            if self.srv is not None:
                self.srv.close()
        finally:
            unmount(self.mnt)

    def files_open_on_mount(self):
        fd_dir = "/proc/%d/fd" % self.srv.pid
        n = 0
        for fd in os.listdir(fd_dir):
            try:
                n += os.readlink(os.path.join(fd_dir, fd)).startswith(self.mnt + "/")
            except OSError:
                pass
        return n

    def remount(self, mode):
        deadline = time.monotonic() + 10
        while True:
            r = remount(self.mnt, mode)
            if r.returncode == 0:
                return
            self.assertLess(time.monotonic(), deadline, r.stdout)
            time.sleep(0.05)

    def test_writes_are_507_reads_work(self):
        ns, new_ns = self.ro_ns
        other = "elsewhere"
        self.assertNotEqual(shard(other), 0x5a)
        # one actor keeping one file open: writing `other` closes `ns`
        self.srv = srv = Server(data_dir=self.data,
                                extra_args=["--actors", "1", "--max-open-namespaces", "1"])
        ok(srv.req("PUT", kv_path("k", ns=ns), {"value": {"kept": 1}}))
        ok(srv.req("PUT", kv_path("k", ns=other), {"value": 2}))
        deadline = time.monotonic() + 10
        while self.files_open_on_mount():
            self.assertLess(time.monotonic(), deadline, "durod keeps a file open on the mount")
            time.sleep(0.02)
        self.remount("ro")

        # reads keep working: the file opens read-only
        self.assertEqual(ok(srv.req("GET", kv_path("k", ns=ns))), {"kept": 1})
        self.assertEqual(ok(srv.req("GET", storage_path("list", ns=ns)))["keys"], ["k"])
        self.assertEqual(srv.req("GET", "/api/storage?ns=" + ns).body, {"k": {"kept": 1}})
        # writes are 507 with the reason, on existing and on new namespaces
        for path, body in ((kv_path("k2", ns=ns), {"value": 1}),
                           (kv_path("k", ns=new_ns), {"value": 1})):
            r = srv.req("PUT", path, body)
            assert_error(r, 507, "INSUFFICIENT_STORAGE")
            self.assertIn("read-only", r.body["error"]["message"])
        r = srv.req("POST", storage_path("batch/set", ns=ns),
                    {"entries": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]})
        assert_error(r, 507, "INSUFFICIENT_STORAGE")
        r = srv.req("POST", "/sessions?ns=" + ns, {"data": {}, "ttlMs": 60000})
        assert_error(r, 507, "INSUFFICIENT_STORAGE")
        # reads of a namespace that could not be created answer empty
        assert_error(srv.req("GET", kv_path("k", ns=new_ns)), 404, "NOT_FOUND")
        self.assertEqual(ok(srv.req("GET", kv_path("k", ns=ns))), {"kept": 1})
        # other shards are unaffected
        ok(srv.req("PUT", kv_path("k2", ns=other), {"value": 3}))
        self.assertEqual(srv.req("GET", "/healthz").status, 200)

        # writable again: the namespace opened read-only is opened again
        self.remount("rw")
        ok(srv.req("PUT", kv_path("k2", ns=ns), {"value": 4}))
        ok(srv.req("PUT", kv_path("k", ns=new_ns), {"value": 5}))
        srv.restart()
        self.assertEqual(ok(srv.req("GET", kv_path("k2", ns=ns))), 4)
        self.assertEqual(ok(srv.req("GET", kv_path("k", ns=new_ns))), 5)
        self.assertEqual(ok(srv.req("GET", kv_path("k", ns=ns))), {"kept": 1})
        srv.stop_ok()


if __name__ == "__main__":
    main()
