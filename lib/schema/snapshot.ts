/**
 * A database's schema as a plain, serialisable object: every object under a stable identity (its
 * quoted, schema-qualified name), with what defines it and nothing about who owns it. Comparing two
 * snapshots (compare.ts) and rendering one as SQL (render.ts) are pure functions of it.
 */
import type { Db } from '../db/index.js';
import { qualifiedName, type HistoryTable } from '../runner/history.js';
import { fillDefinitions, forgetDefinitions } from './definitions.js';
import * as q from './queries.js';
import { normalizeViewDefinitions } from './viewdef.js';

export interface SchemaSnapshot {
  schemas: Record<string, SchemaEntry>;
  extensions: Record<string, ExtensionEntry>;
  types: Record<string, TypeEntry>;
  sequences: Record<string, SequenceEntry>;
  tables: Record<string, TableEntry>;
  constraints: Record<string, ConstraintEntry>;
  indexes: Record<string, IndexEntry>;
  views: Record<string, ViewEntry>;
  functions: Record<string, FunctionEntry>;
  triggers: Record<string, TriggerEntry>;
  policies: Record<string, PolicyEntry>;
}

export type ObjectGroup = keyof SchemaSnapshot;

export interface SchemaEntry { name: string; comment: string | null }
export interface ExtensionEntry { name: string; schema: string; version: string }

export type TypeEntry = { schema: string; name: string; comment: string | null } & (
  | { kind: 'enum'; labels: string[] }
  | { kind: 'domain'; baseType: string; notNull: boolean; default: string | null; collation: string | null; constraints: Record<string, string> }
  | { kind: 'composite'; attributes: { name: string; type: string; collation: string | null }[] }
  | { kind: 'range'; subtype: string }
);

export interface SequenceEntry {
  schema: string; name: string; type: string;
  start: string; increment: string; min: string; max: string; cache: string; cycle: boolean;
  /** "schema.table.column" of a serial column, or null. */
  ownedBy: string | null;
  comment: string | null;
}

export interface ColumnEntry {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: 'always' | 'by default' | null;
  generated: { kind: 'stored' | 'virtual'; expression: string } | null;
  /** Only when it differs from the type's own collation. */
  collation: string | null;
  /** Declared in this table (false: inherited from a parent or the partitioned table). */
  local: boolean;
  comment: string | null;
}

export interface TableEntry {
  schema: string; name: string;
  partitioned: boolean;
  unlogged: boolean;
  /** In table order (attnum). */
  columns: ColumnEntry[];
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  partitionKey: string | null;
  /** A partition's bound (FOR VALUES …); its parent is parents[0]. */
  partitionBound: string | null;
  parents: string[];
  options: string[];
  comment: string | null;
}

export type ConstraintType = 'primary key' | 'unique' | 'foreign key' | 'check' | 'exclusion';
export interface ConstraintEntry { table: string; name: string; type: ConstraintType; definition: string; comment: string | null }
export interface IndexEntry { schema: string; name: string; table: string; definition: string; valid: boolean; comment: string | null }
export interface ViewEntry {
  schema: string; name: string; materialized: boolean; definition: string; options: string[];
  /** Other views this one reads, so they can be created first. */
  dependsOn: string[];
  comment: string | null;
}
export type FunctionKind = 'function' | 'procedure' | 'aggregate' | 'window function';
export interface FunctionEntry { schema: string; name: string; arguments: string; kind: FunctionKind; definition: string; comment: string | null }
export type TriggerState = 'enabled' | 'disabled' | 'replica' | 'always';
export interface TriggerEntry { table: string; name: string; definition: string; state: TriggerState; comment: string | null }
export interface PolicyEntry {
  table: string; name: string; command: string; permissive: boolean; roles: string[];
  using: string | null; check: string | null;
}

type Row = Record<string, unknown>;

export interface SnapshotOptions {
  /** `db` is a transaction the caller opened on this session (and will end): read inside it, under a savepoint. */
  session?: Db;
}

/**
 * Read the schema: prepared statements, executed in one transaction (or under a savepoint of the
 * caller's) with an empty search_path (reset when it ends), so names come back qualified the same way
 * every time and the session's own settings are left as they were. Definitions the server already
 * printed for this session are not printed again while their catalog rows and every name stay the
 * same (definitions.ts).
 */
