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

const sqlOf = (r: Awaited<ReturnType<typeof plan>>) => r.plan.steps.map((s) => (s.run.kind === 'transaction' ? s.run.statements.join('; ')
  : s.run.kind === 'at-end' ? `at the end: ${s.run.statements.join('; ')}` : s.run.kind === 'alone' ? s.run.statement : s.run.kind));

test('CREATE INDEX gets CONCURRENTLY, built under a helper name and given the name PostgreSQL would choose at the end', async () => {
  const r = await plan('create index on users (email);');
  assert.deepEqual(sqlOf(r), ['drop-invalid-index', 'create index concurrently "sqlmig_tmp_ix_users_email_idx" on users (email)',
    'at the end: alter index "public"."sqlmig_tmp_ix_users_email_idx" rename to "users_email_idx"']);
  assert.deepEqual(r.plan.steps[1]!.undo, ['drop index concurrently if exists "public"."sqlmig_tmp_ix_users_email_idx"']);
  const named = await plan('create unique index if not exists "Users by email" on only users using btree (lower(email)) where email <> \'\';');
  assert.deepEqual(sqlOf(named).slice(1), ['create unique index concurrently "sqlmig_tmp_ix_Users by email" on only users using btree (lower(email)) where email <> \'\'',
    'at the end: alter index "public"."sqlmig_tmp_ix_Users by email" rename to "Users by email"']);
});

test('ADD FOREIGN KEY becomes NOT VALID then VALIDATE under a helper name, renamed to the generated (or given) name at the end', async () => {
  const r = await plan('alter table users add foreign key (email) references emails (address);');
  assert.deepEqual(sqlOf(r), [
    'alter table users add constraint "sqlmig_tmp_fk_users_email_fkey" foreign key (email) references emails (address) not valid',
    'alter table "public"."users" validate constraint "sqlmig_tmp_fk_users_email_fkey"',
    'at the end: alter table "public"."users" rename constraint "sqlmig_tmp_fk_users_email_fkey" to "users_email_fkey"',
  ]);
  assert.equal(r.plan.steps[0]!.lock, 'SHARE ROW EXCLUSIVE');
  const named = await plan('alter table users add constraint /* c */ email_fk foreign key (email) references emails (address);');
  assert.match(sqlOf(named)[0]!, /^alter table users add constraint "sqlmig_tmp_fk_email_fk" foreign key \(email\) references emails \(address\) not valid$/);
});

test('a final name waits for the end unless later SQL of the migration needs it: then it is given in place', async () => {
  const later = await plan('create index on users (email);\ncomment on index users_email_idx is \'by email\';');
  assert.equal(later.plan.steps[2]!.run.kind, 'transaction');
  assert.match(later.plan.steps[2]!.what, /^rename index sqlmig_tmp_ix_users_email_idx to users_email_idx$/);
  const column = await plan('alter table users add column token uuid not null default gen_random_uuid(), add constraint token_set check (token is not null);');
  const rename = column.plan.steps.find((s) => /^rename column/.test(s.what))!;
  assert.equal(rename.run.kind, 'transaction', 'the CHECK after it names the column');
  const runs = async (sql: string) => (await plan(sql)).plan.steps.filter((st) => /^rename index/.test(st.what)).map((st) => st.run.kind);
  assert.deepEqual(await runs('create index on users (email);\nalter table users drop column email;'), ['transaction'], 'the drop takes the index with it');
  assert.deepEqual(await runs('create index on users (lower(email));\nalter table users add column note text;\ncreate index on users (id);'), ['at-end', 'at-end']);
  assert.deepEqual(await runs('create index on users (email);\ninsert into users (id) values (1);'), ['transaction'], 'any other statement on the table');
  const alone = await plan('alter table users add column token uuid not null default gen_random_uuid();');
  assert.equal(alone.plan.steps.at(-1)!.run.kind, 'at-end');
  assert.match(sqlOf(alone)[0]!, /add column "sqlmig_tmp_col_token" uuid; alter table "public"\."users" alter column "sqlmig_tmp_col_token" set default gen_random_uuid\(\)$/);
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
  // Its committed batches stay: the pass records how far it got (a stopped run goes on from there), where a type change's backfill, into a shadow column that undo drops, does not.
  assert.equal(r.plan.steps[0]!.resumable, true);
  assert.match(r.plan.steps[0]!.irreversible!, /changed stay changed; the next `up --online` goes on after the last of them/);
  const typeChange = await plan('alter table users alter column email type varchar(100);');
  assert.ok(typeChange.plan.steps.every((s) => !s.resumable));
  const refused = await plan('delete from users;', { primaryKey: [] });
  assert.match(refused.refusals[0]!.why, /^a DELETE of every row of a table without a primary key/);
  const update = await plan('update users set email = null;', { primaryKey: ['id', 'team'] });
  assert.match(update.refusals[0]!.why, /^an UPDATE of every row of a table whose primary key has several columns/);
});

test('a type change of a column nothing depends on is expand/contract; a key other tables reference is refused', async () => {
  const r = await plan('alter table users alter column email type varchar(100);');
  assert.match(r.plan.steps.at(-1)!.what, /^swap.*at the end, with the history row\)$/);
  assert.equal(r.plan.steps.at(-1)!.run.kind, 'at-end');
  assert.ok(r.plan.steps.some((s) => s.run.kind === 'batches'));
  const uses = new Map([['id', [{ kind: 'referenced' as const, name: 'orders_user_fkey', definition: 'orders' }]]]);
  const refused = await plan('alter table users alter column id type numeric;', { uses });
  assert.match(refused.refusals[0]!.why, /cannot move the foreign key that references id \(orders_user_fkey of orders\)/);
});

