/**
 * A batched UPDATE of every row, stopped part way (SIGINT, kill -9): its committed batches stay, so the
 * next `up --online` goes on after the last of them instead of running the statement on those rows a
 * second time, and a plain `up` is refused until then. `set n = n + 1` shows any row changed twice.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, pauseOnTarget, runCli, slowHere, spawnCli, versions, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const ROWS = 2000;

function files(): Record<string, string> {
  return {
    '001_counters.up.sql': `create table counters (id int primary key, n int not null, touched int not null default 0);
insert into counters (id, n) select g, 0 from generate_series(1, ${ROWS}) g;`,
    // Slow per row on the target only, so that a signal lands between batches.
    '002_bump.up.sql': `update counters set n = n + 1, touched = touched + 1 + (select 0 from (select ${pauseOnTarget(0.002)}) as pause);`,
  };
}

async function counts(db: FreshDb): Promise<Record<string, number>> {
  const rows = await db.sql`select n, count(*)::int as c from counters group by n order by n`;
  return Object.fromEntries(rows.map((r) => [String(r['n']), r['c'] as number]));
}

async function progressTableExists(db: FreshDb): Promise<boolean> {
  const [row] = await db.sql`select to_regclass('public.sqlmig_history_online') is not null as found`;
  return row!['found'] as boolean;
}

/** A database with 001 applied and the batches of 002 slowed, so that a run can be stopped part way. */
async function firstAppliedSlowly(t: TestContext): Promise<{ db: FreshDb; dir: string }> {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, files());
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  return { db, dir };
}

/** Start `up --online` in small batches and stop it once some, not all, rows were changed. */
async function stopPartWay(db: FreshDb, dir: string, signal: NodeJS.Signals): Promise<{ code: number; stderr: string }> {
  const run = spawnCli(['up', '--online', '--lint=off', '--batch-size', '50', '--dir', dir, '--url', db.url]);
  await waitFor(async () => run.child.exitCode !== null || ((await db.sql`select count(*)::int as c from counters where n = 1`)[0]!['c'] as number) >= 200,
    'some batches to commit', 180_000);
  assert.equal(run.child.exitCode, null, `the run ended before it was stopped: ${run.printed().stderr}`);
  run.child.kill(signal);
  const r = await run.done;
  if (signal === 'SIGKILL') {
    await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
      union all select 1 from pg_locks where locktype = 'advisory'`).length === 0, 'the killed run\'s sessions to end', 60_000);
  }
  return r;
}

test('SIGINT during a batched UPDATE of every row: the message counts the rows kept, status names them, a plain up is refused, and up --online changes each row exactly once', async (t) => {
  const { db, dir } = await firstAppliedSlowly(t);

  const stopped = await stopPartWay(db, dir, 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /Kept \(not undone\): update every row in batches of 50 by id \([\d,]+ row\(s\)\): the rows its committed batches changed stay changed; the next `up --online` goes on after the last of them/);
  const partial = await counts(db);
  assert.ok(partial['1']! > 0 && partial['0']! > 0 && partial['2'] === undefined, JSON.stringify(partial));
  assert.deepEqual(await versions(db), ['1']);

  const status = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(status.code, 0, status.stderr);
  const [pass] = JSON.parse(status.stdout).onlineUnfinished as { version: string; direction: string; rows: number; lastKey: string }[];
  assert.equal(pass?.version, '2');
  assert.equal(pass?.direction, 'up');
  assert.equal(pass?.rows, partial['1']);
  const text = await runCli(['status', '--dir', dir, '--url', db.url]);
  assert.match(text.stdout, new RegExp(`002_bump: an interrupted \`up --online\` changed ${partial['1']!.toLocaleString('en-US')} row\\(s\\) in batches \\(keys up to ${pass!.lastKey}\\)`));

  const plain = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(plain.code, 3, plain.stderr);
  assert.match(plain.stderr, /002_bump: a batched pass over every row was stopped after [\d,]+ row\(s\).*nothing was run\. Run `sqlmig up --online` to go on/s);
  assert.deepEqual(await counts(db), partial, 'the refused plain up changed nothing');

  const resumed = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /going on after [\d,]+ row\(s\) done by the earlier run/);
  assert.deepEqual(await counts(db), { 1: ROWS }, 'every row changed exactly once');
  assert.equal((await db.sql`select count(*)::int as c from counters where touched <> 1`)[0]!['c'], 0);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await progressTableExists(db), false, 'the record is gone with the run that finished it');
  const after = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.deepEqual(JSON.parse(after.stdout).onlineUnfinished, []);
});