export async function takeSchemaSnapshot(db: Db, history: HistoryTable, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  const rows = await reading(db, options, (tx, session) => readSections(tx, session, history));
  return viewsNormalized(assemble(rows, history));
}

/** Relations, types, functions and schemas, by oid: what a scoped snapshot reads. */
export interface ObjectScope { relations: string[]; types: string[]; functions: string[]; namespaces: string[] }

/** A scoped snapshot, and the settings that print literals (queries.ts): two scoped snapshots say the same only when those agree too. */
export interface ScopedSnapshot { schema: SchemaSnapshot; printSettings: string }

/**
 * The schema of only the objects in `scope` (and what hangs on them: a table's columns, constraints,
 * indexes, triggers and policies), read as takeSchemaSnapshot reads it, each entry exactly as a whole
 * snapshot has it. Definitions are printed afresh: the cache is for whole snapshots.
 */
export async function takeScopedSnapshot(db: Db, history: HistoryTable, scope: ObjectScope, options: SnapshotOptions = {}): Promise<ScopedSnapshot> {
  const rows = await reading(db, options, async (tx, session) => {
    await snapshotSettings(tx);
    await prepare(tx, session, SCOPED, `prepare ${SCOPED}(text, oid[], oid[], oid[], oid[]) as ${q.SCOPED_SNAPSHOT}`);
    const arrays = [scope.relations, scope.types, scope.functions, scope.namespaces].map((oids) => literal(`{${oids.join(',')}}`));
    const [row] = await tx.query<{ snapshot: unknown }>(`execute ${SCOPED}(${literal(qualifiedName(history))}, ${arrays.join(', ')})`);
    const { printSettings, ...sections } = json(row!.snapshot) as Record<q.SectionName, Row[]> & { printSettings: string };
    return { sections, printSettings };
  });
  return { schema: await viewsNormalized(assemble(rows.sections, history)), printSettings: rows.printSettings };
}

/** Read in one transaction, or under a savepoint of the caller's (options.session); prepare again once if the session lost its statements. */
async function reading<T>(db: Db, options: SnapshotOptions, read: (tx: Db, session: Db) => Promise<T>): Promise<T> {
  const session = options.session ?? db;
  const once = () => (options.session ? underSavepoint(db, (tx) => read(tx, session)) : db.transaction((tx) => read(tx, session)));
  return once().catch((error: unknown) => {
    // The session lost its prepared statements (a reconnect): prepare them again, once.
    if ((error as { code?: string }).code !== '26000') throw error;
    prepared.delete(session);
    forgetDefinitions(session);
    return once();
  });
}

async function viewsNormalized(snapshot: SchemaSnapshot): Promise<SchemaSnapshot> {
  const views = Object.values(snapshot.views);
  const normalized = await normalizeViewDefinitions(views.map((v) => v.definition));
  views.forEach((v, i) => { v.definition = normalized[i]!; });
  return snapshot;
}

/** Run fn under a savepoint that is then rolled back: the empty search_path set by fn ends with it. */
async function underSavepoint<T>(tx: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  await tx.exec('savepoint sqlmig_snapshot');
  try {
    return await fn(tx);
  } finally {
    await tx.exec('rollback to savepoint sqlmig_snapshot; release savepoint sqlmig_snapshot');
  }
}

/** Sessions on which the statements are prepared (a prepared statement lives as long as its session), by statement. */
const prepared = new WeakMap<Db, Set<string>>();
const SNAPSHOT = 'sqlmig_schema_snapshot';
const DEFINITIONS = 'sqlmig_schema_definitions';
const SCOPED = 'sqlmig_scoped_snapshot';

/** Prepare `name` on the session, unless it is (a session a pooler or another run handed over may have it already). */
async function prepare(tx: Db, session: Db, name: string, statements: string): Promise<void> {
  const done = prepared.get(session) ?? new Set<string>();
  if (done.has(name)) return;
  const [found] = await tx.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements where name = $1', [name]);
  if (!found?.n) await tx.exec(statements);
  prepared.set(session, done.add(name));
}

