/** The planner is pure: parse trees and catalog facts in, steps out. Plain literals, no database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptySchema, newTable } from '../lib/lint/known.js';
import { parseText } from '../lib/lint/parse.js';
import { loadParser } from '../lib/migrations/sql.js';
import { planOnline } from '../lib/online/planner.js';
import type { TableFacts } from '../lib/online/types.js';

async function plan(sql: string, facts: Partial<TableFacts> = {}) {
  const lib = await loadParser();
  const known = emptySchema();
  const users = newTable(null);
  users.columns.set('id', { name: 'int8', mods: [], array: false });
  users.columns.set('email', { name: 'text', mods: [], array: false });
  users.notNull.add('id');
  known.tables.set('public.users', users);
  const tables = new Map([['public.users', { primaryKey: [{ column: 'id', type: 'bigint' }], partitioned: false, dependedOn: ['id'], rows: 1000, bytes: 8192, ...facts }]]);
  return planOnline({ lib, migration: '002_x', path: 'sql/002_x.up.sql', statements: parseText(lib, sql).statements!, transactional: true, known, facts: tables, options: { batchSize: 500 } });
}

const sqlOf = (r: Awaited<ReturnType<typeof plan>>) => r.plan.steps.map((s) => (s.run.kind === 'transaction' ? s.run.statements.join('; ') : s.run.kind === 'alone' ? s.run.statement : s.run.kind));

test('CREATE INDEX gets CONCURRENTLY and the name PostgreSQL would choose', async () => {
  const r = await plan('create index on users (email);');
  assert.deepEqual(sqlOf(r), ['drop-invalid-index', 'create index concurrently "users_email_idx" on users (email)']);
  assert.deepEqual(r.plan.steps[1]!.undo, ['drop index concurrently if exists "public"."users_email_idx"']);
});

test('ADD FOREIGN KEY becomes NOT VALID then VALIDATE, with the generated name', async () => {
  const r = await plan('alter table users add foreign key (email) references emails (address);');
  assert.deepEqual(sqlOf(r), [
    'alter table users add constraint "users_email_fkey" foreign key (email) references emails (address) not valid',
    'alter table "public"."users" validate constraint "users_email_fkey"',
  ]);
  assert.equal(r.plan.steps[0]!.lock, 'SHARE ROW EXCLUSIVE');
});

test('statements on tables the migration creates, and safe ones, run as written in one transaction', async () => {
  const r = await plan('create table t (id int primary key);\ncreate index on t (id);\nalter table users add column note text;');
  assert.equal(r.plan.rewritten, false);
  assert.equal(r.plan.steps.length, 1);
  assert.equal(r.plan.steps[0]!.run.kind, 'transaction');
});

test('a whole-table UPDATE is batched by the primary key; without one it is refused', async () => {
  const r = await plan("update users set email = lower(email);");
  assert.equal(r.plan.steps[0]!.run.kind, 'batches');
  assert.match(sqlOf(r)[0]!, /batches/);
  const refused = await plan('delete from users;', { primaryKey: [] });
  assert.match(refused.refusals[0]!.why, /without a primary key/);
});

test('a type change of a column nothing depends on is expand/contract; the primary key itself is refused', async () => {
  const r = await plan('alter table users alter column email type varchar(100);');
  assert.match(r.plan.steps.at(-1)!.what, /^swap/);
  assert.ok(r.plan.steps.some((s) => s.run.kind === 'batches'));
  const refused = await plan('alter table users alter column id type numeric;');
  assert.match(refused.refusals[0]!.why, /cannot change the primary key itself/);
});
