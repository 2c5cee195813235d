/** Where settings come from: flags beat environment, environment beats the package.json "sqlmig" key. */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { UsageError } from './errors.js';
import { formatConnectionUri, isConnectionUri, parseConnectionUri } from './db/uri.js';
import type { Target } from './db/url.js';

export interface Flags {
  url?: string;
  dir?: string;
  schema?: string;
  table?: string;
  backupDir?: string;
  lockTimeout?: string | number;
  statementTimeout?: string | number;
  ddlLockTimeout?: string | number;
  lint?: string;
  schemaFile?: string;
  onlineLockTimeout?: string | number;
  lockRetries?: number;
  batchSize?: number;
}

/** What up and validate do with lint findings on the migrations they are about to apply. */
export type LintMode = 'off' | 'warn' | 'error';

export interface PackageConfig {
  url?: string;
  dir?: string;
  table?: string;
  schema?: string;
  backupDir?: string;
  lockTimeout?: string | number;
  statementTimeout?: string | number;
  ddlLockTimeout?: string | number;
  schemaFile?: string;
  lint?: unknown;
  /** lint: a table below both is small, and its blocking findings are warnings: { "rows": 10000, "size": "10MB" }. */
  lintSmallTable?: unknown;
  /** up/down run online by default. */
  online?: unknown;
  targets?: unknown;
}

export interface Settings {
  /** null when no database was given: commands that need one throw `noDatabase()`. */
  target: Target | null;
  dir: string;
  schema: string;
  table: string;
  backupDir: string;
  lockTimeoutMs: number;
  statementTimeoutMs?: number;
  ddlLockTimeoutMs?: number;
  lint: LintMode;
  /** lint: below these a live table is small (default 10,000 rows and 10 MB). */
  lintSmallTable?: { rows: number; bytes: number };
  /** Online runs (config "online"; --online on up/down): defaults and the step settings. */
  online: boolean;
  onlineLockTimeoutMs?: number;
  lockRetries?: number;
  batchSize?: number;
  /** diff: the desired schema (--schema-file, else "schemaFile" next to the config, else ./schema.sql). */
  schemaFile: string;
  /** The package.json the config came from, if any. */
  configFile: string | null;
  /** Its "targets" as written (a fleet; checked by lib/fleet/targets.ts). */
  configTargets?: unknown;
  /** Said on stderr, not fatal (a malformed package.json that holds no sqlmig settings). */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

export interface FoundConfig { file: string; config: PackageConfig }

/** A package.json on the way up that is not valid JSON; `hadConfig` when its text has a "sqlmig" key. */
export interface UnreadableConfig { file: string; reason: string; hadConfig: boolean }

/**
 * The nearest package.json with a "sqlmig" key. A malformed one without that key cannot hold our settings:
 * it is noted and the search goes on. A malformed one with it ends the search: its settings are unknown.
 */
export function searchPackageConfig(cwd: string): { found: FoundConfig | null; unreadable: UnreadableConfig[] } {
  const unreadable: UnreadableConfig[] = [];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
        const json = JSON.parse(text) as { sqlmig?: PackageConfig };
        if (json?.sqlmig) return { found: { file, config: json.sqlmig }, unreadable };
      } catch (error) {
        const hadConfig = /"sqlmig"\s*:/.test(text);
        unreadable.push({ file, reason: (error as Error).message, hadConfig });
        if (hadConfig) return { found: null, unreadable };
      }
    }
    if (dirname(dir) === dir) return { found: null, unreadable };
  }
}

/** The nearest "sqlmig" config; a malformed package.json that holds one is a usage error. */
export function findPackageConfig(cwd: string): FoundConfig | null {
  const { found, unreadable } = searchPackageConfig(cwd);
  const blocking = unreadable.find((u) => u.hadConfig);
  if (blocking) throw new UsageError(`${blocking.file}: not valid JSON (${blocking.reason})`);
  return found;
}

