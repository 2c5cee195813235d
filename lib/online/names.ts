/** The names PostgreSQL would choose for what a statement leaves unnamed, so the online form builds the same. */
import type { KnownSchema } from '../lint/known.js';
import { as, names, type Node } from '../lint/tree.js';
import { objectName } from './text.js';

const relname = (table: string) => table.split('.').slice(1).join('.');

/** ChooseIndexName: table_col1_col2_idx (an expression column is "expr"), numbered when taken. */
export function chooseIndexName(table: string, index: Node, known: KnownSchema): string {
  const columns = ((index['indexParams'] as Node[] | undefined) ?? []).map((p) => (as(p, 'IndexElem')?.['name'] as string | undefined) ?? 'expr');
  const schema = table.split('.')[0]!;
  for (let pass = 0; ; pass++) {
    const name = objectName(relname(table), columns.join('_'), pass ? `idx${pass}` : 'idx');
    if (!known.indexes.has(`${schema}.${name}`)) return name;
  }
}

/** The name ADD CONSTRAINT gives a constraint without one. */
export function chooseConstraintName(table: string, constraint: Node): string {
  switch (constraint['contype']) {
    case 'CONSTR_FOREIGN': return objectName(relname(table), names(constraint['fk_attrs']).join('_'), 'fkey');
    case 'CONSTR_PRIMARY': return objectName(relname(table), null, 'pkey');
    case 'CONSTR_UNIQUE': return objectName(relname(table), names(constraint['keys']).join('_'), 'key');
    default: return objectName(relname(table), firstColumn(constraint['raw_expr']), 'check');
  }
}

/** The first column an expression mentions, walking it in order (as PostgreSQL's pull_var_clause does). */
function firstColumn(node: unknown): string | null {
  if (!node || typeof node !== 'object') return null;
  const ref = as(node, 'ColumnRef');
  if (ref) return names(ref['fields']).at(-1) ?? null;
  for (const value of Object.values(node as Node)) {
    const found = firstColumn(value);
    if (found) return found;
  }
  return null;
}
