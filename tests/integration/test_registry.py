#!/usr/bin/python3
"""The StorageRegistry (/api/resources, binary ops resources.*): exact reply
shapes (list and stats without the envelope, errors with it; JSON and msgpack), filters
and offset/limit paging, parameter checks, automatic tracking of KV keys
through every write path (visible as soon as the write is acknowledged, gone
when deleted, cleared or expired, swept or not), resources registered by hand,
rebuilding _registry.db from the namespace files at start, access control,
and exact totals under concurrent writers."""
import calendar
import glob
import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (PONG, St, Rpc, Server, ServerTestCase, api_path, assert_error, bearer,  # noqa: E402
                      free_port, jwt, kv_path, main, mp_pack, ok, storage_path)
from durotest import query_string as qs  # noqa: E402

RPC_PORT = free_port()
RPC_PORT_AUTH = free_port()
ADMIN = "admin-" + "r" * 40
SECRET = "j" * 40

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LIST_KEYS = {"resources", "total", "offset", "limit", "has_more"}
RESOURCE_KEYS = {"type", "namespace", "key", "created_at", "updated_at", "size", "metadata"}
STATS_KEYS = {"total", "by_type", "by_namespace", "total_size"}
KNOWN_TYPES = {"kv", "d1", "r2", "do"}
SKEW = 10  # seconds a timestamp may be off "now" (a slow, loaded machine)


# --------------------------------------------------------------------------
# helpers

def jsize(v):
    """Bytes of the compact JSON text of v (what a JSON write stores)."""
    return len(json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def iso_epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def list_path(**params):
    return "/api/resources/list" + qs(params)


def stats_path(**params):
    return "/api/resources/stats" + qs(params)


def stats_body(r):
    """The body of a 200 stats reply: the bare document, never the success
    envelope (as the storage proxy documents /api/resources/stats)."""
    if r.status != 200 or not isinstance(r.body, dict) or "success" in r.body:
        raise AssertionError("expected a bare 200 stats document, got %r" % (r,))
    return r.body


def wait_next_second(margin=0.05):
    """Sleeps until just past the next whole second (timestamps have whole
    seconds, so a write after this has a later updated_at)."""
    t = time.time()
    time.sleep(int(t) + 1 - t + margin)


def ident(r):
    return (r["namespace"], r["type"], r["key"])



class RegistryAsserts:
    """Shape checks and registry readers, mixed into the test classes
    (self.server is the server under test)."""

    def check_resource(self, r, now=None):
        self.assertIsInstance(r, dict, r)
        self.assertEqual(set(r), RESOURCE_KEYS, r)
        for k in ("type", "namespace", "key", "created_at", "updated_at"):
            self.assertIsInstance(r[k], str, r)
        self.assertRegex(r["created_at"], ISO_RE)
        self.assertRegex(r["updated_at"], ISO_RE)
        self.assertIsInstance(r["size"], int, r)
        self.assertNotIsInstance(r["size"], bool, r)
        self.assertGreaterEqual(r["size"], 0, r)
        self.assertTrue(r["metadata"] is None or isinstance(r["metadata"], dict), r)
        self.assertLessEqual(iso_epoch(r["created_at"]), iso_epoch(r["updated_at"]), r)
        if now is not None:
            for k in ("created_at", "updated_at"):
                self.assertLessEqual(abs(iso_epoch(r[k]) - now), SKEW,
                                     "%s %s is not near now (%s)" % (k, r[k], now))

    def check_list_body(self, body, now=None):
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), LIST_KEYS, "list reply must have exactly these keys "
                         "(no success envelope): %r" % (body,))
        self.assertIsInstance(body["resources"], list)
        for k in ("total", "offset", "limit"):
            self.assertIsInstance(body[k], int, body)
            self.assertNotIsInstance(body[k], bool, body)
        self.assertIsInstance(body["has_more"], bool, body)
        for r in body["resources"]:
            self.check_resource(r, now)
        self.assertLessEqual(len(body["resources"]), body["limit"])
        self.assertEqual(body["has_more"], body["offset"] + len(body["resources"]) < body["total"],
                         body)

    def check_stats(self, d):
        self.assertIsInstance(d, dict, d)
        self.assertEqual(set(d), STATS_KEYS, d)
        self.assertTrue(KNOWN_TYPES <= set(d["by_type"]), d)
        for m in (d["by_type"], d["by_namespace"]):
            for v in m.values():
                self.assertIsInstance(v, int, d)
                self.assertGreaterEqual(v, 0, d)
        self.assertEqual(sum(d["by_type"].values()), d["total"], d)
        self.assertEqual(sum(d["by_namespace"].values()), d["total"], d)
        # only namespaces with at least one live resource (docs/registry.md)
        self.assertTrue(all(v > 0 for v in d["by_namespace"].values()), d)
        self.assertIsInstance(d["total_size"], int, d)

    def rlist(self, srv=None, headers=None, **params):
        """One GET /api/resources/list page, shape-checked: the body."""
        srv = srv or self.server
        r = srv.req("GET", list_path(**params), headers=headers)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-type", "").split(";")[0], "application/json", r)
        self.check_list_body(r.body)
        return r.body

    def rstats(self, srv=None, headers=None, **params):
        """GET /api/resources/stats, shape-checked: the body (no envelope)."""
        srv = srv or self.server
        d = stats_body(srv.req("GET", stats_path(**params), headers=headers))
        self.check_stats(d)
        return d

    def list_all(self, srv=None, page=7, headers=None, **filters):
        """Every resource matching filters, paged with offset/limit; checks
        every page (total stable, offset/limit echoed, has_more)."""
        out = []
        offset = 0
        total = None
        for _ in range(100000):
            b = self.rlist(srv, headers=headers, limit=page, offset=offset, **filters)
            if total is None:
                total = b["total"]
            self.assertEqual(b["total"], total, "total changed between pages")
            self.assertEqual((b["offset"], b["limit"]), (offset, page))
            self.assertEqual(len(b["resources"]), max(0, min(page, total - offset)), b)
            out.extend(b["resources"])
            offset += len(b["resources"])
            if not b["has_more"]:
                break
        self.assertEqual(len(out), total)
        return out

    def ns_map(self, ns, srv=None):
        """{(type, key): resource} of one namespace."""
        b = self.rlist(srv, namespace=ns, limit=1000)
        self.assertEqual(b["total"], len(b["resources"]))
        for r in b["resources"]:
            self.assertEqual(r["namespace"], ns)
        return {(r["type"], r["key"]): r for r in b["resources"]}


# --------------------------------------------------------------------------
# shapes, paging and ordering on a fresh server (global, unfiltered answers)