export function resolveSettings(flags: Flags, env: Env = process.env, cwd = process.cwd()): Settings {
  const search = searchPackageConfig(cwd);
  const warnings = search.unreadable.filter((u) => !u.hadConfig).map((u) => `${u.file} is not valid JSON (${u.reason}); it holds no "sqlmig" settings, so it was skipped`);
  const blocking = search.unreadable.find((u) => u.hadConfig);
  if (blocking) {
    // Its settings are unknown: go on only when nothing that decides the database, folder or history table would come from it.
    const needed = [['--url', flags.url ?? env['DATABASE_URL']], ['--dir', flags.dir ?? env['SQLMIG_DIR']], ['--schema', flags.schema], ['--table', flags.table]]
      .filter(([, given]) => given === undefined).map(([name]) => name);
    if (needed.length) {
      throw new UsageError(`${blocking.file}: not valid JSON (${blocking.reason}), so its "sqlmig" settings cannot be read. ` +
        `Fix the file, or give ${needed.join(', ')} to run without it.`);
    }
    warnings.push(`${blocking.file} is not valid JSON (${blocking.reason}); its "sqlmig" settings were ignored (--url, --dir, --schema and --table are given)`);
  }
  const found = search.found;
  const config = found?.config ?? {};
  const configDir = found ? dirname(found.file) : cwd;
  const fromConfig = (p: string) => (isAbsolute(p) ? p : join(configDir, p));

  // With a package.json config, the default folder is next to it, so sqlmig works from any subfolder.
  const dir = flags.dir ?? env['SQLMIG_DIR'] ?? fromConfig(config.dir ?? 'sql');
  const url = flags.url ?? env['DATABASE_URL'] ?? (config.url ? configUrl(config.url, fromConfig) : undefined) ?? libpqUrl(env);
  const lockTimeout = flags.lockTimeout ?? config.lockTimeout ?? '60s';
  const statementTimeout = flags.statementTimeout ?? config.statementTimeout;
  const ddlLockTimeout = flags.ddlLockTimeout ?? config.ddlLockTimeout;
  return {
    target: url ? parseTarget(url, urlSource(flags, env, found)) : null,
    dir: resolve(cwd, dir),
    schema: checkName(flags.schema ?? config.schema ?? 'public', flags.schema !== undefined ? '--schema' : `${found?.file} "sqlmig".schema`),
    table: checkName(flags.table ?? config.table ?? 'sqlmig_history', flags.table !== undefined ? '--table' : `${found?.file} "sqlmig".table`),
    backupDir: resolve(cwd, flags.backupDir ?? (config.backupDir ? fromConfig(config.backupDir) : 'backups')),
    lockTimeoutMs: parseDuration(lockTimeout, '--lock-timeout'),
    statementTimeoutMs: statementTimeout === undefined ? undefined : parseDuration(statementTimeout, '--statement-timeout'),
    ddlLockTimeoutMs: ddlLockTimeout === undefined ? undefined : parseDuration(ddlLockTimeout, '--ddl-lock-timeout'),
    lint: lintMode(flags.lint ?? config.lint, flags.lint !== undefined ? '--lint' : 'package.json "sqlmig".lint'),
    ...(config.lintSmallTable !== undefined ? { lintSmallTable: smallTable(config.lintSmallTable, `${found?.file} "sqlmig".lintSmallTable`) } : {}),
    ...onlineSettings(flags, config, found?.file),
    schemaFile: resolve(cwd, flags.schemaFile ?? fromConfig(config.schemaFile ?? 'schema.sql')),
    configFile: found?.file ?? null,
    ...(config.targets !== undefined ? { configTargets: config.targets } : {}),
    warnings,
  };
}

/** Where the URL came from, for messages about it. */
function urlSource(flags: Flags, env: Env, found: FoundConfig | null): string {
  if (flags.url !== undefined) return '--url';
  if (env['DATABASE_URL'] !== undefined) return 'DATABASE_URL';
  return found?.config.url ? `${found.file} "sqlmig".url` : 'PGHOST/PGDATABASE';
}

/** A schema or table name: PostgreSQL has no empty identifier and cuts long ones at 63 bytes. */
export function checkName(name: unknown, source: string): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new UsageError(`${source}: expected a name, got ${JSON.stringify(name)}; give a name or leave it out for the default`);
  }
  if (name.includes('\0')) throw new UsageError(`${source}: a name cannot contain a NUL character`);
  if (Buffer.byteLength(name) > 63) throw new UsageError(`${source}: "${name}" is longer than PostgreSQL's 63-byte limit for names`);
  return name;
}

function onlineSettings(flags: Flags, config: PackageConfig, file: string | undefined): Pick<Settings, 'online' | 'onlineLockTimeoutMs' | 'lockRetries' | 'batchSize'> {
  if (config.online !== undefined && typeof config.online !== 'boolean') throw new UsageError(`${file} "sqlmig".online: expected true or false, got ${JSON.stringify(config.online)}`);
  const whole = (value: number | undefined, flag: string, min: number) => {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < min) throw new UsageError(`${flag}: expected a whole number, ${min} or more, got ${value}`);
    return value;
  };
  const timeout = flags.onlineLockTimeout === undefined ? undefined : parseDuration(flags.onlineLockTimeout, '--online-lock-timeout');
  return {
    online: config.online === true,
    ...(timeout !== undefined ? { onlineLockTimeoutMs: timeout } : {}),
    ...(flags.lockRetries !== undefined ? { lockRetries: whole(flags.lockRetries, '--lock-retries', 0) } : {}),
    ...(flags.batchSize !== undefined ? { batchSize: whole(flags.batchSize, '--batch-size', 1) } : {}),
  };
}

