/**
 * Run an online plan on the target, inside the runner's lock: each step with a short lock_timeout and
 * retries, the history row only once every step has finished, and on a failure or a signal the undo of
 * every step that ran (on a second session: the first one's work is being cancelled), newest first.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatementFailed, type Db } from '../db/index.js';
import { Interrupted, MigrationFailed, Refused } from '../errors.js';
import type { PreparedStep, StepEvent, StepResult } from '../runner/execute.js';
import { deleteHistory, insertHistory, qualifiedName, type HistoryTable } from '../runner/history.js';
import type { RowsProgress } from '../runner/context.js';
import type { OnlinePlan, OnlineStep } from './types.js';
import { batchSizer } from './batch-size.js';
import { lockSettingsSql } from './lock-settings.js';
import { createProgressTableSql, describeProgress, dropProgressTableIfEmpty, forgetProgressSql, progressTable, readProgress, saveProgressSql, type Progress } from './progress.js';

export interface OnlineRunOptions {
  table: HistoryTable;
  lockTimeoutMs: number;
  lockRetries: number;
  batchSize: number;
  /** No --batch-size was given: batches are sized by time, up to batchSize rows (batch-size.ts). */
  batchTimeBoxed: boolean;
  /** The role may lower deadlock_timeout for a step (lockSettingsSql). */
  deadlockTimeout?: boolean;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
  /** Progress of long steps ("004_x: step 2/5 …"). */
  onProgress?: (message: string) => void;
  /** Rows done by a batched pass, after each batch. */
  onRows?: (progress: RowsProgress) => void;
}

export async function executeOnlinePlan(db: Db, step: PreparedStep, plan: OnlinePlan, options: OnlineRunOptions): Promise<StepResult> {
  const passes = await earlierPasses(db, step, plan, options);
  const resumeAt = Math.max(-1, ...passes.map((p) => p.step));
  options.onStep?.({ type: 'start', step });
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const ran: OnlineStep[] = [];
  const rowsDone = new Map<OnlineStep, number>();
  const pass: PassContext = { version: step.version, direction: step.direction, passes, rowsDone, canRecord: {} };
  // A plan that is the file as written runs in one transaction with its history row, as a plain run
  // does (with the online lock settings): nothing to record, and nothing can stay between the two.
  const asWrittenOnly = passes.length === 0 && plan.steps.length > 0 && plan.steps.every(keepsRecord);
  const recorded = () => passes.length > 0 || pass.canRecord.value === true;
  try {
    for (const [i, s] of plan.steps.entries()) {
      if (options.signal?.aborted) throw new Error('aborted');
      if (asWrittenOnly) {
        options.onProgress?.(`${plan.migration}: step ${i + 1}/${plan.steps.length}: ${s.what} (with the history row)`);
        ran.push(s);
        continue;
      }
      const saved = passes.find((p) => p.step === i);
      // Going on after a stopped run: what stayed of the steps before the stopped pass is not run again
      // (statements run as written, finished passes); what was undone or removed is.
      if ((i < resumeAt && s.irreversible) || saved?.done) {
        options.onProgress?.(`${plan.migration}: step ${i + 1}/${plan.steps.length}: ${s.what}: done by the earlier run, not run again`);
        continue;
      }
      options.onProgress?.(`${plan.migration}: step ${i + 1}/${plan.steps.length}: ${s.what}${saved ? `: going on after ${saved.rows.toLocaleString('en-US')} row(s) done by the earlier run` : ''}`);
      ran.push(s);
      await runStep(db, s, plan, options, { ...pass, index: i });
    }
    await db.exec(db.resetSql);
    // The final names (and a type change's swap) and the history row commit together, or not at all.
    const atEnd = ran.flatMap((s) => (s.run.kind === 'at-end' || (asWrittenOnly && s.run.kind === 'transaction') ? s.run.statements : []));
    const finish = { ...(ran.find((s) => s.run.kind === 'at-end') ?? (asWrittenOnly ? ran[0] : undefined) ?? { what: 'recording it', table: null }), retry: true } as OnlineStep;
    await withRetries(finish, options, () => db.transaction(async (tx) => {
      if (atEnd.length) {
        await tx.exec(lockSettingsSql(options.lockTimeoutMs, options.deadlockTimeout));
        await tx.runStatements(atEnd);
        await tx.exec(db.resetSql);
      }
      if (step.direction === 'up') await insertHistory(tx, options.table, { ...step.record!, durationMs: elapsed(), transactional: false });
      else await deleteHistory(tx, options.table, step.version);
      if (recorded()) await tx.exec(forgetProgressSql(options.table, step.version, step.direction));
    }));
    if (recorded()) await dropProgressTableIfEmpty(db, options.table).catch(() => {});
  } catch (error) {
    options.onStep?.({ type: 'failed', step, durationMs: elapsed() });
    const undo = asWrittenOnly
      ? 'It was rolled back (its statements and its history row are one transaction); no history row was written.'
      : await undoSteps(db, ran, rowsDone);
    const failedStep = ran.at(-1);
    if (options.signal?.aborted) {
      const name = (options.signal.reason as NodeJS.Signals | undefined) ?? 'SIGINT';
      throw new Interrupted(name, `interrupted by ${name} during ${plan.migration}${failedStep ? ` (${failedStep.what})` : ''}. ${undo}`);
    }
    const cause = error instanceof StatementFailed ? error.cause : error;
    throw new MigrationFailed(`${plan.path}: online step ${ran.length} of ${plan.steps.length} failed (${failedStep?.what ?? 'recording it'}): ${(cause as Error).message}\n${undo}`, { cause });
  }
  const result: StepResult = { direction: step.direction, version: step.versionText, name: step.name, durationMs: elapsed() };
  options.onStep?.({ type: 'done', step, result });
  return result;
}

