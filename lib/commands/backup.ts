/** backup and restore: a dump of the database into the backup folder, and putting one back (under the runner's lock). */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  archiveTables, backupFormat, dumpPglite, dumpServer, restorePglite, restoreServer, writeAtomically,
  type BackupFormat, type ServerTarget,
} from '../db/backup.js';
import { withDb, type Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { BackupFailed, UsageError } from '../errors.js';
import { discoverMigrations } from '../migrations/files.js';
import { readHistory } from '../runner/history.js';
import { withLock } from '../runner/lock.js';
import { versionWidth } from '../runner/plan.js';

export interface BackupOptions {
  /** Write here instead of a new file in the backup folder. */
  out?: string | undefined;
}

export interface BackupResult {
  file: string;
  bytes: number;
  /** custom: pg_dump -Fc (a server); plain: SQL text (embedded PGlite). */
  format: BackupFormat;
  /** The database, password masked. */
  database: string;
  /** The newest applied migration when the backup was taken, e.g. "009_daily_calories_view", or null. */
  version: string | null;
}

export interface RestoreOptions {
  /** Without it, restore refuses and says what it would overwrite. */
  force?: boolean | undefined;
}

export interface RestoreResult {
  file: string;
  database: string;
  /** The newest applied migration before and after restoring. */
  before: string | null;
  after: string | null;
  /** Tables that exist but are not in the backup: pg_restore --clean leaves them as they are. */
  notInBackup: string[];
}

export interface AppliedVersion { versionText: string; name: string }

export async function backup(ctx: Context, options: BackupOptions = {}): Promise<BackupResult> {
  // A backup only reads: it works on a standby too.
  return withDb(ctx, (db) => withLock(db, ctx.table, ctx.lockTimeoutMs, async () =>
    takeBackup(ctx, db, await currentVersion(ctx, db), options.out), 'read'));
}

/** Dump the database; up/down --backup call this under their lock, before changing anything. */
export async function takeBackup(ctx: Context, db: Db, version: AppliedVersion | null, out?: string): Promise<BackupResult> {
  const format: BackupFormat = db.kind === 'pglite' ? 'plain' : 'custom';
  const database = await databaseName(ctx, db);
  const file = out ? resolve(out) : freeName(resolve(ctx.options.backupDir ?? 'backups'), database, version, format);
  ctx.options.onNotice?.(`backing up ${db.display} into ${file}…`);
  const folderFrom = out ? '--out FILE' : '--backup-dir DIR (or "backupDir" in package.json)';
  const bytes = await writeAtomically(file, async (tmp) => {
    if (db.kind === 'pglite') await dumpPglite(db, tmp);
    else await dumpServer(tmp, await serverTarget(ctx, db, database));
  }, folderFrom);
  return { file, bytes, format, database: db.display, version: version && `${version.versionText}_${version.name}` };
}

export async function restore(ctx: Context, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`restore: ${file} does not exist`);
  const format = await backupFormat(path);
  return withDb(ctx, (db) => withLock(db, ctx.table, ctx.lockTimeoutMs, async () => {
    refuseWrongFormat(db, format, file);
    const before = labelOf(await currentVersion(ctx, db));
    if (!options.force) {
      throw new UsageError(`restore would overwrite ${db.display} (current version ${before ?? '(none)'}) with the content of ${file}. ` +
        'Add --force to do it; take a backup first (sqlmig backup) if you may want the current state back.');
    }
    let notInBackup: string[] = [];
    try {
      if (db.kind === 'pglite') {
        await restorePglite(db, path);
      } else {
        const target = await serverTarget(ctx, db, await databaseName(ctx, db));
        const inBackup = await archiveTables(path, target.serverMajor);
        notInBackup = (await userTables(db)).filter((t) => !inBackup.has(t));
        await restoreServer(path, target);
      }
    } catch (error) {
      throw new BackupFailed(`restore of ${file} failed; it ran in one transaction, so nothing was changed: ${(error as Error).message}${blockingHint(file, notInBackup)}`, { cause: error });
    }
    return { file: path, database: db.display, before, after: labelOf(await currentVersion(ctx, db)), notInBackup };
  }));
}

/** pg_restore --clean drops only what the backup holds: newer tables that depend on it make it fail. */
function blockingHint(file: string, notInBackup: string[]): string {
  if (notInBackup.length === 0) return '';
  const version = /-v(\d+)(?:-\d+)?\.(?:dump|sql)$/.exec(file)?.[1];
  const revert = version ? `sqlmig down --to ${version}` : 'sqlmig down --to <the version the backup was taken at>';
  return `\nThese tables are not in the backup and may be what blocks it: ${notInBackup.join(', ')}. ` +
    `Revert the migrations applied since the backup first (${revert}), or drop those tables, then restore again.`;
}

function refuseWrongFormat(db: Db, format: BackupFormat | null, file: string): void {
  if (format === null) throw new UsageError(`restore: ${file} is not a backup made by sqlmig backup (neither a pg_dump archive nor a SQL dump)`);
  if (db.kind === 'server' && format === 'plain') {
    throw new UsageError(`restore: ${file} is a plain SQL dump of an embedded (pglite:) database; restore it into a pglite: folder`);
  }
  if (db.kind === 'pglite' && format === 'custom') {
    throw new UsageError(`restore: ${file} is a pg_dump archive of a PostgreSQL server; restore it with --url postgres://… (PGlite cannot read it)`);
  }
}

/** The newest applied migration, its version padded as the files are. */
async function currentVersion(ctx: Context, db: Db): Promise<AppliedVersion | null> {
  const newest = (await readHistory(db, ctx.table)).at(-1);
  if (!newest) return null;
  const width = await discoverMigrations(ctx.options.dir).then((set) => versionWidth(set.migrations), () => 3);
  return { versionText: newest.version.toString().padStart(width, '0'), name: newest.name };
}

const labelOf = (v: AppliedVersion | null) => (v ? `${v.versionText}_${v.name}` : null);

async function databaseName(ctx: Context, db: Db): Promise<string> {
  if (ctx.target?.kind === 'pglite') return ctx.target.path ? basename(ctx.target.path) : 'memory';
  const [row] = await db.query<{ name: string }>('select current_database() as name');
  return row!.name;
}

async function serverTarget(ctx: Context, db: Db, database: string): Promise<ServerTarget> {
  const [row] = await db.query<{ num: number }>(`select current_setting('server_version_num')::int as num`);
  const serverMajor = Math.floor(row!.num / 10_000);
  return { url: ctx.target!.url, database, serverMajor, lockTimeoutMs: ctx.lockTimeoutMs, signal: ctx.options.signal };
}

async function userTables(db: Db): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select schemaname || '.' || tablename as name from pg_tables where schemaname !~ '^pg_' and schemaname <> 'information_schema' order by 1`);
  return rows.map((r) => r.name);
}

/** fitbud-20261125T031500Z-v009.dump: the database, the UTC time and the current version; never an existing file. */
function freeName(folder: string, database: string, version: AppliedVersion | null, format: BackupFormat): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${database.replace(/[^\w.-]+/g, '_')}-${stamp}-v${version?.versionText ?? 'none'}`;
  const ext = format === 'custom' ? 'dump' : 'sql';
  for (let n = 1; ; n++) {
    const file = join(folder, `${base}${n > 1 ? `-${n}` : ''}.${ext}`);
    if (!existsSync(file)) return file;
  }
}
