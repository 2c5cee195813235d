/**
 * One migration's round trip on a scratch database: up, down, compare with the schema from before the
 * up, up again. Down and up again run in one transaction that is rolled back, so the schema after the
 * up, read once, is also the next migration's "before": two snapshots per migration. Migrations that run
 * without a transaction are reverted and applied again for real (three snapshots). Every phase is timed.
 *
 * On a scratch database that is verify's alone, a transactional up and down first try the shortcut
 * (roundTripInOne): no snapshot at all when the down leaves the catalogs as they were, and a snapshot
 * of only what it touched otherwise. The schema after such a round trip is left unread, and read only
 * if a later round trip needs it.
 */
import { performance } from 'node:perf_hooks';
import type { Context } from './context.js';
import type { Db } from '../db/index.js';
import { Interrupted, Refused } from '../errors.js';
import { executePlan, type PreparedStep } from './execute.js';
import type { MigrationStatus } from './plan.js';
import { compareSnapshots, isNote, type SchemaDifference } from '../schema/compare.js';
import type { Equivalence } from '../schema/equivalence.js';
import { takeSchemaSnapshot, takeScopedSnapshot, type ObjectScope, type SchemaSnapshot, type ScopedSnapshot } from '../schema/snapshot.js';
import { changesSince, deletedSince, markCatalogs, shortcutEnabled, unionScope } from '../schema/unchanged.js';
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

/** A schema not read: the one the database holds now, which is read if a round trip needs it. `relations`: how big it is, roughly. */
export interface Unread { unread: true; relations: number }

/** The schema before a round trip: read, or unread (the database holds it). */
export type Before = SchemaSnapshot | Unread;

export function isUnread(schema: Before): schema is Unread {
  return 'unread' in schema;
}

/** How big a schema is, roughly: its objects when read, its catalog's relations when not. */
export function schemaSize(schema: Before): number {
  if (isUnread(schema)) return schema.relations;
  return Object.values(schema).reduce((n, group: Record<string, unknown>) => n + Object.keys(group).length, 0);
}

export interface RoundTripResult {
  finding: VerifyFinding;
  state: RoundTripState;
  /** The schema now, when state is 'applied': the next migration's "before". */
  after: Before | null;
}

export interface RoundTripContext {
  ctx: Context;
  db: Db;
  equivalence: Equivalence;
  /** The scratch database is verify's alone (not given with --scratch-url): the shortcut may run. */
  ours: boolean;
}

export async function roundTrip(rt: RoundTripContext, status: MigrationStatus, up: PreparedStep, before: Before): Promise<RoundTripResult> {
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
  const steps: Steps = {
    snapshot: (on = db) => timed('snapshot', () => takeSchemaSnapshot(on, ctx.table, on === db ? {} : { session: db })),
    scoped: (on, scope) => timed('snapshot', () => takeScopedSnapshot(on, ctx.table, scope, { session: db })),
    compare: (a, b) => timed('compare', async () => compareSnapshots(a, b, rt.equivalence)),
    check: (fn) => timed('compare', fn),
    run: (phase, step, on = db, unlocated = false) => timed(phase, () => executePlan(on, [step], { table: ctx.table, signal: ctx.options.signal, withinTransaction: on !== db, unlocated })),
  };
  const done = (state: RoundTripState, after: Before | null, result: Partial<VerifyFinding> = {}): RoundTripResult => {
    Object.assign(finding, result, { durationMs: Math.round(performance.now() - started) });
    return { finding, state, after: state === 'applied' ? after : null };
  };
  const unread = (): Unread => ({ unread: true, relations: schemaSize(before) });

  let down: PreparedStep | undefined;
  const refused = status.file!.downSql === null ? null : await attempt(async () => {
    down = (await prepareDown(ctx, db, [{ direction: 'down', status: { ...status, state: 'applied' } }]))[0]!;
  });
  if (rt.ours && shortcutEnabled() && down && up.script.transactional && down.script.transactional) {
    const inOne = await roundTripInOne(rt, steps, up, down, before);
    if (inOne) return done('applied', { unread: true, relations: inOne.relations }, { status: 'round-trips', notes: inOne.notes });
  }
  const upFailed = (message: string) => done('not applied', null, { status: 'failed', error: { step: 'up', message } });
  if (!down) { // nothing to compare: no schema is read
    const failed = await attempt(() => steps.run('up', up));
    if (failed) return upFailed(failed);
    return done('applied', unread(), status.file!.downSql === null
      ? { status: 'skipped', reason: 'irreversible (no .down.sql): it stays applied' }
      : { status: 'failed', error: { step: 'down', message: refused ?? 'no down' } });
  }
  // The schema before the up, read now if it was not: the database holds it (the shortcut left nothing).
  const schemaBefore = isUnread(before) ? await steps.snapshot() : before;
  const failed = await attempt(() => steps.run('up', up));
  if (failed) return upFailed(failed);
  const afterUp = await steps.snapshot();
  const outcome = up.script.transactional && down.script.transactional
    ? await revertInTransaction(db, steps, down, up, schemaBefore, afterUp)
    : await revertAndReapply(steps, down, up, schemaBefore, afterUp);
  const result = {
    status: outcome.error || outcome.differences.some((d) => !isNote(d)) ? 'failed' as const : 'round-trips' as const,
    differences: outcome.differences.filter((d) => !isNote(d)),
    notes: outcome.differences.filter(isNote),
    ...(outcome.error ? { error: outcome.error } : {}),
  };
  return done(outcome.state, outcome.after, result);
}

