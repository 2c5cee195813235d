import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, freshPglite, runCli, spawnCli, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const reversible = {
  '001_users.up.sql': 'create table users (id int primary key, name text not null);',
  '001_users.down.sql': 'drop table users;',
  '002_posts.up.sql': 'create table posts (id bigserial primary key, user_id int references users, body text);\ncreate index posts_user_idx on posts (user_id);',
  '002_posts.down.sql': 'drop table posts;',
  '003_mood.up.sql': "create type mood as enum ('sad', 'ok');\nalter table users add column mood mood default 'ok';",
  '003_mood.down.sql': 'alter table users drop column mood;\ndrop type mood;',
};

/** A down that forgets one thing each: an index, a column, a constraint, a function, an enum value, a default. */
const forgetful = {
  '001_a.up.sql': "create table a (id int primary key, y int);\ncreate type mood as enum ('sad', 'ok');",
  '001_a.down.sql': 'drop table a;\ndrop type mood;',
  '002_index.up.sql': 'create index a_y on a (y);',
  '002_index.down.sql': '-- forgot the index\nselect 1;',
  '003_column.up.sql': 'alter table a add column z int;\nalter table a alter column y type bigint;',
  '003_column.down.sql': '-- forgot the column, restored the type\nalter table a alter column y type int;',
  '004_check.up.sql': 'alter table a add constraint a_y_positive check (y > 0);',
  '004_check.down.sql': 'select 1;',
  '005_function.up.sql': "create function add_one(i int) returns int language sql as 'select i + 1';",
  '005_function.down.sql': 'select 1;',
  '006_enum.up.sql': "alter type mood add value 'happy';",
  '006_enum.down.sql': "-- PostgreSQL cannot drop an enum value; the down pretends\nselect 1;",
  '007_default.up.sql': 'alter table a alter column y set default 0;',
  '007_default.down.sql': 'select 1;',
  '008_fine.up.sql': 'create table b (id int);',
  '008_fine.down.sql': 'drop table b;',
};

async function targetIsUntouched(db: FreshDb): Promise<void> {
  const rows = await db.sql`select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`;
  assert.deepEqual(rows.map((r) => r['relname']), [], 'the target has no tables, no history table');
  const types = await db.sql`select t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace where n.nspname = 'public'`;
  assert.deepEqual(types.map((r) => r['typname']), []);
}

async function scratchDatabases(db: FreshDb): Promise<string[]> {
  return (await db.sql`select datname from pg_database where datname like 'sqlmig\\_verify\\_%'`).map((r) => r['datname'] as string);
}

test('verify on a server: reversible migrations round-trip in a temporary database that is dropped; the target is untouched', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, reversible);
  const r = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /verifying on a temporary database, postgres:\/\/postgres:\*\*\*@.*\/sqlmig_verify_[0-9a-f]+ \(dropped afterwards\)/);
  assert.match(r.stdout, /round-trips {2}001_users {2}\d+ ms/);
  assert.match(r.stdout, /round-trips {2}003_mood {2}\d+ ms/);
  assert.match(r.stdout, /verify ok: 3 migrations, 3 round-trip, 0 failed, 0 skipped \(irreversible\) in \d+ ms/);
  await targetIsUntouched(db);
  assert.deepEqual(await scratchDatabases(db), []);
});

test('verify names every down that does not restore the schema, object by object, and exits 3', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, forgetful);
  const r = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  for (const [id, sentence] of [
    ['002_index', 'index a_y on table a left behind'],
    ['003_column', 'column a.z left behind'],
    ['004_check', 'check constraint a_y_positive on table a left behind'],
    ['005_function', 'function add_one(integer) left behind'],
    ['006_enum', "value 'happy' of enum mood left behind"],
    ['007_default', 'column a.y default 0, was none'],
  ]) {
    assert.match(r.stdout, new RegExp(`FAILED {7}${id} `), `${id} is reported as FAILED`);
    assert.match(r.stdout, new RegExp(`${id}: its down does not restore the schema from before its up:\\n(  - .*\\n)*  - ${sentence.replace(/[()]/g, '\\$&')}\\n`), sentence);
  }
  assert.doesNotMatch(r.stdout, /column a\.y type/, 'the type change of 003 is restored by its down');
  assert.match(r.stdout, /round-trips {2}001_a /);
  assert.match(r.stdout, /round-trips {2}008_fine /, 'the run goes on after a failed round trip');
  assert.match(r.stdout, /verify FAILED: 8 migrations, 2 round-trip, 6 failed/);
  await targetIsUntouched(db);
  assert.deepEqual(await scratchDatabases(db), [], 'the temporary database is dropped after a failing run too');
});

