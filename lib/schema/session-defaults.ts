/**
 * Statements whose effect depends on the session that runs them, not on their text: a function made
 * with `SET search_path FROM CURRENT` (or any `SET x FROM CURRENT`) keeps the value the session had.
 * diff builds on a scratch database, whose session defaults may not be the user's server's (an
 * embedded PGlite has search_path 'public', a PostgreSQL server '"$user", public' unless configured,
 * and a temporary database does not get settings made with ALTER DATABASE on the real one). The
 * written pair spells out the scratch's value, so diff says which value that was, and how to do better.
 */
import type { Db } from '../db/index.js';
import { loadParser } from '../migrations/sql.js';
import type { Script } from '../migrations/script.js';

export interface FromCurrent { path: string; line: number; function: string; setting: string }

type Node = Record<string, any>; // parse trees are plain, untyped JSON

export async function findFromCurrent(scripts: readonly Script[]): Promise<FromCurrent[]> {
  const lib = await loadParser();
  const found: FromCurrent[] = [];
  for (const script of scripts) {
    for (const statement of script.statements ?? []) {
      if (statement.kind !== 'CreateFunctionStmt' && statement.kind !== 'AlterFunctionStmt') continue;
      const node = ((lib.parseSync(statement.sql).stmts?.[0]?.stmt as Node | undefined)?.[statement.kind] ?? {}) as Node;
      const options = (node['options'] ?? node['actions'] ?? []) as Node[];
      const name = ((node['funcname'] ?? node['func']?.['objname'] ?? []) as Node[]).map((n) => String(n['String']?.['sval'] ?? '')).join('.');
      for (const o of options) {
        const set = o['DefElem']?.['defname'] === 'set' ? (o['DefElem']['arg']?.['VariableSetStmt'] as Node | undefined) : undefined;
        if (set?.['kind'] === 'VAR_SET_CURRENT') found.push({ path: script.path, line: statement.line, function: name, setting: String(set['name']) });
      }
    }
  }
  return found;
}

/** One note per statement: what value the scratch gave, and how to get the user's. */
export async function fromCurrentNotes(db: Db, found: readonly FromCurrent[], scratch: string): Promise<string[]> {
  const notes: string[] = [];
  for (const f of found) {
    const [row] = await db.query<{ value: string }>('select current_setting($1) as value', [f.setting]);
    notes.push(
      `${f.path}:${f.line}: function ${f.function} sets ${f.setting} FROM CURRENT, so it keeps the value of the session that makes it: ` +
      `on the scratch database (${scratch}) that is '${row?.value ?? ''}', and the pair spells that value out where it makes the function again. ` +
      `Another database may differ (a PostgreSQL server defaults search_path to "$user", public; an embedded PGlite to public; ALTER DATABASE or ALTER ROLE settings apply only there). ` +
      `Write the value in place of FROM CURRENT (SET ${f.setting} = …), or prove the pair with your server's settings: --scratch-url postgres://…/empty_db.`,
    );
  }
  return notes;
}
