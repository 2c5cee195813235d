import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, freshPglite, onTerminal, runCli, spawnCli, versions, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table users (id bigint primary key, email text, team int);
create table teams (id int primary key);
insert into teams select g from generate_series(1, 10) g;
insert into users select g, 'u' || g, 1 + g % 10 from generate_series(1, 2500) g;`;

/** One migration per form of the online table, on tables that existed before it. */
const FORMS: Record<string, string> = {
  index: 'create index on users (email);\ncreate unique index users_email_key on users (email);',
  foreignKey: 'alter table users add foreign key (team) references teams (id);',
  check: 'alter table users add constraint users_team_positive check (team > 0);',
  notNull: 'alter table users alter column email set not null;',
  unique: 'alter table users add unique (email);',
  primaryKey: 'alter table teams drop constraint teams_pkey;\nalter table teams add primary key (id);',
  volatileColumn: 'alter table users add column token uuid not null default gen_random_uuid();',
  wholeTable: "update users set email = email || '@example.com';\ndelete from teams;",
  typeChange: 'alter table users alter column team type bigint, alter column email type varchar(200);',
  mixed: 'create table audit (id int primary key);\nalter table users add column note text, alter column team set not null, add constraint users_team_fkey foreign key (team) references teams (id);',
};

async function dumpSchema(url: string, dir: string): Promise<string> {
  const r = await runCli(['dump-schema', '--url', url, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function project(t: Parameters<typeof freshDb>[0], form: string) {
  return writeMigrations(t, { '001_base.up.sql': BASE, [`002_${form.toLowerCase()}.up.sql`]: FORMS[form]! });
}

for (const form of Object.keys(FORMS)) {
  test(`up --online (${form}) ends in the schema plain up gives, with its history row`, async (t) => {
    const { dir } = await project(t, form);
    const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
    for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
    const p = await runCli(['up', '--dir', dir, '--url', plain.url]);
    assert.equal(p.code, 0, p.stderr);
    const o = await runCli(['up', '--online', '--dir', dir, '--url', online.url]);
    assert.equal(o.code, 0, o.stderr);
    // A type change moves the column to the end of the table (a note of the proof); everything else is the same.
    const unordered = (text: string) => text.split('\n').map((l) => l.trim().replace(/,$/, '')).sort().join('\n');
    const same = form === 'typeChange' ? unordered : (text: string) => text;
    assert.equal(same(await dumpSchema(online.url, dir)), same(await dumpSchema(plain.url, dir)));
    assert.deepEqual(await versions(online), ['1', '2']);
    assert.deepEqual(await leftovers(online), []);
    if (form === 'wholeTable') {
      assert.deepEqual([...await online.sql`select count(*)::int as n from users where email not like '%@example.com'`], [{ n: 0 }]);
    }
    if (form === 'volatileColumn') {
      assert.deepEqual([...await online.sql`select count(distinct token)::int as n from users`], [{ n: 2500 }]);
    }
  });
}

async function leftovers(db: FreshDb): Promise<string[]> {
  const rows = await db.sql`select relname::text as name from pg_class where relname like 'sqlmig\\_tmp\\_%'
    union all select conname::text from pg_constraint where conname like 'sqlmig\\_tmp\\_%'`;
  return rows.map((r) => r['name'] as string);
}

test('a batched pass stops at the largest key it saw when it started: rows written during the pass are left as plain SQL leaves them', async (t) => {
  // Each batch's UPDATE fires a trigger that inserts a row with a larger key, as a busy writer would.
  // Plain SQL's UPDATE never sees rows inserted after it started; a pass that chased the largest key
  // would update them too (and, with a writer that never stops, never end).
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': `create table counters (id bigint primary key, n int not null default 0);
create function counters_grow() returns trigger language plpgsql as $$
begin if new.id < 1000000 then insert into counters (id) values (new.id + 1000000); end if; return new; end $$;
create trigger counters_grow after update on counters for each row execute function counters_grow();
insert into counters (id) select g from generate_series(1, 250) g;`,
    '002_bump.up.sql': 'update counters set n = n + 1;',
  });
  const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
  for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  assert.equal((await runCli(['up', '--dir', dir, '--url', plain.url])).code, 0);
  const o = await runCli(['up', '--online', '--batch-size', '20', '--dir', dir, '--url', online.url]);
  assert.equal(o.code, 0, o.stderr);
  const rows = async (db: FreshDb) => [...await db.sql`select (id >= 1000000) as grown, n, count(*)::int as rows from counters group by 1, 2 order by 1, 2`];
  assert.deepEqual(await rows(plain), [{ grown: false, n: 1, rows: 250 }, { grown: true, n: 0, rows: 250 }]);
  assert.deepEqual(await rows(online), await rows(plain));
});

test('a batched pass works by any ordered key: a uuid primary key (no max() for uuid) or a text one', async (t) => {
  // A real history (ory/kratos) batches `UPDATE … SET ui = '{}'` on a table keyed by uuid.
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': `create table flows (id uuid primary key default gen_random_uuid(), ui text not null default '');
create table tags (name text primary key, n int not null default 0);
insert into flows (id) select gen_random_uuid() from generate_series(1, 130);
insert into tags (name) select 'tag ' || g from generate_series(1, 70) g;`,
    '002_reset.up.sql': "update flows set ui = '{}';\nupdate tags set n = n + 1;",
  });
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['up', '--online', '--batch-size', '16', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /update every row in batches/);
  const [flows] = await db.sql`select count(*) filter (where ui = '{}')::int as done, count(*)::int as rows from flows`;
  assert.deepEqual({ ...flows }, { done: 130, rows: 130 });
  const [tags] = await db.sql`select count(*) filter (where n = 1)::int as done, count(*)::int as rows from tags`;
  assert.deepEqual({ ...tags }, { done: 70, rows: 70 });
  assert.deepEqual(await versions(db), ['1', '2']);
});

test('on a terminal a batched pass shows its rows done of the table\'s estimate on one line rewritten in place; off a terminal it prints no row counts', async (t) => {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_fill.up.sql': 'alter table users add column token uuid not null default gen_random_uuid();' });
  const [terminalDb, offTerminal] = await Promise.all([freshDb(t), freshDb(t)]);
  for (const db of [terminalDb, offTerminal]) {
    assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
    await db.sql`analyze users`;
  }
  const printed = await onTerminal(['up', '--online', '--batch-size', '1000', '--no-color', '--dir', dir, '--url', terminalDb.url]);
  if (printed === null) {
    t.skip('util-linux `script` (a pseudo-terminal) is not installed');
    return;
  }
  for (const rows of ['1,000', '2,000', '2,500']) {
    assert.ok(printed.includes(`\r\x1b[2K002_fill: fill sqlmig_tmp_col_token of the existing rows in batches of 1000 by id: ${rows} rows of ~2,500 (`), printed);
  }
  assert.match(printed, /applied {3}002_fill/);
  const off = await runCli(['up', '--online', '--batch-size', '1000', '--dir', dir, '--url', offTerminal.url]);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stderr, /002_fill: step 2\/\d+: fill sqlmig_tmp_col_token/);
  assert.doesNotMatch(off.stderr, /\d rows/);
});

test('up --online does not warn of what its online form does instead (CONCURRENTLY, NOT VALID, lock_timeout); other findings and plain up still warn', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': BASE,
    '002_mixed.up.sql': 'create index on users (email);\nalter table users add foreign key (team) references teams (id);\nalter table users drop column email;',
  });
  const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
  for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  const o = await runCli(['up', '--online', '--dry-run', '--dir', dir, '--url', online.url]);
  assert.equal(o.code, 0, o.stderr);
  assert.doesNotMatch(o.stderr, /index-not-concurrently|constraint-not-valid|lock-timeout/);
  assert.match(o.stderr, /002_mixed\.up\.sql:3:\d+ {2}drop-column/);
  const p = await runCli(['up', '--dry-run', '--dir', dir, '--url', plain.url]);
  assert.equal(p.code, 0, p.stderr);
  for (const rule of ['index-not-concurrently', 'constraint-not-valid', 'lock-timeout', 'drop-column']) assert.match(p.stderr, new RegExp(` {2}${rule} `));
});

test('CREATE INDEX on a partitioned table: ON ONLY the parent, each partition concurrently and attached; the schema plain up gives', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_events.up.sql': `create table events (id bigint not null, day date not null, kind text) partition by range (day);
create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');
create table events_2026 partition of events for values from ('2026-01-01') to ('2027-01-01');
insert into events select g, date '2025-06-01' + (g % 400), 'k' || (g % 7) from generate_series(1, 2000) g;`,
    '002_indexes.up.sql': 'create index on events (kind);\ncreate unique index events_id_day_key on events using btree (id, day) where kind is not null;',
  });
  const [plain, online] = await Promise.all([freshDb(t), freshDb(t)]);
  for (const db of [plain, online]) assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', db.url])).code, 0);
  assert.equal((await runCli(['up', '--dir', dir, '--url', plain.url])).code, 0);
  const dry = await runCli(['up', '--online', '--dry-run', '--dir', dir, '--url', online.url]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /create index "sqlmig_tmp_ix_events_kind_idx" on only "public"\."events" \(kind\);/);
  assert.match(dry.stdout, /create index concurrently "sqlmig_tmp_ix_events_2026_kind_idx" on "public"\."events_2026" \(kind\);/);
  assert.match(dry.stdout, /alter index "public"\."sqlmig_tmp_ix_events_kind_idx" attach partition "public"\."sqlmig_tmp_ix_events_2025_kind_idx";/);
  // What a run killed after the first attach leaves: the next run removes it (the partitioned index first) and starts again.
  await online.sql.unsafe(`create index sqlmig_tmp_ix_events_kind_idx on only events (kind);
    create index sqlmig_tmp_ix_events_2025_kind_idx on events_2025 (kind);
    alter index sqlmig_tmp_ix_events_kind_idx attach partition sqlmig_tmp_ix_events_2025_kind_idx;`);
  const o = await runCli(['up', '--online', '--dir', dir, '--url', online.url]);
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stderr, /removed index sqlmig_tmp_ix_events_kind_idx/);
  assert.equal(await dumpSchema(online.url, dir), await dumpSchema(plain.url, dir));
  const valid = await online.sql`select c.relname::text as name, x.indisvalid as valid from pg_index x join pg_class c on c.oid = x.indexrelid where c.relname like 'events%' order by 1`;
  assert.deepEqual(valid.map((r) => `${r['name']} ${r['valid']}`), [
    'events_2025_id_day_idx true', 'events_2025_kind_idx true', 'events_2026_id_day_idx true', 'events_2026_kind_idx true', 'events_id_day_key true', 'events_kind_idx true',
  ]);
  assert.deepEqual(await leftovers(online), []);
});

test('a step waits under a short lock_timeout and, where the role may set it, a 100 ms deadlock_timeout (so an autovacuum holding the table is cancelled soon); a plain role keeps the server\'s', async (t) => {
  const probe = "create index on users (email);\ncreate table probe as select current_setting('lock_timeout') as lt, current_setting('deadlock_timeout') as dt;";
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_probe.up.sql': probe });
  const superuser = await freshDb(t);
  const plain = await freshDb(t);
  const role = `sqlmig_plain_${Math.random().toString(36).slice(2, 8)}`;
  await plain.sql.unsafe(`create role ${role} login password 'plain-secret'; grant create on schema public to ${role}`);
  t.after(async () => { await plain.sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {}); });
  const asRole = new URL(plain.url);
  asRole.username = role;
  asRole.password = 'plain-secret';
  for (const [db, url, dt] of [[superuser, superuser.url, '100ms'], [plain, asRole.toString(), '1s']] as const) {
    assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', url])).code, 0);
    const r = await runCli(['up', '--online', '--online-lock-timeout', '300ms', '--dir', dir, '--url', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...await db.sql`select lt, dt from probe`], [{ lt: '300ms', dt }]);
    assert.deepEqual(await versions(db), ['1', '2']);
  }
});
