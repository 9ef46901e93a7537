"""
durotest.py — harness for the durod integration tests.

Each test module starts one or more real `durod` processes on a free loopback
port with a temporary data directory and talks HTTP or the binary protocol to
them:

    srv = Server(extra_args=["--ttl-sweep-ms", "50"])   # started at once
    r = srv.req("PUT", kv_path("k", ns="a"), {"value": 1})
    data = ok(r)                      # asserts the success envelope
    assert_error(srv.req("GET", kv_path("nope")), 404, "NOT_FOUND")
    srv.stop()                        # SIGTERM, expects exit code 0

    srv = Server(rpc=True)            # also the binary protocol, on srv.rpc_port
    c = Rpc(srv.rpc_port)             # [msgid, op, ns, args] frames
    status, body = c.call("kv.get", "a", {"key": "k"})
    srv.req("GET", "/metrics", headers=bearer(jwt(SECRET, {"ns": "*"})))

This is the one implementation of the binary protocol's framing (frame(),
split_frames(), Rpc) and of HS256 JWT minting (jwt()) for every test module,
the CLI's tests (tests/cli/clitest.py) included.

Rules kept here: only the PIDs of servers this harness started are ever
signalled; every socket operation has a timeout; every module runs under a
watchdog (main()) that kills its own servers and exits non-zero on a hang.

Runs with /usr/bin/python3 (stdlib + Debian python3-msgpack; python3-yaml and
python3-jsonschema to check every reply against docs/openapi.yaml). The binary comes
from $DURO_BIN (default build/durod under the repository root).
"""

import base64
import ctypes
import faulthandler
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import msgpack

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUEST_TIMEOUT = 15.0      # seconds per HTTP request
START_TIMEOUT = 10.0        # seconds until /healthz answers 200
STOP_TIMEOUT = 20.0         # seconds for a SIGTERM'd server to exit

_live_servers = []          # Server objects whose process may still run
_live_lock = threading.Lock()


# --------------------------------------------------------------------------
# binary, ports, process plumbing

def build_path(env, default):
    """$env, else default; a relative path is taken from the current directory
    when it exists there, else from the repository root."""
    b = os.environ.get(env) or default
    if not os.path.isabs(b):
        if os.path.exists(b):
            b = os.path.abspath(b)
        else:
            b = os.path.join(REPO_ROOT, b)
    return b


