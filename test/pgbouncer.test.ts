/**
 * Through a real PgBouncer in transaction pooling mode, started here in front of the test server:
 * one runner at a time, timeouts per transaction, no-transaction migrations refused when unsafe.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, runCli, spawnCli, writeMigrations, type FreshDb } from './support/helpers.js';
import { onFreePort, tmpdirForNobody } from './support/server.js';
import { lockKey } from '../lib/runner/lock.js';

const pgbouncerBin = ['pgbouncer', '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']
  .map((c) => (c.startsWith('/') ? (existsSync(c) ? c : '') : spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim()))
  .find(Boolean);
const skip = pgbouncerBin ? false : 'no pgbouncer binary: install it (apt-get install pgbouncer) to run these tests';

type Bouncer = { port: number; stop(): void };
let bouncer: Bouncer | null = null;
const others: Bouncer[] = [];

before(async () => {
  if (pgbouncerBin) bouncer = await startPgbouncer(pgbouncerBin);
});
after(async () => {
  bouncer?.stop();
  for (const b of others) b.stop();
  await closeAdmin();
});

/** The fresh database's URL through PgBouncer (same user and password). */
function pooled(db: FreshDb, through: Bouncer = bouncer!): string {
  const url = new URL(db.url);
  url.port = String(through.port);
  return url.toString();
}

/** A PgBouncer of its own, with these settings changed. */
async function otherBouncer(settings: Record<string, string>): Promise<Bouncer> {
  const b = await startPgbouncer(pgbouncerBin!, settings);
  others.push(b);
  return b;
}

test('four runners through PgBouncer at once apply each migration exactly once and leave no lock behind', { skip }, async (t) => {
  const db = await freshDb(t);
  const files: Record<string, string> = { '000_log.up.sql': 'create table applied_log (v int);' };
  for (let i = 1; i <= 4; i++) files[`00${i}_step.up.sql`] = `insert into applied_log values (${i}); select pg_sleep(0.2);`;
  // No timeout given and nothing session-bound in it: safe through the pooler, and it must not wait for the lock's transaction.
  files['005_index.up.sql'] = '-- sqlmig:no-transaction\ncreate index concurrently applied_log_v on applied_log (v);';
  const { dir } = writeMigrations(t, files);
  const runs = await Promise.all(Array.from({ length: 4 }, () => spawnCli(['up', '--dir', dir, '--url', pooled(db), '--lock-timeout', '30s']).done));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await db.sql`select v from applied_log order by v`).map((r) => r['v']), [1, 2, 3, 4]);
  const appliedLines = runs.map((r) => (r.stdout.match(/^applied\s+\d+_/gm) ?? []).length);
  assert.equal(appliedLines.reduce((a, b) => a + b, 0), 6, 'each migration reported applied by exactly one runner');
  const [index] = await db.sql`select indisvalid from pg_index where indexrelid = 'applied_log_v'::regclass`;
  assert.equal(index!['indisvalid'], true);
  const [locks] = await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
  assert.equal(locks!['n'], 0, 'an advisory lock stayed on a pooled server connection');
  const again = await runCli(['up', '--dir', dir, '--url', pooled(db), '--lock-timeout', '2s']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to do/);
});

