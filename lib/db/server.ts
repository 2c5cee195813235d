import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { ConnectionFailed, ConnectionLost } from '../errors.js';
import { preferBaselineWasmCompiler } from '../migrations/wasm.js';
import { createConnection } from 'node:net';
import { maskSecret, maskUrl } from './url.js';
import { clientFiles } from './clientfiles.js';
import { resolveConnection, type ConnInfo, type Endpoint } from './conninfo.js';
import { driverOptions } from './driveroptions.js';
import { locateInMessage, oneMessage } from './one-message.js';
import { PreconditionFailed, SESSION_RESET_SQL, StatementFailed, type ConnectOptions, type Db, type ParameterizedQuery, type Row } from './index.js';

type Sql = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;
/** What postgres.js tells about a query it has sent: `active` while the server runs it, `state` its backend. */
type Running = { cancel(): unknown; active?: boolean; state?: { pid?: number } };

/** How often a cancel is repeated while the cancelled work has not stopped (one can arrive between two statements and be ignored). */
const CANCEL_RETRY_MS = 1000;

export async function connectServer(url: string, options: ConnectOptions = {}): Promise<Db> {
  preferBaselineWasmCompiler();
  const files = clientFiles();
  const info = resolveConnection(url, process.env, files);
  for (const warning of info.warnings) options.onNotice?.(`warning: ${warning}`);
  const settings: Record<string, string | number> = {};
  if (options.statementTimeoutMs !== undefined) settings['statement_timeout'] = options.statementTimeoutMs;
  if (options.ddlLockTimeoutMs !== undefined) settings['lock_timeout'] = options.ddlLockTimeoutMs;
  let ssl = driverOptions(info, files).ssl;
  // Startup parameters survive RESET ALL, so they are how timeouts reach every statement; a pooler may refuse them.
  let startup = settings;
  const open = (extra: Record<string, string | number> = {}) => {
    const driver = driverOptions(info, files, ssl);
    // postgres.js takes host and port lists (its types say one string): a string would split IPv6 addresses at ':'.
    return postgres({
      ...driver,
      max: 1,
      // No named prepared statements (postgres.js would name its own type query and every parameterized
      // one): through a pooler they would stay on a shared server connection for its next clients.
      prepare: false,
      onnotice: () => {},
      // libpq's connect_timeout=0 waits for ever; postgres.js needs a number.
      connect_timeout: driver.connect_timeout || 2_147_483,
      idle_timeout: 0,
      connection: { ...driver.connection, ...startup, ...extra },
    } as unknown as postgres.Options<Record<string, never>>);
  };
  const display = maskSecret(url, info.password);
  let serverVersion = 0;
  let pooled = false;
  const firstQuery = async (sql: postgres.Sql) => {
    // Unnamed (simple protocol): a named prepared statement would stay behind on a pooler's server connection.
    const rows = await sql.unsafe(`select current_setting('server_version_num')::int as version, pg_catalog.pg_backend_pid() as pid`);
    serverVersion = rows[0]!['version'] as number;
    // PostgreSQL announces its backend's process id when a connection opens (BackendKeyData, for cancel
    // requests). A pooler announces a key of its own: its client has no one server connection to name.
    if ((rows as unknown as Running).state?.pid !== rows[0]!['pid']) pooled = true;
  };
  const connect = async (extra?: Record<string, string | number>): Promise<postgres.Sql> => {
    let sql = open(extra);
    try {
      await firstQuery(sql);
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {});
      if (startup !== NO_SETTINGS && refusesOwnSettings(error)) {
        // PgBouncer accepts no statement_timeout/lock_timeout at startup: then they are set in each transaction.
        startup = NO_SETTINGS;
        pooled = true;
        return connect(extra);
      }
      // sslmode=allow: without SSL first, with it when the server refuses a connection without.
      if (info.sslmode !== 'allow' || ssl !== false || (error as { code?: string }).code !== '28000') throw await connectionError(error, info, display);
      ssl = 'require';
      sql = open(extra);
      await firstQuery(sql).catch(async (again: unknown) => {
        await sql.end({ timeout: 0 }).catch(() => {});
        throw await connectionError(again, info, display);
      });
    }
    return sql;
  };
  const sql = await connect();
  // Through a pooler a session-level setting would stay on a shared server connection: none is made.
  let ownSettings = pooled ? '' : await watchForDeadClient(sql, serverVersion);
  if (options.throwaway && !pooled) {
    // Nothing of a throwaway database must outlive a crash: a commit then costs no WAL flush (one per migration).
    ownSettings = `${ownSettings} set synchronous_commit = off;`.trim();
    await sql.unsafe('set synchronous_commit = off');
  }
  const local = pooled ? transactionSettings(options) : '';
  const cancelBackend = async (pid: number) => {
    const once = open({ statement_timeout: 5000 });
    await once`select pg_cancel_backend(${pid})`.catch(() => {});
    await once.end({ timeout: 0 }).catch(() => {});
  };
  const session: Session = {
    display, resetSql: `${SESSION_RESET_SQL} ${ownSettings}`.trim(), cancelBackend, lost: null,
    pooled: pooled ? { timeouts: local !== '' } : undefined, transactionSettings: local,
    oneMessage: serverVersion >= 130000,
  };
  const lockSession = async () => {
    const lockSql = await connect({ statement_timeout: 0, lock_timeout: 0 });
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
  /** Behind a pooler: session settings do not last, so `transactionSettings` (SQL, or '') opens each transaction. */
  pooled: { timeouts: boolean } | undefined;
  transactionSettings: string;
  /**
   * Send a migration's statements as one message (one-message.ts). PostgreSQL 13+ only: before 13,
   * statement_timeout timed a whole message, so a file would have shared one timeout.
   */
  oneMessage: boolean;
}

