import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, freshPglite, runCli, scratchRunning, spawnCli, waitFor, writeMigrations, type FreshDb } from './support/helpers.js';

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

/** Drop test roles on a connection of its own. */
async function dropRoles(roles: string[]): Promise<void> {
  const sql = postgres(await adminUrl(), { max: 1, onnotice: () => {} });
  try {
    for (const role of roles) await sql.unsafe(`drop role if exists ${role}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Scratch databases left on the test server. Other test files running meanwhile have theirs for a while:
 * a name counts as left only if it is still there after they have had time to finish.
 */
async function scratchDatabases(db: FreshDb): Promise<string[]> {
  const now = async () => (await db.sql`select datname from pg_database where datname like 'sqlmig\\_verify\\_%'`).map((r) => r['datname'] as string);
  const seen = await now();
  let left = seen;
  await waitFor(async () => {
    const current = await now();
    left = seen.filter((name) => current.includes(name));
    return left.length === 0;
  }, 'scratch databases to go', 120_000).catch(() => {});
  return left;
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
  assert.match(r.stderr, /may not create databases; using an embedded PGlite \(PostgreSQL 18\) as the scratch database/);
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
  await scratchRunning(db, 'pg_sleep(30)');
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

/**
 * A GiST index on an extension's type, then a down that forgets it. Without a transaction the failed
 * round trip leaves the scratch database in doubt, and the rebuild that follows must not crash on
 * PostgreSQL's DROP EXTENSION … CASCADE ("cache lookup failed for function").
 */
const gistOnLtree = {
  '001_ltree.up.sql': 'create extension if not exists ltree;',
  '001_ltree.down.sql': 'drop extension ltree;',
  '002_tree.up.sql': '-- sqlmig:no-transaction\ncreate table tree (id int primary key, path ltree not null);\ncreate index tree_path_gist on tree using gist (path);',
  '002_tree.down.sql': '-- forgot everything\nselect 1;',
  '003_leaf.up.sql': 'create table leaf (id int primary key, tree_id int references tree);',
  '003_leaf.down.sql': 'drop table leaf;',
};

function assertGistFindings(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.doesNotMatch(r.stdout + r.stderr, /cache lookup failed/);
  assert.match(r.stdout, /round-trips {2}001_ltree /);
  assert.match(r.stdout, /FAILED {7}002_tree /);
  assert.match(r.stdout, /002_tree: its down does not restore the schema from before its up:\n {2}- table tree left behind\n {2}- primary key tree_pkey on table tree left behind\n {2}- index tree_path_gist on table tree left behind\n/);
  assert.match(r.stdout, /002_tree: applying it again after its down failed:\n.*relation "tree" already exists/);
  assert.match(r.stdout, /round-trips {2}003_leaf /, 'the run goes on after rebuilding');
  assert.match(r.stdout, /verify FAILED: 3 migrations, 2 round-trip, 1 failed/);
}

test('a failed round trip over a GiST index on an extension type is reported, and the rest verified (server, temporary and given scratch)', async (t) => {
  const db = await freshDb(t);
  const scratch = await freshDb(t);
  const { dir } = writeMigrations(t, gistOnLtree);
  assertGistFindings(await runCli(['verify', '--dir', dir, '--url', db.url]));
  assert.deepEqual(await scratchDatabases(db), []);
  await targetIsUntouched(db);

  assertGistFindings(await runCli(['verify', '--dir', dir, '--url', db.url, '--scratch-url', scratch.url]));
  await targetIsUntouched(scratch);
  assert.equal((await scratch.sql`select extname from pg_extension where extname = 'ltree'`).length, 0, 'the given scratch database is emptied, extension included');
});

test('a failed round trip over a GiST index on an extension type is reported, and the rest verified (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, gistOnLtree);
  assertGistFindings(await runCli(['verify', '--dir', dir, '--url', await freshPglite(root)]));
});

test('a rebuild that fails ends the run with every finding so far and says why the rest did not run', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_rebuild_${randomBytes(4).toString('hex')}`;
  t.after(() => dropRoles([role]));
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '001_users.down.sql': 'drop table users;',
    // Roles live outside the database: a down that forgets one makes the up fail on every new database too.
    // Without a transaction, the failed round trip leaves the scratch database in doubt: verify rebuilds it.
    '002_role.up.sql': `-- sqlmig:no-transaction\ncreate role ${role} nologin;`,
    '002_role.down.sql': 'select 1;',
    '003_posts.up.sql': 'create table posts (id int);',
    '003_posts.down.sql': 'drop table posts;',
  });
  for (const json of [false, true]) {
    const r = await runCli(['verify', '--dir', dir, '--url', db.url, ...(json ? ['--json'] : [])]);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    if (json) {
      const result = JSON.parse(r.stdout);
      assert.deepEqual(result.findings.map((f: { status: string }) => f.status), ['round-trips', 'failed', 'not-run']);
      assert.match(result.findings[2].reason, /could not rebuild the schema up to 002_role after its failed round trip: .*already exists/);
    } else {
      assert.match(r.stdout, /round-trips {2}001_users /);
      assert.match(r.stdout, /002_role: applying it again after its down failed:\n.*role "sqlmig_rebuild_[0-9a-f]+" already exists/);
      assert.match(r.stdout, /not run: 1 migration from 003_posts on: could not rebuild the schema up to 002_role/);
      assert.match(r.stdout, /verify FAILED: 3 migrations, 1 round-trip, 1 failed, 0 skipped \(irreversible\), 1 not run/);
    }
    assert.equal((await db.sql`select 1 from pg_roles where rolname = ${role}`).length, 0, 'the role verify created is gone');
  }
  assert.deepEqual(await scratchDatabases(db), []);
});

