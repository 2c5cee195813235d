import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { ConnectionFailed, ConnectionLost } from '../errors.js';
import { preferBaselineWasmCompiler } from '../wasm.js';
import { maskSecret, maskUrl, passwordOf } from '../url.js';
import { SESSION_RESET_SQL, StatementFailed, type ConnectOptions, type Db, type Row } from './index.js';

type Sql = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;
/** What postgres.js tells about a query it has sent: `active` while the server runs it, `state` its backend. */
type Running = { cancel(): unknown; active?: boolean; state?: { pid?: number } };

/** How often a cancel is repeated while the cancelled work has not stopped (one can arrive between two statements and be ignored). */
const CANCEL_RETRY_MS = 1000;

const CONNECT_TIMEOUT_S = 10;

export async function connectServer(url: string, options: ConnectOptions = {}): Promise<Db> {
  preferBaselineWasmCompiler();
  const connection: Record<string, string | number> = { application_name: 'sqlmig' };
  if (options.statementTimeoutMs !== undefined) connection['statement_timeout'] = options.statementTimeoutMs;
  if (options.ddlLockTimeoutMs !== undefined) connection['lock_timeout'] = options.ddlLockTimeoutMs;
  const open = (extra: Record<string, string | number> = {}) =>
    postgres(url, {
      max: 1,
      onnotice: () => {},
      connect_timeout: CONNECT_TIMEOUT_S,
      idle_timeout: 0,
      connection: { ...connection, ...extra },
    });
  const sql = open();
  const display = maskUrl(url);
  let serverVersion: number;
  try {
    const [row] = await sql`select current_setting('server_version_num')::int as version`;
    serverVersion = row!['version'] as number;
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw connectionError(error, url);
  }
  const ownSettings = await watchForDeadClient(sql, serverVersion);
  const cancelBackend = async (pid: number) => {
    const once = open({ statement_timeout: 5000 });
    await once`select pg_cancel_backend(${pid})`.catch(() => {});
    await once.end({ timeout: 0 }).catch(() => {});
  };
  const session: Session = { display, resetSql: `${SESSION_RESET_SQL} ${ownSettings}`.trim(), cancelBackend, lost: null };
  const lockSession = async () => {
    const lockSql = open({ statement_timeout: 0, lock_timeout: 0 });
    try {
      await lockSql`select 1`;
    } catch (error) {
      await lockSql.end({ timeout: 0 }).catch(() => {});
      throw connectionError(error, url);
    }
    return wrap(lockSql, session, lockSession, () => lockSql.end({ timeout: session.lost ? 0 : 5 }));
  };
  return wrap(sql, session, lockSession, () => sql.end({ timeout: session.lost ? 0 : 5 }));
}

/**
 * What the sessions of one connectServer share. `lost`: a connection broke (server restart, crash,
 * network); nothing more is sent, since postgres.js would quietly reconnect without our lock and settings.
 */
interface Session {
  display: string;
  resetSql: string;
  cancelBackend(pid: number): Promise<void>;
  lost: ConnectionLost | null;
}

