import postgres from 'postgres';
import { ConnectionFailed } from '../errors.js';
import { preferBaselineWasmCompiler } from '../wasm.js';
import { maskSecret, maskUrl, passwordOf } from '../url.js';
import { StatementFailed, type ConnectOptions, type Db } from './index.js';

type Sql = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;
type Running = { cancel(): unknown };

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
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw connectionError(error, url);
  }
  await watchForDeadClient(sql);
  const lockSession = async () => {
    const lockSql = open({ statement_timeout: 0, lock_timeout: 0 });
    try {
      await lockSql`select 1`;
    } catch (error) {
      await lockSql.end({ timeout: 0 }).catch(() => {});
      throw connectionError(error, url);
    }
    return wrap(lockSql, display, lockSession, async () => lockSql.end({ timeout: 5 }));
  };
  return wrap(sql, display, lockSession, () => sql.end({ timeout: 5 }));
}

function wrap(
  sql: Sql, display: string, openLockSession: () => Promise<Db>, close: () => Promise<void>,
  inTransaction = false, running = new Set<Running>(),
): Db {
  const track = async <T>(query: PromiseLike<unknown> & Running): Promise<T> => {
    running.add(query);
    try {
      return (await query) as T;
    } finally {
      running.delete(query);
    }
  };
  const db: Db = {
    kind: 'server',
    display,
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
    async runTransaction(statements, record) {
      if (inTransaction) throw new Error('runTransaction inside a transaction');
      // One pipeline on our single connection: after a failure the server rejects the rest of the
      // block (25P02) and turns the final COMMIT into a ROLLBACK, so nothing of the migration stays.
      const queries = [
        sql.unsafe('begin'),
        ...statements.map((s) => sql.unsafe(s)),
        sql.unsafe(record.sql, record.params as postgres.ParameterOrJSON<never>[]),
        sql.unsafe('commit'),
      ];
      const results = await Promise.allSettled(queries.map((q) => track(q)));
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed === -1) return;
      await sql.unsafe('rollback').catch(() => {}); // in case the failure left the block open
      if (failed === 0 || failed === queries.length - 1) throw (results[failed] as PromiseRejectedResult).reason;
      throw new StatementFailed(failed - 1, (results[failed] as PromiseRejectedResult).reason);
    },
    async transaction(fn) {
      const begin = (sql as postgres.Sql).begin.bind(sql);
      // The transaction shares `running` with this session, so cancel() also reaches what runs inside it.
      return (await begin((tx) => fn(wrap(tx, display, openLockSession, async () => {}, true, running)))) as never;
    },
    openLockSession,
    async cancel() {
      await Promise.all([...running].map((q) => q.cancel()));
    },
    close,
  };
  return db;
}

/**
 * PostgreSQL 14+: if this process dies (kill -9, OOM), the server ends our running statement within
 * seconds and rolls it back, instead of letting it run on holding its locks after the advisory lock is gone.
 */
async function watchForDeadClient(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`select set_config('client_connection_check_interval', '2s', false) where current_setting('server_version_num')::int >= 140000`)
    .catch(() => {}); // not available on this server's platform: the orphan then ends when its statement does
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
