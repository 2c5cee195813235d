/**
 * verify: every migration's down must give back the schema from before its up, checked on a scratch
 * database (never the target) with the same steps `up` and `down` run. dump-schema: the target's
 * schema as stable SQL. Both return data; the CLI decides how it looks.
 */
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { takeSnapshot, withDb, type Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { Interrupted, Refused } from '../errors.js';
import type { PreparedStep } from '../runner/execute.js';
import { replayMigrations } from '../schema/replay.js';
import { discoverMigrations, type MigrationSet } from '../migrations/files.js';
import { ensureHistory, readHistory } from '../runner/history.js';
import { withLock } from '../runner/lock.js';
import { label, planUp, reconcile, type MigrationStatus } from '../runner/plan.js';
import { roundTrip, type PhaseTimes, type RoundTripContext, type VerifyFinding } from '../runner/roundtrip.js';
import { loadEquivalence } from '../schema/equivalence.js';
import { renderSchema } from '../schema/render.js';
import { withScratch, type Scratch, type ScratchInfo } from '../schema/scratch.js';
import { interruptedVerify, type Whereabouts } from '../schema/interrupted.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from '../schema/snapshot.js';
import { scriptExtensions } from '../migrations/script.js';
import { loadNeededExtensions, prepareUp } from '../runner/steps.js';

export type { PhaseTimes, VerifyFinding, VerifyStatus } from '../runner/roundtrip.js';

export interface VerifyResult {
  /** Every reversible migration round-trips (irreversible ones are skipped, not failed). */
  ok: boolean;
  scratch: ScratchInfo | null;
  findings: VerifyFinding[];
  durationMs: number;
  /** Milliseconds per phase, summed over the run. */
  phases: PhaseTimes;
}

export type VerifyEvent = { type: 'scratch'; scratch: ScratchInfo } | { type: 'migration'; finding: VerifyFinding };

export interface VerifyOptions {
  /** An empty database to verify on (else ctx.options.scratchUrl, else a temporary or embedded one). */
  scratchUrl?: string | undefined;
  onProgress?: ((event: VerifyEvent) => void) | undefined;
}

/** Where a run is, for the words of an interruption. */
export async function verify(ctx: Context, options: VerifyOptions = {}): Promise<VerifyResult> {
  const where: Whereabouts = { scratch: null, at: null };
  try {
    return await verifyAll(ctx, options, where);
  } catch (error) {
    const signal = ctx.options.signal;
    if (error instanceof Interrupted || signal?.aborted) throw interruptedVerify(error instanceof Interrupted ? error.signal : signal!.reason as NodeJS.Signals, where);
    throw error;
  }
}

async function verifyAll(ctx: Context, options: VerifyOptions, where: Whereabouts): Promise<VerifyResult> {
  const started = performance.now();
  const phases: PhaseTimes = { scratch: 0, up: 0, down: 0, upAgain: 0, snapshot: 0, compare: 0, rebuild: 0 };
  const files = await discoverMigrations(ctx.options.dir);
  refuseBadFiles(files);
  const statuses = reconcile(files.migrations, []);
  const ups = await prepareUp(ctx, planUp(statuses));
  if (ups.length === 0) return { ok: true, scratch: null, findings: [], durationMs: 0, phases };
  const request = {
    scratchUrl: options.scratchUrl ?? ctx.options.scratchUrl,
    extensions: [...new Set(ups.flatMap((s) => scriptExtensions(s.script)))],
    texts: files.migrations.flatMap((m) => [m.upSql, m.downSql ?? '']),
  };
  const equivalence = await loadEquivalence();
  let finished = 0;
  const result = await withScratch(ctx, request, (scratch) => lockShared(ctx, scratch, async () => {
    phases.scratch = performance.now() - started;
    where.scratch = scratch.info;
    options.onProgress?.({ type: 'scratch', scratch: scratch.info });
    await loadNeededExtensions(scratch.db, ups);
    await ensureHistory(scratch.db, ctx.table);
    const onFinding = (finding: VerifyFinding) => options.onProgress?.({ type: 'migration', finding });
    const findings = await verifyEach({ ctx, scratch, equivalence, phases, where }, statuses, ups, onFinding);
    finished = performance.now();
    return { ok: findings.every((f) => f.status === 'round-trips' || f.status === 'skipped'), scratch: scratch.info, findings };
  }));
  const now = performance.now();
  phases.scratch += now - finished;
  const rounded = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)])) as unknown as PhaseTimes;
  return { ...result, durationMs: Math.round(now - started), phases: rounded };
}

/** A database given with --scratch-url may be shared: one verify at a time. Temporary and embedded ones are ours alone. */
function lockShared<T>(ctx: Context, scratch: Scratch, fn: () => Promise<T>): Promise<T> {
  return scratch.info.kind === 'given' ? withLock(scratch.db, ctx.table, ctx.lockTimeoutMs, fn) : fn();
}

interface VerifyRun {
  ctx: Context;
  scratch: Scratch;
  equivalence: RoundTripContext['equivalence'];
  phases: PhaseTimes;
  where: Whereabouts;
}