class FreshServer(RegistryAsserts, unittest.TestCase):

    def setUp(self):
        self.rpc_port = free_port()
        self.server = Server(extra_args=["--rpc-port", str(self.rpc_port)])

    def tearDown(self):
        try:
            self.assertTrue(self.server.alive(), "durod died\n" + self.server.log_tail())
            self.server.stop_ok()
        finally:
            self.server.close()

    def req(self, *a, **kw):
        return self.server.req(*a, **kw)

    def test_empty_registry(self):
        b = self.rlist()
        self.assertEqual(b, {"resources": [], "total": 0, "offset": 0, "limit": 100,
                             "has_more": False})
        d = self.rstats()
        self.assertEqual(d, {"total": 0, "by_type": {"kv": 0, "d1": 0, "r2": 0, "do": 0},
                             "by_namespace": {}, "total_size": 0})

    def test_list_shape_exact(self):
        t0 = time.time()
        ok(self.req("PUT", kv_path("obj", ns="app1"), {"value": {"a": 1}, "metadata": {"owner": "me"}}))
        ok(self.req("PUT", kv_path("str", ns="app1"), {"value": "hello"}))
        values = {"n": 12345, "nul": None, "arr": [1, 2, [3]], "t": True, "u": "é ü 中",
                  "nested": {"b": 2.5, "a": [1, {"x": "y"}]}, "empty": {}}
        for k, v in values.items():
            ok(self.req("PUT", kv_path(k, ns="app2"), {"value": v}))
        reg = ok(self.req("POST", "/api/resources/register",
                          {"type": "do", "namespace": "app1", "key": "room:1", "size": 4096,
                           "metadata": {"class": "Room", "n": [1, 2]}}), 201)
        now = time.time()
        r = self.req("GET", "/api/resources/list")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-type", "").split(";")[0], "application/json")
        body = json.loads(r.raw.decode("utf-8"))
        self.assertNotIn("success", body)
        self.assertNotIn("data", body)
        self.check_list_body(body, now=now)
        self.assertEqual((body["total"], body["offset"], body["limit"], body["has_more"]),
                         (3 + len(values), 0, 100, False))
        got = {(x["namespace"], x["type"], x["key"]): x for x in body["resources"]}
        self.assertEqual(got[("app1", "kv", "obj")]["size"], 7)  # {"a":1}
        self.assertEqual(got[("app1", "kv", "obj")]["metadata"], {"owner": "me"})
        self.assertEqual(got[("app1", "kv", "str")]["size"], 7)  # "hello"
        self.assertIsNone(got[("app1", "kv", "str")]["metadata"])
        for k, v in values.items():
            with self.subTest(value=v):
                res = got[("app2", "kv", k)]
                self.assertEqual(res["size"], jsize(v))
                self.assertIsNone(res["metadata"])
        self.assertEqual(got[("app1", "do", "room:1")], reg)
        self.assertEqual(reg["size"], 4096)
        self.assertEqual(reg["metadata"], {"class": "Room", "n": [1, 2]})
        for x in body["resources"]:
            self.assertGreaterEqual(iso_epoch(x["created_at"]), int(t0) - 1)
            self.assertEqual(x["created_at"], x["updated_at"])  # never updated
        # ordered by (namespace, type, key)
        self.assertEqual([ident(x) for x in body["resources"]],
                         sorted(ident(x) for x in body["resources"]))

    def test_stats_shape_and_values(self):
        ok(self.req("PUT", kv_path("a", ns="s1"), {"value": {"a": 1}}))
        ok(self.req("PUT", kv_path("b", ns="s1"), {"value": "hello"}))
        ok(self.req("PUT", kv_path("c", ns="s2"), {"value": 1}))
        for t, ns, key, size in (("do", "s1", "o", 100), ("d1", "s2", "db", 2000),
                                 ("r2", "s3", "bucket/x", 30), ("queue", "s3", "q", 5)):
            ok(self.req("POST", "/api/resources/register",
                        {"type": t, "namespace": ns, "key": key, "size": size}), 201)
        r = self.req("GET", "/api/resources/stats")
        self.assertEqual(r.headers.get("content-type", "").split(";")[0], "application/json", r)
        d = stats_body(r)
        self.check_stats(d)
        self.assertEqual(json.loads(r.raw), d)
        self.assertEqual(d, {"total": 7,
                             "by_type": {"kv": 3, "d1": 1, "r2": 1, "do": 1, "queue": 1},
                             "by_namespace": {"s1": 3, "s2": 2, "s3": 2},
                             "total_size": 7 + 7 + 1 + 100 + 2000 + 30 + 5})
        # a type with no resources is still reported, with 0
        ok(self.req("DELETE", "/api/resources/unregister",
                    {"type": "d1", "namespace": "s2", "key": "db"}))
        d = self.rstats()
        self.assertEqual(d["by_type"]["d1"], 0)
        self.assertEqual((d["total"], d["by_namespace"]["s2"], d["total_size"]),
                         (6, 1, 7 + 7 + 1 + 100 + 30 + 5))

    def test_msgpack_variants(self):
        ok(self.req("PUT", kv_path("k", ns="mp"), {"value": [1, "two"], "metadata": {"m": [True, None]}}))
        ok(self.req("POST", "/api/resources/register",
                    {"type": "do", "namespace": "mp", "key": "o", "size": 3, "metadata": {"z": 1.5}}), 201)
        for path in (list_path(), list_path(namespace="mp", limit=1), list_path(type="do"),
                     stats_path()):
            with self.subTest(path=path):
                j = self.req("GET", path)
                m = self.req("GET", path, accept_msgpack=True)
                self.assertEqual((j.status, m.status), (200, 200))
                self.assertEqual(m.headers.get("content-type", "").split(";")[0],
                                 "application/msgpack", m)
                self.assertIsInstance(m.body, dict, m)
                self.assertEqual(m.body, j.body)
        m = self.req("GET", list_path(), accept_msgpack=True)
        self.check_list_body(m.body)
        self.check_stats(stats_body(self.req("GET", stats_path(), accept_msgpack=True)))
        assert_error(self.req("GET", list_path(limit="abc"), accept_msgpack=True), 400, "BAD_REQUEST")
        # a registration sent as msgpack
        reg = ok(self.req("POST", "/api/resources/register",
                          {"type": "r2", "namespace": "mp", "key": "blob", "size": 9,
                           "metadata": {"k": "v"}}, msgpack=True, accept_msgpack=True), 201)
        self.check_resource(reg)
        self.assertEqual(self.ns_map("mp")[("r2", "blob")], reg)

    def test_paging_in_namespace_type_key_order(self):
        expected = []
        # byte order of keys: "B" < "a" < "z" < "é" < "中" < U+10FFFF
        keys = ["a", "B", "z", "é", "中", "a/b", "a b", "a%c", "a_b", "\U0010ffff", "k" * 300]
        for ns in ("n-b", "n-a", "n-c", "n-a.x", "N-z"):
            ents = [{"key": k, "value": i} for i, k in enumerate(keys)]
            ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": ents}))
            expected += [(ns, "kv", k) for k in keys]
            for t in ("do", "r2", "a-type", "Z"):
                for k in ("x", "A"):
                    ok(self.req("POST", "/api/resources/register",
                                {"type": t, "namespace": ns, "key": k}), 201)
                    expected.append((ns, t, k))
        # python str order is code-point order = UTF-8 byte order
        expected.sort()
        for page in (1, 3, 7, 100, 1000):
            with self.subTest(page=page):
                got = [ident(r) for r in self.list_all(page=page)]
                self.assertEqual(len(got), len(set(got)), "a resource came twice")
                self.assertEqual(got, expected)
        # filtered paging keeps the same order
        got = [ident(r) for r in self.list_all(page=4, type="kv")]
        self.assertEqual(got, [e for e in expected if e[1] == "kv"])
        got = [ident(r) for r in self.list_all(page=5, namespace="n-a")]
        self.assertEqual(got, [e for e in expected if e[0] == "n-a"])
        got = [ident(r) for r in self.list_all(page=2, key_prefix="a")]
        self.assertEqual(got, [e for e in expected if e[2].startswith("a")])

    def test_default_limit_offsets_and_bounds(self):
        ents = [{"key": "k%03d" % i, "value": i} for i in range(150)]
        ok(self.req("POST", storage_path("batch/set", ns="pg"), {"entries": ents}))
        keys = ["k%03d" % i for i in range(150)]
        b = self.rlist()
        self.assertEqual((len(b["resources"]), b["total"], b["offset"], b["limit"], b["has_more"]),
                         (100, 150, 0, 100, True))
        self.assertEqual([r["key"] for r in b["resources"]], keys[:100])
        b = self.rlist(offset=100)
        self.assertEqual((len(b["resources"]), b["total"], b["offset"], b["limit"], b["has_more"]),
                         (50, 150, 100, 100, False))
        self.assertEqual([r["key"] for r in b["resources"]], keys[100:])
        b = self.rlist(offset=50)  # ends exactly at the last one
        self.assertEqual((len(b["resources"]), b["has_more"]), (100, False))
        b = self.rlist(limit=1000)
        self.assertEqual((len(b["resources"]), b["limit"], b["has_more"]), (150, 1000, False))
        b = self.rlist(limit=0)
        self.assertEqual(b, {"resources": [], "total": 150, "offset": 0, "limit": 0, "has_more": True})
        b = self.rlist(limit=0, offset=150)
        self.assertEqual(b, {"resources": [], "total": 150, "offset": 150, "limit": 0, "has_more": False})
        b = self.rlist(limit=0, key_prefix="nothing")
        self.assertEqual(b, {"resources": [], "total": 0, "offset": 0, "limit": 0, "has_more": False})
        for off in (150, 151, 5000, 1000000000):
            b = self.rlist(offset=off)
            self.assertEqual(b, {"resources": [], "total": 150, "offset": off, "limit": 100,
                                 "has_more": False})
        b = self.rlist(key_prefix="zz")
        self.assertEqual((b["resources"], b["total"], b["has_more"]), ([], 0, False))
        b = self.rlist(key_prefix="k14", limit=3, offset=2)
        self.assertEqual([r["key"] for r in b["resources"]], ["k142", "k143", "k144"])
        self.assertEqual((b["total"], b["has_more"]), (10, True))
        assert_error(self.req("GET", list_path(limit=1001)), 400, "BAD_REQUEST")
        assert_error(self.req("GET", list_path(offset=1000000001)), 400, "BAD_REQUEST")

    def test_concurrent_writers_exact_totals(self):
        namespaces = ["cw-%d" % i for i in range(5)]
        threads_n, ops = 8, 40
        results = [None] * threads_n
        errors = []

        def writer(tid):
            live = set()  # (ns, type, key) this thread left alive
            try:
                for j in range(ops):
                    ns = namespaces[(tid + j) % len(namespaces)]
                    k = "t%d-%03d" % (tid, j)
                    if j % 10 == 9:
                        ents = [{"key": k + "-b%d" % i, "value": {"i": i}} for i in range(3)]
                        ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": ents}))
                        live.update((ns, "kv", e["key"]) for e in ents)
                    elif j % 7 == 6:
                        ok(self.req("POST", "/api/resources/register",
                                    {"type": "do", "namespace": ns, "key": k, "size": j}), 201)
                        live.add((ns, "do", k))
                    else:
                        ok(self.req("PUT", kv_path(k, ns=ns), {"value": j}))
                        live.add((ns, "kv", k))
                    if j % 5 == 4:  # delete one of ours
                        victim = sorted(live)[(tid * 7 + j) % len(live)]
                        if victim[1] == "kv":
                            d = ok(self.req("DELETE", kv_path(victim[2], ns=victim[0])))
                        else:
                            d = ok(self.req("DELETE", "/api/resources/unregister",
                                            {"type": victim[1], "namespace": victim[0],
                                             "key": victim[2]}))
                        self.assertEqual(d, {"deleted": True})
                        live.discard(victim)
                results[tid] = live
            except BaseException as e:  # noqa: B902
                errors.append("thread %d: %r" % (tid, e))

        def rpc_writer():
            # pipelined binary-protocol writes alongside
            try:
                c = Rpc(self.rpc_port)
                n = 120
                for i in range(n):
                    c.send([i, "kv.put", namespaces[i % len(namespaces)],
                            {"key": "rpc-%03d" % i, "value": i}])
                for _ in range(n):
                    r = c.recv()
                    if r[1] != St.OK:
                        errors.append("rpc put: %r" % (r,))
                c.close()
            except BaseException as e:  # noqa: B902
                errors.append("rpc: %r" % (e,))

        ts = [threading.Thread(target=writer, args=(i,)) for i in range(threads_n)]
        ts.append(threading.Thread(target=rpc_writer))
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
            self.assertFalse(t.is_alive(), "writer hung")
        self.assertEqual(errors, [])
        expected = set()
        for live in results:
            expected |= live
        expected |= {(namespaces[i % len(namespaces)], "kv", "rpc-%03d" % i) for i in range(120)}
        got = [ident(r) for r in self.list_all(page=1000)]
        self.assertEqual(len(got), len(expected))
        self.assertEqual(set(got), expected)
        d = self.rstats()
        self.assertEqual(d["total"], len(expected))
        self.assertEqual(d["by_namespace"],
                         {ns: sum(1 for e in expected if e[0] == ns) for ns in namespaces})
        self.assertEqual(d["by_type"]["kv"], sum(1 for e in expected if e[1] == "kv"))
        self.assertEqual(d["by_type"]["do"], sum(1 for e in expected if e[1] == "do"))
        for ns in namespaces:
            b = self.rlist(namespace=ns, limit=0)
            self.assertEqual(b["total"], sum(1 for e in expected if e[0] == ns))
            # the registry agrees with the KV store itself
            kv_keys = self.server.list_all(ns=ns)
            self.assertEqual(sorted(kv_keys), sorted(e[2] for e in expected
                                                     if e[0] == ns and e[1] == "kv"))


