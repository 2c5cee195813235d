/** An online plan: a migration's statements rewritten as steps that never hold a strong lock for long. */

/** The strongest table lock a step takes ('none': no table lock beyond row locks). */
export type LockLevel = 'none' | 'ROW EXCLUSIVE' | 'SHARE UPDATE EXCLUSIVE' | 'SHARE' | 'SHARE ROW EXCLUSIVE' | 'ACCESS EXCLUSIVE';

/** How a step runs. */
export type StepRun =
  /** Statements in one transaction of their own. */
  | { kind: 'transaction'; statements: string[] }
  /** One statement outside any transaction (CREATE INDEX CONCURRENTLY). */
  | { kind: 'alone'; statement: string }
  /** Drop the index if a failed earlier build left it INVALID (a valid one of that name is an error of the file, left to the build). */
  | { kind: 'drop-invalid-index'; schema: string; name: string }
  /**
   * A batched pass over the table by primary key: `bound` gives the largest key when the pass starts;
   * `sql` takes $1 (the last key as text, or null), $2 (the batch size) and $3 (the bound), returns `last` and `n`.
   */
  | { kind: 'batches'; sql: string; bound: string; table: string }
  /**
   * Catalog-only statements (renames to the final names, a type change's swap) run at the end, in one
   * transaction with the history row: until it commits everything the plan built is named sqlmig_tmp_…,
   * so a run killed before then leaves only what the next run removes. `names`: the table and object
   * names the statements give or change; when a later statement of the migration mentions one, the
   * planner runs them in place instead (as a transaction of their own), since that statement needs them.
   */
  | { kind: 'at-end'; statements: string[]; names: string[] };

export interface OnlineStep {
  /** What the step does, for the plan and the progress lines. */
  what: string;
  /** "public.users", or null for a step on no table that existed before. */
  table: string | null;
  lock: LockLevel;
  /** What traffic the step blocks, and for how long. */
  blocks: string;
  run: StepRun;
  /** Run with the short lock_timeout and retried when the lock is not granted in time. */
  retry: boolean;
  /** The step reads every row of its table (estimates use the table's size). */
  scans: boolean;
  /** Statements (each alone, all IF EXISTS) that put the table back as it was before this step; [] when nothing to undo. */
  undo: string[];
  /** Undo cannot restore what this step changed (data written by batches, statements run as written). */
  irreversible?: string;
  /** A batched pass whose committed batches stay: it records how far it got, and a later run goes on from there (progress.ts). */
  resumable?: boolean;
  /** A final rename given right after its step, because later SQL of the migration needs the name (forms.ts inPlaceIfMentioned). */
  inPlace?: boolean;
}

export interface OnlinePlan {
  /** "004_payments_bigint" */
  migration: string;
  path: string;
  steps: OnlineStep[];
  /** Statements that needed a rewrite (false: the plan is the file as written). */
  rewritten: boolean;
  notes: string[];
}

/** A statement that has no online form and would block: the plan is refused before anything runs. */
export interface OnlineRefusal { path: string; line: number; col: number; statement: string; why: string }

/** What the planner knows about a table that existed before the migration, from the live catalog. */
export interface TableFacts {
  primaryKey: { column: string; type: string }[];
  partitioned: boolean;
  /** A partitioned table's partitions ("schema.name"), and whether each is partitioned in turn. */
  partitions?: { name: string; partitioned: boolean }[];
  /** Columns that other objects depend on (indexes, constraints, defaults, views, sequences). */
  dependedOn: string[];
  /** By column: what uses it, which a type change must rebuild or refuse. Absent: nothing. */
  uses?: ReadonlyMap<string, ColumnUse[]>;
  rows: number;
  bytes: number;
}

export interface PlannerOptions {
  batchSize: number;
  /** No --batch-size was given: batches are sized by time, up to batchSize rows (batch-size.ts). */
  batchTimeBoxed?: boolean;
}

/**
 * Something that uses a column, read from the catalog: what an online type change rebuilds on the
 * shadow column (index, check, unique, primary key, foreign key, default, owned sequence) or refuses.
 */
export interface ColumnUse {
  kind: 'index' | 'check' | 'unique' | 'primary key' | 'foreign key' | 'default' | 'sequence' | 'referenced' | 'view' | 'other';
  /** The object's name (a sequence's or view's qualified name; for 'other', what it is). */
  name: string;
  /**
   * As PostgreSQL prints it: pg_get_indexdef, pg_get_constraintdef, the default's expression; for a
   * unique or primary key, its index's pg_get_indexdef; for 'referenced', the referencing table.
   */
  definition: string;
  /** A unique or primary key: its pg_get_constraintdef (DEFERRABLE …). */
  constraint?: string;
}
