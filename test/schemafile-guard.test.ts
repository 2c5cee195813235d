/**
 * A schema file is built on a scratch database of the user's own server with the --url role's rights:
 * whatever acts outside that scratch database is refused before anything runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const migrations = { '001_t.up.sql': 'create table t (id int primary key);\n', '001_t.down.sql': 'drop table t;\n' };

test('a schema file that drops the live database is refused before anything runs: exit 3, file:line:col, the database and its data kept', async (t) => {
  const db = await freshDb(t);
  await db.sql.unsafe('create table precious (id int); insert into precious values (42)');
  const { root, dir } = writeMigrations(t, migrations);
  writeFileSync(join(root, 'schema.sql'), `create table t (id int primary key);\n\ndrop database ${db.name} with (force);\n`);
  const r = await runCli(['diff', '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /schema\.sql:3:1: drop database .*\n {2}refused: it drops a database/);
  assert.match(r.stderr, /Nothing ran/);
  assert.doesNotMatch(r.stdout + r.stderr, /no difference/);
  const [row] = await db.sql`select id from precious`;
  assert.equal(row?.id, 42);
  assert.deepEqual(readdirSync(dir).sort(), ['001_t.down.sql', '001_t.up.sql']);
});

test('every statement that reaches beyond the scratch database is refused, each named; pg_dump\'s preamble is allowed', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, migrations);
  const attacks: [string, RegExp][] = [
    ['create database other;', /creates a database/],
    ['alter system set work_mem = \'1GB\';', /server's configuration/],
    ["copy t from program 'touch /tmp/sqlmig-pwned';", /PROGRAM runs a shell command/],
    ["copy t to '/tmp/sqlmig-out';", /file of the server/],
    ['create role intruder superuser;', /creates a role/],
    ['drop role nobody_here;', /drops a role/],
    ["create tablespace ts location '/tmp';", /tablespace/],
    ["load 'auto_explain';", /shared library/],
    ["do $$ begin execute 'drop database x'; end $$;", /runs code/],
    ['call some_procedure();', /runs a procedure/],
    ["select lo_export(1, '/tmp/x');", /lo_export\(\), which reaches beyond/],
    ["select pg_read_file('/etc/passwd');", /pg_read_file/],
    ["select dblink_exec('dbname=postgres', 'drop database x');", /dblink_exec/],
    ['select pg_terminate_backend(pid) from pg_stat_activity;', /pg_terminate_backend/],
    ['select now();', /top-level SELECT of now\(\) runs code/],
    ["create server remote foreign data wrapper postgres_fdw options (host 'elsewhere');", /connection to another server/],
    ["insert into t select 1 from pg_read_file('/etc/hostname');", /pg_read_file/],
  ];
  const schema = ['create table t (id int primary key);', ...attacks.map(([sql]) => sql)].join('\n') + '\n';
  writeFileSync(join(root, 'schema.sql'), schema);
  const r = await runCli(['diff', '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal(r.code, 3, r.stderr);
  attacks.forEach(([sql, why], i) => {
    assert.match(r.stderr, new RegExp(`schema\\.sql:${i + 2}:1: `), `line of ${sql}`);
    assert.match(r.stderr, why, sql);
  });
  const roles = await db.sql`select 1 from pg_roles where rolname = 'intruder'`;
  assert.equal(roles.length, 0);

  // What pg_dump -s writes around the schema is fine.
  writeFileSync(join(root, 'schema.sql'), [
    'SET statement_timeout = 0;', "SET client_encoding = 'UTF8';", "SELECT pg_catalog.set_config('search_path', '', false);",
    'SET check_function_bodies = false;', 'CREATE TABLE public.t (id integer NOT NULL);',
    'ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);',
  ].join('\n') + '\n');
  const ok = await runCli(['diff', '--check', '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal(ok.code, 0, ok.stderr);
});

test('a schema file the parser rejects is never sent, so nothing before the error runs', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, migrations);
  writeFileSync(join(root, 'schema.sql'), `drop database ${db.name};\ncreate tabel oops (id int);\n`);
  const r = await runCli(['diff', '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /schema\.sql:2:\d+: syntax error at or near "tabel"/);
  const [row] = await db.sql`select current_database() as name`;
  assert.equal(row?.name, db.name);
});

test('pg_dump --schema-only output is a schema file: its \\restrict/\\unrestrict lines are accepted (also a key starting with a digit), any other meta-command still refused', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, {
    '001_t.up.sql': "create type mood as enum ('ok', 'sad');\ncreate table t (id serial primary key, m mood default 'ok', note text check (note <> ''));\ncreate view v as select id, m from t;\n",
    '001_t.down.sql': 'drop view v; drop table t; drop type mood;\n',
  });
  const up = await runCli(['up', '--dir', dir, '--url', db.url], { cwd: root });
  assert.equal(up.code, 0, up.stderr);
  const url = new URL(db.url);
  const dump = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--exclude-table=public.sqlmig_history', '--exclude-table=public.sqlmig_*', db.url], { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } });
  const schema = dump.includes('\\restrict') ? dump : `\\restrict 9Zk2\n${dump}\n\\unrestrict 9Zk2\n`;
  writeFileSync(join(root, 'schema.sql'), schema.replace(/\\restrict \S+/, '\\restrict 9startsWithDigit'));
  const check = await runCli(['diff', '--check', '--dir', dir], { cwd: root });
  assert.equal(check.code, 0, check.stderr + check.stdout);

  writeFileSync(join(root, 'schema.sql'), `${schema}\n\\i other.sql\n`);
  const meta = await runCli(['diff', '--check', '--dir', dir], { cwd: root });
  assert.equal(meta.code, 3, meta.stderr);
  assert.match(meta.stderr, /\\i/);
});
