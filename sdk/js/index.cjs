'use strict';
/*
 * duro-storage: the JavaScript client of a duro server (docs/sdk-js.md).
 * Node >= 18, fetch only, no dependencies. KVStorage, D1Storage and R2Storage
 * have the storage proxy's signatures; DuroClient has every option. Errors
 * are DuroError subclasses by the envelope's code. GET/HEAD/PUT/DELETE are
 * retried after a network error or a 503 (at most `retries` times); POST and
 * PATCH never are.
 */

const DEFAULT_URL = 'http://127.0.0.1:8787';
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

class DuroError extends Error {
  constructor(code, message, status) {
    super(`${code}: ${message}`);
    this.name = this.constructor.name;
    this.code = code;
    this.status = status || 0;
    this.detail = message;
  }
}
class BadRequest extends DuroError {}
class Unauthorized extends DuroError {}
class Forbidden extends DuroError {}
class NotFound extends DuroError {}
class MethodNotAllowed extends DuroError {}
class Conflict extends DuroError {}
class PreconditionFailed extends DuroError {}
class PayloadTooLarge extends DuroError {}
class UnsupportedMediaType extends DuroError {}
class RateLimited extends DuroError {
  constructor(code, message, status, retryAfter) {
    super(code, message, status);
    this.retryAfter = retryAfter; // seconds, or null
  }
}
class Internal extends DuroError {}
class Unavailable extends DuroError {}
class InsufficientStorage extends DuroError {}
class ConnectionFailed extends DuroError {}

const BY_CODE = {
  BAD_REQUEST: BadRequest, UNAUTHORIZED: Unauthorized, FORBIDDEN: Forbidden,
  NOT_FOUND: NotFound, METHOD_NOT_ALLOWED: MethodNotAllowed, CONFLICT: Conflict,
  PRECONDITION_FAILED: PreconditionFailed, PAYLOAD_TOO_LARGE: PayloadTooLarge,
  UNSUPPORTED_MEDIA_TYPE: UnsupportedMediaType, RATE_LIMITED: RateLimited,
  INTERNAL: Internal, UNAVAILABLE: Unavailable, INSUFFICIENT_STORAGE: InsufficientStorage,
};

const enc = encodeURIComponent;
const etag = (v) => `"${Number(v)}"`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function toError(status, headers, text) {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 200);
  try {
    const doc = JSON.parse(text);
    code = doc.error.code;
    message = doc.error.message;
  } catch (_) { /* not the envelope: keep the text */ }
  const Cls = BY_CODE[code] || DuroError;
  if (Cls === RateLimited) {
    const ra = Number(headers.get('retry-after'));
    return new RateLimited(code, message, status, Number.isFinite(ra) ? ra : null);
  }
  return new Cls(code, message, status);
}

class DuroClient {
  /**
   * opts.url: "http://host:port" (default $DURO_URL, $ERA_STORAGE_URL, then
   * http://127.0.0.1:8787); opts.token: sent as Authorization: Bearer (default
   * $DURO_TOKEN); opts.timeoutMs (default 10000); opts.retries (default 2).
   */
  constructor(opts = {}) {
    if (typeof opts === 'string') opts = { url: opts };
    const env = typeof process !== 'undefined' ? process.env : {};
    this.url = (opts.url || env.DURO_URL || env.ERA_STORAGE_URL || DEFAULT_URL).replace(/\/+$/, '');
    this.token = opts.token !== undefined ? opts.token : env.DURO_TOKEN;
    this.timeoutMs = opts.timeoutMs || 10000;
    this.retries = opts.retries !== undefined ? opts.retries : 2;
    this.kv = new KV(this);
    this.sql = new SQL(this);
    this.blobs = new Blobs(this);
    this.ratelimit = new RateLimits(this);
    this.sessions = new Sessions(this);
    this.auth = new Auth(this);
    this.snapshot = new Snapshot(this);
    this.registry = new Registry(this);
    this.namespaces = new Namespaces(this);
  }

