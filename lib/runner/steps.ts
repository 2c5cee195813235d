/** Turn planned steps into runnable ones: read the SQL, check it with the parser, refuse what cannot run. */
import type { Context } from './context.js';
import { displayPath } from './context.js';
import type { Db } from '../db/index.js';
import { readDirectives } from '../migrations/directives.js';
import { Interrupted, Refused } from '../errors.js';
import type { PreparedStep } from './prepared-step.js';
import type { MigrationFile } from '../migrations/files.js';
import { readAppliedText } from './history.js';
import { label, type Step } from './plan.js';
import { prepareScript, scriptExtensions, type Script, type ScriptSource } from '../migrations/script.js';


export type { PreparedStep } from './prepared-step.js';

/** A migration's files as they would run: its up, and its down when it has one. */
export interface MigrationScripts { up: Script; down: Script | null }

/**
 * The one rule for whether a migration's files can run, shared by up, down, verify and validate:
 * both files are prepared as they would run, so a down that could not run is found before its up is applied.
 * Throws Refused naming every problem of both files.
 */
export async function prepareMigration(ctx: Context, file: MigrationFile, options: { keepUpTree?: boolean } = {}): Promise<MigrationScripts> {
  const up = prepareScript({ path: displayPath(ctx, file.upFile), text: file.upSql, noTransaction: file.directives.noTransaction, direction: 'up', keepTree: options.keepUpTree });
  const down = file.downFile && file.downSql !== null
    ? prepareScript({ path: displayPath(ctx, file.downFile), text: file.downSql, noTransaction: file.directives.downNoTransaction, direction: 'down' })
    : Promise.resolve(null);
  const [upResult, downResult] = await Promise.allSettled([up, down]);
  const problems = [upResult, downResult].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  for (const problem of problems) if (!(problem instanceof Refused)) throw problem;
  if (problems.length) throw new Refused(problems.map((p) => (p as Error).message).join('\n'));
  return { up: (upResult as PromiseFulfilledResult<Script>).value, down: (downResult as PromiseFulfilledResult<Script | null>).value };
}

/** Every reason why any of these migrations' files could not run (validate reports them all at once). */
export async function migrationProblems(ctx: Context, files: readonly MigrationFile[]): Promise<{ file: MigrationFile; message: string }[]> {
  const { problems } = await prepareEach(ctx, files, (file) => prepareMigration(ctx, file));
  return problems.map(({ item, message }) => ({ file: item, message }));
}

/** `keepTrees`: keep each up's parse tree for the lint hook (it parses nothing again, and drops them). */
export async function prepareUp(ctx: Context, steps: readonly Step[], options: { keepTrees?: boolean } = {}): Promise<PreparedStep[]> {
  const scripts = await prepareAll(ctx, steps, ({ status }) => prepareMigration(ctx, status.file!, { keepUpTree: options.keepTrees }));
  return steps.map(({ status }, i) => {
    const file = status.file!;
    const script = scripts[i]!.up;
    return {
      direction: 'up' as const, version: status.version, versionText: status.versionText, name: status.name, script,
      record: { version: file.version, name: file.name, checksum: file.checksum, upSql: file.upSql, downSql: file.downSql, durationMs: 0, transactional: script.transactional },
    };
  });
}

/**
 * The down SQL of each step: its file's, or the one stored at apply time when the file is gone. A .down.sql
 * edited since it was applied still wins (it is what the user sees and reviews), but never silently:
 * `storedDown` runs the stored one instead.
 */
export async function prepareDown(ctx: Context, db: Db, steps: readonly Step[], options: { storedDown?: boolean } = {}): Promise<PreparedStep[]> {
  const irreversible: string[] = [];
  const sources: (ScriptSource & { fromStoredSql: boolean })[] = [];
  for (const { status } of steps) {
    const stored = status.file?.downSql != null && status.applied ? (await readAppliedText(db, ctx.table, status.version)).downSql : null;
    if (status.file && stored !== null && stored !== status.file.downSql) {
      const path = displayPath(ctx, status.file.downFile!);
      if (options.storedDown) {
        sources.push({ path: `${label(status)}.down.sql (stored in history, --stored-down)`, text: stored, noTransaction: readDirectives(stored, label(status)).noTransaction, direction: 'down', fromStoredSql: true });
        continue;
      }
      ctx.options.onNotice?.(`warning: ${path} was edited since ${label(status)} was applied: running the file as it is now, not the down SQL stored then. Add --stored-down to run the stored one.`);
    }
    if (status.file) {
      if (status.file.downSql === null) irreversible.push(`${status.file.upFile} has no .down.sql (irreversible)`);
      sources.push({ path: displayPath(ctx, status.file.downFile ?? status.file.upFile), text: status.file.downSql ?? '', noTransaction: status.file.directives.downNoTransaction, direction: 'down', fromStoredSql: false });
      continue;
    }
    const { downSql } = await readAppliedText(db, ctx.table, status.version);
    if (downSql === null) irreversible.push(`${label(status)} has no down SQL stored (it was applied without a .down.sql)`);
    sources.push({ path: `${label(status)}.down.sql (stored in history; file missing)`, text: downSql ?? '', noTransaction: readDirectives(downSql ?? '', label(status)).noTransaction, direction: 'down', fromStoredSql: true });
  }
  if (irreversible.length) {
    throw new Refused(`cannot revert, nothing was reverted:\n${irreversible.map((m) => `  ${m}`).join('\n')}\nWrite the missing .down.sql, or use \`sqlmig forget V\` to drop the history row without running anything.`);
  }
  const scripts = await prepareAll(ctx, sources, (source) => prepareScript(source));
  return steps.map(({ status }, i) => ({
    direction: 'down' as const, version: status.version, versionText: status.versionText, name: status.name, script: scripts[i]!, fromStoredSql: sources[i]!.fromStoredSql,
  }));
}

/** Prepare each item; a refusal of any is thrown once, listing every problem, before anything runs. */
async function prepareAll<T, R>(ctx: Context, items: readonly T[], prepare: (item: T) => Promise<R>): Promise<R[]> {
  const { results, problems } = await prepareEach(ctx, items, prepare);
  if (problems.length === 1) throw new Refused(problems[0]!.message);
  if (problems.length) throw new Refused(`${problems.length} migrations cannot run, nothing was changed:\n${problems.map((p) => p.message).join('\n')}`);
  return results as R[];
}

async function prepareEach<T, R>(ctx: Context, items: readonly T[], prepare: (item: T) => Promise<R>): Promise<{ results: (R | null)[]; problems: { item: T; message: string }[] }> {
  const results: (R | null)[] = [];
  const problems: { item: T; message: string }[] = [];
  for (const item of items) {
    await betweenFiles(ctx);
    try {
      results.push(await prepare(item));
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      results.push(null);
      problems.push({ item, message: error.message });
    }
  }
  return { results, problems };
}

/**
 * Parsing is synchronous: between files, let signals in, so a SIGTERM while a large history (or one
 * huge data file) is being prepared stops the run at once instead of after all of it.
 */
async function betweenFiles(ctx: Context): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const signal = ctx.options.signal;
  if (!signal?.aborted) return;
  const name = typeof signal.reason === 'string' && signal.reason.startsWith('SIG') ? (signal.reason as NodeJS.Signals) : 'SIGINT';
  throw new Interrupted(name, `interrupted by ${name} while reading the migration files; nothing was run.`);
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