interface Steps {
  snapshot(on?: Db): Promise<SchemaSnapshot>;
  /** The objects in `scope` only, in verify's transaction `on`. */
  scoped(on: Db, scope: ObjectScope): Promise<ScopedSnapshot>;
  /** A comparison that reads no schema (timed as one). */
  check<T>(fn: () => Promise<T>): Promise<T>;
  compare(a: SchemaSnapshot, b: SchemaSnapshot): Promise<SchemaDifference[]>;
  /** `unlocated`: a failure will be rolled back and run again the long way, so it need not name its statement (ExecuteOptions). */
  run(phase: RoundTripPhase, step: PreparedStep, on?: Db, unlocated?: boolean): Promise<unknown>;
}

interface Outcome {
  state: RoundTripState;
  after: SchemaSnapshot | null;
  /** With the drift after up again, prefixed "after up again:". */
  differences: SchemaDifference[];
  error?: VerifyFinding['error'];
}

/**
 * Down, compare, up again, in one transaction that is then rolled back: the scratch database is back
 * exactly as after the up, so no third snapshot is needed, and nothing a bad down leaves behind can
 * reach the next migration. The schema after up again is compared with the first up's only when the
 * down did not restore the schema, to say more about that failure.
 */
async function revertInTransaction(db: Db, steps: Steps, down: PreparedStep, up: PreparedStep, before: SchemaSnapshot, afterUp: SchemaSnapshot): Promise<Outcome> {
  const outcome: Outcome = { state: 'applied', after: afterUp, differences: [] };
  await db.transaction(async (tx) => {
    const downFailed = await attempt(() => steps.run('down', down, tx));
    if (downFailed) {
      outcome.error = { step: 'down', message: downFailed };
      throw ROLLBACK;
    }
    outcome.differences = await steps.compare(before, await steps.snapshot(tx));
    const againFailed = await attempt(() => steps.run('upAgain', up, tx));
    if (againFailed) outcome.error = { step: 'up again', message: againFailed };
    else if (outcome.differences.some((d) => !isNote(d))) outcome.differences.push(...afterUpAgain(await steps.compare(afterUp, await steps.snapshot(tx))));
    throw ROLLBACK;
  }).catch((error: unknown) => {
    if (error !== ROLLBACK) throw error;
  });
  return outcome;
}

/** Thrown to end verify's own transaction with a ROLLBACK. */
const ROLLBACK = new Error('verify: roll back the round trip');

/** What the shortcut found: the down round-trips, with these notes; the schema after the up is left unread. */
interface InOne { notes: SchemaDifference[]; relations: number }

/**
 * Up, down and up again in one transaction, on a scratch database that is verify's alone. When the
 * down leaves every catalog row a schema snapshot reads as it was before the up (schema/unchanged.ts),
 * it round-trips without a snapshot. When it rewrote some (a view replaced by its old text, a column
 * renamed back or dropped), only the objects with rows written or deleted are read and compared, after
 * the down and before the up (rolled back to there, then the up applied again): every other object
 * has the very rows it had, and prints the same while no name it mentions changed, and a changed name
 * is a changed row of an object that is read. Where that cannot be told (a role, an operator or a
 * collation changed) or the schema before the up was read already, the whole schema after the down is
 * read and compared. Up again is rolled back to its savepoint, and the transaction commits with the up
 * applied, as a run of up leaves it. Returns null when anything else happened (a step failed, the
 * down left a difference, the commit failed): everything was rolled back, and the round trip runs the
 * long way, which finds and words it as ever.
 */
