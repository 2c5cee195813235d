/**
 * The desired schema: plain SQL in one file (config `schemaFile`, default schema.sql) or in a folder
 * of .sql files read in name order. It is checked with the parser like a migration and built on a
 * scratch database; a SQL error is reported as file:line:column with a caret, like a failed migration.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { normalizeText } from '../migrations/checksum.js';
import { StatementFailed, type Db } from '../db/index.js';
import { Refused, SqlmigError, UsageError } from '../errors.js';
import { prepareScript, type Script } from '../migrations/script.js';
import { createdExtensions } from '../migrations/sql.js';
import { describeSqlError } from '../migrations/sqlerror.js';
import { refuseOutsideSchema } from './schemafile-guard.js';

export interface SchemaSource {
  /** The file or folder as given, as the user would type it. */
  display: string;
  scripts: Script[];
}

/** Read and check the schema file (or folder). Missing: a usage error naming --schema-file and the config key. */
export async function readSchemaSource(path: string): Promise<SchemaSource> {
  const display = shown(path);
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path, { withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.sql')).map((e) => join(path, e.name)).sort()
      : [path];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read the schema file ${display}: ${(error as Error).message}`);
    throw new UsageError(
      `no schema file: ${display} does not exist. diff compares the migrations with the desired schema written there as plain SQL; ` +
      'write it, or name another file (or a folder of .sql files) with --schema-file, or set "schemaFile" in the "sqlmig" key of package.json.',
    );
  }
  if (files.length === 0) throw new UsageError(`the schema folder ${display} holds no .sql file; put the desired schema there, or name a file with --schema-file`);
  // The same rules as a migration file's (psql meta-commands, COPY from the client…): one place decides.
  const scripts = await Promise.all(files.map((file): Promise<Script> =>
    prepareScript({ path: shown(file), text: withoutRestrictLines(normalizeText(readFileSync(file, 'utf8'))), noTransaction: true, direction: 'up' })));
  await refuseOutsideSchema(scripts);
  return { display, scripts };
}

/** Extensions the schema creates: an embedded scratch database must load them from the start. */
export function schemaExtensions(source: SchemaSource): string[] {
  return source.scripts.flatMap((s) => (s.statements ? createdExtensions(s.statements) : []));
}

/** The node types of its statements, e.g. "CreateStmt", "GrantStmt". */
export function schemaStatementKinds(source: SchemaSource): string[] {
  return source.scripts.flatMap((s) => s.statements?.map((x) => x.kind) ?? []);
}

/** Run the schema on a scratch database, statement by statement; a failure names file:line:column. */
export async function buildSchema(db: Db, source: SchemaSource): Promise<void> {
  for (const script of source.scripts) {
    const statements = script.statements?.map((s) => s.sql) ?? [script.text];
    try {
      await db.runStatements(statements);
    } catch (error) {
      if (!(error instanceof StatementFailed)) throw error;
      if (error.cause instanceof SqlmigError) throw error.cause; // a lost connection, an interruption: not the file's fault
      const hint = await inliningHint(db, error.cause);
      throw new Refused(`${describeSqlError(script, script.statements ? error.index : null, error.cause)}\n${hint}${script.path} does not build on the scratch database; nothing was written.`, { cause: error.cause });
    }
  }
}

/**
 * pg_dump's preamble empties search_path for the whole file, so when PostgreSQL inlines an SQL function
 * (an index expression, say) it reads the function's body with no schema on the path: a name in it that
 * is not schema-qualified is not found. psql fails on the same file in the same way; say why, and the fix.
 */
async function inliningHint(db: Db, cause: unknown): Promise<string> {
  const where = String((cause as { where?: unknown })?.where ?? '');
  const fn = /SQL function "([^"]+)" during inlining/.exec(where)?.[1];
  if (!fn) return '';
  const [row] = await db.query<{ path: string }>('select current_setting($1) as path', ['search_path']).catch(() => []);
  if (row && row.path !== '' && row.path !== '""') return '';
  return `The schema file sets search_path to '' (as pg_dump's preamble does), so PostgreSQL reads the body of SQL function ${fn} with no schema ` +
    'on the path when it inlines it here, and a name in the body that is not schema-qualified is not found; psql fails on this file the same way. ' +
    `Fix the function where it is defined (the database you dumped, or this file): qualify the names in its body (public.…), or give it SET search_path = public; then dump again.\n`;
}

/**
 * pg_dump (15.14+, 16.10+, 17.6+) brackets its output with `\restrict KEY` / `\unrestrict KEY`: they only
 * guard psql against meta-commands injected into the dump, so they are blanked (lines keep their numbers).
 * Every other meta-command is still refused, as in a migration.
 */
export function withoutRestrictLines(text: string): string {
  return text.replace(/^[ \t]*\\(?:un)?restrict[ \t]+\S+[ \t]*$/gm, '');
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}
