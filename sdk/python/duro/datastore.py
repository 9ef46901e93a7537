"""The Datastore: one interface over KV and SQL, with auth built in.

    from duro import Client
    from duro.datastore import Datastore

    ds = Datastore(Client(), namespaces={"project": "app-projects", "list": "app-lists"},
                   d1_namespace="app")
    db = ds.kv.auth("user_1")            # or ds.d1.auth("user_1"): the same calls
    db.put("PROJECT", "p1", {"name": "My Project"})
    db.get("PROJECT", "p1")              # {"name": "My Project", "_auth": ["user_1"]}
    db.queryListAddItem("projects", "user_1", "p1")

Objects live at "<class lower-case>:<id>" with an "_auth" list of user ids; a view
bound to a user (auth()) returns and changes only objects that user is in. List
operations are atomic under concurrency: the KV adapter uses compare-and-set on
the key's version and tries again, the SQL adapter a table whose primary key is
(list, pointer, item). docs/sdk-python.md, "Datastore".
"""

import json
import random
import re
import time

from . import errors
from .client import dumps

_CLASS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
ID_MAX = 512
DATA_MAX = 1 << 20  # encoded bytes of one object
CAS_TRIES = 200


class DatastoreError(Exception):
    """A Datastore call was refused (bad input, or another user's object)."""


class InvalidInput(DatastoreError, ValueError):
    pass


class NotAuthorized(DatastoreError):
    """The object exists but the view's user is not in its _auth."""


def _check_class(cls, what="class"):
    if not isinstance(cls, str) or not _CLASS.match(cls):
        raise InvalidInput("%s must be a letter, then up to 63 letters, digits, '_' or '-': %r"
                           % (what, cls))
    return cls.lower()


def _check_id(i, what="id"):
    if not isinstance(i, str) or not 1 <= len(i) <= ID_MAX or "\0" in i:
        raise InvalidInput("%s must be a string of 1 to %d characters without NUL: %r"
                           % (what, ID_MAX, i))
    return i


def _check_data(data):
    if not isinstance(data, dict):
        raise InvalidInput("data must be a dict (a JSON object), not %s" % type(data).__name__)
    try:
        text = dumps(data)
    except (TypeError, ValueError) as e:
        raise InvalidInput("data must be JSON-serialisable: %s" % e)
    if len(text.encode()) > DATA_MAX:
        raise InvalidInput("data is larger than %d bytes as JSON" % DATA_MAX)
    return {k: v for k, v in data.items() if k != "_auth"}


def _backoff(attempt):
    time.sleep(random.uniform(0, min(0.05, 0.001 * (2 ** min(attempt, 6)))))


class _Adapter:
    """What both adapters share: the auth context and the camelCase aliases."""

    def __init__(self, user=None):
        self.user = user

    def _allowed(self, auth):
        return self.user is None or self.user in (auth or [])

    def auth(self, user_id):
        """A view of the same store bound to user_id."""
        v = self._copy()
        v.user = _check_id(user_id, "user id")
        return v

    def exists(self, cls, id):
        """True if the object exists and the view may see it."""
        return self.get(cls, id) is not None

    def getList(self, cls, pointer):
        """The items of the list <class>:<pointer> (the same as queryListByPointer)."""
        return self.queryListByPointer(cls, pointer)

    # snake_case names for Python code
    def query_list_by_pointer(self, name, pointer):
        return self.queryListByPointer(name, pointer)

    def query_list_add_item(self, name, pointer, item):
        return self.queryListAddItem(name, pointer, item)

    def query_list_remove_item(self, name, pointer, item):
        return self.queryListRemoveItem(name, pointer, item)

    def query_list_clear(self, name, pointer):
        return self.queryListClear(name, pointer)

    def get_list(self, cls, pointer):
        return self.getList(cls, pointer)


