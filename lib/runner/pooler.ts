/**
 * Behind a transaction pooler each statement outside a transaction may run on another server connection.
 * A no-transaction migration is then safe only if nothing in it relies on the session: no timeout of
 * sqlmig's to apply to it, and no statement that changes or reads session state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/index.js';
import { LockTimeout, Refused } from '../errors.js';
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
