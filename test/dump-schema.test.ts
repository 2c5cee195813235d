import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

/** The repository's own example: the fitbud bot's 10 migrations. */
const fitbud = fileURLToPath(new URL('../sql', import.meta.url));

/** Every kind of object the snapshot knows, to compare PostgreSQL 15 with PGlite (18) and to reload a dump. */
const everything = {
  '001_everything.up.sql': `
create extension if not exists citext;
create schema app;
comment on schema app is 'application objects';
create type app.mood as enum ('sad', 'ok', 'happy');
create domain app.positive as integer check (value > 0) not null default 1;
create type app.pair as (a integer, b text collate "C");
create type app.floatrange as range (subtype = float8);
create sequence app.ticket_seq start with 100 increment by 5 cache 10;
create table app.people (
  id integer generated always as identity primary key,
  email citext not null unique,
  name text collate "C" not null,
  mood app.mood default 'ok',
  score app.positive,
  doubled integer generated always as (id * 2) stored,
  during tsrange,
  constraint people_name_len check (length(name) > 1),
  exclude using gist (during with &&)
);
comment on table app.people is 'people, with an apostrophe: it''s fine';
comment on column app.people.email is 'login';
create index people_lower_name on app.people (lower(name)) where mood <> 'sad';
create table app.posts (id bigserial primary key, person_id integer references app.people (id) on delete cascade deferrable initially deferred, body text);
create unlogged table app.cache (k text primary key, v jsonb) with (fillfactor = 70);
create function app.touch() returns trigger language plpgsql as $$
begin
  new.body := coalesce(new.body, '');
  return new;
end $$;
create trigger posts_touch before insert or update on app.posts for each row execute function app.touch();
create function app.add(a integer, b integer default 1) returns integer language sql immutable as 'select a + b';
create procedure app.reset() language sql as $$ delete from app.cache $$;
create aggregate app.total(integer) (sfunc = int4pl, stype = integer, initcond = '0');
create view app.post_counts as select person_id, count(*) as n from app.posts group by person_id;
create view app.busy as select p.person_id from app.post_counts p where p.n > 10;
create materialized view app.mood_counts as select mood, count(*) from app.people group by mood with no data;
create index mood_counts_mood on app.mood_counts (mood);
alter table app.posts enable row level security;
create policy own_posts on app.posts for select to public using (person_id = 1);
create table app.events (id int, at date not null) partition by range (at);
create table app.events_2024 partition of app.events for values from ('2024-01-01') to ('2025-01-01');
create index events_at on app.events (at);
create function app.stamp() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger events_stamp before insert on app.events for each row execute function app.stamp();
create view app.joined as select a.id, b.body from app.people a join app.posts b on b.person_id = a.id
  where exists (select 1 from app.cache c where c.k = a.name);
`,
  '001_everything.down.sql': 'drop schema app cascade;\ndrop extension citext;',
};

