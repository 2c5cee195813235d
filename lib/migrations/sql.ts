/**
 * Splitting and locating SQL with the real PostgreSQL parser (libpg-query, WASM).
 * Loaded lazily: it costs a WASM compile, so only commands that run or inspect files pay for it.
 */
import { sessionEffect, type SessionEffect, type SessionNode } from './session-effects.js';
import type { ScanToken } from 'libpg-query';
import { createRequire } from 'node:module';
import { preferBaselineWasmCompiler } from './wasm.js';
import { refusedInTransaction } from './transaction-block.js';
import type { Node } from '../lint/tree.js';

type LibPgQuery = typeof import('libpg-query');
let parser: Promise<LibPgQuery> | undefined;

export function loadParser(): Promise<LibPgQuery> {
  preferBaselineWasmCompiler(); // also when no database is opened (lint, validate without a url)
  parser ??= (async () => {
    // The package is CommonJS. Loaded through import(), Node's ES module loader first scans it and the
    // type package it re-exports for their export names, and its WebAssembly took longer to start:
    // ~59 → ~34 ms to the first parse (alternating runs, medians of 5, Node 20).
    const lib = createRequire(import.meta.url)('libpg-query') as LibPgQuery;
    await lib.loadModule();
    return lib;
  })();
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
  /** A top-level transaction-control statement: "begin", "start", "commit", "rollback", "savepoint", "release", "rollback_to", "prepare", … */
  transaction?: string;
  /** COPY that moves data from or to the client, which a migration runner cannot do. */
  copy?: 'from stdin' | 'to stdout';
  /** What it leaves in the session past the end of its transaction, or clears of it (null names: all). */
  session?: SessionEffect;
  /** What in it PostgreSQL refuses inside a transaction block ("CREATE INDEX CONCURRENTLY", "VACUUM", …). */
  outsideTransaction?: string;
}

export type { SessionObject } from './session-effects.js';

export interface ParsedScript {
  /** null when the parser rejects the text: the server then reports the error with its position. */
  statements: Statement[] | null;
  syntaxError: { message: string; offset: number; line: number; column: number } | null;
  /** The parser's whole tree, only when asked for (`keepTree`): lint reads it instead of parsing the file again. */
  tree?: ParseTree;
}

/** What `parseSync` returns: each top-level statement's node and its UTF-8 byte range. */
export interface ParseTree { stmts?: { stmt?: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[] }

/** Line and column (1-based) of a character offset. */
export function locate(text: string, offset: number): { line: number; column: number } {
  return new TextCursor(text).locate(offset);
}

/**
 * Walks a text forwards once: turns the parser's UTF-8 byte offsets into character offsets and
 * those into line and column. Offsets must be asked in increasing order; each byte and each line
 * is looked at once, so locating every statement of a file costs one pass over it.
 */
class TextCursor {
  private byte = 0;
  private char = 0;
  private line = 1;
  private lineStart = 0;
  private counted = 0;
  private readonly bytes: Buffer | null;

  constructor(private readonly text: string, bytes?: Buffer) {
    // ASCII text: bytes and characters are the same offsets, nothing to decode.
    this.bytes = bytes && bytes.length !== text.length ? bytes : null;
  }

  charOffset(byte: number): number {
    if (!this.bytes) return byte;
    if (byte < this.byte) throw new Error('TextCursor: offsets must increase');
    this.char += this.bytes.subarray(this.byte, byte).toString('utf8').length;
    this.byte = byte;
    return this.char;
  }

  locate(offset: number): { line: number; column: number } {
    if (offset < this.counted) throw new Error('TextCursor: offsets must increase');
    for (let i = this.text.indexOf('\n', this.counted); i !== -1 && i < offset; i = this.text.indexOf('\n', i + 1)) {
      this.line++;
      this.lineStart = i + 1;
    }
    this.counted = offset;
    return { line: this.line, column: offset - this.lineStart + 1 };
  }
}

type StatementNode = Record<string, { extname?: string; kind?: string; filename?: string; is_program?: boolean; is_from?: boolean } & SessionNode>;

/**
 * The parser's tree of a whole file. An empty file has no statements, like one of whitespace or comments:
 * the parser alone calls it an error ("Query cannot be empty"), which made a 0-byte up run as a no-op.
 */
export function parseFile(lib: LibPgQuery, text: string): ParseTree {
  return text === '' ? { stmts: [] } : (lib.parseSync(text) as ParseTree);
}

/** Split a file into statements, each with its position, using the PostgreSQL grammar. Linear in the file's size. */
export function splitStatements(lib: LibPgQuery, text: string, options: { keepTree?: boolean } = {}): ParsedScript {
  let tree: ParseTree;
  try {
    tree = parseFile(lib, text);
  } catch (error) {
    const details = (error as { sqlDetails?: { message: string; cursorPosition: number } }).sqlDetails;
    const offset = details?.cursorPosition ?? 0;
    return {
      statements: null,
      syntaxError: { message: details?.message ?? (error as Error).message, offset, ...locate(text, offset) },
    };
  }
  const bytes = Buffer.from(text, 'utf8');
  const cursor = new TextCursor(text, bytes);
  const statements = (tree.stmts ?? []).map((raw): Statement => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const offset = cursor.charOffset(start);
    const sql = text.slice(offset, cursor.charOffset(end));
    // Keep only what later steps need: whole parse trees of thousands of files would cost memory for nothing.
    return { sql, offset, ...cursor.locate(offset), ...describe((raw.stmt ?? {}) as StatementNode) };
  });
  return { statements, syntaxError: null, ...(options.keepTree ? { tree } : {}) };
}

