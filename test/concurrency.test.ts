import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, spawnCli, waitFor, writeMigrations } from './support/helpers.js';

after(closeAdmin);

test('six runners started at once apply each migration exactly once', async (t) => {
  const db = await freshDb(t);
  const files: Record<string, string> = {};
  for (let i = 1; i <= 8; i++) {
    const v = String(i).padStart(3, '0');
    files[`${v}_step.up.sql`] = `create table t${i} (id int); insert into applied_log values (${i});`;
  }
  files['000_log.up.sql'] = 'create table applied_log (v int);';
  const { dir } = writeMigrations(t, files);
  const runs = await Promise.all(Array.from({ length: 6 }, () => runCli(['up', '--dir', dir, '--url', db.url])));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const log = await db.sql`select v from applied_log order by v`;
  assert.deepEqual(log.map((r) => r['v']), [1, 2, 3, 4, 5, 6, 7, 8]);
  const [count] = await db.sql`select count(*)::int as n from sqlmig_history`;
  assert.equal(count!['n'], 9);
  const appliedLines = runs.map((r) => (r.stdout.match(/^applied\s+\d+_/gm) ?? []).length);
  assert.equal(appliedLines.reduce((a, b) => a + b, 0), 9, 'each migration reported applied by exactly one runner');
});

test('a runner that finds the lock held waits up to --lock-timeout, then exits 4 naming the holder', async (t) => {
  const db = await freshDb(t);
  // The first runner holds the lock for as long as the test needs, however slow the machine (it is killed at the end).
  const { dir } = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(600);', '002_next.up.sql': 'create table next (id int);' });
  const first = spawnCli(['up', '--dir', dir, '--url', db.url]);
  t.after(() => { first.child.kill('SIGKILL'); });
  await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and query like '%pg_sleep(600)%' and pid <> pg_backend_pid()`).length > 0, 'the first runner to start its migration');
  const second = await runCli(['up', '--lock-timeout', '500ms', '--dir', dir, '--url', db.url]);
  assert.equal(second.code, 4, second.stderr);
  assert.match(second.stderr, /holds the lock on this history table: pid \d+ \(application_name "sqlmig", user postgres, client 127\.0\.0\.1/);
  const json = await runCli(['up', '--json', '--lock-timeout', '0.3', '--dir', dir, '--url', db.url]);
  assert.equal(json.code, 4);
  assert.equal(JSON.parse(json.stdout).error.code, 4);
  first.child.kill('SIGKILL');
});

test('every sqlmig connection says application_name = sqlmig', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_probe.up.sql': "create table seen as select application_name from pg_stat_activity where pid = pg_backend_pid();" });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await db.sql`select application_name from seen`;
  assert.equal(row!['application_name'], 'sqlmig');
});