/**
 * Round-trip each migration in order; after one that leaves the schema in doubt, rebuild it from empty
 * and go on. Whatever goes wrong with one migration becomes its finding: the run always ends with them.
 */
async function verifyEach(run: VerifyRun, statuses: MigrationStatus[], ups: PreparedStep[], onFinding: (f: VerifyFinding) => void): Promise<VerifyFinding[]> {
  const findings: VerifyFinding[] = [];
  let stopped: string | null = null;
  let before: SchemaSnapshot | null = await takeSchemaSnapshot(run.scratch.db, run.ctx.table);
  for (const [i, status] of statuses.entries()) {
    if (stopped || !before) {
      findings.push({ version: status.versionText, name: status.name, status: 'not-run', reason: stopped ?? '', differences: [], notes: [], durationMs: 0, phases: {} });
    } else {
      run.where.at = label(status);
      const { finding, state, after } = await safeRoundTrip(run, status, ups[i]!, before);
      findings.push(finding);
      for (const [phase, ms] of Object.entries(finding.phases)) run.phases[phase as keyof PhaseTimes] += ms;
      before = after;
      if (state === 'not applied') stopped = `${label(status)} could not be applied`;
      else if (state === 'in doubt') ({ stopped, before } = await rebuild(run, ups.slice(0, i + 1)));
    }
    onFinding(findings.at(-1)!);
  }
  return findings;
}

/** A round trip whose unexpected failure (the schema could not be read, say) is its finding, not the end of the run. */
async function safeRoundTrip(run: VerifyRun, status: MigrationStatus, up: PreparedStep, before: SchemaSnapshot) {
  const started = performance.now();
  try {
    return await roundTrip({ ctx: run.ctx, db: run.scratch.db, equivalence: run.equivalence }, status, up, before);
  } catch (error) {
    // A statement cancelled by the interruption is not the migration's finding.
    if (error instanceof Interrupted || run.ctx.options.signal?.aborted) throw error;
    const finding: VerifyFinding = {
      version: status.versionText, name: status.name, status: 'failed', differences: [], notes: [], phases: {},
      error: { step: 'schema', message: `verify could not complete its round trip: ${(error as Error).message}` },
      durationMs: Math.round(performance.now() - started),
    };
    return { finding, state: 'in doubt' as const, after: null };
  }
}

/** Start again on an empty scratch database and apply migrations up to this one; a reason to stop, or the schema reached. */
async function rebuild(run: VerifyRun, ups: PreparedStep[]): Promise<{ stopped: string | null; before: SchemaSnapshot | null }> {
  const { ctx, scratch } = run;
  const started = performance.now();
  run.where.at = `the rebuild up to ${label(ups.at(-1)!)}`;
  try {
    const db = await scratch.reset();
    await replayMigrations(ctx, db, ups);
    return { stopped: null, before: await takeSchemaSnapshot(db, ctx.table) };
  } catch (error) {
    if (error instanceof Interrupted || ctx.options.signal?.aborted) throw error;
    const reason = (error as Error).message.split('\n')[0];
    return { stopped: `could not rebuild the schema up to ${label(ups.at(-1)!)} after its failed round trip: ${reason}`, before: null };
  } finally {
    run.phases.rebuild += performance.now() - started;
  }
}

function refuseBadFiles(files: MigrationSet): void {
  if (files.problems.length) {
    throw new Refused(`cannot verify, nothing was run:\n${files.problems.map((p) => p.message).join('\n')}`);
  }
}

export interface DumpSchemaOptions {
  /** Write here (replacing the file in one step) instead of returning the text only. */
  out?: string | undefined;
}

export interface DumpSchemaResult {
  /** The schema as SQL, ending with a newline. */
  sql: string;
  /** The file written, or null. */
  out: string | null;
  /** The newest applied migration, e.g. "009_daily_calories_view", or null. */
  version: string | null;
}

/** The target's schema as it is now, rendered from the catalog (it is read, never migrated). */
export async function dumpSchema(ctx: Context, options: DumpSchemaOptions = {}): Promise<DumpSchemaResult> {
  const { snapshot, version } = await withDb(ctx, async (db) => ({
    snapshot: await takeSchemaSnapshot(db, ctx.table),
    version: await appliedVersion(ctx, db),
  }));
  const sql = renderSchema(snapshot, { version });
  if (!options.out) return { sql, out: null, version };
  const out = resolve(options.out);
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, sql);
  await rename(temporary, out);
  return { sql, out, version };
}

/** "009_daily_calories_view", numbered as in the folder when it can be read, else as stored. */
async function appliedVersion(ctx: Context, db: Db): Promise<string | null> {
  try {
    const snap = await takeSnapshot(ctx, db);
    const last = snap.statuses.filter((s) => s.applied).at(-1);
    return last ? label(last) : null;
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    const last = (await readHistory(db, ctx.table)).at(-1);
    return last ? `${last.version}_${last.name}` : null;
  }
}