def duro_bin():
    b = build_path("DURO_BIN", "build/durod")
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        raise RuntimeError("durod binary not found at %s (set DURO_BIN)" % b)
    return b


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _pdeathsig():
    # The server dies with the test process (Linux PR_SET_PDEATHSIG=1, SIGKILL).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def run_to_end(argv, input=None, env=None, timeout=10.0):
    """Runs argv to completion with input (str or bytes) on its stdin and env
    added to the environment. Returns (exit code, stdout, stderr) as str. If
    it is still running after `timeout` seconds it is killed (its own PID
    only) and the exit code is None."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=full_env, preexec_fn=_pdeathsig)
    if isinstance(input, str):
        input = input.encode()
    try:
        out, err = p.communicate(input=input, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        rc = None
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def run_durod(args, env=None, timeout=10.0):
    """Runs durod with args to completion (for --help, bad flags, ...); see
    run_to_end()."""
    return run_to_end([duro_bin()] + list(args), env=env, timeout=timeout)


# --------------------------------------------------------------------------
# responses

class Resp(tuple):
    """(status, headers, body) — headers is a dict with lower-cased names,
    body is parsed JSON, parsed msgpack, or raw bytes (other content types).
    Also .status .headers .body .raw (the undecoded bytes)."""

    def __new__(cls, status, headers, body, raw):
        self = tuple.__new__(cls, (status, headers, body))
        self.raw = raw
        return self

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        raw = self.raw if len(self.raw) <= 400 else self.raw[:400] + b"..."
        return "<Resp %s %r %r>" % (self[0], self[1].get("content-type"), raw)


def parse_body(headers, raw):
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" and raw:
        try:
            return json.loads(raw.decode("utf-8"))
        except Exception:
            return raw
    if ctype == "application/msgpack" and raw:
        try:
            return mp_unpack(raw)
        except Exception:
            return raw
    return raw


def _mk_resp(r, raw):
    headers = {}
    for k, v in r.getheaders():
        k = k.lower()
        headers[k] = headers[k] + ", " + v if k in headers else v
    return Resp(r.status, headers, parse_body(headers, raw), raw)


def assert_error(resp, status, code, msg=""):
    """The error envelope {"success":false,"error":{"code":CODE,"message":str}}
    with the given HTTP status."""
    st, hdrs, body = resp
    where = "%s%s" % (msg + ": " if msg else "", repr(resp))
    if st != status or not isinstance(body, dict):
        raise AssertionError("expected %d %s, got %s" % (status, code, where))
    ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/msgpack"):
        raise AssertionError("error body is not JSON/msgpack: " + where)
    err = body.get("error")
    if body.get("success") is not False or not isinstance(err, dict):
        raise AssertionError("not an error envelope: " + where)
    if err.get("code") != code:
        raise AssertionError("expected code %s, got %s" % (code, where))
    if not isinstance(err.get("message"), str) or not err["message"]:
        raise AssertionError("error.message missing or empty: " + where)


def ok(resp, status=200, msg=""):
    """Asserts the success envelope and returns `data`."""
    st, hdrs, body = resp
    where = "%s%r" % (msg + ": " if msg else "", resp)
    if st != status:
        raise AssertionError("expected %d, got %s" % (status, where))
    if not isinstance(body, dict) or body.get("success") is not True or "data" not in body:
        raise AssertionError("not a success envelope: " + where)
    return body["data"]


def etag_version(resp):
    """The integer in an ETag header of the form "\"<n>\""."""
    et = resp.headers.get("etag")
    if et is None or not re.fullmatch(r'"\d+"', et):
        raise AssertionError("bad or missing ETag %r in %r" % (et, resp))
    return int(et.strip('"'))


# --------------------------------------------------------------------------
# the OpenAPI file (docs/openapi.yaml): route matching and reply validation
#
# Every HTTP reply Server.req() gets is checked against docs/openapi.yaml
# (check_reply()), so each integration test also tests the file:
# - the request's path (still percent-encoded) and method must match an
#   operation of the file, unless the reply is an error (an unknown route is
#   404, a wrong method 405: tests send those on purpose); a success reply to
#   a request the file does not describe fails the test;
# - the status must be one the operation lists, or its "default" (the error
#   body), and a JSON or msgpack body (msgpack decoded as Resp does) must
#   validate against that response's schema (JSON Schema 2020-12, which
#   OpenAPI 3.1 schemas are); other content types must be ones it lists, and
#   the headers the response lists (ETag, RateLimit-*, ...) must fit their
#   schemas when present.
# A failure raises AssertionError in the request, so it fails the test that
# made it. On only when PyYAML and jsonschema import (Debian python3-yaml and
# python3-jsonschema, from scripts/install-deps.sh) and DURO_OPENAPI is not
# "0". Validators are compiled once per (path, method, status, content type).

OPENAPI_FILE = os.path.join(REPO_ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")


class OpenApi:
    """docs/openapi.yaml, loaded: match(method, path) and check_reply()."""

    def __init__(self, path=OPENAPI_FILE):
        import yaml
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(path, "rb") as f:
            self.doc = yaml.load(f, Loader=loader)
        self._validators = {}
        self._lock = threading.Lock()
        self.routes = []  # (template, regex, path item), most specific first
        for template, item in self.doc["paths"].items():
            item = self.resolve(item)
            params = {}
            for p in [self.resolve(p) for p in item.get("parameters", [])] + [
                    self.resolve(p) for m in METHODS if m in item
                    for p in item[m].get("parameters", [])]:
                if p.get("in") == "path":
                    params[p["name"]] = p.get("x-duro-match", "[^/]+")
            rx, literal, nparams, pos = "", 0, 0, 0
            for m in re.finditer(r"\{([^}]+)\}", template):
                rx += re.escape(template[pos:m.start()])
                literal += m.start() - pos
                if m.group(1) not in params:
                    raise ValueError("%s: path parameter {%s} is not defined"
                                     % (template, m.group(1)))
                rx += "(?:%s)" % params[m.group(1)]
                nparams += 1
                pos = m.end()
            rx += re.escape(template[pos:])
            literal += len(template) - pos
            self.routes.append(((nparams, -literal), template, re.compile(rx + r"\Z"), item))
        self.routes.sort(key=lambda r: r[0])
        self.routes = [r[1:] for r in self.routes]

    def resolve(self, obj):
        """obj, or what its "$ref" (a local JSON pointer) points at."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("only local $refs: %r" % ref)
            obj = self.doc
            for part in ref[2:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
            if seen > 20:
                raise ValueError("$ref loop at %r" % ref)
        return obj

    def match(self, method, path):
        """(template, operation) of a request: the operation is None when
        the path matches but no matching path has the method (405), and both
        are None when no path matches (404). HEAD is GET."""
        path = path.split("?", 1)[0]
        method = method.lower()
        if method == "head":
            method = "get"
        first = None
        for template, rx, item in self.routes:
            if rx.match(path):
                if method in item:
                    return template, item[method]
                if first is None:
                    first = template
        return first, None

    def operations(self):
        """(template, method, operation) of every operation."""
        for template, item in self.doc["paths"].items():
            item = self.resolve(item)
            for m in METHODS:
                if m in item:
                    yield template, m, item[m]

    def _validator(self, key, schema):
        with self._lock:
            v = self._validators.get(key)
            if v is None:
                import jsonschema
                root = dict(schema)
                # the file's components, so that "#/components/..." resolves
                root["components"] = self.doc.get("components", {})
                jsonschema.Draft202012Validator.check_schema(root)
                v = self._validators[key] = jsonschema.Draft202012Validator(root)
            return v

    def check_reply(self, method, path, resp):
        """Raises AssertionError when resp does not fit the file."""
        if method.upper() == "OPTIONS" and resp.status == 204:
            return  # the CORS preflight, on every path (not listed per path)
        template, op = self.match(method, path)
        where = "%s %s -> %r" % (method, path, resp)
        if op is None:
            if resp.status < 400:
                raise AssertionError(
                    "docs/openapi.yaml has no operation %s %s (path %s), but the server "
                    "answered it: %s" % (method.upper(), template or path.split("?")[0],
                                         template or "unmatched", where))
            template, opname = "<no route>", "<error>"
            response = self.doc["components"]["responses"]["Error"]
        else:
            opname = op.get("operationId", method)
            responses = op.get("responses", {})
            response = responses.get(str(resp.status), responses.get("default"))
            if response is None:
                raise AssertionError("docs/openapi.yaml: status %d is not a response of %s %s: %s"
                                     % (resp.status, method.upper(), template, where))
            response = self.resolve(response)
            if str(resp.status) not in responses and resp.status < 400:
                raise AssertionError("docs/openapi.yaml: success status %d is not listed for "
                                     "%s %s: %s" % (resp.status, method.upper(), template, where))
        for name, h in response.get("headers", {}).items():
            h = self.resolve(h)
            value = resp.headers.get(name.lower())
            if value is not None and "schema" in h:
                v = self._validator((template, opname, resp.status, "header " + name), h["schema"])
                errors = list(v.iter_errors(value))
                if errors:
                    raise AssertionError("header %s: %r does not fit docs/openapi.yaml (%s %s, "
                                         "status %d): %s: %s" % (name, value, method.upper(),
                                                                 template, resp.status,
                                                                 errors[0].message[:200], where))
        if method.upper() == "HEAD" or not resp.raw:
            return
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        content = response.get("content", {})
        if ctype not in content and "*/*" in content:
            return  # any type: a blob's bytes
        if ctype not in content:
            raise AssertionError("docs/openapi.yaml: %s %s status %d has no content type %r: %s"
                                 % (method.upper(), template, resp.status, ctype, where))
        if ctype not in ("application/json", "application/msgpack"):
            return
        schema = content[ctype].get("schema")
        if schema is None:
            return
        v = self._validator((template, opname, resp.status, ctype), schema)
        body = resp.body
        if isinstance(body, (bytes, bytearray)):
            raise AssertionError("the %s body does not parse: %s" % (ctype, where))
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            raise AssertionError("reply does not fit docs/openapi.yaml (%s %s, status %d): %s "
                                 "at %s: %s" % (method.upper(), template, resp.status,
                                                e.message[:300], "/".join(
                                                    str(p) for p in e.absolute_path) or "the body",
                                                where))


_openapi = None
_openapi_lock = threading.Lock()


def openapi():
    """The loaded docs/openapi.yaml (OpenApi), or None when the check is off
    (DURO_OPENAPI=0, or PyYAML or jsonschema missing)."""
    global _openapi
    with _openapi_lock:
        if _openapi is None:
            _openapi = False
            if os.environ.get("DURO_OPENAPI", "1") != "0":
                try:
                    import jsonschema  # noqa: F401
                    import yaml  # noqa: F401
                except ImportError as e:
                    sys.stderr.write("durotest: replies are not checked against "
                                     "docs/openapi.yaml (%s; run make deps)\n" % e)
                else:
                    _openapi = OpenApi()
        return _openapi or None


# --------------------------------------------------------------------------
# paths

def q(s):
    """Percent-encodes every byte outside [A-Za-z0-9_.~-] (so '/' is %2F)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return urllib.parse.quote(s, safe="")


def query_string(query):
    """?k=v&... of the items whose value is not None (both percent-encoded),
    or "" when there are none."""
    items = [(k, v) for k, v in query.items() if v is not None]
    if not items:
        return ""
    return "?" + "&".join("%s=%s" % (q(k), q(str(v))) for k, v in items)


def kv_path(key, ns=None, **query):
    """/storage/<key>?ns=..&... (key percent-encoded)."""
    query = dict(query)
    if ns is not None:
        query = dict([("ns", ns)] + list(query.items()))
    return "/storage/" + q(key) + query_string(query)


def storage_path(sub, ns=None, **query):
    """/storage/<sub> for the reserved routes (list, batch/get, clear, ...)."""
    query = dict(query)
    if ns is not None:
        query = dict([("ns", ns)] + list(query.items()))
    return "/storage/" + sub + query_string(query)


def api_path(ns, key=None, **query):
    """/api/storage/kv/<ns>[/<key>]?..."""
    p = "/api/storage/kv/" + q(ns)
    if key is not None:
        p += "/" + q(key)
    return p + query_string(query)


_ns_counter = itertools.count(1)


def unique_ns(hint="t"):
    hint = re.sub(r"[^A-Za-z0-9]+", "-", hint).strip("-")[-40:] or "t"
    return "%s-%d-%d" % (hint, os.getpid() % 100000, next(_ns_counter))


# --------------------------------------------------------------------------
# msgpack and the binary protocol (docs/protocol.md): a frame is a 4-byte
# big-endian length, then that many bytes of msgpack; requests are
# [msgid, op, ns, args], replies [msgid, status, body].

def mp_pack(v):
    """v as msgpack (str as str, bytes as bin)."""
    return msgpack.packb(v, use_bin_type=True)


def mp_unpack(b):
    """The one msgpack object in b (str as str, map keys of any type)."""
    return msgpack.unpackb(b, raw=False, strict_map_key=False)


def exchange(port, data, timeout=10.0):
    """Sends data to 127.0.0.1:port and returns every byte the server sends
    until it closes the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def frame_header(n):
    """The length that starts a frame of n bytes (n need not be the truth)."""
    return struct.pack(">I", n)


def frame_payload(payload):
    """The bytes payload, well-formed msgpack or not, as one frame."""
    return frame_header(len(payload)) + payload


def frame(obj):
    """obj (a request [msgid, op, ns, args], or anything else) as one frame."""
    return frame_payload(mp_pack(obj))


def split_frames(buf):
    """(the messages of the whole frames at the start of buf, the bytes left
    after them: the start of a frame not complete yet)."""
    msgs = []
    while len(buf) >= 4:
        (n,) = struct.unpack(">I", buf[:4])
        if len(buf) < 4 + n:
            break
        msgs.append(mp_unpack(buf[4:4 + n]))
        buf = buf[4 + n:]
    return msgs, buf


class St:
    """The status numbers of the binary protocol (version 2): the stable
    numbers of include/duro/status.h's table. Spelled out on purpose — they
    may never change; test_rpc.py checks them against the header and the wire."""
    OK = 0
    NOT_FOUND = 1
    BAD_REQUEST = 2
    UNAUTHORIZED = 3
    FORBIDDEN = 4
    METHOD_NOT_ALLOWED = 5
    CONFLICT = 6
    PRECONDITION_FAILED = 7
    PAYLOAD_TOO_LARGE = 8
    UNSUPPORTED_MEDIA_TYPE = 9
    RATE_LIMITED = 10
    INTERNAL = 11
    UNAVAILABLE = 12
    INSUFFICIENT_STORAGE = 13
    LOCKED = 14
    IO = 15
    NOMEM = 16
    CREATED = 17  # success: the write created its target (HTTP 201)
    NOT_MODIFIED = 18  # a blob's If-None-Match matched (HTTP 304)
    RANGE_NOT_SATISFIABLE = 19  # HTTP 416


PROTOCOL_VERSION = 2
PONG = {"pong": True, "protocol": PROTOCOL_VERSION}  # the body of ping's reply


class Rpc:
    """A binary-protocol connection to 127.0.0.1:port."""

    def __init__(self, port, timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.next_id = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        """Sends bytes as they are (frames, parts of frames, garbage)."""
        self.s.sendall(data)

    def send_frame(self, payload):
        """Sends the bytes payload as one frame (see frame_payload())."""
        self.s.sendall(frame_payload(payload))

    def send(self, obj):
        """Sends obj, e.g. [msgid, op, ns, args], as one frame."""
        self.s.sendall(frame(obj))

    def _read(self, n):
        d = b""
        while len(d) < n:
            chunk = self.s.recv(n - len(d))
            if not chunk:
                return None
            d += chunk
        return d

    def recv(self):
        """The next reply [msgid, status, body], or None when the server
        closed the connection."""
        h = self._read(4)
        if h is None:
            return None
        (n,) = struct.unpack(">I", h)
        d = self._read(n)
        return None if d is None else mp_unpack(d)

    def call(self, op, ns, args, msgid=None):
        """Sends one request and returns (status, body) of its reply; msgid
        defaults to the connection's next one (1, 2, ...)."""
        if msgid is None:
            msgid = self.next_id
            self.next_id += 1
        self.send([msgid, op, ns, args])
        r = self.recv()
        assert r is not None, "rpc connection closed by the server"
        assert r[0] == msgid, r
        return r[1], r[2]

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


# --------------------------------------------------------------------------
# access: HS256 JWTs as --jwt-secret checks them (transport/access.c)

def b64url(b):
    """base64url without padding, as str."""
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(secret, claims, alg="HS256", header=None):
    """A JWT of claims signed with HMAC-SHA256 under secret. header defaults
    to {"alg": alg, "typ": "JWT"}; the signature is HS256 whatever alg or
    header say (to test that the server refuses other algorithms)."""
    h = header or {"alg": alg, "typ": "JWT"}
    signing = b64url(json.dumps(h).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def bearer(token):
    """The Authorization header of token (an admin token or a JWT)."""
    return {"Authorization": "Bearer " + token}


# --------------------------------------------------------------------------
# the server

class ServerError(AssertionError):
    pass


class Server:
    """One durod on a free loopback port (self.port) with a temporary data
    directory (or data_dir). With rpc=True it also serves the binary protocol
    on a free port of its own (self.rpc_port), chosen at every start; else
    the binary protocol is off unless extra_args has --rpc-port."""

    def __init__(self, extra_args=(), data_dir=None, env=None, start=True, rpc=False):
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.rpc = rpc
        self.rpc_port = None
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="durotest-")
        self.keep_data = False
        self.log_dir = tempfile.mkdtemp(prefix="durotest-log-")
        self.log_path = None
        self.proc = None
        self.port = None
        self.starts = 0
        self._local = threading.local()
        if start:
            self.start()

    # -- lifecycle --------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except Exception:
            return ""

    def start(self, timeout=START_TIMEOUT):
        """Starts durod on new free ports and waits until /healthz answers 200
        (and, with rpc=True, the binary-protocol port accepts). A start that
        fails because a port was taken meanwhile is tried again (3 times)."""
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except ServerError as e:
                if attempt == 2 or "cannot listen" not in str(e):
                    raise

    def _start_once(self, timeout):
        if self.alive():
            raise ServerError("server already running")
        self.port = free_port()
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, "durod.%d.log" % self.starts)
        env = dict(os.environ)
        env.update(self.env)
        args = [duro_bin(), "--listen", "127.0.0.1:%d" % self.port,
                "--data", self.data_dir, "--log-level", "warn"] + self.extra_args
        if self.rpc:
            self.rpc_port = free_port()
            while self.rpc_port == self.port:
                self.rpc_port = free_port()
            args += ["--rpc-port", str(self.rpc_port)]
        elif not any(a.startswith("--rpc-port") for a in self.extra_args):
            args += ["--rpc-port", "0"]  # no fixed port shared by parallel tests
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=_pdeathsig)
        with _live_lock:
            _live_servers.append(self)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._forget()
                raise ServerError("durod exited with %s at start: %s\n%s" % (
                    self.proc.returncode, " ".join(args), self.log_tail()))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200 and self._rpc_ready():
                    return self
                last = "status %d" % r.status
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.02)
        self.kill()
        raise ServerError("durod did not answer /healthz within %.0fs (%s)\n%s" % (
            timeout, last, self.log_tail()))

    def _rpc_ready(self):
        if not self.rpc:
            return True
        try:
            with socket.create_connection(("127.0.0.1", self.rpc_port), timeout=1.0):
                return True
        except OSError:
            return False

    def _forget(self):
        self._close_conns()
        with _live_lock:
            if self in _live_servers:
                _live_servers.remove(self)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait; returns the exit code (None if not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self._forget()
                raise ServerError("durod did not exit within %.0fs of SIGTERM\n%s" % (
                    timeout, self.log_tail()))
        self._forget()
        return self.proc.returncode

    def stop_ok(self):
        rc = self.stop()
        if rc != 0:
            raise ServerError("durod exited with %r after SIGTERM (expected 0)\n%s" % (
                rc, self.log_tail()))

    def kill(self):
        """SIGKILL this server's own PID and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._forget()

    def restart(self, hard=False):
        """Stops (SIGTERM, expecting exit 0, or SIGKILL if hard) and starts
        again on the same data directory (a new port)."""
        if hard:
            self.kill()
        else:
            self.stop_ok()
        return self.start()

    def close(self):
        """Kills whatever still runs and removes the temp dirs (the data dir
        only when the harness created it and keep_data is not set)."""
        try:
            if self.alive():
                self.stop()
        except ServerError:
            pass
        finally:
            self.kill()
            if self.own_dir and not self.keep_data:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- HTTP -----------------------------------------------------------

    def _conn(self, fresh=False):
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
            with _live_lock:
                self._all_locals = getattr(self, "_all_locals", [])
                self._all_locals.append(conns)
        c = conns.get(self.port)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            c.duro_used = 0
            conns[self.port] = c
        return c

    def _close_conns(self):
        for conns in getattr(self, "_all_locals", []):
            for c in list(conns.values()):
                try:
                    c.close()
                except Exception:
                    pass
            conns.clear()

    def req(self, method, path, body=None, headers=None, msgpack=False,
            accept_msgpack=False, retry=True, timeout=None, check_openapi=True):
        """One HTTP request on this thread's keep-alive connection.
        body: None (no body), bytes (sent as is), or a value serialised as
        JSON (or msgpack with msgpack=True). Content-Type defaults to the
        body's encoding; a header given as None is not sent.
        The reply is checked against docs/openapi.yaml (OpenApi.check_reply;
        check_openapi=False skips that, for requests that are meant to fall
        outside the API). Returns Resp(status, headers, body)."""
        hdrs = {}
        payload = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                payload = bytes(body)
            elif msgpack:
                payload = mp_pack(body)
            else:
                payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            hdrs["Content-Type"] = "application/msgpack" if msgpack else "application/json"
        if accept_msgpack:
            hdrs["Accept"] = "application/msgpack"
        for k, v in (headers or {}).items():
            for existing in list(hdrs):
                if existing.lower() == k.lower():
                    del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            c = self._conn(fresh=attempt > 0)
            if timeout is not None:
                c.timeout = timeout
                if c.sock is not None:
                    c.sock.settimeout(timeout)
            reused = c.duro_used > 0
            c.duro_used += 1
            try:
                try:
                    c.request(method, path, body=payload, headers=hdrs)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may answer (413) and close before reading the
                    # whole body: the reply can still be waiting in the socket.
                    if c.sock is None:
                        raise
                r = c.getresponse()
                raw = r.read()
                resp = _mk_resp(r, raw)
                if r.will_close:
                    c.close()
                if timeout is not None:
                    c.timeout = REQUEST_TIMEOUT
                    if c.sock is not None:
                        c.sock.settimeout(REQUEST_TIMEOUT)
                break
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.BadStatusLine) as e:
                c.close()
                # A kept-alive connection the server closed while idle:
                # try once more on a new one.
                if reused and attempt + 1 < attempts:
                    continue
                raise
            except Exception:
                c.close()
                raise
        else:
            raise AssertionError("unreachable")
        api = openapi() if check_openapi else None
        if api is not None:
            api.check_reply(method, path, resp)
        return resp

    def raw(self, data, timeout=5.0, read_all=False):
        """Sends raw bytes on a new connection and returns a Resp, or None
        when the server closed the connection without a reply."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                r = http.client.HTTPResponse(s, method="GET")
                r.begin()
                raw = r.read()
                return _mk_resp(r, raw)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    http.client.IncompleteRead, http.client.BadStatusLine):
                return None
        finally:
            s.close()

    # -- conveniences ------------------------------------------------------

    def put(self, key, value, ns=None, **extra):
        body = {"value": value}
        body.update(extra)
        return ok(self.req("PUT", kv_path(key, ns=ns), body))

    def get(self, key, ns=None):
        """The stored value, or KeyError-like sentinel MISSING on 404."""
        r = self.req("GET", kv_path(key, ns=ns))
        if r.status == 404:
            assert_error(r, 404, "NOT_FOUND")
            return MISSING
        return ok(r)

    def list_all(self, ns=None, values=False, limit=1000, api=False, **query):
        """Follows cursors until list_complete; returns the list of keys (or
        entries with values=True)."""
        out = []
        cursor = None
        for _ in range(100000):
            qq = dict(query)
            qq["limit"] = limit
            if values:
                qq["values"] = 1
            if cursor is not None:
                qq["cursor"] = cursor
            if api:
                path = api_path(ns or "default", **qq)
            else:
                path = storage_path("list", ns=ns, **qq)
            d = ok(self.req("GET", path))
            out.extend(d["keys"])
            if d["list_complete"]:
                return out
            if not isinstance(d.get("cursor"), str):
                raise AssertionError("list not complete but no cursor: %r" % d)
            cursor = d["cursor"]
        raise AssertionError("list paging did not terminate")

    def snapshot(self, ns=None):
        """{key: (value, expiresAt)} of a namespace, via list values=1."""
        return {e["key"]: (e["value"], e.get("expiresAt"))
                for e in self.list_all(ns=ns, values=True)}

    def metrics(self):
        r = self.req("GET", "/metrics")
        if r.status != 200:
            raise AssertionError("/metrics: %r" % (r,))
        return r.raw.decode("utf-8")


