/**
 * Connections as libpq users give them, through the real CLI against the test server: a Unix socket folder
 * (PGHOST, ?host=, %2F-encoded host), the password file, IPv6 loopback, PGSSLMODE, and passwords that hold
 * "@", "%" or arrive as ?password= — never shown.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, runCli, writeMigrations, type FreshDb } from './support/helpers.js';
import { canBind } from './support/server.js';

after(closeAdmin);

interface TestContext { after(fn: () => unknown): void; skip(message?: string): void }

const MIGRATIONS = {
  '001_users.up.sql': 'create table users (id int primary key);',
  '001_users.down.sql': 'drop table users;',
  // Where the migration's session came from: an address over TCP, none over a Unix socket.
  '002_seen.up.sql': "create table seen as select coalesce(host(inet_client_addr()), 'socket') as addr;",
  '002_seen.down.sql': 'drop table seen;',
};

/** Where the test server's Unix socket is, when it runs on this machine. */
async function serverSocket(db: FreshDb): Promise<{ dir: string; port: string } | null> {
  const [row] = await db.sql<{ dirs: string; port: string }[]>`select current_setting('unix_socket_directories') as dirs, current_setting('port') as port`;
  const dir = row!.dirs.split(',')[0]!.trim();
  const host = new URL(db.url).hostname;
  if (!['127.0.0.1', 'localhost'].includes(host) || !dir.startsWith('/') || !existsSync(join(dir, `.s.PGSQL.${row!.port}`))) return null;
  return { dir, port: row!.port };
}

/** A login role with this password that owns the fresh database; dropped after the test. */
async function passwordRole(t: TestContext, db: FreshDb, password: string): Promise<string> {
  const name = `sqlmig_r_${randomBytes(4).toString('hex')}`;
  const admin = postgres(await adminUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${name} login password '${password.replace(/'/g, "''")}'`);
  await admin.unsafe(`alter database ${db.name} owner to ${name}`);
  t.after(async () => {
    await admin.unsafe(`alter database ${db.name} owner to postgres`).catch(() => {});
    await admin.unsafe(`drop role if exists ${name}`).catch(() => {});
    await admin.end({ timeout: 1 });
  });
  return name;
}

/** A HOME of its own (no ~/.pgpass, no ~/.postgresql), optionally with a password file. */
function home(t: TestContext, pgpass?: string, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlmig-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  if (pgpass !== undefined) {
    writeFileSync(join(dir, '.pgpass'), pgpass);
    chmodSync(join(dir, '.pgpass'), mode);
  }
  return dir;
}

const escapePgpass = (s: string) => s.replace(/[\\:]/g, '\\$&');
const seenFrom = async (db: FreshDb) => (await db.sql<{ addr: string }[]>`select addr from seen`)[0]?.addr;
const tables = async (db: FreshDb) => (await db.sql<{ name: string }[]>`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`).map((r) => r.name);

test('PGHOST as a socket folder: libpq variables alone reach the server through its Unix socket', async (t) => {
  const db = await freshDb(t);
  const socket = await serverSocket(db);
  if (!socket) return t.skip('the test server has no Unix socket on this machine');
  const { dir } = writeMigrations(t, MIGRATIONS);
  const password = new URL(db.url).password;
  const env = { HOME: home(t), PGHOST: socket.dir, PGPORT: socket.port, PGUSER: 'postgres', PGPASSWORD: password, PGDATABASE: db.name };
  const r = await runCli(['up', '--dir', dir, '-v'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`database postgres://postgres@/${db.name}\\?host=${socket.dir}&port=${socket.port}`));
  assert.deepEqual(await seenFrom(db), 'socket');
});

test('a socket folder in the URL: ?host= and a %2F-encoded host, with the port', async (t) => {
  const db = await freshDb(t);
  const socket = await serverSocket(db);
  if (!socket) return t.skip('the test server has no Unix socket on this machine');
  const { dir } = writeMigrations(t, MIGRATIONS);
  const password = new URL(db.url).password;
  const viaQuery = `postgres://postgres:${password}@/${db.name}?host=${socket.dir}&port=${socket.port}`;
  const up = await runCli(['up', '--dir', dir, '--url', viaQuery], { env: { HOME: home(t) } });
  assert.equal(up.code, 0, up.stderr);
  assert.equal(await seenFrom(db), 'socket');
  const viaHost = `postgres://postgres:${password}@${encodeURIComponent(socket.dir)}:${socket.port}/${db.name}`;
  const status = await runCli(['status', '--json', '--dir', dir, '--url', viaHost], { env: { HOME: home(t) } });
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout).migrations.map((m: { state: string }) => m.state), ['applied', 'applied']);
  // A folder where no server listens is said as such: exit 5.
  const wrong = await runCli(['status', '--dir', dir, '--url', `postgres://postgres@/${db.name}?host=${socket.dir}&port=1`], { env: { HOME: home(t) } });
  assert.equal(wrong.code, 5);
  assert.match(wrong.stderr, new RegExp(`no socket ${socket.dir}/\\.s\\.PGSQL\\.1`));
});