const NO_SETTINGS: Record<string, string | number> = {};

function refusesOwnSettings(error: unknown): boolean {
  return /unsupported startup parameter: (statement_timeout|lock_timeout)\b/.test((error as Error)?.message ?? '');
}

/** statement_timeout and lock_timeout for one transaction (SET LOCAL), for a session behind a pooler. */
function transactionSettings(options: ConnectOptions): string {
  const given: [string, number][] = [];
  if (options.statementTimeoutMs !== undefined) given.push(['statement_timeout', options.statementTimeoutMs]);
  if (options.ddlLockTimeoutMs !== undefined) given.push(['lock_timeout', options.ddlLockTimeoutMs]);
  return given.length ? `select ${given.map(([name, ms]) => `pg_catalog.set_config('${name}', '${Math.round(ms)}', true)`).join(', ')}` : '';
}

function wrap(
  sql: Sql, session: Session, openLockSession: () => Promise<Db>, close: () => Promise<void>,
  inTransaction = false, running = new Set<Running>(),
): Db {
  let cancels = 0;
  const track = async <T>(query: PromiseLike<unknown> & Running): Promise<T> => {
    if (session.lost) throw session.lost; // (postgres.js sends a query only once it is awaited)
    running.add(query);
    try {
      return (await query) as T;
    } catch (error) {
      if (isConnectionLoss(error)) {
        session.lost ??= new ConnectionLost(`lost the connection to ${session.display}: ${lossReason(error)}${session.pooled ? POOLER_LOSS : ''}`, { cause: error });
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
    ...(session.pooled ? { pooled: session.pooled } : {}),
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
    ...(session.oneMessage ? {
      async runInOne(statements: readonly string[], finish: readonly ParameterizedQuery[]) {
        if (!inTransaction || finish.some((q) => q.params.length)) throw new Error('runInOne: inside a transaction, with a finish of plain SQL');
        return lastRows(await track(sql.unsafe(oneMessage('', [...statements, ...finish.map((q) => q.sql)]).text)));
      },
    } : {}),
    async runTransaction(statements, finish, options = {}) {
      if (inTransaction) throw new Error('runTransaction inside a transaction');
      const opening = ['begin', session.transactionSettings, options.precondition].filter(Boolean).join('; ');
      // A parsed file cannot end the transaction early (TransactionOptions.parsed), so the migration and
      // its finish go as one message: one statement list for the server. COMMIT goes on its own, so that
      // after a failure it ends the aborted block (as ROLLBACK) before a migration sent behind this one
      // arrives. The SAVEPOINT is the net under the parser: it fails outside the explicit transaction
      // (a COMMIT that got through), and the history row is then not written.
      const whole = session.oneMessage && Boolean(options.parsed) && finish.every((q) => q.params.length === 0);
      const finishing = finish.map((q, i) => (i === 0 ? `savepoint sqlmig_finish; ${q.sql}` : q.sql));
      const message = session.oneMessage ? oneMessage(opening, whole ? [...statements, ...finishing] : statements) : null;
      const cancelsBefore = cancels;
      // Else one pipeline on our single connection: after a failure the server rejects the rest of the
      // block (25P02) and turns the final COMMIT into a ROLLBACK, so nothing of the migration stays.
      // The session reset and the history row go as messages of their own: a COMMIT in a file that
      // was sent unparsed must end its message's transaction before the history guard is set.
      const queries = whole ? [sql.unsafe(message!.text), sql.unsafe('commit')] : [
        ...(message ? [sql.unsafe(message.text)] : [sql.unsafe(opening), ...statements.map((s) => sql.unsafe(s))]),
        ...finish.map((q) => sql.unsafe(q.sql, q.params as postgres.ParameterOrJSON<never>[])),
        sql.unsafe('commit'),
      ];
      const results = await Promise.allSettled(queries.map((q) => track(q)));
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed === -1 && whole) return lastRows((results[0] as PromiseFulfilledResult<unknown[]>).value);
      if (failed === -1) return (results[queries.length - 2] as PromiseFulfilledResult<Row[]>).value;
      const reason = (results[failed] as PromiseRejectedResult).reason as { position?: unknown };
      if (!session.lost) await sql.unsafe('rollback').catch(() => {}); // in case the failure left the block open
      if (options.precondition && failed === 0 && isPreconditionError(reason, options.precondition)) throw new PreconditionFailed(reason);
      if (failed === queries.length - 1) throw reason;
      if (whole && isOutsideTransactionBlock(reason)) return []; // the file ended the transaction: no row was written
      const firstFinish = message ? 1 : statements.length + 1;
      if (!whole && failed >= firstFinish) throw new StatementFailed(statements.length + failed - firstFinish, reason);
      if (!message) {
        if (failed === 0) throw reason;
        throw new StatementFailed(failed - 1, reason);
      }
      // Cancelled (the run is being interrupted) or disconnected: which statement it was does not matter.
      if (session.lost || cancels !== cancelsBefore) throw reason;
      // sqlmig's own checks in the finish (the runner's lock) raise by reading a setting nobody sets: never run the file again for them.
      if (whole && isOwnCheckError(reason)) throw new StatementFailed(statements.length, reason);
      const located = locateInMessage(message, reason.position);
      if (located) throw new StatementFailed(located.index, Object.assign(reason, { position: String(located.position) }));
      // No position (a run-time error): run the statements (and the finish) again one by one, then roll back, to name the failing one.
      const again = await Promise.allSettled([opening, ...statements, ...(whole ? finishing : [])].map((s) => track(sql.unsafe(s))));
      if (!session.lost) await sql.unsafe('rollback').catch(() => {});
      const failedAgain = again.findIndex((r) => r.status === 'rejected');
      if (failedAgain > 0) throw new StatementFailed(failedAgain - 1, (again[failedAgain] as PromiseRejectedResult).reason);
      throw reason; // it did not fail again (or the opening did; or COMMIT did): the error as the server gave it
    },
    async transaction(fn) {
      const begin = (sql as postgres.Sql).begin.bind(sql);
      // The transaction shares `running` with this session, so cancel() also reaches what runs inside it.
      return (await begin(async (tx) => {
        if (session.transactionSettings) await tx.unsafe(session.transactionSettings);
        return fn(wrap(tx, session, openLockSession, async () => {}, true, running));
      })) as never;
    },
    openLockSession,
    async cancel() {
      cancels++;
      // Cancel only the query the server is running: the rest of a pipeline then fails on its own.
      // (Cancelling queries that are sent but not yet running makes postgres.js lose track of them.)
      // A cancel that reaches the server between two statements is ignored, so repeat it while work goes on.
      let previous: Running | null = null;
      while (running.size && !session.lost) {
        const active = [...running].find((q) => q.active);
        if (active && active !== previous) await active.cancel();
        // Through a pooler that pid is the pooler's key, not a server process: never hand it to pg_cancel_backend.
        else if (active?.state?.pid && !session.pooled) await session.cancelBackend(active.state.pid);
        previous = active ?? previous;
        await sleep(CANCEL_RETRY_MS);
      }
    },
    close,
  };
  return db;
}

/** A pooler closes client connections of its own accord too; say which of its settings do. */
const POOLER_LOSS = '. Through a pooler this is also what its timeouts do: PgBouncer\'s idle_transaction_timeout or query_timeout shorter than a migration, ' +
  'or query_wait_timeout when the pool has no free server connection (a run needs two per database and user; see default_pool_size)';

const LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function lossReason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  // The server's own words (57P01 "terminating connection due to administrator command") say more than the driver's.
  if (e.code?.startsWith('57P') || e.code?.startsWith('08')) return `${maskUrl(e.message ?? '')} (SQLSTATE ${e.code})`;
  return `the server closed the connection (restart, crash or network failure; ${e.code})`;
}

