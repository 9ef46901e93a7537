"""The general storage object's client, in Python: the calls the Durable Object that
duro's /storage routes replace came with, each answering {"success", "data"?, "error"?}.

    from duro.storage_client import create_storage_client, StorageHelpers
    storage = create_storage_client("http://127.0.0.1:8787")
    storage.set("my-key", {"data": "value"}, 60000)          # 60 s TTL
    result = storage.get("my-key")                            # {"success": True, "data": {...}}

Both the original's camelCase names (getMany, checkLimit, ...) and snake_case ones
are there. docs/sdk-python.md, "The storage object's client".
"""

from . import errors
from .client import Client


def _client(c):
    return c if isinstance(c, Client) else Client(c)


def _fail(e):
    return {"success": False, "error": e.message if isinstance(e, errors.DuroError) else str(e)}


class StorageClient:
    """set / get / delete / getMany / setMany / deleteMany / list / clear on one
    namespace (default "default"; each call may name another)."""

    def __init__(self, client=None, namespace="default"):
        self.client = _client(client)
        self.namespace = namespace

    def _call(self, fn):
        try:
            return {"success": True, "data": fn()}
        except errors.DuroError as e:
            return _fail(e)

    def set(self, key, value, ttl_ms=None, namespace=None):
        """{"success", "data": {"version"}}."""
        ns = namespace or self.namespace
        return self._call(lambda: {"version": self.client.kv.put(ns, key, value, ttl_ms=ttl_ms)})

    def get(self, key, namespace=None):
        """{"success": True, "data": value}, or success False with "key not found"."""
        ns = namespace or self.namespace
        return self._call(lambda: self.client.kv.get(ns, key))

    def delete(self, key, namespace=None):
        ns = namespace or self.namespace
        return self._call(lambda: {"deleted": self.client.kv.delete(ns, key)})

    def get_many(self, keys, namespace=None):
        """data: {key: value} of those that exist."""
        ns = namespace or self.namespace
        return self._call(lambda: self.client.kv.get_many(ns, keys))

    def set_many(self, entries, ttl_ms=None, namespace=None):
        """entries: {key: value} or [{"key", "value", "ttlMs"?}]; data {count, version}."""
        ns = namespace or self.namespace
        return self._call(lambda: self.client.kv.set_many(ns, entries, ttl_ms=ttl_ms))

    def delete_many(self, keys, namespace=None):
        ns = namespace or self.namespace
        return self._call(lambda: {"deleted": self.client.kv.delete_many(ns, keys)})

    def list(self, prefix=None, namespace=None):
        """data: every key (all pages)."""
        ns = namespace or self.namespace
        return self._call(lambda: list(self.client.kv.list(ns, prefix=prefix)))

    def clear(self, namespace=None):
        ns = namespace or self.namespace
        return self._call(lambda: {"deleted": self.client.kv.clear(ns)})

    getMany, setMany, deleteMany = get_many, set_many, delete_many


def create_storage_client(client=None, namespace="default"):
    """A StorageClient over a duro.Client or a URL (None: $DURO_URL, ...)."""
    return StorageClient(client, namespace)


createStorageClient = create_storage_client


class StorageHelpers:
    """The original's helpers: token buckets under rate_limit:<id> in namespace
    "rate_limiting", sessions under session:<id> in "sessions"."""

    def __init__(self, storage):
        self.storage = storage

    def get_rate_limit(self, id):
        """The stored bucket {"tokens", "lastRefill"}, or None."""
        r = self.storage.get("rate_limit:%s" % id, namespace="rate_limiting")
        return r["data"] if r["success"] else None

    def set_rate_limit(self, id, tokens, last_refill, ttl_ms=None):
        return self.storage.set("rate_limit:%s" % id, {"tokens": tokens, "lastRefill": last_refill},
                                ttl_ms, "rate_limiting")

    def get_session(self, id):
        r = self.storage.get("session:%s" % id, namespace="sessions")
        return r["data"] if r["success"] else None

    def set_session(self, id, data, ttl_ms):
        return self.storage.set("session:%s" % id, data, ttl_ms, "sessions")

    getRateLimit, setRateLimit, getSession, setSession = (get_rate_limit, set_rate_limit,
                                                          get_session, set_session)


class RateLimiter:
    """check_limit(id) -> {"allowed", "remaining"}: duro's exact limiter (GCRA), so
    every process and thread sharing the server shares the one budget."""

    def __init__(self, client, limit=30, window_ms=60000, namespace="rate_limiting"):
        self.client = client.client if isinstance(client, StorageClient) else _client(client)
        self.limit = limit
        self.window_ms = window_ms
        self.namespace = namespace

    def check_limit(self, id, cost=1):
        r = self.client.ratelimit.check(self.namespace, id, limit=self.limit,
                                        window_ms=self.window_ms, cost=cost)
        return {"allowed": r["allowed"], "remaining": r["remaining"]}

    checkLimit = check_limit


def create_rate_limiter(client=None, limit=30, window_ms=60000, namespace="rate_limiting"):
    return RateLimiter(client, limit, window_ms, namespace)


createRateLimiter = create_rate_limiter


class LoginService:
    """login(email=, password=) -> {"success", "sessionId", "session"} on duro's
    password login (Argon2id, throttled), or {"success": False, "error"}."""

    def __init__(self, client, namespace="auth", ttl_ms=None):
        self.client = client.client if isinstance(client, StorageClient) else _client(client)
        self.namespace = namespace
        self.ttl_ms = ttl_ms

    def login(self, credentials=None, email=None, password=None):
        if credentials is not None:
            email, password = credentials.get("email"), credentials.get("password")
        try:
            li = self.client.auth.login(self.namespace, email, password, ttl_ms=self.ttl_ms)
            session = self.client.auth.session(self.namespace, li["sessionId"])
        except errors.DuroError as e:
            return _fail(e)
        return {"success": True, "sessionId": li["sessionId"], "session": session}


def create_login_service(client=None, namespace="auth", ttl_ms=None):
    return LoginService(client, namespace, ttl_ms)


createLoginService = create_login_service