test('--ddl-lock-timeout and --statement-timeout apply through PgBouncer, per transaction', { skip }, async (t) => {
  const db = await freshDb(t);
  await db.sql`create table busy (id int)`;
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => { locked = r; });
  const holding = db.sql.begin(async (tx) => {
    await tx`lock table busy in access exclusive mode`;
    locked();
    await released;
  });
  await isLocked; // else the migration can run before the lock is taken
  const { dir } = writeMigrations(t, { '001_alter.up.sql': 'alter table busy add column note text;' });
  const blocked = await runCli(['up', '--dir', dir, '--url', pooled(db), '--ddl-lock-timeout', '300ms']);
  release();
  await holding;
  assert.equal(blocked.code, 1, blocked.stderr);
  assert.match(blocked.stderr, /lock timeout/);
  const slow = writeMigrations(t, { '001_slow.up.sql': 'select pg_sleep(5);' });
  const timedOut = await runCli(['up', '--dir', slow.dir, '--url', pooled(db), '--statement-timeout', '200ms']);
  assert.equal(timedOut.code, 1, timedOut.stderr);
  assert.match(timedOut.stderr, /statement timeout/);
  // Set per transaction, so nothing stays on the pooler's server connections for their next clients.
  const through = postgres(pooled(db), { max: 1, prepare: false, onnotice: () => {} });
  try {
    for (let i = 0; i < 3; i++) {
      const [row] = await through.unsafe('select current_setting(\'statement_timeout\') as st, current_setting(\'lock_timeout\') as lt');
      assert.deepEqual([row!['st'], row!['lt']], ['0', '0']);
    }
  } finally {
    await through.end({ timeout: 1 });
  }
  assert.equal((await db.sql`select count(*)::int as n from sqlmig_history`)[0]!['n'], 0);
});

test('a no-transaction migration that cannot be run safely through PgBouncer is refused before anything runs', { skip }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_table.up.sql': 'create table items (id int);',
    '002_index.up.sql': '-- sqlmig:no-transaction\ncreate index concurrently items_id on items (id);',
  });
  const withTimeout = await runCli(['up', '--dir', dir, '--url', pooled(db), '--statement-timeout', '5s']);
  assert.equal(withTimeout.code, 3, withTimeout.stderr);
  assert.match(withTimeout.stderr, /connection pooler \(PgBouncer or similar\)/);
  assert.match(withTimeout.stderr, /002_index\.up\.sql: --statement-timeout \/ --ddl-lock-timeout cannot reach its statements/);
  assert.match(withTimeout.stderr, /reaches PostgreSQL directly/);
  assert.equal((await db.sql`select to_regclass('items') as t`)[0]!['t'], null, 'the migration before it ran');
  // Directly on the server the same run is fine.
  const direct = await runCli(['up', '--dir', dir, '--url', db.url, '--statement-timeout', '5s']);
  assert.equal(direct.code, 0, direct.stderr);

  const other = await freshDb(t);
  const session = writeMigrations(t, { '001_path.up.sql': '-- sqlmig:no-transaction\nset search_path = elsewhere;\ncreate table t (id int);' });
  const r = await runCli(['up', '--dir', session.dir, '--url', pooled(other)]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /001_path\.up\.sql:2: `set search_path = elsewhere` changes the session/);
});


test('a lock the pooler dropped (idle_transaction_timeout shorter than the run) stops the run with exit 4 naming the setting', { skip }, async (t) => {
  const short = await otherBouncer({ idle_transaction_timeout: '1' });
  const db = await freshDb(t);
  // Each migration is shorter than the timeout (a statement running longer would have its own connection closed
  // too: PgBouncer counts a pipelined transaction as idle); the lock's transaction, idle all along, is not.
  const files: Record<string, string> = {};
  for (let i = 1; i <= 8; i++) files[`00${i}_step.up.sql`] = `create table step_${i} (id int); select pg_sleep(0.4);`;
  const { dir } = writeMigrations(t, files);
  const r = await runCli(['up', '--dir', dir, '--url', pooled(db, short)]);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /the runner's lock was lost during the run/);
  assert.match(r.stderr, /00\d_step (was rolled back and not recorded|was not started)/);
  assert.match(r.stderr, /idle_transaction_timeout/);
  assert.doesNotMatch(r.stderr, /check that the user (running sqlmig )?can write/);
  const recorded = (await db.sql`select version::int as v from sqlmig_history order by 1`).map((row) => row['v'] as number);
  assert.ok(recorded.length < 8, 'it went on after the lock was lost');
  // What is recorded is what was done, and nothing more.
  const made = await db.sql`select count(*)::int as n from pg_tables where tablename like 'step_%'`;
  assert.equal(made[0]!['n'], recorded.length);
});

