import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../lib/index.js';
import { validate } from './support/json-schema.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const BASE = 'create table users (id int primary key, email text, age int);';
const REWRITE = 'alter table users alter column age type bigint;';

interface LintJson { ok: boolean; findings: Finding[]; notes: string[] }
const summary = (json: LintJson) => json.findings.map((f) => `${f.rule} ${f.level} ${f.line}:${f.col}`);

test('a rewrite of a table that existed before is an error when lint cannot size it (no database, or a table the database does not have): exit 3', async (t) => {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_bigint.up.sql': REWRITE });
  const r = await runCli(['lint', '--dir', dir, '--ddl-lock-timeout', '5s']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /002_bigint\.up\.sql:1:32 {2}alter-column-type {2}changes users\.age from integer to bigint: rewrites users under ACCESS EXCLUSIVE\n {4}error:/);

  const db = await freshDb(t); // the database does not have users: lint cannot size it
  const live = await runCli(['lint', '--all', '--json', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  assert.equal(live.code, 3, live.stdout);
  assert.deepEqual(summary(JSON.parse(live.stdout) as LintJson), ['alter-column-type error 1:32']);
});

test('with a live database a table below lintSmallTable (default 10,000 rows and 10 MB) makes it a warning that says the size; config lintSmallTable moves the line', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, { '001_base.up.sql': BASE });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  await db.sql`insert into users select g, 'u' || g, g from generate_series(1, 300) g`;
  await db.sql`analyze users`;
  writeFileSync(join(dir, '002_bigint.up.sql'), REWRITE);
  const small = await runCli(['lint', '--json', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  assert.equal(small.code, 0, small.stdout);
  const json = JSON.parse(small.stdout) as LintJson;
  assert.deepEqual(summary(json), ['alter-column-type warning 1:32']);
  assert.match(json.findings[0]!.message, /rewrites users \(~300 rows, \d+ kB\) under ACCESS EXCLUSIVE \(a warning: the table is below lintSmallTable, 10,000 rows and 10 MB\)$/);

  writeFileSync(join(root, 'package.json'), JSON.stringify({ sqlmig: { dir: 'sql', lintSmallTable: { rows: 100 } } }));
  const big = await runCli(['lint', '--json', '--url', db.url, '--ddl-lock-timeout', '5s'], { cwd: root });
  assert.equal(big.code, 3, big.stdout + big.stderr);
  assert.deepEqual(summary(JSON.parse(big.stdout) as LintJson), ['alter-column-type error 1:32']);

  writeFileSync(join(root, 'package.json'), JSON.stringify({ sqlmig: { dir: 'sql', lintSmallTable: { size: 'big' } } }));
  const bad = await runCli(['lint', '--url', db.url], { cwd: root });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /"sqlmig"\.lintSmallTable\.size: expected bytes or a size such as "10MB", got "big"/);
});

test('the up hook keeps its own policy: with --lint=error a rewrite is still a warning there (only what lint exits with changed)', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, { '001_base.up.sql': BASE });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ sqlmig: { dir: 'sql', lintSmallTable: { rows: 0, size: 0 } } }));
  assert.equal((await runCli(['up', '--url', db.url], { cwd: root })).code, 0);
  writeFileSync(join(dir, '002_bigint.up.sql'), REWRITE);
  assert.equal((await runCli(['lint', '--url', db.url, '--ddl-lock-timeout', '5s'], { cwd: root })).code, 3);
  const up = await runCli(['up', '--url', db.url, '--lint=error', '--ddl-lock-timeout', '5s'], { cwd: root });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /002_bigint\.up\.sql:1:32 {2}alter-column-type .*\(warning\)/);
});

test('--max-warnings N fails (exit 3) on more than N warnings; a bad N is a usage error', async (t) => {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_note.up.sql': 'alter table users add column note text;' });
  const fine = await runCli(['lint', '--dir', dir]);
  assert.equal(fine.code, 0, fine.stdout);
  assert.match(fine.stdout, /0 errors, 1 warning in 2 migration files/);
  assert.equal((await runCli(['lint', '--dir', dir, '--max-warnings', '1'])).code, 0);
  const over = await runCli(['lint', '--dir', dir, '--max-warnings', '0']);
  assert.equal(over.code, 3, over.stdout);
  assert.match(over.stdout, /1 warning, more than --max-warnings 0: failing/);
  const bad = await runCli(['lint', '--dir', dir, '--max-warnings', '-1']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--max-warnings: expected a whole number/);
});