/**
 * Make the record table once per run. A role that may not create a table in the history table's schema
 * runs on without records (as before they existed): said once, since a stop part way then cannot be gone on from.
 */
async function recordTable(db: Db, options: OnlineRunOptions, pass: PassContext): Promise<boolean> {
  if (pass.canRecord.value !== undefined) return pass.canRecord.value;
  try {
    await db.exec(createProgressTableSql(options.table));
    pass.canRecord.value = true;
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    pass.canRecord.value = false;
    options.onProgress?.(`online: cannot keep a record of what this run does in ${qualifiedName(progressTable(options.table))} (${(error as Error).message}); ` +
      'if it stops part way, what it did cannot be gone on from. Let the role create tables in that schema to have it.');
  }
  return pass.canRecord.value;
}

/** Statements run as written in a transaction of their own: they stay when a later step fails, so they record that they ran. */
function keepsRecord(s: OnlineStep): boolean {
  return s.run.kind === 'transaction' && Boolean(s.irreversible) && !s.inPlace;
}

const statementsText = (statements: readonly string[]) => statements.join('\n;\n');

/** What the batched passes of this migration need to know to record, or go on from, where they are. */
interface PassContext {
  version: bigint; direction: 'up' | 'down'; passes: readonly Progress[]; rowsDone: Map<OnlineStep, number>;
  /** Whether the record table is there (made on first use); false when the role may not create it. */
  canRecord: { value?: boolean };
}

/** The passes an earlier run of this migration stopped in; refused when the plan no longer has them (the file changed). */
async function earlierPasses(db: Db, step: PreparedStep, plan: OnlinePlan, options: OnlineRunOptions): Promise<Progress[]> {
  const passes = (await readProgress(db, options.table, step.version)).filter((p) => p.direction === step.direction);
  for (const p of passes) {
    const s = plan.steps[p.step];
    if (p.kind === 'pass' && s?.resumable && s.run.kind === 'batches' && s.run.sql === p.statement) continue;
    if (p.kind === 'statements' && s && keepsRecord(s) && s.run.kind === 'transaction' && statementsText(s.run.statements) === p.statement) continue;
    throw new Refused(`${describeProgress(p, plan.migration)} by an earlier run, and this run's plan does not have that pass at that place ` +
      `(${plan.path} changed since, or what the earlier run left under final names changed the plan); nothing was run. Those rows stay changed. ` +
      'If the file changed, put it back as it was and run `sqlmig up --online` to finish. Else check the table, finish the migration by hand ' +
      `(its remaining rows have keys above ${p.lastKey ?? 'none'}), \`sqlmig stamp\` it and delete the record (\`delete from ${qualifiedName(progressTable(options.table))} where version = ${step.version}\`).`);
  }
  // Going on runs again what the stop undid and skips what stayed (statements run as written). A name
  // given in place before the stopped pass stayed too, on an object that a run again would build anew:
  // that plan is not gone on from.
  const inPlace = passes.length ? plan.steps.slice(0, Math.max(...passes.map((p) => p.step))).filter((s) => s.inPlace) : [];
  if (inPlace.length) {
    throw new Refused(`${describeProgress(passes.at(-1)!, plan.migration)} by an earlier run, after names given in place (${inPlace.map((s) => s.what).join('; ')}) that stayed, ` +
      'and a run again would build those objects anew; nothing was run. Check the table, finish the migration by hand (its remaining rows have keys above ' +
      `${passes.at(-1)!.lastKey ?? 'none'}), then \`sqlmig stamp\` it and delete the record (\`delete from ${qualifiedName(progressTable(options.table))} where version = ${step.version}\`).`);
  }
  return passes;
}