async function roundTripInOne(rt: RoundTripContext, steps: Steps, up: PreparedStep, down: PreparedStep, before: Before): Promise<InOne | null> {
  const { db } = rt;
  const result: InOne = { notes: [], relations: 0 };
  const runs = async (phase: RoundTripPhase, step: PreparedStep, tx: Db) => {
    if (await attempt(() => steps.run(phase, step, tx, true))) throw ROLLBACK;
  };
  /** Notes only, or the long way says what differs. */
  const noted = (differences: SchemaDifference[]) => {
    if (!differences.every(isNote)) throw ROLLBACK; // the long way also compares after up again
    result.notes = differences;
  };
  try {
    await db.transaction(async (tx) => {
      const mark = await markCatalogs(tx, db);
      result.relations = mark.relations;
      await tx.exec('savepoint sqlmig_before');
      await runs('up', up, tx);
      await tx.exec('savepoint sqlmig_applied');
      await runs('down', down, tx);
      const changes = await steps.check(() => changesSince(tx, db, mark));
      if (changes === 'unchanged') {
        await runs('upAgain', up, tx);
        await tx.exec('rollback to savepoint sqlmig_applied');
        return;
      }
      if (changes !== 'unscoped' && isUnread(before)) {
        const afterDown = await steps.scoped(tx, changes.written);
        await runs('upAgain', up, tx);
        await tx.exec('rollback to savepoint sqlmig_before');
        const deleted = await steps.check(() => deletedSince(tx, changes));
        if (!deleted) throw ROLLBACK;
        const schemaBefore = await steps.scoped(tx, unionScope(changes.written, deleted));
        if (schemaBefore.printSettings !== afterDown.printSettings) throw ROLLBACK;
        noted(await steps.compare(schemaBefore.schema, afterDown.schema));
        await runs('up', up, tx);
        return;
      }
      const afterDown = await steps.snapshot(tx);
      await runs('upAgain', up, tx);
      let schemaBefore: SchemaSnapshot;
      if (isUnread(before)) {
        await tx.exec('rollback to savepoint sqlmig_before');
        schemaBefore = await steps.snapshot(tx);
        await runs('up', up, tx);
      } else {
        await tx.exec('rollback to savepoint sqlmig_applied');
        schemaBefore = before;
      }
      noted(await steps.compare(schemaBefore, afterDown));
    });
    return result;
  } catch (error) {
    if (error instanceof Interrupted || rt.ctx.options.signal?.aborted) throw error;
    return null; // ROLLBACK, or the commit failed (a deferred constraint of the up): the long way says which
  }
}

/**
 * A migration whose up or down runs without a transaction: down, compare, up again for real, and
 * compare with the first up (the schema after up again is the next migration's "before").
 */
async function revertAndReapply(steps: Steps, down: PreparedStep, up: PreparedStep, before: SchemaSnapshot, afterUp: SchemaSnapshot): Promise<Outcome> {
  const downFailed = await attempt(() => steps.run('down', down));
  // A failed transactional down was rolled back: the migration is still applied, as after its up.
  if (downFailed) return { state: down.script.transactional ? 'applied' : 'in doubt', after: afterUp, differences: [], error: { step: 'down', message: downFailed } };
  const differences = await steps.compare(before, await steps.snapshot());
  const againFailed = await attempt(() => steps.run('upAgain', up));
  if (againFailed) return { state: 'in doubt', after: null, differences, error: { step: 'up again', message: againFailed } };
  const after = await steps.snapshot();
  const drift = afterUpAgain(await steps.compare(afterUp, after));
  return { state: drift.some((d) => !isNote(d)) ? 'in doubt' : 'applied', after, differences: [...differences, ...drift] };
}

function afterUpAgain(drift: SchemaDifference[]): SchemaDifference[] {
  return drift.map((d) => ({ ...d, message: `after up again: ${d.message}` }));
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
