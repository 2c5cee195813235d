/** Turn planned steps into runnable ones: read the SQL, check it with the parser, refuse what cannot run. */
import type { Context } from './context.js';
import { displayPath } from './context.js';
import type { Db } from './db/index.js';
import { readDirectives } from './directives.js';
import { Refused } from './errors.js';
import type { PreparedStep } from './execute.js';
import { readAppliedText } from './history.js';
import { label, type Step } from './plan.js';
import { prepareScript, scriptExtensions } from './script.js';
import { checkMetaCommands, loadParser } from './sql.js';

export async function prepareUp(ctx: Context, steps: readonly Step[]): Promise<PreparedStep[]> {
  return Promise.all(steps.map(async ({ status }) => {
    const file = status.file!;
    if (file.downFile && file.downSql !== null) {
      // A meta-command in the down file would only surface on the day it is needed: refuse it now.
      checkMetaCommands(await loadParser(), file.downSql, displayPath(ctx, file.downFile));
    }
    const script = await prepareScript({ path: displayPath(ctx, file.upFile), text: file.upSql, noTransaction: file.directives.noTransaction });
    return {
      direction: 'up' as const, version: status.version, versionText: status.versionText, name: status.name, script,
      record: { version: file.version, name: file.name, checksum: file.checksum, upSql: file.upSql, downSql: file.downSql, durationMs: 0, transactional: script.transactional },
    };
  }));
}

export async function prepareDown(ctx: Context, db: Db, steps: readonly Step[]): Promise<PreparedStep[]> {
  const irreversible: string[] = [];
  const sources = await Promise.all(steps.map(async ({ status }) => {
    if (status.file) {
      if (status.file.downSql === null) irreversible.push(`${status.file.upFile} has no .down.sql (irreversible)`);
      return { path: displayPath(ctx, status.file.downFile ?? status.file.upFile), text: status.file.downSql ?? '', noTransaction: status.file.directives.downNoTransaction, fromStoredSql: false };
    }
    const { downSql } = await readAppliedText(db, ctx.table, status.version);
    if (downSql === null) irreversible.push(`${label(status)} has no down SQL stored (it was applied without a .down.sql)`);
    return { path: `${label(status)}.down.sql (stored in history; file missing)`, text: downSql ?? '', noTransaction: readDirectives(downSql ?? '', label(status)).noTransaction, fromStoredSql: true };
  }));
  if (irreversible.length) {
    throw new Refused(`cannot revert, nothing was reverted:\n${irreversible.map((m) => `  ${m}`).join('\n')}\nWrite the missing .down.sql, or use \`sqlmig forget V\` to drop the history row without running anything.`);
  }
  return Promise.all(steps.map(async ({ status }, i) => {
    const source = sources[i]!;
    const script = await prepareScript(source);
    return { direction: 'down' as const, version: status.version, versionText: status.versionText, name: status.name, script, fromStoredSql: source.fromStoredSql };
  }));
}

export function refuseNoTransactionInBatch(steps: readonly PreparedStep[]): void {
  const offending = steps.filter((s) => !s.script.transactional).map((s) => s.script.path);
  if (offending.length) {
    throw new Refused(`--single-transaction cannot include a migration marked -- sqlmig:no-transaction: ${offending.join(', ')}. Run without --single-transaction, or apply those separately.`);
  }
}

export async function loadNeededExtensions(db: Db, steps: readonly PreparedStep[]): Promise<void> {
  if (!db.ensureExtensions) return;
  const names = [...new Set(steps.filter((s) => s.direction === 'up').flatMap((s) => scriptExtensions(s.script)))];
  if (names.length) await db.ensureExtensions(names);
}
