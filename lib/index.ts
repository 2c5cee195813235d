/** The public API: `createMigrator(options)` gives the CLI's operations as typed async functions. */
import type { Context, MigratorOptions } from './context.js';
import { parseTarget } from './config.js';
import { create } from './commands/create.js';
import { current, history, status } from './commands/inspect.js';
import { down, redo, up, type DownOptions, type UpOptions } from './commands/migrate.js';
import { backup, restore, type BackupOptions, type RestoreOptions } from './commands/backup.js';
import { dumpSchema, verify, type DumpSchemaOptions, type VerifyOptions } from './commands/verify.js';
import { forget, renumber, repair, stamp, validate } from './commands/integrity.js';
import { resolve } from 'node:path';

export type { MigratorOptions } from './context.js';
export type { UpOptions, DownOptions, MigrateResult, PlannedSql } from './commands/migrate.js';
export type { StatusResult, StatusEntry, CurrentResult, HistoryEntry } from './commands/inspect.js';
export type { CreateResult } from './commands/create.js';
export type { BackupOptions, BackupResult, RestoreOptions, RestoreResult } from './commands/backup.js';
export type { VerifyOptions, VerifyResult, VerifyFinding, VerifyStatus, VerifyEvent, DumpSchemaOptions, DumpSchemaResult } from './commands/verify.js';
export type { ScratchInfo } from './scratch.js';
export type { SchemaDifference, DifferenceKind } from './schemadiff.js';
export type { SchemaSnapshot } from './snapshot.js';
export type { ValidateResult, ValidationProblem, RepairResult, StampResult, ForgetResult, RenumberResult } from './commands/integrity.js';
export type { StepEvent, StepResult } from './execute.js';
export * from './errors.js';

export function createMigrator(options: MigratorOptions) {
  const target = options.target !== undefined ? options.target : options.url ? parseTarget(options.url) : null;
  const ctx: Context = {
    options: { ...options, dir: resolve(options.dir) },
    target,
    table: { schema: options.schema ?? 'public', table: options.table ?? 'sqlmig_history' },
    lockTimeoutMs: options.lockTimeoutMs ?? 60_000,
  };
  return {
    up: (o?: UpOptions) => up(ctx, o),
    down: (o?: DownOptions) => down(ctx, o),
    redo: () => redo(ctx),
    status: () => status(ctx),
    current: () => current(ctx),
    history: () => history(ctx),
    create: (description: string) => create(ctx, description),
    backup: (o?: BackupOptions) => backup(ctx, o),
    restore: (file: string, o?: RestoreOptions) => restore(ctx, file, o),
    verify: (o?: VerifyOptions) => verify(ctx, o),
    dumpSchema: (o?: DumpSchemaOptions) => dumpSchema(ctx, o),
    validate: () => validate(ctx),
    repair: (version?: string) => repair(ctx, version),
    stamp: (version: string) => stamp(ctx, version),
    forget: (version: string) => forget(ctx, version),
    renumber: (o?: { dryRun?: boolean }) => renumber(ctx, o),
  };
}

export type Migrator = ReturnType<typeof createMigrator>;
