/** Pure: verify's progress and findings → text. */
import kleur from 'kleur';
import type { VerifyEvent, VerifyFinding, VerifyResult } from './commands/verify.js';
import type { ScratchInfo } from './schema/scratch.js';

const STATUS_WORD: Record<VerifyFinding['status'], () => string> = {
  'round-trips': () => kleur.green('round-trips'),
  failed: () => kleur.red('FAILED     '),
  skipped: () => kleur.yellow('skipped    '),
  'not-run': () => kleur.dim('not run    '),
};

/** One line per migration as it completes; where the scratch database is, first. */
export function formatVerifyEvent(event: VerifyEvent): string {
  if (event.type === 'scratch') return kleur.dim(`verifying on ${describeScratch(event.scratch)}`);
  const f = event.finding;
  const extra = f.status === 'skipped' || f.status === 'not-run' ? `  ${kleur.dim(f.reason ?? '')}` : '';
  return `${STATUS_WORD[f.status]()}  ${f.version}_${f.name}  ${kleur.dim(`${f.durationMs} ms`)}${extra}`;
}

export function describeScratch(scratch: ScratchInfo): string {
  switch (scratch.kind) {
    case 'given': return `the scratch database ${scratch.display}`;
    case 'temporary': return `a temporary database, ${scratch.display} (dropped afterwards)`;
    case 'embedded': return 'an embedded PGlite in memory (PostgreSQL 18)';
  }
}

/** What failed and why, object by object; notes; then one summary line with the total time. */
export function formatVerify(result: VerifyResult): string {
  if (result.findings.length === 0) return 'nothing to verify: no migration files';
  const lines: string[] = [];
  for (const f of result.findings) {
    const id = `${f.version}_${f.name}`;
    if (f.differences.length) {
      lines.push(`${kleur.red(id)}: its down does not restore the schema from before its up:`);
      lines.push(...f.differences.map((d) => `  - ${d.message}`));
    }
    if (f.error) {
      const what = f.error.step === 'down' ? 'its down failed' : f.error.step === 'up' ? 'its up failed' : 'applying it again after its down failed';
      lines.push(`${kleur.red(id)}: ${what}:`);
      lines.push(...f.error.message.split('\n').map((l) => `  ${l}`));
    }
    for (const note of f.notes) lines.push(`${kleur.yellow('note')}: ${id}: ${note.message}`);
  }
  const count = (status: VerifyFinding['status']) => result.findings.filter((f) => f.status === status).length;
  const parts = [`${count('round-trips')} round-trip`, `${count('failed')} failed`, `${count('skipped')} skipped (irreversible)`];
  if (count('not-run')) parts.push(`${count('not-run')} not run`);
  const verdict = result.ok ? kleur.green('ok') : kleur.red('FAILED');
  if (lines.length) lines.push('');
  lines.push(`verify ${verdict}: ${result.findings.length} migration${result.findings.length === 1 ? '' : 's'}, ${parts.join(', ')} in ${result.durationMs} ms`);
  return lines.join('\n');
}
