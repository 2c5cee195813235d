import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticHistory, type HistoryOptions } from '../scripts/fixtures/history.js';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

/** The failure seen on a real history: a default kept its row across RENAME VALUE, then pg_trgm came and went. */
const renamedValue = {
  '001_site.up.sql': `create type registration_mode_enum as enum ('closed', 'require_application', 'open');
create table local_site (id int primary key, name text not null, registration_mode registration_mode_enum not null default 'require_application');`,
  '001_site.down.sql': 'drop table local_site;\ndrop type registration_mode_enum;',
  '002_rename.up.sql': "alter type registration_mode_enum rename value 'require_application' to 'RequireApplication';",
  '002_rename.down.sql': "alter type registration_mode_enum rename value 'RequireApplication' to 'require_application';",
  '003_trgm.up.sql': 'create extension pg_trgm;\ncreate index local_site_name_trgm on local_site using gin (name gin_trgm_ops);',
  '003_trgm.down.sql': 'drop index local_site_name_trgm;\ndrop extension pg_trgm;',
};

function assertAllRoundTrip(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /FAILED|registration_mode default/);
  assert.match(r.stdout, /verify ok: 3 migrations, 3 round-trip, 0 failed/);
}

test('a default whose enum value was renamed, then pg_trgm created and dropped: the down round-trips (server)', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, renamedValue);
  assertAllRoundTrip(await runCli(['verify', '--dir', dir, '--url', db.url]));
});

test('a default whose enum value was renamed, then pg_trgm created and dropped: the down round-trips (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, renamedValue);
  assertAllRoundTrip(await runCli(['verify', '--dir', dir, '--url', await freshPglite(root)]));
});

function historyFiles(options: HistoryOptions): Record<string, string> {
  const files: Record<string, string> = {};
  syntheticHistory(options).forEach((m, i) => {
    const version = String(i + 1).padStart(3, '0');
    files[`${version}_${m.name}.up.sql`] = m.up;
    if (m.down !== null) files[`${version}_${m.name}.down.sql`] = m.down;
  });
  return files;
}

/** What verify found, without the times. */
function findings(stdout: string): unknown[] {
  const result = JSON.parse(stdout) as { findings: Record<string, unknown>[] };
  return result.findings.map(({ version, name, status, reason, differences, notes, error }) => ({ version, name, status, reason, differences, notes, error }));
}

async function cachedAndUncached(url: () => Promise<string>, dir: string): Promise<{ cached: unknown[]; uncached: unknown[] }> {
  const cached = await runCli(['verify', '--json', '--dir', dir, '--url', await url()]);
  const uncached = await runCli(['verify', '--json', '--dir', dir, '--url', await url()], { env: { SQLMIG_VERIFY_CACHE: 'off' } });
  assert.ok(cached.stdout, cached.stderr);
  assert.ok(uncached.stdout, uncached.stderr);
  return { cached: findings(cached.stdout), uncached: findings(uncached.stdout) };
}

const histories: [string, HistoryOptions][] = [
  ['the synthetic history', { count: 40 }],
  ['the synthetic history with views that fold now()', { count: 40, foldedNow: true }],
  ['the synthetic history with renames of what definitions name, a search_path and pg_trgm dropped', { count: 25, renames: true }],
];

for (const [what, options] of histories) {
  test(`cached and uncached verify give the same findings and notes: ${what} (server)`, async (t) => {
    const { dir } = writeMigrations(t, historyFiles(options));
    const { cached, uncached } = await cachedAndUncached(async () => (await freshDb(t)).url, dir);
    assert.deepEqual(cached, uncached);
    if (options.renames) assert.deepEqual(cached.filter((f) => !['round-trips', 'skipped'].includes((f as { status: string }).status)), [], 'every down is correct');
  });
}

test('cached and uncached verify give the same findings and notes: the history with renames (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, historyFiles({ count: 25, renames: true }));
  const { cached, uncached } = await cachedAndUncached(() => freshPglite(root), dir);
  assert.deepEqual(cached, uncached);
  assert.deepEqual(cached.filter((f) => !['round-trips', 'skipped'].includes((f as { status: string }).status)), [], 'every down is correct');
});