test('a down that fails outright is reported with file:line; an irreversible migration is skipped and stays applied', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '001_users.down.sql': 'drop table users;',
    '002_seed.up.sql': 'insert into users values (1);',
    '003_tags.up.sql': 'create table tags (id int);',
    '003_tags.down.sql': 'drop table tags;\ndrop table tagz;',
    '004_more.up.sql': 'create table more (user_id int references users);',
    '004_more.down.sql': 'drop table more;',
  });
  const r = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /skipped {6}002_seed {2}\d+ ms {2}irreversible \(no \.down\.sql\): it stays applied/);
  assert.match(r.stdout, /FAILED {7}003_tags/);
  assert.match(r.stdout, /003_tags: its down failed:\n {2}.*003_tags\.down\.sql:2:\d+: table "tagz" does not exist/);
  assert.match(r.stdout, /round-trips {2}004_more/);
  assert.match(r.stdout, /1 failed, 1 skipped \(irreversible\)/);
  await targetIsUntouched(db);
  assert.deepEqual(await scratchDatabases(db), []);
});

test('irreversible migrations alone do not fail verify', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { ...reversible, '004_seed.up.sql': "insert into users values (1, 'a');" });
  const r = await runCli(['verify', '--dir', dir, '--url', db.url, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.ok, true);
  assert.deepEqual(result.findings.map((f: { status: string }) => f.status), ['round-trips', 'round-trips', 'round-trips', 'skipped']);
});

test('a down that re-adds a dropped column at the end is a note, not a failure; --json lists the findings', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int, x int, y int);',
    '001_a.down.sql': 'drop table a;',
    '002_drop_x.up.sql': 'alter table a drop column x;',
    '002_drop_x.down.sql': 'alter table a add column x int;',
  });
  const text = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(text.code, 0, text.stderr + text.stdout);
  assert.match(text.stdout, /note: 002_drop_x: columns of table a in a different order: \(id, y, x\), was \(id, x, y\)/);
  const r = await runCli(['verify', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0);
  const result = JSON.parse(r.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.scratch.kind, 'temporary');
  const finding = result.findings[1];
  assert.equal(finding.version, '002');
  assert.equal(finding.status, 'round-trips');
  assert.deepEqual(finding.differences, []);
  assert.equal(finding.notes[0].kind, 'column-order');
  assert.match(r.stderr, /round-trips {2}002_drop_x/, 'progress goes to stderr in JSON mode');
});

test('--json of a failing verify gives each difference with its kind and object', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);',
    '001_a.down.sql': 'drop table a;',
    '002_index.up.sql': 'create index a_id on a (id);',
    '002_index.down.sql': 'select 1;',
  });
  const r = await runCli(['verify', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3);
  const result = JSON.parse(r.stdout);
  assert.equal(result.ok, false);
  const finding = result.findings[1];
  assert.equal(finding.status, 'failed');
  assert.deepEqual(finding.differences[0], { kind: 'extra', objectType: 'index', object: 'public.a_id', message: 'index a_id on table a left behind' });
  assert.equal(finding.error.step, 'up again');
});

