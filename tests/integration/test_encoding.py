#!/usr/bin/python3
"""Encodings: msgpack request bodies and Accept: application/msgpack replies
(round trips both ways), percent-encoded keys (%2F, UTF-8, reserved
characters, '+'), and namespace isolation."""

import os
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (MISSING, ServerTestCase, api_path, assert_error, etag_version,  # noqa: E402
                      kv_path, main, mp_pack, mp_unpack, ok, q, storage_path)

VALUES = [0, 1, -1, 127, 128, 255, 256, 65535, 65536, 2 ** 32, -2 ** 31 - 1,
          9223372036854775807, -9223372036854775808, 1.5, -2.75, 1e300,
          True, False, None, "", "x" * 40, "ü€🔑", "a\u0000b", [], [1, [2, [3]]],
          {}, {"a": {"b": None, "c": [True, 1.25]}}, {"ключ": "значение"}]


def mp_envelope(test, resp, status=200):
    test.assertEqual(resp.status, status, resp)
    test.assertTrue(resp.headers.get("content-type", "").startswith("application/msgpack"), resp)
    body = mp_unpack(resp.raw)
    test.assertIsInstance(body, dict)
    test.assertIs(body.get("success"), True, body)
    return body["data"]


class Msgpack(ServerTestCase):

    def test_msgpack_put_json_get(self):
        for i, v in enumerate(VALUES):
            with self.subTest(value=v):
                d = ok(self.req("PUT", kv_path("m%d" % i, ns=self.ns), {"value": v}, msgpack=True))
                self.assertIsInstance(d["version"], int)
                self.assertEqual(ok(self.req("GET", kv_path("m%d" % i, ns=self.ns))), v)

    def test_json_put_msgpack_get(self):
        for i, v in enumerate(VALUES):
            with self.subTest(value=v):
                ok(self.req("PUT", kv_path("j%d" % i, ns=self.ns), {"value": v}))
                r = self.req("GET", kv_path("j%d" % i, ns=self.ns), accept_msgpack=True)
                got = mp_envelope(self, r)
                self.assertEqual(got, v)
                self.assertEqual(type(got), type(v))

    def test_msgpack_both_ways(self):
        for i, v in enumerate(VALUES):
            with self.subTest(value=v):
                r = self.req("PUT", kv_path("b%d" % i, ns=self.ns), {"value": v}, msgpack=True,
                             accept_msgpack=True)
                d = mp_envelope(self, r)
                self.assertEqual(etag_version(r), d["version"])
                got = mp_envelope(self, self.req("GET", kv_path("b%d" % i, ns=self.ns), accept_msgpack=True))
                self.assertEqual(got, v)
                self.assertEqual(type(got), type(v))

    def test_int_float_types_survive(self):
        ok(self.req("PUT", kv_path("f", ns=self.ns), {"value": [1.0, 2, -0.5]}, msgpack=True))
        got = mp_envelope(self, self.req("GET", kv_path("f", ns=self.ns), accept_msgpack=True))
        self.assertEqual([type(x) for x in got], [float, int, float])
        self.assertEqual(ok(self.req("GET", kv_path("f", ns=self.ns))), [1.0, 2, -0.5])

    def test_msgpack_meta_and_metadata(self):
        ok(self.req("PUT", kv_path("md", ns=self.ns),
                    {"value": {"v": 1}, "metadata": {"owner": "ü"}, "ttlMs": 600000}, msgpack=True))
        m = mp_envelope(self, self.req("GET", kv_path("md", ns=self.ns, meta=1), accept_msgpack=True))
        self.assertEqual(m["value"], {"v": 1})
        self.assertEqual(m["metadata"], {"owner": "ü"})
        self.assertIsInstance(m["expiresAt"], int)
        self.assertIsInstance(m["version"], int)

    def test_msgpack_batch_and_list(self):
        ents = [{"key": "k%d" % i, "value": {"i": i, "f": i + 0.5}} for i in range(5)]
        d = mp_envelope(self, self.req("POST", storage_path("batch/set", ns=self.ns), {"entries": ents},
                                       msgpack=True, accept_msgpack=True))
        self.assertEqual(d["count"], 5)
        got = mp_envelope(self, self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["k1", "k3", "x"]},
                                         msgpack=True, accept_msgpack=True))
        self.assertEqual(got, {"k1": {"i": 1, "f": 1.5}, "k3": {"i": 3, "f": 3.5}})
        lst = mp_envelope(self, self.req("GET", storage_path("list", ns=self.ns, values=1, limit=2),
                                         accept_msgpack=True))
        self.assertEqual([e["key"] for e in lst["keys"]], ["k0", "k1"])
        self.assertEqual(lst["keys"][1]["value"], {"i": 1, "f": 1.5})
        self.assertIs(lst["list_complete"], False)
        self.assertIsInstance(lst["cursor"], str)
        lst2 = mp_envelope(self, self.req("GET", storage_path("list", ns=self.ns, limit=10, cursor=lst["cursor"]),
                                          accept_msgpack=True))
        self.assertEqual(lst2["keys"], ["k2", "k3", "k4"])
        self.assertIsNone(lst2["cursor"])
        d = mp_envelope(self, self.req("POST", storage_path("batch/delete", ns=self.ns), {"keys": ["k0", "k1"]},
                                       msgpack=True, accept_msgpack=True))
        self.assertEqual(d, {"deleted": 2})
        d = mp_envelope(self, self.req("DELETE", kv_path("k2", ns=self.ns), accept_msgpack=True))
        self.assertEqual(d, {"deleted": True})

    def test_msgpack_error_envelope(self):
        r = self.req("GET", kv_path("nope", ns=self.ns), accept_msgpack=True)
        assert_error(r, 404, "NOT_FOUND")
        r = self.req("PUT", kv_path("x", ns=self.ns), b"\xc1", headers={"Content-Type": "application/msgpack"},
                     accept_msgpack=True)
        assert_error(r, 400, "BAD_REQUEST")

    def test_content_type_params(self):
        ok(self.req("PUT", kv_path("cp", ns=self.ns), mp_pack({"value": 5}),
                    headers={"Content-Type": "application/msgpack; charset=binary"}))
        self.assertEqual(self.server.get("cp", ns=self.ns), 5)

    def test_api_family_msgpack(self):
        ok(self.req("PUT", api_path(self.ns, "a/b"), {"value": [1, 2]}, msgpack=True))
        got = mp_envelope(self, self.req("GET", api_path(self.ns, "a/b"), accept_msgpack=True))
        self.assertEqual(got, [1, 2])
        lst = mp_envelope(self, self.req("GET", api_path(self.ns), accept_msgpack=True))
        self.assertEqual(lst["keys"], ["a/b"])

    def test_deep_nesting_roundtrip(self):
        # msgpack-c fails on nesting deeper than 32 unless the server copes (DEPS.md)
        for depth in (33, 40, 60):
            v = "leaf"
            for i in range(depth):
                v = [v] if i % 2 else {"d": v}
            for as_mp in (False, True):
                with self.subTest(depth=depth, msgpack=as_mp):
                    k = "deep%d%s" % (depth, "m" if as_mp else "j")
                    ok(self.req("PUT", kv_path(k, ns=self.ns), {"value": v}, msgpack=as_mp))
                    self.assertEqual(ok(self.req("GET", kv_path(k, ns=self.ns))), v)
                    self.assertEqual(mp_envelope(self, self.req("GET", kv_path(k, ns=self.ns), accept_msgpack=True)), v)
                    got = self.server.list_all(ns=self.ns, values=True, prefix=k)
                    self.assertEqual(got[0]["value"], v)

    def test_mixed_encodings_in_one_reply(self):
        # values stored as msgpack and as JSON, read together in either encoding
        ok(self.req("PUT", kv_path("m", ns=self.ns), {"value": {"from": "mp", "f": 0.5}}, msgpack=True))
        ok(self.req("PUT", kv_path("j", ns=self.ns), {"value": {"from": "json", "n": [1, 2]}}))
        want = {"m": {"from": "mp", "f": 0.5}, "j": {"from": "json", "n": [1, 2]}}
        self.assertEqual(ok(self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["m", "j"]})), want)
        self.assertEqual(mp_envelope(self, self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["m", "j"]},
                                                    accept_msgpack=True)), want)
        for accept in (False, True):
            r = self.req("GET", storage_path("list", ns=self.ns, values=1), accept_msgpack=accept)
            d = mp_envelope(self, r) if accept else ok(r)
            self.assertEqual({e["key"]: e["value"] for e in d["keys"]}, want)
        m = ok(self.req("GET", kv_path("m", ns=self.ns, meta=1)))
        self.assertEqual(m["value"], want["m"])

    def test_large_value_roundtrip(self):
        v = {"blob": "é" * 200000, "list": list(range(5000))}
        ok(self.req("PUT", kv_path("large", ns=self.ns), {"value": v}, msgpack=True))
        self.assertEqual(self.server.get("large", ns=self.ns), v)
        got = mp_envelope(self, self.req("GET", kv_path("large", ns=self.ns), accept_msgpack=True))
        self.assertEqual(got, v)


