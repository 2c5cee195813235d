import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations, type FreshDb } from './support/helpers.js';
import { findPgBin } from './support/server.js';

after(closeAdmin);

/** SQL functions in column defaults and checks, a function whose body names a table made after it, domains, enums, views, sequences. */
const source = `
set check_function_bodies = off;
create type semver_triple as (major int, minor int, patch int);
create type release_kind as enum ('alpha', 'beta', 'stable');
create domain version_text as text check (value ~ '^\\d+\\.\\d+\\.\\d+');
create function to_semver_no_prerelease(v text) returns semver_triple language sql immutable as
  $$ select (split_part(v, '.', 1)::int, split_part(v, '.', 2)::int, split_part(split_part(v, '.', 3), '-', 1)::int)::semver_triple $$;
create function is_valid_version(v text) returns boolean language sql immutable as $$ select (to_semver_no_prerelease(v)).major >= 0 $$;
create function default_version() returns text language sql stable as $$ select '0.0.1'::text $$;
create function release_count() returns bigint language sql stable as $$ select count(*) from releases $$;
create sequence release_no start 10;
create table releases (
  id int primary key default nextval('release_no'),
  version version_text not null default default_version() check (is_valid_version(version)),
  kind release_kind not null default 'stable',
  units varchar(10) default 'metric' check (units in ('metric', 'imperial')),
  created_at timestamptz default now()
);
create view stable_releases as select id, version from releases where kind = 'stable';
`;

function pgDump(db: FreshDb): string {
  return execFileSync(findPgBin('pg_dump'), ['--schema-only', db.url], { encoding: 'utf8' });
}

async function dumpedProject(t: { after(fn: () => unknown): void }, extra = ''): Promise<{ root: string; dir: string; dump: string }> {
  const src = await freshDb(t);
  await src.sql.unsafe(source + extra);
  const dump = pgDump(src);
  assert.match(dump, /SELECT pg_catalog\.set_config\('search_path', '', false\);/);
  assert.match(dump, /SET check_function_bodies = false;/);
  const { root, dir } = writeMigrations(t, { '001_notes.up.sql': 'create table notes (id int);', '001_notes.down.sql': 'drop table notes;' });
  writeFileSync(join(root, 'schema.sql'), dump);
  return { root, dir, dump };
}

async function buildsAndSettles(t: { after(fn: () => unknown): void }, url: (root: string) => Promise<string>): Promise<void> {
  const { root, dir } = await dumpedProject(t);
  const target = await url(root);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', target], { cwd: root });
  const r = await cli('diff', '--name', 'from dump');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.ok(readdirSync(dir).some((f) => f.startsWith('002_from_dump.up')));
  const check = await cli('diff', '--check');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const up = await cli('up');
  assert.equal(up.code, 0, up.stderr);
  assert.equal((await cli('drift')).code, 0);
}

test('a pg_dump --schema-only file is a schema file: it builds on a server scratch with its preamble in force, and diff then finds nothing more', async (t) => {
  await buildsAndSettles(t, async () => (await freshDb(t)).url);
});

test('a pg_dump --schema-only file is a schema file on PGlite too', async (t) => {
  await buildsAndSettles(t, freshPglite);
});

test('a dump that psql cannot restore either (an SQL function inlined under pg_dump\'s empty search_path) is refused naming the function, why, and the fix', async (t) => {
  const index = 'create index releases_major_idx on releases (((to_semver_no_prerelease(version)).major));';
  const { root, dir } = await dumpedProject(t, index);
  // psql fails on this file in the same way: it is the dump, not sqlmig.
  const target = await freshDb(t);
  const psql = spawnSync(findPgBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', join(root, 'schema.sql'), target.url], { encoding: 'utf8' });
  assert.notEqual(psql.status, 0);
  assert.match(psql.stderr, /type "semver_triple" does not exist/);
  for (const url of [target.url, null]) {
    const r = await runCli(['diff', '--dir', dir, ...(url ? ['--url', url] : [])], { cwd: root });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /schema\.sql:\d+:1: type "semver_triple" does not exist/);
    assert.match(r.stderr, /CONTEXT: SQL function "to_semver_no_prerelease" during inlining/);
    assert.match(r.stderr, /sets search_path to '' \(as pg_dump's preamble does\), so PostgreSQL reads the body of SQL function to_semver_no_prerelease with no schema on the path/);
    assert.match(r.stderr, /psql fails on this file the same way/);
    assert.match(r.stderr, /qualify the names in its body \(public\.…\), or give it SET search_path = public/);
    assert.deepEqual(readdirSync(dir).sort(), ['001_notes.down.sql', '001_notes.up.sql']);
  }
});
