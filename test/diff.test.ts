import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const repo = fileURLToPath(new URL('..', import.meta.url));

/** The migrated schema: what 001 makes. */
const base = {
  '001_base.up.sql': `
create type mood as enum ('sad', 'ok', 'happy');
create table users (id bigint primary key, name varchar(40) not null, nick varchar(20), status varchar(20), old_note text, legacy int);
create table entries (id bigserial primary key, user_id bigint not null, calories integer not null, mood mood);
create view entry_totals as select user_id, sum(calories) as total from entries group by user_id;
create function add_one(i int) returns int language sql as 'select i + 1';
create table gone (id int);
`,
  '001_base.down.sql': 'drop table gone; drop function add_one(int); drop view entry_totals; drop table entries, users; drop type mood;',
};

/** The desired schema: every kind of change diff covers, in one file. */
const everyKind = `
create extension if not exists btree_gist;
create domain positive_int as integer check (value > 0);
create type mood as enum ('sad', 'happy', 'ecstatic');
create sequence ticket_seq start 100;
create table teams (
  id int generated always as identity primary key,
  title text unique,
  during tstzrange,
  exclude using gist (id with =, during with &&)
);
create table users (
  id bigint primary key,
  name varchar(80) not null,
  nick varchar(10),
  status varchar(20) not null default 'active',
  new_note text,
  score int generated always as (id * 2) stored,
  team_id int references teams (id)
);
comment on table users is 'people';
comment on column users.name is 'display name';
create table entries (
  id bigserial primary key,
  user_id bigint not null references users (id),
  calories bigint not null check (calories >= 0),
  mood mood,
  amount positive_int
);
create index entries_user_idx on entries (user_id);
create view entry_totals as select user_id, sum(calories) as total from entries group by user_id;
create materialized view user_names as select id, name from users;
create function add_one(i int) returns int language sql as 'select i + 2';
create procedure touch() language plpgsql as $$ begin perform 1; end $$;
create function upper_name() returns trigger language plpgsql as $$ begin new.name := upper(new.name); return new; end $$;
create trigger users_upper before insert on users for each row execute function upper_name();
alter table users enable row level security;
create policy users_self on users for select using (id = 1);
`;

