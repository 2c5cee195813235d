import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeAdmin, freshDb, pauseOnTarget, runCli, slowHere, spawnCli, versions, writeMigrations, type FreshDb } from './support/helpers.js';

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

test('an online type change with USING (the column and another one) under concurrent inserts, updates and deletes converts every row exactly once', async (t) => {
  const { dir, db } = await based(t, {
    '002_payments.up.sql': 'create table payments (id bigint primary key, amount int not null, fee int not null default 1, note text);\ninsert into payments select g, g * 7, g % 5, null from generate_series(1, 3000) g;',
    '003_cents.up.sql': 'alter table payments alter column amount type numeric(14,2) using amount * 1.5 + fee;',
  });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  // id → the row as the writes leave it. Each write returns the column's type as that write saw it:
  // int means before the swap (the USING conversion is still to come), numeric means after it (the
  // value is stored as written, exactly as it would be after an offline conversion).
  type Row = { amount: number; fee: number; stored?: string };
  const expected = new Map<number, Row>(Array.from({ length: 3000 }, (_, i) => [i + 1, { amount: (i + 1) * 7, fee: (i + 1) % 5 }]));
  const swapped = (r: readonly Record<string, unknown>[]) => r[0]?.['type'] === 'numeric';
  const run = spawnCli(['up', '--online', '--batch-size', '100', '--dir', dir, '--url', db.url]);
  let finished = false;
  void run.done.then(() => { finished = true; });
  let writes = 0;
  let beforeSwap = 0;
  let next = 5000;
  for (let i = 0; !finished; i++) {
    const id = 1 + ((i * 37) % 3000);
    const v = (i % 1000) + 1;
    const row = expected.get(id);
    let result: readonly Record<string, unknown>[] = [];
    if (i % 4 === 0) {
      result = await db.sql`insert into payments (id, amount) values (${next}, ${v}) returning pg_typeof(amount)::text as type`;
      expected.set(next++, swapped(result) ? { amount: v, fee: 1, stored: v.toFixed(2) } : { amount: v, fee: 1 });
    } else if (i % 4 === 1) {
      result = await db.sql`update payments set amount = ${v} where id = ${id} returning pg_typeof(amount)::text as type`;
      if (row && swapped(result)) row.stored = v.toFixed(2);
      else if (row) row.amount = v;
    } else if (i % 4 === 2) {
      result = await db.sql`update payments set fee = ${v % 9} where id = ${id} returning pg_typeof(amount)::text as type`;
      // After the swap the amount is converted already: a new fee no longer changes it.
      if (row && swapped(result)) row.stored ??= (row.amount * 1.5 + row.fee).toFixed(2);
      if (row) row.fee = v % 9;
    } else if (i % 8 === 3) {
      await db.sql`delete from payments where id = ${id}`;
      expected.delete(id);
    } else {
      await db.sql`update payments set note = 'x' where id = ${next - 1}`;
    }
    if (result.length && !swapped(result)) beforeSwap++;
    writes++;
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(beforeSwap > 0, `no write landed before the swap (${writes} writes)`);
  const rows = await db.sql`select id::int as id, amount::text as amount from payments order by id`;
  const offline = [...expected].sort((a, b) => a[0] - b[0]).map(([id, row]) => [id, row.stored ?? (row.amount * 1.5 + row.fee).toFixed(2)]);
  assert.deepEqual(rows.map((x) => [x['id'], x['amount']]), offline);
  const [col] = await db.sql`select format_type(atttypid, atttypmod) as type, attnotnull from pg_attribute where attrelid = 'payments'::regclass and attname = 'amount'`;
  assert.deepEqual({ ...col }, { type: 'numeric(14,2)', attnotnull: true });
  assert.deepEqual(await leftovers(db), []);
});

/**
 * From a second session, while a writer does single-row writes: is the writer ever waiting for a lock
 * held by a statement that scans or rewrites the table, and which statements hold ACCESS EXCLUSIVE?
 */
async function watchWriter(db: FreshDb, run: () => Promise<{ code: number; stderr: string }>) {
  const writer = await db.sql.reserve();
  const sampler = await db.sql.reserve();
  try {
    const [{ pid }] = await writer`select pg_backend_pid() as pid` as unknown as [{ pid: number }];
    let done = false;
    let writes = 0;
    const writing = (async () => {
      for (let i = 0; !done; i++) {
        if (i % 3 === 0) await writer`insert into payments (id, amount) values (${100000 + i}, ${i})`;
        else if (i % 3 === 1) await writer`update payments set amount = amount + 1, note = 'a' where id = ${1 + (i % 2000)}`;
        else await writer`update payments set note = 'w' where id = ${1 + (i % 2000)}`;
        writes++;
        // A steady writer, not a flood: its inserts would otherwise grow the table the backfill walks tenfold.
        await sleep(3);
      }
    })();
    const blockers: string[] = [];
    const exclusive: string[] = [];
    let writesDuringBackfill: number[] = [];
    const sampling = (async () => {
      while (!done) {
        const [w] = await sampler`select w.wait_event_type as wait, (select array_agg(b.query) from pg_stat_activity b where b.pid = any(pg_blocking_pids(w.pid))) as blockers
          from pg_stat_activity w where w.pid = ${pid}`;
        if (w?.['wait'] === 'Lock') blockers.push(...((w['blockers'] as string[] | null) ?? []));
        const held = await sampler`select a.query from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.relation = 'payments'::regclass and l.mode = 'AccessExclusiveLock' and l.granted and a.pid <> ${pid}`;
        exclusive.push(...held.map((h) => h['query'] as string));
        const backfill = await sampler`select 1 from pg_stat_activity where datname = current_database() and query like '%set "sqlmig\_tmp\_col\_amount" =%'`;
        if (backfill.length) writesDuringBackfill.push(writes);
      }
    })();
    const r = await run();
    done = true;
    await Promise.all([writing, sampling]);
    return { r, blockers, exclusive, writes, writesDuringBackfill };
  } finally {
    writer.release();
    sampler.release();
  }
}

const SLOW_CONVERSION = {
  // A conversion slow per row (1 ms), so that rewriting the table takes seconds, long enough to watch.
  '002_payments.up.sql': `create function slow_cents(v int) returns bigint language plpgsql immutable as $$begin perform ${pauseOnTarget(0.001)}; return v::bigint * 100; end$$;
create table payments (id bigint primary key, amount int not null, note text);
create index payments_amount_idx on payments (amount) where amount > 10;
insert into payments select g, g, null from generate_series(1, 2000) g;`,
  '003_cents.up.sql': 'alter table payments alter column amount type bigint using slow_cents(amount);',
};
// What scans or rewrites the table. SET NOT NULL after a validated CHECK (col IS NOT NULL) reads no row,
// and CREATE TRIGGER reads none either, so a lock held for them is catalog-only.
const SCANS = /alter column "?amount"? (set data )?type|validate constraint|create (unique )?index|^\s*update\b/i;

test('a concurrent writer is never blocked by the online type change\'s rewrite: seen from pg_stat_activity and pg_locks, where plain up blocks it', async (t) => {
  const { dir, db } = await based(t, SLOW_CONVERSION);
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  await slowHere(db);
  const online = await watchWriter(db, () => runCli(['up', '--online', '--batch-size', '100', '--dir', dir, '--url', db.url]));
  assert.equal(online.r.code, 0, online.r.stderr);
  assert.ok(online.writesDuringBackfill.length > 1, 'the backfill was seen running');
  assert.ok(online.writesDuringBackfill.at(-1)! > online.writesDuringBackfill[0]!, 'the writer wrote while the rows were being converted');
  // Waits, if any, were for a batch's rows or a catalog-only step, never for a scan or a rewrite.
  assert.deepEqual(online.blockers.filter((q) => SCANS.test(q) && !/^with batch/i.test(q.trim())), []);
  // ACCESS EXCLUSIVE is held only by the catalog-only steps (add the shadow, NOT NULL, the swap), never while converting or scanning.
  assert.deepEqual(online.exclusive.filter((q) => SCANS.test(q) || /^with batch/i.test(q.trim())), []);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
  assert.deepEqual([...await db.sql`select count(*)::int as n from payments where amount <> id * 100 and id <= 2000 and note is null`], [{ n: 0 }]);

  // The same watch on plain up sees the writer wait for the rewrite: the assertion above can fail.
  const plainDb = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', plainDb.url])).code, 0);
  await slowHere(plainDb);
  const plain = await watchWriter(plainDb, () => runCli(['up', '--dir', dir, '--url', plainDb.url]));
  assert.equal(plain.r.code, 0, plain.r.stderr);
  assert.ok(plain.blockers.some((q) => /alter column amount type/i.test(q)), 'plain up blocks the writer for the rewrite');
});

test('a type change on a column that a statistics object uses is refused, naming what the online form does not rebuild', async (t) => {
  const { dir, db } = await based(t, { '002_type.up.sql': 'create statistics users_team_stats (dependencies) on team, email from users;', '003_type.up.sql': 'alter table users alter column team type bigint;' });
  assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /003_type\.up\.sql:1:1: .*\n.*does not rebuild statistics object (public\.)?users_team_stats, which uses team/);
});

test('down --online runs the down file in its online form and deletes the history row only at the end', async (t) => {
  const { dir, db } = await based(t, {
    '002_drop.up.sql': 'drop index if exists nothing_here;\nalter table users drop column email;',
    '002_drop.down.sql': 'alter table users add column email text;\nupdate users set email = id::text;\nalter table users alter column email set not null;',
  });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  const plan = await runCli(['down', '--online', '--dry-run', '--dir', dir, '--url', db.url]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /update every row in batches of up to 10000 \(~100 ms each\) by id/);
  assert.match(plan.stdout, /add CHECK \(email IS NOT NULL\) NOT VALID/);
  const r = await runCli(['down', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await versions(db), ['1']);
  const [col] = await db.sql`select attnotnull from pg_attribute where attrelid = 'users'::regclass and attname = 'email'`;
  assert.equal(col!['attnotnull'], true);
  assert.deepEqual([...await db.sql`select count(*)::int as n from users where email is null`], [{ n: 0 }]);
});
