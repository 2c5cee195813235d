/**
 * The labelled lint set (test/fixtures/lint): each case linted after base.sql, its findings compared
 * with its `-- expect:` lines by rule and line (detection) and by level.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDirectives } from '../../lib/migrations/directives.js';
import { emptySchema } from '../../lib/lint/known.js';
import { lintSources } from '../../lib/lint/runner.js';
import type { Finding, TableSize } from '../../lib/lint/types.js';

export const CASES_DIR = fileURLToPath(new URL('../fixtures/lint/', import.meta.url));

export interface Expected { rule: string; level: string; line: number }
export interface CaseResult { name: string; expected: Expected[]; found: Finding[] }

export async function runCases(): Promise<CaseResult[]> {
  const base = readFileSync(join(CASES_DIR, 'base.sql'), 'utf8');
  const names = readdirSync(join(CASES_DIR, 'cases')).filter((f) => f.endsWith('.sql')).sort();
  const results: CaseResult[] = [];
  for (const name of names) {
    const file = join(CASES_DIR, 'cases', name);
    const text = readFileSync(file, 'utf8');
    const expected = [...text.matchAll(/^-- expect: (\S+) (\S+) (\d+)$/gm)].map((m) => ({ rule: m[1]!, level: m[2]!, line: Number(m[3]) }));
    const sizes = new Map<string, TableSize>([...text.matchAll(/^-- case: size (\S+) (\d+) (\d+)$/gm)].map((m) => [m[1]!, { rows: Number(m[2]), bytes: Number(m[3]) }]));
    const output = await lintSources({
      steps: [{ replay: { id: '000_base', text: base, fresh: false } }, { lint: { path: name, file, id: '001_case', text, transactional: !readDirectives(text, name).noTransaction } }],
      schema: emptySchema(), fresh: false, lockTimeout: !/^-- case: no-lock-timeout$/m.test(text), sizes, squawk: true,
    });
    results.push({ name, expected, found: output.findings });
  }
  return results;
}

export interface Score { expected: number; found: number; detected: number; rightLevel: number; precision: number; recall: number; levelPrecision: number; levelRecall: number }

export function score(results: CaseResult[]): Score {
  let expected = 0; let found = 0; let detected = 0; let rightLevel = 0;
  for (const r of results) {
    expected += r.expected.length;
    found += r.found.length;
    const left = [...r.found];
    for (const e of r.expected) {
      const i = left.findIndex((f) => f.rule === e.rule && f.line === e.line);
      if (i === -1) continue;
      detected++;
      if (left[i]!.level === e.level) rightLevel++;
      left.splice(i, 1);
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  return { expected, found, detected, rightLevel, precision: ratio(detected, found), recall: ratio(detected, expected), levelPrecision: ratio(rightLevel, found), levelRecall: ratio(rightLevel, expected) };
}

/** What differs from the labels, one line each: "12_x.sql: missed alter-column-type error 3". */
export function differences(results: CaseResult[]): string[] {
  return results.flatMap((r) => {
    const left = [...r.found];
    const lines: string[] = [];
    for (const e of r.expected) {
      const i = left.findIndex((f) => f.rule === e.rule && f.line === e.line && f.level === e.level);
      if (i === -1) lines.push(`${r.name}: missed ${e.rule} ${e.level} ${e.line}`);
      else left.splice(i, 1);
    }
    return [...lines, ...left.map((f) => `${r.name}: unexpected ${f.rule} ${f.level} ${f.line} (${f.message})`)];
  });
}
