import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMigrator, type Finding } from '../lib/index.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

/** Tables every case starts from: created by an earlier migration, so they "existed before". */
const BASE = `create table users (id int primary key, email varchar(100), name varchar(50), age int);
create unique index users_email_idx on users (email);
create table orders (id bigint primary key, user_id int);`;

type Root = Parameters<typeof writeMigrations>[0];

/** Lint migration 002 (after the base) with the library, no database: all findings of 002. */
async function lint002(t: Root, sql: string): Promise<Finding[]> {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': sql });
  const r = await createMigrator({ dir, target: null, ddlLockTimeoutMs: sql.includes('-- lock-timeout under test') ? undefined : 5000 }).lint({ all: true });
  return r.findings.filter((f) => f.file.endsWith('002_change.up.sql'));
}

const at = (findings: Finding[], rule: string) => findings.filter((f) => f.rule === rule).map((f) => `${f.line}:${f.col}`);

/** rule, a migration that triggers it, where (line:col), and its safe rewrite. */
const CASES: [string, string, string[], string][] = [
  ['index-not-concurrently', 'create index users_age_idx on users (age);', ['1:1'],
    '-- sqlmig:no-transaction\ncreate index concurrently users_age_idx on users (age);'],
  ['concurrently-in-transaction', 'select 1;\ncreate index concurrently users_age_idx on users (age);', ['2:1'],
    '-- sqlmig:no-transaction\nselect 1;\ncreate index concurrently users_age_idx on users (age);'],
  ['transaction-control', 'begin;\nalter table users add column note text;\ncommit;', ['1:1', '3:1'],
    'alter table users add column note text;'],
  ['add-column-required', 'alter table users add column plan text not null;', ['1:30'],
    "alter table users add column plan text not null default 'free';"],
  ['add-column-rewrite', 'alter table users add column token uuid default gen_random_uuid();', ['1:30'],
    'alter table users add column token uuid;\nalter table users alter column token set default gen_random_uuid();'],
  ['alter-column-type', 'alter table users alter column age type bigint;', ['1:32'],
    'alter table users alter column name type varchar(200);\nalter table users alter column email type text;'],
  ['set-not-null', 'alter table users alter column email set not null;', ['1:1'],
    'alter table users add constraint users_email_nn check (email is not null) not valid;\nalter table users validate constraint users_email_nn;\nalter table users alter column email set not null;'],
  ['constraint-not-valid', 'alter table orders add constraint orders_user_fk foreign key (user_id) references users (id);', ['1:24'],
    'alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\nalter table orders validate constraint orders_user_fk;'],
  ['unique-without-index', 'alter table users add constraint users_email_key unique (email);', ['1:23'],
    'alter table users add constraint users_email_key unique using index users_email_idx;'],
  ['drop-table', 'drop table orders;', ['1:1'], '-- sqlmig:lint-ignore drop-table orders moved to the billing service in 2024; backup taken\ndrop table orders;'],
  ['drop-column', 'alter table users drop column age;', ['1:1'], '-- sqlmig:lint-ignore drop-column age was never read by the bot; backup taken\nalter table users drop column age;'],
  ['truncate', 'truncate orders;', ['1:1'], 'delete from orders where id < 0;'],
  ['rename-table', 'alter table orders rename to purchases;', ['1:1'], 'create view purchases as select * from orders;'],
  ['rename-column', 'alter table users rename column name to full_name;', ['1:1'], 'alter table users add column full_name varchar(50);'],
  ['vacuum-full', '-- sqlmig:no-transaction\nvacuum full users;', ['2:1'], '-- sqlmig:no-transaction\nvacuum users;'],
  ['cluster', 'cluster users using users_email_idx;', ['1:1'], 'analyze users;'],
  ['reindex-not-concurrently', 'reindex table users;', ['1:1'], '-- sqlmig:no-transaction\nreindex table concurrently users;'],
  ['lock-timeout', '-- lock-timeout under test\nalter table users add column note text;', ['2:1'], "-- lock-timeout under test\nset lock_timeout = '5s';\nalter table users add column note text;"],
  ['drop-index-not-concurrently', 'drop index users_email_idx;', ['1:1'], '-- sqlmig:no-transaction\ndrop index concurrently users_email_idx;'],
  ['identifier-too-long', `create table ${'x'.repeat(70)} (id int);`, ['1:14'], `create table ${'x'.repeat(60)} (id int);`],
  ['syntax-error', 'create tabel t (id int);', ['1:8'], 'create table t (id int);'],
];

