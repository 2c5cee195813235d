/** The one interface sqlmig needs from a database; PGlite is real PostgreSQL, so nothing above asks which one it has. */
export type Row = Record<string, unknown>;

export interface Db {
  readonly kind: 'server' | 'pglite';
  /** Where this is, with any password masked: safe to print. */
  readonly display: string;
  /**
   * Server only: the connection goes through a connection pooler (PgBouncer or similar), so session state
   * (SET, session advisory locks) may not outlive a transaction. `timeouts`: sqlmig's statement or lock
   * timeout is set; through a pooler it applies inside each migration's transaction only.
   */
  readonly pooled?: { timeouts: boolean };
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run text as written (simple protocol; several statements allowed). */
  exec(sql: string): Promise<void>;
  /**
   * Run statements in order on this session, stopping at the first failure, which is thrown as a
   * StatementFailed naming its index. Inside a transaction a server adapter may pipeline them.
   */
  runStatements(statements: readonly string[]): Promise<void>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * BEGIN, the statements, then each `finish` query (session reset, history row), COMMIT: one migration
   * and its history row, all or nothing. Returns the rows of the last `finish` query. A server adapter
   * sends it as one pipeline (one round trip). A failure is thrown as StatementFailed with its index:
   * `statements.length + i` when `finish[i]` failed.
   */
  runTransaction(statements: readonly string[], finish: readonly ParameterizedQuery[], options?: TransactionOptions): Promise<Row[]>;
  /**
   * Inside a transaction the caller rolls back on any failure and then runs the step again the long
   * way (verify's shortcut): the statements, then the `finish` queries (none with parameters), as one
   * message. Returns the rows of the last; a failure is thrown as the server gave it, without saying
   * which statement it was. Absent where one message is not how statements run (PostgreSQL before 13).
   */
  runInOne?(statements: readonly string[], finish: readonly ParameterizedQuery[]): Promise<Row[]>;
  /**
   * SQL that puts the session back as sqlmig set it up: undoes a migration's SET, SET ROLE and
   * SET SESSION AUTHORIZATION, then reapplies sqlmig's own settings. Runs after every migration.
   */
  readonly resetSql: string;
  /** A second session for holding a lock while this one works (the same session on PGlite). */
  openLockSession(): Promise<Db>;
  /**
   * Stop what this Db is running now: the server cancels the running statement (the rest of a pipelined
   * transaction then fails and rolls back); PGlite stops before the next statement. Every pending call settles.
   */
  cancel(): Promise<void>;
  close(): Promise<void>;
  /** Embedded only: make contrib extensions available before a migration's CREATE EXTENSION runs. */
  ensureExtensions?(names: string[]): Promise<void>;
  /**
   * Embedded only: the PGlite instance itself, for pgDump (backups). Typed opaquely so that the published
   * declarations do not pull in PGlite's Emscripten types (users' tsc must pass without skipLibCheck).
   */
  pglite?(): unknown;
}

export interface ParameterizedQuery { sql: string; params: unknown[] }

export interface TransactionOptions {
  /**
   * SQL run right after BEGIN, before the statements (no parameters): a check that raises when the
   * migration must not run. Its failure is thrown as PreconditionFailed, and nothing of the migration ran.
   */
  precondition?: string;
  /**
   * The statements were parsed and none of them controls the transaction (a transactional file with a
   * COMMIT is refused before it runs): the finish queries and COMMIT may then travel in the same message as
   * the statements, since nothing can end the transaction before the history row is written.
   */
  parsed?: boolean;
}

/** runTransaction's precondition failed: the transaction was rolled back before any of its statements ran. */
export class PreconditionFailed extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

/** Undo whatever a migration changed in the session; the adapter appends its own settings. */
export const SESSION_RESET_SQL = 'reset session authorization; reset role; reset all;';

export class StatementFailed extends Error {
  readonly index: number;
  constructor(index: number, cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.index = index;
  }
}

export interface ConnectOptions {
  statementTimeoutMs?: number;
  ddlLockTimeoutMs?: number;
  /** PGlite contrib extensions to load before any CREATE EXTENSION can run. */
  extensions?: string[];
  /** A short read of sqlmig's own table (status, current, history): PGlite starts lean, without contrib extensions. */
  readOnly?: boolean;
  /** Told about slow first-time work ("creating the embedded database…"). */
  onNotice?: (message: string) => void;
  /**
   * A scratch database that sqlmig empties or drops when done (verify, diff, lint --trace, the online
   * proof): its commits need not wait for the WAL to reach disk (synchronous_commit off, session only).
   */
  throwaway?: boolean;
}
