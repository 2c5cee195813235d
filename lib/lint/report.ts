/** Findings as text: `file:line:col  rule-id  message`, then why it is dangerous and the safe way. */
import kleur from 'kleur';
import type { Finding } from './types.js';

export interface LintSummary {
  findings: Finding[];
  /** How many migration files were linted. */
  linted: number;
  squawk: { ran: boolean; reason?: string };
  /** Scope and scratch notes ("no database given: linting all 10 migrations"). */
  notes: string[];
}

export function formatFinding(f: Finding, detail = true): string {
  const level = f.level === 'error' ? kleur.red('error') : kleur.yellow('warning');
  const head = `${f.file}:${f.line}:${f.col}  ${kleur.bold(f.rule)}  ${f.message}`;
  return detail ? `${head}\n    ${level}: ${f.why}\n    fix: ${f.recipe}` : `${head} (${level})`;
}

export function formatLint(result: LintSummary): string {
  const errors = result.findings.filter((f) => f.level === 'error').length;
  const warnings = result.findings.length - errors;
  // Why and how to fix, once per rule: the same advice under every finding would bury the findings.
  const explained = new Set<string>();
  const lines = result.findings.map((f) => {
    const first = !explained.has(f.rule);
    explained.add(f.rule);
    return formatFinding(f, first);
  });
  const files = `${result.linted} migration file${result.linted === 1 ? '' : 's'}`;
  const counts = result.findings.length === 0 ? `lint ok: ${files}, no finding` : `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'} in ${files}`;
  const skipped = result.squawk.ran ? '' : `; Squawk's rules were skipped (${result.squawk.reason})`;
  if (lines.length) lines.push('');
  lines.push(...result.notes, `${counts}${skipped}`);
  return lines.join('\n');
}
