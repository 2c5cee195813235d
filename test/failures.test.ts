import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, runCli, writeMigrations, versions } from './support/helpers.js';

after(closeAdmin);

test('up stops at the broken file and keeps earlier ones', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '002_bad.up.sql': 'create tabel oops ();',
    '003_never.up.sql': 'create table never (id int);',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /002_bad\.up\.sql:1:8: syntax error at or near "tabel"/);
  assert.match(r.stderr, /1 \| create tabel oops \(\);\n\s+\|\s{8}\^/);
  assert.match(r.stderr, /Done before it and kept: 001_users/);
  assert.deepEqual(await versions(db), ['1']);
  const [never] = await db.sql`select to_regclass('never') is null as absent`;
  assert.equal(never!['absent'], true);
});

test('after a long run, the failure counts what it kept, naming the first and the last, not every one', async (t) => {
  const db = await freshDb(t);
  const files: Record<string, string> = {};
  for (let i = 1; i <= 7; i++) files[`00${i}_t${i}.up.sql`] = `create table t${i} (id int);`;
  files['008_bad.up.sql'] = 'select 1/0;';
  const { dir } = writeMigrations(t, files);
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /could not apply 008_bad; it was rolled back\. Done before it and kept: 7 migrations, 001_t1 through 007_t7\.\n?$/);
  assert.doesNotMatch(r.stderr, /003_t3/);
  assert.deepEqual(await versions(db), ['1', '2', '3', '4', '5', '6', '7']);
});

test('a run-time error names the statement that failed, though the server gives no position', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_data.up.sql': [
      '-- fill the table',
      'create table t (id int primary key, n int check (n > 0));',
      "insert into t values (1, 1);",
      "do $$ begin perform 1; end $$; -- a ; inside dollar quotes is not a split point",
      "insert into t values ('1;', 2);",
      '',
    ].join('\n'),
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /001_data\.up\.sql:5:1: invalid input syntax for type integer: "1;"|001_data\.up\.sql:5:\d+: invalid input syntax/);
  const [t1] = await db.sql`select to_regclass('t') is null as absent`;
  assert.equal(t1!['absent'], true, 'the failed migration left nothing behind');
});

test('a violated constraint reports file:line of its statement with detail', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_t.up.sql': 'create table t (id int primary key);\ninsert into t values (1);\n\ninsert into t values (1);\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /001_t\.up\.sql:4:1: duplicate key value violates unique constraint "t_pkey"/);
  assert.match(r.stderr, /DETAIL: Key \(id\)=\(1\) already exists\./);
  assert.deepEqual(await versions(db), []);
});

test('division by zero deep in a file is located on its own line', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (x int);\n',
    '002_b.up.sql': "create table b (x int);\n-- comment; with semicolon\nselect 'é;' as x;\nselect 1/0;\n",
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /002_b\.up\.sql:4:1: division by zero/);
  assert.deepEqual(await versions(db), ['1']);
});

for (const [what, files, pattern] of [
  ['a bad file name', { '001_ok.up.sql': 'select 1;', '2_Bad-Name.up.sql': 'select 1;' }, /2_Bad-Name\.up\.sql: not a migration name/],
  ['an empty up file', { '001_ok.up.sql': 'select 1;', '002_empty.up.sql': '-- nothing yet\n' }, /002_empty\.up\.sql: no SQL statement/],
  ['a down without its up', { '001_ok.up.sql': 'select 1;', '002_x.down.sql': 'select 1;' }, /002_x\.down\.sql: a \.down\.sql without its \.up\.sql/],
  ['an unknown directive', { '001_ok.up.sql': 'select 1;', '002_x.up.sql': '-- sqlmig:no-transation\nselect 1;' }, /002_x\.up\.sql:1: unknown directive "-- sqlmig:no-transation"/],
  ['a psql meta-command', { '001_ok.up.sql': 'select 1;', '002_x.up.sql': 'select 1;\n\\i other.sql\n' }, /002_x\.up\.sql:2:1: psql meta-command \\i is not SQL/],
  ['two files with one version', { '001_ok.up.sql': 'select 1;', '002_a.up.sql': 'select 1;', '002_b.up.sql': 'select 1;' }, /002_a\.up\.sql and 002_b\.up\.sql share version 2; run `sqlmig renumber`/],
] as const) {
  test(`${what} is refused with exit 3 before anything runs`, async (t) => {
    const db = await freshDb(t);
    const { dir } = writeMigrations(t, files as Record<string, string>);
    const r = await runCli(['up', '--dir', dir, '--url', db.url]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, pattern);
    assert.deepEqual(await versions(db), []);
  });
}

