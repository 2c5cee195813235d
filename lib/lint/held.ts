/**
 * What the transaction holds: a transactional file keeps every lock it took until COMMIT, so a later
 * statement runs under the locks of the earlier ones. Each finding names the line that took the lock.
 */
import { blockingLocks, LIGHT_ALTERS } from './locking.js';
import { alterCommands, as, names, tableKey, tableName, type Node } from './tree.js';
import { rule, type EarlierStatement, type Hit } from './types.js';

const SPLIT = 'Split it: put the later statement in a migration of its own (the lock is then released at the first one\'s COMMIT), or make the file `-- sqlmig:no-transaction` so each statement commits on its own.';

/** The earlier statement that added this constraint NOT VALID to this table, if any. */
function notValidAdd(earlier: readonly EarlierStatement[], table: string, constraint: string): EarlierStatement | undefined {
  return earlier.find((s) => s.kind === 'AlterTableStmt' && tableKey(s.node['relation']) === table &&
    alterCommands(s.node).some((c) => c['subtype'] === 'AT_AddConstraint' && as(c['def'], 'Constraint')?.['conname'] === constraint && as(c['def'], 'Constraint')?.['skip_validation']));
}

export const validateInTransaction = rule({
  id: 'validate-in-transaction',
  level: 'error', harm: true,
  why: 'NOT VALID then VALIDATE CONSTRAINT is safe only across transactions: in one transaction the ADD\'s lock (which blocks writes, ACCESS EXCLUSIVE for a CHECK) is still held while VALIDATE scans every row, so it is no safer than adding the constraint plainly.',
  recipe: `${SPLIT} Same for the CHECK (col IS NOT NULL) → SET NOT NULL recipe: ADD … NOT VALID in one migration, VALIDATE (and SET NOT NULL) in the next.`,
}, (stmt, env) => {
  if (!env.transactional || stmt.kind !== 'AlterTableStmt') return [];
  const table = tableKey(stmt.node['relation']);
  if (!env.existed(table)) return [];
  return alterCommands(stmt.node).filter((c) => c['subtype'] === 'AT_ValidateConstraint').flatMap((c): Hit[] => {
    const added = notValidAdd(env.earlier, table, c['name']);
    return added ? [{ message: `validates ${c['name']} in the transaction that added it NOT VALID on line ${added.line}: that lock is still held while VALIDATE scans ${env.name(table)}`, table }] : [];
  });
});

/** The table a data change writes, when it can be many rows: UPDATE, DELETE, INSERT … SELECT. */
function dataChangeTarget(kind: string, node: Node): { table: string; verb: string } | null {
  if (kind === 'UpdateStmt') return { table: tableKey(node['relation']), verb: 'updates' };
  if (kind === 'DeleteStmt') return { table: tableKey(node['relation']), verb: 'deletes from' };
  if (kind === 'InsertStmt') {
    const select = as(node['selectStmt'], 'SelectStmt');
    if (!select || select['valuesLists']) return null; // INSERT … VALUES: a seed of a few rows
    return { table: tableKey(node['relation']), verb: 'inserts … select into' };
  }
  return null;
}

export const backfillUnderLock = rule({
  id: 'backfill-under-lock',
  level: 'error', harm: true,
  why: 'An earlier statement of this transaction locked the table (ACCESS EXCLUSIVE for most of ALTER TABLE, SHARE for CREATE INDEX, SHARE ROW EXCLUSIVE for a foreign key or a trigger) and holds the lock until COMMIT: the whole backfill runs with writes of the table blocked, and under ACCESS EXCLUSIVE its reads too.',
  recipe: `${SPLIT} Backfill in batches, outside the DDL's transaction.`,
}, (stmt, env) => {
  if (!env.transactional) return [];
  const target = dataChangeTarget(stmt.kind, stmt.node);
  if (!target || !env.existed(target.table)) return [];
  const locker = env.earlier.find((s) => blockingLocks(s, env.schema).includes(target.table));
  if (!locker) return [];
  const mode = lockMode(locker, target.table);
  const blocked = mode === 'ACCESS EXCLUSIVE' ? 'reads and writes are blocked' : 'writes are blocked';
  return [{ message: `${target.verb} ${env.name(target.table)} while line ${locker.line} holds its lock on ${tableName(target.table)} until COMMIT: ${blocked} (${mode}) for the whole data change`, table: target.table }];
});

