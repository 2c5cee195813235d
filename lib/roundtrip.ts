/**
 * One migration's round trip on a scratch database: up, down, compare with the schema from before the
 * up, up again, compare with the schema after the first up. One snapshot per state: the schema after
 * "up again" is the next migration's "before". Every phase is timed.
 */
import { performance } from 'node:perf_hooks';
import type { Context } from './context.js';
import type { Db } from './db/index.js';
import { Interrupted, Refused } from './errors.js';
import { executePlan, type PreparedStep } from './execute.js';
import type { MigrationStatus } from './plan.js';
import { compareSnapshots, isNote, type SchemaDifference } from './schema/compare.js';
import type { Equivalence } from './schema/equivalence.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './schema/snapshot.js';
import { prepareDown } from './steps.js';

export type VerifyStatus = 'round-trips' | 'failed' | 'skipped' | 'not-run';

/** Milliseconds spent in each phase of a verify run. */
export interface PhaseTimes {
  /** Opening the scratch database (creating it), and emptying or dropping it at the end. */
  scratch: number;
  up: number;
  down: number;
  upAgain: number;
  /** Reading the schema from the catalog. */
  snapshot: number;
  compare: number;
  /** Starting again from an empty database after a round trip that left the schema in doubt. */
  rebuild: number;
}

export type RoundTripPhase = 'up' | 'down' | 'upAgain' | 'snapshot' | 'compare';

export interface VerifyFinding {
  version: string;
  name: string;
  status: VerifyStatus;
  /** Why it was skipped or not run. */
  reason?: string;
  /** What the down left different from the schema before the up (each fails the migration). */
  differences: SchemaDifference[];
  /** Differences that do not fail it: column order, a date/time folded into a view, whitespace in a function body. */
  notes: SchemaDifference[];
  /** A step that failed outright, with file:line:column and PostgreSQL's message; 'schema' when the schema could not be read. */
  error?: { step: 'up' | 'down' | 'up again' | 'schema'; message: string };
  durationMs: number;
  /** Milliseconds per phase of this round trip. */
  phases: Partial<Record<RoundTripPhase, number>>;
}

/** After the round trip: applied as after its up, not applied (its up failed), or in doubt (rebuild). */
export type RoundTripState = 'applied' | 'not applied' | 'in doubt';

export interface RoundTripResult {
  finding: VerifyFinding;
  state: RoundTripState;
  /** The schema now, when state is 'applied': the next migration's "before". */
  after: SchemaSnapshot | null;
}

export interface RoundTripContext {
  ctx: Context;
  db: Db;
  equivalence: Equivalence;
}

export async function roundTrip(rt: RoundTripContext, status: MigrationStatus, up: PreparedStep, before: SchemaSnapshot): Promise<RoundTripResult> {
  const { ctx, db } = rt;
  const started = performance.now();
  const finding: VerifyFinding = { version: status.versionText, name: status.name, status: 'round-trips', differences: [], notes: [], durationMs: 0, phases: {} };
  const timed = async <T>(phase: RoundTripPhase, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      finding.phases[phase] = Math.round((finding.phases[phase] ?? 0) + performance.now() - t0);
    }
  };
  const snapshot = () => timed('snapshot', () => takeSchemaSnapshot(db, ctx.table));
  const compare = (a: SchemaSnapshot, b: SchemaSnapshot) => timed('compare', async () => compareSnapshots(a, b, rt.equivalence));
  const run = (phase: RoundTripPhase, step: PreparedStep) => timed(phase, () => executePlan(db, [step], { table: ctx.table, signal: ctx.options.signal }));
  const done = (state: RoundTripState, after: SchemaSnapshot | null, result: Partial<VerifyFinding> = {}): RoundTripResult => {
    Object.assign(finding, result, { durationMs: Math.round(performance.now() - started) });
    return { finding, state, after: state === 'applied' ? after : null };
  };

  const failed = await attempt(() => run('up', up));
  if (failed) return done('not applied', null, { status: 'failed', error: { step: 'up', message: failed } });
  const afterUp = await snapshot();
  if (status.file!.downSql === null) return done('applied', afterUp, { status: 'skipped', reason: 'irreversible (no .down.sql): it stays applied' });
  let down: PreparedStep | undefined;
  const downFailed = await attempt(async () => {
    down = (await prepareDown(ctx, db, [{ direction: 'down', status: { ...status, state: 'applied' } }]))[0]!;
    await run('down', down);
  });
  // A failed transactional down was rolled back: the migration is still applied, as after its up.
  if (downFailed) return done(down && !down.script.transactional ? 'in doubt' : 'applied', afterUp, { status: 'failed', error: { step: 'down', message: downFailed } });
  const differences = await compare(before, await snapshot());
  const result = { status: 'failed' as const, differences: differences.filter((d) => !isNote(d)), notes: differences.filter(isNote) };
  const againFailed = await attempt(() => run('upAgain', up));
  if (againFailed) return done('in doubt', null, { ...result, error: { step: 'up again', message: againFailed } });
  const afterUpAgain = await snapshot();
  const drift = (await compare(afterUp, afterUpAgain)).map((d) => ({ ...d, message: `after up again: ${d.message}` }));
  result.differences.push(...drift.filter((d) => !isNote(d)));
  result.notes.push(...drift.filter(isNote));
  if (result.differences.length === 0) return done('applied', afterUpAgain, { ...result, status: 'round-trips' });
  return done(drift.some((d) => !isNote(d)) ? 'in doubt' : 'applied', afterUpAgain, result);
}

/** The message of a step that failed, or null; interruptions and usage errors are not findings. */
export async function attempt(fn: () => Promise<unknown>): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (error) {
    if (error instanceof Interrupted) throw error;
    if (error instanceof Refused || (error as { exitCode?: number }).exitCode === 1) return (error as Error).message;
    throw error;
  }
}
