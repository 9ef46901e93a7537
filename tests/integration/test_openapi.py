"""
test_openapi.py — docs/openapi.yaml describes the HTTP API durod serves: every
route the server routes is in the file, and nothing else is.

How, and why this way:

1. From the source (SourceRoutes, no server). The routes live in
   transport/http.c (the checks of on_request() and the routes[] table) and in
   the route files transport/http_*.c that the table hands requests to. Their
   path pieces are C string literals: every literal that looks like a path
   ("/healthz", "/auth/", "/api/storage/kv/", "/check") and every word a route
   file compares a path with or puts first in a table row ("list", "batch/get",
   "users", ...) is collected from every transport/http*.c file but the three
   that route nothing (http1.c, http_request.c, http_reply.c). Each path
   literal must occur in a path of the file, and each word must be a path
   segment (or segments) of the file or one of its parameter or field names
   (the same tables list query parameters and body fields). So a route added
   to the C code — a new row in routes[], a new file, a new sub-route in a
   table — fails this test until the file has it. It reads no structure that a
   refactoring would change: only literals and where they are used.

2. Against a running durod (--errinj, so /_errinj is served), for the exact
   methods: every path of the file is instantiated (percent-encoded keys with
   "/" in them) and requested with each of GET, PUT, POST, DELETE and PATCH.
   The router's refusals are recognisable: 405 (only routers answer it) and
   404 with the message "no such route"; any other answer means the request
   was routed to a handler (even a 400 for a missing body, or the 404 of a
   missing key). The request must be routed exactly when the file's matcher
   (durotest.OpenApi.match, the same one that picks the schema for every
   reply) finds an operation for it. Made-up paths next to the real ones must
   be 404 "no such route" for every method and match nothing in the file. HEAD
   is GET in the server (http.c maps it before routing) and OPTIONS is the CORS
   preflight on every path, so neither is probed per path.

3. Query parameters: each one the file lists for an operation must not be
   refused as unknown, and an unlisted one must be.

4. The validation hook itself (durotest.OpenApi.check_reply, run on every
   reply of every integration test): path templates match percent-encoded
   keys, raw slashes and the reserved paths as the server does, and replies
   that do not fit the file fail.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (  # noqa: E402
    REPO_ROOT, OpenApi, Resp, Server, assert_error, main, mp_pack, ok, openapi)
import unittest  # noqa: E402

try:
    import jsonschema  # noqa: F401
    import yaml  # noqa: F401
except ImportError as e:  # make deps installs both (scripts/install-deps.sh)
    raise SystemExit("test_openapi needs python3-yaml and python3-jsonschema "
                     "(run make deps): %s" % e)

# route files that route nothing: HTTP/1.1 framing, request and reply helpers
NOT_ROUTE_FILES = {"http1.c", "http_request.c", "http_reply.c"}
# words the route files compare that are no part of a route
NOT_ROUTE_WORDS = {"localhost",  # http.c: the --listen host
                   "application/json"}  # http_blob.c: the Content-Type of the JSON form

TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', re.S)
PATH_LITERAL = re.compile(r"/[A-Za-z0-9_.:-]+(?:/[A-Za-z0-9_.:-]*)*")
WORD = re.compile(r"[a-z][a-z0-9_]*(?:/[a-z0-9_]+)*")
# where a word is a route: compared with (str[n]cmp(x, "w")) or the first
# column of a table row ({"w", ...})
WORD_USE = re.compile(r'str(?:n)?(?:case)?cmp\s*\([^;{}]*?,\s*"([^"]*)"|\{\s*"([^"]*)"\s*,')


def route_files():
    files = sorted(glob.glob(os.path.join(REPO_ROOT, "transport", "http*.c")))
    return [f for f in files if os.path.basename(f) not in NOT_ROUTE_FILES]


def strip_comments(src):
    """src with comments blanked (strings kept), so literals in comments do
    not count."""
    return TOKEN.sub(lambda m: " " if m.group(0).startswith("/") else m.group(0), src)


class SourceRoutes:
    """The path literals and route words of the route files, with where."""

    def __init__(self):
        self.paths = []  # (literal, file:line)
        self.words = []
        for f in route_files():
            with open(f, encoding="utf-8") as fh:
                code = strip_comments(fh.read())
            name = os.path.relpath(f, REPO_ROOT)
            for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', code):
                lit = m.group(1)
                if PATH_LITERAL.fullmatch(lit):
                    self.paths.append((lit, "%s:%d" % (name, code.count("\n", 0, m.start()) + 1)))
            for m in WORD_USE.finditer(code):
                w = m.group(1) if m.group(1) is not None else m.group(2)
                if WORD.fullmatch(w):
                    self.words.append((w, "%s:%d" % (name, code.count("\n", 0, m.start()) + 1)))


def names_in(obj, out):
    """Every parameter name and schema property name in the file."""
    if isinstance(obj, dict):
        if isinstance(obj.get("name"), str) and obj.get("in"):
            out.add(obj["name"])
        props = obj.get("properties")
        if isinstance(props, dict):
            out.update(props)
        for v in obj.values():
            names_in(v, out)
    elif isinstance(obj, list):
        for v in obj:
            names_in(v, out)
    return out


# sample values of path parameters: keys with a "/" in them, encoded and raw
SAMPLES = {"key": "k%2Fx/y", "blobKey": "k%2Fx/y", "ns": "probe-ns", "id": "A" * 43, "userId": "u%2F1"}

MADE_UP = ["/", "/nope", "/storage", "/storagex/k", "/api", "/api/storage/kv/",
           "/api/storage/kv", "/api/storagex", "/api/storage/d1/probe-ns/nope",
           "/api/storage/d1/", "/api/storage/d1/probe-ns",
           "/api/storage/r2", "/api/storage/r2x/probe-ns", "/auth", "/auth/", "/auth/nope", "/auth/users/x",
           "/api/resources", "/api/resources/", "/api/resources/nope", "/ratelimit",
           "/ratelimit/", "/healthz/x", "/metrics/x", "/sessionsx", "/users/x",
           "/users/x/sessions/", "/users//sessionsx", "/_errinj/x", "/console", "/x/storage/k"]

PROBE_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


def instantiate(template):
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLES[m.group(1)], template)


def refused_by_router(r):
    """405, or 404 "no such route": the router found no handler."""
    if r.status == 405:
        return True
    if r.status == 404 and isinstance(r.body, dict):
        return (r.body.get("error") or {}).get("message") == "no such route"
    return False


class OpenApiSource(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = OpenApi()
        cls.templates = list(cls.api.doc["paths"])
        cls.names = names_in(cls.api.doc, set())

    def test_route_files_found(self):
        files = [os.path.basename(f) for f in route_files()]
        for f in ("http.c", "http_kv.c", "http_auth.c"):
            self.assertIn(f, files)
        src = SourceRoutes()
        self.assertIn("/healthz", [p for p, _ in src.paths])
        self.assertIn("batch/get", [w for w, _ in src.words])

    def test_every_path_literal_is_in_the_file(self):
        missing = []
        for lit, where in SourceRoutes().paths:
            piece = lit.rstrip("/")
            if piece and not any(piece in t for t in self.templates):
                missing.append("%s (%s)" % (lit, where))
        self.assertEqual(missing, [], "route paths in the C code that docs/openapi.yaml "
                         "does not have (add the route to the file)")

    def test_every_route_word_is_in_the_file(self):
        missing = []
        for w, where in SourceRoutes().words:
            seg = re.compile(r"/" + re.escape(w) + r"(?:/|$)")
            if w in self.names or w in NOT_ROUTE_WORDS or any(seg.search(t) for t in self.templates):
                continue
            missing.append("%s (%s)" % (w, where))
        self.assertEqual(missing, [], "route words in the C code that are no path segment "
                         "or parameter of docs/openapi.yaml (add the route to the file)")

    def test_schemas_compile(self):
        import jsonschema
        n = 0
        for template, method, op in self.api.operations():
            self.assertIn("default", op["responses"], "%s %s" % (method, template))
            for status, resp in op["responses"].items():
                resp = self.api.resolve(resp)
                self.assertTrue(resp.get("description"), "%s %s %s" % (method, template, status))
                for ctype, c in resp.get("content", {}).items():
                    if "schema" in c:
                        self.api._validator((template, op.get("operationId"), "compile:" +
                                             str(status), ctype), c["schema"])
                        n += 1
        self.assertGreater(n, 50)
        schemas = self.api.doc["components"]["schemas"]
        codes = schemas["ErrorCode"]["enum"]
        with open(os.path.join(REPO_ROOT, "include", "duro", "status.h")) as f:
            table = re.findall(r'X\((\w+), \d+, "(\w+)", (\d+),', f.read())
        self.assertEqual(sorted(codes), sorted(w for _, w, h in table if int(h) >= 400),
                         "ErrorCode is every error row of include/duro/status.h")
        jsonschema.Draft202012Validator.check_schema(schemas["Error"])

    def test_operation_ids_unique(self):
        ids = [op.get("operationId") for _, _, op in self.api.operations()]
        # aliases ($ref path items: /sessions/ ...) share their target's operations
        aliases = {t for t, item in self.api.doc["paths"].items() if "$ref" in item}
        own = [op.get("operationId") for t, _, op in self.api.operations() if t not in aliases]
        self.assertEqual(len(own), len(set(own)))
        self.assertTrue(all(ids), "every operation has an operationId")


class OpenApiMatcher(unittest.TestCase):
    """The path matching of the validation hook."""

    @classmethod
    def setUpClass(cls):
        cls.api = OpenApi()

    def m(self, method, path):
        t, op = self.api.match(method, path)
        return t, op and op.get("operationId")

    def test_matching(self):
        m = self.m
        self.assertEqual(m("GET", "/storage/a%2Fb"), ("/storage/{key}", "kvGet"))
        self.assertEqual(m("GET", "/storage/a/b?ns=x&meta=1"), ("/storage/{key}", "kvGet"))
        self.assertEqual(m("HEAD", "/storage/a"), ("/storage/{key}", "kvGet"))
        self.assertEqual(m("GET", "/storage/list?limit=2"), ("/storage/list", "kvList"))
        self.assertEqual(m("PUT", "/storage/list"), ("/storage/{key}", "kvPut"))
        self.assertEqual(m("POST", "/storage/batch/get"), ("/storage/batch/get", "kvBatchGet"))
        self.assertEqual(m("GET", "/storage/batch/get"), ("/storage/{key}", "kvGet"))
        self.assertEqual(m("PATCH", "/storage/k"), ("/storage/{key}", None))
        self.assertEqual(m("GET", "/api/storage/kv/ns1"), ("/api/storage/kv/{ns}", "apiKvList"))
        self.assertEqual(m("GET", "/api/storage/kv/ns1/"), ("/api/storage/kv/{ns}/", "apiKvList"))
        self.assertEqual(m("PUT", "/api/storage/kv/ns1/a%2F%2Fb"),
                         ("/api/storage/kv/{ns}/{key}", "apiKvPut"))
        self.assertEqual(m("PUT", "/api/storage/kv/ns1"), ("/api/storage/kv/{ns}", None))
        self.assertEqual(m("POST", "/ratelimit/a%2Fb/check"),
                         ("/ratelimit/{key}/check", "ratelimitCheck"))
        # /check is POST only: a GET there is the check path without an operation (405)
        self.assertEqual(m("GET", "/ratelimit/a/check"), ("/ratelimit/{key}/check", None))
        self.assertEqual(m("GET", "/ratelimit/a%2Fcheck"), ("/ratelimit/{key}", "ratelimitGet"))
        self.assertEqual(m("POST", "/ratelimit/a"), ("/ratelimit/{key}", None))
        self.assertEqual(m("GET", "/users/a/b/sessions"),
                         ("/users/{userId}/sessions", "sessionListUser"))
        self.assertEqual(m("POST", "/sessions/"), ("/sessions/", "sessionCreate"))
        self.assertEqual(m("GET", "/sessions/"), ("/sessions/", None))
        self.assertEqual(m("PATCH", "/api/storage?ns=a"), ("/api/storage", "snapshotPatch"))
        self.assertEqual(m("GET", "/nope"), (None, None))
        self.assertEqual(m("GET", "/api/storage/kv/"), (None, None))

    def resp(self, status, body, ctype="application/json"):
        raw = mp_pack(body) if ctype == "application/msgpack" else b"x"
        return Resp(status, {"content-type": ctype}, body, raw)

    def test_hook_accepts_fitting_replies(self):
        c = self.api.check_reply
        c("PUT", "/storage/a%2Fb", self.resp(200, {"success": True, "data": {"version": 3}}))
        c("GET", "/storage/a", self.resp(200, {"success": True, "data": [1, {"x": None}]}))
        c("GET", "/storage/a", self.resp(200, {"success": True, "data": b"\x00"},
                                          "application/msgpack"))
        c("GET", "/nope", self.resp(404, {"success": False, "error": {
            "code": "NOT_FOUND", "message": "no such route"}}))
        c("GET", "/api/resources/list", self.resp(200, {
            "resources": [], "total": 0, "offset": 0, "limit": 100, "has_more": False}))
        c("HEAD", "/storage/a", Resp(200, {"content-type": "application/json"}, b"", b""))
        c("OPTIONS", "/anything", Resp(204, {}, b"", b""))

    def test_hook_refuses_replies_that_do_not_fit(self):
        c = self.api.check_reply
        bad = [
            ("PUT", "/storage/a", self.resp(200, {"success": True, "data": {"version": "3"}})),
            ("PUT", "/storage/a", self.resp(200, {"success": True, "data": {"version": 3,
                                                                               "extra": 1}})),
            ("PUT", "/storage/a", self.resp(201, {"success": True, "data": {"version": 3}})),
            ("GET", "/storage/a", self.resp(404, {"success": False, "error": {
                "code": "NO_SUCH_CODE", "message": "x"}})),
            ("GET", "/storage/a", self.resp(500, {"success": False, "error": {
                "code": "INTERNAL", "message": ""}})),
            ("GET", "/nope", self.resp(200, {"success": True, "data": 1})),
            ("GET", "/api/resources/list", self.resp(200, {"success": True, "data": {}})),
            ("GET", "/storage/list", self.resp(200, {"success": True, "data": {
                "keys": [], "cursor": None}}, "application/msgpack")),
            ("GET", "/storage/a", Resp(200, {"content-type": "application/json"}, b"{", b"{")),
            ("GET", "/storage/a", Resp(200, {"content-type": "text/html"}, b"x", b"x")),
            ("GET", "/storage/a", Resp(200, {"content-type": "application/json", "etag": "W/1"},
                                       {"success": True, "data": 1}, b"x")),
        ]
        for method, path, r in bad:
            with self.assertRaises(AssertionError, msg="%s %s %r" % (method, path, r.body)):
                c(method, path, r)


class OpenApiServer(unittest.TestCase):
    """Probes a durod for the exact routes and methods of the file."""

    @classmethod
    def setUpClass(cls):
        cls.api = OpenApi()
        cls.srv = Server(extra_args=["--errinj"])

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.srv.stop()
            if rc != 0:
                raise AssertionError("durod exit code %r\n%s" % (rc, cls.srv.log_tail()))
        finally:
            cls.srv.close()

    def req(self, method, path, **kw):
        # the probes fall outside the API on purpose: the hook is not asked
        return self.srv.req(method, path, check_openapi=False, **kw)

    def test_hook_is_on(self):
        self.assertIsNotNone(openapi(), "durotest validates replies against docs/openapi.yaml")

    def test_every_path_and_method_of_the_file_is_routed_and_no_other(self):
        wrong = []
        for template in self.api.doc["paths"]:
            path = instantiate(template)
            for method in PROBE_METHODS:
                r = self.req(method, path)
                _, op = self.api.match(method, path)
                routed = not refused_by_router(r)
                if routed != (op is not None):
                    wrong.append("%s %s (%s): the file says %s, the server %s" % (
                        method, path, template, "routed" if op else "not routed",
                        "routed it: %r" % (r,) if routed else "refused it: %r" % (r,)))
        self.assertEqual(wrong, [])

    def test_made_up_paths_are_not_routed(self):
        wrong = []
        for path in MADE_UP:
            for method in PROBE_METHODS:
                r = self.req(method, path)
                t, op = self.api.match(method, path)
                if t is not None:
                    wrong.append("%s %s matches %s in the file" % (method, path, t))
                if r.status != 404 or not refused_by_router(r):
                    wrong.append("%s %s: %r" % (method, path, r))
                else:
                    assert_error(r, 404, "NOT_FOUND")
        self.assertEqual(wrong, [])

    def test_query_parameters(self):
        wrong = []
        aliases = {t for t, item in self.api.doc["paths"].items() if "$ref" in item}
        for template, method, op in self.api.operations():
            if template in aliases:
                continue
            item = self.api.resolve(self.api.doc["paths"][template])
            params = [self.api.resolve(p) for p in item.get("parameters", []) +
                      op.get("parameters", [])]
            path = instantiate(template)
            for p in params:
                if p["in"] != "query":
                    continue
                value = "5" if p["name"] in ("limit", "offset") else \
                    "1" if "QueryFlag" in str(p.get("schema")) else \
                    "probe-ns" if p["name"] in ("ns", "namespace") else "a"
                r = self.req(method.upper(), "%s?%s=%s" % (path, p["name"], value))
                msg = (r.body.get("error") or {}).get("message", "") \
                    if isinstance(r.body, dict) else ""
                if msg.startswith("unknown query parameter"):
                    wrong.append("%s %s: %s is refused: %r" % (method, template, p["name"], r))
            r = self.req(method.upper(), path + "?zzprobe=1")
            msg = (r.body.get("error") or {}).get("message", "") \
                if isinstance(r.body, dict) else ""
            if r.status != 400 or not msg.startswith("unknown query parameter"):
                wrong.append("%s %s: an unknown query parameter is not refused: %r"
                             % (method, template, r))
        self.assertEqual(wrong, [])

    def test_real_replies_validate(self):
        """A few requests through the hook (every other test module does
        the same with all of its requests)."""
        srv = self.srv
        ok(srv.req("PUT", "/storage/a%2Fb?ns=probe-v", {"value": {"x": [1]}, "ttlMs": 60000}))
        ok(srv.req("GET", "/storage/a%2Fb?ns=probe-v&meta=1", accept_msgpack=True))
        ok(srv.req("GET", "/storage/list?ns=probe-v&values=1"))
        ok(srv.req("GET", "/_errinj"))
        assert_error(srv.req("PUT", "/storage/a?ns=probe-v", b"{", headers={
            "Content-Type": "application/json"}), 400, "BAD_REQUEST")
        r = srv.req("GET", "/api/storage?ns=probe-v")
        self.assertEqual(r.status, 200)
        self.assertEqual(srv.req("GET", "/healthz").raw, b"ok\n")


if __name__ == "__main__":
    main()
