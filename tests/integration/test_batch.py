#!/usr/bin/python3
"""Batch get/set/delete: results, limits, and atomicity (a batch with one
invalid entry changes nothing)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (MISSING, ServerTestCase, assert_error, etag_version, kv_path,  # noqa: E402
                      main, ok, storage_path)


class Batch(ServerTestCase):
    server_args = ["--max-value-bytes", "4096"]

    def bset(self, entries, ns=None):
        return self.req("POST", storage_path("batch/set", ns=ns or self.ns), {"entries": entries})

    def bget(self, keys, ns=None):
        return self.req("POST", storage_path("batch/get", ns=ns or self.ns), {"keys": keys})

    def bdel(self, keys, ns=None):
        return self.req("POST", storage_path("batch/delete", ns=ns or self.ns), {"keys": keys})

    def test_set_get_roundtrip(self):
        entries = [{"key": "a", "value": 1}, {"key": "b", "value": {"x": [1, 2]}},
                   {"key": "c", "value": None}, {"key": "d/é", "value": "s"}]
        d = ok(self.bset(entries))
        self.assertEqual(d["count"], 4)
        self.assertIsInstance(d["version"], int)
        got = ok(self.bget(["a", "b", "c", "d/é", "missing"]))
        self.assertEqual(got, {"a": 1, "b": {"x": [1, 2]}, "c": None, "d/é": "s"})
        self.assertEqual(self.server.get("b", ns=self.ns), {"x": [1, 2]})

    def test_batch_is_one_version(self):
        d = ok(self.bset([{"key": "v%d" % i, "value": i} for i in range(5)]))
        for i in range(5):
            r = self.req("GET", kv_path("v%d" % i, ns=self.ns))
            self.assertEqual(etag_version(r), d["version"])
        d2 = ok(self.bset([{"key": "v0", "value": 9}]))
        self.assertGreater(d2["version"], d["version"])
        single = self.server.put("after", 1, ns=self.ns)["version"]
        self.assertGreater(single, d2["version"])

    def test_set_metadata_and_ttl(self):
        ok(self.bset([{"key": "m", "value": 1, "metadata": {"k": "v"}, "ttlMs": 600000},
                      {"key": "n", "value": 2, "metadata": None, "ttlMs": None}]))
        m = ok(self.req("GET", kv_path("m", ns=self.ns, meta=1)))
        self.assertEqual(m["metadata"], {"k": "v"})
        self.assertIsInstance(m["expiresAt"], int)
        n = ok(self.req("GET", kv_path("n", ns=self.ns, meta=1)))
        self.assertIsNone(n["metadata"])
        self.assertIsNone(n["expiresAt"])

    def test_empty_batches(self):
        d = ok(self.bset([]))
        self.assertEqual(d["count"], 0)
        self.assertEqual(ok(self.bget([])), {})
        self.assertEqual(ok(self.bdel([])), {"deleted": 0})

    def test_delete(self):
        ok(self.bset([{"key": k, "value": k} for k in ("a", "b", "c", "d")]))
        self.assertEqual(ok(self.bdel(["a", "c", "zz"])), {"deleted": 2})
        self.assertEqual(self.server.list_all(ns=self.ns), ["b", "d"])
        self.assertEqual(ok(self.bdel(["a", "c"])), {"deleted": 0})

    def test_duplicate_keys_in_get(self):
        ok(self.bset([{"key": "a", "value": 1}]))
        self.assertEqual(ok(self.bget(["a", "a", "b"])), {"a": 1})

    def test_duplicate_keys_in_set_last_wins(self):
        ok(self.bset([{"key": "dup", "value": 1}, {"key": "other", "value": 0}, {"key": "dup", "value": 2}]))
        self.assertEqual(self.server.get("dup", ns=self.ns), 2)
        self.assertEqual(self.server.list_all(ns=self.ns), ["dup", "other"])

    def test_1000_is_allowed_1001_is_not(self):
        ents = [{"key": "k%04d" % i, "value": i} for i in range(1000)]
        self.assertEqual(ok(self.bset(ents))["count"], 1000)
        keys = ["k%04d" % i for i in range(1000)]
        got = ok(self.bget(keys))
        self.assertEqual(len(got), 1000)
        self.assertEqual(got["k0999"], 999)
        assert_error(self.bget(keys + ["k1000"]), 400, "BAD_REQUEST")
        assert_error(self.bset(ents + [{"key": "k1000", "value": 1}]), 400, "BAD_REQUEST")
        self.assertIs(self.server.get("k1000", ns=self.ns), MISSING)
        assert_error(self.bdel(keys + ["k1000"]), 400, "BAD_REQUEST")
        self.assertEqual(len(self.server.list_all(ns=self.ns)), 1000)
        self.assertEqual(ok(self.bdel(keys)), {"deleted": 1000})
        self.assertEqual(self.server.list_all(ns=self.ns), [])

    def test_set_atomicity_one_invalid_entry(self):
        base = [{"key": "p1", "value": "old1"}, {"key": "p2", "value": "old2"}]
        ok(self.bset(base))
        before = self.server.snapshot(ns=self.ns)
        version_before = etag_version(self.req("GET", kv_path("p1", ns=self.ns)))
        good = [{"key": "p1", "value": "new1"}, {"key": "new-a", "value": 1},
                {"key": "p2", "value": "new2"}, {"key": "new-b", "value": 2}]
        bad_entries = {
            "missing value": {"key": "x"},
            "missing key": {"value": 1},
            "empty key": {"key": "", "value": 1},
            "key too long": {"key": "k" * 2049, "value": 1},
            "key not a string": {"key": 5, "value": 1},
            "key with NUL": {"key": "a\u0000b", "value": 1},
            "negative ttl": {"key": "x", "value": 1, "ttlMs": -1},
            "zero ttl": {"key": "x", "value": 1, "ttlMs": 0},
            "float ttl": {"key": "x", "value": 1, "ttlMs": 1.5},
            "string ttl": {"key": "x", "value": 1, "ttlMs": "100"},
            "huge ttl": {"key": "x", "value": 1, "ttlMs": 315360000001},
            "metadata not object": {"key": "x", "value": 1, "metadata": [1]},
            "metadata string": {"key": "x", "value": 1, "metadata": "m"},
            "metadata too big": {"key": "x", "value": 1, "metadata": {"m": "y" * 16400}},
            "entry not object": 7,
            "entry null": None,
        }
        for pos in (0, 2, 4):
            for name, bad in bad_entries.items():
                with self.subTest(bad=name, pos=pos):
                    ents = list(good)
                    ents.insert(pos, bad)
                    assert_error(self.bset(ents), 400, "BAD_REQUEST")
        # value too large → 413, also all or nothing
        ents = list(good)
        ents.insert(2, {"key": "big", "value": "z" * 5000})
        assert_error(self.bset(ents), 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(self.server.snapshot(ns=self.ns), before)
        self.assertEqual(etag_version(self.req("GET", kv_path("p1", ns=self.ns))), version_before)
        # and the valid part alone is accepted
        ok(self.bset(good))
        self.assertEqual(ok(self.bget(["p1", "p2", "new-a", "new-b"])),
                         {"p1": "new1", "p2": "new2", "new-a": 1, "new-b": 2})

    def test_delete_atomicity_one_invalid_key(self):
        ok(self.bset([{"key": k, "value": k} for k in ("a", "b", "c")]))
        for bad in ("", "k" * 2049, 5, None, ["a"], {"k": 1}):
            with self.subTest(bad=bad):
                assert_error(self.bdel(["a", bad, "b"]), 400, "BAD_REQUEST")
        self.assertEqual(self.server.list_all(ns=self.ns), ["a", "b", "c"])

    def test_get_invalid_key(self):
        ok(self.bset([{"key": "a", "value": 1}]))
        for bad in ("", "k" * 2049, 5, None, "x\u0000y"):
            with self.subTest(bad=bad):
                assert_error(self.bget(["a", bad]), 400, "BAD_REQUEST")

    def test_shape_errors(self):
        for path, body in (("batch/get", {}), ("batch/get", {"keys": "a"}), ("batch/get", {"keys": {"a": 1}}),
                           ("batch/get", []), ("batch/set", {}), ("batch/set", {"entries": {"key": "a"}}),
                           ("batch/set", {"entries": "x"}), ("batch/delete", {"keys": None}),
                           ("batch/delete", "keys")):
            with self.subTest(path=path, body=body):
                assert_error(self.req("POST", storage_path(path, ns=self.ns), body), 400, "BAD_REQUEST")
        self.assertEqual(self.server.list_all(ns=self.ns), [])

    def test_namespace_header_and_isolation(self):
        other = self.ns + "-o"
        ok(self.req("POST", storage_path("batch/set"), {"entries": [{"key": "h", "value": 1}]},
                    headers={"X-Namespace": self.ns}))
        self.assertEqual(self.server.get("h", ns=self.ns), 1)
        self.assertEqual(ok(self.bget(["h"], ns=other)), {})
        self.assertEqual(ok(self.bdel(["h"], ns=other)), {"deleted": 0})
        self.assertEqual(self.server.get("h", ns=self.ns), 1)


if __name__ == "__main__":
    main()
