/** Pure: (files, history, request) → what to do. No I/O here, so tests are plain literals. */
import type { FileProblem, MigrationFile } from '../migrations/files.js';
import { compareVersions } from '../migrations/files.js';
import type { AppliedMigration } from './history.js';

export type MigrationState = 'applied' | 'pending' | 'edited' | 'missing' | 'out-of-order';
import type { Direction } from '../migrations/files.js';
export type { Direction } from '../migrations/files.js';

export interface MigrationStatus {
  version: bigint;
  /** "001" as in the file name, or padded to the folder's width when the file is gone. */
  versionText: string;
  name: string;
  state: MigrationState;
  file: MigrationFile | null;
  applied: AppliedMigration | null;
}

export interface Step {
  direction: Direction;
  status: MigrationStatus;
}

export interface Refusal {
  kind: 'conflict' | 'bad-file' | 'edited' | 'missing' | 'out-of-order' | 'irreversible' | 'unknown-version';
  version?: bigint;
  message: string;
}

export function versionWidth(files: readonly MigrationFile[]): number {
  return files.reduce((w, f) => Math.max(w, f.versionText.length), 0) || 3;
}

/** Match files with history rows by version: one state per migration. */
export function reconcile(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): MigrationStatus[] {
  const width = versionWidth(files);
  const byVersion = new Map<bigint, AppliedMigration>(applied.map((a) => [a.version, a]));
  const newestApplied = applied.reduce<bigint | null>((max, a) => (max === null || a.version > max ? a.version : max), null);
  const matched = new Set<bigint>();
  const result: MigrationStatus[] = [];
  for (const file of files) {
    const row = byVersion.get(file.version);
    // Of two files sharing an applied version (a conflict), the one with the applied name is the applied one.
    const isTheApplied = row && !matched.has(row.version) && (row.name === file.name || !files.some((f) => f !== file && f.version === file.version && f.name === row.name));
    if (row && isTheApplied) {
      matched.add(row.version);
      result.push({ version: file.version, versionText: file.versionText, name: file.name, file, applied: row, state: row.checksum === file.checksum ? 'applied' : 'edited' });
    } else {
      const state = newestApplied !== null && file.version < newestApplied ? 'out-of-order' : 'pending';
      result.push({ version: file.version, versionText: file.versionText, name: file.name, file, applied: null, state });
    }
  }
  for (const row of applied) {
    if (matched.has(row.version)) continue;
    result.push({ version: row.version, versionText: row.version.toString().padStart(width, '0'), name: row.name, file: null, applied: row, state: 'missing' });
  }
  return result.sort((a, b) => compareVersions(a.version, b.version) || (a.applied ? -1 : b.applied ? 1 : a.name < b.name ? -1 : 1));
}

export const isApplied = (s: MigrationStatus) => s.applied !== null;
export const label = (s: { versionText: string; name: string }) => `${s.versionText}_${s.name}`;

/** Everything that must be fixed before `up` may change anything. */
export function upRefusals(statuses: readonly MigrationStatus[], problems: readonly FileProblem[], allowOutOfOrder: boolean): Refusal[] {
  const refusals: Refusal[] = problems.map((p) => ({ kind: p.kind === 'conflict' ? 'conflict' : 'bad-file', message: p.message }));
  for (const s of statuses) {
    if (s.state === 'edited') {
      refusals.push({ kind: 'edited', version: s.version, message: `${s.file!.upFile} was edited after it was applied (checksum differs). Put the file back as it was, or accept it with \`sqlmig repair ${s.versionText}\`, or revert it first with \`sqlmig down --to <previous version>\`.` });
    } else if (s.state === 'missing') {
      refusals.push({ kind: 'missing', version: s.version, message: `${label(s)} is applied but its file is missing (another branch?). Check out its files, revert it with \`sqlmig down\` (uses the down SQL stored when it was applied), or drop its history row with \`sqlmig forget ${s.versionText}\`.` });
    } else if (s.state === 'out-of-order' && !allowOutOfOrder) {
      refusals.push({ kind: 'out-of-order', version: s.version, message: `${s.file!.upFile} is pending but a newer version is already applied. Apply it anyway with \`sqlmig up --allow-out-of-order\`, or give it a newer version with \`sqlmig renumber\`.` });
    }
  }
  return refusals;
}

export interface UpRequest { to?: bigint; step?: number }

export function planUp(statuses: readonly MigrationStatus[], request: UpRequest = {}): Step[] {
  let pending = statuses.filter((s) => s.state === 'pending' || s.state === 'out-of-order');
  if (request.to !== undefined) pending = pending.filter((s) => s.version <= request.to!);
  if (request.step !== undefined) pending = pending.slice(0, request.step);
  return pending.map((status) => ({ direction: 'up', status }));
}

export type DownRequest = { count: number } | { to: bigint } | { all: true };

export function planDown(statuses: readonly MigrationStatus[], request: DownRequest): Step[] {
  const applied = statuses.filter(isApplied).reverse();
  let chosen: MigrationStatus[];
  if ('all' in request) chosen = applied;
  else if ('to' in request) chosen = applied.filter((s) => s.version > request.to);
  else chosen = applied.slice(0, request.count);
  return chosen.map((status) => ({ direction: 'down', status }));
}

/** Known versions nearest to one that does not exist, for "did you mean". */
export function nearestVersions(statuses: readonly MigrationStatus[], wanted: bigint, count = 3): string[] {
  const distance = (v: bigint) => (v > wanted ? v - wanted : wanted - v);
  return [...statuses]
    .sort((a, b) => compareVersions(distance(a.version), distance(b.version)))
    .slice(0, count)
    .sort((a, b) => compareVersions(a.version, b.version))
    .map(label);
}

export function findVersion(statuses: readonly MigrationStatus[], wanted: bigint): MigrationStatus[] {
  return statuses.filter((s) => s.version === wanted);
}