# --------------------------------------------------------------------------
# filters, parameters, tracking, registration, binary ops on one shared server

class Registry(RegistryAsserts, ServerTestCase):
    server_args = ["--ttl-sweep-ms", "50", "--rpc-port", str(RPC_PORT)]

    def register(self, type_, key, ns=None, status=201, **extra):
        body = {"type": type_, "namespace": ns or self.ns, "key": key}
        body.update(extra)
        return ok(self.req("POST", "/api/resources/register", body), status)

    def ns_stats(self, ns=None):
        d = self.rstats()
        return d["by_namespace"].get(ns or self.ns, 0)

    # -- filters and parameters ------------------------------------------

    def test_filters(self):
        a, b = self.ns + "-a", self.ns + "-b"
        p = self.ns + ":"  # a key prefix no other test uses
        for ns in (a, b):
            for k in ("user:1", "user:2", "post:1"):
                ok(self.req("PUT", kv_path(p + k, ns=ns), {"value": k}))
        self.register("do", p + "user:obj", ns=a)
        self.register("r2", p + "user:blob", ns=a)
        self.register("do", p + "post:obj", ns=b)

        def keys(**f):
            return sorted((r["namespace"], r["type"], r["key"][len(p):])
                          for r in self.list_all(page=2, **f))

        self.assertEqual(keys(namespace=a), [(a, "do", "user:obj"), (a, "kv", "post:1"),
                                             (a, "kv", "user:1"), (a, "kv", "user:2"),
                                             (a, "r2", "user:blob")])
        self.assertEqual(keys(namespace=a, type="kv"),
                         [(a, "kv", "post:1"), (a, "kv", "user:1"), (a, "kv", "user:2")])
        self.assertEqual(keys(type="do", key_prefix=p),
                         [(a, "do", "user:obj"), (b, "do", "post:obj")])
        self.assertEqual(keys(key_prefix=p + "user:"),
                         [(a, "do", "user:obj"), (a, "kv", "user:1"), (a, "kv", "user:2"),
                          (a, "r2", "user:blob"), (b, "kv", "user:1"), (b, "kv", "user:2")])
        self.assertEqual(keys(namespace=b, key_prefix=p + "user:"),
                         [(b, "kv", "user:1"), (b, "kv", "user:2")])
        self.assertEqual(keys(namespace=a, type="r2", key_prefix=p + "user:"),
                         [(a, "r2", "user:blob")])
        self.assertEqual(keys(namespace=a, type="kv", key_prefix=p + "user:1"),
                         [(a, "kv", "user:1")])
        self.assertEqual(keys(namespace=a, type="d1"), [])
        self.assertEqual(keys(namespace=a, key_prefix=p + "nope"), [])
        self.assertEqual(keys(namespace=self.ns + "-none"), [])
        self.assertEqual(keys(namespace=a, type="no-such-type"), [])
        # an empty prefix filters nothing; an unknown parameter is a 400 naming it
        self.assertEqual(self.rlist(namespace=a, key_prefix="")["total"], 5)
        r = self.server.req("GET", list_path(namespace=a, foo="bar"))
        assert_error(r, 400, "BAD_REQUEST")
        self.assertIn('"foo"', r.body["error"]["message"])

    def test_prefix_is_a_byte_prefix(self):
        # no LIKE wildcards, no case folding, multi-byte and max code points
        keys = ["a_b", "axb", "a%c", "abc", "A_b", "é1", "é2", "e1", "z\U0010ffffa", "z\U0010fffe",
                "pre", "pre\u0001", "prf"]
        ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                    {"entries": [{"key": k, "value": 0} for k in keys]}))
        cases = {"a_": ["a_b"], "a%": ["a%c"], "A": ["A_b"], "é": ["é1", "é2"],
                 "z\U0010ffff": ["z\U0010ffffa"], "pre": ["pre", "pre\u0001"], "a": ["a%c", "a_b", "abc", "axb"],
                 "prf": ["prf"], "pr": ["pre", "pre\u0001", "prf"]}
        for prefix, want in cases.items():
            with self.subTest(prefix=prefix):
                b = self.rlist(namespace=self.ns, key_prefix=prefix)
                self.assertEqual([r["key"] for r in b["resources"]], want)
                self.assertEqual(b["total"], len(want))

    def test_bad_parameters(self):
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": 1}))
        bad = [("limit", "abc"), ("limit", "-1"), ("limit", "1001"), ("limit", "1.5"),
               ("limit", "1e3"), ("limit", "0x10"), ("offset", "-1"), ("offset", "x"),
               ("offset", "1000000001"), ("offset", "2.0"),
               ("type", "a b"), ("type", "k/v"), ("type", "kv\u00e9"), ("type", "t" * 65),
               ("namespace", "_x"), ("namespace", "a/b"), ("namespace", ".x"),
               ("namespace", "n" * 300), ("consistent", "maybe"), ("consistent", "2"),
               ("key_prefix", "k" * 2049)]
        for name, value in bad:
            for path in (list_path, stats_path):
                with self.subTest(route=path.__name__, param=name, value=value[:20]):
                    assert_error(self.req("GET", path(**{name: value})), 400, "BAD_REQUEST")
        for v in ("1", "true", "0", "false"):
            with self.subTest(consistent=v):
                self.assertEqual(self.rlist(namespace=self.ns, consistent=v)["total"], 1)
                self.rstats(consistent=v)
        self.assertEqual(self.rlist(namespace=self.ns, type="t" * 64)["total"], 0)
        self.assertEqual(self.rlist(namespace=self.ns, type="A-z_0.9")["total"], 0)
        self.assertEqual(self.rlist(namespace=self.ns, key_prefix="k" * 2048)["total"], 0)
        self.assertEqual(self.rlist(namespace=self.ns, limit=1000, offset=0)["limit"], 1000)
        self.assertEqual([r["key"] for r in self.rlist(namespace=self.ns)["resources"]], ["k"])

    def test_wrong_methods_and_unknown_routes(self):
        for method, sub in (("POST", "list"), ("DELETE", "list"), ("PUT", "stats"),
                            ("POST", "stats"), ("GET", "register"), ("PUT", "register"),
                            ("DELETE", "register"), ("GET", "unregister"), ("POST", "unregister"),
                            ("PATCH", "unregister")):
            with self.subTest(method=method, route=sub):
                body = {"type": "do", "namespace": self.ns, "key": "x"} \
                    if method in ("POST", "PUT", "PATCH") else None
                r = self.req(method, "/api/resources/" + sub, body)
                assert_error(r, 405, "METHOD_NOT_ALLOWED")
                self.assertIn("allow", r.headers)
        r = self.req("OPTIONS", "/api/resources/list")  # CORS preflight, like every route
        self.assertEqual(r.status, 204)
        for sub in ("foo", "", "list/", "list/x", "LIST", "stats2", "registers"):
            with self.subTest(route=sub):
                assert_error(self.req("GET", "/api/resources/" + sub), 404, "NOT_FOUND")
        self.assertEqual(self.ns_map(self.ns), {})  # the 405 register was not applied

    # -- automatic tracking ------------------------------------------------

    def test_every_kv_write_path_is_tracked_at_once(self):
        ns, other = self.ns, self.ns + "-other"
        now = time.time()

        def m():
            return self.ns_map(ns)

        # PUT / POST /storage/:key
        ok(self.req("PUT", kv_path("p1", ns=ns), {"value": {"a": 1}, "metadata": {"m": 1}}))
        r = m()[("kv", "p1")]
        self.check_resource(r, now)
        self.assertEqual((r["size"], r["metadata"]), (7, {"m": 1}))
        ok(self.req("POST", kv_path("p2", ns=ns), {"value": "hello"}))
        self.assertEqual(m()[("kv", "p2")]["size"], 7)
        # the X-Namespace header
        ok(self.req("PUT", kv_path("h1"), {"value": [1]}, headers={"X-Namespace": ns}))
        self.assertIn(("kv", "h1"), m())
        # DELETE
        self.assertEqual(ok(self.req("DELETE", kv_path("h1", ns=ns))), {"deleted": True})
        self.assertNotIn(("kv", "h1"), m())
        self.assertEqual(ok(self.req("DELETE", kv_path("h1", ns=ns))), {"deleted": False})
        # batch/set, batch/delete
        ents = [{"key": "b%d" % i, "value": "v" * i, "metadata": {"i": i}} for i in range(1, 6)]
        self.assertEqual(ok(self.req("POST", storage_path("batch/set", ns=ns), {"entries": ents}))["count"], 5)
        got = m()
        for i in range(1, 6):
            self.assertEqual((got[("kv", "b%d" % i)]["size"], got[("kv", "b%d" % i)]["metadata"]),
                             (i + 2, {"i": i}))
        self.assertEqual(ok(self.req("POST", storage_path("batch/delete", ns=ns),
                                     {"keys": ["b1", "b2", "nope"]})), {"deleted": 2})
        self.assertEqual(sorted(k for t, k in m() if k.startswith("b")), ["b3", "b4", "b5"])
        # the snapshot PATCH
        ok(self.req("PATCH", "/api/storage?ns=" + ns,
                    [{"op": "set", "key": "s1", "value": {"x": [1, 2]}},
                     {"op": "set", "key": "s2", "value": 2}, {"op": "del", "key": "b3"}]))
        got = m()
        self.assertEqual(got[("kv", "s1")]["size"], jsize({"x": [1, 2]}))
        self.assertIn(("kv", "s2"), got)
        self.assertNotIn(("kv", "b3"), got)
        ok(self.req("PATCH", "/api/storage?ns=" + ns, [{"op": "del", "key": "s2"}]))
        self.assertNotIn(("kv", "s2"), m())
        # the proxy routes
        ok(self.req("PUT", api_path(ns, "a/b é"), {"value": "proxied", "metadata": {"via": "api"}}))
        r = m()[("kv", "a/b é")]
        self.assertEqual((r["size"], r["metadata"]), (jsize("proxied"), {"via": "api"}))
        ok(self.req("DELETE", api_path(ns, "a/b é")))
        self.assertNotIn(("kv", "a/b é"), m())
        # the binary protocol
        c = Rpc(RPC_PORT)
        try:
            self.assertEqual(c.call("kv.put", ns, {"key": "r1", "value": {"a": 1}, "metadata": {"r": 1}})[0], St.OK)
            r = m()[("kv", "r1")]
            self.assertEqual(r["metadata"], {"r": 1})
            # written as msgpack: the size of the stored msgpack (docs/registry.md)
            self.assertEqual(r["size"], len(mp_pack({"a": 1})))
            self.assertEqual(c.call("kv.batch_set", ns, {"entries": [{"key": "r2", "value": 2},
                                                                     {"key": "r3", "value": 3}]})[0], St.OK)
            self.assertTrue({("kv", "r2"), ("kv", "r3")} <= set(m()))
            self.assertEqual(c.call("kv.delete", ns, {"key": "r2"}), (St.OK, {"deleted": True}))
            self.assertEqual(c.call("kv.batch_delete", ns, {"keys": ["r3"]}), (St.OK, {"deleted": 1}))
            got = m()
            self.assertNotIn(("kv", "r2"), got)
            self.assertNotIn(("kv", "r3"), got)
        finally:
            c.close()
        final = {"p1", "p2", "b4", "b5", "s1", "r1"}
        self.assertEqual({k for t, k in m()}, final)
        self.assertEqual(self.ns_stats(), len(final))
        self.assertEqual(self.rlist(namespace=other)["total"], 0)

    def test_read_your_writes_every_time(self):
        # no lag between the write's reply and the registry, HTTP and RPC
        c = Rpc(RPC_PORT)
        try:
            for i in range(40):
                k = "k%02d" % i
                if i % 2:
                    self.assertEqual(c.call("kv.put", self.ns, {"key": k, "value": i})[0], St.OK)
                else:
                    ok(self.req("PUT", kv_path(k, ns=self.ns), {"value": i}))
                b = self.rlist(namespace=self.ns, key_prefix=k)
                self.assertEqual([r["key"] for r in b["resources"]], [k], "write %d not visible" % i)
                if i % 3 == 0:
                    ok(self.req("DELETE", kv_path(k, ns=self.ns)))
                    self.assertEqual(self.rlist(namespace=self.ns, key_prefix=k)["total"], 0)
                self.assertEqual(c.call("resources.list", "", {"namespace": self.ns, "limit": 0})[1]["total"],
                                 i + 1 - (i // 3 + 1))
        finally:
            c.close()

    def test_clear_removes_only_that_namespaces_kv_rows(self):
        ns, other = self.ns, self.ns + "-o"
        ok(self.req("POST", storage_path("batch/set", ns=ns),
                    {"entries": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}))
        ok(self.req("PUT", kv_path("x", ns=other), {"value": 1}))
        self.register("do", "obj", size=10)
        self.register("r2", "blob", size=20)
        self.register("do", "obj", ns=other)
        self.assertEqual(ok(self.req("POST", storage_path("clear", ns=ns))), {"deleted": 2})
        self.assertEqual(set(self.ns_map(ns)), {("do", "obj"), ("r2", "blob")})
        self.assertEqual(set(self.ns_map(other)), {("kv", "x"), ("do", "obj")})
        d = self.rstats()
        self.assertEqual((d["by_namespace"][ns], d["by_namespace"][other]), (2, 2))
        # clearing an empty KV store changes nothing either
        ok(self.req("POST", storage_path("clear", ns=ns)))
        self.assertEqual(set(self.ns_map(ns)), {("do", "obj"), ("r2", "blob")})
        # the binary kv.clear as well
        ok(self.req("PUT", kv_path("c", ns=ns), {"value": 1}))
        c = Rpc(RPC_PORT)
        try:
            self.assertEqual(c.call("kv.clear", ns, {}), (St.OK, {"deleted": 1}))
        finally:
            c.close()
        self.assertEqual(set(self.ns_map(ns)), {("do", "obj"), ("r2", "blob")})

    def test_updates_keep_created_at(self):
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": {"a": 1}, "metadata": {"v": 1}}))
        first = self.register("do", "obj", size=5, metadata={"v": 1})
        before = self.ns_map(self.ns)
        self.assertEqual(before[("do", "obj")], first)
        wait_next_second()
        now = time.time()
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": "longer value", "metadata": {"v": 2}}))
        second = self.register("do", "obj", status=200, size=6, metadata={"v": 2})
        after = self.ns_map(self.ns)
        self.assertEqual(after[("do", "obj")], second)
        for key, size, meta in ((("kv", "k"), jsize("longer value"), {"v": 2}),
                                (("do", "obj"), 6, {"v": 2})):
            with self.subTest(resource=key):
                b, a = before[key], after[key]
                self.check_resource(a, now)
                self.assertEqual(a["created_at"], b["created_at"])
                self.assertGreater(iso_epoch(a["updated_at"]), iso_epoch(b["updated_at"]))
                self.assertEqual((a["size"], a["metadata"]), (size, meta))
        # an update without metadata drops it; batch/set and PATCH keep created_at too
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": 1}))
        self.register("do", "obj", status=200)
        ok(self.req("POST", storage_path("batch/set", ns=self.ns), {"entries": [{"key": "k", "value": 22}]}))
        ok(self.req("PATCH", "/api/storage?ns=" + self.ns, [{"op": "set", "key": "k", "value": 333}]))
        got = self.ns_map(self.ns)
        self.assertEqual((got[("kv", "k")]["metadata"], got[("kv", "k")]["size"]), (None, 3))
        self.assertEqual((got[("do", "obj")]["metadata"], got[("do", "obj")]["size"]), (None, 0))
        for key in (("kv", "k"), ("do", "obj")):
            self.assertEqual(got[key]["created_at"], before[key]["created_at"])
        # deleted and written again: a new resource
        ok(self.req("DELETE", kv_path("k", ns=self.ns)))
        wait_next_second()
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": 1}))
        again = self.ns_map(self.ns)[("kv", "k")]
        self.assertGreater(iso_epoch(again["created_at"]), iso_epoch(before[("kv", "k")]["created_at"]))
        self.assertEqual(again["created_at"], again["updated_at"])

    def test_ttl_expiry_with_sweeper(self):
        t0 = time.monotonic()
        ok(self.req("PUT", kv_path("short", ns=self.ns), {"value": "x", "ttlMs": 400}))
        ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                    {"entries": [{"key": "bshort", "value": 1, "ttlMs": 400},
                                 {"key": "blong", "value": 2, "ttlMs": 600000}]}))
        t_written = time.monotonic()  # every expiry is before t_written + 0.4
        ok(self.req("PUT", kv_path("keep", ns=self.ns), {"value": "kept"}))
        got = self.ns_map(self.ns)
        stats = self.ns_stats()
        if time.monotonic() - t0 < 0.4:  # a loaded machine may be slower than the TTL
            self.assertEqual(set(got), {("kv", "short"), ("kv", "bshort"), ("kv", "blong"), ("kv", "keep")})
            self.assertEqual(stats, 4)
        time.sleep(max(0.0, 0.5 - (time.monotonic() - t_written)))
        want = {("kv", "blong"), ("kv", "keep")}
        self.assertEqual(set(self.ns_map(self.ns)), want)
        d = self.rstats()
        self.assertEqual(d["by_namespace"][self.ns], 2)
        self.assertEqual(self.rlist(namespace=self.ns, key_prefix="short")["total"], 0)
        time.sleep(0.2)  # swept by now (50 ms period): still the same answers
        self.assertEqual(set(self.ns_map(self.ns)), want)
        self.assertEqual(self.ns_stats(), 2)
        self.assertEqual(sorted(self.server.list_all(ns=self.ns)), ["blong", "keep"])

    # -- registration by hand ---------------------------------------------

    def test_register_and_unregister(self):
        now = time.time()
        r = self.req("POST", "/api/resources/register",
                     {"type": "do", "namespace": self.ns, "key": "Counter:1", "size": 42,
                      "metadata": {"class": "Counter", "tags": ["a"]}})
        d = ok(r, 201)
        self.check_resource(d, now)
        self.assertEqual({k: d[k] for k in ("type", "namespace", "key", "size", "metadata")},
                         {"type": "do", "namespace": self.ns, "key": "Counter:1", "size": 42,
                          "metadata": {"class": "Counter", "tags": ["a"]}})
        self.assertEqual(d["created_at"], d["updated_at"])
        self.assertEqual(self.ns_map(self.ns), {("do", "Counter:1"): d})
        # size and metadata are optional; any valid type but kv
        for t in ("d1", "r2", "my.type-1_X", "t" * 64):
            e = self.register(t, "k")
            self.assertEqual((e["type"], e["size"], e["metadata"]), (t, 0, None))
        self.register("do", "big", size=2 ** 53 - 1, metadata=None)
        self.register("do", "k" * 2048)
        self.register("do", "é/ü 中")
        self.assertEqual(self.ns_map(self.ns)[("do", "é/ü 中")]["key"], "é/ü 中")
        self.assertEqual(self.ns_stats(), 8)
        # the same key under another type or namespace is another resource
        self.register("d1", "Counter:1")
        self.register("do", "Counter:1", ns=self.ns + "-2")
        self.assertEqual(self.ns_map(self.ns)[("do", "Counter:1")], d)
        # unregister: JSON body
        body = {"type": "do", "namespace": self.ns, "key": "Counter:1"}
        self.assertEqual(ok(self.req("DELETE", "/api/resources/unregister", body)), {"deleted": True})
        self.assertNotIn(("do", "Counter:1"), self.ns_map(self.ns))
        self.assertEqual(ok(self.req("DELETE", "/api/resources/unregister", body)), {"deleted": False})
        self.assertIn(("d1", "Counter:1"), self.ns_map(self.ns))
        self.assertIn(("do", "Counter:1"), self.ns_map(self.ns + "-2"))
        # unregister: query parameters
        path = "/api/resources/unregister" + qs({"type": "do", "namespace": self.ns, "key": "é/ü 中"})
        self.assertEqual(ok(self.req("DELETE", path)), {"deleted": True})
        self.assertEqual(ok(self.req("DELETE", path)), {"deleted": False})
        self.assertNotIn(("do", "é/ü 中"), self.ns_map(self.ns))
        # a msgpack body
        self.assertEqual(ok(self.req("DELETE", "/api/resources/unregister",
                                     {"type": "d1", "namespace": self.ns, "key": "Counter:1"},
                                     msgpack=True)), {"deleted": True})
        # unregistering what was never there
        self.assertEqual(ok(self.req("DELETE", "/api/resources/unregister",
                                     {"type": "do", "namespace": self.ns + "-none", "key": "x"})),
                         {"deleted": False})
        self.assertEqual(self.ns_stats(), 6)

    def test_register_bad_requests(self):
        ok(self.req("PUT", kv_path("keep", ns=self.ns), {"value": 1}))
        self.register("do", "keep", size=3, metadata={"a": 1})
        before = self.ns_map(self.ns)
        stats_before = self.rstats()
        ns = self.ns
        base = {"type": "do", "namespace": ns, "key": "new"}

        def w(**kw):
            b = dict(base)
            for k, v in kw.items():
                if v is DROP:
                    b.pop(k)
                else:
                    b[k] = v
            return b

        DROP = object()
        bad = {
            "type kv": w(type="kv"),
            "type kv existing": w(type="kv", key="keep"),
            "no type": w(type=DROP),
            "no namespace": w(namespace=DROP),
            "no key": w(key=DROP),
            "type null": w(type=None),
            "type number": w(type=5),
            "type empty": w(type=""),
            "type space": w(type="a b"),
            "type slash": w(type="k/v"),
            "type long": w(type="t" * 65),
            "namespace bad": w(namespace="_x"),
            "namespace slash": w(namespace="a/b"),
            "namespace number": w(namespace=1),
            "key empty": w(key=""),
            "key number": w(key=7),
            "key long": w(key="k" * 2049),
            "key nul": w(key="a\u0000b"),
            "size negative": w(size=-1),
            "size string": w(size="12"),
            "size float": w(size=1.5),
            "size bool": w(size=True),
            "size huge": w(size=2 ** 53),
            "size object": w(size={}),
            "metadata array": w(metadata=[1]),
            "metadata string": w(metadata="x"),
            "metadata number": w(metadata=5),
            "metadata bool": w(metadata=True),
            "metadata too big": w(metadata={"m": "y" * 20000}),
            "array body": [base],
            "string body": "do",
            "null body": None,
        }
        for name, body in bad.items():
            with self.subTest(case=name):
                payload = b"null" if body is None else body
                r = self.req("POST", "/api/resources/register", payload,
                             headers={"Content-Type": "application/json"})
                assert_error(r, 400, "BAD_REQUEST")
        raw_bad = {"malformed": b'{"type":"do","namespace":', "trailing": b'{"type":"do"} x',
                   "empty": b"", "not json": b"type=do"}
        for name, payload in raw_bad.items():
            with self.subTest(case=name):
                r = self.req("POST", "/api/resources/register", payload,
                             headers={"Content-Type": "application/json"})
                assert_error(r, 400, "BAD_REQUEST")
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            with self.subTest(content_type=ctype):
                assert_error(self.req("POST", "/api/resources/register", json.dumps(base).encode(),
                                      headers={"Content-Type": ctype}), 415, "UNSUPPORTED_MEDIA_TYPE")
                assert_error(self.req("DELETE", "/api/resources/unregister",
                                      json.dumps(w(key="keep")).encode(),
                                      headers={"Content-Type": ctype}), 415, "UNSUPPORTED_MEDIA_TYPE")
        # unregister: same identifying fields
        ubad = {"type kv": w(type="kv", key="keep"), "no type": w(type=DROP, key="keep"),
                "no namespace": w(namespace=DROP, key="keep"), "no key": w(key=DROP),
                "namespace bad": w(namespace="_x", key="keep"), "key empty": w(key="")}
        for name, body in ubad.items():
            with self.subTest(unregister=name):
                assert_error(self.req("DELETE", "/api/resources/unregister", body), 400, "BAD_REQUEST")
                assert_error(self.req("DELETE", "/api/resources/unregister" + qs(body)), 400,
                             "BAD_REQUEST")
        assert_error(self.req("DELETE", "/api/resources/unregister"), 400, "BAD_REQUEST")
        assert_error(self.req("DELETE", "/api/resources/unregister", b"{nope",
                              headers={"Content-Type": "application/json"}), 400, "BAD_REQUEST")
        # nothing changed, the server is fine
        self.assertTrue(self.server.alive())
        self.assertEqual(self.ns_map(self.ns), before)
        self.assertEqual(self.rstats(), stats_before)
        self.assertEqual(ok(self.req("GET", kv_path("keep", ns=self.ns))), 1)

    # -- the binary protocol ------------------------------------------------

    def test_binary_ops_match_http(self):
        ns = self.ns
        c = Rpc(RPC_PORT)
        try:
            ok(self.req("PUT", kv_path("k1", ns=ns), {"value": {"a": 1}, "metadata": {"m": 1}}))
            st, reg = c.call("resources.register", ns, {"type": "do", "key": "obj", "size": 11,
                                                       "metadata": {"x": [1, "y"]}})
            self.assertEqual(st, St.CREATED)
            self.check_resource(reg, time.time())
            self.assertEqual((reg["namespace"], reg["type"], reg["key"], reg["size"], reg["metadata"]),
                             (ns, "do", "obj", 11, {"x": [1, "y"]}))
            self.assertEqual(self.ns_map(ns)[("do", "obj")], reg)
            st, reg2 = c.call("resources.register", ns, {"type": "r2", "key": "b"})
            self.assertEqual(st, St.CREATED)
            self.assertEqual((reg2["size"], reg2["metadata"]), (0, None))
            st, again = c.call("resources.register", ns, {"type": "do", "key": "obj", "size": 12})
            self.assertEqual(st, St.OK)
            self.assertEqual((again["created_at"], again["size"], again["metadata"]),
                             (reg["created_at"], 12, None))
            # resources.list: the same object as the HTTP list
            for params in ({"namespace": ns}, {"namespace": ns, "type": "do"},
                           {"namespace": ns, "key_prefix": "k"}, {"namespace": ns, "limit": 1, "offset": 1},
                           {"namespace": ns, "limit": 0}, {"namespace": ns, "offset": 50}, {}):
                with self.subTest(params=params):
                    st, body = c.call("resources.list", "default", params)
                    self.assertEqual(st, St.OK)
                    self.check_list_body(body)
                    self.assertEqual(body, self.rlist(**params))
            # resources.stats: the HTTP data
            st, s = c.call("resources.stats", "default", {})
            self.assertEqual(st, St.OK)
            self.check_stats(s)
            self.assertEqual(s, self.rstats())
            self.assertEqual(s["by_namespace"][ns], 3)
            # resources.unregister
            self.assertEqual(c.call("resources.unregister", ns, {"type": "do", "key": "obj"}),
                             (St.OK, {"deleted": True}))
            self.assertEqual(c.call("resources.unregister", ns, {"type": "do", "key": "obj"}),
                             (St.OK, {"deleted": False}))
            self.assertEqual(set(self.ns_map(ns)), {("kv", "k1"), ("r2", "b")})
            # errors keep the connection
            bad = [("resources.register", ns, {"type": "kv", "key": "k1"}),
                   ("resources.register", ns, {"type": "do"}),
                   ("resources.register", ns, {"key": "x"}),
                   ("resources.register", ns, {"type": "do", "key": "x", "size": -1}),
                   ("resources.register", ns, {"type": "do", "key": "x", "size": "1"}),
                   ("resources.register", ns, {"type": "do", "key": "x", "metadata": [1]}),
                   ("resources.register", "_bad", {"type": "do", "key": "x"}),
                   ("resources.unregister", ns, {"type": "kv", "key": "k1"}),
                   ("resources.unregister", ns, {"type": "do"}),
                   ("resources.list", "", {"limit": 1001}),
                   ("resources.list", "", {"limit": -1}),
                   ("resources.list", "", {"offset": -1}),
                   ("resources.list", "", {"namespace": "_x"}),
                   ("resources.list", "", {"type": "a b"}),
                   ("resources.list", "", {"consistent": "maybe"}),
                   ("resources.stats", "", {"limit": "abc"}),
                   ("resources.nope", ns, {})]
            for op, n, args in bad:
                with self.subTest(op=op, args=args):
                    st, body = c.call(op, n, args)
                    self.assertEqual((st, body.get("code")), (St.BAD_REQUEST, "BAD_REQUEST"), body)
            self.assertEqual(c.call("ping", ns, {}), (St.OK, PONG))
            self.assertEqual(c.call("resources.list", "", {"namespace": ns, "consistent": True})[1]["total"], 2)
            self.assertEqual(set(self.ns_map(ns)), {("kv", "k1"), ("r2", "b")})
        finally:
            c.close()


