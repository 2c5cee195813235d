/**
 * Comments that a reviewer of a generated migration must not miss: why a statement loses data
 * (a dropped table or column, a narrowed type, a removed enum value), and that a dropped column
 * with an added one of the same type is probably a rename, which only a hand-written
 * `ALTER TABLE … RENAME COLUMN` does without losing the data. Pure.
 */
import { show } from './compare.js';
import type { EngineStatement } from './engine.js';
import type { ColumnEntry, SchemaSnapshot, TableEntry } from './snapshot.js';
import type { StatementInfo, TableName } from './statements.js';

export interface DraftStatement {
  sql: string;
  /** Comment lines above it, without the leading "-- ". */
  comments: string[];
  /** Why it loses data, when it does. */
  destructive?: string;
}

export interface PlannedStatement { engine: EngineStatement; info: StatementInfo }

/** The statements with their comments; `from` is the schema before the file runs, `to` after. */
export function annotate(statements: PlannedStatement[], from: SchemaSnapshot, to: SchemaSnapshot): DraftStatement[] {
  const renames = renameHints(from, to);
  return statements.map(({ engine, info }) => {
    const drafted: DraftStatement = { sql: engine.sql, comments: [] };
    const destructive = destructiveReason(engine, info, from, to);
    if (destructive) {
      drafted.destructive = destructive;
      drafted.comments.push(`sqlmig: destructive: ${destructive}`);
    }
    if (info.kind === 'drop-column') {
      const hint = renames.get(`${tableKey(from, info.table)}.${info.column}`);
      if (hint) drafted.comments.push(...hint);
    }
    return drafted;
  });
}

function destructiveReason(engine: EngineStatement, info: StatementInfo, from: SchemaSnapshot, to: SchemaSnapshot): string | null {
  if (info.kind === 'drop-table') return `drops table ${show(tableKey(from, info.table))} and its rows`;
  if (info.kind === 'drop-column') return `drops column ${show(tableKey(from, info.table))}.${info.column} and its data`;
  if (info.kind === 'alter-column-type') {
    const was = column(from, info.table, info.column)?.type;
    const now = column(to, info.table, info.column)?.type;
    const name = `${show(tableKey(from, info.table))}.${info.column}`;
    const removed = was !== undefined ? removedEnumValues(from, to, was) : [];
    if (removed.length) return `column ${name} moves to enum ${show(was!)} rebuilt without ${removed.map((v) => `'${v}'`).join(', ')}: rows holding ${removed.length === 1 ? 'it' : 'them'} make this fail`;
    if (was !== undefined && now !== undefined && !widens(was, now)) return `column ${name} changes type from ${was} to ${now}: values that do not fit are cut or make this fail`;
  }
  if (engine.destructive && info.kind !== 'drop-materialized-view') return `${engine.sql.split('\n')[0]} loses data`;
  return null;
}

function removedEnumValues(from: SchemaSnapshot, to: SchemaSnapshot, type: string): string[] {
  const was = from.types[type];
  const now = to.types[type];
  if (was?.kind !== 'enum' || now?.kind !== 'enum') return [];
  return was.labels.filter((l) => !now.labels.includes(l));
}

const INTEGERS = ['smallint', 'integer', 'bigint'];

/** Every value of `from` fits `to` unchanged. Anything not known to widen counts as narrowing. */
export function widens(from: string, to: string): boolean {
  if (from === to || to === 'text') return true;
  if (INTEGERS.includes(from)) return INTEGERS.indexOf(to) > INTEGERS.indexOf(from) || to === 'numeric';
  if (from === 'real') return to === 'double precision';
  if (from === 'timestamp without time zone') return to === 'timestamp with time zone';
  const length = (t: string, base: string) => new RegExp(`^${base}(?:\\((\\d+)\\))?$`).exec(t);
  const fromChars = length(from, 'character varying') ?? length(from, 'character');
  const toVarchar = length(to, 'character varying');
  if (fromChars && toVarchar) return toVarchar[1] === undefined || (fromChars[1] !== undefined && Number(toVarchar[1]) >= Number(fromChars[1]));
  const fromNumeric = /^numeric(?:\((\d+),(\d+)\))?$/.exec(from);
  const toNumeric = /^numeric(?:\((\d+),(\d+)\))?$/.exec(to);
  if (fromNumeric && toNumeric) {
    if (toNumeric[1] === undefined) return true;
    if (fromNumeric[1] === undefined) return false;
    const [p1, s1, p2, s2] = [fromNumeric[1], fromNumeric[2], toNumeric[1], toNumeric[2]].map(Number) as [number, number, number, number];
    return s2 >= s1 && p2 - s2 >= p1 - s1;
  }
  return false;
}

/** "<table key>.<dropped column>" → the comment lines saying it may be a rename of an added column of the same type. */
function renameHints(from: SchemaSnapshot, to: SchemaSnapshot): Map<string, string[]> {
  const hints = new Map<string, string[]>();
  for (const [key, before] of Object.entries(from.tables)) {
    const after = to.tables[key];
    if (!after) continue;
    const added = after.columns.filter((c) => !before.columns.some((b) => b.name === c.name));
    for (const dropped of before.columns.filter((c) => !after.columns.some((a) => a.name === c.name))) {
      const twin = added.find((a) => a.type === dropped.type);
      if (!twin) continue;
      added.splice(added.indexOf(twin), 1);
      const t = show(key);
      hints.set(`${key}.${dropped.name}`, [
        `${t}.${dropped.name} is dropped and ${t}.${twin.name} added, both ${twin.type}. If this is a rename, replace`,
        `the DROP COLUMN and the ADD COLUMN with: ALTER TABLE ${t} RENAME COLUMN ${dropped.name} TO ${twin.name};`,
        'as written, the data of the dropped column is lost.',
      ]);
    }
  }
  return hints;
}

/** A table's key in a snapshot ("public.users", quoted where PostgreSQL quotes it). */
/** The snapshot's key of a table named in a statement. */
export function tableKey(s: SchemaSnapshot, t: TableName): string {
  const found = Object.entries(s.tables).find(([, x]) => x.schema === t.schema && x.name === t.name);
  return found ? found[0] : `${t.schema}.${t.name}`;
}

export function tableOf(s: SchemaSnapshot, t: TableName): TableEntry | undefined {
  return Object.values(s.tables).find((x) => x.schema === t.schema && x.name === t.name);
}

export function column(s: SchemaSnapshot, t: TableName, name: string): ColumnEntry | undefined {
  return tableOf(s, t)?.columns.find((c) => c.name === name);
}
