/**
 * What the runner promises whatever a file does: a history row only for work that committed with it,
 * a clean session for every migration, a clean stop on a signal or a lost connection.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeAdmin, freshDb, freshPglite, runCli, spawnCli, waitFor, writeMigrations, type FreshDb, versions, exists, sleepingBackend } from './support/helpers.js';
import { executePlan, type PreparedStep } from '../lib/runner/execute.js';
import { ensureHistory } from '../lib/runner/history.js';
import { connectServer } from '../lib/db/server.js';
import { connectPglite } from '../lib/db/pglite.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMigrator, Interrupted } from '../lib/index.js';

after(closeAdmin);

async function advisoryLocks(db: FreshDb): Promise<number> {
  const [row] = await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
  return row!['n'] as number;
}

test('a history row is written only inside the transaction that ran the migration: a file that ends it is not recorded (server and PGlite)', async (t) => {
  // The parser refuses COMMIT in a transactional file before anything runs; this is the net under it,
  // with the file parsed as the runner would send it: its finish in the same message.
  const db = await freshDb(t);
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-net-'));
  const server = await connectServer(db.url);
  const embedded = await connectPglite((await freshPglite(root)).slice('pglite:'.length), { lockTimeoutMs: 5000 });
  t.after(async () => {
    await Promise.all([server.close(), embedded.close()]);
    rmSync(root, { recursive: true, force: true });
  });
  const table = { schema: 'public', table: 'sqlmig_history' };
  const text = 'begin;\ncreate table a (id int);\ncommit;\n';
  const step: PreparedStep = {
    direction: 'up', version: 1n, versionText: '001', name: 'a',
    script: { path: 'sql/001_a.up.sql', text, transactional: true, statements: ['begin;', 'create table a (id int);', 'commit;'].map((sql, i) => ({ sql, offset: 0, line: i + 1, column: 1, kind: 'X' })) },
    record: { version: 1n, name: 'a', checksum: 'x', upSql: text, downSql: null, durationMs: 0, transactional: true },
  };
  for (const session of [server, embedded]) {
    await ensureHistory(session, table);
    await assert.rejects(executePlan(session, [step], { table }), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /001_a: its transaction had already ended .* NOT recorded as applied/);
      return true;
    }, session.kind);
    assert.equal((await session.query('select version from sqlmig_history')).length, 0, session.kind);
  }
});

test('SET search_path in one migration does not move the next one\'s objects, batched or not', async (t) => {
  for (const batched of [true, false]) {
    const db = await freshDb(t);
    const { dir } = writeMigrations(t, {
      '001_other.up.sql': 'create schema other;\nset search_path = other;\ncreate table inside_other (id int);\n',
      '001_other.down.sql': 'drop schema other cascade;\n',
      '002_leaked.up.sql': 'create table leaked (id int);\n',
      '002_leaked.down.sql': 'drop table leaked;\n',
    });
    if (batched) {
      const r = await runCli(['up', '--dir', dir, '--url', db.url]);
      assert.equal(r.code, 0, r.stderr);
    } else {
      for (const to of ['001', '002']) assert.equal((await runCli(['up', '--to', to, '--dir', dir, '--url', db.url])).code, 0);
    }
    assert.equal(await exists(db, 'other.inside_other'), true);
    assert.equal(await exists(db, 'public.leaked'), true, `002's table went elsewhere (batched: ${batched})`);
    assert.equal(await exists(db, 'other.leaked'), false);
    const down = await runCli(['down', '--all', '--dir', dir, '--url', db.url]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await versions(db), []);
  }
});

test('SET ROLE in one migration does not own the next one\'s objects nor sign the history', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_r_${randomBytes(4).toString('hex')}`;
  t.after(async () => { await db.sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {}); });
  const { dir } = writeMigrations(t, {
    '001_role.up.sql': `create role ${role};\ngrant create on schema public to ${role};\nset role ${role};\ncreate table by_role (id int);\n`,
    '002_next.up.sql': 'create table by_runner (id int);\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const owners = await db.sql`select relname, pg_get_userbyid(relowner) as owner from pg_class where relname in ('by_role', 'by_runner') order by relname`;
  assert.deepEqual(owners.map((o) => [o['relname'], o['owner']]), [['by_role', role], ['by_runner', 'postgres']]);
  const signed = await db.sql`select version::text as v, applied_by from sqlmig_history order by version`;
  assert.deepEqual(signed.map((s) => s['applied_by']), ['postgres', 'postgres']);
});

test('a failed history write is reported as such, not as an error on line 1 of the file, and nothing stays', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_app_${randomBytes(4).toString('hex')}`;
  await db.sql.unsafe(`create role ${role} login password 'app-secret'; grant create on schema public to ${role}`);
  t.after(async () => { await db.sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {}); });
  const { dir } = writeMigrations(t, {
    '001_first.up.sql': 'create table first (id int);\n',
    '002_second.up.sql': 'create table second (id int);\n',
  });
  assert.equal((await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url])).code, 0);
  await db.sql.unsafe(`grant select on sqlmig_history to ${role}`); // it may read the history, not write it
  const url = new URL(db.url);
  url.username = role;
  url.password = 'app-secret';
  const r = await runCli(['up', '--dir', dir, '--url', url.toString()]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /002_second ran, but writing its history row in "public"\."sqlmig_history" failed: permission denied/);
  assert.match(r.stderr, /it was rolled back/);
  assert.doesNotMatch(r.stderr, /002_second\.up\.sql:1:/);
  assert.equal(await exists(db, 'public.second'), false);
  assert.deepEqual(await versions(db), ['1']);
});

for (const direction of ['up', 'down'] as const) {
  test(`SIGTERM during a statement followed by others (${direction}) rolls the migration back, frees the lock and exits 143`, async (t) => {
    const db = await freshDb(t);
    const { dir } = writeMigrations(t, {
      '001_nap.up.sql': 'create table nap (seconds int not null);\ninsert into nap values (0);\n',
      '001_nap.down.sql': 'drop table nap;\n',
      '002_slow.up.sql': 'create table before_sleep (id int);\nselect pg_sleep((select seconds from nap));\ncreate table after_sleep (id int);\n',
      '002_slow.down.sql': 'drop table before_sleep;\nselect pg_sleep((select seconds from nap));\ndrop table after_sleep;\n',
    });
    if (direction === 'down') assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
    else assert.equal((await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url])).code, 0);
    await db.sql`update nap set seconds = 60`;
    const before = await versions(db);
    const run = spawnCli(direction === 'up' ? ['up', '--dir', dir, '--url', db.url] : ['down', '--dir', dir, '--url', db.url]);
    await sleepingBackend(db);
    run.child.kill('SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /interrupted by SIGTERM.*002_slow was rolled back/s);
    assert.deepEqual(await versions(db), before);
    assert.equal(await exists(db, 'public.before_sleep'), direction === 'down');
    assert.equal(await exists(db, 'public.after_sleep'), direction === 'down');
    assert.equal(await advisoryLocks(db), 0, 'the advisory lock is still held');
  });
}

test('the library\'s AbortSignal stops a multi-statement migration and the promise settles with Interrupted', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_slow.up.sql': 'create table a (id int);\nselect pg_sleep(60);\ncreate table b (id int);\n',
  });
  const controller = new AbortController();
  const migrator = createMigrator({ url: db.url, dir, signal: controller.signal });
  const running = migrator.up();
  await sleepingBackend(db);
  controller.abort('SIGINT');
  await assert.rejects(running, (e: Error) => e instanceof Interrupted && e.exitCode === 130 && /001_slow was rolled back/.test(e.message));
  assert.equal(await exists(db, 'public.a'), false);
  assert.equal(await advisoryLocks(db), 0);
});

test('a connection lost mid-migration (server shutting the session down) exits 5, says it was rolled back, and frees the lock', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_first.up.sql': 'create table first (id int);\n',
    '002_slow.up.sql': 'create table slow (id int);\nselect pg_sleep(60);\ncreate table after_slow (id int);\n',
    '003_never.up.sql': 'create table never (id int);\n',
  });
  const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
  const backend = await sleepingBackend(db);
  // What a restart or fast shutdown does to every session: terminate it (57P01).
  await db.sql`select pg_terminate_backend(${backend})`;
  const r = await run.done;
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /lost the connection to postgres:\/\/postgres:\*\*\*@/);
  assert.match(r.stderr, /while applying 002_slow\. 002_slow had not committed, so the server rolled it back; it has no history row/);
  assert.match(r.stderr, /Done before it and kept: 001_first/);
  assert.doesNotMatch(r.stderr, /sqlmig-test-secret/);
  assert.deepEqual(await versions(db), ['1']);
  assert.equal(await exists(db, 'public.slow'), false);
  await waitFor(async () => (await advisoryLocks(db)) === 0, 'the lock to be released');
});

test('--single-transaction prints a migration as applied only once the batch committed', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);\n',
    '002_b.up.sql': 'create table b (id int);\n',
    '003_bad.up.sql': 'select 1/0;\n',
  });
  const failed = await runCli(['up', '--single-transaction', '--dir', dir, '--url', db.url]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.doesNotMatch(failed.stdout, /applied/);
  assert.match(failed.stderr, /whole batch was rolled back/);
  assert.deepEqual(await versions(db), []);

  const ok = await runCli(['up', '--single-transaction', '--to', '002', '--dir', dir, '--url', db.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /applied\s+001_a[\s\S]*applied\s+002_b/);
});

test('redo whose re-apply fails says the revert stayed', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_keep.up.sql': 'create table keep (id int primary key);\n',
    '002_row.up.sql': 'insert into keep values (1);\n',
    '002_row.down.sql': 'select 1; -- leaves the row, so applying again collides\n',
  });
  assert.equal((await runCli(['up', '--dir', dir, '--url', db.url])).code, 0);
  const r = await runCli(['redo', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /duplicate key/);
  assert.match(r.stderr, /The revert of 002_row stayed: it is now NOT applied/);
  assert.deepEqual(await versions(db), ['1']);
});

test('PGlite: SIGTERM stops after the running statement, rolls that migration back and exits 143', async (t) => {
  const { root, dir } = writeMigrations(t, Object.fromEntries([1, 2, 3, 4].flatMap((i) => [
    [`00${i}_nap${i}.up.sql`, `create table nap${i} (id int);\nselect pg_sleep(${i === 1 ? 0 : 1.5});\n`],
    [`00${i}_nap${i}.down.sql`, `drop table nap${i};\n`],
  ])));
  const url = await freshPglite(root);
  const run = spawnCli(['up', '--dir', dir, '--url', url]);
  t.after(() => { run.child.kill('SIGKILL'); });
  // Signalled once the first migration is reported applied: mid-run, however slow the machine.
  await waitFor(async () => /applied\s+001_nap1/.test(run.printed().stdout), 'the first migration to be applied', 60_000);
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  const status = await runCli(['status', '--json', '--dir', dir, '--url', url]);
  const applied = (JSON.parse(status.stdout) as { migrations: { state: string }[] }).migrations.filter((m) => m.state === 'applied').length;
  assert.ok(applied >= 1 && applied < 4, `${applied} migrations applied: the signal came after the first and must stop the run before the last`);
  // What was interrupted left nothing behind: each table exists exactly when its migration is recorded.
  const tables = await runCli(['dump-schema', '--dir', dir, '--url', url]);
  for (let i = 1; i <= 4; i++) assert.equal(new RegExp(`nap${i}\\b`).test(tables.stdout), i <= applied, `nap${i}`);
});
