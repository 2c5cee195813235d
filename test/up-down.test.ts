import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, writeMigrations, versions } from './support/helpers.js';

after(closeAdmin);

const users = {
  '001_users.up.sql': 'create table users (id int primary key);',
  '001_users.down.sql': 'drop table users;',
  '002_posts.up.sql': 'create table posts (id int primary key, user_id int references users);',
  '002_posts.down.sql': 'drop table posts;',
  '003_tags.up.sql': 'create table tags (id int primary key);',
  '003_tags.down.sql': 'drop table tags;',
};

async function tables(db: { sql: import('postgres').Sql }): Promise<string[]> {
  const rows = await db.sql`select tablename from pg_tables where schemaname = 'public' and tablename <> 'sqlmig_history' order by 1`;
  return rows.map((r) => r['tablename'] as string);
}

test('up applies every pending migration in order, prints one line each, and records history', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied\s+001_users\s+\d+ ms/);
  assert.match(r.stdout, /applied\s+003_tags/);
  assert.deepEqual(await tables(db), ['posts', 'tags', 'users']);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
  const [row] = await db.sql`select name, checksum, up_sql, down_sql, applied_by, transactional from sqlmig_history where version = 2`;
  assert.equal(row!['name'], 'posts');
  assert.match(row!['checksum'] as string, /^[0-9a-f]{64}$/);
  assert.equal(row!['up_sql'], users['002_posts.up.sql']);
  assert.equal(row!['down_sql'], users['002_posts.down.sql']);
  assert.equal(row!['applied_by'], 'postgres');
  assert.equal(row!['transactional'], true);

  const again = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to do/);
});

test('up --to and --step stop where asked; current names the version and what is pending', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  assert.equal((await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url])).code, 0);
  assert.deepEqual(await versions(db), ['1']);
  const cur = await runCli(['current', '--dir', dir, '--url', db.url]);
  assert.equal(cur.stdout.trim(), '001_users (2 pending, head 003_tags)');
  assert.equal((await runCli(['up', '--step', '1', '--dir', dir, '--url', db.url])).code, 0);
  assert.deepEqual(await versions(db), ['1', '2']);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal((await runCli(['current', '--dir', dir, '--url', db.url])).stdout.trim(), '003_tags (head)');
});

test('up --to an unknown version refuses with exit 3 and names the nearest ones', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  const r = await runCli(['up', '--to', '7', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no migration has version 7; nearest known: .*003_tags/);
  assert.deepEqual(await tables(db), []);
});

test('down reverts the last one, down N the last N, down --all everything', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const one = await runCli(['down', '--dir', dir, '--url', db.url]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /reverted\s+003_tags/);
  assert.deepEqual(await tables(db), ['posts', 'users']);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal((await runCli(['down', '2', '--dir', dir, '--url', db.url])).code, 0);
  assert.deepEqual(await versions(db), ['1']);
  assert.equal((await runCli(['down', '--all', '--dir', dir, '--url', db.url])).code, 0);
  assert.deepEqual(await tables(db), []);
  assert.equal((await runCli(['current', '--dir', dir, '--url', db.url])).stdout.trim(), '(none) (3 pending, head 003_tags)');
});

test('down --to V reverts everything above V', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const r = await runCli(['down', '--to', '001', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await versions(db), ['1']);
});

test('redo reverts and re-applies the newest migration', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  await db.sql`insert into tags values (1)`;
  const r = await runCli(['redo', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reverted\s+003_tags[\s\S]*applied\s+003_tags/);
  assert.equal((await db.sql`select count(*)::int as n from tags`)[0]!['n'], 0);
});

test('down of a migration without a .down.sql is refused with exit 3 and reverts nothing', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int);',
    '001_users.down.sql': 'drop table users;',
    '002_seed.up.sql': 'insert into users values (1);',
  });
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const r = await runCli(['down', '2', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /002_seed\.up\.sql has no \.down\.sql \(irreversible\)/);
  assert.deepEqual(await versions(db), ['1', '2']);
});

test('up --dry-run prints the SQL and changes nothing, not even the history table', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  const r = await runCli(['up', '--dry-run', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /-- apply 001_users[\s\S]*create table users[\s\S]*-- apply 003_tags/);
  const [row] = await db.sql`select to_regclass('public.sqlmig_history') is null as absent`;
  assert.equal(row!['absent'], true);
  assert.deepEqual(await tables(db), []);
});

test('down --dry-run prints the down SQL and reverts nothing', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const r = await runCli(['down', '2', '--dry-run', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /-- revert 003_tags[\s\S]*drop table tags[\s\S]*-- revert 002_posts/);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
});

test('--single-transaction keeps nothing of the batch when one migration fails', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { ...users, '004_bad.up.sql': 'select 1/0;' });
  const r = await runCli(['up', '--single-transaction', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /whole batch was rolled back/);
  assert.deepEqual(await tables(db), []);
  const [row] = await db.sql`select count(*)::int as n from sqlmig_history`.catch(() => [{ n: 0 }]);
  assert.equal(row!['n'], 0);
});

test('history lists applied migrations with who applied them and how long it took', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const r = await runCli(['history', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^version\s+name\s+applied at\s+by\s+duration/m);
  assert.match(r.stdout, /^002\s+posts\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+postgres\s+\d+ ms/m);
  const json = JSON.parse((await runCli(['history', '--json', '--dir', dir, '--url', db.url])).stdout);
  assert.equal(json.history.length, 3);
  assert.equal(json.history[0].appliedBy, 'postgres');
});
