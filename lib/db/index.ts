import type { PGlite } from '@electric-sql/pglite';

/** The one interface sqlmig needs from a database; PGlite is real PostgreSQL, so nothing above asks which one it has. */
export type Row = Record<string, unknown>;

export interface Db {
  readonly kind: 'server' | 'pglite';
  /** Where this is, with any password masked: safe to print. */
  readonly display: string;
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
   * BEGIN, the statements, then `record`, COMMIT: one migration and its history row, all or nothing.
   * A server adapter sends it as one pipeline (one round trip). A failing statement is thrown as
   * StatementFailed with its index (`statements.length` when `record` failed).
   */
  runTransaction(statements: readonly string[], record: ParameterizedQuery): Promise<void>;
  /** A second session for holding a lock while this one works (the same session on PGlite). */
  openLockSession(): Promise<Db>;
  /** Ask the server to cancel whatever this Db is running now. */
  cancel(): Promise<void>;
  close(): Promise<void>;
  /** Embedded only: make contrib extensions available before a migration's CREATE EXTENSION runs. */
  ensureExtensions?(names: string[]): Promise<void>;
  /** Embedded only: the PGlite instance itself, for pgDump (backups). */
  pglite?(): PGlite;
}

export interface ParameterizedQuery { sql: string; params: unknown[] }

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
}