/** A generic plan, made once per session: the statement is the same every time, and planning it costs as much as running it. */
async function snapshotSettings(tx: Db): Promise<void> {
  await tx.query(`select set_config('search_path', '', true), set_config('plan_cache_mode', 'force_generic_plan', true)`);
}

async function readSections(tx: Db, session: Db, history: HistoryTable): Promise<Record<q.SectionName, Row[]>> {
  await snapshotSettings(tx);
  await prepare(tx, session, SNAPSHOT, `prepare ${SNAPSHOT}(text) as ${q.SNAPSHOT}; prepare ${DEFINITIONS}(oid[], oid[], oid[], oid[], oid[], oid[]) as ${q.DEFINITIONS}`);
  const [row] = await tx.query<{ snapshot: unknown }>(`execute ${SNAPSHOT}(${literal(qualifiedName(history))})`);
  const sections = json(row!.snapshot) as Record<q.SectionName, Row[]> & { names: Record<string, string>; epoch: string };
  await fillDefinitions(session, sections, async (oids) => {
    const [found] = await tx.query<{ definitions: unknown }>(`execute ${DEFINITIONS}(${oids.map((list) => literal(`{${list.join(',')}}`)).join(', ')})`);
    return json(found!.definitions) as Record<string, [number, string][] | null>;
  });
  return sections;
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

const str = (v: unknown): string => String(v);
const opt = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const CONSTRAINT_TYPES: Record<string, ConstraintType> = { p: 'primary key', u: 'unique', f: 'foreign key', c: 'check', x: 'exclusion' };
const FUNCTION_KINDS: Record<string, FunctionKind> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window function' };
const TRIGGER_STATES: Record<string, TriggerState> = { O: 'enabled', D: 'disabled', R: 'replica', A: 'always' };

/** Byte order, not the server's collation: the same objects always come out in the same order. */
export function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyed<T>(rows: Row[], key: (r: Row) => string, entry: (r: Row) => T): Record<string, T> {
  return Object.fromEntries(rows.map((r) => [key(r), entry(r)] as const).sort((a, b) => byKey(a[0], b[0])));
}

function assemble(rows: Record<string, Row[]>, history: HistoryTable): SchemaSnapshot {
  const columns = new Map<string, ColumnEntry[]>();
  for (const r of [...rows['columns']!].sort((a, b) => Number(a['num']) - Number(b['num']))) {
    const entry: ColumnEntry = {
      name: str(r['name']), type: str(r['type']), notNull: Boolean(r['not_null']), default: r['generated'] ? null : opt(r['expression']),
      identity: r['identity'] === 'a' ? 'always' : r['identity'] === 'd' ? 'by default' : null,
      generated: r['generated'] ? { kind: r['generated'] === 'v' ? 'virtual' : 'stored', expression: str(r['expression']) } : null,
      collation: opt(r['collation']), local: Boolean(r['local']), comment: opt(r['comment']),
    };
    const table = str(r['table_key']);
    columns.set(table, [...(columns.get(table) ?? []), entry]);
  }
  const attributes = groupBy([...rows['typeAttributes']!].sort((a, b) => Number(a['num']) - Number(b['num'])), 'type_key');
  const domainChecks = groupBy(rows['domainConstraints']!, 'type_key');
  const snapshot: SchemaSnapshot = {
    schemas: keyed(rows['schemas']!, (r) => str(r['key']), (r) => ({ name: str(r['name']), comment: opt(r['comment']) })),
    extensions: keyed(rows['extensions']!, (r) => str(r['key']), (r) => ({ name: str(r['name']), schema: str(r['schema']), version: str(r['version']) })),
    types: keyed(rows['types']!, (r) => str(r['key']), (r) => typeEntry(r, attributes.get(str(r['key'])) ?? [], domainChecks.get(str(r['key'])) ?? [])),
    sequences: keyed(rows['sequences']!, (r) => str(r['key']), (r) => ({
      schema: str(r['schema']), name: str(r['name']), type: str(r['type']), start: str(r['start']), increment: str(r['increment']),
      min: str(r['min']), max: str(r['max']), cache: str(r['cache']), cycle: Boolean(r['cycle']), ownedBy: opt(r['owned_by']), comment: opt(r['comment']),
    })),
    tables: keyed(rows['tables']!, (r) => str(r['key']), (r) => ({
      schema: str(r['schema']), name: str(r['name']), partitioned: r['relkind'] === 'p', unlogged: Boolean(r['unlogged']),
      columns: columns.get(str(r['key'])) ?? [], rowSecurity: Boolean(r['row_security']), forceRowSecurity: Boolean(r['force_row_security']),
      partitionKey: opt(r['partition_key']), partitionBound: opt(r['partition_bound']), parents: list(r['parents']),
      options: list(r['options']).sort(byKey), comment: opt(r['comment']),
    })),
    constraints: keyed(rows['constraints']!, (r) => str(r['key']), (r) => ({
      table: str(r['table_key']), name: str(r['name']), type: CONSTRAINT_TYPES[str(r['type'])]!, definition: str(r['definition']), comment: opt(r['comment']),
    })),
    indexes: keyed(rows['indexes']!, (r) => str(r['key']), (r) => ({
      schema: str(r['schema']), name: str(r['name']), table: str(r['table_key']), definition: str(r['definition']), valid: Boolean(r['valid']), comment: opt(r['comment']),
    })),
    views: keyed(rows['views']!, (r) => str(r['key']), (r) => ({
      schema: str(r['schema']), name: str(r['name']), materialized: Boolean(r['materialized']), definition: str(r['definition']),
      options: list(r['options']).sort(byKey), dependsOn: list(r['depends_on']).sort(byKey), comment: opt(r['comment']),
    })),
    functions: keyed(rows['functions']!, (r) => str(r['key']), (r) => ({
      schema: str(r['schema']), name: str(r['name']), arguments: str(r['arguments']), kind: FUNCTION_KINDS[str(r['kind'])] ?? 'function',
      definition: str(r['definition']), comment: opt(r['comment']),
    })),
    triggers: keyed(rows['triggers']!, (r) => str(r['key']), (r) => ({
      table: str(r['table_key']), name: str(r['name']), definition: str(r['definition']), state: TRIGGER_STATES[str(r['enabled'])] ?? 'enabled', comment: opt(r['comment']),
    })),
    policies: keyed(rows['policies']!, (r) => str(r['key']), (r) => ({
      table: str(r['table_key']), name: str(r['name']), command: policyCommand(str(r['command'])), permissive: Boolean(r['permissive']),
      roles: list(r['roles']).sort(byKey), using: opt(r['using']), check: opt(r['check']),
    })),
  };
  hideHistorySchema(snapshot, history);
  return snapshot;
}

function typeEntry(r: Row, attributes: Row[], checks: Row[]): TypeEntry {
  const base = { schema: str(r['schema']), name: str(r['name']), comment: opt(r['comment']) };
  switch (r['typtype']) {
    case 'e': return { ...base, kind: 'enum', labels: list(r['labels']) };
    case 'c': return { ...base, kind: 'composite', attributes: attributes.map((a) => ({ name: str(a['name']), type: str(a['type']), collation: opt(a['collation']) })) };
    case 'r': return { ...base, kind: 'range', subtype: str(r['subtype']) };
    default: return {
      ...base, kind: 'domain', baseType: str(r['base_type']), notNull: Boolean(r['not_null']), default: opt(r['default']), collation: opt(r['collation']),
      constraints: keyed(checks, (c) => str(c['name']), (c) => str(c['definition'])),
    };
  }
}

function policyCommand(code: string): string {
  return ({ r: 'select', a: 'insert', w: 'update', d: 'delete', '*': 'all' } as Record<string, string>)[code] ?? code;
}

function groupBy(rows: Row[], field: string): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(str(r[field]), [...(groups.get(str(r[field])) ?? []), r]);
  return groups;
}

/** sqlmig's own schema (when the history table lives outside public) is not part of the user's schema. */
function hideHistorySchema(snapshot: SchemaSnapshot, history: HistoryTable): void {
  const key = Object.keys(snapshot.schemas).find((k) => snapshot.schemas[k]!.name === history.schema);
  if (history.schema === 'public' || key === undefined) return;
  const prefix = `${key}.`;
  const groups: Record<string, unknown>[] = Object.values(snapshot);
  if (!groups.some((group) => Object.keys(group).some((k) => k.startsWith(prefix)))) delete snapshot.schemas[key];
}
