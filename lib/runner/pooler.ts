/**
 * Behind a transaction pooler each statement outside a transaction may run on another server connection.
 * A no-transaction migration is then safe only if nothing in it relies on the session: no timeout of
 * sqlmig's to apply to it, and no statement that changes or reads session state. Any migration, in a
 * transaction or not, must leave nothing in the session that outlives it (the session reset after each
 * migration undoes SET and SET ROLE; prepared statements, LISTEN, WITH HOLD cursors and temporary tables
 * it cannot undo in every state, so the file has to).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/index.js';
import { LockTimeout, Refused } from '../errors.js';
import type { PreparedStep } from './prepared-step.js';
import type { SessionObject, Statement } from '../migrations/sql.js';

/** Statements whose effect lives in the session (libpg-query node names). */
const SESSION_STATEMENTS = new Set([
  'VariableSetStmt', 'DiscardStmt', 'PrepareStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'DeclareCursorStmt', 'LoadStmt',
]);

export function refuseUnsafeThroughPooler(db: Db, steps: readonly PreparedStep[]): void {
  if (!db.pooled) return;
  const reasons: string[] = [];
  for (const step of steps) {
    const session = step.script.statements?.find((s) => SESSION_STATEMENTS.has(s.kind));
    if (!step.script.transactional && db.pooled.timeouts) reasons.push(`${step.script.path}: --statement-timeout / --ddl-lock-timeout cannot reach its statements (a pooler applies them inside transactions only)`);
    else if (!step.script.transactional && session) reasons.push(`${step.script.path}:${session.line}: \`${session.sql.split('\n')[0]}\` changes the session, which would not reach its next statement and would stay on a shared server connection`);
    else for (const left of leftInSession(step.script.statements ?? [])) reasons.push(`${step.script.path}:${left.line}: \`${left.sql.split('\n')[0]}\` ${LEFT_BEHIND[left.what]}`);
  }
  if (reasons.length === 0) return;
  throw new Refused(`${db.display} goes through a connection pooler (PgBouncer or similar), where each transaction may run on another server connection ` +
    `and what a migration leaves in the session stays there for the pooler's next clients; nothing was run:\n${reasons.map((r) => `  ${r}`).join('\n')}\n` +
    'Run these migrations with a URL that reaches PostgreSQL directly (not through the pooler)' +
    `${db.pooled.timeouts ? ', or without --statement-timeout and --ddl-lock-timeout' : ''}, or clear what they leave before the file ends.`);
}

/** The fix for each kind of leftover, said in the refusal. */
const LEFT_BEHIND: Record<SessionObject, string> = {
  'prepared statement': 'leaves a prepared statement on the server connection: DEALLOCATE it before the file ends',
  'LISTEN channel': 'leaves the server connection listening: UNLISTEN before the file ends',
  'WITH HOLD cursor': 'leaves a WITH HOLD cursor open past the commit: CLOSE it before the file ends (or declare it without WITH HOLD)',
  'temporary relation': 'leaves a temporary table on the server connection: add ON COMMIT DROP, or DROP it before the file ends',
};

/** Statements whose session state is still there when the file ends (a later DEALLOCATE, UNLISTEN, CLOSE, DROP or DISCARD TEMP clears it). */
function leftInSession(statements: readonly Statement[]): (Statement & { what: SessionObject })[] {
  const open = new Map<string, Statement & { what: SessionObject }>();
  for (const s of statements) {
    const effect = s.session;
    if (!effect) continue;
    if ('leaves' in effect) open.set(`${effect.leaves}\0${effect.name}`, { ...s, what: effect.leaves });
    else for (const key of [...open.keys()]) {
      const [what, name] = key.split('\0');
      if (what === effect.clears && (effect.names === null || effect.names.includes(name!))) open.delete(key);
    }
  }
  return [...open.values()];
}

/**
 * Behind a pooler a query waits (up to PgBouncer's query_wait_timeout, for ever when 0) until a server
 * connection is free: the answer, or null when none came within ms. A late answer is ignored.
 */
export async function answerWithin<T>(query: Promise<T>, ms: number): Promise<{ value: T } | null> {
  const timer = new AbortController();
  const late = query.then((value) => ({ value }));
  late.catch(() => {});
  try {
    return await Promise.race([late, sleep(Math.max(0, ms), null, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** PgBouncer's answer to a client that waited too long for a server connection. */
export function isPoolWait(error: unknown): boolean {
  return /query_wait_timeout/.test(String((error as Error)?.message ?? ''));
}

/** A pool with fewer free server connections than a run needs: which session got none, and what to change. */
export function poolTooSmall(db: Db, session: 'lock' | 'migrations', waitedMs: number | 'query_wait_timeout'): LockTimeout {
  const waited = waitedMs === 'query_wait_timeout' ? 'until PgBouncer\'s query_wait_timeout' : `${waitedMs} ms (--lock-timeout)`;
  const what = session === 'lock'
    ? 'the session that takes the lock got no server connection'
    : 'the lock is held, but the session that runs the migrations got no server connection (the lock\'s transaction keeps one for the whole run)';
  return new LockTimeout(`${db.display} goes through a connection pooler whose pool for this database and user is full: ${what}; waited ${waited}. ` +
    'Nothing was run. A run needs two server connections per database and user, one more for each other runner or client at the same time: ' +
    'raise PgBouncer\'s default_pool_size (or pool_size for this database) to 2 or more, or run migrations with a URL that reaches PostgreSQL directly.');
}
