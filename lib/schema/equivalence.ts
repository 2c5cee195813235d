/**
 * Two texts from the catalog that differ, but not in a way a query can see, decided token by token
 * with PostgreSQL's own scanner (libpg-query):
 * - a folded time: PostgreSQL evaluates `'now'::timestamp` (also 'today', 'tomorrow', …) once, when
 *   CREATE VIEW or a DEFAULT is run, and stores the literal time; the same statement run twice gives
 *   two definitions that differ only in that literal;
 * - whitespace (and only whitespace) in the body of an SQL or PL/pgSQL function, as when a down puts
 *   back the previous body re-indented.
 */
import { loadParser } from '../migrations/sql.js';

export interface Equivalence {
  /** Same tokens, except date/time literals cast to a date/time type. */
  onlyFoldedTimes(was: string, now: string): boolean;
  /** Same tokens, also inside the dollar-quoted body of an SQL or PL/pgSQL function. */
  onlyWhitespace(was: string, now: string): boolean;
}

type Token = { text: string; tokenName: string };

export async function loadEquivalence(): Promise<Equivalence> {
  const lib = await loadParser();
  const scan = (text: string): Token[] => lib.scanSync(text).tokens;
  return {
    onlyFoldedTimes: (was, now) => same(() => foldedTimes(scan(was)), () => foldedTimes(scan(now))),
    onlyWhitespace: (was, now) => same(() => bodyTokens(scan, was), () => bodyTokens(scan, now)),
  };
}

/** The scanner throws on text it cannot read (an unterminated literal): then they are not the same. */
function same(a: () => string[], b: () => string[]): boolean {
  try {
    const x = a();
    const y = b();
    return x.length === y.length && x.every((t, i) => t === y[i]);
  } catch {
    return false;
  }
}

const TIME_TYPES = new Set(['timestamp', 'timestamptz', 'date', 'time', 'timetz']);
const TIME_LITERAL = /^'(\d{4,}-\d\d-\d\d|\d\d:\d\d|-?infinity')/;

/** Token texts, with each `'<date/time>'::<date/time type>` literal replaced by a placeholder. */
function foldedTimes(tokens: Token[]): string[] {
  return tokens.map((t, i) => {
    const cast = tokens[i + 1];
    const type = tokens[i + 2]?.text.toLowerCase() ?? '';
    const isTime = t.tokenName === 'SCONST' && cast?.tokenName === 'TYPECAST' && TIME_TYPES.has(type) && TIME_LITERAL.test(t.text);
    return isTime ? "'<time>'" : t.text;
  });
}

/**
 * Token texts of a function definition, its SQL or PL/pgSQL body replaced by the body's own tokens.
 * Strings inside the body stay whole: `'a  b'` or `$q$…$q$` may be data, where whitespace counts.
 */
function bodyTokens(scan: (text: string) => Token[], definition: string): string[] {
  const tokens = scan(definition);
  const language = tokens.findIndex((t) => t.text.toLowerCase() === 'language');
  const name = tokens[language + 1]?.text.toLowerCase().replace(/"/g, '');
  const code = language !== -1 && (name === 'sql' || name === 'plpgsql');
  return tokens.flatMap((t) => {
    const body = code && t.tokenName === 'SCONST' ? dollarBody(t.text) : null;
    return body === null ? [comment(t)] : ['$(', ...scan(body).map(comment), ')$'];
  });
}

/** The text inside `$tag$ … $tag$`, or null for another kind of string. */
function dollarBody(literal: string): string | null {
  const tag = /^\$[^$]*\$/.exec(literal)?.[0];
  return tag && literal.endsWith(tag) && literal.length >= tag.length * 2 ? literal.slice(tag.length, literal.length - tag.length) : null;
}

/** A `--` comment's token holds the line's trailing blanks. */
function comment(t: Token): string {
  return t.tokenName === 'SQL_COMMENT' ? t.text.trimEnd() : t.text;
}