test('BOM and CRLF files run and get the same checksum as their LF twin', async (t) => {
  const db = await freshDb(t);
  const text = 'create table t (id int);\n-- done\n';
  const { dir } = writeMigrations(t, { '001_t.up.sql': '\ufeff' + text.replace(/\n/g, '\r\n') });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await db.sql`select checksum, up_sql from sqlmig_history`;
  const { createHash } = await import('node:crypto');
  assert.equal(row!['checksum'], createHash('sha256').update(text).digest('hex'));
  assert.equal(row!['up_sql'], text);
});

test('no database given: exit 2 with a message saying how to give one', async (t) => {
  const { dir, root } = writeMigrations(t, { '001_t.up.sql': 'select 1;' });
  const r = await runCli(['up', '--dir', dir], { cwd: root });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no database given: pass --url/);
});

test('a bad flag and a bad URL exit 2', async () => {
  const flag = await runCli(['up', '--frobnicate']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown flag --frobnicate \(sqlmig up --help lists the flags\)/);
  const url = await runCli(['status', '--url', 'mysql://x']);
  assert.equal(url.code, 2);
  assert.match(url.stderr, /expected postgres:\/\//);
  const duration = await runCli(['up', '--lock-timeout', 'soon', '--url', 'pglite:memory']);
  assert.equal(duration.code, 2);
  assert.match(duration.stderr, /--lock-timeout: "soon" is not a duration/);
});

test('--json errors are one document on stdout with the exit code', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_bad.up.sql': 'select 1/0;' });
  const r = await runCli(['up', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.error.code, 1);
  assert.match(doc.error.message, /division by zero/);
});

test('wrong password: exit 5, says what to check, never prints the password', async (t) => {
  const db = await freshDb(t);
  const bad = new URL(db.url);
  bad.password = 'not-the-Secret-42';
  const r = await runCli(['status', '--url', bad.toString()]);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /password authentication failed/);
  assert.match(r.stderr, /check the user name and password/);
  assert.match(r.stderr, /postgres:\/\/postgres:\*\*\*@/);
  assert.doesNotMatch(r.stderr + r.stdout, /not-the-Secret-42/);
  const json = await runCli(['status', '--json', '--url', bad.toString()]);
  assert.equal(JSON.parse(json.stdout).error.code, 5);
  assert.doesNotMatch(json.stdout, /not-the-Secret-42/);
});

test('nothing listening: exit 5 quickly with a hint', async () => {
  const r = await runCli(['status', '--url', 'postgres://u:hunter2secret@127.0.0.1:9/db']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /is PostgreSQL running/);
  assert.doesNotMatch(r.stderr, /hunter2secret/);
});

test('status --check exits 7 when migrations are pending, 0 when none', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'create table t (id int);' });
  const pending = await runCli(['status', '--check', '--dir', dir, '--url', db.url]);
  assert.equal(pending.code, 7);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  const clean = await runCli(['status', '--check', '--json', '--dir', dir, '--url', db.url]);
  assert.equal(clean.code, 0);
  const doc = JSON.parse(clean.stdout);
  assert.equal(doc.current, '001');
  assert.equal(doc.head, '001');
  assert.equal(doc.migrations[0].state, 'applied');
  assert.match(doc.migrations[0].appliedAt, /^\d{4}-\d\d-\d\dT/);
});

test('status says which folder it read and how many migrations it found', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_t.up.sql': 'select 1;', '002_u.up.sql': 'select 1;' });
  const r = await runCli(['status', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0);
  assert.ok(r.stdout.includes(`folder    ${dir} (2 migration files)`), r.stdout);
  assert.match(r.stdout, /pending\s+001_t/);
});

test('statement and DDL lock timeouts apply per session', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(5);' });
  const r = await runCli(['up', '--statement-timeout', '200ms', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /canceling statement due to statement timeout/);

  await db.sql`create table busy (id int)`;
  const { dir: dir2 } = writeMigrations(t, { '001_alter.up.sql': 'alter table busy add column x int;' });
  const reserved = await db.sql.reserve();
  await reserved`begin`;
  await reserved`lock table busy in access share mode`;
  const blocked = await runCli(['up', '--ddl-lock-timeout', '300ms', '--dir', dir2, '--url', db.url]);
  await reserved`rollback`;
  reserved.release();
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /canceling statement due to lock timeout/);
});
