import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMigrator, type Finding } from '../lib/index.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const BASE = 'create table users (id int primary key, age int, created_at timestamp);\ncreate domain posint as int;';

async function lint002(t: Parameters<typeof writeMigrations>[0], sql: string, lockTimeout = true): Promise<Finding[]> {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': sql });
  const r = await createMigrator({ dir, target: null, ...(lockTimeout ? { ddlLockTimeoutMs: 5000 } : {}) }).lint({ all: true });
  return r.findings.filter((f) => f.file.endsWith('002_change.up.sql'));
}
const brief = (fs: Finding[]) => fs.map((f) => `${f.rule} ${f.line}:${f.col}`);
const TO_TZ = 'alter table users alter column created_at type timestamptz;';

test('timestamp → timestamptz is no rewrite when the file sets TimeZone to UTC; unknown or another zone stays a finding with the reason', async (t) => {
  assert.deepEqual(brief(await lint002(t, `set timezone = 'UTC';\n${TO_TZ}`)), []);
  assert.deepEqual(brief(await lint002(t, `set time zone 'Etc/UTC';\nalter table users alter column created_at type timestamp with time zone;`)), []);
  const unknown = await lint002(t, TO_TZ);
  assert.deepEqual(brief(unknown), ['alter-column-type 1:32']);
  assert.match(unknown[0]!.message, /no rewrite if the session's TimeZone is UTC, which lint cannot tell: put `SET timezone = 'UTC';` above it/);
  const paris = await lint002(t, `set timezone = 'Europe/Paris';\n${TO_TZ}`);
  assert.match(paris[0]!.message, /the session's TimeZone is Europe\/Paris, not UTC/);
  assert.deepEqual(brief(await lint002(t, `set timezone = 'UTC';\nreset timezone;\n${TO_TZ}`)), ['alter-column-type 3:32'], 'RESET puts back the unknown session zone');
  assert.deepEqual(brief(await lint002(t, `set timezone = 'UTC';\nalter table users alter column created_at type timestamptz using created_at at time zone 'Europe/Paris';`)), ['alter-column-type 2:32'], 'USING rewrites');
});

test('timestamp → timestamptz against a live server: its TimeZone decides', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  writeFileSync(join(dir, '002_tz.up.sql'), TO_TZ);
  await db.sql.unsafe(`alter database ${db.name} set timezone = 'UTC'`);
  const utc = await runCli(['lint', '--json', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  assert.equal(utc.code, 0, utc.stdout);
  assert.deepEqual((JSON.parse(utc.stdout) as { findings: Finding[] }).findings, []);
  await db.sql.unsafe(`alter database ${db.name} set timezone = 'Asia/Tokyo'`);
  const tokyo = await runCli(['lint', '--json', '--dir', dir, '--url', db.url, '--ddl-lock-timeout', '5s']);
  const [finding] = (JSON.parse(tokyo.stdout) as { findings: Finding[] }).findings;
  assert.match(finding!.message, /the session's TimeZone is Asia\/Tokyo, not UTC/);
});

test('drop-column: not for a column added earlier in the same migration (it holds no data yet)', async (t) => {
  assert.deepEqual(brief(await lint002(t, 'alter table users add column tmp int;\nalter table users drop column tmp;')), []);
  assert.deepEqual(brief(await lint002(t, 'alter table users add column tmp int;\nalter table users drop column tmp, drop column age;')), ['drop-column 2:1']);
});

test('lock-timeout: set_config(\'lock_timeout\', …) in the file counts; set to 0 it does not', async (t) => {
  assert.deepEqual(brief(await lint002(t, "select set_config('lock_timeout', '5s', false);\nalter table users add column note text;", false)), []);
  assert.deepEqual(brief(await lint002(t, "select set_config('lock_timeout', '0', false);\nalter table users add column note text;", false)), ['lock-timeout 2:1']);
  assert.deepEqual(brief(await lint002(t, "set local lock_timeout = '5s';\nalter table users add column note text;", false)), []);
});

test('domain-constraint: not for CREATE DOMAIN with a check (a new domain locks nothing); still for a constraint added to a domain in use', async (t) => {
  assert.deepEqual(brief(await lint002(t, 'create domain percent as int check (value between 0 and 100);')), []);
  assert.deepEqual(brief(await lint002(t, 'alter domain posint add constraint posint_check check (value > 0);')), ['domain-constraint 1:21']);
});
