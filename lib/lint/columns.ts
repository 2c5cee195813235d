/** Column changes on tables that have rows: required columns, rewrites, NOT NULL scans. */
import { alterCommands, as, columnConstraints, columnType, formatType, isSerial, names, tableKey, tableName, type ColumnType, type Node } from './tree.js';
import { isUtc } from './session.js';
import { rule, type Hit, type LintStatement, type RuleEnv } from './types.js';

/** Functions whose result differs per row: as a column default they make ADD COLUMN rewrite the table. */
const VOLATILE = new Set(['random', 'random_normal', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'uuidv4', 'uuidv7', 'clock_timestamp', 'timeofday', 'nextval', 'txid_current', 'gen_random_bytes']);

/** ALTER TABLE … ADD COLUMN on an existing table, each with its column definition. */
function addedColumns(stmt: LintStatement, env: RuleEnv): { table: string; def: Node }[] {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_AddColumn').map((c) => ({ table, def: as(c['def'], 'ColumnDef')! }));
}

/** Built-in functions that are immutable or stable: as a default they are computed once, not per row. */
const NOT_VOLATILE = new Set(['now', 'transaction_timestamp', 'statement_timestamp', 'current_setting', 'lower', 'upper', 'trim', 'btrim', 'ltrim', 'rtrim', 'length', 'concat', 'concat_ws', 'md5', 'to_char', 'to_date', 'to_timestamp', 'to_number', 'date_trunc', 'date_part', 'extract', 'make_date', 'make_timestamp', 'make_timestamptz', 'make_interval', 'timezone', 'jsonb_build_object', 'json_build_object', 'jsonb_build_array', 'json_build_array', 'to_jsonb', 'to_json', 'array_fill', 'replace', 'substr', 'substring', 'left', 'right', 'abs', 'round', 'floor', 'ceil', 'greatest', 'least', 'nullif', 'format', 'encode', 'decode', 'sha256', 'inet', 'int4range', 'int8range', 'numrange', 'tstzrange', 'daterange', 'current_schema', 'current_database', 'version', 'pg_backend_pid']);

/** A call in the default whose value differs per row: a volatile built-in, a user function that is not IMMUTABLE or STABLE, or one lint does not know. */
function volatileCall(node: unknown, env: Pick<RuleEnv, 'schema'> | undefined): string | null {
  if (!node || typeof node !== 'object') return null;
  const call = as(node, 'FuncCall');
  const name = call ? names(call['funcname']).at(-1)?.toLowerCase() : undefined;
  if (name && !env) {
    if (VOLATILE.has(name)) return `${name}()`;
  } else if (name && env) {
    const known = env.schema.functions.get(name);
    if (VOLATILE.has(name) || known === 'volatile') return `${name}()`;
    if (!known && !NOT_VOLATILE.has(name)) return `${name}(), a function lint does not know: taken as volatile`;
  }
  for (const value of Object.values(node as Node)) {
    const found = volatileCall(value, env);
    if (found) return found;
  }
  return null;
}

/** Why adding this column rewrites the table (each row gets its own value), or null. */
export function rewriteReason(def: Node, env?: Pick<RuleEnv, 'schema'>): string | null {
  if (isSerial(def['typeName'])) return 'a serial column (a nextval() default)';
  for (const c of columnConstraints(def)) {
    if (c['contype'] === 'CONSTR_IDENTITY') return 'an identity column';
    if (c['contype'] === 'CONSTR_GENERATED') return 'a stored generated column';
    if (c['contype'] === 'CONSTR_DEFAULT') {
      const call = volatileCall(c['raw_expr'], env);
      if (call) return `a volatile default (${call})`;
    }
  }
  return null;
}

export const addColumnRequired = rule({
  id: 'add-column-required',
  level: 'error',
  why: 'A NOT NULL column without a default cannot be added to a table that has rows: the migration fails on the first row (and the running application does not send the new column, so its inserts would fail too).',
  recipe: 'Give it a constant default (`… NOT NULL DEFAULT \'x\'` is instant since PostgreSQL 11), or add it nullable, backfill in batches, then SET NOT NULL the safe way.',
}, (stmt, env) => addedColumns(stmt, env).flatMap(({ table, def }): Hit[] => {
  const constraints = columnConstraints(def);
  const required = constraints.some((c) => c['contype'] === 'CONSTR_NOTNULL' || c['contype'] === 'CONSTR_PRIMARY');
  const filled = constraints.some((c) => ['CONSTR_DEFAULT', 'CONSTR_IDENTITY', 'CONSTR_GENERATED'].includes(c['contype'])) || isSerial(def['typeName']);
  return required && !filled ? [{ message: `adds ${def['colname']} NOT NULL without a default to ${env.name(table)}: fails if the table has rows`, location: def['location'], table }] : [];
}));

export const addColumnRewrite = rule({
  id: 'add-column-rewrite',
  level: 'error', harm: true,
  why: 'A column whose value differs per row (volatile default, serial, identity, stored generated) makes PostgreSQL rewrite the whole table under an ACCESS EXCLUSIVE lock: no reads or writes until it is done.',
  recipe: 'Add the column without the default (or with a constant one), backfill it in batches, then ALTER COLUMN … SET DEFAULT for new rows.',
}, (stmt, env) => addedColumns(stmt, env).flatMap(({ table, def }): Hit[] => {
  const reason = rewriteReason(def, env);
  return reason ? [{ message: `adds ${def['colname']} to ${env.name(table)} as ${reason}: rewrites the table under ACCESS EXCLUSIVE`, location: def['location'], table }] : [];
}));

