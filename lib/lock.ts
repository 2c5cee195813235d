/** One runner at a time per history table: a session-level advisory lock on a session with no open transaction. */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from './db/index.js';
import { LockTimeout } from './errors.js';
import { qualifiedName, type HistoryTable } from './history.js';

const POLL_MS = 150;

/** A stable 64-bit key from the table's name; advisory locks are per database, so that part is implicit. */
export function lockKey(t: HistoryTable): bigint {
  const digest = createHash('sha256').update(`sqlmig:${qualifiedName(t)}`).digest();
  return digest.readBigInt64BE(0);
}

export async function withLock<T>(db: Db, t: HistoryTable, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const session = await db.openLockSession();
  const key = lockKey(t).toString();
  try {
    await acquire(session, key, timeoutMs);
    try {
      return await fn();
    } finally {
      await session.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => {});
    }
  } finally {
    await session.close();
  }
}

async function acquire(session: Db, key: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await session.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [key]);
    if (row?.locked) return;
    if (Date.now() >= deadline) throw new LockTimeout(await describeHolder(session, key, timeoutMs));
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

async function describeHolder(session: Db, key: string, timeoutMs: number): Promise<string> {
  const unsigned = BigInt.asUintN(64, BigInt(key));
  const rows = await session.query<{ pid: number; application_name: string; client_addr: string | null; usename: string; since: string }>(
    `select a.pid, a.application_name, a.client_addr::text as client_addr, a.usename, a.backend_start::text as since
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid and l.objsubid = 1`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  ).catch(() => []);
  const holder = rows[0];
  const who = holder
    ? `pid ${holder.pid} (application_name "${holder.application_name}", user ${holder.usename}, client ${holder.client_addr ?? 'local socket'}, connected ${holder.since})`
    : 'another session';
  return `another sqlmig run holds the lock on this history table: ${who}; waited ${timeoutMs} ms (--lock-timeout). ` +
    'Wait for it to finish, or raise --lock-timeout.';
}