/**
 * Wrong downs that also rewrite rows, so that only the objects with rows written or deleted are read and
 * compared: each must still fail. Each follows a clean round trip, which leaves the schema unread (after
 * a failure the schema was read in full, and the next round trip compares with that).
 */
function scopedCases(): Record<string, string> {
  const cases: [string, string, string][] = [
    ['other_dropped', 'create table pad16 (id int);', 'drop table pad16;\ndrop table keeper;'],
    ['other_comment_dropped', 'alter table account add column c17 int;', 'alter table account drop column c17;\ncomment on column account.name is null;'],
    ['other_renamed', 'alter table account add column c18 int;', 'alter table account drop column c18;\nalter table keeper2 rename to keeper3;'],
    ['ownership_dropped', 'create view pad19 as select 1 as one;', 'drop view pad19;\nalter sequence counter_id_seq owned by none;'],
    ['other_function_changed', 'alter table account add column c20 int;', "alter table account drop column c20;\ncreate or replace function f_base() returns int language sql as 'select 2';"],
    ['type_renamed_used', 'alter table account add column m21 mood;', "alter table account drop column m21;\nalter type mood rename to mood21;\ncreate type mood as enum ('happy', 'sad');"],
    ['trigger_disabled', 'alter table account add column c22 int;', 'alter table account drop column c22;\nalter table keeper disable trigger keeper_touch;'],
    ['sequence_changed', 'alter table account add column c23 int;', 'alter table account drop column c23;\nalter sequence s_base increment by 2;'],
    ['partition_detached', 'alter table account add column c24 int;', 'alter table account drop column c24;\nalter table m detach partition m_1;'],
    ['domain_check_changed', 'alter domain posint add constraint posint_small check (value < 1000);', 'alter domain posint drop constraint posint_small;\nalter domain posint add constraint posint_tiny check (value < 10);'],
  ];
  const files: Record<string, string> = {};
  cases.forEach(([name, up, down], i) => {
    files[`0${20 + 2 * i}_clean_${i}.up.sql`] = `create table clean_${i} (id int);`;
    files[`0${20 + 2 * i}_clean_${i}.down.sql`] = `drop table clean_${i};`;
    files[`0${21 + 2 * i}_${name}.up.sql`] = up;
    files[`0${21 + 2 * i}_${name}.down.sql`] = down;
  });
  return files;
}

/**
 * Downs that are wrong in each way verify knows, and some that are right only the long way round: the
 * shortcut (up, down and up again in one transaction, no snapshot when the catalogs are untouched)
 * must find exactly what the long way finds, with the same words.
 */
