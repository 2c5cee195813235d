/**
 * Definitions the server printed before, remembered per session. pg_get_viewdef and its kin are most of
 * a snapshot's cost, and a migration changes few objects. A definition is printed from its own catalog
 * rows (their xmin changes with any ALTER or CREATE OR REPLACE: the stamp) and the names of what it
 * mentions. So a remembered definition is used again while its stamp is the same, no relation, column,
 * type, function or schema that existed before was renamed, and nothing else it can depend on changed
 * (the epoch: settings that print literals, operators, operator classes, collations, extensions).
 * Otherwise everything is printed again.
 */
import type { Db } from '../db/index.js';
import { DEFINITION_GROUPS, STAMPED } from './queries.js';

type Row = Record<string, unknown>;
type Group = (typeof DEFINITION_GROUPS)[number];

interface Remembered {
  epoch: string;
  names: Record<string, string>;
  /** stamp → definition */
  texts: Map<string, string>;
}

const sessions = new WeakMap<Db, Remembered>();

export interface StampedSections extends Record<string, unknown> {
  names: Record<string, string>;
  epoch: string;
}

/** Put each stamped row's definition in place, asking the server (one call, `print`) only for those not remembered. */
export async function fillDefinitions(db: Db, sections: StampedSections, print: (oids: string[][]) => Promise<Record<string, [number, string][] | null>>): Promise<void> {
  const known = remembered(db, sections);
  const missing = new Map<Group, Map<string, string>>(DEFINITION_GROUPS.map((g) => [g, new Map()]));
  for (const { section, stamp, oid, group } of STAMPED) {
    for (const row of sections[section] as Row[]) {
      const key = row[stamp];
      if (typeof key === 'string' && !known.texts.has(key)) missing.get(group)!.set(String(row[oid]), key);
    }
  }
  if ([...missing.values()].some((m) => m.size > 0)) {
    const printed = await print(DEFINITION_GROUPS.map((g) => [...missing.get(g)!.keys()]));
    for (const group of DEFINITION_GROUPS) {
      for (const [oid, text] of printed[group] ?? []) known.texts.set(missing.get(group)!.get(String(oid))!, text);
    }
  }
  const used = new Map<string, string>();
  for (const { section, stamp, into } of STAMPED) {
    for (const row of sections[section] as Row[]) {
      const key = row[stamp];
      if (typeof key !== 'string') continue;
      const text = known.texts.get(key) ?? null;
      row[into] = text;
      if (text !== null) used.set(key, text);
    }
  }
  // A stamp never comes back once its object is gone or changed: keep only what this snapshot used.
  known.texts = used;
}

export function forgetDefinitions(db: Db): void {
  sessions.delete(db);
}

/** This session's remembered definitions, emptied when a name that existed before changed or the epoch did. */
function remembered(db: Db, sections: StampedSections): Remembered {
  const previous = sessions.get(db);
  const stale = !previous || previous.epoch !== sections.epoch || renamed(previous.names, sections.names);
  const known: Remembered = { epoch: sections.epoch, names: sections.names, texts: stale ? new Map() : previous.texts };
  sessions.set(db, known);
  return known;
}

/**
 * An oid in both maps under another name; for a relation, also a column (same attnum, not dropped in
 * either) under another name. Names only added or removed change no other definition.
 */
function renamed(before: Record<string, string>, after: Record<string, string>): boolean {
  for (const [key, name] of Object.entries(after)) {
    const was = before[key];
    if (was === undefined || was === name) continue;
    if (!key.startsWith('r')) return true;
    const [relationWas, ...columnsWere] = was.split('\t');
    const [relation, ...columns] = name.split('\t');
    if (relation !== relationWas) return true;
    if (columns.some((column, i) => column !== '' && columnsWere[i] !== undefined && columnsWere[i] !== '' && columnsWere[i] !== column)) return true;
  }
  return false;
}