test('the password file: used over the socket and TCP, wrong password named as from the file, loose permissions ignored with a warning', async (t) => {
  const db = await freshDb(t);
  const socket = await serverSocket(db);
  const secret = 'p@ss:w0rd\\x';
  const role = await passwordRole(t, db, secret);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const host = new URL(db.url);
  const lines = [`${host.hostname}:${host.port}:${db.name}:${role}:${escapePgpass(secret)}`];
  if (socket) lines.push(`${escapePgpass(socket.dir)}:${socket.port}:*:${role}:${escapePgpass(secret)}`);
  const tcpUrl = `postgres://${role}@${host.host}/${db.name}`;

  const up = await runCli(['up', '--dir', dir, '--url', tcpUrl], { env: { HOME: home(t, lines.join('\n') + '\n') } });
  assert.equal(up.code, 0, up.stderr);
  const [owner] = await db.sql<{ owner: string }[]>`select tableowner as owner from pg_tables where tablename = 'users'`;
  assert.equal(owner!.owner, role);
  if (socket) {
    const viaSocket = await runCli(['status', '--dir', dir], { env: { HOME: home(t, lines.join('\n') + '\n'), PGHOST: socket.dir, PGPORT: socket.port, PGUSER: role, PGDATABASE: db.name } });
    assert.equal(viaSocket.code, 0, viaSocket.stderr);
  }
  // PGPASSFILE names another file.
  const elsewhere = join(home(t), 'passwords');
  writeFileSync(elsewhere, `*:*:*:${role}:${escapePgpass(secret)}\n`, { mode: 0o600 });
  const viaPassfile = await runCli(['status', '--dir', dir, '--url', tcpUrl], { env: { HOME: home(t), PGPASSFILE: elsewhere } });
  assert.equal(viaPassfile.code, 0, viaPassfile.stderr);

  const wrongHome = home(t, `*:*:*:${role}:not-it\n`);
  const wrong = await runCli(['status', '--dir', dir, '--url', tcpUrl], { env: { HOME: wrongHome } });
  assert.equal(wrong.code, 5);
  assert.match(wrong.stderr, new RegExp(`password retrieved from file "${join(wrongHome, '.pgpass')}"`));
  assert.doesNotMatch(wrong.stderr, /not-it/);

  const loose = await runCli(['status', '--dir', dir, '--url', tcpUrl], { env: { HOME: home(t, lines.join('\n') + '\n', 0o644) } });
  assert.equal(loose.code, 5);
  assert.match(loose.stderr, /warning: password file ".*\.pgpass" has group or world access; permissions should be u=rw \(0600\) or less/);
  assert.match(loose.stderr, /no password was given/);
});

test('backup through a socket and the password file: pg_dump gets the same connection, the password only in its environment', async (t) => {
  const db = await freshDb(t);
  const socket = await serverSocket(db);
  if (!socket) return t.skip('the test server has no Unix socket on this machine');
  const role = await passwordRole(t, db, 'dump:secret');
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const env = { HOME: home(t, `${escapePgpass(socket.dir)}:${socket.port}:${db.name}:${role}:dump\\:secret\n`) };
  const url = `postgres://${role}@/${db.name}?host=${socket.dir}&port=${socket.port}`;
  const r = await runCli(['up', '--backup', '--backup-dir', join(root, 'backups'), '--dir', dir, '--url', url], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readdirSync(join(root, 'backups')).filter((f) => f.endsWith('.dump')).length, 1);
  assert.deepEqual(await tables(db), ['seen', 'sqlmig_history', 'users']);
  assert.equal(await seenFrom(db), 'socket');
});

