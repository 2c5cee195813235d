/**
 * Where settings come from: flags beat environment, environment beats the config file — the nearest
 * sqlmig.config.json, .sqlmigrc.json or package.json "sqlmig" key on the way up, or --config FILE.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
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
  /** A config file to use instead of searching for one. */
  config?: string;
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
  /** The lock_timeout diff writes at the top of files that change existing tables; false or "off" for none. */
  diffLockTimeout?: string | number | false;
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
  /** diff: `SET lock_timeout = '…'` in the files it writes (config "diffLockTimeout", else --ddl-lock-timeout's, else 5s); null for none. */
  diffLockTimeout: string | null;
  /** The package.json the config came from, if any. */
  configFile: string | null;
  /** Its "targets" as written (a fleet; checked by lib/fleet/targets.ts). */
  configTargets?: unknown;
  /** Said on stderr, not fatal (a malformed package.json that holds no sqlmig settings). */
  warnings: string[];
  /** Said with --verbose: where a setting came from when that may surprise (DATABASE_URL from .env). */
  notes: string[];
}

type Env = Record<string, string | undefined>;

export interface FoundConfig { file: string; config: PackageConfig }

/** Config files of their own, in the order they are looked for in each folder; then package.json's "sqlmig" key. */
export const CONFIG_FILES = ['sqlmig.config.json', '.sqlmigrc.json'];

/** A package.json on the way up that is not valid JSON; `hadConfig` when its text has a "sqlmig" key. */
export interface UnreadableConfig { file: string; reason: string; hadConfig: boolean }

/**
 * The nearest package.json with a "sqlmig" key. A malformed one without that key cannot hold our settings:
 * it is noted and the search goes on. A malformed one with it ends the search: its settings are unknown.
 */
export function searchPackageConfig(cwd: string): { found: FoundConfig | null; unreadable: UnreadableConfig[] } {
  const unreadable: UnreadableConfig[] = [];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILES) {
      const own = join(dir, name);
      if (!existsSync(own)) continue;
      try {
        return { found: { file: own, config: configObject(JSON.parse(readFileSync(own, 'utf8')), own) }, unreadable };
      } catch (error) {
        unreadable.push({ file: own, reason: (error as Error).message, hadConfig: true });
        return { found: null, unreadable };
      }
    }
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

/** --config FILE: a sqlmig.config.json-style file, or a package.json whose "sqlmig" key is used. */
export function readConfigFile(path: string, cwd = process.cwd()): FoundConfig {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (basename(file) === 'package.json') {
    const config = (json as { sqlmig?: unknown } | null)?.sqlmig;
    if (config === undefined) throw new UsageError(`--config ${path}: this package.json has no "sqlmig" key`);
    return { file, config: configObject(config, `${path} "sqlmig"`) };
  }
  return { file, config: configObject(json, `--config ${path}`) };
}

function configObject(json: unknown, where: string): PackageConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new UsageError(`${where}: expected a JSON object of settings ({ "url": …, "dir": … })`);
  return json as PackageConfig;
}

/** How a key of this config file is named in messages: `package.json "sqlmig".url` or `sqlmig.config.json "url"`. */
function keyName(found: FoundConfig | null, key: string): string {
  if (!found) return `config "${key}"`;
  return basename(found.file) === 'package.json' ? `${found.file} "sqlmig".${key}` : `${found.file} "${key}"`;
}

/** `${VAR}` in a config value, from the environment (then .env); a variable that is not set is a usage error. */
function expandValue<T>(value: T, where: string, env: Env): T {
  if (typeof value !== 'string') return value;
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const got = env[name];
    if (got === undefined || got === '') throw new UsageError(`${where}: \${${name}} is not set (or empty) in the environment or .env`);
    return got;
  }) as T;
}

