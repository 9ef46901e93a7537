'use strict';
// examples/js/notes.mjs runs against a real durod.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startDurod, ROOT } = require('./durod.cjs');

let srv;
before(async () => { srv = await startDurod(); });
after(async () => { await srv.stop(); });

test('the notes example', () => {
  const app = path.join(ROOT, 'examples', 'js', 'notes.mjs');
  const run = (...args) => {
    try {
      return execFileSync(process.execPath, [app, ...args], { env: { ...process.env, DURO_URL: srv.url }, encoding: 'utf8' });
    } catch (e) {
      return `exit ${e.status}: ${e.stdout}`;
    }
  };
  assert.equal(run('add', 'alice', 'buy milk'), 'note 1 added (1 in all)\n');
  assert.equal(run('add', 'alice', 'call bob'), 'note 2 added (2 in all)\n');
  assert.equal(run('add', 'bob', 'fix bike'), 'note 3 added (1 in all)\n');
  assert.equal(run('list', 'alice'), '1\tbuy milk\n2\tcall bob\n');
  for (let i = 0; i < 3; i++) run('add', 'alice', `more ${i}`);
  assert.match(run('add', 'alice', 'one too many'), /^exit 1: slow down: try again in \d+ s\n$/);
});
