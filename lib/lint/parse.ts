/** A migration file parsed for lint: each statement with its tree, its text and its 1-based position in characters. */
import { loadParser, locate, parseFile, type ParseTree } from '../migrations/sql.js';
import type { Node } from './tree.js';
import type { LintStatement } from './types.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

export interface ParsedStatement extends LintStatement {
  sql: string;
  line: number;
  col: number;
}

export type ParsedText =
  | { statements: ParsedStatement[]; syntaxError: null; position: ReturnType<typeof bytePositions> }
  | { statements: null; syntaxError: { message: string; line: number; col: number } };

/**
 * 1-based line and character column of a UTF-8 byte offset (parse-tree locations are bytes). The line
 * starts are found once, so a file of tens of thousands of statements costs one pass, not one per statement.
 */
export function bytePositions(text: string): (byteOffset: number) => { line: number; col: number } {
  return positionsIn(text, Buffer.from(text, 'utf8'));
}

/** bytePositions with the text's UTF-8 bytes already at hand (kept out of the published types: Buffer is Node's). */
function positionsIn(text: string, bytes: Buffer): (byteOffset: number) => { line: number; col: number } {
  const lineStarts = [0];
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lineStarts.push(i + 1);
  const ascii = bytes.length === text.length;
  return (offset) => {
    let lo = 0;
    for (let hi = lineStarts.length - 1; lo < hi;) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid; else hi = mid - 1;
    }
    const start = lineStarts[lo]!;
    const col = (ascii ? offset - start : bytes.subarray(start, offset).toString('utf8').length) + 1;
    return { line: lo + 1, col };
  };
}

/** Byte offset of a 0-based line and a byte column within it (Squawk's positions). */
export function lineByteOffset(text: string, line: number, byteColumn: number): number {
  let start = 0;
  for (let i = 0; i < line; i++) {
    const next = text.indexOf('\n', start);
    if (next === -1) break;
    start = next + 1;
  }
  return Buffer.byteLength(text.slice(0, start), 'utf8') + byteColumn;
}

/** `tree`: the parser's tree of this very text when the caller already has it (up's runner does); else it is parsed here. */
export function parseText(lib: Parser, text: string, given?: ParseTree): ParsedText {
  let tree: { stmts?: { stmt?: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = (given ?? parseFile(lib, text)) as typeof tree;
  } catch (error) {
    const details = (error as { sqlDetails?: { message: string; cursorPosition: number } }).sqlDetails;
    const { line, column } = locate(text, details?.cursorPosition ?? 0);
    return { statements: null, syntaxError: { message: details?.message ?? (error as Error).message, line, col: column } };
  }
  const bytes = Buffer.from(text, 'utf8');
  const position = positionsIn(text, bytes);
  const statements = (tree.stmts ?? []).map((raw): ParsedStatement => {
    const location = raw.stmt_location ?? 0;
    const kind = Object.keys(raw.stmt ?? {})[0] ?? 'Unknown';
    const sql = bytes.subarray(location, raw.stmt_len ? location + raw.stmt_len : bytes.length).toString('utf8');
    return { kind, node: (raw.stmt?.[kind] ?? {}) as Node, location, sql, ...position(location) };
  });
  return { statements, syntaxError: null, position };
}
