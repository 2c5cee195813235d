/**
 * PostgreSQL keeps an expression in its own form, and that form does not always read back the same
 * when it is run again: `units in ('metric', 'imperial')` on a varchar column is stored as
 * `(units)::text = ANY ((ARRAY['metric'::character varying, …])::text[])`, and that text, run as a
 * migration, is stored as `(units)::text = ANY (ARRAY[('metric'::character varying)::text, …])`.
 * Two definitions are the same when PostgreSQL settles both on the same form: each is run again (on
 * the scratch database, in a transaction that is rolled back) until it reads back unchanged.
 *
 * This is the one judgement diff uses: the comparison turns such a pair into a note, and the plan
 * leaves out the engine's statements that would only rewrite it (a drop and re-add of the
 * constraint, a SET DEFAULT), so the next diff writes only the change that was asked for.
 */
import type { Db } from '../db/index.js';
import { quoteIdent } from '../runner/history.js';
import type { SchemaSnapshot } from './snapshot.js';

/** What a definition belongs to, as the comparison names it. */
export type StoredFormSubject =
  | { kind: 'constraint'; table: string; name: string }
  | { kind: 'column default'; table: string; column: string };

export interface StoredForms {
  /** As the comparison names it (object type, object key, attribute): the two texts are one definition in PostgreSQL's own forms. */
  same(objectType: string, object: string, field: string, was: string, now: string): boolean;
  /** Check constraints and column defaults judged the same, as "table key.name" (the name as it is, unquoted). */
  readonly constraints: ReadonlySet<string>;
  readonly defaults: ReadonlySet<string>;
}

/** The note for such a pair, said once for the comparison and the proof: "<subject>: PostgreSQL keeps its <word> in its own form, …". */
export function storedFormNote(subject: string, word: string, writtenIn: string): string {
  return `${subject}: PostgreSQL keeps its ${word} in its own form, which reads back differently from ${writtenIn}; it is the same, nothing to change`;
}

export const NO_STORED_FORMS: StoredForms = { same: () => false, constraints: new Set(), defaults: new Set() };

/** `named`: object type, object key and attribute, as compare.ts names the difference. */
interface Candidate { subject: StoredFormSubject; named: [string, string, string]; was: string; now: string }

/** Settle every definition that differs between the two snapshots; `db` must hold the tables and domains they name. */
export async function judgeStoredForms(db: Db, before: SchemaSnapshot, after: SchemaSnapshot): Promise<StoredForms> {
  const same = new Set<string>();
  const constraints = new Set<string>();
  const defaults = new Set<string>();
  for (const c of candidates(before, after)) {
    const [a, b] = [await settle(db, c.subject, c.was), await settle(db, c.subject, c.now)];
    if (a === null || b === null || a !== b) continue;
    same.add(pairKey(...c.named, c.was, c.now));
    if (c.subject.kind === 'constraint') constraints.add(`${c.subject.table}.${c.subject.name}`);
    if (c.subject.kind === 'column default') defaults.add(c.named[1]);
  }
  return { same: (objectType, object, field, was, now) => same.has(pairKey(objectType, object, field, was, now)), constraints, defaults };
}

function pairKey(objectType: string, object: string, field: string, was: string, now: string): string {
  return JSON.stringify([objectType, object, field, ...[was, now].sort()]);
}

function candidates(before: SchemaSnapshot, after: SchemaSnapshot): Candidate[] {
  const out: Candidate[] = [];
  for (const [key, b] of Object.entries(before.constraints)) {
    const a = after.constraints[key];
    if (a && a.type === 'check' && b.type === 'check' && a.definition !== b.definition) out.push({ subject: { kind: 'constraint', table: a.table, name: a.name }, named: ['constraint', key, 'definition'], was: b.definition, now: a.definition });
  }
  for (const [key, b] of Object.entries(before.tables)) {
    const a = after.tables[key];
    for (const col of a?.columns ?? []) {
      const was = b.columns.find((x) => x.name === col.name)?.default;
      if (was && col.default && was !== col.default) out.push({ subject: { kind: 'column default', table: key, column: col.name }, named: ['column', `${key}.${col.name}`, 'default'], was, now: col.default });
    }
  }
  return out;
}

const ROLLBACK = Symbol('rollback');

/** Run the definition again until it reads back unchanged (a few rounds at most); null when it does not settle or cannot run. */
async function settle(db: Db, subject: StoredFormSubject, text: string): Promise<string | null> {
  let current = text;
  for (let round = 0; round < 4; round++) {
    const next = await readBack(db, subject, current);
    if (next === null) return null;
    if (next === current) return current;
    current = next;
  }
  return null;
}

async function readBack(db: Db, subject: StoredFormSubject, text: string): Promise<string | null> {
  let result: string | null = null;
  try {
    await db.transaction(async (tx) => {
      result = await apply(tx, subject, text);
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) return null;
  }
  return result;
}

const PROBE = 'sqlmig_stored_form_probe';

async function apply(tx: Db, subject: StoredFormSubject, text: string): Promise<string | null> {
  switch (subject.kind) {
    case 'constraint': {
      // Without validation: the table may hold rows (a server scratch given by the user is empty, but no matter).
      const definition = text.replace(/\s+NOT VALID$/, '');
      await tx.exec(`alter table ${subject.table} add constraint ${PROBE} ${definition} not valid`);
      const [row] = await tx.query<{ def: string }>('select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = $1::regclass and conname = $2', [subject.table, PROBE]);
      return row ? row.def.replace(/\s+NOT VALID$/, '') + (text.endsWith(' NOT VALID') ? ' NOT VALID' : '') : null;
    }
    case 'column default': {
      await tx.exec(`alter table ${subject.table} alter column ${quoteIdent(subject.column)} set default ${text}`);
      const [row] = await tx.query<{ def: string }>(
        'select pg_get_expr(d.adbin, d.adrelid) as def from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum where d.adrelid = $1::regclass and a.attname = $2',
        [subject.table, subject.column],
      );
      return row?.def ?? null;
    }
  }
}
