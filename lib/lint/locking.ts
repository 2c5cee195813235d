/** Statements that lock whole tables for long: VACUUM FULL, CLUSTER, REINDEX; and DDL that may queue without a lock_timeout. */
import type { KnownSchema } from './known.js';
import { alterCommands, as, hasOption, qualifiedKey, tableKey, type Node } from './tree.js';
import { rule, type LintStatement, type RuleEnv } from './types.js';

/** ALTER TABLE subcommands that take only SHARE UPDATE EXCLUSIVE: they do not block reads or writes. */
export const LIGHT_ALTERS = new Set(['AT_ValidateConstraint', 'AT_SetStatistics', 'AT_ClusterOn', 'AT_DropCluster', 'AT_SetOptions', 'AT_ResetOptions', 'AT_SetRelOptions', 'AT_ResetRelOptions', 'AT_AttachPartition']);

/** Tables a statement locks in a mode that blocks reads or writes (SHARE or stronger). */
export function blockingLocks(stmt: LintStatement, schema: KnownSchema): string[] {
  const n = stmt.node;
  const relations = (list: unknown) => ((list as Node[] | undefined) ?? []).map((r) => tableKey(as(r, 'RangeVar') ?? as(r, 'VacuumRelation')?.['relation']));
  const indexTable = (key: string) => schema.indexes.get(key)?.table ?? null;
  switch (stmt.kind) {
    case 'AlterTableStmt': {
      if (n['objtype'] !== 'OBJECT_TABLE') return [];
      const cmds = alterCommands(n);
      const light = cmds.every((c) => LIGHT_ALTERS.has(c['subtype']) || (c['subtype'] === 'AT_DetachPartition' && as(c['def'], 'PartitionCmd')?.['concurrent']));
      return [...(light ? [] : [tableKey(n['relation'])]), ...foreignKeyTargets(cmds.map((c) => as(c['def'], 'Constraint') ?? as(c['def'], 'ColumnDef')))];
    }
    case 'CreateStmt':
      return foreignKeyTargets(((n['tableElts'] as Node[] | undefined) ?? []).map((e) => as(e, 'Constraint') ?? as(e, 'ColumnDef')));
    case 'IndexStmt': return n['concurrent'] ? [] : [tableKey(n['relation'])];
    case 'RenameStmt':
      if (n['renameType'] === 'OBJECT_INDEX') return [indexTable(tableKey(n['relation']))].filter((t): t is string => t !== null);
      return ['OBJECT_TABLE', 'OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT'].includes(n['renameType']) ? [tableKey(n['relation'])] : [];
    case 'DropStmt': {
      const keys = ((n['objects'] as Node[] | undefined) ?? []).map((o) => qualifiedKey(as(o, 'List')?.['items']));
      if (n['removeType'] === 'OBJECT_TABLE') return keys;
      if (n['removeType'] === 'OBJECT_INDEX' && !n['concurrent']) return keys.map(indexTable).filter((t): t is string => t !== null);
      return [];
    }
    case 'TruncateStmt': return relations(n['relations']);
    case 'CreateTrigStmt': case 'RuleStmt': case 'CreatePolicyStmt': case 'AlterPolicyStmt': return [tableKey(n['relation'] ?? n['table'])];
    case 'ClusterStmt': return n['relation'] ? [tableKey(n['relation'])] : [];
    case 'VacuumStmt': return hasOption(n['options'], 'full') ? relations(n['rels']) : [];
    case 'ReindexStmt':
      if (hasOption(n['params'], 'concurrently')) return [];
      if (n['kind'] === 'REINDEX_OBJECT_TABLE') return [tableKey(n['relation'])];
      return n['kind'] === 'REINDEX_OBJECT_INDEX' ? [indexTable(tableKey(n['relation']))].filter((t): t is string => t !== null) : [];
    case 'LockStmt': return (n['mode'] as number) >= 5 ? relations(n['relations']) : [];
    default: return [];
  }
}

/** Tables that new foreign keys point at: they are locked SHARE ROW EXCLUSIVE while the key is added. */
function foreignKeyTargets(defs: (Node | undefined)[]): string[] {
  const constraints = defs.flatMap((d) => (d?.['contype'] ? [d] : ((d?.['constraints'] as Node[] | undefined) ?? []).map((c) => as(c, 'Constraint') ?? {})));
  return constraints.filter((c) => c['contype'] === 'CONSTR_FOREIGN').map((c) => tableKey(c['pktable']));
}

const existing = (tables: string[], env: RuleEnv) => [...new Set(tables)].filter((t) => env.existed(t));

export const lockTimeout = rule({
  id: 'lock-timeout',
  level: 'warning',
  why: 'DDL must wait for every query already using the table; while it waits, every new query on the table queues behind it. One long report query then stops all traffic to the table until it ends.',
  recipe: 'Set a lock timeout so the migration fails fast instead of queueing: `sqlmig up --ddl-lock-timeout 5s`, `ALTER ROLE … SET lock_timeout`, or `SET lock_timeout = \'5s\';` at the top of the file; retry when it times out.',
}, (stmt, env) => {
  if (env.lockTimeout) return [];
  const tables = existing(blockingLocks(stmt, env.schema), env);
  if (!tables.length) return [];
  return [{ message: `locks ${tables.map(env.name).join(', ')} with no lock_timeout: if a long query is using it, all traffic to it queues behind this statement`, table: tables[0] }];
});

