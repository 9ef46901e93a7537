"""era_storage: the storage proxy's Python calls, unchanged, over duro.

    import era_storage
    era_storage.kv.set("app1", "user:123", '{"name": "Alice"}')
    era_storage.d1.query("app1", "SELECT * FROM users")
    era_storage.r2.put("app1", "file.txt", b"Hello World!")

The server is $ERA_STORAGE_URL (default http://127.0.0.1:8787), the token
$DURO_TOKEN; both are read at the first call. A missing key or object reads
as None; every other failure raises duro.DuroError's class for its code.
"""

import threading

from duro import Client, NotFound

_lock = threading.Lock()
_client = None


def client():
    """The Client all calls share (made at the first call)."""
    global _client
    with _lock:
        if _client is None:
            import os
            _client = Client(os.environ.get("ERA_STORAGE_URL") or "http://127.0.0.1:8787")
        return _client


class _KV:
    def set(self, namespace, key, value):
        """Stores value (any JSON value; the proxy's examples store strings)."""
        client().kv.put(namespace, key, value)

    def get(self, namespace, key):
        """The value, or None if there is none."""
        try:
            return client().kv.get(namespace, key)
        except NotFound:
            return None

    def list(self, namespace, prefix=""):
        """The keys (every page), in order."""
        return list(client().kv.list(namespace, prefix=prefix or None))

    def delete(self, namespace, key):
        """True if the key existed."""
        return client().kv.delete(namespace, key)


class _D1:
    def exec(self, namespace, sql, params=None):
        """Runs SQL; its meta {changes, last_row_id, ...}."""
        return client().sql.exec(namespace, sql, params)

    def query(self, namespace, sql, params=None):
        """The rows, as dicts."""
        return client().sql.query(namespace, sql, params)


class _R2:
    def put(self, namespace, key, data):
        """Stores bytes (a str is stored as its UTF-8)."""
        client().blobs.put(namespace, key, data)

    def get(self, namespace, key):
        """The bytes, or None if there is no such object."""
        try:
            return client().blobs.get(namespace, key)
        except NotFound:
            return None

    def list(self, namespace, prefix=""):
        """Every object {key, size, etag, contentType, uploaded, metadata}."""
        return list(client().blobs.list(namespace, prefix=prefix or None))

    def delete(self, namespace, key):
        """True if the object existed."""
        return client().blobs.delete(namespace, key)


kv = _KV()
d1 = _D1()
r2 = _R2()
