/**
 * On a server, a migration is sent while the one before it still runs, with a precondition that lets it
 * run only if that one committed. These tests watch a sequence, whose nextval() no rollback undoes: had
 * any statement of a migration sent behind a failed one run, even rolled back, the sequence would show it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, runCli, writeMigrations, versions } from './support/helpers.js';

after(closeAdmin);

const sequenceValue = async (db: Awaited<ReturnType<typeof freshDb>>) =>
  Number((await db.sql`select case when is_called then last_value else 0 end as v from watch`)[0]!['v']);

function later(from: number, to: number, direction: 'up' | 'down'): Record<string, string> {
  const files: Record<string, string> = {};
  for (let v = from; v <= to; v++) {
    const name = `${String(v).padStart(3, '0')}_t${v}`;
    files[`${name}.up.sql`] = `select nextval('watch');\ncreate table t${v} (id int);`;
    files[`${name}.down.sql`] = direction === 'down' ? `select nextval('watch');\ndrop table t${v};` : `drop table t${v};`;
  }
  return files;
}

test('a run-time error mid-run: no statement of the migrations sent behind it ran, not even rolled back; the report is the failed one\'s', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_watch.up.sql': 'create sequence watch;\ncreate table ok1 (id int);',
    '002_ok.up.sql': 'create table ok2 (id int);',
    '003_boom.up.sql': 'create table boom (n int);\ninsert into boom select 1 / (g - 2) from generate_series(1, 3) g;',
    ...later(4, 12, 'up'),
  });
  const r = await runCli(['up', '--lint=off', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /003_boom\.up\.sql:2:1: division by zero/);
  assert.match(r.stderr, /could not apply 003_boom; it was rolled back\. Done before it and kept: 001_watch, 002_ok\./);
  assert.doesNotMatch(r.stdout + r.stderr, /00[4-9]_t|01[0-2]_t/, 'nothing is said of the migrations after the failed one');
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await sequenceValue(db), 0, 'no nextval() of 004–012 ran');
  const [tables] = await db.sql`select count(*)::int as n from pg_class where relname in ('boom', 't4', 't5', 't12')`;
  assert.equal(tables!['n'], 0);

  // Fixed, the same run applies the rest, each once, in order.
  writeFileSync(join(dir, '003_boom.up.sql'), 'create table boom (n int);');
  const again = await runCli(['up', '--lint=off', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await versions(db), Array.from({ length: 12 }, (_, i) => String(i + 1)));
  assert.equal(await sequenceValue(db), 9, 'each of 004–012 ran once');
  assert.deepEqual([...again.stdout.matchAll(/applied\s+(\d+)_/g)].map((m) => m[1]), ['003', '004', '005', '006', '007', '008', '009', '010', '011', '012']);
});

test('down: a down that fails stops the ones sent behind it before their first statement', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_watch.up.sql': 'create sequence watch;',
    '001_watch.down.sql': 'drop sequence watch;',
    ...later(2, 4, 'down'),
    '005_stuck.up.sql': 'create table stuck (id int);',
    '005_stuck.down.sql': 'drop table stuck;\nselect 1 / 0;',
    ...later(6, 8, 'down'),
  });
  assert.equal((await runCli(['up', '--lint=off', '--dir', dir, '--url', db.url])).code, 0);
  const before = await sequenceValue(db);
  const r = await runCli(['down', '--all', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /could not revert 005_stuck; it was rolled back\. Done before it and kept: 008_t8, 007_t7, 006_t6\./);
  assert.deepEqual(await versions(db), ['1', '2', '3', '4', '5']);
  assert.equal(await sequenceValue(db), before + 3, 'only the downs of 008, 007 and 006 ran');
  const [stuck] = await db.sql`select to_regclass('stuck') is not null as kept`;
  assert.equal(stuck!['kept'], true);
});
