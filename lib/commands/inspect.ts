/** Read-only views: status, current, history. They never create the history table. */
import { createHash } from 'node:crypto';
import { takeSnapshot, withDbReading, type Context } from '../runner/context.js';
import { readStoredDownDigests } from '../runner/history.js';
import { findLeftovers, type Leftover } from '../online/cleanup.js';
import { readProgress, type Progress } from '../online/progress.js';
import { isCommentsOnly, type FileProblem } from '../migrations/files.js';
import { label, type MigrationState, type MigrationStatus } from '../runner/plan.js';

export interface StatusEntry {
  version: string;
  name: string;
  state: MigrationState;
  appliedAt?: string;
  file?: string;
  /** Its .down.sql holds only comments: reverting it only deletes its history row. */
  noOpDown?: boolean;
  /** Applied, and its .down.sql differs from the down SQL stored then (`down` runs the file unless --stored-down). */
  downEdited?: boolean;
}

export interface StatusResult {
  dir: string;
  /** Version of the newest applied migration, or null. */
  current: string | null;
  /** Version of the newest migration on disk, or null. */
  head: string | null;
  migrations: StatusEntry[];
  problems: string[];
  pending: number;
  /** Helper objects (`sqlmig_tmp_…`) an interrupted `up --online` left; the next online run removes them. */
  onlineLeftovers: Leftover[];
  /**
   * What an interrupted online run left done and cannot undo: a batched pass part way (`rows`, up to
   * `lastKey`), statements run as written. The next `up --online` (or `down --online`) goes on from there.
   */
  onlineUnfinished: UnfinishedPass[];
}

export interface UnfinishedPass { version: string; direction: 'up' | 'down'; kind: 'pass' | 'statements'; step: number; rows: number; lastKey: string | null }

export async function status(ctx: Context): Promise<StatusResult> {
  return withDbReading(ctx, async (db) => {
    const [snap, downDigests, leftovers, unfinished] = await Promise.all([takeSnapshot(ctx, db), readStoredDownDigests(db, ctx.table), findLeftovers(db), readProgress(db, ctx.table)]);
    return summarize(ctx.options.dir, snap.statuses, snap.files.problems, downDigests, leftovers, unfinished);
  });
}

export function summarize(dir: string, statuses: readonly MigrationStatus[], problems: readonly FileProblem[], downDigests = new Map<bigint, string>(), leftovers: Leftover[] = [],
  unfinished: readonly Progress[] = []): StatusResult {
  const downEdited = (s: MigrationStatus) => {
    const stored = s.applied && s.file?.downSql != null ? downDigests.get(s.version) : undefined;
    return stored !== undefined && stored !== createHash('md5').update(s.file!.downSql!, 'utf8').digest('hex');
  };
  const applied = statuses.filter((s) => s.applied);
  const onDisk = statuses.filter((s) => s.file);
  return {
    dir,
    current: applied.at(-1)?.versionText ?? null,
    head: onDisk.at(-1)?.versionText ?? null,
    migrations: statuses.map((s) => ({
      version: s.versionText,
      name: s.name,
      state: s.state,
      ...(s.applied ? { appliedAt: s.applied.appliedAt.toISOString() } : {}),
      ...(s.file ? { file: s.file.upFile } : {}),
      ...(s.file?.downSql != null && isCommentsOnly(s.file.downSql) ? { noOpDown: true } : {}),
      ...(downEdited(s) ? { downEdited: true } : {}),
    })),
    problems: problems.map((p) => p.message),
    pending: statuses.filter((s) => s.state === 'pending' || s.state === 'out-of-order').length,
    onlineLeftovers: leftovers,
    onlineUnfinished: unfinished.map((p) => ({
      version: p.version.toString(), direction: p.direction, kind: p.kind, step: p.step + 1, rows: p.rows, lastKey: p.lastKey,
    })),
  };
}

export interface CurrentResult {
  current: string | null;
  name: string | null;
  head: string | null;
  pending: number;
  /** "001_ai_hub (head)", "001_ai_hub (2 pending, head 003_x)", "(none)" */
  text: string;
}

export async function current(ctx: Context): Promise<CurrentResult> {
  return withDbReading(ctx, async (db) => {
    const snap = await takeSnapshot(ctx, db);
    const applied = snap.statuses.filter((s) => s.applied).at(-1);
    const head = snap.statuses.filter((s) => s.file).at(-1);
    const pending = snap.statuses.filter((s) => s.state === 'pending' || s.state === 'out-of-order').length;
    return { current: applied?.versionText ?? null, name: applied?.name ?? null, head: head?.versionText ?? null, pending, text: currentText(applied, head, pending) };
  });
}

function currentText(applied: MigrationStatus | undefined, head: MigrationStatus | undefined, pending: number): string {
  const headText = head ? `head ${label(head)}` : 'no migration files';
  if (!applied) return pending ? `(none) (${pending} pending, ${headText})` : '(none)';
  if (pending === 0 && head && head.version <= applied.version) return `${label(applied)} (head)`;
  return `${label(applied)} (${pending ? `${pending} pending, ` : ''}${headText})`;
}

export interface HistoryEntry {
  version: string;
  name: string;
  appliedAt: string;
  appliedBy: string;
  durationMs: number;
  transactional: boolean;
  stamped: boolean;
}

export async function history(ctx: Context): Promise<HistoryEntry[]> {
  return withDbReading(ctx, async (db) => {
    const snap = await takeSnapshot(ctx, db);
    return snap.statuses.filter((s) => s.applied).map((s) => ({
      version: s.versionText,
      name: s.applied!.name,
      appliedAt: s.applied!.appliedAt.toISOString(),
      appliedBy: s.applied!.appliedBy,
      durationMs: s.applied!.durationMs,
      transactional: s.applied!.transactional,
      stamped: s.applied!.stamped,
    }));
  });
}
