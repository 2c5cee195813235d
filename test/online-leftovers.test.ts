/** What an online run killed with kill -9 leaves (helper objects named sqlmig_tmp_…): status names them, the next up --online removes them. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, versions, writeMigrations } from './support/helpers.js';

after(closeAdmin);

test('status lists sqlmig_tmp_ leftovers (text and --json) and the next up --online removes them before it runs', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id bigint primary key, email text);\ninsert into users select g, \'u\' || g from generate_series(1, 100) g;',
    '002_email_required.up.sql': 'alter table users alter column email set not null;',
  });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);

  const clean = await runCli(['status', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(JSON.parse(clean.stdout).onlineLeftovers, []);
  assert.doesNotMatch((await runCli(['status', '--dir', dir, '--url', db.url])).stdout, /interrupted up --online/);

  // As a killed run leaves them: an index being built, a helper check, a shadow column, its trigger and function.
  await db.sql.unsafe(`create index sqlmig_tmp_ix_users_email on users (email);
    alter table users add constraint sqlmig_tmp_nn_users_email check (email is not null) not valid;
    alter table users add column sqlmig_tmp_col_email varchar(100);
    create function sqlmig_tmp_fn_users_email() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger sqlmig_tmp_tg_email before insert on users for each row execute function sqlmig_tmp_fn_users_email();`);

  const text = await runCli(['status', '--dir', dir, '--url', db.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /left by an interrupted up --online \(the next `sqlmig up --online` removes them first, or drop them by hand\):/);
  for (const line of ['index sqlmig_tmp_ix_users_email on public.users', 'constraint sqlmig_tmp_nn_users_email on public.users',
    'column sqlmig_tmp_col_email on public.users', 'trigger sqlmig_tmp_tg_email on public.users', 'function public.sqlmig_tmp_fn_users_email()']) {
    assert.ok(text.stdout.includes(`  ${line}`), `${line} in:\n${text.stdout}`);
  }
  const json = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--url', db.url])).stdout);
  assert.deepEqual(json.onlineLeftovers.map((l: { kind: string; name: string }) => `${l.kind} ${l.name}`).sort(), [
    'column sqlmig_tmp_col_email', 'constraint sqlmig_tmp_nn_users_email', 'function sqlmig_tmp_fn_users_email', 'index sqlmig_tmp_ix_users_email', 'trigger sqlmig_tmp_tg_email',
  ]);

  const up = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.deepEqual(JSON.parse((await runCli(['status', '--json', '--dir', dir, '--url', db.url])).stdout).onlineLeftovers, []);
  const [col] = await db.sql`select attnotnull from pg_attribute where attrelid = 'users'::regclass and attname = 'email'`;
  assert.equal(col!['attnotnull'], true);
});
