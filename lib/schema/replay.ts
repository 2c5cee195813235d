/**
 * Build the schema that migrations make, on a scratch database, the way `up` runs them: the same
 * prepared steps, each in its own transaction with its history row, the session reset after each.
 * diff replays the migration files; drift replays the SQL stored in the history table.
 */
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { readDirectives } from '../migrations/directives.js';
import { Refused } from '../errors.js';
import { executePlan, type PreparedStep } from '../runner/execute.js';
import type { MigrationSet } from '../migrations/files.js';
import { ensureHistory, readAllAppliedText, type AppliedMigration } from '../runner/history.js';
import { planUp, reconcile, upRefusals } from '../runner/plan.js';
import { prepareScript } from '../migrations/script.js';
import { loadNeededExtensions, prepareUp } from '../runner/steps.js';

/** Every migration file in order, pending ones included; refused (nothing run) where `up` would refuse. */
export async function prepareFileSteps(ctx: Context, files: MigrationSet, command: string): Promise<PreparedStep[]> {
  const statuses = reconcile(files.migrations, []);
  const refusals = upRefusals(statuses, files.problems, false);
  if (refusals.length) throw new Refused(`refusing to ${command}, nothing was written:\n${refusals.map((r) => r.message).join('\n')}`);
  return prepareUp(ctx, planUp(statuses));
}

/** The applied migrations as the history table stores them (not the files, which may have been edited since). */
export async function prepareStoredSteps(ctx: Context, db: Db, applied: readonly AppliedMigration[]): Promise<PreparedStep[]> {
  const steps: PreparedStep[] = [];
  const texts = applied.length ? await readAllAppliedText(db, ctx.table) : new Map(); // no rows: perhaps no table either
  for (const row of applied) {
    const { upSql, downSql } = texts.get(row.version) ?? { upSql: '', downSql: null };
    const versionText = row.version.toString().padStart(3, '0');
    const id = `${versionText}_${row.name}`;
    const script = await prepareScript({ path: `${id}.up.sql (as stored in history)`, text: upSql, noTransaction: readDirectives(upSql, id).noTransaction, direction: 'up' });
    steps.push({
      direction: 'up', version: row.version, versionText, name: row.name, script,
      record: { version: row.version, name: row.name, checksum: row.checksum, upSql, downSql, durationMs: 0, transactional: script.transactional },
    });
  }
  return steps;
}

export async function replayMigrations(ctx: Context, db: Db, steps: readonly PreparedStep[]): Promise<void> {
  await loadNeededExtensions(db, steps);
  await ensureHistory(db, ctx.table);
  await executePlan(db, steps, { table: ctx.table, signal: ctx.options.signal });
}
