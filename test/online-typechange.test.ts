import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, spawnCli, versions, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table users (id bigint primary key, email text, team int);
create table teams (id int primary key);
insert into teams select g from generate_series(1, 10) g;
insert into users select g, 'u' || g, 1 + g % 10 from generate_series(1, 2500) g;`;


async function leftovers(db: FreshDb): Promise<string[]> {
  const rows = await db.sql`select relname::text as name from pg_class where relname like 'sqlmig\\_tmp\\_%'
    union all select conname::text from pg_constraint where conname like 'sqlmig\\_tmp\\_%'
    union all select attname::text from pg_attribute where attname like 'sqlmig\\_tmp\\_%' and not attisdropped
    union all select tgname::text from pg_trigger where tgname like 'sqlmig\\_tmp\\_%'
    union all select proname::text from pg_proc where proname like 'sqlmig\\_tmp\\_%'`;
  return rows.map((r) => r['name'] as string);
}

async function based(t: Parameters<typeof freshDb>[0], files: Record<string, string>) {
  const { dir, root } = writeMigrations(t, { '001_base.up.sql': BASE, ...files });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  return { dir, root, db };
}

test('an online type change under concurrent inserts, updates and deletes converts every row exactly once: the table equals the same writes converted offline', async (t) => {
  const { dir, db } = await based(t, {
    '002_payments.up.sql': 'create table payments (id bigint primary key, amount int not null, note text);\ninsert into payments select g, g * 7, null from generate_series(1, 3000) g;',
    '003_bigint.up.sql': 'alter table payments alter column amount type bigint;',
  });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  const expected = new Map<number, number>(Array.from({ length: 3000 }, (_, i) => [i + 1, (i + 1) * 7]));
  const run = spawnCli(['up', '--online', '--batch-size', '100', '--dir', dir, '--url', db.url]);
  let finished = false;
  void run.done.then(() => { finished = true; });
  let writes = 0;
  let next = 5000;
  for (let i = 0; !finished; i++) {
    const id = 1 + ((i * 37) % 3000);
    const v = (i % 1000) + 1;
    if (i % 3 === 0) { await db.sql`insert into payments (id, amount) values (${next}, ${v})`; expected.set(next++, v); }
    else if (i % 3 === 1) { await db.sql`update payments set amount = ${v} where id = ${id}`; if (expected.has(id)) expected.set(id, v); }
    else if (i % 7 === 2) { await db.sql`delete from payments where id = ${id}`; expected.delete(id); }
    else { await db.sql`update payments set amount = ${v} where id = ${next - 1}`; if (expected.has(next - 1)) expected.set(next - 1, v); }
    writes++;
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(writes > 0);
  const rows = await db.sql`select id::int as id, amount::text as amount from payments order by id`;
  assert.deepEqual(rows.map((x) => [x['id'], Number(x['amount'])]), [...expected].sort((a, b) => a[0] - b[0]));
  const [col] = await db.sql`select format_type(atttypid, atttypmod) as type, attnotnull from pg_attribute where attrelid = 'payments'::regclass and attname = 'amount'`;
  assert.deepEqual({ ...col }, { type: 'bigint', attnotnull: true });
  assert.deepEqual(await leftovers(db), []);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
});

test('a type change on a column an index uses is refused, naming what the online form does not rebuild yet', async (t) => {
  const { dir, db } = await based(t, { '002_type.up.sql': 'create index users_team_idx on users (team);', '003_type.up.sql': 'alter table users alter column team type bigint;' });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /003_type\.up\.sql:1:1: .*\n.*does not rebuild the indexes, constraints, defaults or views that use team yet/);
});

test('down --online runs the down file in its online form and deletes the history row only at the end', async (t) => {
  const { dir, db } = await based(t, {
    '002_drop.up.sql': 'drop index if exists nothing_here;\nalter table users drop column email;',
    '002_drop.down.sql': 'alter table users add column email text;\nupdate users set email = id::text;\nalter table users alter column email set not null;',
  });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  const plan = await runCli(['down', '--online', '--dry-run', '--dir', dir, '--url', db.url]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /update every row in batches of 10000 by id/);
  assert.match(plan.stdout, /add CHECK \(email IS NOT NULL\) NOT VALID/);
  const r = await runCli(['down', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await versions(db), ['1']);
  const [col] = await db.sql`select attnotnull from pg_attribute where attrelid = 'users'::regclass and attname = 'email'`;
  assert.equal(col!['attnotnull'], true);
  assert.deepEqual([...await db.sql`select count(*)::int as n from users where email is null`], [{ n: 0 }]);
});