for (const [rule, bad, where, good] of CASES) {
  test(`${rule}: flagged at ${where.join(', ')}; its safe rewrite is not`, async (t) => {
    const findings = await lint002(t, bad);
    assert.deepEqual(at(findings, rule), where, JSON.stringify(findings, null, 1));
    const clean = await lint002(t, good);
    assert.deepEqual(at(clean, rule), [], JSON.stringify(clean, null, 1));
  });
}

test('a table created in the same migration is never flagged: index, type change, NOT NULL, constraints, rename, drop (also by Squawk\'s rules)', async (t) => {
  const findings = await lint002(t, `create table events (id int primary key, kind varchar(10), at timestamptz);
create index events_at_idx on events (at);
alter table events alter column id type bigint;
alter table events add column source text not null;
alter table events alter column kind set not null;
alter table events add constraint events_kind_check check (kind <> '');
alter table events add constraint events_user_fk foreign key (id) references users (id) not valid;
alter table events rename column at to happened_at;
alter table events rename to event_log;
create index event_log_kind_idx on event_log (kind);
drop index event_log_kind_idx;
alter table event_log drop column source;
drop table event_log;`);
  assert.deepEqual(findings.map((f) => f.rule), []);
});

test('what existed before comes from earlier migrations: a varchar widened after an earlier one narrowed it, a column type changed earlier', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': BASE,
    '002_narrow.up.sql': 'alter table users alter column name type varchar(20);',
    '003_widen.up.sql': 'alter table users alter column name type varchar(40);\nalter table users alter column name type varchar(10);',
  });
  const r = await createMigrator({ dir, target: null, ddlLockTimeoutMs: 5000 }).lint({ files: [join(dir, '003_widen.up.sql')] });
  assert.deepEqual(r.findings.map((f) => `${f.rule} ${f.line}:${f.col}`), ['alter-column-type 2:32'], 'only the narrowing is a rewrite');
  assert.match(r.findings[0]!.message, /from varchar\(40\) to varchar\(10\)/);
});

test('positions are characters, not bytes: a finding after non-ASCII text', async (t) => {
  const findings = await lint002(t, "-- Ünïcödé €€€\nselect 'ßßß'; create index users_age_idx on users (age);");
  assert.deepEqual(at(findings, 'index-not-concurrently'), ['2:15']);
});

test('positions in a file of 40,000 statements with non-ASCII text: the same as counting from the start for each offset', async (t) => {
  const { bytePositions } = await import('../lib/lint/parse.js');
  const lines = Array.from({ length: 40_000 }, (_, i) => (i % 7 === 0 ? `insert into users (name) values ('Ünïcödé €${i}'); -- ß\n` : `select ${i};\n`));
  const text = `${lines.join('')}create index users_age_idx on users (age);`;
  const bytes = Buffer.from(text, 'utf8');
  const slow = (offset: number) => { // the definition: decode every byte before the offset, count lines and columns
    const before = bytes.subarray(0, offset).toString('utf8');
    const lineStart = before.lastIndexOf('\n') + 1;
    return { line: before.split('\n').length, col: before.length - lineStart + 1 };
  };
  const position = bytePositions(text);
  const offsets = [0, bytes.length - 1, 1, 12_345, bytes.indexOf('€'), bytes.lastIndexOf('ß'), bytes.lastIndexOf('\n') + 1, ...Array.from({ length: 40 }, (_, i) => Math.floor(((i * 7919) % 1000) / 1000 * bytes.length))];
  for (const offset of offsets) assert.deepEqual(position(offset), slow(offset), `byte ${offset}`);
  const findings = await lint002(t, text);
  assert.deepEqual(at(findings, 'index-not-concurrently'), ['40001:1']);
});

test('lint-ignore: a reason silences one rule for the next statement only; no reason, or an unknown rule, is an error', async (t) => {
  const findings = await lint002(t, `-- sqlmig:lint-ignore drop-column nobody read age since 2023
alter table users drop column age;
alter table users drop column name;
-- sqlmig:lint-ignore drop-column
alter table users drop column email;
-- sqlmig:lint-ignore no-such-rule because
select 1;`);
  assert.deepEqual(findings.map((f) => `${f.rule} ${f.level} ${f.line}:${f.col}`), [
    'drop-column error 3:1',
    'lint-ignore error 4:1',
    'drop-column error 5:1',
    'lint-ignore error 6:1',
  ]);
  assert.match(findings[1]!.message, /needs a reason/);
  assert.match(findings[3]!.message, /unknown rule "no-such-rule"/);
});