test('verify drops the roles its migrations created on the server, so that up on that server succeeds afterwards', async (t) => {
  const db = await freshDb(t);
  const scratch = await freshDb(t);
  const reader = `sqlmig_reader_${randomBytes(4).toString('hex')}`;
  const owner = `sqlmig_owner_${randomBytes(4).toString('hex')}`;
  t.after(() => dropRoles([reader, owner])); // after the test's databases are dropped, with what the roles owned there
  const { dir } = writeMigrations(t, {
    '001_roles.up.sql': `create role ${reader} nologin;\ncreate role ${owner} nologin;\ncreate table reports (id int);\nalter table reports owner to ${owner};\ngrant select on reports to ${reader};`,
    '001_roles.down.sql': `drop table reports;\ndrop role ${reader};\ndrop role ${owner};`,
    '002_more.up.sql': 'create table more (id int);',
    '002_more.down.sql': 'drop table more;',
  });
  const roles = async () => (await db.sql`select rolname from pg_roles where rolname in (${reader}, ${owner}) order by 1`).map((r) => r['rolname']);
  for (const scratchArgs of [[], ['--scratch-url', scratch.url]]) {
    const r = await runCli(['verify', '--dir', dir, '--url', db.url, ...scratchArgs]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stderr, /could not/);
    assert.deepEqual(await roles(), [], `no role left on the server (${scratchArgs.length ? 'given' : 'temporary'} scratch)`);
  }
  await targetIsUntouched(scratch);
  const up = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(await roles(), [owner, reader].sort());
});

