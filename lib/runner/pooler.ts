/**
 * Behind a transaction pooler each statement outside a transaction may run on another server connection.
 * A no-transaction migration is then safe only if nothing in it relies on the session: no timeout of
 * sqlmig's to apply to it, and no statement that changes or reads session state.
 */
import type { Db } from '../db/index.js';
import { Refused } from '../errors.js';
import type { PreparedStep } from './prepared-step.js';

/** Statements whose effect lives in the session (libpg-query node names). */
const SESSION_STATEMENTS = new Set([
  'VariableSetStmt', 'DiscardStmt', 'PrepareStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'DeclareCursorStmt', 'LoadStmt',
]);

export function refuseUnsafeThroughPooler(db: Db, steps: readonly PreparedStep[]): void {
  if (!db.pooled) return;
  const reasons: string[] = [];
  for (const step of steps.filter((s) => !s.script.transactional)) {
    const session = step.script.statements?.find((s) => SESSION_STATEMENTS.has(s.kind));
    if (db.pooled.timeouts) reasons.push(`${step.script.path}: --statement-timeout / --ddl-lock-timeout cannot reach its statements (a pooler applies them inside transactions only)`);
    else if (session) reasons.push(`${step.script.path}:${session.line}: \`${session.sql.split('\n')[0]}\` changes the session, which would not reach its next statement and would stay on a shared server connection`);
  }
  if (reasons.length === 0) return;
  throw new Refused(`${db.display} goes through a connection pooler (PgBouncer or similar), where each statement outside a transaction ` +
    `may run on another server connection; nothing was run:\n${reasons.map((r) => `  ${r}`).join('\n')}\n` +
    'Run these migrations with a URL that reaches PostgreSQL directly (not through the pooler)' +
    `${db.pooled.timeouts ? ', or without --statement-timeout and --ddl-lock-timeout' : ''}.`);
}