test('--format github: one workflow command per finding; chosen by itself when GITHUB_ACTIONS=true and stdout is not a terminal', async (t) => {
  const { root } = writeMigrations(t, { '001_base.up.sql': BASE, '002_bigint.up.sql': `${REWRITE}\nalter table users add column note text;` });
  const dir = 'sql';
  const r = await runCli(['lint', '--dir', dir, '--format', 'github'], { cwd: root });
  assert.equal(r.code, 3);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^::warning file=sql\/002_bigint\.up\.sql,line=1,col=1,title=lock-timeout::locks users with no lock_timeout/);
  assert.match(lines[1]!, /^::error file=sql\/002_bigint\.up\.sql,line=1,col=32,title=alter-column-type::changes users\.age from integer to bigint: rewrites users under ACCESS EXCLUSIVE%0A%0AChanging a column.*%0Afix: Add a new column/);
  assert.match(r.stdout, /1 error, 1 warning in 2 migration files\n$/);
  const auto = await runCli(['lint', '--dir', dir], { env: { GITHUB_ACTIONS: 'true' }, cwd: root });
  assert.equal(auto.stdout, r.stdout);
  const text = await runCli(['lint', '--dir', dir, '--format', 'text'], { env: { GITHUB_ACTIONS: 'true' }, cwd: root });
  assert.match(text.stdout, /^sql\/002_bigint\.up\.sql:1:1 {2}lock-timeout {2}locks users/);
  const json = await runCli(['lint', '--dir', dir, '--json'], { env: { GITHUB_ACTIONS: 'true' }, cwd: root });
  assert.equal((JSON.parse(json.stdout) as LintJson).findings.length, 2, '--json still gives JSON in GitHub Actions');
  const both = await runCli(['lint', '--dir', dir, '--json', '--format', 'sarif'], { cwd: root });
  assert.equal(both.code, 2, both.stderr);
});

test('--format sarif: a SARIF 2.1.0 log that its JSON schema accepts, with rule metadata, help and each finding\'s place', async (t) => {
  const { root } = writeMigrations(t, { '001_base.up.sql': BASE, '002_bigint.up.sql': `${REWRITE}\nalter table users add column note text;` });
  const r = await runCli(['lint', '--format', 'sarif'], { cwd: root });
  assert.equal(r.code, 3, r.stderr);
  const log = JSON.parse(r.stdout);
  const schema = JSON.parse(readFileSync(new URL('./fixtures/sarif-schema-2.1.0.json', import.meta.url), 'utf8'));
  assert.deepEqual(validate(schema, log), []);
  assert.deepEqual(validate(schema, { version: '2.1.0', runs: [{ tool: { driver: {} } }] }), ['$.runs[0].tool.driver: missing required name'], 'the check does reject a bad log');
  const run = log.runs[0];
  assert.equal(log.version, '2.1.0');
  assert.equal(run.tool.driver.name, 'sqlmig');
  const results = run.results.map((x: any) => [x.ruleId, x.level, x.locations[0].physicalLocation.artifactLocation.uri, x.locations[0].physicalLocation.region.startLine, x.locations[0].physicalLocation.region.startColumn]);
  assert.deepEqual(results, [['lock-timeout', 'warning', 'sql/002_bigint.up.sql', 1, 1], ['alter-column-type', 'error', 'sql/002_bigint.up.sql', 1, 32]]);
  const rule = run.tool.driver.rules[run.results.find((x: any) => x.ruleId === 'alter-column-type').ruleIndex];
  assert.equal(rule.id, 'alter-column-type');
  assert.equal(rule.defaultConfiguration.level, 'error');
  assert.match(rule.help.text, /Fix: Add a new column of the new type/);
});
