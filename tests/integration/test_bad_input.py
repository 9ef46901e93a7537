#!/usr/bin/python3
"""Bad input: a table of malformed and hostile requests. Each must get its
documented 4xx status and the JSON error envelope; afterwards the server is
still up and the data written before is unchanged (list values=1 snapshot
and key metadata before and after).

The server runs with --max-body-bytes 262144 (so 100k '[' is a parse error,
not a size error) and --max-value-bytes 8192."""

import os
import http.client
import socket
import sys

import msgpack  # only for msgpack.ExtType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (ServerTestCase, assert_error, kv_path, main, ok,  # noqa: E402
                      storage_path)
from durotest import mp_pack as mp  # noqa: E402

NS = "bad"
MAX_BODY = 262144
MAX_VALUE = 8192
S = "/storage/k1?ns=" + NS                 # an existing key
A = "/api/storage/kv/" + NS + "/k1"        # same key, api family
LIST = "/storage/list?ns=" + NS
BGET = "/storage/batch/get?ns=" + NS
BSET = "/storage/batch/set?ns=" + NS
BDEL = "/storage/batch/delete?ns=" + NS
MP = {"Content-Type": "application/msgpack"}


def C(name, method, path, body=None, headers=None, status=400, code="BAD_REQUEST", raw=None):
    return dict(name=name, method=method, path=path, body=body, headers=headers or {},
                status=status, code=code, raw=raw)


BAD_REQ = (400, "BAD_REQUEST")


def keys(n):
    return ["k%d" % i for i in range(n)]