class Unswept(RegistryAsserts, ServerTestCase):
    """An expired key the sweeper has not removed yet is in no answer."""
    server_args = ["--ttl-sweep-ms", "600000", "--rpc-port", "0"]

    def test_expired_but_unswept_is_hidden(self):
        t0 = time.monotonic()
        ok(self.req("PUT", kv_path("gone", ns=self.ns), {"value": "xxxxxxxx", "ttlMs": 300,
                                                         "metadata": {"a": 1}}))
        ok(self.req("POST", storage_path("batch/set", ns=self.ns),
                    {"entries": [{"key": "gone2", "value": 1, "ttlMs": 300}]}))
        t_written = time.monotonic()  # every expiry is before t_written + 0.3
        ok(self.req("PUT", kv_path("keep", ns=self.ns), {"value": "hello"}))
        if time.monotonic() - t0 < 0.3:
            self.assertEqual(self.rlist(namespace=self.ns)["total"], 3)
        time.sleep(max(0.0, 0.4 - (time.monotonic() - t_written)))
        b = self.rlist(namespace=self.ns)
        self.assertEqual([r["key"] for r in b["resources"]], ["keep"])
        self.assertEqual(b["total"], 1)
        self.assertEqual(self.rlist(namespace=self.ns, key_prefix="gone")["total"], 0)
        self.assertEqual(self.rlist(namespace=self.ns, type="kv", limit=0)["total"], 1)
        self.assertNotIn(self.ns, [r["namespace"] for r in self.rlist(key_prefix="gone", limit=1000)["resources"]])
        d = self.rstats()
        self.assertEqual(d["by_namespace"][self.ns], 1)
        self.assertEqual(d["total_size"], sum(r["size"] for r in self.list_all(page=1000)))
        self.assertEqual(d["total"], self.rlist(limit=0)["total"])
        # the KV store agrees; deleting it is not a deletion of a live key
        self.assertEqual(self.server.list_all(ns=self.ns), ["keep"])
        self.assertEqual(ok(self.req("DELETE", kv_path("gone", ns=self.ns))), {"deleted": False})
        self.assertEqual(self.ns_map(self.ns).keys(), {("kv", "keep")})
        # written again: there again, without the old metadata
        ok(self.req("PUT", kv_path("gone2", ns=self.ns), {"value": 2}))
        got = self.ns_map(self.ns)
        self.assertEqual(set(got), {("kv", "keep"), ("kv", "gone2")})
        self.assertIsNone(got[("kv", "gone2")]["metadata"])

    def test_rewritten_after_expiry_is_new(self):
        # the expired row is still in the file: a write over it counts as new
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": 1, "ttlMs": 200, "metadata": {"old": 1}}))
        first = self.ns_map(self.ns)[("kv", "k")]
        time.sleep(0.25)
        wait_next_second()
        self.assertEqual(self.ns_map(self.ns), {})
        ok(self.req("PUT", kv_path("k", ns=self.ns), {"value": 22}))
        again = self.ns_map(self.ns)[("kv", "k")]
        self.assertGreater(iso_epoch(again["created_at"]), iso_epoch(first["created_at"]))
        self.assertEqual(again["created_at"], again["updated_at"])
        self.assertEqual((again["size"], again["metadata"]), (2, None))
        self.assertEqual(self.rstats()["by_namespace"][self.ns], 1)


