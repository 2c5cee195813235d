import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../lib/index.js';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, runCli, scratchRunning, spawnCli, waitFor, writeMigrations } from './support/helpers.js';

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

test('--trace reports a lock only while a statement works under it: instant DDL blocks nothing, a scan or backfill under a held lock does (any blocking mode)', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': 'create table users (id int primary key, email text);\ncreate table orders (id bigint primary key, user_id int, total int);',
    // ACCESS EXCLUSIVE for an instant each: the table is never blocked for longer than the catalog change.
    '002_instant.up.sql': "set lock_timeout = '5s';\nalter table users add column note text;\nalter table users alter column note set default 'x';",
    // The NOT VALID foreign key's SHARE ROW EXCLUSIVE on both tables is held while the backfill scans orders.
    '003_fk_then_backfill.up.sql': "set lock_timeout = '5s';\nalter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\nupdate orders set total = 0 where total is null;",
    // SET NOT NULL after a validated CHECK (email IS NOT NULL) scans nothing: its ACCESS EXCLUSIVE is instant.
    '004_checked.up.sql': "-- sqlmig:no-transaction\nset lock_timeout = '5s';\nalter table users add constraint users_email_nn check (email is not null) not valid;\nalter table users validate constraint users_email_nn;\nalter table users alter column email set not null;",
    // A scan under a strong lock is still reported: the index build holds SHARE while it reads the table.
    '005_index.up.sql': "set lock_timeout = '5s';\ncreate index orders_total_idx on orders (total);",
  });
  const r = await runCli(['lint', '--all', '--trace', '--json', '--dir', dir]);
  const json = JSON.parse(r.stdout) as LintJson;
  assert.deepEqual(traced(json, '002_instant.up.sql'), [], 'no trace-lock for an instant ALTER, no trace-lock-held for an instant statement after it');
  assert.deepEqual(traced(json, '003_fk_then_backfill.up.sql'), [], 'the instant ADD is no trace-lock; the held lock is said in the static finding');
  const backfill = json.findings.find((f) => f.rule === 'backfill-under-lock' && f.file.endsWith('003_fk_then_backfill.up.sql'))!;
  assert.equal(backfill.line, 3);
  assert.match(backfill.message, /\(--trace confirms: runs while orders \(since line 2\) is locked SHARE ROW EXCLUSIVE, users \(since line 2\) is locked SHARE ROW EXCLUSIVE: writes wait for this statement too\)$/);
  assert.deepEqual(traced(json, '004_checked.up.sql'), []);
  assert.deepEqual(json.findings.filter((f) => f.file.endsWith('004_checked.up.sql')).map((f) => f.rule), []);
  const index = json.findings.find((f) => f.rule === 'index-not-concurrently')!;
  assert.match(index.message, /\(--trace confirms: took SHARE on orders: writes wait until the migration ends\)$/);
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

const sleepOnScratch = (marker: string) => `select pg_sleep(case when current_database() like 'sqlmig\\_verify\\_%' then 600 else 0 end), '${marker}';`;

for (const [signal, code, where] of [['SIGTERM', 143, 'a traced migration'], ['SIGINT', 130, 'an earlier migration applied before the traced one']] as const) {
  test(`--trace interrupted by ${signal} in ${where}: exit ${code}, nothing reported, the scratch database dropped`, async (t) => {
    const db = await freshDb(t);
    const marker = `trace-${signal}-${randomBytes(4).toString('hex')}`;
    const files: Record<string, string> = { '001_base.up.sql': MIGRATIONS['001_base.up.sql'], '002_widen.up.sql': MIGRATIONS['002_widen.up.sql'] };
    if (signal === 'SIGTERM') files['002_widen.up.sql'] = `${sleepOnScratch(marker)}\n${files['002_widen.up.sql']}`;
    else files['001_base.up.sql'] = `${files['001_base.up.sql']}\n${sleepOnScratch(marker)}`;
    const { dir } = writeMigrations(t, files);
    // SIGINT: 001 is applied on the target (where it does not sleep), so the trace replays it before tracing 002.
    if (signal === 'SIGINT') assert.equal((await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url])).code, 0);
    const run = spawnCli(['lint', '--trace', ...(signal === 'SIGTERM' ? ['--all'] : []), '--dir', dir, '--url', db.url]);
    t.after(() => { run.child.kill('SIGKILL'); });
    const scratch = await scratchRunning(db, marker);
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.code, code, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by ${signal}: lint --trace did not finish, so nothing is reported; its scratch database \\S+/${scratch} is dropped\\.`));
    assert.equal(r.stdout, '', 'an interrupted trace reports no finding and no "lint ok"');
    assert.doesNotMatch(r.stderr, /trace-failed|canceling statement|lint ok/);
    assert.equal((await db.sql`select datname from pg_database where datname = ${scratch}`).length, 0, 'the scratch database is dropped');
  });
}

test('--trace interrupted before it reaches the scratch database (SIGTERM while Squawk runs): exit 143, nothing reported', async (t) => {
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const squawk = join(root, 'squawk');
  // A Squawk that says it started, then waits for the test's word (or for the test's folder to go) before it reports nothing.
  writeFileSync(squawk, `#!/bin/sh\ntouch '${root}/started'\nwhile [ ! -e '${root}/go' ] && [ -d '${root}' ]; do sleep 0.05; done\necho '[]'\n`, { mode: 0o755 });
  const run = spawnCli(['lint', '--all', '--trace', '--dir', dir], { env: { SQLMIG_SQUAWK_BIN: squawk } });
  t.after(() => { run.child.kill('SIGKILL'); });
  await waitFor(async () => existsSync(join(root, 'started')), 'Squawk to start');
  run.child.kill('SIGTERM');
  // Squawk ends after the SIGTERM was sent, so sqlmig sees the signal first (Node takes both signals,
  // SIGTERM then Squawk's SIGCHLD, through one queue) and must notice it afterwards, before the trace.
  writeFileSync(join(root, 'go'), '');
  const r = await run.done;
  assert.equal(r.code, 143, r.stdout + r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM: lint --trace did not finish, so nothing is reported\./);
  assert.equal(r.stdout, '');
});