/** The files diff wrote: version 002 and later. */
function generated(dir: string): Record<string, string> {
  const files = readdirSync(dir).filter((f) => f >= '002').sort();
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** `a` comes before `b` in the text (both present). */
function before(text: string, a: string, b: string): void {
  assert.ok(text.includes(a), `has ${a}`);
  assert.ok(text.includes(b), `has ${b}`);
  assert.ok(text.indexOf(a) < text.indexOf(b), `${a} comes before ${b}`);
}

async function everyKindOfChange(t: { after(fn: () => unknown): void }, url: (root: string) => Promise<string>): Promise<void> {
  const { root, dir } = writeMigrations(t, base);
  writeFileSync(join(root, 'schema.sql'), everyKind);
  const target = await url(root);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', target], { cwd: root });

  const r = await cli('diff', '--name', 'every kind');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const files = generated(dir);
  assert.deepEqual(Object.keys(files), ['002_every_kind.down.sql', '002_every_kind.up.sql', '003_every_kind_concurrently.down.sql', '003_every_kind_concurrently.up.sql']);
  const up = files['002_every_kind.up.sql']!;
  const online = files['003_every_kind_concurrently.up.sql']!;
  assert.match(r.stdout, /wrote sql\/002_every_kind\.up\.sql\nwrote sql\/002_every_kind\.down\.sql\nwrote sql\/003_every_kind_concurrently\.up\.sql/);
  assert.match(r.stdout, /proved on .*: up gives schema\.sql, down gives back the schema of the migrations/);
  // Destructive statements carry a comment and are announced on stderr.
  for (const reason of [
    'drops column users.legacy and its data',
    'drops table gone and its rows',
    'column users.nick changes type from character varying(20) to character varying(10)',
    "column entries.mood moves to enum mood rebuilt without 'ok'",
  ]) {
    assert.match(up, new RegExp(`-- sqlmig: destructive: ${reason.replace(/[()]/g, '\\$&')}`));
    assert.match(r.stderr, new RegExp(`destructive: sql/002_every_kind\\.up\\.sql: ${reason.replace(/[()]/g, '\\$&')}`));
  }
  assert.doesNotMatch(up, /destructive: column users\.name/, 'varchar(40) → varchar(80) loses nothing');
  assert.match(up, /-- users\.old_note is dropped and users\.new_note added, both text\. If this is a rename, replace\n-- the DROP COLUMN and the ADD COLUMN with: ALTER TABLE users RENAME COLUMN old_note TO new_note;/);
  // Dependency order: the view is dropped before the column it reads changes type, and made again after.
  before(up, 'DROP VIEW "public"."entry_totals"', 'ALTER COLUMN "calories" TYPE bigint');
  before(up, 'ALTER COLUMN "calories" TYPE bigint', 'CREATE VIEW "public"."entry_totals"');
  // A foreign key to a new table comes after the table, added NOT VALID (users exists) and validated in the follow-up.
  before(up, 'CREATE TABLE "public"."teams"', 'ADD CONSTRAINT "users_team_id_fkey" FOREIGN KEY (team_id) REFERENCES public.teams(id) NOT VALID;');
  assert.match(up, /ADD CONSTRAINT "entries_user_id_fkey" FOREIGN KEY \(user_id\) REFERENCES public\.users\(id\) NOT VALID;/);
  assert.match(up, /ADD CONSTRAINT "entries_calories_check" CHECK \(\(calories >= 0\)\) NOT VALID;/);
  assert.doesNotMatch(up, /CREATE INDEX/, 'the index on an existing table is built in the follow-up');
  assert.doesNotMatch(Object.values(files).join('\n'), /OWNER TO|GRANT|REVOKE/);
  assert.match(online, /^-- sqlmig:no-transaction\n/);
  assert.match(online, /CREATE INDEX CONCURRENTLY entries_user_idx ON public\.entries USING btree \(user_id\);/);
  assert.match(online, /VALIDATE CONSTRAINT "entries_user_id_fkey";/);
  assert.match(online, /VALIDATE CONSTRAINT "users_team_id_fkey";/);
  for (const sql of ['CREATE EXTENSION "btree_gist"', 'CREATE DOMAIN "public"."positive_int"', 'CREATE SEQUENCE "public"."ticket_seq"', 'GENERATED ALWAYS AS IDENTITY',
    'EXCLUDE USING gist', 'GENERATED ALWAYS AS ((id * 2)) STORED', 'CREATE MATERIALIZED VIEW "public"."user_names"', 'CREATE OR REPLACE PROCEDURE public.touch()',
    'CREATE TRIGGER users_upper', 'CREATE POLICY "users_self"', 'ENABLE ROW LEVEL SECURITY', `COMMENT ON TABLE "public"."users" IS 'people'`, 'SET DEFAULT', 'SET NOT NULL']) {
    assert.ok(up.includes(sql), `the up has ${sql}`);
  }

  // The pair reaches schema.sql and passes verify; it applies, and reverts to what 001 alone makes.
  assert.equal((await cli('diff', '--check')).code, 0);
  const verify = await cli('verify');
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const applied = await cli('up');
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /applied 3 migrations/);
  assert.equal((await cli('drift')).code, 0);
  assert.equal((await cli('down', '2')).code, 0);
  const reverted = await cli('drift', '--json');
  assert.equal(reverted.code, 0, reverted.stdout);
  assert.equal((JSON.parse(reverted.stdout) as { applied: number }).applied, 1);
}

test('diff on PostgreSQL: every kind of change gives a pair that applies, reaches schema.sql, reverts and passes verify', async (t) => {
  await everyKindOfChange(t, async () => (await freshDb(t)).url);
});

test('diff on PGlite: every kind of change gives a pair that applies, reaches schema.sql, reverts and passes verify', async (t) => {
  await everyKindOfChange(t, freshPglite);
});

test('the repository keeps schema.sql in step with sql/: diff --check exits 0 on a fresh clone', async () => {
  const r = await runCli(['diff', '--check'], { cwd: repo });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /no difference: the migrations already give schema\.sql/);
});