CASES = [
    # ---- broken JSON ------------------------------------------------------
    C("json truncated", "PUT", S, b'{"value":'),
    C("json unquoted name", "PUT", S, b"{value:1}"),
    C("json empty body", "PUT", S, b""),
    C("json trailing garbage", "PUT", S, b'{"value":1}}'),
    C("json trailing value", "PUT", S, b'{"value":1} {"value":2}'),
    C("json bad literal", "PUT", S, b'{"value":tru}'),
    C("json single quotes", "PUT", S, b"{'value':1}"),
    C("json invalid utf-8", "PUT", S, b'{"value":"\xff\xfe"}'),
    C("json NaN", "PUT", S, b'{"value":NaN}'),
    C("json Infinity", "PUT", S, b'{"value":Infinity}'),
    C("json duplicate keys", "PUT", S, b'{"value":1,"value":2}'),
    C("json lone surrogate escape", "PUT", S, b'{"value":"\\ud800"}'),
    C("json control char in string", "PUT", S, b'{"value":"a\x01b"}'),
    C("json 100k [ nesting", "PUT", S, b"[" * 100000),
    C("json 100k [ nesting in value", "PUT", S, b'{"value":' + b"[" * 100000),
    C("json 100k { nesting in value", "PUT", S, b'{"value":' + b'{"a":' * 20000),
    C("json 1000-deep well-formed value", "PUT", S, b'{"value":' + b"[" * 1000 + b"]" * 1000 + b"}"),
    C("json integer beyond int64", "PUT", S, b'{"value":123456789012345678901234567890}'),
    C("json number overflow", "PUT", S, b'{"value":1e400}'),
    C("json only whitespace", "PUT", S, b"   \n "),
    # ---- body shape -------------------------------------------------------
    C("body is a string", "PUT", S, b'"value"'),
    C("body is an array", "PUT", S, b'[{"value":1}]'),
    C("body is null", "PUT", S, b"null"),
    C("body is a number", "POST", S, b"42"),
    C("body is empty object", "PUT", S, b"{}"),
    C("body without value", "PUT", S, {"val": 1, "ttlMs": 1000}),
    C("no body at all", "PUT", S, None, {"Content-Type": None}),
    # ---- ttlMs ------------------------------------------------------------
    C("ttl negative", "PUT", S, {"value": 1, "ttlMs": -1}),
    C("ttl zero", "PUT", S, {"value": 1, "ttlMs": 0}),
    C("ttl float", "PUT", S, {"value": 1, "ttlMs": 1.5}),
    C("ttl string", "PUT", S, {"value": 1, "ttlMs": "1000"}),
    C("ttl over ten years", "PUT", S, {"value": 1, "ttlMs": 315360000001}),
    C("ttl int64 max", "PUT", S, {"value": 1, "ttlMs": 9223372036854775807}),
    C("ttl int64 min", "PUT", S, {"value": 1, "ttlMs": -9223372036854775808}),
    C("ttl beyond int64", "PUT", S, b'{"value":1,"ttlMs":99999999999999999999999}'),
    C("ttl huge float", "PUT", S, {"value": 1, "ttlMs": 1e300}),
    C("ttl bool", "PUT", S, {"value": 1, "ttlMs": True}),
    C("ttl array", "PUT", S, {"value": 1, "ttlMs": [1000]}),
    C("ttl object", "PUT", S, {"value": 1, "ttlMs": {"ms": 1000}}),
    # ---- metadata ---------------------------------------------------------
    C("metadata string", "PUT", S, {"value": 1, "metadata": "m"}),
    C("metadata array", "PUT", S, {"value": 1, "metadata": [1, 2]}),
    C("metadata number", "PUT", S, {"value": 1, "metadata": 5}),
    C("metadata bool", "PUT", S, {"value": 1, "metadata": True}),
    C("metadata over 16 KiB", "PUT", S, {"value": 1, "metadata": {"m": "x" * 16400}}),
    # ---- keys -------------------------------------------------------------
    C("empty key PUT", "PUT", "/storage/?ns=" + NS, {"value": 1}),
    C("empty key GET", "GET", "/storage/?ns=" + NS),
    C("empty key DELETE", "DELETE", "/storage/?ns=" + NS),
    C("empty key api", "PUT", "/api/storage/kv/" + NS + "/", {"value": 1}),
    C("key 2049 bytes PUT", "PUT", "/storage/" + "a" * 2049 + "?ns=" + NS, {"value": 1}),
    C("key 2049 bytes GET", "GET", "/storage/" + "a" * 2049 + "?ns=" + NS),
    C("key 2049 bytes DELETE", "DELETE", "/storage/" + "a" * 2049 + "?ns=" + NS),
    C("key 2050 bytes utf-8", "PUT", "/storage/" + "%C3%A9" * 1025 + "?ns=" + NS, {"value": 1}),
    C("key 2049 bytes api", "PUT", "/api/storage/kv/" + NS + "/" + "a" * 2049, {"value": 1}),
    # ---- namespaces -------------------------------------------------------
    C("ns reserved _", "GET", "/storage/k1?ns=_reserved"),
    C("ns reserved _ write", "PUT", "/storage/k1?ns=_sys", {"value": 1}),
    C("ns leading dot", "PUT", "/storage/k1?ns=.x", {"value": 1}),
    C("ns 129 bytes", "PUT", "/storage/k1?ns=" + "a" * 129, {"value": 1}),
    C("ns with space", "PUT", "/storage/k1?ns=a%20b", {"value": 1}),
    C("ns with slash", "PUT", "/storage/k1?ns=a%2Fb", {"value": 1}),
    C("ns with bang", "PUT", "/storage/k1?ns=ns!", {"value": 1}),
    C("ns with NUL", "GET", "/storage/k1?ns=a%00b"),
    C("ns utf-8", "GET", "/storage/k1?ns=%C3%A9"),
    C("ns empty", "GET", "/storage/k1?ns="),
    C("ns bad escape", "GET", "/storage/k1?ns=%zz"),
    C("ns reserved via header", "PUT", "/storage/k1", {"value": 1}, {"X-Namespace": "_sys"}),
    C("ns invalid via header", "PUT", "/storage/k1", {"value": 1}, {"X-Namespace": "bad ns"}),
    C("ns too long via header", "GET", "/storage/k1", None, {"X-Namespace": "h" * 129}),
    C("ns latin-1 byte via header", "GET", "/storage/k1", None, {"X-Namespace": "\u00e9t\u00e9"}),
    C("ns dot via header", "GET", "/storage/list", None, {"X-Namespace": ".hidden"}),
    C("ns reserved api", "GET", "/api/storage/kv/_reserved/k1"),
    C("ns dot api", "PUT", "/api/storage/kv/.x/k1", {"value": 1}),
    C("ns 129 bytes api", "PUT", "/api/storage/kv/" + "a" * 129 + "/k1", {"value": 1}),
    C("ns bad chars api", "GET", "/api/storage/kv/a%21b/k1"),
    C("ns reserved api list", "GET", "/api/storage/kv/_reserved"),
    C("ns reserved batch", "POST", "/storage/batch/set?ns=_x", {"entries": [{"key": "k", "value": 1}]}),
    C("ns reserved clear", "POST", "/storage/clear?ns=_x"),
    # ---- percent-encoding -------------------------------------------------
    C("pct %zz", "GET", "/storage/%zz?ns=" + NS),
    C("pct lone %", "GET", "/storage/%?ns=" + NS),
    C("pct truncated %2", "GET", "/storage/a%2?ns=" + NS),
    C("pct %00", "GET", "/storage/%00?ns=" + NS),
    C("pct NUL inside key PUT", "PUT", "/storage/a%00b?ns=" + NS, {"value": 1}),
    C("pct %ff invalid utf-8", "GET", "/storage/%ff?ns=" + NS),
    C("pct invalid utf-8 sequence", "PUT", "/storage/%c3%28?ns=" + NS, {"value": 1}),
    C("pct utf-8 surrogate", "GET", "/storage/%ed%a0%80?ns=" + NS),
    C("pct overlong utf-8", "GET", "/storage/%c0%af?ns=" + NS),
    C("pct truncated utf-8", "GET", "/storage/%e2%82?ns=" + NS),
    C("pct bad escape api", "GET", "/api/storage/kv/" + NS + "/%zz"),
    C("pct NUL api", "PUT", "/api/storage/kv/" + NS + "/a%00", {"value": 1}),
    C("pct bad escape in prefix", "GET", LIST + "&prefix=%zz"),
    C("pct bad escape in start", "GET", LIST + "&start=%g0"),
    # ---- sizes ------------------------------------------------------------
    C("body over max-body-bytes", "PUT", S, {"value": "x" * (MAX_BODY + 1000)}, status=413, code="PAYLOAD_TOO_LARGE"),
    C("body over max-body-bytes batch", "POST", BSET,
      {"entries": [{"key": "big%d" % i, "value": "y" * 1000} for i in range(300)]},
      status=413, code="PAYLOAD_TOO_LARGE"),
    C("value over max-value-bytes", "PUT", S, {"value": "x" * (MAX_VALUE + 100)}, status=413, code="PAYLOAD_TOO_LARGE"),
    C("value over max-value-bytes api", "PUT", A, {"value": ["x" * 5000, "y" * 5000]},
      status=413, code="PAYLOAD_TOO_LARGE"),
    C("value over max-value-bytes msgpack", "PUT", S, mp({"value": "x" * (MAX_VALUE + 100)}), MP,
      status=413, code="PAYLOAD_TOO_LARGE"),
    C("value over max-value-bytes in batch", "POST", BSET,
      {"entries": [{"key": "ok1", "value": 1}, {"key": "big", "value": "z" * (MAX_VALUE + 100)}]},
      status=413, code="PAYLOAD_TOO_LARGE"),
    C("content-length over limit, no body", None, None, status=413, code="PAYLOAD_TOO_LARGE",
      raw=b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 10000000000\r\n\r\n"),
    C("chunked body over limit", None, None, status=413, code="PAYLOAD_TOO_LARGE",
      raw=b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n" +
          (b"8000\r\n" + b" " * 0x8000 + b"\r\n") * 10 + b"0\r\n\r\n"),
    # ---- msgpack ----------------------------------------------------------
    C("mp truncated", "PUT", S, mp({"value": "hello"})[:-2], MP),
    C("mp 0xc1", "PUT", S, b"\xc1", MP),
    C("mp 0xc1 inside", "PUT", S, b"\x81\xa5value\xc1", MP),
    C("mp array32 bomb", "PUT", S, b"\xdd\xff\xff\xff\xff", MP),
    C("mp map32 bomb", "PUT", S, b"\xdf\xff\xff\xff\xff", MP),
    C("mp map32 bomb in value", "PUT", S, b"\x81\xa5value\xdf\xff\xff\xff\xff", MP),
    C("mp str32 length lie", "PUT", S, b"\x81\xa5value\xdb\xff\xff\xff\xff" + b"a" * 10, MP),
    C("mp str8 length lie", "PUT", S, b"\x81\xa5value\xd9\xffab", MP),
    C("mp bin map key in value", "PUT", S, mp({"value": {b"k": 1}}), MP),
    C("mp ext value", "PUT", S, mp({"value": msgpack.ExtType(5, b"x")}), MP),
    C("mp timestamp ext", "PUT", S, b"\x81\xa5value\xd6\xff\x00\x00\x00\x01", MP),
    C("mp int body map key", "PUT", S, mp({1: 2}), MP),
    C("mp int map key in value", "PUT", S, mp({"value": {1: 2}}), MP),
    C("mp bin map key", "PUT", S, mp({b"value": 1}), MP),
    C("mp uint64 over int64", "PUT", S, mp({"value": 2 ** 64 - 1}), MP),
    C("mp NaN", "PUT", S, mp({"value": float("nan")}), MP),
    C("mp infinity", "PUT", S, mp({"value": float("inf")}), MP),
    C("mp invalid utf-8 str", "PUT", S, b"\x81\xa5value\xa2\xff\xfe", MP),
    C("mp trailing bytes", "PUT", S, mp({"value": 1}) + b"\x01", MP),
    C("mp empty body", "PUT", S, b"", MP),
    C("mp top-level array", "PUT", S, mp([1, 2]), MP),
    C("mp 100k nesting", "PUT", S, b"\x81\xa5value" + b"\x91" * 100000 + b"\xc0", MP),
    C("mp ttl float", "PUT", S, mp({"value": 1, "ttlMs": 1.5}), MP),
    C("mp batch keys bin", "POST", BGET, mp({"keys": [b"k1"]}), MP),
    C("mp batch truncated", "POST", BSET, mp({"entries": [{"key": "a", "value": 1}]})[:-1], MP),
    # ---- routes and methods ----------------------------------------------
    C("unknown route", "GET", "/nope", status=404, code="NOT_FOUND"),
    C("unknown route storage-ish", "GET", "/storagex/k1?ns=" + NS, status=404, code="NOT_FOUND"),
    C("unknown route case", "GET", "/STORAGE/k1?ns=" + NS, status=404, code="NOT_FOUND"),
    C("unknown api type", "GET", "/api/storage/zzz/" + NS + "/k1", status=404, code="NOT_FOUND"),
    C("unknown route below healthz", "GET", "/healthz/x", status=404, code="NOT_FOUND"),
    C("unknown route with body", "PUT", "/nope/k1", {"value": 1}, status=404, code="NOT_FOUND"),
    C("POST healthz", "POST", "/healthz", status=405, code="METHOD_NOT_ALLOWED"),
    C("DELETE metrics", "DELETE", "/metrics", status=405, code="METHOD_NOT_ALLOWED"),
    C("PATCH key", "PATCH", S, {"value": 1}, status=405, code="METHOD_NOT_ALLOWED"),
    C("PATCH api key", "PATCH", A, {"value": 1}, status=405, code="METHOD_NOT_ALLOWED"),
    C("PUT api list", "PUT", "/api/storage/kv/" + NS, {"value": 1}, status=405, code="METHOD_NOT_ALLOWED"),
    C("DELETE api list", "DELETE", "/api/storage/kv/" + NS, status=405, code="METHOD_NOT_ALLOWED"),
    # ---- content types ----------------------------------------------------
    C("ct text/plain", "PUT", S, b'{"value":1}', {"Content-Type": "text/plain"}, status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct xml", "PUT", S, b"<value>1</value>", {"Content-Type": "application/xml"},
      status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct form", "POST", S, b"value=1", {"Content-Type": "application/x-www-form-urlencoded"},
      status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct json prefix", "PUT", S, b'{"value":1}', {"Content-Type": "application/jsonx"},
      status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct text/json", "PUT", S, b'{"value":1}', {"Content-Type": "text/json"}, status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct batch text", "POST", BSET, b'{"entries":[]}', {"Content-Type": "text/plain"},
      status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct octet-stream batch", "POST", BSET, b"\x00\x01", {"Content-Type": "application/octet-stream"},
      status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    C("ct octet-stream ttl 0", "PUT", A + "?ttlMs=0", b"\x00\x01",
      {"Content-Type": "application/octet-stream"}),
    C("ttlMs query with a JSON body", "PUT", A + "?ttlMs=10", {"value": 1}),
    # ---- batch ------------------------------------------------------------
    C("batch get 1001 keys", "POST", BGET, {"keys": keys(1001)}),
    C("batch set 1001 entries", "POST", BSET, {"entries": [{"key": k, "value": 1} for k in keys(1001)]}),
    C("batch delete 1001 keys", "POST", BDEL, {"keys": keys(1001)}),
    C("batch get keys not array", "POST", BGET, {"keys": "k1"}),
    C("batch get keys numbers", "POST", BGET, {"keys": [1, 2]}),
    C("batch get no keys field", "POST", BGET, {}),
    C("batch get empty key", "POST", BGET, {"keys": ["k1", ""]}),
    C("batch get oversize key", "POST", BGET, {"keys": ["k1", "a" * 2049]}),
    C("batch get body array", "POST", BGET, ["k1"]),
    C("batch set entries object", "POST", BSET, {"entries": {"key": "k1", "value": 1}}),
    C("batch set entry number", "POST", BSET, {"entries": [1]}),
    C("batch set entry without value", "POST", BSET, {"entries": [{"key": "k1"}]}),
    C("batch set entry key number", "POST", BSET, {"entries": [{"key": 123, "value": 1}]}),
    C("batch set entry empty key", "POST", BSET, {"entries": [{"key": "k1", "value": 9}, {"key": "", "value": 1}]}),
    C("batch set entry bad ttl", "POST", BSET, {"entries": [{"key": "k1", "value": 9}, {"key": "k2", "value": 1, "ttlMs": -5}]}),
    C("batch set entry bad metadata", "POST", BSET, {"entries": [{"key": "k1", "value": 9, "metadata": "m"}]}),
    C("batch set no entries field", "POST", BSET, {"keys": ["k1"]}),
    C("batch delete keys null", "POST", BDEL, {"keys": [None]}),
    C("batch delete mixed", "POST", BDEL, {"keys": ["k1", 5]}),
    C("batch delete body string", "POST", BDEL, b'"k1"'),
    C("batch broken json", "POST", BDEL, b'{"keys":["k1"'),
    # ---- list -------------------------------------------------------------
    C("list limit 0", "GET", LIST + "&limit=0"),
    C("list limit 10001", "GET", LIST + "&limit=10001"),
    C("list limit abc", "GET", LIST + "&limit=abc"),
    C("list limit negative", "GET", LIST + "&limit=-1"),
    C("list limit float", "GET", LIST + "&limit=2.5"),
    C("list limit huge", "GET", LIST + "&limit=99999999999999999999"),
    C("list start and startAfter", "GET", LIST + "&start=a&startAfter=b"),
    C("list bad cursor", "GET", LIST + "&cursor=!!!"),
    C("list bad cursor 2", "GET", LIST + "&cursor=@@@notacursor"),
    C("list cursor bad escape", "GET", LIST + "&cursor=%zz"),
    C("list api limit 0", "GET", "/api/storage/kv/" + NS + "?limit=0"),
    C("list api bad cursor", "GET", "/api/storage/kv/" + NS + "?cursor=!!!"),
    C("list api limit abc", "GET", "/api/storage/kv/" + NS + "?limit=abc"),
    # ---- conditional headers ---------------------------------------------
    C("if-match garbage", "PUT", S, {"value": 1}, {"If-Match": "abc"}),
    C("if-match bad number", "PUT", S, {"value": 1}, {"If-Match": '"1x"'}),
    C("if-match empty quotes", "PUT", S, {"value": 1}, {"If-Match": '""'}),
    C("if-match on delete garbage", "DELETE", S, None, {"If-Match": "zz"}),
]

# Hostile traffic below the HTTP layer: the reply (if any) must be a 4xx, the
# server must survive; the exact status and body are not part of the contract.
HOSTILE = [
    ("garbage bytes", b"\x00\x01\x02\x03\r\n\r\n"),
    ("not http", b"HELLO WORLD\r\n\r\n"),
    ("bad version", b"GET /healthz HTTP/9.9\r\n\r\n"),
    ("uri 100 KB", b"GET /storage/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header 200 KB", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200000 + b"\r\n\r\n"),
    ("10k headers", b"GET /healthz HTTP/1.1\r\n" + b"X-H: v\r\n" * 10000 + b"\r\n"),
    ("NUL in path", b"GET /storage/a\x00b?ns=bad HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bad content-length", b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"),
    ("negative content-length", b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}"),
    ("bad chunk size", b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ("partial request then close", b"PUT " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"va"),
    ("headers never finished", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"),
]


class BadInput(ServerTestCase):
    server_args = ["--max-body-bytes", str(MAX_BODY), "--max-value-bytes", str(MAX_VALUE)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        ents = [{"key": "k%d" % i, "value": {"i": i, "s": "v%d" % i}} for i in range(12)]
        ents += [{"key": "a/b", "value": [1, 2]}, {"key": "ключ", "value": "знач"},
                 {"key": "big", "value": "o" * 100}, {"key": "ok1", "value": "orig"}]
        ok(srv.req("POST", storage_path("batch/set", ns=NS), {"entries": ents}))
        ok(srv.req("PUT", S, {"value": {"i": 1, "s": "v1"}, "metadata": {"m": 1}, "ttlMs": 3600000}))
        ok(srv.req("POST", storage_path("batch/set"), {"entries": [{"key": "dflt%d" % i, "value": i} for i in range(3)]}))

    def test_closed_connections_never_steal_new_ones(self):
        # Regression: a connection closed by the server (413 + close) must not
        # take the bytes of a new connection that gets its socket number.
        big = b"PUT " + S.encode() + (b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                      b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1)) \
            + b" " * (MAX_BODY + 1)
        for i in range(60):
            r = self.server.raw(big, timeout=5)
            if r is not None:
                self.assertEqual(r.status, 413)
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                resp = http.client.HTTPResponse(s, method="GET")
                resp.begin()
                self.assertEqual(resp.status, 200, "iteration %d" % i)
                resp.read()
            finally:
                s.close()

    @classmethod
    def state(cls):
        srv = cls.server
        meta = ok(srv.req("GET", kv_path("k1", ns=NS, meta=1)))
        return {"bad": srv.snapshot(ns=NS), "default": srv.snapshot(),
                "k1": meta, "other": srv.list_all(ns="bad-other")}

    def setUp(self):
        super().setUp()
        self.before = self.state()

    def check_case(self, name):
        """After one case: the server is up and no data changed (if it did,
        the case is reported and the new state becomes the reference)."""
        if not self.server.alive():
            self.fail("server died on case %r\n%s" % (name, self.server.log_tail()))
        now = self.state()
        if now != self.before:
            diff = {k: (self.before[k], now[k]) for k in now if now[k] != self.before[k]}
            self.before = now
            self.fail("case %r changed data: %r" % (name, diff))

    def check_unchanged(self):
        self.assertTrue(self.server.alive(), self.server.log_tail())
        r = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.state(), self.before)

    def test_table_is_big_enough(self):
        names = [c["name"] for c in CASES]
        self.assertEqual(len(names), len(set(names)), "duplicate case names")
        self.assertGreaterEqual(len(CASES), 60)

    def test_bad_requests(self):
        for c in CASES:
            with self.subTest(case=c["name"]):
                if c["raw"] is not None:
                    r = self.server.raw(c["raw"], timeout=5)
                    self.assertIsNotNone(r, "connection closed without a reply")
                else:
                    r = self.req(c["method"], c["path"], c["body"], headers=c["headers"])
                assert_error(r, c["status"], c["code"], c["name"])
            with self.subTest(case=c["name"], check="data unchanged"):
                self.check_case(c["name"])
        self.check_unchanged()

    def test_bad_requests_with_msgpack_accept(self):
        # the same errors, asked for in msgpack: still the error envelope
        for c in CASES[:40]:
            if c["raw"] is not None:
                continue
            with self.subTest(case=c["name"]):
                r = self.req(c["method"], c["path"], c["body"], headers=c["headers"], accept_msgpack=True)
                assert_error(r, c["status"], c["code"], c["name"])
            with self.subTest(case=c["name"], check="data unchanged"):
                self.check_case(c["name"])
        self.check_unchanged()

    def test_hostile_connections(self):
        for name, data in HOSTILE:
            with self.subTest(case=name):
                try:
                    r = self.server.raw(data, timeout=2)
                except OSError:
                    r = None    # reset / timeout: no reply is acceptable here
                if r is not None:
                    self.assertTrue(400 <= r.status < 500 or r.status == 505, "%s: %r" % (name, r))
            with self.subTest(case=name, check="data unchanged"):
                self.check_case(name)
        self.check_unchanged()

    def test_body_limit_boundary(self):
        # a body of exactly --max-body-bytes is accepted, one byte more is 413
        def body_of(n):
            keys = []
            b = b'{"keys":[]}'
            size = len(b)
            while size < n - 2100:
                k = "q" * 2000
                keys.append(k)
                size += len(k) + 3      # "k" plus the comma
            pad = n - len(('{"keys":[' + ",".join('"%s"' % k for k in keys) + ',""]}').encode())
            keys.append("p" * pad)
            raw = ('{"keys":[' + ",".join('"%s"' % k for k in keys) + ']}').encode()
            assert len(raw) == n, (len(raw), n)
            return raw
        r = self.req("POST", BGET, body_of(MAX_BODY))
        self.assertEqual(ok(r), {})
        assert_error(self.req("POST", BGET, body_of(MAX_BODY + 1)), 413, "PAYLOAD_TOO_LARGE")
        self.check_unchanged()

    def test_keepalive_survives_errors(self):
        # errors on a kept-alive connection do not break the next request
        for _ in range(5):
            assert_error(self.req("PUT", S, b"{bad"), 400, "BAD_REQUEST")
            assert_error(self.req("GET", "/nope"), 404, "NOT_FOUND")
            self.assertEqual(ok(self.req("GET", kv_path("k2", ns=NS))), {"i": 2, "s": "v2"})
        self.check_unchanged()


if __name__ == "__main__":
    main()
