/**
 * The labelled lint set (test/fixtures/lint): each case linted after base.sql, its findings compared
 * with its `-- expect:` lines by rule and line (detection) and by level.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDirectives } from '../../lib/migrations/directives.js';
import { emptySchema } from '../../lib/lint/known.js';
import { lintSources, type LintSource, type Planned } from '../../lib/lint/runner.js';
import { mergeFindings } from '../../lib/lint/merge.js';
import { RULES_BY_ID } from '../../lib/lint/rules.js';
import { traceScope } from '../../lib/lint/trace-run.js';
import type { Context } from '../../lib/runner/context.js';
import type { Finding, TableSize } from '../../lib/lint/types.js';

export const CASES_DIR = fileURLToPath(new URL('../fixtures/lint/', import.meta.url));

export interface Expected { rule: string; level: string; line: number }
export interface CaseResult { name: string; expected: Expected[]; found: Finding[] }

export async function runCases(): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of readCases()) {
    const output = await lintCase(c, false);
    results.push({ name: c.name, expected: c.expected, found: output.findings });
  }
  return results;
}

/**
 * The same cases with `lint --trace`: each run on a scratch database of `ctx` (a temporary database on
 * its server, or an embedded PGlite) after base.sql, and the trace's findings merged into the static
 * ones as the lint command merges them.
 */
export async function runTraceCases(ctx: Context): Promise<CaseResult[]> {
  const cases = readCases();
  const results: CaseResult[] = new Array(cases.length);
  // Each case traces on a temporary database of its own, so a few at a time give the same results sooner.
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i]!;
      const output = await lintCase(c, true);
      const order: Planned[] = [{ source: c.base, lint: false }, { source: c.source, lint: true }];
      const traced = await traceScope(ctx, order, output.files, c.sizes);
      results[i] = { name: c.name, expected: c.expected, found: mergeFindings([c.name], output.findings, traced.findings) };
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return results;
}

interface Case { name: string; text: string; expected: Expected[]; sizes: Map<string, TableSize>; base: LintSource; source: LintSource }

function readCases(): Case[] {
  const base = readFileSync(join(CASES_DIR, 'base.sql'), 'utf8');
  const names = readdirSync(join(CASES_DIR, 'cases')).filter((f) => f.endsWith('.sql')).sort();
  return names.map((name) => {
    const file = join(CASES_DIR, 'cases', name);
    const text = readFileSync(file, 'utf8');
    const expected = [...text.matchAll(/^-- expect: (\S+) (\S+) (\d+)$/gm)].map((m) => ({ rule: m[1]!, level: m[2]!, line: Number(m[3]) }));
    const sizes = new Map<string, TableSize>([...text.matchAll(/^-- case: size (\S+) (\d+) (\d+)$/gm)].map((m) => [m[1]!, { rows: Number(m[2]), bytes: Number(m[3]) }]));
    return {
      name, text, expected, sizes,
      base: { path: 'base.sql', file: null, id: '000_base', text: base, transactional: true },
      source: { path: name, file, id: '001_case', text, transactional: !readDirectives(text, name).noTransaction },
    };
  });
}

function lintCase(c: Case, keepStatements: boolean) {
  return lintSources({
    steps: [{ replay: { id: c.base.id, text: c.base.text, fresh: false } }, { lint: c.source }],
    schema: emptySchema(), fresh: false, lockTimeout: !/^-- case: no-lock-timeout$/m.test(c.text), sizes: c.sizes, squawk: true, keepStatements,
  });
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

/**
 * The trace by itself. What it said: a trace finding, or a static finding it confirmed ("--trace
 * confirms"). Precision: what it said at a statement that has a label (a hazard is there), over all it
 * said. Recall: labelled blocking findings (the rules lint makes errors for a big table) at whose
 * statement it said something, over all of those.
 */
export function traceScore(results: CaseResult[]): { said: number; onLabel: number; blocking: number; seen: number; precision: number; recall: number } {
  let said = 0; let onLabel = 0; let blocking = 0; let seen = 0;
  for (const r of results) {
    const saidAt = r.found.filter((f) => f.source === 'trace' || f.message.includes('(--trace confirms: ')).map((f) => f.line);
    const labelled = new Set(r.expected.map((e) => e.line));
    said += saidAt.length;
    onLabel += saidAt.filter((line) => labelled.has(line)).length;
    for (const e of r.expected.filter((x) => RULES_BY_ID.get(x.rule)?.harm)) {
      blocking++;
      if (saidAt.includes(e.line)) seen++;
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  return { said, onLabel, blocking, seen, precision: ratio(onLabel, said), recall: ratio(seen, blocking) };
}
