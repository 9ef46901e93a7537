#!/usr/bin/python3
"""--max-reply-bytes: list pages with values end before the cap and paging
returns every key exactly once (HTTP JSON, HTTP msgpack and the binary
protocol); a batch get or a snapshot over the cap is 413 PAYLOAD_TOO_LARGE
with the error envelope; a value larger than the cap is stored but reads of
it are 413; the flag's bounds."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, ServerTestCase, assert_error, free_port, main, ok,  # noqa: E402
                      run_durod, storage_path)

CAP = 1048576
VALUE = "v" * (200 * 1024)  # 200 KiB: five of them per page
N = 150
RPC_PORT = free_port()


class ReplyCap(ServerTestCase):
    server_args = ["--max-reply-bytes", str(CAP), "--rpc-port", str(RPC_PORT)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fat = "fat-%d" % os.getpid()
        body = {"entries": [{"key": "k%03d" % i, "value": VALUE} for i in range(5)]}
        for first in range(0, N, 5):  # 30 batches of five 200 KiB values
            for i, e in enumerate(body["entries"]):
                e["key"] = "k%03d" % (first + i)
            ok(cls.server.req("POST", storage_path("batch/set", ns=cls.fat), body))

    def page_through(self, accept_msgpack=False):
        seen, pages, cursor = [], 0, None
        for _ in range(N + 1):
            q = {"values": 1, "limit": 10000}
            if cursor:
                q["cursor"] = cursor
            r = self.req("GET", storage_path("list", ns=self.fat, **q),
                         accept_msgpack=accept_msgpack)
            d = ok(r)
            self.assertLessEqual(len(r.raw), CAP, "page over the cap")
            self.assertGreaterEqual(len(d["keys"]), 1)
            self.assertTrue(all(e["value"] == VALUE for e in d["keys"]))
            seen += [e["key"] for e in d["keys"]]
            pages += 1
            if d["list_complete"]:
                self.assertIsNone(d["cursor"])
                break
            cursor = d["cursor"]
        return seen, pages

    def test_list_pages_end_under_the_cap(self):
        for mp in (False, True):
            seen, pages = self.page_through(accept_msgpack=mp)
            self.assertEqual(seen, ["k%03d" % i for i in range(N)])  # each once, in order
            self.assertGreaterEqual(pages, N // 5)
        # keys alone fit in one page
        d = ok(self.req("GET", storage_path("list", ns=self.fat, limit=10000)))
        self.assertEqual((len(d["keys"]), d["list_complete"]), (N, True))

    def test_binary_protocol_list_pages(self):
        c = Rpc(RPC_PORT)
        try:
            seen, cursor = [], None
            for _ in range(N + 1):
                args = {"values": True, "limit": 10000}
                if cursor:
                    args["cursor"] = cursor
                st, body = c.call("kv.list", self.fat, args)
                self.assertEqual(st, St.OK, body)
                seen += [e["key"] for e in body["keys"]]
                if body["list_complete"]:
                    break
                cursor = body["cursor"]
            self.assertEqual(seen, ["k%03d" % i for i in range(N)])
        finally:
            c.close()

    def test_batch_get_and_snapshot_over_the_cap(self):
        keys = ["k%03d" % i for i in range(10)]
        r = self.req("POST", storage_path("batch/get", ns=self.fat), {"keys": keys})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("fewer keys", r.body["error"]["message"])
        d = ok(self.req("POST", storage_path("batch/get", ns=self.fat), {"keys": keys[:3]}))
        self.assertEqual(sorted(d), keys[:3])
        r = self.req("GET", "/api/storage?ns=" + self.fat)
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        self.assertIn("--max-reply-bytes", r.body["error"]["message"])

    def test_value_larger_than_the_cap(self):
        big = "b" * (CAP + 1000)
        ok(self.req("PUT", "/storage/big?ns=" + self.ns, {"value": big}))  # the write succeeds
        assert_error(self.req("GET", "/storage/big?ns=" + self.ns), 413, "PAYLOAD_TOO_LARGE")
        assert_error(self.req("GET", storage_path("list", ns=self.ns, values=1)), 413,
                     "PAYLOAD_TOO_LARGE")
        self.assertEqual(ok(self.req("GET", storage_path("list", ns=self.ns)))["keys"], ["big"])
        self.assertEqual(ok(self.req("DELETE", "/storage/big?ns=" + self.ns)), {"deleted": True})

    def test_flag_bounds(self):
        for bad in ("65535", "1073741825", "x"):
            rc, _, err = run_durod(["--max-reply-bytes", bad, "--data", "/nonexistent/x"])
            self.assertEqual(rc, 2, err)
            self.assertIn("--max-reply-bytes", err)


if __name__ == "__main__":
    main()
