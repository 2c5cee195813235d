/** Every rule lint knows, by family, and the ids a `-- sqlmig:lint-ignore` may name. */
import { columnRules } from './columns.js';
import { constraintRules } from './constraints.js';
import { dataLossRules } from './data-loss.js';
import { DO_BLOCK } from './do-blocks.js';
import { heldRules } from './held.js';
import { indexRules } from './indexes.js';
import { lockingRules } from './locking.js';
import { renameRules } from './renames.js';
import { SQUAWK_RULES } from './squawk.js';
import { TRACE_RULES } from './trace-rules.js';
import { transactionRules } from './transactions.js';
import type { Rule, RuleInfo } from './types.js';

/** Our parse-tree rules, in the order their findings are listed for one statement. */
export const STATIC_RULES: Rule[] = [...transactionRules, ...dataLossRules, ...renameRules, ...indexRules, ...columnRules, ...constraintRules, ...heldRules, ...lockingRules];

/** Findings about the file itself rather than a statement. */
export const META_RULES: RuleInfo[] = [
  {
    id: 'syntax-error', level: 'error', source: 'sqlmig',
    why: 'PostgreSQL\'s parser rejects the file: it would fail when applied, and lint cannot check it.',
    recipe: 'Fix the SQL at the position given.',
  },
  {
    id: 'lint-ignore', level: 'error', source: 'sqlmig',
    why: 'An ignore must name a rule lint knows and say why the statement is safe, so that reviewers can judge it.',
    recipe: 'Write `-- sqlmig:lint-ignore rule-id reason` on the line above the statement.',
  },
  {
    id: 'directive', level: 'error', source: 'sqlmig',
    why: 'A misspelled or misplaced `-- sqlmig:` directive is refused by `up`: a typo must not silently turn off a transaction.',
    recipe: 'Use `-- sqlmig:no-transaction` in the comment block at the top of the file, or `-- sqlmig:lint-ignore rule-id reason` above a statement.',
  },
];

export const ALL_RULES: RuleInfo[] = [...STATIC_RULES, DO_BLOCK, ...SQUAWK_RULES, ...TRACE_RULES, ...META_RULES];
export const RULES_BY_ID = new Map(ALL_RULES.map((r) => [r.id, r]));
