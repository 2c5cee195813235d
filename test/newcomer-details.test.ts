/** Small things a newcomer trips on: pglite:// URLs, masking when user, password and database are one word, diff's lock_timeout line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTarget } from '../lib/config.js';
import { maskSecret } from '../lib/db/url.js';
import { nameMigrations } from '../lib/schema/migration-files.js';
import { runCli } from './support/helpers.js';

test('pglite://./db is the folder ./db under the current folder, never /db at the root; pglite:///abs is absolute', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sqlmig-pglite-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const r = await runCli(['status', '--url', 'pglite://./db', '--dir', '.', '--verbose'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`database pglite:${cwd.replace(/[.]/g, '\\.')}/db;`));
  assert.deepEqual(parseTarget('pglite:///var/lib/app'), { kind: 'pglite', path: '/var/lib/app', url: 'pglite:/var/lib/app' });
  assert.equal(parseTarget('pglite://memory').path, null);
});

test('a password that is also the user and database name is hidden only where it is the password', () => {
  const url = 'postgres://fitbud:fitbud@db:5432/fitbud';
  assert.equal(maskSecret(`backup of ${url} written`, 'fitbud'), 'backup of postgres://fitbud:***@db:5432/fitbud written');
  assert.equal(maskSecret('password fitbud was refused', 'fitbud'), 'password *** was refused');
  assert.equal(maskSecret('postgres://app@db/x?password=s3cret and s3cret', 's3cret'), 'postgres://app@db/x?password=*** and ***');
});

const draft = (sql: string[], noTransaction = false) => ({ statements: sql.map((s) => ({ sql: s, comments: [] })), noTransaction });

test('diff\'s files start with SET lock_timeout when they change existing objects, say so in the header, and leave it out on request', () => {
  const naming = { dir: '/p/sql', versions: ['002', '003'], slug: 'x', schemaFile: 'schema.sql' };
  const pair = { up: draft(['ALTER TABLE users ADD COLUMN tz text']), down: draft(['ALTER TABLE users DROP COLUMN tz']) };
  const [m] = nameMigrations({ main: pair, online: null, upStatements: [] }, { ...naming, lockTimeout: '5s' });
  for (const f of [m!.up, m!.down]) {
    assert.match(f.sql, /^-- .*\n(-- .*\n)*-- It starts with SET lock_timeout = '5s'.*\n-- .*"diffLockTimeout".*\n\nSET lock_timeout = '5s';\n\nALTER TABLE/, f.sql);
  }
  const fresh = nameMigrations({ main: { up: draft(['CREATE TABLE t (id int)']), down: draft(['DROP TABLE t']) }, online: null, upStatements: [] }, { ...naming, lockTimeout: '5s' });
  assert.doesNotMatch(fresh[0]!.up.sql, /lock_timeout/, 'a new table waits for no one');
  assert.match(fresh[0]!.down.sql, /SET lock_timeout = '5s';/);
  const off = nameMigrations({ main: pair, online: null, upStatements: [] }, { ...naming, lockTimeout: null });
  assert.doesNotMatch(off[0]!.up.sql, /lock_timeout/);
  const concurrently = nameMigrations({ main: null, online: { up: draft(['CREATE INDEX CONCURRENTLY i ON users (tz)'], true), down: draft(['DROP INDEX CONCURRENTLY i'], true) }, upStatements: [] }, { ...naming, lockTimeout: '5s' });
  assert.doesNotMatch(concurrently[0]!.up.sql, /lock_timeout/, 'no-transaction files are left as they are');
});

test('down and redo with nothing applied say "nothing to revert"; FORCE_COLOR colours output off a terminal, NO_COLOR and --no-color still win', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sqlmig-empty-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  for (const command of ['down', 'redo']) {
    const r = await runCli([command, '--url', 'pglite:memory', '--dir', '.'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'nothing to revert: no migration is applied\n');
  }
  const forced = await runCli(['status', '--url', 'pglite:memory', '--dir', '.'], { cwd, env: { FORCE_COLOR: '1' } });
  assert.match(forced.stdout, /\x1b\[1mdatabase/);
  const plain = await runCli(['status', '--url', 'pglite:memory', '--dir', '.'], { cwd });
  assert.doesNotMatch(plain.stdout, /\x1b\[/);
  for (const env of [{ FORCE_COLOR: '1', NO_COLOR: '1' }, { FORCE_COLOR: '0' }]) {
    assert.doesNotMatch((await runCli(['status', '--url', 'pglite:memory', '--dir', '.'], { cwd, env })).stdout, /\x1b\[/);
  }
  assert.doesNotMatch((await runCli(['status', '--no-color', '--url', 'pglite:memory', '--dir', '.'], { cwd, env: { FORCE_COLOR: '1' } })).stdout, /\x1b\[/);
});
