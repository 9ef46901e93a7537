"""duro.Client: every call of duro's HTTP API, over the standard library.

One Client is safe to share between threads: each thread keeps its own
keep-alive connection. Values are JSON; Python bytes travel as duro's
{"$bytes": base64} form and come back as bytes. Errors raise the class of
their code (duro.errors). Requests that change nothing when repeated (GET,
HEAD, PUT, DELETE) are retried on a broken connection and on 503, at most
`retries` times with a short backoff; POST and PATCH never are.
"""

import base64
import http.client
import json
import os
import select
import threading
import time
import urllib.parse

from . import errors

DEFAULT_URL = "http://127.0.0.1:8787"
_IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE")
_CHUNK = 1 << 16


def _default(o):
    if isinstance(o, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(o)).decode("ascii")}
    raise TypeError("%r is not JSON serialisable" % type(o).__name__)


def _hook(d):
    if len(d) == 1 and isinstance(d.get("$bytes"), str):
        return base64.b64decode(d["$bytes"])
    return d


def dumps(v):
    """JSON text of v, bytes as {"$bytes": base64}."""
    return json.dumps(v, default=_default, separators=(",", ":"), ensure_ascii=False)


def loads(b):
    return json.loads(b, object_hook=_hook)


def _q(s):
    return urllib.parse.quote(str(s), safe="")


def _etag(version):
    return '"%d"' % int(version)


class Response:
    """A reply: status, headers (lower-case names), the raw body and, for a JSON
    body, the decoded document."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self._doc = None

    def json(self):
        if self._doc is None:
            self._doc = loads(self.body) if self.body else None
        return self._doc

    @property
    def data(self):
        """The envelope's data (the whole document for the routes without one)."""
        doc = self.json()
        return doc.get("data") if isinstance(doc, dict) and "success" in doc else doc


class Client:
    """A connection to one durod.

    url: "http://host:port" (default $DURO_URL, then $ERA_STORAGE_URL, then
    http://127.0.0.1:8787); token: the access token sent as Authorization:
    Bearer (default $DURO_TOKEN); timeout: seconds per request; retries: how
    often an idempotent request is tried again."""

    def __init__(self, url=None, token=None, timeout=10.0, retries=2):
        url = url or os.environ.get("DURO_URL") or os.environ.get("ERA_STORAGE_URL") or DEFAULT_URL
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url must be http://host[:port] or https://..., not %r" % url)
        self.url = url
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._base = u.path.rstrip("/")
        self.token = token if token is not None else os.environ.get("DURO_TOKEN")
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns = set()  # every thread's, for close()
        self.kv = KV(self)
        self.sql = SQL(self)
        self.blobs = Blobs(self)
        self.ratelimit = RateLimits(self)
        self.sessions = Sessions(self)
        self.auth = Auth(self)
        self.snapshot = Snapshot(self)
        self.registry = Registry(self)
        self.namespaces = Namespaces(self)

    # -- connections ------------------------------------------------------

    def _connection(self):
        c = getattr(self._local, "conn", None)
        if c is not None and c.sock is not None:
            # a keep-alive connection the server closed meanwhile reads as EOF
            r, _, _ = select.select([c.sock], [], [], 0)
            if r:
                self._drop()
                c = None
        if c is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            c = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = c
            with self._lock:
                self._conns.add(c)
        return c

    def _drop(self):
        """Closes and forgets this thread's connection (it broke or the server ends it)."""
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
            with self._lock:
                self._conns.discard(c)

    def close(self):
        """Closes the connections of every thread; call it when no request is in
        flight. The client stays usable: the next request connects again."""
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            c.close()
        self._local.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ---------------------------------------------------------

    def request(self, method, path, query=None, body=None, json_body=None, headers=None,
                ok=(200, 201), sink=None):
        """Sends one request and returns its Response; a status not in ok raises
        the error of the envelope's code. body: bytes, str or a binary file
        (sent as it is, streamed from a file); json_body: a value sent as JSON.
        sink: a binary file the reply body of a 2xx is written to in chunks
        instead of being kept."""
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if json_body is not None:
            body = dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if headers:
            h.update(headers)
        url = self._base + path
        if query:
            q = {k: ("true" if v is True else "false" if v is False else v)
                 for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q)
        tries = 1 + (self.retries if method in _IDEMPOTENT else 0)
        start = body.tell() if hasattr(body, "read") and hasattr(body, "tell") else None
        for attempt in range(tries):
            if attempt:
                time.sleep(0.05 * (2 ** (attempt - 1)))
                if start is not None:
                    body.seek(start)
            try:
                resp = self._send(method, url, body, h, sink)
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                if attempt + 1 < tries:
                    continue
                raise errors.ConnectionFailed("CONNECTION_FAILED", "%s %s: %s" % (method, path, e))
            if resp.status == 503 and attempt + 1 < tries:
                continue
            if resp.status not in ok:
                raise _error(resp)
            return resp
        raise AssertionError("unreachable")

    def _send(self, method, url, body, headers, sink):
        c = self._connection()
        if hasattr(body, "read"):
            if "Content-Length" not in headers:
                pos = body.tell()
                body.seek(0, os.SEEK_END)
                headers = dict(headers, **{"Content-Length": str(body.tell() - pos)})
                body.seek(pos)
        c.request(method, url, body=body, headers=headers)
        r = c.getresponse()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if sink is not None and 200 <= r.status < 300:
            while True:
                chunk = r.read(_CHUNK)
                if not chunk:
                    break
                sink.write(chunk)
            data = b""
        else:
            data = r.read()
        if r.will_close:
            self._drop()
        return Response(r.status, hdrs, data)

    # -- server -----------------------------------------------------------

    def healthy(self):
        """True if GET /healthz answers 200."""
        try:
            return self.request("GET", "/healthz").status == 200
        except errors.DuroError:
            return False

    def info(self):
        """GET /api/info: version, uptime, settings, cache figures."""
        return self.request("GET", "/api/info").data


