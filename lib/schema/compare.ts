/**
 * Pure: two schema snapshots → what differs, object by object, each with a sentence a reviewer can
 * act on ("index a_y on table a left behind", "column a.z type bigint, was integer"). "extra" is in
 * `after` only, "missing" in `before` only. Differences no query can see are notes: column order only,
 * a date/time that PostgreSQL folded into a definition when it was created, whitespace in a function body.
 */
import type { Equivalence } from './equivalence.js';
import { storedFormNote, type StoredForms } from './stored-forms.js';
import { byKey, type ColumnEntry, type ConstraintEntry, type SchemaSnapshot, type TableEntry, type TypeEntry } from './snapshot.js';

export type DifferenceKind = 'extra' | 'missing' | 'changed' | 'column-order' | 'folded-time' | 'whitespace' | 'stored-form';

export interface SchemaDifference {
  kind: DifferenceKind;
  /** 'table', 'column', 'index', 'enum value', … */
  objectType: string;
  /** The object's stable identity (its key in the snapshot, plus the column or label). */
  object: string;
  message: string;
}

const NOTE_KINDS: ReadonlySet<DifferenceKind> = new Set(['column-order', 'folded-time', 'whitespace', 'stored-form']);

/** A difference that does not make a schema different in any way a query can see. */
export const isNote = (d: SchemaDifference): boolean => NOTE_KINDS.has(d.kind);

/**
 * Without `equivalence`, a folded time or whitespace in a function body counts as a change; without
 * `storedForms` (stored-forms.ts), so does a definition PostgreSQL keeps in its own form, which reads back differently.
 */
export function compareSnapshots(before: SchemaSnapshot, after: SchemaSnapshot, equivalence?: Equivalence, storedForms?: StoredForms): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  const diff = new Differ(out, equivalence, storedForms);
  diff.group(before.schemas, after.schemas, (k) => ['schema', `schema ${k}`], (k, b, a) => diff.comment(`schema ${k}`, k, b.comment, a.comment));
  diff.group(before.extensions, after.extensions, (k) => ['extension', `extension ${k}`], (k, b, a) => {
    diff.attrs('extension', k, `extension ${k}`, b, a, { version: 'version', schema: 'schema' });
  });
  diff.group(before.types, after.types, (k, t) => [typeWord(t), `${typeWord(t)} ${show(k)}`], (k, b, a) => compareTypes(diff, k, b, a));
  diff.group(before.sequences, after.sequences, (k) => ['sequence', `sequence ${show(k)}`], (k, b, a) => {
    diff.attrs('sequence', k, `sequence ${show(k)}`, b, a, { type: 'type', start: 'start', increment: 'increment', min: 'minvalue', max: 'maxvalue', cache: 'cache', cycle: 'cycle', ownedBy: 'owned by', comment: 'comment' });
  });
  diff.group(before.tables, after.tables, (k) => ['table', `table ${show(k)}`], (k, b, a) => compareTables(diff, k, b, a));
  diff.group(before.constraints, after.constraints, (k, c) => ['constraint', constraintLabel(c)], (k, b, a) => {
    diff.attrs('constraint', k, constraintLabel(a), b, a, { type: 'type', definition: 'definition', comment: 'comment' });
  });
  diff.group(before.indexes, after.indexes, (k, i) => ['index', `index ${show(k)} on table ${show(i.table)}`], (k, b, a) => {
    diff.attrs('index', k, `index ${show(k)} on table ${show(a.table)}`, b, a, { definition: 'definition', valid: 'valid', comment: 'comment' });
  });
  diff.group(before.views, after.views, (k, v) => [viewWord(v), `${viewWord(v)} ${show(k)}`], (k, b, a) => {
    diff.attrs('view', k, `${viewWord(a)} ${show(k)}`, b, a, { materialized: 'materialized', definition: 'definition', options: 'options', comment: 'comment' });
  });
  diff.group(before.functions, after.functions, (k, f) => [f.kind, `${f.kind} ${show(k)}`], (k, b, a) => {
    diff.attrs(a.kind, k, `${a.kind} ${show(k)}`, b, a, { kind: 'kind', arguments: 'arguments', definition: 'definition', comment: 'comment' });
  });
  diff.group(before.triggers, after.triggers, (k, t) => ['trigger', `trigger ${t.name} on table ${show(t.table)}`], (k, b, a) => {
    diff.attrs('trigger', k, `trigger ${a.name} on table ${show(a.table)}`, b, a, { definition: 'definition', state: 'state', comment: 'comment' });
  });
  diff.group(before.policies, after.policies, (k, p) => ['policy', `policy ${p.name} on table ${show(p.table)}`], (k, b, a) => {
    diff.attrs('policy', k, `policy ${a.name} on table ${show(a.table)}`, b, a, { command: 'for', permissive: 'permissive', roles: 'roles', using: 'using', check: 'with check' });
  });
  return out;
}

class Differ {
  constructor(private readonly out: SchemaDifference[], private readonly equivalence?: Equivalence, private readonly storedForms?: StoredForms) {}

