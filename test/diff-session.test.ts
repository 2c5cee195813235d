import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const fromCurrent = {
  '001_f.up.sql': "create function f() returns int language sql set search_path from current as 'select 1';",
  '001_f.down.sql': 'drop function f();',
};

function project(t: { after(fn: () => unknown): void }) {
  const p = writeMigrations(t, fromCurrent);
  writeFileSync(join(p.root, 'schema.sql'), 'create table t (id int);\n');
  return p;
}

test('diff says what value a SET … FROM CURRENT function took on the embedded PGlite, that a server may differ, and the way out; the pair proved there does not restore the function on a server', async (t) => {
  const { root, dir } = project(t);
  const r = await runCli(['diff', '--dry-run', '--json', '--dir', dir], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  const notes = (JSON.parse(r.stdout) as { notes: string[] }).notes;
  const note = notes.find((n) => n.includes('FROM CURRENT'));
  assert.ok(note, `a note about FROM CURRENT: ${notes.join('\n')}`);
  assert.match(note, /^sql\/001_f\.up\.sql:1: function f sets search_path FROM CURRENT/);
  assert.match(note, /on the scratch database \(an embedded PGlite\) that is 'public'/);
  assert.match(note, /--scratch-url/);
  const text = await runCli(['diff', '--dir', dir], { cwd: root });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stderr, /note: sql\/001_f\.up\.sql:1: function f sets search_path FROM CURRENT/);

  // What the note warns of: on PostgreSQL, that down makes f with search_path 'public', not what 001 made.
  const db = await freshDb(t);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal((await cli('up')).code, 0);
  assert.equal((await cli('down')).code, 0);
  const [row] = await db.sql`select proconfig::text as config from pg_proc where proname = 'f'`;
  assert.equal(row!['config'], '{search_path=public}');
});

test('with the scratch on the server, the note names the server\'s own value and the pair restores the function exactly', async (t) => {
  const { root, dir } = project(t);
  const db = await freshDb(t);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', db.url], { cwd: root });
  const r = await cli('diff');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /function f sets search_path FROM CURRENT, .*that is '"\$user", public'/);
  assert.equal((await cli('up')).code, 0);
  assert.equal((await cli('down')).code, 0);
  const drift = await cli('drift');
  assert.equal(drift.code, 0, drift.stdout);
});
