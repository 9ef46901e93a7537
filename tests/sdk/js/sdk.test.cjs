'use strict';
// The JS SDK (sdk/js) against a real durod: the storage proxy's JavaScript example with
// KVStorage / D1Storage / R2Storage, DuroClient's calls and errors, and the ESM entry.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startDurod, ROOT } = require('./durod.cjs');

const SDK = path.join(ROOT, 'sdk', 'js');
const duro = require(path.join(SDK, 'index.cjs'));
const { DuroClient } = duro;

let srv;
let c;
let n = 0;
const ns = () => `js${process.pid}-${n++}`;

before(async () => {
  srv = await startDurod();
  c = new DuroClient({ url: srv.url });
});
after(async () => { await srv.stop(); });

// The storage proxy document's JavaScript example, as printed (wrapped in an async
// function: it awaits at the top level of a CommonJS module).
const EXAMPLE = `
const { KVStorage, D1Storage, R2Storage } = require('./era_storage.js');

// KV Storage
await KVStorage.set("app1", "user:123", JSON.stringify({name: "Alice"}));
const data = await KVStorage.get("app1", "user:123");
const keys = await KVStorage.list("app1", "user:");
await KVStorage.delete("app1", "user:123");

// D1 Database
await D1Storage.exec("app1", "CREATE TABLE users (id INTEGER, name TEXT)");
await D1Storage.exec("app1", "INSERT INTO users VALUES (?, ?)", [1, "Bob"]);
const users = await D1Storage.query("app1", "SELECT * FROM users");

// R2 Storage
await R2Storage.put("app1", "file.txt", "Hello World!");
const content = await R2Storage.get("app1", "file.txt");
const objects = await R2Storage.list("app1", "uploads/");
await R2Storage.delete("app1", "file.txt");
`;

