/**
 * A throwaway PostgreSQL server for tests: SQLMIG_TEST_DATABASE_URL if set, else a testcontainers
 * container when a Docker engine answers, else a cluster from the local PostgreSQL binaries
 * (initdb/pg_ctl on PATH or under /usr/lib/postgresql/N/bin) on a free loopback port (IPv4, and IPv6 where
 * available), with its Unix socket in its own temporary folder and password (SCRAM) authentication everywhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface TestServer {
  /** A superuser URL on the maintenance database, with a password. */
  adminUrl: string;
  how: 'env' | 'container' | 'local';
  stop(): Promise<void>;
}

export const TEST_PASSWORD = 'sqlmig-test-secret';

export async function startTestServer(): Promise<TestServer> {
  const fromEnv = process.env['SQLMIG_TEST_DATABASE_URL'];
  if (fromEnv) return { adminUrl: fromEnv, how: 'env', stop: async () => {} };
  const container = await tryContainer();
  if (container) return container;
  return startLocalCluster();
}

async function tryContainer(): Promise<TestServer | null> {
  if (process.env['SQLMIG_TEST_NO_DOCKER']) return null;
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const started = await new PostgreSqlContainer(`postgres:${localClientMajor() ?? 16}-alpine`).withPassword(TEST_PASSWORD).withUsername('postgres').withDatabase('postgres').start();
    return { adminUrl: started.getConnectionUri(), how: 'container', stop: async () => { await started.stop(); } };
  } catch (error) {
    if (/container runtime strategy|docker/i.test(String((error as Error).message))) return null;
    throw error;
  }
}

/** The server in a container matches the local pg_dump, which must be at least as new for backup tests. */
function localClientMajor(): number | null {
  try {
    const out = execFileSync(findPgBin('pg_dump'), ['--version'], { encoding: 'utf8' });
    return Number(/\(PostgreSQL\)\s+(\d+)/.exec(out)?.[1]) || null;
  } catch {
    return null;
  }
}

export function findPgBin(tool: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const candidate = join(root, v, 'bin', tool);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`PostgreSQL's ${tool} was not found on PATH or under ${root}/*/bin; install postgresql (apt-get install postgresql) or set SQLMIG_TEST_DATABASE_URL`);
}

/** A loopback port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start a server on a port that was free a moment ago; when someone else took it in between (tests and
 * other test runs share the machine), try another one. `log` is where the server says why it stopped
 * (else the error thrown by `start` must say it).
 */
export async function onFreePort(log: string | null, start: (port: number) => unknown, attempts = 5): Promise<number> {
  const read = () => (log && existsSync(log) ? readFileSync(log, 'utf8') : '');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logged = read().length;
    try {
      await start(port);
      return port;
    } catch (error) {
      const said = read().slice(logged);
      if (attempt >= attempts || !/address already in use/i.test(`${said}\n${(error as Error).message}`)) throw error;
    }
  }
}

/** Whether a server can listen on this address here (IPv6 loopback is missing in some containers). */
export function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, address, () => server.close(() => resolve(true)));
  });
}

async function startLocalCluster(): Promise<TestServer> {
  const initdb = findPgBin('initdb');
  const pgCtl = findPgBin('pg_ctl');
  const asRoot = process.getuid?.() === 0;
  const root = mkdtempSync(join(tmpdirForNobody(), 'sqlmig-pg-'));
  const data = join(root, 'data');
  const pwfile = join(root, 'pw');
  writeFileSync(pwfile, TEST_PASSWORD + '\n');
  // initdb refuses to run as root: run the cluster as an unprivileged user.
  const uid = asRoot ? 65534 : undefined;
  const gid = asRoot ? 65534 : undefined;
  if (asRoot) {
    chownSync(root, uid!, gid!);
    chownSync(pwfile, uid!, gid!);
    chmodSync(root, 0o755);
  }
  const run = (file: string, args: string[]) => execFileSync(file, args, { uid, gid, cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  run(initdb, ['--no-sync', '-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C']);
  // Also on IPv6 loopback where this machine has it, so [::1] URLs can be tested; the socket lives in `root`.
  const listen = (await canBind('::1')) ? '127.0.0.1,::1' : '127.0.0.1';
  const port = await onFreePort(join(root, 'log'), (p) => {
    const options = `-p ${p} -c listen_addresses=${listen} -c unix_socket_directories=${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run(pgCtl, ['-D', data, '-o', options, '-l', join(root, 'log'), '-w', '-t', '60', 'start']);
  });
  return {
    adminUrl: `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/postgres`,
    how: 'local',
    stop: async () => {
      try { run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* already gone */ }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * A temporary folder for what a process run as nobody (when the tests run as root) must reach: the
 * temporary folder when every folder above it lets others in (a TMPDIR inside a 0700 checkout does
 * not), else /tmp.
 */
export function tmpdirForNobody(): string {
  if (process.getuid?.() !== 0) return tmpdir();
  for (const candidate of [tmpdir(), '/tmp']) {
    let path = resolve(candidate);
    let open = true;
    for (;;) {
      if ((statSync(path).mode & 0o001) === 0) open = false;
      const parent = dirname(path);
      if (parent === path) break;
      path = parent;
    }
    if (open) return resolve(candidate);
  }
  throw new Error(`neither ${tmpdir()} nor /tmp can be entered by other users, so the test cluster (run as nobody: initdb refuses root) has nowhere to live; set TMPDIR to such a folder, or set SQLMIG_TEST_DATABASE_URL`);
}