function lintMode(value: unknown, where: string): LintMode {
  if (value === undefined) return 'warn';
  if (value === 'off' || value === 'warn' || value === 'error') return value;
  throw new UsageError(`${where}: expected off, warn or error, got ${JSON.stringify(value)}`);
}

/** `{ "rows": 10000, "size": "10MB" }` (either may be left out for its default; a size is bytes or "512kB", "10MB", "1GB"). */
function smallTable(value: unknown, where: string): { rows: number; bytes: number } {
  const fix = `expected { "rows": 10000, "size": "10MB" }`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where}: ${fix}, got ${JSON.stringify(value)}`);
  const { rows = 10_000, size = 10 * 1024 * 1024, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new UsageError(`${where}: unknown key ${JSON.stringify(unknown[0])}; ${fix}`);
  if (typeof rows !== 'number' || !Number.isFinite(rows) || rows < 0) throw new UsageError(`${where}.rows: expected a number of rows, got ${JSON.stringify(rows)}`);
  const match = typeof size === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(bytes|B|kB|KB|MB|GB|TB)?\s*$/.exec(size) : null;
  const scale: Record<string, number> = { bytes: 1, B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  const bytes = typeof size === 'number' ? size : match ? Number(match[1]) * scale[match[2] ?? 'bytes']! : NaN;
  if (!Number.isFinite(bytes) || bytes < 0) throw new UsageError(`${where}.size: expected bytes or a size such as "10MB", got ${JSON.stringify(size)}`);
  return { rows, bytes };
}

/** A relative pglite: path in package.json is relative to that package.json, not to where sqlmig runs. */
function configUrl(url: string, fromConfig: (p: string) => string): string {
  if (url.startsWith('pglite:') && url !== 'pglite:memory') return `pglite:${fromConfig(url.slice(7))}`;
  return url;
}

/** libpq's variables, used only when PGHOST or PGDATABASE says the user means them; the rest of PG* applies when connecting. */
function libpqUrl(env: Env): string | undefined {
  if (!env['PGHOST'] && !env['PGDATABASE']) return undefined;
  const list = (v: string | undefined) => (v ? v.split(',') : []);
  return formatConnectionUri({ user: env['PGUSER'] || undefined, hosts: list(env['PGHOST']), ports: list(env['PGPORT']), database: env['PGDATABASE'] || undefined, params: [] });
}

/** Check a database URL as given; `source` names where it came from in messages. */
export function parseTarget(url: string, source = '--url'): Target {
  if (url.startsWith('pglite:')) {
    const path = url.slice('pglite:'.length);
    if (!path) throw new UsageError(`${source}: pglite: needs a folder (pglite:./.sqlmig/dev) or pglite:memory`);
    if (path === 'memory') return { kind: 'pglite', path: null, url };
    const folder = pgliteFolder(path, source);
    return { kind: 'pglite', path: folder, url: `pglite:${folder}` };
  }
  if (isConnectionUri(url)) {
    parseConnectionUri(url, source);
    return { kind: 'server', url };
  }
  throw new UsageError(`${source}: expected postgres://… , postgresql://… , pglite:PATH or pglite:memory`);
}

/** The folder an embedded database lives in: a symbolic link is followed to its folder; anything but a folder is refused. */
function pgliteFolder(path: string, source: string): string {
  const folder = resolve(path);
  let entry;
  try {
    entry = lstatSync(folder);
  } catch {
    return folder; // created on first use
  }
  if (entry.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(folder);
    } catch {
      throw new UsageError(`${source}: pglite:${path} is a symbolic link to ${readlinkSync(folder)}, which does not exist; create that folder, or point pglite: at a folder`);
    }
    if (!statSync(real).isDirectory()) throw new UsageError(`${source}: pglite:${path} is a symbolic link to ${real}, which is not a folder; pglite: needs a folder`);
    return real;
  }
  if (!entry.isDirectory()) throw new UsageError(`${source}: pglite:${path} is a file, not a folder; pglite: needs a folder (created on first use)`);
  return folder;
}

export function noDatabase(): UsageError {
  return new UsageError(
    'no database given: pass --url postgres://user:password@host/db (or pglite:./folder), set DATABASE_URL, ' +
    'add "sqlmig": { "url": … } to package.json, or set PGHOST/PGDATABASE',
  );
}
