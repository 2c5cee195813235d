/** Run prepared steps: each in its own transaction with its history row. Returns results, prints nothing. */
import { performance } from 'node:perf_hooks';
import { StatementFailed, type Db } from './db/index.js';
import { Interrupted, MigrationFailed } from './errors.js';
import { deleteHistory, historyDelete, historyInsert, insertHistory, type HistoryTable, type NewHistoryRow } from './history.js';
import type { Direction } from './plan.js';
import type { Script } from './script.js';
import { describeSqlError } from './sqlerror.js';

export interface PreparedStep {
  direction: Direction;
  version: bigint;
  versionText: string;
  name: string;
  script: Script;
  /** up: the row to record. */
  record?: NewHistoryRow;
  /** down: the file is gone and the SQL stored at apply time is used. */
  fromStoredSql?: boolean;
}

export interface StepResult {
  direction: Direction;
  version: string;
  name: string;
  durationMs: number;
  fromStoredSql?: boolean;
}

export type StepEvent =
  | { type: 'start'; step: PreparedStep }
  | { type: 'done'; step: PreparedStep; result: StepResult }
  | { type: 'failed'; step: PreparedStep; durationMs: number };

export interface ExecuteOptions {
  table: HistoryTable;
  singleTransaction?: boolean;
  /** The caller has a transaction open on db (verify, which rolls it back): run the steps in it, as --single-transaction does, without BEGIN or COMMIT. */
  withinTransaction?: boolean;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
}

/** Thrown with what completed before the failure, so reports can say what stays applied. */
export interface WithCompleted { completed: StepResult[] }

export async function executePlan(db: Db, steps: readonly PreparedStep[], options: ExecuteOptions): Promise<StepResult[]> {
  const completed: StepResult[] = [];
  const runAll = async (session: Db, ownTransaction: boolean) => {
    for (const step of steps) {
      if (options.signal?.aborted) throw interrupted(options.signal, steps, completed, null);
      completed.push(await runStep(session, step, options, ownTransaction, completed, steps));
    }
  };
  try {
    if (options.withinTransaction) await runAll(db, false);
    else if (options.singleTransaction) await db.transaction((tx) => runAll(tx, false));
    else await runAll(db, true);
  } catch (error) {
    if (options.singleTransaction && !(error instanceof Interrupted)) completed.length = 0;
    throw Object.assign(error as Error, { completed: [...completed] } satisfies WithCompleted);
  }
  return completed;
}

async function runStep(
  db: Db, step: PreparedStep, options: ExecuteOptions, ownTransaction: boolean,
  completed: StepResult[], all: readonly PreparedStep[],
): Promise<StepResult> {
  options.onStep?.({ type: 'start', step });
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const statements = step.script.statements?.map((s) => s.sql) ?? [step.script.text];
  try {
    if (ownTransaction && step.script.transactional) {
      const record = step.direction === 'up' ? historyInsert(options.table, step.record!) : historyDelete(options.table, step.version);
      await db.runTransaction(statements, record);
    } else {
      // Inside --single-transaction, or a no-transaction file: statements first, the row only after all succeeded.
      await db.runStatements(statements);
      if (step.direction === 'up') await insertHistory(db, options.table, { ...step.record!, durationMs: elapsed() });
      else await deleteHistory(db, options.table, step.version);
    }
  } catch (error) {
    options.onStep?.({ type: 'failed', step, durationMs: elapsed() });
    if (options.signal?.aborted) throw interrupted(options.signal, all, completed, step);
    throw failure(step, error, completed, options.singleTransaction ?? false);
  }
  const result: StepResult = { direction: step.direction, version: step.versionText, name: step.name, durationMs: elapsed() };
  if (step.fromStoredSql) result.fromStoredSql = true;
  options.onStep?.({ type: 'done', step, result });
  return result;
}

function failure(step: PreparedStep, error: unknown, completed: StepResult[], single: boolean): MigrationFailed {
  const index = error instanceof StatementFailed ? error.index : null;
  const cause = error instanceof StatementFailed ? error.cause : error;
  const id = `${step.versionText}_${step.name}`;
  const lines = [describeSqlError(step.script, index, cause)];
  const verb = step.direction === 'up' ? 'apply' : 'revert';
  if (!step.script.transactional && step.script.statements && index !== null) {
    const ran = step.script.statements.slice(0, index);
    lines.push(`${id} runs without a transaction: statement ${index + 1} of ${step.script.statements.length} failed.`);
    lines.push(ran.length
      ? `These ran before it and were NOT rolled back:\n${ran.map((s, i) => `  ${i + 1}. line ${s.line}: ${s.sql.split('\n')[0]}`).join('\n')}`
      : 'Nothing ran before it.');
    lines.push('No history row was written; make the file safe to rerun (IF NOT EXISTS …) and run sqlmig again.');
    const leftover = concurrentIndexName(step.script.statements[index]?.sql ?? '');
    if (leftover !== null) {
      lines.push(`A failed CREATE INDEX CONCURRENTLY can leave an INVALID index behind, which IF NOT EXISTS would then keep: run \`DROP INDEX CONCURRENTLY IF EXISTS ${leftover || '<its name>'};\` before running sqlmig again.`);
    }
  } else if (single) {
    lines.push(`could not ${verb} ${id}; the whole batch was rolled back (--single-transaction), nothing changed.`);
  } else {
    const kept = completed.map((r) => `${r.version}_${r.name}`);
    lines.push(`could not ${verb} ${id}; it was rolled back.${kept.length ? ` Done before it and kept: ${kept.join(', ')}.` : ''}`);
  }
  return new MigrationFailed(lines.join('\n'), { cause });
}

/** The index a CREATE INDEX CONCURRENTLY statement builds ('' when unnamed), or null for any other statement. */
function concurrentIndexName(sql: string): string | null {
  const match = /^create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?((?!on\b)(?:"[^"]+"|[^\s(]+))?/i.exec(sql);
  return match ? match[1] ?? '' : null;
}

function interrupted(signal: AbortSignal, all: readonly PreparedStep[], completed: StepResult[], running: PreparedStep | null): Interrupted {
  const name = (signal.reason as NodeJS.Signals | undefined) ?? 'SIGINT';
  const done = new Set(completed.map((r) => r.version));
  const notRun = all.filter((s) => !done.has(s.versionText) && s !== running).map((s) => `${s.versionText}_${s.name}`);
  const parts = [`interrupted by ${name}.`];
  if (completed.length) parts.push(`Completed: ${completed.map((r) => `${r.version}_${r.name}`).join(', ')}.`);
  if (running) parts.push(`${running.versionText}_${running.name} ${running.script.transactional ? 'was rolled back' : 'was stopped (no transaction: statements before the cancelled one stay)'}.`);
  if (notRun.length) parts.push(`Not run: ${notRun.join(', ')}.`);
  return new Interrupted(name, parts.join(' '));
}
