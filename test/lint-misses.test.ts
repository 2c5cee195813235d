import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMigrator, type Finding } from '../lib/index.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table users (id int primary key, age int);
create table tags (name text, slug text not null);
create unique index tags_name_idx on tags (name);
create unique index tags_slug_idx on tags (slug);
create materialized view user_ages as select age, count(*) from users group by age;
create schema archive;
create function next_code() returns text language sql as $$ select md5(random()::text) $$;
create function slugify(t text) returns text language sql immutable as $$ select lower(t) $$;`;

async function lint002(t: Parameters<typeof writeMigrations>[0], sql: string): Promise<Finding[]> {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': sql });
  const r = await createMigrator({ dir, target: null, ddlLockTimeoutMs: 5000 }).lint({ all: true });
  return r.findings.filter((f) => f.file.endsWith('002_change.up.sql'));
}
const brief = (fs: Finding[]) => fs.map((f) => `${f.rule} ${f.level} ${f.line}:${f.col}`);

test('DO blocks: their plain SQL is linted at the DO; an EXECUTEd string is opaque (warning); a harmless block is clean', async (t) => {
  const found = await lint002(t, "select 1;\ndo $$ begin\n  create index users_age_idx on users (age);\n  if true then drop table users; end if;\nend $$;");
  assert.deepEqual(brief(found), ['index-not-concurrently error 2:1', 'drop-table error 2:1']);
  assert.match(found[0]!.message, /^in the DO block: creates index users_age_idx on users without CONCURRENTLY/);
  const opaque = await lint002(t, "do $$ begin execute 'alter table users alter column age type bigint'; end $$;");
  assert.deepEqual(brief(opaque), ['do-block warning 1:1']);
  assert.match(opaque[0]!.message, /EXECUTEs a statement built as a string: lint cannot see what it runs/);
  assert.deepEqual(brief(await lint002(t, "do $$ begin raise notice 'hi'; end $$;")), []);
  assert.deepEqual(brief(await lint002(t, "do $$ begin create table t2 (id int); create index t2_idx on t2 (id); end $$;")), [], 'a table the block creates is new');
});

test('add column … default f(): a user function that is not IMMUTABLE/STABLE (from earlier migrations or the live catalog), or an unknown one, rewrites', async (t) => {
  assert.deepEqual(brief(await lint002(t, 'alter table users add column code text default next_code();')), ['add-column-rewrite error 1:30']);
  const unknown = await lint002(t, 'alter table users add column code text default make_code();');
  assert.match(unknown[0]!.message, /make_code\(\), a function lint does not know: taken as volatile/);
  assert.deepEqual(brief(await lint002(t, "alter table users add column slug text default slugify('x');\nalter table users add column seen timestamptz default now();")), []);

  const db = await freshDb(t); // a function only the live database knows
  const { dir } = writeMigrations(t, { '001_base.up.sql': 'create table users (id int primary key);' });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  await db.sql.unsafe("create function stable_code() returns text language sql stable as $$ select 'x' $$; create function fresh_code() returns text language sql volatile as $$ select 'x' $$;");
  writeFileSync(join(dir, '002_codes.up.sql'), 'alter table users add column a text default stable_code();\nalter table users add column b text default fresh_code();');
  const live = await runCli(['lint', '--json', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  assert.deepEqual((JSON.parse(live.stdout) as { findings: Finding[] }).findings.map((f) => `${f.rule} ${f.line}:${f.col}`), ['add-column-rewrite 2:30']);
});

test('add primary key using index on a nullable column: an implicit SET NOT NULL scan; on NOT NULL columns it is clean', async (t) => {
  const found = await lint002(t, 'alter table tags add constraint tags_pkey primary key using index tags_name_idx;');
  assert.deepEqual(brief(found), ['pk-using-index-nullable error 1:22']);
  assert.match(found[0]!.message, /on nullable name: an implicit SET NOT NULL scans tags under ACCESS EXCLUSIVE/);
  assert.deepEqual(brief(await lint002(t, 'alter table tags add constraint tags_pkey primary key using index tags_slug_idx;')), []);
});

test('DROP SCHEMA … CASCADE, REFRESH MATERIALIZED VIEW without CONCURRENTLY, SET UNLOGGED/LOGGED, a json column; and their safe forms', async (t) => {
  assert.deepEqual(brief(await lint002(t, 'drop schema archive cascade;')), ['drop-schema-cascade error 1:1']);
  assert.deepEqual(brief(await lint002(t, 'create schema scratch;\ndrop schema scratch cascade;\ndrop schema archive;')), []);
  assert.deepEqual(brief(await lint002(t, 'refresh materialized view user_ages;')), ['refresh-matview-not-concurrently error 1:1']);
  assert.deepEqual(brief(await lint002(t, 'refresh materialized view concurrently user_ages;')), []);
  assert.deepEqual(brief(await lint002(t, 'alter table users set unlogged;\nalter table users set logged;')), ['set-logged-unlogged error 1:1', 'set-logged-unlogged error 2:1']);
  assert.deepEqual(brief(await lint002(t, 'create unlogged table cache (k text);\nalter table cache set logged;')), []);
  assert.deepEqual(brief(await lint002(t, 'alter table users add column meta json;')), ['json-column warning 1:30']);
  assert.deepEqual(brief(await lint002(t, 'alter table users add column meta jsonb;\ncreate table docs (body json);')), []);
});
