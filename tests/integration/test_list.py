#!/usr/bin/python3
"""GET /storage/list: byte order, paging with cursors (forward and reverse),
prefix/start/startAfter/end, limit edges, values=1, and the api family list."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (ServerTestCase, api_path, assert_error, main, ok,  # noqa: E402
                      storage_path, unique_ns)

# Byte order (memcmp of UTF-8) differs from case-insensitive and locale order.
KEYS = (["k%02d" % i for i in range(25)] +
        ["a", "B", "b/x", "b/y", "b", "~", "é", "\u00ff", "\U0001F600", "z", "Z0",
         "p%x", "p_y", "pAz", "p", "a b", "a+b", "k1", "k1\u00e9", " "])
ORDER = sorted(KEYS, key=lambda s: s.encode("utf-8"))


def sel(prefix="", start=None, startAfter=None, end=None, reverse=False):
    """What a list with these bounds must return, computed from ORDER."""
    out = [k for k in ORDER if k.encode().startswith(prefix.encode())
           and (start is None or k.encode() >= start.encode())
           and (startAfter is None or k.encode() > startAfter.encode())
           and (end is None or k.encode() < end.encode())]
    return out[::-1] if reverse else out


class List(ServerTestCase):
    ns_main = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ns_main = unique_ns("list")
        ents = [{"key": k, "value": {"k": k}} for k in KEYS]
        r = cls.server.req("POST", storage_path("batch/set", ns=cls.ns_main), {"entries": ents})
        ok(r)

    def page(self, ns=None, **query):
        return ok(self.req("GET", storage_path("list", ns=ns or self.ns_main, **query)))

    def check_shape(self, d):
        self.assertEqual(set(d), {"keys", "cursor", "list_complete"})
        self.assertIsInstance(d["list_complete"], bool)
        if d["list_complete"]:
            self.assertIsNone(d["cursor"])
        else:
            self.assertIsInstance(d["cursor"], str)

    def collect(self, limit, **query):
        out, pages, cursor = [], 0, None
        while True:
            qq = dict(query, limit=limit)
            if cursor is not None:
                qq["cursor"] = cursor
            d = self.page(**qq)
            self.check_shape(d)
            self.assertLessEqual(len(d["keys"]), limit)
            out.extend(d["keys"])
            pages += 1
            self.assertLess(pages, 1000)
            if d["list_complete"]:
                return out, pages
            cursor = d["cursor"]

    def test_full_list_in_byte_order(self):
        d = self.page()
        self.check_shape(d)
        self.assertEqual(d["keys"], ORDER)
        self.assertIs(d["list_complete"], True)

    def test_paging_every_limit(self):
        for limit in (1, 2, 3, 7, len(ORDER) - 1, len(ORDER), len(ORDER) + 1):
            with self.subTest(limit=limit):
                keys, pages = self.collect(limit)
                self.assertEqual(keys, ORDER)
                self.assertGreaterEqual(pages, -(-len(ORDER) // limit))
                self.assertLessEqual(pages, -(-len(ORDER) // limit) + 1)

    def test_reverse(self):
        for rv in ("1", "true"):
            with self.subTest(reverse=rv):
                self.assertEqual(self.page(reverse=rv)["keys"], ORDER[::-1])
                keys, _ = self.collect(4, reverse=rv)
                self.assertEqual(keys, ORDER[::-1])
        self.assertEqual(self.page(reverse="0")["keys"], ORDER)
        self.assertEqual(self.page(reverse="false")["keys"], ORDER)

    def test_prefix(self):
        exp = [k for k in ORDER if k.startswith("k1")]
        self.assertEqual(self.page(prefix="k1")["keys"], exp)
        self.assertEqual(self.page(prefix="k1", reverse=1)["keys"], exp[::-1])
        self.assertEqual(self.collect(2, prefix="k1")[0], exp)
        self.assertEqual(self.collect(3, prefix="k1", reverse=1)[0], exp[::-1])
        self.assertEqual(self.page(prefix="b/")["keys"], ["b/x", "b/y"])
        self.assertEqual(self.page(prefix="nothing")["keys"], [])
        self.assertEqual(self.page(prefix="")["keys"], ORDER)
        self.assertEqual(self.page(prefix="é")["keys"], ["é"])

    def test_prefix_is_not_like(self):
        # '%' and '_' are LIKE wildcards; a prefix must match them literally.
        self.assertEqual(self.page(prefix="p%")["keys"], ["p%x"])
        self.assertEqual(self.page(prefix="p_")["keys"], ["p_y"])
        self.assertEqual(self.page(prefix="P")["keys"], [])   # case sensitive
        self.assertEqual(self.page(prefix="a+")["keys"], ["a+b"])
        self.assertEqual(self.page(prefix="a ")["keys"], ["a b"])

    def test_start_startafter_end(self):
        for q in ({"start": "k05"}, {"startAfter": "k05"}, {"end": "k05"}, {"start": "k05", "end": "k10"},
                  {"startAfter": "k05", "end": "k10"}, {"start": "k055", "end": "k08"},
                  {"start": "a", "end": "b/y"}, {"startAfter": "a", "end": "b0"}, {"start": "\u00e9"}):
            for rv in (False, True):
                with self.subTest(q=q, reverse=rv):
                    extra = {"reverse": 1} if rv else {}
                    exp = sel(reverse=rv, **q)
                    self.assertEqual(self.page(**q, **extra)["keys"], exp)
                    self.assertEqual(self.collect(2, **q, **extra)[0], exp)
        # spelled out once, so sel() itself is checked
        self.assertEqual(self.page(start="k05", end="k10")["keys"], ["k05", "k06", "k07", "k08", "k09", "k1"])
        self.assertEqual(self.page(startAfter="k05", end="k08", reverse=1)["keys"], ["k07", "k06"])

    def test_empty_ranges(self):
        for q in ({"start": "k10", "end": "k10"}, {"start": "k10", "end": "k05"},
                  {"startAfter": "\U0001F600"}, {"end": " "}):
            with self.subTest(q=q):
                d = self.page(**q)
                self.assertEqual(d["keys"], [])
                self.assertIs(d["list_complete"], True)
                self.assertIsNone(d["cursor"])

    def test_prefix_intersects_range(self):
        for q in ({"start": "k15"}, {"end": "k12"}, {"start": "a", "end": "zz"}, {"start": "k2"},
                  {"startAfter": "k19"}, {"end": "k0"}, {"startAfter": "k1", "end": "k13"}):
            for rv in (False, True):
                with self.subTest(q=q, reverse=rv):
                    extra = {"reverse": 1} if rv else {}
                    exp = sel(prefix="k1", reverse=rv, **q)
                    self.assertEqual(self.page(prefix="k1", **q, **extra)["keys"], exp)
                    self.assertEqual(self.collect(3, prefix="k1", **q, **extra)[0], exp)
        self.assertEqual(self.page(prefix="k1", start="k15")["keys"], ["k15", "k16", "k17", "k18", "k19", "k1\u00e9"])
        self.assertEqual(self.page(prefix="k1", end="k12")["keys"], ["k1", "k10", "k11"])

    def test_values(self):
        d = self.page(values=1, prefix="b")
        self.check_shape(d)
        self.assertEqual([e["key"] for e in d["keys"]], ["b", "b/x", "b/y"])
        for e in d["keys"]:
            self.assertEqual(set(e), {"key", "value", "expiresAt"})
            self.assertEqual(e["value"], {"k": e["key"]})
            self.assertIsNone(e["expiresAt"])
        ents, _ = self.collect(3, values=1)
        self.assertEqual([e["key"] for e in ents], ORDER)
        self.assertTrue(all(e["value"] == {"k": e["key"]} for e in ents))
        ents, _ = self.collect(5, values="true", reverse=1)
        self.assertEqual([e["key"] for e in ents], ORDER[::-1])

    def test_limit_edges(self):
        self.assertEqual(len(self.page(limit=1)["keys"]), 1)
        self.assertEqual(self.page(limit=10000)["keys"], ORDER)
        for bad in ("0", "10001", "abc", "-1", "1.5", "1e3", " 5", "99999999999999999999"):
            with self.subTest(limit=bad):
                assert_error(self.req("GET", storage_path("list", ns=self.ns_main, limit=bad)), 400, "BAD_REQUEST")

    def test_start_with_startafter_is_400(self):
        assert_error(self.req("GET", storage_path("list", ns=self.ns_main, start="a", startAfter="b")),
                     400, "BAD_REQUEST")

    def test_bad_cursor(self):
        for c in ("!!!", "@@@", "not a cursor", "\u00e9\u00e9"):
            with self.subTest(cursor=c):
                assert_error(self.req("GET", storage_path("list", ns=self.ns_main, cursor=c)), 400, "BAD_REQUEST")
        assert_error(self.req("GET", "/storage/list?ns=%s&cursor=%%zz" % self.ns_main), 400, "BAD_REQUEST")

    def test_cursor_resumes_after_last_key(self):
        ns = self.ns
        ok(self.req("POST", storage_path("batch/set", ns=ns),
                    {"entries": [{"key": k, "value": 1} for k in ("a", "c", "e", "g")]}))
        d = self.page(ns=ns, limit=2)
        self.assertEqual(d["keys"], ["a", "c"])
        self.assertFalse(d["list_complete"])
        # writes between pages: a key after the cursor appears, one before does not
        self.server.put("b", 1, ns=ns)
        self.server.put("d", 1, ns=ns)
        ok(self.req("DELETE", storage_path("e", ns=ns)))
        rest = []
        cursor = d["cursor"]
        while True:
            d = self.page(ns=ns, limit=2, cursor=cursor)
            rest.extend(d["keys"])
            if d["list_complete"]:
                break
            cursor = d["cursor"]
        self.assertEqual(rest, ["d", "g"])

    def test_default_limit_is_1000(self):
        ns = self.ns
        for base in (0, 1000):
            n = 1000 if base == 0 else 5
            ok(self.req("POST", storage_path("batch/set", ns=ns),
                        {"entries": [{"key": "k%05d" % (base + i), "value": i} for i in range(n)]}))
        d = self.page(ns=ns)
        self.assertEqual(len(d["keys"]), 1000)
        self.assertFalse(d["list_complete"])
        d2 = self.page(ns=ns, cursor=d["cursor"])
        self.assertEqual(d2["keys"], ["k%05d" % i for i in range(1000, 1005)])
        self.assertTrue(d2["list_complete"])
        self.assertEqual(len(self.page(ns=ns, limit=10000)["keys"]), 1005)

    def test_empty_namespace(self):
        d = self.page(ns=self.ns)
        self.assertEqual(d, {"keys": [], "cursor": None, "list_complete": True})

    def test_namespace_header(self):
        d = ok(self.req("GET", storage_path("list", limit=3), headers={"X-Namespace": self.ns_main}))
        self.assertEqual(d["keys"], ORDER[:3])

    def test_api_family_list(self):
        d = ok(self.req("GET", api_path(self.ns_main)))
        self.assertEqual(d["keys"], ORDER)
        got, cursor = [], None
        for _ in range(100):
            q = {"limit": 4, "prefix": "k"}
            if cursor:
                q["cursor"] = cursor
            d = ok(self.req("GET", api_path(self.ns_main, **q)))
            got.extend(d["keys"])
            if d["list_complete"]:
                break
            cursor = d["cursor"]
        self.assertEqual(got, [k for k in ORDER if k.startswith("k")])
        assert_error(self.req("GET", api_path(self.ns_main, limit=0)), 400, "BAD_REQUEST")
        assert_error(self.req("GET", api_path(self.ns_main, cursor="!!!")), 400, "BAD_REQUEST")


if __name__ == "__main__":
    main()
