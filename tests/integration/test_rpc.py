#!/usr/bin/python3
"""The binary protocol (docs/protocol.md) against a real durod: every op,
pipelining with out-of-order replies, errors that keep the connection, and
truncated / garbage / oversize frames that close it — the server stays up and
the data is untouched throughout. Shares data with the HTTP routes."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durotest  # noqa: E402
from durotest import ServerTestCase, frame_header, free_port, kv_path, main, mp_pack, ok  # noqa: E402

RPC_PORT = free_port()
MAX_BODY = 65536


class Conn(durotest.Rpc):
    def call(self, msgid, op, ns, args):
        return super().call(op, ns, args, msgid=msgid)


class Rpc(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT), "--max-body-bytes", str(MAX_BODY)]

    def setUp(self):
        super().setUp()
        self.c = Conn(RPC_PORT)

    def tearDown(self):
        self.c.close()
        super().tearDown()

    def test_ping(self):
        self.assertEqual(self.c.call(1, "ping", "default", {}), (200, "pong"))

    def test_every_kv_op(self):
        c, ns = self.c, self.ns
        st, body = c.call(1, "kv.put", ns, {"key": "a", "value": {"x": [1, 2.5, "é"]},
                                            "metadata": {"m": 1}, "ttlMs": 100000})
        self.assertEqual(st, 200)
        v1 = body["version"]
        self.assertEqual(c.call(2, "kv.get", ns, {"key": "a"}), (200, {"x": [1, 2.5, "é"]}))
        st, meta = c.call(3, "kv.get", ns, {"key": "a", "meta": True})
        self.assertEqual((st, meta["version"], meta["metadata"]), (200, v1, {"m": 1}))
        self.assertGreater(meta["expiresAt"], meta["createdAt"])
        # compare-and-set
        self.assertEqual(c.call(4, "kv.put", ns, {"key": "a", "value": 2, "ifMatch": v1 + 100})[0], 412)
        st, body = c.call(5, "kv.put", ns, {"key": "a", "value": 2, "ifMatch": v1})
        self.assertEqual(st, 200)
        self.assertEqual(c.call(6, "kv.put", ns, {"key": "a", "value": 3, "ifNoneMatch": True})[0], 412)
        # batches
        st, body = c.call(7, "kv.batch_set", ns, {"entries": [{"key": "b", "value": 1},
                                                             {"key": "c", "value": [True, None]}]})
        self.assertEqual((st, body["count"]), (200, 2))
        self.assertEqual(c.call(8, "kv.batch_get", ns, {"keys": ["a", "b", "c", "zz"]}),
                         (200, {"a": 2, "b": 1, "c": [True, None]}))
        st, page = c.call(9, "kv.list", ns, {"limit": 2})
        self.assertEqual((st, page["keys"], page["list_complete"]), (200, ["a", "b"], False))
        st, page = c.call(10, "kv.list", ns, {"limit": 2, "cursor": page["cursor"]})
        self.assertEqual((page["keys"], page["list_complete"], page["cursor"]), (["c"], True, None))
        self.assertEqual(c.call(11, "kv.batch_delete", ns, {"keys": ["b", "zz"]}), (200, {"deleted": 1}))
        self.assertEqual(c.call(12, "kv.delete", ns, {"key": "c"}), (200, {"deleted": True}))
        self.assertEqual(c.call(13, "kv.get", ns, {"key": "c"})[0], 404)
        # the HTTP routes see the same data (a msgpack-stored value read as JSON)
        r = self.req("GET", kv_path("a", ns=ns))
        self.assertEqual(ok(r), 2)
        self.assertEqual(c.call(14, "kv.clear", ns, {}), (200, {"deleted": 1}))
        self.assertEqual(c.call(15, "kv.list", ns, {})[1]["keys"], [])

    def test_get_shapes(self):
        # kv.get has a fast path for {key, meta?}; every shape must give the same answers
        c, ns = self.c, self.ns
        for key in ("k", "k" * 100, "k" * 300, "é" * 1000):
            self.assertEqual(c.call(1, "kv.put", ns, {"key": key, "value": len(key)})[0], 200)
            self.assertEqual(c.call(2, "kv.get", ns, {"key": key}), (200, len(key)))
            self.assertEqual(c.call(3, "kv.get", ns, {"key": key, "meta": False}), (200, len(key)))
            st, m = c.call(4, "kv.get", ns, {"meta": True, "key": key})
            self.assertEqual((st, m["value"]), (200, len(key)))
            st, e = c.call(5, "kv.get", ns, {"key": key, "other": [1]})
            self.assertEqual((st, e["message"]), (400, 'unknown field "other"'))
        self.assertEqual(c.call(6, "kv.get", ns, {"key": "x" * 2049})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(7, "kv.get", ns, {"key": "a\u0000b"})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(8, "kv.get", ns, {"key": 5})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(9, "kv.get", ns, {"key": "k", "meta": 1})[0], 400)  # bools are bools

    def test_errors_keep_the_connection(self):
        c, ns = self.c, self.ns
        cases = [
            ("kv.nope", ns, {}, "BAD_REQUEST"),
            ("kv.get", "_reserved", {"key": "a"}, "BAD_REQUEST"),
            ("kv.get", "bad/ns", {"key": "a"}, "BAD_REQUEST"),
            ("kv.get", ns, {}, "BAD_REQUEST"),
            ("kv.get", ns, {"key": ""}, "BAD_REQUEST"),
            ("kv.get", ns, {"key": "x" * 2049}, "BAD_REQUEST"),
            ("kv.put", ns, {"key": "a"}, "BAD_REQUEST"),
            ("kv.put", ns, {"key": "a", "value": 1, "ttlMs": -1}, "BAD_REQUEST"),
            ("kv.put", ns, {"key": "a", "value": b"\x00bin"}, "BAD_REQUEST"),
            ("kv.put", ns, {"key": "a", "value": "x", "metadata": {"m": "y" * 20000}}, "BAD_REQUEST"),
            ("kv.batch_get", ns, {"keys": "notalist"}, "BAD_REQUEST"),
            ("kv.batch_set", ns, {"entries": [{"key": "ok", "value": 1}, {"key": ""}]}, "BAD_REQUEST"),
            ("kv.list", ns, {"limit": 0}, "BAD_REQUEST"),
            ("kv.list", ns, {"start": "a", "startAfter": "b"}, "BAD_REQUEST"),
            ("kv.get", ns, {"key": "missing"}, "NOT_FOUND"),
        ]
        for i, (op, n, args, code) in enumerate(cases):
            with self.subTest(op=op, args=str(args)[:60]):
                st, body = c.call(100 + i, op, n, args)
                self.assertEqual(body["code"], code)
                self.assertGreaterEqual(st, 400)
        self.assertEqual(c.call(999, "ping", ns, {}), (200, "pong"))
        self.assertEqual(c.call(1000, "kv.get", ns, {"key": "ok"})[0], 404)  # batch was atomic

    def test_pipelining_out_of_order(self):
        c = self.c
        n = 200
        for i in range(n):  # many namespaces: several actors answer in any order
            c.send([i, "kv.put", "%s-%d" % (self.ns, i % 16), {"key": "k%d" % i, "value": i}])
        seen = {}
        for _ in range(n):
            r = c.recv()
            self.assertEqual(r[1], 200)
            seen[r[0]] = r[2]["version"]
        self.assertEqual(sorted(seen), list(range(n)))
        for i in range(n):
            c.send([10000 + i, "kv.get", "%s-%d" % (self.ns, i % 16), {"key": "k%d" % i}])
        got = {}
        for _ in range(n):
            r = c.recv()
            got[r[0] - 10000] = r[2]
        self.assertEqual(got, {i: i for i in range(n)})

    def test_same_namespace_stays_in_order(self):
        c = self.c
        for i in range(50):
            c.send([i, "kv.put", self.ns, {"key": "k", "value": i}])
        versions = [None] * 50
        for _ in range(50):
            r = c.recv()
            versions[r[0]] = r[2]["version"]
        self.assertEqual(versions, sorted(versions))
        self.assertEqual(c.call(99, "kv.get", self.ns, {"key": "k"}), (200, 49))

    def assert_closed_after_error(self, conn, status, code):
        r = conn.recv()
        self.assertIsNotNone(r)
        self.assertEqual((r[1], r[2]["code"]), (status, code))
        self.assertTrue(conn.closed())

    def test_bad_frames_close_the_connection(self):
        ok(self.req("PUT", kv_path("keep", ns=self.ns), {"value": "kept"}))
        bad = [
            b"\xc1\xc1\xc1",                          # never-used byte
            b"\xdd\xff\xff\xff\xff",                  # array of 4G elements in 5 bytes
            mp_pack([1, "kv.get"]),                   # wrong arity
            mp_pack(["x", "kv.get", "a", {}]),        # msgid not a uint
            mp_pack([1, 2, "a", {}]),                 # op not a str
            mp_pack([1, "kv.get", "a", [1]]),         # args not a map
            mp_pack([1, "kv.get", "a", {}]) + b"\x00",  # trailing byte
            b"[" * 1000,                              # not msgpack at all (fixints)
            mp_pack([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
        ]
        for data in bad:
            with self.subTest(data=data[:20]):
                conn = Conn(RPC_PORT)
                conn.send_frame(data)
                self.assert_closed_after_error(conn, 400, "BAD_REQUEST")
                conn.close()
        # oversize and zero-length frames: refused from the length alone
        for n, status, code in ((MAX_BODY + 1, 413, "PAYLOAD_TOO_LARGE"),
                                (0xFFFFFFFF, 413, "PAYLOAD_TOO_LARGE"), (0, 400, "BAD_REQUEST")):
            conn = Conn(RPC_PORT)
            conn.send_raw(frame_header(n) + b"\x90" * 16)
            self.assert_closed_after_error(conn, status, code)
            conn.close()
        # a truncated frame, then the client leaves: nothing to answer, server fine
        conn = Conn(RPC_PORT)
        conn.send_raw(frame_header(100) + b"\x94\x01")
        conn.close()
        time.sleep(0.05)
        self.assertEqual(self.c.call(1, "ping", self.ns, {}), (200, "pong"))
        self.assertEqual(ok(self.req("GET", kv_path("keep", ns=self.ns))), "kept")

    def test_client_leaving_with_requests_in_flight(self):
        for _ in range(5):
            conn = Conn(RPC_PORT)
            for i in range(100):
                conn.send([i, "kv.put", self.ns, {"key": "k%d" % i, "value": i}])
            conn.close()
        self.assertEqual(self.c.call(1, "ping", self.ns, {}), (200, "pong"))
        st, page = self.c.call(2, "kv.list", self.ns, {"limit": 1000})
        self.assertEqual(st, 200)
        self.assertLessEqual(len(page["keys"]), 100)


if __name__ == "__main__":
    main()
