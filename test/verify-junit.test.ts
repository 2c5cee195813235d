import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, writeMigrations } from './support/helpers.js';

test('verify --format junit: JUnit XML on stdout, one test case per migration (round trip, skipped, failed with the reason), progress on stderr; exit 3 on a failure', async (t) => {
  const { dir } = writeMigrations(t, {
    '001_users.up.sql': 'create table users (id int primary key);',
    '001_users.down.sql': 'drop table users;',
    '002_seed.up.sql': 'insert into users values (1);',
    '003_tags.up.sql': 'create table tags (id int);\ncreate index tags_id on tags (id);',
    '003_tags.down.sql': 'drop index tags_id;',
  });
  const r = await runCli(['verify', '--dir', dir, '--url', 'pglite:memory', '--format', 'junit']);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="sqlmig verify" tests="3" failures="1" errors="0" skipped="1" time="\d+\.\d{3}">\n {2}<testsuite name="sqlmig verify" tests="3"/);
  assert.match(r.stdout, /<testcase classname="sqlmig\.verify" name="001_users" time="\d+\.\d{3}"\/>/);
  assert.match(r.stdout, /<testcase classname="sqlmig\.verify" name="002_seed" time="[\d.]+">\n {6}<skipped message="irreversible \(no \.down\.sql\): it stays applied"\/>\n {4}<\/testcase>/);
  assert.match(r.stdout, /<testcase classname="sqlmig\.verify" name="003_tags" time="[\d.]+">\n {6}<failure message="applying it again after its down failed" type="error">- table tags left behind\n.*003_tags\.up\.sql:1:1: relation &quot;tags&quot; already exists/);
  assert.match(r.stdout, /<\/testsuite>\n<\/testsuites>\n$/);
  assert.equal((r.stdout.match(/<testcase /g) ?? []).length, 3);
  assert.match(r.stderr, /round-trips {2}001_users/, 'progress goes to stderr, so stdout stays one XML document');
});
