/** Constraints added to tables that have rows: validation scans and index builds under strong locks. */
import { alterCommands, as, columnConstraints, tableKey, type Node } from './tree.js';
import { rule, type Hit, type LintStatement, type RuleEnv } from './types.js';

/** Constraints that ALTER TABLE adds to an existing table: table constraints and those of added columns. */
function addedConstraints(stmt: LintStatement, env: RuleEnv): { table: string; constraint: Node; column?: string }[] {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).flatMap((c) => {
    if (c['subtype'] === 'AT_AddConstraint') return [{ table, constraint: as(c['def'], 'Constraint') ?? {} }];
    if (c['subtype'] !== 'AT_AddColumn') return [];
    const def = as(c['def'], 'ColumnDef') ?? {};
    return columnConstraints(def).map((constraint) => ({ table, constraint, column: def['colname'] as string }));
  });
}

const KIND: Record<string, string> = { CONSTR_FOREIGN: 'foreign key', CONSTR_CHECK: 'check constraint', CONSTR_PRIMARY: 'primary key', CONSTR_UNIQUE: 'unique constraint', CONSTR_EXCLUSION: 'exclusion constraint' };
const label = (c: Node) => `${KIND[c['contype']] ?? 'constraint'}${c['conname'] ? ` ${c['conname']}` : ''}`;

export const constraintNotValid = rule({
  id: 'constraint-not-valid',
  level: 'error', harm: true,
  why: 'Adding a foreign key or CHECK constraint checks every existing row while holding a lock that blocks writes (a foreign key also blocks writes to the table it references).',
  recipe: 'Add it with NOT VALID (instant: only new rows are checked), then VALIDATE CONSTRAINT in a later statement or migration: validation scans without blocking reads or writes.',
}, (stmt, env) => addedConstraints(stmt, env).flatMap(({ table, constraint, column }): Hit[] => {
  if (constraint['contype'] !== 'CONSTR_FOREIGN' && constraint['contype'] !== 'CONSTR_CHECK') return [];
  if (constraint['skip_validation']) return [];
  const on = column ? `${env.name(table)} (column ${column})` : env.name(table);
  return [{ message: `adds ${label(constraint)} to ${on} without NOT VALID: every row is checked while writes wait`, location: constraint['location'], table }];
}));

export const uniqueWithoutIndex = rule({
  id: 'unique-without-index',
  level: 'error', harm: true,
  why: 'Adding a PRIMARY KEY, UNIQUE or EXCLUDE constraint builds its index under an ACCESS EXCLUSIVE lock: no reads or writes until the index is built.',
  recipe: 'Build the index first with CREATE UNIQUE INDEX CONCURRENTLY (in a `-- sqlmig:no-transaction` migration), then `ALTER TABLE … ADD CONSTRAINT name PRIMARY KEY USING INDEX index_name` (instant).',
}, (stmt, env) => addedConstraints(stmt, env).flatMap(({ table, constraint }): Hit[] => {
  if (!['CONSTR_PRIMARY', 'CONSTR_UNIQUE', 'CONSTR_EXCLUSION'].includes(constraint['contype'])) return [];
  if (constraint['indexname']) return [];
  return [{ message: `adds ${label(constraint)} to ${env.name(table)}, building its index under ACCESS EXCLUSIVE`, location: constraint['location'], table }];
}));

export const pkUsingIndexNullable = rule({
  id: 'pk-using-index-nullable',
  level: 'error', harm: true,
  why: 'ADD PRIMARY KEY USING INDEX makes its columns NOT NULL: on a column that is nullable, PostgreSQL first scans the whole table under an ACCESS EXCLUSIVE lock (an implicit SET NOT NULL).',
  recipe: 'First make each column NOT NULL the safe way (CHECK (col IS NOT NULL) NOT VALID, VALIDATE in a later migration, then SET NOT NULL), then ADD PRIMARY KEY USING INDEX (instant).',
}, (stmt, env) => addedConstraints(stmt, env).flatMap(({ table, constraint }): Hit[] => {
  if (constraint['contype'] !== 'CONSTR_PRIMARY' || !constraint['indexname']) return [];
  const index = env.schema.indexes.get(`${table.split('.')[0]}.${constraint['indexname']}`);
  const known = env.schema.tables.get(table);
  if (!index?.columns || !known) return [];
  const provenNotNull = (c: string) => known.notNull.has(c) || [...known.checks.values()].some((k) => k.column === c && k.validated);
  const nullable = index.columns.filter((c): c is string => c !== null && !provenNotNull(c));
  return nullable.length ? [{ message: `adds primary key ${constraint['conname'] ?? ''} using index ${constraint['indexname']} on nullable ${nullable.join(', ')}: an implicit SET NOT NULL scans ${env.name(table)} under ACCESS EXCLUSIVE`.replace('  ', ' '), location: constraint['location'], table }] : [];
}));

export const constraintRules = [constraintNotValid, uniqueWithoutIndex, pkUsingIndexNullable];
