/**
 * DO blocks: the PL/pgSQL body is parsed (libpg-query's PL/pgSQL parser) and its plain SQL statements
 * are linted as if they stood at the DO; a body lint cannot read (EXECUTE of a built string, another
 * language, a body the parser rejects) is flagged as opaque, at warning level.
 */
import type { loadParser } from '../migrations/sql.js';
import type { Node } from './tree.js';
import type { LintStatement, RuleInfo } from './types.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

export const DO_BLOCK: RuleInfo = {
  id: 'do-block', level: 'warning', source: 'sqlmig',
  why: 'Lint cannot see what this DO block runs (a statement built as a string and EXECUTEd, or a body it cannot parse): whatever locks or rewrites it does are not checked.',
  recipe: 'Write the statements as plain SQL in the migration so they are checked; if the block must stay, review it by hand and say why it is safe with `-- sqlmig:lint-ignore do-block <reason>`.',
};

export interface DoBody { statements: LintStatement[]; opaque: string | null }

export function doBlockBody(lib: Parser, stmt: LintStatement): DoBody {
  const args = ((stmt.node['args'] as Node[] | undefined) ?? []).map((a) => a['DefElem'] as Node | undefined);
  const language = args.find((a) => a?.['defname'] === 'language')?.['arg']?.['String']?.['sval'] ?? 'plpgsql';
  const body = args.find((a) => a?.['defname'] === 'as')?.['arg']?.['String']?.['sval'] as string | undefined;
  if (language.toLowerCase() !== 'plpgsql') return { statements: [], opaque: `a DO block in ${language}` };
  if (body === undefined) return { statements: [], opaque: 'a DO block without a body' };
  let tree: unknown;
  try {
    tree = lib.parsePlPgSQLSync(`create function pg_temp.sqlmig_do() returns void language plpgsql as $sqlmig_do$${body}$sqlmig_do$`);
  } catch {
    return { statements: [], opaque: 'a DO block whose PL/pgSQL the parser rejects' };
  }
  const queries: string[] = [];
  let dynamic = false;
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Node;
    if (n['PLpgSQL_stmt_dynexecute']) dynamic = true;
    const exec = n['PLpgSQL_stmt_execsql'] as Node | undefined;
    if (exec && !exec['into']) queries.push(exec['sqlstmt']?.['PLpgSQL_expr']?.['query'] ?? '');
    for (const value of Object.values(n)) walk(value);
  };
  walk(tree);
  const statements: LintStatement[] = [];
  for (const query of queries) {
    try {
      const parsed = lib.parseSync(query) as { stmts?: { stmt?: Node }[] };
      for (const raw of parsed.stmts ?? []) {
        const kind = Object.keys(raw.stmt ?? {})[0] ?? 'Unknown';
        statements.push({ kind, node: (raw.stmt?.[kind] ?? {}) as Node, location: stmt.location });
      }
    } catch {
      dynamic = true; // a statement lint cannot parse on its own (it uses the block's variables in a way SQL does not allow)
    }
  }
  return { statements, opaque: dynamic ? 'a DO block that EXECUTEs a statement built as a string' : null };
}
