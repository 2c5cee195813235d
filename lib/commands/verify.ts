/**
 * verify: every migration's down must give back the schema from before its up, checked on a scratch
 * database (never the target) with the same steps `up` and `down` run. dump-schema: the target's
 * schema as stable SQL. Both return data; the CLI decides how it looks.
 */
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { displayPath, takeSnapshot, withDb, type Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { Interrupted, Refused } from '../errors.js';
import type { PreparedStep } from '../runner/execute.js';
import { replayMigrations } from '../schema/replay.js';
import { discoverMigrations, type MigrationSet } from '../migrations/files.js';
import { ensureHistory, readHistory } from '../runner/history.js';
import { withLock } from '../runner/lock.js';
import { label, planUp, reconcile, type MigrationStatus } from '../runner/plan.js';
import { roundTrip, schemaSize, type Before, type PhaseTimes, type RoundTripContext, type VerifyFinding } from '../runner/roundtrip.js';
import { loadEquivalence } from '../schema/equivalence.js';
import { renderSchema } from '../schema/render.js';
import { withScratch, type Scratch, type ScratchInfo } from '../schema/scratch.js';
import { interruptedVerify, type Whereabouts } from '../schema/interrupted.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from '../schema/snapshot.js';
import { CatalogStatistics } from '../schema/catalog-statistics.js';
import { scriptExtensions } from '../migrations/script.js';
import { loadNeededExtensions, prepareUp } from '../runner/steps.js';
import { partStarts, type MigrationFacts } from '../runner/verify-parts.js';
import { loadParser, splitStatements } from '../migrations/sql.js';

export type { PhaseTimes, VerifyFinding, VerifyStatus } from '../runner/roundtrip.js';

export interface VerifyResult {
  /** Every reversible migration round-trips (irreversible ones are skipped, not failed). */
  ok: boolean;
  scratch: ScratchInfo | null;
  /** How many scratch databases the migrations were verified on at once (their parts in order). */
  parts: number;
  findings: VerifyFinding[];
  durationMs: number;
  /** Milliseconds per phase, summed over the run. */
  phases: PhaseTimes;
}

export type VerifyEvent =
  | { type: 'scratch'; scratch: ScratchInfo }
  /** The run is cut into `parts` verified at once, each on a temporary database of its own; `why` there is one. */
  | { type: 'parts'; parts: number; why: string | null }
  | { type: 'migration'; finding: VerifyFinding };

export interface VerifyOptions {
  /** An empty database to verify on (else ctx.options.scratchUrl, else a temporary or embedded one). */
  scratchUrl?: string | undefined;
  onProgress?: ((event: VerifyEvent) => void) | undefined;
  /**
   * How many temporary scratch databases to verify on at once (default: one per core, at most 4). A
   * given or embedded scratch database is one; see runner/verify-parts.ts for when a run stays on one.
   */
  jobs?: number | undefined;
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
  if (ups.length === 0) return { ok: true, scratch: null, parts: 0, findings: [], durationMs: 0, phases };
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
    // Only temporary databases can be had more than once; a given one is one, PGlite runs on this thread.
    const { starts, why } = scratch.info.kind === 'temporary' ? partStarts(await migrationFacts(ctx, files, ups), options.jobs ?? defaultJobs()) : { starts: [0], why: null };
    const parts = starts.map((from, j) => ({ from, to: starts[j + 1] ?? statuses.length }));
    if (parts.length > 1 || why) options.onProgress?.({ type: 'parts', parts: parts.length, why });
    const sink = new InOrder(parts.length, (finding) => options.onProgress?.({ type: 'migration', finding }));
    const places: string[] = [];
    const runs = parts.map((part, j) => {
      const go = (on: Scratch) => verifyPart({ part: j, places, ctx, scratch: on, equivalence, phases, where }, statuses, ups, part, (f) => sink.push(j, f), () => sink.stoppedBefore(j)).then((stopped) => sink.done(j, stopped));
      return j === 0 ? go(scratch) : withScratch(ctx, request, go);
    });
    // Every part ends (and its database is dropped) before the run does, also when one of them fails.
    const failed = (await Promise.allSettled(runs)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    finished = performance.now();
    const findings = sink.findings;
    return { ok: findings.every((f) => f.status === 'round-trips' || f.status === 'skipped'), scratch: scratch.info, parts: parts.length, findings };
  }));
  const now = performance.now();
  phases.scratch += now - finished;
  const rounded = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)])) as unknown as PhaseTimes;
  return { ...result, durationMs: Math.round(now - started), phases: rounded };
}

