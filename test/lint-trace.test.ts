import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../lib/index.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const MIGRATIONS = {
  '001_base.up.sql': 'create table users (id int primary key, name text);\ncreate table orders (id bigint primary key, user_id int, total int);',
  '002_widen.up.sql': "set lock_timeout = '5s';\nalter table orders alter column total type bigint;\nupdate users set name = 'x' where id < 0;\nupdate users set name = 'y' where id < 0;",
  '003_index.up.sql': '-- sqlmig:no-transaction\ncreate index concurrently orders_user_idx on orders (user_id);',
  '004_new.up.sql': 'create table events (id int primary key, kind text);\ncreate index events_kind_idx on events (kind);\nalter table events alter column id type bigint;',
  '005_unlogged.up.sql': "set lock_timeout = '5s';\nalter table users set unlogged;",
};

interface LintJson { findings: Finding[]; scratch: { kind: string; display: string } | null }

const traced = (json: LintJson, file: string) => json.findings.filter((f) => f.source === 'trace' && f.file.endsWith(file)).map((f) => `${f.rule} ${f.line}:${f.col} ${f.message}`);

function assertTrace(json: LintJson): void {
  assert.deepEqual(traced(json, '002_widen.up.sql'), [
    'trace-lock-held 3:1 runs while orders (since line 2) is locked ACCESS EXCLUSIVE: reads and writes wait for this statement too',
  ], 'the rewrite the trace saw is said once, in the static finding at the same statement');
  const widened = json.findings.find((f) => f.rule === 'alter-column-type')!;
  assert.match(widened.message, /\(--trace confirms: rewrote orders.* under ACCESS EXCLUSIVE: reads and writes wait until it is done\)$/);
  assert.deepEqual(traced(json, '003_index.up.sql'), [], 'CREATE INDEX CONCURRENTLY in a no-transaction file blocks nothing');
  assert.deepEqual(traced(json, '004_new.up.sql'), [], 'tables created in the same migration are left out');
  assert.deepEqual(traced(json, '005_unlogged.up.sql'), [], 'merged into set-logged-unlogged');
  assert.match(json.findings.find((f) => f.rule === 'set-logged-unlogged')!.message, /--trace confirms: rewrote users/);
}

test('--trace on embedded PGlite: a type change is a rewrite under ACCESS EXCLUSIVE, later statements run under it, CONCURRENTLY is not flagged', async (t) => {
  const { dir } = writeMigrations(t, MIGRATIONS);
  const r = await runCli(['lint', '--all', '--trace', '--json', '--dir', dir]);
  assert.equal(r.code, 3, r.stderr); // with no database to size orders, its rewrite (alter-column-type) is an error
  const json = JSON.parse(r.stdout) as LintJson;
  assert.equal(json.scratch?.kind, 'embedded');
  assertTrace(json);
  const text = await runCli(['lint', '--all', '--trace', '--dir', dir]);
  assert.match(text.stdout, /002_widen\.up\.sql:2:33 {2}alter-column-type {2}.*\(--trace confirms: rewrote orders under ACCESS EXCLUSIVE/);
  assert.equal(text.stdout.match(/trace-lock-held/g)?.length, 1, 'once per lock, not for every later statement');
});

test('--trace on PostgreSQL (a temporary database on the server), with sizes from the live database; the target is untouched', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_base.up.sql': MIGRATIONS['001_base.up.sql'] });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  await db.sql`insert into orders select g, g % 10, g from generate_series(1, 1500) g`;
  await db.sql`analyze orders`;
  await db.sql`analyze users`; // sized (0 rows): a table never analyzed has no estimate, and lint takes it as big
  const all = writeMigrations(t, MIGRATIONS);
  const r = await runCli(['lint', '--trace', '--json', '--dir', all.dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as LintJson;
  assert.equal(json.scratch?.kind, 'temporary');
  const [held] = traced(json, '002_widen.up.sql');
  assert.match(held!, /^trace-lock-held 3:1 runs while orders \(~1\.5k rows, \d+ kB\) \(since line 2\) is locked ACCESS EXCLUSIVE/);
  const rewrite = json.findings.find((f) => f.rule === 'alter-column-type')!;
  assert.equal(`${rewrite.line}:${rewrite.col}`, '2:33');
  assert.match(rewrite.message, /changes orders\.total from integer to bigint: rewrites orders \(~1\.5k rows, \d+ kB\) under ACCESS EXCLUSIVE.*--trace confirms: rewrote orders \(~1\.5k rows, \d+ kB\) under ACCESS EXCLUSIVE/);
  assert.deepEqual(rewrite.size?.rows, 1500);
  assert.deepEqual(traced(json, '003_index.up.sql'), []);
  assert.deepEqual(traced(json, '004_new.up.sql'), []);
  const [{ type }] = await db.sql`select data_type as type from information_schema.columns where table_name = 'orders' and column_name = 'total'` as unknown as [{ type: string }];
  assert.equal(type, 'integer', 'lint never changes the target');
  const scratchName = /\/(sqlmig_verify_[0-9a-f]+)/.exec(json.scratch!.display)![1]!;
  const left = await db.sql`select datname from pg_database where datname = ${scratchName}`;
  assert.equal(left.length, 0, 'the temporary database is dropped');
});

test('--trace: a migration that fails on the scratch database is an error finding (exit 3)', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': MIGRATIONS['001_base.up.sql'],
    '002_bad.up.sql': "set lock_timeout = '5s';\nalter table orders add column note text;\nalter table orders alter column nope type text;",
  });
  const r = await runCli(['lint', '--all', '--trace', '--dir', dir]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /002_bad\.up\.sql:3:1 {2}trace-failed {2}failed on the scratch database: column "nope" of relation "orders" does not exist/);
});