def _error(resp):
    code, message = "HTTP_%d" % resp.status, resp.body[:200].decode("utf-8", "replace")
    try:
        doc = json.loads(resp.body)
        code = doc["error"]["code"]
        message = doc["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    cls = errors.BY_CODE.get(code, errors.DuroError)
    if cls is errors.RateLimited:
        ra = resp.headers.get("retry-after")
        return errors.RateLimited(code, message, resp.status,
                                  float(ra) if ra and ra.replace(".", "", 1).isdigit() else None)
    return cls(code, message, resp.status)


class _Part:
    def __init__(self, client):
        self._c = client


class KV(_Part):
    """Keys of a namespace: values are JSON (bytes allowed), with TTL, metadata and
    versions for compare-and-set."""

    def get(self, ns, key, meta=False):
        """The value (NotFound if the key is missing or expired); meta=True: a dict
        {value, metadata, version, createdAt, updatedAt, expiresAt}."""
        return self._c.request("GET", "/api/storage/kv/%s/%s" % (_q(ns), _q(key)),
                               query={"meta": "1" if meta else None}).data

    def put(self, ns, key, value, ttl_ms=None, metadata=None, if_match=None,
            if_none_match=False):
        """Writes key; returns its new version. if_match: the version it must
        have (PreconditionFailed otherwise); if_none_match: only if it does
        not exist."""
        body = {"value": value}
        if ttl_ms is not None:
            body["ttlMs"] = ttl_ms
        if metadata is not None:
            body["metadata"] = metadata
        h = {}
        if if_match is not None:
            h["If-Match"] = _etag(if_match)
        if if_none_match:
            h["If-None-Match"] = "*"
        return self._c.request("PUT", "/api/storage/kv/%s/%s" % (_q(ns), _q(key)),
                               json_body=body, headers=h).data["version"]

    def delete(self, ns, key, if_match=None):
        """True if the key existed."""
        h = {"If-Match": _etag(if_match)} if if_match is not None else None
        return self._c.request("DELETE", "/api/storage/kv/%s/%s" % (_q(ns), _q(key)),
                               headers=h).data["deleted"]

    def get_many(self, ns, keys):
        """{key: value} of the keys that exist (up to 1000 keys)."""
        return self._c.request("POST", "/storage/batch/get", query={"ns": ns},
                               json_body={"keys": list(keys)}).data

    def set_many(self, ns, entries, ttl_ms=None):
        """Writes every entry at once (all or nothing): a dict {key: value} or a
        list of {"key", "value", "ttlMs"?, "metadata"?}. Returns {count, version}."""
        if isinstance(entries, dict):
            entries = [{"key": k, "value": v} for k, v in entries.items()]
        if ttl_ms is not None:
            entries = [dict(e, ttlMs=e.get("ttlMs", ttl_ms)) for e in entries]
        return self._c.request("POST", "/storage/batch/set", query={"ns": ns},
                               json_body={"entries": list(entries)}).data

    def delete_many(self, ns, keys):
        """How many of the keys existed."""
        return self._c.request("POST", "/storage/batch/delete", query={"ns": ns},
                               json_body={"keys": list(keys)}).data["deleted"]

    def list_page(self, ns, prefix=None, start=None, start_after=None, end=None, limit=None,
                  cursor=None, reverse=False, values=False):
        """One page: {keys, cursor, list_complete} (entries {key, value, expiresAt}
        with values=True)."""
        q = {"prefix": prefix, "start": start, "startAfter": start_after, "end": end,
             "limit": limit, "cursor": cursor, "reverse": "1" if reverse else None,
             "values": "1" if values else None}
        return self._c.request("GET", "/api/storage/kv/%s" % _q(ns), query=q).data

    def list(self, ns, prefix=None, start=None, start_after=None, end=None, reverse=False,
             values=False, page_size=None):
        """Every key in order (or entry, with values=True), page after page,
        following the cursors until the list is complete."""
        cursor = None
        while True:
            page = self.list_page(ns, prefix, start, start_after, end, page_size, cursor,
                                  reverse, values)
            for k in page["keys"]:
                yield k
            if page["list_complete"] or not page.get("cursor"):
                return
            cursor = page["cursor"]

    def clear(self, ns):
        """Deletes every key of the namespace; how many."""
        return self._c.request("POST", "/storage/clear", query={"ns": ns}).data["deleted"]


class SQL(_Part):
    """The namespace's own SQLite database (D1's calls)."""

    def exec(self, ns, sql, params=None):
        """Runs a statement (or, without params, several separated by ';'); its meta
        {changes, last_row_id, rows_read, rows_written, duration_ms}."""
        body = {"sql": sql}
        if params is not None:
            body["params"] = list(params)
        return self._c.request("POST", "/api/storage/d1/%s/exec" % _q(ns), json_body=body).data["meta"]

    def query_full(self, ns, sql, params=None):
        """{results: [row dict], meta}."""
        body = {"sql": sql}
        if params is not None:
            body["params"] = list(params)
        return self._c.request("POST", "/api/storage/d1/%s/query" % _q(ns), json_body=body).data

    def query(self, ns, sql, params=None):
        """The rows, as dicts column → value."""
        return self.query_full(ns, sql, params)["results"]

    def batch(self, ns, statements):
        """Runs [(sql, params) or {"sql", "params"}] in one transaction (all or
        nothing); [{results, meta}] in order."""
        st = [s if isinstance(s, dict) else {"sql": s[0], "params": list(s[1] or [])}
              for s in statements]
        return self._c.request("POST", "/api/storage/d1/%s/batch" % _q(ns),
                               json_body={"statements": st}).data


class Blobs(_Part):
    """Objects (R2's calls): raw bytes with a content type, streamed to and from files."""

    def _path(self, ns, key):
        return "/api/storage/r2/%s/%s" % (_q(ns), _q(key))

    def put(self, ns, key, data, content_type=None, metadata=None, if_match=None,
            if_none_match=False):
        """Stores data (bytes, str, or a binary file read to its end); the object's
        {key, size, etag, md5, contentType, uploaded, metadata, version}."""
        h = {"Content-Type": content_type or ("text/plain; charset=utf-8" if isinstance(data, str)
                                              else "application/octet-stream")}
        for k, v in (metadata or {}).items():
            h["x-amz-meta-" + k] = str(v)
        if if_match is not None:
            h["If-Match"] = if_match if if_match.startswith('"') else '"%s"' % if_match
        if if_none_match:
            h["If-None-Match"] = "*"
        return self._c.request("PUT", self._path(ns, key), body=data, headers=h).data

    def put_file(self, ns, key, path, content_type=None, metadata=None):
        """Streams the file at path into the object."""
        with open(path, "rb") as f:
            return self.put(ns, key, f, content_type, metadata)

    def get(self, ns, key, range=None):
        """The object's bytes (NotFound if missing); range=(first, last) for a part."""
        h = {"Range": "bytes=%d-%d" % range} if range else None
        return self._c.request("GET", self._path(ns, key), headers=h, ok=(200, 206)).body

    def get_to_file(self, ns, key, path):
        """Streams the object into the file at path; its headers."""
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            r = self._c.request("GET", self._path(ns, key), sink=f)
        os.replace(tmp, path)
        return r.headers

    def head(self, ns, key):
        """The object's headers (content-type, content-length, etag, last-modified)."""
        return self._c.request("HEAD", self._path(ns, key)).headers

    def delete(self, ns, key):
        """True if the object existed."""
        return self._c.request("DELETE", self._path(ns, key)).data["deleted"]

    def list_page(self, ns, prefix=None, delimiter=None, limit=None, cursor=None,
                  start_after=None):
        """One page: {objects, truncated, cursor, delimitedPrefixes}."""
        q = {"prefix": prefix, "delimiter": delimiter, "limit": limit, "cursor": cursor,
             "startAfter": start_after}
        return self._c.request("GET", "/api/storage/r2/%s" % _q(ns), query=q).data

    def list(self, ns, prefix=None, delimiter=None, page_size=None):
        """Every object {key, size, etag, contentType, uploaded, metadata}, following cursors."""
        cursor = None
        while True:
            page = self.list_page(ns, prefix, delimiter, page_size, cursor)
            for o in page["objects"]:
                yield o
            if not page.get("truncated") or not page.get("cursor"):
                return
            cursor = page["cursor"]


class RateLimits(_Part):
    """Exact rate limits (GCRA) per key of a namespace."""

    def check(self, ns, key, limit=None, window_ms=None, cost=None, enforce=None):
        """Takes cost (default 1) from the key's budget: {allowed, limit, remaining,
        resetMs, retryAfterMs}; with enforce, a refusal raises RateLimited."""
        body = {k: v for k, v in (("limit", limit), ("windowMs", window_ms), ("cost", cost),
                                  ("enforce", enforce)) if v is not None}
        return self._c.request("POST", "/ratelimit/%s/check" % _q(key), query={"ns": ns},
                               json_body=body).data

    def get(self, ns, key):
        """The key's state without taking anything."""
        return self._c.request("GET", "/ratelimit/%s" % _q(key), query={"ns": ns}).data

    def reset(self, ns, key):
        """Forgets the key's state; True if there was one."""
        return self._c.request("DELETE", "/ratelimit/%s" % _q(key), query={"ns": ns}).data["deleted"]


class Sessions(_Part):
    """Server-side sessions: only a hash of the id is stored."""

    def create(self, ns, data, ttl_ms, user_id=None, rolling=None):
        """{id, expiresAt}: the id is shown only here."""
        body = {"data": data, "ttlMs": ttl_ms}
        if user_id is not None:
            body["userId"] = user_id
        if rolling is not None:
            body["rolling"] = rolling
        return self._c.request("POST", "/sessions", query={"ns": ns}, json_body=body).data

    def get(self, ns, session_id):
        """{data, userId, createdAt, expiresAt, rolling} (NotFound when gone)."""
        return self._c.request("GET", "/sessions/%s" % _q(session_id), query={"ns": ns}).data

    def update(self, ns, session_id, data, ttl_ms=None):
        body = {"data": data}
        if ttl_ms is not None:
            body["ttlMs"] = ttl_ms
        return self._c.request("PUT", "/sessions/%s" % _q(session_id), query={"ns": ns},
                               json_body=body).data

    def delete(self, ns, session_id):
        return self._c.request("DELETE", "/sessions/%s" % _q(session_id),
                               query={"ns": ns}).data["deleted"]

    def of_user(self, ns, user_id):
        """{sessions: [{createdAt, expiresAt, rolling}], count}."""
        return self._c.request("GET", "/users/%s/sessions" % _q(user_id), query={"ns": ns}).data

    def delete_of_user(self, ns, user_id, except_id=None):
        return self._c.request("DELETE", "/users/%s/sessions" % _q(user_id),
                               query={"ns": ns, "exceptId": except_id}).data["deleted"]


class Auth(_Part):
    """Password login (Argon2id on the server) that hands out sessions."""

    def create_user(self, ns, email, password):
        """{userId, email}; Conflict if the email is taken."""
        return self._c.request("POST", "/auth/users", query={"ns": ns},
                               json_body={"email": email, "password": password}).data

    def login(self, ns, email, password, ttl_ms=None):
        """{sessionId, expiresAt, userId}; Unauthorized on a wrong password,
        RateLimited after too many."""
        body = {"email": email, "password": password}
        if ttl_ms is not None:
            body["ttlMs"] = ttl_ms
        return self._c.request("POST", "/auth/login", query={"ns": ns}, json_body=body).data

    def _cookie(self, session_id):
        return {"Cookie": "duro_session=" + session_id}

    def session(self, ns, session_id):
        """The logged-in session (Unauthorized if it is not one)."""
        return self._c.request("GET", "/auth/session", query={"ns": ns},
                               headers=self._cookie(session_id)).data

    def logout(self, ns, session_id):
        return self._c.request("POST", "/auth/logout", query={"ns": ns},
                               headers=self._cookie(session_id)).data["deleted"]

    def change_password(self, ns, session_id, current, new):
        """Deletes the user's other sessions; how many."""
        return self._c.request("POST", "/auth/password", query={"ns": ns},
                               headers=self._cookie(session_id),
                               json_body={"currentPassword": current, "newPassword": new}).data["deleted"]


class Snapshot(_Part):
    """The whole namespace as one document with an ETag."""

    def get(self, ns):
        """({key: value}, version) of every live key."""
        r = self._c.request("GET", "/api/storage", query={"ns": ns})
        return r.json(), int(r.headers.get("etag", '"0"').strip('"'))

    def patch(self, ns, ops, if_match=None):
        """Applies [{"op": "set", "key", "value", ...} | {"op": "del", "key"}] at once;
        if_match: the version the namespace must be at. {version, created}."""
        h = {"If-Match": _etag(if_match)} if if_match is not None else None
        return self._c.request("PATCH", "/api/storage", query={"ns": ns}, json_body=list(ops),
                               headers=h).data


class Registry(_Part):
    """The StorageRegistry: every resource of every namespace."""

    def list_page(self, type=None, namespace=None, key_prefix=None, limit=None, offset=None):
        q = {"type": type, "namespace": namespace, "key_prefix": key_prefix, "limit": limit,
             "offset": offset}
        return self._c.request("GET", "/api/resources/list", query=q).data

    def list(self, type=None, namespace=None, key_prefix=None, page_size=100):
        """Every resource {type, namespace, key, size, created_at, updated_at, ...}."""
        offset = 0
        while True:
            page = self.list_page(type, namespace, key_prefix, page_size, offset)
            for r in page["resources"]:
                yield r
            if not page.get("has_more"):
                return
            offset += len(page["resources"])

    def stats(self, type=None, namespace=None, key_prefix=None):
        """{total, by_type, by_namespace, total_size}."""
        q = {"type": type, "namespace": namespace, "key_prefix": key_prefix}
        return self._c.request("GET", "/api/resources/stats", query=q).data


class Namespaces(_Part):
    def list(self, prefix=None, page_size=100):
        """Every namespace {namespace, keys, bytes, tables, blobs, last_write, ...}."""
        after = None
        while True:
            page = self._c.request("GET", "/api/namespaces",
                                   query={"prefix": prefix, "after": after, "limit": page_size}).data
            for n in page["namespaces"]:
                yield n
            after = page.get("next")
            if not after:
                return

    def get(self, ns):
        return self._c.request("GET", "/api/namespaces/%s" % _q(ns)).data

    def delete(self, ns):
        """Deletes the namespace's file and registry rows (admin token only)."""
        return self._c.request("DELETE", "/api/namespaces/%s" % _q(ns)).data
