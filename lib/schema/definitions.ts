/**
 * Definitions the server printed before, remembered per session. pg_get_viewdef and its kin are most of
 * a snapshot's cost, and a migration changes few objects. A definition is printed from its own catalog
 * rows (their version, xmin and ctid, changes with any ALTER or CREATE OR REPLACE: the stamp) and the names of what it
 * mentions. So a remembered definition is used again while its stamp is the same, no relation, column,
 * type, enum value, function, role or schema has another name than when it was printed, and
 * nothing else it can depend on changed (the epoch: settings that print literals, operators, operator
 * classes, collations, extensions, text search configurations). xmin is the creating transaction's id
 * even once the row is frozen (PostgreSQL 9.4+ keeps it), and two versions one transaction writes lie
 * at two places (ctid), so a stamp never comes back for other text.
 * SQLMIG_VERIFY_CACHE=off prints everything afresh on every snapshot, to check the cache against.
 */
import type { Db } from '../db/index.js';
import { DEFINITION_GROUPS, STAMPED } from './queries.js';

type Row = Record<string, unknown>;
type Group = (typeof DEFINITION_GROUPS)[number];

/** Definitions used by one snapshot, with the names and epoch they are valid for. */
interface Layer {
  epoch: string;
  names: Record<string, string>;
  /** stamp → definition */
  texts: Map<string, string>;
}

/**
 * The last snapshot's layer and the one before: verify reads the schema inside a transaction it then
 * rolls back, after which the rows (and stamps) of the snapshot before that come back.
 */
const sessions = new WeakMap<Db, Layer[]>();
const LAYERS = 2;

export interface StampedSections extends Record<string, unknown> {
  names: Record<string, string>;
  epoch: string;
}

/** Put each stamped row's definition in place, asking the server (one call, `print`) only for those not remembered. */
export async function fillDefinitions(db: Db, sections: StampedSections, print: (oids: string[][]) => Promise<Record<string, [number, string][] | null>>): Promise<void> {
  const valid = (cacheEnabled() ? sessions.get(db) ?? [] : []).filter((l) => l.epoch === sections.epoch && !renamed(l.names, sections.names));
  const remembered = (stamp: string) => valid.find((l) => l.texts.has(stamp))?.texts.get(stamp);
  const missing = new Map<Group, Map<string, string>>(DEFINITION_GROUPS.map((g) => [g, new Map()]));
  for (const { section, stamp, oid, group } of STAMPED) {
    for (const row of sections[section] as Row[]) {
      const key = row[stamp];
      if (typeof key === 'string' && remembered(key) === undefined) missing.get(group)!.set(String(row[oid]), key);
    }
  }
  const printed = new Map<string, string>();
  if ([...missing.values()].some((m) => m.size > 0)) {
    const result = await print(DEFINITION_GROUPS.map((g) => [...missing.get(g)!.keys()]));
    for (const group of DEFINITION_GROUPS) {
      for (const [oid, text] of result[group] ?? []) printed.set(missing.get(group)!.get(String(oid))!, text);
    }
  }
  const used = new Map<string, string>();
  for (const { section, stamp, into } of STAMPED) {
    for (const row of sections[section] as Row[]) {
      const key = row[stamp];
      if (typeof key !== 'string') continue;
      const text = printed.get(key) ?? remembered(key) ?? null;
      row[into] = text;
      if (text !== null) used.set(key, text);
    }
  }
  sessions.set(db, [{ epoch: sections.epoch, names: sections.names, texts: used }, ...valid].slice(0, LAYERS));
}

function cacheEnabled(): boolean {
  return process.env['SQLMIG_VERIFY_CACHE'] !== 'off';
}

export function forgetDefinitions(db: Db): void {
  sessions.delete(db);
}

/**
 * An oid in both maps under another name; for a relation, also a column (same attnum, not dropped in
 * either) under another name. A name only added or removed changes no definition that was printed with
 * the other names.
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