# --------------------------------------------------------------------------
# rebuilding on start

LONG_NS = "L" * 120 + "-ns.long"  # 128 bytes, the longest name


class Rebuild(RegistryAsserts, unittest.TestCase):

    def setUp(self):
        self.server = Server()

    def tearDown(self):
        try:
            if self.server.alive():
                self.server.stop_ok()
        finally:
            self.server.close()

    def req(self, *a, **kw):
        return self.server.req(*a, **kw)

    def populate(self, wait=False):
        """Resources in several namespaces through every route. wait: also
        updates one second later (created_at != updated_at)."""
        reg = "/api/resources/register"
        # rb-a: KV with metadata and TTLs, deletes, batch ops, hand-registered resources
        ok(self.req("PUT", kv_path("k1", ns="rb-a"), {"value": {"a": 1}, "metadata": {"m": 1}}))
        ok(self.req("PUT", kv_path("k2", ns="rb-a"), {"value": "x", "ttlMs": 600000,
                                                      "metadata": {"ttl": True}}))
        ok(self.req("PUT", kv_path("k3", ns="rb-a"), {"value": 3}))
        ok(self.req("DELETE", kv_path("k3", ns="rb-a")))
        ok(self.req("POST", storage_path("batch/set", ns="rb-a"),
                    {"entries": [{"key": "b%02d" % i, "value": "v" * i, "metadata": {"i": i}}
                                 for i in range(20)]}))
        ok(self.req("POST", storage_path("batch/delete", ns="rb-a"),
                    {"keys": ["b%02d" % i for i in range(0, 20, 4)]}))
        ok(self.req("POST", reg, {"type": "do", "namespace": "rb-a", "key": "obj1", "size": 10,
                                  "metadata": {"class": "X"}}), 201)
        ok(self.req("POST", reg, {"type": "do", "namespace": "rb-a", "key": "obj2"}), 201)
        ok(self.req("DELETE", "/api/resources/unregister",
                    {"type": "do", "namespace": "rb-a", "key": "obj2"}))
        ok(self.req("POST", reg, {"type": "r2", "namespace": "rb-a", "key": "img/1.png", "size": 5}), 201)
        # other writes to the namespace file that are not resources
        ok(self.req("POST", "/ratelimit/ip:1/check?ns=rb-a", {"limit": 10, "windowMs": 60000}))
        # rb-b: through the snapshot PATCH and the proxy routes, a d1 resource, a session
        ok(self.req("PATCH", "/api/storage?ns=rb-b",
                    [{"op": "set", "key": "p%d" % i, "value": [i]} for i in range(5)]), 201)
        ok(self.req("PATCH", "/api/storage?ns=rb-b", [{"op": "del", "key": "p0"}]))
        ok(self.req("PUT", api_path("rb-b", "é/x"), {"value": "ü", "metadata": {"u": "é"}}))
        ok(self.req("POST", reg, {"type": "d1", "namespace": "rb-b", "key": "db", "size": 123456}), 201)
        ok(self.req("POST", "/sessions?ns=rb-b", {"data": {"x": 1}, "ttlMs": 600000}), 201)
        # rb-c: only hand-registered resources left after a clear
        ok(self.req("PUT", kv_path("gone", ns="rb-c"), {"value": 1}))
        ok(self.req("POST", reg, {"type": "custom.t", "namespace": "rb-c", "key": "c", "size": 1}), 201)
        ok(self.req("POST", storage_path("clear", ns="rb-c")))
        # rb-d: everything deleted again
        ok(self.req("PUT", kv_path("x", ns="rb-d"), {"value": 1}))
        ok(self.req("DELETE", kv_path("x", ns="rb-d")))
        # rb-e: re-registered (created_at kept) and an updated KV key
        ok(self.req("POST", reg, {"type": "do", "namespace": "rb-e", "key": "o", "size": 1}), 201)
        ok(self.req("PUT", kv_path("u", ns="rb-e"), {"value": 1}))
        if wait:
            wait_next_second()
        ok(self.req("POST", reg, {"type": "do", "namespace": "rb-e", "key": "o", "size": 2,
                                  "metadata": {"v": 2}}), 200)
        ok(self.req("PUT", kv_path("u", ns="rb-e"), {"value": 22}))
        # the default namespace, a 128-byte name, mixed case and dots
        ok(self.req("PUT", kv_path("d"), {"value": "in default"}))
        ok(self.req("PUT", kv_path("long", ns=LONG_NS), {"value": 1, "metadata": {"l": 1}}))
        ok(self.req("POST", reg, {"type": "do", "namespace": "Rb.Mixed_Case-1", "key": "m"}), 201)

    def capture(self):
        res = self.list_all(page=4)
        d = self.rstats()
        by_ns = {}
        for r in res:
            by_ns.setdefault(r["namespace"], []).append(r)
        return res, d, {ns: self.ns_map(ns) for ns in by_ns}

    def expected_content(self, res, waited=True):
        names = {(r["namespace"], r["type"], r["key"]) for r in res}
        other = {("default", "kv", "d"), (LONG_NS, "kv", "long"), ("Rb.Mixed_Case-1", "do", "m")}
        self.assertTrue(other <= names, names)
        names -= other
        self.assertEqual(names,
                         {("rb-a", "kv", "k1"), ("rb-a", "kv", "k2"), ("rb-a", "do", "obj1"),
                          ("rb-a", "r2", "img/1.png"), ("rb-b", "kv", "p1"), ("rb-b", "kv", "p2"),
                          ("rb-b", "kv", "p3"), ("rb-b", "kv", "p4"), ("rb-b", "kv", "é/x"),
                          ("rb-b", "d1", "db"), ("rb-c", "custom.t", "c"), ("rb-e", "do", "o"),
                          ("rb-e", "kv", "u")}
                         | {("rb-a", "kv", "b%02d" % i) for i in range(20) if i % 4})
        e = {ident(r): r for r in res}
        if waited:
            self.assertNotEqual(e[("rb-e", "do", "o")]["created_at"], e[("rb-e", "do", "o")]["updated_at"])
            self.assertNotEqual(e[("rb-e", "kv", "u")]["created_at"], e[("rb-e", "kv", "u")]["updated_at"])
        self.assertEqual((e[("rb-e", "do", "o")]["size"], e[("rb-e", "do", "o")]["metadata"]), (2, {"v": 2}))
        self.assertEqual(e[("rb-b", "kv", "é/x")]["metadata"], {"u": "é"})
        self.assertEqual(e[("rb-b", "kv", "é/x")]["size"], jsize("ü"))

    def registry_files(self):
        return [p for p in (os.path.join(self.server.data_dir, "_registry.db" + s)
                            for s in ("", "-wal", "-shm", "-journal")) if os.path.exists(p)]

    def test_rebuilt_from_namespace_files(self):
        self.populate(wait=True)
        before = self.capture()
        self.expected_content(before[0])
        self.server.stop_ok()
        files = self.registry_files()
        self.assertIn(os.path.join(self.server.data_dir, "_registry.db"), files)
        for p in files:
            os.remove(p)
        self.server.start()
        after = self.capture()
        self.assertEqual(after[0], before[0])
        self.assertEqual(after[1], before[1])
        self.assertEqual(after[2], before[2])
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "_registry.db")))
        # and it keeps tracking: updates keep the rebuilt created_at
        ok(self.req("PUT", kv_path("k1", ns="rb-a"), {"value": 2}))
        r = self.ns_map("rb-a")[("kv", "k1")]
        old = {ident(x): x for x in before[0]}[("rb-a", "kv", "k1")]
        self.assertEqual((r["created_at"], r["size"], r["metadata"]), (old["created_at"], 1, None))
        ok(self.req("POST", "/api/resources/register",
                    {"type": "do", "namespace": "rb-a", "key": "obj1", "size": 1}), 200)

    def test_restart_without_deleting(self):
        self.populate(wait=True)
        before = self.capture()
        self.server.restart()
        self.assertEqual(self.capture(), before)
        self.server.restart(hard=True)  # SIGKILL: reconciled at start
        self.assertEqual(self.capture(), before)
        # writes after the restart are tracked on top of the old rows
        ok(self.req("PUT", kv_path("new", ns="rb-d"), {"value": 1}))
        self.assertEqual(set(self.ns_map("rb-d")), {("kv", "new")})
        self.assertEqual(self.rstats()["total"], before[1]["total"] + 1)

    def test_sigkill_right_after_writes(self):
        # the registry commits its index lazily: changes acknowledged just
        # before a SIGKILL must still be there (or gone) after the restart
        self.populate()
        self.server.restart()
        for i in range(3):
            ok(self.req("PUT", kv_path("late%d" % i, ns="rb-a"), {"value": i, "metadata": {"i": i}}))
        ok(self.req("DELETE", kv_path("k1", ns="rb-a")))
        ok(self.req("POST", storage_path("batch/delete", ns="rb-a"), {"keys": ["b01", "b02"]}))
        ok(self.req("DELETE", "/api/resources/unregister", {"type": "do", "namespace": "rb-a", "key": "obj1"}))
        ok(self.req("POST", "/api/resources/register", {"type": "do", "namespace": "rb-c", "key": "late"}), 201)
        ok(self.req("POST", storage_path("clear", ns="rb-e")))
        ok(self.req("PATCH", "/api/storage?ns=rb-b", [{"op": "del", "key": "p1"}]))
        before = self.capture()
        self.server.kill()
        self.server.start()
        after = self.capture()
        self.assertEqual(after, before)
        names = {ident(r) for r in after[0]}
        self.assertTrue({("rb-a", "kv", "late0"), ("rb-c", "do", "late")} <= names)
        self.assertFalse({("rb-a", "kv", "k1"), ("rb-a", "kv", "b01"), ("rb-a", "do", "obj1"),
                          ("rb-e", "kv", "u"), ("rb-b", "kv", "p1")} & names)

    def test_written_while_registry_file_was_gone(self):
        # the registry file deleted under a running server's feet is not the
        # case here: deleted while stopped, then more writes, then a restart
        self.populate()
        self.server.stop_ok()
        for p in self.registry_files():
            os.remove(p)
        self.server.start()
        ok(self.req("PUT", kv_path("later", ns="rb-a"), {"value": 1}))
        ok(self.req("DELETE", kv_path("k1", ns="rb-a")))
        before = self.capture()
        self.server.restart()
        self.assertEqual(self.capture(), before)
        got = self.ns_map("rb-a")
        self.assertIn(("kv", "later"), got)
        self.assertNotIn(("kv", "k1"), got)

    def test_deleted_namespace_file_disappears(self):
        self.populate()
        before_res, before_stats, before_ns = self.capture()
        self.server.stop_ok()
        found = glob.glob(os.path.join(self.server.data_dir, "ns", "*", "rb-b.db"))
        self.assertEqual(len(found), 1, "namespace file of rb-b not found under <data>/ns/*/")
        for s in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(found[0] + s):
                os.remove(found[0] + s)
        self.server.start()
        res, stats, _ = self.capture()
        gone = [r for r in before_res if r["namespace"] == "rb-b"]
        self.assertEqual(res, [r for r in before_res if r["namespace"] != "rb-b"])
        self.assertEqual(self.rlist(namespace="rb-b")["total"], 0)
        self.assertNotIn("rb-b", stats["by_namespace"])
        want = json.loads(json.dumps(before_stats))
        want["total"] -= len(gone)
        want["total_size"] -= sum(r["size"] for r in gone)
        del want["by_namespace"]["rb-b"]
        for r in gone:
            want["by_type"][r["type"]] -= 1
        self.assertEqual(stats, want)
        # the namespace can be used again from scratch
        ok(self.req("PUT", kv_path("fresh", ns="rb-b"), {"value": 1}))
        self.assertEqual(set(self.ns_map("rb-b")), {("kv", "fresh")})