function describe(node: StatementNode): Pick<Statement, 'kind' | 'extension' | 'transaction' | 'copy' | 'session' | 'outsideTransaction'> {
  const kind = Object.keys(node)[0] ?? 'Unknown';
  const extension = node['CreateExtensionStmt']?.extname;
  const transaction = node['TransactionStmt']?.kind?.replace(/^TRANS_STMT_/, '').toLowerCase();
  const copyNode = node['CopyStmt'];
  const copy = copyNode && !copyNode.filename && !copyNode.is_program ? (copyNode.is_from ? 'from stdin' : 'to stdout') : undefined;
  const session = sessionEffect(kind, node[kind] ?? {});
  const outsideTransaction = refusedInTransaction(kind, (node[kind] ?? {}) as Node);
  return {
    kind, ...(extension ? { extension } : {}), ...(transaction ? { transaction } : {}), ...(copy ? { copy } : {}), ...(session ? { session } : {}),
    ...(outsideTransaction ? { outsideTransaction } : {}),
  };
}

/** What is not SQL in a text the parser rejected, when that explains it. */
export type ClientOnly =
  | { what: 'meta-command'; command: string; offset: number; line: number; column: number }
  | { what: 'copy'; copy: 'from stdin' | 'to stdout'; offset: number; line: number; column: number };

/**
 * Find the first psql-only part of a text the parser rejected: a meta-command (`\i`, `\set`, …)
 * or a `COPY … FROM STDIN` (whose inline data and `\.` follow it, so the COPY comes first).
 * `errorOffset` is where the parser stopped: if the text cannot even be tokenized to its end
 * (inline data with a lone quote), the part before that is scanned.
 */
export function findClientOnly(lib: LibPgQuery, text: string, errorOffset: number): ClientOnly | null {
  if (!text.includes('\\') && !/copy/i.test(text)) return null; // neither can be there: skip the scan
  const bytes = Buffer.from(text, 'utf8');
  const tokens = scanTokens(lib, text, errorOffset);
  let atStart = true;
  for (const [i, token] of tokens.entries()) {
    if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT') continue;
    const at = () => {
      const offset = bytes.subarray(0, token.start).toString('utf8').length;
      return { offset, ...locate(text, offset) };
    };
    if (token.text === '\\') {
      const where = at();
      return { what: 'meta-command', command: text.slice(where.offset).split(/\s/, 1)[0]!, ...where };
    }
    if (atStart && token.text.toLowerCase() === 'copy') {
      const end = tokens.slice(i).find((t) => t.text === ';')?.end ?? bytes.length;
      const copy = clientCopy(lib, bytes.subarray(token.start, end).toString('utf8'));
      if (copy) return { what: 'copy', copy, ...at() };
    }
    atStart = token.text === ';';
  }
  return null;
}

function scanTokens(lib: LibPgQuery, text: string, errorOffset: number): ScanToken[] {
  const lineEnd = text.indexOf('\n', errorOffset);
  for (const end of [text.length, lineEnd === -1 ? text.length : lineEnd, errorOffset]) {
    try {
      return lib.scanSync(text.slice(0, end)).tokens;
    } catch {
      // the scanner gave up (e.g. an unterminated quote in COPY data): try a shorter prefix
    }
  }
  return [];
}

function clientCopy(lib: LibPgQuery, statement: string): Statement['copy'] | undefined {
  try {
    const node = (lib.parseSync(statement).stmts?.[0]?.stmt ?? {}) as StatementNode;
    return describe(node).copy;
  } catch {
    return undefined;
  }
}

/** Names of extensions that a script's `CREATE EXTENSION` statements install. */
export function createdExtensions(statements: Statement[]): string[] {
  return statements.flatMap((s) => (s.extension ? [s.extension] : []));
}
