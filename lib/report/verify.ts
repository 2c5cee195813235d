/** Pure: verify's progress and findings → text. */
import kleur from 'kleur';
import type { PhaseTimes, VerifyEvent, VerifyFinding, VerifyResult } from '../commands/verify.js';
import type { ScratchInfo } from '../schema/scratch.js';

const STATUS_WORD: Record<VerifyFinding['status'], () => string> = {
  'round-trips': () => kleur.green('round-trips'),
  failed: () => kleur.red('FAILED     '),
  skipped: () => kleur.yellow('skipped    '),
  'not-run': () => kleur.dim('not run    '),
};

const PHASE_WORD: Record<keyof PhaseTimes, string> = {
  scratch: 'scratch database', up: 'up', down: 'down', upAgain: 'up again', snapshot: 'schema snapshots', compare: 'compare', rebuild: 'rebuild',
};

export interface VerifyFormatOptions {
  /** Time per phase, per migration and for the run. */
  verbose?: boolean;
}

/** One line per migration as it completes; where the scratch database is, first. */
export function formatVerifyEvent(event: VerifyEvent, options: VerifyFormatOptions = {}): string {
  if (event.type === 'scratch') return kleur.dim(`verifying on ${describeScratch(event.scratch)}`);
  if (event.type === 'parts') {
    return kleur.dim(event.why
      ? `verifying on one database (${event.why})`
      : `verifying in ${event.parts} parts at once, each on a temporary database of its own; findings in migration order (--jobs 1: one database)`);
  }
  const f = event.finding;
  const extra = f.status === 'skipped' || f.status === 'not-run' ? `  ${kleur.dim(f.reason ?? '')}` : '';
  const phases = options.verbose && f.status !== 'not-run' ? `  ${kleur.dim(`(${formatPhases(f.phases, (ms) => `${ms} ms`)})`)}` : '';
  return `${STATUS_WORD[f.status]()}  ${f.version}_${f.name}  ${kleur.dim(`${f.durationMs} ms`)}${phases}${extra}`;
}

export function describeScratch(scratch: ScratchInfo): string {
  switch (scratch.kind) {
    case 'given': return `the scratch database ${scratch.display}`;
    case 'temporary': return `a temporary database, ${scratch.display} (dropped afterwards)`;
    case 'embedded': return 'an embedded PGlite in memory (PostgreSQL 18)';
  }
}

const ERROR_WORD: Record<NonNullable<VerifyFinding['error']>['step'], string> = {
  up: 'its up failed', down: 'its down failed', 'up again': 'applying it again after its down failed', schema: 'its round trip could not be completed',
};

/** What failed and why, object by object; notes; then one summary line with the total time. */
export function formatVerify(result: VerifyResult, options: VerifyFormatOptions = {}): string {
  if (result.findings.length === 0) return 'nothing to verify: no migration files';
  const lines: string[] = [];
  for (const f of result.findings) {
    const id = `${f.version}_${f.name}`;
    if (f.differences.length) {
      lines.push(`${kleur.red(id)}: its down does not restore the schema from before its up:`);
      lines.push(...f.differences.map((d) => `  - ${d.message}`));
    }
    if (f.error) {
      lines.push(`${kleur.red(id)}: ${ERROR_WORD[f.error.step]}:`);
      lines.push(...f.error.message.split('\n').map((l) => `  ${l}`));
    }
    for (const note of f.notes) lines.push(`${kleur.yellow('note')}: ${id}: ${note.message}`);
  }
  const notRun = result.findings.filter((f) => f.status === 'not-run');
  if (notRun.length) {
    const first = notRun[0]!;
    lines.push(`${kleur.red('not run')}: ${notRun.length} migration${notRun.length === 1 ? '' : 's'} from ${first.version}_${first.name} on: ${first.reason}`);
  }
  const count = (status: VerifyFinding['status']) => result.findings.filter((f) => f.status === status).length;
  const parts = [`${count('round-trips')} round-trip`, `${count('failed')} failed`, `${count('skipped')} skipped (irreversible)`];
  if (notRun.length) parts.push(`${notRun.length} not run`);
  const verdict = result.ok ? kleur.green('ok') : kleur.red('FAILED');
  if (lines.length) lines.push('');
  if (options.verbose) lines.push(kleur.dim(`time per phase: ${formatPhases(result.phases, seconds)}`));
  lines.push(`verify ${verdict}: ${result.findings.length} migration${result.findings.length === 1 ? '' : 's'}, ${parts.join(', ')} in ${result.durationMs} ms`);
  return lines.join('\n');
}

function formatPhases(phases: Partial<PhaseTimes>, show: (ms: number) => string): string {
  return (Object.keys(PHASE_WORD) as (keyof PhaseTimes)[])
    .filter((k) => phases[k] !== undefined && (phases[k] !== 0 || k !== 'rebuild'))
    .map((k) => `${PHASE_WORD[k]} ${show(phases[k]!)}`).join(', ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