test('the storage proxy example runs with KVStorage, D1Storage and R2Storage', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durojs-ex-'));
  try {
    fs.writeFileSync(path.join(dir, 'era_storage.js'),
      `module.exports = require(${JSON.stringify(path.join(SDK, 'era_storage.js'))});\n`);
    const script = `(async () => {${EXAMPLE}
      console.log(JSON.stringify({ data, keys, users, content: content.toString(), objects }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
    fs.writeFileSync(path.join(dir, 'example.js'), script);
    const out = execFileSync(process.execPath, ['example.js'], {
      cwd: dir, env: { ...process.env, ERA_STORAGE_URL: srv.url }, encoding: 'utf8', timeout: 60000,
    });
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()), {
      data: '{"name":"Alice"}', keys: ['user:123'], users: [{ id: 1, name: 'Bob' }],
      content: 'Hello World!', objects: [],
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('missing reads are null in the proxy calls, NotFound in DuroClient', async () => {
  process.env.ERA_STORAGE_URL = srv.url;
  const s = ns();
  assert.equal(await duro.KVStorage.get(s, 'nope'), null);
  assert.equal(await duro.R2Storage.get(s, 'nope'), null);
  await assert.rejects(c.kv.get(s, 'nope'), (e) => e instanceof duro.NotFound && e.status === 404);
});

test('kv options, compare-and-set and typed errors', async () => {
  const s = ns();
  const v1 = await c.kv.put(s, 'a', { x: [1, 2.5, 'é'] }, { metadata: { m: 1 }, ttlMs: 60000 });
  assert.deepEqual(await c.kv.get(s, 'a'), { x: [1, 2.5, 'é'] });
  const meta = await c.kv.get(s, 'a', { meta: true });
  assert.equal(meta.version, v1);
  assert.deepEqual(meta.metadata, { m: 1 });
  await assert.rejects(c.kv.put(s, 'a', 2, { ifMatch: v1 + 100 }), duro.PreconditionFailed);
  const v2 = await c.kv.put(s, 'a', 2, { ifMatch: v1 });
  assert.ok(v2 > v1);
  await assert.rejects(c.kv.put(s, 'a', 3, { ifNoneMatch: true }), (e) => e.code === 'PRECONDITION_FAILED');
  assert.equal(await c.kv.delete(s, 'a', { ifMatch: v2 }), true);
  assert.equal(await c.kv.delete(s, 'a'), false);
  await assert.rejects(c.kv.put(s, '', 1), duro.BadRequest);
  for (const key of ['a/b c', 'ü?&=#%']) {
    await c.kv.put(s, key, key);
    assert.equal(await c.kv.get(s, key), key);
  }
});

test('batches and list pages that follow cursors', async () => {
  const s = ns();
  const entries = {};
  for (let i = 0; i < 25; i++) entries[`k${String(i).padStart(2, '0')}`] = i;
  assert.equal((await c.kv.setMany(s, entries)).count, 25);
  const keys = [];
  for await (const k of c.kv.list(s, { prefix: 'k', pageSize: 10 })) keys.push(k);
  assert.deepEqual(keys, Object.keys(entries));
  assert.deepEqual(await c.kv.getMany(s, ['k01', 'nope']), { k01: 1 });
  assert.equal(await c.kv.deleteMany(s, ['k01', 'k02', 'nope']), 2);
  assert.equal(await c.kv.clear(s), 23);
});

test('sql, blobs and rate limits', async () => {
  const s = ns();
  await c.sql.exec(s, 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
  const meta = await c.sql.exec(s, 'INSERT INTO t (name) VALUES (?)', ['a']);
  assert.equal(meta.last_row_id, 1);
  const out = await c.sql.batch(s, [['INSERT INTO t (name) VALUES (?)', ['b']], { sql: 'SELECT count(*) AS n FROM t' }]);
  assert.deepEqual(out[1].results, [{ n: 2 }]);
  await assert.rejects(c.sql.query(s, 'SELECT * FROM nope'), duro.BadRequest);

  const data = crypto.randomBytes(300000);
  const info = await c.blobs.put(s, 'd/x.bin', data, { metadata: { who: 'me' } });
  assert.equal(info.etag, crypto.createHash('sha256').update(data).digest('hex'));
  assert.ok((await c.blobs.get(s, 'd/x.bin')).equals(data));
  assert.ok((await c.blobs.get(s, 'd/x.bin', { range: [5, 9] })).equals(data.subarray(5, 10)));
  assert.equal((await c.blobs.head(s, 'd/x.bin'))['content-length'], '300000');
  const objs = [];
  for await (const o of c.blobs.list(s, { prefix: 'd/' })) objs.push(o.key);
  assert.deepEqual(objs, ['d/x.bin']);
  assert.equal(await c.blobs.delete(s, 'd/x.bin'), true);

  for (let i = 0; i < 2; i++) assert.equal((await c.ratelimit.check(s, 'ip', { limit: 2, windowMs: 60000, enforce: true })).allowed, true);
  await assert.rejects(c.ratelimit.check(s, 'ip', { limit: 2, windowMs: 60000, enforce: true }),
    (e) => e instanceof duro.RateLimited && e.status === 429 && e.retryAfter > 0);
  assert.equal(await c.ratelimit.reset(s, 'ip'), true);
});

test('sessions and login', async () => {
  const s = ns();
  const sess = await c.sessions.create(s, { cart: [1] }, 60000, { userId: 'u1' });
  assert.deepEqual((await c.sessions.get(s, sess.id)).data, { cart: [1] });
  assert.equal(await c.sessions.delete(s, sess.id), true);
  await c.auth.createUser(s, 'a@example.com', 'correct horse battery');
  await assert.rejects(c.auth.login(s, 'a@example.com', 'wrong password'), duro.Unauthorized);
  const li = await c.auth.login(s, 'a@example.com', 'correct horse battery');
  assert.equal((await c.auth.session(s, li.sessionId)).userId, li.userId);
  assert.equal(await c.auth.logout(s, li.sessionId), true);
});

test('snapshot, registry, namespaces', async () => {
  const s = ns();
  assert.deepEqual(await c.snapshot.get(s), { data: {}, version: 0 });
  const out = await c.snapshot.patch(s, [{ op: 'set', key: 'a', value: 1 }, { op: 'set', key: 'b', value: 2 }], { ifMatch: 0 });
  const snap = await c.snapshot.get(s);
  assert.deepEqual(snap, { data: { a: 1, b: 2 }, version: out.version });
  await assert.rejects(c.snapshot.patch(s, [{ op: 'del', key: 'a' }], { ifMatch: snap.version + 5 }), duro.PreconditionFailed);
  assert.equal((await c.registry.stats({ namespace: s })).total, 2);
  const keys = [];
  for await (const r of c.registry.list({ namespace: s, pageSize: 1 })) keys.push(r.key);
  assert.deepEqual(keys, ['a', 'b']);
  assert.equal((await c.namespaces.get(s)).keys, 2);
  let seen = false;
  for await (const x of c.namespaces.list({ prefix: s })) seen = seen || x.namespace === s;
  assert.ok(seen);
});

test('an unreachable server is ConnectionFailed; tokens come from DURO_TOKEN', async () => {
  const dead = new DuroClient({ url: 'http://127.0.0.1:1', retries: 0, timeoutMs: 2000 });
  await assert.rejects(dead.kv.get('x', 'y'), (e) => e instanceof duro.ConnectionFailed && e.status === 0);
  const guarded = await startDurod(['--auth-token', 'js-test-token-1234']);
  try {
    await assert.rejects(new DuroClient({ url: guarded.url, token: '' }).kv.get('n', 'k'), duro.Unauthorized);
    process.env.DURO_TOKEN = 'js-test-token-1234';
    const ok = new DuroClient({ url: guarded.url });
    delete process.env.DURO_TOKEN;
    await ok.kv.put('n', 'k', 1);
    assert.equal(await ok.kv.get('n', 'k'), 1);
  } finally {
    await guarded.stop();
  }
});

test('the ESM entry gives the same objects', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `import d, { DuroClient, KVStorage, NotFound } from ${JSON.stringify(path.join(SDK, 'index.mjs'))};
     console.log(typeof DuroClient, typeof KVStorage.get, d.NotFound === NotFound);`], { encoding: 'utf8' });
  assert.equal(out.trim(), 'function function true');
});
