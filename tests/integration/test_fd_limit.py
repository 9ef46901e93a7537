#!/usr/bin/python3
"""durod under a low RLIMIT_NOFILE (64 descriptors, 3 per open namespace)
with a generous --max-open-namespaces: writes and reads over many namespaces
never answer 500 (an open that finds no descriptor closes idle namespace
files and retries, or answers 503 UNAVAILABLE "too many open files"),
/healthz keeps answering, and every acknowledged write is there after a
restart without the limit."""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durotest  # noqa: E402
from durotest import Server, kv_path, main, ok  # noqa: E402

FD_LIMIT = 64
NAMESPACES = 120


def limited_preexec(original):
    def run():
        original()
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    return run


class FdLimit(durotest.unittest.TestCase):
    def test_many_namespaces_under_a_low_fd_limit(self):
        original = durotest._pdeathsig
        durotest._pdeathsig = limited_preexec(original)
        try:
            srv = Server(extra_args=["--actors", "2", "--max-open-namespaces", "100000"])
        finally:
            durotest._pdeathsig = original
        try:
            self.run_load(srv)
        finally:
            srv.close()

    def put_until_done(self, srv, ns, key, value):
        """PUT, retrying a 503 (bounded); any other failure fails the test."""
        deadline = time.monotonic() + 10
        while True:
            r = srv.req("PUT", kv_path(key, ns=ns), {"value": value})
            if r.status == 200:
                return
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.body["error"]["code"], "UNAVAILABLE", r)
            self.assertIn("too many open files", r.body["error"]["message"])
            self.assertLess(time.monotonic(), deadline, "503 for 10 s: %r" % (r,))
            time.sleep(0.01)

    def run_load(self, srv):
        with open("/proc/%d/limits" % srv.pid) as f:
            self.assertIn("Max open files            %d" % FD_LIMIT, f.read())
        names = ["fd-%d" % i for i in range(NAMESPACES)]
        for round_ in range(2):
            for i, ns in enumerate(names):
                self.put_until_done(srv, ns, "k%d" % round_, {"i": i, "round": round_})
            for i, ns in enumerate(names):
                r = srv.req("GET", kv_path("k%d" % round_, ns=ns))
                self.assertIn(r.status, (200, 503), r)
                if r.status == 200:
                    self.assertEqual(r.body["data"], {"i": i, "round": round_})
            r = srv.req("GET", "/healthz")
            self.assertEqual(r.status, 200)
        opened = len(os.listdir("/proc/%d/fd" % srv.pid))
        self.assertLessEqual(opened, FD_LIMIT)
        srv.stop_ok()
        srv.start()  # without the limit now
        for i, ns in enumerate(names):
            for round_ in range(2):
                self.assertEqual(ok(srv.req("GET", kv_path("k%d" % round_, ns=ns))),
                                 {"i": i, "round": round_})
        srv.stop_ok()


if __name__ == "__main__":
    main()
