#!/usr/bin/python3
"""Binary KV values (issue 12, docs/kv.md "Binary values"): msgpack bin
round-trips through HTTP msgpack and the binary protocol; JSON readers get
the one JSON form of bytes, {"$bytes": "<standard base64>"}, and JSON
writers may send it; application/octet-stream PUT and GET of raw bodies (all
256 byte values, 1 MiB random), with conditions, ?ttlMs= and size limits;
batch get/set, list with values, the snapshot (GET and PATCH), ?meta=1,
the registry's size, and survival across a restart."""

import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, Rpc, Server, ServerTestCase, api_path, assert_error,  # noqa: E402
                      etag_version, kv_path, main, mp_unpack, ok, storage_path)

ALL = bytes(range(256))
OCTET = {"Content-Type": "application/octet-stream"}
WANT_OCTET = {"Accept": "application/octet-stream"}


def b64(b):
    return base64.b64encode(b).decode("ascii")


def jbytes(b):
    """The JSON form of bytes."""
    return {"$bytes": b64(b)}


def mp_data(test, resp, status=200):
    test.assertEqual(resp.status, status, resp)
    test.assertEqual(resp.headers.get("content-type", "").split(";")[0], "application/msgpack",
                     resp)
    body = mp_unpack(resp.raw)
    test.assertIs(body.get("success"), True, body)
    return body["data"]


