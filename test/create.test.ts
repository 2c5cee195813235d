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
