/**
 * kill -9 in the middle of an online plan: until its last transaction (the final names, a type change's
 * swap and the history row) commits, everything it built is named sqlmig_tmp_…, so the next run removes
 * it and starts again, and ends where an uninterrupted run ends.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, pauseOnTarget, runCli, slowHere, spawnCli, versions, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

/** Kill the run with SIGKILL once `ready` holds, then wait until its server sessions are gone (the lock with them). */
async function killWhen(db: FreshDb, args: string[], ready: () => Promise<boolean>, what: string): Promise<void> {
  const run = spawnCli(args);
  await waitFor(async () => (await ready().catch(() => false)) || run.child.exitCode !== null, what, 180_000);
  assert.equal(run.child.exitCode, null, `the run ended before ${what}: ${run.printed().stderr}`);
  run.child.kill('SIGKILL');
  assert.equal((await run.done).code, 137);
  // The server notices a dead client only when it next reads from it: wait for its work and its lock to end.
  await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
    union all select 1 from pg_locks where locktype = 'advisory'`).length === 0, 'the killed run\'s sessions to end', 60_000);
}

async function dumpSchema(url: string, dir: string): Promise<string> {
  const r = await runCli(['dump-schema', '--url', url, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function leftoverNames(dir: string, db: FreshDb): Promise<string[]> {
  const status = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(status.code, 0, status.stderr);
  return (JSON.parse(status.stdout).onlineLeftovers as { kind: string; name: string }[]).map((l) => `${l.kind} ${l.name}`).sort();
}

test('kill -9 after an index and a foreign key were built, during a backfill: only sqlmig_tmp_ is left, and the next up --online ends as plain up does', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': `create table teams (id int primary key);
insert into teams select g from generate_series(1, 10) g;
create table users (id bigint primary key, email text, team int);
insert into users select g, 'u' || g, 1 + g % 10 from generate_series(1, 3000) g;
create function slow_uuid() returns uuid language sql volatile as $$select gen_random_uuid() from (select ${pauseOnTarget(0.002)}) as pause$$;`,
    '002_online.up.sql': `create index users_email_idx on users (email);
alter table users add constraint users_team_fkey foreign key (team) references teams (id);
alter table users add column token uuid not null default slow_uuid();`,
  });
  const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
  for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  assert.equal((await runCli(['up', '--dir', dir, '--url', plain.url])).code, 0);

  await slowHere(online);
  await killWhen(online, ['up', '--online', '--batch-size', '50', '--dir', dir, '--url', online.url],
    async () => (await online.sql`select 1 from users where sqlmig_tmp_col_token is not null limit 1`).length > 0, 'the backfill to start');
  assert.deepEqual(await versions(online), ['1']);
  // Nothing under a final name: no users_email_idx, users_team_fkey or token for a retry to trip over.
  assert.deepEqual([...await online.sql`select relname::text as name from pg_class where relname in ('users_email_idx')
    union all select conname::text from pg_constraint where conname = 'users_team_fkey'
    union all select attname::text from pg_attribute where attrelid = 'users'::regclass and attname = 'token' and not attisdropped`], []);
  assert.deepEqual(await leftoverNames(dir, online), [
    'column sqlmig_tmp_col_token', 'constraint sqlmig_tmp_fk_users_team_fkey', 'index sqlmig_tmp_ix_users_email_idx',
  ]);

  const again = await runCli(['up', '--online', '--dir', dir, '--url', online.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /removed index sqlmig_tmp_ix_users_email_idx/);
  assert.deepEqual(await versions(online), ['1', '2']);
  assert.equal(await dumpSchema(online.url, dir), await dumpSchema(plain.url, dir));
  assert.deepEqual(await leftoverNames(dir, online), []);
});

test('kill -9 during an online type change with USING, after the backfill: the retry converts every row exactly once', async (t) => {
  const { dir } = writeMigrations(t, {
    // Slow per row on the target only (a setting of its database): the proof's scratch databases scan at full speed.
    '001_base.up.sql': `create function slow_positive(v numeric) returns boolean language sql immutable as $$select ${pauseOnTarget(0.003)} is not null and v > 0$$;
create table payments (id bigint primary key, amount int not null, fee int not null, constraint payments_amount_positive check (slow_positive(amount)));
insert into payments select g, g * 7, g % 5 from generate_series(1, 1000) g;`,
    '002_cents.up.sql': 'alter table payments alter column amount type numeric(14,2) using amount * 1.5 + fee;',
  });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  // The check is rebuilt on the shadow and validated (a slow scan) after every row was converted.
  await killWhen(db, ['up', '--online', '--dir', dir, '--url', db.url],
    async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid() and query ilike '%validate constraint "sqlmig_tmp_ck_payments_amount_positive"%'`).length > 0,
    'the rebuilt check to be validated');
  assert.deepEqual(await versions(db), ['1']);
  const [column] = await db.sql`select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'payments'::regclass and attname = 'amount'`;
  assert.equal(column!['type'], 'integer', 'the old column is untouched until the swap');
  const left = await leftoverNames(dir, db);
  assert.ok(left.includes('column sqlmig_tmp_col_amount'), left.join(', '));

  const again = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await versions(db), ['1', '2']);
  const wrong = await db.sql`select count(*)::int as n from payments where amount <> id * 7 * 1.5 + id % 5`;
  assert.deepEqual([...wrong], [{ n: 0 }]);
  const [converted] = await db.sql`select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'payments'::regclass and attname = 'amount'`;
  assert.equal(converted!['type'], 'numeric(14,2)');
  assert.deepEqual(await leftoverNames(dir, db), []);
});
