/**
 * Pointing SQL at another column by its parse tree: every column reference (a ColumnRef, found by its
 * location, spanning its dotted name's tokens) and every plain column of an index's key, INCLUDE or a
 * foreign key's column list (found by their position in the list, which the tree gives) is replaced.
 * Text is never searched for a name: a string literal or a function spelled like the column stays.
 */
import type { loadParser } from '../migrations/sql.js';
import { as, names, type Node } from '../lint/tree.js';
import { quoteIdent } from './text.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

interface Token { start: number; end: number; text: string }
/** A byte range of the text and what goes there. */
interface Edit { start: number; end: number; text: string }

/** One column reference: its column (the last name) and what qualified it, or null for `t.*` / a whole-row reference. */
export interface ColumnReference { start: number; end: number; column: string | null; qualifiers: string[] }

function tokens(lib: Parser, sql: string): Token[] {
  return lib.scanSync(sql).tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
}

/** Every ColumnRef under `tree`, with the byte range of its tokens in `sql` (`at` maps the tree's locations into `sql`). */
export function columnReferences(lib: Parser, sql: string, tree: unknown, at: (location: number) => number = (l) => l): ColumnReference[] {
  const all = tokens(lib, sql);
  const found: ColumnReference[] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const ref = as(node, 'ColumnRef');
    if (ref) {
      const fields = (ref['fields'] as Node[]).map((f) => (as(f, 'String')?.['sval'] as string | undefined) ?? null);
      const first = all.findIndex((t) => t.start === at(ref['location'] as number));
      const last = all[first + 2 * fields.length - 2];
      if (first < 0 || !last) throw new Error(`sqlmig could not find the column reference at byte ${at(ref['location'] as number)} of: ${sql}`);
      const column = fields.at(-1) ?? null;
      found.push({ start: all[first]!.start, end: last.end, column, qualifiers: fields.slice(0, -1).filter((f): f is string => f !== null) });
      return;
    }
    for (const value of Object.values(node as Node)) walk(value);
  };
  walk(tree);
  return found;
}

/** The text with each range replaced (ranges do not overlap). */
export function applyEdits(sql: string, edits: readonly Edit[]): string {
  const bytes = Buffer.from(sql, 'utf8');
  let out = '';
  let from = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    out += bytes.subarray(from, e.start).toString('utf8') + e.text;
    from = e.end;
  }
  return out + bytes.subarray(from).toString('utf8');
}

/**
 * The plain names of a parenthesized list that follows the first token spelled `keyword` (after
 * token `after`): each element's first token, when the tree says that element is a plain column.
 */
function listNames(all: Token[], keyword: string, isColumn: readonly boolean[], after = 0): Edit[] {
  let i = all.findIndex((t, n) => n >= after && t.text.toLowerCase() === keyword);
  if (i < 0) return [];
  while (i < all.length && all[i]!.text !== '(') i++;
  const edits: Edit[] = [];
  let element = 0;
  let depth = 0;
  let startOfElement = true;
  for (i++; i < all.length; i++) {
    const t = all[i]!;
    if (depth === 0 && t.text === ')') break;
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && t.text === ',') { element++; startOfElement = true; continue; }
    if (startOfElement && isColumn[element]) edits.push({ start: t.start, end: t.end, text: t.text });
    startOfElement = false;
  }
  return edits;
}

const unquote = (text: string) => (text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text.toLowerCase());

/**
 * A CREATE INDEX statement (as pg_get_indexdef prints it) on `shadow` instead of `column`, named
 * `name`, built CONCURRENTLY: key columns, INCLUDE columns, expressions and the WHERE predicate; and
 * whether the index has a column named after the shadow (a plain key or INCLUDE column).
 */
