import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const base = {
  '001_users.up.sql': 'create table users (id int primary key);\n',
  '001_users.down.sql': 'drop table users;\n',
  '002_posts.up.sql': 'create table posts (id int primary key);\n',
  '002_posts.down.sql': 'drop table posts;\n',
};

async function rows(db: { sql: import('postgres').Sql }) {
  return (await db.sql`select version::text as v, stamped from sqlmig_history order by version`).map((r) => `${r['v']}${r['stamped'] ? '*' : ''}`);
}

test('edited applied file: up refuses with a diff, repair accepts it, up applies the next', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  writeFileSync(join(dir, '001_users.up.sql'), 'create table users (id int primary key, email text);\n');
  writeFileSync(join(dir, '003_tags.up.sql'), 'create table tags (id int);\n');
  const refused = await runCli(['up', ...args]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /001_users\.up\.sql was edited after it was applied/);
  assert.match(refused.stderr, /sqlmig repair 001/);
  assert.match(refused.stderr, /^-create table users \(id int primary key\);$/m);
  assert.match(refused.stderr, /^\+create table users \(id int primary key, email text\);$/m);
  assert.equal((await db.sql`select to_regclass('tags') is null as absent`)[0]!['absent'], true);

  const validate = await runCli(['validate', ...args]);
  assert.equal(validate.code, 3);
  assert.match(validate.stdout, /edited: .*001_users\.up\.sql/);
  assert.match(validate.stdout, /\+create table users \(id int primary key, email text\);/);

  const repaired = await runCli(['repair', '001', ...args]);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, /repaired 001_users/);
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /applied\s+003_tags/);
  assert.equal((await runCli(['validate', ...args])).code, 0);
});

test('a CRLF or BOM re-checkout of an applied file is not an edit', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  writeFileSync(join(dir, '001_users.up.sql'), '\ufeffcreate table users (id int primary key);\r\n');
  const r = await runCli(['validate', ...args]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /no problem found/);
});

test('deleted applied file: up refuses naming forget; down reverts it from the stored SQL', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  rmSync(join(dir, '002_posts.up.sql'));
  rmSync(join(dir, '002_posts.down.sql'));
  const refused = await runCli(['up', ...args]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /002_posts is applied but its file is missing/);
  assert.match(refused.stderr, /sqlmig forget 002/);
  const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout);
  assert.deepEqual(status.migrations.map((m: { state: string }) => m.state), ['applied', 'missing']);
  const down = await runCli(['down', ...args]);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /reverted\s+002_posts.*file missing: ran the down SQL stored in history/);
  assert.equal((await db.sql`select to_regclass('posts') is null as absent`)[0]!['absent'], true);
  assert.deepEqual(await rows(db), ['1']);
});

test('forget drops the row without running anything; an unknown version lists the nearest', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  const unknown = await runCli(['forget', '7', ...args]);
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /forget: no migration applied has version 7; nearest: 001_users, 002_posts/);
  const r = await runCli(['forget', '002', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await rows(db), ['1']);
  assert.equal((await db.sql`select to_regclass('posts') is not null as present`)[0]!['present'], true, 'nothing was run');
});

test('two 002s after a merge: up refuses naming both, renumber moves the unapplied one, up applies it', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  writeFileSync(join(dir, '002_comments.up.sql'), 'create table comments (id int);\n');
  writeFileSync(join(dir, '002_comments.down.sql'), 'drop table comments;\n');
  const refused = await runCli(['up', ...args]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /002_comments\.up\.sql and 002_posts\.up\.sql share version 2/);
  const dry = await runCli(['renumber', '--dry-run', ...args]);
  assert.match(dry.stdout, /would rename .*002_comments\.up\.sql -> .*003_comments\.up\.sql/);
  assert.ok(existsSync(join(dir, '002_comments.up.sql')), 'dry run renames nothing');
  const r = await runCli(['renumber', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /renamed .*002_comments\.down\.sql -> .*003_comments\.down\.sql/);
  assert.deepEqual(readdirSync(dir).sort(), ['001_users.down.sql', '001_users.up.sql', '002_posts.down.sql', '002_posts.up.sql', '003_comments.down.sql', '003_comments.up.sql']);
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(await rows(db), ['1', '2', '3']);
});

test('tables already exist: up fails, stamp records them, up applies what is new', async (t) => {
  const db = await freshDb(t);
  await db.sql`create table users (id int primary key)`;
  await db.sql`create table posts (id int primary key)`;
  const { dir } = writeMigrations(t, { ...base, '003_tags.up.sql': 'create table tags (id int);\n' });
  const args = ['--dir', dir, '--url', db.url];
  const failed = await runCli(['up', ...args]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /relation "users" already exists/);
  const unknown = await runCli(['stamp', '5', ...args]);
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /nearest: .*003_tags/);
  const stamped = await runCli(['stamp', '002', ...args]);
  assert.equal(stamped.code, 0, stamped.stderr);
  assert.match(stamped.stdout, /stamped 001_users, 002_posts as applied/);
  assert.deepEqual(await rows(db), ['1*', '2*']);
  assert.match((await runCli(['history', ...args])).stdout, /^001\s+users\s+.*stamped$/m);
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(await rows(db), ['1*', '2*', '3']);
});

test('out-of-order pending: up refuses, --allow-out-of-order applies it', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_a.up.sql': 'select 1;', '003_c.up.sql': 'select 1;' });
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  writeFileSync(join(dir, '002_b.up.sql'), 'create table b (id int);');
  const refused = await runCli(['up', ...args]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /002_b\.up\.sql is pending but a newer version is already applied.*--allow-out-of-order/);
  const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout);
  assert.equal(status.migrations[1].state, 'out-of-order');
  const r = await runCli(['up', '--allow-out-of-order', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await rows(db), ['1', '2', '3']);
});

test('on PGlite too: edited and missing are caught, repair and stored-SQL down work', async (t) => {
  const { dir, root } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', await freshPglite(root)];
  assert.equal((await runCli(['up', ...args])).code, 0);
  writeFileSync(join(dir, '001_users.up.sql'), 'create table users (id bigint primary key);\n');
  rmSync(join(dir, '002_posts.up.sql'));
  rmSync(join(dir, '002_posts.down.sql'));
  const validate = await runCli(['validate', '--json', ...args]);
  assert.equal(validate.code, 3);
  assert.deepEqual(JSON.parse(validate.stdout).problems.map((p: { kind: string }) => p.kind), ['edited', 'missing']);
  assert.equal((await runCli(['down', ...args])).code, 0);
  assert.equal((await runCli(['repair', ...args])).code, 0);
  assert.equal((await runCli(['validate', ...args])).code, 0);
});

test('repair of an unknown version lists the nearest applied ones; repair with nothing edited says so', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  const unknown = await runCli(['repair', '9', ...args]);
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /repair: no migration applied has version 9; nearest: 001_users, 002_posts/);
  const clean = await runCli(['repair', ...args]);
  assert.equal(clean.code, 0);
  assert.match(clean.stdout, /nothing to repair/);
});

test('redo refuses, changing nothing, when the newest migration has no file to re-apply', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, base);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  rmSync(join(dir, '002_posts.up.sql'));
  rmSync(join(dir, '002_posts.down.sql'));
  const r = await runCli(['redo', ...args]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot redo 002_posts: its file is missing/);
  assert.deepEqual(await rows(db), ['1', '2']);
});
