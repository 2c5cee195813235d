/** Where settings come from: flags beat environment, environment beats the package.json "sqlmig" key. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { UsageError } from './errors.js';
import type { Target } from './url.js';

export interface Flags {
  url?: string;
  dir?: string;
  schema?: string;
  table?: string;
  backupDir?: string;
  lockTimeout?: string | number;
  statementTimeout?: string | number;
  ddlLockTimeout?: string | number;
  schemaFile?: string;
}

export interface PackageConfig {
  url?: string;
  dir?: string;
  table?: string;
  schema?: string;
  backupDir?: string;
  lockTimeout?: string | number;
  statementTimeout?: string | number;
  schemaFile?: string;
  lint?: unknown;
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
  /** diff: the desired schema (--schema-file, else "schemaFile" next to the config, else ./schema.sql). */
  schemaFile: string;
  /** The package.json the config came from, if any. */
  configFile: string | null;
}

type Env = Record<string, string | undefined>;

export function findPackageConfig(cwd: string): { file: string; config: PackageConfig } | null {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const json = JSON.parse(readFileSync(file, 'utf8')) as { sqlmig?: PackageConfig };
        if (json.sqlmig) return { file, config: json.sqlmig };
      } catch (error) {
        throw new UsageError(`${file}: not valid JSON (${(error as Error).message})`);
      }
    }
    if (dirname(dir) === dir) return null;
  }
}

export function resolveSettings(flags: Flags, env: Env = process.env, cwd = process.cwd()): Settings {
  const found = findPackageConfig(cwd);
  const config = found?.config ?? {};
  const configDir = found ? dirname(found.file) : cwd;
  const fromConfig = (p: string) => (isAbsolute(p) ? p : join(configDir, p));

  // With a package.json config, the default folder is next to it, so sqlmig works from any subfolder.
  const dir = flags.dir ?? env['SQLMIG_DIR'] ?? fromConfig(config.dir ?? 'sql');
  const url = flags.url ?? env['DATABASE_URL'] ?? (config.url ? configUrl(config.url, fromConfig) : undefined) ?? libpqUrl(env);
  const lockTimeout = flags.lockTimeout ?? config.lockTimeout ?? '60s';
  const statementTimeout = flags.statementTimeout ?? config.statementTimeout;
  return {
    target: url ? parseTarget(url) : null,
    dir: resolve(cwd, dir),
    schema: flags.schema ?? config.schema ?? 'public',
    table: flags.table ?? config.table ?? 'sqlmig_history',
    backupDir: resolve(cwd, flags.backupDir ?? (config.backupDir ? fromConfig(config.backupDir) : 'backups')),
    lockTimeoutMs: parseDuration(lockTimeout, '--lock-timeout'),
    statementTimeoutMs: statementTimeout === undefined ? undefined : parseDuration(statementTimeout, '--statement-timeout'),
    ddlLockTimeoutMs: flags.ddlLockTimeout === undefined ? undefined : parseDuration(flags.ddlLockTimeout, '--ddl-lock-timeout'),
    schemaFile: resolve(cwd, flags.schemaFile ?? fromConfig(config.schemaFile ?? 'schema.sql')),
    configFile: found?.file ?? null,
  };
}

/** A relative pglite: path in package.json is relative to that package.json, not to where sqlmig runs. */
function configUrl(url: string, fromConfig: (p: string) => string): string {
  if (url.startsWith('pglite:') && url !== 'pglite:memory') return `pglite:${fromConfig(url.slice(7))}`;
  return url;
}

/** libpq's variables, used only when PGHOST or PGDATABASE says the user means them. */
function libpqUrl(env: Env): string | undefined {
  if (!env['PGHOST'] && !env['PGDATABASE']) return undefined;
  const user = encodeURIComponent(env['PGUSER'] ?? env['USER'] ?? 'postgres');
  const password = env['PGPASSWORD'] ? `:${encodeURIComponent(env['PGPASSWORD'])}` : '';
  const host = env['PGHOST'] ?? 'localhost';
  const port = env['PGPORT'] ?? '5432';
  const database = encodeURIComponent(env['PGDATABASE'] ?? decodeURIComponent(user));
  const socket = host.startsWith('/');
  const authority = socket ? `${user}${password}@` : `${user}${password}@${host}:${port}`;
  const query = socket ? `?host=${encodeURIComponent(host)}&port=${port}` : '';
  const ssl = env['PGSSLMODE'] ? `${query ? '&' : '?'}sslmode=${env['PGSSLMODE']}` : '';
  return `postgres://${authority}/${database}${query}${ssl}`;
}

export function parseTarget(url: string): Target {
  if (url.startsWith('pglite:')) {
    const path = url.slice('pglite:'.length);
    if (!path) throw new UsageError('pglite: URL needs a folder (pglite:./.sqlmig/dev) or pglite:memory');
    return path === 'memory' ? { kind: 'pglite', path: null, url } : { kind: 'pglite', path: resolve(path), url: `pglite:${resolve(path)}` };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--url: not a valid URL; expected postgres://user:password@host:5432/database`);
    }
    return { kind: 'server', url };
  }
  throw new UsageError('--url: expected postgres://… , postgresql://… , pglite:PATH or pglite:memory');
}

export function noDatabase(): UsageError {
  return new UsageError(
    'no database given: pass --url postgres://user:password@host/db (or pglite:./folder), set DATABASE_URL, ' +
    'add "sqlmig": { "url": … } to package.json, or set PGHOST/PGDATABASE',
  );
}