async function dump(args: string[]): Promise<string> {
  const r = await runCli(['dump-schema', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('dump-schema of the fitbud example is the same bytes on PostgreSQL 15 and on PGlite, and the same twice', async (t) => {
  const db = await freshDb(t);
  const { root } = writeMigrations(t, {});
  const lite = await freshPglite(root);
  for (const url of [db.url, lite]) {
    const up = await runCli(['up', '--dir', fitbud, '--url', url]);
    assert.equal(up.code, 0, up.stderr);
  }
  const onServer = await dump(['--dir', fitbud, '--url', db.url]);
  const onPglite = await dump(['--dir', fitbud, '--url', lite]);
  assert.equal(onServer, onPglite);
  assert.equal(await dump(['--dir', fitbud, '--url', db.url]), onServer, 'twice, the same bytes');
  assert.match(onServer, /^-- Migrations applied up to: 009_daily_calories_view$/m);
  assert.match(onServer, /create table public\.users \(\n {4}telegram_id bigint not null,/);
  assert.match(onServer, /alter table public\.calorie_entries add constraint calorie_entries_user_id_fkey FOREIGN KEY \(user_id\) REFERENCES public\.users\(telegram_id\) ON DELETE CASCADE;/);
  assert.match(onServer, /create view public\.daily_calories as\nSELECT user_id,/);
  assert.match(onServer, /CREATE INDEX calorie_entries_user_eaten_at_idx ON public\.calorie_entries USING btree \(user_id, eaten_at\);/);
  assert.doesNotMatch(onServer, /sqlmig_history|PostgreSQL 1\d|\d{4}-\d\d-\d\d|SET transaction_timeout|OWNER/i);
});

test('dump-schema of every kind of object: the same on PostgreSQL and PGlite, and it loads back into an empty database', async (t) => {
  const db = await freshDb(t);
  const empty = await freshDb(t);
  const { dir, root } = writeMigrations(t, everything);
  const lite = await freshPglite(root);
  for (const url of [db.url, lite]) {
    const up = await runCli(['up', '--dir', dir, '--url', url]);
    assert.equal(up.code, 0, up.stderr);
  }
  const onServer = await dump(['--dir', dir, '--url', db.url]);
  assert.equal(await dump(['--dir', dir, '--url', lite]), onServer);
  for (const expected of [
    'create schema app;',
    'create extension if not exists citext with schema public;',
    "create type app.mood as enum ('sad', 'ok', 'happy');",
    'create domain app.positive as integer default 1 not null\n    constraint positive_check CHECK ((VALUE > 0));',
    '    b text collate "C"',
    'id integer generated always as identity not null',
    'doubled integer generated always as ((id * 2)) stored',
    'create unlogged table app.cache (',
    ') with (fillfactor=70);',
    "create table app.events_2024 partition of app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
    'CREATE INDEX events_at ON app.events USING btree (at);',
    'CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = \'0\');',
    'CREATE TRIGGER posts_touch BEFORE INSERT OR UPDATE ON app.posts FOR EACH ROW EXECUTE FUNCTION app.touch();',
    'CREATE TRIGGER events_stamp BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.stamp();',
    'alter table app.posts enable row level security;',
    'create policy own_posts on app.posts as permissive for select to public using ((person_id = 1));',
    "comment on table app.people is 'people, with an apostrophe: it''s fine';",
    'alter sequence app.posts_id_seq owned by app.posts.id;',
  ]) assert.ok(onServer.includes(expected), `the dump has: ${expected}\n\n${onServer}`);
  assert.ok(onServer.indexOf('create view app.post_counts') < onServer.indexOf('create view app.busy'), 'a view after the view it reads');
  assert.doesNotMatch(onServer, /floatrange\(double precision/, 'range constructors belong to the type');
  assert.doesNotMatch(onServer, /TRIGGER events_stamp .* ON app\.events_2024/, "a partition's clone of its parent's trigger is not listed");

  await empty.sql.unsafe(onServer);
  const reloaded = await dump(['--dir', dir, '--url', empty.url]);
  const body = (text: string) => text.split('\n').slice(2).join('\n');
  assert.equal(body(reloaded), body(onServer), 'the dump rebuilds the same schema');
});

test('dump-schema --out writes the file; it reads the target and migrates nothing', async (t) => {
  const db = await freshDb(t);
  const { dir, root } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '001_users.down.sql': 'drop table users;',
    '002_posts.up.sql': 'create table posts (id int);',
    '002_posts.down.sql': 'drop table posts;',
  });
  const before = await dump(['--dir', dir, '--url', db.url]);
  assert.match(before, /^-- Migrations applied up to: \(none\)$/m);
  assert.doesNotMatch(before, /create table/);
  assert.equal((await db.sql`select to_regclass('public.sqlmig_history') is null as absent`)[0]!['absent'], true, 'nothing was created');

  await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url]);
  const out = join(root, 'schema.sql');
  const r = await runCli(['dump-schema', '--out', out, '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote the schema \(migrations up to 001_users\) to .*schema\.sql/);
  const written = readFileSync(out, 'utf8');
  assert.equal(written, await dump(['--dir', dir, '--url', db.url]));
  assert.match(written, /create table public\.users/);
  assert.doesNotMatch(written, /public\.posts/, 'the pending migration was not applied');

  const json = JSON.parse((await runCli(['dump-schema', '--json', '--dir', dir, '--url', db.url])).stdout);
  assert.equal(json.sql, written);
  assert.equal(json.version, '001_users');
});

test('dump-schema leaves out the history table and its own schema (--schema/--table)', async (t) => {
  const db = await freshDb(t);
  const args = ['--dir', fitbud, '--url', db.url, '--schema', 'sqlmig_meta', '--table', 'applied'];
  assert.equal((await runCli(['up', ...args])).code, 0);
  const text = await dump(args);
  assert.match(text, /^-- Migrations applied up to: 009_daily_calories_view$/m);
  assert.doesNotMatch(text, /sqlmig_meta|applied \(/);
  assert.match(text, /create table public\.users/);
});