class Keys(ServerTestCase):

    KEYS = ["a/b", "/lead", "trail/", "a//b", "ключ", "🔑/ü", "sp ace", "q?x", "h#x", "p%25", "%",
            "amp&eq=", "semi;colon", "tab\tx", "nl\nx", "quote\"'", "back\\slash", "+plus",
            "dots/../x", ".", "..", "x" * 2048, "é" * 1024, "batch", "batch/x", "listing"]

    def test_roundtrip_encoded_keys(self):
        for k in self.KEYS:
            with self.subTest(key=k[:40]):
                ok(self.req("PUT", kv_path(k, ns=self.ns), {"value": k}))
                self.assertEqual(ok(self.req("GET", kv_path(k, ns=self.ns))), k)
                self.assertEqual(ok(self.req("GET", api_path(self.ns, k))), k)
        listed = self.server.list_all(ns=self.ns, values=True)
        self.assertEqual([e["key"] for e in listed], sorted(self.KEYS, key=lambda s: s.encode()))
        self.assertTrue(all(e["key"] == e["value"] for e in listed))
        got = ok(self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": self.KEYS}))
        self.assertEqual(got, {k: k for k in self.KEYS})

    def test_slash_raw_equals_encoded(self):
        ok(self.req("PUT", "/storage/dir/sub/file?ns=" + self.ns, {"value": "raw"}))
        self.assertEqual(ok(self.req("GET", "/storage/dir%2Fsub%2Ffile?ns=" + self.ns)), "raw")
        self.assertEqual(self.server.list_all(ns=self.ns), ["dir/sub/file"])
        ok(self.req("DELETE", "/storage/dir%2fsub%2ffile?ns=" + self.ns))   # lower-case hex
        self.assertEqual(self.server.list_all(ns=self.ns), [])

    def test_plus_stays_plus(self):
        ok(self.req("PUT", "/storage/a+b?ns=" + self.ns, {"value": 1}))
        self.assertEqual(self.server.list_all(ns=self.ns), ["a+b"])
        self.assertEqual(ok(self.req("GET", "/storage/a%2Bb?ns=" + self.ns)), 1)
        self.assertIs(self.server.get("a b", ns=self.ns), MISSING)

    def test_unencoded_safe_chars_equal_encoded(self):
        ok(self.req("PUT", "/storage/a:b@c!$&'()*,;=?ns=" + self.ns, {"value": 1}))
        self.assertEqual(self.server.list_all(ns=self.ns), ["a:b@c!$&'()*,;="])
        self.assertEqual(ok(self.req("GET", kv_path("a:b@c!$&'()*,;=", ns=self.ns))), 1)

    def test_utf8_key_percent_encoded(self):
        ok(self.req("PUT", "/storage/%D0%BA%D0%BB%D1%8E%D1%87?ns=" + self.ns, {"value": "ru"}))
        self.assertEqual(self.server.list_all(ns=self.ns), ["ключ"])
        self.assertEqual(ok(self.req("POST", storage_path("batch/get", ns=self.ns), {"keys": ["ключ"]})),
                         {"ключ": "ru"})

    def test_no_unicode_normalisation(self):
        nfc = unicodedata.normalize("NFC", "é")
        nfd = unicodedata.normalize("NFD", "é")
        self.assertNotEqual(nfc, nfd)
        self.server.put(nfc, "nfc", ns=self.ns)
        self.server.put(nfd, "nfd", ns=self.ns)
        self.assertEqual(self.server.get(nfc, ns=self.ns), "nfc")
        self.assertEqual(self.server.get(nfd, ns=self.ns), "nfd")
        self.assertEqual(len(self.server.list_all(ns=self.ns)), 2)

    def test_key_case_sensitive(self):
        self.server.put("Key", 1, ns=self.ns)
        self.server.put("key", 2, ns=self.ns)
        self.assertEqual(self.server.get("Key", ns=self.ns), 1)
        self.assertEqual(self.server.get("key", ns=self.ns), 2)

    def test_key_length_limit_in_bytes(self):
        ok(self.req("PUT", kv_path("é" * 1024, ns=self.ns), {"value": 1}))            # 2048 bytes
        assert_error(self.req("PUT", kv_path("é" * 1024 + "x", ns=self.ns), {"value": 1}), 400, "BAD_REQUEST")
        assert_error(self.req("PUT", kv_path("x" * 2049, ns=self.ns), {"value": 1}), 400, "BAD_REQUEST")
        self.assertEqual(self.server.list_all(ns=self.ns), ["é" * 1024])

    def test_query_decoding_of_namespace(self):
        # ns given percent-encoded in the query is decoded
        self.server.put("k", 1, ns=self.ns)
        enc = "".join("%%%02X" % b for b in self.ns.encode())
        self.assertEqual(ok(self.req("GET", "/storage/k?ns=" + enc)), 1)


class Isolation(ServerTestCase):

    def test_same_key_different_namespaces(self):
        a, b, c = self.ns + "-a", self.ns + "-b", self.ns + "-c"
        for ns in (a, b, c):
            self.server.put("shared", ns, ns=ns)
            self.server.put("only-" + ns, 1, ns=ns)
        for ns in (a, b, c):
            self.assertEqual(self.server.get("shared", ns=ns), ns)
            self.assertEqual(self.server.list_all(ns=ns), ["only-" + ns, "shared"])
            self.assertEqual(ok(self.req("GET", api_path(ns, "shared"))), ns)
        ok(self.req("DELETE", kv_path("shared", ns=a)))
        self.assertIs(self.server.get("shared", ns=a), MISSING)
        self.assertEqual(self.server.get("shared", ns=b), b)
        self.assertEqual(ok(self.req("POST", storage_path("clear", ns=b))), {"deleted": 2})
        self.assertEqual(self.server.list_all(ns=b), [])
        self.assertEqual(self.server.list_all(ns=c), ["only-" + c, "shared"])
        self.assertEqual(ok(self.req("POST", storage_path("batch/get", ns=c), {"keys": ["shared", "only-" + a]})),
                         {"shared": c})
        self.assertEqual(ok(self.req("POST", storage_path("batch/delete", ns=a), {"keys": ["shared", "only-" + c]})),
                         {"deleted": 0})
        self.assertEqual(self.server.get("only-" + c, ns=c), 1)

    def test_namespace_names_are_case_sensitive(self):
        lo, up = self.ns.lower() + "x", self.ns.lower() + "X"
        self.server.put("k", "lo", ns=lo)
        self.server.put("k", "up", ns=up)
        self.assertEqual(self.server.get("k", ns=lo), "lo")
        self.assertEqual(self.server.get("k", ns=up), "up")

    def test_header_namespace_isolated(self):
        ok(self.req("PUT", kv_path("h"), {"value": 1}, headers={"X-Namespace": self.ns}))
        self.assertIs(self.server.get("h", ns=self.ns + "-z"), MISSING)
        self.assertIs(self.server.get("h"), MISSING)

    def test_if_match_versions_are_per_namespace(self):
        a, b = self.ns + "-a", self.ns + "-b"
        va = self.server.put("k", 1, ns=a)["version"]
        for i in range(3):
            self.server.put("k", i, ns=b)
        vb = etag_version(self.req("GET", kv_path("k", ns=b)))
        # a's version is still current for a, whatever b did
        ok(self.req("PUT", kv_path("k", ns=a), {"value": 2}, headers={"If-Match": '"%d"' % va}))
        if vb != va:
            assert_error(self.req("PUT", kv_path("k", ns=b), {"value": 2}, headers={"If-Match": '"%d"' % va}),
                         412, "PRECONDITION_FAILED")


if __name__ == "__main__":
    main()
