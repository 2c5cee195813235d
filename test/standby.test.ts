/**
 * A database that accepts no writes (a standby, or default_transaction_read_only): every write command is
 * refused first, pending or not; what only reads works there, and verify/drift build their scratch elsewhere.
 * (test/fleet.test.ts runs the same rules against a real pg_basebackup standby when it can make one.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const MIGRATIONS = {
  '001_one.up.sql': 'create table one (id int);',
  '001_one.down.sql': 'drop table one;',
};

test('on a read-only database every write command is refused (exit 3) before anything, also with nothing to do', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const applied = await runCli(['up', '--url', db.url, '--dir', dir]);
  assert.equal(applied.code, 0, applied.stderr);
  await db.sql.unsafe(`alter database ${db.name} set default_transaction_read_only = on`);
  // Nothing pending: up used to say "nothing to do" and exit 0.
  for (const args of [['up'], ['down'], ['redo'], ['repair'], ['stamp', '001'], ['forget', '001']]) {
    const r = await runCli([...args, '--url', db.url, '--dir', dir]);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /accepts no writes: default_transaction_read_only is on .*nothing was run/, args.join(' '));
  }
  const empty = writeMigrations(t, {});
  const none = await runCli(['up', '--url', db.url, '--dir', empty.dir]);
  assert.equal(none.code, 3, none.stdout + none.stderr);
});

test('on a read-only database up --dry-run and down --dry-run work, and verify and drift use an embedded scratch, saying so', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { ...MIGRATIONS, '002_two.up.sql': 'create table two (id int);', '002_two.down.sql': 'drop table two;' });
  const applied = await runCli(['up', '--url', db.url, '--dir', dir, '--to', '001']);
  assert.equal(applied.code, 0, applied.stderr);
  await db.sql.unsafe(`alter database ${db.name} set default_transaction_read_only = on`);
  const upDry = await runCli(['up', '--dry-run', '--url', db.url, '--dir', dir]);
  assert.equal(upDry.code, 0, upDry.stderr);
  assert.match(upDry.stdout, /-- apply 002_two/);
  const downDry = await runCli(['down', '--dry-run', '--url', db.url, '--dir', dir]);
  assert.equal(downDry.code, 0, downDry.stderr);
  assert.match(downDry.stdout, /-- revert 001_one/);
  for (const command of ['verify', 'drift']) {
    const r = await runCli([command, '--url', db.url, '--dir', dir]);
    assert.equal(r.code, 0, `${command}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /cannot execute CREATE DATABASE/);
    assert.match(r.stderr, /accepts no writes \(default_transaction_read_only is on\), so no temporary database can be made there; using an embedded PGlite/, command);
  }
  assert.deepEqual((await db.sql`select version::int as v from sqlmig_history`).map((r) => r['v']), [1]);
});
