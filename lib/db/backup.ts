/**
 * Backups: pg_dump / pg_restore for a server (found on PATH or under /usr/lib/postgresql/N/bin, new enough
 * for the server, given the password only through their environment), and pgDump for embedded PGlite.
 * Files are written under a temporary name in the same folder and renamed when complete.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { chmod, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Db } from './index.js';
import { BackupFailed } from '../errors.js';
import { clientFiles } from './clientfiles.js';
import { resolveConnection } from './conninfo.js';
import { libpqEnvironment } from './driveroptions.js';
import { maskSecret } from './url.js';
import { ensureFolder, FolderUnusable } from '../folders.js';

export type BackupFormat = 'custom' | 'plain';
export type PgToolName = 'pg_dump' | 'pg_restore';

export interface PgTool { name: PgToolName; path: string; version: string; major: number }

const VERSIONED_ROOT = '/usr/lib/postgresql';
/** process.env's shape, without @types/node's NodeJS.ProcessEnv in the published types. */
type Env = Record<string, string | undefined>;

/** The newest pg_dump/pg_restore whose major version is at least the server's; PATH order breaks ties. */
export async function findPgTool(name: PgToolName, serverMajor: number, env: Env = process.env): Promise<PgTool> {
  const found = (await Promise.all(toolCandidates(name, env).map((path) => toolVersion(name, path)))).filter((t): t is PgTool => t !== null);
  const usable = found.filter((t) => t.major >= serverMajor).sort((a, b) => b.major - a.major);
  if (usable[0]) return usable[0];
  const seen = found.length ? `found only ${found.map((t) => `${t.path} (${t.version})`).join(', ')}` : `none found on PATH or under ${VERSIONED_ROOT}/*/bin`;
  throw new BackupFailed(
    `${name} ${serverMajor} or newer is needed for this PostgreSQL ${serverMajor} server; ${seen}. ` +
    `Install the PostgreSQL ${serverMajor} client tools (e.g. apt-get install postgresql-client-${serverMajor}, or brew install libpq) ` +
    `and put ${name} on PATH. Nothing was changed.`);
}

function toolCandidates(name: string, env: Env): string[] {
  const onPath = (env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  const versions = existsSync(VERSIONED_ROOT) ? readdirSync(VERSIONED_ROOT).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const versioned = versions.map((v) => join(VERSIONED_ROOT, v, 'bin', name));
  const seen = new Set<string>(); // /bin and /usr/bin are often one folder: list each program once
  return [...onPath, ...versioned].filter((path) => {
    if (!isExecutableFile(path)) return false;
    const real = realpathSync(path);
    return !seen.has(real) && Boolean(seen.add(real));
  });
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function toolVersion(name: PgToolName, path: string): Promise<PgTool | null> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 10_000 }, (error, stdout) => {
      const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)/.exec(String(stdout));
      resolve(error || !match ? null : { name, path, version: match[1]!, major: Number(match[2]) });
    });
  });
}

/**
 * libpq's environment for a postgres:// URL, resolved as sqlmig's own connection is (URL, then PG*, then the
 * password file): the tool reaches the same server as the same user; the password travels here, never on a command line.
 */
export function libpqEnv(url: string, base: Env = process.env): { env: Env; secret?: string } {
  const info = resolveConnection(url, base, clientFiles(base));
  return { env: libpqEnvironment(info, base), secret: info.password };
}

interface RunOptions { env: Env; secret?: string; signal?: AbortSignal }

/** Run a client tool; a non-zero exit becomes BackupFailed with its (masked) error output. */
export function runPgTool(tool: PgTool, args: string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool.path, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 64_000) stderr += d; });
    child.on('error', (error) => reject(options.signal?.aborted ? error : new BackupFailed(`cannot run ${tool.path}: ${error.message}`, { cause: error })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(stdout);
      const why = maskSecret(stderr.trim(), options.secret) || (signal ? `killed by ${signal}` : `exit code ${code}`);
      reject(new BackupFailed(`${tool.name} (${tool.path}, ${tool.version}) failed: ${why}`));
    });
  });
}

export interface ServerTarget { url: string; database: string; serverMajor: number; lockTimeoutMs: number; signal?: AbortSignal }

/** pg_dump in custom format into `file`. */
export async function dumpServer(file: string, target: ServerTarget): Promise<void> {
  const tool = await findPgTool('pg_dump', target.serverMajor);
  const args = ['--format=custom', `--file=${file}`, '--no-password', `--lock-wait-timeout=${target.lockTimeoutMs}`, `--dbname=${dbnameArg(target.database)}`];
  await runPgTool(tool, args, { ...libpqEnv(target.url), signal: target.signal });
}

/** pg_restore of a custom-format archive, all or nothing. */
export async function restoreServer(file: string, target: ServerTarget): Promise<void> {
  const tool = await findPgTool('pg_restore', target.serverMajor);
  const args = ['--clean', '--if-exists', '--single-transaction', '--no-owner', '--no-password', `--dbname=${dbnameArg(target.database)}`, file];
  await runPgTool(tool, args, { ...libpqEnv(target.url), signal: target.signal });
}

