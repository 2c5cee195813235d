/**
 * Reading libpg-query parse trees: every node is `{ NodeType: { …fields } }`. Small helpers so that
 * rules read as what they check, not as JSON plumbing. Locations in the tree are UTF-8 byte offsets.
 */
/** The tree is plain JSON from the parser; its fields are read where a rule needs them. */
export type Node = Record<string, any>;

/** The fields of a wrapped node of the given type, or undefined. */
export function as(node: unknown, type: string): Node | undefined {
  return (node as Node | undefined)?.[type] as Node | undefined;
}

/** The `sval`s of a list of String nodes. */
export function names(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((n) => (as(n, 'String')?.['sval'] as string | undefined) ?? '');
}

/** A table as the rules see it: "public.users" (unqualified names are taken to be in public). */
export function tableKey(rangeVar: Node | undefined): string {
  return `${rangeVar?.['schemaname'] ?? 'public'}.${rangeVar?.['relname'] ?? '?'}`;
}

/** How to name a table in a message: as the migration wrote it. */
export function tableName(key: string): string {
  return key.startsWith('public.') ? key.slice(7) : key;
}

/** A qualified name from a list of String nodes (DROP TABLE a.b, DROP INDEX i). */
export function qualifiedKey(list: unknown): string {
  const parts = names(list);
  return parts.length > 1 ? `${parts.at(-2)}.${parts.at(-1)}` : `public.${parts[0] ?? '?'}`;
}

export interface ColumnType {
  /** The type's internal name: int4, int8, varchar, numeric, text, … */
  name: string;
  /** Type modifiers: varchar(100) → [100], numeric(10,2) → [10, 2]. */
  mods: number[];
  array: boolean;
}

const SERIALS: Record<string, string> = { serial: 'int4', serial4: 'int4', bigserial: 'int8', serial8: 'int8', smallserial: 'int2', serial2: 'int2' };
const ALIASES: Record<string, string> = { integer: 'int4', int: 'int4', bigint: 'int8', smallint: 'int2', decimal: 'numeric', boolean: 'bool', 'character varying': 'varchar', character: 'bpchar', char: 'bpchar', real: 'float4', 'double precision': 'float8' };

export function columnType(typeName: Node | undefined): ColumnType | null {
  if (!typeName) return null;
  const name = names(typeName['names']).at(-1)?.toLowerCase();
  if (!name) return null;
  const mods = ((typeName['typmods'] as Node[] | undefined) ?? []).map((m) => Number(as(m, 'A_Const')?.['ival']?.['ival'] ?? NaN));
  return { name: SERIALS[name] ?? ALIASES[name] ?? name, mods, array: Array.isArray(typeName['arrayBounds']) };
}

export function isSerial(typeName: Node | undefined): boolean {
  const name = names(typeName?.['names']).at(-1)?.toLowerCase();
  return name !== undefined && name in SERIALS;
}

const DISPLAY: Record<string, string> = { int2: 'smallint', int4: 'integer', int8: 'bigint', bool: 'boolean', bpchar: 'char', float4: 'real', float8: 'double precision' };

export function formatType(t: ColumnType): string {
  return `${DISPLAY[t.name] ?? t.name}${t.mods.length ? `(${t.mods.join(',')})` : ''}${t.array ? '[]' : ''}`;
}

/** The constraints of a column definition, unwrapped. */
export function columnConstraints(def: Node | undefined): Node[] {
  return ((def?.['constraints'] as Node[] | undefined) ?? []).map((c) => as(c, 'Constraint')).filter((c): c is Node => Boolean(c));
}

/** The ALTER TABLE subcommands, unwrapped. */
export function alterCommands(stmt: Node): Node[] {
  return ((stmt['cmds'] as Node[] | undefined) ?? []).map((c) => as(c, 'AlterTableCmd')).filter((c): c is Node => Boolean(c));
}

/** A CHECK's expression when it is exactly `column IS NOT NULL`: the column, else null. */
export function notNullCheckColumn(constraint: Node): string | null {
  if (constraint['contype'] !== 'CONSTR_CHECK') return null;
  const test = as(constraint['raw_expr'], 'NullTest');
  if (!test || test['nulltesttype'] !== 'IS_NOT_NULL') return null;
  const fields = names(as(test['arg'], 'ColumnRef')?.['fields']);
  return fields.length === 1 ? fields[0]! : null;
}

/** A generic option list (VACUUM (FULL), REINDEX (CONCURRENTLY)): is this option on? */
export function hasOption(options: unknown, name: string): boolean {
  return ((options as Node[] | undefined) ?? []).some((o) => {
    const def = as(o, 'DefElem');
    if (def?.['defname'] !== name) return false;
    const arg = def['arg'];
    if (!arg) return true;
    const value = as(arg, 'String')?.['sval'] ?? as(arg, 'Boolean')?.['boolval'] ?? as(arg, 'A_Const')?.['boolval']?.['boolval'];
    return value === undefined || value === true || value === 'true' || value === 'on' || value === '1';
  });
}
