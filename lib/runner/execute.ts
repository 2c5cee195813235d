/** Run prepared steps: each in its own transaction with its history row. Returns results, prints nothing. */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { StatementFailed, type Db, type ParameterizedQuery, type Row } from '../db/index.js';
import { ConnectionLost, Interrupted, LockLost, MigrationFailed } from '../errors.js';
import { historyDelete, historyInsert, previousCommittedSql, qualifiedName, setGuardSql, type HistoryTable, type NewHistoryRow } from './history.js';
import type { Direction } from './plan.js';
import { isLockLost, type HeldLock } from './lock.js';
import { refuseUnsafeThroughPooler } from './pooler.js';
import type { PreparedStep } from './prepared-step.js';

export type { PreparedStep } from './prepared-step.js';
import type { Script } from '../migrations/script.js';
import { describeSqlError } from '../migrations/sqlerror.js';


export interface StepResult {
  direction: Direction;
  version: string;
  name: string;
  durationMs: number;
  fromStoredSql?: boolean;
}

/** `position`: this migration's place in the run (1-based) and how many the run has. */
export interface StepPosition { n: number; of: number }

export type StepEvent =
  | { type: 'start'; step: PreparedStep; position?: StepPosition }
  | { type: 'done'; step: PreparedStep; result: StepResult; position?: StepPosition }
  | { type: 'failed'; step: PreparedStep; durationMs: number; position?: StepPosition };

export interface ExecuteOptions {
  table: HistoryTable;
  singleTransaction?: boolean;
  /** The caller has a transaction open on db (verify, which rolls it back): run the steps in it, as --single-transaction does, without BEGIN or COMMIT. */
  withinTransaction?: boolean;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
  /** The runner's lock: checked inside each migration's transaction before its history row (and before each step behind a pooler, or without a transaction). */
  lock?: HeldLock;
  /**
   * With withinTransaction: on any failure the caller rolls back and runs the step again the long way
   * (verify's shortcut), so a step may go as one message (Db.runInOne), whose failure does not say
   * which statement it was.
   */
  unlocated?: boolean;
}

/** Thrown with what completed before the failure, so reports can say what stays applied. */
export interface WithCompleted { completed: StepResult[] }

export async function executePlan(db: Db, steps: readonly PreparedStep[], options: ExecuteOptions): Promise<StepResult[]> {
  refuseUnsafeThroughPooler(db, steps);
  const completed: StepResult[] = [];
  const single = Boolean(options.singleTransaction || options.withinTransaction);
  // Inside --single-transaction nothing is applied until the batch commits: report steps only then.
  const held: StepEvent[] = [];
  const onStep = single ? (event: StepEvent) => (event.type === 'done' ? held.push(event) : options.onStep?.(event)) : options.onStep;
  const runAll = async (session: Db) => {
    // A migration is sent while the one before it still runs (see pipelines()): the client's work on
    // the next file overlaps the server's on this one. At most two are in flight.
    let last: { step: PreparedStep; run: Promise<StepResult> } | null = null;
    for (const step of steps) {
      if (options.signal?.aborted) {
        if (last) await last.run;
        throw interrupted(options.signal, steps, completed, null, single);
      }
      const behind = last && pipelines(session, last.step, single) && pipelines(session, step, single) ? last : null;
      if (last && !behind) await last.run;
      const run = runStep(session, step, { ...options, onStep }, single, completed, steps, behind);
      run.catch(() => {}); // awaited below or on the next turn; its failure is reported from there
      if (behind) {
        try {
          await behind.run;
        } catch (error) {
          await run.catch(() => {}); // rolled back by its precondition: nothing of it ran
          throw error;
        }
      }
      last = { step, run };
    }
    if (last) await last.run;
  };
  try {
    if (options.withinTransaction) await runAll(db);
    else if (single) await db.transaction((tx) => runAll(tx));
    else await runAll(db);
  } catch (error) {
    if (single) completed.length = 0;
    throw Object.assign(error as Error, { completed: [...completed] } satisfies WithCompleted);
  }
  for (const event of held) options.onStep?.(event);
  return completed;
}

/**
 * Whether a migration may be sent while the one before it is still running, and the one after it while
 * it runs: a transactional, parsed file on a direct server session (behind a pooler each migration
 * first checks the lock on its own; PGlite runs in this process, so there is nothing to overlap).
 */
function pipelines(db: Db, step: PreparedStep, single: boolean): boolean {
  return !single && db.kind === 'server' && !db.pooled && step.script.transactional && step.script.statements !== undefined;
}

/** The migration was not run: the one it was sent behind failed, and its precondition rolled it back. */
class NotRun extends Error {}

/**
 * Run one migration; `behind`: the one still running before it on this session. Then this one is sent
 * at once, with a precondition (history.ts) that lets it run only if that one committed, and it is
 * announced, timed and recorded as completed only once that one is done.
 */
