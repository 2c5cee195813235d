/** Pure: results → text. The CLI decides where it goes; JSON is the result objects themselves. */
import kleur from 'kleur';
import type { CurrentResult, HistoryEntry, StatusResult } from '../commands/inspect.js';
import type { MigrateResult, PlannedSql } from '../commands/migrate.js';
import type { CreateResult } from '../commands/create.js';
import type { StepEvent } from '../runner/execute.js';
import type { MigrationState } from '../runner/plan.js';

const STATE_COLOR: Record<MigrationState, (s: string) => string> = {
  applied: kleur.green,
  pending: kleur.yellow,
  edited: kleur.red,
  missing: kleur.red,
  'out-of-order': kleur.magenta,
};

export function formatStepEvent(event: StepEvent): string | null {
  if (event.type === 'start') return null;
  const id = `${event.step.versionText}_${event.step.name}`;
  if (event.type === 'failed') return `${kleur.red('FAILED  ')}  ${id}  ${kleur.dim(`${event.durationMs} ms`)}`;
  const verb = event.step.direction === 'up' ? kleur.green('applied ') : kleur.cyan('reverted');
  const note = event.result.fromStoredSql ? kleur.yellow('  (file missing: ran the down SQL stored in history)') : '';
  return `${verb}  ${id}  ${kleur.dim(`${event.result.durationMs} ms`)}${note}`;
}

export function formatMigrate(result: MigrateResult, direction: 'up' | 'down' = 'up'): string {
  if (result.dryRun) return formatDryRun(result.dryRun);
  const lines: string[] = [];
  const total = (rs: { durationMs: number }[]) => rs.reduce((t, r) => t + r.durationMs, 0);
  if (result.reverted.length) lines.push(`reverted ${plural(result.reverted.length, 'migration')} in ${total(result.reverted)} ms`);
  if (result.applied.length) lines.push(`applied ${plural(result.applied.length, 'migration')} in ${total(result.applied)} ms`);
  if (lines.length === 0) lines.push(direction === 'down' ? 'nothing to revert: no migration is applied' : 'nothing to do: no migration to run');
  return lines.join('\n');
}

export function formatDryRun(planned: PlannedSql[]): string {
  if (planned.length === 0) return '-- dry run: nothing to do';
  const blocks = planned.map((p) => `-- ${p.direction === 'up' ? 'apply' : 'revert'} ${p.version}_${p.name} (${p.path})\n${p.sql.trimEnd()}\n`);
  return `-- dry run: ${plural(planned.length, 'migration')} would run; nothing was changed\n\n${blocks.join('\n')}`;
}

export function formatStatus(result: StatusResult, target: string): string {
  const lines = [`${kleur.bold('database')}  ${target}`, `${kleur.bold('folder')}    ${result.dir} (${plural(result.migrations.filter((m) => m.file).length, 'migration file')})`, ''];
  const width = Math.max(0, ...result.migrations.map((m) => m.state.length));
  const idWidth = Math.max(0, ...result.migrations.map((m) => `${m.version}_${m.name}`.length));
  for (const m of result.migrations) {
    const when = m.appliedAt ? kleur.dim(`  ${m.appliedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`) : '';
    const noOp = m.noOpDown ? kleur.dim('  (no-op down)') : '';
    const id = `${m.version}_${m.name}`;
    const downEdited = m.downEdited ? kleur.yellow('  (down edited)') : '';
    lines.push(`  ${STATE_COLOR[m.state](m.state.padEnd(width))}  ${when || noOp || downEdited ? id.padEnd(idWidth) : id}${when}${noOp}${downEdited}`);
  }
  if (result.migrations.length === 0) lines.push('  (no migrations: create one with sqlmig create "description")');
  lines.push('', `current: ${result.current ?? '(none)'}   head: ${result.head ?? '(none)'}   pending: ${result.pending}`);
  for (const problem of result.problems) lines.push(kleur.red(`problem: ${problem}`));
  if (result.onlineLeftovers.length) {
    lines.push(kleur.yellow(`left by an interrupted up --online (the next \`sqlmig up --online\` removes them first, or drop them by hand):`));
    for (const l of result.onlineLeftovers) lines.push(`  ${l.kind} ${l.table ? `${l.name} on ${l.schema}.${l.table}` : `${l.schema}.${l.name}()`}`);
  }
  for (const p of result.onlineUnfinished) {
    const m = result.migrations.find((x) => BigInt(x.version) === BigInt(p.version));
    const did = p.kind === 'statements'
      ? `ran its statements of step ${p.step} as written (they stay)`
      : `changed ${p.rows.toLocaleString('en-US')} row(s) in batches${p.lastKey === null ? '' : ` (keys up to ${p.lastKey})`}`;
    lines.push(kleur.yellow(`${m ? `${m.version}_${m.name}` : p.version}: an interrupted \`${p.direction} --online\` ${did} and stopped; ` +
      `\`sqlmig ${p.direction} --online\` goes on from there (a plain \`${p.direction}\` is refused)`));
  }
  return lines.join('\n');
}

export function formatCurrent(result: CurrentResult): string {
  return result.text;
}

export function formatHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return '(no migration applied)';
  const rows = entries.map((e) => [
    e.version, e.name, e.appliedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.appliedBy,
    e.stamped ? 'stamped' : `${e.durationMs} ms`,
  ]);
  return table(['version', 'name', 'applied at', 'by', 'duration'], rows);
}

export function formatCreate(result: CreateResult): string {
  return `${result.up}\n${result.down}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [kleur.bold(line(header)), ...rows.map(line)].join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
