import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, spawnCli, waitFor, writeMigrations, type FreshDb, versions, exists, sleepingBackend } from './support/helpers.js';

after(closeAdmin);

/**
 * A migration that sleeps for as long as the `nap` table says: the test sets 30 s while it interrupts
 * the run, then 0 s so that the next run applies the same file at once.
 */
const napping = {
  '001_nap.up.sql': 'create table nap (seconds int not null);\n',
  '001_nap.down.sql': 'drop table nap;\n',
  '002_slow.up.sql': 'create table slow (id int primary key);\nselect pg_sleep((select seconds from nap));\n',
  '002_slow.down.sql': 'drop table slow;\n',
  '003_after.up.sql': 'create table after_slow (id int);\n',
  '003_after.down.sql': 'drop table after_slow;\n',
};

async function prepare(t: Parameters<typeof freshDb>[0]): Promise<{ db: FreshDb; dir: string }> {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, napping);
  const first = await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url]);
  assert.equal(first.code, 0, first.stderr);
  await db.sql`insert into nap values (30)`;
  return { db, dir };
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal} cancels the running statement, rolls the migration back, frees the lock and exits ${code}`, async (t) => {
    const { db, dir } = await prepare(t);
    const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
    const backend = await sleepingBackend(db);
    run.child.kill(signal);
    const r = await run.done;

    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by ${signal}`));
    assert.match(r.stderr, /002_slow was rolled back/);
    assert.match(r.stderr, /Not run: 003_after/);
    assert.equal(await exists(db, 'public.slow'), false, 'the interrupted migration left its table behind');
    assert.deepEqual(await versions(db), ['1']);
    const [still] = await db.sql`select count(*)::int as n from pg_stat_activity where pid = ${backend} and state = 'active' and query like '%pg_sleep%'`;
    assert.equal(still!['n'], 0, 'the statement is still running on the server');

    // The lock is free: a run that will not wait for it at all gets it and applies everything.
    await db.sql`update nap set seconds = 0`;
    const again = await runCli(['up', '--lock-timeout', '0', '--dir', dir, '--url', db.url]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await versions(db), ['1', '2', '3']);
  });
}

test('a no-transaction migration interrupted by SIGTERM says the statements before the cancelled one stay', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_nap.up.sql': '-- sqlmig:no-transaction\ncreate table nap (seconds int not null);\ninsert into nap values (30);\nselect pg_sleep((select seconds from nap));\n',
  });
  const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
  await sleepingBackend(db);
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /001_nap was stopped \(no transaction: statements before the cancelled one stay\)/);
  assert.equal(await exists(db, 'public.nap'), true);
  const [row] = await db.sql`select count(*)::int as n from sqlmig_history`;
  assert.equal(row!['n'], 0);
});

test('kill -9 in the middle of a migration leaves nothing of it, the server ends its statement, and the next up applies it', async (t) => {
  const { db, dir } = await prepare(t);
  await db.sql`update nap set seconds = 600`;
  const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
  const orphan = await sleepingBackend(db);
  run.child.kill('SIGKILL');
  const r = await run.done;
  assert.equal(r.code, 137);

  // Nobody is left to cancel it: the server must notice the dead client itself and roll the statement back,
  // long before its 10 minutes are up (it would otherwise hold its locks while a new run takes the advisory lock).
  await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where pid = ${orphan}`).length === 0,
    'the server to end the statement of the killed run', 30_000);
  assert.equal(await exists(db, 'public.slow'), false);
  assert.deepEqual(await versions(db), ['1']);

  await db.sql`update nap set seconds = 0`;
  const again = await runCli(['up', '--lock-timeout', '0', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /applied\s+002_slow/);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
  assert.equal(await exists(db, 'public.slow'), true);
});
