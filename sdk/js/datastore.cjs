'use strict';
/*
 * The Datastore (docs/sdk-js.md, "Datastore"): one interface over KV and SQL with
 * auth built in, the Python SDK's duro.datastore in JavaScript.
 *
 *   const ds = new Datastore(client, { namespaces: { project: 'app-projects', list: 'app-lists' },
 *                                      d1Namespace: 'app' });
 *   const db = ds.kv.auth('user_1');              // or ds.d1.auth(...): the same calls
 *   await db.put('PROJECT', 'p1', { name: 'My Project' });
 *
 * Objects live at "<class lower-case>:<id>" with an _auth list of user ids; a view
 * bound to a user returns and changes only objects that user is in. Lists are atomic
 * under concurrency: compare-and-set with retries in KV, the lists table's primary
 * key in SQL.
 */

const CLASS = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ID_MAX = 512;
const DATA_MAX = 1 << 20;
const CAS_TRIES = 200;

class DatastoreError extends Error {}
class InvalidInput extends DatastoreError {}
class NotAuthorized extends DatastoreError {}

function checkClass(c, what = 'class') {
  if (typeof c !== 'string' || !CLASS.test(c)) {
    throw new InvalidInput(`${what} must be a letter, then up to 63 letters, digits, '_' or '-': ${JSON.stringify(c)}`);
  }
  return c.toLowerCase();
}

function checkId(i, what = 'id') {
  if (typeof i !== 'string' || i.length < 1 || i.length > ID_MAX || i.includes('\0')) {
    throw new InvalidInput(`${what} must be a string of 1 to ${ID_MAX} characters without NUL: ${JSON.stringify(i)}`);
  }
  return i;
}

function checkData(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new InvalidInput('data must be a plain object');
  let text;
  try {
    text = JSON.stringify(data);
  } catch (e) {
    throw new InvalidInput(`data must be JSON-serialisable: ${e.message}`);
  }
  if (text === undefined) throw new InvalidInput('data must be JSON-serialisable');
  if (Buffer.byteLength(text) > DATA_MAX) throw new InvalidInput(`data is larger than ${DATA_MAX} bytes as JSON`);
  const { _auth, ...rest } = JSON.parse(text); // eslint-disable-line no-unused-vars
  return rest;
}

const backoff = (attempt) => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))));

class Adapter {
  constructor(user = null) { this.user = user; }
  allowed(auth) { return this.user === null || (Array.isArray(auth) && auth.includes(this.user)); }
  auth(userId) {
    const v = this.copy();
    v.user = checkId(userId, 'user id');
    return v;
  }
  async exists(cls, id) { return (await this.get(cls, id)) !== null; }
  getList(cls, pointer) { return this.queryListByPointer(cls, pointer); }
}

class KVAdapter extends Adapter {
  constructor(client, namespaces, user = null) {
    super(user);
    this.c = client;
    this.ns = Object.fromEntries(Object.entries(namespaces || {}).map(([k, v]) => [k.toLowerCase(), v]));
  }
  copy() { return new KVAdapter(this.c, this.ns, this.user); }

  where(cls) {
    const c = checkClass(cls);
    if (!(c in this.ns)) throw new InvalidInput(`unknown class ${JSON.stringify(cls)}: the namespaces map has ${Object.keys(this.ns).join(', ')}`);
    return [this.ns[c], c];
  }

  async read(ns, key) {
    try {
      const m = await this.c.kv.get(ns, key, { meta: true });
      return [m.value, m.version];
    } catch (e) {
      if (e.code === 'NOT_FOUND') return [null, null];
      throw e;
    }
  }

  async cas(ns, key, change) {
    for (let attempt = 0; attempt < CAS_TRIES; attempt++) {
      const [old, version] = await this.read(ns, key);
      const next = change(old, version);
      if (next === undefined) return undefined;
      try {
        if (next === null) return await this.c.kv.delete(ns, key, { ifMatch: version });
        if (version === null) await this.c.kv.put(ns, key, next, { ifNoneMatch: true });
        else await this.c.kv.put(ns, key, next, { ifMatch: version });
        return true;
      } catch (e) {
        if (e.code !== 'PRECONDITION_FAILED') throw e;
        await backoff(attempt);
      }
    }
    throw new DatastoreError(`${key}: too many concurrent writes`);
  }

