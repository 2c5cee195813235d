/**
 * Statements PostgreSQL refuses inside a transaction block (it calls PreventInTransactionBlock for them):
 * a file sqlmig runs in a transaction cannot hold one, so it is refused before anything runs, and lint
 * names the same statements.
 */
import { alterCommands, as, hasOption, type Node } from '../lint/tree.js';

/** What in the statement cannot run inside a transaction block ("CREATE INDEX CONCURRENTLY", "VACUUM", …), or null. */
export function refusedInTransaction(kind: string, n: Node): string | null {
  switch (kind) {
    case 'IndexStmt': return n['concurrent'] ? 'CREATE INDEX CONCURRENTLY' : null;
    case 'DropStmt': return n['concurrent'] ? 'DROP INDEX CONCURRENTLY' : null;
    case 'ReindexStmt':
      if (hasOption(n['params'], 'concurrently')) return 'REINDEX CONCURRENTLY';
      return n['kind'] === 'REINDEX_OBJECT_SYSTEM' || n['kind'] === 'REINDEX_OBJECT_DATABASE' ? 'REINDEX DATABASE/SYSTEM' : null;
    case 'AlterTableStmt':
      return alterCommands(n).some((c) => c['subtype'] === 'AT_DetachPartition' && as(c['def'], 'PartitionCmd')?.['concurrent']) ? 'DETACH PARTITION CONCURRENTLY' : null;
    case 'VacuumStmt': return n['is_vacuumcmd'] ? 'VACUUM' : null;
    case 'ClusterStmt': return n['relation'] ? null : 'CLUSTER without a table';
    case 'DiscardStmt': return n['target'] === 'DISCARD_ALL' ? 'DISCARD ALL' : null;
    case 'CreatedbStmt': return 'CREATE DATABASE';
    case 'DropdbStmt': return 'DROP DATABASE';
    case 'CreateTableSpaceStmt': return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt': return 'DROP TABLESPACE';
    case 'AlterSystemStmt': return 'ALTER SYSTEM';
    default: return null;
  }
}
