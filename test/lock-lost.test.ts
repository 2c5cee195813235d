/** The runner's lock lost mid-run (its session terminated): the running migration is rolled back and the run stops, exit 4. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, spawnCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

test('directly on PostgreSQL, a lock whose session was terminated stops the run before the migration commits (exit 4)', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_slow.up.sql': 'create table slow (id int);\nselect pg_sleep(3);',
    '002_next.up.sql': 'create table next_one (id int);',
  });
  const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
  // The migration runs once its table is being created; the lock session is the one holding the advisory lock.
  let holder: number | null = null;
  while (holder === null) {
    const [row] = await db.sql`select l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and a.datname = current_database()
        and exists (select from pg_stat_activity w where w.datname = current_database() and w.pid <> pg_backend_pid() and w.query like '%pg_sleep(3)%' and w.state = 'active')`;
    holder = (row?.['pid'] as number | undefined) ?? null;
    if (holder === null) await new Promise((r) => setTimeout(r, 50));
  }
  await db.sql`select pg_terminate_backend(${holder})`;
  const r = await run.done;
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /the runner's lock was lost during the run/);
  assert.match(r.stderr, /001_slow was rolled back and not recorded/);
  assert.match(r.stderr, /idle_session_timeout/);
  const [tables] = await db.sql`select to_regclass('slow') as a, to_regclass('next_one') as b`;
  assert.deepEqual([tables!['a'], tables!['b']], [null, null]);
  const [history] = await db.sql`select to_regclass('sqlmig_history') as t`;
  if (history!['t']) assert.equal((await db.sql`select count(*)::int as n from sqlmig_history`)[0]!['n'], 0);
});
