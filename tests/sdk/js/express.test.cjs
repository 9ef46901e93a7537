'use strict';
// DuroSessionStore and DuroRateLimitStore under real express + express-session +
// express-rate-limit apps (the test setup installs
// them from the npm registry: tests/sdk/js/deps.sh; NODE_PATH points at them): login on
// duro's password login, requests with the session, logout, and the store contract.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startDurod, ROOT } = require('./durod.cjs');

const express = require('express');
const session = require('express-session');
const { rateLimit } = require('express-rate-limit');
const duro = require(path.join(ROOT, 'sdk', 'js', 'index.cjs'));

const NS = 'express-test';
let srv;
let app;
let listener;
let base;
let client;

before(async () => {
  srv = await startDurod();
  client = new duro.DuroClient({ url: srv.url });
  await client.auth.createUser('app-users', 'ada@example.com', 'correct horse battery');
  const Store = duro.duroSessionStore(session);
  app = express();
  app.use(express.json());
  app.use(session({
    store: new Store({ client, namespace: NS }),
    secret: 'test secret', resave: false, saveUninitialized: false, rolling: true,
    cookie: { maxAge: 60000 },
  }));
  const loginLimit = rateLimit({ windowMs: 60000, limit: 5, standardHeaders: 'draft-7', legacyHeaders: false,
    store: new duro.DuroRateLimitStore({ client, namespace: 'login-limits' }), keyGenerator: () => 'one-client', validate: false });
  app.post('/login', loginLimit, async (req, res) => {
    try {
      const li = await client.auth.login('app-users', req.body.email, req.body.password);
      req.session.userId = li.userId;
      req.session.views = 0;
      res.json({ ok: true });
    } catch (e) {
      res.status(e.status || 500).json({ ok: false, code: e.code });
    }
  });
  app.get('/me', (req, res) => {
    if (!req.session.userId) return res.status(401).json({ ok: false });
    req.session.views += 1;
    return res.json({ userId: req.session.userId, views: req.session.views });
  });
  app.post('/logout', (req, res) => req.session.destroy((err) => res.json({ ok: !err })));
  await new Promise((r) => { listener = app.listen(0, '127.0.0.1', r); });
  base = `http://127.0.0.1:${listener.address().port}`;
});

after(async () => {
  await new Promise((r) => listener.close(r));
  await srv.stop();
});

function cookieOf(res) {
  const c = res.headers.get('set-cookie');
  return c ? c.split(';')[0] : null;
}

test('login, requests with the session, logout', async () => {
  let res = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', password: 'wrong one' }) });
  assert.equal(res.status, 401);
  assert.equal(cookieOf(res), null); // nothing saved for a failed login
  await res.text();

  res = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery' }) });
  assert.equal(res.status, 200);
  // read the whole reply before the next request: express-session sends all but the last
  // byte of a body before its store.set() has finished, and the rest after
  assert.deepEqual(await res.json(), { ok: true });
  const cookie = cookieOf(res);
  assert.match(cookie, /^connect\.sid=/);
  for (let i = 1; i <= 3; i++) {
    res = await fetch(`${base}/me`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).views, i); // the session's data round-trips through duro
  }
  // what duro holds: one KV key, named by the id's hash, with a TTL from the cookie
  const keys = [];
  for await (const k of client.kv.list(NS)) keys.push(k);
  assert.equal(keys.length, 1);
  const sid = decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
  assert.equal(keys[0], `sess:${crypto.createHash('sha256').update(sid).digest('hex')}`);
  assert.ok(!keys[0].includes(sid));
  const meta = await client.kv.get(NS, keys[0], { meta: true });
  assert.equal(meta.value.views, 3);
  const left = meta.expiresAt - Date.now();
  assert.ok(left > 50000 && left <= 60000, `ttl ${left}`);

  res = await fetch(`${base}/logout`, { method: 'POST', headers: { Cookie: cookie } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  res = await fetch(`${base}/me`, { headers: { Cookie: cookie } });
  assert.equal(res.status, 401);
  assert.equal(await client.kv.clear(NS), 0); // destroyed in duro too

  // the same app limits logins with the duro store: 2 so far, 3 more, then 429
  const login = () => fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', password: 'wrong one' }) });
  for (let i = 0; i < 3; i++) {
    const r = await login();
    assert.equal(r.status, 401);
    await r.text();
  }
  res = await login();
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get('retry-after')) > 0);
});

