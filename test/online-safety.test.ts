import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, freshPglite, pauseOnTarget, runCli, slowHere, spawnCli, versions, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table users (id bigint primary key, email text, team int);
create table teams (id int primary key);
insert into teams select g from generate_series(1, 10) g;
insert into users select g, 'u' || g, 1 + g % 10 from generate_series(1, 2500) g;`;

const MIXED = 'create table audit (id int primary key);\nalter table users add column note text, alter column team set not null, add constraint users_team_fkey foreign key (team) references teams (id);';
const VOLATILE = 'alter table users add column token uuid not null default gen_random_uuid();';

async function leftovers(db: FreshDb): Promise<string[]> {
  const rows = await db.sql`select relname::text as name from pg_class where relname like 'sqlmig\\_tmp\\_%'
    union all select conname::text from pg_constraint where conname like 'sqlmig\\_tmp\\_%'`;
  return rows.map((r) => r['name'] as string);
}

async function based(t: Parameters<typeof freshDb>[0], files: Record<string, string>) {
  const { dir, root } = writeMigrations(t, { '001_base.up.sql': BASE, ...files });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  return { dir, root, db };
}

test('--online --dry-run prints every step with its lock, what it blocks and an estimate; nothing changes', async (t) => {
  const { dir, db } = await based(t, { '002_nn.up.sql': 'alter table users alter column email set not null;' });
  await db.sql`analyze users`;
  const r = await runCli(['up', '--online', '--dry-run', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /online plan: 3 step\(s\), proved on a scratch database/);
  assert.match(r.stdout, /step 1\/3: add CHECK \(email IS NOT NULL\) NOT VALID\n-- {3}lock: ACCESS EXCLUSIVE \(lock_timeout 1000ms, deadlock_timeout 100ms, up to 10 retries\); blocks: /);
  assert.match(r.stdout, /step 2\/3: validate that check .*\n-- {3}lock: SHARE UPDATE EXCLUSIVE.*not reads or writes\n-- {3}estimate: reads ~2,500 rows of public\.users/);
  assert.match(r.stdout, /alter table "public"\."users" alter column "email" set not null;/);
  assert.deepEqual(await versions(db), ['1']);
  const [col] = await db.sql`select attnotnull from pg_attribute where attrelid = 'users'::regclass and attname = 'email'`;
  assert.equal(col!['attnotnull'], false);
});

test('a statement with no online form is refused before anything runs (exit 3); -- sqlmig:offline runs the file as written', async (t) => {
  const { dir, db } = await based(t, {
    '002_ok.up.sql': 'create index on users (email);',
    '003_type.up.sql': 'alter table users add column flag int;\nalter table users alter column team type text using users::text;',
    '004_rename.up.sql': 'alter table teams rename to squads;',
  });
  const r = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /no online form and would block/);
  assert.match(r.stderr, /003_type\.up\.sql:2:1: alter table users alter column team type text using users::text\n {2}this type change rewrites the table.*uses users \(a whole row or \*\)/);
  assert.match(r.stderr, /004_rename\.up\.sql:1:1: .*\n {2}renaming a table or column that exists breaks the running application/);
  assert.match(r.stderr, /-- sqlmig:offline/);
  assert.deepEqual(await versions(db), ['1'], 'nothing ran, not even 002');
  const { writeFileSync } = await import('node:fs');
  // (PostgreSQL itself rejects a whole-row USING once the table has changed in the transaction, so the file is mended too.)
  writeFileSync(`${dir}/003_type.up.sql`, "-- sqlmig:offline\nalter table users add column flag int;\nalter table users alter column team type text using 'team ' || team;");
  writeFileSync(`${dir}/004_rename.up.sql`, '-- sqlmig:offline\nalter table teams rename to squads;');
  const again = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await versions(db), ['1', '2', '3', '4']);
});

test('a locking step waits at most its lock_timeout behind a writer, retries, then gives up and undoes what it did (exit 1)', async (t) => {
  const { dir, db } = await based(t, { '002_fk.up.sql': 'alter table users add constraint users_team_fkey foreign key (team) references teams (id);\nalter table users alter column email set not null;' });
  const writer = await db.sql.reserve();
  t.after(() => writer.release());
  await writer`begin`;
  await writer`insert into teams values (11)`; // ROW EXCLUSIVE on teams, held: the foreign key's SHARE ROW EXCLUSIVE must not queue behind it for long
  const run = spawnCli(['up', '--online', '--online-lock-timeout', '100ms', '--lock-retries', '2', '--dir', dir, '--url', db.url]);
  let sawWaiting = false;
  await waitFor(async () => {
    const waiting = await db.sql`select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where not l.granted and l.mode = 'ShareRowExclusiveLock' and l.relation = 'teams'::regclass and a.datname = current_database()`;
    sawWaiting ||= waiting.length > 0;
    return sawWaiting || run.child.exitCode !== null;
  }, 'the online step to wait for its lock');
  const r = await run.done;
  assert.ok(sawWaiting, 'the step did try to take the lock');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /was not granted within --online-lock-timeout 100ms, 3 attempt\(s\)/);
  assert.match(r.stderr, /no history row was written/);
  // The writer was never queued behind, and is still free to go on.
  await writer`insert into teams values (12)`;
  await writer`commit`;
  assert.deepEqual(await versions(db), ['1']);
  assert.deepEqual([...await db.sql`select conname::text from pg_constraint where conrelid = 'users'::regclass and contype = 'f'`], []);
  const again = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0, again.stderr);
});

test('SIGTERM during a backfill undoes the added column and writes no history row (exit 143)', async (t) => {
  const { dir, db } = await based(t, { '002_token.up.sql': 'alter table users add column token uuid not null default gen_random_uuid();' });
  const run = spawnCli(['up', '--online', '--batch-size', '1', '--dir', dir, '--url', db.url]);
  // The column is added under a helper name, given its own at the end with the history row.
  await waitFor(async () => (await db.sql`select 1 from users where sqlmig_tmp_col_token is not null limit 1`.catch(() => [])).length > 0, 'the backfill to start', 120_000);
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM during 002_token .*fill sqlmig_tmp_col_token.*undone/s);
  assert.deepEqual(await versions(db), ['1']);
  assert.deepEqual([...await db.sql`select attname::text from pg_attribute where attrelid = 'users'::regclass and attname like '%token' and not attisdropped`], []);
});

test('a leftover sqlmig_tmp_ index or constraint (after kill -9) is removed by the next up --online', async (t) => {
  const { dir, db } = await based(t, { '002_nn.up.sql': 'alter table users alter column email set not null;' });
  await db.sql`alter table users add constraint sqlmig_tmp_nn_users_email check (email is not null) not valid`;
  await db.sql`create index sqlmig_tmp_uq_users_email_key on users (email)`;
  const r = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed index sqlmig_tmp_uq_users_email_key/);
  assert.deepEqual(await leftovers(db), []);
});

test('PGlite runs the same online plan (no concurrency)', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_base.up.sql': BASE, '002_mixed.up.sql': `${MIXED}\n${VOLATILE}` });
  const url = await freshPglite(root);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', url])).code, 0);
  const plan = await runCli(['up', '--online', '--dry-run', '--json', '--dir', dir, '--url', url]);
  assert.equal(plan.code, 0, plan.stderr);
  const planned = JSON.parse(plan.stdout) as { dryRun: { online?: boolean; sql: string }[] };
  assert.equal(planned.dryRun[0]?.online, true);
  assert.match(planned.dryRun[0]!.sql, /validate constraint "sqlmig_tmp_fk_users_team_fkey"/);
  const r = await runCli(['up', '--online', '--dir', dir, '--url', url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await runCli(['status', '--dir', dir, '--url', url])).stdout, /applied\s+002_mixed/);
});

test('the library takes up({ online: true }) and config "online": true', async (t) => {
  const { dir, db } = await based(t, { '002_nn.up.sql': 'alter table users alter column email set not null;' });
  const { createMigrator } = await import('../lib/index.js');
  const m = createMigrator({ url: db.url, dir, online: true });
  const plan = await m.up({ dryRun: true });
  assert.equal(plan.dryRun?.[0]?.online, true, 'config online is the default');
  assert.equal((await m.up({ online: false, dryRun: true })).dryRun?.[0]?.online, undefined, 'online: false wins over the config');
  const r = await m.up({ online: true });
  assert.deepEqual(r.applied.map((a) => a.version), ['002']);
});

test('writers go on while the online form scans: VALIDATE and CREATE INDEX CONCURRENTLY hold no lock a writer waits for (pg_locks, pg_stat_activity)', async (t) => {
  const { dir, db } = await based(t, {
    // A check and an index whose expression is slow per row, so the scans are long enough to write during them.
    '002_slow.up.sql': `create function slow_positive(v int) returns boolean language sql immutable as $$select ${pauseOnTarget(0.002)} is not null and v > 0$$;`,
    '003_scan.up.sql': 'alter table users add constraint users_team_slow check (slow_positive(team));\ncreate index users_slow_idx on users (slow_positive(team));',
  });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  const run = spawnCli(['up', '--online', '--dir', dir, '--url', db.url]);
  for (const [phase, pattern] of [['VALIDATE', '%validate constraint "sqlmig_tmp_ck_users_team_slow"%'], ['CREATE INDEX CONCURRENTLY', '%create index concurrently "sqlmig_tmp_ix_users_slow_idx"%']] as const) {
    await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and query ilike ${pattern}`).length > 0, `the ${phase} scan on the target`, 180_000);
    const writer = await db.sql.reserve();
    try {
      await writer`begin`;
      await writer`insert into users values (100000 + ${phase.length}, 'w', 1)`;
      await writer`update users set email = 'changed' where id = 1`;
      const waiting = await writer`select count(*)::int as n from pg_locks where pid = pg_backend_pid() and not granted`;
      assert.equal(waiting[0]!['n'], 0, `the writer waits for no lock during ${phase}`);
      await writer`commit`;
    } finally {
      writer.release();
    }
    const still = await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and query ilike ${pattern}`;
    assert.equal(still.length, 1, `the writes went through while ${phase} was still scanning`);
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
});


test('SIGINT during a VALIDATE and SIGTERM during a CREATE INDEX CONCURRENTLY: the scan is cancelled, what the plan built is undone, no history row (exit 130 / 143)', async (t) => {
  const { dir, db } = await based(t, {
    // Slow per row on the target only (a setting of its database): the proof's scratch databases scan at full speed.
    '002_slow.up.sql': `create function slow_positive(v int) returns boolean language sql immutable as $$select ${pauseOnTarget(0.002)} is not null and v > 0$$;`,
    '003_check.up.sql': 'create index users_email_idx on users (email);\nalter table users add constraint users_team_slow check (slow_positive(team));',
    '004_index.up.sql': 'create index users_slow_idx on users (slow_positive(team));',
  });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  const phases = [
    { signal: 'SIGINT', code: 130, to: '3', pattern: '%validate constraint "sqlmig_tmp_ck_users_team_slow"%', step: /validate constraint sqlmig_tmp_ck_users_team_slow/ },
    { signal: 'SIGTERM', code: 143, to: '4', pattern: '%create index concurrently "sqlmig_tmp_ix_users_slow_idx"%', step: /build index sqlmig_tmp_ix_users_slow_idx concurrently/ },
  ] as const;
  for (const phase of phases) {
    if (phase.to === '4') assert.equal((await runCli(['up', '--to', '3', '--online', '--dir', dir, '--url', db.url])).code, 0);
    const run = spawnCli(['up', '--online', '--to', phase.to, '--dir', dir, '--url', db.url]);
    await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and query ilike ${phase.pattern}`).length > 0 || run.child.exitCode !== null,
      `the ${phase.signal} phase's scan`, 180_000);
    run.child.kill(phase.signal);
    const r = await run.done;
    assert.equal(r.code, phase.code, r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by ${phase.signal} during 00${phase.to}_[a-z]+ \\(`));
    assert.match(r.stderr, phase.step);
    assert.match(r.stderr, /undone/);
    // The scan was cancelled, not left running; nothing the plan built is left, under any name.
    assert.deepEqual([...await db.sql`select 1 from pg_stat_activity where datname = current_database() and query ilike ${phase.pattern} and state = 'active'`], []);
    assert.deepEqual(await leftovers(db), []);
    const finals = phase.to === '3' ? ['users_team_slow', 'users_email_idx'] : ['users_slow_idx'];
    assert.deepEqual([...await db.sql`select conname::text from pg_constraint where conname = any(${finals})
      union all select relname::text from pg_class where relname = any(${finals})`], []);
    assert.deepEqual(await versions(db), phase.to === '3' ? ['1', '2'] : ['1', '2', '3']);
  }
});