  async get(cls, id) {
    const [ns, c] = this.where(cls);
    const [value] = await this.read(ns, `${c}:${checkId(id)}`);
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !this.allowed(value._auth)) return null;
    return value;
  }

  async put(cls, id, data) {
    const [ns, c] = this.where(cls);
    const body = checkData(data);
    const key = `${c}:${checkId(id)}`;
    await this.cas(ns, key, (old) => {
      if (old && !this.allowed(old._auth)) throw new NotAuthorized(`${key} belongs to other users`);
      const auth = old && Array.isArray(old._auth) ? old._auth : this.user ? [this.user] : [];
      return { ...body, _auth: auth };
    });
  }

  async delete(cls, id) {
    const [ns, c] = this.where(cls);
    const key = `${c}:${checkId(id)}`;
    const r = await this.cas(ns, key, (old, version) => {
      if (version === null) return undefined;
      if (old && typeof old === 'object' && !this.allowed(old._auth)) throw new NotAuthorized(`${key} belongs to other users`);
      return null;
    });
    return r === true;
  }

  listKey(name, pointer) {
    const [ns] = this.where('list');
    return [ns, `${checkClass(name, 'list name')}:${checkId(pointer, 'pointer')}`];
  }

  async queryListByPointer(name, pointer) {
    const [ns, key] = this.listKey(name, pointer);
    const [items] = await this.read(ns, key);
    return Array.isArray(items) ? items : [];
  }

  async queryListAddItem(name, pointer, item) {
    checkId(item, 'item');
    const [ns, key] = this.listKey(name, pointer);
    await this.cas(ns, key, (old) => {
      const items = Array.isArray(old) ? old : [];
      return items.includes(item) ? undefined : [...items, item];
    });
  }

  async queryListRemoveItem(name, pointer, item) {
    checkId(item, 'item');
    const [ns, key] = this.listKey(name, pointer);
    await this.cas(ns, key, (old) => {
      const items = Array.isArray(old) ? old : [];
      if (!items.includes(item)) return undefined;
      const left = items.filter((i) => i !== item);
      return left.length ? left : null;
    });
  }

  async queryListClear(name, pointer) {
    const [ns, key] = this.listKey(name, pointer);
    await this.c.kv.delete(ns, key);
  }
}

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS objects (class TEXT NOT NULL, id TEXT NOT NULL, data JSON NOT NULL,"
    + " auth_users JSON DEFAULT '[]', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
    + ' updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (class, id))',
  'CREATE TABLE IF NOT EXISTS lists (list_name TEXT NOT NULL, pointer TEXT NOT NULL, item_id TEXT NOT NULL,'
    + ' position INTEGER DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,'
    + ' PRIMARY KEY (list_name, pointer, item_id))',
  'CREATE INDEX IF NOT EXISTS idx_objects_class ON objects(class)',
  'CREATE INDEX IF NOT EXISTS idx_objects_auth ON objects(auth_users)',
  'CREATE INDEX IF NOT EXISTS idx_lists_lookup ON lists(list_name, pointer)',
];
// the view's user is in the row's auth_users (?9), or there is no user (?9 NULL)
const MAY = '(?9 IS NULL OR EXISTS (SELECT 1 FROM json_each(objects.auth_users) WHERE value = ?9))';

class D1Adapter extends Adapter {
  constructor(client, namespace, user = null, ready = { done: false }) {
    super(user);
    this.c = client;
    this.ns = namespace;
    this.ready = ready;
  }
  copy() { return new D1Adapter(this.c, this.ns, this.user, this.ready); }

  async sql(sql, params) {
    if (!this.ready.done) {
      await this.c.sql.batch(this.ns, SCHEMA.map((s) => [s, []]));
      this.ready.done = true;
    }
    const p = [...params];
    if (sql.includes('?9')) {
      while (p.length < 8) p.push(null);
      p.push(this.user);
    }
    return this.c.sql.queryFull(this.ns, sql, p);
  }

  async get(cls, id) {
    const rows = (await this.sql(`SELECT data, auth_users FROM objects WHERE class = ?1 AND id = ?2 AND ${MAY}`,
      [checkClass(cls), checkId(id)])).results;
    return rows.length ? { ...JSON.parse(rows[0].data), _auth: JSON.parse(rows[0].auth_users) } : null;
  }

  async put(cls, id, data) {
    const c = checkClass(cls);
    const i = checkId(id);
    const text = JSON.stringify(checkData(data));
    const { meta } = await this.sql('INSERT INTO objects (class, id, data, auth_users) VALUES (?1, ?2, ?3, ?4)'
      + ` ON CONFLICT (class, id) DO UPDATE SET data = excluded.data, updated_at = CURRENT_TIMESTAMP WHERE ${MAY}`,
    [c, i, text, JSON.stringify(this.user ? [this.user] : [])]);
    if (meta.changes === 0) throw new NotAuthorized(`${c}:${i} belongs to other users`);
  }

  async delete(cls, id) {
    const c = checkClass(cls);
    const i = checkId(id);
    const { meta } = await this.sql(`DELETE FROM objects WHERE class = ?1 AND id = ?2 AND ${MAY}`, [c, i]);
    if (meta.changes) return true;
    if ((await this.sql('SELECT 1 AS x FROM objects WHERE class = ?1 AND id = ?2', [c, i])).results.length) {
      throw new NotAuthorized(`${c}:${i} belongs to other users`);
    }
    return false;
  }

  async queryListByPointer(name, pointer) {
    const { results } = await this.sql('SELECT item_id FROM lists WHERE list_name = ?1 AND pointer = ?2 ORDER BY position, rowid',
      [checkClass(name, 'list name'), checkId(pointer, 'pointer')]);
    return results.map((r) => r.item_id);
  }

  async queryListAddItem(name, pointer, item) {
    await this.sql('INSERT OR IGNORE INTO lists (list_name, pointer, item_id, position) VALUES (?1, ?2, ?3,'
      + ' (SELECT coalesce(max(position), 0) + 1 FROM lists WHERE list_name = ?1 AND pointer = ?2))',
    [checkClass(name, 'list name'), checkId(pointer, 'pointer'), checkId(item, 'item')]);
  }

  async queryListRemoveItem(name, pointer, item) {
    await this.sql('DELETE FROM lists WHERE list_name = ?1 AND pointer = ?2 AND item_id = ?3',
      [checkClass(name, 'list name'), checkId(pointer, 'pointer'), checkId(item, 'item')]);
  }

  async queryListClear(name, pointer) {
    await this.sql('DELETE FROM lists WHERE list_name = ?1 AND pointer = ?2',
      [checkClass(name, 'list name'), checkId(pointer, 'pointer')]);
  }
}

class Datastore {
  constructor(client, { namespaces = {}, d1Namespace = 'datastore' } = {}) {
    this.kv = new KVAdapter(client, namespaces);
    this.d1 = new D1Adapter(client, d1Namespace);
    this.KV = this.kv;
    this.D1 = this.d1;
  }
}

module.exports = { Datastore, KVAdapter, D1Adapter, DatastoreError, InvalidInput, NotAuthorized };
