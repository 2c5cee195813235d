/**
 * Run one piece of work on many targets: at most `parallel` at a time, in the fleet's order. A failure
 * stops nothing by default; `failFast` starts no new target after one; `canary` runs the first N alone and
 * goes on only if all of them succeeded. The work itself is a single-target run (createMigrator): this
 * module only schedules and records.
 */
import { performance } from 'node:perf_hooks';
import { Interrupted, SqlmigError } from '../errors.js';
import type { FleetTarget } from './targets.js';

export interface FleetPolicy {
  parallel: number;
  failFast?: boolean;
  canary?: number;
  /** Aborted: no new target starts; running ones get the same signal and roll back. */
  signal?: AbortSignal;
}

export type OutcomeState = 'ok' | 'failed' | 'not started';

export interface TargetOutcome<R> {
  target: FleetTarget;
  state: OutcomeState;
  /** 0 when it succeeded; 0 too for one not started (`message` says why). */
  exitCode: number;
  durationMs: number;
  result?: R;
  /** Why it failed (masked by the caller before printing) or why it was not started. */
  message?: string;
}

/** What the work returns: a non-zero code without an error (status --check, validate) is a failure too, `message` says why. */
export interface WorkResult<R> { exitCode: number; result: R; message?: string }

export interface FleetProgress { done: number; failed: number; total: number }

export async function runFleet<R>(
  targets: readonly FleetTarget[],
  work: (target: FleetTarget) => Promise<WorkResult<R>>,
  policy: FleetPolicy,
  onFinish: (outcome: TargetOutcome<R>, progress: FleetProgress) => void = () => {},
): Promise<TargetOutcome<R>[]> {
  const outcomes: TargetOutcome<R>[] = new Array(targets.length);
  const progress: FleetProgress = { done: 0, failed: 0, total: targets.length };
  let stopped: string | null = null;
  const runOne = async (i: number) => {
    const target = targets[i]!;
    const why = policy.signal?.aborted ? `interrupted by ${String(policy.signal.reason ?? 'a signal')}` : stopped;
    if (why) {
      outcomes[i] = { target, state: 'not started', exitCode: 0, durationMs: 0, message: why };
      return;
    }
    const outcome = await attempt(target, work);
    outcomes[i] = outcome;
    progress.done++;
    if (outcome.state === 'failed') {
      progress.failed++;
      if (policy.failFast && !stopped) stopped = `--fail-fast: ${target.name} failed`;
    }
    onFinish(outcome, { ...progress });
  };
  const indices = targets.map((_t, i) => i);
  const canary = Math.min(Math.max(0, policy.canary ?? 0), targets.length);
  await inPool(indices.slice(0, canary), policy.parallel, runOne);
  if (canary && outcomes.slice(0, canary).some((o) => o.state === 'failed') && !stopped) {
    stopped = `--canary ${canary}: ${outcomes.slice(0, canary).filter((o) => o.state === 'failed').map((o) => o.target.name).join(', ')} failed`;
  }
  await inPool(indices.slice(canary), policy.parallel, runOne);
  return outcomes;
}

async function attempt<R>(target: FleetTarget, work: (target: FleetTarget) => Promise<WorkResult<R>>): Promise<TargetOutcome<R>> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const { exitCode, result, message } = await work(target);
    return { target, state: exitCode === 0 ? 'ok' : 'failed', exitCode, durationMs: elapsed(), result, ...(exitCode && message ? { message } : {}) };
  } catch (error) {
    const exitCode = error instanceof SqlmigError ? error.exitCode : 1;
    const result = (error as { result?: R }).result;
    return { target, state: 'failed', exitCode, durationMs: elapsed(), message: (error as Error)?.message ?? String(error), ...(result !== undefined ? { result } : {}) };
  }
}

async function inPool(indices: number[], parallel: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < indices.length) await fn(indices[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, parallel), indices.length) }, worker));
}

/**
 * The fleet's exit code: 0 when every target succeeded, else the worst failure's. Worst first: an
 * interrupt, a failed migration (1), a failed backup (6), a refusal (3), the lock (4), a connection (5),
 * usage (2), then pending migrations (status --check, 7).
 */
const SEVERITY = [130, 143, 1, 6, 3, 4, 5, 2, 7];

export function fleetExitCode(outcomes: readonly TargetOutcome<unknown>[], signal?: AbortSignal): number {
  if (signal?.aborted) return new Interrupted(signal.reason as NodeJS.Signals, '').exitCode;
  const codes = outcomes.filter((o) => o.state === 'failed').map((o) => o.exitCode);
  if (codes.length === 0) return 0;
  const rank = (code: number) => (SEVERITY.includes(code) ? SEVERITY.indexOf(code) : SEVERITY.length);
  return codes.reduce((worst, code) => (rank(code) < rank(worst) ? code : worst));
}
