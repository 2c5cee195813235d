/** Statements that fight sqlmig's transaction around a migration file. */
import { refusedInTransaction } from '../migrations/transaction-block.js';
import { rule, type LintStatement } from './types.js';

const CONTROL: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN', TRANS_STMT_START: 'START TRANSACTION', TRANS_STMT_COMMIT: 'COMMIT', TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION', TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED', TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

export const transactionControl = rule({
  id: 'transaction-control',
  level: 'error',
  why: 'sqlmig runs this file inside its own transaction, together with its history row. A COMMIT in the file commits half a migration without its history row; a BEGIN is ignored with a warning; a ROLLBACK throws away the work while sqlmig goes on.',
  recipe: 'Remove BEGIN/COMMIT: the whole file is already one transaction. To run statements outside a transaction, put `-- sqlmig:no-transaction` on the first line instead. (SAVEPOINT is fine.)',
}, (stmt, env) => {
  if (!env.transactional || stmt.kind !== 'TransactionStmt') return [];
  const word = CONTROL[stmt.node['kind'] as string];
  return word ? [{ message: `${word} inside a migration that sqlmig already runs in a transaction` }] : [];
});

/** What in a statement cannot run inside a transaction block, or null (the same rule that refuses such a file before it runs). */
export function needsNoTransaction(stmt: LintStatement): string | null {
  return refusedInTransaction(stmt.kind, stmt.node);
}

export const needsNoTransactionRule = rule({
  id: 'concurrently-in-transaction',
  level: 'error',
  why: 'PostgreSQL refuses CONCURRENTLY (and VACUUM, CREATE DATABASE, …) inside a transaction block, and sqlmig runs this file in one: the migration fails when it is applied.',
  recipe: 'Move the statement into a migration of its own whose first line is `-- sqlmig:no-transaction`; sqlmig then runs it statement by statement, outside a transaction.',
}, (stmt, env) => {
  if (!env.transactional) return [];
  const what = needsNoTransaction(stmt);
  return what ? [{ message: `${what} cannot run inside a transaction, and this file runs in one (no \`-- sqlmig:no-transaction\`)` }] : [];
});

export const transactionRules = [transactionControl, needsNoTransactionRule];