test('a pool of one server connection: up --lock-timeout exits 4 saying the pool is too small; four runners at once never crash', { skip }, async (t) => {
  const tiny = await otherBouncer({ default_pool_size: '1', query_wait_timeout: '20' });
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_one.up.sql': 'create table one (id int);' });
  const r = await runCli(['up', '--dir', dir, '--url', pooled(db, tiny), '--lock-timeout', '3s']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /pool for this database and user is full/);
  assert.match(r.stderr, /two server connections per database and user/);
  assert.match(r.stderr, /default_pool_size/);
  const runs = await Promise.all(Array.from({ length: 4 }, () => spawnCli(['up', '--dir', dir, '--url', pooled(db, tiny), '--lock-timeout', '3s']).done));
  for (const run of runs) {
    assert.ok(run.code === 4 || run.code === 5, `exit ${run.code}: ${run.stderr}`);
    assert.match(run.stderr, /default_pool_size/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace');
  }
  assert.equal((await db.sql`select to_regclass('one') as t`)[0]!['t'], null);
});

test('through PgBouncer, a transactional migration that would leave session state is refused; one that clears it runs and leaves nothing', { skip }, async (t) => {
  const two = await otherBouncer({ default_pool_size: '2' });
  const db = await freshDb(t);
  const leaky = writeMigrations(t, {
    '000_table.up.sql': 'create table kept (v int);',
    '001_prepare.up.sql': 'prepare p1 as select 1;',
    '002_listen.up.sql': 'listen chan;',
    '003_cursor.up.sql': 'declare c cursor with hold for select 1;',
    '004_temp.up.sql': 'create table other (id int);\ncreate temp table scratch as select 1 as v;',
  });
  const refused = await runCli(['up', '--dir', leaky.dir, '--url', pooled(db, two)]);
  assert.equal(refused.code, 3, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /001_prepare\.up\.sql:1: `prepare p1 as select 1` leaves a prepared statement .*DEALLOCATE/);
  assert.match(refused.stderr, /002_listen\.up\.sql:1: `listen chan` leaves the server connection listening: UNLISTEN/);
  assert.match(refused.stderr, /003_cursor\.up\.sql:1: .*WITH HOLD cursor .*CLOSE/);
  assert.match(refused.stderr, /004_temp\.up\.sql:2: `create temp table scratch as select 1 as v` leaves a temporary table .*ON COMMIT DROP/);
  assert.equal((await db.sql`select to_regclass('kept') as t`)[0]!['t'], null, 'something ran before the refusal');

  const clean = writeMigrations(t, {
    '001_clean.up.sql': [
      'create table kept (v int);',
      'create temp table scratch as select 1 as v;', 'insert into kept select v from scratch;', 'drop table scratch;',
      'create temp table gone_at_commit (id int) on commit drop;',
      'create temp table discarded (id int);', 'discard temp;',
      'prepare p2 as select 1;', 'deallocate p2;',
      'listen chan;', 'unlisten chan;',
      'declare c cursor with hold for select 1;', 'close c;',
      "set search_path = pg_catalog, public; set statement_timeout = '7s'; set application_name = 'leaked';",
    ].join('\n'),
  });
  const ran = await runCli(['up', '--dir', clean.dir, '--url', pooled(db, two)]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.deepEqual((await db.sql`select v from kept`).map((r) => r['v']), [1]);
  // Both server connections of the pool at once: nothing of the migration is left on either.
  const clients = [0, 1].map(() => postgres(pooled(db, two), { max: 1, prepare: false, onnotice: () => {} }));
  try {
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    const seen: unknown[] = [];
    const checks = clients.map((c) => c.begin(async (tx) => {
      const [row] = await tx.unsafe(`select (select count(*)::int from pg_prepared_statements) as prepared,
        (select count(*)::int from pg_listening_channels()) as listening, (select count(*)::int from pg_cursors) as cursors,
        pg_my_temp_schema() = 0 or not exists (select from pg_class where relnamespace = pg_my_temp_schema()) as no_temp,
        current_setting('statement_timeout') as st, current_setting('search_path') as path, current_setting('application_name') as app`);
      seen.push(row);
      if (seen.length === 2) release();
      await hold;
    }));
    await Promise.all(checks);
    for (const row of seen) {
      assert.deepEqual(row, { prepared: 0, listening: 0, cursors: 0, no_temp: true, st: '0', path: '"$user", public', app: (row as { app: string }).app });
      assert.notEqual((row as { app: string }).app, 'leaked');
    }
  } finally {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
  }
});

test('through PgBouncer, a lock held by another runner past --lock-timeout is reported as such (exit 4), not as a full pool', { skip }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_one.up.sql': 'create table one (id int);' });
  const other = await db.sql.reserve();
  try {
    await other`select pg_advisory_lock(${lockKey({ schema: 'public', table: 'sqlmig_history' }).toString()}::bigint)`;
    const r = await runCli(['up', '--dir', dir, '--url', pooled(db), '--lock-timeout', '1s']);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stderr, /another sqlmig run holds the lock on this history table: pid \d+/);
    assert.doesNotMatch(r.stderr, /pool for this database and user is full/);
  } finally {
    other.release();
  }
});