/** The variables of a .env file in the current folder, else next to the config file. */
function readDotEnv(folders: string[]): { file: string; vars: Env } | null {
  for (const folder of [...new Set(folders)]) {
    const file = join(folder, '.env');
    if (!existsSync(file)) continue;
    try {
      return { file, vars: parseEnv(readFileSync(file, 'utf8')) };
    } catch (error) {
      throw new UsageError(`${file}: cannot read it (${(error as Error).message})`);
    }
  }
  return null;
}

export function resolveSettings(flags: Flags, processEnv: Env = process.env, cwd = process.cwd()): Settings {
  if (flags.url === '') {
    throw new UsageError('--url was given empty (an unset variable, as in --url "$DATABASE_URL"?): give a URL, or leave --url out to use DATABASE_URL or the config');
  }
  const search = flags.config !== undefined ? { found: readConfigFile(flags.config, cwd), unreadable: [] } : searchPackageConfig(cwd);
  const notes: string[] = [];
  const dotEnv = readDotEnv([cwd, ...(search.found ? [dirname(search.found.file)] : [])]);
  // .env fills in only what the environment lacks; the environment always wins.
  const env: Env = { ...dotEnv?.vars, ...processEnv };
  if (dotEnv && processEnv['DATABASE_URL'] === undefined && dotEnv.vars['DATABASE_URL'] !== undefined) {
    notes.push(`DATABASE_URL from ${dotEnv.file} (the environment has none)`);
  }
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
  const raw = found?.config ?? {};
  // Values are expanded only when used: a ${VAR} behind a key the flags override need not be set.
  const config = <K extends keyof PackageConfig>(key: K): PackageConfig[K] => expandValue(raw[key], keyName(found, key), env);
  const configDir = found ? dirname(found.file) : cwd;
  const fromConfig = (p: string) => (isAbsolute(p) ? p : join(configDir, p));

  // With a config file, the default folder is next to it, so sqlmig works from any subfolder.
  const dir = flags.dir ?? env['SQLMIG_DIR'] ?? fromConfig(config('dir') ?? 'sql');
  const configuredUrl = flags.url === undefined && env['DATABASE_URL'] === undefined ? config('url') : undefined;
  const url = flags.url ?? env['DATABASE_URL'] ?? (configuredUrl ? configUrl(configuredUrl, fromConfig) : undefined) ?? libpqUrl(processEnv);
  const lockTimeout = flags.lockTimeout ?? config('lockTimeout') ?? '60s';
  const statementTimeout = flags.statementTimeout ?? config('statementTimeout');
  const ddlLockTimeout = flags.ddlLockTimeout ?? config('ddlLockTimeout');
  const backupDir = flags.backupDir ?? config('backupDir');
  return {
    target: url ? parseTarget(url, urlSource(flags, processEnv, dotEnv?.vars['DATABASE_URL'] !== undefined ? dotEnv.file : undefined, found)) : null,
    dir: resolve(cwd, dir),
    schema: checkName(flags.schema ?? config('schema') ?? 'public', flags.schema !== undefined ? '--schema' : keyName(found, 'schema')),
    table: checkName(flags.table ?? config('table') ?? 'sqlmig_history', flags.table !== undefined ? '--table' : keyName(found, 'table')),
    backupDir: resolve(cwd, flags.backupDir ?? (backupDir ? fromConfig(backupDir) : 'backups')),
    lockTimeoutMs: parseDuration(lockTimeout, '--lock-timeout'),
    statementTimeoutMs: statementTimeout === undefined ? undefined : parseDuration(statementTimeout, '--statement-timeout'),
    ddlLockTimeoutMs: ddlLockTimeout === undefined ? undefined : parseDuration(ddlLockTimeout, '--ddl-lock-timeout'),
    lint: lintMode(flags.lint ?? config('lint'), flags.lint !== undefined ? '--lint' : keyName(found, 'lint')),
    ...(config('lintSmallTable') !== undefined ? { lintSmallTable: smallTable(config('lintSmallTable'), keyName(found, 'lintSmallTable')) } : {}),
    ...onlineSettings(flags, config('online'), keyName(found, 'online')),
    schemaFile: resolve(cwd, flags.schemaFile ?? fromConfig(config('schemaFile') ?? 'schema.sql')),
    diffLockTimeout: fileLockTimeout(config('diffLockTimeout'), ddlLockTimeout, keyName(found, 'diffLockTimeout')),
    configFile: found?.file ?? null,
    ...(raw.targets !== undefined ? { configTargets: raw.targets } : {}),
    warnings,
    notes,
  };
}

