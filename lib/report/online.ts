/** An online plan as the SQL-with-comments `--online --dry-run` prints: every step, its lock, what it blocks, an estimate. */
import type { TableFacts, OnlinePlan, OnlineStep } from '../online/types.js';
import { stepDeadlockTimeoutMs } from '../online/lock-settings.js';

export interface PlanSettings { lockTimeoutMs: number; lockRetries: number; batchSize: number; batchTimeBoxed?: boolean; deadlockTimeout?: boolean }

export function renderOnlinePlan(plan: OnlinePlan, facts: ReadonlyMap<string, TableFacts>, settings: PlanSettings, notes: readonly string[]): string {
  const lines = [`-- online plan: ${plan.steps.length} step(s)${plan.rewritten ? ', proved on a scratch database to give the schema of the file as written' : ' (the file as written: nothing in it needs an online form)'}`];
  for (const note of [...plan.notes, ...notes]) lines.push(`-- note: ${note}`);
  plan.steps.forEach((step, i) => {
    lines.push('', `-- step ${i + 1}/${plan.steps.length}: ${step.what}`);
    lines.push(`--   lock: ${step.lock}${step.retry ? ` (lock_timeout ${settings.lockTimeoutMs}ms${settings.deadlockTimeout ? `, deadlock_timeout ${stepDeadlockTimeoutMs(settings.lockTimeoutMs)}ms` : ''}, up to ${settings.lockRetries} retries)` : ''}; blocks: ${step.blocks}`);
    const estimate = estimateOf(step, facts, settings);
    if (estimate) lines.push(`--   estimate: ${estimate}`);
    lines.push(...sqlOf(step));
  });
  return lines.join('\n');
}

function estimateOf(step: OnlineStep, facts: ReadonlyMap<string, TableFacts>, settings: PlanSettings): string | null {
  const table = step.table ? facts.get(step.table) : undefined;
  if (!table || !step.scans) return null;
  const rows = Math.round(table.rows).toLocaleString('en-US');
  const size = `${(table.bytes / 1024 / 1024).toFixed(1)} MB`;
  if (step.run.kind === 'batches') {
    const count = Math.max(1, Math.ceil(table.rows / settings.batchSize));
    return `~${rows} rows of ${step.table} (${size}) in ${settings.batchTimeBoxed ? `${count} or more batches (sized by time)` : `~${count} batch(es)`}`;
  }
  return `reads ~${rows} rows of ${step.table} (${size})`;
}

function sqlOf(step: OnlineStep): string[] {
  const run = step.run;
  switch (run.kind) {
    case 'transaction': return ['begin;', ...run.statements.map((s) => `${s};`), 'commit;'];
    case 'alone': return [`${run.statement};`];
    case 'at-end': return ['-- in the last transaction, with the history row:', ...run.statements.map((s) => `${s};`)];
    case 'drop-invalid-index': return [`-- (only if INVALID) drop index concurrently ${run.schema}.${run.name};`];
    case 'batches': return [`-- $3: the largest key when the pass starts (rows inserted later are already done):`, `${run.bound};`,
      `-- repeated, one transaction per batch, until no row is left ($1: the last key of the previous batch, $2: the batch size):`, `${run.sql};`];
  }
}
