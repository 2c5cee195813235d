import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const base = {
  '001_events.up.sql': 'create table events (id bigint primary key, user_id int not null, at timestamptz not null);\ninsert into events select g, g % 10, now() from generate_series(1, 1000) g;\n',
  '001_events.down.sql': 'drop table events;\n',
};

async function historyCount(db: FreshDb): Promise<number> {
  const [row] = await db.sql`select count(*)::int as n from sqlmig_history`;
  return row!['n'] as number;
}

test('CREATE INDEX CONCURRENTLY in a no-transaction file applies, the index is valid, and nothing waits on sqlmig\'s own lock', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    ...base,
    '002_events_by_user.up.sql': '-- sqlmig:no-transaction\n-- builds without blocking writes\ncreate index concurrently events_by_user on events (user_id, at);\n',
    '002_events_by_user.down.sql': '-- sqlmig:no-transaction\ndrop index concurrently events_by_user;\n',
  });
  // Runs in one batch right after a transactional migration on the same session: no transaction may be left open.
  const r = await runCli(['up', '--lock-timeout', '5s', '--statement-timeout', '60s', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied\s+002_events_by_user/);
  const [index] = await db.sql`select i.indisvalid, i.indisready from pg_index i where i.indexrelid = 'public.events_by_user'::regclass`;
  assert.deepEqual({ ...index }, { indisvalid: true, indisready: true });
  const [row] = await db.sql`select transactional from sqlmig_history where version = 2`;
  assert.equal(row!['transactional'], false);

  const down = await runCli(['down', '--dir', dir, '--url', db.url]);
  assert.equal(down.code, 0, down.stderr);
  const [gone] = await db.sql`select to_regclass('public.events_by_user') is null as gone`;
  assert.equal(gone!['gone'], true);
});

test('a failing statement of a no-transaction file is named with the ones that ran before it; no history row', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    ...base,
    '002_split.up.sql': [
      '-- sqlmig:no-transaction',
      'create index concurrently events_at on events (at);',
      'alter table events add column note text;',
      'create unique index concurrently events_user_unique on events (user_id);',
      'create table never_made (id int);',
      '',
    ].join('\n'),
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /002_split\.up\.sql:4:1: could not create unique index "events_user_unique"/);
  assert.match(r.stderr, /statement 3 of 4 failed/);
  assert.match(r.stderr, /These ran before it and were NOT rolled back:\n\s+1\. line 2: create index concurrently events_at on events \(at\)\n\s+2\. line 3: alter table events add column note text\n/);
  assert.match(r.stderr, /No history row was written/);
  // The failed build left an invalid index; rerunning with IF NOT EXISTS alone would keep it and record success.
  const [invalid] = await db.sql`select indisvalid from pg_index where indexrelid = 'public.events_user_unique'::regclass`;
  assert.equal(invalid!['indisvalid'], false);
  assert.match(r.stderr, /INVALID index behind[^\n]*DROP INDEX CONCURRENTLY IF EXISTS events_user_unique;/);

  const versions = (await db.sql`select version::int as v from sqlmig_history order by 1`).map((x) => x['v']);
  assert.deepEqual(versions, [1]);
  const [state] = await db.sql`select to_regclass('public.events_at') is not null as kept_index,
    exists (select 1 from information_schema.columns where table_name = 'events' and column_name = 'note') as kept_column,
    to_regclass('public.never_made') is null as not_reached`;
  assert.deepEqual({ ...state }, { kept_index: true, kept_column: true, not_reached: true });
});

test('a no-transaction migration inside --single-transaction is refused with exit 3 before anything runs', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    ...base,
    '002_idx.up.sql': '-- sqlmig:no-transaction\ncreate index concurrently events_by_user on events (user_id);\n',
  });
  const r = await runCli(['up', '--single-transaction', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /--single-transaction cannot include a migration marked -- sqlmig:no-transaction: .*002_idx\.up\.sql/);
  const [row] = await db.sql`select to_regclass('public.events') is null as no_events, to_regclass('public.sqlmig_history') is null as no_history`;
  assert.deepEqual({ ...row }, { no_events: true, no_history: true });

  const plain = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(await historyCount(db), 2);
});

test('a statement PostgreSQL refuses inside a transaction, in a file run in one, is refused with exit 3 before anything runs', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    ...base,
    '002_idx.up.sql': '-- builds without blocking writes\ncreate index concurrently events_by_user on events (user_id);\nvacuum events;\n',
    '002_idx.down.sql': 'drop index events_by_user;\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /002_idx\.up\.sql:2:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block \(also VACUUM at line 3\), and sqlmig runs this file in one\. Make `-- sqlmig:no-transaction` its first line .*, or leave out CONCURRENTLY\./);
  const [row] = await db.sql`select to_regclass('public.events') is null as no_events`;
  assert.equal(row!['no_events'], true, 'the migration before it did not run either');
  const validate = await runCli(['validate', '--dir', dir, '--url', db.url]);
  assert.notEqual(validate.code, 0);
  assert.match(validate.stdout + validate.stderr, /002_idx\.up\.sql:2:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block/);

  // A down that could not run is found before its up is applied, as for any other down.
  writeFileSync(join(dir, '002_idx.up.sql'), '-- sqlmig:no-transaction\ncreate index concurrently events_by_user on events (user_id);\n');
  writeFileSync(join(dir, '002_idx.down.sql'), 'drop index concurrently events_by_user;\n');
  const down = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(down.code, 3, down.stderr);
  assert.match(down.stderr, /002_idx\.down\.sql:1:1: DROP INDEX CONCURRENTLY cannot run inside a transaction block/);

  writeFileSync(join(dir, '002_idx.down.sql'), '-- sqlmig:no-transaction\ndrop index concurrently events_by_user;\n');
  const fixed = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(await historyCount(db), 2);
});

test('what PostgreSQL allows in a transaction is not refused: ANALYZE, REFRESH … CONCURRENTLY, a plain index, DISCARD PLANS, CLUSTER of a table', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    ...base,
    '002_ok.up.sql': [
      'create index events_at on events (at);',
      'analyze events;',
      'create materialized view users_seen as select distinct user_id from events;',
      'create unique index users_seen_id on users_seen (user_id);',
      'refresh materialized view concurrently users_seen;',
      'cluster events using events_at;',
      'discard plans;',
      'reindex index events_at;',
      '',
    ].join('\n'),
    '002_ok.down.sql': 'drop materialized view users_seen;\ndrop index events_at;\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await historyCount(db), 2);
});

test('no-transaction files run statement by statement on PGlite too', async (t) => {
  const { root, dir } = writeMigrations(t, {
    ...base,
    '002_vacuum.up.sql': '-- sqlmig:no-transaction\nvacuum events;\ncreate index events_by_user on events (user_id);\nselect 1/0;\n',
  });
  const url = await freshPglite(root);
  const r = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /002_vacuum\.up\.sql:4:\d+: division by zero/);
  assert.match(r.stderr, /statement 3 of 3 failed/);
  const status = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--url', url])).stdout);
  assert.deepEqual(status.migrations.map((m: { state: string }) => m.state), ['applied', 'pending']);
});
