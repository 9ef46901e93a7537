#!/usr/bin/env node
// A tiny notes app on duro: notes in SQL, a per-user counter with compare-and-set in KV,
// the text of each note as a blob, and a rate limit of 5 new notes a minute per user.
//
//   node examples/js/notes.mjs add alice "buy milk"
//   node examples/js/notes.mjs list alice
//
// The server is $DURO_URL (default http://127.0.0.1:8787).
import { DuroClient, PreconditionFailed, NotFound } from '../../sdk/js/index.mjs';

const NS = 'notes-example';
const c = new DuroClient();
const [cmd, user, text] = process.argv.slice(2);

async function bumpCount(u) { // compare-and-set: correct with any number of writers
  for (;;) {
    let cur = null;
    try {
      cur = await c.kv.get(NS, `count:${u}`, { meta: true });
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
    try {
      if (cur) {
        await c.kv.put(NS, `count:${u}`, cur.value + 1, { ifMatch: cur.version });
        return cur.value + 1;
      }
      await c.kv.put(NS, `count:${u}`, 1, { ifNoneMatch: true });
      return 1;
    } catch (e) {
      if (!(e instanceof PreconditionFailed)) throw e;
    }
  }
}

async function main() {
  await c.sql.exec(NS, 'CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, owner TEXT NOT NULL)');
  if (cmd === 'add') {
    const rl = await c.ratelimit.check(NS, `add:${user}`, { limit: 5, windowMs: 60000 });
    if (!rl.allowed) {
      console.log(`slow down: try again in ${Math.ceil(rl.retryAfterMs / 1000)} s`);
      return 1;
    }
    const { last_row_id: id } = await c.sql.exec(NS, 'INSERT INTO notes (owner) VALUES (?)', [user]);
    await c.blobs.put(NS, `notes/${id}.txt`, text);
    console.log(`note ${id} added (${await bumpCount(user)} in all)`);
  } else if (cmd === 'list') {
    for (const row of await c.sql.query(NS, 'SELECT id FROM notes WHERE owner = ? ORDER BY id', [user])) {
      console.log(`${row.id}\t${(await c.blobs.get(NS, `notes/${row.id}.txt`)).toString()}`);
    }
  } else {
    console.log('usage: notes.mjs add USER TEXT | list USER');
    return 2;
  }
  return 0;
}

process.exitCode = await main();
