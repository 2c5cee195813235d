/**
 * What a generated statement does, read with the PostgreSQL parser (never with patterns on SQL
 * text): which ones are owner or privilege noise, which build an index or add a constraint that
 * can be made online, which drop or retype a column.
 */
import { loadParser } from '../migrations/sql.js';

export interface TableName { schema: string; name: string }

export type StatementInfo =
  | { kind: 'owner' }
  | { kind: 'privilege' }
  | { kind: 'role' }
  | { kind: 'create-index'; table: TableName; index: string; concurrent: boolean }
  | { kind: 'drop-index'; schema: string; index: string }
  | { kind: 'add-constraint'; table: TableName; constraint: string; type: 'foreign key' | 'check' | 'other'; notValid: boolean }
  | { kind: 'alter-column-type'; table: TableName; column: string }
  | { kind: 'drop-default'; table: TableName; column: string }
  | { kind: 'set-default'; table: TableName; column: string }
  | { kind: 'drop-constraint'; table: TableName; constraint: string }
  | { kind: 'drop-column'; table: TableName; column: string }
  | { kind: 'add-column'; table: TableName; column: string }
  | { kind: 'drop-table'; table: TableName }
  | { kind: 'drop-materialized-view' }
  | { kind: 'other' };

type Node = Record<string, any>; // parse trees are plain, untyped JSON

const ROLE_STATEMENTS = new Set(['CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'DropRoleStmt', 'GrantRoleStmt']);
const PRIVILEGE_STATEMENTS = new Set(['GrantStmt', 'AlterDefaultPrivilegesStmt']);

/** Classify each statement; one the parser rejects (it should not happen) is 'other'. */
export async function classifyStatements(sqls: readonly string[]): Promise<StatementInfo[]> {
  const lib = await loadParser();
  return sqls.map((sql) => {
    try {
      const [first, ...rest] = lib.parseSync(sql).stmts ?? [];
      return first && rest.length === 0 ? classify((first.stmt ?? {}) as Node) : { kind: 'other' };
    } catch {
      return { kind: 'other' };
    }
  });
}

function classify(node: Node): StatementInfo {
  const [type] = Object.keys(node);
  const body = type ? (node[type] as Node) : {};
  if (type === 'AlterOwnerStmt') return { kind: 'owner' };
  if (type && PRIVILEGE_STATEMENTS.has(type)) return { kind: 'privilege' };
  if (type && ROLE_STATEMENTS.has(type)) return { kind: 'role' };
  if (type === 'IndexStmt') return { kind: 'create-index', table: tableOf(body['relation']), index: String(body['idxname'] ?? ''), concurrent: Boolean(body['concurrent']) };
  if (type === 'DropStmt') return classifyDrop(body);
  if (type === 'AlterTableStmt') return classifyAlterTable(body);
  return { kind: 'other' };
}

function classifyDrop(body: Node): StatementInfo {
  const objects = (body['objects'] ?? []) as Node[];
  if (objects.length !== 1) return { kind: 'other' };
  const names = ((objects[0]!['List']?.['items'] ?? []) as Node[]).map((i) => String(i['String']?.['sval'] ?? ''));
  const name = names.at(-1) ?? '';
  const schema = names.length > 1 ? names.at(-2)! : 'public';
  if (body['removeType'] === 'OBJECT_INDEX') return { kind: 'drop-index', schema, index: name };
  if (body['removeType'] === 'OBJECT_TABLE') return { kind: 'drop-table', table: { schema, name } };
  if (body['removeType'] === 'OBJECT_MATVIEW') return { kind: 'drop-materialized-view' };
  return { kind: 'other' };
}

function classifyAlterTable(body: Node): StatementInfo {
  const cmds = (body['cmds'] ?? []) as Node[];
  if (cmds.length !== 1) return { kind: 'other' };
  const cmd = cmds[0]!['AlterTableCmd'] as Node;
  const table = tableOf(body['relation']);
  const column = String(cmd['name'] ?? '');
  switch (cmd['subtype']) {
    case 'AT_ChangeOwner': return { kind: 'owner' };
    case 'AT_AlterColumnType': return { kind: 'alter-column-type', table, column };
    case 'AT_DropColumn': return { kind: 'drop-column', table, column };
    case 'AT_AddColumn': return { kind: 'add-column', table, column: String(cmd['def']?.['ColumnDef']?.['colname'] ?? '') };
    case 'AT_ColumnDefault': return cmd['def'] ? { kind: 'set-default', table, column } : { kind: 'drop-default', table, column };
    case 'AT_DropConstraint': return { kind: 'drop-constraint', table, constraint: column };
    case 'AT_AddConstraint': {
      const c = (cmd['def']?.['Constraint'] ?? {}) as Node;
      const type = c['contype'] === 'CONSTR_FOREIGN' ? 'foreign key' : c['contype'] === 'CONSTR_CHECK' ? 'check' : 'other';
      return { kind: 'add-constraint', table, constraint: String(c['conname'] ?? ''), type, notValid: Boolean(c['skip_validation']) };
    }
    default: return { kind: 'other' };
  }
}

function tableOf(relation: Node | undefined): TableName {
  return { schema: String(relation?.['schemaname'] ?? 'public'), name: String(relation?.['relname'] ?? '') };
}

/** Names in a schema file's statements that keep privileges in the generated migration. */
export function holdsPrivileges(statementKinds: readonly string[]): boolean {
  return statementKinds.some((k) => PRIVILEGE_STATEMENTS.has(k));
}