  /** One request; resolves to the fetch Response (its body unread) or throws. */
  async request(method, path, { query, json, body, headers, ok = [200, 201] } = {}) {
    const h = { Accept: 'application/json', ...(headers || {}) };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (json !== undefined) {
      body = JSON.stringify(json);
      h['Content-Type'] = 'application/json';
    }
    let url = this.url + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
      const s = q.toString();
      if (s) url += `?${s}`;
    }
    const tries = 1 + (IDEMPOTENT.has(method) ? this.retries : 0);
    for (let attempt = 0; ; attempt++) {
      if (attempt) await sleep(50 * 2 ** (attempt - 1));
      let res;
      try {
        res = await fetch(url, { method, headers: h, body, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (e) {
        if (attempt + 1 < tries) continue;
        throw new ConnectionFailed('CONNECTION_FAILED', `${method} ${path}: ${e.cause ? e.cause.message : e.message}`, 0);
      }
      if (res.status === 503 && attempt + 1 < tries) {
        await res.arrayBuffer();
        continue;
      }
      if (!ok.includes(res.status)) throw toError(res.status, res.headers, await res.text());
      return res;
    }
  }

  /** The envelope's data of a JSON reply (the whole document where there is none). */
  async data(method, path, opts) {
    const res = await this.request(method, path, opts);
    const doc = await res.json();
    return doc && typeof doc === 'object' && 'success' in doc ? doc.data : doc;
  }

  async info() { return this.data('GET', '/api/info'); }
}

class KV {
  constructor(c) { this.c = c; }
  path(ns, key) { return `/api/storage/kv/${enc(ns)}/${enc(key)}`; }

  /** The value (NotFound if missing or expired); { meta: true }: {value, metadata, version, ...}. */
  get(ns, key, { meta = false } = {}) {
    return this.c.data('GET', this.path(ns, key), { query: { meta: meta ? '1' : undefined } });
  }

  /** Resolves to the new version. opts: ttlMs, metadata, ifMatch (a version), ifNoneMatch. */
  async put(ns, key, value, { ttlMs, metadata, ifMatch, ifNoneMatch } = {}) {
    const json = { value };
    if (ttlMs !== undefined) json.ttlMs = ttlMs;
    if (metadata !== undefined) json.metadata = metadata;
    const headers = {};
    if (ifMatch !== undefined) headers['If-Match'] = etag(ifMatch);
    if (ifNoneMatch) headers['If-None-Match'] = '*';
    return (await this.c.data('PUT', this.path(ns, key), { json, headers })).version;
  }

  async delete(ns, key, { ifMatch } = {}) {
    const headers = ifMatch !== undefined ? { 'If-Match': etag(ifMatch) } : undefined;
    return (await this.c.data('DELETE', this.path(ns, key), { headers })).deleted;
  }

  getMany(ns, keys) { return this.c.data('POST', '/storage/batch/get', { query: { ns }, json: { keys } }); }

  setMany(ns, entries, { ttlMs } = {}) {
    let list = Array.isArray(entries) ? entries : Object.entries(entries).map(([key, value]) => ({ key, value }));
    if (ttlMs !== undefined) list = list.map((e) => ({ ttlMs, ...e }));
    return this.c.data('POST', '/storage/batch/set', { query: { ns }, json: { entries: list } });
  }

  async deleteMany(ns, keys) {
    return (await this.c.data('POST', '/storage/batch/delete', { query: { ns }, json: { keys } })).deleted;
  }

  /** One page {keys, cursor, list_complete}. */
  listPage(ns, { prefix, start, startAfter, end, limit, cursor, reverse, values } = {}) {
    return this.c.data('GET', `/api/storage/kv/${enc(ns)}`, {
      query: { prefix, start, startAfter, end, limit, cursor, reverse: reverse ? '1' : undefined, values: values ? '1' : undefined },
    });
  }

  /** Every key (entries with values: true), following the cursors. */
  async *list(ns, opts = {}) {
    let cursor;
    for (;;) {
      const page = await this.listPage(ns, { ...opts, limit: opts.pageSize, cursor });
      yield* page.keys;
      if (page.list_complete || !page.cursor) return;
      cursor = page.cursor;
    }
  }

  async clear(ns) { return (await this.c.data('POST', '/storage/clear', { query: { ns } })).deleted; }
}

class SQL {
  constructor(c) { this.c = c; }
  async exec(ns, sql, params) {
    const json = params ? { sql, params } : { sql };
    return (await this.c.data('POST', `/api/storage/d1/${enc(ns)}/exec`, { json })).meta;
  }
  queryFull(ns, sql, params) {
    const json = params ? { sql, params } : { sql };
    return this.c.data('POST', `/api/storage/d1/${enc(ns)}/query`, { json });
  }
  async query(ns, sql, params) { return (await this.queryFull(ns, sql, params)).results; }
  batch(ns, statements) {
    const st = statements.map((s) => (Array.isArray(s) ? { sql: s[0], params: s[1] || [] } : s));
    return this.c.data('POST', `/api/storage/d1/${enc(ns)}/batch`, { json: { statements: st } });
  }
}

class Blobs {
  constructor(c) { this.c = c; }
  path(ns, key) { return `/api/storage/r2/${enc(ns)}/${enc(key)}`; }

  /** Stores a string, Buffer/Uint8Array, Blob or ArrayBuffer; the object's info. */
  put(ns, key, data, { contentType, metadata, ifMatch, ifNoneMatch } = {}) {
    const headers = {
      'Content-Type': contentType || (typeof data === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
    };
    for (const [k, v] of Object.entries(metadata || {})) headers[`x-amz-meta-${k}`] = String(v);
    if (ifMatch !== undefined) headers['If-Match'] = ifMatch.startsWith('"') ? ifMatch : `"${ifMatch}"`;
    if (ifNoneMatch) headers['If-None-Match'] = '*';
    return this.c.data('PUT', this.path(ns, key), { body: data, headers });
  }

  /** The bytes as a Buffer (NotFound if missing); range: [first, last]. */
  async get(ns, key, { range } = {}) {
    const headers = range ? { Range: `bytes=${range[0]}-${range[1]}` } : undefined;
    const res = await this.c.request('GET', this.path(ns, key), { headers, ok: [200, 206] });
    return Buffer.from(await res.arrayBuffer());
  }

  async head(ns, key) {
    const res = await this.c.request('HEAD', this.path(ns, key));
    return Object.fromEntries(res.headers.entries());
  }

  async delete(ns, key) { return (await this.c.data('DELETE', this.path(ns, key))).deleted; }

  listPage(ns, { prefix, delimiter, limit, cursor, startAfter } = {}) {
    return this.c.data('GET', `/api/storage/r2/${enc(ns)}`, { query: { prefix, delimiter, limit, cursor, startAfter } });
  }

  async *list(ns, opts = {}) {
    let cursor;
    for (;;) {
      const page = await this.listPage(ns, { ...opts, limit: opts.pageSize, cursor });
      yield* page.objects;
      if (!page.truncated || !page.cursor) return;
      cursor = page.cursor;
    }
  }
}

class RateLimits {
  constructor(c) { this.c = c; }
  /** {allowed, limit, remaining, resetMs, retryAfterMs}; with enforce a refusal throws RateLimited. */
  check(ns, key, { limit, windowMs, cost, enforce } = {}) {
    const json = {};
    if (limit !== undefined) json.limit = limit;
    if (windowMs !== undefined) json.windowMs = windowMs;
    if (cost !== undefined) json.cost = cost;
    if (enforce !== undefined) json.enforce = enforce;
    return this.c.data('POST', `/ratelimit/${enc(key)}/check`, { query: { ns }, json });
  }
  get(ns, key) { return this.c.data('GET', `/ratelimit/${enc(key)}`, { query: { ns } }); }
  async reset(ns, key) { return (await this.c.data('DELETE', `/ratelimit/${enc(key)}`, { query: { ns } })).deleted; }
}

class Sessions {
  constructor(c) { this.c = c; }
  create(ns, data, ttlMs, { userId, rolling } = {}) {
    const json = { data, ttlMs };
    if (userId !== undefined) json.userId = userId;
    if (rolling !== undefined) json.rolling = rolling;
    return this.c.data('POST', '/sessions', { query: { ns }, json });
  }
  get(ns, id) { return this.c.data('GET', `/sessions/${enc(id)}`, { query: { ns } }); }
  update(ns, id, data, ttlMs) {
    return this.c.data('PUT', `/sessions/${enc(id)}`, { query: { ns }, json: ttlMs === undefined ? { data } : { data, ttlMs } });
  }
  async delete(ns, id) { return (await this.c.data('DELETE', `/sessions/${enc(id)}`, { query: { ns } })).deleted; }
}

class Auth {
  constructor(c) { this.c = c; }
  cookie(id) { return { Cookie: `duro_session=${id}` }; }
  createUser(ns, email, password) { return this.c.data('POST', '/auth/users', { query: { ns }, json: { email, password } }); }
  login(ns, email, password, { ttlMs } = {}) {
    const json = { email, password };
    if (ttlMs !== undefined) json.ttlMs = ttlMs;
    return this.c.data('POST', '/auth/login', { query: { ns }, json });
  }
  session(ns, sessionId) { return this.c.data('GET', '/auth/session', { query: { ns }, headers: this.cookie(sessionId) }); }
  async logout(ns, sessionId) {
    return (await this.c.data('POST', '/auth/logout', { query: { ns }, headers: this.cookie(sessionId) })).deleted;
  }
}

class Snapshot {
  constructor(c) { this.c = c; }
  /** { data: {key: value}, version } of every live key. */
  async get(ns) {
    const res = await this.c.request('GET', '/api/storage', { query: { ns } });
    return { data: await res.json(), version: Number((res.headers.get('etag') || '"0"').replace(/"/g, '')) };
  }
  /** Applies [{op: 'set', key, value, ...} | {op: 'del', key}] at once; ifMatch: the version. */
  patch(ns, ops, { ifMatch } = {}) {
    const headers = ifMatch !== undefined ? { 'If-Match': etag(ifMatch) } : undefined;
    return this.c.data('PATCH', '/api/storage', { query: { ns }, json: ops, headers });
  }
}

class Registry {
  constructor(c) { this.c = c; }
  listPage({ type, namespace, keyPrefix, limit, offset } = {}) {
    return this.c.data('GET', '/api/resources/list', { query: { type, namespace, key_prefix: keyPrefix, limit, offset } });
  }
  /** Every resource {type, namespace, key, size, created_at, updated_at, ...}. */
  async *list({ pageSize = 100, ...filter } = {}) {
    for (let offset = 0; ;) {
      const page = await this.listPage({ ...filter, limit: pageSize, offset });
      yield* page.resources;
      if (!page.has_more) return;
      offset += page.resources.length;
    }
  }
  stats({ type, namespace, keyPrefix } = {}) {
    return this.c.data('GET', '/api/resources/stats', { query: { type, namespace, key_prefix: keyPrefix } });
  }
}

class Namespaces {
  constructor(c) { this.c = c; }
  async *list({ prefix, pageSize = 100 } = {}) {
    for (let after; ;) {
      const page = await this.c.data('GET', '/api/namespaces', { query: { prefix, after, limit: pageSize } });
      yield* page.namespaces;
      if (!page.next) return;
      after = page.next;
    }
  }
  get(ns) { return this.c.data('GET', `/api/namespaces/${enc(ns)}`); }
  delete(ns) { return this.c.data('DELETE', `/api/namespaces/${enc(ns)}`); }
}

/* ---- the storage proxy's calls (era_storage.js) ---- */

let shared = null;
function proxyClient() {
  if (!shared) shared = new DuroClient({ url: (typeof process !== 'undefined' && process.env.ERA_STORAGE_URL) || DEFAULT_URL });
  return shared;
}
async function orNull(p) {
  try {
    return await p;
  } catch (e) {
    if (e instanceof NotFound) return null;
    throw e;
  }
}

const KVStorage = {
  async set(namespace, key, value) { await proxyClient().kv.put(namespace, key, value); },
  get(namespace, key) { return orNull(proxyClient().kv.get(namespace, key)); },
  async list(namespace, prefix) {
    const out = [];
    for await (const k of proxyClient().kv.list(namespace, { prefix: prefix || undefined })) out.push(k);
    return out;
  },
  delete(namespace, key) { return proxyClient().kv.delete(namespace, key); },
};

const D1Storage = {
  exec(namespace, sql, params) { return proxyClient().sql.exec(namespace, sql, params); },
  query(namespace, sql, params) { return proxyClient().sql.query(namespace, sql, params); },
};

const R2Storage = {
  async put(namespace, key, data) { await proxyClient().blobs.put(namespace, key, data); },
  get(namespace, key) { return orNull(proxyClient().blobs.get(namespace, key)); },
  async list(namespace, prefix) {
    const out = [];
    for await (const o of proxyClient().blobs.list(namespace, { prefix: prefix || undefined })) out.push(o);
    return out;
  },
  delete(namespace, key) { return proxyClient().blobs.delete(namespace, key); },
};

/* ---- a store for express-session ---- */

const DAY_MS = 24 * 60 * 60 * 1000;

/*
 * DuroSessionStore(session) -> the class, for express-session's Store base
 * (session = require('express-session')); new Store({ client, namespace,
 * ttlMs }). Sessions are KV values under "sess:<sha256 of the id>" (the id
 * itself is never stored), each with a TTL from its cookie's maxAge (else
 * expires, else ttlMs, default one day); touch() refreshes it, which is what
 * express-session's rolling sessions call on every response.
 */
function duroSessionStore(session) {
  const crypto = require('node:crypto');
  const Store = session.Store;
  class DuroSessionStore extends Store {
    constructor(opts = {}) {
      super(opts);
      this.client = opts.client instanceof DuroClient ? opts.client : new DuroClient(opts.client);
      this.namespace = opts.namespace || 'express-sessions';
      this.ttlMs = opts.ttlMs || DAY_MS;
    }

    key(sid) { return `sess:${crypto.createHash('sha256').update(String(sid)).digest('hex')}`; }

    ttl(sess) {
      const c = sess && sess.cookie;
      if (c && typeof c.maxAge === 'number') return Math.max(1, Math.floor(c.maxAge));
      if (c && c.expires) return Math.max(1, new Date(c.expires).getTime() - Date.now());
      return this.ttlMs;
    }

    done(p, cb) {
      p.then((v) => cb && cb(null, v), (e) => cb && cb(e));
    }

    get(sid, cb) {
      this.done(this.client.kv.get(this.namespace, this.key(sid)).catch((e) => {
        if (e instanceof NotFound) return null;
        throw e;
      }), cb);
    }

    set(sid, sess, cb) {
      this.done(this.client.kv.put(this.namespace, this.key(sid), sess, { ttlMs: this.ttl(sess) }).then(() => undefined), cb);
    }

    touch(sid, sess, cb) { this.set(sid, sess, cb); }

    destroy(sid, cb) {
      this.done(this.client.kv.delete(this.namespace, this.key(sid)).then(() => undefined), cb);
    }

    all(cb) {
      this.done((async () => {
        const out = [];
        for await (const e of this.client.kv.list(this.namespace, { prefix: 'sess:', values: true })) out.push(e.value);
        return out;
      })(), cb);
    }

    length(cb) {
      this.done((async () => {
        let n = 0;
        for await (const _ of this.client.kv.list(this.namespace, { prefix: 'sess:' })) n++; // eslint-disable-line no-unused-vars
        return n;
      })(), cb);
    }

    clear(cb) { this.done(this.client.kv.clear(this.namespace).then(() => undefined), cb); }
  }
  return DuroSessionStore;
}

/* ---- a store for express-rate-limit ---- */

/*
 * new DuroRateLimitStore({ client, namespace, prefix }) for express-rate-limit's
 * `store` option. Each increment is a check on duro's limiter (GCRA, one owner
 * per namespace), so every process and server sharing the namespace shares one
 * exact budget; decrement gives the token back (a negative cost), resetKey
 * forgets the key. The limit must be a number: the server enforces it.
 */
class DuroRateLimitStore {
  constructor(opts = {}) {
    this.client = opts.client instanceof DuroClient ? opts.client : new DuroClient(opts.client);
    this.namespace = opts.namespace || 'express-rate-limit';
    this.prefix = opts.prefix || 'rl:';
    this.localKeys = false;
  }

  init(options) {
    const limit = options.limit !== undefined ? options.limit : options.max;
    if (typeof limit !== 'number' || !(limit >= 1)) {
      throw new TypeError('DuroRateLimitStore needs a numeric limit >= 1 (duro enforces it)');
    }
    this.limit = limit;
    this.windowMs = options.windowMs;
    // A denied check takes nothing (GCRA), but with skipFailedRequests the 429 it
    // answers is itself a failed request that express-rate-limit decrements: those
    // decrements must give nothing back. Denials waiting for theirs, per key (this
    // process answered them, so this process gets their decrements).
    this.trackDenied = Boolean(options.skipFailedRequests);
    this.denied = new Map();
  }

  check(key, cost) {
    return this.client.ratelimit.check(this.namespace, this.prefix + key, { limit: this.limit, windowMs: this.windowMs, cost });
  }

  info(r, denied) {
    return { totalHits: denied ? this.limit + 1 : this.limit - r.remaining, resetTime: new Date(Date.now() + r.resetMs) };
  }

  async get(key) { return this.info(await this.check(key, 0), false); }

  async increment(key) {
    const r = await this.check(key, 1);
    if (!r.allowed && this.trackDenied && this.denied.size < 100000) {
      this.denied.set(key, (this.denied.get(key) || 0) + 1);
    }
    return this.info(r, !r.allowed);
  }

  async decrement(key) {
    const n = this.denied.get(key);
    if (n) { // the decrement of a denied request: it took nothing
      if (n === 1) this.denied.delete(key);
      else this.denied.set(key, n - 1);
      return;
    }
    await this.check(key, -1);
  }

  async resetKey(key) { await this.client.ratelimit.reset(this.namespace, this.prefix + key); }
}

/* ---- the general storage object's client ---- */

/*
 * createStorageClient(client | url | options, { namespace }) : the calls of the client
 * that came with the storage Durable Object duro's /storage routes replace, each
 * resolving to { success, data?, error? } (a refusal is success: false, never a throw).
 */
function asClient(c) { return c instanceof DuroClient ? c : new DuroClient(c); }

async function outcome(p) {
  try {
    return { success: true, data: await p };
  } catch (e) {
    if (e instanceof DuroError) return { success: false, error: e.detail };
    throw e;
  }
}

class StorageClient {
  constructor(client, { namespace = 'default' } = {}) {
    this.client = asClient(client);
    this.namespace = namespace;
  }
  set(key, value, ttlMs, namespace) {
    return outcome(this.client.kv.put(namespace || this.namespace, key, value, ttlMs === undefined ? {} : { ttlMs })
      .then((version) => ({ version })));
  }
  get(key, namespace) { return outcome(this.client.kv.get(namespace || this.namespace, key)); }
  delete(key, namespace) {
    return outcome(this.client.kv.delete(namespace || this.namespace, key).then((deleted) => ({ deleted })));
  }
  getMany(keys, namespace) { return outcome(this.client.kv.getMany(namespace || this.namespace, keys)); }
  setMany(entries, ttlMs, namespace) {
    return outcome(this.client.kv.setMany(namespace || this.namespace, entries, ttlMs === undefined ? {} : { ttlMs }));
  }
  deleteMany(keys, namespace) {
    return outcome(this.client.kv.deleteMany(namespace || this.namespace, keys).then((deleted) => ({ deleted })));
  }
  list(prefix, namespace) {
    return outcome((async () => {
      const keys = [];
      for await (const k of this.client.kv.list(namespace || this.namespace, { prefix: prefix || undefined })) keys.push(k);
      return keys;
    })());
  }
  clear(namespace) {
    return outcome(this.client.kv.clear(namespace || this.namespace).then((deleted) => ({ deleted })));
  }
}

function createStorageClient(client, opts) { return new StorageClient(client, opts); }

/* The original's helpers: buckets under rate_limit:<id> in "rate_limiting", sessions
 * under session:<id> in "sessions". */
class StorageHelpers {
  constructor(storage) { this.storage = storage; }
  async getRateLimit(id) {
    const r = await this.storage.get(`rate_limit:${id}`, 'rate_limiting');
    return r.success ? r.data : null;
  }
  setRateLimit(id, tokens, lastRefill, ttlMs) {
    return this.storage.set(`rate_limit:${id}`, { tokens, lastRefill }, ttlMs, 'rate_limiting');
  }
  async getSession(id) {
    const r = await this.storage.get(`session:${id}`, 'sessions');
    return r.success ? r.data : null;
  }
  setSession(id, data, ttlMs) { return this.storage.set(`session:${id}`, data, ttlMs, 'sessions'); }
}

/* createRateLimiter(client, { limit = 30, windowMs = 60000, namespace }).checkLimit(id)
 * -> { allowed, remaining }, on duro's exact limiter. */
function createRateLimiter(client, { limit = 30, windowMs = 60000, namespace = 'rate_limiting' } = {}) {
  const c = client instanceof StorageClient ? client.client : asClient(client);
  return {
    async checkLimit(id, cost = 1) {
      const r = await c.ratelimit.check(namespace, id, { limit, windowMs, cost });
      return { allowed: r.allowed, remaining: r.remaining };
    },
  };
}

/* createLoginService(client, { namespace = 'auth', ttlMs }).login({ email, password })
 * -> { success, sessionId, session } on duro's password login, or { success: false, error }. */
function createLoginService(client, { namespace = 'auth', ttlMs } = {}) {
  const c = client instanceof StorageClient ? client.client : asClient(client);
  return {
    async login({ email, password }) {
      try {
        const li = await c.auth.login(namespace, email, password, ttlMs === undefined ? {} : { ttlMs });
        return { success: true, sessionId: li.sessionId, session: await c.auth.session(namespace, li.sessionId) };
      } catch (e) {
        if (e instanceof DuroError) return { success: false, error: e.detail };
        throw e;
      }
    },
  };
}

module.exports = {
  ...require('./datastore.cjs'),
  StorageClient, createStorageClient, StorageHelpers, createRateLimiter, createLoginService,
  DuroClient, KVStorage, D1Storage, R2Storage, proxyClient, duroSessionStore, DuroRateLimitStore,
  DuroError, BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
  PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, RateLimited, Internal,
  Unavailable, InsufficientStorage, ConnectionFailed,
};

// DuroSessionStore: the class of duroSessionStore() for the express-session the app has
// installed, made at first use (express-session is the app's dependency, not ours).
let sessionStoreClass = null;
Object.defineProperty(module.exports, 'DuroSessionStore', {
  enumerable: false,
  get() {
    if (!sessionStoreClass) sessionStoreClass = duroSessionStore(require('express-session'));
    return sessionStoreClass;
  },
});