  push(kind: DifferenceKind, objectType: string, object: string, message: string): void {
    this.out.push({ kind, objectType, object, message });
  }

  group<T>(
    before: Record<string, T>, after: Record<string, T>, describe: (key: string, entry: T) => [string, string],
    changed: (key: string, b: T, a: T) => void, identity: (key: string) => string = (key) => key,
  ): void {
    for (const key of unionKeys(before, after)) {
      const b = before[key];
      const a = after[key];
      if (b !== undefined && a !== undefined) {
        changed(key, b, a);
        continue;
      }
      const [objectType, label] = describe(key, (a ?? b)!);
      if (b === undefined) this.push('extra', objectType, identity(key), `${label} left behind`);
      else this.push('missing', objectType, identity(key), `${label} missing`);
    }
  }

  /** One "changed" difference per attribute that differs: "<label> <attr> <now>, was <before>". */
  attrs<T extends object>(objectType: string, object: string, label: string, b: T, a: T, names: Partial<Record<keyof T & string, string>>): void {
    for (const [field, word] of Object.entries(names) as [keyof T & string, string][]) {
      const was = b[field];
      const now = a[field];
      if (same(was, now)) continue;
      const kind = this.kindOfChange(objectType, object, field, was, now);
      // Said the same way in both directions: the diff and its proof compare the two schemas each way round.
      const message = kind === 'stored-form'
        ? storedFormNote(label, word, 'the text that made it')
        : changeSentence(label, word, was, now) + (NOTE_ENDINGS[kind] ?? '');
      this.push(kind, objectType, object, message);
    }
  }

  private kindOfChange(objectType: string, object: string, field: string, was: unknown, now: unknown): DifferenceKind {
    if (typeof was !== 'string' || typeof now !== 'string') return 'changed';
    if (this.storedForms?.same(objectType, object, field, was, now)) return 'stored-form';
    if (!this.equivalence) return 'changed';
    if (this.equivalence.onlyFoldedTimes(was, now)) return 'folded-time';
    if (field === 'definition' && FUNCTION_WORDS.has(objectType) && this.equivalence.onlyWhitespace(was, now)) return 'whitespace';
    return 'changed';
  }

  comment(label: string, object: string, was: string | null, now: string | null): void {
    if (was !== now) this.push('changed', 'comment', object, changeSentence(label, 'comment', was, now));
  }
}

function compareTables(diff: Differ, key: string, b: TableEntry, a: TableEntry): void {
  const label = `table ${show(key)}`;
  diff.attrs('table', key, label, b, a, {
    partitioned: 'partitioned', unlogged: 'unlogged', rowSecurity: 'row-level security', forceRowSecurity: 'forced row-level security',
    partitionKey: 'partition key', partitionBound: 'partition bound', parents: 'parents', options: 'options', comment: 'comment',
  });
  const before = new Map(b.columns.map((c) => [c.name, c]));
  const after = new Map(a.columns.map((c) => [c.name, c]));
  for (const name of unionKeys(Object.fromEntries(before), Object.fromEntries(after))) {
    const was = before.get(name);
    const now = after.get(name);
    const column = `column ${show(key)}.${name}`;
    if (!was) diff.push('extra', 'column', `${key}.${name}`, `${column} left behind`);
    else if (!now) diff.push('missing', 'column', `${key}.${name}`, `${column} missing`);
    else diff.attrs('column', `${key}.${name}`, column, columnFacts(was), columnFacts(now), { type: 'type', notNull: 'not null', default: 'default', identity: 'identity', generated: 'generated', collation: 'collation', comment: 'comment' });
  }
  const orderBefore = b.columns.map((c) => c.name).filter((n) => after.has(n));
  const orderAfter = a.columns.map((c) => c.name).filter((n) => before.has(n));
  if (orderBefore.join('\0') !== orderAfter.join('\0')) {
    diff.push('column-order', 'table', key, `columns of ${label} in a different order: (${orderAfter.join(', ')}), was (${orderBefore.join(', ')}); only the column order differs, queries that name their columns see no difference`);
  }
}

function columnFacts(c: ColumnEntry) {
  return { ...c, identity: c.identity && `generated ${c.identity}`, generated: c.generated && `always as ${c.generated.expression} ${c.generated.kind}` };
}

