/** What a statement's online form is decided from, shared by the planner and the ALTER TABLE forms. */
import type { KnownSchema } from '../lint/known.js';
import type { ParsedStatement } from '../lint/parse.js';
import type { loadParser } from '../migrations/sql.js';
import type { OnlineStep, PlannerOptions, TableFacts } from './types.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

/** One statement's online form: steps, a refusal, or null (run it as written). */
export type Planned = { steps: OnlineStep[]; note?: string } | { refuse: string } | null;

/** What a form needs to know about the statement and the table it changes. */
export interface StatementEnv {
  lib: Parser;
  stmt: ParsedStatement;
  /** A parse-tree location made relative to the statement's own text. */
  at(location: number): number;
  facts: TableFacts;
  table: string;
  known: KnownSchema;
  options: PlannerOptions;
  /** The statements before this one in the migration. */
  readonly earlier: readonly ParsedStatement[];
}

