'use strict';
// The general storage object's client examples, run in Node against durod with only the
// construction changed (a URL instead of c.env.STORAGE_DO).
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startDurod, ROOT } = require('./durod.cjs');

const SDK = path.join(ROOT, 'sdk', 'js', 'index.cjs');
const { createStorageClient, StorageHelpers, createRateLimiter, createLoginService, DuroClient } = require(SDK);

let srv;
before(async () => { srv = await startDurod(); });
after(async () => { await srv.stop(); });

test('basic storage operations, namespaces, batches', async () => {
  const storage = createStorageClient(srv.url);
  await storage.set('my-key', { data: 'value' }, 60000); // 60s TTL
  const result = await storage.get('my-key');
  assert.equal(result.success, true);
  assert.deepEqual(result.data, { data: 'value' });
  assert.deepEqual(await storage.delete('my-key'), { success: true, data: { deleted: true } });
  const miss = await storage.get('my-key');
  assert.equal(miss.success, false);
  assert.match(miss.error, /not found/);
  const data = { n: 1 };
  await storage.set('rate_limit:user123', data, undefined, 'rate_limiting');
  await storage.set('session:abc123', data, 60000, 'sessions');
  await storage.set('custom:key', data, undefined, 'my_namespace');
  assert.deepEqual((await storage.get('custom:key', 'my_namespace')).data, data);
  assert.equal((await storage.setMany({ a: 1, b: 2 })).data.count, 2);
  assert.deepEqual((await storage.getMany(['a', 'b', 'c'])).data, { a: 1, b: 2 });
  assert.deepEqual((await storage.list()).data, ['a', 'b']);
  assert.deepEqual((await storage.deleteMany(['a', 'c'])).data, { deleted: 1 });
  assert.deepEqual((await storage.clear()).data, { deleted: 1 });
  const bad = await storage.set('', 1);
  assert.equal(bad.success, false);
});

test('storage helpers', async () => {
  const client = createStorageClient(srv.url);
  const helpers = new StorageHelpers(client);
  assert.equal(await helpers.getRateLimit('helpers-user'), null);
  const now = Date.now();
  await helpers.setRateLimit('helpers-user', 29, now);
  assert.deepEqual(await helpers.getRateLimit('helpers-user'), { tokens: 29, lastRefill: now });
  const sessionData = { user: 'u1' };
  await helpers.setSession('session-id', sessionData, 7 * 24 * 60 * 60 * 1000);
  assert.deepEqual(await helpers.getSession('session-id'), sessionData);
});

test('the rate limiter is exact across processes', async () => {
  const rateLimiter = createRateLimiter(srv.url, { limit: 30, windowMs: 3600000, namespace: 'rl-js' });
  assert.deepEqual(await rateLimiter.checkLimit('user123'), { allowed: true, remaining: 29 });
  const child = `const { createRateLimiter } = require(${JSON.stringify(SDK)});
    (async () => { const l = createRateLimiter(${JSON.stringify(srv.url)}, { limit: 30, windowMs: 3600000, namespace: 'rl-js' });
      let n = 0; for (let i = 0; i < 20; i++) if ((await l.checkLimit('user123')).allowed) n++; console.log(n); })();`;
  const runs = await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
    const { execFile } = require('node:child_process');
    execFile(process.execPath, ['-e', child], { timeout: 60000 }, (e, out) => (e ? reject(e) : resolve(Number(out))));
  })));
  assert.equal(runs.reduce((a, b) => a + b, 0), 29); // 60 checks after the first: exactly 29 pass
  assert.deepEqual(await rateLimiter.checkLimit('user123'), { allowed: false, remaining: 0 });
});

test('the login service', async () => {
  const c = new DuroClient({ url: srv.url });
  await c.auth.createUser('auth', 'ada@example.com', 'correct horse battery');
  const loginService = createLoginService(c);
  const result = await loginService.login({ email: 'ada@example.com', password: 'correct horse battery' });
  assert.equal(result.success, true);
  assert.equal(result.session.userId, (await c.auth.session('auth', result.sessionId)).userId);
  const bad = await loginService.login({ email: 'ada@example.com', password: 'wrong one' });
  assert.equal(bad.success, false);
});

test('the ESM entry has them too', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `import { createStorageClient, StorageHelpers, createRateLimiter, createLoginService, DuroRateLimitStore } from ${JSON.stringify(path.join(ROOT, 'sdk', 'js', 'index.mjs'))};
     console.log([createStorageClient, StorageHelpers, createRateLimiter, createLoginService, DuroRateLimitStore].map((f) => typeof f).join(' '));`],
  { encoding: 'utf8' });
  assert.equal(out.trim(), 'function function function function function');
});
