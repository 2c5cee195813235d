/** What the planner needs from the live database, read once before planning (read-only). */
import type { Db } from '../db/index.js';
import { readCatalog } from '../lint/catalog.js';
import type { KnownSchema } from '../lint/known.js';
import type { TableSize } from '../lint/types.js';
import type { TableFacts } from './types.js';

export interface LiveFacts {
  known: KnownSchema;
  tables: Map<string, TableFacts>;
  sizes: Map<string, TableSize>;
}

export async function readLiveFacts(db: Db): Promise<LiveFacts> {
  const [catalog, rows] = await Promise.all([
    readCatalog(db),
    db.query<{ schema: string; table: string; kind: string; key: string[] | null; types: string[] | null; depended: string[] | null }>(
      `select n.nspname as schema, c.relname as table, c.relkind::text as kind,
          (select array_agg(a.attname::text order by k.ord) from pg_constraint p cross join unnest(p.conkey) with ordinality k(attnum, ord)
             join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum where p.conrelid = c.oid and p.contype = 'p') as key,
          (select array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) order by k.ord) from pg_constraint p cross join unnest(p.conkey) with ordinality k(attnum, ord)
             join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum where p.conrelid = c.oid and p.contype = 'p') as types,
          (select array_agg(distinct a.attname::text) from pg_depend d join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
            where d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.refobjsubid > 0) as depended
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`),
  ]);
  const tables = new Map<string, TableFacts>();
  for (const row of rows) {
    const key = `${row.schema}.${row.table}`;
    const size = catalog.sizes.get(key) ?? { rows: 0, bytes: 0 };
    tables.set(key, {
      primaryKey: (row.key ?? []).map((column, i) => ({ column, type: row.types![i]! })),
      partitioned: row.kind === 'p', dependedOn: row.depended ?? [], rows: Math.max(0, size.rows), bytes: size.bytes,
    });
  }
  return { known: catalog.schema, tables, sizes: catalog.sizes };
}