/** The tables a custom-format archive holds, as "schema.table" (from `pg_restore --list`). */
export async function archiveTables(file: string, serverMajor: number): Promise<Set<string>> {
  const listing = await runPgTool(await findPgTool('pg_restore', serverMajor), ['--list', file], { env: process.env });
  return new Set([...listing.matchAll(/^\d+;\s+\d+\s+\d+\s+TABLE\s+(?!DATA\s)(\S+)\s+(\S+)/gm)].map((m) => `${m[1]}.${m[2]}`));
}

/** A database name as libpq's dbname argument: a name with `=` or a URI prefix would be read as a connection string. */
function dbnameArg(name: string): string {
  return /^[\w.-]+$/.test(name) && !/^postgres(ql)?:/.test(name) ? name : `dbname='${name.replace(/[\\']/g, '\\$&')}'`;
}

/**
 * Write `file` through `write(tmp)`: mode 0600, in the same folder, renamed only when complete; nothing partial stays.
 * `folderFrom` names where the folder came from (a flag), for the message when it cannot be used.
 */
export async function writeAtomically(file: string, write: (tmp: string) => Promise<void>, folderFrom = '--backup-dir'): Promise<number> {
  const folder = dirname(file);
  try {
    ensureFolder(folder, 0o700);
  } catch (error) {
    const reason = error instanceof FolderUnusable ? error.reason : (error as Error).message;
    throw new BackupFailed(`cannot use the backup folder ${folder}: ${reason}. Choose a folder you can write to with ${folderFrom}. Nothing was changed.`, { cause: error });
  }
  const tmp = join(folder, `.${basename(file)}.${process.pid}.partial`);
  try {
    await (await open(tmp, 'wx', 0o600)).close();
  } catch (error) {
    throw new BackupFailed(`cannot write in the backup folder ${folder}: ${(error as Error).message}. Nothing was changed.`, { cause: error });
  }
  try {
    await write(tmp);
    await chmod(tmp, 0o600);
    const { size } = statSync(tmp);
    if (size === 0) throw new BackupFailed(`the backup came out empty; ${file} was not written. Nothing was changed.`);
    await rename(tmp, file);
    return size;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The first bytes say which kind of backup a file holds. */
export async function backupFormat(file: string): Promise<BackupFormat | null> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    const head = buffer.subarray(0, bytesRead).toString('latin1');
    if (head.startsWith('PGDMP')) return 'custom';
    return /^(--|SET |\s)/.test(head) ? 'plain' : null;
  } finally {
    await handle.close();
  }
}

/** Embedded: a plain SQL dump through PGlite's own pg_dump (WASM), with the session left as it was. */
export async function dumpPglite(db: Db, file: string): Promise<void> {
  const { pgDump } = await import('@electric-sql/pglite-tools');
  let text = '';
  try {
    await keepingSessionSettings(db, async () => {
      text = await (await pgDump({ pg: db.pglite!() as PGlite, args: ['--no-owner'] })).text();
    });
  } catch (error) {
    throw new BackupFailed(`pg_dump of the embedded database failed: ${(error as Error).message}. Nothing was changed.`, { cause: error });
  }
  await writeFile(file, text);
}

/** Embedded: replace every user schema with the dump's content, in one transaction. */
export async function restorePglite(db: Db, file: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const extensions = [...text.matchAll(/^CREATE EXTENSION IF NOT EXISTS ("[^"]+"|\S+)/gm)].map((m) => m[1]!.replace(/"/g, ''));
  if (extensions.length) await db.ensureExtensions?.(extensions);
  await keepingSessionSettings(db, () => db.transaction(async (tx) => {
    const schemas = await tx.query<{ name: string }>(
      `select quote_ident(nspname) as name from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'`);
    for (const { name } of schemas) await tx.exec(`drop schema ${name} cascade`);
    // The public schema as a new database has it (pg_dump writes only what differs from that, its comment included).
    await tx.exec(`create schema public authorization pg_database_owner; grant usage on schema public to public; comment on schema public is 'standard public schema'`);
    await tx.exec(text);
  }));
}

/**
 * pg_dump (and a dump's SET lines) change the session: read-only transaction left open, statement_timeout 0,
 * restrict_nonsystem_relation_kind… Put back what the session had before.
 */
async function keepingSessionSettings(db: Db, fn: () => Promise<void>): Promise<void> {
  const before = await db.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings where source = 'session' and name !~ '^transaction_'`);
  try {
    await fn();
  } finally {
    await db.exec('rollback').catch(() => {}); // only pg_dump leaves one open; outside a transaction this is a warning
    await db.exec('reset all');
    for (const { name, setting } of before) await db.query('select set_config($1, $2, false)', [name, setting]);
  }
}