test('a type change after an index, a constraint, a trigger or a policy on that column made earlier in the migration is refused, naming that line; after it, it is planned', async () => {
  for (const [earlier, line] of [
    ['create index users_email_idx on users (lower(email));', 1],
    ['alter table users add constraint users_email_key unique (email);', 1],
    ["alter table users add constraint users_email_check check (email <> '');", 1],
    ['select 1;\ncreate trigger users_email_tg before update of email on users for each row execute function f();', 2],
    ['create policy mine on users using (email = current_user);', 1],
  ] as const) {
    const r = await plan(`${earlier}\nalter table users alter column email type varchar(100);`);
    assert.equal(r.refusals.length, 1, earlier);
    assert.match(r.refusals[0]!.why, new RegExp(`line ${line} \\(.+\\) builds something on email earlier in the same migration: put that statement after the type change`), earlier);
  }
  // Not on that column, or not on that table: no refusal.
  for (const other of ['create index users_id_idx on users (id);', 'create table emails (email text);\ncreate index emails_email_idx on emails (email);']) {
    assert.deepEqual((await plan(`${other}\nalter table users alter column email type varchar(100);`)).refusals, [], other);
  }
  const after = await plan('alter table users alter column email type varchar(100);\ncreate index users_email_idx on users (email);');
  assert.deepEqual(after.refusals, []);
  assert.ok(after.plan.steps.some((s) => s.run.kind === 'batches'));
});

test('USING: column references (found in the parse tree) point at the row in the batch and at NEW in the trigger; literals and comments stay', async () => {
  const r = await plan(`alter table users alter column email type varchar(100) using lower(email) || ' email ' /* email */ || id -- email
;`);
  const [expand] = sqlOf(r);
  const batch = r.plan.steps[1]!.run.kind === 'batches' ? r.plan.steps[1]!.run.sql : '';
  assert.match(expand!, /new\."sqlmig_tmp_col_email" := \(lower\(new\."email"\) \|\| ' email ' \/\* email \*\/ \|\| new\."id"\);/);
  assert.match(expand!, /before insert or update of "email", "id" on "public"\."users"/);
  assert.doesNotMatch(expand!, /-- email/);
  assert.match(batch!, /set "sqlmig_tmp_col_email" = \(lower\("email"\) \|\| ' email ' \/\* email \*\/ \|\| "id"\) where/);
  assert.deepEqual(sqlOf(await plan('alter table users alter column email type int using 0;')).slice(0, 1).map((s) => /before insert on/.test(s)), [true]);
});

test('the column\'s index, check and unique key are rebuilt on the shadow from their definitions, then renamed back in the swap', async () => {
  const uses = new Map([['email', [
    { kind: 'index' as const, name: 'users_email_idx', definition: "CREATE INDEX users_email_idx ON public.users USING btree (email, lower(email)) INCLUDE (id) WHERE (email <> 'email'::text)" },
    { kind: 'check' as const, name: 'users_email_check', definition: "CHECK ((length(email) > 3))" },
    { kind: 'unique' as const, name: 'users_email_key', definition: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)', constraint: 'UNIQUE (email) DEFERRABLE' },
  ]]]);
  const steps = sqlOf(await plan('alter table users alter column email type varchar(100);', { uses }));
  assert.ok(steps.includes(`CREATE index concurrently "sqlmig_tmp_ix_users_email_idx" ON public.users USING btree ("sqlmig_tmp_col_email", lower("sqlmig_tmp_col_email")) INCLUDE (id) WHERE ("sqlmig_tmp_col_email" <> 'email'::text)`), steps.join('\n'));
  assert.ok(steps.includes('alter table "public"."users" add constraint "sqlmig_tmp_ck_users_email_check" CHECK ((length("sqlmig_tmp_col_email") > 3)) not valid'));
  const swap = steps.at(-1)!;
  assert.match(swap, /alter index "public"\."sqlmig_tmp_ix_users_email_idx" rename to "users_email_idx"; alter table "public"\."users_email_idx" rename column "sqlmig_tmp_col_email" to "email"/);
  assert.match(swap, /add constraint "users_email_key" unique using index "sqlmig_tmp_ux_users_email_key" deferrable/);
  assert.match(swap, /rename constraint "sqlmig_tmp_ck_users_email_check" to "users_email_check"/);
});

test('ADD COLUMN with a default of a user function: volatile or unknown gets the batched form, STABLE or IMMUTABLE runs as written', async () => {
  const lib = await loadParser();
  const planWith = (volatility: 'volatile' | 'stable' | null) => {
    const known = emptySchema();
    const users = newTable(null);
    users.columns.set('id', { name: 'int8', mods: [], array: false });
    known.tables.set('public.users', users);
    if (volatility) known.functions.set('make_ref', volatility);
    const tables = new Map([['public.users', { primaryKey: [{ column: 'id', type: 'bigint' }], partitioned: false, dependedOn: ['id'], rows: 1000, bytes: 8192 }]]);
    return planOnline({ lib, migration: '002_x', path: 'sql/002_x.up.sql', statements: parseText(lib, 'alter table users add column ref text default make_ref();').statements!, transactional: true, known, facts: tables, options: { batchSize: 500 } });
  };
  for (const v of ['volatile', null] as const) assert.ok(planWith(v).plan.steps.some((s) => s.run.kind === 'batches'), `${v ?? 'unknown'}: batched`);
  assert.equal(planWith('stable').plan.rewritten, false);
});
