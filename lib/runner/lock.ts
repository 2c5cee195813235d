/**
 * One runner at a time per history table: an advisory lock held on a second session while the first works.
 * Directly on PostgreSQL it is a session-level lock on a session with no open transaction. Behind a pooler
 * (PgBouncer in transaction mode) a session lock would stay on whichever server connection took it: there
 * the lock is transaction-level, held by a transaction kept open on that second session for the whole run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/index.js';
import { LockTimeout, Refused } from '../errors.js';
import { answerWithin, isPoolWait, poolTooSmall } from './pooler.js';
import { qualifiedName, type HistoryTable } from './history.js';

const POLL_MS = 150;
/** The last attempt, made at the deadline, still gets this long to find a server connection before the pool is called full. */
const POOL_GRACE_MS = 2000;

/** A stable 64-bit key from the table's name; advisory locks are per database, so that part is implicit. */
export function lockKey(t: HistoryTable): bigint {
  const digest = createHash('sha256').update(`sqlmig:${qualifiedName(t)}`).digest();
  return digest.readBigInt64BE(0);
}

/** `write` (the default): the database must accept writes, else the run is refused before anything runs. */
export type LockPurpose = 'write' | 'read';

/**
 * The lock as held, for the run to check that it still is: `checkSql` can run on any session of the
 * database and fails (see isLockLost) unless the lock session's backend still holds the lock.
 */
export interface HeldLock {
  readonly checkSql: string;
  /** Why the lock may have gone, and the setting to change. */
  readonly lostHint: string;
}

export async function withLock<T>(db: Db, t: HistoryTable, timeoutMs: number, fn: (lock: HeldLock | undefined) => Promise<T>, purpose: LockPurpose = 'write'): Promise<T> {
  if (purpose === 'write') await refuseReadOnly(db);
  const session = await db.openLockSession();
  const key = lockKey(t).toString();
  const mode = db.pooled ? TRANSACTION_LOCK : SESSION_LOCK;
  try {
    await acquire(db, session, key, timeoutMs, mode);
    try {
      const held = db.kind === 'server' ? heldLock(await runKey(session, mode), Boolean(db.pooled)) : undefined;
      if (db.pooled) await secondConnection(db, timeoutMs);
      return await fn(held);
    } finally {
      await mode.release(session, key).catch(() => {});
    }
  } finally {
    await session.close();
  }
}

const LOST_SETTING = 'sqlmig.lock_lost';

/**
 * Next to the runner's lock, the lock session takes a second advisory lock on a key of this run's own
 * (random), which nobody else takes. While that session lives it holds both; when it ends both go. So
 * "can another session take the run's key, even shared?" answers "is the runner's lock still ours?":
 * a try-lock, where reading pg_locks cost ~0.2 ms of server time per migration (it copies the whole
 * lock table).
 */
async function runKey(session: Db, mode: LockMode): Promise<bigint> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const key = randomBytes(8).readBigInt64BE(0);
    if (await mode.tryRunKey(session, key)) return key;
  }
  throw new Error('could not take an advisory lock on a random key of this run three times (another application takes advisory locks on random 64-bit keys?)');
}

function heldLock(runKey: bigint, pooled: boolean): HeldLock {
  // current_setting of a parameter nobody sets raises, at run time only (a constant error would be raised while planning).
  // The try takes the key shared only when the lock session is gone, and the raise rolls that back.
  const checkSql = `select case when pg_catalog.pg_try_advisory_xact_lock_shared(${runKey}::bigint) then pg_catalog.current_setting('${LOST_SETTING}') else '' end`;
  const lostHint = pooled
    ? 'the pooler closed the session holding it: PgBouncer\'s idle_transaction_timeout (or a server timeout) is shorter than the run. ' +
      'Set idle_transaction_timeout = 0 (or longer than any run) for this database, or run migrations with a URL that reaches PostgreSQL directly'
    : 'the session holding it was closed (idle_session_timeout on the server, pg_terminate_backend, or the network). Check idle_session_timeout for this user';
  return { checkSql, lostHint };
}

/** The error checkSql raises when the lock is no longer held. */
export function isLockLost(error: unknown): boolean {
  return String((error as Error)?.message ?? '').includes(`"${LOST_SETTING}"`);
}