test('a view that folds now() at creation and a re-indented function body are notes, not failures; time per phase in --json and -v', async (t) => {
  const db = await freshDb(t);
  const recent = (period: string) => `create view recent as\nselect id, body from entries where created_at > 'now'::timestamp - '${period}'::interval;`;
  const label = (body: string) => `create or replace function label(i int) returns text language plpgsql as $$${body}$$;`;
  const { dir, root } = writeMigrations(t, {
    '001_entries.up.sql': "create table entries (id int primary key, body text, created_at timestamp default 'now');",
    '001_entries.down.sql': 'drop table entries;',
    '002_recent.up.sql': recent('1 mon'),
    '002_recent.down.sql': 'drop view recent;',
    '003_label.up.sql': label("\nbegin\n  return 'n' || i;\nend;\n"),
    '003_label.down.sql': 'drop function label(int);',
    '004_label_item.up.sql': label("\nbegin\n  return 'item ' || i;\nend;\n"),
    // The previous body, re-indented by hand.
    '004_label_item.down.sql': label("\n  begin\n      return 'n'||i;\n  end;"),
    '005_recent_week.up.sql': `drop view recent;\n${recent('7 days')}`,
    '005_recent_week.down.sql': `drop view recent;\n${recent('1 mon')}`,
  });
  for (const url of [db.url, await freshPglite(root)]) {
    const r = await runCli(['verify', '--verbose', '--dir', dir, '--url', url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /note: 004_label_item: function label\(integer\) definition differs at line \d+: .*only whitespace differs/);
    assert.match(r.stdout, /note: 005_recent_week: view recent definition .*only a date\/time differs, which PostgreSQL fixed when the object was created/);
    assert.match(r.stdout, /round-trips {2}004_label_item {2}\d+ ms {2}\(up \d+ ms, down \d+ ms, up again \d+ ms, schema snapshots \d+ ms, compare \d+ ms\)/);
    assert.match(r.stdout, /time per phase: scratch database [\d.]+ s, up [\d.]+ s, down [\d.]+ s, up again [\d.]+ s, schema snapshots [\d.]+ s, compare [\d.]+ s\n/);
    assert.match(r.stdout, /verify ok: 5 migrations, 5 round-trip/);
  }
  const json = JSON.parse((await runCli(['verify', '--json', '--dir', dir, '--url', db.url])).stdout);
  assert.deepEqual(Object.keys(json.phases), ['scratch', 'up', 'down', 'upAgain', 'snapshot', 'compare', 'rebuild']);
  assert.ok(Object.values(json.phases).every((ms) => typeof ms === 'number'));
  assert.deepEqual(Object.keys(json.findings[3].phases).sort(), ['compare', 'down', 'snapshot', 'up', 'upAgain']);
  assert.deepEqual(json.findings[3].notes.map((n: { kind: string }) => n.kind), ['whitespace']);
  assert.deepEqual(json.findings[4].notes.map((n: { kind: string }) => n.kind), ['folded-time']);
});

test('definitions read again after renames: a view, a function and a type renamed and renamed back round-trip; a rename left behind shows in the view too', async (t) => {
  const db = await freshDb(t);
  const { dir, root } = writeMigrations(t, {
    '001_base.up.sql': [
      'create table a (id int primary key, x int);',
      "create type mood as enum ('ok');",
      "create function f(i int) returns int language sql immutable as 'select i + 1';",
      "create function g(m mood) returns mood language sql as 'select m';",
      'create view v as select id, x, f(x) as fx from a;',
      'create index a_fx on a (f(x));',
    ].join('\n'),
    '001_base.down.sql': 'drop view v;\ndrop table a;\ndrop function g(mood);\ndrop function f(int);\ndrop type mood;',
    '002_rename_column.up.sql': 'alter table a rename column x to y;',
    '002_rename_column.down.sql': 'alter table a rename column y to x;',
    '003_rename_function.up.sql': 'alter function f(int) rename to f2;',
    '003_rename_function.down.sql': 'alter function f2(int) rename to f;',
    '004_rename_type.up.sql': 'alter type mood rename to feeling;',
    '004_rename_type.down.sql': 'alter type feeling rename to mood;',
    '005_move_view.up.sql': 'create schema s;\nalter view v set schema s;',
    '005_move_view.down.sql': 'alter view s.v set schema public;\ndrop schema s;',
    '006_rename_id.up.sql': 'alter table a rename column id to ident;',
    '006_rename_id.down.sql': '-- forgot to rename it back\nselect 1;',
  });
  for (const url of [db.url, await freshPglite(root)]) {
    const r = await runCli(['verify', '--dir', dir, '--url', url]);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    for (const id of ['001_base', '002_rename_column', '003_rename_function', '004_rename_type', '005_move_view']) {
      assert.match(r.stdout, new RegExp(`round-trips {2}${id} `), id);
    }
    assert.match(r.stdout, /006_rename_id: its down does not restore the schema from before its up:\n(  - .*\n)*  - column a\.ident left behind\n/);
    assert.match(r.stdout, /006_rename_id: its down does not restore the schema from before its up:\n(  - .*\n)*  - view s\.v definition .*ident AS id/);
    assert.match(r.stdout, /006_rename_id: its down does not restore the schema from before its up:\n(  - .*\n)*  - primary key a_pkey on table a definition PRIMARY KEY \(ident\), was PRIMARY KEY \(id\)/);
  }
});

test('a role whose name no migration spells out is left on the server and named on stderr', async (t) => {
  const db = await freshDb(t);
  const suffix = randomBytes(4).toString('hex');
  t.after(() => dropRoles([`sqlmig_dyn_${suffix}`]));
  const { dir } = writeMigrations(t, {
    '001_dynamic_role.up.sql': `do $$ begin execute format('create role %I nologin', 'sqlmig_dyn_' || '${suffix}'); end $$;`,
    '001_dynamic_role.down.sql': `do $$ begin execute format('drop role %I', 'sqlmig_dyn_' || '${suffix}'); end $$;`,
  });
  const r = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, new RegExp(`scratch database: role sqlmig_dyn_${suffix} appeared on the server while verify ran, but no migration names it: left in place`));
  assert.equal((await db.sql`select 1 from pg_roles where rolname = ${`sqlmig_dyn_${suffix}`}`).length, 1);
});