/** fitbud after 001_ai_hub, plus scenario 1 (users.timezone) and scenario 2 (user_settings). */
const seedSchema = `
create table users (
    telegram_id   bigint primary key,
    name          varchar(255) not null,
    email         varchar(255),
    created_at    timestamptz not null default now(),
    ai_enabled    boolean not null default false,
    goal_calories integer,
    timezone      varchar(50) default 'UTC'
);
create table calorie_entries (
    id          bigserial primary key,
    user_id     bigint not null,
    calories    integer not null check (calories >= 0),
    description text,
    eaten_at    timestamptz not null default now(),
    source      varchar(20) not null default 'manual'
);
create table health_data (
    id          bigserial primary key,
    user_id     bigint not null references users (telegram_id) on delete cascade,
    metric      varchar(50) not null,
    value       numeric(10, 2) not null,
    recorded_at timestamptz not null default now()
);
create index health_data_user_metric_idx on health_data (user_id, metric, recorded_at);
create table ai_interactions (
    id          bigserial primary key,
    user_id     bigint not null references users (telegram_id) on delete cascade,
    prompt      text not null,
    response    text,
    model       varchar(100),
    tokens_used integer,
    created_at  timestamptz not null default now()
);
create table user_settings (
    user_id         bigint primary key references users (telegram_id) on delete cascade,
    units           varchar(10) not null default 'metric' check (units in ('metric', 'imperial')),
    daily_reminder  time,
    updated_at      timestamptz not null default now()
);
`;

test('the seed scenarios: users.timezone and user_settings written in schema.sql become one migration that up applies (no server needed)', async (t) => {
  const { root, dir } = writeMigrations(t, {});
  for (const f of ['000_base_schema', '001_ai_hub']) for (const d of ['up', 'down']) cpSync(join(repo, 'sql', `${f}.${d}.sql`), join(dir, `${f}.${d}.sql`));
  writeFileSync(join(root, 'schema.sql'), seedSchema);
  const r = await runCli(['diff', '--dir', dir, '--name', 'добавить часовой пояс и настройки'], { cwd: root });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /proved on an embedded PGlite in memory/);
  const files = generated(dir);
  assert.deepEqual(Object.keys(files), ['002_dobavit_chasovoy_poyas_i_nastroyki.down.sql', '002_dobavit_chasovoy_poyas_i_nastroyki.up.sql']);
  const up = files['002_dobavit_chasovoy_poyas_i_nastroyki.up.sql']!;
  assert.match(up, /ALTER TABLE "public"\."users" ADD COLUMN "timezone" character varying\(50\) DEFAULT 'UTC'::character varying;/);
  assert.match(up, /CREATE TABLE "public"\."user_settings" \(/);
  assert.match(up, /ADD CONSTRAINT "user_settings_user_id_fkey" FOREIGN KEY \(user_id\) REFERENCES public\.users\(telegram_id\) ON DELETE CASCADE;/, 'a new table needs no NOT VALID');
  assert.match(files['002_dobavit_chasovoy_poyas_i_nastroyki.down.sql']!, /-- sqlmig: destructive: drops table user_settings and its rows\nDROP TABLE "public"\."user_settings";/);
  const url = await freshPglite(root);
  const upRun = await runCli(['up', '--dir', dir, '--url', url], { cwd: root });
  assert.equal(upRun.code, 0, upRun.stderr);
  assert.match(upRun.stdout, /applied {3}002_dobavit_chasovoy_poyas_i_nastroyki/);
  const check = await runCli(['diff', '--check', '--dir', dir], { cwd: root });
  assert.equal(check.code, 0, check.stderr + check.stdout);
});

