#!/usr/bin/python3
"""The binary protocol (docs/protocol.md) against a real durod: every op,
pipelining with out-of-order replies, errors that keep the connection, and
truncated / garbage / oversize frames that close it — the server stays up and
the data is untouched throughout. Shares data with the HTTP routes."""
import os
import re

import msgpack  # noqa: E402
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durotest  # noqa: E402
from durotest import (PONG, ServerTestCase, St, frame_header, free_port, kv_path, main,  # noqa: E402
                      mp_pack, ok)

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
        self.assertEqual(self.c.call(1, "ping", "default", {}), (St.OK, PONG))

    def test_ping_bytes(self):
        # [7, 0, {"pong": true, "protocol": 2}], byte for byte
        self.c.send([7, "ping", "default", {}])
        body = b"\x93\x07\x00\x82\xa4pong\xc3\xa8protocol\x02"
        self.assertEqual(self.c._read(4 + len(body)), struct.pack(">I", len(body)) + body)

    def test_status_numbers_are_the_table(self):
        # the stable numbers of include/duro/status.h: what the wire carries
        header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include",
                              "duro", "status.h")
        with open(header) as f:
            rows = re.findall(r'X\((\w+), (\d+), "(\w+)", (\d+),', f.read())
        table = {name: int(num) for name, num, _, _ in rows}
        self.assertEqual(table, {k: v for k, v in vars(St).items() if k.isupper()})
        self.assertEqual([int(num) for _, num, _, _ in rows], list(range(len(rows))))
        self.assertTrue(all(name == wire for name, _, wire, _ in rows))

    def test_replies_carry_the_stable_number(self):
        c, ns = self.c, self.ns
        cases = [  # (op, args, status, code of the error body or None)
            ("kv.put", {"key": "s", "value": 1}, St.OK, None),
            ("kv.get", {"key": "missing"}, St.NOT_FOUND, "NOT_FOUND"),
            ("kv.get", {}, St.BAD_REQUEST, "BAD_REQUEST"),
            ("kv.put", {"key": "s", "value": 2, "ifMatch": 10 ** 9}, St.PRECONDITION_FAILED,
             "PRECONDITION_FAILED"),
            ("snapshot.patch", {"ops": [{"op": "set", "key": "p", "value": 1}]}, St.OK, None),
            ("resources.register", {"type": "do", "key": "r"}, St.CREATED, None),
            ("resources.register", {"type": "do", "key": "r"}, St.OK, None),
            ("ratelimit.check", {"key": "rl", "limit": 1, "windowMs": 60000, "enforce": True}, St.OK,
             None),
            ("ratelimit.check", {"key": "rl", "limit": 1, "windowMs": 60000, "enforce": True},
             St.RATE_LIMITED, "RATE_LIMITED"),
        ]
        for i, (op, args, status, code) in enumerate(cases):
            with self.subTest(op=op, args=str(args)[:60]):
                st, body = c.call(200 + i, op, ns, args)
                self.assertEqual(st, status, body)
                if code is not None:
                    self.assertEqual(body["code"], code)
        # a fresh namespace's first patch creates it
        st, body = c.call(300, "snapshot.patch", ns + "-new",
                          {"ops": [{"op": "set", "key": "p", "value": 1}]})
        self.assertEqual((st, body["created"]), (St.CREATED, True))
        # the status is one byte, a positive fixint, never an HTTP number
        c.send([45, "kv.get", ns, {"key": "missing"}])
        (n,) = struct.unpack(">I", c._read(4))
        frame = c._read(n)
        self.assertEqual(frame[:3], b"\x93\x2d\x01")  # [45, 1, ...]
        self.assertEqual(msgpack.unpackb(frame[3:], raw=False)["code"], "NOT_FOUND")

    def test_every_kv_op(self):
        c, ns = self.c, self.ns
        st, body = c.call(1, "kv.put", ns, {"key": "a", "value": {"x": [1, 2.5, "é"]},
                                            "metadata": {"m": 1}, "ttlMs": 100000})
        self.assertEqual(st, St.OK)
        v1 = body["version"]
        self.assertEqual(c.call(2, "kv.get", ns, {"key": "a"}), (St.OK, {"x": [1, 2.5, "é"]}))
        st, meta = c.call(3, "kv.get", ns, {"key": "a", "meta": True})
        self.assertEqual((st, meta["version"], meta["metadata"]), (St.OK, v1, {"m": 1}))
        self.assertGreater(meta["expiresAt"], meta["createdAt"])
        # compare-and-set
        self.assertEqual(c.call(4, "kv.put", ns, {"key": "a", "value": 2, "ifMatch": v1 + 100})[0],
                         St.PRECONDITION_FAILED)
        st, body = c.call(5, "kv.put", ns, {"key": "a", "value": 2, "ifMatch": v1})
        self.assertEqual(st, St.OK)
        self.assertEqual(c.call(6, "kv.put", ns, {"key": "a", "value": 3, "ifNoneMatch": True})[0],
                         St.PRECONDITION_FAILED)
        # batches
        st, body = c.call(7, "kv.batch_set", ns, {"entries": [{"key": "b", "value": 1},
                                                             {"key": "c", "value": [True, None]}]})
        self.assertEqual((st, body["count"]), (St.OK, 2))
        self.assertEqual(c.call(8, "kv.batch_get", ns, {"keys": ["a", "b", "c", "zz"]}),
                         (St.OK, {"a": 2, "b": 1, "c": [True, None]}))
        st, page = c.call(9, "kv.list", ns, {"limit": 2})
        self.assertEqual((st, page["keys"], page["list_complete"]), (St.OK, ["a", "b"], False))
        st, page = c.call(10, "kv.list", ns, {"limit": 2, "cursor": page["cursor"]})
        self.assertEqual((page["keys"], page["list_complete"], page["cursor"]), (["c"], True, None))
        self.assertEqual(c.call(11, "kv.batch_delete", ns, {"keys": ["b", "zz"]}), (St.OK, {"deleted": 1}))
        self.assertEqual(c.call(12, "kv.delete", ns, {"key": "c"}), (St.OK, {"deleted": True}))
        self.assertEqual(c.call(13, "kv.get", ns, {"key": "c"})[0], St.NOT_FOUND)
        # the HTTP routes see the same data (a msgpack-stored value read as JSON)
        r = self.req("GET", kv_path("a", ns=ns))
        self.assertEqual(ok(r), 2)
        self.assertEqual(c.call(14, "kv.clear", ns, {}), (St.OK, {"deleted": 1}))
        self.assertEqual(c.call(15, "kv.list", ns, {})[1]["keys"], [])

    def test_get_of_each_stored_encoding(self):
        # kv.get answers a msgpack-stored value with its stored bytes as they are,
        # and converts a JSON-stored one (written over HTTP as JSON): both must
        # arrive as the same msgpack
        c, ns = self.c, self.ns
        v = {"s": "é" * 40, "n": [1, -2, 2.5, None, True], "deep": {"a": {"b": "x" * 300}}}
        self.assertEqual(c.call(1, "kv.put", ns, {"key": "mp", "value": v})[0], St.OK)
        ok(self.req("PUT", kv_path("js", ns=ns), {"value": v}))
        for i, key in enumerate(("mp", "js", "mp", "js")):
            st, got = c.call(2 + i, "kv.get", ns, {"key": key})
            self.assertEqual((st, got), (St.OK, v), key)
        self.assertEqual(ok(self.req("GET", kv_path("mp", ns=ns))), v)

    def test_get_shapes(self):
        # kv.get has a fast path for {key, meta?}; every shape must give the same answers
        c, ns = self.c, self.ns
        for key in ("k", "k" * 100, "k" * 300, "é" * 1000):
            self.assertEqual(c.call(1, "kv.put", ns, {"key": key, "value": len(key)})[0], St.OK)
            self.assertEqual(c.call(2, "kv.get", ns, {"key": key}), (St.OK, len(key)))
            self.assertEqual(c.call(3, "kv.get", ns, {"key": key, "meta": False}), (St.OK, len(key)))
            st, m = c.call(4, "kv.get", ns, {"meta": True, "key": key})
            self.assertEqual((st, m["value"]), (St.OK, len(key)))
            st, e = c.call(5, "kv.get", ns, {"key": key, "other": [1]})
            self.assertEqual((st, e["message"]), (St.BAD_REQUEST, 'unknown field "other"'))
        self.assertEqual(c.call(6, "kv.get", ns, {"key": "x" * 2049})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(7, "kv.get", ns, {"key": "a\u0000b"})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(8, "kv.get", ns, {"key": 5})[1]["code"], "BAD_REQUEST")
        self.assertEqual(c.call(9, "kv.get", ns, {"key": "k", "meta": 1})[0], St.BAD_REQUEST)  # bools are bools

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
            ("kv.put", ns, {"key": "a", "value": {b"bin key": 1}}, "BAD_REQUEST"),
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
                self.assertEqual(st, getattr(St, code))  # the stable number of the code
        self.assertEqual(c.call(999, "ping", ns, {}), (St.OK, PONG))
        self.assertEqual(c.call(1000, "kv.get", ns, {"key": "ok"})[0], St.NOT_FOUND)  # batch was atomic

    def test_pipelining_out_of_order(self):
        c = self.c
        n = 200
        for i in range(n):  # many namespaces: several actors answer in any order
            c.send([i, "kv.put", "%s-%d" % (self.ns, i % 16), {"key": "k%d" % i, "value": i}])
        seen = {}
        for _ in range(n):
            r = c.recv()
            self.assertEqual(r[1], St.OK)
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
        self.assertEqual(c.call(99, "kv.get", self.ns, {"key": "k"}), (St.OK, 49))

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
                self.assert_closed_after_error(conn, St.BAD_REQUEST, "BAD_REQUEST")
                conn.close()
        # oversize and zero-length frames: refused from the length alone
        for n, status, code in ((MAX_BODY + 1, St.PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
                                (0xFFFFFFFF, St.PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
                                (0, St.BAD_REQUEST, "BAD_REQUEST")):
            conn = Conn(RPC_PORT)
            conn.send_raw(frame_header(n) + b"\x90" * 16)
            self.assert_closed_after_error(conn, status, code)
            conn.close()
        # a truncated frame, then the client leaves: nothing to answer, server fine
        conn = Conn(RPC_PORT)
        conn.send_raw(frame_header(100) + b"\x94\x01")
        conn.close()
        time.sleep(0.05)
        self.assertEqual(self.c.call(1, "ping", self.ns, {}), (St.OK, PONG))
        self.assertEqual(ok(self.req("GET", kv_path("keep", ns=self.ns))), "kept")

    def test_client_leaving_with_requests_in_flight(self):
        for _ in range(5):
            conn = Conn(RPC_PORT)
            for i in range(100):
                conn.send([i, "kv.put", self.ns, {"key": "k%d" % i, "value": i}])
            conn.close()
        self.assertEqual(self.c.call(1, "ping", self.ns, {}), (St.OK, PONG))
        st, page = self.c.call(2, "kv.list", self.ns, {"limit": 1000})
        self.assertEqual(st, St.OK)
        self.assertLessEqual(len(page["keys"]), 100)


if __name__ == "__main__":
    main()