function wrap(
  sql: Sql, session: Session, openLockSession: () => Promise<Db>, close: () => Promise<void>,
  inTransaction = false, running = new Set<Running>(),
): Db {
  const track = async <T>(query: PromiseLike<unknown> & Running): Promise<T> => {
    if (session.lost) throw session.lost; // (postgres.js sends a query only once it is awaited)
    running.add(query);
    try {
      return (await query) as T;
    } catch (error) {
      if (isConnectionLoss(error)) {
        session.lost ??= new ConnectionLost(`lost the connection to ${session.display}: ${lossReason(error)}`, { cause: error });
        throw session.lost;
      }
      throw error;
    } finally {
      running.delete(query);
    }
  };
  const db: Db = {
    kind: 'server',
    display: session.display,
    resetSql: session.resetSql,
    query: (text, params = []) => track(sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])),
    exec: async (text) => { await track(sql.unsafe(text)); },
    async runStatements(statements) {
      if (!inTransaction) {
        // Outside a transaction each statement commits on its own: never send the next before this one succeeded.
        for (const [index, statement] of statements.entries()) {
          try { await track(sql.unsafe(statement)); } catch (error) { throw new StatementFailed(index, error); }
        }
        return;
      }
      // Pipelined: all are sent at once; the first rejection is the failing statement, the
      // server rejects the rest (transaction aborted), so one round trip covers the file.
      const results = await Promise.allSettled(statements.map((s) => track(sql.unsafe(s))));
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed !== -1) throw new StatementFailed(failed, (results[failed] as PromiseRejectedResult).reason);
    },
    async runTransaction(statements, finish) {
      if (inTransaction) throw new Error('runTransaction inside a transaction');
      // One pipeline on our single connection: after a failure the server rejects the rest of the
      // block (25P02) and turns the final COMMIT into a ROLLBACK, so nothing of the migration stays.
      const queries = [
        sql.unsafe('begin'),
        ...statements.map((s) => sql.unsafe(s)),
        ...finish.map((q) => sql.unsafe(q.sql, q.params as postgres.ParameterOrJSON<never>[])),
        sql.unsafe('commit'),
      ];
      const results = await Promise.allSettled(queries.map((q) => track(q)));
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed === -1) return (results[queries.length - 2] as PromiseFulfilledResult<Row[]>).value;
      const reason = (results[failed] as PromiseRejectedResult).reason;
      if (!session.lost) await sql.unsafe('rollback').catch(() => {}); // in case the failure left the block open
      if (failed === 0 || failed === queries.length - 1) throw reason;
      throw new StatementFailed(failed - 1, reason);
    },
    async transaction(fn) {
      const begin = (sql as postgres.Sql).begin.bind(sql);
      // The transaction shares `running` with this session, so cancel() also reaches what runs inside it.
      return (await begin((tx) => fn(wrap(tx, session, openLockSession, async () => {}, true, running)))) as never;
    },
    openLockSession,
    async cancel() {
      // Cancel only the query the server is running: the rest of a pipeline then fails on its own.
      // (Cancelling queries that are sent but not yet running makes postgres.js lose track of them.)
      // A cancel that reaches the server between two statements is ignored, so repeat it while work goes on.
      let previous: Running | null = null;
      while (running.size && !session.lost) {
        const active = [...running].find((q) => q.active);
        if (active && active !== previous) await active.cancel();
        else if (active?.state?.pid) await session.cancelBackend(active.state.pid);
        previous = active ?? previous;
        await sleep(CANCEL_RETRY_MS);
      }
    },
    close,
  };
  return db;
}

const LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function lossReason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  // The server's own words (57P01 "terminating connection due to administrator command") say more than the driver's.
  if (e.code?.startsWith('57P') || e.code?.startsWith('08')) return `${maskUrl(e.message ?? '')} (SQLSTATE ${e.code})`;
  return `the server closed the connection (restart, crash or network failure; ${e.code})`;
}

function isConnectionLoss(error: unknown): boolean {
  const code = String((error as { code?: string })?.code ?? '');
  // 57P01-57P03: the server is shutting down or restarting; class 08: connection exception.
  return LOST_CODES.has(code) || /^57P0[123]$/.test(code) || code.startsWith('08');
}

/**
 * The setting to reapply after each migration's session reset, or '' when there is none.
 * PostgreSQL 14+: if this process dies (kill -9, OOM), the server ends our running statement within
 * seconds and rolls it back, instead of letting it run on holding its locks after the advisory lock is gone.
 */
async function watchForDeadClient(sql: postgres.Sql, serverVersion: number): Promise<string> {
  if (serverVersion < 140000) return '';
  const setting = `select pg_catalog.set_config('client_connection_check_interval', '2s', false)`;
  // Not available on this server's platform: the orphan then ends when its statement does.
  return sql.unsafe(setting).then(() => `${setting};`, () => '');
}

export function connectionError(error: unknown, url: string): ConnectionFailed {
  const e = error as { code?: string; message?: string; errno?: string };
  const where = maskUrl(url);
  const secret = passwordOf(url);
  const reason = maskSecret(e.message ?? String(error), secret);
  let hint = 'check that the server is running and the URL is right';
  if (e.code === '28P01' || e.code === '28000') hint = 'check the user name and password (PGPASSWORD, the URL, or ~/.pgpass)';
  else if (e.code === '3D000') hint = 'create the database first (createdb) or fix the database name in the URL';
  else if (e.code === 'ECONNREFUSED') hint = 'nothing listens there: is PostgreSQL running, and are host and port right?';
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') hint = 'the host name does not resolve';
  else if (e.code === 'CONNECT_TIMEOUT') hint = `no answer within ${CONNECT_TIMEOUT_S}s: check host, port and firewall`;
  return new ConnectionFailed(`cannot connect to ${where}: ${reason}\n  ${hint}`, { cause: error });
}
