import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

test('--version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${version}\n`);
});

test('--help lists the commands; no command is a usage error', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const command of ['up', 'down', 'redo', 'status', 'current', 'history', 'create', 'validate', 'repair', 'stamp', 'forget', 'renumber']) {
    assert.match(help.stdout, new RegExp(`sqlmig ${command}\\b`));
  }
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name a command/);
});

test('output off a terminal has no colour codes; --quiet prints nothing on success', async (t) => {
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  const r = await runCli(['up', '--dir', dir, '--url', (await freshDb(t)).url]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /\x1b\[/);
  const quiet = await runCli(['up', '--quiet', '--dir', dir, '--url', (await freshDb(t)).url]);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stdout, '');
});

test('--json keeps stdout to one document even while migrations run', async (t) => {
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);', '002_u.up.sql': 'create table u (id int);' });
  const r = await runCli(['up', '--json', '--dir', dir, '--url', 'pglite:memory']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.applied.map((a: { version: string; name: string }) => `${a.version}_${a.name}`), ['001_t', '002_u']);
  assert.equal(typeof doc.applied[0].durationMs, 'number');
  assert.deepEqual(doc.reverted, []);
  assert.match(r.stderr, /applied\s+001_t/);
});

test('DATABASE_URL and SQLMIG_DIR are read from the environment; flags win over them', async (t) => {
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  const { url } = await freshDb(t);
  const r = await runCli(['status', '--json'], { env: { DATABASE_URL: url, SQLMIG_DIR: dir } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).migrations.length, 1);
  const flag = await runCli(['status', '--json', '--url', 'mysql://nope'], { env: { DATABASE_URL: url, SQLMIG_DIR: dir } });
  assert.equal(flag.code, 2);
});
