/**
 * The expand/contract type change with USING and with what uses the column (indexes, checks, the
 * default, unique and primary keys, foreign keys, an owned sequence): each ends in the schema plain
 * `up` gives (column order aside), with the same data; what it cannot rebuild is refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, versions, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table teams (id int primary key);
insert into teams select g from generate_series(1, 10) g;
create table payments (id serial primary key, amount int not null default 7 check (amount >= 0), team int references teams (id), note text);
insert into payments (amount, team, note) select g * 3, 1 + g % 10, 'n' || g from generate_series(1, 1500) g;`;

/** A second migration that adds what uses the column, then the type change. */
const CASES: Record<string, [string, string]> = {
  'USING an expression of the column and another one': ['alter table payments add column rate int not null default 2;', 'alter table payments alter column amount type numeric(14,2) using amount * rate / 4.0;'],
  'indexes: plain, multi-column, expression, partial, INCLUDE': [
    `create index payments_amount_idx on payments (amount);
create index payments_team_amount_idx on payments (team, amount desc);
create index payments_amount_text_idx on payments (lower(amount::text)) where amount > 100 and note <> 'amount';
create index payments_note_idx on payments (note) include (amount);`,
    'alter table payments alter column amount type bigint;'],
  'CHECK (validated and NOT VALID), the default and NOT NULL': [
    'alter table payments add constraint payments_amount_small check (amount < 10000000) not valid;',
    'alter table payments alter column amount type bigint using amount + 1;'],
  'a UNIQUE constraint (DEFERRABLE) and a unique index': [
    'alter table payments add constraint payments_amount_key unique (amount) deferrable initially deferred;\ncreate unique index payments_note_amount_key on payments (note, amount);',
    'alter table payments alter column amount type bigint;'],
  'the primary key itself, with its serial sequence': ['', 'alter table payments alter column id type bigint;'],
  'a foreign key column': ['', 'alter table payments alter column team type bigint;'],
};

async function dumpSchema(url: string, dir: string): Promise<string> {
  const r = await runCli(['dump-schema', '--url', url, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const unordered = (text: string) => text.split('\n').map((l) => l.trim().replace(/,$/, '')).sort().join('\n');

async function leftovers(db: FreshDb): Promise<string[]> {
  const rows = await db.sql`select relname::text as name from pg_class where relname like 'sqlmig\\_tmp\\_%'
    union all select conname::text from pg_constraint where conname like 'sqlmig\\_tmp\\_%'
    union all select attrelid::regclass::text || '.' || attname from pg_attribute where attname like 'sqlmig\\_tmp\\_%' and not attisdropped
    union all select tgname::text from pg_trigger where tgname like 'sqlmig\\_tmp\\_%'
    union all select proname::text from pg_proc where proname like 'sqlmig\\_tmp\\_%'`;
  return rows.map((r) => r['name'] as string);
}

for (const [name, [uses, change]] of Object.entries(CASES).filter(([n]) => !process.env["ONLY"] || n.includes(process.env["ONLY"]))) {
  test(`online type change, ${name}: the schema and the rows plain up gives`, async (t) => {
    const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_uses.up.sql': uses || 'select 1;', '003_change.up.sql': change });
    const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
    for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '2', '--dir', dir, '--url', db.url])).code, 0);
    const p = await runCli(['up', '--dir', dir, '--url', plain.url]);
    assert.equal(p.code, 0, p.stderr);
    const plan = await runCli(['up', '--online', '--dry-run', '--dir', dir, '--url', online.url]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /swap \(catalog only, no scan\)/);
    const o = await runCli(['up', '--online', '--batch-size', '400', '--dir', dir, '--url', online.url]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(unordered(await dumpSchema(online.url, dir)), unordered(await dumpSchema(plain.url, dir)));
    const rows = (db: FreshDb) => db.sql`select to_jsonb(p) - 'rate' as row from payments p order by id`.then((r) => r.map((x) => x['row']));
    assert.deepEqual(await rows(online), await rows(plain));
    assert.deepEqual(await versions(online), ['1', '2', '3']);
    assert.deepEqual(await leftovers(online), []);
    // The rebuilt objects work: the default for new rows, the sequence, the check.
    await online.sql`insert into payments (team) values (1)`;
    await plain.sql`insert into payments (team) values (1)`;
    assert.deepEqual(await rows(online), await rows(plain));
    await assert.rejects(online.sql`insert into payments (amount) values (-5)`, /payments_amount_check/);
  });
}

test('a type change the online form cannot rebuild for is refused before anything runs, naming why and the choices', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': `${BASE}\ncreate table refunds (id int primary key, payment int references payments (id));\ncreate view big as select id, amount from payments where amount > 10;`,
    '002_pk.up.sql': 'alter table payments alter column note type varchar(20);\nalter table payments alter column id type bigint;',
    '003_view.up.sql': 'alter table payments alter column amount type bigint;',
    '004_whole.up.sql': 'alter table payments alter column note type varchar(50) using payments::text;',
  });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /3 statements have no online form/);
  assert.match(r.stderr, /002_pk\.up\.sql:2:1: alter table payments alter column id type bigint\n {2}.*cannot move the foreign key that references id \(refunds_payment_fkey of refunds\)/);
  assert.match(r.stderr, /003_view\.up\.sql:1:1: .*\n {2}.*cannot change a column that views use \(big\)/);
  assert.match(r.stderr, /004_whole\.up\.sql:1:1: .*\n {2}.*uses payments \(a whole row or \*\)/);
  assert.match(r.stderr, /-- sqlmig:offline/);
  assert.deepEqual(await versions(db), ['1']);
  assert.deepEqual(await leftovers(db), []);
});
