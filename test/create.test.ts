import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeMigrations } from './support/helpers.js';

test('create makes the next pair with the same width, and prints both paths', async (t) => {
  const { dir, root } = writeMigrations(t, { '0009_a.up.sql': 'select 1;', '0010_b.up.sql': 'select 1;' });
  const r = await runCli(['create', 'add timezone to user', '--dir', dir], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'sql/0011_add_timezone_to_user.up.sql\nsql/0011_add_timezone_to_user.down.sql\n');
  assert.match(readFileSync(join(dir, '0011_add_timezone_to_user.up.sql'), 'utf8'), /^-- 0011_add_timezone_to_user/);
});

test('create transliterates Russian and other scripts into a readable ASCII slug', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const ru = await runCli(['create', 'добавить часовой пояс', '--dir', dir], { cwd: root });
  assert.equal(ru.code, 0, ru.stderr);
  assert.match(ru.stdout, /^sql\/001_dobavit_chasovoy_poyas\.up\.sql$/m);
  const mixed = await runCli(['create', 'Ünïcode', '&', '中文', 'table!', '--dir', dir], { cwd: root });
  assert.match(mixed.stdout, /^sql\/002_unicode_zhong_wen_table\.up\.sql$/m);
  const symbols = await runCli(['create', '!!!', '--dir', dir], { cwd: root });
  assert.match(symbols.stdout, /^sql\/003_migration\.up\.sql$/m, 'never an empty slug');
  assert.deepEqual(readdirSync(dir).sort().slice(0, 2), ['001_dobavit_chasovoy_poyas.down.sql', '001_dobavit_chasovoy_poyas.up.sql']);
});

test('a freshly created migration is refused by up until it is filled in', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  await runCli(['create', 'empty one', '--dir', dir], { cwd: root });
  const r = await runCli(['up', '--dir', dir, '--url', 'pglite:memory'], { cwd: root });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /001_empty_one\.up\.sql: no SQL statement in it/);
});

test('create --json gives the version, name and paths', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const r = await runCli(['create', 'x', '--json', '--dir', dir], { cwd: root });
  assert.deepEqual(JSON.parse(r.stdout), { version: '001', name: 'x', up: 'sql/001_x.up.sql', down: 'sql/001_x.down.sql' });
});

test('a description with newlines, */ or control characters stays inside the comment header', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const r = await runCli(['create', 'add users\ndrop table important;\r\n*/ select 1; --\u0007', '--dir', dir], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  const up = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.up.sql'))!), 'utf8');
  assert.match(up, /^-- 001_add_users_drop_table_important_select_1: add users drop table important; \*\/ select 1; --\n/);
  assert.ok(up.split('\n').every((line) => line === '' || line.startsWith('-- ')), up);
  // Still only comments: up refuses it as empty, so nothing of the description can run.
  const run = await runCli(['up', '--dir', dir, '--url', 'pglite:memory'], { cwd: root });
  assert.equal(run.code, 3);
  assert.match(run.stderr, /no SQL statement in it/);
});

test('create --up/--down writes a filled-in pair that up and down run at once', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const url = 'pglite:' + join(root, 'db');
  const r = await runCli(['create', 'add users', '--up', 'CREATE TABLE users (id int PRIMARY KEY)', '--down', 'DROP TABLE users;', '--dir', dir], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(dir, '001_add_users.up.sql'), 'utf8'), '-- 001_add_users: add users\nCREATE TABLE users (id int PRIMARY KEY);\n');
  assert.equal(readFileSync(join(dir, '001_add_users.down.sql'), 'utf8'), '-- 001_add_users: undo 001_add_users.up.sql\nDROP TABLE users;\n');
  const up = await runCli(['up', '--dir', dir, '--url', url], { cwd: root });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /applied +001_add_users/);
  const down = await runCli(['down', '--dir', dir, '--url', url], { cwd: root });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /reverted +001_add_users/);
});

test('create --up alone leaves the down file to fill in; --down without --up and an empty --up are refused', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const r = await runCli(['create', 'x', '--up', 'select 1', '--dir', dir], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(dir, '001_x.down.sql'), 'utf8'), /Write the statements that restore/);
  const lone = await runCli(['create', 'y', '--down', 'select 1', '--dir', dir], { cwd: root });
  assert.equal(lone.code, 2);
  assert.match(lone.stderr, /--down needs --up/);
  const empty = await runCli(['create', 'y', '--up', ' ', '--dir', dir], { cwd: root });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /--up is empty/);
  assert.deepEqual(readdirSync(dir).sort(), ['001_x.down.sql', '001_x.up.sql'], 'nothing written on refusal');
});

test('create without a description says what to type', async (t) => {
  const { dir, root } = writeMigrations(t, {});
  const r = await runCli(['create', '--dir', dir], { cwd: root });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /create: say what the migration does, e\.g\. sqlmig create "add timezone to user"/);
  assert.doesNotMatch(r.stderr, /non-option/);
});
