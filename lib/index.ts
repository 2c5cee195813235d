/** The public API: `createMigrator(options)` gives the CLI's operations as typed async functions. */
import type { Context, MigratorOptions } from './runner/context.js';
import { checkName, parseTarget } from './config.js';
import { current, history, status } from './commands/inspect.js';
import { down, redo, up, type DownOptions, type UpOptions } from './commands/migrate.js';
import type { BackupOptions, RestoreOptions } from './commands/backup.js';
import type { DumpSchemaOptions, VerifyOptions } from './commands/verify.js';
import type { LintOptions } from './commands/lint.js';
import type { DiffOptions } from './commands/diff.js';
import type { DriftOptions } from './commands/drift.js';
import type { CreateOptions } from './commands/create.js';
import { resolve } from 'node:path';

export type { MigratorOptions, RowsProgress } from './runner/context.js';
export type { UpOptions, DownOptions, MigrateResult, PlannedSql } from './commands/migrate.js';
export type { StatusResult, StatusEntry, CurrentResult, HistoryEntry } from './commands/inspect.js';
export type { CreateResult, CreateOptions } from './commands/create.js';
export type { BackupOptions, BackupResult, RestoreOptions, RestoreResult } from './commands/backup.js';
export type { VerifyOptions, VerifyResult, VerifyFinding, VerifyStatus, VerifyEvent, DumpSchemaOptions, DumpSchemaResult } from './commands/verify.js';
export type { ScratchInfo } from './schema/scratch.js';
export type { LintOptions, LintResult } from './commands/lint.js';
export type { Finding, Level as LintLevel } from './lint/types.js';
export type { DiffOptions, DiffResult, DestructiveStatement } from './commands/diff.js';
export type { GeneratedMigration, GeneratedFile } from './schema/migration-files.js';
export type { DriftOptions, DriftResult, DriftDifference } from './commands/drift.js';
export type { SchemaDifference, DifferenceKind } from './schema/compare.js';
export type { SchemaSnapshot } from './schema/snapshot.js';
export type { ValidateResult, ValidationProblem, RepairResult, StampResult, ForgetResult, RenumberResult } from './commands/integrity.js';
export type { StepEvent, StepResult } from './runner/execute.js';
export * from './errors.js';

export function createMigrator(options: MigratorOptions) {
  const target = options.target !== undefined ? options.target : options.url ? parseTarget(options.url, 'url') : null;
  const ctx: Context = {
    options: { ...options, dir: resolve(options.dir) },
    target,
    table: { schema: checkName(options.schema ?? 'public', 'schema'), table: checkName(options.table ?? 'sqlmig_history', 'table') },
    lockTimeoutMs: options.lockTimeoutMs ?? 60_000,
  };
  // What only reads never creates an embedded database: a folder not created yet reads as an empty one.
  const reading: Context = { ...ctx, readOnly: true };
  return {
    up: (o?: UpOptions) => up(o?.dryRun ? reading : ctx, o),
    down: (o?: DownOptions) => down(o?.dryRun ? reading : ctx, o),
    redo: () => redo(ctx),
    status: () => status(reading),
    current: () => current(reading),
    history: () => history(reading),
    // The rest load on first use: `up` and `status` should not pay for snapshots, backups or renames.
    create: async (description: string, o?: CreateOptions) => (await import('./commands/create.js')).create(ctx, description, o),
    backup: async (o?: BackupOptions) => (await import('./commands/backup.js')).backup(ctx, o),
    restore: async (file: string, o?: RestoreOptions) => (await import('./commands/backup.js')).restore(ctx, file, o),
    verify: async (o?: VerifyOptions) => (await import('./commands/verify.js')).verify(reading, o),
    dumpSchema: async (o?: DumpSchemaOptions) => (await import('./commands/verify.js')).dumpSchema(ctx, o),
    lint: async (o?: LintOptions) => (await import('./commands/lint.js')).lint(ctx, o),
    diff: async (o?: DiffOptions) => (await import('./commands/diff.js')).diff(ctx, o),
    drift: async (o?: DriftOptions) => (await import('./commands/drift.js')).drift(ctx, o),
    validate: async () => (await import('./commands/integrity.js')).validate(reading),
    repair: async (version?: string) => (await import('./commands/integrity.js')).repair(ctx, version),
    stamp: async (version: string) => (await import('./commands/integrity.js')).stamp(ctx, version),
    forget: async (version: string) => (await import('./commands/integrity.js')).forget(ctx, version),
    renumber: async (o?: { dryRun?: boolean | undefined }) => (await import('./commands/integrity.js')).renumber(ctx, o),
  };
}

export type Migrator = ReturnType<typeof createMigrator>;
