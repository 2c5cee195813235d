/**
 * What existed before a migration: tables, their columns' types, NOT NULLs, CHECK (col IS NOT NULL)
 * constraints and indexes. Built by replaying earlier migrations' parse trees (and, with a live
 * database, starting from its catalog), then updated statement by statement as a migration is linted.
 */
import { alterCommands, as, columnConstraints, columnType, names, notNullCheckColumn, qualifiedKey, tableKey, type ColumnType, type Node } from './tree.js';

export interface KnownTable {
  /** Column → type; null when the type is not known. */
  columns: Map<string, ColumnType | null>;
  notNull: Set<string>;
  /** CHECK (col IS NOT NULL) constraints by name. */
  checks: Map<string, { column: string; validated: boolean }>;
  /** The migration that created it, or null when it came from the live database. */
  createdIn: string | null;
  /** Columns added by ALTER TABLE … ADD COLUMN: the migration that added each. */
  addedIn: Map<string, string>;
  /** Created by a pending migration that the live database has not run yet: it will be empty. */
  fresh: boolean;
}

export interface KnownIndex {
  table: string; createdIn: string | null; fresh: boolean;
  /** Its key columns (null where a key is an expression), when known. */
  columns?: (string | null)[];
}

export interface KnownSchema {
  tables: Map<string, KnownTable>;
  indexes: Map<string, KnownIndex>;
  /** User functions by name (unqualified, lower case): their volatility. */
  functions: Map<string, 'immutable' | 'stable' | 'volatile'>;
}

/** Where the statements being replayed come from. */
export interface Origin { migration: string; fresh: boolean }

export function emptySchema(): KnownSchema {
  return { tables: new Map(), indexes: new Map(), functions: new Map() };
}

export function newTable(origin: Origin | null): KnownTable {
  return { columns: new Map(), notNull: new Set(), checks: new Map(), addedIn: new Map(), createdIn: origin?.migration ?? null, fresh: origin?.fresh ?? false };
}

/** Did this table exist, with rows, before the migration began? Unknown tables must have: the migration uses them. */
export function existedBefore(schema: KnownSchema, key: string, migration: string): boolean {
  const table = schema.tables.get(key);
  return !table || (table.createdIn !== migration && !table.fresh);
}

export function indexExistedBefore(schema: KnownSchema, key: string, migration: string): boolean {
  const index = schema.indexes.get(key);
  if (!index) return true;
  return index.createdIn !== migration && !index.fresh && existedBefore(schema, index.table, migration);
}

/** Update the model with one statement's effect. */
export function applyStatement(schema: KnownSchema, kind: string, node: Node, origin: Origin): void {
  switch (kind) {
    case 'CreateStmt': return createTable(schema, node, origin);
    case 'CreateTableAsStmt': {
      const key = tableKey(node['into']?.['rel']);
      if (!(node['if_not_exists'] && schema.tables.has(key))) schema.tables.set(key, newTable(origin));
      return;
    }
    case 'AlterTableStmt': return alterTable(schema, node, origin);
    case 'RenameStmt': return rename(schema, node);
    case 'DropStmt': return drop(schema, node);
    case 'IndexStmt':
      if (node['idxname']) {
        const table = tableKey(node['relation']);
        const columns = ((node['indexParams'] as Node[] | undefined) ?? []).map((p) => (as(p, 'IndexElem')?.['name'] as string | undefined) ?? null);
        schema.indexes.set(`${table.split('.')[0]}.${node['idxname']}`, { table, createdIn: origin.migration, fresh: origin.fresh, columns });
      }
      return;
    case 'CreateFunctionStmt': {
      const name = names(node['funcname']).at(-1)?.toLowerCase();
      const volatility = ((node['options'] as Node[] | undefined) ?? []).map((o) => as(o, 'DefElem')).find((d) => d?.['defname'] === 'volatility');
      if (name) schema.functions.set(name, (as(volatility?.['arg'], 'String')?.['sval'] as 'immutable' | 'stable' | undefined) ?? 'volatile');
      return;
    }
    default:
  }
}