class _Missing:
    def __repr__(self):
        return "MISSING"


MISSING = _Missing()


def metric_sum(text, name, **labels):
    """Sum of the samples of metric `name` (exact name) whose labels include
    `labels`."""
    total = 0.0
    found = False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


# --------------------------------------------------------------------------
# real file systems for storage-failure tests (root only)

def _run(*cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)


def mount_tmpfs(test, path, size):
    """Mounts a tmpfs of `size` (e.g. "16m") at path, or skips `test` with a
    printed reason when not root or the mount fails."""
    if os.geteuid() != 0:
        print("SKIP: needs root to mount a tmpfs (running as uid %d)" % os.geteuid())
        test.skipTest("needs root")
    r = _run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path)
    if r.returncode != 0:
        print("SKIP: cannot mount a tmpfs: %s" % r.stdout.decode(errors="replace"))
        test.skipTest("mount failed")


def remount(path, mode):
    """mount -o remount,<mode> path ("ro" or "rw"); the CompletedProcess."""
    return _run("mount", "-o", "remount," + mode, path)


def unmount(path):
    """Unmounts path (lazily if it is busy): never leaves a mount behind."""
    if _run("umount", path).returncode != 0:
        _run("umount", "-l", path)


# --------------------------------------------------------------------------
# unittest glue