/** Type changes that PostgreSQL makes without touching the rows. */
export function isSafeTypeChange(from: ColumnType, to: ColumnType): boolean {
  if (from.array !== to.array) return false;
  const [n, m] = [from.mods[0], to.mods[0]];
  if (from.name === to.name) {
    if (from.mods.join() === to.mods.join()) return true;
    if (from.name === 'varchar' || from.name === 'varbit') return to.mods.length === 0 || (n !== undefined && m !== undefined && m >= n);
    if (from.name === 'numeric') return to.mods.length === 0 || (from.mods[1] === to.mods[1] && n !== undefined && m !== undefined && m >= n);
    return false;
  }
  if (from.name === 'varchar' && to.name === 'text') return true;
  if (from.name === 'text' && to.name === 'varchar') return to.mods.length === 0;
  return from.name === 'cidr' && to.name === 'inet';
}

/**
 * timestamp ↔ timestamptz: PostgreSQL 12+ keeps the rows when the session's TimeZone is UTC. Returns
 * 'no rewrite', the reason it rewrites (or may), or null when the change is not between the two.
 */
function timeZoneChange(from: ColumnType, to: ColumnType, env: RuleEnv): string | null {
  const pair = new Set([from.name, to.name]);
  if (from.name === to.name || !pair.has('timestamp') || !pair.has('timestamptz') || from.array || to.array || from.mods.join() !== to.mods.join()) return null;
  if (env.serverVersion !== null && env.serverVersion < 120000) return 'PostgreSQL before 12 rewrites it whatever the TimeZone';
  if (env.timeZone === null) return 'no rewrite if the session\'s TimeZone is UTC, which lint cannot tell: put `SET timezone = \'UTC\';` above it';
  return isUtc(env.timeZone) ? 'no rewrite' : `the session's TimeZone is ${env.timeZone}, not UTC`;
}

export const alterColumnType = rule({
  id: 'alter-column-type',
  level: 'error', harm: true,
  why: 'Changing a column\'s type rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock (unless the new type is a known-safe widening such as varchar(n) to a larger varchar or to text): no reads or writes until it is done.',
  recipe: 'Add a new column of the new type, backfill it in batches (a trigger keeps it current), switch the application over, then drop the old column in a later migration. (timestamp → timestamptz needs no rewrite on PostgreSQL 12+ with `SET timezone = \'UTC\';` above it.)',
}, (stmt, env) => {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_AlterColumnType').flatMap((c): Hit[] => {
    const def = as(c['def'], 'ColumnDef') ?? {};
    const to = columnType(def['typeName']);
    const from = env.schema.tables.get(table)?.columns.get(c['name']) ?? null;
    if (to && from && !def['raw_default'] && isSafeTypeChange(from, to)) return [];
    const zone = to && from && !def['raw_default'] ? timeZoneChange(from, to, env) : null;
    if (zone === 'no rewrite') return [];
    const change = from && to ? `from ${formatType(from)} to ${formatType(to)}` : `to ${to ? formatType(to) : 'a new type'} (its type before is not known from earlier migrations)`;
    const using = def['raw_default'] ? ' with USING' : '';
    return [{ message: `changes ${tableName(table)}.${c['name']} ${change}${using}: rewrites ${env.name(table)} under ACCESS EXCLUSIVE${zone ? ` (${zone})` : ''}`, location: def['location'], table }];
  });
});

export const setNotNull = rule({
  id: 'set-not-null',
  level: 'error', harm: true,
  why: 'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock to check for NULLs: no reads or writes until the scan ends. Since PostgreSQL 12 the scan is skipped when a validated CHECK (col IS NOT NULL) constraint already proves it.',
  recipe: 'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; then VALIDATE CONSTRAINT c (it scans without blocking traffic); then SET NOT NULL (instant); then DROP CONSTRAINT c.',
}, (stmt, env) => {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  const known = env.schema.tables.get(table);
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_SetNotNull').flatMap((c): Hit[] => {
    const column = c['name'] as string;
    if (known?.notNull.has(column)) return [];
    if ([...(known?.checks.values() ?? [])].some((k) => k.column === column && k.validated)) return [];
    return [{ message: `SET NOT NULL on ${tableName(table)}.${column} without a validated CHECK (${column} IS NOT NULL): scans ${env.name(table)} under ACCESS EXCLUSIVE`, table }];
  });
});

export const jsonColumn = rule({
  id: 'json-column',
  level: 'warning',
  why: 'The json type has no equality operator: queries on the table that use SELECT DISTINCT, UNION or GROUP BY over all columns start failing ("could not identify an equality operator for type json").',
  recipe: 'Use jsonb (it also indexes and compares), unless the exact text of the document must be kept.',
}, (stmt, env) => addedColumns(stmt, env).flatMap(({ table, def }): Hit[] => {
  const type = columnType(def['typeName']);
  return type?.name === 'json' ? [{ message: `adds ${def['colname']} json to ${env.name(table)}: queries that compare whole rows (DISTINCT, UNION) fail on json`, location: def['location'], table }] : [];
}));

export const columnRules = [addColumnRequired, addColumnRewrite, alterColumnType, setNotNull, jsonColumn];
