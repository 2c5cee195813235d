/** Pure: diff's and drift's results → text. */
import kleur from 'kleur';
import type { DiffResult } from '../commands/diff.js';
import type { DriftResult } from '../commands/drift.js';
import { describeScratch } from './verify.js';
import { dropColumn, dropSchemaCascade, dropTable } from '../lint/data-loss.js';

export interface DiffMode { check?: boolean; dryRun?: boolean }

export function formatDiff(r: DiffResult, mode: DiffMode): string {
  if (!r.changed) return `no difference: the migrations already give ${r.schemaFile}; nothing to write`;
  const differences = r.differences.map((d) => `  - ${d}`);
  if (mode.check) {
    return [`${kleur.red(`${r.schemaFile} and the migrations disagree`)} (\`sqlmig diff\` writes the migration):`, ...differences].join('\n');
  }
  const proved = `proved on ${r.scratch ? describeScratch(r.scratch) : 'a scratch database'}: up gives ${r.schemaFile}, down gives back the schema of the migrations (${r.durationMs} ms)`;
  if (mode.dryRun) {
    const files = r.migrations.flatMap((m) => [m.up, m.down]).map((f) => `${kleur.dim(`-- ${f.path}`)}\n${f.sql}`);
    return [...files, kleur.dim(`-- dry run: ${proved}; nothing was written`)].join('\n');
  }
  return [...r.migrations.flatMap((m) => [`wrote ${m.up.path}`, `wrote ${m.down.path}`]), proved].join('\n');
}

/** Lines for stderr: data-losing statements of the up files (unless only checking), objects the engine cannot see, notes. */
export function diffWarnings(r: DiffResult, mode: DiffMode): string[] {
  // Both files: a down that drops what the up added loses data when it is reverted.
  const written = new Set(mode.check ? [] : r.migrations.flatMap((m) => [m.up.path, m.down.path]));
  return [
    ...r.destructive.filter((d) => written.has(d.file)).map((d) => `${kleur.yellow('destructive')}: ${d.file}: ${d.reason}`),
    ...(mode.check ? [] : r.unsafe.map((f) => `${kleur.red('unsafe')}: ${f.file}:${f.line}: ${f.message} (proved only on empty tables; the comment above it in the file says what to change)`)),
    ...lintWarnings(r, mode),
    ...r.unmodelled.map((u) => `${kleur.yellow('warning')}: not modelled by the schema engine, so diff does not compare it (check it by hand): ${u}`),
    ...r.notes.map((n) => `${kleur.yellow('note')}: ${n}`),
  ];
}

/** The rules whose findings diff already reports as a `destructive:` line (it never writes TRUNCATE). */
const DATA_LOSS = new Set([dropTable.id, dropColumn.id, dropSchemaCascade.id]);

function lintWarnings(r: DiffResult, mode: DiffMode): string[] {
  // Data loss is already its own `destructive:` line; the rest is counted here.
  const others = r.lint.filter((f) => !DATA_LOSS.has(f.rule) && !r.unsafe.some((u) => u.file === f.file && u.line === f.line && u.rule === f.rule));
  if (mode.check || others.length === 0) return [];
  const rules = [...new Set(others.map((f) => f.rule))].join(', ');
  return [`${kleur.yellow('lint')}: ${others.length} finding${others.length === 1 ? '' : 's'} in the files diff ${mode.dryRun ? 'would write' : 'wrote'} (${rules}): \`sqlmig lint FILE\` says why and how to fix`];
}

export function formatDrift(r: DriftResult): string {
  const what = `${r.applied} applied migration${r.applied === 1 ? '' : 's'} (as stored in history)`;
  const notes = r.notes.map((n) => `${kleur.yellow('note')}: ${n}`);
  if (!r.drift) return [`no drift: the database matches what its ${what} make`, ...notes].join('\n');
  const lines = [`${kleur.red('drift')}: the database differs from what its ${what} make:`, ...r.differences.map((d) => `  - ${d.message}`), ...notes];
  if (r.applied === 0) lines.push('No migration is recorded as applied: if the schema was made before sqlmig, `sqlmig stamp V` records the migrations it already holds.');
  return lines.join('\n');
}
