import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { freshPglite, runCli, writeMigrations } from './support/helpers.js';

test('diff runs lint on the pair it writes: ADD COLUMN … NOT NULL without a default on an existing table is named on stderr and in --json, with a comment above it; a new table or a default is not', async (t) => {
  const { root, dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key, legacy int not null);',
    '001_users.down.sql': 'drop table users;',
  });
  writeFileSync(join(root, 'schema.sql'), `
create table users (id int primary key, email text not null, nick text not null default 'x');
create table teams (id int primary key, title text not null);
`);
  const json = await runCli(['diff', '--dry-run', '--json', '--dir', dir], { cwd: root });
  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { unsafe: { file: string; line: number; rule: string; message: string }[]; lint: { rule: string }[] };
  assert.deepEqual(r.unsafe.map((f) => [f.file, f.rule, f.message]), [
    ['sql/002_add_table_teams.up.sql', 'add-column-required', 'adds email NOT NULL without a default to users: fails if the table has rows'],
    // The down puts back a dropped NOT NULL column: it fails on rows just the same.
    ['sql/002_add_table_teams.down.sql', 'add-column-required', 'adds legacy NOT NULL without a default to users: fails if the table has rows'],
  ]);
  assert.ok(r.lint.some((f) => f.rule === 'drop-column'), 'the other findings are listed too');

  const written = await runCli(['diff', '--dir', dir], { cwd: root });
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stderr, /unsafe: sql\/002_add_table_teams\.up\.sql:\d+: adds email NOT NULL without a default to users: fails if the table has rows/);
  assert.match(written.stderr, /unsafe: sql\/002_add_table_teams\.down\.sql:\d+: adds legacy NOT NULL/);
  const up = readFileSync(join(dir, '002_add_table_teams.up.sql'), 'utf8');
  assert.match(up, /-- unsafe on a table that has rows \(the proof ran on empty tables\): adds email NOT NULL without a default to users: fails if the table has rows\.\n-- To fix: give the column a DEFAULT in schema\.sql \(then run sqlmig diff again\), or add it nullable here, backfill it, and SET NOT NULL in a later migration\.\nALTER TABLE "public"\."users" ADD COLUMN "email" text NOT NULL;/);
  assert.doesNotMatch(up, /unsafe[^\n]*(nick|title)/);
  const line = up.split('\n').findIndex((l) => l.startsWith('ALTER TABLE "public"."users" ADD COLUMN "email"')) + 1;
  assert.match(written.stderr, new RegExp(`002_add_table_teams\\.up\\.sql:${line}: adds email`), 'the line is the statement\'s in the file as written');
  assert.equal((await runCli(['diff', '--check', '--dir', dir], { cwd: root })).code, 0);

  // What the comment warns of is real: on a table with a row, the written up fails.
  const url = await freshPglite(root);
  assert.equal((await runCli(['up', '--to', '001', '--dir', dir, '--url', url], { cwd: root })).code, 0);
  const pg = new PGlite(url.slice('pglite:'.length));
  await pg.exec('insert into users values (1, 1)');
  await pg.close();
  const failed = await runCli(['up', '--dir', dir, '--url', url], { cwd: root });
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stderr, /column "email" of relation "users" contains null values/);
});