/**
 * The mode a statement that blocks (blockingLocks) holds on `table`. An ALTER TABLE takes the strongest
 * mode of its subcommands: SHARE ROW EXCLUSIVE when it only adds foreign keys (on both tables).
 */
function lockMode(s: EarlierStatement, table: string): string {
  switch (s.kind) {
    case 'IndexStmt': case 'ReindexStmt': return 'SHARE';
    case 'CreateTrigStmt': return 'SHARE ROW EXCLUSIVE';
    case 'CreateStmt': return 'SHARE ROW EXCLUSIVE'; // a new table locks only the tables its foreign keys point at
    case 'LockStmt': return LOCK_MODES[s.node['mode'] as number] ?? 'ACCESS EXCLUSIVE';
    case 'AlterTableStmt': {
      if (tableKey(s.node['relation']) !== table) return 'SHARE ROW EXCLUSIVE'; // the table a new foreign key points at
      const foreignKeysOnly = alterCommands(s.node).every((c) => LIGHT_ALTERS.has(c['subtype']) ||
        (c['subtype'] === 'AT_AddConstraint' && as(c['def'], 'Constraint')?.['contype'] === 'CONSTR_FOREIGN'));
      return foreignKeysOnly ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    }
    default: return 'ACCESS EXCLUSIVE';
  }
}

/** LOCK TABLE's modes by the parser's number (lockdefs.h); blockingLocks counts 5 (SHARE) and up. */
const LOCK_MODES: Record<number, string> = { 5: 'SHARE', 6: 'SHARE ROW EXCLUSIVE', 7: 'EXCLUSIVE', 8: 'ACCESS EXCLUSIVE' };

/** Values added by `ALTER TYPE … ADD VALUE` earlier in the file, with their type and line (not to a type the file created: those are usable). */
function addedEnumValues(earlier: readonly EarlierStatement[]): Map<string, { type: string; line: number }> {
  const added = new Map<string, { type: string; line: number }>();
  const created = new Set(earlier.filter((s) => s.kind === 'CreateEnumStmt').map((s) => names(s.node['typeName']).at(-1)));
  for (const s of earlier) {
    if (s.kind !== 'AlterEnumStmt' || !s.node['newVal'] || s.node['oldVal']) continue;
    const type = names(s.node['typeName']);
    if (!created.has(type.at(-1))) added.set(s.node['newVal'], { type: type.join('.'), line: s.line });
  }
  return added;
}

/** String constants in a tree. */
function strings(node: unknown, out: string[] = []): string[] {
  if (!node || typeof node !== 'object') return out;
  const constant = as(node, 'A_Const');
  if (constant?.['sval']) out.push(constant['sval']['sval']);
  for (const value of Object.values(node as Node)) strings(value, out);
  return out;
}

export const enumValueInTransaction = rule({
  id: 'enum-value-in-transaction',
  level: 'error',
  why: 'A value added with ALTER TYPE … ADD VALUE cannot be used until the transaction that added it commits ("unsafe use of new value"), on every PostgreSQL version; before PostgreSQL 12 ADD VALUE cannot run in a transaction at all. The migration fails when it is applied.',
  recipe: 'Add the value in a migration of its own (or make this file `-- sqlmig:no-transaction`), and use it in a later migration.',
}, (stmt, env) => {
  if (!env.transactional || stmt.kind === 'AlterEnumStmt' || !env.earlierKinds.has('AlterEnumStmt')) return [];
  const added = addedEnumValues(env.earlier);
  if (!added.size) return [];
  const used = [...new Set(strings(stmt.node))].filter((v) => added.has(v));
  return used.map((v): Hit => ({ message: `uses '${v}', added to ${added.get(v)!.type} on line ${added.get(v)!.line} in the same transaction: PostgreSQL refuses it until that ADD VALUE commits` }));
});

export const heldRules = [validateInTransaction, backfillUnderLock, enumValueInTransaction];
