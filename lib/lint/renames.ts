/** Renames: the application that is still running uses the old names. */
import { tableKey } from './tree.js';
import { rule } from './types.js';

export const renameTable = rule({
  id: 'rename-table',
  level: 'error',
  why: 'The application that is running during and after the migration still uses the old name: its queries fail until it is redeployed.',
  recipe: 'Expand and contract: create the new table (or a view with the new name), make the application use it, and drop the old one in a later migration.',
}, (stmt, env) => {
  if (stmt.kind !== 'RenameStmt' || stmt.node['renameType'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  return env.existed(table) ? [{ message: `renames table ${env.name(table)} to ${stmt.node['newname']}: queries that use the old name fail`, table }] : [];
});

export const renameColumn = rule({
  id: 'rename-column',
  level: 'error',
  why: 'The application that is running during and after the migration still uses the old column name: its queries fail until it is redeployed.',
  recipe: 'Expand and contract: add the new column, write both and backfill, switch reads to the new one, then drop the old column in a later migration.',
}, (stmt, env) => {
  if (stmt.kind !== 'RenameStmt' || stmt.node['renameType'] !== 'OBJECT_COLUMN' || stmt.node['relationType'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  return env.existed(table) ? [{ message: `renames column ${stmt.node['subname']} of ${env.name(table)} to ${stmt.node['newname']}: queries that use the old name fail`, table }] : [];
});

export const renameRules = [renameTable, renameColumn];
