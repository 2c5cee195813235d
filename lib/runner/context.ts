/** What every operation needs: where the files are, which database, which history table, and who listens. */
import { relative } from 'node:path';
import { openDb } from '../db/connect.js';
import type { Db } from '../db/index.js';
import { noDatabase } from '../config.js';
import type { StepEvent } from './execute.js';
import { discoverMigrations, type MigrationSet } from '../migrations/files.js';
import { readHistory, type AppliedMigration, type HistoryTable } from './history.js';
import { reconcile, type MigrationStatus } from './plan.js';
import type { Target } from '../db/url.js';

export interface MigratorOptions {
  /** postgres://…, pglite:PATH or pglite:memory, or a parsed target. */
  url?: string | undefined;
  target?: Target | null | undefined;
  dir: string;
  schema?: string | undefined;
  table?: string | undefined;
  backupDir?: string | undefined;
  /** verify: an empty database to run migrations on instead of a temporary or embedded one. */
  scratchUrl?: string | undefined;
  lockTimeoutMs?: number | undefined;
  statementTimeoutMs?: number | undefined;
  ddlLockTimeoutMs?: number | undefined;
  /** up/down --online by default (config "online"); per-file directives still choose. */
  online?: boolean | undefined;
  /** Online steps: lock_timeout per locking step, retries when not granted, rows per backfill batch. */
  onlineLockTimeoutMs?: number | undefined;
  lockRetries?: number | undefined;
  batchSize?: number | undefined;
  /** What up and validate do with lint findings on what they are about to apply (default warn). */
  lint?: 'off' | 'warn' | 'error' | undefined;
  /** lint: below both a live table is small and its blocking findings are warnings (default 10,000 rows and 10 MB). */
  lintSmallTable?: { rows: number; bytes: number } | undefined;
  /** Aborting cancels the running statement, rolls back the running migration and releases the lock. */
  signal?: AbortSignal | undefined;
  onStep?: ((event: StepEvent) => void) | undefined;
  /** Slow or noteworthy work in progress ("creating the embedded database…"). */
  onNotice?: ((message: string) => void) | undefined;
  /** up/down --online: rows done by a batched pass, after each batch (`of`: the table's estimated rows, null when unknown). */
  onRows?: ((progress: RowsProgress) => void) | undefined;
}

export interface RowsProgress { migration: string; step: string; rows: number; of: number | null }

export interface Context {
  options: MigratorOptions;
  target: Target | null;
  table: HistoryTable;
  lockTimeoutMs: number;
  /** The operation only reads (status, --dry-run…): an embedded database that does not exist yet is not created. */
  readOnly?: boolean;
}

export interface Snapshot {
  files: MigrationSet;
  applied: AppliedMigration[];
  statuses: MigrationStatus[];
}

/** Open the database for one operation and always close it; an abort cancels what runs. */
export async function withDb<T>(ctx: Context, fn: (db: Db) => Promise<T>, extensions: string[] = []): Promise<T> {
  return usingDb(ctx, fn, { extensions });
}

/** As withDb, for a short read of the history table only (status, current, history): embedded PGlite starts lean. */
export async function withDbReading<T>(ctx: Context, fn: (db: Db) => Promise<T>): Promise<T> {
  return usingDb(ctx, fn, { readOnly: true });
}

async function usingDb<T>(ctx: Context, fn: (db: Db) => Promise<T>, open: { extensions?: string[]; readOnly?: boolean }): Promise<T> {
  if (!ctx.target) throw noDatabase();
  const db = await openDb(ctx.target, {
    lockTimeoutMs: ctx.lockTimeoutMs,
    readOnly: ctx.readOnly,
    statementTimeoutMs: ctx.options.statementTimeoutMs,
    ddlLockTimeoutMs: ctx.options.ddlLockTimeoutMs,
    onNotice: ctx.options.onNotice,
    ...open,
  });
  const cancel = () => { void db.cancel(); };
  ctx.options.signal?.addEventListener('abort', cancel);
  try {
    return await fn(db);
  } finally {
    ctx.options.signal?.removeEventListener('abort', cancel);
    await db.close();
  }
}

export async function takeSnapshot(ctx: Context, db: Db, files?: MigrationSet): Promise<Snapshot> {
  const [set, applied] = await Promise.all([files ?? discoverMigrations(ctx.options.dir), readHistory(db, ctx.table)]);
  return { files: set, applied, statuses: reconcile(set.migrations, applied) };
}

/** A file's path as the user would type it from where sqlmig runs. */
export function displayPath(ctx: Context, file: string): string {
  const path = relative(process.cwd(), `${ctx.options.dir}/${file}`);
  return path.startsWith('..') ? `${ctx.options.dir}/${file}` : path;
}