/** One scratch database per core, at most 4: past that the server, not the client, is what waits. */
function defaultJobs(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

async function migrationFacts(ctx: Context, files: MigrationSet, ups: readonly PreparedStep[]): Promise<MigrationFacts[]> {
  const lib = await loadParser();
  return files.migrations.map((m, i) => ({
    up: { path: ups[i]!.script.path, transactional: ups[i]!.script.transactional, statements: ups[i]!.script.statements },
    down: m.downSql === null ? null : {
      path: displayPath(ctx, m.downFile!), transactional: !m.directives.downNoTransaction, statements: splitStatements(lib, m.downSql).statements,
    },
  }));
}

/** A database given with --scratch-url may be shared: one verify at a time. Temporary and embedded ones are ours alone. */
function lockShared<T>(ctx: Context, scratch: Scratch, fn: () => Promise<T>): Promise<T> {
  return scratch.info.kind === 'given' ? withLock(scratch.db, ctx.table, ctx.lockTimeoutMs, fn) : fn();
}

interface VerifyRun {
  /** Which part of the run this is (0 when there is one), and where every part is (shared). */
  part: number;
  places: string[];
  ctx: Context;
  scratch: Scratch;
  equivalence: RoundTripContext['equivalence'];
  phases: PhaseTimes;
  where: Whereabouts;
}

/** Where each part is, for the words of an interruption: "at 012_a and 140_b". */
function at(run: VerifyRun, what: string): void {
  run.places[run.part] = what;
  run.where.at = run.places.filter(Boolean).join(' and ');
}

/**
 * Findings of the parts, said and kept in migration order: a part's findings wait until the parts
 * before it are done. A part that stopped (a migration could not be applied) makes every later
 * migration not run, as in a run on one database, whatever the later parts found.
 */
class InOrder {
  readonly findings: VerifyFinding[] = [];
  private readonly queues: VerifyFinding[][];
  private readonly stops: (string | null | undefined)[];
  private head = 0;
  private stopped: string | null = null;

  constructor(parts: number, private readonly say: (finding: VerifyFinding) => void) {
    this.queues = Array.from({ length: parts }, () => []);
    this.stops = Array.from({ length: parts }, () => undefined);
  }

  push(part: number, finding: VerifyFinding): void {
    this.queues[part]!.push(finding);
    this.flush();
  }

  done(part: number, stopped: string | null): void {
    this.stops[part] = stopped;
    this.flush();
  }

  /** A part before this one stopped: whatever this part finds will be "not run". */
  stoppedBefore(part: number): boolean {
    return this.stopped !== null && part >= this.head; // only parts before the head can have stopped
  }

  private flush(): void {
    while (this.head < this.queues.length) {
      for (const finding of this.queues[this.head]!.splice(0)) {
        const kept = this.stopped === null ? finding : notRun(finding.version, finding.name, this.stopped);
        this.findings.push(kept);
        this.say(kept);
      }
      const stop = this.stops[this.head];
      if (stop === undefined) return;
      this.stopped ??= stop;
      this.head++;
    }
  }
}

const notRun = (version: string, name: string, reason: string): VerifyFinding => ({ version, name, status: 'not-run', reason, differences: [], notes: [], durationMs: 0, phases: {} });

/**
 * Round-trip the part's migrations in order on its database, after applying those before it; after one
 * that leaves the schema in doubt, rebuild it from empty and go on. Whatever goes wrong with one
 * migration becomes its finding: the part always ends with one per migration. Returns why it stopped.
 */
async function verifyPart(run: VerifyRun, statuses: MigrationStatus[], ups: PreparedStep[], part: { from: number; to: number }, onFinding: (f: VerifyFinding) => void, abandoned: () => boolean): Promise<string | null> {
  await loadNeededExtensions(run.scratch.db, ups);
  await ensureHistory(run.scratch.db, run.ctx.table);
  let stopped: string | null = null;
  let before: Before | null = null;
  if (part.from === 0) before = await takeSchemaSnapshot(run.scratch.db, run.ctx.table);
  else ({ stopped, before } = await rebuild(run, ups.slice(0, part.from), 'scratch'));
  const statistics = run.scratch.info.kind === 'given' ? null : new CatalogStatistics(); // a given database may not be ours to ANALYZE
  for (let i = part.from; i < part.to; i++) {
    const status = statuses[i]!;
    if (!stopped && abandoned()) stopped = 'an earlier part stopped'; // replaced by that part's reason
    if (stopped || !before) {
      onFinding(notRun(status.versionText, status.name, stopped ?? ''));
      continue;
    }
    at(run, label(status));
    const { finding, state, after } = await safeRoundTrip(run, status, ups[i]!, before);
    for (const [phase, ms] of Object.entries(finding.phases)) run.phases[phase as keyof PhaseTimes] += ms;
    onFinding(finding);
    before = after;
    if (before) await statistics?.keepUp(run.scratch.db, schemaSize(before));
    if (state === 'not applied') stopped = `${label(status)} could not be applied`;
    else if (state === 'in doubt') ({ stopped, before } = await rebuild(run, ups.slice(0, i + 1)));
  }
  return stopped;
}

/** A round trip whose unexpected failure (the schema could not be read, say) is its finding, not the end of the run. */
async function safeRoundTrip(run: VerifyRun, status: MigrationStatus, up: PreparedStep, before: Before) {
  const started = performance.now();
  try {
    return await roundTrip({ ctx: run.ctx, db: run.scratch.db, equivalence: run.equivalence, ours: run.scratch.info.kind !== 'given' }, status, up, before);
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

/** Start again on an empty scratch database (or a part's new one) and apply migrations up to this one; a reason to stop, or the schema reached. */
async function rebuild(run: VerifyRun, ups: PreparedStep[], phase: 'rebuild' | 'scratch' = 'rebuild'): Promise<{ stopped: string | null; before: SchemaSnapshot | null }> {
  const { ctx, scratch } = run;
  const started = performance.now();
  at(run, `the rebuild up to ${label(ups.at(-1)!)}`);
  try {
    // A part's own database starts empty; after a failed round trip it is replaced by an empty one.
    const db = phase === 'scratch' ? scratch.db : await scratch.reset();
    await replayMigrations(ctx, db, ups);
    return { stopped: null, before: await takeSchemaSnapshot(db, ctx.table) };
  } catch (error) {
    if (error instanceof Interrupted || ctx.options.signal?.aborted) throw error;
    const reason = (error as Error).message.split('\n')[0];
    const after = phase === 'rebuild' ? ' after its failed round trip' : ' (the start of a part verified on another scratch database)';
    return { stopped: `could not rebuild the schema up to ${label(ups.at(-1)!)}${after}: ${reason}`, before: null };
  } finally {
    run.phases[phase] += performance.now() - started;
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
