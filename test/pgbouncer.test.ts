/**
 * Through a real PgBouncer in transaction pooling mode, started here in front of the test server:
 * one runner at a time, timeouts per transaction, no-transaction migrations refused when unsafe.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, runCli, spawnCli, writeMigrations, type FreshDb } from './support/helpers.js';
import { freePort } from './support/server.js';

const pgbouncerBin = ['pgbouncer', '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']
  .map((c) => (c.startsWith('/') ? (existsSync(c) ? c : '') : spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim()))
  .find(Boolean);
const skip = pgbouncerBin ? false : 'no pgbouncer binary: install it (apt-get install pgbouncer) to run these tests';

let bouncer: { port: number; stop(): void } | null = null;

before(async () => {
  if (pgbouncerBin) bouncer = await startPgbouncer(pgbouncerBin);
});
after(async () => {
  bouncer?.stop();
  await closeAdmin();
});

/** The fresh database's URL through PgBouncer (same user and password). */
function pooled(db: FreshDb): string {
  const url = new URL(db.url);
  url.port = String(bouncer!.port);
  return url.toString();
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
  const [locks] = await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory'`;
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
  const holding = db.sql.begin(async (tx) => {
    await tx`lock table busy in access exclusive mode`;
    await released;
  });
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


/** PgBouncer in transaction mode on a free port, in front of the test server; it refuses to run as root. */
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

async function startPgbouncer(bin: string): Promise<{ port: number; stop(): void }> {
  const server = new URL(await adminUrl());
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-pgbouncer-'));
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  writeFileSync(join(root, 'users.txt'), `"${user}" "${password.replace(/"/g, '""')}"\n`, { mode: 0o600 });
  writeFileSync(join(root, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${join(root, 'users.txt')}`,
    'pool_mode = transaction',
    'default_pool_size = 20',
    'max_client_conn = 200',
    `logfile = ${join(root, 'pgbouncer.log')}`,
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
  const deadline = Date.now() + 15_000;
  for (;;) {
    const sql = postgres(probe.toString(), { max: 1, prepare: false, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql.unsafe('select 1');
      await sql.end({ timeout: 1 });
      return { port, stop };
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        const log = existsSync(join(root, 'pgbouncer.log')) ? readFileSync(join(root, 'pgbouncer.log'), 'utf8') : '';
        stop();
        throw new Error(`pgbouncer did not start: ${(error as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
