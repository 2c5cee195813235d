/**
 * One view definition text for every PostgreSQL version. Up to PostgreSQL 15, pg_get_viewdef
 * qualified every column of a view's top-level SELECT (`calorie_entries.user_id`) because the stored
 * query also held the OLD/NEW pseudo-relations; from 16 on, a SELECT over a single relation prints
 * bare columns. We normalise to the newer form by deleting, in the text, the qualifier of each column
 * reference of such a SELECT (found with the real parser, so strings and comments are never touched).
 */
import { loadParser } from '../migrations/sql.js';

type Node = Record<string, unknown>;

export async function normalizeViewDefinitions(definitions: string[]): Promise<string[]> {
  if (definitions.length === 0) return definitions;
  const lib = await loadParser();
  return definitions.map((text) => {
    let normalized = normalizedCache.get(text);
    if (normalized === undefined) {
      try {
        normalized = stripSingleRelationQualifiers(text, lib.parseSync(text) as Node);
      } catch {
        normalized = text; // not parseable by this grammar: leave it as the server printed it
      }
      if (normalizedCache.size >= CACHE_LIMIT) normalizedCache.clear();
      normalizedCache.set(text, normalized);
    }
    return normalized;
  });
}

/** verify reads the same view definitions hundreds of times: parse each text once. */
const normalizedCache = new Map<string, string>();
const CACHE_LIMIT = 10_000;

export function stripSingleRelationQualifiers(text: string, tree: Node): string {
  const stmts = tree['stmts'] as { stmt?: Node }[] | undefined;
  const select = stmts?.[0]?.stmt?.['SelectStmt'] as Node | undefined;
  if (!select || select['larg'] || select['rarg']) return text;
  const from = select['fromClause'] as Node[] | undefined;
  if (!from || from.length !== 1) return text;
  const refname = refName(from[0]!);
  if (!refname) return text;
  const starts: number[] = [];
  walk(select, (ref) => {
    const fields = ref['fields'] as Node[];
    const first = (fields[0]?.['String'] as Node | undefined)?.['sval'];
    if (fields.length === 2 && first === refname && typeof ref['location'] === 'number') starts.push(ref['location']);
  });
  if (starts.length === 0) return text;
  return removeQualifiers(Buffer.from(text, 'utf8'), starts).toString('utf8');
}

function refName(item: Node): string | null {
  const range = (item['RangeVar'] ?? item['RangeSubselect'] ?? item['RangeFunction']) as Node | undefined;
  if (!range) return null;
  const alias = (range['alias'] as Node | undefined)?.['aliasname'];
  if (typeof alias === 'string') return alias;
  return item['RangeVar'] ? String(range['relname']) : null;
}

/** Visit the column references of this query level; nested SELECTs are printed qualified by every version. */
function walk(node: unknown, visit: (ref: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'ColumnRef') visit(value as Node);
    else if (key !== 'SelectStmt' && key !== 'withClause' && key !== 'RangeSubselect') walk(value, visit);
  }
}

/** Delete `qualifier.` at each byte offset (quoted or bare), last first so earlier offsets stay valid. */
function removeQualifiers(bytes: Buffer, starts: number[]): Buffer {
  let out = bytes;
  for (const start of [...new Set(starts)].sort((a, b) => b - a)) {
    const end = qualifierEnd(out, start);
    if (end !== null) out = Buffer.concat([out.subarray(0, start), out.subarray(end)]);
  }
  return out;
}

function qualifierEnd(bytes: Buffer, start: number): number | null {
  let i = start;
  const DOT = 0x2e;
  const QUOTE = 0x22;
  if (bytes[i] === QUOTE) {
    for (i++; i < bytes.length; i++) {
      if (bytes[i] === QUOTE && bytes[i + 1] === QUOTE) i++;
      else if (bytes[i] === QUOTE) break;
    }
    i++;
  } else {
    while (i < bytes.length && bytes[i] !== DOT && bytes[i] !== QUOTE && bytes[i]! > 0x20) i++;
  }
  return bytes[i] === DOT ? i + 1 : null;
}