# --------------------------------------------------------------------------
# access control

class Access(RegistryAsserts, ServerTestCase):
    server_args = ["--auth-token", ADMIN, "--jwt-secret", SECRET, "--rpc-port", str(RPC_PORT_AUTH)]

    def setUp(self):
        super().setUp()
        self.a1, self.a2 = self.ns + "-a1", self.ns + "-a2"
        adm = bearer(ADMIN)
        ok(self.req("PUT", kv_path("k", ns=self.a1), {"value": 1}, headers=adm))
        ok(self.req("PUT", kv_path("k", ns=self.a2), {"value": 2}, headers=adm))
        ok(self.req("POST", "/api/resources/register",
                    {"type": "do", "namespace": self.a2, "key": "secret"}, headers=adm), 201)

    def reg(self, ns, headers, key="o"):
        return self.req("POST", "/api/resources/register", {"type": "do", "namespace": ns, "key": key},
                        headers=headers)

    def unreg(self, ns, headers, key="o"):
        return self.req("DELETE", "/api/resources/unregister",
                        {"type": "do", "namespace": ns, "key": key}, headers=headers)

    def test_credentials_required(self):
        for path in (list_path(), list_path(namespace=self.a1), stats_path(), "/api/resources/foo"):
            with self.subTest(path=path):
                assert_error(self.req("GET", path), 401, "UNAUTHORIZED")
                assert_error(self.req("GET", path, headers=bearer("wrong")), 401, "UNAUTHORIZED")
        assert_error(self.reg(self.a1, {}), 401, "UNAUTHORIZED")
        assert_error(self.unreg(self.a2, {}, key="secret"), 401, "UNAUTHORIZED")
        adm = bearer(ADMIN)
        b = self.rlist(headers=adm, namespace=self.a2)
        self.assertEqual({(r["type"], r["key"]) for r in b["resources"]}, {("kv", "k"), ("do", "secret")})
        self.assertGreaterEqual(self.rlist(headers=adm)["total"], 3)
        self.assertGreaterEqual(self.rstats(headers=adm)["by_namespace"][self.a2], 2)
        self.assertEqual(self.rlist(headers=bearer(jwt(SECRET, {"ns": "*"})), namespace=self.a1)["total"], 1)
        self.assertGreaterEqual(self.rstats(headers=bearer(jwt(SECRET, {"ns": "*"})))["total"], 3)

    def test_jwt_scoped_to_one_namespace(self):
        one = bearer(jwt(SECRET, {"ns": [self.a1], "exp": int(time.time()) + 600}))
        b = self.rlist(headers=one, namespace=self.a1)
        self.assertEqual([(r["namespace"], r["key"]) for r in b["resources"]], [(self.a1, "k")])
        for path in (list_path(), list_path(namespace=self.a2), list_path(type="kv"),
                     list_path(key_prefix="k"), stats_path()):
            with self.subTest(path=path):
                assert_error(self.req("GET", path, headers=one), 403, "FORBIDDEN")
        assert_error(self.reg(self.a2, one), 403, "FORBIDDEN")
        assert_error(self.unreg(self.a2, one, key="secret"), 403, "FORBIDDEN")
        assert_error(self.req("DELETE", "/api/resources/unregister" +
                              qs({"type": "do", "namespace": self.a2, "key": "secret"}), headers=one),
                     403, "FORBIDDEN")
        ro = bearer(jwt(SECRET, {"ns": [self.a1], "scope": "read"}))
        self.assertEqual(self.rlist(headers=ro, namespace=self.a1)["total"], 1)
        assert_error(self.reg(self.a1, ro), 403, "FORBIDDEN")
        d = ok(self.reg(self.a1, one), 201)
        self.assertEqual(d["namespace"], self.a1)
        assert_error(self.unreg(self.a1, ro), 403, "FORBIDDEN")
        self.assertEqual(ok(self.unreg(self.a1, one)), {"deleted": True})
        # nothing of a2 changed
        adm = bearer(ADMIN)
        self.assertEqual(self.rlist(headers=adm, namespace=self.a2)["total"], 2)

    def test_stats_reveal_no_other_namespace(self):
        # stats?namespace=a1 with a token for a1 only: either refused, or an
        # answer about a1 alone (never the names and counts of a2)
        one = bearer(jwt(SECRET, {"ns": [self.a1]}))
        r = self.req("GET", stats_path(namespace=self.a1), headers=one)
        if r.status == 403:
            assert_error(r, 403, "FORBIDDEN")
            return
        d = stats_body(r)
        self.check_stats(d)
        self.assertEqual(d["by_namespace"], {self.a1: 1},
                         "a token scoped to %s sees other namespaces' stats" % self.a1)
        self.assertEqual(d["total"], 1)

    def test_binary_stats_reveal_no_other_namespace(self):
        c = Rpc(RPC_PORT_AUTH)
        try:
            self.assertEqual(c.call("auth", "", {"token": jwt(SECRET, {"ns": [self.a1]})})[0], St.OK)
            st, body = c.call("resources.stats", self.a1, {"namespace": self.a1})
            if st == St.FORBIDDEN:
                self.assertEqual(body["code"], "FORBIDDEN")
                return
            self.assertEqual(st, St.OK, body)
            self.check_stats(body)
            self.assertEqual(body["by_namespace"], {self.a1: 1},
                             "a token scoped to %s sees other namespaces' stats" % self.a1)
        finally:
            c.close()

    def test_binary_protocol(self):
        c = Rpc(RPC_PORT_AUTH)
        try:
            for op, args in (("resources.list", {}), ("resources.list", {"namespace": self.a1}),
                             ("resources.stats", {})):
                st, body = c.call(op, "", args)
                self.assertEqual((st, body["code"]), (St.UNAUTHORIZED, "UNAUTHORIZED"))
            st, body = c.call("resources.register", self.a1, {"type": "do", "key": "o"})
            self.assertEqual((st, body["code"]), (St.UNAUTHORIZED, "UNAUTHORIZED"))
            self.assertEqual(c.call("auth", "", {"token": jwt(SECRET, {"ns": [self.a1]})})[0], St.OK)
            st, body = c.call("resources.list", "", {"namespace": self.a1})
            self.assertEqual(st, St.OK)
            self.assertEqual([(r["namespace"], r["key"]) for r in body["resources"]], [(self.a1, "k")])
            for op, args in (("resources.list", {}), ("resources.list", {"namespace": self.a2}),
                             ("resources.stats", {})):
                st, body = c.call(op, self.a1, args)
                self.assertEqual((st, body["code"]), (St.FORBIDDEN, "FORBIDDEN"), (op, args))
            st, body = c.call("resources.register", self.a2, {"type": "do", "key": "o"})
            self.assertEqual((st, body["code"]), (St.FORBIDDEN, "FORBIDDEN"))
            st, body = c.call("resources.unregister", self.a2, {"type": "do", "key": "secret"})
            self.assertEqual((st, body["code"]), (St.FORBIDDEN, "FORBIDDEN"))
            self.assertIn(c.call("resources.register", self.a1, {"type": "do", "key": "o"})[0], (St.OK, St.CREATED))
            self.assertEqual(c.call("auth", "", {"token": jwt(SECRET, {"ns": [self.a1], "scope": "read"})})[0], St.OK)
            st, body = c.call("resources.register", self.a1, {"type": "do", "key": "o2"})
            self.assertEqual((st, body["code"]), (St.FORBIDDEN, "FORBIDDEN"))
            st, body = c.call("resources.unregister", self.a1, {"type": "do", "key": "o"})
            self.assertEqual((st, body["code"]), (St.FORBIDDEN, "FORBIDDEN"))
            self.assertEqual(c.call("resources.list", "", {"namespace": self.a1})[1]["total"], 2)
        finally:
            c.close()
        self.assertEqual(self.rlist(headers=bearer(ADMIN), namespace=self.a2)["total"], 2)


if __name__ == "__main__":
    main(timeout=120)
