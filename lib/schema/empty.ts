/**
 * Empty a scratch database of what verify created in it. Objects go in an order that never drops an
 * extension while a table still uses one of its types: `DROP EXTENSION … CASCADE` into a column that
 * carries a GiST index crashes PostgreSQL (up to 18) with "cache lookup failed for function" when the
 * same session created that index. Tables and views go first, then functions, types and sequences,
 * then extensions, then the schemas (empty by then).
 */
import type { Db } from '../db/index.js';
import { qualifiedName, type HistoryTable } from '../runner/history.js';
import { takeSchemaSnapshot } from './snapshot.js';

export async function emptyDatabase(db: Db, history: HistoryTable): Promise<void> {
  const s = await takeSchemaSnapshot(db, history);
  const routine = (kind: string) => (kind === 'procedure' ? 'procedure' : kind === 'aggregate' ? 'aggregate' : 'function');
  const statements = [
    ...Object.entries(s.views).map(([k, v]) => `drop ${v.materialized ? 'materialized view' : 'view'} if exists ${k} cascade`),
    ...Object.keys(s.tables).map((k) => `drop table if exists ${k} cascade`),
    `drop table if exists ${qualifiedName(history)}`,
    ...Object.keys(s.sequences).map((k) => `drop sequence if exists ${k} cascade`),
    ...Object.entries(s.functions).filter(([, f]) => f.kind === 'aggregate').map(([k]) => `drop aggregate if exists ${k} cascade`),
    ...Object.entries(s.functions).filter(([, f]) => f.kind !== 'aggregate').map(([k, f]) => `drop ${routine(f.kind)} if exists ${k} cascade`),
    ...Object.keys(s.types).map((k) => `drop type if exists ${k} cascade`),
    ...Object.keys(s.extensions).map((k) => `drop extension if exists ${k} cascade`),
    ...Object.keys(s.schemas).filter((k) => k !== 'public').map((k) => `drop schema if exists ${k} cascade`),
  ];
  // IF EXISTS covers what an earlier cascade already took.
  for (const sql of statements) await db.exec(sql);
}
