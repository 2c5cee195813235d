import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeAdmin, freshDb, freshPglite, runCli, scratchRunning, spawnCli, writeMigrations, type CliResult } from './support/helpers.js';

after(closeAdmin);

const twoFine = {
  '001_m1.up.sql': 'create table m1 (id int);',
  '001_m1.down.sql': 'drop table m1;',
  '002_m2.up.sql': 'create table m2 (id int);',
  '002_m2.down.sql': 'drop table m2;',
};

/** verify's words, never the runner's: no --single-transaction (not given), nothing "Completed" (the target never changes). */
function assertVerifyWords(r: CliResult): void {
  assert.doesNotMatch(r.stdout + r.stderr, /single-transaction|whole batch/);
  assert.doesNotMatch(r.stdout + r.stderr, /Completed:/);
}

async function interruptedAt(t: TestContext, files: Record<string, string>): Promise<CliResult> {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, files);
  const run = spawnCli(['verify', '--dir', dir, '--url', db.url]);
  t.after(() => { run.child.kill('SIGKILL'); });
  await scratchRunning(db, 'pg_sleep(30)');
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  const rows = await db.sql`select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'`;
  assert.equal(rows.length, 0, 'the target has nothing');
  return r;
}

test('SIGTERM during an up in verify: exit 143, says nothing of the target changed, no "Completed:"', async (t) => {
  const r = await interruptedAt(t, { ...twoFine, '003_m3.up.sql': 'select pg_sleep(30);', '003_m3.down.sql': 'select 1;' });
  assertVerifyWords(r);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  assert.match(r.stderr, /003_m3/);
  assert.match(r.stderr, /nothing of the target changed/);
});

test('SIGTERM during a down in verify: exit 143, no --single-transaction in the message', async (t) => {
  const r = await interruptedAt(t, { ...twoFine, '003_m3.up.sql': 'create table m3 (id int);', '003_m3.down.sql': 'select pg_sleep(30);\ndrop table m3;' });
  assertVerifyWords(r);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  assert.match(r.stderr, /nothing of the target changed/);
});

const failingDown = { ...twoFine, '002_m2.down.sql': 'drop table m2;\nselect 1 / 0;' };

function assertFailingDown(r: CliResult): void {
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assertVerifyWords(r);
  assert.match(r.stdout, /002_m2: its down failed/);
  assert.match(r.stdout, /division by zero/);
  assert.match(r.stdout, /002_m2\.down\.sql:2/);
}

test('a down that fails in verify is reported without the runner\'s --single-transaction words (server)', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, failingDown);
  assertFailingDown(await runCli(['verify', '--dir', dir, '--url', db.url]));
});

test('a down that fails in verify is reported without the runner\'s --single-transaction words (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, failingDown);
  assertFailingDown(await runCli(['verify', '--dir', dir, '--url', await freshPglite(root)]));
});
