/**
 * verify: every migration's down must give back the schema from before its up, checked on a scratch
 * database (never the target) with the same steps `up` and `down` run. dump-schema: the target's
 * schema as stable SQL. Both return data; the CLI decides how it looks.
 */
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { takeSnapshot, withDb, type Context } from '../context.js';
import type { Db } from '../db/index.js';
import { Interrupted, Refused } from '../errors.js';
import { executePlan, type PreparedStep } from '../execute.js';
import { discoverMigrations, type MigrationSet } from '../files.js';
import { ensureHistory, readHistory } from '../history.js';
import { withLock } from '../lock.js';
import { label, planUp, reconcile, type MigrationStatus } from '../plan.js';
import { renderSchema } from '../schema/render.js';
import { emptyScratch, withScratch, type ScratchInfo } from '../schema/scratch.js';
import { compareSnapshots, isNote, type SchemaDifference } from '../schema/compare.js';
import { scriptExtensions } from '../script.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from '../schema/snapshot.js';
import { loadNeededExtensions, prepareDown, prepareUp } from '../steps.js';

export type VerifyStatus = 'round-trips' | 'failed' | 'skipped' | 'not-run';

export interface VerifyFinding {
  version: string;
  name: string;
  status: VerifyStatus;
  /** Why it was skipped or not run. */
  reason?: string;
  /** What the down left different from the schema before the up (each fails the migration). */
  differences: SchemaDifference[];
  /** Differences that do not fail it: column order only. */
  notes: SchemaDifference[];
  /** A step that failed outright, with file:line:column and PostgreSQL's message. */
  error?: { step: 'up' | 'down' | 'up again'; message: string };
  durationMs: number;
}

export interface VerifyResult {
  /** Every reversible migration round-trips (irreversible ones are skipped, not failed). */
  ok: boolean;
  scratch: ScratchInfo | null;
  findings: VerifyFinding[];
  durationMs: number;
}

export type VerifyEvent = { type: 'scratch'; scratch: ScratchInfo } | { type: 'migration'; finding: VerifyFinding };

export interface VerifyOptions {
  /** An empty database to verify on (else ctx.options.scratchUrl, else a temporary or embedded one). */
  scratchUrl?: string;
  onProgress?: (event: VerifyEvent) => void;
}

export async function verify(ctx: Context, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const files = await discoverMigrations(ctx.options.dir);
  refuseBadFiles(files);
  const statuses = reconcile(files.migrations, []);
  const ups = await prepareUp(ctx, planUp(statuses));
  if (ups.length === 0) return { ok: true, scratch: null, findings: [], durationMs: 0 };
  const extensions = [...new Set(ups.flatMap((s) => scriptExtensions(s.script)))];
  const scratchUrl = options.scratchUrl ?? ctx.options.scratchUrl;
  return withScratch(ctx, { scratchUrl, extensions }, (db, scratch) => withLock(db, ctx.table, ctx.lockTimeoutMs, async () => {
    options.onProgress?.({ type: 'scratch', scratch });
    await loadNeededExtensions(db, ups);
    await ensureHistory(db, ctx.table);
    const findings = await verifyEach(ctx, db, statuses, ups, (finding) => options.onProgress?.({ type: 'migration', finding }));
    const ok = findings.every((f) => f.status === 'round-trips' || f.status === 'skipped');
    return { ok, scratch, findings, durationMs: Math.round(performance.now() - started) };
  }));
}

/** Round-trip each migration in order; after one that leaves the schema in doubt, rebuild it from empty and go on. */
async function verifyEach(ctx: Context, db: Db, statuses: MigrationStatus[], ups: PreparedStep[], onFinding: (f: VerifyFinding) => void): Promise<VerifyFinding[]> {
  const findings: VerifyFinding[] = [];
  let stopped: string | null = null;
  let before = await takeSchemaSnapshot(db, ctx.table);
  for (const [i, status] of statuses.entries()) {
    if (stopped) {
      findings.push({ version: status.versionText, name: status.name, status: 'not-run', reason: stopped, differences: [], notes: [], durationMs: 0 });
    } else {
      const { finding, state } = await roundTrip(ctx, db, status, ups[i]!, before);
      findings.push(finding);
      if (state === 'not applied') stopped = `${label(status)} could not be applied`;
      else if (state === 'in doubt') stopped = await rebuild(ctx, db, ups.slice(0, i + 1));
      if (!stopped) before = await takeSchemaSnapshot(db, ctx.table);
    }
    onFinding(findings.at(-1)!);
  }
  return findings;
}