class KVAdapter(_Adapter):
    """Objects and lists in KV: each class in its own namespace (the map given to
    Datastore; lists in the namespace of class "list")."""

    def __init__(self, client, namespaces, user=None):
        super().__init__(user)
        self._c = client
        self._ns = {k.lower(): v for k, v in namespaces.items()}

    def _copy(self):
        return KVAdapter(self._c, self._ns, self.user)

    def _where(self, cls):
        c = _check_class(cls)
        ns = self._ns.get(c)
        if ns is None:
            raise InvalidInput("unknown class %r: the Datastore's namespaces map has %s"
                               % (cls, sorted(self._ns)))
        return ns, c

    def _read(self, ns, key):
        """(value, version), or (None, None) if there is no such key."""
        try:
            m = self._c.kv.get(ns, key, meta=True)
        except errors.NotFound:
            return None, None
        return m["value"], m["version"]

    def get(self, cls, id):
        """The object (with its _auth), or None if missing or not the view's."""
        ns, c = self._where(cls)
        value, _ = self._read(ns, "%s:%s" % (c, _check_id(id)))
        if not isinstance(value, dict) or not self._allowed(value.get("_auth")):
            return None
        return value

    def put(self, cls, id, data):
        """Stores the object; a new one gets _auth [user] ([] without a user), an
        existing one keeps its _auth. NotAuthorized if it is another user's."""
        ns, c = self._where(cls)
        key = "%s:%s" % (c, _check_id(id))
        data = _check_data(data)
        for attempt in range(CAS_TRIES):
            old, version = self._read(ns, key)
            if isinstance(old, dict) and not self._allowed(old.get("_auth")):
                raise NotAuthorized("%s:%s belongs to other users" % (c, id))
            auth = old.get("_auth", []) if isinstance(old, dict) else [self.user] if self.user else []
            try:
                if version is None:
                    self._c.kv.put(ns, key, dict(data, _auth=auth), if_none_match=True)
                else:
                    self._c.kv.put(ns, key, dict(data, _auth=auth), if_match=version)
                return
            except errors.PreconditionFailed:
                _backoff(attempt)
        raise errors.Conflict("CONFLICT", "%s: too many concurrent writes" % key, 409)

    def delete(self, cls, id):
        """True if deleted, False if there was none; NotAuthorized if it is another
        user's."""
        ns, c = self._where(cls)
        key = "%s:%s" % (c, _check_id(id))
        for attempt in range(CAS_TRIES):
            old, version = self._read(ns, key)
            if version is None:
                return False
            if isinstance(old, dict) and not self._allowed(old.get("_auth")):
                raise NotAuthorized("%s:%s belongs to other users" % (c, id))
            try:
                return self._c.kv.delete(ns, key, if_match=version)
            except errors.PreconditionFailed:
                _backoff(attempt)
        raise errors.Conflict("CONFLICT", "%s: too many concurrent writes" % key, 409)

    def _list_key(self, name, pointer):
        ns, _ = self._where("list")
        return ns, "%s:%s" % (_check_class(name, "list name"), _check_id(pointer, "pointer"))

    def _update_list(self, name, pointer, change):
        ns, key = self._list_key(name, pointer)
        for attempt in range(CAS_TRIES):
            items, version = self._read(ns, key)
            items = list(items) if isinstance(items, list) else []
            new = change(items)
            if new == items:
                return
            try:
                if version is None:
                    self._c.kv.put(ns, key, new, if_none_match=True)
                elif new:
                    self._c.kv.put(ns, key, new, if_match=version)
                else:
                    self._c.kv.delete(ns, key, if_match=version)
                return
            except errors.PreconditionFailed:
                _backoff(attempt)
        raise errors.Conflict("CONFLICT", "%s: too many concurrent writes" % key, 409)

    def queryListByPointer(self, name, pointer):
        """The list's items in the order they were added ([] if none)."""
        ns, key = self._list_key(name, pointer)
        items, _ = self._read(ns, key)
        return list(items) if isinstance(items, list) else []

    def queryListAddItem(self, name, pointer, item):
        """Adds item at the end (once: an item already there stays where it is)."""
        item = _check_id(item, "item")
        self._update_list(name, pointer, lambda items: items if item in items else items + [item])

    def queryListRemoveItem(self, name, pointer, item):
        item = _check_id(item, "item")
        self._update_list(name, pointer, lambda items: [i for i in items if i != item])

    def queryListClear(self, name, pointer):
        ns, key = self._list_key(name, pointer)
        self._c.kv.delete(ns, key)


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS objects (class TEXT NOT NULL, id TEXT NOT NULL,"
    " data JSON NOT NULL, auth_users JSON DEFAULT '[]',"
    " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
    " updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (class, id))",
    "CREATE TABLE IF NOT EXISTS lists (list_name TEXT NOT NULL, pointer TEXT NOT NULL,"
    " item_id TEXT NOT NULL, position INTEGER DEFAULT 0,"
    " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
    " PRIMARY KEY (list_name, pointer, item_id))",
    "CREATE INDEX IF NOT EXISTS idx_objects_class ON objects(class)",
    "CREATE INDEX IF NOT EXISTS idx_objects_auth ON objects(auth_users)",
    "CREATE INDEX IF NOT EXISTS idx_lists_lookup ON lists(list_name, pointer)",
]
# the view's user is in the row's auth_users (?9), or there is no user (?9 NULL)
_MAY = "(?9 IS NULL OR EXISTS (SELECT 1 FROM json_each(objects.auth_users) WHERE value = ?9))"


