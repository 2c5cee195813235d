/**
 * Rewriting one statement's text with the real scanner's tokens (libpg-query): split an ALTER TABLE
 * into its subcommands, insert a keyword after another. Offsets are UTF-8 bytes, as in parse trees.
 */
import type { loadParser } from '../migrations/sql.js';
import { quoteIdent } from '../runner/history.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

interface Token { start: number; end: number; text: string }

function tokens(lib: Parser, sql: string): Token[] {
  return lib.scanSync(sql).tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
}

const slice = (bytes: Buffer, from: number, to = bytes.length) => bytes.subarray(from, to).toString('utf8').trim();

/**
 * `ALTER TABLE [IF EXISTS] [ONLY] name` and each subcommand's text, split at the commas outside parentheses.
 * `relationAt` is the byte offset of the table's name (the RangeVar's location). null when the count does not match.
 */
export interface CommandText { text: string; start: number; end: number }

export function splitAlter(lib: Parser, sql: string, relationAt: number, expected: number): { head: string; commands: CommandText[] } | null {
  const bytes = Buffer.from(sql, 'utf8');
  const all = tokens(lib, sql);
  let i = all.findIndex((t) => t.start >= relationAt);
  if (i < 0) return null;
  i++;
  while (all[i]?.text === '.' && all[i + 1]) i += 2;
  if (all[i]?.text === '*') i++;
  const headEnd = all[i - 1]!.end;
  const commands: CommandText[] = [];
  let depth = 0;
  let from = headEnd;
  for (; i < all.length; i++) {
    const t = all[i]!;
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && (t.text === ',' || t.text === ';')) {
      commands.push({ text: slice(bytes, from, t.start), start: from, end: t.start });
      from = t.end;
      if (t.text === ';') break;
    }
  }
  if (from < bytes.length && slice(bytes, from) !== '') commands.push({ text: slice(bytes, from), start: from, end: bytes.length });
  return commands.length === expected ? { head: slice(bytes, 0, headEnd), commands } : null;
}

/** The statement with `insert` placed after its first token spelled `keyword` (case-insensitive). */
export function insertAfter(lib: Parser, sql: string, keyword: string, insert: string): string | null {
  const bytes = Buffer.from(sql, 'utf8');
  const at = tokens(lib, sql).find((t) => t.text.toLowerCase() === keyword);
  if (!at) return null;
  return `${bytes.subarray(0, at.end).toString('utf8')} ${insert}${bytes.subarray(at.end).toString('utf8')}`;
}

/**
 * CREATE [UNIQUE] INDEX as CREATE [UNIQUE] INDEX CONCURRENTLY `name` ON …: the statement's own name (and
 * IF NOT EXISTS) replaced, the rest as written. null when the tokens are not in that shape.
 */
export function concurrentIndexStatement(lib: Parser, sql: string, name: string): string | null {
  const bytes = Buffer.from(sql, 'utf8');
  const all = tokens(lib, sql);
  const index = all.findIndex((t) => t.text.toLowerCase() === 'index');
  if (index < 0) return null;
  const on = all.findIndex((t, i) => i > index && t.text.toLowerCase() === 'on');
  if (on < 0) return null;
  return `${bytes.subarray(0, all[index]!.end).toString('utf8')} concurrently ${quoteIdent(name)} ${bytes.subarray(all[on]!.start).toString('utf8')}`;
}

/**
 * CREATE [UNIQUE] INDEX as the same index under `name` on another relation: `ON ONLY parent` (the
 * partitioned index, built empty) or `CONCURRENTLY … ON partition`. The rest (USING, keys, INCLUDE,
 * WHERE…) as written. null when the tokens are not in that shape.
 */
export function indexStatementOn(lib: Parser, sql: string, name: string, relation: string, how: 'only' | 'concurrently'): string | null {
  const bytes = Buffer.from(sql, 'utf8');
  const all = tokens(lib, sql);
  const index = all.findIndex((t) => t.text.toLowerCase() === 'index');
  let i = all.findIndex((t, k) => k > index && t.text.toLowerCase() === 'on');
  if (index < 0 || i < 0) return null;
  i++;
  if (all[i]?.text.toLowerCase() === 'only') i++;
  i++; // the table's name
  while (all[i]?.text === '.' && all[i + 1]) i += 2;
  const rest = all[i] ? bytes.subarray(all[i]!.start).toString('utf8') : '';
  const head = bytes.subarray(0, all[index]!.end).toString('utf8');
  return how === 'only' ? `${head} ${quoteIdent(name)} on only ${relation} ${rest}` : `${head} concurrently ${quoteIdent(name)} on ${relation} ${rest}`;
}

/** The identifiers a statement mentions, as PostgreSQL folds them (unquoted: lower case). */
export function mentionedNames(lib: Parser, sql: string): Set<string> {
  const found = new Set<string>();
  for (const t of tokens(lib, sql)) {
    if (t.text.startsWith('"') && t.text.endsWith('"')) found.add(t.text.slice(1, -1).replace(/""/g, '"'));
    else found.add(t.text.toLowerCase());
  }
  return found;
}

/** Text from a byte offset to another (or the end), trimmed, trailing semicolon dropped. */
export function textBetween(sql: string, from: number, to?: number): string {
  return slice(Buffer.from(sql, 'utf8'), from, to).replace(/;\s*$/, '').trim();
}

export function qualified(key: string): string {
  const [schema, ...rest] = key.split('.');
  return `${quoteIdent(schema!)}.${quoteIdent(rest.join('.'))}`;
}

export { quoteIdent };

/** PostgreSQL's makeObjectName: name1_name2_label cut to 63 bytes by shortening the longer part first. */
export function objectName(name1: string, name2: string | null, label: string): string {
  let [a, b] = [name1, name2 ?? ''];
  const total = () => Buffer.byteLength(a) + (b ? Buffer.byteLength(b) + 1 : 0) + Buffer.byteLength(label) + 1;
  while (total() > 63) {
    if (Buffer.byteLength(a) >= Buffer.byteLength(b)) a = a.slice(0, -1);
    else b = b.slice(0, -1);
  }
  return [a, b, label].filter(Boolean).join('_');
}

/** A name for a helper object: always `sqlmig_tmp_…`, so that a run after a kill -9 finds and removes it. */
export function helperName(kind: string, ...parts: string[]): string {
  return objectName(`sqlmig_tmp_${kind}`, parts.join('_'), 'x').replace(/_x$/, '');
}
