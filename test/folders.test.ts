import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCli, writeMigrations, type CliResult } from './support/helpers.js';

// Node's recursive mkdir never returns for a path under /proc (it spins at 100% CPU, deaf to SIGTERM):
// every folder sqlmig creates must fail fast there instead.
const noProc = !existsSync('/proc/self') && 'no /proc here';

/** Run the CLI, but never wait longer than a minute: a hang ends as a SIGKILL (code 137), not as a stuck test. */
async function runBounded(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { child, done } = spawnCli(args, { env });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

test('an embedded database folder under /proc is a usage error (exit 2) naming the folder and the fix', { skip: noProc }, async (t) => {
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  // A command that only reads sees a folder that does not exist as an empty database and creates nothing.
  const status = await runBounded(['status', '--dir', dir, '--url', 'pglite:/proc/sqlmig-no-such/db']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /pending\s+001_t/);
  for (const command of ['up']) {
    const r = await runBounded([command, '--dir', dir, '--url', 'pglite:/proc/sqlmig-no-such/db']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot use the embedded database folder \/proc\/sqlmig-no-such\/db: (cannot create \/proc\/sqlmig-no-such: the file system of \/proc does not allow new folders \(ENOENT\)|cannot create folders in \/proc: permission denied \(EACCES\))\. Choose a folder you can write to in the pglite: URL/);
  }
});

test('an embedded database folder below a regular file is a usage error (exit 2)', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  writeFileSync(join(root, 'plain-file'), 'not a folder\n');
  const r = await runBounded(['up', '--dir', dir, '--url', `pglite:${join(root, 'plain-file', 'db')}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot use the embedded database folder .*plain-file\/db: .*plain-file is a file, not a folder/);
});

test('create with a migrations folder under /proc is a usage error (exit 2) naming --dir', { skip: noProc }, async () => {
  const r = await runBounded(['create', 'first table', '--dir', '/proc/sqlmig-no-such/sql']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /create: cannot use the migrations folder \/proc\/sqlmig-no-such\/sql: .*(does not allow new folders|permission denied).*Choose another with --dir/);
});

test('create makes a missing migrations folder and its parents', async (t) => {
  const { root } = writeMigrations(t, {});
  const dir = join(root, 'db', 'migrations');
  const r = await runBounded(['create', 'first table', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ['001_first_table.down.sql', '001_first_table.up.sql']);
});
