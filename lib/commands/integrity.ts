/** Integrity and team work: validate, repair, stamp, forget, renumber (SPEC §4). */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { displayPath, takeSnapshot, withDb, type Context, type Snapshot } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { editedDiff } from '../report/editdiff.js';
import { Refused } from '../errors.js';
import { deleteHistory, ensureHistory, insertHistory, updateHistoryText } from '../runner/history.js';
import { withLock } from '../runner/lock.js';
import { label, nearestVersions, type MigrationStatus } from '../runner/plan.js';
import { migrationProblems } from '../runner/steps.js';
import { parseVersion } from './migrate.js';

export interface ValidationProblem {
  kind: 'conflict' | 'bad-file' | 'edited' | 'missing' | 'out-of-order' | 'lint';
  message: string;
  version?: string;
  /** edited: unified diff of the applied text against the file now. */
  diff?: string;
}

export interface ValidateResult { ok: boolean; migrations: number; problems: ValidationProblem[] }

export async function validate(ctx: Context): Promise<ValidateResult> {
  return withDb(ctx, async (db) => {
    const snap = await takeSnapshot(ctx, db);
    const problems: ValidationProblem[] = snap.files.problems.map((p) => ({ kind: p.kind === 'conflict' ? 'conflict' : 'bad-file', message: p.message }));
    problems.push(...await unrunnableFiles(ctx, snap));
    if (ctx.options.lint !== 'off') problems.push(...await (await import('../lint/hook.js')).lintForValidate(ctx, db, snap.statuses, (f) => displayPath(ctx, f)));
    for (const s of snap.statuses) {
      if (s.state === 'edited') {
        problems.push({ kind: 'edited', version: s.versionText, message: `${displayPath(ctx, s.file!.upFile)} was edited after it was applied; accept it with \`sqlmig repair ${s.versionText}\` or restore the file`, diff: await editedDiff(db, ctx.table, s, displayPath(ctx, s.file!.upFile)) });
      } else if (s.state === 'missing') {
        problems.push({ kind: 'missing', version: s.versionText, message: `${label(s)} is applied but has no file; revert it with \`sqlmig down\` (stored SQL) or drop its row with \`sqlmig forget ${s.versionText}\`` });
      } else if (s.state === 'out-of-order') {
        problems.push({ kind: 'out-of-order', version: s.versionText, message: `${displayPath(ctx, s.file!.upFile)} is pending below the newest applied version; \`sqlmig renumber\` it or apply with \`sqlmig up --allow-out-of-order\`` });
      }
    }
    return { ok: problems.length === 0, migrations: snap.files.migrations.length, problems };
  });
}

/** Files that up, down or verify would refuse (the same check they make), pending and applied alike. */
async function unrunnableFiles(ctx: Context, snap: Snapshot): Promise<ValidationProblem[]> {
  const problems = await migrationProblems(ctx, snap.files.migrations);
  return problems.map(({ file, message }) => ({ kind: 'bad-file' as const, version: file.versionText, message }));
}

export function formatValidation(result: ValidateResult): string {
  const { problems } = result;
  if (result.ok) return `ok: ${result.migrations} migration file${result.migrations === 1 ? '' : 's'} checked, no problem found`;
  const lines = [`${problems.length} problem${problems.length === 1 ? '' : 's'} found:`];
  for (const p of problems) {
    lines.push(`  ${p.kind}: ${p.message}`);
    if (p.diff) lines.push(p.diff.split('\n').map((l) => `    ${l}`).join('\n'));
  }
  return lines.join('\n');
}

export interface RepairResult { repaired: { version: string; name: string }[] }

/** Accept the current file of edited applied migrations: store its checksum and text. */
export async function repair(ctx: Context, version?: string): Promise<RepairResult> {
  const wanted = version === undefined ? undefined : parseVersion(version, 'repair V');
  return lockedSnapshot(ctx, async (db, snap) => {
    let edited = snap.statuses.filter((s) => s.state === 'edited');
    if (wanted !== undefined) {
      const matching = snap.statuses.filter((s) => s.version === wanted && s.applied);
      if (!matching.length) throw unknownVersion(snap.statuses.filter((s) => s.applied), wanted, 'repair', 'applied');
      if (!matching[0]!.file) throw new Refused(`repair ${version}: ${label(matching[0]!)} has no file to accept; check it out, or \`sqlmig forget ${matching[0]!.versionText}\``);
      edited = edited.filter((s) => s.version === wanted);
    }
    for (const s of edited) {
      await updateHistoryText(db, ctx.table, s.version, { checksum: s.file!.checksum, upSql: s.file!.upSql, downSql: s.file!.downSql });
    }
    return { repaired: edited.map((s) => ({ version: s.versionText, name: s.name })) };
  });
}

export interface ForgetResult { forgotten: { version: string; name: string } }

