/** `-- sqlmig:lint-ignore rule-id reason` on the line above a statement silences that rule for that statement. */
import { readDirectives } from '../migrations/directives.js';
import { RULES_BY_ID } from './rules.js';

export interface Ignore {
  line: number;
  rule: string;
  /** Index of the statement it silences: the first one that starts below it. */
  statement: number;
}

export interface IgnoreProblem { line: number; message: string; rule: 'lint-ignore' | 'directive' }

/** The file's ignores, and what is wrong with any of them (each is an error finding). */
export function readIgnores(text: string, statementLines: readonly number[]): { ignores: Ignore[]; problems: IgnoreProblem[] } {
  const directives = readDirectives(text, '');
  const problems: IgnoreProblem[] = directives.problems.map((p) => {
    const [, line, ...rest] = p.split(':');
    return { line: Number(line), message: rest.join(':').trim(), rule: p.includes('sqlmig:lint-ignore') ? 'lint-ignore' as const : 'directive' as const };
  });
  const ignores: Ignore[] = [];
  for (const { line, rule, reason } of directives.lintIgnores) {
    const statement = statementLines.findIndex((l) => l > line);
    if (!RULES_BY_ID.has(rule)) {
      problems.push({ line, rule: 'lint-ignore', message: `-- sqlmig:lint-ignore names an unknown rule "${rule}"; known: ${[...RULES_BY_ID.keys()].join(', ')}` });
    } else if (!reason.trim()) {
      problems.push({ line, rule: 'lint-ignore', message: `-- sqlmig:lint-ignore ${rule} needs a reason: say why this statement is safe` });
    } else if (statement === -1) {
      problems.push({ line, rule: 'lint-ignore', message: `-- sqlmig:lint-ignore ${rule} is not above a statement` });
    } else {
      ignores.push({ line, rule, statement });
    }
  }
  return { ignores, problems };
}