test('kill -9 during a batched UPDATE of every row: the next up --online goes on from the last committed batch', async (t) => {
  const { db, dir } = await firstAppliedSlowly(t);
  const killed = await stopPartWay(db, dir, 'SIGKILL');
  assert.equal(killed.code, 137);
  const partial = await counts(db);
  assert.ok(partial['1']! > 0 && partial['0']! > 0, JSON.stringify(partial));

  const resumed = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await counts(db), { 1: ROWS }, 'every row changed exactly once');
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await progressTableExists(db), false);
});

test('a file edited after its batched pass was stopped is refused, naming the record to delete once the data is checked', async (t) => {
  const { db, dir } = await firstAppliedSlowly(t);
  assert.equal((await stopPartWay(db, dir, 'SIGINT')).code, 130);
  const partial = await counts(db);
  writeFileSync(join(dir, '002_bump.up.sql'), 'update counters set n = n + 10;\n');
  const edited = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(edited.code, 3, edited.stderr);
  assert.match(edited.stderr, /this run's plan does not have that pass at that place \(.*002_bump\.up\.sql changed since, .*\); nothing was run/);
  assert.match(edited.stderr, /delete from "public"\."sqlmig_history_online" where version = 2/);
  assert.deepEqual(await counts(db), partial);
  assert.deepEqual(await versions(db), ['1']);
});

test('a plan whose index got its final name in place before the stopped pass is not gone on from: refused, naming the keys left, stamp and the record', async (t) => {
  const db = await freshDb(t);
  const migrations = files();
  // The UPDATE mentions the table, so the index's final name is given right after its build, and stays.
  migrations['002_bump.up.sql'] = `create index counters_touched_idx on counters (touched);\n${migrations['002_bump.up.sql']}`;
  const { dir } = writeMigrations(t, migrations);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  const stopped = await stopPartWay(db, dir, 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr);
  const partial = await counts(db);
  const again = await runCli(['up', '--online', '--lint=off', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 3, again.stderr);
  // What the stop left (the index under its final name) changes the plan, so the pass is not found where it was.
  assert.match(again.stderr, /this run's plan does not have that pass at that place .*nothing was run\..*finish the migration by hand \(its remaining rows have keys above \d+\), `sqlmig stamp` it/s);
  assert.match(again.stderr, /delete from "public"\."sqlmig_history_online" where version = 2/);
  assert.deepEqual(await counts(db), partial);
  assert.deepEqual(await versions(db), ['1']);
});

test('statements run as written stay when a later step is interrupted: status names them, and the next up --online does not run them again', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_counters.up.sql': `create table counters (id int primary key, n int not null);
insert into counters select g, g from generate_series(1, ${ROWS}) g;
create function slow_key(v int) returns int language sql immutable as $$select v + (select 0 from (select ${pauseOnTarget(0.002)}) as pause)$$;`,
    // Run as written (a nullable column), then an index built concurrently, slowly on the target.
    '002_note.up.sql': 'alter table counters add column note text;\ncreate index counters_slow_idx on counters (slow_key(n));\n',
  });
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  const run = spawnCli(['up', '--online', '--lint=off', '--dir', dir, '--url', db.url]);
  await waitFor(async () => run.child.exitCode !== null || (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and query ilike 'create index concurrently%'`).length > 0,
    'the index build to run', 180_000);
  assert.equal(run.child.exitCode, null, run.printed().stderr);
  run.child.kill('SIGINT');
  const stopped = await run.done;
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /Kept \(not undone\): run as written: alter table counters add column note text/);
  const [note] = await db.sql`select count(*)::int as n from pg_attribute where attrelid = 'counters'::regclass and attname = 'note' and not attisdropped`;
  assert.equal(note!['n'], 1, 'the column stayed');
  assert.equal((await db.sql`select to_regclass('counters_slow_idx') as i`)[0]!['i'], null, 'the index was undone');

  const status = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.deepEqual((JSON.parse(status.stdout).onlineUnfinished as { kind: string; step: number }[]).map((p) => [p.kind, p.step]), [['statements', 1]]);
  const plain = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(plain.code, 3, plain.stderr);
  assert.match(plain.stderr, /002_note: an online run stopped after statements it runs as written \(step 1\) had committed/);

  const resumed = await runCli(['up', '--online', '--lint=off', '--dir', dir, '--url', db.url]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /step 1\/\d+: run as written: alter table counters add column note text: done by the earlier run, not run again/);
  assert.equal((await db.sql`select indisvalid from pg_index where indexrelid = to_regclass('counters_slow_idx')`)[0]?.['indisvalid'], true);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await progressTableExists(db), false);
});

