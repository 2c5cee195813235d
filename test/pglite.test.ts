import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshPglite, runCli, spawnCli, waitFor, writeMigrations } from './support/helpers.js';

test('embedded PGlite: state persists across processes; up, status, down work as on a server', async (t) => {
  const { dir, root } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '001_users.down.sql': 'drop table users;',
    '002_bad.up.sql': 'insert into users values (1);\ninsert into users values (1);',
  });
  const url = await freshPglite(root);
  const r = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /002_bad\.up\.sql:2:1: duplicate key value/);
  const status = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--url', url])).stdout);
  assert.deepEqual(status.migrations.map((m: { state: string }) => m.state), ['applied', 'pending']);
  writeFileSync(join(dir, '002_bad.up.sql'), 'insert into users values (1);');
  assert.equal((await runCli(['up', '--dir', dir, '--url', url])).code, 0);
  assert.equal((await runCli(['current', '--dir', dir, '--url', url])).stdout.trim(), '002_bad (head)');
  const down = await runCli(['down', '--dir', dir, '--url', url]);
  assert.equal(down.code, 3, 'irreversible 002 is refused');
});

test('embedded PGlite loads the contrib extension a migration creates, and keeps it for later runs', async (t) => {
  const { dir, root } = writeMigrations(t, {
    '001_ext.up.sql': "create extension if not exists ltree;\ncreate extension if not exists pg_trgm;\ncreate table tree (path ltree);\ninsert into tree values ('a.b.c');",
    '001_ext.down.sql': 'drop table tree; drop extension pg_trgm; drop extension ltree;',
  });
  const url = await freshPglite(root);
  const r = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(join(dir, '002_more.up.sql'), "insert into tree values ('a.b.d');\ncreate table n as select count(*) as c from tree where path <@ 'a.b';");
  const again = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(again.code, 0, again.stderr);
});

test('status, current and history on an embedded database with contrib extensions read it without loading them; later runs still have them', async (t) => {
  const { dir, root } = writeMigrations(t, {
    '001_ext.up.sql': "create extension if not exists ltree;\ncreate extension if not exists pgcrypto;\ncreate table tree (path ltree, id uuid default gen_random_uuid());\ninsert into tree (path) values ('a.b.c');",
    '001_ext.down.sql': 'drop table tree; drop extension pgcrypto; drop extension ltree;',
  });
  const url = await freshPglite(root);
  assert.equal((await runCli(['up', '--dir', dir, '--url', url])).code, 0);
  writeFileSync(join(dir, '002_more.up.sql'), "insert into tree (path) values ('a.b.d');\ncreate table n as select count(*) as c from tree where path <@ 'a.b';");
  const status = await runCli(['status', '--json', '--dir', dir, '--url', url]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout).migrations.map((m: { state: string }) => m.state), ['applied', 'pending']);
  assert.equal((await runCli(['current', '--dir', dir, '--url', url])).stdout.trim(), '001_ext (1 pending, head 002_more)');
  const history = await runCli(['history', '--json', '--dir', dir, '--url', url]);
  assert.deepEqual(JSON.parse(history.stdout).history.map((h: { name: string }) => h.name), ['ext']);
  const folder = url.slice('pglite:'.length);
  assert.deepEqual(JSON.parse(readFileSync(join(folder, 'sqlmig-extensions.json'), 'utf8')), ['ltree', 'pgcrypto']);
  const again = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /applied\s+002_more/);
});

test('--statement-timeout on an embedded database is refused (exit 2) before anything is opened: PGlite cannot interrupt a statement', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(1);\ncreate table t (id int);' });
  const folder = join(root, 'db');
  const r = await runCli(['up', '--statement-timeout', '100ms', '--dir', dir, '--url', `pglite:${folder}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--statement-timeout: PGlite cannot interrupt a running statement; statement timeouts need a PostgreSQL server/);
  assert.equal(existsSync(folder), false, 'the embedded database was created anyway');

  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', sqlmig: { url: 'pglite:db', statementTimeout: '5s' } }));
  const fromConfig = await runCli(['up'], { cwd: root });
  assert.equal(fromConfig.code, 2, fromConfig.stderr);
  assert.match(fromConfig.stderr, /"statementTimeout" in package\.json/);
  assert.equal(existsSync(folder), false);
  const json = await runCli(['status', '--json', '--statement-timeout', '1s', '--dir', dir, '--url', 'pglite:memory']);
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.code, 2);
});

test('embedded PGlite names an extension it does not ship', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_gis.up.sql': 'create extension postgis;' });
  const url = await freshPglite(root);
  const r = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /extension "postgis" is not available in embedded PGlite/);
});

test('a second process on the same PGlite folder waits, then exits 4 naming the holder pid', async (t) => {
  // The first run holds the folder for as long as the test needs, however slow the machine (killed at the end).
  const { dir, root } = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(600);' });
  const url = await freshPglite(root);
  const first = spawnCli(['up', '--dir', dir, '--url', url]);
  t.after(() => { first.child.kill('SIGKILL'); });
  const lockFile = `${url.slice('pglite:'.length)}.lock`;
  const { existsSync } = await import('node:fs');
  await waitFor(async () => existsSync(lockFile), 'the first runner to take the folder lock');
  const second = await runCli(['up', '--lock-timeout', '1s', '--dir', dir, '--url', url]);
  assert.equal(second.code, 4);
  assert.match(second.stderr, new RegExp(`in use by pid ${first.child.pid}`));
  assert.equal(first.child.exitCode, null, 'the first run was still holding the folder');
});

test('a stale folder lock left by a killed process is taken over', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  const url = await freshPglite(root);
  writeFileSync(`${url.slice('pglite:'.length)}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), since: '2020-01-01T00:00:00Z' }));
  const r = await runCli(['up', '--lock-timeout', '1s', '--dir', dir, '--url', url]);
  assert.equal(r.code, 0, r.stderr);
});

test('a fresh clone runs `sqlmig up` on the embedded default from package.json config', async (t) => {
  const { root } = writeMigrations(t, {
    '001_ai_hub.up.sql': 'create table health_data (id int);',
    '001_ai_hub.down.sql': 'drop table health_data;',
  });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', sqlmig: { url: 'pglite:.sqlmig/dev' } }));
  const { cpSync } = await import('node:fs');
  cpSync((await freshPglite(root)).slice('pglite:'.length), join(root, '.sqlmig', 'dev'), { recursive: true });
  const r = await runCli(['up'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied\s+001_ai_hub/);
  const cur = await runCli(['current'], { cwd: join(root, 'sql') });
  assert.equal(cur.stdout.trim(), '001_ai_hub (head)');
});