test('verify of a PGlite target runs on an embedded scratch database and leaves the target as it was', async (t) => {
  const { dir, root } = writeMigrations(t, {
    ...forgetful,
    '009_ext.up.sql': 'create extension if not exists pg_trgm;\ncreate index b_trgm on b using gin ((id::text) gin_trgm_ops);',
    '009_ext.down.sql': 'drop index b_trgm;\ndrop extension pg_trgm;',
  });
  const url = await freshPglite(root);
  const r = await runCli(['verify', '--dir', dir, '--url', url]);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /verifying on an embedded PGlite in memory/);
  assert.match(r.stdout, /index a_y on table a left behind/);
  assert.match(r.stdout, /value 'happy' of enum mood left behind/);
  assert.match(r.stdout, /round-trips {2}009_ext/);
  const status = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--url', url])).stdout);
  assert.equal(status.current, null, 'nothing was applied to the target');
  const dump = await runCli(['dump-schema', '--dir', dir, '--url', url]);
  assert.doesNotMatch(dump.stdout, /create table/, 'the target has no tables');
});

test('a role that may not create databases verifies on PGlite; with an extension PGlite lacks, exit 2 names the options', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_nocreatedb_${randomBytes(4).toString('hex')}`;
  const admin = postgres(await adminUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${role} login password 'pw' nocreatedb`);
  t.after(async () => {
    await admin.unsafe(`drop role if exists ${role}`);
    await admin.end({ timeout: 1 });
  });
  const url = new URL(db.url);
  url.username = role;
  url.password = 'pw';
  const { dir } = writeMigrations(t, reversible);
  const r = await runCli(['verify', '--dir', dir, '--url', url.toString()]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /may not create databases; verifying on an embedded PGlite/);
  assert.match(r.stdout, /verifying on an embedded PGlite in memory/);

  const gis = writeMigrations(t, { '001_gis.up.sql': 'create extension if not exists postgis;', '001_gis.down.sql': 'drop extension postgis;' });
  const refused = await runCli(['verify', '--dir', gis.dir, '--url', url.toString()]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /no scratch database for verify: .*postgis/);
  assert.match(refused.stderr, /--scratch-url/);
  assert.match(refused.stderr, /CREATEDB/);
  await targetIsUntouched(db);
});

test('--scratch-url: verifies there and empties it again; refuses the target itself and a database that is not empty', async (t) => {
  const db = await freshDb(t);
  const scratch = await freshDb(t);
  const { dir } = writeMigrations(t, forgetful);
  const r = await runCli(['verify', '--dir', dir, '--url', db.url, '--scratch-url', scratch.url]);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /verifying on the scratch database postgres:\/\/postgres:\*\*\*@/);
  assert.match(r.stdout, /index a_y on table a left behind/);
  await targetIsUntouched(db);
  await targetIsUntouched(scratch);

  const same = await runCli(['verify', '--dir', dir, '--url', db.url, '--scratch-url', db.url]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /--scratch-url is the target database/);

  const bogus = await runCli(['verify', '--dir', dir, '--url', db.url, '--scratch-url', 'mysql://x']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /--scratch-url: expected postgres:\/\//);

  await scratch.sql`create table keep_me (id int)`;
  const busy = await runCli(['verify', '--dir', dir, '--url', db.url, '--scratch-url', scratch.url]);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, /is not empty \(table public\.keep_me\)/);
  assert.equal((await scratch.sql`select to_regclass('public.keep_me') is not null as kept`)[0]!['kept'], true);
});

test('Ctrl-C during verify drops the temporary database and exits 130', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(30);', '001_slow.down.sql': 'select 1;' });
  const run = spawnCli(['verify', '--dir', dir, '--url', db.url]);
  t.after(() => { run.child.kill('SIGKILL'); });
  await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where query like '%pg_sleep(30)%' and datname like 'sqlmig\\_verify\\_%'`).length > 0, 'the migration to run in the scratch database');
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(await scratchDatabases(db), []);
  await targetIsUntouched(db);
});

test('verify refuses a folder with a version conflict (exit 3) before creating anything', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { ...reversible, '002_other.up.sql': 'select 1;' });
  const r = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot verify, nothing was run:\n.*version conflict/);
  assert.deepEqual(await scratchDatabases(db), []);
});