const faulty: Record<string, string> = {
  '001_base.up.sql': "create table account (id int primary key, name text not null, email text);\ncreate type mood as enum ('happy', 'sad');\n" +
    "create table keeper (id int);\ncreate table keeper2 (id int);\ncreate table counter (id serial);\ncomment on column account.name is 'full name';\n" +
    "create function f_base() returns int language sql as 'select 1';\n" +
    'create domain posint as int check (value >= 0);\ncreate sequence s_base;\ncreate table m (k int) partition by list (k);\ncreate table m_1 partition of m for values in (1);\n' +
    "create function touch() returns trigger language plpgsql as 'begin return new; end';\ncreate trigger keeper_touch before update on keeper for each row execute function touch();",
  '001_base.down.sql': 'drop table account, keeper, keeper2, counter, m;\ndrop type mood;\ndrop function f_base(), touch();\ndrop domain posint;\ndrop sequence s_base;',
  '002_index_left.up.sql': 'create index if not exists account_name_idx on account (name);',
  '002_index_left.down.sql': 'select 1;',
  '003_comment_left.up.sql': "comment on table account is 'people';",
  '003_comment_left.down.sql': 'select 1;',
  '004_view_changed.up.sql': 'create or replace view account_names as select id, name from account;',
  '004_view_changed.down.sql': 'drop view account_names;\ncreate view account_names as select id from account;',
  '005_column_kept.up.sql': 'alter table account add column if not exists age int;',
  '005_column_kept.down.sql': 'select 1;',
  '006_down_fails.up.sql': 'create table note (id int);',
  '006_down_fails.down.sql': 'drop table no_such_table;',
  '007_seed_left.up.sql': "create table tag (name text primary key);\ninsert into tag values ('a');",
  '007_seed_left.down.sql': 'alter table tag rename to tag_old;\ncreate table tag (name text primary key);\ninsert into tag values (\'a\');\ndrop table tag_old;',
  '008_renamed_back.up.sql': 'alter table account rename column email to mail;',
  '008_renamed_back.down.sql': 'alter table account rename column mail to email;',
  '009_recreated_view.up.sql': 'create or replace view account_names as select id, name, age from account;',
  '009_recreated_view.down.sql': 'drop view account_names;\ncreate view account_names as select id, name from account;',
  '010_added_dropped.up.sql': 'alter table account add column nick text;',
  '010_added_dropped.down.sql': 'alter table account drop column nick;',
  '011_new_enum_value.up.sql': "alter type mood add value if not exists 'calm';",
  '011_new_enum_value.down.sql': "update account set name = name where 'calm'::mood is not null;",
  '012_wrong_default.up.sql': "alter table account alter column name set default 'x';",
  '012_wrong_default.down.sql': "alter table account alter column name set default 'y';",
  '013_clean.up.sql': 'create table plain (id int);',
  '013_clean.down.sql': 'drop table plain;',
  '014_public_comment_left.up.sql': "comment on schema public is 'the app';",
  '014_public_comment_left.down.sql': 'select 1;',
  '015_public_comment_back.up.sql': "comment on schema public is 'the app, again';",
  '015_public_comment_back.down.sql': "comment on schema public is 'the app';",
  ...scopedCases(),
  '099_deferred_violation.up.sql': 'create table parent (id int primary key);\ncreate table child (parent_id int references parent deferrable initially deferred);\ninsert into child values (1);',
  '099_deferred_violation.down.sql': 'drop table child;\ndrop table parent;',
};

for (const where of ['server', 'PGlite'] as const) {
  test(`downs wrong in every way, and right only the long way round: the shortcut finds what the long way finds (${where})`, async (t) => {
    const { dir, root } = writeMigrations(t, faulty);
    const url = where === 'server' ? async () => (await freshDb(t)).url : () => freshPglite(root);
    const { cached, uncached } = await cachedAndUncached(url, dir);
    assert.deepEqual(cached, uncached);
    const by = (f: unknown) => f as { name: string; status: string; error?: { step: string } };
    const failed = cached.map(by).filter((f) => f.status === 'failed').map((f) => `${f.name}:${f.error?.step ?? 'schema'}`);
    assert.deepEqual(failed, ['index_left:schema', 'comment_left:schema', 'view_changed:schema', 'column_kept:schema', 'down_fails:down', 'seed_left:up again',
      'new_enum_value:schema', 'wrong_default:schema', 'public_comment_left:schema', 'other_dropped:schema', 'other_comment_dropped:schema',
      'other_renamed:schema', 'ownership_dropped:schema', 'other_function_changed:schema', 'type_renamed_used:schema',
      'trigger_disabled:schema', 'sequence_changed:schema', 'partition_detached:schema', 'domain_check_changed:schema', 'deferred_violation:up']);
    for (const name of ['renamed_back', 'recreated_view', 'added_dropped', 'clean', 'public_comment_back']) {
      assert.equal(cached.map(by).find((f) => f.name === name)?.status, 'round-trips', `${name} round-trips`);
    }
  });
}

test('a down that leaves the catalogs untouched round-trips without reading the schema; the long way reads it', async (t) => {
  const { dir } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int primary key, v text);\ncreate index a_v on a (v);', '001_a.down.sql': 'drop table a;' });
  const phases = async (env: Record<string, string>) => {
    const r = await runCli(['verify', '--json', '--dir', dir, '--url', (await freshDb(t)).url], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return (JSON.parse(r.stdout) as { findings: { phases: Record<string, number> }[] }).findings[0]!.phases;
  };
  const short = await phases({});
  assert.equal(short['snapshot'], undefined, JSON.stringify(short));
  assert.ok(short['down'] !== undefined && short['upAgain'] !== undefined, JSON.stringify(short));
  assert.ok((await phases({ SQLMIG_VERIFY_CACHE: 'off' }))['snapshot'] !== undefined);
});