test('CLI: file:line:col  rule-id  message, then why and how; exit 3 on an error, 0 on warnings only; --json gives the findings', async (t) => {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_drop.up.sql': 'drop table orders;' });
  const r = await runCli(['lint', '--dir', dir]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /sql\/002_drop\.up\.sql:1:1 {2}drop-table {2}drops table orders and all its rows\n {4}error: DROP TABLE deletes/);
  assert.match(r.stdout, /\n {4}fix: Stop using the table/);
  assert.match(r.stdout, /no database given: linted all 2 migrations/);
  assert.match(r.stdout, /1 error, 1 warning in 2 migration files/);

  writeFileSync(join(dir, '002_drop.up.sql'), 'drop index users_email_idx;');
  const warned = await runCli(['lint', '--dir', dir, '--json', '--ddl-lock-timeout', '5s']);
  assert.equal(warned.code, 0, warned.stderr);
  const json = JSON.parse(warned.stdout) as { ok: boolean; findings: Finding[]; squawk: { ran: boolean } };
  assert.equal(json.ok, true);
  assert.equal(json.squawk.ran, true);
  assert.deepEqual(json.findings.map((f) => [f.rule, f.level, f.line, f.col, f.source]), [['drop-index-not-concurrently', 'warning', 1, 1, 'squawk']]);
  assert.ok(json.findings[0]!.why && json.findings[0]!.recipe);

  const both = await runCli(['lint', '--dir', dir, '--all', join(dir, '002_drop.up.sql')]);
  assert.equal(both.code, 2);
});

test('CLI: without the Squawk binary lint still runs its own rules and says Squawk\'s were skipped', async (t) => {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_x.up.sql': 'drop index users_email_idx;\ndrop table orders;' });
  const r = await runCli(['lint', '--dir', dir, '--ddl-lock-timeout', '5s'], { env: { SQLMIG_SQUAWK_BIN: join(dir, 'no-such-squawk') } });
  assert.equal(r.code, 3);
  assert.match(r.stdout, /002_x\.up\.sql:2:1 {2}drop-table/);
  assert.doesNotMatch(r.stdout, /drop-index-not-concurrently/);
  assert.match(r.stdout, /Squawk's rules were skipped \(Squawk did not run \(.*no-such-squawk not found\)\)/);
});

test('the repository\'s own sql/ lints clean (its findings carry justified ignores)', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = await runCli(['lint', '--all'], { cwd: root });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /lint ok: 10 migration files, no finding/);
});

test('up says Squawk\'s findings too (its process starts before the files are parsed), each at its file, with ours', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_base.up.sql': `${BASE}\ncreate index users_age_idx on users (age);` });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  writeFileSync(join(dir, '002_drop_index.up.sql'), 'drop index users_age_idx;');
  writeFileSync(join(dir, '003_long.up.sql'), `create table ${'x'.repeat(70)} (id int);`);
  const r = await runCli(['up', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\n {2}\S*002_drop_index\.up\.sql:1:1 {2}drop-index-not-concurrently /);
  assert.match(r.stderr, /\n {2}\S*003_long\.up\.sql:1:14 {2}identifier-too-long /);
  assert.equal((await db.sql`select count(*)::int as n from sqlmig_history`)[0]!['n'], 3);
});

test('up lints what it is about to apply: warnings on stderr and it applies; --lint=error refuses an error-level finding; off is silent', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  writeFileSync(join(dir, '002_index.up.sql'), 'create index users_age_idx on users (age);');
  const warned = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /lint: 2 findings in the migrations about to run.*\n {2}.*002_index\.up\.sql:1:1 {2}index-not-concurrently .*\(warning\)/);

  writeFileSync(join(dir, '003_drop.up.sql'), 'drop table orders;');
  const refused = await runCli(['up', '--dir', dir, '--url', db.url, '--lint=error', '--ddl-lock-timeout', '5s']);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /refusing to migrate, nothing was applied: lint found 1 error \(--lint=error\):\n {2}.*003_drop\.up\.sql:1:1 {2}drop-table/);
  assert.equal((await db.sql`select count(*)::int as n from sqlmig_history`)[0]!['n'], 2);

  const validated = await runCli(['validate', '--dir', dir, '--url', db.url, '--lint=error']);
  assert.equal(validated.code, 3, validated.stdout);
  assert.match(validated.stdout, /lint: .*003_drop\.up\.sql:1:1 {2}drop-table/);

  const off = await runCli(['up', '--dir', dir, '--url', db.url, '--lint=off']);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stderr, /lint/);
});