class ServerTestCase(unittest.TestCase):
    """One server per test class (class attribute `server_args`); tests use
    their own namespace (self.ns) so they do not see each other's keys."""

    server_args = []
    server_env = {}
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.server_args, env=cls.server_env)

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        cls.server = None
        if srv is None:
            return
        try:
            was_alive = srv.alive()
            rc = srv.stop() if was_alive else srv.proc.returncode
            if rc != 0:
                raise ServerError("durod exit code %r at the end of %s (alive before stop: %s)\n%s"
                                  % (rc, cls.__name__, was_alive, srv.log_tail()))
        finally:
            srv.close()

    def setUp(self):
        if not self.server.alive():
            self.fail("durod is not running (exit %r)\n%s" % (
                self.server.proc.returncode, self.server.log_tail()))
        self.ns = unique_ns(self.id().split(".")[-1])

    def tearDown(self):
        if not self.server.alive():
            self.fail("durod died during the test (exit %r)\n%s" % (
                self.server.proc.returncode, self.server.log_tail()))

    # shorthands bound to the class server
    def req(self, *a, **kw):
        return self.server.req(*a, **kw)


def _watchdog(seconds):
    def run():
        time.sleep(seconds)
        sys.stderr.write("\n*** durotest watchdog: module exceeded %ds, killing servers\n" % seconds)
        faulthandler.dump_traceback(all_threads=True)
        with _live_lock:
            servers = list(_live_servers)
        for s in servers:
            try:
                if s.proc and s.proc.poll() is None:
                    s.proc.send_signal(signal.SIGKILL)
            except Exception:
                pass
        sys.stderr.flush()
        os._exit(3)
    t = threading.Thread(target=run, name="durotest-watchdog", daemon=True)
    t.start()


def _cleanup_at_exit():
    with _live_lock:
        servers = list(_live_servers)
    for s in servers:
        try:
            s.kill()
        except Exception:
            pass


def main(timeout=240, tests=None):
    """unittest.main under a watchdog; exits non-zero on failure. tests
    names the cases to run (default: those named on the command line, or
    all)."""
    import atexit
    atexit.register(_cleanup_at_exit)
    _watchdog(timeout)
    argv = None if tests is None else [sys.argv[0]] + list(tests)
    unittest.main(argv=argv, verbosity=int(os.environ.get("DURO_TEST_VERBOSITY", "2")))