test('up --online runs its plan through PgBouncer in transaction mode: CONCURRENTLY outside a transaction, lock_timeout per transaction', { skip }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': 'create table users (id int primary key, email text);\ninsert into users select g, g::text from generate_series(1, 500) g;',
    '002_online.up.sql': 'create index on users (email);\nalter table users alter column email set not null, add unique (email);',
  });
  assert.equal((await runCli(['up', '--to', '1', '--dir', dir, '--url', pooled(db)])).code, 0);
  const r = await runCli(['up', '--online', '--dir', dir, '--url', pooled(db)]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await db.sql`select count(*)::int as n from pg_index where indrelid = 'users'::regclass and indisvalid`;
  assert.equal(row!['n'], 3, 'the primary key, the index and the unique constraint\'s index');
  const [nn] = await db.sql`select attnotnull from pg_attribute where attrelid = 'users'::regclass and attname = 'email'`;
  assert.equal(nn!['attnotnull'], true);
});

/** PgBouncer in transaction mode on a free port, in front of the test server (another port when someone takes that one first). */
async function startPgbouncer(bin: string, settings: Record<string, string> = {}): Promise<Bouncer> {
  let started: Bouncer | undefined;
  await onFreePort(null, async (port) => { started = await startPgbouncerOn(bin, port, settings); });
  return started!;
}

/** PgBouncer in transaction mode on `port`; it refuses to run as root. */
async function startPgbouncerOn(bin: string, port: number, settings: Record<string, string>): Promise<Bouncer> {
  const server = new URL(await adminUrl());
  const root = mkdtempSync(join(tmpdirForNobody(), 'sqlmig-pgbouncer-'));
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  writeFileSync(join(root, 'users.txt'), `"${user}" "${password.replace(/"/g, '""')}"\n`, { mode: 0o600 });
  const ini: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'scram-sha-256',
    auth_file: join(root, 'users.txt'),
    pool_mode: 'transaction',
    default_pool_size: '20',
    max_client_conn: '200',
    logfile: join(root, 'pgbouncer.log'),
    ...settings,
  };
  writeFileSync(join(root, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || 5432}`,
    '[pgbouncer]',
    ...Object.entries(ini).map(([k, v]) => `${k} = ${v}`),
  ].join('\n') + '\n');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(root, f), 65534, 65534);
  const child: ChildProcess = spawn(bin, [join(root, 'pgbouncer.ini')], { stdio: 'ignore', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  };
  const probe = new URL(server.toString());
  probe.port = String(port);
  const readLog = () => (existsSync(join(root, 'pgbouncer.log')) ? readFileSync(join(root, 'pgbouncer.log'), 'utf8') : '');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const sql = postgres(probe.toString(), { max: 1, prepare: false, connect_timeout: 2, onnotice: () => {} });
    try {
      // Only ours: another test run's server on that port would answer the same user and password.
      if (!readLog().includes(`listening on 127.0.0.1:${port}`)) throw new Error('not listening yet');
      await sql.unsafe('select 1');
      await sql.end({ timeout: 1 });
      return { port, stop };
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        const log = readLog();
        stop();
        throw new Error(`pgbouncer did not start: ${(error as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
