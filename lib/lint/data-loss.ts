/** Statements that throw data away: they need an explicit, justified ignore. */
import { alterCommands, as, qualifiedKey, tableKey, type Node } from './tree.js';
import { rule, type Hit } from './types.js';

export const dropTable = rule({
  id: 'drop-table',
  level: 'error',
  why: 'DROP TABLE deletes the table and every row in it; a down migration cannot bring the rows back, and the running application still queries it.',
  recipe: 'Stop using the table in the application first; take a backup (`sqlmig up --backup`); then silence this finding with `-- sqlmig:lint-ignore drop-table <why it is safe>` above the statement.',
}, (stmt, env) => {
  if (stmt.kind !== 'DropStmt' || stmt.node['removeType'] !== 'OBJECT_TABLE') return [];
  return ((stmt.node['objects'] as Node[] | undefined) ?? []).map((o) => qualifiedKey(as(o, 'List')?.['items']))
    .filter((t) => env.existed(t))
    .map((table): Hit => ({ message: `drops table ${env.name(table)} and all its rows`, table }));
});

export const dropColumn = rule({
  id: 'drop-column',
  level: 'error',
  why: 'DROP COLUMN deletes the column\'s data for good, and the running application, which still reads or writes it, starts failing.',
  recipe: 'Stop using the column in the application and deploy that first; then drop it, silencing this finding with `-- sqlmig:lint-ignore drop-column <why it is safe>` above the statement.',
}, (stmt, env) => {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_DropColumn' && !env.columnIsNew(table, c['name'])) // a column added in this migration holds no data yet
    .map((c): Hit => ({ message: `drops column ${c['name']} of ${env.name(table)} and its data`, table }));
});

export const truncate = rule({
  id: 'truncate',
  level: 'error',
  why: 'TRUNCATE deletes every row at once (CASCADE also empties every table that references it) under an ACCESS EXCLUSIVE lock.',
  recipe: 'Delete the rows you mean to delete with DELETE … WHERE, in batches; if the table really must be emptied, say why with `-- sqlmig:lint-ignore truncate <reason>`.',
}, (stmt, env) => {
  if (stmt.kind !== 'TruncateStmt') return [];
  const cascade = stmt.node['behavior'] === 'DROP_CASCADE' ? ' (CASCADE: and every table that references it)' : '';
  return ((stmt.node['relations'] as Node[] | undefined) ?? []).map((r) => tableKey(as(r, 'RangeVar')))
    .filter((t) => env.existed(t))
    .map((table): Hit => ({ message: `empties ${env.name(table)}${cascade}`, table }));
});

export const dropSchemaCascade = rule({
  id: 'drop-schema-cascade',
  level: 'error',
  why: 'DROP SCHEMA … CASCADE drops every table, view, function and type in the schema, with all their rows, without naming them.',
  recipe: 'Drop the objects you mean to drop by name (each one is then checked), then DROP SCHEMA without CASCADE; if the whole schema really must go, say why with `-- sqlmig:lint-ignore drop-schema-cascade <reason>`.',
}, (stmt, env) => {
  if (stmt.kind !== 'DropStmt' || stmt.node['removeType'] !== 'OBJECT_SCHEMA' || stmt.node['behavior'] !== 'DROP_CASCADE') return [];
  const createdHere = new Set(env.earlier.filter((s) => s.kind === 'CreateSchemaStmt').map((s) => s.node['schemaname'] as string));
  return ((stmt.node['objects'] as Node[] | undefined) ?? []).map((o) => as(o, 'String')?.['sval'] as string)
    .filter((name) => name && !createdHere.has(name))
    .map((name): Hit => ({ message: `drops schema ${name} with CASCADE: every object in it and all their rows` }));
});

export const dataLossRules = [dropTable, dropColumn, truncate, dropSchemaCascade];