test('the store contract: get, set, touch, destroy, all, length, clear', async () => {
  const Store = duro.DuroSessionStore; // the same class, for the express-session installed
  assert.ok(new Store({ client }) instanceof session.Store);
  const store = new Store({ client, namespace: 'contract-sessions' });
  const call = (fn, ...a) => new Promise((res, rej) => store[fn](...a, (e, v) => (e ? rej(e) : res(v))));
  const sess = (n, maxAge) => ({ cookie: { maxAge, originalMaxAge: maxAge, path: '/', httpOnly: true }, n });
  assert.equal(await call('get', 'nope'), null);
  await call('set', 'a', sess(1, 60000));
  await call('set', 'b', sess(2, 60000));
  assert.deepEqual((await call('get', 'a')).n, 1);
  assert.equal(await call('length'), 2);
  assert.deepEqual((await call('all')).map((s) => s.n).sort(), [1, 2]);
  await call('touch', 'a', sess(1, 3600000)); // sliding: the TTL follows the cookie
  const key = store.key('a');
  const left = (await client.kv.get('contract-sessions', key, { meta: true })).expiresAt - Date.now();
  assert.ok(left > 3500000, `ttl after touch ${left}`);
  await call('set', 'c', sess(3, 1)); // 1 ms: expired at once
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await call('get', 'c'), null);
  await call('destroy', 'a');
  assert.equal(await call('get', 'a'), null);
  await call('clear');
  assert.equal(await call('length'), 0);
});

function limitedApp(opts) {
  const a = express();
  const store = new duro.DuroRateLimitStore({ client: new duro.DuroClient({ url: srv.url }), namespace: opts.ns });
  a.use(rateLimit({ windowMs: 60000, limit: 3, store, standardHeaders: 'draft-7', legacyHeaders: false,
    skipFailedRequests: true, keyGenerator: () => 'client-1', validate: false }));
  a.get('/ok', (req, res) => res.json({ ok: true }));
  a.get('/fail', (req, res) => res.status(500).json({ ok: false }));
  return new Promise((r) => {
    const l = a.listen(0, '127.0.0.1', () => r({ l, url: `http://127.0.0.1:${l.address().port}`, store }));
  });
}

test('429 past the limit, exact across two app processes sharing duro; failed requests given back', async () => {
  const one = await limitedApp({ ns: 'rl-express' });
  const two = await limitedApp({ ns: 'rl-express' }); // another "process": its own store and client
  try {
    for (let i = 0; i < 4; i++) { // failed requests: counted, then given back (decrement)
      const r = await fetch(`${one.url}/fail`);
      assert.equal(r.status, 500);
      await r.text();
      // the middleware decrements once the response has finished: wait for it (bounded)
      for (let t = 0; t < 200 && (await one.store.get('client-1')).totalHits !== 0; t++) {
        await new Promise((w) => setTimeout(w, 10));
      }
      assert.equal((await one.store.get('client-1')).totalHits, 0);
    }
    const codes = [];
    for (const base2 of [one.url, two.url, one.url, two.url, one.url]) {
      const r = await fetch(`${base2}/ok`);
      codes.push(r.status);
      await r.text();
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    const res = await fetch(`${two.url}/ok`);
    assert.equal(res.status, 429);
    assert.match(res.headers.get('ratelimit') || '', /remaining=0/);
    await one.store.resetKey('client-1');
    assert.equal((await fetch(`${two.url}/ok`)).status, 200);
    assert.equal((await one.store.get('client-1')).totalHits, 1);
  } finally {
    await new Promise((r) => one.l.close(r));
    await new Promise((r) => two.l.close(r));
  }
});