async function runStep(
  db: Db, step: PreparedStep, options: ExecuteOptions, single: boolean,
  completed: StepResult[], all: readonly PreparedStep[], behind: { step: PreparedStep; run: Promise<StepResult> } | null = null,
): Promise<StepResult> {
  const statements = step.script.statements?.map((s) => s.sql) ?? [step.script.text];
  let sent: Promise<Row[]> | null = null;
  if (behind) {
    const precondition = { precondition: previousCommittedSql(options.table, behind.step) };
    sent = db.runTransaction(statements, finishQueries(db, step, options.table, { guard: randomUUID(), lock: options.lock }), { ...precondition, parsed: true });
    sent.catch(() => {});
    try {
      await behind.run;
    } catch {
      await sent.catch(() => {});
      throw new NotRun();
    }
  }
  const position = { n: all.indexOf(step) + 1, of: all.length };
  options.onStep?.({ type: 'start', step, position });
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    let written: Row[];
    // Without a transaction to roll back, nothing may start once the lock is gone; behind a pooler, whose timeouts can take it, nothing either.
    if (options.lock && (db.pooled || !step.script.transactional)) {
      await db.exec(options.lock.checkSql).catch((e: unknown) => { throw isLockLost(e) ? new StatementFailed(-1, e) : e; });
    }
    if (sent) {
      written = await sent;
    } else if (!single && step.script.transactional) {
      // BEGIN, the file, session reset, the history row, COMMIT: one pipeline, all or nothing.
      const guard = randomUUID();
      written = await db.runTransaction(statements, finishQueries(db, step, options.table, { guard, lock: options.lock }), { parsed: step.script.statements !== undefined });
    } else if (options.unlocated && db.runInOne && step.script.statements) {
      written = await db.runInOne(statements, finishQueries(db, step, options.table, { guard: randomUUID(), lock: options.lock }));
    } else {
      // Inside --single-transaction, or a no-transaction file: statements first, the row only after all succeeded.
      await db.runStatements(statements);
      const guard = single ? randomUUID() : undefined;
      written = await runFinish(db, finishQueries(db, step, options.table, { guard, durationMs: elapsed(), lock: options.lock }), statements.length);
    }
    if (written.length !== 1) throw new TransactionEndedByFile();
  } catch (error) {
    options.onStep?.({ type: 'failed', step, durationMs: elapsed(), position });
    if (options.signal?.aborted && !(error instanceof TransactionEndedByFile)) throw interrupted(options.signal, all, completed, step, single);
    throw failure(step, error, completed, single, options.table, Boolean(options.singleTransaction), options.lock?.lostHint ?? '');
  }
  const result: StepResult = { direction: step.direction, version: step.versionText, name: step.name, durationMs: elapsed() };
  if (step.fromStoredSql) result.fromStoredSql = true;
  completed.push(result);
  options.onStep?.({ type: 'done', step, result, position });
  return result;
}

/**
 * After a migration's statements: put the session back (a file's SET search_path or SET ROLE must not
 * reach the next migration or the history row), then write or delete the row, which returns its version.
 * With a guard, the row is written only inside the transaction that ran the migration.
 */
function finishQueries(db: Db, step: PreparedStep, table: HistoryTable, options: { guard?: string; durationMs?: number; lock?: HeldLock }): ParameterizedQuery[] {
  const parts = [db.resetSql.replace(/;\s*$/, ''), ...(options.guard ? [setGuardSql(options.guard)] : []), ...(options.lock ? [options.lock.checkSql] : [])];
  const reset = { sql: parts.join('; '), params: [] };
  // The row's values go inline: on a server a query with parameters would cost the pipeline a round trip
  // (literal.ts); on both, the finish can then travel with the file (runTransaction's `parsed`).
  const record = step.direction === 'up'
    ? historyInsert(table, step.record!, options.guard ? { guard: options.guard, inline: true } : { durationMs: options.durationMs, inline: true })
    : historyDelete(table, step.version, options.guard, { inline: true });
  return [reset, record];
}

async function runFinish(db: Db, queries: ParameterizedQuery[], firstIndex: number): Promise<Row[]> {
  let rows: Row[] = [];
  for (const [i, q] of queries.entries()) {
    try {
      if (q.params.length || i === queries.length - 1) rows = await db.query(q.sql, q.params);
      else await db.exec(q.sql);
    } catch (error) {
      throw new StatementFailed(firstIndex + i, error);
    }
  }
  return rows;
}

/** What this run completed before the failure: each named when few, else their count, first and last (a long run made a line of hundreds). */
function keptSummary(completed: readonly StepResult[]): string {
  const ids = completed.map((r) => `${r.version}_${r.name}`);
  return ids.length <= KEPT_NAMED ? ids.join(', ') : `${ids.length} migrations, ${ids[0]} through ${ids.at(-1)}`;
}
const KEPT_NAMED = 5;

/** The history row was not written because the migration's transaction had already ended (a COMMIT in the file). */
class TransactionEndedByFile extends Error {}