function compareTypes(diff: Differ, key: string, b: TypeEntry, a: TypeEntry): void {
  const label = `${typeWord(a)} ${show(key)}`;
  if (a.kind !== b.kind) {
    diff.push('changed', typeWord(a), key, `${label} is now a ${a.kind}, was a ${b.kind}`);
    return;
  }
  diff.comment(label, key, b.comment, a.comment);
  if (a.kind === 'enum' && b.kind === 'enum') {
    for (const value of a.labels.filter((l) => !b.labels.includes(l))) diff.push('extra', 'enum value', `${key}.${value}`, `value '${value}' of ${label} left behind`);
    for (const value of b.labels.filter((l) => !a.labels.includes(l))) diff.push('missing', 'enum value', `${key}.${value}`, `value '${value}' of ${label} missing`);
    const common = (labels: string[], other: string[]) => labels.filter((l) => other.includes(l)).join(', ');
    if (common(a.labels, b.labels) !== common(b.labels, a.labels)) diff.push('changed', 'enum', key, changeSentence(label, 'values in order', b.labels, a.labels));
  } else if (a.kind === 'domain' && b.kind === 'domain') {
    diff.attrs('domain', key, label, b, a, { baseType: 'type', notNull: 'not null', default: 'default', collation: 'collation' });
    diff.group(b.constraints, a.constraints, (name) => ['constraint', `check constraint ${name} on ${label}`], (name, was, now) => {
      if (was !== now) diff.push('changed', 'constraint', `${key}.${name}`, changeSentence(`check constraint ${name} on ${label}`, 'definition', was, now));
    }, (name) => `${key}.${name}`);
  } else if (a.kind === 'composite' && b.kind === 'composite') {
    const text = (t: typeof a) => t.attributes.map((x) => `${x.name} ${x.type}${x.collation ? ` collate ${x.collation}` : ''}`).join(', ');
    if (text(a) !== text(b)) diff.push('changed', 'type', key, changeSentence(label, 'attributes', `(${text(b)})`, `(${text(a)})`));
  } else if (a.kind === 'range' && b.kind === 'range' && a.subtype !== b.subtype) {
    diff.push('changed', 'range type', key, changeSentence(label, 'subtype', b.subtype, a.subtype));
  }
}

/** Words for a boolean attribute: [what it is about, when true, when false]. */
const BOOLEAN_WORDS: Record<string, [string, string, string]> = {
  'not null': ['', 'not null', 'nullable'],
  'row-level security': ['row-level security', 'enabled', 'disabled'],
  'forced row-level security': ['row-level security', 'forced on the owner', 'not forced on the owner'],
  valid: ['', 'valid', 'invalid'],
  unlogged: ['', 'unlogged', 'logged'],
  partitioned: ['', 'partitioned', 'not partitioned'],
  cycle: ['', 'cycles', 'does not cycle'],
  materialized: ['', 'materialized', 'not materialized'],
  permissive: ['', 'permissive', 'restrictive'],
};

const FUNCTION_WORDS = new Set(['function', 'procedure', 'window function']);

const NOTE_ENDINGS: Partial<Record<DifferenceKind, string>> = {
  'folded-time': "; only a date/time differs, which PostgreSQL fixed when the object was created ('now'::timestamp and the like are evaluated once, at CREATE: write now() or current_date to get the time of each query)",
  whitespace: '; only whitespace differs',
};

function changeSentence(label: string, attribute: string, was: unknown, now: unknown): string {
  if (attribute === 'comment') return `${label} has ${commentWords(now)}, was ${commentWords(was)}`;
  if (typeof was === 'boolean' && typeof now === 'boolean') {
    const [about, yes, no] = BOOLEAN_WORDS[attribute] ?? [attribute, 'on', 'off'];
    return `${label}${about ? ` ${about}` : ''} ${now ? yes : no}, was ${was ? yes : no}`;
  }
  if (typeof was === 'string' && typeof now === 'string' && (was.includes('\n') || now.includes('\n'))) {
    const [line, wasLine, nowLine] = firstDifferentLine(was, now);
    return `${label} ${attribute} differs at line ${line}: "${value(nowLine)}", was "${value(wasLine)}"`;
  }
  return `${label} ${attribute} ${value(now)}, was ${value(was)}`;
}

/** "no comment", or "comment 'the text'": a bare text reads as part of the sentence. */
function commentWords(c: unknown): string {
  return c === null || c === undefined ? 'no comment' : `comment '${String(c).replace(/\s+/g, ' ').trim()}'`;
}

function firstDifferentLine(was: string, now: string): [number, string, string] {
  const a = was.split('\n');
  const b = now.split('\n');
  let i = 0;
  while (i < Math.max(a.length, b.length) && a[i] === b[i]) i++;
  return [i + 1, a[i] ?? '(end)', b[i] ?? '(end)'];
}

function value(v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (Array.isArray(v)) return `(${v.join(', ')})`;
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k} ${String(x)}`).join(' ');
  const text = String(v).replace(/\s+/g, ' ').trim();
  return text === '' ? "''" : text;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b);
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byKey);
}

/** How a reader names an object: the public schema is implied, as on a default search_path. */
export function show(key: string): string {
  return key.startsWith('public.') ? key.slice('public.'.length) : key;
}

function typeWord(t: TypeEntry): string {
  return t.kind === 'composite' ? 'type' : t.kind === 'range' ? 'range type' : t.kind;
}

function viewWord(v: { materialized: boolean }): string {
  return v.materialized ? 'materialized view' : 'view';
}

const CONSTRAINT_WORD: Record<ConstraintEntry['type'], string> = {
  'primary key': 'primary key', unique: 'unique constraint', 'foreign key': 'foreign key', check: 'check constraint', exclusion: 'exclusion constraint',
};

function constraintLabel(c: ConstraintEntry): string {
  return `${CONSTRAINT_WORD[c.type]} ${c.name} on table ${show(c.table)}`;
}