/** Empty the scratch database and apply migrations up to this one again; a reason to stop, or null. */
async function rebuild(ctx: Context, db: Db, ups: PreparedStep[]): Promise<string | null> {
  const failed = await attempt(async () => {
    await emptyScratch(db, ctx.table);
    await ensureHistory(db, ctx.table);
    await executePlan(db, ups, { table: ctx.table, signal: ctx.options.signal });
  });
  return failed === null ? null : `could not rebuild the schema up to ${label(ups.at(-1)!)} after its failed round trip: ${failed.split('\n')[0]}`;
}

/** After the round trip: applied as after its up, not applied (its up failed), or in doubt (rebuild). */
type RoundTripState = 'applied' | 'not applied' | 'in doubt';

/** Up, snapshot, down, compare with `before`, up again (which must give the same schema as the first up). */
async function roundTrip(ctx: Context, db: Db, status: MigrationStatus, up: PreparedStep, before: SchemaSnapshot): Promise<{ finding: VerifyFinding; state: RoundTripState }> {
  const started = performance.now();
  const finding: VerifyFinding = { version: status.versionText, name: status.name, status: 'round-trips', differences: [], notes: [], durationMs: 0 };
  const done = (state: RoundTripState, result: Partial<VerifyFinding> = {}) => {
    Object.assign(finding, result, { durationMs: Math.round(performance.now() - started) });
    return { finding, state };
  };
  const run = (step: PreparedStep) => executePlan(db, [step], { table: ctx.table, signal: ctx.options.signal });
  const failed = await attempt(() => run(up));
  if (failed) return done('not applied', { status: 'failed', error: { step: 'up', message: failed } });
  if (status.file!.downSql === null) return done('applied', { status: 'skipped', reason: 'irreversible (no .down.sql): it stays applied' });
  const afterUp = await takeSchemaSnapshot(db, ctx.table);
  let down: PreparedStep | undefined;
  const downFailed = await attempt(async () => {
    down = (await prepareDown(ctx, db, [{ direction: 'down', status: { ...status, state: 'applied' } }]))[0]!;
    await run(down);
  });
  // A failed transactional down was rolled back: the migration is still applied, as after its up.
  if (downFailed) return done(down && !down.script.transactional ? 'in doubt' : 'applied', { status: 'failed', error: { step: 'down', message: downFailed } });
  const differences = compareSnapshots(before, await takeSchemaSnapshot(db, ctx.table));
  const result = { status: 'failed' as const, differences: differences.filter((d) => !isNote(d)), notes: differences.filter(isNote) };
  const againFailed = await attempt(() => run(up));
  if (againFailed) return done('in doubt', { ...result, error: { step: 'up again', message: againFailed } });
  const drift = compareSnapshots(afterUp, await takeSchemaSnapshot(db, ctx.table)).filter((d) => !isNote(d));
  result.differences.push(...drift.map((d) => ({ ...d, message: `after up again: ${d.message}` })));
  if (result.differences.length === 0) return done('applied', { ...result, status: 'round-trips' });
  return done(drift.length ? 'in doubt' : 'applied', result);
}

/** The message of a step that failed, or null; interruptions and usage errors are not findings. */
async function attempt(fn: () => Promise<unknown>): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (error) {
    if (error instanceof Interrupted) throw error;
    if (error instanceof Refused || (error as { exitCode?: number }).exitCode === 1) return (error as Error).message;
    throw error;
  }
}

function refuseBadFiles(files: MigrationSet): void {
  if (files.problems.length) {
    throw new Refused(`cannot verify, nothing was run:\n${files.problems.map((p) => p.message).join('\n')}`);
  }
}

export interface DumpSchemaOptions {
  /** Write here (replacing the file in one step) instead of returning the text only. */
  out?: string;
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