class D1Adapter(_Adapter):
    """Objects and lists in one namespace's SQL database: the original schema's
    `objects` and `lists` tables (created at the first call)."""

    def __init__(self, client, namespace, user=None, _ready=None):
        super().__init__(user)
        self._c = client
        self._ns = namespace
        self._ready = _ready if _ready is not None else [False]

    def _copy(self):
        return D1Adapter(self._c, self._ns, self.user, self._ready)

    def _sql(self, sql, params):
        if not self._ready[0]:
            self._c.sql.batch(self._ns, [(s, []) for s in _SCHEMA])
            self._ready[0] = True
        # numbered parameters: ?9, where a statement has it, is the view's user
        p = list(params)
        if "?9" in sql:
            p += [None] * (8 - len(p)) + [self.user]
        return self._c.sql.query_full(self._ns, sql, p)

    def get(self, cls, id):
        c, i = _check_class(cls), _check_id(id)
        rows = self._sql("SELECT data, auth_users FROM objects WHERE class = ?1 AND id = ?2 AND "
                         + _MAY, [c, i])["results"]
        if not rows:
            return None
        return dict(json.loads(rows[0]["data"]), _auth=json.loads(rows[0]["auth_users"]))

    def put(self, cls, id, data):
        c, i = _check_class(cls), _check_id(id)
        text = dumps(_check_data(data))
        auth = dumps([self.user] if self.user else [])
        meta = self._sql("INSERT INTO objects (class, id, data, auth_users) VALUES (?1, ?2, ?3, ?4)"
                         " ON CONFLICT (class, id) DO UPDATE SET data = excluded.data,"
                         " updated_at = CURRENT_TIMESTAMP WHERE " + _MAY,
                         [c, i, text, auth])["meta"]
        if meta["changes"] == 0:
            raise NotAuthorized("%s:%s belongs to other users" % (c, id))

    def delete(self, cls, id):
        c, i = _check_class(cls), _check_id(id)
        meta = self._sql("DELETE FROM objects WHERE class = ?1 AND id = ?2 AND " + _MAY,
                         [c, i])["meta"]
        if meta["changes"]:
            return True
        if self._sql("SELECT 1 AS x FROM objects WHERE class = ?1 AND id = ?2", [c, i])["results"]:
            raise NotAuthorized("%s:%s belongs to other users" % (c, id))
        return False

    def queryListByPointer(self, name, pointer):
        rows = self._sql("SELECT item_id FROM lists WHERE list_name = ?1 AND pointer = ?2"
                         " ORDER BY position, rowid",
                         [_check_class(name, "list name"), _check_id(pointer, "pointer")])["results"]
        return [r["item_id"] for r in rows]

    def queryListAddItem(self, name, pointer, item):
        self._sql("INSERT OR IGNORE INTO lists (list_name, pointer, item_id, position)"
                  " VALUES (?1, ?2, ?3, (SELECT coalesce(max(position), 0) + 1 FROM lists"
                  " WHERE list_name = ?1 AND pointer = ?2))",
                  [_check_class(name, "list name"), _check_id(pointer, "pointer"),
                   _check_id(item, "item")])

    def queryListRemoveItem(self, name, pointer, item):
        self._sql("DELETE FROM lists WHERE list_name = ?1 AND pointer = ?2 AND item_id = ?3",
                  [_check_class(name, "list name"), _check_id(pointer, "pointer"),
                   _check_id(item, "item")])

    def queryListClear(self, name, pointer):
        self._sql("DELETE FROM lists WHERE list_name = ?1 AND pointer = ?2",
                  [_check_class(name, "list name"), _check_id(pointer, "pointer")])


class Datastore:
    """Datastore(client, namespaces={class: namespace}, d1_namespace="..."):
    .kv and .d1 are the two adapters (the original's .KV / .D1 too)."""

    def __init__(self, client, namespaces=None, d1_namespace="datastore"):
        self.kv = KVAdapter(client, namespaces or {})
        self.d1 = D1Adapter(client, d1_namespace)
        self.KV, self.D1 = self.kv, self.d1
