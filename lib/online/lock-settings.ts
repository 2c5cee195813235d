/** The settings each locking step of an online plan runs with, and whether this role may lower deadlock_timeout. */
import type { Db } from '../db/index.js';

/** How soon a waiting step has an autovacuum that blocks it cancelled. */
export const DEADLOCK_TIMEOUT_MS = 100;

/**
 * A step's lock settings. lock_timeout bounds how long traffic queues behind the step's wait. Where the
 * role may set it, deadlock_timeout is lowered too: a waiter checks for deadlocks after that long, and
 * the same check cancels an autovacuum that holds the table (which otherwise gives way only after the
 * server's deadlock_timeout, 1 s by default, so a backfilled table's final rename waited out its whole
 * lock_timeout while writers queued).
 */
export function lockSettingsSql(lockTimeoutMs: number, deadlockTimeout = false): string {
  const ms = Math.max(1, Math.round(lockTimeoutMs));
  const lock = `set local lock_timeout = '${ms}ms'`;
  return deadlockTimeout ? `${lock}; set local deadlock_timeout = '${stepDeadlockTimeoutMs(ms)}ms'` : lock;
}

/** The deadlock_timeout of a step whose lock_timeout is `lockTimeoutMs`: 100 ms, or half a shorter lock_timeout. */
export function stepDeadlockTimeoutMs(lockTimeoutMs: number): number {
  return Math.max(1, Math.min(DEADLOCK_TIMEOUT_MS, Math.round(lockTimeoutMs / 2)));
}

/** May this role set deadlock_timeout (a superuser-only setting, grantable with GRANT SET since PostgreSQL 15)? */
export async function maySetDeadlockTimeout(db: Db): Promise<boolean> {
  try {
    const [row] = await db.query<{ superuser: boolean; version: number }>(
      `select pg_catalog.current_setting('is_superuser') = 'on' as superuser, pg_catalog.current_setting('server_version_num')::int as version`);
    if (row?.superuser) return true;
    if ((row?.version ?? 0) < 150000) return false;
    const [granted] = await db.query<{ ok: boolean }>(`select pg_catalog.has_parameter_privilege('deadlock_timeout', 'SET') as ok`);
    return Boolean(granted?.ok);
  } catch {
    return false; // unknown: leave the server's setting alone
  }
}