async function runStep(db: Db, s: OnlineStep, plan: OnlinePlan, options: OnlineRunOptions, pass: PassContext & { index: number }): Promise<void> {
  const run = s.run;
  switch (run.kind) {
    case 'transaction': {
      const recorded = keepsRecord(s) && await recordTable(db, options, pass);
      return withRetries(s, options, () => db.transaction(async (tx) => {
        await tx.exec(lockSettingsSql(options.lockTimeoutMs, options.deadlockTimeout));
        await tx.runStatements(run.statements);
        await tx.exec(db.resetSql);
        // They and the record of them commit together: a run stopped after them does not run them again.
        if (recorded) {
          await tx.exec(saveProgressSql(options.table, {
            kind: 'statements', version: pass.version, direction: pass.direction, step: pass.index, statement: statementsText(run.statements), lastKey: null, bound: '', rows: 0, done: true,
          }));
        }
      }));
    }
    case 'alone':
      return db.exec(run.statement);
    case 'at-end':
      return; // run with the history row, once every step has finished
    case 'drop-invalid-index': {
      const invalid = await db.query(`select 1 from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
        where n.nspname = $1 and i.relname = $2 and not x.indisvalid`, [run.schema, run.name]);
      if (invalid.length) await db.exec(`drop index concurrently if exists "${run.schema.replace(/"/g, '""')}"."${run.name.replace(/"/g, '""')}"`);
      return;
    }
    case 'batches': {
      const [end] = await db.query<{ last: string | null; estimate: string | null }>(run.bound);
      const saved = pass.passes.find((p) => p.step === pass.index);
      const bound = saved?.bound ?? end?.last ?? null;
      if (bound == null) return;
      const of = Number(end?.estimate ?? 0) > 0 ? Number(end!.estimate) : null;
      let last: string | null = saved?.lastKey ?? null;
      let rows = saved?.rows ?? 0;
      if (saved) pass.rowsDone.set(s, rows);
      const record = (done: boolean): Progress => ({ kind: 'pass', version: pass.version, direction: pass.direction, step: pass.index, statement: run.sql, lastKey: last, bound, rows, done });
      const resumable = Boolean(s.resumable) && await recordTable(db, options, pass);
      const sizer = batchSizer({ max: options.batchSize, timeBoxed: options.batchTimeBoxed });
      for (let batch = 1; ; batch++) {
        if (options.signal?.aborted) throw new Error('aborted');
        const size = sizer.size;
        let started = 0; // of the attempt that went through: the retries before it, and their sleeps, say nothing of the batch's speed
        const [row] = await withRetries(s, options, () => db.transaction(async (tx) => {
          started = performance.now();
          await tx.exec(lockSettingsSql(options.lockTimeoutMs, options.deadlockTimeout));
          const [done] = await tx.query<{ last: string | null; n: number }>(run.sql, [last, size, bound]);
          // The batch and how far the pass got commit together: a run stopped after it goes on after it.
          if (resumable && done && done.n > 0) await tx.exec(saveProgressSql(options.table, { ...record(false), lastKey: done.last, rows: rows + done.n }));
          return [done];
        }));
        if (!row || row.n === 0) break;
        sizer.done(row.n, performance.now() - started);
        last = row.last;
        rows += row.n;
        pass.rowsDone.set(s, rows);
        options.onRows?.({ migration: plan.migration, step: s.what, rows, of });
      }
      if (resumable) await db.exec(saveProgressSql(options.table, record(true)));
      return;
    }
  }
}

/** A lock not granted within lock_timeout (55P03): the transaction rolled back; wait, then try again, up to the retries. */
async function withRetries<T>(s: OnlineStep, options: OnlineRunOptions, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code ?? ((error as { cause?: { code?: string } }).cause?.code);
      if (!s.retry || code !== '55P03' || attempt >= options.lockRetries || options.signal?.aborted) {
        if (code === '55P03') throw Object.assign(new Error(`the lock on ${s.table ?? 'the table'} was not granted within --online-lock-timeout ${options.lockTimeoutMs}ms, ${attempt + 1} attempt(s) (--lock-retries ${options.lockRetries}); a long transaction holds it`), { cause: error });
        throw error;
      }
      options.onProgress?.(`lock not granted within ${options.lockTimeoutMs}ms (${s.what}); retry ${attempt + 1} of ${options.lockRetries}`);
      await sleep(Math.min(100 * 2 ** attempt, 5000));
    }
  }
}

/** Undo what ran, newest first, on a session of its own; says what was undone and what (if anything) is left. */
async function undoSteps(db: Db, ran: readonly OnlineStep[], rowsDone: ReadonlyMap<OnlineStep, number>): Promise<string> {
  const statements = [...ran].reverse().flatMap((s) => s.undo);
  const kept = ran.flatMap((s) => {
    if (!s.irreversible || (s.run.kind === 'batches' && !rowsDone.get(s))) return [];
    const rows = rowsDone.get(s);
    return [`${s.what}${rows === undefined ? '' : ` (${rows.toLocaleString('en-US')} row(s))`}: ${s.irreversible}`];
  });
  const keptText = kept.length ? ` Kept (not undone): ${kept.join('; ')}.` : '';
  if (!statements.length) return `Nothing to undo; no history row was written.${keptText}`;
  const session = await db.openLockSession();
  const failed: string[] = [];
  try {
    for (const sql of statements) await session.exec(sql).catch((e: unknown) => { failed.push(`${sql} (${(e as Error).message})`); });
  } finally {
    if (session !== db) await session.close();
  }
  if (failed.length) return `Undo did not finish: ${failed.join('; ')}. What is left is named sqlmig_tmp_… and the next \`sqlmig up --online\` removes it; no history row was written.${keptText}`;
  return `What it had done was undone (${statements.length} statement(s)); no history row was written.${keptText}`;
}
