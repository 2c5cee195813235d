/**
 * drift: what was changed in the database outside migrations. The SQL stored in the history table
 * for the applied migrations (not the files, which may have been edited since) is replayed on a
 * scratch database, and its schema is compared with the live database's. The live database is only
 * read. Returns data; the CLI decides how it looks.
 */
import { performance } from 'node:perf_hooks';
import { withDb, type Context } from '../runner/context.js';
import { MigrationFailed } from '../errors.js';
import { readHistory } from '../runner/history.js';
import { scriptExtensions } from '../migrations/script.js';
import { compareSnapshots, isNote, type DifferenceKind } from '../schema/compare.js';
import { prepareStoredSteps, replayMigrations } from '../schema/replay.js';
import { withScratch, type ScratchInfo } from '../schema/scratch.js';
import { takeSchemaSnapshot } from '../schema/snapshot.js';
import { restate } from '../schema/wording.js';

export interface DriftOptions {
  /** An empty database to replay the migrations on (else a temporary database on the --url server, else an embedded PGlite). */
  scratchUrl?: string | undefined;
}

export interface DriftDifference {
  /** extra: only in the database; missing: only from the migrations; changed: both, not alike. */
  kind: DifferenceKind;
  objectType: string;
  object: string;
  message: string;
}

export interface DriftResult {
  /** The database differs from what its applied migrations make. */
  drift: boolean;
  /** How many applied migrations were replayed. */
  applied: number;
  differences: DriftDifference[];
  /** Differences that change nothing a query sees (column order only). */
  notes: string[];
  scratch: ScratchInfo | null;
  durationMs: number;
}

const SIDES = {
  after: 'in the database', before: 'from the migrations',
  onlyAfter: 'exists only in the database', onlyBefore: 'is missing from the database (its migrations make it)',
};

export async function drift(ctx: Context, options: DriftOptions = {}): Promise<DriftResult> {
  const started = performance.now();
  const { live, steps } = await withDb(ctx, async (db) => {
    const applied = await readHistory(db, ctx.table);
    return { steps: await prepareStoredSteps(ctx, db, applied), live: await takeSchemaSnapshot(db, ctx.table) };
  });
  const extensions = [...new Set(steps.flatMap((s) => scriptExtensions(s.script)))];
  const texts = steps.map((s) => s.script.text);
  const { expected, scratch } = await withScratch(ctx, { scratchUrl: options.scratchUrl ?? ctx.options.scratchUrl, extensions, texts }, async ({ db, info }) => {
    try {
      await replayMigrations(ctx, db, steps);
    } catch (error) {
      if (!(error instanceof MigrationFailed)) throw error;
      throw new MigrationFailed(`drift cannot replay the applied migrations (as stored in history) on ${info.display}, so it cannot compare:\n${error.message}`, { cause: error });
    }
    return { expected: await takeSchemaSnapshot(db, ctx.table), scratch: info };
  });
  const found = compareSnapshots(expected, live);
  const differences = found.filter((d) => !isNote(d)).map((d) => ({ kind: d.kind, objectType: d.objectType, object: d.object, message: restate(d, SIDES) }));
  return {
    drift: differences.length > 0, applied: steps.length, differences, notes: found.filter(isNote).map((d) => d.message),
    scratch, durationMs: Math.round(performance.now() - started),
  };
}