/** batch: the user asked for --single-transaction (else a single transaction is the caller's, and its words are the caller's too). */
function failure(step: PreparedStep, error: unknown, completed: StepResult[], single: boolean, table: HistoryTable, batch: boolean, hint: string): Error {
  const index = error instanceof StatementFailed ? error.index : null;
  const cause = error instanceof StatementFailed ? error.cause : error;
  const id = `${step.versionText}_${step.name}`;
  const verb = step.direction === 'up' ? 'apply' : 'revert';
  const statementCount = step.script.statements?.length ?? 1;
  const keptText = completed.length && !single ? ` Done before it and kept: ${keptSummary(completed)}.` : '';
  if (isLockLost(cause)) return lockLost(step, index, keptText, single, hint);
  if (cause instanceof ConnectionLost) return connectionLost(step, cause, index, keptText, batch);
  if (error instanceof TransactionEndedByFile) {
    return new MigrationFailed(`${id}: its transaction had already ended when sqlmig came to record it (a COMMIT or ROLLBACK in the file?), so it was NOT recorded as ${step.direction === 'up' ? 'applied' : 'reverted'}. ` +
      `Statements after that point ran outside any transaction and may have been kept: check the database, then fix the file.${keptText}`);
  }
  if (index !== null && index >= statementCount) {
    const what = index === statementCount ? 'resetting the session after it' : `writing its history row in ${qualifiedName(table)}`;
    return new MigrationFailed(`${id} ran, but ${what} failed: ${(cause as Error)?.message ?? String(cause)}; ` +
      `${step.script.transactional || single ? 'it was rolled back.' : 'its statements stay (no transaction), and it is not recorded.'} ` +
      `This is not an error in ${step.script.path}: check that the user running sqlmig can write ${qualifiedName(table)}.${keptText}`, { cause });
  }
  const lines = [describeSqlError(step.script, index, cause)];
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
  } else if (batch) {
    lines.push(`could not ${verb} ${id}; the whole batch was rolled back (--single-transaction), nothing changed.`);
  } else {
    lines.push(`could not ${verb} ${id}; it was rolled back.${keptText}`);
  }
  return new MigrationFailed(lines.join('\n'), { cause });
}

function lockLost(step: PreparedStep, index: number | null, keptText: string, single: boolean, hint: string): LockLost {
  const id = `${step.versionText}_${step.name}`;
  let fate: string;
  if (index === -1) fate = `${id} was not started.`;
  else if (single) fate = 'The whole batch (--single-transaction) was rolled back; nothing of it stays.';
  else if (step.script.transactional) fate = `${id} was rolled back and not recorded.`;
  else fate = `${id} runs without a transaction: its statements ran and stay, but it was NOT recorded as ${step.direction === 'up' ? 'applied' : 'reverted'}.`;
  return new LockLost(`the runner's lock was lost during the run, so another runner may be migrating this database now; stopped. ${fate}${keptText}\n` +
    `Why: ${hint}. Then run sqlmig again (\`sqlmig status\` shows where it stands).`);
}

function connectionLost(step: PreparedStep, lost: ConnectionLost, index: number | null, keptText: string, single: boolean): ConnectionLost {
  const id = `${step.versionText}_${step.name}`;
  const statements = step.script.statements;
  let fate: string;
  if (single) fate = 'The whole batch (--single-transaction) had not committed, so the server rolled it back; nothing of it stays.';
  else if (step.script.transactional) fate = `${id} had not committed, so the server rolled it back; it has no history row.`;
  else {
    const ran = statements && index !== null ? index : 0;
    fate = `${id} runs without a transaction: ${ran ? `its first ${ran} statement(s) ran and stay` : 'none of its statements completed'}; it has no history row.`;
  }
  return new ConnectionLost(`${lost.message}\nwhile ${step.direction === 'up' ? 'applying' : 'reverting'} ${id}. ${fate}${keptText}\nRun sqlmig again when the server is back (\`sqlmig status\` shows where it stands).`, { cause: lost.cause });
}

/** The index a CREATE INDEX CONCURRENTLY statement builds ('' when unnamed), or null for any other statement. */
function concurrentIndexName(sql: string): string | null {
  const match = /^create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?((?!on\b)(?:"[^"]+"|[^\s(]+))?/i.exec(sql);
  return match ? match[1] ?? '' : null;
}

function interrupted(signal: AbortSignal, all: readonly PreparedStep[], completed: StepResult[], running: PreparedStep | null, single: boolean): Interrupted {
  const name = (signal.reason as NodeJS.Signals | undefined) ?? 'SIGINT';
  if (single) return new Interrupted(name, `interrupted by ${name}. The whole batch (--single-transaction) was rolled back; nothing was applied.`);
  const done = new Set(completed.map((r) => r.version));
  const notRun = all.filter((s) => !done.has(s.versionText) && s !== running).map((s) => `${s.versionText}_${s.name}`);
  const parts = [`interrupted by ${name}.`];
  if (completed.length) parts.push(`Completed: ${completed.map((r) => `${r.version}_${r.name}`).join(', ')}.`);
  if (running) parts.push(`${running.versionText}_${running.name} ${running.script.transactional ? 'was rolled back' : 'was stopped (no transaction: statements before the cancelled one stay)'}.`);
  if (notRun.length) parts.push(`Not run: ${notRun.join(', ')}.`);
  return new Interrupted(name, parts.join(' '));
}