/** Where the URL came from, for messages about it. */
function urlSource(flags: Flags, env: Env, dotEnvFile: string | undefined, found: FoundConfig | null): string {
  if (flags.url !== undefined) return '--url';
  if (env['DATABASE_URL'] !== undefined) return 'DATABASE_URL';
  if (dotEnvFile) return `DATABASE_URL in ${dotEnvFile}`;
  return found?.config.url ? keyName(found, 'url') : 'PGHOST/PGDATABASE';
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

function onlineSettings(flags: Flags, online: unknown, where: string): Pick<Settings, 'online' | 'onlineLockTimeoutMs' | 'lockRetries' | 'batchSize'> {
  if (online !== undefined && typeof online !== 'boolean') throw new UsageError(`${where}: expected true or false, got ${JSON.stringify(online)}`);
  const whole = (value: number | undefined, flag: string, min: number) => {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < min) throw new UsageError(`${flag}: expected a whole number, ${min} or more, got ${value}`);
    return value;
  };
  const timeout = flags.onlineLockTimeout === undefined ? undefined : parseDuration(flags.onlineLockTimeout, '--online-lock-timeout');
  return {
    online: online === true,
    ...(timeout !== undefined ? { onlineLockTimeoutMs: timeout } : {}),
    ...(flags.lockRetries !== undefined ? { lockRetries: whole(flags.lockRetries, '--lock-retries', 0) } : {}),
    ...(flags.batchSize !== undefined ? { batchSize: whole(flags.batchSize, '--batch-size', 1) } : {}),
  };
}

/** As PostgreSQL reads it: whole seconds as '5s', else milliseconds. */
function fileLockTimeout(value: string | number | false | undefined, session: string | number | undefined, where: string): string | null {
  if (value === false || value === 'off') return null;
  const ms = value !== undefined ? parseDuration(value, where) : session !== undefined ? parseDuration(session, '--ddl-lock-timeout') : 5000;
  if (ms <= 0) return null;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
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
function configUrl(given: string, fromConfig: (p: string) => string): string {
  const url = slashlessPglite(given);
  if (url.startsWith('pglite:') && url !== 'pglite:memory') return `pglite:${fromConfig(url.slice(7))}`;
  return url;
}

/**
 * `pglite://./db` written like a server URL means the folder ./db, not /db at the filesystem root:
 * what follows `//` is the path as given (`pglite:///abs` is /abs, as file:/// URLs are).
 */
function slashlessPglite(url: string): string {
  return url.startsWith('pglite://') ? `pglite:${url.slice('pglite://'.length)}` : url;
}

/** libpq's variables, used only when PGHOST or PGDATABASE says the user means them; the rest of PG* applies when connecting. */
function libpqUrl(env: Env): string | undefined {
  if (!env['PGHOST'] && !env['PGDATABASE']) return undefined;
  const list = (v: string | undefined) => (v ? v.split(',') : []);
  return formatConnectionUri({ user: env['PGUSER'] || undefined, hosts: list(env['PGHOST']), ports: list(env['PGPORT']), database: env['PGDATABASE'] || undefined, params: [] });
}

/** Check a database URL as given; `source` names where it came from in messages. */
export function parseTarget(given: string, source = '--url'): Target {
  const url = slashlessPglite(given);
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
    'put "url" in sqlmig.config.json (or "sqlmig": { "url": … } in package.json), or set PGHOST/PGDATABASE',
  );
}
