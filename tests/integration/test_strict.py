#!/usr/bin/python3
"""Strict inputs (docs/protocol.md, "Strict inputs") against a real durod, on
every way in — HTTP JSON bodies, HTTP msgpack bodies and binary-protocol args:
an unknown field is 400 naming it and nothing is written; bools must be bools
and integers integers (query strings keep their string spellings); list
bounds may hold NUL and be longer than a key; lone surrogates and batches
over 1000 elements are refused."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (St, MISSING, Rpc, ServerTestCase, assert_error, free_port,  # noqa: E402
                      kv_path, main, ok, storage_path)

RPC_PORT = free_port()


def bad(test, resp, field=None, contains=None):
    """resp is 400 BAD_REQUEST; its message names `field` as unknown."""
    assert_error(resp, 400, "BAD_REQUEST")
    msg = resp.body["error"]["message"]
    if field is not None:
        test.assertIn('unknown field "%s"' % field, msg)
    if contains is not None:
        test.assertIn(contains, msg)


def rpc_bad(test, reply, field=None, contains=None):
    st, body = reply
    test.assertEqual((st, body["code"]), (St.BAD_REQUEST, "BAD_REQUEST"), body)
    if field is not None:
        test.assertIn('unknown field "%s"' % field, body["message"])
    if contains is not None:
        test.assertIn(contains, body["message"])


class Strict(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT)]

    def setUp(self):
        super().setUp()
        self.c = Rpc(RPC_PORT)

    def tearDown(self):
        self.c.close()
        super().tearDown()

    # ---- unknown fields ---------------------------------------------------

    def test_put_expiration_ttl_every_way_in(self):
        ns = self.ns
        body = {"value": 1, "expirationTtl": 60}
        bad(self, self.req("PUT", kv_path("j", ns=ns), body), "expirationTtl")
        bad(self, self.req("PUT", kv_path("m", ns=ns), body, msgpack=True), "expirationTtl")
        bad(self, self.req("POST", kv_path("j", ns=ns), body, accept_msgpack=True),
            "expirationTtl")
        rpc_bad(self, self.c.call("kv.put", ns, {"key": "r", "value": 1, "expirationTtl": 60}),
                "expirationTtl")
        for k in ("j", "m", "r"):
            self.assertIs(self.server.get(k, ns=ns), MISSING)
            self.assertEqual(self.c.call("kv.get", ns, {"key": k})[0], St.NOT_FOUND)
        # the right spelling works on all three
        ok(self.req("PUT", kv_path("j", ns=ns), {"value": 1, "ttlMs": 60000}))
        ok(self.req("PUT", kv_path("m", ns=ns), {"value": 1, "ttlMs": 60000}, msgpack=True))
        self.assertEqual(self.c.call("kv.put", ns, {"key": "r", "value": 1, "ttlMs": 60000})[0],
                         St.OK)
        for k in ("j", "m", "r"):
            st, m = self.c.call("kv.get", ns, {"key": k, "meta": True})
            self.assertEqual(st, St.OK)
            self.assertIsNotNone(m["expiresAt"])

    def test_http_body_fields_from_path_or_headers_are_unknown(self):
        # key and conditions travel in the path and headers over HTTP
        bad(self, self.req("PUT", kv_path("k", ns=self.ns), {"key": "k", "value": 1}), "key")
        bad(self, self.req("PUT", kv_path("k", ns=self.ns), {"value": 1, "ifMatch": 1}),
            "ifMatch")
        self.assertIs(self.server.get("k", ns=self.ns), MISSING)

    def test_batches_and_entries(self):
        ns = self.ns
        for mp in (False, True):
            r = self.req("POST", storage_path("batch/set", ns=ns),
                         {"entries": [{"key": "a", "value": 1},
                                      {"key": "b", "value": 2, "expiration": 5}]}, msgpack=mp)
            bad(self, r, "expiration", contains="entries[1]")
            bad(self, self.req("POST", storage_path("batch/set", ns=ns),
                               {"entries": [], "atomic": True}, msgpack=mp), "atomic")
            bad(self, self.req("POST", storage_path("batch/get", ns=ns),
                               {"keys": ["a"], "values": True}, msgpack=mp), "values")
            bad(self, self.req("POST", storage_path("batch/delete", ns=ns),
                               {"keys": ["a"], "force": 1}, msgpack=mp), "force")
        rpc_bad(self, self.c.call("kv.batch_set", ns,
                                  {"entries": [{"key": "a", "value": 1, "ifMatch": 1}]}),
                "ifMatch", contains="entries[0]")
        rpc_bad(self, self.c.call("kv.batch_get", ns, {"keys": ["a"], "meta": True}), "meta")
        rpc_bad(self, self.c.call("kv.batch_delete", ns, {"keys": ["a"], "x": None}), "x")
        self.assertEqual(self.server.list_all(ns=ns), [])

    def test_snapshot_patch_ops(self):
        ns = self.ns
        path = "/api/storage?ns=" + ns
        ops = [{"op": "set", "key": "a", "value": 1}, {"op": "del", "key": "b", "value": 2}]
        for mp in (False, True):
            bad(self, self.req("PATCH", path, ops, msgpack=mp), "value", contains="ops[1]")
        rpc_bad(self, self.c.call("snapshot.patch", ns, {"ops": ops}), "value")
        rpc_bad(self, self.c.call("snapshot.patch", ns, {"ops": [], "etag": 0}), "etag")
        rpc_bad(self, self.c.call("snapshot.get", ns, {"ns": ns}), "ns")
        rpc_bad(self, self.c.call("kv.clear", ns, {"prefix": "a"}), "prefix")
        self.assertEqual(self.server.list_all(ns=ns), [])

    def test_rpc_get_delete_list(self):
        ns = self.ns
        self.server.put("k", 1, ns=ns)
        rpc_bad(self, self.c.call("kv.get", ns, {"key": "k", "metadata": True}), "metadata")
        rpc_bad(self, self.c.call("kv.delete", ns, {"key": "k", "ifNoneMatch": True}),
                "ifNoneMatch")
        rpc_bad(self, self.c.call("kv.list", ns, {"prefix": "k", "startAt": "k"}), "startAt")
        self.assertEqual(self.server.get("k", ns=ns), 1)

    def test_ratelimit_sessions_resources(self):
        ns = self.ns
        bad(self, self.req("POST", "/ratelimit/rk/check?ns=" + ns,
                           {"limit": 5, "window": 1000}), "window")
        bad(self, self.req("POST", "/ratelimit/rk/check?ns=" + ns,
                           {"key": "rk", "limit": 5}, msgpack=True), "key")
        rpc_bad(self, self.c.call("ratelimit.check", ns, {"key": "rk", "limit": 5, "burst": 2}),
                "burst")
        rpc_bad(self, self.c.call("ratelimit.get", ns, {"key": "rk", "cost": 1}), "cost")
        rpc_bad(self, self.c.call("ratelimit.reset", ns, {"key": "rk", "limit": 1}), "limit")
        bad(self, self.req("POST", "/sessions?ns=" + ns,
                           {"data": {}, "ttlMs": 60000, "ttl": 5}), "ttl")
        rpc_bad(self, self.c.call("session.create", ns, {"data": {}, "ttlMs": 60000, "user": "u"}),
                "user")
        rpc_bad(self, self.c.call("session.list_user", ns, {"userId": "u", "limit": 5}), "limit")
        bad(self, self.req("POST", "/api/resources/register",
                           {"type": "do", "namespace": ns, "key": "r", "sizeBytes": 1}),
            "sizeBytes")
        rpc_bad(self, self.c.call("resources.register", ns,
                                  {"type": "do", "namespace": ns, "key": "r"}), "namespace")
        rpc_bad(self, self.c.call("resources.list", ns, {"prefix": "r"}), "prefix")
        d = self.req("GET", "/api/resources/stats?namespace=" + ns).body  # no envelope
        self.assertEqual(d["total"], 0)

    def test_null_is_absent(self):
        ns = self.ns
        ok(self.req("PUT", kv_path("n", ns=ns), {"value": None, "ttlMs": None, "metadata": None}))
        st, m = self.c.call("kv.get", ns, {"key": "n", "meta": None})
        self.assertEqual((st, m), (St.OK, None))
        st, m = self.c.call("kv.get", ns, {"key": "n", "meta": True})
        self.assertEqual((st, m["value"], m["expiresAt"], m["metadata"]), (St.OK, None, None, None))

    # ---- bools are bools, integers integers -------------------------------

    def test_rpc_bools(self):
        ns = self.ns
        self.server.put("k", 1, ns=ns)
        rpc_bad(self, self.c.call("kv.get", ns, {"key": "k", "meta": "yes"}),
                contains='"meta" must be true or false, not a string')
        rpc_bad(self, self.c.call("kv.get", ns, {"key": "k", "meta": 1}))
        rpc_bad(self, self.c.call("kv.list", ns, {"values": "true"}))
        rpc_bad(self, self.c.call("kv.list", ns, {"reverse": 1}))
        rpc_bad(self, self.c.call("kv.put", ns, {"key": "k", "value": 2, "ifNoneMatch": "true"}))
        rpc_bad(self, self.c.call("ratelimit.check", ns, {"key": "rk", "enforce": 1}))
        rpc_bad(self, self.c.call("session.create", ns,
                                  {"data": {}, "ttlMs": 1000, "rolling": "true"}))
        rpc_bad(self, self.c.call("resources.list", ns, {"consistent": "1"}))
        self.assertEqual(self.server.get("k", ns=ns), 1)
        st, m = self.c.call("kv.get", ns, {"key": "k", "meta": True})
        self.assertEqual((st, m["value"]), (St.OK, 1))

    def test_ints(self):
        ns = self.ns
        for body, mp in (({"value": 1, "ttlMs": 60.0}, False), ({"value": 1, "ttlMs": 60.0}, True),
                         ({"value": 1, "ttlMs": "60"}, False), ({"value": 1, "ttlMs": True}, True)):
            bad(self, self.req("PUT", kv_path("t", ns=ns), body, msgpack=mp), contains='"ttlMs"')
        r = self.req("PUT", kv_path("t", ns=ns), {"value": 1, "ttlMs": 60.0})
        bad(self, r, contains="not a float")
        bad(self, self.req("PUT", kv_path("t", ns=ns), {"value": 1, "ttlMs": "60"}),
            contains="not a string")
        rpc_bad(self, self.c.call("kv.put", ns, {"key": "t", "value": 1, "ttlMs": 60.0}),
                contains="not a float")
        rpc_bad(self, self.c.call("kv.put", ns, {"key": "t", "value": 1, "ifMatch": "1"}))
        rpc_bad(self, self.c.call("kv.list", ns, {"limit": "10"}))
        rpc_bad(self, self.c.call("resources.list", ns, {"limit": "5"}))
        bad(self, self.req("POST", "/ratelimit/rk/check?ns=" + ns, {"limit": "30"}),
            contains="not a string")
        bad(self, self.req("POST", "/sessions?ns=" + ns, {"data": {}, "ttlMs": 1000.0}))
        self.assertIs(self.server.get("t", ns=ns), MISSING)

    def test_query_strings_keep_their_spellings(self):
        ns = self.ns
        for k in ("a", "b", "c"):
            self.server.put(k, k, ns=ns)
        d = ok(self.req("GET", storage_path("list", ns=ns) + "&values=1&limit=10&reverse=true"))
        self.assertEqual([e["key"] for e in d["keys"]], ["c", "b", "a"])
        d = ok(self.req("GET", storage_path("list", ns=ns) + "&values&limit=2"))
        self.assertEqual([e["key"] for e in d["keys"]], ["a", "b"])
        d = ok(self.req("GET", storage_path("list", ns=ns) + "&values=false&reverse=0"))
        self.assertEqual(d["keys"], ["a", "b", "c"])
        bad(self, self.req("GET", storage_path("list", ns=ns) + "&reverse=yes"),
            contains='"reverse" must be 1, true, 0 or false')
        bad(self, self.req("GET", storage_path("list", ns=ns) + "&limit=1e3"))
        bad(self, self.req("GET", storage_path("list", ns=ns) + "&limit=-1"))
        d = self.req("GET", "/api/resources/stats?namespace=%s&consistent=1" % ns).body
        self.assertEqual(d["total"], 3)
        bad(self, self.req("GET", "/api/resources/list?namespace=%s&limit=x" % ns))

    # ---- list bounds are not keys -----------------------------------------

    def test_list_bounds_with_nul(self):
        ns = self.ns
        for k in ("a", "a/b", "ab", "b"):
            self.server.put(k, 1, ns=ns)
        cases = [({"end": "a\0"}, ["a"]), ({"start": "a\0"}, ["a/b", "ab", "b"]),
                 ({"startAfter": "a\0"}, ["a/b", "ab", "b"]), ({"prefix": "a\0"}, []),
                 ({"end": "ab\0"}, ["a", "a/b", "ab"])]
        for params, want in cases:
            d = ok(self.req("GET", storage_path("list", ns=ns, **params)))  # %00 in the URL
            self.assertEqual((d["keys"], d["list_complete"]), (want, True), params)
            st, d = self.c.call("kv.list", ns, params)
            self.assertEqual((st, d["keys"], d["list_complete"]), (St.OK, want, True), params)
        d = ok(self.req("GET", storage_path("list", ns=ns, end="a/b\0", reverse="true")))
        self.assertEqual(d["keys"], ["a/b", "a"])
        # an empty end is a bound (nothing sorts before ""); an empty start is none
        self.assertEqual(ok(self.req("GET", storage_path("list", ns=ns, end="")))["keys"], [])
        self.assertEqual(ok(self.req("GET", storage_path("list", ns=ns, start="")))["keys"],
                         ["a", "a/b", "ab", "b"])
        # bounds must still be UTF-8
        bad(self, self.req("GET", storage_path("list", ns=ns) + "&start=%FF"),
            contains="not valid UTF-8")

    def test_list_bounds_longer_than_a_key(self):
        ns = self.ns
        for k in ("a", "a/b", "ab", "b"):
            self.server.put(k, 1, ns=ns)
        big = "a" * 3000
        for params, want in (({"prefix": big}, []), ({"start": big}, ["ab", "b"]),
                             ({"end": big}, ["a", "a/b"]), ({"startAfter": "b" * 2049}, [])):
            d = ok(self.req("GET", storage_path("list", ns=ns, **params)))
            self.assertEqual((d["keys"], d["cursor"], d["list_complete"]), (want, None, True))
            st, d = self.c.call("kv.list", ns, params)
            self.assertEqual((st, d["keys"], d["list_complete"]), (St.OK, want, True))
        # a key over 2048 bytes is still no key
        bad(self, self.req("PUT", kv_path("k" * 2049, ns=ns), {"value": 1}))

    # ---- lone surrogates, the batch cap -----------------------------------

    def test_lone_surrogates(self):
        ns = self.ns
        hdr = {"Content-Type": "application/json"}
        for raw in (b'{"value":"\\ud800"}', b'{"value":"x\\udc00"}', b'{"value":{"\\udfff":1}}'):
            bad(self, self.req("PUT", kv_path("s", ns=ns), raw, headers=hdr),
                contains="malformed JSON body: invalid JSON")
        bad(self, self.req("POST", storage_path("batch/set", ns=ns),
                           b'{"entries":[{"key":"\\ud83d","value":1}]}', headers=hdr))
        self.assertEqual(self.server.list_all(ns=ns), [])
        ok(self.req("PUT", kv_path("s", ns=ns), b'{"value":"\\ud83d\\ude00"}', headers=hdr))
        self.assertEqual(self.server.get("s", ns=ns), "\U0001F600")

    def test_batch_cap(self):
        ns = self.ns
        keys = ["k%d" % i for i in range(1001)]
        entries = [{"key": k, "value": 1} for k in keys]
        r = self.req("POST", storage_path("batch/set", ns=ns), {"entries": entries})
        bad(self, r, contains='"entries" has more than 1000 elements')
        bad(self, self.req("POST", storage_path("batch/get", ns=ns), {"keys": keys}),
            contains='"keys" has more than 1000 elements')
        bad(self, self.req("POST", storage_path("batch/delete", ns=ns), {"keys": keys}))
        rpc_bad(self, self.c.call("kv.batch_delete", ns, {"keys": keys}))
        self.assertEqual(self.server.list_all(ns=ns), [])
        d = ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": entries[:1000]}))
        self.assertEqual(d["count"], 1000)
        d = ok(self.req("POST", storage_path("batch/delete", ns=ns), {"keys": keys[:1000]}))
        self.assertEqual(d["deleted"], 1000)


if __name__ == "__main__":
    main()