/**
 * The rows of the last statement of a simple-protocol message that returned rows: postgres.js gives one
 * result when one statement described rows, else one result per such statement.
 */
function lastRows(value: unknown[]): Row[] {
  const last = value.at(-1);
  return (Array.isArray(last) ? last : value) as Row[];
}

function isOutsideTransactionBlock(error: unknown): boolean {
  return (error as { code?: string })?.code === '25P01';
}

function isOwnCheckError(error: unknown): boolean {
  return /unrecognized configuration parameter "sqlmig\./.test(String((error as Error)?.message ?? ''));
}

/**
 * The precondition raised (the opening failed, and not in BEGIN or the settings): it raises by reading a
 * setting nobody sets, whose name it carries, so the error names that setting.
 */
function isPreconditionError(error: unknown, precondition: string): boolean {
  const setting = /current_setting\('([^']+)'\)/.exec(precondition)?.[1];
  return setting !== undefined && String((error as Error)?.message ?? '').includes(`"${setting}"`);
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

/** Why a connection failed, in the user's terms, with what to check; never the password. */
export async function connectionError(error: unknown, info: ConnInfo, display: string): Promise<ConnectionFailed> {
  const e = error as { code?: string; message?: string };
  const reason = maskSecret(e.message ?? String(error), info.password);
  const endpoint = info.endpoints[0]!;
  const where = endpoint.socket ? `the socket ${endpoint.socket}` : `${endpoint.host}:${endpoint.port}`;
  let hint = 'check that the server is running and the URL is right';
  if (e.code === '28P01' && info.password === undefined) {
    hint = 'no password was given: put it in the URL, in PGPASSWORD, or in the password file (~/.pgpass or PGPASSFILE; mode 0600)';
  } else if (e.code === '28P01' || e.code === '28000') {
    const from = info.passwordFrom && !['the URL', 'PGPASSWORD'].includes(info.passwordFrom) ? `password retrieved from file "${info.passwordFrom}"; ` : '';
    hint = `${from}check the user name and password (the URL, PGPASSWORD, or the password file ~/.pgpass / PGPASSFILE)`;
    if (e.code === '28000' && /no encryption/.test(e.message ?? '')) hint = 'the server accepts this user only over SSL: use sslmode=require (or prefer)';
  } else if (e.code === '3D000') hint = 'create the database first (createdb) or fix the database name in the URL';
  else if (e.code === 'ENOENT' && endpoint.socket) hint = `no socket ${endpoint.socket}: is PostgreSQL running, with that folder in unix_socket_directories and port ${endpoint.port}?`;
  else if (e.code === 'ECONNREFUSED') hint = `nothing listens at ${where}: is PostgreSQL running, and are host and port right?`;
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') hint = 'the host name does not resolve';
  else if (e.code === 'CONNECT_TIMEOUT') hint = `no answer within ${info.connectTimeoutS}s: check host, port and firewall`;
  else if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)/.test(e.code ?? '')) {
    hint = `the server's certificate was not accepted (sslmode=${info.sslmode}): give the CA that signed it with sslrootcert=FILE, or use sslmode=require to encrypt without verifying`;
  } else if (!['disable', 'allow', 'prefer'].includes(info.sslmode) && !endpoint.socket && (await acceptsSsl(endpoint)) === false) {
    return new ConnectionFailed(`cannot connect to ${display}: the server at ${where} does not accept SSL connections, and sslmode=${info.sslmode} requires one\n` +
      '  use sslmode=prefer or sslmode=disable (PGSSLMODE or ?sslmode= in the URL), or turn on ssl in the server\'s configuration', { cause: error });
  }
  return new ConnectionFailed(`cannot connect to ${display}: ${reason}\n  ${hint}`, { cause: error });
}

/** Ask the server whether it speaks SSL (PostgreSQL's SSLRequest: one byte back, S or N); null when it cannot be told. */
function acceptsSsl(endpoint: Endpoint): Promise<boolean | null> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: endpoint.host, port: endpoint.port, timeout: 3000 });
    const done = (answer: boolean | null) => { socket.destroy(); resolve(answer); };
    socket.once('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (data) => done(data[0] === 0x53 ? true : data[0] === 0x4e ? false : null));
    socket.once('timeout', () => done(null));
    socket.once('error', () => done(null));
  });
}
