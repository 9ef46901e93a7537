#!/usr/bin/python3
"""Every KV route and status code of both route families:
/storage/... (namespace from ?ns= or X-Namespace) and /api/storage/kv/{ns}/{key}."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (MISSING, ServerTestCase, api_path, assert_error, etag_version,  # noqa: E402
                      kv_path, main, ok, storage_path)


class GetPut(ServerTestCase):

    def test_put_then_get_roundtrip_types(self):
        values = [0, 1, -1, 9223372036854775807, -9223372036854775808, 1.5, -0.25,
                  True, False, None, "", "text", "ünïcødé ✓ 🔑", [], [1, "two", None],
                  {}, {"a": {"b": [1, {"c": None}]}, "z": 1.25}, "a\u0000b",
                  "\"quoted\" \\ \n\t\u2028", 1e300, -1e-300, 0.1]
        for i, v in enumerate(values):
            with self.subTest(value=v):
                d = self.server.put("k%d" % i, v, ns=self.ns)
                self.assertIsInstance(d["version"], int)
                r = self.req("GET", kv_path("k%d" % i, ns=self.ns))
                self.assertEqual(ok(r), v)
                self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))

    def test_nul_in_object_key_of_value_is_rejected(self):
        # A documented limit (docs/kv.md): object keys holding U+0000 cannot be
        # stored (jansson cannot represent them); NUL inside string values can.
        v = {"a\u0000b": 1, "ab": 2}
        assert_error(self.req("PUT", kv_path("nulkey", ns=self.ns), {"value": v}), 400,
                     "BAD_REQUEST")
        self.assertEqual(self.req("GET", kv_path("nulkey", ns=self.ns)).status, 404)
        ok(self.req("PUT", kv_path("nulval", ns=self.ns), {"value": {"ab": "a\u0000b"}}))
        self.assertEqual(self.server.get("nulval", ns=self.ns), {"ab": "a\u0000b"})

    def test_null_value_is_stored(self):
        ok(self.req("PUT", kv_path("n", ns=self.ns), {"value": None}))
        r = self.req("GET", kv_path("n", ns=self.ns))
        self.assertEqual(r.status, 200)
        self.assertIsNone(ok(r))

    def test_post_is_same_as_put(self):
        d = ok(self.req("POST", kv_path("p", ns=self.ns), {"value": {"x": 1}}))
        self.assertIsInstance(d["version"], int)
        self.assertEqual(self.server.get("p", ns=self.ns), {"x": 1})
        ok(self.req("POST", kv_path("p", ns=self.ns), {"value": 2}))
        self.assertEqual(self.server.get("p", ns=self.ns), 2)

    def test_overwrite(self):
        self.server.put("o", 1, ns=self.ns)
        self.server.put("o", "two", ns=self.ns)
        self.assertEqual(self.server.get("o", ns=self.ns), "two")

    def test_get_missing_is_404(self):
        assert_error(self.req("GET", kv_path("missing", ns=self.ns)), 404, "NOT_FOUND")
        assert_error(self.req("GET", kv_path("missing", ns=self.ns, meta=1)), 404, "NOT_FOUND")

    def test_unknown_fields_refused(self):
        # strict inputs (docs/protocol.md): a misspelt field is an error, not ignored
        r = self.req("PUT", kv_path("u", ns=self.ns), {"value": 5, "extra": [1, 2], "foo": None})
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn('unknown field "extra"', r.body["error"]["message"])
        assert_error(self.req("GET", kv_path("u", ns=self.ns)), 404, "NOT_FOUND")

    def test_put_returns_version_and_etag(self):
        r = self.req("PUT", kv_path("e", ns=self.ns), {"value": 1})
        d = ok(r)
        self.assertEqual(etag_version(r), d["version"])
        g = self.req("GET", kv_path("e", ns=self.ns))
        self.assertEqual(etag_version(g), d["version"])

    def test_versions_increase_strictly_across_keys(self):
        seen = []
        for i in range(12):
            seen.append(self.server.put("v%d" % (i % 3), i, ns=self.ns)["version"])
        for a, b in zip(seen, seen[1:]):
            self.assertLess(a, b, seen)
        # a GET's ETag is the version of the key's last write
        r = self.req("GET", kv_path("v2", ns=self.ns))
        self.assertEqual(etag_version(r), seen[-1])
        r = self.req("GET", kv_path("v0", ns=self.ns))
        self.assertEqual(etag_version(r), seen[-3])

    def test_meta(self):
        t0 = int(time.time() * 1000)
        d = self.server.put("m", {"a": 1}, ns=self.ns)
        t1 = int(time.time() * 1000)
        r = self.req("GET", kv_path("m", ns=self.ns, meta=1))
        m = ok(r)
        self.assertEqual(set(m), {"value", "metadata", "version", "createdAt", "updatedAt", "expiresAt"})
        self.assertEqual(m["value"], {"a": 1})
        self.assertIsNone(m["metadata"])
        self.assertIsNone(m["expiresAt"])
        self.assertEqual(m["version"], d["version"])
        self.assertEqual(etag_version(r), d["version"])
        for f in ("createdAt", "updatedAt"):
            self.assertIsInstance(m[f], int)
            self.assertTrue(t0 - 2000 <= m[f] <= t1 + 2000, (f, m[f], t0, t1))
        created = m["createdAt"]
        time.sleep(0.01)
        d2 = self.server.put("m", 2, ns=self.ns, metadata={"tag": "x", "n": [1, 2]}, ttlMs=600000)
        m2 = ok(self.req("GET", kv_path("m", ns=self.ns, meta=1)))
        self.assertEqual(m2["value"], 2)
        self.assertEqual(m2["metadata"], {"tag": "x", "n": [1, 2]})
        self.assertEqual(m2["version"], d2["version"])
        self.assertEqual(m2["createdAt"], created, "createdAt must survive an overwrite")
        self.assertGreaterEqual(m2["updatedAt"], m["updatedAt"])
        self.assertIsInstance(m2["expiresAt"], int)
        self.assertTrue(abs(m2["expiresAt"] - (m2["updatedAt"] + 600000)) <= 1000, m2)

    def test_metadata_null_and_empty_object(self):
        self.server.put("md", 1, ns=self.ns, metadata=None)
        self.assertIsNone(ok(self.req("GET", kv_path("md", ns=self.ns, meta=1)))["metadata"])
        self.server.put("md2", 1, ns=self.ns, metadata={})
        self.assertEqual(ok(self.req("GET", kv_path("md2", ns=self.ns, meta=1)))["metadata"], {})

    def test_metadata_limit(self):
        # 16384 bytes of encoded metadata is the limit ({"m":""} is 8 bytes)
        edge = {"m": "x" * (16384 - 8)}
        self.server.put("mde", 1, ns=self.ns, metadata=edge)
        assert_error(self.req("PUT", kv_path("mde1", ns=self.ns),
                              {"value": 1, "metadata": {"m": "x" * (16384 - 7)}}), 400, "BAD_REQUEST")
        big = {"m": "x" * 16000}
        self.server.put("mdl", 1, ns=self.ns, metadata=big)
        self.assertEqual(ok(self.req("GET", kv_path("mdl", ns=self.ns, meta=1)))["metadata"], big)
        assert_error(self.req("PUT", kv_path("mdl2", ns=self.ns),
                              {"value": 1, "metadata": {"m": "x" * 16400}}), 400, "BAD_REQUEST")
        self.assertIs(self.server.get("mdl2", ns=self.ns), MISSING)


class Delete(ServerTestCase):

    def test_delete(self):
        self.server.put("d", 1, ns=self.ns)
        self.assertEqual(ok(self.req("DELETE", kv_path("d", ns=self.ns))), {"deleted": True})
        assert_error(self.req("GET", kv_path("d", ns=self.ns)), 404, "NOT_FOUND")
        self.assertEqual(ok(self.req("DELETE", kv_path("d", ns=self.ns))), {"deleted": False})
        self.assertEqual(ok(self.req("DELETE", kv_path("never", ns=self.ns))), {"deleted": False})

    def test_delete_then_recreate(self):
        v1 = self.server.put("r", 1, ns=self.ns)["version"]
        ok(self.req("DELETE", kv_path("r", ns=self.ns)))
        v2 = self.server.put("r", 2, ns=self.ns)["version"]
        self.assertGreater(v2, v1)
        self.assertEqual(self.server.get("r", ns=self.ns), 2)

    def test_delete_leaves_other_keys(self):
        self.server.put("a", 1, ns=self.ns)
        self.server.put("b", 2, ns=self.ns)
        ok(self.req("DELETE", kv_path("a", ns=self.ns)))
        self.assertEqual(self.server.get("b", ns=self.ns), 2)

    def test_clear(self):
        for i in range(5):
            self.server.put("c%d" % i, i, ns=self.ns)
        other = self.ns + "-other"
        self.server.put("c0", "keep", ns=other)
        d = ok(self.req("POST", storage_path("clear", ns=self.ns)))
        self.assertEqual(d, {"deleted": 5})
        self.assertEqual(self.server.list_all(ns=self.ns), [])
        self.assertEqual(self.server.get("c0", ns=other), "keep")
        self.assertEqual(ok(self.req("POST", storage_path("clear", ns=self.ns))), {"deleted": 0})
        # the namespace works after a clear
        self.server.put("c9", 9, ns=self.ns)
        self.assertEqual(self.server.get("c9", ns=self.ns), 9)


class Conditional(ServerTestCase):

    def test_if_match(self):
        v = self.server.put("c", 1, ns=self.ns)["version"]
        r = self.req("PUT", kv_path("c", ns=self.ns), {"value": 2}, headers={"If-Match": '"%d"' % v})
        v2 = ok(r)["version"]
        self.assertGreater(v2, v)
        self.assertEqual(etag_version(r), v2)
        # stale version
        assert_error(self.req("PUT", kv_path("c", ns=self.ns), {"value": 3},
                              headers={"If-Match": '"%d"' % v}), 412, "PRECONDITION_FAILED")
        self.assertEqual(self.server.get("c", ns=self.ns), 2)
        # unquoted version accepted
        ok(self.req("PUT", kv_path("c", ns=self.ns), {"value": 4}, headers={"If-Match": str(v2)}))
        self.assertEqual(self.server.get("c", ns=self.ns), 4)

    def test_if_match_missing_key(self):
        assert_error(self.req("PUT", kv_path("nokey", ns=self.ns), {"value": 1},
                              headers={"If-Match": '"1"'}), 412, "PRECONDITION_FAILED")
        self.assertIs(self.server.get("nokey", ns=self.ns), MISSING)

    def test_if_match_post(self):
        v = self.server.put("cp", 1, ns=self.ns)["version"]
        assert_error(self.req("POST", kv_path("cp", ns=self.ns), {"value": 3},
                              headers={"If-Match": '"%d"' % (v + 1000)}), 412, "PRECONDITION_FAILED")
        ok(self.req("POST", kv_path("cp", ns=self.ns), {"value": 3}, headers={"If-Match": '"%d"' % v}))
        self.assertEqual(self.server.get("cp", ns=self.ns), 3)

    def test_if_match_on_delete(self):
        v = self.server.put("cd", 1, ns=self.ns)["version"]
        assert_error(self.req("DELETE", kv_path("cd", ns=self.ns), headers={"If-Match": '"%d"' % (v + 1000)}),
                     412, "PRECONDITION_FAILED")
        self.assertEqual(self.server.get("cd", ns=self.ns), 1)
        self.assertEqual(ok(self.req("DELETE", kv_path("cd", ns=self.ns), headers={"If-Match": '"%d"' % v})),
                         {"deleted": True})

    def test_if_match_malformed(self):
        self.server.put("cm", 1, ns=self.ns)
        for h in ("abc", '"1x"', '"-1"', "W/", '"'):
            with self.subTest(if_match=h):
                assert_error(self.req("PUT", kv_path("cm", ns=self.ns), {"value": 2},
                                      headers={"If-Match": h}), 400, "BAD_REQUEST")
        self.assertEqual(self.server.get("cm", ns=self.ns), 1)

    def test_if_none_match_star(self):
        r = self.req("PUT", kv_path("n", ns=self.ns), {"value": 1}, headers={"If-None-Match": "*"})
        ok(r)
        assert_error(self.req("PUT", kv_path("n", ns=self.ns), {"value": 2}, headers={"If-None-Match": "*"}),
                     412, "PRECONDITION_FAILED")
        self.assertEqual(self.server.get("n", ns=self.ns), 1)
        ok(self.req("DELETE", kv_path("n", ns=self.ns)))
        ok(self.req("PUT", kv_path("n", ns=self.ns), {"value": 3}, headers={"If-None-Match": "*"}))
        self.assertEqual(self.server.get("n", ns=self.ns), 3)


class Namespaces(ServerTestCase):

    def test_query_and_header_are_the_same_namespace(self):
        ok(self.req("PUT", kv_path("k"), {"value": "h"}, headers={"X-Namespace": self.ns}))
        self.assertEqual(self.server.get("k", ns=self.ns), "h")
        self.assertEqual(ok(self.req("GET", kv_path("k"), headers={"X-Namespace": self.ns})), "h")

    def test_query_wins_over_header(self):
        other = self.ns + "-hdr"
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": "q"}, headers={"X-Namespace": other}))
        self.assertEqual(self.server.get("k", ns=self.ns), "q")
        self.assertIs(self.server.get("k", ns=other), MISSING)

    def test_default_namespace(self):
        key = "default-probe-" + self.ns
        self.server.put(key, 7)
        self.assertEqual(self.server.get(key, ns="default"), 7)
        self.assertEqual(ok(self.req("GET", kv_path(key), headers={"X-Namespace": "default"})), 7)
        self.assertIs(self.server.get(key, ns=self.ns), MISSING)
        ok(self.req("DELETE", kv_path(key)))

    def test_valid_namespace_names(self):
        for ns in ("a", "A-b_c.d", "x" * 128, "0", "a..b", "n-" + self.ns):
            with self.subTest(ns=ns):
                self.server.put("k", ns, ns=ns)
                self.assertEqual(self.server.get("k", ns=ns), ns)
                ok(self.req("DELETE", kv_path("k", ns=ns)))


class ApiFamily(ServerTestCase):

    def test_put_get_delete(self):
        r = self.req("PUT", api_path(self.ns, "k1"), {"value": {"a": 1}, "metadata": {"m": 1}})
        d = ok(r)
        self.assertEqual(etag_version(r), d["version"])
        g = self.req("GET", api_path(self.ns, "k1"))
        self.assertEqual(ok(g), {"a": 1})
        self.assertEqual(etag_version(g), d["version"])
        m = ok(self.req("GET", api_path(self.ns, "k1", meta=1)))
        self.assertEqual(m["metadata"], {"m": 1})
        self.assertEqual(ok(self.req("DELETE", api_path(self.ns, "k1"))), {"deleted": True})
        assert_error(self.req("GET", api_path(self.ns, "k1")), 404, "NOT_FOUND")
        self.assertEqual(ok(self.req("DELETE", api_path(self.ns, "k1"))), {"deleted": False})

    def test_post(self):
        ok(self.req("POST", api_path(self.ns, "p"), {"value": 3}))
        self.assertEqual(ok(self.req("GET", api_path(self.ns, "p"))), 3)

    def test_families_share_data(self):
        self.server.put("s", "from-storage", ns=self.ns)
        self.assertEqual(ok(self.req("GET", api_path(self.ns, "s"))), "from-storage")
        ok(self.req("PUT", api_path(self.ns, "s"), {"value": "from-api"}))
        self.assertEqual(self.server.get("s", ns=self.ns), "from-api")
        ok(self.req("DELETE", api_path(self.ns, "s")))
        self.assertIs(self.server.get("s", ns=self.ns), MISSING)

    def test_conditional(self):
        v = ok(self.req("PUT", api_path(self.ns, "c"), {"value": 1}))["version"]
        assert_error(self.req("PUT", api_path(self.ns, "c"), {"value": 2},
                              headers={"If-Match": '"%d"' % (v + 5)}), 412, "PRECONDITION_FAILED")
        ok(self.req("PUT", api_path(self.ns, "c"), {"value": 2}, headers={"If-Match": '"%d"' % v}))
        assert_error(self.req("PUT", api_path(self.ns, "c"), {"value": 3}, headers={"If-None-Match": "*"}),
                     412, "PRECONDITION_FAILED")
        self.assertEqual(ok(self.req("GET", api_path(self.ns, "c"))), 2)

    def test_list(self):
        for k in ("b", "a", "c", "ab"):
            ok(self.req("PUT", api_path(self.ns, k), {"value": k}))
        d = ok(self.req("GET", api_path(self.ns)))
        self.assertEqual(d["keys"], ["a", "ab", "b", "c"])
        self.assertIs(d["list_complete"], True)
        self.assertIsNone(d["cursor"])
        d = ok(self.req("GET", api_path(self.ns, prefix="a")))
        self.assertEqual(d["keys"], ["a", "ab"])
        self.assertEqual(self.server.list_all(ns=self.ns, api=True, limit=1), ["a", "ab", "b", "c"])

    def test_missing_404(self):
        assert_error(self.req("GET", api_path(self.ns, "zzz")), 404, "NOT_FOUND")

    def test_bad_namespace(self):
        assert_error(self.req("GET", api_path("_internal", "k")), 400, "BAD_REQUEST")
        assert_error(self.req("PUT", api_path(".x", "k"), {"value": 1}), 400, "BAD_REQUEST")
        assert_error(self.req("GET", api_path("_internal")), 400, "BAD_REQUEST")


class ReservedPaths(ServerTestCase):

    def test_put_list_stores_key_list(self):
        ok(self.req("PUT", storage_path("list", ns=self.ns), {"value": "L"}))
        # GET /storage/list is the list route and shows the key "list"
        d = ok(self.req("GET", storage_path("list", ns=self.ns)))
        self.assertEqual(d["keys"], ["list"])
        self.assertEqual(ok(self.req("GET", api_path(self.ns, "list"))), "L")
        self.assertEqual(ok(self.req("DELETE", storage_path("list", ns=self.ns))), {"deleted": True})
        self.assertEqual(ok(self.req("GET", storage_path("list", ns=self.ns)))["keys"], [])

    def test_other_methods_on_batch_and_clear_are_keys(self):
        # GET /storage/batch/get is a key lookup of "batch/get"
        assert_error(self.req("GET", storage_path("batch/get", ns=self.ns)), 404, "NOT_FOUND")
        ok(self.req("PUT", storage_path("batch/get", ns=self.ns), {"value": "bg"}))
        self.assertEqual(ok(self.req("GET", storage_path("batch/get", ns=self.ns))), "bg")
        self.assertEqual(ok(self.req("GET", kv_path("batch/get", ns=self.ns))), "bg")
        ok(self.req("PUT", storage_path("clear", ns=self.ns), {"value": "cl"}))
        self.assertEqual(ok(self.req("GET", storage_path("clear", ns=self.ns))), "cl")
        self.assertEqual(sorted(self.server.list_all(ns=self.ns)), ["batch/get", "clear"])
        # POST /storage/clear is still the clear route
        self.assertEqual(ok(self.req("POST", storage_path("clear", ns=self.ns))), {"deleted": 2})

    def test_post_batch_routes_win(self):
        # POST /storage/batch/set is the batch route, not a write of key "batch/set"
        d = ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                        {"entries": [{"key": "x", "value": 1}]}))
        self.assertEqual(d["count"], 1)
        self.assertEqual(self.server.list_all(ns=self.ns), ["x"])


class StatusCodes(ServerTestCase):
    server_args = ["--max-value-bytes", "4096"]

    def test_404_unknown_routes(self):
        for p in ("/", "/nope", "/storagex/k", "/api/nope", "/api/storage/zzz/ns/k"):
            with self.subTest(path=p):
                assert_error(self.req("GET", p), 404, "NOT_FOUND")

    def test_405_wrong_method(self):
        cases = [("PATCH", kv_path("k", ns=self.ns)), ("POST", "/healthz"), ("DELETE", "/metrics"),
                 ("PUT", "/healthz"), ("PATCH", api_path(self.ns, "k")), ("PUT", api_path(self.ns)),
                 ("DELETE", api_path(self.ns))]
        for m, p in cases:
            with self.subTest(method=m, path=p):
                r = self.req(m, p, {"value": 1} if m in ("PUT", "PATCH", "POST") else None)
                assert_error(r, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(self.server.list_all(ns=self.ns), [])

    def test_400(self):
        assert_error(self.req("PUT", kv_path("k", ns=self.ns), b"{bad"), 400, "BAD_REQUEST")
        assert_error(self.req("PUT", kv_path("k", ns=self.ns), {"nov": 1}), 400, "BAD_REQUEST")
        assert_error(self.req("GET", kv_path("k", ns="_x")), 400, "BAD_REQUEST")
        assert_error(self.req("GET", "/storage/?ns=" + self.ns), 400, "BAD_REQUEST")

    def test_413_value(self):
        ok(self.req("PUT", kv_path("small", ns=self.ns), {"value": "x" * 3000}))
        assert_error(self.req("PUT", kv_path("big", ns=self.ns), {"value": "x" * 5000}), 413, "PAYLOAD_TOO_LARGE")
        assert_error(self.req("PUT", api_path(self.ns, "big"), {"value": "x" * 5000}), 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(self.server.list_all(ns=self.ns), ["small"])

    def test_413_value_boundary(self):
        # the limit is on the encoded value: JSON text for JSON bodies, msgpack for msgpack
        ok(self.req("PUT", kv_path("edge", ns=self.ns), {"value": "x" * 4094}))          # "xxx" = 4096 bytes
        assert_error(self.req("PUT", kv_path("edge1", ns=self.ns), {"value": "x" * 4095}), 413, "PAYLOAD_TOO_LARGE")
        ok(self.req("PUT", kv_path("edgem", ns=self.ns), {"value": "x" * 4093}, msgpack=True))   # da 0f fd + 4093
        assert_error(self.req("PUT", kv_path("edgem1", ns=self.ns), {"value": "x" * 4094}, msgpack=True),
                     413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(sorted(self.server.list_all(ns=self.ns)), ["edge", "edgem"])

    def test_415(self):
        assert_error(self.req("PUT", kv_path("k", ns=self.ns), b'{"value":1}',
                              headers={"Content-Type": "text/plain"}), 415, "UNSUPPORTED_MEDIA_TYPE")
        assert_error(self.req("PUT", api_path(self.ns, "k"), b'{"value":1}',
                              headers={"Content-Type": "text/html"}), 415, "UNSUPPORTED_MEDIA_TYPE")
        self.assertEqual(self.server.list_all(ns=self.ns), [])

    def test_content_type_variants_accepted(self):
        for i, ct in enumerate(("application/json", "application/json; charset=utf-8",
                                "application/json;charset=UTF-8", None)):
            with self.subTest(content_type=ct):
                ok(self.req("PUT", kv_path("ct%d" % i, ns=self.ns), b'{"value":%d}' % i,
                            headers={"Content-Type": ct}))
                self.assertEqual(self.server.get("ct%d" % i, ns=self.ns), i)


if __name__ == "__main__":
    main()
