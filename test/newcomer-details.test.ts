/** Small things a newcomer trips on: pglite:// URLs, masking when user, password and database are one word, diff's lock_timeout line. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTarget } from '../lib/config.js';
import { maskSecret } from '../lib/db/url.js';
import { nameMigrations } from '../lib/schema/migration-files.js';
import { binPath, cleanEnv, closeAdmin, freshDb, freshPglite, onTerminal, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

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
  const { url } = await freshDb(t); // what is said does not depend on the database: a server starts fastest
  for (const command of ['down', 'redo']) {
    const r = await runCli([command, '--url', url, '--dir', '.'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'nothing to revert: no migration is applied\n');
  }
  const forced = await runCli(['status', '--url', url, '--dir', '.'], { cwd, env: { FORCE_COLOR: '1' } });
  assert.match(forced.stdout, /\x1b\[1mdatabase/);
  const plain = await runCli(['status', '--url', url, '--dir', '.'], { cwd });
  assert.doesNotMatch(plain.stdout, /\x1b\[/);
  for (const env of [{ FORCE_COLOR: '1', NO_COLOR: '1' }, { FORCE_COLOR: '0' }]) {
    assert.doesNotMatch((await runCli(['status', '--url', url, '--dir', '.'], { cwd, env })).stdout, /\x1b\[/);
  }
  assert.doesNotMatch((await runCli(['status', '--no-color', '--url', url, '--dir', '.'], { cwd, env: { FORCE_COLOR: '1' } })).stdout, /\x1b\[/);
});

/** 001_t1 … 007_t7: each creates a table, its down drops it. */
function sevenTables(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= 7; i++) {
    files[`00${i}_t${i}.up.sql`] = `create table t${i} (id int);`;
    files[`00${i}_t${i}.down.sql`] = `drop table t${i};`;
  }
  return files;
}

test('on a terminal a run of more than five migrations numbers each line [n/N]; off a terminal, or for a few, there is no counter', async (t) => {
  const { root, dir } = writeMigrations(t, sevenTables());
  const url = await freshPglite(root);
  const printed = await onTerminal(['up', '--dir', dir, '--url', url, '--no-color']);
  if (printed === null) {
    t.skip('util-linux `script` (a pseudo-terminal) is not installed');
    return;
  }
  const lines = printed.split(/\r?\n/).filter((l) => l.includes('applied  '));
  assert.deepEqual(lines.map((l) => l.replace(/ {2}\d+ ms$/, '')), [1, 2, 3, 4, 5, 6, 7].map((n) => `[${n}/7] applied   00${n}_t${n}`), printed);
  const off = await runCli(['down', '--all', '--dir', dir, '--url', url]);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /^reverted {2}007_t7/m);
  assert.doesNotMatch(off.stdout, /\[\d+\/\d+\]/);
  const few = (await onTerminal(['up', '--to', '003', '--dir', dir, '--url', url, '--no-color']))!;
  assert.match(few, /^applied {3}003_t3/m);
  assert.doesNotMatch(few, /\[\d+\/\d+\]/);
});

test('a reader that goes away (sqlmig down --all | head -1) does not stop the run between two migrations', async (t) => {
  const { root, dir } = writeMigrations(t, sevenTables());
  const url = await freshPglite(root);
  assert.equal((await runCli(['up', '--dir', dir, '--url', url])).code, 0);
  const { execFileSync } = await import('node:child_process');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const first = execFileSync('bash', ['-c', `set -o pipefail; ${[process.execPath, binPath, 'down', '--all', '--dir', dir, '--url', url].map(quote).join(' ')} | head -1`], { encoding: 'utf8', env: cleanEnv() });
  assert.match(first, /^reverted {2}007_t7/);
  const status = await runCli(['status', '--json', '--dir', dir, '--url', url]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).current, null, 'every migration was reverted although the reader left after one line');
});
