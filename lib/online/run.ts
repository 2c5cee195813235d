/** The online hook of up and down: plan, prove on a scratch database, then run each migration online or as the runner runs it. */
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { executePlan, type PreparedStep, type StepResult, type WithCompleted } from '../runner/execute.js';
import { removeLeftovers } from './cleanup.js';
import { executeOnlinePlan, type OnlineRunOptions } from './executor.js';
import { maySetDeadlockTimeout } from './lock-settings.js';
import type { LiveFacts } from './facts.js';
import { planSteps, type OnlinePlans } from './plan-steps.js';
import { proveOnline } from './proof.js';
import { renderOnlinePlan } from '../report/online.js';

export interface Online { plans: OnlinePlans; facts: LiveFacts | null; notes: string[]; options: OnlineRunOptions }

export const ONLINE_DEFAULTS = { lockTimeoutMs: 1000, lockRetries: 10, batchSize: 10_000 };

/** null when no step runs online; else the plans, proved (up) on a scratch database. Throws Refused before anything runs. */
export async function prepareOnline(ctx: Context, db: Db, steps: readonly PreparedStep[], online: boolean): Promise<Online | null> {
  const o = ctx.options;
  const options: OnlineRunOptions = {
    table: ctx.table, signal: o.signal, onStep: o.onStep, onProgress: o.onNotice, onRows: o.onRows,
    lockTimeoutMs: o.onlineLockTimeoutMs ?? ONLINE_DEFAULTS.lockTimeoutMs, lockRetries: o.lockRetries ?? ONLINE_DEFAULTS.lockRetries, batchSize: o.batchSize ?? ONLINE_DEFAULTS.batchSize,
    batchTimeBoxed: o.batchSize === undefined,
  };
  const { plans, facts } = await planSteps(db, steps, online, { batchSize: options.batchSize, batchTimeBoxed: options.batchTimeBoxed });
  if (plans.every((p) => p === null)) return null;
  options.deadlockTimeout = await maySetDeadlockTimeout(db);
  // down: the plain down has no earlier state to replay it from here; its plan is checked by the same planner, not proved.
  const notes = steps[0]?.direction === 'up' ? await proveOnline(ctx, db, steps, plans, options) : [];
  return { plans, facts, notes, options };
}

export async function executeOnline(ctx: Context, db: Db, steps: readonly PreparedStep[], online: Online): Promise<StepResult[]> {
  for (const removed of await removeLeftovers(db)) ctx.options.onNotice?.(`online: removed ${removed}, left by an earlier online run that was killed`);
  const completed: StepResult[] = [];
  try {
    for (const [i, step] of steps.entries()) {
      const plan = online.plans[i];
      if (plan) completed.push(await executeOnlinePlan(db, step, plan, online.options));
      else completed.push(...await executePlan(db, [step], { table: ctx.table, signal: ctx.options.signal, onStep: ctx.options.onStep }));
    }
  } catch (error) {
    const e = error as Error & Partial<WithCompleted>;
    throw Object.assign(e, { completed: [...completed, ...(e.completed ?? [])] } satisfies WithCompleted);
  }
  return completed;
}

/** --dry-run: the plan of steps[i] as SQL with comments. */
export function dryRunOnline(online: Online, i: number): string {
  return renderOnlinePlan(online.plans[i]!, online.facts?.tables ?? new Map(), online.options, online.notes);
}
