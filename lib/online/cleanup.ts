/**
 * What a killed online run (kill -9, a lost connection) can leave: helper indexes and constraints, all
 * named sqlmig_tmp_…. Listed for status and removed before the next online run starts.
 */
import type { Db } from '../db/index.js';
import { quoteIdent } from '../runner/history.js';

export interface Leftover { kind: 'index' | 'constraint' | 'trigger' | 'column' | 'function'; schema: string; table: string; name: string }

export async function findLeftovers(db: Db): Promise<Leftover[]> {
  const rows = await db.query<Leftover>(`
    select 'index' as kind, n.nspname as schema, t.relname as table, i.relname as name
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid join pg_namespace n on n.oid = i.relnamespace
     where i.relname like 'sqlmig\\_tmp\\_%' and not exists (select 1 from pg_constraint c where c.conindid = i.oid)
    union all
    select 'constraint', n.nspname, t.relname, c.conname
      from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
     where c.conname like 'sqlmig\\_tmp\\_%'
    union all
    select 'trigger', n.nspname, t.relname, g.tgname
      from pg_trigger g join pg_class t on t.oid = g.tgrelid join pg_namespace n on n.oid = t.relnamespace
     where g.tgname like 'sqlmig\\_tmp\\_%'
    union all
    select 'column', n.nspname, t.relname, a.attname
      from pg_attribute a join pg_class t on t.oid = a.attrelid join pg_namespace n on n.oid = t.relnamespace
     where a.attname like 'sqlmig\\_tmp\\_%' and not a.attisdropped and t.relkind in ('r', 'p')
    union all
    select 'function', n.nspname, '', p.proname
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where p.proname like 'sqlmig\\_tmp\\_%' and p.pronargs = 0`);
  return rows;
}

/** Remove each leftover; returns what was removed, for the run's notices. */
export async function removeLeftovers(db: Db): Promise<string[]> {
  const removed: string[] = [];
  const leftovers = await findLeftovers(db);
  const partitionedIndexes = new Set((await db.query<{ name: string }>(`select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'I' and c.relname like 'sqlmig\\_tmp\\_%'`)).map((r) => r.name));
  const isPartitioned = (l: Leftover) => l.kind === 'index' && partitionedIndexes.has(`${l.schema}.${l.name}`);
  // A partitioned index first: dropping it drops the partitions' indexes attached to it, which cannot be dropped alone.
  for (const l of [...leftovers.filter(isPartitioned), ...leftovers.filter((x) => !isPartitioned(x))]) {
    const table = `${quoteIdent(l.schema)}.${quoteIdent(l.table)}`;
    const name = quoteIdent(l.name);
    const sql = {
      index: `drop index concurrently if exists ${quoteIdent(l.schema)}.${name}`,
      constraint: `alter table ${table} drop constraint if exists ${name}`,
      trigger: `drop trigger if exists ${name} on ${table}`,
      column: `alter table ${table} drop column if exists ${name}`,
      function: `drop function if exists ${quoteIdent(l.schema)}.${name}()`,
    }[l.kind];
    // A leftover that locks: wait briefly, never queue traffic behind it for long. A partitioned index
    // cannot be dropped CONCURRENTLY (it holds no rows: the plain drop is brief).
    const partitioned = isPartitioned(l);
    const locked = partitioned ? sql.replace('drop index concurrently', 'drop index') : sql;
    if (l.kind === 'index' && !partitioned) await db.exec(sql);
    else await db.transaction(async (tx) => { await tx.exec(`set local lock_timeout = '1s'`); await tx.exec(locked); });
    removed.push(`${l.kind} ${l.name}${l.table ? ` on ${l.schema}.${l.table}` : ''}`);
  }
  return removed;
}
