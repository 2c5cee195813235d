/** Index builds that block writes: CREATE INDEX without CONCURRENTLY on a table that already has rows. */
import { tableKey } from './tree.js';
import { rule } from './types.js';

export const indexNotConcurrent = rule({
  id: 'index-not-concurrently',
  level: 'error', harm: true,
  why: 'CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits until the whole index is built, which takes minutes on a large table.',
  recipe: 'Build it with CREATE INDEX CONCURRENTLY in a migration of its own whose first line is `-- sqlmig:no-transaction` (and DROP INDEX CONCURRENTLY IF EXISTS in its down).',
}, (stmt, env) => {
  if (stmt.kind !== 'IndexStmt' || stmt.node['concurrent']) return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  const what = stmt.node['idxname'] ? `index ${stmt.node['idxname']}` : 'an index';
  return [{ message: `creates ${what} on ${env.name(table)} without CONCURRENTLY: writes to it wait until the index is built`, table }];
});

export const indexRules = [indexNotConcurrent];
