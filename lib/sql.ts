/**
 * Splitting and locating SQL with the real PostgreSQL parser (libpg-query, WASM).
 * Loaded lazily: it costs a WASM compile, so only commands that run or inspect files pay for it.
 */
import { Refused } from './errors.js';

type LibPgQuery = typeof import('libpg-query');
let parser: Promise<LibPgQuery> | undefined;

export function loadParser(): Promise<LibPgQuery> {
  parser ??= import('libpg-query').then(async (lib) => {
    await lib.loadModule();
    return lib;
  });
  return parser;
}

export interface Statement {
  sql: string;
  /** Character offset of the statement's first token in the file text. */
  offset: number;
  line: number;
  column: number;
  /** The statement's node type, e.g. "CreateStmt", "IndexStmt". */
  kind: string;
  /** CREATE EXTENSION: the extension's name (PGlite must load it first). */
  extension?: string;
}

export interface ParsedScript {
  /** null when the parser rejects the text: the server then reports the error with its position. */
  statements: Statement[] | null;
  syntaxError: { message: string; line: number; column: number } | null;
}

/** Line and column (1-based) of a character offset. */
export function locate(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Refuse psql meta-commands (`\i`, `\set`, …): they are not SQL and the server would choke mid-file. */
export function checkMetaCommands(lib: LibPgQuery, text: string, file: string): void {
  if (!text.includes('\\')) return; // no backslash, no meta-command: skip the scan (it costs as much as a parse)
  const bytes = Buffer.from(text, 'utf8');
  for (const token of lib.scanSync(text).tokens) {
    if (token.text !== '\\') continue;
    const offset = bytes.subarray(0, token.start).toString('utf8').length;
    const { line, column } = locate(text, offset);
    const command = text.slice(offset).split(/\s/, 1)[0];
    throw new Refused(`${file}:${line}:${column}: psql meta-command ${command} is not SQL; sqlmig sends files to the server as they are. Inline the SQL instead.`);
  }
}

/** Split a file into statements, each with its position, using the PostgreSQL grammar. */
export function splitStatements(lib: LibPgQuery, text: string): ParsedScript {
  let tree;
  try {
    tree = lib.parseSync(text);
  } catch (error) {
    const details = (error as { sqlDetails?: { message: string; cursorPosition: number } }).sqlDetails;
    const position = details?.cursorPosition ?? 0;
    return {
      statements: null,
      syntaxError: { message: details?.message ?? (error as Error).message, ...locate(text, position) },
    };
  }
  const bytes = Buffer.from(text, 'utf8');
  const statements = (tree.stmts ?? []).map((raw) => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const offset = bytes.subarray(0, start).toString('utf8').length;
    const sql = bytes.subarray(start, end).toString('utf8');
    // Keep only what later steps need: whole parse trees of thousands of files would cost memory for nothing.
    const node = (raw.stmt ?? {}) as Record<string, { extname?: string }>;
    const kind = Object.keys(node)[0] ?? 'Unknown';
    const extension = node['CreateExtensionStmt']?.extname;
    return { sql, offset, ...locate(text, offset), kind, ...(extension ? { extension } : {}) };
  });
  return { statements, syntaxError: null };
}

/** Names of extensions that a script's `CREATE EXTENSION` statements install. */
export function createdExtensions(statements: Statement[]): string[] {
  return statements.flatMap((s) => (s.extension ? [s.extension] : []));
}