interface LockMode {
  /** Whether the lock was taken. */
  tryLock(session: Db, key: string): Promise<boolean>;
  /** Take this run's own key too, held as long as the lock (see runKey). */
  tryRunKey(session: Db, key: bigint): Promise<boolean>;
  release(session: Db, key: string): Promise<void>;
}

const SESSION_LOCK: LockMode = {
  async tryLock(session, key) {
    const [row] = await session.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [key]);
    return Boolean(row?.locked);
  },
  async tryRunKey(session, key) {
    const [row] = await session.query<{ locked: boolean }>(`select pg_try_advisory_lock(${key}::bigint) as locked`);
    return Boolean(row?.locked);
  },
  async release(session) {
    await session.exec('select pg_catalog.pg_advisory_unlock_all()'); // the runner's lock and the run's own key
  },
};

/**
 * The pooler keeps a server connection for a client while its transaction is open, and when the client
 * goes away mid-transaction it closes that connection: the server then rolls back and frees the lock.
 * READ COMMITTED keeps no snapshot between statements, so the idle transaction holds back neither VACUUM
 * nor CREATE INDEX CONCURRENTLY; the server's idle-in-transaction and transaction timeouts are off for it.
 */
const TRANSACTION_LOCK: LockMode = {
  async tryLock(session, key) {
    await session.exec(`begin isolation level read committed; set local idle_in_transaction_session_timeout = 0;
      select pg_catalog.set_config('transaction_timeout', '0', true) where pg_catalog.current_setting('server_version_num')::int >= 170000`);
    // The simple protocol: an extended-protocol portal would keep its snapshot (and CREATE INDEX
    // CONCURRENTLY would wait for it) until the transaction ends. The key is a number of ours.
    const [row] = await session.query<{ locked: boolean }>(`select pg_try_advisory_xact_lock(${BigInt(key)}::bigint) as locked`);
    if (row?.locked) return true;
    await session.exec('rollback'); // not holding a server connection while waiting
    return false;
  },
  async tryRunKey(session, key) {
    const [row] = await session.query<{ locked: boolean }>(`select pg_try_advisory_xact_lock(${key}::bigint) as locked`);
    return Boolean(row?.locked);
  },
  async release(session) {
    await session.exec('rollback');
  },
};

async function acquire(db: Db, session: Db, key: string, timeoutMs: number, mode: LockMode): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (db.pooled ? await pooledTry(db, session, key, mode, deadline, timeoutMs) : await mode.tryLock(session, key)) return;
    if (Date.now() >= deadline) throw new LockTimeout(await describeHolder(session, key, timeoutMs));
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/** Behind a pooler, the attempt itself may wait for a server connection: never longer than the lock timeout. */
async function pooledTry(db: Db, session: Db, key: string, mode: LockMode, deadline: number, timeoutMs: number): Promise<boolean> {
  const answer = await answerWithin(mode.tryLock(session, key).catch((error: unknown) => {
    throw isPoolWait(error) ? poolTooSmall(db, 'lock', 'query_wait_timeout') : error;
  }), Math.max(deadline - Date.now(), POOL_GRACE_MS));
  if (!answer) throw poolTooSmall(db, 'lock', timeoutMs);
  return answer.value;
}

/** The lock's transaction keeps a server connection: the migrations need another one, within the lock timeout. */
async function secondConnection(db: Db, timeoutMs: number): Promise<void> {
  const answer = await answerWithin(db.query('select 1').catch((error: unknown) => {
    throw isPoolWait(error) ? poolTooSmall(db, 'migrations', 'query_wait_timeout') : error;
  }), timeoutMs);
  if (!answer) throw poolTooSmall(db, 'migrations', timeoutMs);
}

/** A standby, or a database whose sessions are read-only, is refused before anything runs (exit 3). */
export async function refuseReadOnly(db: Db): Promise<void> {
  const [row] = await db.query<{ recovery: boolean; readonly: string }>(
    `select pg_catalog.pg_is_in_recovery() as recovery, pg_catalog.current_setting('default_transaction_read_only') as readonly`);
  if (row?.recovery) {
    throw new Refused(`${db.display} is a read-only standby (pg_is_in_recovery() is true); nothing was run. Point sqlmig at the primary.`);
  }
  if (row?.readonly === 'on') {
    throw new Refused(`${db.display} accepts no writes: default_transaction_read_only is on (set on the database, the role or in the URL); nothing was run. ` +
      'Point sqlmig at a writable primary, or turn the setting off for the user that runs migrations.');
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
