/** Pure: fleet outcomes → a line per target, the progress line, the summary table, the rerun command, JSON. */
import kleur from 'kleur';
import { maskUrl } from '../db/url.js';
import type { FleetProgress, TargetOutcome } from './run.js';

/** What a command tells about one target: table cells (`columns` names them), its report line's words, JSON fields. */
export interface TargetFacts { cells: Record<string, string>; line: string; json: Record<string, unknown> }

export interface FleetReportInput {
  command: string;
  columns: string[];
  outcomes: TargetOutcome<TargetFacts>[];
  exitCode: number;
  /** The command line to run only the targets left behind, or null when none is. */
  rerun: string | null;
}

const STATE = { ok: kleur.green, failed: kleur.red, 'not started': kleur.yellow } as const;

export function formatTargetLine(outcome: TargetOutcome<TargetFacts>): string {
  const facts = outcome.result?.line ? [outcome.result.line] : [];
  const parts = [outcome.state === 'ok' ? kleur.green('ok    ') : kleur.red('FAILED'), outcome.target.name, kleur.dim(outcome.target.display), ...facts, kleur.dim(`${outcome.durationMs} ms`)];
  if (outcome.state === 'failed') parts.push(`${kleur.red(`exit ${outcome.exitCode}`)}${outcome.message ? `: ${firstLine(outcome.message)}` : ''}`);
  return parts.join('  ');
}

export function formatProgress(p: FleetProgress): string {
  return `${p.done}/${p.total} done${p.failed ? `, ${p.failed} failed` : ''}`;
}

export function formatFleetSummary(input: FleetReportInput): string {
  const { outcomes, columns } = input;
  const header = ['target', 'database', ...columns, 'time', 'result'];
  const rows = outcomes.map((o) => [
    o.target.name, o.target.display, ...columns.map((c) => o.result?.cells[c] ?? ''),
    o.state === 'not started' ? '' : `${o.durationMs} ms`,
    o.state === 'failed' ? `exit ${o.exitCode}` : o.state,
  ]);
  const lines = [table(header, rows, (i) => STATE[outcomes[i]!.state])];
  const failed = outcomes.filter((o) => o.state === 'failed');
  const notStarted = outcomes.filter((o) => o.state === 'not started');
  const ok = outcomes.length - failed.length - notStarted.length;
  const counts = [`${ok} ok`, ...(failed.length ? [`${failed.length} failed`] : []), ...(notStarted.length ? [`${notStarted.length} not started (${notStarted[0]!.message})`] : [])];
  lines.push('', `${outcomes.length} target${outcomes.length === 1 ? '' : 's'}: ${counts.join(', ')}`);
  const behind = leftBehind(outcomes);
  if (behind.length) lines.push(`left behind: ${behind.join(', ')}`);
  if (input.rerun) lines.push(`rerun only those: ${input.rerun}`);
  return lines.join('\n');
}

/** Each failed target's whole message, for stderr. */
export function formatFleetFailures(outcomes: TargetOutcome<TargetFacts>[]): string {
  return outcomes.filter((o) => o.state === 'failed')
    .map((o) => `${o.target.name} (${o.target.display}): exit ${o.exitCode}${o.message ? `\n${indent(o.message)}` : ''}`)
    .join('\n');
}

export function fleetJson(input: FleetReportInput): Record<string, unknown> {
  return {
    command: input.command,
    exitCode: input.exitCode,
    targets: input.outcomes.map((o) => ({
      name: o.target.name,
      url: o.target.display,
      ...(o.target.schema ? { schema: o.target.schema } : {}),
      state: o.state,
      exitCode: o.exitCode,
      durationMs: o.durationMs,
      ...(o.result?.json ?? {}),
      ...(o.state === 'failed' ? { error: { code: o.exitCode, message: o.message ?? '' } } : {}),
      ...(o.state === 'not started' ? { reason: o.message } : {}),
    })),
    leftBehind: leftBehind(input.outcomes),
    rerun: input.rerun,
  };
}

export function leftBehind(outcomes: readonly TargetOutcome<unknown>[]): string[] {
  return outcomes.filter((o) => o.state !== 'ok').map((o) => o.target.name);
}

/**
 * The command line again, for only the targets left behind: `--only` replaced, `--canary` dropped (its
 * targets are done or listed), every URL masked. Shell-quoted.
 */
export function rerunCommand(argv: readonly string[], names: readonly string[]): string | null {
  if (names.length === 0) return null;
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--only' || arg === '--canary') { i++; continue; }
    if (arg.startsWith('--only=') || arg.startsWith('--canary=')) continue;
    kept.push(arg);
  }
  return ['sqlmig', ...kept, '--only', names.join(',')].map((a) => shellQuote(maskUrl(a))).join(' ');
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function table(header: string[], rows: string[][], color: (row: number) => (s: string) => string): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!));
  // The last cell (the result) in its colour, with the padding outside the escape codes.
  const body = rows.map((r, i) => `${pad(r.slice(0, -1)).join('  ')}  ${color(i)(r.at(-1)!)}`.trimEnd());
  return [kleur.bold(pad(header).join('  ').trimEnd()), ...body].join('\n');
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