test('a file that needs no online form runs with its history row in one transaction: a failure leaves nothing, and nothing to go on from', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_counters.up.sql': 'create table counters (id int primary key, n int not null);\n',
    '002_plain.up.sql': 'create table extra (id int);\ninsert into counters values (1, 1 / 0);\n',
  });
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['up', '--online', '--lint=off', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /division by zero/);
  assert.match(r.stderr, /It was rolled back \(its statements and its history row are one transaction\)/);
  assert.equal((await db.sql`select to_regclass('extra') as t`)[0]!['t'], null, 'nothing of the file stayed');
  assert.equal(await progressTableExists(db), false);
  const status = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.deepEqual(JSON.parse(status.stdout).onlineUnfinished, []);
  writeFileSync(join(dir, '002_plain.up.sql'), 'create table extra (id int);\n');
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0, 'a plain up is not refused');
  assert.deepEqual(await versions(db), ['1', '2']);
});

test('a role that may not create a table beside the history table runs online without records, saying so once', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_limited_${Math.random().toString(36).slice(2, 8)}`;
  // The history table is made for the role in public, where it may not create; its tables live in app.
  const [{ name }] = await db.sql`select current_database() as name` as unknown as [{ name: string }];
  await db.sql.unsafe(`create role ${role} login password 'limited-secret'; grant create on database "${name}" to ${role};
    create table public.sqlmig_history (version bigint primary key, name text not null, checksum text not null, up_sql text not null, down_sql text,
      applied_at timestamptz not null default now(), applied_by text not null default current_user, duration_ms integer not null default 0,
      transactional boolean not null default true, stamped boolean not null default false);
    grant select, insert, delete on public.sqlmig_history to ${role}; revoke create on schema public from ${role}, public`);
  t.after(async () => { await db.sql.unsafe(`drop schema if exists app cascade; drop owned by ${role}; drop role if exists ${role}`).catch(() => {}); });
  const asRole = new URL(db.url);
  asRole.username = role;
  asRole.password = 'limited-secret';
  const { dir } = writeMigrations(t, {
    '001_items.up.sql': 'create schema app;\ncreate table app.items (id int primary key, n int not null);\ninsert into app.items select g, g from generate_series(1, 100) g;\n',
    '002_note.up.sql': 'alter table app.items add column note text;\ncreate index items_n_idx on app.items (n);\n',
  });
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', asRole.toString()])).code, 0);
  const r = await runCli(['up', '--online', '--lint=off', '--dir', dir, '--url', asRole.toString()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/cannot keep a record of what this run does in "public"\."sqlmig_history_online" \(permission denied/g)?.length, 1, r.stderr);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal((await db.sql`select to_regclass('app.items_n_idx') is not null as found`)[0]!['found'], true);
});
