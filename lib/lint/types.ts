/** What lint works with: findings, parsed statements, and rules (pure functions of a statement plus what existed before). */
import type { KnownSchema } from './known.js';
import type { Node } from './tree.js';

export type Level = 'error' | 'warning';
/** Who found it: our parse-tree rules, Squawk, or the trace on a scratch database. */
export type Source = 'sqlmig' | 'squawk' | 'trace';

export interface Finding {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  col: number;
  rule: string;
  level: Level;
  message: string;
  why: string;
  recipe: string;
  source: Source;
  /** The existing table the finding is about, e.g. "public.users". */
  table?: string;
  /** With a live database: that table's size estimate. */
  size?: TableSize;
}

export interface TableSize { rows: number; bytes: number }

/** One statement of a migration with its parse tree. */
export interface LintStatement {
  /** The node type: "AlterTableStmt", "IndexStmt", … */
  kind: string;
  node: Node;
  /** UTF-8 byte offset of its first token in the file. */
  location: number;
}

/** A statement that ran before this one in the same file. */
export interface EarlierStatement extends LintStatement { line: number }

/** What a rule may know besides the statement. */
export interface RuleEnv {
  /** The schema as it was before this statement. */
  schema: KnownSchema;
  /** Did this table exist (with rows) before the migration began? */
  existed(table: string): boolean;
  indexExisted(index: string): boolean;
  /** A table as a message names it, with its size when a live database told it. */
  name(table: string): string;
  transactional: boolean;
  /** A lock_timeout is in force: --ddl-lock-timeout, the database's own setting, or SET lock_timeout earlier in the file. */
  lockTimeout: boolean;
  /** The session's TimeZone (SET timezone earlier in the file, or the live server's), or null when unknown. */
  timeZone: string | null;
  /** The live server's server_version_num (150004), or null: then PostgreSQL 12 or later is assumed. */
  serverVersion: number | null;
  /** Was this column added earlier in the same migration? */
  columnIsNew(table: string, column: string): boolean;
  /** The statements before this one in the file: in a transactional file, every lock they took is still held. */
  readonly earlier: readonly EarlierStatement[];
  /** The kinds of those statements (AlterEnumStmt, …): whether looking back can find anything. */
  earlierKinds: ReadonlySet<string>;
}

export interface Hit {
  message: string;
  /** Byte offset (a node's `location`) to point at; the statement's first token when absent. */
  location?: number;
  /** The table it is about (for its size). */
  table?: string;
}

export interface RuleInfo {
  id: string;
  level: Level;
  source: Source;
  /** Why it is dangerous. */
  why: string;
  /** The safe way to do it. */
  recipe: string;
  /**
   * It blocks reads or writes of a table that existed before the migration for as long as the table is
   * big (a rewrite, a scan under a strong lock, an index built without CONCURRENTLY): an error, unless a
   * live database shows the table small.
   */
  harm?: boolean;
}

/** Below both (config `lintSmallTable`), a table's blocking findings are warnings. */
export interface SmallTable { rows: number; bytes: number }

export const DEFAULT_SMALL_TABLE: SmallTable = { rows: 10_000, bytes: 10 * 1024 * 1024 };

export interface Rule extends RuleInfo {
  check(stmt: LintStatement, env: RuleEnv): Hit[];
}

/** A rule of ours, defined with its check. */
export function rule(info: Omit<RuleInfo, 'source'>, check: Rule['check']): Rule {
  return { ...info, source: 'sqlmig', check };
}