function createTable(schema: KnownSchema, node: Node, origin: Origin): void {
  const key = tableKey(node['relation']);
  if (node['if_not_exists'] && schema.tables.has(key)) return;
  const table = newTable(origin);
  for (const element of (node['tableElts'] as Node[] | undefined) ?? []) {
    const column = as(element, 'ColumnDef');
    if (column) addColumn(table, column);
    const constraint = as(element, 'Constraint');
    if (constraint) addConstraint(table, constraint);
  }
  schema.tables.set(key, table);
}

function addColumn(table: KnownTable, def: Node): void {
  const name = def['colname'] as string;
  table.columns.set(name, columnType(def['typeName']));
  for (const c of columnConstraints(def)) {
    if (c['contype'] === 'CONSTR_NOTNULL' || c['contype'] === 'CONSTR_PRIMARY' || c['contype'] === 'CONSTR_IDENTITY') table.notNull.add(name);
  }
}

function addConstraint(table: KnownTable, c: Node): void {
  if (c['contype'] === 'CONSTR_PRIMARY') for (const column of names(c['keys'])) table.notNull.add(column);
  const column = notNullCheckColumn(c);
  if (column) table.checks.set(c['conname'] ?? `${column}_not_null_check`, { column, validated: !c['skip_validation'] });
}

function alterTable(schema: KnownSchema, node: Node, origin: Origin): void {
  const key = tableKey(node['relation']);
  if (node['objtype'] !== 'OBJECT_TABLE') return;
  let table = schema.tables.get(key);
  if (!table) {
    table = newTable(null);
    schema.tables.set(key, table);
  }
  for (const cmd of alterCommands(node)) {
    const def = cmd['def'] as Node | undefined;
    switch (cmd['subtype']) {
      case 'AT_AddColumn': addColumn(table, as(def, 'ColumnDef')!); table.addedIn.set(as(def, 'ColumnDef')!['colname'], origin.migration); break;
      case 'AT_DropColumn': table.columns.delete(cmd['name']); table.notNull.delete(cmd['name']); table.addedIn.delete(cmd['name']); break;
      case 'AT_AlterColumnType': table.columns.set(cmd['name'], columnType(as(def, 'ColumnDef')?.['typeName'])); break;
      case 'AT_SetNotNull': table.notNull.add(cmd['name']); break;
      case 'AT_DropNotNull': table.notNull.delete(cmd['name']); break;
      case 'AT_AddConstraint': addConstraint(table, as(def, 'Constraint') ?? {}); break;
      case 'AT_ValidateConstraint': {
        const check = table.checks.get(cmd['name']);
        if (check) check.validated = true;
        break;
      }
      case 'AT_DropConstraint': table.checks.delete(cmd['name']); break;
      default:
    }
  }
}

function rename(schema: KnownSchema, node: Node): void {
  const key = tableKey(node['relation']);
  const schemaName = key.split('.')[0]!;
  if (node['renameType'] === 'OBJECT_TABLE') {
    const table = schema.tables.get(key);
    if (!table) return;
    schema.tables.delete(key);
    const renamed = `${schemaName}.${node['newname']}`;
    schema.tables.set(renamed, table);
    for (const index of schema.indexes.values()) if (index.table === key) index.table = renamed;
  } else if (node['renameType'] === 'OBJECT_COLUMN') {
    const table = schema.tables.get(key);
    if (!table?.columns.has(node['subname'])) return;
    table.columns.set(node['newname'], table.columns.get(node['subname']) ?? null);
    table.columns.delete(node['subname']);
    if (table.notNull.delete(node['subname'])) table.notNull.add(node['newname']);
  } else if (node['renameType'] === 'OBJECT_INDEX') {
    const index = schema.indexes.get(key);
    if (!index) return;
    schema.indexes.delete(key);
    schema.indexes.set(`${schemaName}.${node['newname']}`, index);
  }
}

function drop(schema: KnownSchema, node: Node): void {
  for (const object of (node['objects'] as Node[] | undefined) ?? []) {
    const key = qualifiedKey(as(object, 'List')?.['items']);
    if (node['removeType'] === 'OBJECT_TABLE') {
      schema.tables.delete(key);
      for (const [name, index] of schema.indexes) if (index.table === key) schema.indexes.delete(name);
    } else if (node['removeType'] === 'OBJECT_INDEX') {
      schema.indexes.delete(key);
    }
  }
}
