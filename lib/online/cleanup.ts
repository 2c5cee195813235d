/**
 * What a killed online run (kill -9, a lost connection) can leave: helper indexes and constraints, all
 * named sqlmig_tmp_…. Listed for status and removed before the next online run starts.
 */
import type { Db } from '../db/index.js';
import { quoteIdent } from '../runner/history.js';

export interface Leftover { kind: 'index' | 'constraint'; schema: string; table: string; name: string }

export async function findLeftovers(db: Db): Promise<Leftover[]> {
  const rows = await db.query<Leftover>(`
    select 'index' as kind, n.nspname as schema, t.relname as table, i.relname as name
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid join pg_namespace n on n.oid = i.relnamespace
     where i.relname like 'sqlmig\\_tmp\\_%' and not exists (select 1 from pg_constraint c where c.conindid = i.oid)
    union all
    select 'constraint', n.nspname, t.relname, c.conname
      from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
     where c.conname like 'sqlmig\\_tmp\\_%'`);
  return rows;
}

/** Remove each leftover; returns what was removed, for the run's notices. */
export async function removeLeftovers(db: Db): Promise<string[]> {
  const removed: string[] = [];
  for (const l of await findLeftovers(db)) {
    const table = `${quoteIdent(l.schema)}.${quoteIdent(l.table)}`;
    await db.exec(l.kind === 'index'
      ? `drop index concurrently if exists ${quoteIdent(l.schema)}.${quoteIdent(l.name)}`
      : `alter table ${table} drop constraint if exists ${quoteIdent(l.name)}`);
    removed.push(`${l.kind} ${l.name} on ${l.schema}.${l.table}`);
  }
  return removed;
}