/** Drop one history row without running anything (the DELETE FROM alembic_version of old). */
export async function forget(ctx: Context, version: string): Promise<ForgetResult> {
  const wanted = parseVersion(version, 'forget V');
  return lockedSnapshot(ctx, async (db, snap) => {
    const applied = snap.statuses.filter((s) => s.applied);
    const target = applied.find((s) => s.version === wanted);
    if (!target) throw unknownVersion(applied, wanted, 'forget', 'applied');
    await deleteHistory(db, ctx.table, target.version);
    return { forgotten: { version: target.versionText, name: target.applied!.name } };
  });
}

export interface StampResult { stamped: { version: string; name: string }[] }

/** Record every migration up to V as applied without running it: a database that predates sqlmig. */
export async function stamp(ctx: Context, version: string): Promise<StampResult> {
  const wanted = parseVersion(version, 'stamp V');
  return lockedSnapshot(ctx, async (db, snap) => {
    const onDisk = snap.statuses.filter((s) => s.file);
    if (!onDisk.some((s) => s.version === wanted)) throw unknownVersion(onDisk, wanted, 'stamp', 'with a file');
    const conflicts = snap.files.problems.filter((p) => p.kind === 'conflict');
    if (conflicts.length) throw new Refused(conflicts.map((p) => p.message).join('\n'));
    const toStamp = onDisk.filter((s) => !s.applied && s.version <= wanted);
    await ensureHistory(db, ctx.table);
    await db.transaction(async (tx) => {
      for (const s of toStamp) {
        const f = s.file!;
        await insertHistory(tx, ctx.table, { version: f.version, name: f.name, checksum: f.checksum, upSql: f.upSql, downSql: f.downSql, durationMs: 0, transactional: !f.directives.noTransaction, stamped: true });
      }
    });
    return { stamped: toStamp.map((s) => ({ version: s.versionText, name: s.name })) };
  });
}

export interface RenumberResult { renames: { from: string; to: string }[]; dryRun: boolean }

/**
 * Resolve version conflicts: the unapplied migration of each shared version moves, and with it every
 * unapplied one after it (a branch's follow-ups), in their order, to the next free versions after
 * everything that stays. Applied migrations never move.
 */
export async function renumber(ctx: Context, options: { dryRun?: boolean } = {}): Promise<RenumberResult> {
  return lockedSnapshot(ctx, async (_db, snap) => {
    const renames = planRenumber(snap.statuses);
    if (!options.dryRun) {
      const moving = new Set(renames.map((r) => r.from));
      for (const r of renames) {
        if (!moving.has(r.to) && existsSync(join(ctx.options.dir, r.to))) throw new Refused(`renumber: ${displayPath(ctx, r.to)} already exists; nothing was renamed`);
      }
      // Last first: a file never moves onto a name that one still to be moved holds.
      for (const r of [...renames].reverse()) await rename(join(ctx.options.dir, r.from), join(ctx.options.dir, r.to));
    }
    return { renames: renames.map((r) => ({ from: displayPath(ctx, r.from), to: displayPath(ctx, r.to) })), dryRun: Boolean(options.dryRun) };
  });
}

/** Pure: the renames (file names, in migration order) that resolve every version conflict. */
export function planRenumber(statuses: readonly MigrationStatus[]): { from: string; to: string }[] {
  // Statuses come sorted by version with the applied one first among equals: of a shared version, the first stays.
  const seen = new Set<bigint>();
  const firstToMove = statuses.findIndex((s) => {
    if (!s.file) return false;
    if (seen.has(s.version)) return !s.applied;
    seen.add(s.version);
    return false;
  });
  if (firstToMove === -1) return [];
  const moving = statuses.filter((s, i) => i >= firstToMove && s.file && !s.applied);
  let next = statuses.filter((s) => !moving.includes(s)).reduce((max, s) => (s.version > max ? s.version : max), 0n);
  const renames: { from: string; to: string }[] = [];
  for (const s of moving) {
    next = s.version > next ? s.version : next + 1n;
    if (next === s.version) continue;
    const versionText = next.toString().padStart(s.versionText.length, '0');
    for (const file of [s.file!.upFile, s.file!.downFile]) {
      if (file) renames.push({ from: file, to: file.replace(/^\d+/, versionText) });
    }
  }
  return renames;
}

function lockedSnapshot<T>(ctx: Context, fn: (db: Db, snap: Snapshot) => Promise<T>): Promise<T> {
  return withDb(ctx, (db) => withLock(db, ctx.table, ctx.lockTimeoutMs, async () => fn(db, await takeSnapshot(ctx, db))));
}

function unknownVersion(among: MigrationStatus[], wanted: bigint, command: string, what: string): Refused {
  const near = nearestVersions(among, wanted);
  return new Refused(`${command}: no migration ${what} has version ${wanted}${near.length ? `; nearest: ${near.join(', ')}` : ` (none is ${what})`}`);
}
