/** What tests share: a fresh database, a folder of migrations, and the real CLI run as a child process. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startTestServer, type TestServer } from './server.js';
import { copyPgliteTemplate } from './pglite.js';

export const binPath = fileURLToPath(new URL('../../bin/sqlmig', import.meta.url));

interface TestContext { after(fn: () => unknown): void }

let server: Promise<TestServer> | undefined;
let admin: postgres.Sql | undefined;

async function adminSql(): Promise<{ sql: postgres.Sql; url: string }> {
  server ??= startTestServer().then((s) => {
    if (s.how !== 'env') process.on('exit', () => void s.stop());
    return s;
  });
  const { adminUrl } = await server;
  admin ??= postgres(adminUrl, { max: 2, onnotice: () => {} });
  return { sql: admin, url: adminUrl };
}

export interface FreshDb {
  url: string;
  name: string;
  /** A client on the fresh database, for assertions. */
  sql: postgres.Sql;
}

/** A new, empty database on the test server, dropped after the test. */
export async function freshDb(t: TestContext): Promise<FreshDb> {
  const { sql: root, url: adminUrl } = await adminSql();
  const name = `sqlmig_t_${randomBytes(6).toString('hex')}`;
  await root.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  t.after(async () => {
    await sql.end({ timeout: 1 });
    await root.unsafe(`drop database if exists ${name} with (force)`);
  });
  return { url: url.toString(), name, sql };
}

/** The admin URL of the test server (a superuser). */
export async function adminUrl(): Promise<string> {
  return (await adminSql()).url;
}

/** Close the shared admin client so the test process can exit. Call from a top-level after(). */
export async function closeAdmin(): Promise<void> {
  await admin?.end({ timeout: 1 });
  admin = undefined;
}

/** A temporary project folder with `sql/` holding the given files; removed after the test. */
export function writeMigrations(t: TestContext, files: Record<string, string>): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-test-'));
  const dir = join(root, 'sql');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  // A child that was just killed may still be writing its PGlite folder: retry instead of failing the test.
  t.after(() => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return { root, dir };
}

/** A fresh embedded database folder inside `root`, as a pglite: URL. */
export async function freshPglite(root: string): Promise<string> {
  return `pglite:${await copyPgliteTemplate(root)}`;
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** The environment a user would have, without this machine's database settings leaking in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(PG|SQLMIG_|DATABASE_URL$|NO_COLOR$|FORCE_COLOR$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** A command that runs the CLI (as `prefix... node bin/sqlmig args...`), e.g. setpriv from ./unprivileged.js. */
  prefix?: string[];
}

function command(args: string[], prefix: string[] = []): [string, string[]] {
  const full = [...prefix, process.execPath, binPath, ...args];
  return [full[0]!, full.slice(1)];
}

/** Run the real bin/sqlmig, as users do, and collect its exit code and output. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const [file, argv] = command(args, options.prefix);
    const child = execFile(file, argv, {
      cwd: options.cwd ?? tmpdir(), env: cleanEnv(options.env), maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

export interface SpawnedCli {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** What it has printed so far: a marker to wait for before acting (see waitFor). */
  printed(): { stdout: string; stderr: string };
}

/** Start the CLI without waiting, for signal and concurrency tests. */
export function spawnCli(args: string[], options: RunOptions = {}): SpawnedCli {
  const [file, argv] = command(args, options.prefix);
  const child = spawn(file, argv, { cwd: options.cwd ?? tmpdir(), env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr }));
  });
  return { child, done, printed: () => ({ stdout, stderr }) };
}

/** Wait until a condition holds (polling), for tests that must act while a child is mid-migration. The default bound only ends a run that is stuck: on a loaded machine the CLI may take tens of seconds to get there. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Versions recorded in the default history table, in order; empty when it does not exist yet. */
export async function versions(db: { sql: postgres.Sql }): Promise<string[]> {
  const [table] = await db.sql`select to_regclass('sqlmig_history') is not null as found`;
  if (!table!['found']) return [];
  return (await db.sql`select version::text as v from sqlmig_history order by version`).map((r) => r['v'] as string);
}

export async function exists(db: { sql: postgres.Sql }, relation: string): Promise<boolean> {
  const [row] = await db.sql`select to_regclass(${relation}) is not null as found`;
  return row!['found'] as boolean;
}

/** The pid of the backend that runs `pg_sleep` (a migration mid-statement), once the server shows it. */
export async function sleepingBackend(db: FreshDb): Promise<number> {
  let pid = 0;
  await waitFor(async () => {
    const rows = await db.sql`select pid from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and state = 'active' and query like '%pg_sleep%'`;
    pid = (rows[0]?.['pid'] as number | undefined) ?? 0;
    return pid !== 0;
  }, 'a migration to sleep on the server');
  return pid;
}

/** The scratch database (a temporary `sqlmig_verify_…` one on the test server) where a statement holding `marker` runs, once it shows. */
export async function scratchRunning(db: FreshDb, marker: string): Promise<string> {
  let name = '';
  await waitFor(async () => {
    const rows = await db.sql`select datname from pg_stat_activity where datname like 'sqlmig\\_verify\\_%' and state = 'active' and query like ${`%${marker}%`}`;
    name = (rows[0]?.['datname'] as string | undefined) ?? '';
    return name !== '';
  }, `a statement with ${marker} to run on the scratch database`);
  return name;
}

/**
 * A pause for SQL that must be slow per row on the target only: it sleeps where `slowHere` was called
 * for the database, and not on the scratch databases an online run proves its plan on.
 */
export const pauseOnTarget = (seconds: number) => `pg_sleep(case when current_setting('sqlmig_test.slow', true) = 'on' then ${seconds} else 0 end)`;

export async function slowHere(db: FreshDb): Promise<void> {
  const [{ name }] = await db.sql`select current_database() as name` as unknown as [{ name: string }];
  await db.sql.unsafe(`alter database "${name}" set sqlmig_test.slow = 'on'`);
}

/**
 * Run the real bin/sqlmig on a pseudo-terminal (util-linux `script`) and return what it printed;
 * null when `script` is not installed (the caller skips, saying why).
 */
export async function onTerminal(args: string[]): Promise<string | null> {
  const { execFileSync } = await import('node:child_process');
  let script: string;
  try {
    script = execFileSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return execFileSync(script, ['-qec', [process.execPath, binPath, ...args].map(quote).join(' '), '/dev/null'], { encoding: 'utf8', env: cleanEnv() });
}