class BinaryValues(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=["--max-value-bytes", str(2 * 1024 * 1024)], rpc=True)

    def rpc(self):
        return Rpc(self.server.rpc_port)

    def get_raw(self, path, status=200):
        r = self.req("GET", path, headers=WANT_OCTET)
        self.assertEqual(r.status, status, r)
        return r

    # ---- msgpack bin, HTTP and the binary protocol ---------------------------

    def test_msgpack_bin_round_trip_http(self):
        ns = self.ns
        values = [b"", b"\x00", ALL, b"\xff" * 70000,
                  {"a": b"\x00\x01", "b": [b"x", 1, {"c": b"\xfe"}]}, [b"", b"\x80"]]
        for i, v in enumerate(values):
            with self.subTest(i=i):
                r = self.req("PUT", kv_path("m%d" % i, ns=ns), {"value": v}, msgpack=True)
                ver = ok(r)["version"]
                got = mp_data(self, self.req("GET", kv_path("m%d" % i, ns=ns),
                                             accept_msgpack=True))
                self.assertEqual(got, v)
                # the JSON reader's form
                want = jbytes(v) if isinstance(v, bytes) else None
                j = ok(self.req("GET", kv_path("m%d" % i, ns=ns)))
                if want is not None:
                    self.assertEqual(j, want)
                # and through /api/storage/kv with the same version
                r = self.req("GET", api_path(ns, "m%d" % i), accept_msgpack=True)
                self.assertEqual(mp_data(self, r), v)
                self.assertEqual(etag_version(r), ver)
        self.assertEqual(ok(self.req("GET", kv_path("m4", ns=ns))),
                         {"a": jbytes(b"\x00\x01"),
                          "b": [jbytes(b"x"), 1, {"c": jbytes(b"\xfe")}]})

    def test_binary_protocol_round_trip(self):
        ns = self.ns
        with self.rpc() as c:
            st, body = c.call("kv.put", ns, {"key": "r", "value": ALL})
            self.assertIn(st, (St.OK, St.CREATED), body)
            st, body = c.call("kv.get", ns, {"key": "r"})
            self.assertEqual((st, body), (St.OK, ALL))
            self.assertIsInstance(body, bytes)
            st, body = c.call("kv.get", ns, {"key": "r", "meta": True})
            self.assertEqual((st, body["value"]), (St.OK, ALL))
            # nested, and batch_set / batch_get
            st, body = c.call("kv.batch_set", ns, {"entries": [
                {"key": "b1", "value": {"x": b"\x00\x00"}}, {"key": "b2", "value": b"\x01"}]})
            self.assertEqual(st, St.OK, body)
            st, body = c.call("kv.batch_get", ns, {"keys": ["b1", "b2", "r", "nope"]})
            self.assertEqual((st, body), (St.OK, {"b1": {"x": b"\x00\x00"}, "b2": b"\x01",
                                                 "r": ALL}))
            st, body = c.call("kv.list", ns, {"values": True})
            self.assertEqual(st, St.OK, body)
            self.assertEqual({e["key"]: e["value"] for e in body["keys"]},
                             {"b1": {"x": b"\x00\x00"}, "b2": b"\x01", "r": ALL})
        # what the binary protocol stored, HTTP JSON reads in the JSON form
        self.assertEqual(ok(self.req("GET", kv_path("r", ns=ns))), jbytes(ALL))
        self.assertEqual(self.get_raw(kv_path("r", ns=ns)).raw, ALL)

    def test_json_writer_bytes_read_as_bin(self):
        ns = self.ns
        v = {"img": jbytes(ALL), "n": 1}
        ok(self.req("PUT", kv_path("j", ns=ns), {"value": v}))
        self.assertEqual(ok(self.req("GET", kv_path("j", ns=ns))), v)
        got = mp_data(self, self.req("GET", kv_path("j", ns=ns), accept_msgpack=True))
        self.assertEqual(got, {"img": ALL, "n": 1})
        self.assertIsInstance(got["img"], bytes)
        with self.rpc() as c:
            st, body = c.call("kv.get", ns, {"key": "j"})
            self.assertEqual((st, body), (St.OK, {"img": ALL, "n": 1}))
        # a top-level JSON-form value is bytes: Accept octet-stream gets it raw
        ok(self.req("PUT", kv_path("top", ns=ns), {"value": jbytes(b"\x00hi")}))
        self.assertEqual(self.get_raw(kv_path("top", ns=ns)).raw, b"\x00hi")

    def test_not_bytes_stays_an_object(self):
        ns = self.ns
        for i, v in enumerate([{"$bytes": "AA="}, {"$bytes": "AB=="}, {"$bytes": "AA-_"},
                               {"$bytes": 5}, {"$bytes": "AA==", "x": 1}, {"$Bytes": "AA=="},
                               {"$bytes": None}]):
            with self.subTest(v=v):
                ok(self.req("PUT", kv_path("o%d" % i, ns=ns), {"value": v}))
                self.assertEqual(ok(self.req("GET", kv_path("o%d" % i, ns=ns))), v)
                got = mp_data(self, self.req("GET", kv_path("o%d" % i, ns=ns),
                                             accept_msgpack=True))
                self.assertEqual(got, v)
                # not bytes: Accept octet-stream answers the envelope as usual
                r = self.req("GET", kv_path("o%d" % i, ns=ns), headers=WANT_OCTET)
                self.assertEqual(r.headers["content-type"].split(";")[0], "application/json")
                self.assertEqual(ok(r), v)

    def test_bin_is_refused_as_a_key(self):
        ns = self.ns
        r = self.req("PUT", kv_path("k", ns=ns), {"value": {b"bin": 1}}, msgpack=True)
        assert_error(r, 400, "BAD_REQUEST")
        r = self.req("POST", storage_path("batch/get", ns=ns), {"keys": [b"k"]}, msgpack=True)
        assert_error(r, 400, "BAD_REQUEST")
        self.assertEqual(self.req("GET", kv_path("k", ns=ns)).status, 404)

    # ---- application/octet-stream ---------------------------------------------

    def test_octet_stream_all_byte_values(self):
        ns = self.ns
        for path in (kv_path("raw", ns=ns), api_path(ns, "raw2")):
            with self.subTest(path=path):
                r = self.req("PUT", path, ALL, headers=OCTET)
                ver = ok(r)["version"]
                self.assertEqual(etag_version(r), ver)
                g = self.get_raw(path)
                self.assertEqual(g.headers["content-type"], "application/octet-stream")
                self.assertEqual(g.raw, ALL)
                self.assertEqual(etag_version(g), ver)
                self.assertEqual(int(g.headers["content-length"]), 256)
                self.assertEqual(ok(self.req("GET", path)), jbytes(ALL))
                self.assertEqual(mp_data(self, self.req("GET", path, accept_msgpack=True)), ALL)
                # POST is the same as PUT; an empty body is empty bytes
                ok(self.req("POST", path, b"", headers=OCTET))
                self.assertEqual(self.get_raw(path).raw, b"")
                self.assertEqual(ok(self.req("GET", path)), {"$bytes": ""})
        # a HEAD with Accept octet-stream: the headers only
        r = self.req("HEAD", kv_path("raw", ns=ns), headers=WANT_OCTET)
        self.assertEqual((r.status, r.raw), (200, b""))
        self.assertEqual(r.headers["content-type"], "application/octet-stream")

    def test_octet_stream_one_mib_random(self):
        ns = self.ns
        data = os.urandom(1 << 20)
        ok(self.req("PUT", kv_path("big", ns=ns), data, headers=OCTET))
        self.assertEqual(self.get_raw(kv_path("big", ns=ns)).raw, data)
        self.assertEqual(ok(self.req("GET", kv_path("big", ns=ns))), jbytes(data))
        self.assertEqual(mp_data(self, self.req("GET", kv_path("big", ns=ns),
                                                accept_msgpack=True)), data)
        # the same bytes written as JSON come back identical
        ok(self.req("PUT", kv_path("big2", ns=ns), {"value": jbytes(data)}))
        self.assertEqual(self.get_raw(kv_path("big2", ns=ns)).raw, data)

    def test_octet_stream_conditions_ttl_and_limits(self):
        ns = self.ns
        p = kv_path("c", ns=ns)
        r = self.req("PUT", p, b"one", headers=dict(OCTET, **{"If-None-Match": "*"}))
        v1 = ok(r)["version"]
        r = self.req("PUT", p, b"two", headers=dict(OCTET, **{"If-None-Match": "*"}))
        assert_error(r, 412, "PRECONDITION_FAILED")
        r = self.req("PUT", p, b"two", headers=dict(OCTET, **{"If-Match": '"%d"' % (v1 + 100)}))
        assert_error(r, 412, "PRECONDITION_FAILED")
        ok(self.req("PUT", p, b"two", headers=dict(OCTET, **{"If-Match": '"%d"' % v1})))
        self.assertEqual(self.get_raw(p).raw, b"two")
        # ?ttlMs= with a raw body; the value expires
        t = kv_path("t", ns=ns, ttlMs=300)
        ok(self.req("PUT", t, b"ttl", headers=OCTET))
        m = ok(self.req("GET", kv_path("t", ns=ns, meta=1)))
        self.assertEqual(m["value"], jbytes(b"ttl"))
        self.assertIsInstance(m["expiresAt"], int)
        deadline = time.time() + 5
        while self.req("GET", kv_path("t", ns=ns)).status != 404 and time.time() < deadline:
            time.sleep(0.1)
        assert_error(self.get_raw(kv_path("t", ns=ns), status=404), 404, "NOT_FOUND")
        for bad in ("0", "-1", "x", "315360000001"):
            assert_error(self.req("PUT", kv_path("t", ns=ns, ttlMs=bad), b"x", headers=OCTET),
                         400, "BAD_REQUEST")
        # ttlMs in the query goes only with a raw body
        r = self.req("PUT", kv_path("t", ns=ns, ttlMs=100), {"value": 1})
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn("octet-stream", r.body["error"]["message"])
        # the size limit counts the bytes as stored: the payload and a 5-byte header
        limit = 2 * 1024 * 1024
        assert_error(self.req("PUT", kv_path("L", ns=ns), b"\x00" * (limit - 4), headers=OCTET),
                     413, "PAYLOAD_TOO_LARGE")
        ok(self.req("PUT", kv_path("L", ns=ns), b"\x00" * (limit - 5), headers=OCTET))
        assert_error(self.req("PUT", kv_path("L2", ns=ns), {"value": jbytes(b"\x00" * (limit - 4))}),
                     413, "PAYLOAD_TOO_LARGE")
        # other content types are still 415, with octet-stream named
        r = self.req("PUT", p, b"x", headers={"Content-Type": "text/plain"})
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
        self.assertIn("application/octet-stream", r.body["error"]["message"])
        self.assertEqual(self.get_raw(p).raw, b"two")
        # a missing key with Accept octet-stream: the JSON error envelope
        r = self.req("GET", kv_path("nope", ns=ns), headers=WANT_OCTET)
        assert_error(r, 404, "NOT_FOUND")

    # ---- batches, lists, snapshots, meta ---------------------------------------

    def test_batch_list_snapshot_meta(self):
        ns = self.ns
        ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": [
            {"key": "a", "value": jbytes(b"\x00A"), "metadata": {"kind": "img"}},
            {"key": "b", "value": [jbytes(b"B"), "s"]},
            {"key": "c", "value": "plain"}]}))
        ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": [
            {"key": "d", "value": b"\xffD"}]}, msgpack=True))
        want_json = {"a": jbytes(b"\x00A"), "b": [jbytes(b"B"), "s"], "c": "plain",
                     "d": jbytes(b"\xffD")}
        want_mp = {"a": b"\x00A", "b": [b"B", "s"], "c": "plain", "d": b"\xffD"}
        path = storage_path("batch/get", ns=ns)
        self.assertEqual(ok(self.req("POST", path, {"keys": list("abcdz")})), want_json)
        r = self.req("POST", path, {"keys": list("abcdz")}, accept_msgpack=True)
        self.assertEqual(mp_data(self, r), want_mp)
        # list with values, JSON and msgpack, both routes
        self.assertEqual({e["key"]: e["value"] for e in self.server.list_all(ns=ns, values=True)},
                         want_json)
        self.assertEqual({e["key"]: e["value"]
                          for e in self.server.list_all(ns=ns, values=True, api=True)}, want_json)
        r = self.req("GET", storage_path("list", ns=ns, values=1), accept_msgpack=True)
        self.assertEqual({e["key"]: e["value"] for e in mp_data(self, r)["keys"]}, want_mp)
        # the snapshot document
        r = self.req("GET", "/api/storage?ns=" + ns)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, want_json)
        r = self.req("GET", "/api/storage?ns=" + ns, accept_msgpack=True)
        self.assertEqual(mp_unpack(r.raw), want_mp)
        # PATCH with bytes in the JSON form, then read raw
        ver = etag_version(r)
        r = self.req("PATCH", "/api/storage?ns=" + ns,
                     [{"op": "set", "key": "e", "value": jbytes(b"\x00E")}, {"op": "del", "key": "c"}],
                     headers={"If-Match": '"%d"' % ver})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_raw(kv_path("e", ns=ns)).raw, b"\x00E")
        # ?meta=1: the value in its JSON form, the metadata as stored
        m = ok(self.req("GET", kv_path("a", ns=ns, meta=1)))
        self.assertEqual((m["value"], m["metadata"]), (jbytes(b"\x00A"), {"kind": "img"}))
        m = mp_data(self, self.req("GET", kv_path("a", ns=ns, meta=1), accept_msgpack=True))
        self.assertEqual((m["value"], m["metadata"]), (b"\x00A", {"kind": "img"}))
        # ?meta=1 with Accept octet-stream: the envelope, not raw bytes
        r = self.req("GET", kv_path("a", ns=ns, meta=1), headers=WANT_OCTET)
        self.assertEqual(ok(r)["value"], jbytes(b"\x00A"))

    def test_registry_size_counts_stored_bytes(self):
        ns = self.ns
        ok(self.req("PUT", kv_path("s", ns=ns), b"\x00" * 1000, headers=OCTET))
        ok(self.req("PUT", kv_path("s2", ns=ns), {"value": jbytes(b"\x00" * 1000)}))
        r = self.req("GET", "/api/resources/list?type=kv&namespace=%s&consistent=1" % ns)
        sizes = {x["key"]: x["size"] for x in r.body["resources"]}
        self.assertEqual(sizes, {"s": 1003, "s2": 1003})  # bin16 header + payload

    # ---- durability --------------------------------------------------------------

    def test_restart_survival(self):
        srv = Server(rpc=True)
        try:
            data = os.urandom(5000)
            ok(srv.req("PUT", kv_path("raw", ns="bin"), data, headers=OCTET))
            ok(srv.req("PUT", kv_path("mp", ns="bin"), {"value": {"x": ALL}}, msgpack=True))
            ok(srv.req("PUT", kv_path("js", ns="bin"), {"value": [jbytes(b"\x01")]}))
            srv.restart(hard=True)
            r = srv.req("GET", kv_path("raw", ns="bin"), headers=WANT_OCTET)
            self.assertEqual((r.status, r.raw), (200, data))
            self.assertEqual(mp_data(self, srv.req("GET", kv_path("mp", ns="bin"),
                                                   accept_msgpack=True)), {"x": ALL})
            self.assertEqual(ok(srv.req("GET", kv_path("js", ns="bin"))), [jbytes(b"\x01")])
            with Rpc(srv.rpc_port) as c:
                self.assertEqual(c.call("kv.get", "bin", {"key": "js"}), (St.OK, [b"\x01"]))
        finally:
            srv.stop()
            srv.close()


if __name__ == "__main__":
    main()
