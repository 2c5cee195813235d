/**
 * From the engine's two plans (migrated → desired, and back) to the statements of the migration
 * files: noise left out (owner changes, and privileges unless the schema file holds some), and the
 * production-minded forms where a safe one exists. An index on a table that already exists is built
 * CONCURRENTLY, and a foreign key or check on such a table is added NOT VALID: both go to a second,
 * no-transaction migration that builds the indexes and validates the constraints without blocking
 * writes. Destructive statements and likely renames get a comment. Pure, apart from the parser.
 */
import { quoteIdent } from '../runner/history.js';
import type { EnginePlan } from './engine.js';
import { annotate, column, tableKey, tableOf, type DraftStatement, type PlannedStatement as Planned } from './annotate.js';
import type { StoredForms } from './stored-forms.js';

export type { DraftStatement } from './annotate.js';
import type { SchemaSnapshot } from './snapshot.js';
import { classifyStatements, type TableName } from './statements.js';


export interface DraftFile {
  statements: DraftStatement[];
  noTransaction: boolean;
}

export interface DraftPair { up: DraftFile; down: DraftFile }

/**
 * `main` holds the change; `online` (optional) builds its indexes and validates its constraints
 * afterwards. `upStatements`: the engine's statements behind them, as it wrote them.
 */
export interface Draft { main: DraftPair | null; online: DraftPair | null; upStatements: string[] }

export interface DraftInput {
  up: EnginePlan;
  down: EnginePlan;
  migrated: SchemaSnapshot;
  desired: SchemaSnapshot;
  /** The schema file grants or revokes privileges: keep the engine's GRANT/REVOKE statements. */
  keepPrivileges: boolean;
  /** Definitions that are the same in PostgreSQL's own forms: the engine's statements that only rewrite them are left out. */
  storedForms: StoredForms;
}

export async function draftMigrations(input: DraftInput): Promise<Draft> {
  const up = await usableStatements(input.up, input.migrated, input.keepPrivileges, input.storedForms);
  const down = await usableStatements(input.down, input.desired, input.keepPrivileges, input.storedForms);
  const upStatements = up.map((s) => s.engine.sql);
  if (up.length === 0 && down.length === 0) return { main: null, online: null, upStatements };
  const split = splitOnline(up, input.migrated);
  const mainDown = down.filter(({ info }) => !(info.kind === 'drop-index' && split.indexes.some((i) => i.schema === info.schema && i.index === info.index)));
  const main: DraftPair = {
    up: toFile(split.main, input.up.functionBodiesOff, input.migrated, input.desired),
    down: toFile(mainDown, input.down.functionBodiesOff, input.desired, input.migrated),
  };
  const online = split.online.length ? onlinePair(split) : null;
  return { main: main.up.statements.length ? main : null, online, upStatements };
}

/**
 * The plan's statements without owner, role and (unless wanted) privilege noise, nor no-op DROP DEFAULTs,
 * nor the ones that only rewrite a definition into another of PostgreSQL's forms of it.
 */
export async function usableStatements(plan: EnginePlan, from: SchemaSnapshot, keepPrivileges: boolean, storedForms: StoredForms): Promise<Planned[]> {
  const infos = await classifyStatements(plan.statements.map((s) => s.sql));
  return plan.statements.map((engine, i) => ({ engine, info: infos[i]! })).filter(({ info }) => {
    if (info.kind === 'owner' || info.kind === 'role') return false;
    if ((info.kind === 'add-constraint' || info.kind === 'drop-constraint') && storedForms.constraints.has(`${tableKey(from, info.table)}.${info.constraint}`)) return false;
    if (info.kind === 'set-default' && storedForms.defaults.has(`${tableKey(from, info.table)}.${info.column}`)) return false;
    if (info.kind === 'privilege') return keepPrivileges;
    // The engine drops a default before changing a column's type; when there is none, that is noise.
    if (info.kind === 'drop-default') return column(from, info.table, info.column)?.default != null;
    return true;
  });
}

interface OnlineSplit {
  main: Planned[];
  online: string[];
  indexes: { schema: string; index: string }[];
  /** Constraints added NOT VALID: table, name, and the statement that adds them. */
  constraints: { table: TableName; name: string; sql: string }[];
}

function splitOnline(statements: Planned[], migrated: SchemaSnapshot): OnlineSplit {
  const result: OnlineSplit = { main: [], online: [], indexes: [], constraints: [] };
  const recreated = new Set(statements.flatMap(({ info }) => (info.kind === 'drop-table' ? [key(info.table)] : [])));
  const existing = (t: TableName) => !recreated.has(key(t)) && tableOf(migrated, t)?.partitioned === false;
  statements.forEach((s, i) => {
    const { info, engine } = s;
    const neededLater = statements.slice(i + 1).some((later) => later.engine.consumes.some((id) => engine.produces.includes(id)));
    if (info.kind === 'create-index' && !info.concurrent && existing(info.table) && !neededLater) {
      result.online.push(engine.sql.replace(/^CREATE (UNIQUE )?INDEX /i, (_m, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX CONCURRENTLY `));
      result.indexes.push({ schema: info.table.schema, index: info.index });
    } else if (info.kind === 'add-constraint' && info.type !== 'other' && !info.notValid && existing(info.table)) {
      const sql = `${engine.sql} NOT VALID`;
      result.main.push({ engine: { ...engine, sql }, info });
      result.online.push(`ALTER TABLE ${quoted(info.table)} VALIDATE CONSTRAINT ${quoteIdent(info.constraint)}`);
      result.constraints.push({ table: info.table, name: info.constraint, sql });
    } else {
      result.main.push(s);
    }
  });
  return result;
}

function onlinePair(split: OnlineSplit): DraftPair {
  const statement = (sql: string): DraftStatement => ({ sql, comments: [] });
  const down = [
    ...split.indexes.map((i) => `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(i.schema)}.${quoteIdent(i.index)}`),
    // Back to NOT VALID, as it was before the validation.
    ...split.constraints.flatMap((c) => [`ALTER TABLE ${quoted(c.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(c.name)}`, c.sql]),
  ];
  return {
    up: { statements: split.online.map(statement), noTransaction: true },
    down: { statements: down.map(statement), noTransaction: true },
  };
}

function toFile(statements: Planned[], functionBodiesOff: boolean, from: SchemaSnapshot, to: SchemaSnapshot): DraftFile {
  const noTransaction = statements.some(({ engine }) => engine.nonTransactional || engine.commitBefore);
  const drafted = annotate(statements, from, to);
  if (functionBodiesOff && statements.length) {
    // Function bodies may name objects created later in the file; they are checked when called instead.
    drafted.unshift({ sql: noTransaction ? 'set check_function_bodies = off' : 'set local check_function_bodies = off', comments: [] });
  }
  return { statements: drafted, noTransaction };
}

const key = (t: TableName) => `${t.schema}.${t.name}`;
const quoted = (t: TableName) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