export const vacuumFull = rule({
  id: 'vacuum-full',
  level: 'error', harm: true,
  why: 'VACUUM FULL rewrites the whole table under an ACCESS EXCLUSIVE lock: no reads or writes until it is done.',
  recipe: 'Use plain VACUUM (it runs alongside traffic), or pg_repack / pg_squeeze to shrink a bloated table online.',
}, (stmt, env) => {
  if (stmt.kind !== 'VacuumStmt' || !hasOption(stmt.node['options'], 'full')) return [];
  const tables = blockingLocks(stmt, env.schema);
  if (!tables.length) return [{ message: 'VACUUM FULL of the whole database: rewrites every table under ACCESS EXCLUSIVE' }];
  return existing(tables, env).map((t) => ({ message: `VACUUM FULL rewrites ${env.name(t)} under ACCESS EXCLUSIVE: reads and writes wait`, table: t }));
});

export const cluster = rule({
  id: 'cluster',
  level: 'error', harm: true,
  why: 'CLUSTER rewrites the table in index order under an ACCESS EXCLUSIVE lock: no reads or writes until it is done.',
  recipe: 'Use pg_repack (with --order-by) to reorder a table online, or leave the order to the planner.',
}, (stmt, env) => {
  if (stmt.kind !== 'ClusterStmt') return [];
  if (!stmt.node['relation']) return [{ message: 'CLUSTER of every clustered table: rewrites each under ACCESS EXCLUSIVE' }];
  const table = tableKey(stmt.node['relation']);
  return env.existed(table) ? [{ message: `CLUSTER rewrites ${env.name(table)} under ACCESS EXCLUSIVE: reads and writes wait`, table }] : [];
});

export const reindex = rule({
  id: 'reindex-not-concurrently',
  level: 'error', harm: true,
  why: 'REINDEX without CONCURRENTLY blocks writes to the table, and reads that would use the index, until the index is rebuilt.',
  recipe: 'Use REINDEX … CONCURRENTLY (PostgreSQL 12+) in a migration of its own whose first line is `-- sqlmig:no-transaction`.',
}, (stmt, env) => {
  if (stmt.kind !== 'ReindexStmt' || hasOption(stmt.node['params'], 'concurrently')) return [];
  const tables = blockingLocks(stmt, env.schema);
  const kind = String(stmt.node['kind']).replace('REINDEX_OBJECT_', '').toLowerCase();
  if (!tables.length) {
    return kind === 'index' && !env.indexExisted(tableKey(stmt.node['relation'])) ? [] : [{ message: `REINDEX ${kind.toUpperCase()} without CONCURRENTLY: blocks writes while it rebuilds` }];
  }
  return existing(tables, env).map((t) => ({ message: `REINDEX without CONCURRENTLY blocks writes to ${env.name(t)} while it rebuilds`, table: t }));
});

export const refreshMatview = rule({
  id: 'refresh-matview-not-concurrently',
  level: 'error', harm: true,
  why: 'REFRESH MATERIALIZED VIEW without CONCURRENTLY recomputes the whole view under an ACCESS EXCLUSIVE lock: every query that reads the view waits until it is done.',
  recipe: 'Give the view a unique index, then REFRESH MATERIALIZED VIEW CONCURRENTLY (reads go on during the refresh).',
}, (stmt, env) => {
  if (stmt.kind !== 'RefreshMatViewStmt' || stmt.node['concurrent'] || stmt.node['skipData']) return [];
  const view = tableKey(stmt.node['relation']);
  return env.existed(view) ? [{ message: `refreshes ${env.name(view)} without CONCURRENTLY: reads of it wait until the refresh is done`, table: view }] : [];
});

export const setLoggedUnlogged = rule({
  id: 'set-logged-unlogged',
  level: 'error', harm: true,
  why: 'ALTER TABLE … SET LOGGED or SET UNLOGGED rewrites the whole table (and SET LOGGED writes all of it to the WAL) under an ACCESS EXCLUSIVE lock: no reads or writes until it is done.',
  recipe: 'Create the table with the persistence it needs, or copy it into a new table in batches and swap; otherwise run it in a maintenance window.',
}, (stmt, env) => {
  if (stmt.kind !== 'AlterTableStmt' || stmt.node['objtype'] !== 'OBJECT_TABLE') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_SetLogged' || c['subtype'] === 'AT_SetUnLogged')
    .map((c) => ({ message: `SET ${c['subtype'] === 'AT_SetLogged' ? 'LOGGED' : 'UNLOGGED'} rewrites ${env.name(table)} under ACCESS EXCLUSIVE: reads and writes wait`, table }));
});

export const lockingRules = [lockTimeout, vacuumFull, cluster, reindex, refreshMatview, setLoggedUnlogged];
