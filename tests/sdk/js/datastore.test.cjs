'use strict';
// The JS Datastore: one contract, run against both adapters with no change between
// them, including 50 concurrent adds to one list from five processes.
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { test, describe, before, after } = require('node:test');
const { startDurod, ROOT } = require('./durod.cjs');

const SDK = path.join(ROOT, 'sdk', 'js', 'index.cjs');
const { DuroClient, Datastore, InvalidInput, NotAuthorized } = require(SDK);

let srv;
let client;
let n = 0;
before(async () => {
  srv = await startDurod();
  client = new DuroClient({ url: srv.url });
});
after(async () => { await srv.stop(); });

const ADD_ITEMS = `
const { DuroClient, Datastore } = require(${JSON.stringify(SDK)});
const [url, kind, proc] = process.argv.slice(1);
(async () => {
  const ds = new Datastore(new DuroClient({ url }), { namespaces: { list: 'jsdsc-lists' }, d1Namespace: 'jsdsc-sql' });
  const db = ds[kind].auth('u' + proc);
  for (let i = 0; i < 10; i++) await db.queryListAddItem('items', 'shared', 'p' + proc + '-' + i);
})().catch((e) => { console.error(e); process.exit(1); });`;

for (const kind of ['kv', 'd1']) {
  describe(`the Datastore over ${kind}`, () => {
    const fresh = () => {
      const tag = `jsd${process.pid}-${n++}`;
      const ds = new Datastore(client, { namespaces: { project: `${tag}-p`, user: `${tag}-u`, list: `${tag}-l` }, d1Namespace: `${tag}-sql` });
      return ds[kind];
    };

    test('objects carry auth and views see only their own', async () => {
      const store = fresh();
      const alice = store.auth('alice');
      const bob = store.auth('bob');
      await alice.put('PROJECT', 'p1', { name: 'My Project', n: [1, 2] });
      assert.deepEqual(await alice.get('PROJECT', 'p1'), { name: 'My Project', n: [1, 2], _auth: ['alice'] });
      assert.equal(await alice.exists('PROJECT', 'p1'), true);
      assert.equal(await bob.get('PROJECT', 'p1'), null);
      assert.equal(await bob.exists('PROJECT', 'p1'), false);
      await assert.rejects(bob.delete('PROJECT', 'p1'), NotAuthorized);
      await assert.rejects(bob.put('PROJECT', 'p1', { name: 'stolen' }), NotAuthorized);
      await alice.put('PROJECT', 'p1', { name: 'Renamed' });
      assert.deepEqual(await alice.get('project', 'p1'), { name: 'Renamed', _auth: ['alice'] });
      assert.equal(await alice.delete('PROJECT', 'p1'), true);
      assert.equal(await alice.delete('PROJECT', 'p1'), false);
      await bob.put('USER', ['proj_1', 'page_2'].join(':'), { x: null });
      assert.deepEqual(await bob.get('USER', 'proj_1:page_2'), { x: null, _auth: ['bob'] });
      assert.deepEqual((await store.get('USER', 'proj_1:page_2'))._auth, ['bob']); // no user: sees all
    });

    test('lists', async () => {
      const db = fresh().auth('u1');
      assert.deepEqual(await db.queryListByPointer('apiKeys', 'userId:1'), []);
      for (const k of ['key_abc123', 'key_xyz456', 'key_abc789', 'key_abc123']) await db.queryListAddItem('apiKeys', 'userId:1', k);
      assert.deepEqual(await db.queryListByPointer('apiKeys', 'userId:1'), ['key_abc123', 'key_xyz456', 'key_abc789']);
      await db.queryListRemoveItem('apiKeys', 'userId:1', 'key_xyz456');
      await db.queryListRemoveItem('apiKeys', 'userId:1', 'never-there');
      assert.deepEqual(await db.queryListByPointer('apiKeys', 'userId:1'), ['key_abc123', 'key_abc789']);
      await db.queryListAddItem('projects', '12345', 'proj_abc');
      await db.queryListAddItem('projects', '12345', 'proj_xyz');
      assert.deepEqual(await db.getList('projects', '12345'), ['proj_abc', 'proj_xyz']);
      await db.queryListClear('apiKeys', 'userId:1');
      assert.deepEqual(await db.queryListByPointer('apiKeys', 'userId:1'), []);
    });

    test('input is validated', async () => {
      const db = fresh().auth('u1');
      for (const cls of ['', '9x', 'a b', 'x'.repeat(65), null]) await assert.rejects(db.put(cls, 'i', {}), InvalidInput);
      for (const id of ['', 'x'.repeat(513), 'a\0b', 5]) await assert.rejects(db.get('PROJECT', id), InvalidInput);
      await assert.rejects(db.put('PROJECT', 'i', ['not', 'an', 'object']), InvalidInput);
      await assert.rejects(db.put('PROJECT', 'i', { big: 'x'.repeat(1 << 20) }), InvalidInput);
      const cyclic = {};
      cyclic.self = cyclic;
      await assert.rejects(db.put('PROJECT', 'i', cyclic), InvalidInput);
      assert.throws(() => fresh().auth(''), InvalidInput);
    });

    test('fifty concurrent adds from several processes', async () => {
      const ds = new Datastore(client, { namespaces: { list: 'jsdsc-lists' }, d1Namespace: 'jsdsc-sql' });
      await ds[kind].queryListClear('items', 'shared');
      await Promise.all([0, 1, 2, 3, 4].map((p) => new Promise((resolve, reject) => {
        execFile(process.execPath, ['-e', ADD_ITEMS, srv.url, kind, String(p)], { timeout: 120000 },
          (e, out, err) => (e ? reject(new Error(err)) : resolve()));
      })));
      const items = await ds[kind].queryListByPointer('items', 'shared');
      assert.equal(items.length, 50);
      const want = [];
      for (let p = 0; p < 5; p++) for (let i = 0; i < 10; i++) want.push(`p${p}-${i}`);
      assert.deepEqual([...items].sort(), want.sort());
    });
  });
}