test('IPv6 loopback: postgres://…@[::1]:port/db', async (t) => {
  const db = await freshDb(t);
  const [row] = await db.sql<{ listen: string }[]>`select current_setting('listen_addresses') as listen`;
  if (!(await canBind('::1')) || !/(^|,)\s*(::1|\*)\s*(,|$)/.test(row!.listen)) return t.skip('no IPv6 loopback here, or the test server does not listen on it');
  const { dir } = writeMigrations(t, MIGRATIONS);
  const u = new URL(db.url);
  const r = await runCli(['up', '--dir', dir, '-v', '--url', `postgres://${u.username}:${u.password}@[::1]:${u.port}/${db.name}`], { env: { HOME: home(t) } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /database postgres:\/\/postgres:\*\*\*@\[::1\]:/);
  assert.equal(await seenFrom(db), '::1');
});

test('PGSSLMODE and sslmode=: disable and allow connect to a server without SSL, require says why it cannot', async (t) => {
  const db = await freshDb(t);
  const [ssl] = await db.sql<{ on: string }[]>`select current_setting('ssl') as on`;
  if (ssl!.on === 'on') return t.skip('the test server has SSL on');
  const { dir } = writeMigrations(t, MIGRATIONS);
  for (const mode of ['disable', 'allow', 'prefer']) {
    const r = await runCli(['status', '--dir', dir, '--url', db.url], { env: { HOME: home(t), PGSSLMODE: mode } });
    assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
  }
  const required = await runCli(['up', '--dir', dir, '--url', db.url], { env: { HOME: home(t), PGSSLMODE: 'require' } });
  assert.equal(required.code, 5);
  assert.match(required.stderr, /does not accept SSL connections, and sslmode=require requires one/);
  assert.match(required.stderr, /use sslmode=prefer or sslmode=disable/);
  const inUrl = await runCli(['status', '--dir', dir, '--url', `${db.url}?sslmode=require`], { env: { HOME: home(t) } });
  assert.equal(inUrl.code, 5);
  assert.match(inUrl.stderr, /sslmode=require requires one/);
  const verify = await runCli(['status', '--dir', dir, '--url', `${db.url}?sslmode=verify-full`], { env: { HOME: home(t) } });
  assert.equal(verify.code, 2);
  assert.match(verify.stderr, /root certificate file ".*root\.crt" does not exist/);
  const bad = await runCli(['status', '--dir', dir, '--url', db.url], { env: { HOME: home(t), PGSSLMODE: 'yes' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /PGSSLMODE: "yes" is not an sslmode/);
  assert.deepEqual(await tables(db), []);
});

test('an unencoded @ in a password connects and is masked whole; ?password= is a password, masked in -v, errors and JSON', async (t) => {
  const db = await freshDb(t);
  const role = await passwordRole(t, db, 'Hun@ter2');
  const { dir } = writeMigrations(t, MIGRATIONS);
  const u = new URL(db.url);
  const atUrl = `postgres://${role}:Hun@ter2@${u.host}/${db.name}`;
  const up = await runCli(['up', '--dir', dir, '-v', '--url', atUrl], { env: { HOME: home(t) } });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, new RegExp(`postgres://${role}:\\*\\*\\*@${u.host}/`));
  assert.doesNotMatch(up.stdout + up.stderr, /ter2|Hun/);

  const queryUrl = `postgres://${role}@${u.host}/${db.name}?password=Hun%40ter2`;
  const status = await runCli(['status', '--json', '-v', '--dir', dir, '--url', queryUrl], { env: { HOME: home(t) } });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stderr, /password=\*\*\*/);
  assert.doesNotMatch(status.stdout + status.stderr, /ter2/);
  const [sent] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_settings where name = 'password'`;
  assert.equal(sent!.n, 0);

  const wrong = await runCli(['status', '--json', '-v', '--dir', dir, '--url', `postgres://${role}@${u.host}/${db.name}?password=Wr0ng@pw`], { env: { HOME: home(t) } });
  assert.equal(wrong.code, 5);
  assert.equal(JSON.parse(wrong.stdout).error.code, 5);
  assert.match(JSON.parse(wrong.stdout).error.message, /password=\*\*\*/);
  assert.doesNotMatch(wrong.stdout + wrong.stderr, /Wr0ng/);
});

test('an unencoded % in a password is refused before connecting: exit 2 with the fix, the password not shown', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const u = new URL(db.url);
  const r = await runCli(['up', '--json', '--dir', dir, '--url', `postgres://postgres:50%off@${u.host}/${db.name}`], { env: { HOME: home(t) } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--url: the password holds a "%" that is not followed by two hex digits; percent-encode a literal % as %25/);
  assert.doesNotMatch(r.stdout + r.stderr, /50%off|URI malformed/);
  assert.deepEqual(await tables(db), []);
  // Encoded as the message says, it is a password like any other.
  const role = await passwordRole(t, db, '50%off');
  const ok = await runCli(['up', '--dir', dir, '--url', `postgres://${role}:50%25off@${u.host}/${db.name}`], { env: { HOME: home(t) } });
  assert.equal(ok.code, 0, ok.stderr);
});