test('diff --dry-run and --json show the proved files and write nothing; a folder of .sql files is a schema; grants are kept when the schema holds some; no difference writes nothing', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, {
    '001_t.up.sql': 'create table t (id int primary key, a text);',
    '001_t.down.sql': 'drop table t;',
  });
  mkdirSync(join(root, 'schema'));
  writeFileSync(join(root, 'schema', '01_tables.sql'), 'create table t (id int primary key, a text, b int);\ncreate text search configuration my_search (copy = english);\n');
  writeFileSync(join(root, 'schema', '02_index.sql'), 'create index t_b_idx on t (b);\n');
  writeFileSync(join(root, 'schema', '03_grants.sql'), 'grant select on t to public;\n');
  const cli = (...args: string[]) => runCli([...args, '--schema-file', 'schema', '--dir', dir, '--url', db.url], { cwd: root });

  const dry = await cli('diff', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^-- sql\/002_add_column_t_b\.up\.sql\n/m);
  assert.match(dry.stdout, /^-- sql\/003_add_column_t_b_concurrently\.up\.sql\n-- sqlmig:no-transaction\n/m);
  assert.match(dry.stdout, /ALTER TABLE "public"\."t" ADD COLUMN "b" integer;/);
  assert.match(dry.stdout, /GRANT SELECT ON TABLE "public"\."t" TO PUBLIC;/);
  assert.match(dry.stdout, /CREATE INDEX CONCURRENTLY t_b_idx ON public\.t USING btree \(b\);/);
  assert.match(dry.stdout, /-- dry run: proved on a temporary database, .*; nothing was written/);
  assert.match(dry.stderr, /not modelled by the schema engine, so diff does not compare it \(check it by hand\): text search configuration: .*my_search.* \(schema\)/);
  assert.deepEqual(readdirSync(dir).sort(), ['001_t.down.sql', '001_t.up.sql']);

  const json = await cli('diff', '--dry-run', '--json');
  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { up: string; down: string; destructive: { file: string; reason: string }[]; unmodelled: string[]; written: boolean; migrations: unknown[] };
  assert.match(r.up, /ADD COLUMN "b" integer/);
  assert.match(r.down, /-- sqlmig: destructive: drops column t\.b and its data\nALTER TABLE "public"\."t" DROP COLUMN "b";/);
  assert.deepEqual(r.destructive.map((d) => [d.file, d.reason]), [['sql/002_add_column_t_b.down.sql', 'drops column t.b and its data']]);
  assert.equal(r.unmodelled.length, 1);
  assert.equal(r.written, false);
  assert.equal(r.migrations.length, 2);

  assert.equal((await cli('diff')).code, 0);
  assert.equal(readdirSync(dir).length, 6);
  const again = await cli('diff');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no difference: the migrations already give schema; nothing to write/);
  assert.equal(readdirSync(dir).length, 6);
  const otherHistory = await cli('diff', '--check', '--schema', 'meta');
  assert.equal(otherHistory.code, 0, `a history table in a schema of its own is not part of the diff: ${otherHistory.stderr}`);
});

test('diff refuses bad input before anything is written: a SQL error in the schema, no schema file, a version conflict, a bad file name, an extension PGlite lacks', async (t) => {
  const { root, dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);', '001_t.down.sql': 'drop table t;' });
  const cli = (...args: string[]) => runCli(['diff', '--dir', dir, ...args], { cwd: root });

  writeFileSync(join(root, 'schema.sql'), 'create table t (id int);\n\ncreate table b (\n  id int,\n  x nosuchtype\n);\n');
  const broken = await cli();
  assert.equal(broken.code, 3, broken.stderr);
  assert.match(broken.stderr, /schema\.sql:5:5: type "nosuchtype" does not exist/);
  assert.match(broken.stderr, / 5 \| {3}x nosuchtype\n +\| {5}\^/);
  assert.match(broken.stderr, /nothing was written/);

  const missing = await cli('--schema-file', 'db/desired.sql');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no schema file: db\/desired\.sql does not exist.*--schema-file.*"schemaFile"/s);

  writeFileSync(join(root, 'schema.sql'), 'create extension postgis;\ncreate table t (id int);\n');
  const extension = await cli();
  assert.equal(extension.code, 2);
  assert.match(extension.stderr, /schema\.sql creates extension "postgis", which the embedded PGlite does not have.*--scratch-url/);

  writeFileSync(join(dir, '001_other.up.sql'), 'create table o (id int);');
  const conflict = await cli();
  assert.equal(conflict.code, 3);
  assert.match(conflict.stderr, /refusing to diff, nothing was written:\n.*version conflict.*001_other\.up\.sql and 001_t\.up\.sql.*sqlmig renumber/);
  writeFileSync(join(dir, '002-typo.sql'), 'select 1;');
  const badName = await cli();
  assert.equal(badName.code, 3);
  assert.match(badName.stderr, /002-typo\.sql: not a migration name/);
  assert.deepEqual(readdirSync(dir).sort(), ['001_other.up.sql', '001_t.down.sql', '001_t.up.sql', '002-typo.sql']);
});