export function indexOnShadow(lib: Parser, definition: string, column: string, shadow: string, name: string): { statement: string; namesColumn: boolean } {
  const stmt = as(lib.parseSync(definition).stmts?.[0]?.stmt, 'IndexStmt');
  if (!stmt) throw new Error(`not an index definition: ${definition}`);
  const all = tokens(lib, definition);
  const keys = ((stmt['indexParams'] as Node[] | undefined) ?? []).map((p) => as(p, 'IndexElem')?.['name'] === column);
  const including = ((stmt['indexIncludingParams'] as Node[] | undefined) ?? []).map((p) => as(p, 'IndexElem')?.['name'] === column);
  const using = all.findIndex((t) => t.text.toLowerCase() === 'using');
  const edits: Edit[] = [
    ...listNames(all, 'using', keys),
    ...(including.length ? listNames(all, 'include', including, using) : []),
    ...columnReferences(lib, definition, [stmt['indexParams'], stmt['whereClause']]).filter((r) => r.column === column),
  ].map((e) => ({ start: e.start, end: e.end, text: quoteIdent(shadow) }));
  // The keyword INDEX and the index's own name, which pg_get_indexdef prints right after it.
  const index = all.findIndex((t) => t.text.toLowerCase() === 'index');
  const own = all[index + 1]!;
  if (unquote(own.text) !== stmt['idxname']) throw new Error(`unexpected index definition: ${definition}`);
  edits.push({ start: all[index]!.start, end: own.end, text: `index concurrently ${quoteIdent(name)}` });
  // A plain key or INCLUDE column gives the index a column of the shadow's name, which the swap renames back.
  return { statement: applyEdits(definition, edits), namesColumn: keys.includes(true) || including.includes(true) };
}

/** A CHECK or FOREIGN KEY definition (as pg_get_constraintdef prints it) on `shadow` instead of `column`. */
export function constraintOnShadow(lib: Parser, definition: string, column: string, shadow: string): { definition: string; notValid: boolean; deferrable: string } {
  const wrapped = `alter table t add constraint c ${definition}`;
  const cmd = as((as(lib.parseSync(wrapped).stmts?.[0]?.stmt, 'AlterTableStmt')?.['cmds'] as Node[] | undefined)?.[0], 'AlterTableCmd');
  const c = as(cmd?.['def'], 'Constraint');
  if (!c) throw new Error(`not a constraint definition: ${definition}`);
  const all = tokens(lib, wrapped);
  const offset = Buffer.byteLength('alter table t add constraint c ');
  const edits: Edit[] = [];
  if (c['contype'] === 'CONSTR_FOREIGN') edits.push(...listNames(all, 'key', names(c['fk_attrs']).map((a) => a === column)));
  else edits.push(...columnReferences(lib, wrapped, c['raw_expr']).filter((r) => r.column === column).map((r) => ({ start: r.start, end: r.end, text: '' })));
  const text = applyEdits(wrapped, edits.map((e) => ({ ...e, text: quoteIdent(shadow) })));
  const deferrable = `${c['deferrable'] ? ' deferrable' : ''}${c['initdeferred'] ? ' initially deferred' : ''}`;
  return { definition: Buffer.from(text, 'utf8').subarray(offset).toString('utf8'), notValid: Boolean(c['skip_validation']), deferrable };
}

/** A unique or primary key constraint's DEFERRABLE / INITIALLY DEFERRED, from its pg_get_constraintdef. */
export function deferrability(lib: Parser, definition: string): string {
  return constraintOnShadow(lib, definition, '', '').deferrable;
}

/** The columns a parse tree names: IndexElem names, column lists (fk_attrs, keys, including) and ColumnRefs' last names. */
export function columnsNamed(tree: unknown): string[] {
  const found = new Set<string>();
  const walk = (node: unknown, key?: string): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      if (key === 'fk_attrs' || key === 'keys' || key === 'including') for (const name of names(node)) found.add(name);
      for (const item of node) walk(item);
      return;
    }
    const ref = as(node, 'ColumnRef');
    if (ref) { const last = names(ref['fields']).at(-1); if (last) found.add(last); }
    const elem = as(node, 'IndexElem');
    if (elem?.['name']) found.add(elem['name'] as string);
    for (const [k, value] of Object.entries(node as Node)) walk(value, k);
  };
  walk(tree);
  return [...found];
}
