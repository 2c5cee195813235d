/**
 * A schema file describes a schema, and it is built on a scratch database of the user's own server
 * with the --url role's rights. Before anything runs, refuse every statement that acts outside that
 * scratch database or outside the database altogether: databases, roles, tablespaces, the server's
 * configuration, files and programs of the server, connections to other servers, and top-level code
 * (DO, CALL, SELECT of anything but the helpers pg_dump writes).
 */
import { Refused } from '../errors.js';
import { loadParser, splitStatements } from '../migrations/sql.js';
import type { Script } from '../migrations/script.js';

/** Statement kinds that reach beyond one database's schema, with why. */
const refusedKinds: Record<string, string> = {
  CreatedbStmt: 'it creates a database',
  DropdbStmt: 'it drops a database',
  AlterDatabaseStmt: 'it changes a database',
  AlterDatabaseSetStmt: 'it changes a database\'s settings',
  AlterDatabaseRefreshCollStmt: 'it changes a database',
  CreateRoleStmt: 'it creates a role, which belongs to the whole server',
  AlterRoleStmt: 'it changes a role, which belongs to the whole server',
  AlterRoleSetStmt: 'it changes a role\'s settings on the whole server',
  DropRoleStmt: 'it drops a role of the whole server',
  GrantRoleStmt: 'it grants a role membership on the whole server',
  ReassignOwnedStmt: 'it reassigns objects of a role',
  DropOwnedStmt: 'it drops every object a role owns',
  CreateTableSpaceStmt: 'it creates a tablespace on the server\'s disk',
  DropTableSpaceStmt: 'it drops a tablespace',
  AlterTableSpaceOptionsStmt: 'it changes a tablespace',
  AlterSystemStmt: 'it changes the server\'s configuration for every database',
  LoadStmt: 'it loads a shared library into the server',
  DoStmt: 'it runs code, not a schema definition',
  CallStmt: 'it runs a procedure, not a schema definition',
  CreateSubscriptionStmt: 'it connects to another server',
  AlterSubscriptionStmt: 'it connects to another server',
  DropSubscriptionStmt: 'it acts on a subscription to another server',
  CreateForeignServerStmt: 'it defines a connection to another server',
  AlterForeignServerStmt: 'it changes a connection to another server',
  CreateUserMappingStmt: 'it stores credentials for another server',
  AlterUserMappingStmt: 'it stores credentials for another server',
  ImportForeignSchemaStmt: 'it connects to another server',
  CheckPointStmt: 'it acts on the whole server',
  ListenStmt: 'it is session state, not schema',
  NotifyStmt: 'it signals other sessions',
  VacuumStmt: 'it is maintenance, not schema',
  ClusterStmt: 'it is maintenance, not schema',
  ReindexStmt: 'it is maintenance, not schema',
  ExplainStmt: 'it runs a query, not a schema definition',
  ExecuteStmt: 'it runs a prepared statement',
};

/** Functions a top-level SELECT may call: what pg_dump writes in its preamble and for sequences. */
const allowedCalls = new Set(['set_config', 'setval', 'pg_catalog.set_config', 'pg_catalog.setval']);

/** Functions refused anywhere in a statement: they reach files, programs, other sessions or servers. */
const refusedCall = /^(pg_catalog\.)?(lo_import|lo_export|pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_stat_file|pg_file_\w+|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_promote|pg_switch_wal|pg_create_\w*_replication_slot|pg_drop_replication_slot|pg_logical_\w+|pg_sleep\w*|dblink\w*|pg_advisory\w*|pg_notify)$|^dblink\w*\./;

type Node = Record<string, unknown>;

/** Throw Refused (exit 3) naming file:line:col, the statement and why, for the first statement that may not be in a schema file. */
export async function refuseOutsideSchema(scripts: readonly Script[]): Promise<void> {
  const lib = await loadParser();
  const problems: string[] = [];
  for (const script of scripts) {
    if (script.statements === null) {
      // Never sent whole: the part before the syntax error could run.
      const error = splitStatements(lib, script.text).syntaxError;
      throw new Refused(`${script.path}:${error?.line ?? 1}:${error?.column ?? 1}: ${error?.message ?? 'the SQL parser rejected this file'}\nFix the syntax error in the schema file; nothing ran.`);
    }
    for (const statement of script.statements) {
      const tree = lib.parseSync(statement.sql) as { stmts?: { stmt?: Node }[] };
      const node = tree.stmts?.[0]?.stmt ?? {};
      const kind = Object.keys(node)[0] ?? 'Unknown';
      const why = reason(kind, node[kind] as Node);
      if (!why) continue;
      const first = statement.sql.trim().split('\n')[0]!.slice(0, 120);
      problems.push(`${script.path}:${statement.line}:${statement.column}: ${first}\n  refused: ${why}. A schema file may only define the schema of one database (tables, types, functions, views, grants…).`);
    }
  }
  if (problems.length) {
    throw new Refused(`${problems.join('\n')}\nThe schema file runs on a scratch database of your server with your role's rights; remove ${problems.length === 1 ? 'that statement' : 'those statements'} from it (a migration may still hold them). Nothing ran.`);
  }
}

function reason(kind: string, node: Node): string | null {
  const byKind = refusedKinds[kind];
  if (byKind) return byKind;
  if (kind === 'CopyStmt' && (node['filename'] || node['is_program'])) {
    return node['is_program'] ? 'COPY … PROGRAM runs a shell command as the server\'s operating-system user' : 'COPY with a file name reads or writes a file of the server';
  }
  if (kind === 'VariableSetStmt' && (node as { kind?: string })['kind'] === 'VAR_RESET_ALL') return null;
  const calls = functionCalls(node);
  const bad = calls.find((c) => refusedCall.test(c));
  if (bad) return `it calls ${bad}(), which reaches beyond the scratch database`;
  if (kind === 'SelectStmt') {
    const other = calls.find((c) => !allowedCalls.has(c));
    if ((node as { fromClause?: unknown })['fromClause']) return 'a top-level SELECT runs a query, not a schema definition';
    if (other) return `a top-level SELECT of ${other}() runs code; only ${[...allowedCalls].filter((c) => !c.includes('.')).join(', ')} (as pg_dump writes them) may be called`;
  }
  return null;
}

/** Every function name called anywhere in a parse tree, schema-qualified as written, lower case. */
function functionCalls(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) functionCalls(item, out);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node as Node)) {
      if (key === 'FuncCall') {
        const names = ((value as { funcname?: { String?: { sval?: string } }[] }).funcname ?? []).map((n) => n.String?.sval ?? '');
        out.push(names.join('.').toLowerCase());
      }
      functionCalls(value, out);
    }
  }
  return out;
}
